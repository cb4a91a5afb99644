/**
 * The state tree: a compact binary sparse Merkle tree over 256-bit keys. Its
 * root is the block header's stateRoot, so this file is a public format.
 *
 * Format (sid SMT v1)
 *   - Keys are 32 bytes (sha256 of a record key), values are 32-byte hashes
 *     of the record ("valueHash").
 *   - Path: bit i of the path is bit i of the key, most significant bit of
 *     byte 0 first; bit 0 chooses the child under the root, 0 = left.
 *   - EMPTY (a subtree with no leaf) is 32 zero bytes.
 *   - leaf     = 0x00 || key(32) || valueHash(32)    (65 bytes)
 *     internal = 0x01 || left(32) || right(32)       (65 bytes)
 *     The hash of a node is sha256 of its encoding, so the stored bytes are
 *     exactly the hash preimage, and the 0x00/0x01 tag separates the two
 *     domains (a leaf can never pass for an internal node).
 *   - Compaction: a subtree holding exactly one leaf is that leaf itself,
 *     placed at the depth where it first becomes alone (as in Diem's
 *     Jellyfish tree). A subtree with two or more leaves is an internal node,
 *     even if one of its children is EMPTY. Hence the root depends only on
 *     the set of (key, valueHash) pairs, never on insertion order or
 *     batching, and the depth never exceeds 256 (two distinct keys diverge
 *     by bit 255 at the latest).
 *   - Storage (not part of the format: nothing hashes it): a record per
 *     node under (the height whose block wrote it, nodeHash), ending with
 *     where the records of the children it refers to by hash are (SmtPlaces;
 *     under nodeHash alone in a store that began before). An internal node's record holds its leaf children
 *     inline (storedForm), so a leaf has no record of its own unless it is
 *     the root (a tree of one key) or was written before leaves were held
 *     inline. Nor has an internal node with an EMPTY child, unless it is a
 *     root or was written before such nodes were held: the record of the
 *     node above holds it whole. A record is checked against its hash when
 *     read. EMPTY is
 *     never stored. The store deletes the records of trees older than the
 *     history it keeps (store.ts).
 *   - Proof: the sibling hashes on the walk from the root down to where the
 *     walk stops (an EMPTY subtree or a leaf), plus that leaf. A leaf with a
 *     different key proves absence just as EMPTY does: in a canonical tree
 *     the subtree on the key's path holds only that other leaf.
 */
import { bytesEqual, compareBytes, toHex } from "../crypto/bytes.js";
import { sha256Parts } from "../crypto/hash.js";
import {
  EMPTY,
  EMPTY_REF,
  HASH_BYTES,
  INTERNAL_TAG,
  KEY_BYTES,
  KIND_INTERNAL,
  KIND_LEAF,
  LEAF_TAG,
  MAX_DEPTH,
  NodeCache,
  type NodeAt,
  type Ref,
  SmtNodeError,
  SmtNodeErrorCode,
  type TreeNode,
  beyondMaxDepth,
  childOf,
  decodeStored,
  describeLength,
  internalNode,
  isEmpty,
  isNode,
  leafNode,
  storedForm,
} from "./smt-node.js";

export { SmtNodeError, SmtNodeErrorCode, internalRecord, leafRecord, nodeAt, type NodeAt, type SmtChild } from "./smt-node.js";

const INTERNAL_TAG_BYTES = new Uint8Array([INTERNAL_TAG]);
const LEAF_TAG_BYTES = new Uint8Array([LEAF_TAG]);
/**
 * ~200k nodes of 98 bytes, about 19 MiB in the cache's buffers. A tree of N
 * random keys has about 1.44 N internal nodes, which hold the N leaves
 * inline (a node with leaves takes 162 or 226 bytes), so this keeps a tree
 * of ~90k leaves entirely in memory, and the hot top levels of a larger one.
 */
const DEFAULT_CACHE_SIZE = 200_000;
const HEX32_RE = /^[0-9a-f]{64}$/;

