/**
 * The nodes of the state tree (smt.ts) as the tree code holds them, as the
 * store keeps them, and the cache of them. Hashes and proofs are smt.ts's
 * format; the records here are storage, which nothing hashes.
 */
import { bytesEqual, toHex } from "../crypto/bytes.js";
import { sha256 } from "../crypto/hash.js";
import { CodedError } from "../errors.js";

/** Sizes fixed by the format: sha256 digests, and keys that are sha256 digests. */
export const HASH_BYTES = 32;
export const KEY_BYTES = 32;
/** 256-bit keys: two distinct keys differ in one of bits 0..255. */
export const MAX_DEPTH = 256;
/** tag(1) || 32 || 32 for both node kinds. */
export const NODE_BYTES = 1 + 2 * HASH_BYTES;
export const LEAF_TAG = 0x00;
export const INTERNAL_TAG = 0x01;
/** The store's record of an internal node holding leaves inline (storedForm); never hashed. */
const STORED_INLINE_TAG = 0x02;
export const EMPTY = new Uint8Array(HASH_BYTES);

export const KIND_EMPTY = 0;
export const KIND_LEAF = 1;
export const KIND_INTERNAL = 2;

/** A subtree whose node has not been read: EMPTY, or a hash to look up (kind unknown). */
export interface HashRef {
  hash: Uint8Array;
  kind: typeof KIND_EMPTY | undefined;
}

/**
 * A node, decoded once: reads allocate little. Every TreeNode has the same
 * shape (one hidden class): `first`/`second` are the key and valueHash of a
 * leaf, the left and right child hashes of an internal node. Its fields are
 * views that must never be mutated.
 */
export interface TreeNode {
  hash: Uint8Array;
  kind: typeof KIND_LEAF | typeof KIND_INTERNAL;
  /** The hash preimage (65 bytes). */
  encoded: Uint8Array;
  first: Uint8Array;
  second: Uint8Array;
  /** Internal node: bit 0 = its left child is a leaf held inline, bit 1 = its right child; 0 for a leaf. */
  inline: number;
  /** The inline leaves' key || valueHash, the left one first (empty when `inline` is 0). */
  leaves: Uint8Array;
  /** Leaf: it has a record of its own in the store (a root, or written before leaves were inline). */
  standalone: boolean;
}

/** A subtree: a node in hand, or a hash. A leaf is always in hand. */
export type Ref = TreeNode | HashRef;

export const EMPTY_REF: HashRef = { hash: EMPTY, kind: KIND_EMPTY };
const NO_BYTES = new Uint8Array(0);

export function isNode(ref: Ref): ref is TreeNode {
  return ref.kind === KIND_LEAF || ref.kind === KIND_INTERNAL;
}

export enum SmtNodeErrorCode {
  /** The reader has no node under a hash the walk reached. */
  MISSING = "SMT_NODE_MISSING",
  /** The reader's bytes for a hash are not a node of that hash (length, tag, content), or an internal node sits below the deepest level. */
  CORRUPT = "SMT_NODE_CORRUPT",
}

/** A node a walk of the tree needs that the reader lacks or holds wrong; `data.node` is its hash (hex). */
export class SmtNodeError extends CodedError<SmtNodeErrorCode, { node: string }> {
  constructor(code: SmtNodeErrorCode, hash: Uint8Array, message: string) {
    super(code, message, { node: toHex(hash) });
  }
}

export function beyondMaxDepth(hash: Uint8Array, depth: number): SmtNodeError {
  return new SmtNodeError(SmtNodeErrorCode.CORRUPT, hash, `corrupt SMT: internal node ${toHex(hash)} at depth ${depth}, beyond the 256-bit key`);
}

/** The child of internal `node` on `side` (0 = left): the leaf itself when held inline, else its hash. */
export function childOf(node: TreeNode, side: number): Ref {
  const hash = side === 0 ? node.first : node.second;
  if ((node.inline & (1 << side)) === 0) return isEmpty(hash) ? EMPTY_REF : { hash, kind: undefined };
  const at = side === 1 && (node.inline & 1) !== 0 ? 2 * HASH_BYTES : 0;
  const key = node.leaves.subarray(at, at + KEY_BYTES);
  const valueHash = node.leaves.subarray(at + KEY_BYTES, at + KEY_BYTES + HASH_BYTES);
  return { hash, kind: KIND_LEAF, encoded: preimage(LEAF_TAG, key, valueHash), first: key, second: valueHash, inline: 0, leaves: NO_BYTES, standalone: false };
}

