/**
 * The state tree's records keyed by height (smt.ts SmtPlaces, smt-node.ts
 * storedForm): each record under the height that wrote it, its children's
 * places after the node, the root of every height a record of its own, and
 * the stale records of each update exactly those the old tree has and the
 * new one lacks.
 */
import { expect } from "chai";
import fc from "fast-check";
import { EMPTY_ROOT, type NodeAt, SparseMerkleTree, type SmtNodeReader, type SmtUpdate, nodeAt, verifySmtProof } from "../../../src/chain/smt.js";
import { decodeStored } from "../../../src/chain/smt-node.js";
import { H, crowdedKeyArb, hex, internalHash, keyWithPrefix, leafHash, referenceRoot, val } from "../../helpers/smt-fixtures.js";
import { reachableRecords, recordChildren, recordId, recordPreimage } from "../../helpers/smt-records.js";

/** Records by recordId ("<at>:<hex>", or "<hex>" under the hash alone), counting reads. */
class PlacedStore implements SmtNodeReader {
  readonly records = new Map<string, Uint8Array>();
  reads = 0;
  async getNode(hash: Uint8Array, at: NodeAt): Promise<Uint8Array | undefined> {
    this.reads++;
    return this.records.get(recordId(hash, at));
  }
}

/** A chain of trees, one per height from 0, with its records keyed by height, pruned to the last `keep` trees. */
class Chain {
  readonly store = new PlacedStore();
  readonly roots: Uint8Array[] = [];
  /** Stale records of each height, by recordId. */
  private readonly staleAt = new Map<number, string[]>();
  readonly tree: SparseMerkleTree;

  constructor(cacheSize: number) {
    this.tree = new SparseMerkleTree(this.store, { cacheSize });
  }

  /** The tree of the next height from the last one's, after `updates`; checks what it names stale. */
  async next(updates: SmtUpdate[]): Promise<{ newIds: string[]; staleIds: string[] }> {
    const height = this.roots.length;
    const from = height === 0 ? EMPTY_ROOT : this.roots[height - 1]!;
    const res = await this.tree.update(from, updates, { rootAt: height === 0 ? 0 : nodeAt(height - 1), at: nodeAt(height) });
    const newIds = [...res.newNodes.keys()].map((h) => `${nodeAt(height)}:${h}`);
    for (const [h, rec] of res.newNodes) this.store.records.set(`${nodeAt(height)}:${h}`, rec);
    this.roots.push(res.root);
    const staleIds = res.staleNodes.map((n) => recordId(n.hash, n.at));
    expect(res.staleNodes.every((n) => !n.mayReturn), "no record keyed by height is written again").to.equal(true);
    if (height > 0) {
      const before = this.reachable(height - 1);
      const after = this.reachable(height);
      expect(staleIds.sort()).to.deep.equal([...before].filter((id) => !after.has(id)).sort());
    }
    this.staleAt.set(height, staleIds);
    return { newIds, staleIds };
  }

  reachable(height: number): Set<string> {
    const root = this.roots[height]!;
    return root.every((b) => b === 0) ? new Set() : reachableRecords(this.store.records, root, nodeAt(height));
  }

  /** Deletes the records that went stale at `height` (the trees before it are given up). */
  prune(height: number): void {
    for (const id of this.staleAt.get(height) ?? []) this.store.records.delete(id);
  }
}

