/**
 * Snapshots on disk and in the chain store.
 *
 * SnapshotWriter takes a snapshot of the state records every `interval`
 * blocks: a LevelDB snapshot is taken synchronously when the block's commit
 * is reported (so it holds exactly the state at that height), then the
 * records are read from it in the background, cut into chunks (snapshot.ts)
 * and written to <dir>/<height>/ (manifest.cbor, chunk-<i>.cbor), the
 * `keep` newest kept. A snapshot whose recomputed root is not the block's
 * state root is discarded, never served. Chunk files are compressed in
 * libuv's thread pool and every file is written with fs/promises, so a
 * large snapshot does not hold the event loop for long stretches.
 *
 * restoreSnapshot writes a verified snapshot into an empty store: the
 * records, the tree nodes rebuilt bottom-up from the sorted leaves, the
 * block and commit at the height, the validator sets in force from there,
 * and the head, so the node continues with block sync at height + 1.
 */
import { existsSync, readFileSync, readdirSync, statfsSync } from "node:fs";
import { appendFile, mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Bucket, proposerPrioritiesKey, u32be } from "./buckets.js";
import { type Block, type Commit, headerHash } from "./block.js";
import type { KvBatch } from "./db/kv.js";
import { decodeCanonical } from "./codec.js";
import { bytesEqual, compareBytes, toHex } from "../crypto/bytes.js";
import { sha256 } from "../crypto/hash.js";
import type { ChainStore } from "./store.js";
import { stateKeyOf } from "./state.js";
import { VALIDATORS_ID, type ValidatorEntry, type ValidatorsRecord, validatorSetAt } from "./validators.js";
import { txHash } from "./tx.js";
import type { Logger } from "../log/logger.js";
import {
  type ChunkEntry,
  type Leaf,
  MAX_CHUNK_BITS,
  MAX_CHUNK_DATA_BYTES,
  MIN_CHUNK_BITS,
  SNAPSHOT_FORMAT,
  type SnapshotItem,
  type SnapshotManifest,
  buildSubtree,
  chunkIndexOf,
  compressChunk,
  decodeManifest,
  encodeChunk,
  encodeManifest,
  leafOf,
  rootFromSubtrees,
  SnapshotError,
  SnapshotErrorCode,
} from "./snapshot.js";
import { nodeAt } from "./smt-node.js";

export interface SnapshotOptions {
  /** Blocks between snapshots; 0 takes none. */
  interval: number;
  /** Snapshots kept (the newest). */
  keep: number;
  /** log2 of the chunk count; 0 chooses it from the state's size (chunks of about TARGET_CHUNK_BYTES). */
  chunkBits: number;
  /**
   * Bytes a snapshot leaves free on its disk: one is not started, and one
   * being written is given up, when it would leave less. The chain store
   * shares the disk, and stops the node when a commit finds it full.
   */
  minFreeBytes: number;
  /**
   * The most of the node's time snapshots take, in (0, 1]: after a snapshot
   * that took D, snapshot heights are skipped until D * (1 / busyShare - 1)
   * has passed since it ended. A snapshot reads the whole state, so at
   * millions of records it takes minutes of the same cores that commit
   * blocks; without this it would run back to back once it outlasts the
   * interval. 1 skips none for this reason.
   */
  busyShare: number;
}

/** 256 MiB: room for many blocks and a LevelDB compaction of a large store, so a snapshot never starves the chain. */
const DEFAULT_MIN_FREE_BYTES = 256 * 1024 * 1024;

export const defaultSnapshotOptions: Readonly<SnapshotOptions> = Object.freeze({ interval: 1000, keep: 2, chunkBits: 0, minFreeBytes: DEFAULT_MIN_FREE_BYTES, busyShare: 0.25 });

/** Chunk size aimed at when the chunk count is chosen from the state's size: few requests, each well inside a p2p frame. */
export const TARGET_CHUNK_BYTES = 512 * 1024;

/** The chunk count (log2) for `bytes` of records: about TARGET_CHUNK_BYTES each, within the format's bounds. */
export function chunkBitsFor(bytes: number): number {
  const bits = Math.ceil(Math.log2(Math.max(1, bytes / TARGET_CHUNK_BYTES)));
  return Math.min(MAX_CHUNK_BITS, Math.max(MIN_CHUNK_BITS, bits));
}

