/**
 * The RPC HTTP server: JSON-RPC 2.0 on `POST /` (DESIGN.md, public contracts).
 * Built here, listened to by the node (STYLE.md: build in a function, test
 * with inject). Every answer is JSON; no error reaches a client with a stack.
 */
import { STATUS_CODES } from "node:http";
import fastifyCors from "@fastify/cors";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from "fastify";
import { JsonRpcErrorCode, invalidRequest, internalError, type JsonRpcErrorObject } from "./errors.js";
import { AnswerLimitCode, compileMethods, handleJsonRpcText, type MethodTable } from "./jsonrpc.js";
import { resolveRpcOptions, type RpcOptions } from "./options.js";
import { IDENTIFIERS_PREFIX, sendMalformedIdentifier } from "./resolver-http.js";
import { type SendBudget, sendBudgetOf } from "./send-budget.js";

interface HttpError {
  statusCode?: unknown;
  code?: unknown;
  message?: unknown;
}

function statusOf(err: unknown): number {
  const s = (err as HttpError | null)?.statusCode;
  return typeof s === "number" && Number.isInteger(s) && s >= 400 && s < 600 ? s : 500;
}

function codeOf(err: unknown): string | undefined {
  const c = (err as HttpError | null)?.code;
  return typeof c === "string" ? c : undefined;
}

/** A pino-like logger instance (as opposed to pino options) goes to fastify's `loggerInstance`. */
function isLoggerInstance(l: unknown): boolean {
  const o = l as Record<string, unknown> | null;
  return typeof o === "object" && o !== null && ["info", "error", "warn", "debug", "child"].every((k) => typeof o[k] === "function");
}

/** The request log: one line per answered request (fastify's default is two), with fastify's request id as reqId. */
class OneLineRequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (!error && reply.log.level !== "info") return;
    const fields = { method: request.method, url: request.url.slice(0, 200), status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
    if (error) reply.log.error({ ...fields, err: error }, "request failed");
    else reply.log.info(fields, "request");
  }
}

/** Bodies up to this size (by content-length) are not counted against maxBodiesInFlight. */
const SMALL_BODY_BYTES = 64 * 1024;

function bodiesBusy(max: number): JsonRpcErrorObject {
  return {
    code: AnswerLimitCode.BODIES_BUSY,
    message: `The node is receiving ${max} request bodies already (rpc.maxBodiesInFlight): try again shortly`,
    data: { limit: "maxBodiesInFlight", max },
  };
}

function sendRpcError(reply: FastifyReply, status: number, error: JsonRpcErrorObject): FastifyReply {
  return reply
    .code(status)
    .type("application/json; charset=utf-8")
    .send(JSON.stringify({ jsonrpc: "2.0", id: null, error }));
}

/** The JSON-RPC endpoint, in its own encapsulated scope so its body parsers do not leak to other routes. */
function jsonRpcRoutes(app: FastifyInstance, methods: MethodTable, o: RpcOptions, budget: SendBudget): void {
  app.register(async (scope) => {
    // Bodies are taken as text and parsed by us, so malformed JSON is a
    // -32700 response in protocol instead of fastify's HTTP 400.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(["application/json", "text/plain"], { parseAs: "string" }, (_req, body, done) => {
      done(null, body);
    });
    // '*' is also what fastify uses for a body without a content-type.
    scope.addContentTypeParser("*", { parseAs: "string" }, (req, body, done) => {
      if (req.headers["content-type"] === undefined) return done(null, body);
      const err = Object.assign(new Error("Unsupported Media Type: use application/json"), {
        statusCode: 415,
        code: "FST_ERR_CTP_INVALID_MEDIA_TYPE",
      });
      done(err, undefined);
    });

    scope.setErrorHandler((err, request, reply) => {
      const code = codeOf(err);
      if (code === "FST_ERR_CTP_BODY_TOO_LARGE") {
        return sendRpcError(reply, 413, {
          code: JsonRpcErrorCode.INVALID_REQUEST,
          message: `Request body larger than ${o.bodyLimit} bytes`,
        });
      }
      const status = statusOf(err);
      if (status < 500) {
        // 4xx from fastify itself (bad content-type, content-length mismatch, ...): its messages are fixed texts.
        const reason = code?.startsWith("FST_") ? String((err as HttpError).message) : (STATUS_CODES[status] ?? "Bad Request");
        return sendRpcError(reply, status, invalidRequest(reason));
      }
      request.log.error({ err }, "JSON-RPC endpoint failed");
      return sendRpcError(reply, 500, internalError());
    });

    scope.post("/", async (request: FastifyRequest, reply: FastifyReply) => {
      // No per-request AbortController: it cost more than any handler gained
      // (every wait a handler does is bounded by its own timeout).
      const text = typeof request.body === "string" ? request.body : "";
      // The answer's bytes count against maxSendBytes until the response is written out (or the client is gone).
      let held = 0;
      const out = await handleJsonRpcText(methods, text, {
        maxBatch: o.maxBatch,
        maxAnswerBytes: o.maxAnswerBytes,
        maxBatchAnswerBytes: o.maxBatchAnswerBytes,
        maxPageBytes: o.maxPageBytes,
        log: request.log,
        admit: (bytes) => {
          if (!budget.fits(bytes)) return { limit: "maxSendBytes", max: o.maxSendBytes };
          budget.add(bytes);
          held = bytes;
          return undefined;
        },
      });
      if (held > 0) reply.raw.once("close", () => budget.add(-held));
      if (out === undefined) return reply.code(204).send();
      // Already a JSON string: fastify sends strings as they are, so results are serialized once.
      return reply.code(200).type("application/json; charset=utf-8").send(out);
    });
  });
}

