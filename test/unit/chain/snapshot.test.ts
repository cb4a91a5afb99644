import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { Readable } from "node:stream";
import { buffer as streamBuffer } from "node:stream/consumers";
import { constants as zlibConstants, createBrotliCompress } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { EMPTY_ROOT, SparseMerkleTree, type SmtNodeReader } from "../../../src/chain/smt.js";
import {
  type Leaf,
  type SnapshotManifest,
  SnapshotErrorCode,
  MAX_CHUNK_DATA_BYTES,
  SNAPSHOT_FORMAT,
  SNAPSHOT_FORMAT_PLAIN,
  buildSubtree,
  chunkData,
  chunkIndexOf,
  decodeManifest,
  encodeChunk,
  encodeManifest,
  leafOf,
  manifestRoot,
  rootFromSubtrees,
  verifyChunk,
  verifyChunkFile,
  verifyManifest,
} from "../../../src/chain/snapshot.js";
import { SnapshotDir, SnapshotRestorer, SnapshotWriter, TARGET_CHUNK_BYTES, chunkBitsFor, resolveSnapshotOptions, writeSnapshot } from "../../../src/chain/snapshot-store.js";
import { ChainStore } from "../../../src/chain/store.js";
import { decodeCanonical } from "../../../src/chain/codec.js";
import { compareBytes } from "../../../src/crypto/bytes.js";
import { sha256 } from "../../../src/crypto/hash.js";
import { type StateRecord, stateIdOf, stateKeyOf } from "../../../src/chain/state.js";
import type { Block, Commit } from "../../../src/chain/block.js";
import { loggerOf } from "../../../src/log/logger.js";
import { numberedDidRecord } from "../../helpers/state-records.js";
import { reachableRecords, storedRecordId } from "../../helpers/smt-records.js";
import { Bucket, metaKey } from "../../../src/chain/buckets.js";
import { rawKv } from "../../helpers/store-raw.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const H = (s: string) => new Uint8Array(createHash("sha256").update(s).digest());

function memReader(nodes: Map<string, Uint8Array>): SmtNodeReader {
  return { getNode: async (h) => nodes.get(hex(h)) };
}

/** The live tree's root over `leaves`, built by SparseMerkleTree.update in several batches. */
async function liveRoot(leaves: Leaf[]): Promise<Uint8Array> {
  const nodes = new Map<string, Uint8Array>();
  const smt = new SparseMerkleTree(memReader(nodes), { cacheSize: 0 });
  let root: Uint8Array = EMPTY_ROOT.slice();
  for (let i = 0; i < leaves.length; i += 37) {
    const r = await smt.update(root, leaves.slice(i, i + 37).map((l) => ({ key: l.key, value: l.valueHash })));
    for (const [k, v] of r.newNodes) nodes.set(k, v);
    root = r.root;
  }
  return root;
}

function chunkedRoot(leaves: Leaf[], bits: number): Uint8Array {
  const sorted = [...leaves].sort((a, b) => compareBytes(a.key, b.key));
  const groups: Leaf[][] = Array.from({ length: 1 << bits }, () => []);
  for (const l of sorted) groups[chunkIndexOf(l.key, bits)]!.push(l);
  return rootFromSubtrees(groups.map((g) => ({ hash: buildSubtree(g, bits), leaves: g.length })), bits);
}

function leavesOf(n: number, seed: string): Leaf[] {
  return Array.from({ length: n }, (_, i) => ({ key: H(`${seed}/k/${i}`), valueHash: H(`${seed}/v/${i}`) }));
}

const didRecord = (i: number): StateRecord => numberedDidRecord(i);

/** A brotli stream of `mib` MiB of zeros: a few hundred bytes a MiB, built from one reused MiB. */
async function zeroBomb(mib: number): Promise<Uint8Array> {
  const zero = Buffer.alloc(1 << 20);
  const src = Readable.from(
    (function* () {
      for (let i = 0; i < mib; i++) yield zero;
    })(),
  );
  return new Uint8Array(await streamBuffer(src.pipe(createBrotliCompress({ params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } }))));
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as { code: string }).code, message: (e as Error).message };
  }
  throw new Error("accepted");
}

