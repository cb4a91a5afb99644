import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CheckedTx } from "../../../src/chain/execute.js";
import { SparseMerkleTree } from "../../../src/chain/smt.js";
import { type DidRecord, type DidVersion, didRecordHash, didStateKey, encodeDidRecord } from "../../../src/chain/state.js";
import { ChainStore } from "../../../src/chain/store.js";
import { addVerificationMethod } from "../../../src/did/document-edit.js";
import { createTx, fixedKey, hex, testDid, updateTx, writeParams } from "../../helpers/fixtures.js";
import { commitTxsAsNextBlock } from "../../helpers/store-blocks.js";

const A = testDid(fixedKey(1));
const B = testDid(fixedKey(2));
const C = testDid(fixedKey(3));
const GENESIS_HASH = new Uint8Array(32).fill(0x47);
const GENESIS_TIME = 1_700_000_000_000;

/** Execute txs on top of the store and commit them as the next block, as the node does. */
function commitNext(store: ChainStore, txs: CheckedTx[], extraVersions: DidVersion[] = []) {
  return commitTxsAsNextBlock(store, txs, { extraVersions });
}

/** A history entry for an arbitrary DID string (the store does not interpret DIDs). */
function version(did: string, versionId: number): DidVersion {
  return { did, versionId, operation: versionId === 1 ? "create" : "update", height: 2, time: 0, txHash: new Uint8Array(32).fill(versionId & 0xff), document: A.doc };
}

