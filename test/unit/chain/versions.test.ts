/**
 * The version indexes of the LevelDB store: a DID with hundreds of versions
 * (several per block, gaps between blocks, a deactivation last), read by
 * number, by time (exactly at, between, before the first, after the last)
 * and in pages bounded by count and bytes; resolution over them gives the
 * same answers as the rules applied to the whole history; a store written
 * before the indexes existed is indexed when opened.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Block, type BlockHeader, type Commit, ZERO_HASH, headerHash, txMerkleRoot } from "../../../src/chain/block.js";
import { Bucket, didVersionEntryKey, metaKey } from "../../../src/chain/buckets.js";
import type { DidRecord, DidVersion } from "../../../src/chain/state.js";
import { ChainStore, type DidVersionEntry } from "../../../src/chain/store.js";
import { type DidDocument } from "../../../src/did/document.js";
import { addService } from "../../../src/did/document-edit.js";
import { type ResolutionOptions, resolutionTime, resolveFromVersions } from "../../../src/did/resolution.js";
import { createResolveDid } from "../../../src/rpc/resolve.js";
import { CHAIN_ID, fixedKey, hex, testDid } from "../../helpers/fixtures.js";

const A = testDid(fixedKey(1));
const GENESIS_HASH = new Uint8Array(32).fill(0x47);
const GENESIS_TIME = Date.UTC(2026, 0, 1);
const VERSIONS = 300;

/** Commit a block at `time` holding `versions` (no txs: the store does not re-execute) and the DIDs' records. */
async function commitVersions(store: ChainStore, time: number, versions: DidVersion[], records: DidRecord[]): Promise<void> {
  const head = store.head();
  const height = head.height + 1;
  const writes = new Map(records.map((r) => [r.did, r]));
  const { root, nodes, encoded } = await store.computeStateRoot(writes);
  const header: BlockHeader = {
    chainId: CHAIN_ID,
    height,
    time,
    prevHash: head.hash,
    txRoot: txMerkleRoot([]),
    evidenceHash: ZERO_HASH,
    stateRoot: root,
    validatorsHash: new Uint8Array(32).fill(0x56),
    nextValidatorsHash: new Uint8Array(32).fill(0x56),
    proposer: new Uint8Array(20).fill(0x50),
    lastCommitHash: ZERO_HASH,
  };
  const block: Block = { header, txs: [], evidence: [], lastCommit: null };
  const blockHash = headerHash(header);
  const commit: Commit = { height, round: 0, blockHash, sigs: [] };
  await store.commitBlock({ block, blockHash, commit, txHashes: [], writes, encodedWrites: encoded, versions, smtNodes: nodes });
}

/**
 * Grow `did` to `count` versions: 1 to 3 per block, blocks 1 s apart with a
 * 1 h gap every 50 blocks, the last version a deactivation. Returns every
 * version as committed.
 */
async function grow(store: ChainStore, did: string, firstDoc: DidDocument, count: number): Promise<DidVersion[]> {
  const all: DidVersion[] = [];
  let time = store.head().time;
  let block = 0;
  while (all.length < count) {
    block++;
    time += block % 50 === 0 ? 3_600_000 : 1_000;
    const inBlock: DidVersion[] = [];
    for (let k = 0; k < 1 + (block % 3) && all.length < count; k++) {
      const versionId = all.length + 1;
      const operation = versionId === 1 ? "create" : versionId === count ? "deactivate" : "update";
      const document = versionId === 1 ? firstDoc : addService(firstDoc, { id: `${did}#s${versionId}`, type: "LinkedDomains", serviceEndpoint: `https://v${versionId}.example` });
      const txHash = new Uint8Array(32);
      new DataView(txHash.buffer).setUint32(0, versionId);
      const v: DidVersion = { did, versionId, operation, height: store.head().height + 1, time, txHash, document };
      inBlock.push(v);
      all.push(v);
    }
    const last = inBlock[inBlock.length - 1]!;
    const record: DidRecord = {
      did,
      document: last.operation === "deactivate" ? all[all.length - 2]!.document : last.document,
      versionId: last.versionId,
      nonce: last.versionId,
      created: all[0]!.time,
      updated: time,
      createdHeight: all[0]!.height,
      updatedHeight: last.height,
      deactivated: last.operation === "deactivate",
    };
    await commitVersions(store, time, inBlock, [record]);
  }
  return all;
}

const entryOf = (v: DidVersion): DidVersionEntry => ({ versionId: v.versionId, operation: v.operation, height: v.height, time: v.time, txHash: v.txHash });
const iso = (ms: number) => new Date(ms).toISOString();

