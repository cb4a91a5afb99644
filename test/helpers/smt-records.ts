/**
 * Reading the state tree's records as the store keeps them (src/chain/smt-node.ts
 * storedForm), written apart from the code under test:
 *   0x00 || key || valueHash          a leaf with a record of its own
 *   0x01 || left || right             an internal node, both children by hash
 *   0x02 || flags || left || right    an internal node whose children with
 *                                     flag bit 0 (left) or 1 (right) are leaves
 *                                     written inline as key || valueHash
 */
import { sha256 } from "../../src/crypto/hash.js";

export interface RecordChild {
  hash: Uint8Array;
  /** Set for a leaf written inline. */
  leaf?: { key: Uint8Array; valueHash: Uint8Array };
}

/** The two children of an internal node's record (EMPTY included); null for a leaf's record. */
export function recordChildren(raw: Uint8Array): [RecordChild, RecordChild] | null {
  if (raw[0] === 0x00) return null;
  if (raw[0] === 0x01) return [{ hash: raw.subarray(1, 33) }, { hash: raw.subarray(33, 65) }];
  if (raw[0] !== 0x02) throw new Error(`not a tree record: tag ${raw[0]}`);
  const flags = raw[1]!;
  const out: RecordChild[] = [];
  let at = 2;
  for (const side of [0, 1]) {
    if ((flags >> side) & 1) {
      const key = raw.subarray(at, at + 32);
      const valueHash = raw.subarray(at + 32, at + 64);
      out.push({ hash: sha256(Uint8Array.of(0, ...key, ...valueHash)), leaf: { key, valueHash } });
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

/** The children of a record that are records themselves: not EMPTY, not inline. */
export function childRecordHashes(raw: Uint8Array): Uint8Array[] {
  return (recordChildren(raw) ?? []).filter((c) => !c.leaf && !c.hash.every((b) => b === 0)).map((c) => c.hash);
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
  let hash = root;
  for (let depth = 0; !hash.every((b) => b === 0); depth++) {
    const bytes = await get(hash);
    if (!bytes) throw new Error(`fixture: node ${Buffer.from(hash).toString("hex")} is not in the store`);
    out.push({ hash, bytes });
    const children = recordChildren(bytes);
    if (children === null) break;
    const child = children[(key[depth >> 3]! >> (7 - (depth & 7))) & 1]!;
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
