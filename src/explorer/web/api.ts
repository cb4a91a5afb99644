/** The node's own JSON-RPC (POST /) and WebSocket (/ws), same origin: the page talks to the node that served it. */

export class RpcFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

let nextId = 1;

export async function rpc<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
  const r = await fetch("/", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params }) });
  const body = (await r.json()) as { result?: T; error?: { code: number; message: string; data?: unknown } };
  if (body.error) throw new RpcFailure(body.error.code, body.error.message, body.error.data);
  return body.result as T;
}

/** rpc, or undefined when the node does not offer the method (an older node). */
export async function rpcOptional<T>(method: string, params: Record<string, unknown> = {}): Promise<T | undefined> {
  try {
    return await rpc<T>(method, params);
  } catch (e) {
    if (e instanceof RpcFailure && e.code === -32601) return undefined;
    throw e;
  }
}

type Listener = (result: unknown) => void;

/**
 * One WebSocket for the page, re-opened with back-off when it drops; each
 * topic is subscribed once and its notifications fan out to the listeners.
 */
export class Live {
  private ws: WebSocket | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly subIds = new Map<string, string>();
  private readonly pending = new Map<number, string>();
  private retryMs = 500;
  onState: (state: "open" | "closed") => void = () => {};

  on(topic: string, fn: Listener): () => void {
    let set = this.listeners.get(topic);
    if (!set) {
      set = new Set();
      this.listeners.set(topic, set);
      this.subscribe(topic);
    }
    set.add(fn);
    this.connect();
    return () => set!.delete(fn);
  }

  private connect(): void {
    if (this.ws) return;
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = 500;
      this.onState("open");
      for (const topic of this.listeners.keys()) this.subscribe(topic);
    };
    ws.onmessage = (ev) => this.onMessage(String(ev.data));
    ws.onclose = () => {
      this.ws = undefined;
      this.subIds.clear();
      this.onState("closed");
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }

  private subscribe(topic: string): void {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const id = nextId++;
    this.pending.set(id, topic);
    this.ws.send(JSON.stringify({ jsonrpc: "2.0", id, method: "subscribe", params: [topic] }));
  }

  private onMessage(text: string): void {
    let msg: { id?: number; result?: unknown; method?: string; params?: { subscription: string; result: unknown } };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof msg.id === "number" && this.pending.has(msg.id)) {
      const topic = this.pending.get(msg.id)!;
      this.pending.delete(msg.id);
      if (typeof msg.result === "string") this.subIds.set(msg.result, topic);
      return;
    }
    if (msg.method === "subscription" && msg.params) {
      const topic = this.subIds.get(msg.params.subscription);
      if (topic) for (const fn of this.listeners.get(topic) ?? []) fn(msg.params.result);
    }
  }
}