export function resolveSnapshotOptions(o: Partial<SnapshotOptions> = {}): SnapshotOptions {
  const out = { ...defaultSnapshotOptions, ...o };
  const int = (v: unknown, name: string, min: number, max: number) => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) throw new Error(`snapshots.${name}: expected an integer in [${min}, ${max}], got ${String(v)}`);
  };
  int(out.interval, "interval", 0, 1e9);
  int(out.keep, "keep", 1, 100);
  int(out.minFreeBytes, "minFreeBytes", 0, Number.MAX_SAFE_INTEGER);
  if (typeof out.busyShare !== "number" || !(out.busyShare > 0 && out.busyShare <= 1)) {
    throw new Error(`snapshots.busyShare: expected a number in (0, 1], got ${String(out.busyShare)}`);
  }
  if (out.chunkBits !== 0) int(out.chunkBits, "chunkBits (0 = from the state's size)", MIN_CHUNK_BITS, MAX_CHUNK_BITS);
  return out;
}

/** Bytes of records held in memory while cutting a snapshot; beyond it they spill to per-chunk files. */
const SPILL_BYTES = 32 * 1024 * 1024;
/** Records and tree nodes per restore batch. */
const RESTORE_BATCH_BYTES = 8 * 1024 * 1024;
/** Records read from the snapshot per batch when their documents are read back from their txs. */
const SNAPSHOT_READ_BATCH = 512;

const MANIFEST_FILE = "manifest.cbor";
const chunkFile = (i: number) => `chunk-${i}.cbor`;

/** The snapshots of one node, under its data dir. */
export class SnapshotDir {
  constructor(readonly dir: string) {}

  /** Heights of the complete snapshots here, newest first. */
  heights(): number[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      // Missing, not a directory, not readable: no snapshot to serve (the writer reports why it cannot write one).
      return [];
    }
    return names
      .filter((n) => /^[1-9][0-9]{0,15}$/.test(n) && existsSync(join(this.dir, n, MANIFEST_FILE)))
      .map(Number)
      .sort((a, b) => b - a);
  }

  manifestBytes(height: number): Uint8Array | undefined {
    const p = join(this.dir, String(height), MANIFEST_FILE);
    return existsSync(p) ? new Uint8Array(readFileSync(p)) : undefined;
  }

  manifest(height: number): SnapshotManifest | undefined {
    const b = this.manifestBytes(height);
    return b ? decodeManifest(decodeCanonical(b)) : undefined;
  }

  /** The manifest file of a height, read without blocking the event loop (undefined when there is none). */
  readManifestBytes(height: number): Promise<Uint8Array | undefined> {
    return readIfThere(join(this.dir, String(height), MANIFEST_FILE));
  }

  /** A chunk file as stored and served (compressed in format 2), read without blocking the event loop; undefined when there is none. */
  chunk(height: number, index: number): Promise<Uint8Array | undefined> {
    return readIfThere(join(this.dir, String(height), chunkFile(index)));
  }

  /** Bytes of the newest complete snapshot's chunks (0 when there is none): about what the next one needs. */
  newestBytes(): number {
    const h = this.heights()[0];
    if (h === undefined) return 0;
    try {
      return this.manifest(h)?.chunks.reduce((s, c) => s + c.bytes, 0) ?? 0;
    } catch {
      return 0;
    }
  }

  /** Remove all but the `keep` newest snapshots, and unfinished ones. */
  async prune(keep: number): Promise<void> {
    if (!existsSync(this.dir)) return;
    const done = this.heights();
    for (const h of done.slice(keep)) await rm(join(this.dir, String(h)), { recursive: true, force: true });
    for (const n of await readdir(this.dir)) if (n.endsWith(".tmp")) await rm(join(this.dir, n), { recursive: true, force: true });
  }
}

async function readIfThere(path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    if (codeOfError(e) === "ENOENT") return undefined;
    throw e;
  }
}

/** Write (or append) a file; an error names the file (a failed write(2) carries no path of its own). */
async function writeAt(path: string, data: Uint8Array, write: (p: string, d: Uint8Array) => Promise<void> = writeFile): Promise<void> {
  try {
    await write(path, data);
  } catch (e) {
    if (e instanceof Error && typeof (e as { path?: unknown }).path !== "string") (e as Error & { path: string }).path = path;
    throw e;
  }
}

