/**
 * Structured logs: one line per event, `SID_LOG_FORMAT=json` for JSON lines,
 * `SID_LOG_LEVEL=warn|error|silent` to keep only the more severe ones
 * (default info, which includes one line per RPC request).
 *
 * Every room that logs takes a Logger and nothing else: the node's line
 * logger (createLogger), a silent one, or one over a callback (loggerOf, for
 * tests that read what was logged). fastify gets the node's Logger through
 * node/fastify-logger.ts.
 */
export type LogFields = Record<string, unknown>;
export type LogLevel = "debug" | "info" | "warn" | "error";

/** One method per level, each a message and optional fields; `child` names the module of the lines it writes. */
export interface Logger {
  debug(msg: string, f?: LogFields): void;
  info(msg: string, f?: LogFields): void;
  warn(msg: string, f?: LogFields): void;
  error(msg: string, f?: LogFields): void;
  child(module: string): Logger;
}

/** A Logger that writes nothing. */
export const silentLogger: Logger = Object.freeze({
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
});

/** A Logger that hands every line, debug included, to `write` (children too). */
export function loggerOf(write: (level: LogLevel, msg: string, f?: LogFields) => void): Logger {
  const self: Logger = {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: () => self,
  };
  return self;
}

export function createLogger(write: (line: string) => void = (l) => process.stdout.write(l + "\n"), module = "node"): Logger {
  const json = process.env.SID_LOG_FORMAT === "json";
  const min = minLevel(write);
  const emit = (level: string, msg: string, f: LogFields = {}) => {
    if (LOG_LEVELS[level]! < min) return;
    const time = new Date().toISOString();
    if (json) write(JSON.stringify({ time, level, module, msg, ...f }));
    else {
      const kv = Object.entries(f)
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ");
      write(`${time} ${level.toUpperCase().padEnd(5)} [${module}] ${msg}${kv ? " " + kv : ""}`);
    }
  };
  return {
    // The node's log has no debug level: debug lines are dropped.
    debug: () => {},
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (mod) => createLogger(write, mod),
  };
}

/** Whether lines of `level` are written under SID_LOG_LEVEL (request logs are info). */
export function logLevelEnabled(level: "info" | "warn" | "error"): boolean {
  return LOG_LEVELS[level]! >= minLevel(() => {});
}

const LOG_LEVELS: Readonly<Record<string, number>> = Object.freeze({ info: 20, warn: 30, error: 40, silent: 100 });

let warnedLevel: string | undefined;

/** The threshold from SID_LOG_LEVEL; an unknown value is said once and ignored. */
function minLevel(write: (line: string) => void): number {
  const want = process.env.SID_LOG_LEVEL;
  if (want === undefined || want === "") return LOG_LEVELS.info!;
  if (Object.hasOwn(LOG_LEVELS, want)) return LOG_LEVELS[want]!;
  if (warnedLevel === want) return LOG_LEVELS.info!;
  warnedLevel = want;
  write(`SID_LOG_LEVEL=${want.slice(0, 20)} is not one of ${Object.keys(LOG_LEVELS).join(", ")}; logging at info`);
  return LOG_LEVELS.info!;
}
