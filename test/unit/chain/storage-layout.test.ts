/**
 * What the store keeps of each block: one copy of each version's document
 * (read back from its tx in the block), and only the Merkle nodes the last
 * `stateHistory` state trees hold (older ones pruned through the stale-node
 * index written with each block).
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeBlock } from "../../../src/chain/block.js";
import { Bucket, blockKey, blockTxKey, didKey, didVersionKey, metaKey, readU64be, smtNodeAtKey, smtNodeKey } from "../../../src/chain/buckets.js";
import { txFromStored } from "../../../src/chain/tx-store.js";
import { BlockErrorCode, ChainError } from "../../../src/chain/errors.js";
import { type CheckedTx } from "../../../src/chain/execute.js";
import { SparseMerkleTree, verifySmtProof } from "../../../src/chain/smt.js";
import { type DidRecord, type DidVersion, decodeDidRecord, didStateKey } from "../../../src/chain/state.js";
import { ChainStore } from "../../../src/chain/store.js";
import { sha256 } from "../../../src/crypto/hash.js";
import { addService } from "../../../src/did/document-edit.js";
import { createResolveDid } from "../../../src/rpc/resolve.js";
import { createTx, deactivateTx, fixedKey, hex, testDid, updateTx, writeParams } from "../../helpers/fixtures.js";
import { childRecords, pathRecords, reachableRecords, recordChildren, recordId, storedRecordId, withoutPlaces } from "../../helpers/smt-records.js";
import { commitTxsAsNextBlock } from "../../helpers/store-blocks.js";
import { rawKv } from "../../helpers/store-raw.js";
import { LevelKv } from "../../../src/chain/db/level-kv.js";

async function collectKeys(keys: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const k of keys) out.push(k);
  return out;
}
import { storedRecordBytes } from "../../../src/chain/repositories/state-records.js";
import { type CanonicalValue, encodeCanonical } from "../../../src/chain/codec.js";

const A = testDid(fixedKey(11));
const B = testDid(fixedKey(12));
const C = testDid(fixedKey(13));
const GENESIS_HASH = new Uint8Array(32).fill(0x47);
const GENESIS_TIME = 1_700_000_000_000;

/** Execute txs on top of the store and commit them as the next block, as the node does (block-exec.ts). */
async function commitNext(store: ChainStore, txs: CheckedTx[]): Promise<DidVersion[]> {
  return (await commitTxsAsNextBlock(store, txs, { sigs: [] })).effects.versions;
}

/** The store key of the record of `hash` at `at` (height + 1; 0 under the hash alone). */
const nodeKey = (hash: Uint8Array, at: number) => (at === 0 ? smtNodeKey(hash) : smtNodeAtKey(at - 1, hash));

/** The id (recordId) of every record the tree of `height` reaches, read from the store (throws on a missing record). */
async function reachable(store: ChainStore, height: number, into: Set<string>): Promise<void> {
  const walk = async (hash: Uint8Array, at: number): Promise<void> => {
    if (hash.every((b) => b === 0) || into.has(recordId(hash, at))) return;
    const raw = await rawKv(store).get(nodeKey(hash, at));
    if (!raw) throw new Error(`missing node ${recordId(hash, at)}`);
    into.add(recordId(hash, at));
    for (const child of childRecords(raw, at !== 0)) await walk(child.hash, child.at);
  };
  await walk((await store.getBlock(height))!.header.stateRoot, store.treeRootAt(height));
}

/** The record holding `key`'s leaf in the tree of `height`: the deepest record on its path. */
async function recordHoldingLeaf(store: ChainStore, height: number, key: Uint8Array): Promise<{ hash: Uint8Array; at: number }> {
  return (await pathRecords((h, at) => rawKv(store).get(nodeKey(h, at)), (await store.getBlock(height))!.header.stateRoot, key, store.treeRootAt(height))).at(-1)!;
}

/** The id (recordId) of every record of the tree's buckets in the store. */
async function storedNodes(store: ChainStore): Promise<Set<string>> {
  const out = new Set<string>();
  for (const bucket of [Bucket.SmtNode, Bucket.SmtNodeAt]) {
    for await (const key of rawKv(store).keys({ gte: Uint8Array.of(bucket), lt: Uint8Array.of(bucket + 1) })) out.add(storedRecordId(key, Bucket.SmtNode));
  }
  return out;
}