/**
 * The root of the empty tree: 32 zero bytes. A typed array cannot be frozen,
 * so the code below compares against its own private copy and never hands
 * this instance out.
 */
export const EMPTY_ROOT: Uint8Array = new Uint8Array(HASH_BYTES);

/** The store's records: the bytes of the record of `hash` at `at` (NodeAt: 0 under the hash alone, h + 1 at height h). */
export interface SmtNodeReader {
  getNode(hash: Uint8Array, at: NodeAt): Promise<Uint8Array | undefined>;
}

/**
 * Where an update's records are: `rootAt`, the place of the record of the
 * root it starts from; `at`, the place of the records it makes. Records
 * under their hash alone (0 and 0, the default) are shared by every tree
 * holding the node; records keyed by height (`at` = h + 1 for the tree of
 * height h) are each tree's own from the height that made them, and the
 * root of every height gets a record at that height, even when unchanged.
 */
export interface SmtPlaces {
  rootAt: NodeAt;
  at: NodeAt;
}

/** value = 32-byte valueHash to set, null to delete. */
export interface SmtUpdate {
  key: Uint8Array;
  value: Uint8Array | null;
  /**
   * The (key, value) pair may have been in the tree before, or may come back
   * after it is replaced (a record whose encoding can repeat). Nodes above it
   * that this update makes stale are then flagged `mayReturn`, and a pruner
   * checks them against the live tree before deleting them.
   */
  mayRepeat?: boolean;
}

/** A node of the tree before an update that the tree after it no longer holds. */
export interface StaleNode {
  hash: Uint8Array;
  /**
   * A key on the node's path (its own key for a leaf), and the node's depth:
   * where to look for it in a later tree.
   */
  path: Uint8Array;
  depth: number;
  leaf: boolean;
  /**
   * An update under it had mayRepeat, and its record is under its hash
   * alone: the same record may be written again later. (A record keyed by
   * height is never written again: a node made again gets one at its new
   * height.)
   */
  mayReturn: boolean;
  /** Where its record is (NodeAt). */
  at: NodeAt;
}

export interface SmtUpdateResult {
  root: Uint8Array;
  /** hex(nodeHash) -> encoded node, for every node this batch created (some may already exist). */
  newNodes: Map<string, Uint8Array>;
  /** Nodes of the tree at the old root that the new root does not reach (none of them in newNodes). */
  staleNodes: StaleNode[];
}

export interface SmtProof {
  /** Sibling hashes from the root downwards, one per level walked. */
  siblings: Uint8Array[];
  /** The leaf where the walk stopped (a different key proves absence), or null when it stopped at EMPTY. */
  leaf: { key: Uint8Array; valueHash: Uint8Array } | null;
}

/** The JSON form of a proof (the return type of encodeSmtProof). */
interface SmtProofJson {
  siblings: string[];
  leaf: { key: string; valueHash: string } | null;
}

/** A sorted, de-duplicated entry; `hash` is set when the leaf already exists in the tree. */
interface Entry {
  key: Uint8Array;
  value: Uint8Array | null;
  hash?: Uint8Array;
  mayRepeat?: boolean;
}

/** What one update walk collects besides the new root. */
interface UpdateOut {
  nodes: Map<string, Uint8Array>;
  stale: StaleNode[];
  /** repeats[i] = entries before index i with mayRepeat: a range has one iff the counts differ. */
  repeats: Int32Array;
  /** Where the new records go (NodeAt). */
  at: NodeAt;
}


export class SparseMerkleTree {
  private readonly reader: SmtNodeReader;
  private readonly cache: NodeCache;
  /** Node lookups answered by the cache, and those that went to the store, since construction. */
  private hits = 0;
  private misses = 0;