describe("chain/smt: records keyed by height", () => {
  const a = keyWithPrefix("00", 0x11);
  const b = keyWithPrefix("01", 0x22);
  const c = keyWithPrefix("1", 0x33);
  /** Height 0 of the chains below: a and b under one node on the left, c on the right. */
  const abc: SmtUpdate[] = [
    { key: a, value: val(1) },
    { key: b, value: val(2) },
    { key: c, value: val(3) },
  ];

  it("writes each record under its height with its children's places, and gives every height's root a record of its own", async () => {
    const chain = new Chain(0);
    const first = await chain.next(abc);
    // Height 0: the root (a's and b's parent by hash, c inline) and a's and b's parent.
    expect(first.newIds.every((id) => id.startsWith("1:"))).to.equal(true);
    const root0 = chain.store.records.get(`1:${hex(chain.roots[0]!)}`)!;
    const [left, right] = recordChildren(root0, true)!;
    expect(left.at, "the left child's record is of height 0").to.equal(1);
    expect(right.leaf?.key).to.deep.equal(c);
    // The same bytes as under the hash alone, then one varint: the child's place.
    expect(root0.at(-1)).to.equal(1);
    expect(recordPreimage(root0, true)).to.have.length(65);

    // Height 1 changes c only: a new root pointing at the left record of height 0.
    const second = await chain.next([{ key: c, value: val(4) }]);
    expect(second.newIds).to.deep.equal([`2:${hex(chain.roots[1]!)}`]);
    expect(second.staleIds).to.deep.equal([`1:${hex(chain.roots[0]!)}`]);
    expect(recordChildren(chain.store.records.get(second.newIds[0]!)!, true)![0].at).to.equal(1);

    // Height 2 changes nothing: its root is a copy at height 2, the one of height 1 stale.
    const third = await chain.next([]);
    expect(hex(chain.roots[2]!)).to.equal(hex(chain.roots[1]!));
    expect(third.newIds).to.deep.equal([`3:${hex(chain.roots[1]!)}`]);
    expect(third.staleIds).to.deep.equal([`2:${hex(chain.roots[1]!)}`]);
    // Once height 1's tree is given up, height 2's still reads whole.
    chain.prune(2);
    const cold = new SparseMerkleTree(chain.store, { cacheSize: 0 });
    expect(await cold.get(chain.roots[2]!, c, nodeAt(2))).to.deep.equal(val(4));
    expect(await cold.get(chain.roots[2]!, a, nodeAt(2))).to.deep.equal(val(1));
    const gone = await cold.get(chain.roots[1]!, c, nodeAt(1)).catch((e: Error) => e);
    expect((gone as Error).message).to.match(/missing SMT node [0-9a-f]{64} \(of height 1\)/);
  });

  it("a node made again gets a record at its new height; the old one stays stale", async () => {
    const chain = new Chain(1000);
    await chain.next(abc);
    const leftHash = recordChildren(chain.store.records.get(`1:${hex(chain.roots[0]!)}`)!, true)![0].hash;
    // Changing b replaces a's and b's parent; changing it back makes the same node again, at height 2.
    const changed = await chain.next([{ key: b, value: val(9), mayRepeat: true }]);
    expect(changed.staleIds).to.include(`1:${hex(leftHash)}`);
    const back = await chain.next([{ key: b, value: val(2), mayRepeat: true }]);
    expect(back.newIds).to.include(`3:${hex(leftHash)}`);
    expect(hex(chain.roots[2]!)).to.equal(hex(chain.roots[0]!));
    // Deleting height 1's stale records (the tree of height 0 given up) leaves height 2 whole, without a check.
    chain.prune(1);
    chain.prune(2);
    const cold = new SparseMerkleTree(chain.store, { cacheSize: 0 });
    for (const [k, v] of [[a, 1], [b, 2], [c, 3]] as const) expect(await cold.get(chain.roots[2]!, k, nodeAt(2))).to.deep.equal(val(v));
  });

  it("the cache tells apart two records of one node: a walk follows the places of the record it asked for", async () => {
    const chain = new Chain(1000);
    await chain.next(abc);
    await chain.next([{ key: a, value: val(5) }]);
    await chain.next([{ key: a, value: val(1) }]);
    // Height 0's and height 2's roots are one node in two records, whose left children are at heights 0 and 2.
    expect(hex(chain.roots[2]!)).to.equal(hex(chain.roots[0]!));
    const at0 = recordChildren(chain.store.records.get(`1:${hex(chain.roots[0]!)}`)!, true)![0];
    const at2 = recordChildren(chain.store.records.get(`3:${hex(chain.roots[2]!)}`)!, true)![0];
    expect([at0.at, at2.at]).to.deep.equal([1, 3]);
    // Height 0's tree given up: its records are gone, and the warm cache must not lead a walk of height 2 to them.
    chain.prune(1);
    chain.prune(2);
    expect(chain.store.records.has(`1:${hex(at0.hash)}`)).to.equal(false);
    for (const k of [a, b, c]) {
      const proof = await chain.tree.prove(chain.roots[2]!, k, nodeAt(2));
      expect(verifySmtProof(chain.roots[2]!, k, await chain.tree.get(chain.roots[2]!, k, nodeAt(2)), proof)).to.equal(true);
    }
    const missing = await chain.tree.get(chain.roots[0]!, a, nodeAt(0)).catch((e: Error) => e);
    expect(missing).to.be.instanceOf(Error);
  });

  it("any sequence of batches: each root is the reference, the stale records are exactly the old tree's the new lacks, and the kept trees read whole after pruning", async () => {
    const K = 3;
    const batchArb = fc.array(fc.tuple(crowdedKeyArb(3, 4), fc.option(fc.integer({ min: 0, max: 3 }), { nil: null })), { maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(fc.array(batchArb, { minLength: 1, maxLength: 10 }), fc.constantFrom(0, 16, 1000), async (batches, cacheSize) => {
        const chain = new Chain(cacheSize);
        const state = new Map<string, Uint8Array>();
        for (let h = 0; h < batches.length; h++) {
          const updates = batches[h]!.map(([key, v]) => ({ key, value: v === null ? null : val(v) }));
          for (const u of updates) {
            if (u.value === null) state.delete(hex(u.key));
            else state.set(hex(u.key), u.value);
          }
          await chain.next(updates);
          expect(hex(chain.roots[h]!)).to.equal(hex(referenceRoot([...state].map(([k, v]) => [Buffer.from(k, "hex"), v]))));
          if (h - K + 1 >= 1) chain.prune(h - K + 1);
          // The store holds exactly what the kept trees reach, and each of them reads whole from a cold tree.
          const kept = new Set<string>();
          for (let k = Math.max(0, h - K + 1); k <= h; k++) for (const id of chain.reachable(k)) kept.add(id);
          expect([...chain.store.records.keys()].sort()).to.deep.equal([...kept].sort());
          const cold = new SparseMerkleTree(chain.store, { cacheSize: 0 });
          for (const [k, v] of state) expect(hex((await cold.get(chain.roots[h]!, Buffer.from(k, "hex"), nodeAt(h)))!)).to.equal(hex(v));
        }
      }),
      { numRuns: 60 },
    );
  });

  it("a record's places are checked when read: cut short, missing, extra bytes, or a record keyed by height read under its hash alone", () => {
    const left = new Uint8Array(32).fill(7);
    const right = new Uint8Array(32).fill(9);
    const inner = Uint8Array.of(1, ...left, ...right);
    const hash = H(inner);
    const node = decodeStored(hash, Uint8Array.of(...inner, 5, 0x80, 0x01), 7);
    expect([node.at, node.firstAt, node.secondAt]).to.deep.equal([7, 5, 128]);
    const cases: Array<[Uint8Array, number, RegExp]> = [
      [Uint8Array.of(...inner, 5), 7, /the places of its children: varint cut short/],
      [Uint8Array.of(...inner, 5, 0x80), 7, /the places of its children: varint cut short/],
      [inner, 7, /the places of its children: varint cut short/],
      [Uint8Array.of(...inner, 5, 6, 7), 7, /1 bytes after the places of its children/],
      [Uint8Array.of(...inner, 5, 6), 0, /expected 65 bytes, got 67/],
    ];
    for (const [raw, at, re] of cases) expect(() => decodeStored(hash, raw, at), hex(raw.subarray(65))).to.throw(re);
    // A record with no child by hash (both leaves inline) is the same bytes either way.
    const k1 = keyWithPrefix("0");
    const k2 = keyWithPrefix("1");
    const both = Uint8Array.of(2, 3, ...k1, ...val(1), ...k2, ...val(2));
    const bothHash = internalHash(leafHash(k1, val(1)), leafHash(k2, val(2)));
    expect(decodeStored(bothHash, both, 3).at).to.equal(3);
    expect(decodeStored(bothHash, both, 0).at).to.equal(0);
    expect(() => decodeStored(bothHash, Uint8Array.of(...both, 1), 3)).to.throw(/1 bytes after the node/);
  });
});