describe("chain/store: one copy of each document", function () {
  this.timeout(30_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-layout-test-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads every version of a history from its tx, identical to what was committed, before and after a reopen", async () => {
    const path = join(dir, "docs");
    let store = await ChainStore.open(path);
    await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
    const committed: DidVersion[] = [];
    committed.push(...(await commitNext(store, [createTx(A), createTx(B)])));
    let doc = A.doc;
    for (let v = 1; v <= 5; v++) {
      doc = addService(doc, { id: `${A.did}#s${v}`, type: "LinkedDomains", serviceEndpoint: `https://v${v}.example` });
      // Two updates of A in one block now and then: two txs of the same block.
      if (v === 3) {
        const next = addService(doc, { id: `${A.did}#t${v}`, type: "LinkedDomains", serviceEndpoint: `https://t${v}.example` });
        committed.push(...(await commitNext(store, [updateTx(writeParams(A, v, v), doc), updateTx(writeParams(A, v + 1, v + 1), next)])));
        doc = next;
        v++;
      } else committed.push(...(await commitNext(store, [updateTx(writeParams(A, v, v), doc)])));
    }
    committed.push(...(await commitNext(store, [deactivateTx(writeParams(A, 6, 6))])));
    const ofA = committed.filter((v) => v.did === A.did);
    expect(ofA.map((v) => v.operation)).to.deep.equal(["create", "update", "update", "update", "update", "update", "deactivate"]);

    // Only the deactivation, whose tx brings no document, is stored whole.
    for (const v of committed) {
      const whole = await store.db.get(didVersionKey(v.did, v.versionId));
      expect(whole !== undefined, `${v.did} v${v.versionId} stored whole`).to.equal(v.operation === "deactivate");
    }

    const check = async (s: ChainStore) => {
      for (const v of committed) expect(await s.getDidVersion(v.did, v.versionId), `${v.did} v${v.versionId}`).to.deep.equal(v);
      expect(await s.getDidVersions(A.did)).to.deep.equal(ofA);
      // Resolution from the store answers as resolution from the versions as committed.
      const api = (getDidVersion: (d: string, n: number) => Promise<DidVersion | undefined>) =>
        createResolveDid(
          {
            head: () => s.head(),
            getDid: (d) => s.getDid(d),
            getDidVersion,
            getDidVersionEntry: (d, n) => s.getDidVersionEntry(d, n),
            didVersionAt: (d, t) => s.didVersionAt(d, t),
          },
          () => s.head().time,
        );
      const fromStore = api((d, n) => s.getDidVersion(d, n));
      const fromCommitted = api(async (d, n) => committed.find((v) => v.did === d && v.versionId === n));
      for (const v of ofA) {
        const r = await fromStore(A.did, { versionId: String(v.versionId) });
        expect(r.didDocumentMetadata, `v${v.versionId}`).to.include({ versionId: String(v.versionId) });
        expect(r, `resolved v${v.versionId}`).to.deep.equal(await fromCommitted(A.did, { versionId: String(v.versionId) }));
      }
    };
    await check(store);
    await store.close();
    store = await ChainStore.open(path);
    try {
      await check(store);
      // Blocks of the earlier layout held their txs inline: such a block reads the same, and so do its versions.
      for (let h = 1; h <= store.head().height; h++) {
        const block = (await store.getBlock(h))!;
        expect(block.txs.length, `txs of block ${h}`).to.be.greaterThan(0);
        const keys: Uint8Array[] = [];
        for await (const k of store.db.keys({ gte: blockTxKey(h, 0), lt: blockTxKey(h + 1, 0) })) keys.push(k);
        expect(keys.length).to.equal(block.txs.length);
        await store.db.batch([...keys.map((key) => ({ type: "del" as const, key })), { type: "put" as const, key: blockKey(h), value: encodeBlock(block) }]);
        expect(await store.getBlock(h)).to.deep.equal(block);
      }
      await check(store);
    } finally {
      await store.close();
    }
  });
});

