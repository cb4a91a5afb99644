/**
 * The chain store over the in-memory key-value store and over LevelDB: the
 * same blocks give the same answers and the same keys and bytes, entry for
 * entry (pruned Merkle nodes, indexes and meta included).
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Block, type Commit } from "../../../src/chain/block.js";
import { metaKey, proposerPrioritiesKey, signStateKey } from "../../../src/chain/buckets.js";
import { decodeCanonical, encodeCanonical } from "../../../src/chain/codec.js";
import type { KvStore } from "../../../src/chain/db/kv.js";
import { MemoryKv } from "../../../src/chain/db/memory-kv.js";
import { type CheckedTx } from "../../../src/chain/execute.js";
import { ChainStore } from "../../../src/chain/store.js";
import { addVerificationMethod } from "../../../src/did/document-edit.js";
import { createTx, fixedKey, hex, testDid, updateTx, writeParams } from "../../helpers/fixtures.js";
import { commitTxsAsNextBlock } from "../../helpers/store-blocks.js";

const A = testDid(fixedKey(1));
const B = testDid(fixedKey(2));
const C = testDid(fixedKey(3));

/** The next block, with one evidence item and the consensus's sign state and priorities in its batch (another room's data). */
async function commitNext(store: ChainStore, txs: CheckedTx[], n: number): Promise<{ block: Block; commit: Commit }> {
  const height = store.head().height + 1;
  return commitTxsAsNextBlock(store, txs, {
    evidence: { encoded: [new Uint8Array(16).fill(n)], index: [{ hash: new Uint8Array(32).fill(n), validator: new Uint8Array(20).fill(0x50) }] },
    sideWrites: (batch) => {
      batch.put(signStateKey(), encodeCanonical({ height, round: 0, step: 3, digest: "aa", sig: "bb" }));
      batch.put(proposerPrioritiesKey(height + 1), Uint8Array.of(n, n));
    },
  });
}

/** The same chain of five blocks: creates, updates of one DID (so its old Merkle nodes go stale and are pruned), and an empty block. */
async function buildChain(store: ChainStore): Promise<Array<{ block: Block; commit: Commit }>> {
  await store.initGenesis(new Uint8Array(32).fill(0x47), 1_700_000_000_000);
  const out = [await commitNext(store, [createTx(A), createTx(B)], 1)];
  let doc = A.doc;
  for (let i = 1; i <= 2; i++) {
    doc = addVerificationMethod(doc, C.key.publicKey, `key-${i + 1}`, ["authentication"]);
    out.push(await commitNext(store, [updateTx(writeParams(A, i, i), doc)], i + 1));
  }
  out.push(await commitNext(store, [], 4));
  out.push(await commitNext(store, [createTx(C)], 5));
  return out;
}

async function dump(kv: KvStore): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of kv.entries({})) out.push(`${hex(k)}=${hex(v)}`);
  return out;
}

describe("chain/store over the in-memory store and LevelDB", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-store-mem-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("the same blocks give the same answers and the same entries, byte for byte", async () => {
    const opts = { stateHistory: 2 };
    const mem = await ChainStore.openKv(new MemoryKv(), opts);
    const level = await ChainStore.open(join(dir, "db"), opts);
    try {
      const chainMem = await buildChain(mem);
      const chainLevel = await buildChain(level);
      expect(chainMem.map((b) => hex(b.block.header.stateRoot))).to.deep.equal(chainLevel.map((b) => hex(b.block.header.stateRoot)));
      expect(mem.head()).to.deep.equal(level.head());
      expect(mem.stateKeptFrom()).to.equal(4);

      const entries = await dump(mem.kv);
      expect(entries).to.deep.equal(await dump(level.kv));
      // The repositories that these blocks write to wrote: blocks, commits, DID records, evidence, block hashes, version entries,
      // meta, export log, tx index, version times, block txs, Merkle nodes by height, stale nodes (every version came by a tx:
      // none whole; no Merkle node under its hash alone).
      const buckets = new Set(entries.map((e) => String.fromCharCode(parseInt(e.slice(0, 2), 16))));
      expect([...buckets].sort().join("")).to.equal("BCDEHIMOTWbns");

      for (const s of [mem, level]) {
        expect(await s.getBlock(2)).to.deep.equal(chainMem[1]!.block);
        expect(await s.getCommit(5)).to.deep.equal(chainMem[4]!.commit);
        expect((await s.getDidVersions(A.did)).map((v) => v.versionId)).to.deep.equal([1, 2, 3]);
        expect((await s.didVersionPage(A.did, { after: 1, limit: 1, maxBytes: 1000 })).entries.map((e) => e.versionId)).to.deep.equal([2]);
        expect(await s.exportEntries(0, 10)).to.deep.equal([
          { seq: 1, height: 1, index: 0 },
          { seq: 2, height: 1, index: 1 },
          { seq: 3, height: 2, index: 0 },
          { seq: 4, height: 3, index: 0 },
          { seq: 5, height: 5, index: 0 },
        ]);
        expect((await s.listEvidence({ limit: 10 })).map((e) => e.height)).to.deep.equal([1, 2, 3, 4, 5]);
        expect(decodeCanonical((await s.kv.get(signStateKey()))!)).to.deep.equal({ height: 5, round: 0, step: 3, digest: "aa", sig: "bb" });
        expect(hex((await s.getProposerPriorities(6))!)).to.equal("0505");
        expect(await s.getProposerPriorities(7)).to.equal(undefined);
        // The head's record is provable; a pruned height is refused.
        expect((await s.proveDid(A.did)).valueBytes).to.not.equal(null);
        let pruned: unknown;
        await s.proveStateAt(2, new Uint8Array(32)).catch((e: unknown) => (pruned = e));
        expect((pruned as { code?: string }).code).to.equal("BLOCK_STATE_PRUNED");
      }
      // A second store over the same entries (a restart) reads back the head, the export number and the kept heights.
      const again = await ChainStore.openKv(mem.kv, opts);
      expect(again.head()).to.deep.equal(level.head());
      expect(again.lastExportSeq()).to.equal(5);
      expect(again.stateKeptFrom()).to.equal(4);
      expect(await again.getDid(C.did)).to.deep.equal(await level.getDid(C.did));
      // The LevelDB handle is there for what only LevelDB does; a store in memory says it has none.
      expect(() => mem.db).to.throw(/not on LevelDB/);
      expect(level.db).to.not.equal(undefined);
    } finally {
      await mem.close();
      await level.close();
    }
  });
});

describe("chain/store over the in-memory store: an index layout it does not read", () => {
  it("is refused at open, and the key-value store is closed", async () => {
    const kv = new MemoryKv();
    const store = await ChainStore.openKv(kv);
    await store.initGenesis(new Uint8Array(32).fill(0x47), 1_700_000_000_000);
    const batch = kv.batch();
    batch.put(metaKey("versionIndex"), Uint8Array.of(9));
    await batch.write();
    let err: Error | undefined;
    await ChainStore.openKv(kv).catch((e: Error) => (err = e));
    expect(err?.message).to.match(/layout 09/);
    let closed: unknown;
    await kv.get(metaKey("head")).catch((e: unknown) => (closed = e));
    expect((closed as { code?: string }).code).to.equal("KV_CLOSED");
  });
});