function preimage(tag: number, first: Uint8Array, second: Uint8Array): Uint8Array {
  const encoded = new Uint8Array(NODE_BYTES);
  encoded[0] = tag;
  encoded.set(first, 1);
  encoded.set(second, 1 + HASH_BYTES);
  return encoded;
}

/** A leaf; `hash` when already known. `key` and `valueHash` are never mutated, so the node may keep them. */
export function leafNode(key: Uint8Array, valueHash: Uint8Array, hash?: Uint8Array): TreeNode {
  const encoded = preimage(LEAF_TAG, key, valueHash);
  return { hash: hash ?? sha256(encoded), kind: KIND_LEAF, encoded, first: key, second: valueHash, inline: 0, leaves: NO_BYTES, standalone: false };
}

/** The internal node over `l` and `r`, holding the leaves among them inline. */
export function internalNode(l: Ref, r: Ref): TreeNode {
  const encoded = preimage(INTERNAL_TAG, l.hash, r.hash);
  const inline = (l.kind === KIND_LEAF ? 1 : 0) | (r.kind === KIND_LEAF ? 2 : 0);
  let leaves = NO_BYTES;
  if (inline !== 0) {
    leaves = new Uint8Array((inline === 3 ? 2 : 1) * 2 * HASH_BYTES);
    let at = 0;
    for (const c of [l, r]) {
      if (c.kind !== KIND_LEAF) continue;
      leaves.set(c.first, at);
      leaves.set(c.second, at + KEY_BYTES);
      at += KEY_BYTES + HASH_BYTES;
    }
  }
  return {
    hash: sha256(encoded),
    kind: KIND_INTERNAL,
    encoded,
    first: encoded.subarray(1, 1 + HASH_BYTES),
    second: encoded.subarray(1 + HASH_BYTES),
    inline,
    leaves,
    standalone: false,
  };
}

/**
 * What the store keeps under a node's hash: the preimage for a leaf and for
 * an internal node with no leaf child; otherwise
 *   0x02 || flags || left || right
 * where flags bit 0 (bit 1) says the left (right) child is a leaf, written
 * as key(32) || valueHash(32) in place of its hash. A leaf thus has no
 * record of its own: its key, value and the parent's pointer to it are 64
 * bytes in the parent instead of a 98-byte record and a 32-byte pointer.
 */
export function storedForm(node: Pick<TreeNode, "encoded" | "first" | "second" | "inline" | "leaves">): Uint8Array {
  if (node.inline === 0) return node.encoded;
  const out = new Uint8Array(2 + 2 * HASH_BYTES + node.leaves.length - (node.inline === 3 ? 2 : 1) * HASH_BYTES);
  out[0] = STORED_INLINE_TAG;
  out[1] = node.inline;
  let at = 2;
  let leaf = 0;
  for (const side of [0, 1]) {
    if ((node.inline & (1 << side)) !== 0) {
      out.set(node.leaves.subarray(leaf, leaf + 2 * HASH_BYTES), at);
      leaf += 2 * HASH_BYTES;
      at += 2 * HASH_BYTES;
    } else {
      out.set(side === 0 ? node.first : node.second, at);
      at += HASH_BYTES;
    }
  }
  return out;
}

/** A child for internalRecord: a subtree's hash, and the leaf itself when the subtree is one leaf. */
export interface SmtChild {
  hash: Uint8Array;
  leaf?: { key: Uint8Array; valueHash: Uint8Array };
}

/** The hash of the internal node over `l` and `r`, and the record the store keeps under it (storedForm). */
export function internalRecord(l: SmtChild, r: SmtChild): { hash: Uint8Array; record: Uint8Array } {
  const ref = (c: SmtChild): Ref => (c.leaf ? leafNode(c.leaf.key, c.leaf.valueHash, c.hash) : { hash: c.hash, kind: isEmpty(c.hash) ? KIND_EMPTY : undefined });
  const node = internalNode(ref(l), ref(r));
  return { hash: node.hash, record: storedForm(node) };
}

