/**
 * JSON-RPC 2.0 (https://www.jsonrpc.org/specification): method registry,
 * params validation and dispatch, independent of the transport (HTTP POST /
 * and WS share it) and of what the methods do.
 *
 * Boundary rule (DESIGN.md invariant 6): bad input never crashes the node;
 * every request gets a typed error. Params are checked by a validator compiled
 * once per method before any handler runs.
 */
import {
  JsonRpcErrorCode,
  RpcParamsError,
  internalError,
  invalidRequest,
  toJsonRpcError,
  type JsonRpcErrorObject,
  type RpcLogger,
} from "./errors.js";
import { type Checker, type Static, type TObject, Type, compileChecker, isPlainObject } from "../check/index.js";

export type ParamType = "string" | "integer" | "boolean" | "object" | "array";

/**
 * A method's params are declared once, as a TypeBox object schema
 * (`Type.Object({...})`, built with the check kit's `Shape`): the handler's
 * params type follows from it, and it is compiled once at start-up. The
 * properties' order is the positional order. A string's `maxLength` counts
 * UTF-16 code units and is checked before its `pattern`, which is tested
 * like JSON Schema `pattern`, unanchored: write `^...$` for a full match.
 * Values of object / array params are not looked into: the handler does.
 */
export type ParamsSchema = TObject;

/**
 * The compact form of the same declaration, for method tables built as data
 * (tests): each param by name with `type`, `required` and its constraints
 * (`maxLength` for strings and arrays, `minimum` / `maximum` for integers,
 * `pattern` and `enum` for strings). It is translated into a ParamsSchema
 * when compiled, so both are checked by the same compiled checkers.
 */
export type ParamSpec = {
  [name: string]: {
    type: ParamType;
    required?: boolean;
    maxLength?: number;
    minimum?: number;
    maximum?: number;
    pattern?: string;
    enum?: readonly string[];
  };
};

export interface RpcContext {
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
  /**
   * The transport's state for the message being handled (a WS connection's
   * subscriptions); undefined over HTTP. Methods that need one check its type.
   */
  session?: unknown;
  /** Most bytes of JSON one page of a list method may hold (pageByBytes in paging.ts reads it). */
  maxPageBytes?: number;
}

export interface RpcMethod<P = any, R = unknown> {
  params: ParamsSchema | ParamSpec;
  handler(params: P, ctx: RpcContext): Promise<R> | R;
  description?: string;
}

export type MethodTable = Record<string, RpcMethod>;

export type JsonRpcId = string | number | null;
export interface JsonRpcSuccess {
  jsonrpc: "2.0";
  id: JsonRpcId;
  result: unknown;
}
export interface JsonRpcFailure {
  jsonrpc: "2.0";
  id: JsonRpcId;
  error: JsonRpcErrorObject;
}
export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;

export interface DispatchOptions {
  /** Most entries in one batch array. */
  maxBatch: number;
  /** Most bytes of one call's answer (its whole response object as sent); a larger one becomes ANSWER_TOO_LARGE. Default DEFAULT_ANSWER_LIMITS. */
  maxAnswerBytes?: number;
  /** Most bytes of a batch's answers together; the entries past it become BATCH_ANSWER_TOO_LARGE (see handleJsonRpcText). */
  maxBatchAnswerBytes?: number;
  /** Passed to every handler as `ctx.maxPageBytes`. */
  maxPageBytes?: number;
  /**
   * The transport's room for an answer of `bytes` bytes: undefined when it
   * may be sent, else the limit that refuses it. A refused answer is
   * replaced by SEND_REFUSED errors, one per id, which are sent instead.
   */
  admit?: (bytes: number) => AnswerLimit | undefined;
  /** Where internal errors are logged (never sent to the client). */
  log?: RpcLogger;
  signal?: AbortSignal;
  /** Passed to every handler as `ctx.session`. */
  session?: unknown;
}

/**
 * Codes of the answer budgets, in JSON-RPC's range for implementation-defined
 * server errors (-32000 to -32099): they come from this layer, whatever the
 * method. `data` names the limit: `{limit, max}`, the rpc option and its value.
 */
export const AnswerLimitCode = Object.freeze({
  /** One call's answer is larger than maxAnswerBytes. */
  ANSWER_TOO_LARGE: -32001,
  /** A batch's answers together are larger than maxBatchAnswerBytes. */
  BATCH_ANSWER_TOO_LARGE: -32002,
  /** The transport has no room for the answer now (a WebSocket send queue, or the node's bytes of answers not yet taken). */
  SEND_REFUSED: -32003,
  /** HTTP: the node is receiving rpc.maxBodiesInFlight request bodies already (sent with HTTP 503). */
  BODIES_BUSY: -32004,
} as const);

