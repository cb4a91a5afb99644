/**
 * State snapshots: the current state records at one height, cut into chunks
 * a joining node can check one by one against the header's stateRoot.
 *
 * Format (sid snapshot v2; v1 differs only in the chunk file)
 *   - Chunk i (0 <= i < 2^chunkBits) holds every state record whose tree key
 *     (stateKeyOf(id)) starts with the chunkBits bits of i, sorted by tree
 *     key. Its items are [id, recordBytes]; the leaf of an item is
 *     (stateKeyOf(id), sha256(recordBytes)), as the state tree has it.
 *   - A chunk's subtree root is the canonical sid SMT v1 subtree of its
 *     leaves at depth chunkBits: EMPTY for none, the leaf hash itself for
 *     one (compaction: a lone leaf stands where it becomes alone), an
 *     internal node otherwise. With the leaf counts of the chunks, the
 *     state root follows from the 2^chunkBits subtree roots: a pair of
 *     siblings holding 0 leaves is EMPTY, 1 leaf is that leaf, 2 or more an
 *     internal node over the two.
 *   - Manifest: {format, height, stateRoot, chunkBits, chunks: [{root,
 *     leaves, bytes, hash}], proposerPriorities}. `root` and the zero/one/more
 *     class of `leaves` are under the state root; `leaves` beyond that,
 *     `bytes` and `hash` (sha256 of the chunk file) are the serving node's
 *     word, for progress and for comparing offers, and a chunk is never
 *     refused for them: the proof of a chunk is its subtree root. A manifest is accepted when the root recomputed from its
 *     chunks' roots and counts is the stateRoot of the header at its height
 *     (checked by the light client); a chunk when its leaves, all under its
 *     prefix, sorted and distinct, rebuild its manifest root and count.
 *   - Chunk data: canonical CBOR {index, items}. The chunk file is that
 *     data brotli-compressed (format 2) or the data itself (format 1, still
 *     read and served). A format-2 file is decompressed in libuv's thread
 *     pool with its output bounded by MAX_CHUNK_DATA_BYTES: a file that
 *     decompresses past it, or that is no brotli stream, is a bad chunk.
 *     Everything else is checked on the data, whatever the format.
 *   - proposerPriorities is the serving node's stored proposer priorities of
 *     height + 1 (not under the state root; see docs/state-sync.md).
 */
import { promisify } from "node:util";
import { brotliCompress, brotliDecompress, constants as zlibConstants } from "node:zlib";
import { bytesEqual, compareBytes, toHex } from "../crypto/bytes.js";
import { sha256, sha256Parts } from "../crypto/hash.js";
import { CodedError } from "../errors.js";
import { type CanonicalValue, decodeCanonical, encodeCanonical } from "./codec.js";
import { internalRecord, leafRecord } from "./smt.js";
import { EMPTY_REF, KIND_INTERNAL, type NodeAt, type Ref, builtNode, leafNode, storedForm } from "./smt-node.js";
import { stateKeyOf } from "./state.js";

/** The format this node writes: chunk files brotli-compressed. */
export const SNAPSHOT_FORMAT = 2;
/** The format before it, chunk files uncompressed: still read (from older peers) and served (snapshots already on disk). */
export const SNAPSHOT_FORMAT_PLAIN = 1;
/** Formats this node reads. */
export const SNAPSHOT_FORMATS: readonly number[] = [SNAPSHOT_FORMAT_PLAIN, SNAPSHOT_FORMAT];
/** Chunk counts a manifest may name: 2^4 to 2^12 (a 2^12 manifest stays far below a p2p frame). */
export const MIN_CHUNK_BITS = 4;
export const MAX_CHUNK_BITS = 12;

export enum SnapshotErrorCode {
  /** A manifest that is malformed or whose chunk roots do not give the header's state root. */
  BAD_MANIFEST = "SNAPSHOT_BAD_MANIFEST",
  /** A chunk that is malformed or does not rebuild its manifest subtree root. */
  BAD_CHUNK = "SNAPSHOT_BAD_CHUNK",
  /** No snapshot at that height (or chunk index) on this node. */
  NOT_FOUND = "SNAPSHOT_NOT_FOUND",
  /** The header of a snapshot height did not verify against the trusted validators. */
  BAD_HEADER = "SNAPSHOT_BAD_HEADER",
  /**
   * The header of a snapshot height is not reached from the genesis validators: the set changed since genesis
   * and no peer serves a header the light client needs to bisect between. Not a peer's fault.
   */
  UNTRUSTED_SET = "SNAPSHOT_UNTRUSTED_SET",
  /** State sync could not complete (no peer offers a usable snapshot, or time ran out). */
  SYNC_FAILED = "STATE_SYNC_FAILED",
}

