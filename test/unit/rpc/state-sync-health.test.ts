import { expect } from "chai";
import { createServer } from "node:net";
import type { StateSyncHealth } from "../../../src/rpc/health.js";
import { STATE_SYNC_RPC_ERROR, StateSyncHealthServer } from "../../../src/rpc/state-sync-health.js";

describe("rpc: the RPC port while the node state-syncs", () => {
  it("GET /health answers 503 state-sync with the progress; a JSON-RPC call gets -32005; closing frees the port", async () => {
    const status: StateSyncHealth = { phase: "discovering", chunksDone: 0, chunksTotal: 0, bytes: 0 };
    const server = await StateSyncHealthServer.listen("127.0.0.1", 0, () => status);
    const url = `http://127.0.0.1:${server.port}`;
    try {
      let r = await fetch(`${url}/health`);
      expect(r.status).to.equal(503);
      expect(await r.json()).to.deep.include({ status: "state-sync", syncing: true, reason: "state sync: looking for peers' snapshots; the node serves once it is done" });

      Object.assign(status, { phase: "chunks", height: 120, chunksDone: 12, chunksTotal: 32, bytes: 3_400_000 });
      r = await fetch(`${url}/health`);
      expect(r.status).to.equal(503);
      const body = (await r.json()) as { reason: string; stateSync: StateSyncHealth };
      expect(body.reason).to.equal("state sync: chunks 12/32, 3.4 MB at height 120; the node serves once it is done");
      expect(body.stateSync).to.deep.equal({ phase: "chunks", height: 120, chunksDone: 12, chunksTotal: 32, bytes: 3_400_000 });

      const call = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "node_status", params: {} }) });
      expect(call.status).to.equal(503);
      const rpc = (await call.json()) as { error: { code: number; message: string } };
      expect(rpc.error.code).to.equal(STATE_SYNC_RPC_ERROR);
      expect(rpc.error.message).to.match(/restoring its state .*chunks 12\/32/);

      const other = await fetch(`${url}/1.0/identifiers/did:sid:x`);
      expect(other.status).to.equal(503);
    } finally {
      await server.close();
    }
    // The port is free again for the node's RPC server, even though fetch kept connections alive.
    await new Promise<void>((resolve, reject) => {
      const s = createServer();
      s.once("error", reject);
      s.listen(server.port, "127.0.0.1", () => s.close(() => resolve()));
    });
  });

  it("a busy port is an error at listen, not later", async () => {
    const a = await StateSyncHealthServer.listen("127.0.0.1", 0, () => ({ phase: "discovering", chunksDone: 0, chunksTotal: 0, bytes: 0 }));
    try {
      const err = await StateSyncHealthServer.listen("127.0.0.1", a.port, () => ({ phase: "discovering", chunksDone: 0, chunksTotal: 0, bytes: 0 })).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e.code,
      );
      expect(err).to.equal("EADDRINUSE");
    } finally {
      await a.close();
    }
  });
});