/** A size limit by its rpc option name and value. */
export interface AnswerLimit {
  limit: string;
  max: number;
}

/** What an answer may weigh when the caller gives no limits (the rpc defaults say the same). */
export const DEFAULT_ANSWER_LIMITS = Object.freeze({ maxAnswerBytes: 1024 * 1024, maxBatchAnswerBytes: 4 * 1024 * 1024, maxPageBytes: 256 * 1024 });

function answerTooLarge(max: number): JsonRpcErrorObject {
  return { code: AnswerLimitCode.ANSWER_TOO_LARGE, message: `Answer larger than ${max} bytes (rpc.maxAnswerBytes): ask for less, e.g. a smaller page`, data: { limit: "maxAnswerBytes", max } };
}

function batchAnswerTooLarge(max: number): JsonRpcErrorObject {
  return {
    code: AnswerLimitCode.BATCH_ANSWER_TOO_LARGE,
    message: `The batch's answers are larger than ${max} bytes together (rpc.maxBatchAnswerBytes): send this call again, alone or in a smaller batch`,
    data: { limit: "maxBatchAnswerBytes", max },
  };
}

function sendRefused(l: AnswerLimit): JsonRpcErrorObject {
  return { code: AnswerLimitCode.SEND_REFUSED, message: `No room to send an answer of this size now (rpc.${l.limit} = ${l.max} bytes): read what was sent, or ask for less`, data: { limit: l.limit, max: l.max } };
}

// ---------------------------------------------------------------------------
// Params validators, compiled once per method.

type ParamsValidator = (raw: unknown) => Record<string, unknown>;

const compiled = new WeakMap<RpcMethod, ParamsValidator>();

const CONSTRAINTS_BY_TYPE: Readonly<Record<ParamType, readonly string[]>> = Object.freeze({
  string: ["maxLength", "pattern", "enum"],
  integer: ["minimum", "maximum"],
  boolean: [],
  object: [],
  array: ["maxLength"],
});
const PARAM_NAME_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function isParamsSchema(p: unknown): p is ParamsSchema {
  return isPlainObject(p) && p.type === "object" && isPlainObject(p.properties);
}

/** One param of the compact form as a schema; throws (at start-up) on a malformed spec. */
function paramSchema(where: string, spec: ParamSpec[string]): Record<string, unknown> {
  if (!isPlainObject(spec) || !Object.hasOwn(CONSTRAINTS_BY_TYPE, spec.type)) {
    throw new Error(`${where}: type must be one of ${Object.keys(CONSTRAINTS_BY_TYPE).join(", ")}`);
  }
  const allowed = CONSTRAINTS_BY_TYPE[spec.type];
  for (const key of Object.keys(spec)) {
    if (key === "type" || key === "required") continue;
    if (!allowed.includes(key)) throw new Error(`${where}: constraint ${key} does not apply to type ${spec.type}`);
  }
  const { maxLength, minimum, maximum, pattern } = spec;
  if (spec.required !== undefined && typeof spec.required !== "boolean") throw new Error(`${where}: required must be boolean`);
  if (maxLength !== undefined && !(Number.isSafeInteger(maxLength) && maxLength >= 0)) {
    throw new Error(`${where}: maxLength must be a non-negative integer`);
  }
  for (const [k, b] of [["minimum", minimum], ["maximum", maximum]] as const) {
    if (b !== undefined && !Number.isFinite(b)) throw new Error(`${where}: ${k} must be a finite number`);
  }
  if (spec.enum !== undefined && (!Array.isArray(spec.enum) || spec.enum.length === 0 || !spec.enum.every((x) => typeof x === "string"))) {
    throw new Error(`${where}: enum must be a non-empty list of strings`);
  }
  switch (spec.type) {
    case "string":
      return { type: "string", ...(maxLength !== undefined ? { maxLength } : {}), ...(pattern !== undefined ? { pattern } : {}), ...(spec.enum ? { enum: [...spec.enum] } : {}) };
    case "integer":
      return { type: "integer", minimum: minimum ?? -Number.MAX_SAFE_INTEGER, maximum: maximum ?? Number.MAX_SAFE_INTEGER };
    case "boolean":
      return { type: "boolean" };
    case "object":
      return { type: "object" };
    case "array":
      return { type: "array", ...(maxLength !== undefined ? { maxItems: maxLength } : {}) };
  }
}

