/**
 * A Merkle node missing from, or wrong in, a real LevelDB chain store: in a
 * tree the store keeps (the head and the last stateHistory heights) it is
 * damage, latched as a storage fault (LEVEL_CORRUPTION, the damaged-data
 * remedy); in a tree pruned on purpose it is not, and the height is refused
 * with BLOCK_STATE_PRUNED as before.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bucket, smtNodeAtKey, staleSmtNodesKey } from "../../../src/chain/buckets.js";
import { BlockErrorCode } from "../../../src/chain/errors.js";
import { type CheckedTx } from "../../../src/chain/execute.js";
import { SmtNodeError, SmtNodeErrorCode } from "../../../src/chain/smt.js";
import { didStateKey } from "../../../src/chain/state.js";
import { ChainStore } from "../../../src/chain/store.js";
import type { StorageFaultError } from "../../../src/chain/store-faults.js";
import type { DidDocument } from "../../../src/did/document.js";
import { addService } from "../../../src/did/document-edit.js";
import { createTx, fixedKey, hex, testDid, updateTx, writeParams } from "../../helpers/fixtures.js";
import { pathRecords } from "../../helpers/smt-records.js";
import { commitTxsAsNextBlock } from "../../helpers/store-blocks.js";
import { rawKv } from "../../helpers/store-raw.js";

const A = testDid(fixedKey(21));
const OTHERS = Array.from({ length: 12 }, (_, i) => testDid(fixedKey(60 + i)));
const GENESIS_HASH = new Uint8Array(32).fill(0x47);
const GENESIS_TIME = 1_700_000_000_000;

async function commitNext(store: ChainStore, txs: CheckedTx[]): Promise<void> {
  await commitTxsAsNextBlock(store, txs, { sigs: [] });
}

/** The key of the record of `hash` at `at` (height + 1): this store began keyed by height. */
const nodeKey = (n: { hash: Uint8Array; at: number }) => smtNodeAtKey(n.at - 1, n.hash);

/** The records on the walk from the root of `height` down the path of `key`, root first; the last holds the leaf. */
const pathNodes = async (store: ChainStore, height: number, key: Uint8Array) =>
  pathRecords((hash, at) => rawKv(store).get(nodeKey({ hash, at })), (await store.getBlock(height))!.header.stateRoot, key, store.treeRootAt(height));

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: Error & { code?: string }) => e,
  );
}

/** A DID update of A for version `v` (A's nonce and version both v). */
function updateOfA(doc: DidDocument, v: number): { tx: CheckedTx; doc: DidDocument } {
  const next = addService(doc, { id: `${A.did}#s${v}`, type: "LinkedDomains", serviceEndpoint: `https://v${v}.example` });
  return { tx: updateTx(writeParams(A, v, v), next), doc: next };
}