describe("chain/store: version indexes", function () {
  this.timeout(30_000);
  let dir: string;
  let store: ChainStore;
  let history: DidVersion[];
  /** A DID whose string extends A's: its versions must never show up under A. */
  const neighbour = `${A.did}1`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sid-versions-test-"));
    store = await ChainStore.open(join(dir, "db"));
    await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
    history = await grow(store, A.did, A.doc, VERSIONS);
    const n: DidVersion = { ...history[0]!, did: neighbour, versionId: 1, time: store.head().time + 1000, height: store.head().height + 1 };
    await commitVersions(store, n.time, [n, { ...n, versionId: 2 }], []);
  });
  after(async () => {
    await store?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads any version by its number, with and without its document", async () => {
    for (const k of [1, 2, 3, 99, 150, VERSIONS - 1, VERSIONS]) {
      const v = await store.getDidVersion(A.did, k);
      expect(v, `version ${k}`).to.deep.equal(history[k - 1]);
      expect(await store.getDidVersionEntry(A.did, k), `entry ${k}`).to.deep.equal(entryOf(history[k - 1]!));
    }
    for (const k of [0, -1, VERSIONS + 1, 2 ** 32, 2 ** 40 + 1, 1.5, NaN]) {
      expect(await store.getDidVersion(A.did, k), `version ${k}`).to.equal(undefined);
      expect(await store.getDidVersionEntry(A.did, k), `entry ${k}`).to.equal(undefined);
    }
    expect((await store.getDidVersionEntry(neighbour, 2))?.versionId).to.equal(2);
    expect(await store.getDidVersionEntry(neighbour, 3)).to.equal(undefined);
  });

  it("finds the version valid at a time: exactly at, between, before the first, after the last", async () => {
    const latestAt = (t: number) => history.filter((v) => v.time <= t).pop()?.versionId;
    // Exactly at each block's time: the last version of that block, not the first.
    const blockTimes = [...new Set(history.map((v) => v.time))];
    for (const t of blockTimes) expect(await store.didVersionAt(A.did, t), `at ${iso(t)}`).to.equal(latestAt(t));
    const sameBlock = history.filter((v) => v.time === history[1]!.time).map((v) => v.versionId);
    expect(sameBlock.length, "the fixture has a block of several versions").to.be.greaterThan(1);
    expect(await store.didVersionAt(A.did, history[1]!.time)).to.equal(sameBlock[sameBlock.length - 1]);
    // Between blocks, in a long gap, one ms before a block.
    for (let i = 1; i < blockTimes.length; i += 7) {
      const [prev, next] = [blockTimes[i - 1]!, blockTimes[i]!];
      for (const t of [prev + 1, Math.floor((prev + next) / 2), next - 1]) expect(await store.didVersionAt(A.did, t), `between ${iso(t)}`).to.equal(latestAt(prev));
    }
    expect(await store.didVersionAt(A.did, history[0]!.time - 1)).to.equal(undefined);
    expect(await store.didVersionAt(A.did, 0)).to.equal(undefined);
    expect(await store.didVersionAt(A.did, -5)).to.equal(undefined);
    expect(await store.didVersionAt(A.did, history[VERSIONS - 1]!.time)).to.equal(VERSIONS);
    expect(await store.didVersionAt(A.did, Date.UTC(9999, 11, 31))).to.equal(VERSIONS);
    expect(await store.didVersionAt(A.did, Number.MAX_VALUE)).to.equal(VERSIONS);
    // The neighbour's later versions are not A's.
    expect(await store.didVersionAt(neighbour, history[VERSIONS - 1]!.time)).to.equal(undefined);
    expect(await store.didVersionAt(testDid(fixedKey(9)).did, Date.UTC(9999, 0, 1))).to.equal(undefined);
  });

  it("pages the history with cursors: every version once, in order, bounded by count", async () => {
    for (const limit of [1, 7, 100, 299, 300, 1000]) {
      const seen: DidVersionEntry[] = [];
      let after = 0;
      let pages = 0;
      for (;;) {
        const page = await store.didVersionPage(A.did, { after, limit, maxBytes: 1 << 20 });
        pages++;
        expect(page.entries.length, `limit ${limit}`).to.be.at.most(limit);
        seen.push(...page.entries);
        if (!page.more) break;
        expect(page.entries.length, `a page with more after it is full (limit ${limit})`).to.equal(limit);
        after = page.entries[page.entries.length - 1]!.versionId;
      }
      expect(seen, `limit ${limit}`).to.deep.equal(history.map(entryOf));
      expect(pages, `limit ${limit}`).to.equal(Math.max(1, Math.ceil(VERSIONS / limit)));
    }
    // A page after the last version, or past any version number, is empty and last.
    expect(await store.didVersionPage(A.did, { after: VERSIONS, limit: 10, maxBytes: 1 << 20 })).to.deep.equal({ entries: [], more: false });
    expect(await store.didVersionPage(A.did, { after: 2 ** 40, limit: 10, maxBytes: 1 << 20 })).to.deep.equal({ entries: [], more: false });
    expect((await store.didVersionPage(neighbour, { limit: 10, maxBytes: 1 << 20 })).entries.map((e) => e.versionId)).to.deep.equal([1, 2]);
    expect(await store.didVersionPage(testDid(fixedKey(9)).did, { limit: 10, maxBytes: 1 << 20 })).to.deep.equal({ entries: [], more: false });
    await store.didVersionPage(A.did, { after: -1, limit: 10, maxBytes: 1 }).then(
      () => expect.fail("after -1 accepted"),
      (e: Error) => expect(e).to.be.instanceOf(RangeError),
    );
    await store.didVersionPage(A.did, { limit: 0, maxBytes: 1 }).then(
      () => expect.fail("limit 0 accepted"),
      (e: Error) => expect(e).to.be.instanceOf(RangeError),
    );
  });

  it("bounds a page by the bytes of its entries, and always moves on by at least one", async () => {
    // Entries are of near-equal size: a budget of about 5 entries answers 4 or 5, far below the count bound.
    const all = await store.didVersionPage(A.did, { limit: 1000, maxBytes: 1 << 20 });
    const entryBytes = Math.max(...(await Promise.all(all.entries.slice(0, 20).map(async (e) => (await store.db.get(didVersionEntryKey(A.did, e.versionId)))!.length))));
    const budget = entryBytes * 5;
    const seen: number[] = [];
    let after = 0;
    for (let pages = 0; ; pages++) {
      expect(pages, "pages keep moving").to.be.lessThan(VERSIONS);
      const page = await store.didVersionPage(A.did, { after, limit: 1000, maxBytes: budget });
      expect(page.entries.length).to.be.within(1, 5);
      if (page.more) expect(page.entries.length, "a byte-bound page is as full as the budget allows").to.be.at.least(4);
      seen.push(...page.entries.map((e) => e.versionId));
      if (!page.more) break;
      after = page.entries[page.entries.length - 1]!.versionId;
    }
    expect(seen).to.deep.equal(history.map((v) => v.versionId));
    // A budget smaller than one entry still answers one.
    const tiny = await store.didVersionPage(A.did, { after: 5, limit: 1000, maxBytes: 1 });
    expect(tiny.entries.map((e) => e.versionId)).to.deep.equal([6]);
    expect(tiny.more).to.equal(true);
  });

  it("resolves any version by number or time as the rules over the whole history do", async () => {
    const now = store.head().time + 60_000;
    const resolve = createResolveDid(
      {
        head: () => store.head(),
        getDid: (d) => store.getDid(d),
        getDidVersion: (d, n) => store.getDidVersion(d, n),
        getDidVersionEntry: (d, n) => store.getDidVersionEntry(d, n),
        didVersionAt: (d, t) => store.didVersionAt(d, t),
      },
      () => now,
    );
    const infos = history.map((v) => ({ versionId: v.versionId, time: v.time, deactivated: v.operation === "deactivate", document: v.document }));
    const reference = (opts: ResolutionOptions) => resolveFromVersions(A.did, infos, opts, now);
    const asked: ResolutionOptions[] = [{}];
    for (const k of [1, 2, 3, 4, 50, 149, 150, VERSIONS - 1, VERSIONS, VERSIONS + 1, 10 ** 15]) asked.push({ versionId: String(k) });
    for (const v of history.filter((_, i) => i % 23 === 0 || i >= VERSIONS - 2)) {
      asked.push({ versionTime: iso(v.time) }, { versionTime: iso(v.time + 1) }, { versionTime: iso(v.time - 1) }, { versionTime: resolutionTime(v.time) });
    }
    asked.push({ versionTime: iso(history[0]!.time - 1000) }, { versionTime: "1970-01-01T00:00:00Z" }, { versionTime: "0001-01-01T00:00:00Z" }, { versionTime: iso(now) });
    for (const opts of asked) expect(await resolve(A.did, opts), JSON.stringify(opts)).to.deep.equal(reference(opts));

    // The metadata that needs neighbours, spelled out once.
    const v1 = await resolve(A.did, { versionId: "1" });
    expect(v1.didDocumentMetadata).to.deep.equal({
      created: resolutionTime(history[0]!.time),
      versionId: "1",
      nextVersionId: "2",
      nextUpdate: resolutionTime(history[1]!.time),
    });
    const last = await resolve(A.did, { versionId: String(VERSIONS) });
    expect(last.didDocumentMetadata).to.deep.include({ versionId: String(VERSIONS), deactivated: true });
    expect(last.didDocumentMetadata).to.not.have.property("nextVersionId");
    const beforeLast = await resolve(A.did, { versionId: String(VERSIONS - 1) });
    expect(beforeLast.didDocumentMetadata).to.deep.include({ nextVersionId: String(VERSIONS) });
    expect(beforeLast.didDocumentMetadata).to.not.have.property("deactivated");
    const early = await resolve(A.did, { versionTime: iso(history[0]!.time - 1) });
    expect(early.didResolutionMetadata.error).to.equal("notFound");
    expect(early.didResolutionMetadata.errorMessage).to.match(/did not exist at/);
  });

  it("says so when the index lacks a version the record names, instead of answering from what is left", async () => {
    const resolve = createResolveDid(
      {
        head: () => store.head(),
        getDid: (d) => store.getDid(d),
        getDidVersion: (d, n) => store.getDidVersion(d, n),
        getDidVersionEntry: (d, n) => (n === 42 ? Promise.resolve(undefined) : store.getDidVersionEntry(d, n)),
        didVersionAt: (d, t) => store.didVersionAt(d, t),
      },
      () => store.head().time,
    );
    let thrown: Error | undefined;
    await resolve(A.did, { versionId: "41" }).catch((e: Error) => (thrown = e));
    expect(thrown?.message).to.match(/lacks version 42 of 300; resync/);
  });
});

