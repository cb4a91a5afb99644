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
 */
import { sha256 } from "../../src/crypto/hash.js";

const ZERO = new Uint8Array(32);

export interface RecordChild {
  hash: Uint8Array;
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

/** The two children of an internal node's record (EMPTY included); null for a leaf's record. */
export function recordChildren(raw: Uint8Array): [RecordChild, RecordChild] | null {
  if (raw[0] === 0x00) return null;
  if (raw[0] === 0x01) return [{ hash: raw.subarray(1, 33) }, { hash: raw.subarray(33, 65) }];
  if (raw[0] === 0x03) {
    const [children, end] = readBody(raw, 1);
    if (end !== raw.length) throw new Error(`tree record of ${raw.length} bytes, expected ${end}`);
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
  if (at !== raw.length) throw new Error(`tree record of ${raw.length} bytes, expected ${at}`);
  return [out[0]!, out[1]!];
}

/** The node's hash preimage (what its hash is the sha256 of). */
export function recordPreimage(raw: Uint8Array): Uint8Array {
  const children = recordChildren(raw);
  if (children === null) return raw;
  return Uint8Array.of(1, ...children[0].hash, ...children[1].hash);
}

/** The children of a record that are records themselves: not EMPTY, not inline, not held (whose own such children count). */
export function childRecordHashes(raw: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const visit = (c: RecordChild): void => {
    if (c.held) c.held.forEach(visit);
    else if (!c.leaf && !c.hash.every((b) => b === 0)) out.push(c.hash);
  };
  (recordChildren(raw) ?? []).forEach(visit);
  return out;
}

/**
 * The records on the walk from `root` down the path of `key`, root first:
 * the last one holds the leaf (inline, or as the leaf's own record) or ends
 * the walk at EMPTY. `get` reads a record by hash.
 */
export async function pathRecords(
  get: (hash: Uint8Array) => Promise<Uint8Array | undefined>,
  root: Uint8Array,
  key: Uint8Array,
): Promise<Array<{ hash: Uint8Array; bytes: Uint8Array }>> {
  const out: Array<{ hash: Uint8Array; bytes: Uint8Array }> = [];
  const bit = (depth: number): number => (key[depth >> 3]! >> (7 - (depth & 7))) & 1;
  let hash = root;
  for (let depth = 0; !hash.every((b) => b === 0); depth++) {
    const bytes = await get(hash);
    if (!bytes) throw new Error(`fixture: node ${Buffer.from(hash).toString("hex")} is not in the store`);
    out.push({ hash, bytes });
    const children = recordChildren(bytes);
    if (children === null) break;
    let child = children[bit(depth)]!;
    // Nodes held in this record: the walk goes on inside it.
    while (child.held) child = child.held[bit(++depth)]!;
    if (child.leaf) break;
    hash = child.hash;
  }
  return out;
}

/** The hex hashes of every record the tree at `root` reaches in `records` (hex hash -> record). */
export function reachableRecords(records: ReadonlyMap<string, Uint8Array>, root: Uint8Array): Set<string> {
  const out = new Set<string>();
  const walk = (h: Uint8Array): void => {
    const id = Buffer.from(h).toString("hex");
    if (h.every((b) => b === 0) || out.has(id)) return;
    out.add(id);
    const record = records.get(id);
    if (!record) throw new Error(`fixture: record ${id} is not in the store`);
    for (const c of childRecordHashes(record)) walk(c);
  };
  walk(root);
  return out;
}