export class SnapshotError extends CodedError<SnapshotErrorCode> {}

const HASH_BYTES = 32;
const EMPTY = new Uint8Array(HASH_BYTES);
const LEAF_TAG = new Uint8Array([0x00]);
const INTERNAL_TAG = new Uint8Array([0x01]);
/** Bound on one record's bytes in a chunk (records are far smaller: documents are bounded by the tx size). */
const MAX_RECORD_BYTES = 1 << 20;
const MAX_ID_CHARS = 4096;
/**
 * Bound on a chunk's data (its CBOR, decompressed): 64 MiB, room for 64
 * records of MAX_RECORD_BYTES. A writer never makes a larger chunk (at most
 * 2^MAX_CHUNK_BITS chunks, that is 256 GiB of records, 300 million DIDs at
 * about 800 bytes each), and a joining node allocates no more than this
 * (plus one zlib output block) for any chunk file a peer sends, however
 * small the file: 16 times the default p2p frame, and at most
 * two decompressions at a time in all (CHUNKS_IN_HAND, p2p/snapshot-sync.ts).
 */
export const MAX_CHUNK_DATA_BYTES = 64 * MAX_RECORD_BYTES;
/**
 * Brotli quality of chunk files. Measured on chunks of real DID records
 * (about 800 bytes each, 1.6 MB a chunk): quality 5 stores them in 1/7.1
 * of their size at about 85 MB/s; deflate-raw (level 6) in 1/6.1 at about
 * the same speed; brotli above 5 gains under 5% for 2 to 100 times the CPU.
 */
const BROTLI_QUALITY = 5;
const brotliCompressAsync = promisify(brotliCompress);
const brotliDecompressAsync = promisify(brotliDecompress);

export interface ChunkEntry {
  /** Subtree root of the chunk at depth chunkBits. */
  root: Uint8Array;
  /** Leaves in the chunk. */
  leaves: number;
  /** Size of the chunk file as stored and served (compressed in format 2; 0 for an empty chunk, which has no file). */
  bytes: number;
  /** sha256 of the chunk file (EMPTY for an empty chunk). */
  hash: Uint8Array;
}

export interface SnapshotManifest {
  format: number;
  height: number;
  stateRoot: Uint8Array;
  chunkBits: number;
  chunks: ChunkEntry[];
  proposerPriorities: Uint8Array | null;
}

/** One record of a chunk: its state id and stored bytes. */
export interface SnapshotItem {
  id: string;
  bytes: Uint8Array;
}

/** A leaf of the tree: its key and valueHash. */
export interface Leaf {
  key: Uint8Array;
  valueHash: Uint8Array;
}

/** Encoded tree nodes found while building a subtree: hash, encoding. */
export type NodeSink = (hash: Uint8Array, encoded: Uint8Array) => void;

export interface SubtreeRef {
  hash: Uint8Array;
  leaves: number;
}

/** Bit `depth` of a key, most significant bit of byte 0 first (smt.ts). */
function pathBit(key: Uint8Array, depth: number): number {
  return (key[depth >> 3]! >> (7 - (depth & 7))) & 1;
}

/** The chunk a tree key belongs to: its first `bits` bits. */
export function chunkIndexOf(key: Uint8Array, bits: number): number {
  let v = 0;
  for (let i = 0; i < bits; i++) v = (v << 1) | pathBit(key, i);
  return v;
}

/**
 * The canonical subtree at `depth` over `leaves[lo..hi)`, sorted by key,
 * distinct, all sharing the first `depth` bits. Bottom-up in one pass; when
 * `sink` is given, every record the store keeps for it goes there: its
 * internal nodes, leaves inline and nodes with an EMPTY child held
 * (smt-node.ts storedForm), and the leaf itself when the subtree is one
 * leaf (the nodes above refer to it by hash), all records at `at`
 * (smt-node.ts NodeAt).
 */
