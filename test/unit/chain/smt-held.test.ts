import { expect } from "chai";
import fc from "fast-check";
import { EMPTY_ROOT, SparseMerkleTree, verifySmtProof } from "../../../src/chain/smt.js";
import { E, H, MemStore, crowdedKeyArb, hex, internalHash, keyWithPrefix, leafHash, legacyRecords, referenceRoot, setup, val } from "../../helpers/smt-fixtures.js";
import { reachableRecords, recordChildren } from "../../helpers/smt-records.js";

/** Whether the record's own node has an EMPTY child (what is held, not recorded, unless it is a root). */
const hasEmptyChild = (record: Uint8Array): boolean => (recordChildren(record) ?? []).some((c) => c.hash.every((b) => b === 0));

async function expectReject(p: Promise<unknown>, re: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, "expected a rejection").to.be.instanceOf(Error);
  expect((err as Error).message).to.match(re);
}

describe("chain/smt: nodes with an EMPTY child held in the record above", () => {
  // a = 0000..., b = 0001...: they part at bit 3, under two nodes with an EMPTY right child.
  const a = keyWithPrefix("0000", 0xff);
  const b = keyWithPrefix("0001");
  const c = keyWithPrefix("1", 0x3c);
  const ab = internalHash(leafHash(a, val(1)), leafHash(b, val(2)));
  const n2 = internalHash(ab, E);
  const n1 = internalHash(n2, E);

  it("writes them inside the record of the node above, as a root's record, and as a branch's", async () => {
    const { store, tree, apply } = setup();
    const first = await tree.update(EMPTY_ROOT, [{ key: a, value: val(1) }, { key: b, value: val(2) }]);
    expect(first.root).to.deep.equal(internalHash(n1, E));
    // The root (a record: it is read by its hash) holds n1, which holds n2; n2 points at ab by hash.
    expect([...first.newNodes.keys()].sort()).to.deep.equal([hex(first.root), hex(ab)].sort());
    expect(first.newNodes.get(hex(first.root))).to.deep.equal(Uint8Array.of(3, 0b1011, 0b1011, 0b1000, ...ab));
    expect(first.newNodes.get(hex(ab))).to.deep.equal(Uint8Array.of(2, 3, ...a, ...val(1), ...b, ...val(2)));
    store.add(first.newNodes);

    // c on the right: the new root is a branch holding n1 (and n2) on its left, leaf c on its right.
    const second = await tree.update(first.root, [{ key: c, value: val(3) }]);
    expect(second.root).to.deep.equal(internalHash(n1, leafHash(c, val(3))));
    expect([...second.newNodes.keys()]).to.deep.equal([hex(second.root)]);
    expect(second.newNodes.get(hex(second.root))).to.deep.equal(Uint8Array.of(3, 0b0111, 0b1011, 0b1000, ...ab, ...c, ...val(3)));
    // Only the old root had a record: n1 and n2 lived in it and live on in the new one.
    expect(second.staleNodes.map((n) => hex(n.hash))).to.deep.equal([hex(first.root)]);
    store.add(second.newNodes);

    // Back to a and b alone: the root has an EMPTY child again, and a record of its own again.
    const root3 = await apply(second.root, [{ key: c, value: null }]);
    expect(root3).to.deep.equal(first.root);
    for (const [root, keys] of [[first.root, [a, b]], [second.root, [a, b, c]]] as const) {
      const cold = new SparseMerkleTree(store, { cacheSize: 0 });
      for (const k of keys) {
        const proof = await cold.prove(root, k);
        expect(proof.siblings.length).to.be.greaterThan(0);
        expect(verifySmtProof(root, k, await cold.get(root, k), proof)).to.equal(true);
      }
    }
  });

  it("a walk reads one record for the nodes it holds: a cold path reads the root and ab only", async () => {
    const { store, apply } = setup();
    const root = await apply(EMPTY_ROOT, [{ key: a, value: val(1) }, { key: b, value: val(2) }, { key: c, value: val(3) }]);
    const cold = new SparseMerkleTree(store, { cacheSize: 0 });
    store.reads = 0;
    expect(await cold.get(root, a)).to.deep.equal(val(1));
    expect(store.reads).to.equal(2);
  });

  it("keys that part only at bit 255: one record holds 254 nodes, beyond what a tiny cache takes", async () => {
    const x = new Uint8Array(32).fill(0x5a);
    const y = x.slice();
    y[31]! ^= 1;
    for (const cacheSize of [undefined, 1, 0]) {
      const { store, tree, apply } = setup(cacheSize);
      const root = await apply(EMPTY_ROOT, [{ key: x, value: val(1) }, { key: y, value: val(2) }]);
      expect(root).to.deep.equal(referenceRoot([[x, val(1)], [y, val(2)]].sort((p, q) => Buffer.compare(p[0]!, q[0]!)) as Array<[Uint8Array, Uint8Array]>));
      // The root and the branch at depth 255: 1 + 255 code bytes + ab's hash, and the two leaves inline.
      expect([...store.nodes.values()].map((r) => r.length).sort((p, q) => p - q)).to.deep.equal([130, 1 + 255 + 32]);
      store.reads = 0;
      expect(await tree.get(root, x)).to.deep.equal(val(1));
      const proof = await tree.prove(root, y);
      expect(proof.siblings).to.have.length(256);
      expect(verifySmtProof(root, y, val(2), proof)).to.equal(true);
      // The default cache holds both records from the update; smaller ones read them again.
      if (cacheSize === undefined) expect(store.reads).to.equal(0);
      else expect(store.reads).to.be.greaterThan(0);
      const after = await tree.update(root, [{ key: y, value: null }]);
      expect(after.root).to.deep.equal(leafHash(x, val(1)));
      expect(after.staleNodes.map((n) => hex(n.hash)).sort()).to.deep.equal([...store.nodes.keys()].sort());
    }
  });

  it("over a tree stored by an earlier layout (every node a record), names exactly the records no longer reached, and keeps every tree whole", async () => {
    const keyArb = crowdedKeyArb(4, 4);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(keyArb, { minLength: 2, maxLength: 16, selector: hex }),
        fc.array(fc.array(fc.tuple(fc.nat(), fc.option(fc.integer({ min: 0, max: 3 }))), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
        fc.constantFrom(0, 2, undefined),
        async (keys, batches, cacheSize) => {
          const live = new Map(keys.map((k, i): [string, [Uint8Array, Uint8Array]] => [hex(k), [k, val(i)]]));
          const store = new MemStore();
          const sorted = (): Array<[Uint8Array, Uint8Array]> => [...live.values()].sort((p, q) => Buffer.compare(p[0], q[0]));
          let root = legacyRecords(sorted(), store.nodes);
          const tree = new SparseMerkleTree(store, cacheSize === undefined ? {} : { cacheSize });
          const history: Array<{ root: Uint8Array; entries: Array<[Uint8Array, Uint8Array]> }> = [{ root, entries: sorted() }];
          for (const batch of batches) {
            const updates = batch.map(([i, v]) => ({ key: keys[i % keys.length]!, value: v === null ? null : val(100 + v) }));
            const before = reachableRecords(store.nodes, root);
            const res = await tree.update(root, updates);
            store.add(res.newNodes);
            const after = reachableRecords(store.nodes, res.root);
            expect(res.staleNodes.map((n) => hex(n.hash)).sort()).to.deep.equal([...before].filter((h) => !after.has(h)).sort());
            // What this update wrote holds its nodes with an EMPTY child, unless such a node is the root.
            for (const [h, record] of res.newNodes) if (h !== hex(res.root)) expect(hasEmptyChild(record), "a new record of a node with an EMPTY child").to.equal(false);
            for (const u of updates) {
              if (u.value === null) live.delete(hex(u.key));
              else live.set(hex(u.key), [u.key, u.value]);
            }
            root = res.root;
            expect(hex(root)).to.equal(hex(referenceRoot(sorted())));
            history.push({ root, entries: sorted() });
          }
          // Every tree, old layout and new, served by a cold reader over the same store.
          const cold = new SparseMerkleTree(store, { cacheSize: 0 });
          for (const t of history) for (const [k, v] of t.entries) expect(await cold.get(t.root, k)).to.deep.equal(v);
        },
      ),
      { numRuns: 80 },
    );
  });

  it("holds() answers no for a node that is held now: its old record is not needed", async () => {
    const store = new MemStore();
    // The earlier layout: n1 and n2 have records of their own.
    const oldRoot = legacyRecords([[a, val(1)], [b, val(2)]], store.nodes);
    expect(store.nodes.has(hex(n1))).to.equal(true);
    const tree = new SparseMerkleTree(store, { cacheSize: 0 });
    const res = await tree.update(oldRoot, [{ key: c, value: val(3) }]);
    store.add(res.newNodes);
    // n1 is unchanged, and still by hash: its record is still read.
    expect(await tree.holds(res.root, { hash: n1, path: a, depth: 1, leaf: false })).to.equal(true);
    // Changed below n2, the new n1' and n2' are held; ab' is a record.
    const d = keyWithPrefix("00001", 0x01);
    const res2 = await tree.update(res.root, [{ key: d, value: val(4) }]);
    store.add(res2.newNodes);
    const stale = res2.staleNodes.map((n) => hex(n.hash)).sort();
    // ... and leaf a, which had a record of its own, moves down beside d.
    expect(stale).to.deep.equal([hex(res.root), hex(n1), hex(n2), hex(ab), hex(leafHash(a, val(1)))].sort());
    // a = 00001111..., d = 00001001...: under ab', an EMPTY left at depth 4 and a split at bit 5.
    const ad = internalHash(E, internalHash(leafHash(d, val(4)), leafHash(a, val(1))));
    const n1b = internalHash(internalHash(internalHash(ad, leafHash(b, val(2))), E), E);
    expect(res2.root).to.deep.equal(internalHash(n1b, leafHash(c, val(3))));
    expect(await tree.holds(res2.root, { hash: n1b, path: a, depth: 1, leaf: false })).to.equal(false);
    expect(await tree.holds(res2.root, { hash: res2.root, path: a, depth: 0, leaf: false })).to.equal(true);
    expect(store.nodes.has(hex(n1b))).to.equal(false);
  });

  it("refuses a 0x03 record that is cut, padded, badly coded or nested past 256 levels", async () => {
    const { store, apply } = setup();
    const root = await apply(EMPTY_ROOT, [{ key: a, value: val(1) }, { key: b, value: val(2) }, { key: c, value: val(3) }]);
    const record = store.nodes.get(hex(root))!;
    expect(record[0]).to.equal(3);
    const withRecord = (bytes: Uint8Array) => new SparseMerkleTree({ getNode: async () => bytes }, { cacheSize: 0 }).get(root, c);
    const at = (why: string) => new RegExp(`corrupt SMT node ${hex(root)}: ${why}`);
    await expectReject(withRecord(record.subarray(0, record.length - 1)), at("cut short"));
    await expectReject(withRecord(record.subarray(0, 3)), at("cut short at byte 3"));
    await expectReject(withRecord(Uint8Array.of(...record, 0)), at("1 bytes after the node"));
    await expectReject(withRecord(Uint8Array.of(3, 0x17, ...record.subarray(2))), at("bad side codes 0x17"));
    await expectReject(withRecord(Uint8Array.of(3, 0b1010)), at("an internal node with two EMPTY children"));
    await expectReject(withRecord(Uint8Array.of(3, 0b1000, ...E)), at("EMPTY written as a hash"));
    await expectReject(withRecord(Uint8Array.of(3, ...new Array<number>(300).fill(0b1011))), at("held nodes nest beyond the 256-bit key"));
    const flipped = record.slice();
    flipped[flipped.length - 1]! ^= 1;
    await expectReject(withRecord(flipped), at("content does not match its hash"));
    expect(H(Uint8Array.of(1, ...n1, ...leafHash(c, val(3))))).to.deep.equal(root);
  });
});
