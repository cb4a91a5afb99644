/** Options of the RPC room (merged into NodeOptions by the node). */
export interface RpcOptions {
  /** Interface to bind. Loopback unless the operator opts in (DESIGN.md, default ports). */
  host: string;
  port: number;
  /** Largest accepted request body in bytes; larger bodies get HTTP 413. */
  bodyLimit: number;
  /** Most requests in one JSON-RPC batch array. */
  maxBatch: number;
  /** fastify `logger` option: false, true, pino options, or a pino-compatible logger instance. */
  logger: boolean | object;
}

export const defaultRpcOptions: RpcOptions = Object.freeze({
  host: "127.0.0.1",
  port: 8660,
  bodyLimit: 1024 * 1024,
  maxBatch: 100,
  logger: false,
});

function assertInteger(name: string, v: unknown, min: number, max: number): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`rpc option ${name}: expected integer in [${min}, ${max}], got ${String(v)}`);
  }
}

/** Defaults overlaid with the given options (undefined members keep the default), checked. */
export function resolveRpcOptions(opts: Partial<RpcOptions> = {}): RpcOptions {
  const out: RpcOptions = { ...defaultRpcOptions };
  for (const key of Object.keys(defaultRpcOptions) as (keyof RpcOptions)[]) {
    if (opts[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = opts[key];
  }
  if (typeof out.host !== "string" || out.host === "") throw new TypeError("rpc option host: expected a non-empty string");
  assertInteger("port", out.port, 0, 65535);
  assertInteger("bodyLimit", out.bodyLimit, 1, 2 ** 31 - 1);
  assertInteger("maxBatch", out.maxBatch, 1, 1_000_000);
  if (typeof out.logger !== "boolean" && (typeof out.logger !== "object" || out.logger === null)) {
    throw new TypeError("rpc option logger: expected boolean or object");
  }
  return out;
}