export function buildSubtree(leaves: readonly Leaf[], depth: number, sink?: NodeSink, at: NodeAt = 0): Uint8Array {
  if (!sink) return subtreeHash(leaves, depth, 0, leaves.length);
  if (leaves.length === 1) {
    const { hash, record } = leafRecord(leaves[0]!.key, leaves[0]!.valueHash);
    sink(hash, record);
    return hash;
  }
  const root = subtreeNodes(leaves, depth, sink, at, 0, leaves.length);
  // A held node at the top is read by its hash (from the nodes above the chunk): it gets a record of its own.
  if (root.kind === KIND_INTERNAL && root.held) sink(root.hash, storedForm({ ...root, at }));
  return root.hash;
}

function subtreeHash(leaves: readonly Leaf[], depth: number, lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 0) return EMPTY.slice();
  if (n === 1) return sha256Parts(LEAF_TAG, leaves[lo]!.key, leaves[lo]!.valueHash);
  const mid = splitAt(leaves, depth, lo, hi);
  return sha256Parts(INTERNAL_TAG, subtreeHash(leaves, depth + 1, lo, mid), subtreeHash(leaves, depth + 1, mid, hi));
}

/** The subtree's nodes, bottom-up, as the tree writes them (smt-node.ts builtNode): records to `sink`, nodes with an EMPTY child held by the node above. */
function subtreeNodes(leaves: readonly Leaf[], depth: number, sink: NodeSink, at: NodeAt, lo: number, hi: number): Ref {
  const n = hi - lo;
  if (n === 0) return EMPTY_REF;
  if (n === 1) return leafNode(leaves[lo]!.key, leaves[lo]!.valueHash);
  const mid = splitAt(leaves, depth, lo, hi);
  return builtNode(subtreeNodes(leaves, depth + 1, sink, at, lo, mid), subtreeNodes(leaves, depth + 1, sink, at, mid, hi), sink, at);
}

/** The first index in `leaves[lo..hi)` whose bit `depth` is 1; two or more leaves, so `depth` is below 256. */
function splitAt(leaves: readonly Leaf[], depth: number, lo: number, hi: number): number {
  if (depth >= 256) throw new Error("distinct keys did not diverge within 256 bits");
  let a = lo;
  let b = hi;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (pathBit(leaves[m]!.key, depth) === 0) a = m + 1;
    else b = m;
  }
  return a;
}

/**
 * The tree root from the 2^bits subtree roots at depth `bits` and their leaf
 * counts (the compaction rule: a subtree with one leaf is that leaf).
 */
export function rootFromSubtrees(subtrees: readonly SubtreeRef[], bits: number, sink?: NodeSink, at: NodeAt = 0): Uint8Array {
  if (subtrees.length !== 1 << bits) throw new Error(`expected ${1 << bits} subtrees, got ${subtrees.length}`);
  let level: SubtreeRef[] = subtrees.map((s) => ({ hash: s.hash, leaves: s.leaves }));
  for (let d = bits; d > 0; d--) {
    const up: SubtreeRef[] = new Array(level.length / 2);
    for (let i = 0; i < up.length; i++) {
      const l = level[2 * i]!;
      const r = level[2 * i + 1]!;
      const leaves = l.leaves + r.leaves;
      if (leaves === 0) up[i] = { hash: EMPTY, leaves };
      else if (leaves === 1) up[i] = { hash: l.leaves === 1 ? l.hash : r.hash, leaves };
      else {
        // Children by hash: a chunk root that is one leaf has a record of its own (buildSubtree).
        const { hash, record } = internalRecord({ hash: l.hash }, { hash: r.hash }, at);
        sink?.(hash, record);
        up[i] = { hash, leaves };
      }
    }
    level = up;
  }
  return level[0]!.hash.slice();
}

/** The leaf of a record as the state tree holds it; `key`, where given, is taken as its tree key (a writer's own, computed from the id already). */
export function leafOf(item: SnapshotItem & { key?: Uint8Array }): Leaf {
  return { key: item.key ?? stateKeyOf(item.id), valueHash: sha256(item.bytes) };
}

export function encodeChunk(index: number, items: readonly SnapshotItem[]): Uint8Array {
  return encodeCanonical({ index, items: items.map((it) => [it.id, it.bytes]) });
}

