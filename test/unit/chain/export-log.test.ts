/**
 * The export log of the LevelDB store: every committed tx, of every kind,
 * numbered 1, 2, 3, ... in commit order with no gap, the same after a
 * restart, on a replica that replayed the blocks, and on a store written
 * before the log existed (numbered when opened).
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bucket, blockKey, metaKey } from "../../../src/chain/buckets.js";
import { type ExportEntry, decodeExportEntry, decodeExportRun, encodeExportEntry, encodeExportRun, exportOpOf } from "../../../src/chain/export-log.js";
import { genesisRecords } from "../../../src/chain/genesis.js";
import { issuerStateId, statusListStateId } from "../../../src/chain/state.js";
import { ChainStore } from "../../../src/chain/store.js";
import { TxType, decodeTx, txHash } from "../../../src/chain/tx.js";
import { replayInto } from "../../helpers/chain.js";
import { EXPORT_GENESIS, GENESIS_HASH, GENESIS_TIME, ISSUER, SUBJECT, T1, addCreates, buildExportChain } from "../../helpers/export-chain.js";
import { CHAIN_ID, hex } from "../../helpers/fixtures.js";

/** Every tx of the store's blocks in commit order, as (height, index). */
async function txsInCommitOrder(store: ChainStore): Promise<Array<{ height: number; index: number }>> {
  const out: Array<{ height: number; index: number }> = [];
  for (let height = 1; height <= store.head().height; height++) {
    const b = (await store.getBlock(height))!;
    b.txs.forEach((_, index) => out.push({ height, index }));
  }
  return out;
}

const u64 = (n: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
};

async function allEntries(store: ChainStore): Promise<ExportEntry[]> {
  return store.exportEntries(0, 1_000_000);
}

describe("chain/export-log: entry encoding and op kinds", () => {
  it("encodes an entry in 12 bytes and back", () => {
    for (const [h, i] of [
      [1, 0],
      [2 ** 40 + 3, 4_000_000_000],
    ] as const) {
      const raw = encodeExportEntry(h, i);
      expect(raw.length).to.equal(12);
      expect(decodeExportEntry(7, raw)).to.deep.equal({ seq: 7, height: h, index: i });
    }
    expect(() => decodeExportEntry(1, new Uint8Array(11))).to.throw(/11 bytes, expected 12/);
  });

  it("encodes a block's run in 13 bytes, and reads an entry of the earlier layout as a run of one", () => {
    const run = encodeExportRun(2 ** 40 + 3, 70);
    expect(run.length).to.equal(13);
    expect(decodeExportRun(9, run)).to.deep.equal({ first: 9, height: 2 ** 40 + 3, index: 0, count: 70 });
    expect(decodeExportRun(9, encodeExportEntry(5, 4))).to.deep.equal({ first: 9, height: 5, index: 4, count: 1 });
    expect(() => decodeExportRun(9, encodeExportRun(5, 0))).to.throw(/run of no tx/);
    expect(() => decodeExportRun(9, Uint8Array.of(2, ...run.subarray(1)))).to.throw(/13 bytes starting 0x2, expected 13 starting 0x01/);
    expect(() => decodeExportRun(9, new Uint8Array(14))).to.throw(/14 bytes/);
  });
});

