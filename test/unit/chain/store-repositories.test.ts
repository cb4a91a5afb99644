/**
 * Each repository of the chain store against the in-memory key-value store,
 * and the same checks against LevelDB (a tmp dir): both give the same
 * answers, in the same order, for the same keys.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Block, type BlockHeader, type Commit, ZERO_HASH, encodeBlock } from "../../../src/chain/block.js";
import { Bucket, blockKey, blockTxKey, didVersionKey, metaKey, smtNodeAtKey, smtNodeKey, staleSmtNodeKey, staleSmtNodesKey } from "../../../src/chain/buckets.js";
import { txFromStored } from "../../../src/chain/tx-store.js";
import type { KvStore } from "../../../src/chain/db/kv.js";
import { LevelKv } from "../../../src/chain/db/level-kv.js";
import { MemoryKv } from "../../../src/chain/db/memory-kv.js";
import { BlockRepository } from "../../../src/chain/repositories/blocks.js";
import { CommitRepository } from "../../../src/chain/repositories/commits.js";
import { DidVersionRepository } from "../../../src/chain/repositories/did-versions.js";
import { EvidenceRepository } from "../../../src/chain/repositories/evidence.js";
import { ExportLogRepository } from "../../../src/chain/repositories/export-log.js";
import { MetaRepository } from "../../../src/chain/repositories/meta.js";
import { SmtNodeRepository, type StaleRecord } from "../../../src/chain/repositories/smt-nodes.js";
import { StateRecordRepository, cachedRecordSize, stateDbKey } from "../../../src/chain/repositories/state-records.js";
import { TX_INDEX_PREFIX_BYTES, TxIndexRepository, decodeLocations, encodeLocations } from "../../../src/chain/repositories/tx-index.js";
import { txHash } from "../../../src/chain/tx.js";
import { encodeCanonical } from "../../../src/chain/codec.js";
import { ValidatorSetRepository } from "../../../src/chain/repositories/validator-sets.js";
import { type DidRecord, type DidVersion, type StateRecord, type StatusListRecord, encodeDidRecord, encodeStateRecord, stateIdOf } from "../../../src/chain/state.js";
import { FaultLatch } from "../../../src/chain/store-faults.js";
import type { ValidatorEntry } from "../../../src/chain/validators.js";
import type { IssuerRecord } from "../../../src/did/kyc.js";
import { createTx, fixedKey, hex, testDid } from "../../helpers/fixtures.js";

const A = testDid(fixedKey(1));
const B = testDid(fixedKey(2));
const filled = (n: number, fill: number) => new Uint8Array(n).fill(fill);

async function write(kv: KvStore, fill: (batch: ReturnType<KvStore["batch"]>) => unknown): Promise<void> {
  const batch = kv.batch();
  await fill(batch);
  await batch.write({ sync: true });
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function header(height: number): BlockHeader {
  return {
    chainId: "sid-test",
    height,
    time: 1_700_000_000_000 + height * 1000,
    prevHash: filled(32, height - 1),
    txRoot: ZERO_HASH,
    evidenceHash: ZERO_HASH,
    stateRoot: filled(32, 0x50 + height),
    validatorsHash: filled(32, 0x56),
    nextValidatorsHash: filled(32, 0x56),
    proposer: filled(20, 0x50),
    lastCommitHash: ZERO_HASH,
  };
}

function block(height: number, txs: Uint8Array[], evidence: Uint8Array[] = []): Block {
  return { header: header(height), txs, evidence, lastCommit: null };
}

function didRecord(d: typeof A, versionId: number): DidRecord {
  return { did: d.did, document: d.doc, versionId, nonce: versionId, created: 1, updated: versionId, createdHeight: 1, updatedHeight: versionId, deactivated: false };
}

function statusList(issuer: string, listId: string): StatusListRecord {
  return { kind: "statuslist", issuer, listId, uri: `https://s.example/${listId}`, types: ["KYC"], size: 16, token: `t-${listId}`, iat: 1, height: 2, time: 3, createdHeight: 2 };
}

function issuer(did: string): IssuerRecord {
  return { kind: "issuer", did, name: did.slice(-4), types: ["KYC"], status: "active", updatedHeight: 1, updatedTime: 1, history: [] } as unknown as IssuerRecord;
}

function version(did: string, versionId: number, time: number, txHash: Uint8Array): DidVersion {
  return { did, versionId, operation: versionId === 1 ? "create" : "update", height: versionId, time, txHash, document: A.doc };
}

const validators = (n: number): ValidatorEntry[] => Array.from({ length: n }, (_, i) => ({ name: `v${i}`, publicKey: `02${String(i).padStart(64, "0")}`, power: 10 + i }));

function repositoryChecks(name: string, open: () => Promise<{ kv: KvStore; done: () => Promise<void> }>): void {
  describe(`chain/repositories over ${name}`, () => {
    let kv: KvStore;
    let done: () => Promise<void>;
    beforeEach(async () => ({ kv, done } = await open()));
    afterEach(() => done());

    it("blocks: a block and its txs under their own keys, by height and by hash; an older block with its txs inline", async () => {
      const repo = new BlockRepository(kv);
      const txs = [createTx(A).encoded, createTx(B).encoded];
      const b1 = block(1, txs, [filled(40, 0xee)]);
      const b2 = block(2, []);
      const b3 = block(3, [txs[1]!]);
      await write(kv, (batch) => {
        repo.put(batch, b1, filled(32, 0xa1));
        repo.put(batch, b2, filled(32, 0xa2));
        // An older layout: the txs inside the block's own value.
        repo.putWhole(batch, b3, filled(32, 0xa3));
      });
      expect(await repo.get(1)).to.deep.equal(b1);
      expect(await repo.get(2)).to.deep.equal(b2);
      expect(await repo.get(3)).to.deep.equal(b3);
      expect(await repo.get(4)).to.equal(undefined);
      expect(await repo.get(0)).to.equal(undefined);
      // Block 1's value holds no tx: each is its own key.
      expect(hex((await kv.get(blockKey(1)))!)).to.equal(hex(encodeBlock({ ...b1, txs: [] })));
      // A create of a key's initial document is kept in short form: its key, signature and chain id.
      const kept = (await kv.get(blockTxKey(1, 1)))!;
      expect([kept[0], kept.length]).to.deep.equal([0x01, 129 + "sid-test".length]);
      expect(hex(txFromStored(kept))).to.equal(hex(txs[1]!));
      expect(await repo.heightByHash(filled(32, 0xa2))).to.equal(2);
      expect(await repo.heightByHash(filled(32, 0xa3))).to.equal(3);
      expect(await repo.heightByHash(filled(32, 0xa4))).to.equal(undefined);
      expect(hex((await repo.txBytes(1, 0))!)).to.equal(hex(txs[0]!));
      expect(hex((await repo.txBytes(3, 0))!)).to.equal(hex(txs[1]!));
      expect(await repo.txBytes(1, 2)).to.equal(undefined);
      expect(await repo.txBytes(3, 1)).to.equal(undefined);
      expect(await repo.txBytes(5, 0)).to.equal(undefined);
      expect(await repo.inlineTxBytes(1, 0), "block 1 holds no tx inline").to.equal(undefined);
      expect(await collect(repo.txCounts(1))).to.deep.equal([
        { height: 1, txs: 2 },
        { height: 2, txs: 0 },
        { height: 3, txs: 1 },
      ]);
      expect(await collect(repo.txCounts(3))).to.deep.equal([{ height: 3, txs: 1 }]);
    });

    it("commits and tx locations: by height and by tx hash, undefined when absent", async () => {
      const commits = new CommitRepository(kv);
      // Txs by location; the index keys 12 bytes of each hash and checks the rest against the tx itself.
      const txs = new Map<string, Uint8Array>();
      const damage: unknown[] = [];
      const txIndex = new TxIndexRepository(kv, async (h, i) => txs.get(`${h}/${i}`), (e) => damage.push(e));
      const tx = (n: number) => Uint8Array.of(0xa1, 0x61, 0x6e, n);
      [tx(0x10), tx(0x11)].forEach((t, i) => txs.set(`7/${i}`, t));
      const commit: Commit = { height: 7, round: 2, blockHash: filled(32, 7), sigs: [{ validator: filled(20, 1), sig: filled(64, 2) }] };
      await write(kv, async (batch) => {
        commits.put(batch, 7, commit);
        await txIndex.putBlock(batch, 7, [txHash(tx(0x10)), txHash(tx(0x11))]);
      });
      expect(await commits.get(7)).to.deep.equal(commit);
      expect(await commits.get(6)).to.equal(undefined);
      expect(await commits.get(8)).to.equal(undefined);
      expect(await txIndex.get(txHash(tx(0x11)))).to.deep.equal({ height: 7, index: 1 });
      expect(await txIndex.get(txHash(tx(0x10)))).to.deep.equal({ height: 7, index: 0 });
      expect(await txIndex.get(txHash(tx(0x12)))).to.equal(undefined);
      expect(await txIndex.get(filled(20, 1)), "not a tx hash").to.equal(undefined);
      // The key is the hash's first 12 bytes, the value varint (height, index) pairs.
      const keyOf = (h: Uint8Array) => Uint8Array.of(Bucket.TxIndex, ...h.subarray(0, TX_INDEX_PREFIX_BYTES));
      expect(hex((await kv.get(keyOf(txHash(tx(0x11)))))!)).to.equal("0701");

      // Another tx whose hash shares the 12 bytes (made here by writing its location under them): both are listed, each found by its own hash.
      const twin = txHash(tx(0x20));
      const twinKey = keyOf(twin);
      txs.set("300/2", tx(0x20));
      await write(kv, (batch) => batch.put(twinKey, encodeLocations([{ height: 7, index: 0 }])));
      await write(kv, (batch) => txIndex.putBlock(batch, 300, [filled(32, 0), filled(32, 0), twin]));
      expect(decodeLocations((await kv.get(twinKey))!)).to.deep.equal([{ height: 7, index: 0 }, { height: 300, index: 2 }]);
      // The same block written again lists its tx once.
      await write(kv, (batch) => txIndex.putBlock(batch, 300, [filled(32, 0), filled(32, 0), twin]));
      expect(decodeLocations((await kv.get(twinKey))!)).to.deep.equal([{ height: 7, index: 0 }, { height: 300, index: 2 }]);
      expect(await txIndex.get(twin)).to.deep.equal({ height: 300, index: 2 });
      expect(await txIndex.get(txHash(tx(0x10)))).to.deep.equal({ height: 7, index: 0 });
      // A listed location whose tx is another one, or missing: not this hash.
      await write(kv, (batch) => batch.put(twinKey, encodeLocations([{ height: 7, index: 1 }, { height: 9, index: 9 }])));
      expect(await txIndex.get(twin)).to.equal(undefined);

      // An entry of the earlier layout (the whole hash, a canonical value) is read as it is.
      const old = filled(32, 0x33);
      await write(kv, (batch) => batch.put(Uint8Array.of(Bucket.TxIndex, ...old), encodeCanonical({ height: 5, index: 3 })));
      expect(await txIndex.get(old)).to.deep.equal({ height: 5, index: 3 });
      // The lookup that read the tx hands it on; one of the earlier layout has not read it.
      expect(await txIndex.find(txHash(tx(0x11)))).to.deep.equal({ height: 7, index: 1, tx: tx(0x11) });
      expect(await txIndex.find(old)).to.deep.equal({ height: 5, index: 3 });
      // A store begun with this layout is marked: its lookups read the 12-byte key only.
      await write(kv, (batch) => new TxIndexRepository(kv, async () => undefined).markBegun(batch));
      const marked = new TxIndexRepository(kv, async (h, i) => txs.get(`${h}/${i}`));
      await marked.load();
      expect(await marked.get(old), "an entry under the whole hash is not looked for").to.equal(undefined);
      expect(await marked.get(txHash(tx(0x11)))).to.deep.equal({ height: 7, index: 1 });
      await write(kv, (batch) => batch.del(metaKey("txIndex")));
      await marked.load();
      expect(await marked.get(old)).to.deep.equal({ height: 5, index: 3 });

      // Locations past 2^53, cut short or huge: damage, reported and thrown.
      expect(() => encodeLocations([{ height: -1, index: 0 }])).to.throw(RangeError);
      expect(decodeLocations(encodeLocations([{ height: Number.MAX_SAFE_INTEGER, index: 2 ** 32 }]))).to.deep.equal([{ height: Number.MAX_SAFE_INTEGER, index: 2 ** 32 }]);
      for (const bad of [Uint8Array.of(0x80), Uint8Array.of(0x07), new Uint8Array(9).fill(0xff)]) {
        await write(kv, (batch) => batch.put(twinKey, bad));
        let err: (Error & { code?: string }) | undefined;
        await txIndex.get(twin).catch((e: Error) => (err = e));
        expect(err?.code, hex(bad)).to.equal("LEVEL_CORRUPTION");
      }
      expect(damage.length).to.equal(3);
    });

    it("state records: DIDs and registry records by id, read together, listed by kind and by issuer", async () => {
      const repo = new StateRecordRepository(kv, 1 << 20);
      const ownIssuer = "did:sid:abc";
      // An issuer whose DID extends the first one's: its lists are not the first one's.
      const longerIssuer = "did:sid:abcd";
      const records: StateRecord[] = [
        didRecord(A, 2),
        didRecord(B, 1),
        issuer("did:sid:i2"),
        issuer("did:sid:i1"),
        issuer("did:sid:i3"),
        statusList(ownIssuer, "b"),
        statusList(ownIssuer, "a"),
        statusList(longerIssuer, "a"),
        statusList(ownIssuer, "c"),
      ];
      await write(kv, (batch) => repo.putEncoded(batch, records.map((r) => [stateIdOf(r), "kind" in r ? encodeStateRecord(r) : encodeDidRecord(r)])));
      expect(await repo.get(A.did)).to.deep.equal(didRecord(A, 2));
      expect(await repo.get("issuer:did:sid:i1")).to.deep.equal(issuer("did:sid:i1"));
      expect(await repo.get("did:sid:none")).to.equal(undefined);
      expect(hex((await repo.getBytes(B.did))!)).to.equal(hex(encodeDidRecord(didRecord(B, 1))));
      expect(await repo.getBytes("issuer:did:sid:none")).to.equal(undefined);
      // DIDs and registry records are in their own buckets.
      expect(stateDbKey(A.did)[0]).to.equal(Bucket.Did);
      expect(stateDbKey("issuer:did:sid:i1")[0]).to.equal(Bucket.Registry);

      // Reads of one turn, in their order, duplicates once, absences as undefined.
      const [one, two] = await Promise.all([repo.loadMany([B.did, "did:sid:none", A.did, B.did]), repo.loadMany(["issuer:did:sid:i3", A.did])]);
      expect([...one.entries()]).to.deep.equal([
        [B.did, didRecord(B, 1)],
        ["did:sid:none", undefined],
        [A.did, didRecord(A, 2)],
      ]);
      expect([...two.keys()]).to.deep.equal(["issuer:did:sid:i3", A.did]);

      expect((await repo.list("issuer", { limit: 10 })).map(stateIdOf)).to.deep.equal(["issuer:did:sid:i1", "issuer:did:sid:i2", "issuer:did:sid:i3"]);
      expect((await repo.list("issuer", { after: "did:sid:i1", limit: 1 })).map(stateIdOf)).to.deep.equal(["issuer:did:sid:i2"]);
      expect(await repo.list("proposal", { limit: 10 })).to.deep.equal([]);
      expect((await repo.listStatusLists(ownIssuer, { limit: 10 })).map((r) => r.listId)).to.deep.equal(["a", "b", "c"]);
      expect((await repo.listStatusLists(ownIssuer, { after: "a", limit: 1 })).map((r) => r.listId)).to.deep.equal(["b"]);
      expect((await repo.listStatusLists(longerIssuer, { limit: 10 })).map((r) => r.issuer)).to.deep.equal([longerIssuer]);

      // A record written by a batch is served from the cache once remembered; an absence cached before is replaced.
      await repo.get("did:sid:new");
      const fresh = { ...didRecord(A, 3), did: "did:sid:new" };
      await write(kv, (batch) => repo.putEncoded(batch, [["did:sid:new", encodeDidRecord(fresh)]]));
      repo.remember([["did:sid:new", fresh]], new Map([["did:sid:new", encodeDidRecord(fresh)]]));
      expect(await repo.get("did:sid:new")).to.equal(fresh);
    });

    it("state records: the cache holds records within its budget of bytes, whatever their number or size", async () => {
      const small = (i: number) => ({ ...didRecord(A, 1), did: `did:sid:small${i}` });
      const big = (i: number): StatusListRecord => ({ ...statusList("did:sid:issuer", `big${i}`), token: "x".repeat(64 * 1024) });
      const smallSize = cachedRecordSize(small(10).did, encodeDidRecord(small(10)).length);
      const budget = 4 * smallSize;
      const repo = new StateRecordRepository(kv, budget);
      const smalls = Array.from({ length: 20 }, (_, i) => small(10 + i));
      const bigs = Array.from({ length: 5 }, (_, i) => big(i));
      await write(kv, (batch) =>
        repo.putEncoded(batch, [...smalls.map((r): [string, Uint8Array] => [r.did, encodeDidRecord(r)]), ...bigs.map((r): [string, Uint8Array] => [stateIdOf(r), encodeStateRecord(r)])]),
      );

      // Twenty small records read: the cache keeps the last four, within the budget.
      for (const r of smalls) expect(await repo.get(r.did)).to.deep.equal(r);
      expect(repo.cacheUse()).to.deep.equal({ entries: 4, bytes: 4 * smallSize });
      // A record larger than the whole budget is read, and not cached: the small ones stay.
      expect(await repo.get(stateIdOf(bigs[0]!))).to.deep.equal(bigs[0]);
      expect(repo.cacheUse()).to.deep.equal({ entries: 4, bytes: 4 * smallSize });
      const loaded = await repo.loadMany(bigs.map(stateIdOf));
      expect([...loaded.values()]).to.deep.equal(bigs);
      expect(repo.cacheUse().bytes).to.be.at.most(budget);

      // A write too large to cache takes the older record out of the cache: a read after it sees the new one.
      const last = smalls[smalls.length - 1]!;
      const cached = await repo.get(last.did);
      expect(await repo.get(last.did)).to.equal(cached);
      const grown = { ...last, versionId: 2, document: { ...last.document, service: Array.from({ length: 40 }, (_, i) => ({ id: `${last.did}#s${i}`, type: "LinkedDomains", serviceEndpoint: `https://example.com/${"p".repeat(200)}/${i}` })) } };
      const grownBytes = encodeDidRecord(grown);
      expect(cachedRecordSize(last.did, grownBytes.length)).to.be.above(budget);
      await write(kv, (batch) => repo.putEncoded(batch, [[last.did, grownBytes]]));
      repo.remember([[last.did, grown]], new Map([[last.did, grownBytes]]));
      expect(await repo.get(last.did)).to.deep.equal(grown);
      expect(repo.cacheUse().bytes).to.be.at.most(budget);
    });

    it("DID versions: whole or from the block, entries, pages, the version at a time, and the index built for an older store", async () => {
      const repo = new DidVersionRepository(kv);
      const did = A.did;
      const tx = (n: number) => filled(32, n);
      const vs = [version(did, 1, 1000, tx(1)), version(did, 2, 2000, tx(2)), version(did, 10, 2000, tx(10)), version(did, 256, 5000, tx(0xff))];
      // A neighbour whose DID extends A's: never mixed in.
      const other = version(did + "1", 1, 500, tx(0x77));
      await write(kv, (batch) => {
        repo.markIndexCurrent(batch);
        // Versions 2 and 10 came by txs of their block: stored without their document.
        repo.put(batch, [...vs, other], new Set([hex(tx(2)), hex(tx(10))]));
      });
      expect(await repo.versionIds(did)).to.deep.equal([1, 2, 10, 256]);
      expect(await repo.versionIds(did + "1")).to.deep.equal([1]);
      expect(await repo.versionIds("did:sid:none")).to.deep.equal([]);
      const stored1 = await repo.getStored(did, 1);
      expect(stored1.whole).to.deep.equal(vs[0]);
      const stored2 = await repo.getStored(did, 2);
      expect(stored2.whole, "a version its block's tx holds is not stored whole").to.equal(undefined);
      expect(stored2.entry).to.deep.equal({ versionId: 2, operation: "update", height: 2, time: 2000, txHash: tx(2) });
      expect(await repo.getStored(did, 3)).to.deep.equal({ whole: undefined, entry: undefined });
      expect(await repo.getStored(did, 0)).to.deep.equal({ whole: undefined, entry: undefined });
      expect((await repo.getEntry(did, 256))?.time).to.equal(5000);
      expect(await repo.getEntry(did, 2 ** 32)).to.equal(undefined);

      const page1 = await repo.page(did, { limit: 2, maxBytes: 10_000 });
      expect(page1.entries.map((e) => e.versionId)).to.deep.equal([1, 2]);
      expect(page1.more).to.equal(true);
      const page2 = await repo.page(did, { after: 2, limit: 2, maxBytes: 10_000 });
      expect(page2).to.deep.include({ more: false });
      expect(page2.entries.map((e) => e.versionId)).to.deep.equal([10, 256]);
      // A byte bound below one entry still gives one.
      const tight = await repo.page(did, { limit: 10, maxBytes: 1 });
      expect(tight.entries.map((e) => e.versionId)).to.deep.equal([1]);
      expect(tight.more).to.equal(true);
      expect(await repo.page(did, { after: 2 ** 32 - 1, limit: 1, maxBytes: 1 })).to.deep.equal({ entries: [], more: false });
      let err: unknown;
      await repo.page(did, { after: -1, limit: 1, maxBytes: 1 }).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(RangeError);

      expect(await repo.at(did, 999)).to.equal(undefined);
      expect(await repo.at(did, 1000)).to.equal(1);
      expect(await repo.at(did, 1999)).to.equal(1);
      // Two versions at one time: the later one.
      expect(await repo.at(did, 2000)).to.equal(10);
      expect(await repo.at(did, 4999)).to.equal(10);
      expect(await repo.at(did, 1e15)).to.equal(256);
      expect(await repo.at(did, Number.NaN)).to.equal(undefined);
      expect(await repo.at(did + "1", 600)).to.equal(1);

      await repo.ensureIndex();
      expect(await repo.versionIds(did), "a current index is left as it is").to.deep.equal([1, 2, 10, 256]);
    });

    it("DID versions: a current entry read from the record, with a block committed between the reads", async () => {
      const did = "did:sid:racing";
      const vs = [1, 2, 3, 4].map((n) => version(did, n, 1000 * n, filled(32, n)));
      const entryOf = (v: DidVersion) => ({ versionId: v.versionId, operation: v.operation, height: v.height, time: v.time, txHash: v.txHash });
      // Versions 1 and 2 stored; 3 is current, its record stands for its entry.
      let current = 3;
      let commitOnRead = false;
      const repo = new DidVersionRepository(kv, async (dids) => {
        const at = current;
        // A block lands right after the record is read: it stores entry 3 and makes version 4 current (its entry not stored).
        if (commitOnRead) {
          commitOnRead = false;
          await write(kv, (batch) => repo.putEntries(batch, new Map([[did, entryOf(vs[2]!)]])));
          current = 4;
        }
        return new Map(dids.includes(did) ? [[did, entryOf(vs[at - 1]!)]] : []);
      });
      await write(kv, (batch) => repo.put(batch, vs.slice(0, 3), new Set(vs.map((v) => hex(v.txHash))), undefined, new Map([[did, 3]])));
      expect(await repo.versionIds(did)).to.deep.equal([1, 2, 3]);
      expect((await repo.page(did, { limit: 10, maxBytes: 1 << 20 })).entries).to.deep.equal(vs.slice(0, 3).map(entryOf));
      // Read first, then the record moved on: the history as of the record read, entry 3 once.
      commitOnRead = true;
      expect(await repo.versionIds(did)).to.deep.equal([1, 2, 3]);
      expect(current).to.equal(4);
      // Now entry 3 is stored and 4 is current.
      expect(await repo.versionIds(did)).to.deep.equal([1, 2, 3, 4]);
      commitOnRead = false;
      expect((await repo.page(did, { after: 2, limit: 10, maxBytes: 1 << 20 })).entries).to.deep.equal(vs.slice(2).map(entryOf));
      expect(await repo.page(did, { after: 3, limit: 1, maxBytes: 1 << 20 })).to.deep.equal({ entries: [entryOf(vs[3]!)], more: false });
      expect(await repo.page(did, { after: 2, limit: 1, maxBytes: 1 << 20 })).to.deep.equal({ entries: [entryOf(vs[2]!)], more: true });
      expect(await repo.page(did, { after: 4, limit: 1, maxBytes: 1 << 20 })).to.deep.equal({ entries: [], more: false });
      expect(await repo.getEntry(did, 5)).to.equal(undefined);

      // A get of entry 5 misses; a block stores it (6 current) before the record is read: the entry is read again.
      const did2 = "did:sid:racing2";
      const ws = [1, 2].map((n) => version(did2, n, 1000 * n, filled(32, 0x20 + n)));
      let cur2 = 1;
      const repo2 = new DidVersionRepository(kv, async () => {
        if (cur2 === 1) {
          await write(kv, (batch) => repo2.putEntries(batch, new Map([[did2, entryOf(ws[0]!)]])));
          cur2 = 2;
        }
        return new Map([[did2, entryOf(ws[cur2 - 1]!)]]);
      });
      expect(await repo2.getEntry(did2, 1)).to.deep.equal(entryOf(ws[0]!));
      expect((await repo2.getStored(did2, 2)).entry).to.deep.equal(entryOf(ws[1]!));
      expect(await repo2.getEntry(did2, 3)).to.equal(undefined);
    });

    it("DID versions: a store without the indexes gets them from its versions; another layout is refused", async () => {
      const repo = new DidVersionRepository(kv);
      const vs = [version(A.did, 1, 1000, filled(32, 1)), version(A.did, 2, 3000, filled(32, 2))];
      // The older layout: versions whole, no index, no marker.
      await write(kv, (batch) => repo.put(batch, vs, new Set()));
      const indexKeys = async () => [
        ...(await collect(kv.keys({ gte: Uint8Array.of(Bucket.DidVersionEntry), lt: Uint8Array.of(Bucket.DidVersionEntry + 1) }))),
        ...(await collect(kv.keys({ gte: Uint8Array.of(Bucket.DidVersionTime), lt: Uint8Array.of(Bucket.DidVersionTime + 1) }))),
      ];
      const written = await indexKeys();
      expect(written.length).to.equal(3);
      await write(kv, (batch) => written.forEach((k) => batch.del(k)));
      expect(await indexKeys()).to.deep.equal([]);
      expect(await repo.at(A.did, 3000)).to.equal(undefined);
      await repo.ensureIndex();
      expect((await indexKeys()).map(hex)).to.deep.equal(written.map(hex));
      expect(await repo.at(A.did, 3000)).to.equal(2);
      expect(hex((await kv.get(metaKey("versionIndex")))!)).to.equal("04");
      expect((await kv.get(didVersionKey(A.did, 2)))!.length).to.be.greaterThan(0);
      // Layouts 1 (every version has its entry), 2 and 3 are read as they are, and marked 4 from then on.
      for (const earlier of [1, 2, 3]) {
        await write(kv, (batch) => batch.put(metaKey("versionIndex"), Uint8Array.of(earlier)));
        await repo.ensureIndex();
        expect(hex((await kv.get(metaKey("versionIndex")))!)).to.equal("04");
        expect((await indexKeys()).map(hex)).to.deep.equal(written.map(hex));
      }
      await write(kv, (batch) => batch.put(metaKey("versionIndex"), Uint8Array.of(5)));
      let err: Error | undefined;
      await repo.ensureIndex().catch((e: Error) => (err = e));
      expect(err?.message).to.match(/layout 05.*resync/);
    });

    it("evidence: where each piece is, all of it in commit order, one validator's, after a piece", async () => {
      const repo = new EvidenceRepository(kv);
      const v1 = filled(20, 1);
      const v2 = filled(20, 2);
      const h = (n: number) => filled(32, n);
      await write(kv, (batch) => {
        repo.putBlock(batch, 5, [
          { hash: h(0x51), validator: v2 },
          { hash: h(0x52), validator: v1 },
        ]);
        repo.putBlock(batch, 12, [{ hash: h(0x11), validator: v1 }]);
        repo.putBlock(batch, 300, [{ hash: h(0x01), validator: v2 }]);
      });
      expect(await repo.location(h(0x52))).to.deep.equal({ height: 5, index: 1, validator: v1 });
      expect(await repo.location(h(0x99))).to.equal(undefined);
      expect((await repo.hashes({ limit: 10 })).map(hex)).to.deep.equal([h(0x51), h(0x52), h(0x11), h(0x01)].map(hex));
      expect((await repo.hashes({ validator: v1, limit: 10 })).map(hex)).to.deep.equal([h(0x52), h(0x11)].map(hex));
      expect((await repo.hashes({ validator: v2, limit: 1 })).map(hex)).to.deep.equal([hex(h(0x51))]);
      const after = (await repo.location(h(0x52)))!;
      expect((await repo.hashes({ after, limit: 10 })).map(hex)).to.deep.equal([h(0x11), h(0x01)].map(hex));
      expect((await repo.hashes({ validator: v1, after, limit: 10 })).map(hex)).to.deep.equal([hex(h(0x11))]);
      expect(await repo.hashes({ validator: filled(20, 3), limit: 10 })).to.deep.equal([]);
    });

    it("validator sets: the set in force at a height is the one that started last at or before it", async () => {
      const repo = new ValidatorSetRepository(kv);
      expect(await repo.inForceAt(1)).to.equal(undefined);
      await write(kv, (batch) => {
        repo.put(batch, 1, validators(1));
        repo.putScheduled(batch, { kind: "validators", current: validators(1), pending: [{ effectiveHeight: 256, set: validators(3) }, { effectiveHeight: 5, set: validators(2) }], updatedHeight: 3 });
        repo.putScheduled(batch, undefined);
      });
      for (const [height, size] of [[1, 1], [4, 1], [5, 2], [255, 2], [256, 3], [10_000, 3]] as const) {
        expect((await repo.inForceAt(height))?.length, `height ${height}`).to.equal(size);
      }
      expect(await repo.inForceAt(256)).to.deep.equal(validators(3));
    });

    it("export log: entries after a number, in order, bounded; the last number and its marker", async () => {
      const repo = new ExportLogRepository(kv);
      expect(await repo.lastSeq()).to.equal(undefined);
      await write(kv, (batch) => {
        repo.putBlock(batch, 1, 1, 2);
        repo.putBlock(batch, 3, 4, 0);
        repo.putBlock(batch, 3, 7, 256);
        repo.putLastSeq(batch, 258);
      });
      expect(await repo.lastSeq()).to.equal(258);
      expect(await repo.entriesAfter(0, 3)).to.deep.equal([
        { seq: 1, height: 1, index: 0 },
        { seq: 2, height: 1, index: 1 },
        { seq: 3, height: 7, index: 0 },
      ]);
      expect(await repo.entriesAfter(257, 10)).to.deep.equal([{ seq: 258, height: 7, index: 255 }]);
      expect(await repo.entriesAfter(258, 10)).to.deep.equal([]);
      expect((await repo.entriesAfter(2, 1000)).length).to.equal(256);
      await write(kv, (batch) => batch.put(metaKey("exportSeq"), Uint8Array.of(1, 2, 3)));
      let err: Error | undefined;
      await repo.lastSeq().catch((e: Error) => (err = e));
      expect(err?.message).to.match(/3 bytes, expected 8/);
    });

    it("Merkle nodes: records under (height, hash), read in one turn together, deleted; stale records in one record per height with their places", async () => {
      const repo = new SmtNodeRepository(kv);
      const node = (n: number) => filled(32, n);
      const stale = (hash: Uint8Array, at: number) => ({ hash, path: filled(32, 0xaa), depth: 3, leaf: false, mayReturn: false, at });
      await write(kv, (batch) => {
        repo.putNodes(batch, 5, [[hex(node(1)), Uint8Array.of(1)], [hex(node(2)), Uint8Array.of(2)]]);
        repo.putNode(batch, 300, node(3), Uint8Array.of(3));
        repo.putStale(batch, 400, [stale(node(1), 6), stale(node(4), 1), stale(node(3), 301)]);
        repo.putStale(batch, 2, [stale(node(2), 2)]);
        repo.putStale(batch, 500, [stale(node(5), 501)]);
        repo.putStale(batch, 3, []);
      });
      // A record is found only at its own height; the place is the height + 1.
      const got = await Promise.all([repo.get(node(3), 301), repo.get(node(9), 6), repo.get(node(1), 6), repo.get(node(1), 7), repo.get(node(1), 0)]);
      expect(got.map((v) => (v ? hex(v) : null))).to.deep.equal(["03", null, "01", null, null]);
      const nodeKeys = await collect(kv.keys({ gte: Uint8Array.of(Bucket.SmtNodeAt), lt: Uint8Array.of(Bucket.SmtNodeAt + 1) }));
      expect(nodeKeys.map((k) => hex(k))).to.deep.equal([hex(smtNodeAtKey(5, node(1))), hex(smtNodeAtKey(5, node(2))), hex(smtNodeAtKey(300, node(3)))]);
      // One key per height with stale records, none for a height without.
      const keys = await collect(kv.keys({ gte: Uint8Array.of(Bucket.StaleSmtNode), lt: Uint8Array.of(Bucket.StaleSmtNode + 1) }));
      expect(keys.map((k) => hex(k))).to.deep.equal([2, 400, 500].map((h) => hex(staleSmtNodesKey(h))));
      const records = await collect(repo.staleBetween(1, 400));
      const show = (r: StaleRecord) => r.entries.map((e) => [hex(e.hash), e.at, e.trail ?? null]);
      expect(records.map(show)).to.deep.equal([
        [[hex(node(2)), 2, null]],
        [
          [hex(node(1)), 6, null],
          [hex(node(4)), 1, null],
          [hex(node(3)), 301, null],
        ],
      ]);
      expect(await collect(repo.staleBetween(401, 499))).to.deep.equal([]);
      await write(kv, (batch) => {
        for (const r of records) repo.delStale(batch, r);
        repo.delNode(batch, node(2), 6);
      });
      expect(await repo.get(node(2), 6)).to.equal(undefined);
      expect(hex((await repo.get(node(1), 6))!)).to.equal("01");
      expect((await collect(repo.staleBetween(0, 1000))).map(show)).to.deep.equal([[[hex(node(5)), 501, null]]]);
      // Records under their hash alone (the earlier layout) are read and deleted at place 0.
      await write(kv, (batch) => batch.put(smtNodeKey(node(7)), Uint8Array.of(7)));
      expect(hex((await repo.get(node(7), 0))!)).to.equal("07");
      expect(await repo.get(node(7), 1)).to.equal(undefined);
      await write(kv, (batch) => repo.delNode(batch, node(7), 0));
      expect(await repo.get(node(7), 0)).to.equal(undefined);
      // A record under its hash alone goes stale at place 0; this store writes no stale record that may be written again.
      await write(kv, (batch) => repo.putStale(batch, 9, [stale(node(7), 0)]));
      expect((await collect(repo.staleBetween(9, 9))).map(show)).to.deep.equal([[[hex(node(7)), 0, null]]]);
      expect(() => repo.putStale(kv.batch(), 9, [{ ...stale(node(1), 3), mayReturn: true }])).to.throw(RangeError, /not written by this store/);
    });

    it("Merkle nodes: stale records of the earlier layouts (format 1 with trails; one key per node) are read at place 0 and deleted beside records, in height order", async () => {
      const repo = new SmtNodeRepository(kv);
      const node = (n: number) => filled(32, n);
      const trail = Uint8Array.from([1, 0, 5, ...node(0xdd)]);
      // Format 1: flags, hash, and with a trail u16be depth and the path.
      const format1 = Uint8Array.from([1, 3, ...node(1), 0, 3, ...node(0xaa), 0, ...node(4), 1, ...node(5), 1, 44, ...node(0xac)]);
      await write(kv, (batch) => {
        batch.put(staleSmtNodeKey(3, node(7)), new Uint8Array(0));
        batch.put(staleSmtNodeKey(3, node(8)), trail);
        batch.put(staleSmtNodeKey(6, node(9)), new Uint8Array(0));
        batch.put(staleSmtNodesKey(3), format1);
        repo.putStale(batch, 5, [{ hash: node(2), path: node(0xbb), depth: 2, leaf: false, mayReturn: false, at: 4 }]);
      });
      const records = await collect(repo.staleBetween(3, 5));
      expect(records.map((r) => r.entries.map((e) => [hex(e.hash), e.at, e.trail ? [e.trail.leaf, e.trail.depth, hex(e.trail.path)] : null]))).to.deep.equal([
        [
          [hex(node(1)), 0, [true, 3, hex(node(0xaa))]],
          [hex(node(4)), 0, null],
          [hex(node(5)), 0, [false, 300, hex(node(0xac))]],
        ],
        [[hex(node(7)), 0, null]],
        [[hex(node(8)), 0, [true, 5, hex(node(0xdd))]]],
        [[hex(node(2)), 4, null]],
      ]);
      await write(kv, (batch) => {
        for (const r of records) repo.delStale(batch, r);
      });
      const left = await collect(kv.keys({ gte: Uint8Array.of(Bucket.StaleSmtNode), lt: Uint8Array.of(Bucket.StaleSmtNode + 1) }));
      expect(left.map((k) => hex(k))).to.deep.equal([hex(staleSmtNodeKey(6, node(9)))]);
    });

    it("Merkle nodes: a malformed stale record is damage naming its height, reported before the walk fails, not nodes misread", async () => {
      const reported: unknown[] = [];
      const repo = new SmtNodeRepository(kv, (e) => reported.push(e));
      const cases: Array<[Uint8Array, RegExp]> = [
        [new Uint8Array(0), /height 7 is malformed: format missing/],
        [Uint8Array.of(3, 0, ...filled(32, 1)), /format 3, expected 2/],
        [Uint8Array.of(1, 0, ...filled(31, 1)), /node at byte 1 cut short/],
        [Uint8Array.of(1, 1, ...filled(32, 1), 0, 1, ...filled(31, 2)), /node at byte 1 cut short/],
        [Uint8Array.of(1, 2, ...filled(32, 1)), /flags 2 at byte 1/],
        [Uint8Array.of(1, 0, ...filled(32, 1), 4, ...filled(32, 1)), /flags 4 at byte 34/],
        [Uint8Array.of(2, 3, ...filled(31, 1)), /node at byte 1 cut short/],
        [Uint8Array.of(2, 3, ...filled(32, 1), 0x80), /the place at byte 34: varint cut short/],
        [Uint8Array.of(2, 9, ...filled(32, 1)), /place 9 at byte 1/],
      ];
      await write(kv, (batch) => repo.putStale(batch, 7, [{ hash: filled(32, 1), path: filled(32, 2), depth: 1, leaf: true, mayReturn: false, at: 8 }]));
      expect((await collect(repo.staleBetween(7, 7)))[0]!.entries).to.have.length(1);
      expect(reported).to.deep.equal([]);
      for (const [value, message] of cases) {
        await write(kv, (batch) => batch.put(staleSmtNodesKey(7), value));
        let err: (Error & { code?: string }) | undefined;
        await collect(repo.staleBetween(7, 7)).catch((e: Error) => (err = e));
        expect(err?.message, hex(value)).to.match(message);
        expect(err?.code).to.equal("LEVEL_CORRUPTION");
        expect(err?.message).to.match(/resync/);
        expect(reported.at(-1)).to.equal(err);
      }
      expect(reported).to.have.length(cases.length);
    });

    it("meta: nothing in a new store; the head, state-kept-from, base height, first keyed height and genesis hash once written", async () => {
      const repo = new MetaRepository(kv);
      expect(await repo.load()).to.deep.equal({ head: undefined, stateKeptFrom: undefined, baseHeight: undefined, smtKeyedFrom: undefined });
      expect(await repo.genesisHash()).to.equal(undefined);
      const head = { height: 9, hash: filled(32, 9), time: 1234, stateRoot: filled(32, 0x99) };
      await write(kv, (batch) => {
        repo.putHead(batch, head);
        repo.putStateKeptFrom(batch, 3);
        repo.putBaseHeight(batch, 2 ** 40);
        repo.putSmtKeyedFrom(batch, 5);
        repo.putGenesisHash(batch, filled(32, 0x47));
      });
      expect(await repo.load()).to.deep.equal({ head, stateKeptFrom: 3, baseHeight: 2 ** 40, smtKeyedFrom: 5 });
      expect(hex((await repo.genesisHash())!)).to.equal(hex(filled(32, 0x47)));
    });
  });
}

repositoryChecks("the in-memory store", async () => {
  const kv = new MemoryKv();
  return { kv, done: () => kv.close() };
});

repositoryChecks("LevelDB", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sid-repos-"));
  const kv = await LevelKv.open(join(dir, "db"), new FaultLatch());
  return {
    kv,
    done: async () => {
      await kv.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
