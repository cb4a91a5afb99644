/**
 * The nodes of the state tree (smt.ts) as the tree code holds them, as the
 * store keeps them, and the cache of them. Hashes and proofs are smt.ts's
 * format; the records here are storage, which nothing hashes.
 */
import { allocBytes, bytesEqual, toHex } from "../crypto/bytes.js";
import { sha256 } from "../crypto/hash.js";
import { CodedError } from "../errors.js";
import { VarintError, VarintReader, encodeVarints } from "./varint.js";

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
/** The store's record of an internal node holding single-child nodes below it (storedForm); never hashed. */
const STORED_HELD_TAG = 0x03;
/** Side codes of a 0x03 record's node body: how the side's child is written. */
const SIDE_HASH = 0;
const SIDE_LEAF = 1;
const SIDE_EMPTY = 2;
const SIDE_HELD = 3;
export const EMPTY = new Uint8Array(HASH_BYTES);

export const KIND_EMPTY = 0;
export const KIND_LEAF = 1;
export const KIND_INTERNAL = 2;

/**
 * Where a node's record is: 0 under its hash alone (the store's layout
 * before records were keyed by height, and a tree kept in that layout), or
 * h + 1 under (height h, hash), h being the height whose block wrote it.
 */
export type NodeAt = number;

/** The place of the records the block of `height` writes. */
export function nodeAt(height: number): NodeAt {
  return height + 1;
}

/** A subtree whose node has not been read: EMPTY, or a hash to look up (kind unknown) at `at`. */
export interface HashRef {
  hash: Uint8Array;
  kind: typeof KIND_EMPTY | undefined;
  at: NodeAt;
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
  /**
   * Internal node: it has no record of its own, but is written inside the
   * record of the node above it (a node with one EMPTY child, not a root).
   */
  held: boolean;
  /** Internal node: its children that are held in its record (`held`), left then right; null when none is. */
  below: readonly [TreeNode | null, TreeNode | null] | null;
  /** Where its own record is (NodeAt); 0 for a node without one (an inline leaf, a held node). */
  at: NodeAt;
  /** Internal node: where the records of its left and right children are, for a child referred to by hash; else 0. */
  firstAt: NodeAt;
  secondAt: NodeAt;
}

/** A subtree: a node in hand, or a hash. A leaf is always in hand. */
export type Ref = TreeNode | HashRef;

export const EMPTY_REF: HashRef = { hash: EMPTY, kind: KIND_EMPTY, at: 0 };
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

/** The child of internal `node` on `side` (0 = left): the leaf or the held node itself when in its record, else its hash. */
export function childOf(node: TreeNode, side: number): Ref {
  const held = node.below?.[side];
  if (held) return held;
  const hash = side === 0 ? node.first : node.second;
  if ((node.inline & (1 << side)) === 0) return isEmpty(hash) ? EMPTY_REF : { hash, kind: undefined, at: side === 0 ? node.firstAt : node.secondAt };
  const at = side === 1 && (node.inline & 1) !== 0 ? 2 * HASH_BYTES : 0;
  const key = node.leaves.subarray(at, at + KEY_BYTES);
  const valueHash = node.leaves.subarray(at + KEY_BYTES, at + KEY_BYTES + HASH_BYTES);
  return { hash, kind: KIND_LEAF, encoded: preimage(LEAF_TAG, key, valueHash), first: key, second: valueHash, inline: 0, leaves: NO_BYTES, standalone: false, held: false, below: null, at: 0, firstAt: 0, secondAt: 0 };
}

function preimage(tag: number, first: Uint8Array, second: Uint8Array): Uint8Array {
  const encoded = allocBytes(NODE_BYTES);
  encoded[0] = tag;
  encoded.set(first, 1);
  encoded.set(second, 1 + HASH_BYTES);
  return encoded;
}

/** A leaf; `hash` when already known. `key` and `valueHash` are never mutated, so the node may keep them. */
export function leafNode(key: Uint8Array, valueHash: Uint8Array, hash?: Uint8Array): TreeNode {
  const encoded = preimage(LEAF_TAG, key, valueHash);
  return { hash: hash ?? sha256(encoded), kind: KIND_LEAF, encoded, first: key, second: valueHash, inline: 0, leaves: NO_BYTES, standalone: false, held: false, below: null, at: 0, firstAt: 0, secondAt: 0 };
}