  constructor(reader: SmtNodeReader, opts: { cacheSize?: number } = {}) {
    if (reader === null || typeof reader !== "object" || typeof reader.getNode !== "function") {
      throw new Error("expected an SmtNodeReader with a getNode(hash) method");
    }
    const size = opts.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new Error(`expected cacheSize to be a non-negative integer, got ${String(size)}`);
    }
    this.reader = reader;
    this.cache = new NodeCache(size);
  }

  /**
   * Applies a batch to the tree at `root` and returns the new root. Updates
   * are sorted by key and the tree is walked once, splitting the sorted range
   * by path bit, so every touched node is read and hashed once per batch.
   * Within a batch the last update of a key wins. `places`: where the
   * records are (SmtPlaces); the new records, all at `places.at`, are
   * newNodes.
   */
  async update(root: Uint8Array, updates: SmtUpdate[], places: SmtPlaces = { rootAt: 0, at: 0 }): Promise<SmtUpdateResult> {
    checkBytes(root, HASH_BYTES, "root");
    checkPlace(places?.rootAt, "rootAt");
    checkPlace(places?.at, "at");
    const entries = normalizeUpdates(updates);
    const newNodes = new Map<string, Uint8Array>();
    const { at } = places;
    // Nothing changes, and the root's record is where the new one would be.
    if (entries.length === 0 && (at === places.rootAt || isEmpty(root))) return { root: root.slice(), newNodes, staleNodes: [] };
    const repeats = new Int32Array(entries.length + 1);
    entries.forEach((e, i) => (repeats[i + 1] = repeats[i]! + (e.mayRepeat ? 1 : 0)));
    const out: UpdateOut = { nodes: newNodes, stale: [], repeats, at };
    const ref = await this.updateSubtree({ hash: root, kind: undefined, at: places.rootAt }, 0, entries, 0, entries.length, out);
    let own: TreeNode | undefined;
    // A tree of one leaf: that leaf is the root, and a root is read by its hash.
    if (ref.kind === KIND_LEAF) own = { ...ref, standalone: true, at };
    // So is a new root with an EMPTY child, made to be held by a parent it does not have.
    else if (ref.kind === KIND_INTERNAL && ref.held) own = { ...ref, held: false, at };
    // The root unchanged, its record elsewhere: the new height gets its own (the old one goes stale with its height).
    else if (ref.kind === KIND_INTERNAL && ref.at !== at) own = { ...ref, at };
    if (own !== undefined) {
      newNodes.set(toHex(own.hash), own.kind === KIND_LEAF ? own.encoded : storedForm(own));
      this.cache.set(own);
    }
    if (isNode(ref) && bytesEqual(ref.hash, root) && places.rootAt !== at) {
      out.stale.push({ hash: ref.hash.slice(), path: ref.kind === KIND_LEAF ? ref.first.slice() : new Uint8Array(KEY_BYTES), depth: 0, leaf: ref.kind === KIND_LEAF, mayReturn: false, at: places.rootAt });
    }
    // A record both replaced and written again (the same node elsewhere in the walk, under its hash alone) is not stale.
    const staleNodes = out.stale.filter((n) => n.at !== at || !newNodes.has(toHex(n.hash)));
    return { root: ref.hash.slice(), newNodes, staleNodes };
  }

  /** The valueHash stored under `key` in the tree at `root` (its record at `rootAt`), or null. */
  async get(root: Uint8Array, key: Uint8Array, rootAt: NodeAt = 0): Promise<Uint8Array | null> {
    checkBytes(root, HASH_BYTES, "root");
    checkBytes(key, KEY_BYTES, "key");
    checkPlace(rootAt, "rootAt");
    let ref: Ref = { hash: root, kind: undefined, at: rootAt };
    for (let depth = 0; ; depth++) {
      if (isEmpty(ref.hash)) return null;
      const node = isNode(ref) ? ref : await this.read(ref, depth);
      if (node.kind === KIND_LEAF) return bytesEqual(node.first, key) ? node.second.slice() : null;
      ref = childOf(node, pathBit(key, depth));
    }
  }

  /**
   * Whether the tree at `root` holds the node `stale` describes: the walk
   * down its path reaches that hash (at its depth for an internal node,
   * whose content fixes its depth; wherever the walk stops for a leaf, which
   * compaction moves up and new neighbours move down).
   */
  async holds(root: Uint8Array, stale: Pick<StaleNode, "hash" | "path" | "depth" | "leaf">, rootAt: NodeAt = 0): Promise<boolean> {
    let ref: Ref = { hash: root, kind: undefined, at: rootAt };
    for (let depth = 0; depth <= MAX_DEPTH; depth++) {
      // Held in its parent's record, the node no longer needs a record of its own.
      if (bytesEqual(ref.hash, stale.hash)) return !(ref.kind === KIND_INTERNAL && ref.held);
      if (isEmpty(ref.hash) || (!stale.leaf && depth >= stale.depth)) return false;
      const node = isNode(ref) ? ref : await this.read(ref, depth);
      if (node.kind === KIND_LEAF) return false;
      ref = childOf(node, pathBit(stale.path, depth));
    }
    return false;
  }

  /** An inclusion proof when `key` is present, a non-inclusion proof otherwise; the root's record is at `rootAt`. */
  async prove(root: Uint8Array, key: Uint8Array, rootAt: NodeAt = 0): Promise<SmtProof> {
    checkBytes(root, HASH_BYTES, "root");
    checkBytes(key, KEY_BYTES, "key");
    checkPlace(rootAt, "rootAt");
    const siblings: Uint8Array[] = [];
    let ref: Ref = { hash: root, kind: undefined, at: rootAt };
    for (let depth = 0; ; depth++) {
      if (isEmpty(ref.hash)) return { siblings, leaf: null };
      const node = isNode(ref) ? ref : await this.read(ref, depth);
      if (node.kind === KIND_LEAF) return { siblings, leaf: { key: node.first.slice(), valueHash: node.second.slice() } };
      const bit = pathBit(key, depth);
      siblings.push((bit === 0 ? node.second : node.first).slice());
      ref = childOf(node, bit);
    }
  }

  /** `entries[lo..hi)` all share the first `depth` bits: the path of the subtree `at`. */
  private async updateSubtree(at: Ref, depth: number, entries: Entry[], lo: number, hi: number, out: UpdateOut): Promise<Ref> {
    if (isEmpty(at.hash)) return this.build(entries.slice(lo, hi).filter((e) => e.value !== null), depth, out.nodes, out.at);
    const node = isNode(at) ? at : await this.read(at, depth);
    if (node.kind === KIND_LEAF) {
      const merged = this.mergeIntoLeaf(node, depth, entries, lo, hi, out.nodes, out.at);
      // An inline leaf lives in its parent's record, which goes stale with it.
      // A leaf with a record of its own is stale once replaced, or once it
      // moves down beside new leaves, where its new parent holds it inline.
      if (node.standalone && !bytesEqual(merged.hash, node.hash)) {
        out.stale.push({ hash: node.hash.slice(), path: node.first.slice(), depth, leaf: true, mayReturn: mayReturn(out, lo, hi), at: node.at });
      }
      return merged;
    }

    const left = childOf(node, 0);
    const right = childOf(node, 1);
    const mid = splitIndex(entries, lo, hi, depth);
    // Both sides at once: their cache misses reach the reader together, which may read them in one call.
    const [l, r] = await Promise.all([
      lo < mid ? this.updateSubtree(left, depth + 1, entries, lo, mid, out) : left,
      mid < hi ? this.updateSubtree(right, depth + 1, entries, mid, hi, out) : right,
    ]);
    if (bytesEqual(l.hash, node.first) && bytesEqual(r.hash, node.second)) return node;
    // A held node lives in its parent's record, which goes stale with it.
    if (!node.held) out.stale.push({ hash: node.hash.slice(), path: entries[lo]!.key, depth, leaf: false, mayReturn: mayReturn(out, lo, hi), at: node.at });

    // Compaction: a subtree left with one leaf is that leaf, so a lone leaf
    // next to EMPTY moves up; it keeps moving up while its sibling is EMPTY.
    const lEmpty = isEmpty(l.hash);
    const rEmpty = isEmpty(r.hash);
    if (lEmpty && rEmpty) return EMPTY_REF;
    if (lEmpty || rEmpty) {
      const other = lEmpty ? r : l;
      const n = isNode(other) ? other : await this.read(other, depth + 1);
      if (n.kind === KIND_LEAF) {
        // It moves up into a parent that holds it inline: a record of its own is no longer read.
        if (!n.standalone) return n;
        out.stale.push({ hash: n.hash.slice(), path: n.first.slice(), depth: depth + 1, leaf: true, mayReturn: mayReturn(out, lo, hi), at: n.at });
        // Named stale once: up the next level too it is a leaf without a record.
        return { ...n, standalone: false };
      }
    }
    return this.putInternal(l, r, out.nodes, out.at);
  }

  /** The subtree is one existing leaf: rebuild it from that leaf plus the updates. */
  private mergeIntoLeaf(leaf: TreeNode, depth: number, entries: Entry[], lo: number, hi: number, out: Map<string, Uint8Array>, at: NodeAt): Ref {
    const existing: Entry = { key: leaf.first, value: leaf.second, hash: leaf.hash };
    const merged: Entry[] = [];
    let placed = false;
    for (let i = lo; i < hi; i++) {
      const e = entries[i]!;
      const cmp = placed ? -1 : compareBytes(e.key, existing.key);
      if (cmp > 0) {
        merged.push(existing);
        placed = true;
      } else if (cmp === 0) {
        // The update replaces (or deletes) the existing leaf; rewriting the same value creates no node.
        placed = true;
        const same = e.value !== null && bytesEqual(e.value, leaf.second);
        if (e.value !== null) merged.push(same ? existing : e);
        continue;
      }
      if (e.value !== null) merged.push(e);
    }
    if (!placed) merged.push(existing);
    // The tree unchanged: the same leaf, still with its own record if it had one.
    if (merged.length === 1 && merged[0] === existing) return leaf;
    return this.build(merged, depth, out, at);
  }

  /** Builds the canonical subtree at `depth` over sorted, distinct entries with values. */
  private build(entries: Entry[], depth: number, out: Map<string, Uint8Array>, at: NodeAt, lo = 0, hi = entries.length): Ref {
    const n = hi - lo;
    if (n === 0) return EMPTY_REF;
    if (n === 1) {
      const e = entries[lo]!;
      return leafNode(e.key, e.value!, e.hash);
    }
    if (depth >= MAX_DEPTH) throw new Error("SMT invariant broken: distinct keys did not diverge within 256 bits");
    const mid = splitIndex(entries, lo, hi, depth);
    const l = this.build(entries, depth + 1, out, at, lo, mid);
    const r = this.build(entries, depth + 1, out, at, mid, hi);
    return this.putInternal(l, r, out, at);
  }

  /**
   * A new internal node over `l` and `r` (leaves inline), added to `out` and
   * the cache; one with an EMPTY child is held, whole, by the record of the
   * node made above it instead (or made a record at the end, as the root).
   * `at`: where its record goes.
   */
  private putInternal(l: Ref, r: Ref, out: Map<string, Uint8Array>, at: NodeAt): TreeNode {
    if (isEmpty(l.hash) || isEmpty(r.hash)) return internalNode(l, r, true);
    const node = internalNode(l, r, false, at);
    out.set(toHex(node.hash), storedForm(node));
    this.cache.set(node);
    return node;
  }

  /** Cache hits and misses of node lookups since construction (a miss is one store read). */
  cacheStats(): { hits: number; misses: number } {
    return { hits: this.hits, misses: this.misses };
  }

  /** The node of `ref` at `depth` (0 = root), from the cache or else the store. */
  private read(ref: Ref, depth: number): TreeNode | Promise<TreeNode> {
    return this.cached(ref.hash, ref.at, depth) ?? this.load(ref.hash, ref.at, depth);
  }

  /** The node of the record of `hash` at `at`, at `depth` (0 = root), if cached. */
  private cached(hash: Uint8Array, at: NodeAt, depth: number): TreeNode | undefined {
    const node = this.cache.get(hash, at);
    if (node === undefined) this.misses++;
    else this.hits++;
    if (node !== undefined && node.kind === KIND_INTERNAL && depth >= MAX_DEPTH) throw beyondMaxDepth(hash, depth);
    return node;
  }

  /**
   * Reads a node from the store on a cache miss. Content addressing: the
   * bytes must hash to the hash asked for, so a corrupt store cannot pass
   * off another tree. A node the reader lacks or holds wrong is an
   * SmtNodeError: whether that is damage (a tree the store keeps) or a tree
   * pruned on purpose is the store's call, not the tree's.
   */
  private async load(hash: Uint8Array, at: NodeAt, depth: number): Promise<TreeNode> {
    const raw = await this.reader.getNode(hash, at);
    if (raw === undefined) throw new SmtNodeError(SmtNodeErrorCode.MISSING, hash, `missing SMT node ${toHex(hash)}${at === 0 ? "" : ` (of height ${at - 1})`}`);
    const node = decodeStored(hash, raw, at);
    if (node.kind === KIND_INTERNAL && depth >= MAX_DEPTH) throw beyondMaxDepth(hash, depth);
    this.cache.set(node);
    return node;
  }
}


