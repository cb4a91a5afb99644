/**
 * Reading the state tree's records as the store keeps them (src/chain/smt-node.ts
 * storedForm), written apart from the code under test:
 *   0x00 || key || valueHash          a leaf with a record of its own
 *   0x01 || left || right             an internal node, both children by hash
 *   0x02 || flags || left || right    an internal node whose children with
 *                                     flag bit 0 (left) or 1 (right) are leaves
 *                                     written inline as key || valueHash
 *   0x03 || body                      an internal node holding nodes below it:
 *                                     body = codes || left || right, bits 0-1
 *                                     (2-3) of codes: 0 a hash, 1 an inline
 *                                     leaf, 2 EMPTY (no bytes), 3 a held
 *                                     internal node written as its own body
 * A record keyed by height (under SmtNodeAt) ends with the places of the
 * children it refers to by hash, LEB128 varints (height + 1; 0 for a record
 * under its hash alone) in the order their hashes appear; a record under
 * its hash alone (SmtNode) has none.
 */
import { sha256 } from "../../src/crypto/hash.js";

const ZERO = new Uint8Array(32);

export interface RecordChild {
  hash: Uint8Array;
  /** For a child referred to by hash in a record keyed by height: where its record is (height + 1, or 0). */
  at?: number;
  /** Set for a leaf written inline. */
  leaf?: { key: Uint8Array; valueHash: Uint8Array };
  /** Set for an internal node held in the record: its own two children. */
  held?: [RecordChild, RecordChild];
}

const leafChild = (key: Uint8Array, valueHash: Uint8Array): RecordChild => ({ hash: sha256(Uint8Array.of(0, ...key, ...valueHash)), leaf: { key, valueHash } });

/** A 0x03 body at `at`: the node's two children and where the body ends. */
function readBody(raw: Uint8Array, at: number): [[RecordChild, RecordChild], number] {
  const codes = raw[at++]!;
  if (codes > 15) throw new Error(`tree record: bad side codes ${codes}`);
  const out: RecordChild[] = [];
  for (const side of [0, 1]) {
    const code = (codes >> (2 * side)) & 3;
    if (code === 0) {
      out.push({ hash: raw.subarray(at, at + 32) });
      at += 32;
    } else if (code === 1) {
      out.push(leafChild(raw.subarray(at, at + 32), raw.subarray(at + 32, at + 64)));
      at += 64;
    } else if (code === 2) {
      out.push({ hash: ZERO });
    } else {
      const [held, end] = readBody(raw, at);
      out.push({ hash: sha256(Uint8Array.of(1, ...held[0].hash, ...held[1].hash)), held });
      at = end;
    }
  }
  return [[out[0]!, out[1]!], at];
}

/** Reads the places after a record's node (ending at `end`) into its children referred to by hash, in order. */
function readPlaces(raw: Uint8Array, end: number, children: RecordChild[], keyed: boolean): void {
  const byHash: RecordChild[] = [];
  const visit = (c: RecordChild): void => {
    if (c.held) c.held.forEach(visit);
    else if (!c.leaf && !c.hash.every((b) => b === 0)) byHash.push(c);
  };
  children.forEach(visit);
  let at = end;
  for (const c of byHash) {
    if (!keyed) {
      c.at = 0;
      continue;
    }
    let n = 0;
    for (let scale = 1; ; scale *= 128) {
      if (at >= raw.length) throw new Error("tree record: places cut short");
      const b = raw[at++]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) break;
    }
    c.at = n;
  }
  if (at !== raw.length) throw new Error(`tree record of ${raw.length} bytes, expected ${at}`);
}

/**
 * The two children of an internal node's record (EMPTY included); null for
 * a leaf's record. `keyed`: the record is keyed by height, and ends with
 * the places of its children.
 */
export function recordChildren(raw: Uint8Array, keyed = false): [RecordChild, RecordChild] | null {
  if (raw[0] === 0x00) {
    if (raw.length !== 65) throw new Error(`leaf record of ${raw.length} bytes`);
    return null;
  }
  if (raw[0] === 0x01) {
    const children: [RecordChild, RecordChild] = [{ hash: raw.subarray(1, 33) }, { hash: raw.subarray(33, 65) }];
    readPlaces(raw, 65, children, keyed);
    return children;
  }
  if (raw[0] === 0x03) {
    const [children, end] = readBody(raw, 1);
    readPlaces(raw, end, children, keyed);
    return children;
  }
  if (raw[0] !== 0x02) throw new Error(`not a tree record: tag ${raw[0]}`);
  const flags = raw[1]!;
  const out: RecordChild[] = [];
  let at = 2;
  for (const side of [0, 1]) {
    if ((flags >> side) & 1) {
      out.push(leafChild(raw.subarray(at, at + 32), raw.subarray(at + 32, at + 64)));
      at += 64;
    } else {
      out.push({ hash: raw.subarray(at, at + 32) });
      at += 32;
    }
  }
  readPlaces(raw, at, out, keyed);
  return [out[0]!, out[1]!];
}

