/** Structured logs: one line per event, `SID_LOG_FORMAT=json` for JSON lines. */
export type LogFields = Record<string, unknown>;
export type Logger = { info(msg: string, f?: LogFields): void; warn(msg: string, f?: LogFields): void; error(msg: string, f?: LogFields): void; child(module: string): Logger };

export function createLogger(write: (line: string) => void = (l) => process.stdout.write(l + "\n"), module = "node"): Logger {
  const json = process.env.SID_LOG_FORMAT === "json";
  const emit = (level: string, msg: string, f: LogFields = {}) => {
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
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (mod) => createLogger(write, mod),
  };
}