/**
 * Build (not listen) the RPC app: JSON-RPC on POST /, JSON 404 and JSON
 * errors everywhere. `extra` adds the lead's routes (health, resolver, ws)
 * to the same app. The method table is checked and compiled here.
 */
export function buildServer(
  opts: Partial<RpcOptions>,
  methods: MethodTable,
  extra?: (app: FastifyInstance) => void,
): FastifyInstance {
  const o = resolveRpcOptions(opts);
  compileMethods(methods);
  const app = Fastify({
    bodyLimit: o.bodyLimit,
    // HTTP limits (docs/rpc-ws.md, "HTTP limits"): a client that sends slowly or not at all holds a socket for a bounded time.
    connectionTimeout: o.idleTimeoutMs,
    keepAliveTimeout: o.keepAliveTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    // Stopping the node cuts every open connection: a client sending a body slowly must not hold the stop until its timeout.
    forceCloseConnections: true,
    http: {
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      // How often Node checks the two timeouts above (its default, 30 s, would let them run late by that much).
      connectionsCheckingInterval: Math.min(5_000, Math.max(250, Math.floor(o.headersTimeoutMs / 4))),
    },
    // A path fastify cannot percent-decode: JSON in the route's own format instead of fastify's text.
    frameworkErrors: (err, request, rawReply) => {
      const reply = rawReply as unknown as FastifyReply;
      if ((err as HttpError).code === "FST_ERR_BAD_URL" && request.url.startsWith(IDENTIFIERS_PREFIX)) {
        return sendMalformedIdentifier(reply, "the identifier is not validly percent-encoded");
      }
      const status = statusOf(err);
      return reply.code(status).send({ statusCode: status, error: STATUS_CODES[status] ?? "Error", message: String((err as HttpError).message).slice(0, 300) });
    },
    logController: new OneLineRequestLog(),
    ...(isLoggerInstance(o.logger)
      ? { loggerInstance: o.logger as never }
      : { logger: o.logger as boolean | Record<string, unknown> }),
  }) as unknown as FastifyInstance;
  // Past it the OS-level accept is followed by an immediate close: WebSocket connections count too.
  app.server.maxConnections = o.maxConnections;
  const budget = sendBudgetOf(app, o.maxSendBytes);

  // A body must arrive within bodyTimeoutMs of the headers; a client that trickles it is cut off. At most
  // maxBodiesInFlight bodies are received at once, so bodies held half-received take at most that many times bodyLimit.
  let bodiesInFlight = 0;
  app.addHook("onRequest", (request, reply, done) => {
    const raw = request.raw;
    const h = raw.headers;
    if (raw.complete || (h["transfer-encoding"] === undefined && (h["content-length"] === undefined || h["content-length"] === "0"))) return done();
    // Small bodies do not count: they are bounded by maxConnections x SMALL_BODY_BYTES, and a client with
    // an ordinary request is served while others hold every slot for large ones.
    const declared = h["content-length"] === undefined ? undefined : Number(h["content-length"]);
    const small = declared !== undefined && declared <= SMALL_BODY_BYTES;
    if (!small && bodiesInFlight >= o.maxBodiesInFlight) {
      // The body is not read: once the answer is out, the connection goes, with whatever the client still sends.
      reply.raw.once("finish", () => raw.socket?.destroy?.());
      reply
        .code(503)
        .header("connection", "close")
        .type("application/json; charset=utf-8")
        .send(JSON.stringify({ jsonrpc: "2.0", id: null, error: bodiesBusy(o.maxBodiesInFlight) }));
      return;
    }
    if (!small) bodiesInFlight++;
    let open = !small;
    const timer = setTimeout(() => {
      request.log.info({ url: request.url.slice(0, 200), ms: o.bodyTimeoutMs }, "request body not received in time: connection closed");
      raw.destroy();
    }, o.bodyTimeoutMs).unref();
    const clear = () => {
      clearTimeout(timer);
      if (open) bodiesInFlight--;
      open = false;
    };
    raw.once("end", clear);
    raw.once("close", clear);
    reply.raw.once("finish", clear);
    reply.raw.once("close", clear);
    done();
  });

  // Fallback for every route outside the JSON-RPC scope: JSON, and a 5xx never shows its message.
  app.setErrorHandler((err, request, reply) => {
    const status = statusOf(err);
    if (status >= 500) request.log.error({ err }, "request failed");
    const message = status < 500 && typeof (err as HttpError).message === "string" ? String((err as HttpError).message) : "Internal Server Error";
    return reply.code(status).send({ statusCode: status, error: STATUS_CODES[status] ?? "Error", message });
  });
  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({ statusCode: 404, error: "Not Found", message: `Route ${request.method} ${request.url.split("?")[0]!.slice(0, 200)} not found` });
  });

  // Registered before the routes so its hook and its preflight route cover all of them.
  if (o.cors !== false) {
    app.register(fastifyCors, { origin: o.cors === "*" ? "*" : [...o.cors], methods: ["GET", "HEAD", "POST"], maxAge: 600 });
  }

  jsonRpcRoutes(app, methods, o, budget);
  extra?.(app);
  return app;
}