/** A record with its tree key (stateKeyOf(id)), as the spill gives it back. */
type KeyedItem = SnapshotItem & { key: Uint8Array };

/** log2 of the spill files: each holds the records of 2^(bits - SPILL_FILE_BITS) consecutive groups. */
const SPILL_FILE_BITS = 8;

/**
 * Records grouped by chunk while a snapshot is cut, spilling to files past
 * `spillBytes` (`full`: spill() is due). A spill appends to one file per
 * run of consecutive groups (SPILL_FILE_BITS: 256 writes a round, not one
 * per group), each group's records as a section (group, bytes, records);
 * the first take() of a group of a file reads it back and deletes it, so
 * the disk holds at most the spilled records not yet cut into chunks.
 */
export class ChunkSpill {
  private readonly mem: Uint8Array[][];
  private memBytes = 0;
  /** Bytes of all records added. */
  total = 0;
  /** Files written and not yet read back, by file index. */
  private readonly spilled = new Set<number>();
  private readonly fileShift: number;

  constructor(
    private readonly bits: number,
    private readonly dir: string,
    private readonly spillBytes = SPILL_BYTES,
  ) {
    this.mem = Array.from({ length: 1 << bits }, () => []);
    this.fileShift = Math.max(0, bits - SPILL_FILE_BITS);
  }

  add(id: string, bytes: Uint8Array): void {
    const idBytes = Buffer.from(id, "utf8");
    const key = stateKeyOf(id);
    const i = chunkIndexOf(key, this.bits);
    // The tree key goes with the record, so neither the chunk's sort nor its leaves hash the id again.
    const rec = Buffer.concat([u32be(idBytes.length), idBytes, key, u32be(bytes.length), bytes]);
    this.mem[i]!.push(rec);
    this.memBytes += rec.length;
    this.total += bytes.length;
  }

  get full(): boolean {
    return this.memBytes > this.spillBytes;
  }

  /** Files spilled to and not yet read back (for tests). */
  get files(): number {
    return this.spilled.size;
  }

  private fileOf(f: number): string {
    return join(this.dir, `spill-${f}`);
  }

  /** Append the records held in memory to their files; `roomFor` is asked first for their bytes. */
  async spill(roomFor: (bytes: number) => void): Promise<void> {
    roomFor(this.memBytes + 8 * this.mem.length);
    const per = 1 << this.fileShift;
    for (let f = 0; f < this.mem.length / per; f++) {
      const parts: Uint8Array[] = [];
      for (let i = f * per; i < (f + 1) * per; i++) {
        const recs = this.mem[i]!;
        if (recs.length === 0) continue;
        this.mem[i] = [];
        parts.push(u32be(i), u32be(recs.reduce((n, r) => n + r.length, 0)), ...recs);
      }
      if (parts.length === 0) continue;
      await writeAt(this.fileOf(f), Buffer.concat(parts), appendFile);
      this.spilled.add(f);
    }
    this.memBytes = 0;
  }

  /** Read file `f` back into its groups' records in memory, and delete it. */
  private async load(f: number): Promise<void> {
    const p = this.fileOf(f);
    const buf = await readFile(p);
    let off = 0;
    while (off < buf.length) {
      if (off + 8 > buf.length) throw new Error(`${p}: a section is cut short at byte ${off}`);
      const i = buf.readUInt32BE(off);
      const len = buf.readUInt32BE(off + 4);
      if (i >>> this.fileShift !== f || off + 8 + len > buf.length) throw new Error(`${p}: bad section at byte ${off}`);
      this.mem[i]!.push(buf.subarray(off + 8, off + 8 + len));
      off += 8 + len;
    }
    this.spilled.delete(f);
    await rm(p);
  }

  /** The records of group `i` with their tree keys, sorted by key. */
  async take(i: number): Promise<KeyedItem[]> {
    const f = i >>> this.fileShift;
    if (this.spilled.has(f)) await this.load(f);
    const parts = this.mem[i]!;
    this.mem[i] = [];
    const items: KeyedItem[] = [];
    for (const part of parts) {
      const buf = Buffer.from(part.buffer, part.byteOffset, part.length);
      let off = 0;
      while (off < buf.length) {
        const idLen = buf.readUInt32BE(off);
        const id = buf.toString("utf8", off + 4, off + 4 + idLen);
        off += 4 + idLen;
        const key = new Uint8Array(buf.subarray(off, off + 32));
        off += 32;
        const len = buf.readUInt32BE(off);
        const bytes = new Uint8Array(buf.subarray(off + 4, off + 4 + len));
        off += 4 + len;
        items.push({ id, bytes, key });
      }
    }
    items.sort((a, b) => compareBytes(a.key, b.key));
    return items;
  }
}