/**
 * Checks a proof against `root` (sid SMT v1): valueHash = the value proved
 * present under `key`, or null to prove `key` absent. Pure; any malformed
 * input gives false, never an exception.
 */
export function verifySmtProof(root: Uint8Array, key: Uint8Array, valueHash: Uint8Array | null, proof: SmtProof): boolean {
  try {
    if (!isBytes(root, HASH_BYTES) || !isBytes(key, KEY_BYTES)) return false;
    if (valueHash !== null && !isBytes(valueHash, HASH_BYTES)) return false;
    if (proof === null || typeof proof !== "object") return false;
    const { siblings, leaf } = proof;
    if (!Array.isArray(siblings) || siblings.length > MAX_DEPTH) return false;
    for (const s of siblings) if (!isBytes(s, HASH_BYTES)) return false;
    if (leaf !== null && (typeof leaf !== "object" || !isBytes(leaf.key, KEY_BYTES) || !isBytes(leaf.valueHash, HASH_BYTES))) {
      return false;
    }

    let hash: Uint8Array;
    if (valueHash !== null) {
      if (leaf === null || !bytesEqual(leaf.key, key) || !bytesEqual(leaf.valueHash, valueHash)) return false;
      hash = sha256Parts(LEAF_TAG_BYTES, key, valueHash);
    } else if (leaf === null) {
      hash = EMPTY;
    } else {
      // Absence through another leaf: it must sit on the key's path, and be another key.
      if (bytesEqual(leaf.key, key) || !sharesPrefix(leaf.key, key, siblings.length)) return false;
      hash = sha256Parts(LEAF_TAG_BYTES, leaf.key, leaf.valueHash);
    }
    for (let depth = siblings.length - 1; depth >= 0; depth--) {
      const sibling = siblings[depth]!;
      hash = pathBit(key, depth) === 0
        ? sha256Parts(INTERNAL_TAG_BYTES, hash, sibling)
        : sha256Parts(INTERNAL_TAG_BYTES, sibling, hash);
    }
    return bytesEqual(hash, root);
  } catch {
    return false;
  }
}