/** The compact form as the schema it stands for. */
export function paramSpecToSchema(method: string, params: ParamSpec): ParamsSchema {
  if (!isPlainObject(params)) throw new Error(`method ${method}: params must be a params schema or a ParamSpec object`);
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const name of Object.keys(params)) {
    const where = `method ${method}, param ${name}`;
    if (!PARAM_NAME_RE.test(name) || name === "__proto__") throw new Error(`${where}: param name must be an identifier`);
    properties[name] = paramSchema(where, params[name]!);
    if (params[name]!.required === true) required.push(name);
  }
  return { type: "object", properties, ...(required.length > 0 ? { required } : {}), additionalProperties: false } as unknown as ParamsSchema;
}

/**
 * Compile a method's params schema: one checker per param, run in declared
 * order, so the first bad param (in that order) is the one named.
 */
function compileValidator(method: string, declared: ParamsSchema | ParamSpec): ParamsValidator {
  const schema = isParamsSchema(declared) ? declared : paramSpecToSchema(method, declared as ParamSpec);
  const requiredNames = new Set<string>(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const names = Object.keys(schema.properties);
  const checks: { name: string; required: boolean; checker: Checker<unknown> }[] = names.map((name) => {
    if (!PARAM_NAME_RE.test(name) || name === "__proto__") throw new Error(`method ${method}, param ${name}: param name must be an identifier`);
    try {
      return { name, required: requiredNames.has(name), checker: compileChecker(schema.properties[name]!) };
    } catch (e) {
      throw new Error(`method ${method}, param ${name}: ${(e as Error).message}`);
    }
  });

  return (raw) => {
    // Positional params map onto the declaration in property order; absent trailing ones are undefined.
    let get: (name: string, i: number) => unknown;
    if (raw === undefined) {
      get = () => undefined;
    } else if (Array.isArray(raw)) {
      if (raw.length > names.length) {
        throw new RpcParamsError(`params[${names.length}]`, `unexpected positional param; method takes at most ${names.length}`);
      }
      get = (_name, i) => raw[i];
    } else {
      const byName = raw as Record<string, unknown>;
      for (const key of Object.keys(byName)) {
        if (!Object.hasOwn(schema.properties, key)) throw new RpcParamsError(key, "unknown param");
      }
      get = (name) => (Object.hasOwn(byName, name) ? byName[name] : undefined);
    }
    const out: Record<string, unknown> = {};
    for (let i = 0; i < checks.length; i++) {
      const { name, required, checker } = checks[i]!;
      const v = get(name, i);
      if (v === undefined) {
        if (required) throw new RpcParamsError(name, "required");
        continue;
      }
      const fault = checker.fault(v);
      if (fault !== undefined) throw new RpcParamsError(fault.path === "" ? name : `${name}.${fault.path}`, fault.reason);
      out[name] = v;
    }
    return out;
  };
}

function validatorOf(name: string, m: RpcMethod): ParamsValidator {
  let v = compiled.get(m);
  if (v === undefined) {
    v = compileValidator(name, m.params);
    compiled.set(m, v);
  }
  return v;
}

/** Whether the method's params validator has been compiled (by defineMethod or compileMethods). */
export function isCompiled(m: RpcMethod): boolean {
  return compiled.has(m);
}

/** A method whose params are declared by a schema: the handler's params type is the schema's static type. */
export interface SchemaMethod<S extends ParamsSchema, R> {
  params: S;
  handler(params: Static<S>, ctx: RpcContext): Promise<R> | R;
  description?: string;
}

/** A method without params. */
export const NO_PARAMS = Type.Object({}, { additionalProperties: false });

/**
 * Declare a method; its params validator is compiled here, so a bad
 * declaration fails at load time.
 */
export function defineMethod<S extends ParamsSchema, R>(m: SchemaMethod<S, R>): RpcMethod<Static<S>, R>;
/** The same for params in the compact form (ParamSpec), with the params type given. */
export function defineMethod<P, R>(m: RpcMethod<P, R>): RpcMethod<P, R>;
export function defineMethod(m: RpcMethod): RpcMethod {
  if (typeof m.handler !== "function") throw new Error("defineMethod: handler must be a function");
  validatorOf("(defineMethod)", m);
  return m;
}

/**
 * Check a method table and compile every validator (idempotent). Call at
 * start-up so a malformed table fails before the first request; `dispatch`
 * also compiles lazily. Names starting with "rpc." are reserved by JSON-RPC.
 */
export function compileMethods(methods: MethodTable): void {
  for (const name of Object.keys(methods)) {
    if (name.startsWith("rpc.")) throw new Error(`method ${name}: names beginning with "rpc." are reserved`);
    const m = methods[name]!;
    if (typeof m?.handler !== "function") throw new Error(`method ${name}: handler must be a function`);
    validatorOf(name, m);
  }
}

// ---------------------------------------------------------------------------
// Dispatch.

function failure(id: JsonRpcId, error: JsonRpcErrorObject): JsonRpcFailure {
  return { jsonrpc: "2.0", id, error };
}

/** A number id must survive JSON: 1e309 parses to Infinity, which would be sent back as null. */
function isValidId(id: unknown): id is JsonRpcId {
  return id === null || typeof id === "string" || (typeof id === "number" && Number.isFinite(id));
}

const MAX_ECHO = 200;
function echo(s: string): string {
  return s.length <= MAX_ECHO ? s : s.slice(0, MAX_ECHO) + "…";
}

/** One request object of a call or batch; undefined for a notification. */
async function dispatchOne(methods: MethodTable, req: unknown, opts: DispatchOptions): Promise<JsonRpcResponse | undefined> {
  // Invalid requests are answered even without an id (spec section 5 examples), with id null
  // unless a well-typed id was found.
  if (!isPlainObject(req)) return failure(null, invalidRequest("request must be an object"));
  const hasId = Object.hasOwn(req, "id");
  const idOk = !hasId || isValidId(req.id);
  const id: JsonRpcId = hasId && idOk ? (req.id as JsonRpcId) : null;
  if (req.jsonrpc !== "2.0") return failure(id, invalidRequest('jsonrpc must be "2.0"'));
  if (!idOk) return failure(null, invalidRequest("id must be a string, a finite number or null"));
  if (typeof req.method !== "string") return failure(id, invalidRequest("method must be a string"));
  const params = req.params;
  if (params !== undefined && typeof params !== "object") return failure(id, invalidRequest("params must be an object or array"));
  if (params === null) return failure(id, invalidRequest("params must be an object or array"));

  const name = req.method;
  const method = Object.hasOwn(methods, name) ? methods[name] : undefined;
  let error: JsonRpcErrorObject;
  if (method === undefined) {
    error = { code: JsonRpcErrorCode.METHOD_NOT_FOUND, message: "Method not found", data: { method: echo(name) } };
  } else {
    try {
      const checked = validatorOf(name, method)(params);
      const result = await method.handler(checked, { signal: opts.signal, session: opts.session, maxPageBytes: opts.maxPageBytes ?? DEFAULT_ANSWER_LIMITS.maxPageBytes });
      if (!hasId) return undefined;
      // `result` is required in a success response; JSON has no undefined.
      return { jsonrpc: "2.0", id, result: result === undefined ? null : result };
    } catch (e) {
      error = toJsonRpcError(e, opts.log);
    }
  }
  return hasId ? failure(id, error) : undefined;
}

/**
 * Handle one parsed JSON body (a request object or a batch array). Returns
 * the response value, or undefined when nothing must be sent (notifications
 * only). Batch entries run concurrently; the response keeps request order.
 * Never throws.
 */
export async function dispatch(
  methods: MethodTable,
  body: unknown,
  opts: DispatchOptions,
): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
  try {
    if (!Array.isArray(body)) return await dispatchOne(methods, body, opts);
    if (body.length === 0) return failure(null, invalidRequest("empty batch"));
    if (body.length > opts.maxBatch) {
      return failure(null, invalidRequest(`batch of ${body.length} requests exceeds the limit of ${opts.maxBatch}`));
    }
    const answers = await Promise.all(body.map((req) => dispatchOne(methods, req, opts)));
    const out = answers.filter((a): a is JsonRpcResponse => a !== undefined);
    return out.length > 0 ? out : undefined;
  } catch (e) {
    // Only reachable through a bug in this file; still answer in protocol.
    opts.log?.error({ err: e }, "JSON-RPC dispatch failed");
    return failure(null, internalError());
  }
}