describe("state snapshots: chunking and verification", () => {
  it("the root from chunk subtrees equals the live state root (0, 1, 2, few and many leaves; several chunk sizes)", async () => {
    for (const n of [0, 1, 2, 3, 17, 300, 2000]) {
      const leaves = leavesOf(n, `n${n}`);
      const live = await liveRoot(leaves);
      for (const bits of [4, 6, 10]) expect(hex(chunkedRoot(leaves, bits)), `n=${n} bits=${bits}`).to.equal(hex(live));
    }
  });

  it("keys sharing a long prefix with a chunk holding one leaf next to an empty sibling still give the live root", async () => {
    // Two leaves in chunk 0 that diverge deep, one alone in another chunk, the rest empty.
    const k1 = new Uint8Array(32);
    const k2 = new Uint8Array(32);
    k2[31] = 1;
    const k3 = new Uint8Array(32).fill(0xff);
    const leaves = [k1, k2, k3].map((key, i) => ({ key, valueHash: H(`v${i}`) }));
    expect(hex(chunkedRoot(leaves, 8))).to.equal(hex(await liveRoot(leaves)));
    expect(hex(chunkedRoot(leaves.slice(2), 8))).to.equal(hex(await liveRoot(leaves.slice(2))));
  });

  describe("with a real store", () => {
    let dir: string;
    let store: ChainStore;
    let records: StateRecord[];
    let manifest: SnapshotManifest;
    let snaps: SnapshotDir;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "sid-snapshot-test-"));
      store = await ChainStore.open(join(dir, "chain"));
      records = Array.from({ length: 500 }, (_, i) => didRecord(i));
      records.push({ kind: "trustees", members: ["did:sid:test000001"], threshold: 1, updatedHeight: 0 } as StateRecord);
      await store.initGenesis(H("genesis"), 1000, records);
      snaps = new SnapshotDir(join(dir, "snapshots"));
      const db = store.db as unknown as { snapshot(): { close(): Promise<void> } };
      const snap = db.snapshot();
      manifest = await writeSnapshot(store, snap, snaps, { height: 1, stateRoot: store.head().stateRoot, proposerPriorities: null }, 6);
      await snap.close();
    });
    after(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("writes a format-2 manifest whose chunk roots give the store's state root, and compressed chunks that each verify", async () => {
      expect(manifest.format).to.equal(SNAPSHOT_FORMAT).and.to.equal(2);
      verifyManifest(manifest, store.head().stateRoot);
      expect(snaps.heights()).to.deep.equal([1]);
      const again = decodeManifest(decodeCanonical(snaps.manifestBytes(1)!));
      expect(hex(encodeManifest(again))).to.equal(hex(encodeManifest(manifest)));
      let total = 0;
      for (let i = 0; i < manifest.chunks.length; i++) {
        const c = await snaps.chunk(1, i);
        if (manifest.chunks[i]!.leaves === 0) {
          expect(c).to.equal(undefined);
          continue;
        }
        // The manifest's bytes and hash are the file's as stored and served (compressed); its data is canonical CBOR.
        expect(c!.length).to.equal(manifest.chunks[i]!.bytes);
        expect(hex(sha256(c!))).to.equal(hex(manifest.chunks[i]!.hash));
        const data = await chunkData(manifest, i, c!);
        expect(data.length).to.be.greaterThan(c!.length);
        expect(() => decodeCanonical(c!)).to.throw();
        expect(verifyChunk(manifest, i, data).items.length).to.equal(manifest.chunks[i]!.leaves);
        total += (await verifyChunkFile(manifest, i, c!)).items.length;
      }
      expect(total).to.equal(records.length);
    });

    const firstChunk = () => manifest.chunks.findIndex((c) => c.leaves >= 2);
    const itemsOf = async (i: number) => (decodeCanonical(await chunkData(manifest, i, (await snaps.chunk(1, i))!)) as { items: [string, Uint8Array][] }).items.map(([id, bytes]) => ({ id, bytes }));
    const refused = (i: number, bytes: Uint8Array, m = manifest) => {
      try {
        verifyChunk(m, i, bytes);
      } catch (e) {
        expect((e as { code: string }).code).to.equal(SnapshotErrorCode.BAD_CHUNK);
        return (e as Error).message;
      }
      throw new Error("chunk accepted");
    };

    it("refuses a chunk with a tampered record", async () => {
      const i = firstChunk();
      const items = await itemsOf(i);
      const b = new Uint8Array(items[0]!.bytes);
      b[b.length - 1] ^= 1;
      items[0] = { id: items[0]!.id, bytes: b };
      expect(refused(i, encodeChunk(i, items))).to.match(/subtree root/);
    });

    it("refuses a chunk with a record missing", async () => {
      const i = firstChunk();
      expect(refused(i, encodeChunk(i, (await itemsOf(i)).slice(1)))).to.match(/subtree root/);
    });

    it("refuses a chunk with an extra record (of its prefix) and one with a record of another chunk", async () => {
      const i = firstChunk();
      const items = await itemsOf(i);
      // A record whose key falls in chunk i but is not in the state.
      let extra: { id: string; bytes: Uint8Array } | undefined;
      for (let n = 0; !extra; n++) {
        const id = `did:sid:extra${n}`;
        if (chunkIndexOf(stateKeyOf(id), manifest.chunkBits) === i) extra = { id, bytes: items[0]!.bytes };
      }
      const withExtra = [...items, extra].sort((a, b) => compareBytes(stateKeyOf(a.id), stateKeyOf(b.id)));
      expect(refused(i, encodeChunk(i, withExtra))).to.match(/subtree root/);
      const j = manifest.chunks.findIndex((c, k) => k !== i && c.leaves > 0);
      const foreign = [...items, (await itemsOf(j))[0]!].sort((a, b) => compareBytes(stateKeyOf(a.id), stateKeyOf(b.id)));
      expect(refused(i, encodeChunk(i, foreign))).to.match(/belongs to chunk/);
    });

    it("refuses records out of order, a chunk claiming another index, and garbage", async () => {
      const i = firstChunk();
      const items = await itemsOf(i);
      expect(refused(i, encodeChunk(i, [...items].reverse()))).to.match(/ascending/);
      expect(refused(i, encodeChunk(i + 1, items))).to.match(/says it is chunk/);
      expect(refused(i, Uint8Array.of(1, 2, 3))).to.match(/CBOR/);
    });

    it("a snapshot whose records spill to files on the way is the same, file for file, as one cut in memory; each spill is checked against minFreeBytes", async () => {
      const db = store.db as unknown as { snapshot(): { close(): Promise<void> } };
      const spilled = new SnapshotDir(join(dir, "spilled"));
      let snap = db.snapshot();
      const m = await writeSnapshot(store, snap, spilled, { height: 1, stateRoot: store.head().stateRoot, proposerPriorities: null }, 6, { minFreeBytes: 1, freeBytes: () => 2 ** 40, spillBytes: 16 * 1024 });
      await snap.close();
      expect(hex(encodeManifest(m))).to.equal(hex(encodeManifest(manifest)));
      for (let i = 0; i < m.chunks.length; i++) expect(hex((await spilled.chunk(1, i)) ?? new Uint8Array(0)), `chunk ${i}`).to.equal(hex((await snaps.chunk(1, i)) ?? new Uint8Array(0)));
      expect(readdirSync(join(spilled.dir, "1")).filter((n) => n.startsWith("spill-"))).to.deep.equal([]);

      // The disk fills while records spill (the third check: the second spill, before any chunk file): given up, nothing left.
      let checks = 0;
      let seen: string[] = [];
      snap = db.snapshot();
      const failed = await codeOf(
        writeSnapshot(store, snap, spilled, { height: 2, stateRoot: store.head().stateRoot, proposerPriorities: null }, 6, {
          minFreeBytes: 1024 * 1024,
          freeBytes: () => {
            if (++checks < 3) return 2 ** 40;
            seen = readdirSync(join(spilled.dir, "2.tmp"));
            return 1024 * 1024;
          },
          spillBytes: 16 * 1024,
        }),
      );
      await snap.close();
      expect(failed.code).to.equal("SNAPSHOT_LOW_DISK");
      expect(seen.some((n) => n.startsWith("spill-")) && !seen.some((n) => n.startsWith("chunk-")), seen.join(",")).to.equal(true);
      expect(existsSync(join(spilled.dir, "2.tmp"))).to.equal(false);
      expect(spilled.heights()).to.deep.equal([1]);
    });

    it("still reads, verifies and restores a format-1 snapshot (uncompressed chunk files, as older nodes write and serve)", async () => {
      // The same snapshot as an older node writes it: each chunk file is its data, and the manifest names that file.
      const plainDir = new SnapshotDir(join(dir, "plain"));
      mkdirSync(join(plainDir.dir, "1"), { recursive: true });
      const chunks = [];
      for (let i = 0; i < manifest.chunks.length; i++) {
        const c = manifest.chunks[i]!;
        const file = await snaps.chunk(1, i);
        if (!file) {
          chunks.push(c);
          continue;
        }
        const data = await chunkData(manifest, i, file);
        writeFileSync(join(plainDir.dir, "1", `chunk-${i}.cbor`), data);
        chunks.push({ ...c, bytes: data.length, hash: sha256(data) });
      }
      writeFileSync(join(plainDir.dir, "1", "manifest.cbor"), encodeManifest({ ...manifest, format: SNAPSHOT_FORMAT_PLAIN, chunks }));
      const m1 = plainDir.manifest(1)!;
      expect(m1.format).to.equal(1);
      verifyManifest(m1, store.head().stateRoot);
      const target = await ChainStore.open(join(dir, "restored-v1"));
      const r = new SnapshotRestorer(target, m1);
      let total = 0;
      for (let i = 0; i < m1.chunks.length; i++) {
        const c = await plainDir.chunk(1, i);
        if (!c) continue;
        const v = await verifyChunkFile(m1, i, c);
        await r.addChunk(i, v.items, v.leaves);
        total += v.items.length;
        // A compressed file where the manifest says format 1 is not canonical CBOR.
        expect((await codeOf(verifyChunkFile(m1, i, (await snaps.chunk(1, i))!))).code).to.equal(SnapshotErrorCode.BAD_CHUNK);
      }
      expect(total).to.equal(records.length);
      const header = { chainId: "sid-test", height: 1, time: 2000, prevHash: H("g"), txRoot: new Uint8Array(32), evidenceHash: new Uint8Array(32), stateRoot: m1.stateRoot, validatorsHash: H("v"), nextValidatorsHash: H("v"), proposer: new Uint8Array(20), lastCommitHash: new Uint8Array(32) };
      await r.finish(H("genesis"), { header, txs: [], evidence: [], lastCommit: null }, { height: 1, round: 0, blockHash: new Uint8Array(32), sigs: [] });
      await target.close();
      const reopened = await ChainStore.open(join(dir, "restored-v1"));
      try {
        expect(hex(reopened.head().stateRoot)).to.equal(hex(store.head().stateRoot));
        expect(await reopened.getRecord(stateIdOf(records[123]!))).to.deep.equal(records[123]);
      } finally {
        await reopened.close();
      }
    });

    it("refuses a manifest or a chunk of an unknown format", async () => {
      const value = decodeCanonical(encodeManifest(manifest)) as Record<string, unknown>;
      for (const format of [0, 3, "2"]) {
        try {
          decodeManifest({ ...value, format } as never);
          throw new Error(`format ${String(format)} accepted`);
        } catch (e) {
          expect((e as { code: string }).code).to.equal(SnapshotErrorCode.BAD_MANIFEST);
          expect((e as Error).message).to.match(/unknown format .*this node reads formats 1 and 2/);
        }
      }
      const i = firstChunk();
      const r = await codeOf(chunkData({ format: 3 }, i, (await snaps.chunk(1, i))!));
      expect(r.code).to.equal(SnapshotErrorCode.BAD_CHUNK);
      expect(r.message).to.match(/unknown snapshot format 3/);
    });

    it("decompresses a chunk up to the bound on its data, and refuses one past it", async () => {
      const i = firstChunk();
      const file = (await snaps.chunk(1, i))!;
      const data = await chunkData(manifest, i, file);
      expect((await chunkData(manifest, i, file, data.length)).length).to.equal(data.length);
      const r = await codeOf(chunkData(manifest, i, file, data.length - 1));
      expect(r.code).to.equal(SnapshotErrorCode.BAD_CHUNK);
      expect(r.message).to.match(new RegExp(`decompresses past ${data.length - 1} bytes`));
    });

    it("refuses a decompression bomb (1 GiB of output from a small file) as SNAPSHOT_BAD_CHUNK, allocating no more than the bound", async () => {
      const i = firstChunk();
      const bomb = await zeroBomb(1024);
      expect(bomb.length).to.be.lessThan(1 << 20);
      const before = process.memoryUsage().arrayBuffers;
      let peak = 0;
      const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - before)), 1);
      let r: { code: string; message: string };
      try {
        r = await codeOf(verifyChunkFile(manifest, i, bomb));
      } finally {
        clearInterval(sample);
      }
      // Output dropped by the refusal is not yet collected here: it counts.
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
      expect(r.code).to.equal(SnapshotErrorCode.BAD_CHUNK);
      expect(r.message).to.match(new RegExp(`chunk ${i}: decompresses past ${MAX_CHUNK_DATA_BYTES} bytes`));
      expect(peak, "bytes allocated while decompressing").to.be.lessThan(MAX_CHUNK_DATA_BYTES + 8 * 1024 * 1024);
    });

    it("refuses a corrupt compressed stream: truncated, bytes changed, not brotli at all", async () => {
      const i = firstChunk();
      const file = (await snaps.chunk(1, i))!;
      const truncated = await codeOf(verifyChunkFile(manifest, i, file.subarray(0, file.length >> 1)));
      expect(truncated.code).to.equal(SnapshotErrorCode.BAD_CHUNK);
      expect(truncated.message).to.match(/not a brotli stream/);
      for (const at of [0, 1, file.length >> 2, file.length >> 1, file.length - 1]) {
        const changed = new Uint8Array(file);
        changed[at] ^= 0x5a;
        // Whatever a changed byte decompresses to (brotli carries no checksum), it never rebuilds the manifest root.
        expect((await codeOf(verifyChunkFile(manifest, i, changed))).code, `byte ${at} changed`).to.equal(SnapshotErrorCode.BAD_CHUNK);
      }
      expect((await codeOf(verifyChunkFile(manifest, i, Uint8Array.of(0xff, 0xff, 0xff, 0xff)))).code).to.equal(SnapshotErrorCode.BAD_CHUNK);
      expect((await codeOf(verifyChunkFile(manifest, i, new Uint8Array(0)))).code).to.equal(SnapshotErrorCode.BAD_CHUNK);
    });

    it("refuses a manifest whose chunk roots do not give the header's state root, or that names another root", () => {
      const i = firstChunk();
      const bad: SnapshotManifest = { ...manifest, chunks: manifest.chunks.map((c, k) => (k === i ? { ...c, root: H("forged") } : c)) };
      expect(() => verifyManifest(bad, store.head().stateRoot)).to.throw(/chunk roots give/);
      expect(hex(manifestRoot(manifest))).to.equal(hex(store.head().stateRoot));
      expect(() => verifyManifest(manifest, H("other root"))).to.throw(/names state root/);
      expect(() => decodeManifest({ ...(decodeCanonical(encodeManifest(manifest)) as object), chunkBits: 3 } as never)).to.throw(/chunkBits/);
    });

    it("restores into an empty store: same root, every record readable and provable", async () => {
      const target = await ChainStore.open(join(dir, "restored"));
      const r = new SnapshotRestorer(target, manifest);
      for (let i = 0; i < manifest.chunks.length; i++) {
        const c = await snaps.chunk(1, i);
        if (!c) continue;
        const { items, leaves } = await verifyChunkFile(manifest, i, c);
        await r.addChunk(i, items, leaves);
      }
      const header = { chainId: "sid-test", height: 1, time: 2000, prevHash: H("g"), txRoot: new Uint8Array(32), evidenceHash: new Uint8Array(32), stateRoot: manifest.stateRoot, validatorsHash: H("v"), nextValidatorsHash: H("v"), proposer: new Uint8Array(20), lastCommitHash: new Uint8Array(32) };
      const block: Block = { header, txs: [], evidence: [], lastCommit: null };
      const commit: Commit = { height: 1, round: 0, blockHash: new Uint8Array(32), sigs: [] };
      await r.finish(H("genesis"), block, commit);
      await target.close();
      const reopened = await ChainStore.open(join(dir, "restored"));
      try {
        expect(hex(reopened.head().stateRoot)).to.equal(hex(store.head().stateRoot));
        expect(reopened.head().height).to.equal(1);
        // A restored store begins with the current layouts of the version and tx indexes.
        expect(hex((await reopened.db.get(metaKey("txIndex")))!)).to.equal("02");
        expect(hex((await reopened.db.get(metaKey("versionIndex")))!)).to.equal("04");
        // The tree's records: exactly those its root reaches, all at the snapshot's height, leaves inline except a chunk root that is one leaf.
        const stored = new Map<string, Uint8Array>();
        for await (const [k, v] of rawKv(reopened).iterator({ gte: Uint8Array.of(Bucket.SmtNodeAt), lt: Uint8Array.of(Bucket.SmtNodeAt + 1) })) stored.set(storedRecordId(k, Bucket.SmtNode), v);
        const legacy: Uint8Array[] = [];
        for await (const k of rawKv(reopened).keys({ gte: Uint8Array.of(Bucket.SmtNode), lt: Uint8Array.of(Bucket.SmtNode + 1) })) legacy.push(k);
        expect(legacy, "none under a hash alone").to.deep.equal([]);
        expect([...stored.keys()].every((id) => id.startsWith("2:")), "records of height 1").to.equal(true);
        expect([...stored.keys()].sort()).to.deep.equal([...reachableRecords(stored, reopened.head().stateRoot, reopened.treeRootAt(1))].sort());
        const leafRecords = [...stored.values()].filter((v) => v[0] === 0x00).length;
        expect(leafRecords).to.equal(manifest.chunks.filter((c) => c.leaves === 1).length);
        expect([...stored.values()].some((v) => v[0] === 0x02)).to.equal(true);
        // Below the chunk roots, the same records as the tree the writes built: nodes with an EMPTY child held, not recorded.
        const live = new Map<string, Uint8Array>();
        for await (const [k, v] of rawKv(store).iterator({ gte: Uint8Array.of(Bucket.SmtNodeAt), lt: Uint8Array.of(Bucket.SmtNodeAt + 1) })) live.set(storedRecordId(k, Bucket.SmtNode), v);
        const liveReached = new Set([...reachableRecords(live, store.head().stateRoot, store.treeRootAt(store.head().height))].map((id) => id.split(":")[1]!));
        const top = new Set<string>(manifest.chunks.map((c) => hex(c.root)));
        rootFromSubtrees(manifest.chunks.map((c) => ({ hash: c.root, leaves: c.leaves })), manifest.chunkBits, (h) => top.add(hex(h)));
        const restoredOnly = [...stored.keys()].map((id) => id.split(":")[1]!).filter((h) => !liveReached.has(h));
        expect(restoredOnly.filter((h) => !top.has(h)), "records only the restore wrote, below the chunk roots").to.deep.equal([]);
        expect([...stored.values()].some((v) => v[0] === 0x03), "records holding nodes").to.equal(true);
        for (const rec of [records[0]!, records[250]!, records[records.length - 1]!]) {
          const id = stateIdOf(rec);
          expect(await reopened.getRecord(id)).to.deep.equal(rec);
          const p = await reopened.smt.prove(reopened.head().stateRoot, stateKeyOf(id), reopened.treeRootAt(1));
          expect(p.leaf && hex(p.leaf.key)).to.equal(hex(stateKeyOf(id)));
        }
        // A later write on the restored tree gives the same root as on the original.
        const extra = didRecord(9999);
        const a = await reopened.computeStateRoot(new Map([[stateIdOf(extra), extra]]));
        const b = await store.computeStateRoot(new Map([[stateIdOf(extra), extra]]));
        expect(hex(a.root)).to.equal(hex(b.root));
      } finally {
        await reopened.close();
      }
    });

    it("chooses the chunk count from the state's size when chunkBits is 0, and the snapshot still checks", async () => {
      expect(chunkBitsFor(0)).to.equal(4);
      expect(chunkBitsFor(1_000_000 * 800)).to.equal(11);
      expect(chunkBitsFor(10_000_000 * 800)).to.equal(12);
      expect(chunkBitsFor(64 * TARGET_CHUNK_BYTES)).to.equal(6);
      const auto = new SnapshotDir(join(dir, "auto"));
      const db = store.db as unknown as { snapshot(): { close(): Promise<void> } };
      const snap = db.snapshot();
      const m = await writeSnapshot(store, snap, auto, { height: 1, stateRoot: store.head().stateRoot, proposerPriorities: null });
      await snap.close();
      expect(m.chunkBits).to.equal(4);
      verifyManifest(m, store.head().stateRoot);
      let total = 0;
      for (let i = 0; i < m.chunks.length; i++) {
        const c = await auto.chunk(1, i);
        if (c) total += (await verifyChunkFile(m, i, c)).items.length;
      }
      expect(total).to.equal(records.length);
    });

    it("the writer takes a snapshot every interval blocks and keeps the newest `keep`", async () => {
      const wdir = new SnapshotDir(join(dir, "writer"));
      const logs: string[] = [];
      const w = new SnapshotWriter(store, wdir, resolveSnapshotOptions({ interval: 2, keep: 2, chunkBits: 4, busyShare: 1 }), loggerOf((_l, msg) => logs.push(msg)));
      // The store's state stands for each height here: the writer checks only that the records give the root it is told.
      for (let h = 1; h <= 7; h++) {
        w.onCommitted(h, store.head().stateRoot);
        await w.idle();
      }
      expect(wdir.heights()).to.deep.equal([6, 4]);
      w.onCommitted(8, H("not the root"));
      await w.idle();
      expect(wdir.heights()).to.deep.equal([6, 4]);
      expect(logs).to.include("snapshot failed");
      expect(() => resolveSnapshotOptions({ chunkBits: 13 })).to.throw(/chunkBits/);
      expect(() => resolveSnapshotOptions({ interval: -1 })).to.throw(/interval/);
    });

    it("the writer skips heights until the last snapshot's duration, spread by busyShare, has passed since it ended", async () => {
      const wdir = new SnapshotDir(join(dir, "paced"));
      const logs: string[] = [];
      let t = 1_000;
      const w = new SnapshotWriter(store, wdir, resolveSnapshotOptions({ interval: 2, keep: 5, chunkBits: 4, busyShare: 0.25 }), loggerOf((_l, msg) => logs.push(msg)), { now: () => t });
      const root = store.head().stateRoot;
      w.onCommitted(2, root);
      // Started at 1,000 and (the clock moved on before the write could end) ended at 1,400: 400 ms, so none starts before 1,400 + 3 * 400.
      t = 1_400;
      await w.idle();
      expect(wdir.heights()).to.deep.equal([2]);
      t = 2_599;
      w.onCommitted(4, root);
      await w.idle();
      expect(wdir.heights()).to.deep.equal([2]);
      expect(w.stats()).to.include({ written: 1, paced: 1, lastWritten: 2 });
      expect(logs.filter((m) => m.startsWith("snapshot skipped: too soon"))).to.have.length(1);
      t = 2_600;
      w.onCommitted(6, root);
      await w.idle();
      expect(wdir.heights()).to.deep.equal([6, 2]);
      expect(w.stats()).to.include({ written: 2, paced: 1, lastWritten: 6 });
      // A failed snapshot paces the next one as well (a full disk is not retried back to back).
      w.onCommitted(8, H("not the root"));
      t = 2_700;
      await w.idle();
      t = 2_999;
      w.onCommitted(10, root);
      await w.idle();
      expect(w.stats()).to.include({ written: 2, failures: 1, paced: 2 });
      t = 3_000;
      w.onCommitted(12, root);
      await w.idle();
      expect(wdir.heights()).to.deep.equal([12, 6, 2]);
      for (const bad of [0, -0.5, 1.5, Number.NaN, "0.5"]) {
        expect(() => resolveSnapshotOptions({ busyShare: bad as number }), String(bad)).to.throw(/busyShare/);
      }
      expect(resolveSnapshotOptions({}).busyShare).to.equal(0.25);
    });

    it("the leaf of a record is its tree key and the sha256 of its bytes", () => {
      const l = leafOf({ id: "did:sid:x", bytes: Uint8Array.of(1) });
      expect(hex(l.key)).to.equal(hex(stateKeyOf("did:sid:x")));
    });
  });
});