/** The chunk file of format-2 chunk data: brotli, compressed in libuv's thread pool. */
export async function compressChunk(data: Uint8Array): Promise<Uint8Array> {
  const out = await brotliCompressAsync(data, {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/**
 * The data (canonical CBOR) of chunk `index`'s file as `manifest`'s format
 * stores it: the file itself (format 1), or the file decompressed in
 * libuv's thread pool with at most `bound` bytes of output (format 2).
 * Throws SNAPSHOT_BAD_CHUNK for a file that is no brotli stream or that
 * decompresses past `bound` (decompression stops there).
 */
export async function chunkData(manifest: Pick<SnapshotManifest, "format">, index: number, file: Uint8Array, bound = MAX_CHUNK_DATA_BYTES): Promise<Uint8Array> {
  if (!(file instanceof Uint8Array)) throw badChunk(index, "expected bytes");
  if (manifest.format === SNAPSHOT_FORMAT_PLAIN) return file;
  if (manifest.format !== SNAPSHOT_FORMAT) throw badChunk(index, `unknown snapshot format ${String(manifest.format)}`);
  try {
    const out = await brotliDecompressAsync(file, { maxOutputLength: bound });
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code === "ERR_BUFFER_TOO_LARGE") throw badChunk(index, `decompresses past ${bound} bytes (the bound on a chunk's data)`);
    throw badChunk(index, `not a brotli stream: ${err.message}`);
  }
}

/** verifyChunk over a chunk file as served: its data first (chunkData), then the same checks. */
export async function verifyChunkFile(manifest: SnapshotManifest, index: number, file: Uint8Array): Promise<{ items: SnapshotItem[]; leaves: Leaf[] }> {
  if (!manifest.chunks[index]) throw badChunk(index, `no such chunk (the manifest has ${manifest.chunks.length})`);
  return verifyChunk(manifest, index, await chunkData(manifest, index, file));
}

function badChunk(index: number, why: string): SnapshotError {
  return new SnapshotError(SnapshotErrorCode.BAD_CHUNK, `snapshot chunk ${index}: ${why}`, { index });
}

function badManifest(why: string): SnapshotError {
  return new SnapshotError(SnapshotErrorCode.BAD_MANIFEST, `snapshot manifest: ${why}`);
}

/**
 * Checks the data (canonical CBOR, decompressed) of chunk `index` of
 * `manifest` and returns its items and leaves (in tree-key order), from
 * which SnapshotRestorer writes the chunk's records and tree nodes. Throws
 * SNAPSHOT_BAD_CHUNK for anything that does not rebuild the manifest's
 * subtree root: a changed, missing or extra record, a record outside the
 * chunk's prefix, items out of order or repeated.
 */
export function verifyChunk(manifest: SnapshotManifest, index: number, bytes: Uint8Array): { items: SnapshotItem[]; leaves: Leaf[] } {
  const entry = manifest.chunks[index];
  if (!entry) throw badChunk(index, `no such chunk (the manifest has ${manifest.chunks.length})`);
  if (!(bytes instanceof Uint8Array)) throw badChunk(index, "expected bytes");
  let value: CanonicalValue;
  try {
    value = decodeCanonical(bytes);
  } catch (e) {
    throw badChunk(index, `not canonical CBOR: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) throw badChunk(index, "expected a map");
  const rec = value as Record<string, CanonicalValue>;
  if (Object.keys(rec).sort().join(",") !== "index,items") throw badChunk(index, "expected exactly the fields index, items");
  if (rec.index !== index) throw badChunk(index, `the file says it is chunk ${String(rec.index)}`);
  if (!Array.isArray(rec.items)) throw badChunk(index, "items is not an array");
  const items: SnapshotItem[] = [];
  const leaves: Leaf[] = [];
  for (let i = 0; i < rec.items.length; i++) {
    const it = rec.items[i];
    if (!Array.isArray(it) || it.length !== 2 || typeof it[0] !== "string" || !(it[1] instanceof Uint8Array)) throw badChunk(index, `item ${i} is not [id, bytes]`);
    const [id, recBytes] = it as [string, Uint8Array];
    if (id.length === 0 || id.length > MAX_ID_CHARS || !id.includes(":")) throw badChunk(index, `item ${i} has no valid state id`);
    if (recBytes.length === 0 || recBytes.length > MAX_RECORD_BYTES) throw badChunk(index, `item ${i} (${id}) has ${recBytes.length} bytes`);
    const leaf = leafOf({ id, bytes: recBytes });
    if (chunkIndexOf(leaf.key, manifest.chunkBits) !== index) throw badChunk(index, `record ${id} belongs to chunk ${chunkIndexOf(leaf.key, manifest.chunkBits)}`);
    const prev = leaves[leaves.length - 1];
    if (prev && compareBytes(prev.key, leaf.key) >= 0) throw badChunk(index, `records are not in strictly ascending tree-key order at item ${i}`);
    items.push({ id, bytes: recBytes });
    leaves.push(leaf);
  }
  const root = buildSubtree(leaves, manifest.chunkBits);
  if (!bytesEqual(root, entry.root)) throw badChunk(index, `its records rebuild subtree root ${toHex(root)}, the manifest says ${toHex(entry.root)}`);
  return { items, leaves };
}

/** The root a manifest's chunk roots give; the manifest is the chain's when it equals the header's stateRoot. */
export function manifestRoot(m: SnapshotManifest): Uint8Array {
  return rootFromSubtrees(m.chunks.map((c) => ({ hash: c.root, leaves: c.leaves })), m.chunkBits);
}

/** Check a manifest against the state root of the verified header at its height. */
export function verifyManifest(m: SnapshotManifest, stateRoot: Uint8Array): void {
  if (!bytesEqual(m.stateRoot, stateRoot)) throw badManifest(`names state root ${toHex(m.stateRoot)}, the header at ${m.height} has ${toHex(stateRoot)}`);
  const root = manifestRoot(m);
  if (!bytesEqual(root, stateRoot)) throw badManifest(`its chunk roots give ${toHex(root)}, not the header's state root ${toHex(stateRoot)}`);
}

export function encodeManifest(m: SnapshotManifest): Uint8Array {
  return encodeCanonical(manifestValue(m));
}

export function manifestValue(m: SnapshotManifest): CanonicalValue {
  return {
    format: m.format,
    height: m.height,
    stateRoot: m.stateRoot,
    chunkBits: m.chunkBits,
    chunks: m.chunks.map((c) => [c.root, c.leaves, c.bytes, c.hash]),
    proposerPriorities: m.proposerPriorities,
  };
}

/** Strict decoding of a manifest (shape and bounds; verifyManifest checks it against a header). */
export function decodeManifest(v: CanonicalValue): SnapshotManifest {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) throw badManifest("expected a map");
  const r = v as Record<string, CanonicalValue>;
  if (Object.keys(r).sort().join(",") !== "chunkBits,chunks,format,height,proposerPriorities,stateRoot") throw badManifest("unexpected or missing fields");
  const format = r.format;
  if (typeof format !== "number" || !SNAPSHOT_FORMATS.includes(format)) throw badManifest(`unknown format ${String(format)}: this node reads formats ${SNAPSHOT_FORMATS.join(" and ")}`);
  const height = r.height;
  if (typeof height !== "number" || !Number.isSafeInteger(height) || height < 1) throw badManifest("height must be a positive integer");
  if (!(r.stateRoot instanceof Uint8Array) || r.stateRoot.length !== HASH_BYTES) throw badManifest("stateRoot must be 32 bytes");
  const bits = r.chunkBits;
  if (typeof bits !== "number" || !Number.isSafeInteger(bits) || bits < MIN_CHUNK_BITS || bits > MAX_CHUNK_BITS) throw badManifest(`chunkBits must be in [${MIN_CHUNK_BITS}, ${MAX_CHUNK_BITS}]`);
  if (!Array.isArray(r.chunks) || r.chunks.length !== 1 << bits) throw badManifest(`expected ${1 << bits} chunk entries`);
  const chunks = r.chunks.map((c, i): ChunkEntry => {
    if (!Array.isArray(c) || c.length !== 4) throw badManifest(`chunk ${i}: expected [root, leaves, bytes, hash]`);
    const [root, leaves, bytes, hash] = c;
    if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES || !(hash instanceof Uint8Array) || hash.length !== HASH_BYTES) throw badManifest(`chunk ${i}: root and hash must be 32 bytes`);
    if (typeof leaves !== "number" || !Number.isSafeInteger(leaves) || leaves < 0) throw badManifest(`chunk ${i}: leaves must be a count`);
    if (typeof bytes !== "number" || !Number.isSafeInteger(bytes) || bytes < 0) throw badManifest(`chunk ${i}: bytes must be a count`);
    if ((leaves === 0) !== (bytes === 0)) throw badManifest(`chunk ${i}: an empty chunk has no bytes, a non-empty one has some`);
    return { root, leaves, bytes, hash };
  });
  const pp = r.proposerPriorities;
  if (pp !== null && !(pp instanceof Uint8Array && pp.length <= 64 * 1024)) throw badManifest("proposerPriorities must be bytes or null");
  return { format, height, stateRoot: r.stateRoot, chunkBits: bits, chunks, proposerPriorities: pp };
}