/** The JSON form of a proof: lowercase hex strings. */
export function encodeSmtProof(p: SmtProof): SmtProofJson {
  return {
    siblings: p.siblings.map((s) => toHex(s)),
    leaf: p.leaf === null ? null : { key: toHex(p.leaf.key), valueHash: toHex(p.leaf.valueHash) },
  };
}

/** Strict inverse of encodeSmtProof: unknown fields, upper-case or wrong-length hex are refused. */
export function decodeSmtProof(j: unknown): SmtProof {
  if (!isPlainObject(j)) throw new Error("SMT proof: expected an object");
  checkFields(j, ["siblings", "leaf"], "SMT proof");
  const { siblings, leaf } = j;
  if (!Array.isArray(siblings)) throw new Error("SMT proof: expected siblings to be an array");
  if (siblings.length > MAX_DEPTH) throw new Error(`SMT proof: expected at most ${MAX_DEPTH} siblings, got ${siblings.length}`);
  // An index loop, not map(): a sparse array must not leave holes in the proof.
  const out: SmtProof = { siblings: [], leaf: null };
  for (let i = 0; i < siblings.length; i++) out.siblings.push(hex32(siblings[i], `siblings[${i}]`));
  if (leaf !== null) {
    if (!isPlainObject(leaf)) throw new Error("SMT proof: expected leaf to be an object or null");
    checkFields(leaf, ["key", "valueHash"], "SMT proof leaf");
    out.leaf = { key: hex32(leaf.key, "leaf.key"), valueHash: hex32(leaf.valueHash, "leaf.valueHash") };
  }
  return out;
}

