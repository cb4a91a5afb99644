/**
 * JSON-RPC over WebSocket at `/ws` (DESIGN.md, public contracts): every
 * HTTP method, same dispatch and errors, plus `subscribe` / `unsubscribe`.
 *
 * Boundaries (DESIGN.md invariant 6), each a RpcOptions member:
 * - frames larger than wsMaxFrameBytes close the connection with 1009;
 * - past wsMaxConnections an upgrade gets HTTP 503;
 * - the send queue (bytes the OS has not taken yet) holds at most
 *   wsMaxQueueBytes, the message being queued included, and at most
 *   wsMaxQueueMessages messages; the queues of all connections together
 *   count against the node's maxSendBytes. An answer that does not fit is
 *   replaced by a small -32003 SEND_REFUSED error; a notification that does
 *   not fit (or that error) closes the connection with 4008 "subscriber too
 *   slow". Sends never wait, so a slow client costs the node a bounded buffer;
 * - an `export` subscription sends its next page only once the queue is
 *   empty (drained()), so it holds at most one page of the queue;
 * - while the connection's queue is not empty, and while wsMaxPendingRequests
 *   answers are being worked on, the node does not read the connection (TCP
 *   back-pressure on the client): a client that does not read its answers
 *   cannot make the node work on more.
 * Binary frames and non-JSON text are answered with JSON-RPC errors.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyInstance } from "fastify";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { invalidRequest, type RpcLogger } from "./errors.js";
import { answerJsonRpcText, type BoundedAnswer, compileMethods, type MethodTable } from "./jsonrpc.js";
import { originAllowed, type RpcOptions } from "./options.js";
import { type SendBudget, sendBudgetOf } from "./send-budget.js";
import { type NotificationSink, Subscriber, SubscriptionHub, SubscriptionSession, subscriptionMethods } from "./subscriptions.js";

export const WS_PATH = "/ws";

/** Close codes sent by the node (1000-1015 are RFC 6455's; 4000-4999 are for applications). */
export const WsCloseCode = Object.freeze({
  /** The node is shutting down. */
  GOING_AWAY: 1001,
  /** A frame larger than wsMaxFrameBytes (sent by the ws library). */
  MESSAGE_TOO_BIG: 1009,
  /** The client did not take its messages fast enough. */
  TOO_SLOW: 4008,
} as const);

const BINARY_FRAME_ERROR = JSON.stringify({
  jsonrpc: "2.0",
  id: null,
  error: invalidRequest("binary frames are not accepted: send JSON-RPC requests as text frames"),
});

interface WsLogger extends RpcLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface WebSocketDeps {
  /** The node's JSON-RPC methods (the HTTP table); subscribe and unsubscribe are added here. */
  methods: MethodTable;
  hub: SubscriptionHub;
  /** Resolved options (resolveRpcOptions). */
  options: RpcOptions;
}

/** What the node and the metrics see of the endpoint. */
export interface WebSocketEndpoint {
  readonly connections: number;
  readonly subscriptions: number;
  /** Close every connection (1001), waiting at most wsCloseGraceMs before cutting the rest. */
  close(): Promise<void>;
}

/**
 * Room past wsMaxQueueBytes for SEND_REFUSED answers (each a few hundred
 * bytes): the queue of a client that stopped reading may hold this much
 * more, so its pending requests are answered rather than the connection cut.
 */
const REFUSAL_RESERVE_BYTES = 64 * 1024;

