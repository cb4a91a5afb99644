/**
 * A node whose chain store lost a Merkle node of its head tree: the first
 * read that needs it (a proven did_resolve) latches a storage fault, the
 * node reports it once and GET /health answers 503 faulted; started
 * in-process on a loopback port; and `sid start` then exits 74 with one
 * line naming the damage and the remedy.
 */
import { expect } from "chai";
import { smtNodeAtKey } from "../../src/chain/buckets.js";
import { didStateKey } from "../../src/chain/state.js";
import { ChainStore } from "../../src/chain/store.js";
import type { StorageFaultError } from "../../src/chain/store-faults.js";
import { SidClient } from "../../src/client/index.js";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { homePaths } from "../../src/node/home.js";
import { SidNode } from "../../src/node/node.js";
import { createLogger } from "../../src/log/logger.js";
import { freePort, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";
import { pathRecords } from "../helpers/smt-records.js";
import { rawKv } from "../helpers/store-raw.js";

const quiet = createLogger(() => {});
const start = async (home: string) => SidNode.start({ home, dev: true, rpc: { port: await freePort() }, heartbeatMs: 60_000, mempool: {} }, quiet);

/** The record holding the leaf of `key` in the head's tree (its parent's, the leaf inline), walking the store's records; `at` is its height + 1. */
async function leafOf(store: ChainStore, key: Uint8Array): Promise<{ hash: Uint8Array; at: number }> {
  const head = store.head();
  return (await pathRecords((h, at) => rawKv(store).get(smtNodeAtKey(at - 1, h)), head.stateRoot, key, store.treeRootAt(head.height))).at(-1)!;
}

describe("integration: a Merkle node missing from the head tree stops the node", function () {
  this.timeout(30_000);
  let home: string;
  afterEach(() => removeHome(home));

  it("a proven did_resolve latches LEVEL_CORRUPTION once, and /health says faulted with the remedy", async () => {
    home = tempHome("sid-smt-damage-");
    let node = await start(home);
    const { did } = await new SidClient(node.rpcUrl).createDid(randomKeyPair());
    await node.stop();

    const store = await ChainStore.open(homePaths(home).chainDb);
    const leaf = await leafOf(store, didStateKey(did));
    await rawKv(store).del(smtNodeAtKey(leaf.at - 1, leaf.hash));
    await store.close();

    node = await start(home);
    const faults: StorageFaultError[] = [];
    node.onFault((f) => faults.push(f));
    try {
      expect((await fetch(`${node.rpcUrl}/health`)).status).to.equal(200);
      // Without a proof the record itself answers.
      const plain = (await (await rpc(node.rpcUrl, "did_resolve", { did })).json()) as { result?: { didDocument?: { id?: string } } };
      expect(plain.result?.didDocument?.id).to.equal(did);
      expect(faults).to.deep.equal([]);

      const proven = (await (await rpc(node.rpcUrl, "did_resolve", { did, proof: true })).json()) as { error?: { code: number } };
      expect(proven.error?.code).to.equal(-32603);
      expect(faults.length).to.equal(1);
      expect(faults[0]!.causeCode).to.equal("LEVEL_CORRUPTION");
      expect(faults[0]!.path).to.equal(homePaths(home).chainDb);
      expect(faults[0]!.message).to.match(new RegExp(`state tree of height \\d+: missing SMT node ${Buffer.from(leaf.hash).toString("hex")}`));
      expect(node.fault).to.equal(faults[0]);

      const health = await fetch(`${node.rpcUrl}/health`);
      expect(health.status).to.equal(503);
      const body = (await health.json()) as { status: string; reason: string };
      expect(body.status).to.equal("faulted");
      expect(body.reason).to.match(/missing SMT node .*the data is damaged: restore it from a backup, or remove data\/chain/);

      // A second read fails the same way; the fault is reported once.
      await rpc(node.rpcUrl, "did_resolve", { did, proof: true });
      expect(faults.length).to.equal(1);
    } finally {
      await node.stop();
    }
  });
});

describe("integration: sid start on a store missing a Merkle node of its head tree", function () {
  this.timeout(60_000);
  let home: string;
  afterEach(() => removeHome(home));

  it("exits 74 after the first proven read, with one error line naming the node and the remedy", async () => {
    home = tempHome("sid-smt-damage-cli-");
    const port = await freePort();
    let node = await startNodeProcess(home, { port, heartbeatMs: 60_000 });
    let did: string;
    try {
      did = (await new SidClient(node.rpcUrl).createDid(randomKeyPair())).did;
    } finally {
      expect(await node.stop()).to.equal(0);
    }
    const store = await ChainStore.open(homePaths(home).chainDb);
    const height = store.head().height;
    const leaf = await leafOf(store, didStateKey(did));
    await rawKv(store).del(smtNodeAtKey(leaf.at - 1, leaf.hash));
    await store.close();

    node = await startNodeProcess(home, { port, heartbeatMs: 60_000 });
    try {
      const answer = (await (await rpc(node.rpcUrl, "did_resolve", { did, proof: true })).json()) as { error?: { code: number } };
      expect(answer.error?.code).to.equal(-32603);
      // The process ends on its own: the fault stops it.
      const code = await new Promise<number | null>((r) => (node.proc.exitCode !== null ? r(node.proc.exitCode) : node.proc.once("exit", (c) => r(c))));
      expect(code).to.equal(74);
      const errors = node.output().split("\n").filter((l) => l.startsWith("error: "));
      expect(errors.length, node.output()).to.equal(1);
      expect(errors[0]).to.equal(
        `error: storage fault: chain store ${homePaths(home).chainDb}: LEVEL_CORRUPTION: state tree of height ${height}: missing SMT node ${Buffer.from(leaf.hash).toString("hex")} (of height ${leaf.at - 1}); the data is damaged: restore it from a backup, or remove data/chain and let the node sync again (keep data/priv_validator_state.json)`,
      );
    } finally {
      await node.kill9();
    }
  });
});

function rpc(url: string, method: string, params: unknown): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
}