/** The hash of a leaf and the record of its own it has when it is the root of its (sub)tree (the preimage). */
export function leafRecord(key: Uint8Array, valueHash: Uint8Array): { hash: Uint8Array; record: Uint8Array } {
  const node = leafNode(key, valueHash);
  return { hash: node.hash, record: node.encoded };
}

/** A node from the bytes the store holds under `hash`, checked against that hash (storedForm's inverse). */
export function decodeStored(hash: Uint8Array, raw: Uint8Array): TreeNode {
  const corrupt = (why: string) => new SmtNodeError(SmtNodeErrorCode.CORRUPT, hash, `corrupt SMT node ${toHex(hash)}: ${why}`);
  if (!(raw instanceof Uint8Array) || raw.length === 0) throw corrupt(`expected ${NODE_BYTES} bytes or more, got ${describeLength(raw)}`);
  const tag = raw[0]!;
  let node: TreeNode;
  if (tag === LEAF_TAG || tag === INTERNAL_TAG) {
    if (raw.length !== NODE_BYTES) throw corrupt(`expected ${NODE_BYTES} bytes, got ${raw.length}`);
    const encoded = new Uint8Array(raw);
    const leaf = tag === LEAF_TAG;
    node = {
      hash: sha256(encoded),
      kind: leaf ? KIND_LEAF : KIND_INTERNAL,
      encoded,
      first: encoded.subarray(1, 1 + HASH_BYTES),
      second: encoded.subarray(1 + HASH_BYTES),
      inline: 0,
      leaves: NO_BYTES,
      standalone: leaf,
    };
  } else if (tag === STORED_INLINE_TAG) {
    const flags = raw[1];
    if (flags !== 1 && flags !== 2 && flags !== 3) throw corrupt(`bad inline flags ${String(flags)}`);
    const size = 2 + 2 * HASH_BYTES + (flags === 3 ? 2 : 1) * HASH_BYTES;
    if (raw.length !== size) throw corrupt(`expected ${size} bytes, got ${raw.length}`);
    const refs: Ref[] = [];
    let at = 2;
    for (const side of [0, 1]) {
      if ((flags & (1 << side)) !== 0) {
        refs.push(leafNode(raw.slice(at, at + KEY_BYTES), raw.slice(at + KEY_BYTES, at + 2 * HASH_BYTES)));
        at += 2 * HASH_BYTES;
      } else {
        refs.push({ hash: raw.slice(at, at + HASH_BYTES), kind: undefined });
        at += HASH_BYTES;
      }
    }
    node = internalNode(refs[0]!, refs[1]!);
  } else {
    throw corrupt(`unknown tag 0x${tag.toString(16).padStart(2, "0")}`);
  }
  if (!bytesEqual(node.hash, hash)) throw corrupt("content does not match its hash");
  return node;
}

/** The most bytes a cached node takes: hash, preimage, inline flags, two inline leaves. */
const MAX_ENTRY_BYTES = HASH_BYTES + NODE_BYTES + 1 + 4 * HASH_BYTES;
/** What a cache size of one node buys: the bytes of a node with no inline leaf. */
const UNIT_ENTRY_BYTES = HASH_BYTES + NODE_BYTES + 1;

/**
 * One generation of the node cache: nodes' bytes appended to one buffer
 * (hash || preimage || inline flags || inline leaves: 98, 162 or 226 bytes)
 * and an index from a 30-bit slot of the hash to the entry's offset. A
 * buffer is never written over: a new generation gets a new one, so a node
 * handed out (views into the buffer) stays valid.
 */
class Generation {
  readonly slab: Uint8Array;
  readonly index = new Map<number, number>();
  private used = 0;

  constructor(readonly capacity: number) {
    this.slab = new Uint8Array(capacity);
  }

  fits(bytes: number): boolean {
    return this.used + bytes <= this.capacity;
  }

