/**
 * Invariant 3: kill -9 the node while it commits a stream of txs; after a
 * restart every tx reported committed is still there at the same height,
 * every block's state root is unchanged, and the node goes on.
 */
import { expect } from "chai";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { RpcError, SidClient, createDidTx } from "../../src/client/index.js";
import { type NodeProcess, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";

describe("integration: crash safety (kill -9 while committing)", function () {
  this.timeout(120_000);
  let node: NodeProcess | undefined;
  let home: string;

  before(() => (home = tempHome("sid-crash-")));
  after(async () => {
    await node?.stop();
    removeHome(home);
  });

  it("keeps every committed tx and state root, then goes on", async () => {
    node = await startNodeProcess(home, { heartbeatMs: 60_000 });
    const port = Number(new URL(node.rpcUrl).port);
    const client = new SidClient(node.rpcUrl);
    const chainId = await client.chainId();
    const committed: Array<{ hash: string; height: number; did: string }> = [];
    let stop = false;
    // 8 writers submit creates and wait for each commit, until the kill.
    const writer = async () => {
      while (!stop) {
        const tx = createDidTx(chainId, randomKeyPair());
        try {
          const r = await client.submit(tx, true);
          if (r.status === "committed") committed.push({ hash: r.hash, height: r.height!, did: tx.tx.signer });
        } catch {
          return; // the node is gone
        }
      }
    };
    const writers = Array.from({ length: 8 }, writer);
    // An observer records each block's state root as the node reports it before the crash.
    const rootsSeen = new Map<number, string>();
    const observer = (async () => {
      while (!stop) {
        try {
          const b = await client.rpc.call<{ header: { height: number; stateRoot: string } }>("block_latest");
          rootsSeen.set(b.header.height, b.header.stateRoot);
        } catch (e) {
          if (!(e instanceof RpcError)) return; // the node is gone; before block 1 there is no latest block
        }
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    // Kill once at least 150 txs are committed (bounded: at most 30 s).
    const deadline = Date.now() + 30_000;
    while ((committed.length < 150 || rootsSeen.size < 3) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await node.kill9();
    stop = true;
    await Promise.all([...writers, observer]);
    expect(committed.length).to.be.at.least(150);
    const maxHeight = Math.max(...committed.map((c) => c.height));

    node = await startNodeProcess(home, { heartbeatMs: 60_000, port });
    const status = await client.status();
    expect(status.height).to.be.at.least(maxHeight);
    for (const c of committed) {
      const got = await client.rpc.call<{ status: string; height: number }>("tx_get", { hash: c.hash });
      expect(got.status, c.hash).to.equal("committed");
      expect(got.height).to.equal(c.height);
    }
    expect(rootsSeen.size).to.be.greaterThan(0);
    for (const [h, root] of rootsSeen) {
      const b = await client.rpc.call<{ header: { stateRoot: string } }>("block_get", { height: h });
      expect(b.header.stateRoot, `state root at height ${h}`).to.equal(root);
    }
    const roots: string[] = [];
    for (let h = 1; h <= status.height; h++) {
      const b = await client.rpc.call<{ header: { stateRoot: string; prevHash: string; height: number }; hash: string }>("block_get", { height: h });
      roots.push(b.header.stateRoot);
      if (h > 1) {
        const prev = await client.rpc.call<{ hash: string }>("block_get", { height: h - 1 });
        expect(b.header.prevHash).to.equal(prev.hash);
      }
    }
    expect(roots[roots.length - 1]).to.equal(status.stateRoot);
    const sample = committed.filter((_, i) => i % 25 === 0);
    for (const c of sample) expect((await client.resolve(c.did)).didDocument?.id).to.equal(c.did);

    // and it goes on
    const more = await client.createDid(randomKeyPair());
    expect(more.height).to.be.greaterThan(status.height);
  });
});