/** Sorts by key, keeps the last update of each key, copies the bytes (the caller may reuse its buffers). */
function normalizeUpdates(updates: SmtUpdate[]): Entry[] {
  if (!Array.isArray(updates)) throw new Error("expected an array of SMT updates");
  const entries: Entry[] = updates.map((u, i) => {
    if (u === null || typeof u !== "object") throw new Error(`expected an SMT update object at updates[${i}]`);
    checkBytes(u.key, KEY_BYTES, "key", `updates[${i}]`);
    if (u.value !== null) checkBytes(u.value, HASH_BYTES, "value", `updates[${i}]`);
    const e: Entry = { key: u.key.slice(), value: u.value === null ? null : u.value.slice() };
    if (u.mayRepeat === true) e.mayRepeat = true;
    return e;
  });
  // Array.prototype.sort is stable, so equal keys keep batch order and the last one wins.
  entries.sort((a, b) => compareBytes(a.key, b.key));
  const out: Entry[] = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    if (last !== undefined && bytesEqual(last.key, e.key)) out[out.length - 1] = e;
    else out.push(e);
  }
  return out;
}

/** Whether a node made stale by the update of `entries[lo..hi)` may have its record written again (StaleNode.mayReturn). */
function mayReturn(out: UpdateOut, lo: number, hi: number): boolean {
  return out.at === 0 && out.repeats[hi]! > out.repeats[lo]!;
}