describe("chain/store (LevelDB)", () => {
  let dir: string;
  let store: ChainStore;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sid-store-test-"));
  });
  after(async () => {
    await store?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it("commits blocks and serves everything again after a reopen", async () => {
    store = await ChainStore.open(join(dir, "db"));
    expect(store.isInitialized()).to.equal(false);
    expect(() => store.head()).to.throw(/genesis/);

    await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
    expect(store.head()).to.deep.equal({ height: 0, hash: GENESIS_HASH, time: GENESIS_TIME, stateRoot: new Uint8Array(32) });
    expect(await store.getDid(A.did)).to.equal(undefined);

    // Block 1: create A and B. (Loading them first caches their absence.)
    const createA = createTx(A);
    const createB = createTx(B);
    const b1 = await commitNext(store, [createA, createB]);
    expect(store.head()).to.deep.equal({ height: 1, hash: b1.blockHash, time: GENESIS_TIME + 1000, stateRoot: b1.block.header.stateRoot });

    // Block 2: update A; plus history entries for DIDs whose strings neighbour A's.
    const prefixOfA = A.did.slice(0, -1);
    const extendsA = A.did + "1";
    const neighbours = [version(extendsA, 2), version(prefixOfA, 256), version(prefixOfA, 10), version(extendsA, 1), version(prefixOfA, 2), version(prefixOfA, 1)];
    const doc2 = addVerificationMethod(A.doc, C.key.publicKey, "key-2", ["authentication"]);
    const updateA = updateTx(writeParams(A, 1, 1), doc2);
    const b2 = await commitNext(store, [updateA], neighbours);

    const recordA = (await store.getDid(A.did))!;
    const recordB = (await store.getDid(B.did))!;
    expect(recordA).to.deep.include({ versionId: 2, nonce: 2, createdHeight: 1, updatedHeight: 2, document: doc2 });
    expect(recordB).to.deep.include({ versionId: 1, nonce: 1 });

    // The committed state root is the root of the tree of all records, built from scratch.
    const fresh = await new SparseMerkleTree({ getNode: async () => undefined }).update(new Uint8Array(32), [
      { key: didStateKey(A.did), value: didRecordHash(encodeDidRecord(recordA)) },
      { key: didStateKey(B.did), value: didRecordHash(encodeDidRecord(recordB)) },
    ]);
    expect(hex(store.head().stateRoot)).to.equal(hex(fresh.root));

    async function checkAll(s: ChainStore, label: string): Promise<void> {
      expect(s.isInitialized(), label).to.equal(true);
      expect(s.head(), label).to.deep.equal({ height: 2, hash: b2.blockHash, time: GENESIS_TIME + 2000, stateRoot: fresh.root });
      expect(hex((await s.genesisHash())!), label).to.equal(hex(GENESIS_HASH));

      expect(await s.getDid(A.did), label).to.deep.equal(recordA);
      expect(await s.getDid(C.did), label).to.equal(undefined);
      const loaded = await s.loadState([A.did, C.did, B.did, A.did]);
      expect([...loaded.keys()], label).to.deep.equal([A.did, C.did, B.did]);
      expect(loaded.get(A.did), label).to.deep.equal(recordA);
      expect(loaded.get(B.did), label).to.deep.equal(recordB);
      expect(loaded.has(C.did) && loaded.get(C.did) === undefined, `${label}: unknown DID is undefined`).to.equal(true);

      const versionsA = await s.getDidVersions(A.did);
      expect(versionsA.map((v) => [v.did, v.versionId, v.operation]), label).to.deep.equal([
        [A.did, 1, "create"],
        [A.did, 2, "update"],
      ]);
      expect(hex(versionsA[0]!.txHash)).to.equal(hex(createA.hash));
      expect(versionsA[1]!.document).to.deep.equal(doc2);
      expect((await s.getDidVersions(prefixOfA)).map((v) => [v.did, v.versionId]), label).to.deep.equal([
        [prefixOfA, 1],
        [prefixOfA, 2],
        [prefixOfA, 10],
        [prefixOfA, 256],
      ]);
      expect((await s.getDidVersions(extendsA)).map((v) => [v.did, v.versionId]), label).to.deep.equal([
        [extendsA, 1],
        [extendsA, 2],
      ]);
      expect(await s.getDidVersions(C.did), label).to.deep.equal([]);
      expect((await s.getDidVersion(A.did, 2))?.operation, label).to.equal("update");
      expect(await s.getDidVersion(A.did, 3), label).to.equal(undefined);

      expect(await s.getBlock(1), label).to.deep.equal(b1.block);
      expect(await s.getBlock(2), label).to.deep.equal(b2.block);
      expect(await s.getBlock(3), label).to.equal(undefined);
      expect(await s.getBlockHeightByHash(b1.blockHash), label).to.equal(1);
      expect(await s.getBlockHeightByHash(b2.blockHash), label).to.equal(2);
      expect(await s.getBlockHeightByHash(new Uint8Array(32)), label).to.equal(undefined);
      expect(await s.getCommit(1), label).to.deep.equal(b1.commit);
      expect(await s.getCommit(2), label).to.deep.equal(b2.commit);
      expect(await s.getTxLocation(createA.hash), label).to.deep.equal({ height: 1, index: 0 });
      expect(await s.getTxLocation(createB.hash), label).to.deep.equal({ height: 1, index: 1 });
      expect(await s.getTxLocation(updateA.hash), label).to.deep.equal({ height: 2, index: 0 });
      expect(await s.getTxLocation(new Uint8Array(32)), label).to.equal(undefined);

      // The tree nodes are stored: the record hash is provable under the head's root.
      const leaf = await s.smt.get(s.head().stateRoot, didStateKey(A.did), s.treeRootAt(s.head().height));
      expect(hex(leaf!), label).to.equal(hex(didRecordHash(encodeDidRecord(recordA))));
      expect(await s.smt.get(s.head().stateRoot, didStateKey(C.did), s.treeRootAt(s.head().height)), label).to.equal(null);
      // And the old root of block 1 stays readable.
      const oldLeaf = await s.smt.get(b1.block.header.stateRoot, didStateKey(A.did), s.treeRootAt(1));
      expect(hex(oldLeaf!), label).not.to.equal(hex(leaf!));
    }

    await checkAll(store, "before reopen");
    await store.close();
    store = await ChainStore.open(join(dir, "db"));
    await checkAll(store, "after reopen");

    // Nothing to write leaves the root as it is.
    const same = await store.computeStateRoot(new Map());
    expect(hex(same.root)).to.equal(hex(store.head().stateRoot));
  });

  it("updates its cache of absent DIDs when a block writes them", async () => {
    const s = await ChainStore.open(join(dir, "db2"));
    try {
      await s.initGenesis(GENESIS_HASH, GENESIS_TIME);
      expect((await s.loadState([C.did])).get(C.did)).to.equal(undefined);
      expect(await s.getDid(C.did)).to.equal(undefined);
      await commitNext(s, [createTx(C)]);
      expect((await s.getDid(C.did))?.versionId).to.equal(1);
      expect((await s.getDid(C.did))?.nonce).to.equal(1);
    } finally {
      await s.close();
    }
  });

  it("viewOf serves loaded records synchronously", () => {
    const r = { did: A.did } as DidRecord;
    const view = ChainStore.viewOf(new Map([[A.did, r], [B.did, undefined]]));
    expect(view.getDid(A.did)).to.equal(r);
    expect(view.getDid(B.did)).to.equal(undefined);
    expect(view.getDid(C.did)).to.equal(undefined);
  });
});