/** One client connection: a bounded, never-waiting sink for answers and notifications. */
class WsConnection implements NotificationSink {
  /** Messages handed to the socket whose write has not completed yet. */
  private unflushed = 0;
  private pendingRequests = 0;
  private paused = false;
  private closing = false;
  /** This connection's queued bytes as last counted in the node's SendBudget. */
  private counted = 0;
  alive = true;
  readonly subscriber: Subscriber;
  /** Who waits for the queue to empty (export streams, before their next page). */
  private drainWaiters: (() => void)[] = [];
  private readonly onFlushed = () => {
    this.unflushed--;
    this.recount();
    this.updateReading();
    if (this.unflushed === 0) this.wakeDrainWaiters();
  };

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once every queued message has been written out, or the connection is closing. */
  drained(): Promise<void> {
    if (this.unflushed === 0 || this.closing) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  constructor(
    readonly socket: WebSocket,
    private readonly o: RpcOptions,
    hub: SubscriptionHub,
    private readonly methods: MethodTable,
    private readonly log: WsLogger,
    private readonly budget: SendBudget,
  ) {
    this.subscriber = new Subscriber(hub, this, o.wsMaxSubscriptions);
  }

  /** Bring the node-wide count in line with what this connection holds now. */
  private recount(): void {
    const now = this.closing && this.socket.readyState === WebSocket.CLOSED ? 0 : this.socket.bufferedAmount;
    this.budget.add(now - this.counted);
    this.counted = now;
  }

  /**
   * Whether a message of `bytes` fits: this connection's queue with the
   * message counted, and, when something is already queued here, the node's
   * budget (a client that keeps up has its messages taken by the OS at once).
   */
  private room(bytes: number, reserve = 0): { limit: string; max: number } | undefined {
    const queued = this.socket.bufferedAmount;
    if (queued + bytes > this.o.wsMaxQueueBytes + reserve) return { limit: "wsMaxQueueBytes", max: this.o.wsMaxQueueBytes };
    if (this.unflushed >= this.o.wsMaxQueueMessages) return { limit: "wsMaxQueueMessages", max: this.o.wsMaxQueueMessages };
    if (!this.budget.fits(bytes) && (queued > 0 || bytes > this.o.wsMaxQueueBytes / 2)) return { limit: "maxSendBytes", max: this.o.maxSendBytes };
    return undefined;
  }

  /** The bytes of `text` for the bounds: exact only when the cheap bound (3 bytes per UTF-16 unit) does not settle it. */
  private bytesOf(text: string): number {
    return text.length * 3 + this.socket.bufferedAmount <= this.o.wsMaxQueueBytes && this.budget.fits(text.length * 3) ? text.length : Buffer.byteLength(text, "utf8");
  }

  /**
   * Send an answer, decided at the moment it is handed to the socket: when
   * it does not fit the queue, its SEND_REFUSED errors go instead, with a
   * reserve past the queue bound (they are small), so a client that comes
   * back finds why; only if even they do not fit is the connection closed.
   */
  sendAnswer(answer: BoundedAnswer): void {
    if (this.closing || this.socket.readyState !== WebSocket.OPEN) return;
    const refused = this.room(this.bytesOf(answer.text));
    if (refused === undefined) this.send(answer.text);
    else this.send(answer.refusal(refused), REFUSAL_RESERVE_BYTES);
  }

  /** Queue a message, or close the connection (4008) when it does not fit; `reserve` is room allowed past wsMaxQueueBytes. */
  send(text: string, reserve = 0): void {
    if (this.closing || this.socket.readyState !== WebSocket.OPEN) return;
    const bytes = this.bytesOf(text);
    const refused = this.room(bytes, reserve);
    if (refused !== undefined) {
      this.log.warn({ queuedBytes: this.socket.bufferedAmount, queuedMessages: this.unflushed, messageBytes: bytes, limit: refused.limit }, "closing a WebSocket client that does not keep up");
      this.end(WsCloseCode.TOO_SLOW, "subscriber too slow");
      return;
    }
    this.unflushed++;
    this.socket.send(text, this.onFlushed);
    this.recount();
    this.updateReading();
  }

  /**
   * Read the connection only while its queue is empty and it has room for
   * more requests: answers to a client that does not read are not worked on.
   */
  private updateReading(): void {
    if (this.closing) return;
    const hold = this.pendingRequests >= this.o.wsMaxPendingRequests || (this.unflushed > 0 && this.socket.bufferedAmount > 0);
    if (hold && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!hold && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  overflow(): void {
    this.end(WsCloseCode.TOO_SLOW, "subscriber too slow");
  }

  /** Stop sending, drop the subscriptions, start the close handshake (the library cuts the socket after wsCloseGraceMs). */
  end(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.subscriber.close();
    this.wakeDrainWaiters();
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(code, reason);
  }

  /** The socket is closed: nothing of this client stays. */
  gone(): void {
    this.closing = true;
    this.subscriber.close();
    this.wakeDrainWaiters();
    this.budget.add(-this.counted);
    this.counted = 0;
  }

  onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.send(BINARY_FRAME_ERROR);
      return;
    }
    // binaryType is the default "nodebuffer": one Buffer per message, fragments already joined.
    const text = Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString("utf8");
    void this.handle(text);
  }

  private async handle(text: string): Promise<void> {
    this.pendingRequests++;
    this.updateReading();
    const session = new SubscriptionSession(this.subscriber);
    try {
      // Never throws: every failure is a JSON-RPC error in the answer.
      const answer = await answerJsonRpcText(this.methods, text, {
        maxBatch: this.o.maxBatch,
        maxAnswerBytes: this.o.maxAnswerBytes,
        maxBatchAnswerBytes: this.o.maxBatchAnswerBytes,
        maxPageBytes: this.o.maxPageBytes,
        log: this.log,
        session,
      });
      if (answer !== undefined) this.sendAnswer(answer);
      session.activateOpened();
    } finally {
      this.pendingRequests--;
      this.updateReading();
    }
  }
}

/** Answer an upgrade we refuse with a plain HTTP response, then close the socket. */
function refuseUpgrade(socket: Duplex, status: number, reason: string, message: string): void {
  const body = JSON.stringify({ statusCode: status, error: reason, message });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * Serve JSON-RPC over WebSocket on `app`'s HTTP server (upgrades of any
 * other path get 404). Connections are closed when the app closes.
 */
export function registerWebSocket(app: FastifyInstance, deps: WebSocketDeps): WebSocketEndpoint {
  const o = deps.options;
  const methods: MethodTable = { ...deps.methods, ...subscriptionMethods() };
  compileMethods(methods);
  const log = app.log.child({ module: "ws" }) as unknown as WsLogger;
  const connections = new Set<WsConnection>();
  const budget = sendBudgetOf(app, o.maxSendBytes);
  let closing = false;

  const serverOptions = {
    noServer: true,
    maxPayload: o.wsMaxFrameBytes,
    // Compression costs CPU per message and per subscriber; notifications are small.
    perMessageDeflate: false,
    clientTracking: false,
    // Accepted since ws 8.19; not yet in its type declarations.
    closeTimeout: o.wsCloseGraceMs,
  };
  const wss = new WebSocketServer(serverOptions);

  app.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A socket error before or during the handshake must not reach the process as an unhandled error.
    socket.on("error", () => socket.destroy());
    const path = (req.url ?? "").split("?")[0];
    if (path !== WS_PATH) return refuseUpgrade(socket, 404, "Not Found", `no WebSocket endpoint at ${String(path).slice(0, 200)}; use ${WS_PATH}`);
    if (closing) return refuseUpgrade(socket, 503, "Service Unavailable", "the node is shutting down");
    if (connections.size >= o.wsMaxConnections) {
      return refuseUpgrade(socket, 503, "Service Unavailable", `the node serves at most ${o.wsMaxConnections} WebSocket connections`);
    }
    // Browsers send Origin; the node's own pages (the explorer) and the same origins as for CORS may connect. Other clients send none.
    const origin = req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, req.headers.host) && !originAllowed(o.cors, origin)) {
      return refuseUpgrade(socket, 403, "Forbidden", "this origin may not use the node (see rpc.cors)");
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new WsConnection(ws, o, deps.hub, methods, log, budget);
      connections.add(conn);
      ws.on("message", (data, isBinary) => conn.onMessage(data, isBinary));
      ws.on("pong", () => (conn.alive = true));
      // The library closes the connection after an error (1009 for a large frame, 1002 for a protocol error).
      // Plain fields: the node's log would print an `err` that is not an Error as "[object Object]".
      ws.on("error", (err) => log.info({ error: err.message, code: (err as { code?: unknown }).code }, "WebSocket error"));
      ws.on("close", (code) => {
        connections.delete(conn);
        conn.gone();
        log.info({ code, connections: connections.size }, "WebSocket closed");
      });
      log.info({ remoteAddress: req.socket.remoteAddress, connections: connections.size }, "WebSocket opened");
    });
  });

  const pinger =
    o.wsPingIntervalMs > 0
      ? setInterval(() => {
          for (const c of connections) {
            // No pong since the last ping: the peer is gone without a close.
            if (!c.alive) c.socket.terminate();
            else {
              c.alive = false;
              c.socket.ping();
            }
          }
        }, o.wsPingIntervalMs).unref()
      : undefined;

  const endpoint: WebSocketEndpoint = {
    get connections() {
      return connections.size;
    },
    get subscriptions() {
      return deps.hub.size;
    },
    async close() {
      closing = true;
      if (pinger) clearInterval(pinger);
      const all = [...connections];
      const closed = all.map((c) => new Promise<void>((r) => (c.socket.readyState === WebSocket.CLOSED ? r() : c.socket.once("close", () => r()))));
      for (const c of all) c.end(WsCloseCode.GOING_AWAY, "node shutting down");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(closed), new Promise<void>((r) => (timer = setTimeout(r, o.wsCloseGraceMs)))]);
      clearTimeout(timer);
      for (const c of connections) c.socket.terminate();
      wss.close();
    },
  };
  // Upgraded sockets would keep the HTTP server from closing: end them first.
  app.addHook("preClose", async () => {
    await endpoint.close();
  });
  return endpoint;
}

/** A page this node served itself: the Origin names the host the browser connected to (HTTP POST from it needs no CORS either). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
