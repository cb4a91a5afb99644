/**
 * A small JSON-RPC-over-WebSocket client for tests: keeps every message it
 * receives, in order, and waits (with a bounded guard) for the ones asked for.
 */
import WebSocket from "ws";

export type Json = any;

export interface Closed {
  code: number;
  reason: string;
}

export class WsTestClient {
  readonly received: Json[] = [];
  /** Raw text of frames that were not JSON (should never happen). */
  readonly unparsed: string[] = [];
  readonly closed: Promise<Closed>;
  /** When each ping from the server arrived (ws answers it with a pong by itself). */
  readonly pings: number[] = [];
  private nextId = 1;
  private wake: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    this.closed = new Promise((resolve) => socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    socket.on("message", (data) => {
      const text = String(data);
      try {
        this.received.push(JSON.parse(text));
      } catch {
        this.unparsed.push(text);
      }
      const w = this.wake;
      this.wake = [];
      for (const f of w) f();
    });
    socket.on("close", () => {
      const w = this.wake;
      this.wake = [];
      for (const f of w) f();
    });
    socket.on("ping", () => this.pings.push(Date.now()));
    // Errors end in a close event, which the tests look at.
    socket.on("error", () => {});
  }

  static open(url: string, opts: WebSocket.ClientOptions = {}): Promise<WsTestClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, opts);
      const onError = (e: Error) => reject(e);
      socket.once("error", onError);
      socket.once("unexpected-response", (_req, res) => reject(Object.assign(new Error(`unexpected response ${res.statusCode}`), { statusCode: res.statusCode })));
      socket.once("open", () => {
        socket.off("error", onError);
        resolve(new WsTestClient(socket));
      });
    });
  }

  send(frame: string | Buffer | object): void {
    this.socket.send(typeof frame === "string" || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  /** Wait until `cond` holds (checked at each received message), or fail after `timeoutMs`. */
  async until(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (cond()) return;
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms; received ${JSON.stringify(this.received).slice(0, 500)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** The first received message matching `pred` (past or future). */
  async waitFor(pred: (m: Json) => boolean, timeoutMs = 10_000, what = "message"): Promise<Json> {
    let found: Json;
    await this.until(() => (found = this.received.find(pred)) !== undefined, timeoutMs, what);
    return found;
  }

  /** Send one request and wait for the answer with its id. */
  async call(method: string, params?: unknown): Promise<Json> {
    const id = this.nextId++;
    this.send(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params });
    return this.waitFor((m) => m.id === id && m.method === undefined, 10_000, `answer to ${method}`);
  }

  /** `result` of a call, or an error naming the JSON-RPC error. */
  async result(method: string, params?: unknown): Promise<Json> {
    const r = await this.call(method, params);
    if (r.error) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
    return r.result;
  }

  notifications(subscription: string): Json[] {
    return this.received.filter((m) => m.method === "subscription" && m.params?.subscription === subscription).map((m) => m.params.result);
  }

  /** Wait until `n` notifications of `subscription` have arrived; all of them so far. */
  async notificationsAtLeast(subscription: string, n: number, timeoutMs = 10_000): Promise<Json[]> {
    await this.until(() => this.notifications(subscription).length >= n, timeoutMs, `${n} notifications of ${subscription}`);
    return this.notifications(subscription);
  }

  close(): Promise<Closed> {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
    return this.closed;
  }
}
