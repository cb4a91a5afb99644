/**
 * Fixtures of the state tree's tests: hashes computed straight from the
 * format's formulas with node:crypto (independently of src/crypto/hash.ts),
 * the reference root, and an in-memory node store.
 */
import fc from "fast-check";
import { createHash } from "node:crypto";
import { SparseMerkleTree, type SmtNodeReader, type SmtUpdate } from "../../src/chain/smt.js";

export function H(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
export const E = new Uint8Array(32);
export const leafHash = (k: Uint8Array, v: Uint8Array): Uint8Array => H(Uint8Array.of(0), k, v);
export const internalHash = (l: Uint8Array, r: Uint8Array): Uint8Array => H(Uint8Array.of(1), l, r);
export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** A 32-byte key whose first bits are `bits` (a string of 0/1), then `fill`. */
export function keyWithPrefix(bits: string, fill = 0x00): Uint8Array {
  const k = new Uint8Array(32).fill(fill);
  for (let i = 0; i < bits.length; i++) {
    const mask = 0x80 >> (i & 7);
    if (bits[i] === "1") k[i >> 3]! |= mask;
    else k[i >> 3]! &= ~mask;
  }
  return k;
}
export function val(n: number): Uint8Array {
  return H(Uint8Array.of(0xee, n & 0xff, n >> 8));
}

/** The definition of the root, recursively over a set: the reference the tree must match. */
export function referenceRoot(entries: Array<[Uint8Array, Uint8Array]>, depth = 0): Uint8Array {
  if (entries.length === 0) return E;
  if (entries.length === 1) return leafHash(entries[0]![0], entries[0]![1]);
  const bit = (k: Uint8Array): number => (k[depth >> 3]! >> (7 - (depth & 7))) & 1;
  return internalHash(
    referenceRoot(entries.filter(([k]) => bit(k) === 0), depth + 1),
    referenceRoot(entries.filter(([k]) => bit(k) === 1), depth + 1),
  );
}

/** The records of the layout before leaves were inline: every leaf and internal node its own preimage. */
export function legacyRecords(entries: Array<[Uint8Array, Uint8Array]>, into: Map<string, Uint8Array>, depth = 0): Uint8Array {
  if (entries.length === 0) return E;
  if (entries.length === 1) {
    const rec = Uint8Array.of(0, ...entries[0]![0], ...entries[0]![1]);
    into.set(hex(H(rec)), rec);
    return H(rec);
  }
  const bit = (k: Uint8Array): number => (k[depth >> 3]! >> (7 - (depth & 7))) & 1;
  const l = legacyRecords(entries.filter(([k]) => bit(k) === 0), into, depth + 1);
  const r = legacyRecords(entries.filter(([k]) => bit(k) === 1), into, depth + 1);
  const rec = Uint8Array.of(1, ...l, ...r);
  into.set(hex(H(rec)), rec);
  return H(rec);
}

/** An in-memory node store fed with newNodes, counting reads. */
export class MemStore implements SmtNodeReader {
  readonly nodes = new Map<string, Uint8Array>();
  reads = 0;
  async getNode(hash: Uint8Array): Promise<Uint8Array | undefined> {
    this.reads++;
    return this.nodes.get(hex(hash));
  }
  add(newNodes: Map<string, Uint8Array>): void {
    for (const [k, v] of newNodes) this.nodes.set(k, v);
  }
}

export function setup(cacheSize?: number): { store: MemStore; tree: SparseMerkleTree; apply: (root: Uint8Array, u: SmtUpdate[]) => Promise<Uint8Array> } {
  const store = new MemStore();
  const tree = new SparseMerkleTree(store, cacheSize === undefined ? {} : { cacheSize });
  const apply = async (root: Uint8Array, u: SmtUpdate[]): Promise<Uint8Array> => {
    const res = await tree.update(root, u);
    store.add(res.newNodes);
    return res.root;
  };
  return { store, tree, apply };
}

/**
 * Keys from a small space, mixed with random ones, so that many share long
 * prefixes (deep paths, EMPTY siblings, divergence as late as bit 255):
 * the first `top` bits and the last byte (below `low`) vary.
 */
export function crowdedKeyArb(top: number, low: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.tuple(fc.integer({ min: 0, max: (1 << top) - 1 }), fc.integer({ min: 0, max: low - 1 })).map(([a, b]) => {
      const k = new Uint8Array(32);
      k[0] = a << (8 - top);
      k[31] = b;
      return k;
    }),
  );
}