// ---------------------------------------------------------------------------
// Text in, text out: shared by HTTP and WS.

/**
 * Whether a parsed value holds a `__proto__` key at any depth. JSON.parse
 * makes such a key an own property (it does not set the prototype), so it is
 * found with hasOwn. Iterative, so depth costs no stack: a deeply nested body
 * gets the same answer whether or not it holds an escape.
 */
function hasProtoKey(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== "object" || v === null) continue;
    if (Array.isArray(v)) {
      for (const x of v) if (typeof x === "object" && x !== null) stack.push(x);
      continue;
    }
    if (Object.hasOwn(v, "__proto__")) return true;
    for (const x of Object.values(v)) if (typeof x === "object" && x !== null) stack.push(x);
  }
  return false;
}

export type ParsedBody = { ok: true; value: unknown } | { ok: false; response: JsonRpcFailure };

/**
 * JSON.parse a request body. Malformed JSON -> -32700 (id null). A
 * `__proto__` key (prototype poisoning, never legitimate here) -> -32600.
 */
export function parseJsonRpcText(text: string): ParsedBody {
  if (text.trim() === "") {
    return { ok: false, response: failure(null, { code: JsonRpcErrorCode.PARSE_ERROR, message: "Parse error", data: { reason: "empty body" } }) };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const reason = e instanceof SyntaxError ? echo(e.message) : "malformed JSON";
    return { ok: false, response: failure(null, { code: JsonRpcErrorCode.PARSE_ERROR, message: "Parse error", data: { reason } }) };
  }
  // Only walk bodies that could spell the key (plainly or by escapes).
  if ((text.includes("__proto__") || text.includes("\\u")) && hasProtoKey(value)) {
    return { ok: false, response: failure(null, invalidRequest('forbidden key "__proto__"')) };
  }
  return { ok: true, value };
}

