/** A JSON-RPC 2.0 client for a sid node over HTTP. */

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = "RpcError";
  }
  /** The string reason of an application error, such as "TX_BAD_SIGNATURE". */
  get reason(): string | undefined {
    const d = this.data as { reason?: unknown } | undefined;
    return typeof d?.reason === "string" ? d.reason : undefined;
  }
}

export class RpcTransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RpcTransportError";
  }
}

/** Fetch failures that mean the connection was closed under the request, not that the node is down. */
const CLOSED_ON_SEND = new Set(["UND_ERR_SOCKET", "ECONNRESET", "EPIPE"]);

export class RpcClient {
  private nextId = 1;
  constructor(
    readonly url: string,
    private readonly timeoutMs = 60_000,
  ) {}

  /**
   * Call `method`. A request that meets a connection the node closed as it
   * was sent (a pooled keep-alive socket that timed out on the node's side:
   * UND_ERR_SOCKET, ECONNRESET, EPIPE) is sent once more on a new one. Every
   * sid method is safe to send twice: reads are reads, and a tx the node
   * already has is refused as TX_DUPLICATE or TX_ALREADY_COMMITTED, which
   * SidClient.submit takes for "sent".
   */
  async call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    const body = JSON.stringify({ jsonrpc: "2.0", id, method, params });
    let res: Response | undefined;
    for (let attempt = 0; res === undefined; attempt++) {
      try {
        res = await fetch(this.url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(this.timeoutMs) });
      } catch (e) {
        const cause = (e as { cause?: { code?: string } }).cause?.code;
        if (attempt === 0 && cause !== undefined && CLOSED_ON_SEND.has(cause)) continue;
        throw new RpcTransportError(`cannot reach node at ${this.url}${cause ? ` (${cause})` : ""}: ${(e as Error).message}`);
      }
    }
    return this.answer<T>(res);
  }

  private async answer<T>(res: Response): Promise<T> {
    let body: { result?: T; error?: { code: number; message: string; data?: unknown } };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      throw new RpcTransportError(`node at ${this.url} answered HTTP ${res.status} with a body that is not JSON`);
    }
    if (body.error) throw new RpcError(body.error.code, body.error.message, body.error.data);
    if (!("result" in body)) throw new RpcTransportError(`node at ${this.url} answered without result or error`);
    return body.result as T;
  }
}