/** A child its parent's record refers to by hash (and so by where its record is): not EMPTY, not a leaf held inline, not a held node. */
function isPointer(c: Ref): boolean {
  return c.kind !== KIND_EMPTY && c.kind !== KIND_LEAF && !(c.kind === KIND_INTERNAL && c.held) && !isEmpty(c.hash);
}

/** A child its parent's record holds whole: an internal node in hand without a record of its own. */
function isHeld(c: Ref): c is TreeNode {
  return c.kind === KIND_INTERNAL && c.held;
}

/**
 * The internal node over `l` and `r`, holding the leaves among them inline
 * and the held nodes among them whole. `held`: the node itself goes into
 * the record of its parent (a new node with an EMPTY child, not the root).
 * `at`: where its own record goes (0 for a held node).
 */
export function internalNode(l: Ref, r: Ref, held = false, at: NodeAt = 0): TreeNode {
  const encoded = preimage(INTERNAL_TAG, l.hash, r.hash);
  const inline = (l.kind === KIND_LEAF ? 1 : 0) | (r.kind === KIND_LEAF ? 2 : 0);
  let leaves = NO_BYTES;
  if (inline !== 0) {
    leaves = allocBytes((inline === 3 ? 2 : 1) * 2 * HASH_BYTES);
    let at = 0;
    for (const c of [l, r]) {
      if (c.kind !== KIND_LEAF) continue;
      leaves.set(c.first, at);
      leaves.set(c.second, at + KEY_BYTES);
      at += KEY_BYTES + HASH_BYTES;
    }
  }
  const below: TreeNode["below"] = isHeld(l) || isHeld(r) ? [isHeld(l) ? l : null, isHeld(r) ? r : null] : null;
  return nodeOf(sha256(encoded), encoded, inline, leaves, false, held, below, at, isPointer(l) ? l.at : 0, isPointer(r) ? r.at : 0);
}