function stringifyOne(r: JsonRpcResponse, log?: RpcLogger): string {
  try {
    return JSON.stringify(r);
  } catch (e) {
    // e.g. a BigInt or a cycle in a handler result: that entry becomes an internal error.
    log?.error({ err: e }, "JSON-RPC result is not serializable");
    return JSON.stringify(failure(r.id, internalError()));
  }
}

/**
 * Serialize a response once. Only when that fails are entries serialized one
 * by one, so one bad result cannot spoil the rest of a batch.
 */
export function serializeResponse(response: JsonRpcResponse | JsonRpcResponse[], log?: RpcLogger): string {
  try {
    return JSON.stringify(response);
  } catch {
    if (!Array.isArray(response)) return stringifyOne(response, log);
    return "[" + response.map((r) => stringifyOne(r, log)).join(",") + "]";
  }
}

/** One entry's text, or ANSWER_TOO_LARGE in its place. */
function boundedText(r: JsonRpcResponse, maxAnswerBytes: number, log?: RpcLogger): { text: string; bytes: number; ok: boolean } {
  const text = stringifyOne(r, log);
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes <= maxAnswerBytes) return { text, bytes, ok: "result" in r };
  const err = JSON.stringify(failure(r.id, answerTooLarge(maxAnswerBytes)));
  return { text: err, bytes: Buffer.byteLength(err), ok: false };
}

/**
 * A batch's answers under one byte budget, whatever order they finish in:
 * an entry's result is sent when the results of it and of every entry
 * before it (in request order) fit the budget together; the other results
 * become BATCH_ANSWER_TOO_LARGE. Errors are sent as they are and not
 * counted (each is small and there are at most maxBatch). Results past the
 * budget are dropped as they arrive, so a batch never holds more than the
 * budget plus one answer.
 */
class BatchAnswers {
  private readonly texts: (string | undefined)[];
  private readonly sizes: number[];
  private readonly ids: JsonRpcId[];
  private readonly kept: boolean[];
  private used = 0;
  /** Every result at or after this index is over the budget. */
  private cutoff: number;

  constructor(
    n: number,
    private readonly max: number,
  ) {
    this.texts = new Array(n);
    this.sizes = new Array(n).fill(0);
    this.ids = new Array(n).fill(null);
    this.kept = new Array(n).fill(false);
    this.cutoff = n;
  }

  add(i: number, id: JsonRpcId, a: { text: string; bytes: number; ok: boolean }): void {
    this.ids[i] = id;
    if (!a.ok) {
      this.texts[i] = a.text;
      return;
    }
    if (i >= this.cutoff) {
      this.texts[i] = this.overBudget(id);
      return;
    }
    this.texts[i] = a.text;
    this.sizes[i] = a.bytes;
    this.kept[i] = true;
    this.used += a.bytes;
    for (let h = this.cutoff - 1; this.used > this.max && h >= 0; h--) {
      if (!this.kept[h]) continue;
      this.kept[h] = false;
      this.used -= this.sizes[h]!;
      this.texts[h] = this.overBudget(this.ids[h]!);
      this.cutoff = h;
    }
  }

