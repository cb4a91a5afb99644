/**
 * The node's Logger in the shape fastify takes as `loggerInstance` (pino's
 * methods), so request logs and RPC errors are lines of the node's log, in
 * its format (SID_LOG_FORMAT) and under its level (SID_LOG_LEVEL).
 */
import { type LogFields, type Logger, logLevelEnabled } from "../log/logger.js";

type LogMethod = (objOrMsg?: unknown, msg?: unknown) => void;

export interface FastifyCompatibleLogger {
  level: string;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  fatal: LogMethod;
  debug: LogMethod;
  trace: LogMethod;
  silent: LogMethod;
  child(bindings: Record<string, unknown>): FastifyCompatibleLogger;
}

function errorFields(e: unknown): Record<string, unknown> {
  if (!(e instanceof Error)) return { message: String(e) };
  const code = (e as { code?: unknown }).code;
  return { message: e.message, ...(code !== undefined ? { code } : {}), ...(e.stack ? { stack: e.stack } : {}) };
}

/** Log fields that always serialize: errors as message/code/stack, fastify's req and res reduced to what identifies them. */
function toFields(obj: Record<string, unknown>): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === null || typeof v !== "object") out[k] = typeof v === "bigint" ? v.toString() : v;
    else if (v instanceof Error || k === "err") out[k] = errorFields(v);
    else if (k === "req") out[k] = { method: (v as { method?: unknown }).method, url: (v as { url?: unknown }).url };
    else if (k === "res") out[k] = { statusCode: (v as { statusCode?: unknown }).statusCode };
    else {
      try {
        out[k] = JSON.parse(JSON.stringify(v));
      } catch {
        out[k] = "[unserializable]";
      }
    }
  }
  return out;
}

export function fastifyLogger(log: Logger, bindings: LogFields = {}): FastifyCompatibleLogger {
  const at =
    (write: (msg: string, f?: LogFields) => void): LogMethod =>
    (objOrMsg, msg) => {
      if (typeof objOrMsg === "string") return write(objOrMsg, bindings);
      if (objOrMsg instanceof Error) return write(typeof msg === "string" ? msg : objOrMsg.message, { ...bindings, err: errorFields(objOrMsg) });
      const fields = typeof objOrMsg === "object" && objOrMsg !== null ? toFields(objOrMsg as Record<string, unknown>) : {};
      write(typeof msg === "string" ? msg : "", { ...bindings, ...fields });
    };
  const noop: LogMethod = () => {};
  const error = at((m, f) => log.error(m, f));
  // Below info (SID_LOG_LEVEL=warn...), request lines are dropped: skip building them and the per-request child.
  const infoOn = logLevelEnabled("info");
  const self: FastifyCompatibleLogger = {
    level: infoOn ? "info" : "warn",
    info: infoOn ? at((m, f) => log.info(m, f)) : noop,
    warn: at((m, f) => log.warn(m, f)),
    error,
    fatal: error,
    // The node's log has no debug level.
    debug: noop,
    trace: noop,
    silent: noop,
    child: (b) => (infoOn ? fastifyLogger(log, { ...bindings, ...toFields(b) }) : self),
  };
  return self;
}