/** A node over its preimage `encoded` (a leaf's or an internal node's, by its tag); the fields are TreeNode's. */
function nodeOf(
  hash: Uint8Array,
  encoded: Uint8Array,
  inline: number,
  leaves: Uint8Array,
  standalone: boolean,
  held: boolean,
  below: TreeNode["below"],
  at: NodeAt,
  firstAt: NodeAt,
  secondAt: NodeAt,
): TreeNode {
  return {
    hash,
    kind: encoded[0] === LEAF_TAG ? KIND_LEAF : KIND_INTERNAL,
    encoded,
    first: encoded.subarray(1, 1 + HASH_BYTES),
    second: encoded.subarray(1 + HASH_BYTES),
    inline,
    leaves,
    standalone,
    held,
    below,
    at,
    firstAt,
    secondAt,
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
 *
 * A node with an EMPTY child (two keys sharing bits beyond their parent's)
 * has no record of its own either, unless it is a root: it is written
 * inside the record of the node above it, whose record is then
 *   0x03 || body
 *   body = codes || side 0 || side 1
 * where bits 0-1 (2-3) of `codes` say how the left (right) child is
 * written: 0 its hash (32), 1 a leaf as key || valueHash (64), 2 EMPTY
 * (nothing), 3 a held node, as its own body. A tree of N random keys has
 * about 0.44 N such nodes; each costs two bytes in its parent's record
 * instead of a record of its own (a 33-byte key, 65 bytes, LevelDB's own
 * overhead) and a 32-byte pointer, and a walk down to it one read less.
 *
 * A record keyed by height (`at` > 0) ends with where each child it refers
 * to by hash is, varints of NodeAt in the order those hashes appear in it
 * (a held node's ones where its body is); a record under its hash alone
 * (the earlier layout) ends with the node. A node with no such child is
 * the same bytes either way.
 */
export function storedForm(node: Pick<TreeNode, "encoded" | "first" | "second" | "inline" | "leaves" | "below" | "at" | "firstAt" | "secondAt">): Uint8Array {
  const ats: number[] = [];
  pointerAts(node, ats);
  if (node.at === 0 && ats.some((a) => a !== 0)) throw new Error("SMT invariant broken: a record under its hash alone refers to a record keyed by height");
  const inner = innerForm(node);
  if (node.at === 0 || ats.length === 0) return inner;
  const tail = encodeVarints(ats);
  const out = allocBytes(inner.length + tail.length);
  out.set(inner);
  out.set(tail, inner.length);
  return out;
}

/** Where the children a node's record refers to by hash are, in the order their hashes appear in it. */
function pointerAts(node: Pick<TreeNode, "first" | "second" | "inline" | "below" | "firstAt" | "secondAt">, out: number[]): void {
  for (const side of [0, 1]) {
    const held = node.below?.[side];
    if (held) pointerAts(held, out);
    else if ((node.inline & (1 << side)) === 0 && !isEmpty(side === 0 ? node.first : node.second)) out.push(side === 0 ? node.firstAt : node.secondAt);
  }
}

/** The record without the places of its children (storedForm). */
function innerForm(node: Pick<TreeNode, "encoded" | "first" | "second" | "inline" | "leaves" | "below">): Uint8Array {
  if (node.below !== null) {
    const out = allocBytes(1 + bodyBytes(node));
    out[0] = STORED_HELD_TAG;
    writeBody(node, out, 1);
    return out;
  }
  if (node.inline === 0) return node.encoded;
  const out = allocBytes(2 + 2 * HASH_BYTES + node.leaves.length - (node.inline === 3 ? 2 : 1) * HASH_BYTES);
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

/** The bytes of a node's body in a 0x03 record: a code byte, then each side. */
function bodyBytes(node: Pick<TreeNode, "first" | "second" | "inline" | "below">): number {
  let n = 1;
  for (const side of [0, 1]) {
    const held = node.below?.[side];
    if (held) n += bodyBytes(held);
    else if ((node.inline & (1 << side)) !== 0) n += 2 * HASH_BYTES;
    else if (!isEmpty(side === 0 ? node.first : node.second)) n += HASH_BYTES;
  }
  return n;
}

/** Writes a node's body at `at`; returns where it ends. */
function writeBody(node: Pick<TreeNode, "first" | "second" | "inline" | "leaves" | "below">, out: Uint8Array, at: number): number {
  const codeAt = at++;
  let codes = 0;
  let leaf = 0;
  for (const side of [0, 1]) {
    const held = node.below?.[side];
    const hash = side === 0 ? node.first : node.second;
    let code: number;
    if (held) {
      code = SIDE_HELD;
      at = writeBody(held, out, at);
    } else if ((node.inline & (1 << side)) !== 0) {
      code = SIDE_LEAF;
      out.set(node.leaves.subarray(leaf, leaf + 2 * HASH_BYTES), at);
      leaf += 2 * HASH_BYTES;
      at += 2 * HASH_BYTES;
    } else if (isEmpty(hash)) {
      code = SIDE_EMPTY;
    } else {
      code = SIDE_HASH;
      out.set(hash, at);
      at += HASH_BYTES;
    }
    codes |= code << (2 * side);
  }
  out[codeAt] = codes;
  return at;
}

/** The places of a record's children referred to by hash, taken in order as its body is read. */
interface Places {
  ats: readonly number[];
  next: number;
}

function nextPlace(places: Places): NodeAt {
  return places.ats[places.next++] ?? 0;
}

/**
 * Reads a node's body at `at` (writeBody's inverse): the node, hashed, and
 * where its body ends. A held node is at most 256 levels below its record.
 */
function readBody(raw: Uint8Array, at: number, level: number, held: boolean, places: Places, corrupt: (why: string) => SmtNodeError): [TreeNode, number] {
  if (level >= MAX_DEPTH) throw corrupt("held nodes nest beyond the 256-bit key");
  if (at >= raw.length) throw corrupt(`cut short at byte ${at}`);
  const codes = raw[at++]!;
  if (codes > 0x0f) throw corrupt(`bad side codes 0x${codes.toString(16)}`);
  const refs: Ref[] = [];
  for (const side of [0, 1]) {
    const code = (codes >> (2 * side)) & 3;
    if (code === SIDE_HELD) {
      const [child, end] = readBody(raw, at, level + 1, true, places, corrupt);
      refs.push(child);
      at = end;
      continue;
    }
    if (code === SIDE_EMPTY) {
      refs.push(EMPTY_REF);
      continue;
    }
    const size = code === SIDE_LEAF ? 2 * HASH_BYTES : HASH_BYTES;
    if (at + size > raw.length) throw corrupt(`cut short at byte ${raw.length}, expected ${at + size}`);
    if (code === SIDE_LEAF) refs.push(leafNode(raw.slice(at, at + KEY_BYTES), raw.slice(at + KEY_BYTES, at + size)));
    else {
      const hash = raw.slice(at, at + HASH_BYTES);
      if (isEmpty(hash)) throw corrupt("EMPTY written as a hash");
      refs.push({ hash, kind: undefined, at: nextPlace(places) });
    }
    at += size;
  }
  if (refs[0]!.kind === KIND_EMPTY && refs[1]!.kind === KIND_EMPTY) throw corrupt("an internal node with two EMPTY children");
  return [internalNode(refs[0]!, refs[1]!, held), at];
}

/**
 * Where a node's body at `at` ends, and how many children it refers to by
 * hash: readBody's walk without building nodes, so that the places after
 * the body can be read first.
 */
function scanBody(raw: Uint8Array, at: number, level: number, corrupt: (why: string) => SmtNodeError): [number, number] {
  if (level >= MAX_DEPTH) throw corrupt("held nodes nest beyond the 256-bit key");
  if (at >= raw.length) throw corrupt(`cut short at byte ${at}`);
  const codes = raw[at++]!;
  if (codes > 0x0f) throw corrupt(`bad side codes 0x${codes.toString(16)}`);
  let pointers = 0;
  for (const side of [0, 1]) {
    const code = (codes >> (2 * side)) & 3;
    if (code === SIDE_HELD) {
      const [end, inner] = scanBody(raw, at, level + 1, corrupt);
      at = end;
      pointers += inner;
    } else if (code === SIDE_LEAF) {
      at += 2 * HASH_BYTES;
    } else if (code === SIDE_HASH) {
      at += HASH_BYTES;
      pointers++;
    }
    if (at > raw.length) throw corrupt(`cut short at byte ${raw.length}, expected ${at}`);
  }
  return [at, pointers];
}

/**
 * The places after a record's node (its body ends at `end`): `count`
 * varints for a record keyed by height, nothing for one under its hash
 * alone. Bytes beyond them are damage.
 */
function readPlaces(raw: Uint8Array, end: number, count: number, keyed: boolean, corrupt: (why: string) => SmtNodeError): Places {
  if (!keyed || count === 0) {
    if (raw.length !== end) throw corrupt(`${raw.length - end} bytes after the node`);
    return { ats: [], next: 0 };
  }
  const reader = new VarintReader(raw, end);
  const ats: number[] = [];
  try {
    for (let i = 0; i < count; i++) ats.push(reader.next());
  } catch (e) {
    if (e instanceof VarintError) throw corrupt(`the places of its children: ${e.message}`);
    throw e;
  }
  if (!reader.done) throw corrupt(`${raw.length - reader.at} bytes after the places of its children`);
  return { ats, next: 0 };
}

/** A child for internalRecord: a subtree's hash, and the leaf itself when the subtree is one leaf. */
export interface SmtChild {
  hash: Uint8Array;
  leaf?: { key: Uint8Array; valueHash: Uint8Array };
}

/**
 * The hash of the internal node over `l` and `r`, and the record the store
 * keeps under it (storedForm) at `at`, where the records of the children
 * referred to by hash are too.
 */
export function internalRecord(l: SmtChild, r: SmtChild, at: NodeAt = 0): { hash: Uint8Array; record: Uint8Array } {
  const ref = (c: SmtChild): Ref => (c.leaf ? leafNode(c.leaf.key, c.leaf.valueHash, c.hash) : { hash: c.hash, kind: isEmpty(c.hash) ? KIND_EMPTY : undefined, at });
  const node = internalNode(ref(l), ref(r), false, at);
  return { hash: node.hash, record: storedForm(node) };
}

/**
 * The node over `l` and `r` as a build from sorted leaves makes it (a
 * snapshot restore): one with an EMPTY child is held, so the node made
 * above it writes it in its own record; any other goes to `sink` with its
 * record. Its children in hand (leaves, held nodes) go into that record.
 * `at`: where the records go (NodeAt).
 */
export function builtNode(l: Ref, r: Ref, sink: (hash: Uint8Array, record: Uint8Array) => void, at: NodeAt = 0): TreeNode {
  if (isEmpty(l.hash) || isEmpty(r.hash)) return internalNode(l, r, true);
  const node = internalNode(l, r, false, at);
  sink(node.hash, storedForm(node));
  return node;
}

/** The hash of a leaf and the record of its own it has when it is the root of its (sub)tree (the preimage). */
export function leafRecord(key: Uint8Array, valueHash: Uint8Array): { hash: Uint8Array; record: Uint8Array } {
  const node = leafNode(key, valueHash);
  return { hash: node.hash, record: node.encoded };
}

/**
 * A node from the bytes the store holds under `hash` at `at` (NodeAt),
 * checked against that hash (storedForm's inverse). The places of its
 * children are storage, which no hash covers: a wrong one leads a walk to
 * a record that is missing or not of the hash asked for, never to another
 * tree.
 */
export function decodeStored(hash: Uint8Array, raw: Uint8Array, at: NodeAt = 0): TreeNode {
  const corrupt = (why: string) => new SmtNodeError(SmtNodeErrorCode.CORRUPT, hash, `corrupt SMT node ${toHex(hash)}: ${why}`);
  if (!(raw instanceof Uint8Array) || raw.length === 0) throw corrupt(`expected ${NODE_BYTES} bytes or more, got ${describeLength(raw)}`);
  const keyed = at !== 0;
  const tag = raw[0]!;
  let node: TreeNode;
  if (tag === LEAF_TAG || tag === INTERNAL_TAG) {
    if (raw.length !== NODE_BYTES && (!keyed || tag === LEAF_TAG || raw.length < NODE_BYTES)) throw corrupt(`expected ${NODE_BYTES} bytes, got ${raw.length}`);
    const encoded = raw.slice(0, NODE_BYTES);
    const sides = [encoded.subarray(1, 1 + HASH_BYTES), encoded.subarray(1 + HASH_BYTES)];
    const pointers = tag === LEAF_TAG ? 0 : sides.filter((h) => !isEmpty(h)).length;
    const places = readPlaces(raw, NODE_BYTES, pointers, keyed, corrupt);
    const [firstAt, secondAt] = sides.map((h) => (tag === INTERNAL_TAG && !isEmpty(h) ? nextPlace(places) : 0));
    node = nodeOf(sha256(encoded), encoded, 0, NO_BYTES, tag === LEAF_TAG, false, null, at, firstAt!, secondAt!);
  } else if (tag === STORED_INLINE_TAG) {
    const flags = raw[1];
    if (flags !== 1 && flags !== 2 && flags !== 3) throw corrupt(`bad inline flags ${String(flags)}`);
    const size = 2 + 2 * HASH_BYTES + (flags === 3 ? 2 : 1) * HASH_BYTES;
    if (raw.length !== size && (!keyed || raw.length < size)) throw corrupt(`expected ${size} bytes, got ${raw.length}`);
    const hashAt = 2 + ((flags & 1) !== 0 ? 2 * HASH_BYTES : 0);
    const pointers = flags === 3 || isEmpty(raw.subarray(hashAt, hashAt + HASH_BYTES)) ? 0 : 1;
    const places = readPlaces(raw, size, pointers, keyed, corrupt);
    const refs: Ref[] = [];
    let from = 2;
    for (const side of [0, 1]) {
      if ((flags & (1 << side)) !== 0) {
        refs.push(leafNode(raw.slice(from, from + KEY_BYTES), raw.slice(from + KEY_BYTES, from + 2 * HASH_BYTES)));
        from += 2 * HASH_BYTES;
      } else {
        const child = raw.slice(from, from + HASH_BYTES);
        refs.push({ hash: child, kind: undefined, at: isEmpty(child) ? 0 : nextPlace(places) });
        from += HASH_BYTES;
      }
    }
    node = internalNode(refs[0]!, refs[1]!, false, at);
  } else if (tag === STORED_HELD_TAG) {
    const [end, pointers] = scanBody(raw, 1, 0, corrupt);
    const places = readPlaces(raw, end, pointers, keyed, corrupt);
    const [body] = readBody(raw, 1, 0, false, places, corrupt);
    node = { ...body, at };
  } else {
    throw corrupt(`unknown tag 0x${tag.toString(16).padStart(2, "0")}`);
  }
  if (!bytesEqual(node.hash, hash)) throw corrupt("content does not match its hash");
  return node;
}

/** A place in a cache entry: u32, big-endian. A node with a place beyond it (a height past 4 billion) is not cached. */
const PLACE_BYTES = 4;
const MAX_CACHED_PLACE = 0xffffffff;
/** The most bytes a cached node with nothing held takes: hash, place, preimage, flags, children's places, two inline leaves. */
const MAX_ENTRY_BYTES = HASH_BYTES + PLACE_BYTES + NODE_BYTES + 1 + 2 * PLACE_BYTES + 4 * HASH_BYTES;
/** What a cache size of one node buys: the bytes of a node with no inline leaf. */
const UNIT_ENTRY_BYTES = HASH_BYTES + PLACE_BYTES + NODE_BYTES + 1 + 2 * PLACE_BYTES;

function writePlace(slab: Uint8Array, at: number, place: NodeAt): void {
  slab[at] = place >>> 24;
  slab[at + 1] = (place >>> 16) & 0xff;
  slab[at + 2] = (place >>> 8) & 0xff;
  slab[at + 3] = place & 0xff;
}

function readPlace(slab: Uint8Array, at: number): NodeAt {
  return slab[at]! * 0x1000000 + ((slab[at + 1]! << 16) | (slab[at + 2]! << 8) | slab[at + 3]!);
}

/** Whether every place a node's entry holds fits its four bytes. */
function placesFit(node: TreeNode): boolean {
  if (node.at > MAX_CACHED_PLACE || node.firstAt > MAX_CACHED_PLACE || node.secondAt > MAX_CACHED_PLACE) return false;
  return node.below === null || node.below.every((c) => c === null || placesFit(c));
}

/** A node's cache entry after its hash and place: preimage, flags, its children's places, inline leaves, then its held nodes' entries (hashes are in the preimage). */
function entryTailBytes(node: TreeNode): number {
  let n = NODE_BYTES + 1 + 2 * PLACE_BYTES + node.leaves.length;
  if (node.below !== null) for (const c of node.below) if (c !== null) n += entryTailBytes(c);
  return n;
}

/** Writes `node`'s entry tail at `at`; returns where it ends. Flags: bits 0-1 inline leaves, bits 2-3 held nodes. */
function writeEntryTail(slab: Uint8Array, at: number, node: TreeNode): number {
  slab.set(node.encoded, at);
  slab[at + NODE_BYTES] = node.inline | (node.below?.[0] ? 4 : 0) | (node.below?.[1] ? 8 : 0);
  writePlace(slab, at + NODE_BYTES + 1, node.firstAt);
  writePlace(slab, at + NODE_BYTES + 1 + PLACE_BYTES, node.secondAt);
  at += NODE_BYTES + 1 + 2 * PLACE_BYTES;
  slab.set(node.leaves, at);
  at += node.leaves.length;
  if (node.below !== null) for (const c of node.below) if (c !== null) at = writeEntryTail(slab, at, c);
  return at;
}

/** The node whose entry tail is at `at` (views into `slab`), its own record at `place`, and where the tail ends. */
function readEntryTail(slab: Uint8Array, hash: Uint8Array, place: NodeAt, at: number, held: boolean): [TreeNode, number] {
  const encoded = slab.subarray(at, at + NODE_BYTES);
  const flags = slab[at + NODE_BYTES]!;
  const firstAt = readPlace(slab, at + NODE_BYTES + 1);
  const secondAt = readPlace(slab, at + NODE_BYTES + 1 + PLACE_BYTES);
  const inline = flags & 3;
  at += NODE_BYTES + 1 + 2 * PLACE_BYTES;
  const leaves = inline === 0 ? NO_BYTES : slab.subarray(at, at + (inline === 3 ? 4 : 2) * HASH_BYTES);
  at += leaves.length;
  let below: [TreeNode | null, TreeNode | null] | null = null;
  if ((flags & 12) !== 0) {
    below = [null, null];
    for (const side of [0, 1]) {
      if ((flags & (4 << side)) === 0) continue;
      const [child, end] = readEntryTail(slab, encoded.subarray(1 + side * HASH_BYTES, 1 + (side + 1) * HASH_BYTES), 0, at, true);
      below[side] = child;
      at = end;
    }
  }
  // Only leaves read by their hash are cached: a cached leaf is standalone.
  return [nodeOf(hash, encoded, inline, leaves, encoded[0] === LEAF_TAG, held, below, place, firstAt, secondAt), at];
}

/**
 * One generation of the node cache: nodes' bytes appended to one buffer
 * (hash || place || preimage || flags || children's places || inline
 * leaves || held nodes: 110 bytes and up) and an index from a 30-bit slot of the hash to the entry's offset. A
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

  /** The offset of the entry of the record of `hash` at `place`, or -1. */
  find(slot: number, hash: Uint8Array, place: NodeAt): number {
    const at = this.index.get(slot);
    if (at === undefined) return -1;
    for (let k = 0; k < HASH_BYTES; k++) if (this.slab[at + k] !== hash[k]) return -1;
    return readPlace(this.slab, at + HASH_BYTES) === place ? at : -1;
  }

  add(slot: number, node: TreeNode): void {
    const at = this.used;
    this.slab.set(node.hash, at);
    writePlace(this.slab, at + HASH_BYTES, node.at);
    this.used = writeEntryTail(this.slab, at + HASH_BYTES + PLACE_BYTES, node);
    this.index.set(slot, at);
  }

  node(at: number): TreeNode {
    return readEntryTail(this.slab, this.slab.subarray(at, at + HASH_BYTES), readPlace(this.slab, at + HASH_BYTES), at + HASH_BYTES + PLACE_BYTES, false)[0];
  }
}

/**
 * An approximate LRU over nodes, in two generations (the quick-lru scheme):
 * new entries and hits go to `young`; when `young` is full it becomes `old`
 * and the previous `old` is dropped. Every operation is O(1). Entries are
 * bytes in a generation's buffer, not objects: nothing for the collector to
 * trace or the allocator to keep apart; a hit builds the node's views (a
 * few short-lived objects). The budget is in bytes: `maxSize` nodes of 110
 * bytes, fewer when they hold leaves or nodes. An entry is a record: the
 * node and where it is (the same node written at two heights is two
 * records, whose children may be at different places). Entries are keyed
 * by 30 bits of the node hash, a small integer, so a lookup builds no hex
 * string; the full hash and the place are compared on a hit, and two
 * records that share the 30 bits simply replace each other.
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

  /** The node of the record of `hash` at `place`, if cached. */
  get(hash: Uint8Array, place: NodeAt): TreeNode | undefined {
    const slot = cacheSlot(hash);
    const y = this.young.find(slot, hash, place);
    if (y >= 0) return this.young.node(y);
    const o = this.old.find(slot, hash, place);
    if (o < 0) return undefined;
    const aged = this.old.node(o);
    this.old.index.delete(slot);
    this.insert(slot, aged);
    return aged;
  }

  set(node: TreeNode): void {
    if (this.generationBytes === 0 || !placesFit(node)) return;
    const slot = cacheSlot(node.hash);
    if (this.young.find(slot, node.hash, node.at) >= 0) return;
    this.insert(slot, node);
  }

  private insert(slot: number, node: TreeNode): void {
    const bytes = HASH_BYTES + PLACE_BYTES + entryTailBytes(node);
    // A node holding a long chain may not fit a small cache at all.
    if (bytes > this.generationBytes) return;
    if (!this.young.fits(bytes)) {
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