describe("chain/store: a store written before the version indexes", function () {
  this.timeout(30_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sid-reindex-test-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("is indexed once when opened, and answers as a store that always had the indexes", async () => {
    const path = join(dir, "db");
    let store = await ChainStore.open(path);
    await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
    const history = await grow(store, A.did, A.doc, 1_100);
    const before = {
      page: await store.didVersionPage(A.did, { after: 1000, limit: 50, maxBytes: 1 << 20 }),
      at: await Promise.all(history.filter((_, i) => i % 97 === 0).map((v) => store.didVersionAt(A.did, v.time + 1))),
    };
    // Take the indexes and their marker away, as a store of the earlier layout had them.
    const dropped: Uint8Array[] = [];
    for await (const key of store.db.keys({ gte: Uint8Array.of(Bucket.DidVersionEntry), lt: Uint8Array.of(Bucket.DidVersionEntry + 1) })) dropped.push(key);
    for await (const key of store.db.keys({ gte: Uint8Array.of(Bucket.DidVersionTime), lt: Uint8Array.of(Bucket.DidVersionTime + 1) })) dropped.push(key);
    // Every version's entry, and the time key of every version but the first (its entry has its time).
    expect(dropped.length).to.equal(2 * 1_100 - 1);
    await store.db.batch([...dropped.map((key) => ({ type: "del" as const, key })), { type: "del" as const, key: metaKey("versionIndex") }]);
    expect(await store.getDidVersionEntry(A.did, 5)).to.equal(undefined);
    await store.close();

    store = await ChainStore.open(path);
    try {
      expect(await store.didVersionPage(A.did, { after: 1000, limit: 50, maxBytes: 1 << 20 })).to.deep.equal(before.page);
      expect(await Promise.all(history.filter((_, i) => i % 97 === 0).map((v) => store.didVersionAt(A.did, v.time + 1)))).to.deep.equal(before.at);
      expect(await store.getDidVersionEntry(A.did, 1_100)).to.deep.equal(entryOf(history[1_099]!));
      expect(hex((await store.db.get(metaKey("versionIndex")))!)).to.equal("04");
    } finally {
      await store.close();
    }
  });

  it("refuses an index of a layout it does not know, naming the way out", async () => {
    const path = join(dir, "db-future");
    let store = await ChainStore.open(path);
    await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
    await store.db.put(metaKey("versionIndex"), Uint8Array.of(5));
    await store.close();
    let thrown: Error | undefined;
    await ChainStore.open(path).then(
      (s) => s.close(),
      (e: Error) => (thrown = e),
    );
    expect(thrown?.message).to.match(/layout 05.*layout 4.*resync/);
  });
});