describe("chain/store: a Merkle node missing or wrong is a latched storage fault", function () {
  this.timeout(30_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-smt-faults-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A store at `name` with A and twelve others at height 1; returns the nodes on A's path in the head tree. */
  async function storeWithA(name: string): Promise<{ path: string; nodes: Array<{ hash: Uint8Array; at: number; bytes: Uint8Array }> }> {
    const path = join(dir, name);
    const store = await ChainStore.open(path);
    try {
      await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
      await commitNext(store, [createTx(A), ...OTHERS.map((d) => createTx(d))]);
      const nodes = await pathNodes(store, store.head().height, didStateKey(A.did));
      expect(nodes.length, "A's path: the root and at least one node under it").to.be.at.least(2);
      return { path, nodes };
    } finally {
      await store.close();
    }
  }

  /** Reopened with a cold Merkle cache, so every walk reads its nodes from LevelDB. */
  const reopen = (path: string) => ChainStore.open(path, { smtCacheSize: 0 });

  function expectLatched(store: ChainStore, path: string, err: Error & { code?: string }, seen: StorageFaultError[], node: Uint8Array, why: RegExp): void {
    expect(err.code).to.equal("LEVEL_CORRUPTION");
    expect(err.message).to.match(why);
    expect(err.message).to.contain(hex(node));
    expect((err.cause as SmtNodeError | undefined)?.data?.node).to.equal(hex(node));
    const f = store.faults.fault;
    expect(f, "latched").to.not.equal(undefined);
    expect(f!.code).to.equal("STORAGE_FAULT");
    expect(f!.causeCode).to.equal("LEVEL_CORRUPTION");
    expect(f!.path).to.equal(path);
    expect(f!.message).to.equal(`chain store ${path}: LEVEL_CORRUPTION: ${err.message}`);
    expect(f!.remedy).to.match(/the data is damaged: restore it from a backup, or remove data\/chain/);
    expect(seen).to.deep.equal([f]);
  }

  for (const [kind, damage, why] of [
    ["deleted", (store: ChainStore, n: { hash: Uint8Array; at: number }) => rawKv(store).del(nodeKey(n)), /state tree of height 1: missing SMT node [0-9a-f]{64} \(of height 1\)/],
    [
      "overwritten with bytes of another hash",
      (store: ChainStore, n: { hash: Uint8Array; at: number; bytes: Uint8Array }) => {
        const other = new Uint8Array(n.bytes);
        other[40] = other[40]! ^ 0xff;
        return rawKv(store).put(nodeKey(n), other);
      },
      /state tree of height 1: corrupt SMT node [0-9a-f]{64}: content does not match its hash/,
    ],
    ["cut short", (store: ChainStore, n: { hash: Uint8Array; at: number; bytes: Uint8Array }) => rawKv(store).put(nodeKey(n), n.bytes.subarray(0, 40)), /corrupt SMT node [0-9a-f]{64}: (expected \d+ bytes, got 40|cut short)/],
  ] as const) {
    it(`a node of the head tree ${kind}: a proof read latches LEVEL_CORRUPTION, and so does the next block's root`, async () => {
      const { path, nodes } = await storeWithA(`proof-${kind.split(" ")[0]}`);
      const victim = nodes[1]!;
      let store = await reopen(path);
      await damage(store, victim);
      let seen: StorageFaultError[] = [];
      store.faults.onFault((f) => seen.push(f));
      try {
        expect(store.faults.fault).to.equal(undefined);
        // A walk that does not pass the damaged node reads fine and latches nothing.
        const elsewhere = OTHERS.find((d) => ((didStateKey(d.did)[0]! ^ didStateKey(A.did)[0]!) & 0x80) !== 0);
        expect(elsewhere, "a DID on the other side of the root").to.not.equal(undefined);
        await store.proveDid(elsewhere!.did);
        expect(store.faults.fault).to.equal(undefined);
        expectLatched(store, path, await rejection(store.proveDid(A.did)), seen, victim.hash, why);
        // The latch keeps the first fault; a second read fails the same way without a second report.
        await rejection(store.proveDid(A.did));
        expect(seen.length).to.equal(1);
      } finally {
        await store.close();
      }

      // A block writing A must walk A's path from the head's root: the block is not committed and the store is latched.
      store = await reopen(path);
      seen = [];
      store.faults.onFault((f) => seen.push(f));
      try {
        const before = store.head();
        const err = await rejection(commitNext(store, [updateOfA(A.doc, 1).tx]));
        expectLatched(store, path, err, seen, victim.hash, why);
        expect(store.head()).to.deep.equal(before);
      } finally {
        await store.close();
      }
    });
  }

  it("a node missing from a kept tree below the head (proveStateAt) latches too", async () => {
    const path = join(dir, "kept-older");
    let store = await ChainStore.open(path, { stateHistory: 4 });
    let doc = A.doc;
    try {
      await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
      await commitNext(store, [createTx(A), ...OTHERS.map((d) => createTx(d))]);
      for (let v = 1; v <= 2; v++) {
        const u = updateOfA(doc, v);
        doc = u.doc;
        await commitNext(store, [u.tx]);
      }
    } finally {
      await store.close();
    }
    store = await ChainStore.open(path, { stateHistory: 4, smtCacheSize: 0 });
    const seen: StorageFaultError[] = [];
    store.faults.onFault((f) => seen.push(f));
    try {
      expect(store.stateKeptFrom()).to.equal(1);
      // The record holding A's leaf at height 1, replaced at height 2: only the tree of height 1 holds it, and that tree is kept.
      const nodes = await pathNodes(store, 1, didStateKey(A.did));
      const leaf = nodes[nodes.length - 1]!;
      expect(leaf.bytes[0], "an internal node's record with A's leaf inline").to.equal(0x02);
      await rawKv(store).del(nodeKey(leaf));
      // The head's tree does not hold it.
      await store.proveDid(A.did);
      expect(store.faults.fault).to.equal(undefined);
      const err = await rejection(store.proveStateAt(1, didStateKey(A.did)));
      expectLatched(store, path, err, seen, leaf.hash, /state tree of height 1: missing SMT node/);
    } finally {
      await store.close();
    }
  });

  it("a pruned height is refused with BLOCK_STATE_PRUNED and latches nothing, also when a commit prunes it during the walk", async () => {
    const path = join(dir, "pruned");
    const store = await ChainStore.open(path, { stateHistory: 2, smtCacheSize: 0 });
    const seen: StorageFaultError[] = [];
    store.faults.onFault((f) => seen.push(f));
    try {
      await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
      await commitNext(store, [createTx(A), ...OTHERS.map((d) => createTx(d))]);
      let doc = A.doc;
      for (let v = 1; v <= 2; v++) {
        const u = updateOfA(doc, v);
        doc = u.doc;
        await commitNext(store, [u.tx]);
      }
      expect(store.head().height).to.equal(3);
      expect(store.stateKeptFrom()).to.equal(2);

      // Asked below the kept trees: refused before any node is read.
      const old = await rejection(store.proveStateAt(1, didStateKey(A.did)));
      expect(old.code).to.equal(BlockErrorCode.STATE_PRUNED);
      expect(old.message).to.match(/the state tree of height 1 is pruned: this node keeps heights 2 to 3/);

      // Asked at the oldest kept height, whose nodes the next commit deletes while the walk waits for its first read.
      const kv = store.kv as { getMany: (keys: readonly Uint8Array[]) => Promise<Array<Uint8Array | undefined>> };
      const getMany = kv.getMany.bind(kv);
      let entered!: () => void;
      const walkWaiting = new Promise<void>((r) => (entered = r));
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let gated = true;
      kv.getMany = async (keys) => {
        if (gated && keys.some((k) => k[0] === Bucket.SmtNodeAt)) {
          gated = false;
          entered();
          await released;
        }
        return getMany(keys);
      };
      const racing = rejection(store.proveStateAt(2, didStateKey(A.did)));
      await walkWaiting;
      await commitNext(store, [updateOfA(doc, 3).tx]);
      expect(store.stateKeptFrom()).to.equal(3);
      expect(await rawKv(store).get(smtNodeAtKey(2, (await store.getBlock(2))!.header.stateRoot)), "root of height 2 pruned").to.equal(undefined);
      release();
      const raced = await racing;
      expect(raced.code).to.equal(BlockErrorCode.STATE_PRUNED);
      expect(raced.message).to.match(/the state tree of height 2 is pruned: this node keeps heights 3 to 4/);

      // The walk of a pruned root itself is the tree's typed error, which is not a storage fault.
      const direct = await rejection(store.smt.prove((await store.getBlock(1))!.header.stateRoot, didStateKey(A.did), store.treeRootAt(1)));
      expect(direct).to.be.instanceOf(SmtNodeError);
      expect(direct.code).to.equal(SmtNodeErrorCode.MISSING);

      expect(store.faults.fault).to.equal(undefined);
      expect(seen).to.deep.equal([]);
      // The kept trees still prove.
      expect((await store.proveStateAt(3, didStateKey(A.did))).height).to.equal(3);
      expect((await store.proveDid(A.did)).height).to.equal(4);
    } finally {
      await store.close();
    }
  });

  it("a stale-node record the pruner cannot read latches LEVEL_CORRUPTION, and the commit that met it writes nothing", async () => {
    const path = join(dir, "stale-record");
    const store = await ChainStore.open(path, { stateHistory: 2 });
    const seen: StorageFaultError[] = [];
    store.faults.onFault((f) => seen.push(f));
    try {
      await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
      await commitNext(store, [createTx(A), ...OTHERS.map((d) => createTx(d))]);
      const u = updateOfA(A.doc, 1);
      await commitNext(store, [u.tx]);
      const record = await rawKv(store).get(staleSmtNodesKey(2));
      expect(record, "height 2 made A's old path stale: one record").to.not.equal(undefined);
      // Cut inside its first node: the commit of height 3 prunes height 2's stale nodes, and must not guess which.
      await rawKv(store).put(staleSmtNodesKey(2), record!.subarray(0, 20));
      const err = await rejection(commitNext(store, [updateOfA(u.doc, 2).tx]));
      expect(err.code).to.equal("LEVEL_CORRUPTION");
      expect(err.message).to.match(/the stale-node record of height 2 is malformed: node at byte 1 cut short/);
      expect(seen).to.have.length(1);
      expect(store.faults.fault?.remedy).to.match(/remove data\/chain/);
      expect(store.head().height).to.equal(2);
      expect(await store.getBlock(3)).to.equal(undefined);
      expect(await rawKv(store).get(staleSmtNodesKey(2))).to.have.length(20);
    } finally {
      await store.close();
    }
  });
});