  private overBudget(id: JsonRpcId): string {
    return JSON.stringify(failure(id, batchAnswerTooLarge(this.max)));
  }

  /** The answered entries in request order, with their ids (notifications have none). */
  entries(): { id: JsonRpcId; text: string }[] {
    const out: { id: JsonRpcId; text: string }[] = [];
    this.texts.forEach((text, i) => {
      if (text !== undefined) out.push({ id: this.ids[i]!, text });
    });
    return out;
  }
}

/** The texts joined as sent: one object, or a batch array. */
function joinAnswer(entries: { text: string }[], batch: boolean): string {
  return batch ? "[" + entries.map((e) => e.text).join(",") + "]" : entries[0]!.text;
}

/** Calls of one batch running at once (enough for waits such as tx_submit with wait to overlap). */
const BATCH_CONCURRENCY = 16;

/** An answer ready to send, and what to send instead when the transport has no room for it. */
export interface BoundedAnswer {
  text: string;
  /** The same ids, each with a SEND_REFUSED error naming `limit` (a few hundred bytes per id). */
  refusal(limit: AnswerLimit): string;
}

/**
 * Parse, dispatch and serialize one body; undefined when no response is due.
 * Never throws. Every answer is bounded: a call's answer by maxAnswerBytes, a
 * batch's by maxBatchAnswerBytes (BatchAnswers).
 */
export async function answerJsonRpcText(methods: MethodTable, text: string, opts: DispatchOptions): Promise<BoundedAnswer | undefined> {
  const parsed = parseJsonRpcText(text);
  if (!parsed.ok) {
    const only = JSON.stringify(parsed.response);
    return { text: only, refusal: () => only };
  }
  const body = parsed.value;
  const maxAnswerBytes = opts.maxAnswerBytes ?? DEFAULT_ANSWER_LIMITS.maxAnswerBytes;
  let entries: { id: JsonRpcId; text: string }[];
  const isBatch = Array.isArray(body) && body.length > 0 && body.length <= opts.maxBatch;
  try {
    if (!isBatch) {
      const r = Array.isArray(body) ? await dispatch(methods, body, opts) : await dispatchOne(methods, body, opts);
      if (r === undefined) return undefined;
      const one = r as JsonRpcResponse;
      entries = [{ id: one.id, text: boundedText(one, maxAnswerBytes, opts.log).text }];
    } else {
      const batch = new BatchAnswers(body.length, opts.maxBatchAnswerBytes ?? DEFAULT_ANSWER_LIMITS.maxBatchAnswerBytes);
      // At most BATCH_CONCURRENCY calls of a batch run at once, each worker giving the event loop a
      // turn between calls: a large batch neither holds all its answers under construction at once
      // nor makes one long turn of the loop that keeps other clients (and node_status) waiting.
      const reqs = body as unknown[];
      let next = 0;
      const worker = async () => {
        while (next < reqs.length) {
          const i = next++;
          const r = await dispatchOne(methods, reqs[i], opts);
          if (r !== undefined) batch.add(i, r.id, boundedText(r, maxAnswerBytes, opts.log));
          if (next < reqs.length) await new Promise<void>((res) => setImmediate(res));
        }
      };
      await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, reqs.length) }, worker));
      entries = batch.entries();
      if (entries.length === 0) return undefined;
    }
  } catch (e) {
    opts.log?.error({ err: e }, "JSON-RPC dispatch failed");
    const only = JSON.stringify(failure(null, internalError()));
    return { text: only, refusal: () => only };
  }
  const ids = entries.map((e) => e.id);
  return {
    text: joinAnswer(entries, isBatch),
    refusal: (limit) => joinAnswer(ids.map((id) => ({ text: JSON.stringify(failure(id, sendRefused(limit))) })), isBatch),
  };
}

/**
 * answerJsonRpcText as text; what the transport has no room for (`admit`)
 * is replaced by SEND_REFUSED errors with the same ids. Never throws.
 */
export async function handleJsonRpcText(methods: MethodTable, text: string, opts: DispatchOptions): Promise<string | undefined> {
  const answer = await answerJsonRpcText(methods, text, opts);
  if (answer === undefined) return undefined;
  const refused = opts.admit?.(Buffer.byteLength(answer.text, "utf8"));
  return refused === undefined ? answer.text : answer.refusal(refused);
}
