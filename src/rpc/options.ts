/** Options of the RPC room (merged into NodeOptions by the node). */
import { booleanFault, intSettingFault, nonEmptyStringFault, reason, show } from "../check/faults.js";

export interface RpcOptions {
  /** Interface to bind. Loopback unless the operator opts in (DESIGN.md, default ports). */
  host: string;
  port: number;
  /** Largest accepted request body in bytes; larger bodies get HTTP 413. */
  bodyLimit: number;
  /** Most requests in one JSON-RPC batch array. */
  maxBatch: number;
  /** Most bytes of one call's answer; a larger one is error -32001 ANSWER_TOO_LARGE. */
  maxAnswerBytes: number;
  /** Most bytes of a batch's answers together; calls past it get -32002 BATCH_ANSWER_TOO_LARGE. */
  maxBatchAnswerBytes: number;
  /** Most bytes of JSON in one page of a list method (issuer_list, credential_list, ...); the page ends early with a `next` cursor. */
  maxPageBytes: number;
  /**
   * Most bytes of answers and notifications the node holds for all clients
   * together that the OS has not taken yet (HTTP answers being written, WS
   * send queues). An answer past it is -32003 SEND_REFUSED; a WS client
   * already behind whose notification does not fit is closed with 4008.
   */
  maxSendBytes: number;
  /** Most request bodies over 64 KiB (or of unstated length) being received at once; one more gets HTTP 503 (-32004). Bounds half-received large bodies to this many times bodyLimit; smaller ones to maxConnections x 64 KiB. */
  maxBodiesInFlight: number;
  /** Most open TCP connections to the RPC port (HTTP and WebSocket together); more are closed at once. */
  maxConnections: number;
  /** A request's line and headers must arrive within this (HTTP 408, then closed). */
  headersTimeoutMs: number;
  /** A request's body must arrive within this from the end of its headers; else the connection is closed. */
  bodyTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this (HTTP 408, then closed). */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A connection with no bytes either way for this long is closed (above tx_submit's longest wait, 60 s). */
  idleTimeoutMs: number;
  /** fastify `logger` option: false, true, pino options, or a pino-compatible logger instance. */
  logger: boolean | object;
  /**
   * Which browser origins may call the node (CORS, and the Origin of a WS
   * upgrade): false (none, the default), "*" (any), or a list of exact
   * origins such as "https://wallet.example".
   */
  cors: CorsSetting;
  /** Largest WS frame (message) a client may send; a larger one closes the connection with 1009. */
  wsMaxFrameBytes: number;
  /** Most open WS connections; an upgrade beyond it gets HTTP 503. */
  wsMaxConnections: number;
  /** Most live subscriptions per WS connection; one more is a SUBSCRIPTION_LIMIT error. */
  wsMaxSubscriptions: number;
  /**
   * Send queue of one WS connection: bytes and messages written but not yet
   * taken by the client. Past either bound the client is too slow and is
   * closed with 4008, so it never holds up the node or other subscribers.
   */
  wsMaxQueueBytes: number;
  wsMaxQueueMessages: number;
  /** Requests of one WS connection being handled at once; past it the node stops reading that connection until answers go out. */
  wsMaxPendingRequests: number;
  /** Ping every connection this often and drop one that did not answer the previous ping; 0 turns pings off. */
  wsPingIntervalMs: number;
  /** How long a closing connection may take to finish the close handshake before its socket is destroyed. */
  wsCloseGraceMs: number;
}

export type CorsSetting = false | "*" | readonly string[];

export const defaultRpcOptions: RpcOptions = Object.freeze({
  host: "127.0.0.1",
  port: 8660,
  bodyLimit: 1024 * 1024,
  maxBatch: 100,
  maxAnswerBytes: 1024 * 1024,
  maxBatchAnswerBytes: 4 * 1024 * 1024,
  maxPageBytes: 256 * 1024,
  // With the other defaults, the part of the memory budget (docs/limits.md) that answers waiting for slow clients may take.
  maxSendBytes: 256 * 1024 * 1024,
  // wsMaxConnections and room for HTTP clients beside them.
  maxConnections: 2500,
  // 128 x bodyLimit (1 MiB): the part of the memory budget half-received bodies may take.
  maxBodiesInFlight: 128,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 20_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 90_000,
  logger: false,
  cors: false,
  wsMaxFrameBytes: 1024 * 1024,
  // Room for a benchmark's 1000 newHeads subscribers with headroom.
  wsMaxConnections: 2000,
  wsMaxSubscriptions: 100,
  // A block may hold 5000 txs (genesis maxBlockTxs), i.e. up to 5000 did
  // notifications in one burst (about 1.3 MB): a client that keeps up must fit.
  wsMaxQueueBytes: 2 * 1024 * 1024,
  wsMaxQueueMessages: 10_000,
  wsMaxPendingRequests: 128,
  wsPingIntervalMs: 30_000,
  wsCloseGraceMs: 2_000,
});

function assertInteger(name: string, v: unknown, min: number, max: number): void {
  const fault = intSettingFault(name, v, min, max);
  if (fault !== undefined) throw new RangeError(`rpc option ${fault}`);
}

/** Defaults overlaid with the given options (undefined members keep the default), checked. */
export function resolveRpcOptions(opts: Partial<RpcOptions> = {}): RpcOptions {
  const out: RpcOptions = { ...defaultRpcOptions };
  for (const key of Object.keys(defaultRpcOptions) as (keyof RpcOptions)[]) {
    if (opts[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = opts[key];
  }
  const hostFault = nonEmptyStringFault(out.host, Number.MAX_SAFE_INTEGER);
  if (hostFault !== undefined) throw new TypeError(`rpc option host: ${hostFault}, got ${show(out.host)}`);
  assertInteger("port", out.port, 0, 65535);
  assertInteger("bodyLimit", out.bodyLimit, 1, 2 ** 31 - 1);
  assertInteger("maxBatch", out.maxBatch, 1, 1_000_000);
  assertInteger("maxAnswerBytes", out.maxAnswerBytes, 1024, 2 ** 30);
  assertInteger("maxBatchAnswerBytes", out.maxBatchAnswerBytes, 1024, 2 ** 30);
  assertInteger("maxPageBytes", out.maxPageBytes, 1024, 2 ** 30);
  assertInteger("maxSendBytes", out.maxSendBytes, 1024 * 1024, 2 ** 40);
  assertInteger("maxConnections", out.maxConnections, 1, 1_000_000);
  assertInteger("maxBodiesInFlight", out.maxBodiesInFlight, 1, 1_000_000);
  assertInteger("headersTimeoutMs", out.headersTimeoutMs, 100, 3600_000);
  assertInteger("bodyTimeoutMs", out.bodyTimeoutMs, 100, 3600_000);
  assertInteger("requestTimeoutMs", out.requestTimeoutMs, 100, 3600_000);
  assertInteger("keepAliveTimeoutMs", out.keepAliveTimeoutMs, 100, 3600_000);
  assertInteger("idleTimeoutMs", out.idleTimeoutMs, 100, 24 * 3600_000);
  if (out.headersTimeoutMs > out.requestTimeoutMs) {
    throw new RangeError(`rpc option headersTimeoutMs (${out.headersTimeoutMs}) must not exceed requestTimeoutMs (${out.requestTimeoutMs})`);
  }
  if (booleanFault(out.logger) !== undefined && !isObject(out.logger)) throw new TypeError(`rpc option logger: ${reason.type("boolean or object")}`);
  checkCors(out.cors);
  assertInteger("wsMaxFrameBytes", out.wsMaxFrameBytes, 1024, 64 * 1024 * 1024);
  assertInteger("wsMaxConnections", out.wsMaxConnections, 1, 1_000_000);
  assertInteger("wsMaxSubscriptions", out.wsMaxSubscriptions, 1, 1_000_000);
  assertInteger("wsMaxQueueBytes", out.wsMaxQueueBytes, 1024, 2 ** 31 - 1);
  assertInteger("wsMaxQueueMessages", out.wsMaxQueueMessages, 1, 10_000_000);
  assertInteger("wsMaxPendingRequests", out.wsMaxPendingRequests, 1, 100_000);
  assertInteger("wsPingIntervalMs", out.wsPingIntervalMs, 0, 24 * 3600_000);
  assertInteger("wsCloseGraceMs", out.wsCloseGraceMs, 0, 600_000);
  return out;
}

/** Any object (a pino options object or logger instance; arrays are objects too, as before). */
function isObject(v: unknown): boolean {
  return typeof v === "object" && v !== null;
}

/** An origin as browsers send it: scheme, host and optional port, nothing else. */
function isOrigin(s: unknown): boolean {
  if (typeof s !== "string" || s.length > 512) return false;
  try {
    const u = new URL(s);
    return (u.protocol === "http:" || u.protocol === "https:") && u.origin === s;
  } catch {
    return false;
  }
}

function checkCors(v: unknown): void {
  if (v === false || v === "*") return;
  if (!Array.isArray(v) || v.length === 0) throw new TypeError('rpc option cors: expected false, "*" or a non-empty list of origins');
  for (const o of v) {
    if (!isOrigin(o)) throw new TypeError(`rpc option cors: ${JSON.stringify(o)?.slice(0, 100)} is not an origin like "https://example.org" (scheme, host, optional port; no path or trailing slash)`);
  }
}

/** Whether a browser page of `origin` may use the node under the `cors` setting. */
export function originAllowed(cors: CorsSetting, origin: string): boolean {
  return cors === "*" || (cors !== false && cors.includes(origin));
}