describe("chain/export-log: sequence numbers in the store", function () {
  this.timeout(30_000);
  let dir: string;
  let store: ChainStore;
  let committed: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sid-export-test-"));
    store = await ChainStore.open(join(dir, "a"));
    committed = await buildExportChain(store);
  });
  after(async () => {
    await store?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it("numbers every committed tx 1..N, gap-free, in (height, index) order, across blocks of several txs and an empty block", async () => {
    const entries = await allEntries(store);
    expect(store.lastExportSeq()).to.equal(committed);
    expect(entries.map((e) => e.seq)).to.deep.equal(Array.from({ length: committed }, (_, i) => i + 1));
    expect(entries.map((e) => ({ height: e.height, index: e.index }))).to.deep.equal(await txsInCommitOrder(store));
    // The empty block (height 4) has no entry, and the numbers run on across it.
    expect(entries.filter((e) => e.height === 4)).to.deep.equal([]);
    expect(entries.find((e) => e.height === 5)!.seq).to.equal(entries.filter((e) => e.height < 4).length + 1);
  });

  it("covers every kind of tx, each with the subject its tx names", async () => {
    const ops = [];
    for (const e of await allEntries(store)) {
      const encoded = (await store.getBlock(e.height))!.txs[e.index]!;
      ops.push(exportOpOf(decodeTx(encoded, CHAIN_ID), txHash(encoded)));
    }
    expect(new Set(ops.map((o) => o.kind))).to.deep.equal(new Set(Object.values(TxType)));
    expect(ops.filter((o) => o.kind === TxType.DidUpdate || o.kind === TxType.DidDeactivate).map((o) => o.subject)).to.deep.equal([SUBJECT.did, SUBJECT.did]);
    const gov = ops.filter((o) => o.kind === TxType.GovPropose || o.kind === TxType.GovApprove);
    expect(gov.map((o) => [o.kind, o.action, o.subject])).to.deep.equal([
      [TxType.GovPropose, "issuer/add", issuerStateId(ISSUER.did)],
      [TxType.GovApprove, "issuer/add", issuerStateId(ISSUER.did)],
      [TxType.GovPropose, "issuer/remove", issuerStateId(ISSUER.did)],
      [TxType.GovApprove, "issuer/remove", issuerStateId(ISSUER.did)],
    ]);
    // An approval names the proposal it approves: the propose tx's hash.
    expect(gov[1]!.proposal).to.equal(gov[0]!.proposal);
    expect(gov[3]!.proposal).to.equal(gov[2]!.proposal).and.not.equal(gov[0]!.proposal);
    expect(ops.find((o) => o.kind === TxType.StatusListPublish)!.subject).to.equal(statusListStateId(ISSUER.did, "a"));
    expect(ops[0]).to.deep.equal({ kind: TxType.DidCreate, subject: T1.did });
  });

  it("pages after a cursor by count, and answers nothing past the last", async () => {
    const all = await allEntries(store);
    expect(await store.exportEntries(3, 2)).to.deep.equal(all.slice(3, 5));
    expect(await store.exportEntries(committed - 1, 10)).to.deep.equal(all.slice(-1));
    expect(await store.exportEntries(committed, 10)).to.deep.equal([]);
    expect(await store.exportEntries(committed + 100, 10)).to.deep.equal([]);
    let thrown: unknown;
    await store.exportEntries(-1, 10).catch((e: unknown) => (thrown = e));
    expect(thrown).to.be.instanceOf(RangeError);
    thrown = undefined;
    await store.exportEntries(1.5, 10).catch((e: unknown) => (thrown = e));
    expect(thrown).to.be.instanceOf(RangeError);
    thrown = undefined;
    await store.exportEntries(0, 0).catch((e: unknown) => (thrown = e));
    expect(thrown).to.be.instanceOf(RangeError);
  });

  it("keeps the same numbers after a restart, and goes on from the last", async () => {
    const before = await allEntries(store);
    await store.close();
    store = await ChainStore.open(join(dir, "a"));
    expect(store.lastExportSeq()).to.equal(committed);
    expect(await allEntries(store)).to.deep.equal(before);
    await addCreates(store, 0x61, 0, 3);
    const after = await allEntries(store);
    expect(after.slice(0, committed)).to.deep.equal(before);
    expect(after.slice(committed)).to.deep.equal([0, 1, 2].map((index) => ({ seq: committed + 1 + index, height: store.head().height, index })));
    committed += 3;
    expect(store.lastExportSeq()).to.equal(committed);
  });

  it("gives a replica that re-executed the same blocks the same numbers", async () => {
    const replica = await ChainStore.open(join(dir, "replica"));
    try {
      await replica.initGenesis(GENESIS_HASH, GENESIS_TIME, genesisRecords(EXPORT_GENESIS));
      expect(replica.lastExportSeq()).to.equal(0);
      await replayInto(store, replica);
      expect(replica.lastExportSeq()).to.equal(store.lastExportSeq());
      expect(await allEntries(replica)).to.deep.equal(await allEntries(store));
    } finally {
      await replica.close();
    }
  });

  it("numbers a store written before the export log when it is opened, as if it always had it", async () => {
    const before = await allEntries(store);
    const keys: Uint8Array[] = [];
    for await (const key of store.db.keys({ gte: Uint8Array.of(Bucket.Export), lt: Uint8Array.of(Bucket.Export + 1) })) keys.push(key);
    // One entry per block with txs.
    expect(keys.length).to.equal(new Set(before.map((e) => e.height)).size);
    await store.db.batch([...keys.map((key) => ({ type: "del" as const, key })), { type: "del" as const, key: metaKey("exportSeq") }]);
    await store.close();
    store = await ChainStore.open(join(dir, "a"));
    expect(store.lastExportSeq()).to.equal(committed);
    expect(await allEntries(store)).to.deep.equal(before);
    expect(hex((await store.db.get(metaKey("exportSeq")))!)).to.equal(committed.toString(16).padStart(16, "0"));
  });

  it("reads a log of the earlier layout (an entry per tx) and runs after it as one log, paged from any cursor", async () => {
    const before = await allEntries(store);
    const runs: Array<[Uint8Array, Uint8Array]> = [];
    for await (const [key, value] of store.db.iterator({ gte: Uint8Array.of(Bucket.Export), lt: Uint8Array.of(Bucket.Export + 1) })) runs.push([key, value]);
    // The first half of the blocks as the earlier layout wrote them.
    const half = runs.slice(0, Math.ceil(runs.length / 2));
    const ops = half.flatMap(([key, value]) => {
      const run = decodeExportRun(Number(new DataView(key.buffer, key.byteOffset + 1, 8).getBigUint64(0)), value);
      const perTx = Array.from({ length: run.count }, (_, k) => ({ type: "put" as const, key: Uint8Array.of(Bucket.Export, ...u64(run.first + k)), value: encodeExportEntry(run.height, k) }));
      return [{ type: "del" as const, key }, ...perTx];
    });
    await store.db.batch(ops);
    expect(await allEntries(store)).to.deep.equal(before);
    for (let after = 0; after <= committed; after++) {
      for (const limit of [1, 2, 5]) expect(await store.exportEntries(after, limit), `after ${after}, limit ${limit}`).to.deep.equal(before.slice(after, after + limit));
    }
  });

  it("refuses to number a store without the log whose blocks do not start at height 1", async () => {
    const path = join(dir, "no-early-blocks");
    let other = await ChainStore.open(path);
    await buildExportChain(other);
    const exportKeys: Uint8Array[] = [];
    for await (const key of other.db.keys({ gte: Uint8Array.of(Bucket.Export), lt: Uint8Array.of(Bucket.Export + 1) })) exportKeys.push(key);
    await other.db.batch([...exportKeys.map((key) => ({ type: "del" as const, key })), { type: "del" as const, key: metaKey("exportSeq") }, { type: "del" as const, key: blockKey(1) }]);
    await other.close();
    let thrown: Error | undefined;
    await ChainStore.open(path).then(
      (s) => s.close(),
      (e: Error) => (thrown = e),
    );
    expect(thrown?.message).to.match(/blocks start at height 2, not 1.*resync/);
  });

  it("refuses a damaged sequence marker, naming the way out", async () => {
    await store.db.put(metaKey("exportSeq"), Uint8Array.of(1, 2, 3));
    await store.close();
    let thrown: Error | undefined;
    await ChainStore.open(join(dir, "a")).then(
      (s) => s.close(),
      (e: Error) => (thrown = e),
    );
    expect(thrown?.message).to.match(/export sequence marker is 3 bytes.*resync/);
    // Leave a store the after() hook can close.
    store = await ChainStore.open(join(dir, "replica"));
  });
});