/**
 * Cut the snapshot of the records visible through `snapshot` (a LevelDB
 * snapshot of the store at `height`) into `out`/<height>/, in the format
 * this node writes (SNAPSHOT_FORMAT: chunk files compressed). Returns its
 * manifest, with `dataBytes`, the chunks' data before compression. Throws
 * when the records do not give `stateRoot`.
 */
export async function writeSnapshot(
  store: ChainStore,
  snapshot: unknown,
  dir: SnapshotDir,
  at: { height: number; stateRoot: Uint8Array; proposerPriorities: Uint8Array | null },
  chunkBits = 0,
  /** `spillBytes`: records held in memory before they spill to files (SPILL_BYTES; tests spill small states). */
  disk: { minFreeBytes: number; freeBytes: (path: string) => number; spillBytes?: number } = { minFreeBytes: 0, freeBytes: freeBytesOf },
): Promise<SnapshotManifest & { dataBytes: number }> {
  await mkdir(dir.dir, { recursive: true });
  const tmp = join(dir.dir, `${at.height}.tmp`);
  await rm(tmp, { recursive: true, force: true });
  const roomFor = (bytes: number) => {
    if (disk.minFreeBytes <= 0) return;
    const free = disk.freeBytes(dir.dir);
    if (free - bytes < disk.minFreeBytes) throw new SnapshotDiskError(dir.dir, free, bytes, disk.minFreeBytes);
  };
  roomFor(dir.newestBytes());
  await mkdir(tmp);
  try {
    // Records are grouped by the finest chunking; a coarser chunk is a run of consecutive fine groups (its prefix is theirs).
    const spill = new ChunkSpill(MAX_CHUNK_BITS, tmp, disk.spillBytes);
    for (const bucket of [Bucket.Did, Bucket.Registry]) {
      const it = store.db.iterator({ gte: Uint8Array.of(bucket), lt: Uint8Array.of(bucket + 1), snapshot } as never);
      // A DID record kept by reference is put back together from its tx (blocks up to the snapshot's height never change), a batch at a time.
      let pending: Array<[string, Uint8Array]> = [];
      const flush = async () => {
        const bytes = await store.records.expand(pending.map(([, v]) => v));
        pending.forEach(([id], i) => spill.add(id, bytes[i]!));
        pending = [];
        if (spill.full) await spill.spill(roomFor);
      };
      for await (const [k, v] of it) {
        pending.push([Buffer.from(k.buffer, k.byteOffset + 1, k.length - 1).toString("utf8"), v]);
        if (pending.length === SNAPSHOT_READ_BATCH) await flush();
      }
      await flush();
    }
    if (chunkBits === 0) chunkBits = chunkBitsFor(spill.total);
    const per = 1 << (MAX_CHUNK_BITS - chunkBits);
    const chunks: ChunkEntry[] = [];
    let dataBytes = 0;
    for (let i = 0; i < 1 << chunkBits; i++) {
      const items: KeyedItem[] = [];
      for (let j = i * per; j < (i + 1) * per; j++) items.push(...(await spill.take(j)));
      if (items.length === 0) {
        chunks.push({ root: new Uint8Array(32), leaves: 0, bytes: 0, hash: new Uint8Array(32) });
        continue;
      }
      // The main thread's share of a chunk (grouping and sorting, encoding, hashing) is cut by turns of the event loop,
      // so requests and blocks wait for a part of one chunk's work at most; compression runs meanwhile in the thread pool.
      await yieldToLoop();
      const data = encodeChunk(i, items);
      if (data.length > MAX_CHUNK_DATA_BYTES) {
        throw new Error(`snapshot at ${at.height}: chunk ${i} holds ${data.length} bytes of records, more than a joining node accepts (${MAX_CHUNK_DATA_BYTES}); the state is too large for ${1 << chunkBits} chunks`);
      }
      const compressing = compressChunk(data);
      // Handled below, after the hashing: not an unhandled rejection meanwhile.
      compressing.catch(() => undefined);
      await yieldToLoop();
      const leaves: Leaf[] = items.map(leafOf);
      const root = buildSubtree(leaves, chunkBits);
      const file = await compressing;
      roomFor(file.length);
      await writeAt(join(tmp, chunkFile(i)), file);
      chunks.push({ root, leaves: leaves.length, bytes: file.length, hash: sha256(file) });
      dataBytes += data.length;
    }
    const manifest: SnapshotManifest = { format: SNAPSHOT_FORMAT, height: at.height, stateRoot: at.stateRoot, chunkBits, chunks, proposerPriorities: at.proposerPriorities };
    const root = rootFromSubtrees(chunks.map((c) => ({ hash: c.root, leaves: c.leaves })), chunkBits);
    if (!bytesEqual(root, at.stateRoot)) throw new Error(`snapshot at ${at.height}: the records give root ${toHex(root)}, the block's state root is ${toHex(at.stateRoot)}`);
    await writeAt(join(tmp, MANIFEST_FILE), encodeManifest(manifest));
    const final = join(dir.dir, String(at.height));
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
    return Object.assign(manifest, { dataBytes });
  } catch (e) {
    // Nothing half written stays (heights() would not list it; prune() would remove it later anyway).
    try {
      await rm(tmp, { recursive: true, force: true });
    } catch (rmError) {
      if (e instanceof Error) (e as Error & { leftover?: string }).leftover = `${tmp} (${codeOfError(rmError)}: ${(rmError as Error).message})`;
    }
    throw e;
  }
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/** Free bytes for an unprivileged writer on the file system of `path` (or of its nearest existing parent). */
export function freeBytesOf(path: string): number {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  const s = statfsSync(p);
  return s.bavail * s.bsize;
}

/** A snapshot given up (or not started) because it would leave less than minFreeBytes on its disk. */
export class SnapshotDiskError extends Error {
  readonly code = "SNAPSHOT_LOW_DISK";
  constructor(
    readonly path: string,
    readonly free: number,
    readonly needed: number,
    readonly minFree: number,
  ) {
    super(`${free} bytes free on the disk of ${path}; the snapshot needs about ${needed} more and leaves at least ${minFree} (snapshots.minFreeBytes) for the chain store`);
  }
}

function codeOfError(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : "ERROR";
}

/** A snapshot that could not be written, as the log, /health and the metrics report it. */
export interface SnapshotFailure {
  height: number;
  /** The file or directory the error names, else the snapshot directory. */
  path: string;
  /** The errno code (ENOSPC, EACCES, EIO, ENOTDIR, ...), SNAPSHOT_LOW_DISK, or ERROR for another failure (a root that does not match). */
  code: string;
  message: string;
  /** When it failed, ms since the epoch. */
  at: number;
}

/** What a node's snapshot writer has done since the node started. */
export interface SnapshotStats {
  written: number;
  failures: number;
  /** Snapshot heights skipped because the previous snapshot ended too recently (busyShare). */
  paced: number;
  /** Height of the last snapshot written (0: none since the node started). */
  lastWritten: number;
  /** The last failure, when the last snapshot attempted failed (a later success clears it). */
  failing: SnapshotFailure | undefined;
}

/** What GET /health reports of snapshots: nothing while they are written, the standing failure otherwise. */
export function snapshotsWarning(stats: SnapshotStats | undefined):
  | { status: "failing"; failures: number; lastWritten: number; error: { height: number; path: string; code: string; message: string; at: string } }
  | undefined {
  const f = stats?.failing;
  if (!stats || !f) return undefined;
  return { status: "failing", failures: stats.failures, lastWritten: stats.lastWritten, error: { height: f.height, path: f.path, code: f.code, message: f.message, at: new Date(f.at).toISOString() } };
}

/**
 * Takes a snapshot every `interval` blocks, one at a time: a height that
 * comes while the previous snapshot is still being written is skipped, and
 * so is one that comes too soon after it ended (`busyShare`).
 *
 * Snapshots are optional: one that fails (a full or failing disk, a
 * directory it cannot write) leaves nothing half written, never stops the
 * chain, and is logged once with its path and errno, counted (stats, the
 * node's metrics) and reported by /health until a later one succeeds
 * (docs/state-sync.md).
 */
export class SnapshotWriter {
  private busy: Promise<void> | undefined;
  /** The last snapshot written (or failed), for tests and logs. */
  lastHeight = 0;
  private written = 0;
  private failures = 0;
  private lastWritten = 0;
  private failing: SnapshotFailure | undefined;
  private paced = 0;
  /** No snapshot starts before this time (now()): the last one's duration, spread out by busyShare. */
  private notBefore = -Infinity;
  private readonly freeBytes: (path: string) => number;
  private readonly now: () => number;

  constructor(
    private readonly store: ChainStore,
    readonly dir: SnapshotDir,
    readonly opts: SnapshotOptions,
    private readonly log: Logger,
    /** Where free disk space is read (tests stand in a full disk), and a monotonic clock in ms (tests stand in time). */
    deps: { freeBytes?: (path: string) => number; now?: () => number } = {},
  ) {
    this.freeBytes = deps.freeBytes ?? freeBytesOf;
    this.now = deps.now ?? (() => performance.now());
  }

  /** Snapshots written and failed since the node started, and the failure standing now, if any. */
  stats(): SnapshotStats {
    return { written: this.written, failures: this.failures, paced: this.paced, lastWritten: this.lastWritten, failing: this.failing };
  }

  private fail(height: number, e: unknown): void {
    const err = e as (Error & { path?: unknown; leftover?: string }) | undefined;
    const f: SnapshotFailure = {
      height,
      path: typeof err?.path === "string" ? err.path : this.dir.dir,
      code: codeOfError(e),
      message: (err?.message ?? String(e)).replace(/\s*[\r\n]+\s*/g, " "),
      at: Date.now(),
    };
    this.failures++;
    this.failing = f;
    this.log.warn("snapshot failed", { height, path: f.path, code: f.code, error: f.message, ...(err?.leftover ? { leftover: err.leftover } : {}) });
  }

  /**
   * Call synchronously when the block at `height` has been committed (before
   * anything can commit the next): the LevelDB snapshot is taken now.
   */
  onCommitted(height: number, stateRoot: Uint8Array): void {
    if (this.opts.interval === 0 || height % this.opts.interval !== 0) return;
    if (this.busy) {
      this.log.warn("snapshot skipped: the previous one is still being written", { height });
      return;
    }
    const started = this.now();
    if (started < this.notBefore) {
      this.paced++;
      this.log.info("snapshot skipped: too soon after the last one (snapshots.busyShare)", { height, busyShare: this.opts.busyShare, waitMs: Math.ceil(this.notBefore - started) });
      return;
    }
    let snap: { close(): Promise<void> };
    try {
      const db = this.store.db as unknown as { snapshot(): { close(): Promise<void> } };
      snap = db.snapshot();
    } catch (e) {
      this.lastHeight = height;
      this.fail(height, e);
      return;
    }
    this.busy = (async () => {
      try {
        const pp = await this.store.getProposerPriorities(height + 1);
        // Unfinished snapshots of an earlier failure go first: their space is the next one's.
        await this.dir.prune(this.opts.keep);
        const m = await writeSnapshot(this.store, snap, this.dir, { height, stateRoot, proposerPriorities: pp ?? null }, this.opts.chunkBits, {
          minFreeBytes: this.opts.minFreeBytes,
          freeBytes: this.freeBytes,
        });
        await this.dir.prune(this.opts.keep);
        const records = m.chunks.reduce((s, c) => s + c.leaves, 0);
        const bytes = m.chunks.reduce((s, c) => s + c.bytes, 0);
        const dataBytes = m.dataBytes;
        this.written++;
        this.lastWritten = height;
        if (this.failing) this.log.info("snapshots written again", { height, failedSince: this.failing.height });
        this.failing = undefined;
        this.log.info("snapshot written", { height, records, bytes, dataBytes, chunks: m.chunks.filter((c) => c.leaves > 0).length, ms: Math.round(this.now() - started) });
      } catch (e) {
        this.fail(height, e);
      } finally {
        this.lastHeight = height;
        await snap.close().catch(() => {});
        const ended = this.now();
        this.notBefore = ended + (ended - started) * (1 / this.opts.busyShare - 1);
        this.busy = undefined;
      }
    })();
  }

  /** Wait for the snapshot being written, if any. */
  async idle(): Promise<void> {
    await this.busy;
  }
}

/**
 * Writes a verified snapshot into an empty store, chunk by chunk
 * (addChunk), then the top of the tree, the block at the height and the
 * head (finish). The store must be closed and reopened after finish.
 */
export class SnapshotRestorer {
  private batch: KvBatch;
  private batchBytes = 0;
  private validators: ValidatorsRecord | undefined;
  private readonly done = new Set<number>();

  constructor(
    private readonly store: ChainStore,
    readonly manifest: SnapshotManifest,
  ) {
    if (store.isInitialized()) throw new SnapshotError(SnapshotErrorCode.SYNC_FAILED, "state sync needs an empty chain store (remove data/chain first)");
    this.batch = store.kv.batch();
  }

  get chunksDone(): number {
    return this.done.size;
  }

  /** Store a chunk's records and the tree nodes they rebuild (already verified by verifyChunk). */
  async addChunk(index: number, items: readonly SnapshotItem[], leaves: readonly Leaf[]): Promise<void> {
    if (this.done.has(index)) return;
    for (const it of items) {
      this.store.records.putEncoded(this.batch, [[it.id, it.bytes]]);
      this.batchBytes += it.bytes.length + it.id.length;
      if (it.id === VALIDATORS_ID) this.validators = decodeCanonical(it.bytes) as unknown as ValidatorsRecord;
    }
    const height = this.manifest.height;
    buildSubtree(
      leaves,
      this.manifest.chunkBits,
      (hash, enc) => {
        this.store.smtNodes.putNode(this.batch, height, hash, enc);
        this.batchBytes += 41 + enc.length;
      },
      nodeAt(height),
    );
    this.done.add(index);
    if (this.batchBytes >= RESTORE_BATCH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    const b = this.batch;
    this.batch = this.store.kv.batch();
    this.batchBytes = 0;
    await b.write();
  }

  /** The top of the tree, the block and commit at the height, the validator sets and the head, in one synced batch. */
  /**
   * `prioritiesFor`: the proposer priorities of height + 1 when the snapshot
   * carries none (a single validator stores none), from the set in force at
   * height + 1 (undefined: the genesis set).
   */
  async finish(genesisHash: Uint8Array, block: Block, commit: Commit, prioritiesFor?: (set: ValidatorEntry[] | undefined) => Uint8Array | undefined): Promise<void> {
    const m = this.manifest;
    const missing = m.chunks.findIndex((c, i) => c.leaves > 0 && !this.done.has(i));
    if (missing >= 0) throw new SnapshotError(SnapshotErrorCode.SYNC_FAILED, `chunk ${missing} was not restored`);
    const h = block.header;
    if (h.height !== m.height || !bytesEqual(h.stateRoot, m.stateRoot)) throw new SnapshotError(SnapshotErrorCode.BAD_HEADER, "the block is not the snapshot's");
    const hash = headerHash(h);
    const { store, batch } = this;
    rootFromSubtrees(m.chunks.map((c) => ({ hash: c.root, leaves: c.leaves })), m.chunkBits, (nh, enc) => store.smtNodes.putNode(batch, h.height, nh, enc), nodeAt(h.height));
    store.meta.putGenesisHash(batch, genesisHash);
    // Every tree this store holds is keyed by height, from the snapshot's on.
    store.meta.putSmtKeyedFrom(batch, h.height);
    // The base block is kept whole, its txs inline.
    store.blocks.putWhole(batch, block, hash);
    store.commits.put(batch, h.height, commit);
    await store.txIndex.putBlock(batch, h.height, block.txs.map(txHash));
    if (this.validators) {
      // The sets of heights h (the block's own, for the next block's lastCommit) and after, as the store indexes them.
      store.validatorSets.put(batch, h.height, validatorSetAt(this.validators, h.height));
      for (const p of this.validators.pending) if (p.effectiveHeight > h.height) store.validatorSets.put(batch, p.effectiveHeight, p.set);
    }
    const priorities = m.proposerPriorities ?? prioritiesFor?.(this.validators ? validatorSetAt(this.validators, h.height + 1) : undefined);
    if (priorities) batch.put(proposerPrioritiesKey(h.height + 1), priorities);
    store.meta.putBaseHeight(batch, h.height);
    // The version indexes hold no history before the base height; their layout marker says they are current.
    store.versions.markIndexCurrent(batch);
    store.txIndex.markBegun(batch);
    store.meta.putHead(batch, { height: h.height, hash, time: h.time, stateRoot: h.stateRoot });
    const b = this.batch;
    await b.write({ sync: true });
  }
}