/** A record keyed by height without the places after its node: the record of the same node under its hash alone. */
export function withoutPlaces(raw: Uint8Array): Uint8Array {
  if (raw[0] === 0x00 || raw[0] === 0x01) return raw.subarray(0, 65);
  if (raw[0] === 0x03) return raw.subarray(0, readBody(raw, 1)[1]);
  const flags = raw[1]!;
  return raw.subarray(0, 2 + (flags === 3 ? 128 : 96));
}

/** The node's hash preimage (what its hash is the sha256 of). */
export function recordPreimage(raw: Uint8Array, keyed = false): Uint8Array {
  const children = recordChildren(raw, keyed);
  if (children === null) return raw;
  return Uint8Array.of(1, ...children[0].hash, ...children[1].hash);
}

/** The children of a record that are records themselves: not EMPTY, not inline, not held (whose own such children count). */
export function childRecordHashes(raw: Uint8Array, keyed = false): Uint8Array[] {
  return childRecords(raw, keyed).map((c) => c.hash);
}

/** childRecordHashes with where each record is (height + 1, or 0 under its hash alone). */
export function childRecords(raw: Uint8Array, keyed = false): Array<{ hash: Uint8Array; at: number }> {
  const out: Array<{ hash: Uint8Array; at: number }> = [];
  const visit = (c: RecordChild): void => {
    if (c.held) c.held.forEach(visit);
    else if (!c.leaf && !c.hash.every((b) => b === 0)) out.push({ hash: c.hash, at: c.at ?? 0 });
  };
  (recordChildren(raw, keyed) ?? []).forEach(visit);
  return out;
}

/** How a record is named in a map of records: its hex hash, after "<at>:" for one keyed by height. */
export function recordId(hash: Uint8Array, at = 0): string {
  const h = Buffer.from(hash).toString("hex");
  return at === 0 ? h : `${at}:${h}`;
}

/**
 * The records on the walk from `root` (its record at `rootAt`) down the
 * path of `key`, root first: the last one holds the leaf (inline, or as the
 * leaf's own record) or ends the walk at EMPTY. `get` reads the record of a
 * hash at a place (height + 1, or 0 under the hash alone).
 */
export async function pathRecords(
  get: (hash: Uint8Array, at: number) => Promise<Uint8Array | undefined>,
  root: Uint8Array,
  key: Uint8Array,
  rootAt = 0,
): Promise<Array<{ hash: Uint8Array; at: number; bytes: Uint8Array }>> {
  const out: Array<{ hash: Uint8Array; at: number; bytes: Uint8Array }> = [];
  const bit = (depth: number): number => (key[depth >> 3]! >> (7 - (depth & 7))) & 1;
  let hash = root;
  let at = rootAt;
  for (let depth = 0; !hash.every((b) => b === 0); depth++) {
    const bytes = await get(hash, at);
    if (!bytes) throw new Error(`fixture: node ${recordId(hash, at)} is not in the store`);
    out.push({ hash, at, bytes });
    const children = recordChildren(bytes, at !== 0);
    if (children === null) break;
    let child = children[bit(depth)]!;
    // Nodes held in this record: the walk goes on inside it.
    while (child.held) child = child.held[bit(++depth)]!;
    if (child.leaf) break;
    hash = child.hash;
    at = child.at ?? 0;
  }
  return out;
}

/** The ids (recordId) of every record the tree at `root` (its record at `rootAt`) reaches in `records` (recordId -> record). */
export function reachableRecords(records: ReadonlyMap<string, Uint8Array>, root: Uint8Array, rootAt = 0): Set<string> {
  const out = new Set<string>();
  const walk = (h: Uint8Array, at: number): void => {
    const id = recordId(h, at);
    if (h.every((b) => b === 0) || out.has(id)) return;
    out.add(id);
    const record = records.get(id);
    if (!record) throw new Error(`fixture: record ${id} is not in the store`);
    for (const c of childRecords(record, at !== 0)) walk(c.hash, c.at);
  };
  walk(root, rootAt);
  return out;
}

/** Every record of a store's tree buckets by recordId: SmtNode (under the hash alone) and SmtNodeAt (height + 1). */
export function storedRecordId(key: Uint8Array, smtNodeBucket: number): string {
  if (key[0] === smtNodeBucket) return recordId(key.subarray(1));
  const height = Number(Buffer.from(key.subarray(1, 9)).readBigUInt64BE(0));
  return recordId(key.subarray(9), height + 1);
}
