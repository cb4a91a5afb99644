/**
 * The RPC port while a node restores its state by state sync (before the
 * real RPC server exists): GET /health answers 503 with status "state-sync"
 * and the progress (rpc/health.ts, stateSyncHealthReport); every other
 * request answers 503 too, a POST with a JSON-RPC error (-32005) so a client
 * reads a clear reason rather than a refused connection. It is closed, with
 * its connections, before the node's RPC server binds the same port.
 */
import { type Server, createServer } from "node:http";
import { type StateSyncHealth, stateSyncHealthReport } from "./health.js";

/** JSON-RPC error of every call made while the node state-syncs (docs/errors.md). */
export const STATE_SYNC_RPC_ERROR = -32005;

export class StateSyncHealthServer {
  private constructor(private readonly server: Server) {}

  /** Listens on host:port and answers from `status()` at each request. */
  static listen(host: string, port: number, status: () => StateSyncHealth): Promise<StateSyncHealthServer> {
    const server = createServer((req, res) => {
      const body = stateSyncHealthReport(status());
      // The request body is not read: drain it so the connection stays usable.
      req.resume();
      res.setHeader("content-type", "application/json; charset=utf-8");
      res.setHeader("retry-after", "5");
      res.statusCode = 503;
      if (req.method === "GET" && (req.url === "/health" || req.url?.startsWith("/health?"))) {
        res.end(JSON.stringify(body));
      } else if (req.method === "POST") {
        res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: STATE_SYNC_RPC_ERROR, message: `The node is restoring its state (${body.reason})`, data: { status: body.status, stateSync: body.stateSync } } }));
      } else {
        res.end(JSON.stringify({ error: body.reason, status: body.status }));
      }
    });
    server.keepAliveTimeout = 1_000;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve(new StateSyncHealthServer(server));
      });
    });
  }

  /** The bound port (useful with port 0). */
  get port(): number {
    const a = this.server.address();
    return typeof a === "object" && a ? a.port : 0;
  }

  /** Stops listening and ends every open connection, so the port is free for the node's RPC server. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