describe("chain/store: a DID record refers to the tx holding its document", function () {
  this.timeout(30_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-record-ref-test-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The record's bytes as hashed into the state root: what its proof commits to. */
  const provenBytes = async (store: ChainStore, did: string) => {
    const p = await store.proveDid(did);
    expect(verifySmtProof(p.header.stateRoot, didStateKey(did), sha256(p.valueBytes!), p.proof), `proof of ${did}`).to.equal(true);
    return p.valueBytes!;
  };

  it("keeps created and updated records without their document, reads them back exactly, and a deactivation whole", async () => {
    const path = join(dir, "refs");
    let store = await ChainStore.open(path);
    await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
    await commitNext(store, [createTx(A), createTx(B)]);
    const doc2 = addService(A.doc, { id: `${A.did}#s1`, type: "LinkedDomains", serviceEndpoint: "https://s1.example" });
    await commitNext(store, [updateTx(writeParams(A, 1, 1), doc2)]);
    const before = new Map<string, Uint8Array>();
    for (const d of [A, B]) before.set(d.did, await provenBytes(store, d.did));
    expect(decodeDidRecord(before.get(A.did)!)).to.deep.include({ versionId: 2, document: doc2 });
    for (const d of [A, B]) {
      const stored = (await store.db.get(didKey(d.did)))!;
      // Kept by reference: its first byte is not a CBOR map's, and the document (hundreds of bytes) is not in it.
      // Both refer to the tx of their current version (0x01: the record stands for that version's entry).
      expect(stored[0], d.did).to.equal(0x01);
      expect(stored.length, d.did).to.be.below(before.get(d.did)!.length - 300);
    }
    // A deactivation keeps the document of the update before it, which no tx of its block holds: stored whole.
    await commitNext(store, [deactivateTx(writeParams(B, 1, 1))]);
    const wholeB = (await store.db.get(didKey(B.did)))!;
    expect(wholeB[0]).to.be.within(0xa0, 0xbb);
    expect(wholeB).to.deep.equal(await provenBytes(store, B.did));
    await store.close();

    // A fresh store (no cache) reads the same bytes one by one, in a batch, and as records.
    store = await ChainStore.open(path);
    try {
      expect(await provenBytes(store, A.did)).to.deep.equal(before.get(A.did));
      const many = await store.loadState([A.did, B.did, "did:sid:absent"]);
      expect(many.get(A.did)).to.deep.equal(decodeDidRecord(before.get(A.did)!));
      expect((many.get(B.did) as DidRecord).deactivated).to.equal(true);
      expect(many.get("did:sid:absent")).to.equal(undefined);
      expect(await store.records.expand([await store.db.get(didKey(A.did)), undefined, wholeB])).to.deep.equal([before.get(A.did), undefined, wholeB]);
    } finally {
      await store.close();
    }
  });

  it("keeps a record whole when its tx cannot be named (past 2^53) or does not hold its document", () => {
    const record = new Uint8Array([0xa2, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const document = record.subarray(3, 7);
    const tx = new Uint8Array([9, 9, 3, 4, 5, 6, 9]);
    const byRef = storedRecordBytes(record, { height: 7, index: 2, tx, document });
    // 0x02, then varints: height 7, index 2, offset 2, length 4, 3 bytes before; then the bytes before and after.
    expect(hex(byRef)).to.equal("02" + "0702020403" + "a20102" + "070809");
    expect(storedRecordBytes(record, { height: 7, index: 2, tx, document, current: true })[0]).to.equal(0x01);
    expect(hex(storedRecordBytes(record, { height: 2 ** 32, index: 300, tx, document }).subarray(0, 8))).to.equal("02" + "8080808010" + "ac02");
    expect(storedRecordBytes(record, { height: 2 ** 53, index: 0, tx, document })).to.equal(record);
    expect(storedRecordBytes(record, { height: 1, index: 1.5, tx, document })).to.equal(record);
    expect(storedRecordBytes(record, { height: 1, index: 0, tx: new Uint8Array([9, 9]), document })).to.equal(record);
    expect(storedRecordBytes(record, { height: 1, index: 0, tx, document: new Uint8Array([0xee, 0xee]) })).to.equal(record);
    expect(storedRecordBytes(record)).to.equal(record);
  });

  it("reads a record stored whole (the earlier layout) as before, and names a missing tx as damage", async () => {
    const path = join(dir, "whole");
    let store = await ChainStore.open(path);
    await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
    await commitNext(store, [createTx(A), createTx(B), createTx(C)]);
    const bytesA = await provenBytes(store, A.did);
    const bytesB = await provenBytes(store, B.did);
    await store.db.put(didKey(A.did), bytesA);
    // C by reference with the header of the earlier layout: 0x00, then five u32be.
    const bytesC = await provenBytes(store, C.did);
    const txC = txFromStored((await store.db.get(blockTxKey(1, 2)))!);
    const docC = encodeCanonical(C.doc as unknown as CanonicalValue);
    const [at, offset] = [Buffer.from(bytesC).indexOf(docC), Buffer.from(txC).indexOf(docC)];
    const fixed = new Uint8Array(21);
    [1, 2, offset, docC.length, at].forEach((n, i) => new DataView(fixed.buffer).setUint32(1 + 4 * i, n));
    await store.db.put(didKey(C.did), Uint8Array.from([...fixed, ...bytesC.subarray(0, at), ...bytesC.subarray(at + docC.length)]));
    await store.db.del(blockTxKey(1, 1));
    await store.close();
    store = await ChainStore.open(path);
    try {
      expect(await provenBytes(store, A.did)).to.deep.equal(bytesA);
      expect(at).to.be.above(0);
      expect(await provenBytes(store, C.did)).to.deep.equal(bytesC);
      expect(await store.getDidVersionEntry(C.did, 1), "a fixed header does not stand for the current entry").to.equal(undefined);
      expect(bytesB.length).to.be.above(300);
      let err: unknown;
      await store.getDid(B.did).catch((e: unknown) => (err = e));
      expect(String(err)).to.match(/tx holding a DID record's document \(height 1, index 1\) is not in the store: the store is damaged; resync/);
      // The damage is latched as a storage fault (the node stops with the remedy, /health says faulted).
      expect(store.faults.fault?.causeCode).to.equal("LEVEL_CORRUPTION");
      expect(store.faults.fault?.path).to.equal(path);
      expect(store.faults.fault?.remedy).to.match(/the data is damaged/);
    } finally {
      await store.close();
    }
  });
});

describe("chain/store: pruning the state tree", function () {
  this.timeout(30_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-prune-test-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps exactly the nodes of the last K trees; current proofs verify; an older height gets BLOCK_STATE_PRUNED", async () => {
    const K = 3;
    const path = join(dir, "prune");
    let store = await ChainStore.open(path, { stateHistory: K });
    await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
    const others = Array.from({ length: 20 }, (_, i) => testDid(fixedKey(40 + i)));
    await commitNext(store, [createTx(A), ...others.map((d) => createTx(d))]);
    // The record holding A's leaf at height 1 (its parent's, the leaf inline), which the update at height 2 replaces.
    const leafAt1 = await recordHoldingLeaf(store, 1, didStateKey(A.did));
    expect(leafAt1.at, "written by the block of height 1").to.equal(2);
    expect((await rawKv(store).get(nodeKey(leafAt1.hash, leafAt1.at)))?.[0]).to.equal(0x02);

    let doc = A.doc;
    for (let v = 1; v <= 8; v++) {
      doc = addService(doc, { id: `${A.did}#s${v}`, type: "LinkedDomains", serviceEndpoint: `https://v${v}.example` });
      await commitNext(store, [updateTx(writeParams(A, v, v), doc), createTx(testDid(fixedKey(80 + v)))]);
      const h = store.head().height;
      // Stale at height 2, needed by the tree of height 1: kept while height 1 is among the last K.
      expect((await rawKv(store).get(nodeKey(leafAt1.hash, leafAt1.at))) !== undefined, `A's first leaf's record at head ${h}`).to.equal(h - K + 1 <= 1);
      // The store holds exactly the records the kept trees reach, each under the height that wrote it.
      const kept = new Set<string>();
      for (let k = Math.max(1, h - K + 1); k <= h; k++) await reachable(store, k, kept);
      expect([...(await storedNodes(store))].sort(), `nodes at head ${h}`).to.deep.equal([...kept].sort());
      expect([...kept].every((id) => Number(id.split(":")[0]) >= 2), "every record keyed by the height that wrote it (1 or later)").to.equal(true);
    }

    const head = store.head();
    expect(store.stateKeptFrom()).to.equal(head.height - K + 1);
    const current = await store.proveDid(A.did);
    expect(verifySmtProof(head.stateRoot, didStateKey(A.did), sha256(current.valueBytes!), current.proof)).to.equal(true);
    const oldest = await store.proveStateAt(head.height - K + 1, didStateKey(A.did));
    expect(verifySmtProof(oldest.header.stateRoot, didStateKey(A.did), oldest.proof.leaf!.valueHash, oldest.proof)).to.equal(true);

    const refused = await store.proveStateAt(head.height - K, didStateKey(A.did)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).to.be.instanceOf(ChainError);
    expect((refused as ChainError).code).to.equal(BlockErrorCode.STATE_PRUNED);
    expect((refused as ChainError).message).to.match(new RegExp(`height ${head.height - K} is pruned: this node keeps heights ${head.height - K + 1} to ${head.height}`));
    const beyond = await store.proveStateAt(head.height + 1, didStateKey(A.did)).catch((e: unknown) => e);
    expect((beyond as ChainError).code).to.equal(BlockErrorCode.NOT_FOUND);

    // The floor survives a reopen.
    await store.close();
    store = await ChainStore.open(path, { stateHistory: K });
    try {
      expect(store.stateKeptFrom()).to.equal(head.height - K + 1);
      const again = await store.proveStateAt(head.height - K - 1, didStateKey(A.did)).catch((e: unknown) => e);
      expect((again as ChainError).code).to.equal(BlockErrorCode.STATE_PRUNED);
    } finally {
      await store.close();
    }
  });

  it("a store whose records are under their hashes alone (the earlier layout) reads on, writes new records by height, and prunes both", async () => {
    const K = 3;
    const path = join(dir, "earlier-layout");
    let store = await ChainStore.open(path, { stateHistory: K });
    const others = Array.from({ length: 20 }, (_, i) => testDid(fixedKey(140 + i)));
    let doc = A.doc;
    const update = async (v: number) => {
      doc = addService(doc, { id: `${A.did}#s${v}`, type: "LinkedDomains", serviceEndpoint: `https://v${v}.example` });
      await commitNext(store, [updateTx(writeParams(A, v, v), doc), createTx(testDid(fixedKey(180 + v)))]);
    };
    try {
      await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
      await commitNext(store, [createTx(A), ...others.map((d) => createTx(d))]);
      for (let v = 1; v <= 3; v++) await update(v);
      // Back to the earlier layout, as a store written before this one would hold it: one LevelDB (no tree
      // store), every record under its hash alone without places, the stale records in format 1 (a flags
      // byte and the hash per record), the kept floor in meta, no first keyed height. (Every block here
      // changes the tree, so no two heights share a record there.)
      const main = store.db;
      const raw = rawKv(store);
      for await (const [k, v] of raw.iterator({ gte: Uint8Array.of(Bucket.SmtNodeAt), lt: Uint8Array.of(Bucket.SmtNodeAt + 1) })) {
        await main.put(smtNodeKey(k.subarray(9)), withoutPlaces(v));
        await raw.del(k);
      }
      for await (const [k, v] of raw.iterator({ gte: Uint8Array.of(Bucket.StaleSmtNode), lt: Uint8Array.of(Bucket.StaleSmtNode + 1) })) {
        await raw.del(k);
        if (k.length === 1) {
          await main.put(metaKey("stateKeptFrom"), v);
          continue;
        }
        expect(v[0]).to.equal(2);
        const out = [1];
        for (let at = 1; at < v.length; at += 33) {
          while (v[at]! >= 0x80) at++;
          out.push(0, ...v.subarray(at + 1, at + 33));
        }
        await main.put(k, Uint8Array.from(out));
      }
      await main.del(metaKey("smtKeyedFrom"));
    } finally {
      await store.close();
    }

    store = await ChainStore.open(path, { stateHistory: K, smtCacheSize: 0 });
    try {
      const head = store.head().height;
      expect(head).to.equal(4);
      // The stale records moved into the tree store on open.
      expect((await collectKeys(store.db.keys({ gte: Uint8Array.of(Bucket.StaleSmtNode), lt: Uint8Array.of(Bucket.StaleSmtNode + 1) }))).length).to.equal(0);
      expect((await collectKeys(rawKv(store).keys({ gte: Uint8Array.of(Bucket.StaleSmtNode), lt: Uint8Array.of(Bucket.StaleSmtNode + 1) }))).length).to.be.above(0);
      expect(store.stateKeptFrom(), "the kept floor, read from meta").to.equal(head - K + 1);
      // The trees so far are under hashes alone; the next height's is the first keyed by height.
      expect(readU64be((await rawKv(store).get(metaKey("smtKeyedFrom")))!)).to.equal(head + 1);
      expect([store.treeRootAt(head), store.treeRootAt(head + 1)]).to.deep.equal([0, head + 2]);
      for (let h = head - K + 1; h <= head; h++) {
        const p = await store.proveStateAt(h, didStateKey(A.did));
        expect(verifySmtProof(p.header.stateRoot, didStateKey(A.did), p.proof.leaf!.valueHash, p.proof), `height ${h}`).to.equal(true);
      }
      for (let v = 4; v <= 9; v++) {
        await update(v);
        const h = store.head().height;
        const kept = new Set<string>();
        for (let k = h - K + 1; k <= h; k++) await reachable(store, k, kept);
        expect([...(await storedNodes(store))].sort(), `records at head ${h}`).to.deep.equal([...kept].sort());
        const legacy = [...kept].filter((id) => !id.includes(":"));
        // Subtrees no block has touched since stay in their old records, under new records by height.
        expect(legacy.length, `records under a hash alone at head ${h}`).to.be.above(0);
        if (h - K + 1 > head) expect(store.treeRootAt(h - K + 1), "the oldest kept root is keyed").to.equal(h - K + 2);
      }
      expect(await store.proveStateAt(head, didStateKey(A.did)).catch((e: ChainError) => e.code)).to.equal(BlockErrorCode.STATE_PRUNED);
      const now = await store.proveDid(A.did);
      expect(verifySmtProof(store.head().stateRoot, didStateKey(A.did), sha256(now.valueBytes!), now.proof)).to.equal(true);
    } finally {
      await store.close();
    }
  });

  it("a commit cut between the tree store's write and the main store's leaves every kept tree whole, and the block commits again", async () => {
    const K = 3;
    const path = join(dir, "cut");
    let store = await ChainStore.open(path, { stateHistory: K });
    let doc = A.doc;
    const nextUpdate = (v: number) => {
      doc = addService(doc, { id: `${A.did}#s${v}`, type: "LinkedDomains", serviceEndpoint: `https://v${v}.example` });
      return [updateTx(writeParams(A, v, v), doc), createTx(testDid(fixedKey(200 + v)))];
    };
    let pending: CheckedTx[];
    try {
      await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
      await commitNext(store, [createTx(A), ...Array.from({ length: 12 }, (_, i) => createTx(testDid(fixedKey(220 + i))))]);
      for (let v = 1; v <= 4; v++) await commitNext(store, nextUpdate(v));
      expect(store.head().height).to.equal(5);
      // The main store's write of the next commit fails after the tree store's went through (a power cut between them).
      const kv = store.kv as LevelKv;
      const chained = kv.level.batch.bind(kv.level);
      (kv.level as { batch: unknown }).batch = () => {
        const c = chained();
        return { put: (k: Uint8Array, v: Uint8Array) => c.put(k, v), del: (k: Uint8Array) => c.del(k), get length() { return c.length; }, close: () => c.close(), write: async () => { await c.close(); throw new Error("power cut"); } };
      };
      pending = nextUpdate(5);
      const err = await commitNext(store, pending).catch((e: Error) => e);
      expect(String(err)).to.match(/power cut/);
    } finally {
      await store.close();
    }
    store = await ChainStore.open(path, { stateHistory: K, smtCacheSize: 0 });
    try {
      expect(store.head().height).to.equal(5);
      // The prunes of height 6 went through with the tree store's write, and the kept floor with them.
      expect(store.stateKeptFrom()).to.equal(6 - K + 1);
      for (let h = store.stateKeptFrom(); h <= 5; h++) {
        const p = await store.proveStateAt(h, didStateKey(A.did));
        expect(verifySmtProof(p.header.stateRoot, didStateKey(A.did), p.proof.leaf!.valueHash, p.proof), `height ${h}`).to.equal(true);
      }
      expect(store.faults.fault).to.equal(undefined);
      // The block commits again, and the store holds exactly what the kept trees reach.
      await commitNext(store, pending!);
      const kept = new Set<string>();
      for (let k = store.stateKeptFrom(); k <= 6; k++) await reachable(store, k, kept);
      expect([...(await storedNodes(store))].sort()).to.deep.equal([...kept].sort());
    } finally {
      await store.close();
    }
  });

  it("refuses a history shorter than two heights", async () => {
    let thrown: unknown;
    await ChainStore.open(join(dir, "short"), { stateHistory: 1 }).then(
      (s) => s.close(),
      (e: unknown) => (thrown = e),
    );
    expect((thrown as Error).message).to.match(/stateHistory must be an integer of at least 2/);
  });
});

describe("chain/smt: stale nodes", () => {
  const key = (n: number) => sha256(Uint8Array.of(n));
  const val = (n: number) => sha256(Uint8Array.of(0xff, n));

  it("names exactly the records of the old tree the new one lacks, and a node that comes back is held again", async () => {
    const nodes = new Map<string, Uint8Array>();
    const tree = new SparseMerkleTree({ getNode: async (h) => nodes.get(hex(h)) }, { cacheSize: 0 });
    const all = async (root: Uint8Array) => reachableRecords(nodes, root);
    const apply = async (root: Uint8Array, updates: Array<{ key: Uint8Array; value: Uint8Array | null; mayRepeat?: boolean }>) => {
      const r = await tree.update(root, updates);
      for (const [h, n] of r.newNodes) nodes.set(h, n);
      const before = await all(root);
      const after = await all(r.root);
      expect(r.staleNodes.map((n) => hex(n.hash)).sort()).to.deep.equal([...before].filter((h) => !after.has(h)).sort());
      return r;
    };
    let root: Uint8Array = new Uint8Array(32);
    // One key: the leaf is the root, with a record of its own.
    const one = await apply(root, [{ key: key(0), value: val(0) }]);
    expect([...one.newNodes.values()].map((n) => n[0])).to.deep.equal([0x00]);
    // Beside new keys it moves down into its parent's record: its own record is stale.
    const many = await apply(one.root, Array.from({ length: 39 }, (_, i) => ({ key: key(i + 1), value: val(i + 1) })));
    expect(many.staleNodes.map((n) => [hex(n.hash), n.leaf])).to.deep.equal([[hex(one.root), true]]);
    expect([...many.newNodes.values()].some((n) => n[0] === 0x00), "no leaf record under an internal root").to.equal(false);
    root = many.root;
    const changed = await apply(root, [{ key: key(3), value: val(100), mayRepeat: true }, { key: key(50), value: val(50) }]);
    // Only the nodes above the update that may repeat are flagged; the deepest is the one that held key 3's leaf inline.
    const above3 = changed.staleNodes.filter((n) => hex(n.path) === hex(key(3)));
    expect(above3.length).to.be.above(0);
    expect(above3.every((n) => n.mayReturn && !n.leaf)).to.equal(true);
    const parent3 = above3.reduce((a, b) => (b.depth > a.depth ? b : a));
    expect(recordChildren(nodes.get(hex(parent3.hash))!)!.some((c) => c.leaf && hex(c.leaf.key) === hex(key(3)))).to.equal(true);
    expect(changed.staleNodes.some((n) => !n.mayReturn)).to.equal(true);
    expect(await tree.holds(changed.root, parent3)).to.equal(false);
    // The record goes back to its old value: the old parent is in the tree again.
    const back = await apply(changed.root, [{ key: key(3), value: val(3) }]);
    expect(await tree.holds(back.root, parent3)).to.equal(true);
    expect(back.staleNodes.some((n) => n.mayReturn)).to.equal(false);
    // Deletions make stale nodes too; down to one key, the leaf is the root with a record of its own again.
    const fewer = await apply(back.root, [{ key: key(7), value: null }, { key: key(8), value: null }]);
    const last = await apply(fewer.root, Array.from({ length: 40 }, (_, i) => ({ key: key(i + 1), value: null })).concat([{ key: key(50), value: null }]));
    expect(hex(last.root)).to.equal(hex(one.root));
    expect(last.newNodes.get(hex(one.root))?.[0]).to.equal(0x00);
  });
});
