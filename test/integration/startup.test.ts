/**
 * Node start-up refuses data that is not its chain's, and a home another
 * node is using; started in-process on a loopback port.
 */
import { expect } from "chai";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { commitKey } from "../../src/chain/buckets.js";
import { encodeCommit } from "../../src/chain/block.js";
import { ChainStore } from "../../src/chain/store.js";
import { SidClient, createDidTx } from "../../src/client/index.js";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { homePaths } from "../../src/node/home.js";
import { SidNode } from "../../src/node/node.js";
import { createLogger } from "../../src/log/logger.js";
import { removeHome, tempHome } from "../helpers/node-process.js";

const quiet = createLogger(() => {});
const start = (home: string) => SidNode.start({ home, dev: true, rpc: { port: 0 }, heartbeatMs: 60_000, mempool: {} }, quiet);

async function startError(home: string): Promise<Error & { code?: string }> {
  try {
    const n = await start(home);
    await n.stop();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected the node to refuse to start");
}

describe("node start-up checks", function () {
  this.timeout(30_000);
  let home: string;
  beforeEach(async () => {
    home = tempHome("sid-node-");
    const n = await start(home);
    await new SidClient(n.rpcUrl).createDid(randomKeyPair());
    await n.stop();
  });
  afterEach(() => removeHome(home));

  it("restarts on its own data", async () => {
    const n = await start(home);
    expect(n.store.head().height).to.be.at.least(1);
    await n.stop();
  });

  it("refuses a head whose commit signature is not the validators'", async () => {
    const store = await ChainStore.open(homePaths(home).chainDb);
    const h = store.head().height;
    const commit = (await store.getCommit(h))!;
    const sig = new Uint8Array(commit.sigs[0]!.sig);
    sig[5] ^= 1;
    await store.db.put(commitKey(h), encodeCommit({ ...commit, sigs: [{ validator: commit.sigs[0]!.validator, sig }] }));
    await store.close();
    const e = await startError(home);
    expect(e.code).to.equal("NODE_CONFIG");
    expect(e.message).to.match(/no valid commit/);
  });

  it("refuses data made under another genesis", async () => {
    const file = homePaths(home).genesisFile;
    const g = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, JSON.stringify({ ...g, chainId: "another-chain" }));
    const e = await startError(home);
    expect(e.code).to.equal("NODE_CONFIG");
    expect(e.message).to.match(/another genesis/);
  });

  it("refuses a home another node is using", async () => {
    const n = await start(home);
    try {
      const e = await startError(home);
      expect(e.code).to.equal("NODE_CONFIG");
      expect(e.message).to.match(/locked/);
    } finally {
      await n.stop();
    }
  });

  it("a node without a validator key keeps txs pending; the SDK follows them and times out clearly", async () => {
    rmSync(homePaths(home).validatorKeyFile);
    const n = await start(home);
    try {
      const c = new SidClient(n.rpcUrl);
      const tx = createDidTx(await c.chainId(), randomKeyPair());
      const t0 = Date.now();
      const e = await c.submitAndCommit(tx, 1_500, 200).then(
        () => undefined,
        (err: Error & { code?: string }) => err,
      );
      expect(e?.code).to.equal("timeout");
      expect(Date.now() - t0).to.be.at.least(1_000); // it followed the tx after the node's 200 ms answer
      const got = await c.rpc.call<{ status: string }>("tx_get", { hash: tx.hash });
      expect(got.status).to.equal("pending");
    } finally {
      await n.stop();
    }
  });
});