  /** The offset of `hash`'s entry, or -1. */
  find(slot: number, hash: Uint8Array): number {
    const at = this.index.get(slot);
    if (at === undefined) return -1;
    for (let k = 0; k < HASH_BYTES; k++) if (this.slab[at + k] !== hash[k]) return -1;
    return at;
  }

  add(slot: number, node: TreeNode): void {
    const at = this.used;
    this.slab.set(node.hash, at);
    this.slab.set(node.encoded, at + HASH_BYTES);
    this.slab[at + HASH_BYTES + NODE_BYTES] = node.inline;
    this.slab.set(node.leaves, at + UNIT_ENTRY_BYTES);
    this.used += UNIT_ENTRY_BYTES + node.leaves.length;
    this.index.set(slot, at);
  }

  node(at: number): TreeNode {
    const encoded = this.slab.subarray(at + HASH_BYTES, at + HASH_BYTES + NODE_BYTES);
    const inline = this.slab[at + HASH_BYTES + NODE_BYTES]!;
    const leaf = encoded[0] === LEAF_TAG;
    return {
      hash: this.slab.subarray(at, at + HASH_BYTES),
      kind: leaf ? KIND_LEAF : KIND_INTERNAL,
      encoded,
      first: encoded.subarray(1, 1 + HASH_BYTES),
      second: encoded.subarray(1 + HASH_BYTES),
      inline,
      leaves: inline === 0 ? NO_BYTES : this.slab.subarray(at + UNIT_ENTRY_BYTES, at + UNIT_ENTRY_BYTES + (inline === 3 ? 4 : 2) * HASH_BYTES),
      // Only leaves read by their hash are cached.
      standalone: leaf,
    };
  }
}

/**
 * An approximate LRU over nodes, in two generations (the quick-lru scheme):
 * new entries and hits go to `young`; when `young` is full it becomes `old`
 * and the previous `old` is dropped. Every operation is O(1). Entries are
 * bytes in a generation's buffer, not objects: nothing for the collector to
 * trace or the allocator to keep apart; a hit builds the node's views (a
 * few short-lived objects). The budget is in bytes: `maxSize` nodes of 98
 * bytes, fewer when they hold leaves inline. Entries are keyed by 30 bits
 * of the node hash, a small integer, so a lookup builds no hex string; the
 * full hash is compared on a hit, and two hashes that share the 30 bits
 * simply replace each other.
 */
export class NodeCache {
  private young: Generation;
  private old: Generation;
  /** Bytes per generation, so about `maxSize` plain nodes are held in all. */
  private readonly generationBytes: number;

  constructor(maxSize: number) {
    this.generationBytes = maxSize === 0 ? 0 : Math.max(Math.ceil(maxSize / 2) * UNIT_ENTRY_BYTES, MAX_ENTRY_BYTES);
    this.young = new Generation(this.generationBytes);
    this.old = new Generation(0);
  }

  get(hash: Uint8Array): TreeNode | undefined {
    const slot = cacheSlot(hash);
    const y = this.young.find(slot, hash);
    if (y >= 0) return this.young.node(y);
    const o = this.old.find(slot, hash);
    if (o < 0) return undefined;
    const aged = this.old.node(o);
    this.old.index.delete(slot);
    this.insert(slot, aged);
    return aged;
  }

  set(node: TreeNode): void {
    if (this.generationBytes === 0) return;
    const slot = cacheSlot(node.hash);
    if (this.young.find(slot, node.hash) >= 0) return;
    this.insert(slot, node);
  }

  private insert(slot: number, node: TreeNode): void {
    if (!this.young.fits(UNIT_ENTRY_BYTES + node.leaves.length)) {
      this.old = this.young;
      this.young = new Generation(this.generationBytes);
    }
    this.young.add(slot, node);
  }
}

/** 30 bits of a hash: stays a V8 small integer, the cheapest Map key. */
function cacheSlot(hash: Uint8Array): number {
  return (hash[0]! << 22) | (hash[1]! << 14) | (hash[2]! << 6) | (hash[3]! >> 2);
}

export function isEmpty(hash: Uint8Array): boolean {
  return bytesEqual(hash, EMPTY);
}

export function describeLength(x: unknown): string {
  if (x instanceof Uint8Array) return String(x.length);
  return x === null ? "null" : typeof x;
}