function checkPlace(x: unknown, what: string): void {
  if (!Number.isSafeInteger(x) || (x as number) < 0) throw new Error(`expected ${what} to be a non-negative integer (a record's place), got ${String(x)}`);
}

/** Bit `depth` of the path: MSB of byte 0 first. */
function pathBit(key: Uint8Array, depth: number): number {
  return (key[depth >> 3]! >> (7 - (depth & 7))) & 1;
}

/** First index in sorted `entries[lo..hi)` whose bit `depth` is 1 (they share bits 0..depth-1). */
function splitIndex(entries: Entry[], lo: number, hi: number, depth: number): number {
  let a = lo;
  let b = hi;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (pathBit(entries[m]!.key, depth) === 0) a = m + 1;
    else b = m;
  }
  return a;
}

function sharesPrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole]! & mask) === (b[whole]! & mask);
}


function isBytes(x: unknown, length: number): x is Uint8Array {
  return x instanceof Uint8Array && x.length === length;
}

function checkBytes(x: unknown, length: number, what: string, where?: string): asserts x is Uint8Array {
  if (!isBytes(x, length)) {
    throw new Error(`expected ${length}-byte ${what}, got ${describeLength(x)}${where === undefined ? "" : ` at ${where}`}`);
  }
}


function isPlainObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === "object" && !Array.isArray(x);
}

function checkFields(o: Record<string, unknown>, allowed: string[], what: string): void {
  for (const k of allowed) if (!Object.hasOwn(o, k)) throw new Error(`${what}: missing field ${k}`);
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new Error(`${what}: unknown field ${k}`);
}

function hex32(x: unknown, what: string): Uint8Array {
  if (typeof x !== "string" || !HEX32_RE.test(x)) {
    throw new Error(`SMT proof: expected ${what} to be 64 lowercase hex characters`);
  }
  return new Uint8Array(Buffer.from(x, "hex"));
}
