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

export class RpcClient {
  private nextId = 1;
  constructor(
    readonly url: string,
    private readonly timeoutMs = 60_000,
  ) {}

  async call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      throw new RpcTransportError(`cannot reach node at ${this.url}${cause ? ` (${cause})` : ""}: ${(e as Error).message}`);
    }
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
