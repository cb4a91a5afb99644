import { expect } from "chai";
import fc from "fast-check";
import {
  EMPTY_ROOT,
  SparseMerkleTree,
  type SmtProof,
  type SmtUpdate,
  decodeSmtProof,
  encodeSmtProof,
  verifySmtProof,
} from "../../../src/chain/smt.js";
import { E, H, MemStore, crowdedKeyArb, hex, internalHash, keyWithPrefix, leafHash, legacyRecords, referenceRoot, setup, val } from "../../helpers/smt-fixtures.js";
import { reachableRecords, recordPreimage } from "../../helpers/smt-records.js";

const keyArb = crowdedKeyArb(3, 8);
const keySetArb = fc.uniqueArray(keyArb, { maxLength: 24, selector: hex });

describe("chain/smt", () => {
  describe("known-answer vectors", () => {
    it("the empty tree has the 32-zero-byte root", async () => {
      expect(hex(EMPTY_ROOT)).to.equal("00".repeat(32));
      const { tree } = setup();
      const res = await tree.update(EMPTY_ROOT, []);
      expect(res.root).to.deep.equal(E);
      expect(res.newNodes.size).to.equal(0);
      expect(await tree.get(EMPTY_ROOT, keyWithPrefix("1"))).to.equal(null);
    });

    it("a single leaf is the root; its node is stored as 0x00||key||value", async () => {
      const { tree } = setup();
      const k = keyWithPrefix("1011", 0x5a);
      const res = await tree.update(EMPTY_ROOT, [{ key: k, value: val(1) }]);
      expect(res.root).to.deep.equal(leafHash(k, val(1)));
      expect([...res.newNodes.keys()]).to.deep.equal([hex(res.root)]);
      expect(res.newNodes.get(hex(res.root))).to.deep.equal(new Uint8Array([0, ...k, ...val(1)]));
    });

    it("two keys that differ in bit 0 give internal(left, right), in either order", async () => {
      const a = keyWithPrefix("0", 0xff);
      const b = keyWithPrefix("1", 0x00);
      const expected = internalHash(leafHash(a, val(1)), leafHash(b, val(2)));
      const { tree, apply } = setup();
      expect((await tree.update(EMPTY_ROOT, [{ key: b, value: val(2) }, { key: a, value: val(1) }])).root).to.deep.equal(expected);
      const r1 = await apply(EMPTY_ROOT, [{ key: a, value: val(1) }]);
      expect(await apply(r1, [{ key: b, value: val(2) }])).to.deep.equal(expected);
      const res = await tree.update(EMPTY_ROOT, [{ key: a, value: val(1) }, { key: b, value: val(2) }]);
      // The store keeps the root only, both leaves written inline: 0x02 || flags 0b11 || a || value || b || value.
      expect([...res.newNodes.keys()]).to.deep.equal([hex(expected)]);
      expect(res.newNodes.get(hex(expected))).to.deep.equal(new Uint8Array([2, 3, ...a, ...val(1), ...b, ...val(2)]));
    });

    it("keys sharing the prefix 000 nest under internal nodes with EMPTY siblings", async () => {
      const a = keyWithPrefix("0000", 0xff);
      const b = keyWithPrefix("0001");
      const c = keyWithPrefix("1");
      const la = leafHash(a, val(1));
      const lb = leafHash(b, val(2));
      const ab = internalHash(la, lb); // depth 3: split by bit 3
      const expected2 = internalHash(internalHash(internalHash(ab, E), E), E);
      const { apply } = setup();
      const r2 = await apply(EMPTY_ROOT, [{ key: a, value: val(1) }, { key: b, value: val(2) }]);
      expect(r2).to.deep.equal(expected2);
      const r3 = await apply(r2, [{ key: c, value: val(3) }]);
      expect(r3).to.deep.equal(internalHash(internalHash(internalHash(ab, E), E), leafHash(c, val(3))));
    });

    it("keys sharing the prefix 101 follow right, left, right", async () => {
      const a = keyWithPrefix("1010");
      const b = keyWithPrefix("1011");
      const ab = internalHash(leafHash(a, val(1)), leafHash(b, val(2)));
      const { apply } = setup();
      const root = await apply(EMPTY_ROOT, [{ key: a, value: val(1) }, { key: b, value: val(2) }]);
      expect(root).to.deep.equal(internalHash(E, internalHash(internalHash(E, ab), E)));
    });

    it("keys that differ only in bit 255 sit at depth 256 under 256 internal nodes", async () => {
      const a = new Uint8Array(32).fill(0x33);
      const b = a.slice();
      b[31]! ^= 0x01;
      const la = leafHash(a, val(1));
      const lb = leafHash(b, val(2));
      expect(a[31]! & 1).to.equal(1); // so a goes right at depth 255
      let expected = internalHash(lb, la);
      for (let depth = 254; depth >= 0; depth--) {
        const bit = (a[depth >> 3]! >> (7 - (depth & 7))) & 1;
        expected = bit ? internalHash(E, expected) : internalHash(expected, E);
      }
      const { tree, apply } = setup();
      const root = await apply(EMPTY_ROOT, [{ key: a, value: val(1) }, { key: b, value: val(2) }]);
      expect(root).to.deep.equal(expected);
      const proof = await tree.prove(root, a);
      expect(proof.siblings).to.have.length(256);
      expect(verifySmtProof(root, a, val(1), proof)).to.equal(true);
      expect(await apply(root, [{ key: b, value: null }])).to.deep.equal(leafHash(a, val(1)));
    });
  });

  describe("canonical root", () => {
    it("matches the reference for any set, order, batching and interleaved deletes", async () => {
      await fc.assert(
        fc.asyncProperty(
          keySetArb,
          fc.uniqueArray(keyArb, { maxLength: 8, selector: hex }),
          fc.integer({ min: 1, max: 6 }),
          fc.infiniteStream(fc.integer()),
          fc.constantFrom(undefined, 0, 3, 16),
          async (keys, extra, batchSize, rand, cacheSize) => {
            const it = rand[Symbol.iterator]();
            const next = (): number => Math.abs(it.next().value as number);
            const live = new Set(keys.map(hex));
            const extras = extra.filter((k) => !live.has(hex(k)));
            const entries: Array<[Uint8Array, Uint8Array]> = keys.map((k, i) => [k, val(i)]);
            // Insert the set plus extras in a random order and random batches,
            // then delete the extras in another order.
            const ops: SmtUpdate[] = [...entries.map(([key, value]) => ({ key, value })), ...extras.map((key) => ({ key, value: val(999) }))];
            for (let i = ops.length - 1; i > 0; i--) {
              const j = next() % (i + 1);
              [ops[i], ops[j]] = [ops[j]!, ops[i]!];
            }
            ops.push(...extras.map((key) => ({ key, value: null })));
            // Small caches drive evictions and reloads from the store.
            const { tree, apply } = setup(cacheSize);
            let root: Uint8Array = EMPTY_ROOT;
            for (let i = 0; i < ops.length; i += batchSize) root = await apply(root, ops.slice(i, i + batchSize));
            expect(hex(root)).to.equal(hex(referenceRoot(entries)));
            const oneBatch = await tree.update(EMPTY_ROOT, entries.map(([key, value]) => ({ key, value })));
            expect(hex(oneBatch.root)).to.equal(hex(root));
          },
        ),
        { numRuns: 150 },
      );
    });

    it("names as stale exactly the records the old tree reaches and the new one does not; deleting them keeps every later tree whole", async () => {
      const records = (store: MemStore, root: Uint8Array): Set<string> => reachableRecords(store.nodes, root);
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 11 }), fc.option(fc.integer({ min: 0, max: 3 }))), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 12 }),
          fc.constantFrom(0, 3, undefined),
          async (batches, cacheSize) => {
            // Twelve keys, some sharing long prefixes: leaves move up and down, the root is a leaf now and then.
            const keyOf = (i: number): Uint8Array => (i < 6 ? keyWithPrefix(i.toString(2).padStart(3, "0") + "1", i) : H(Uint8Array.of(i, 7)));
            const { store, tree } = setup(cacheSize);
            const live = new Map<string, [Uint8Array, Uint8Array]>();
            let root: Uint8Array = EMPTY_ROOT;
            for (const batch of batches) {
              const updates = batch.map(([k, v]) => ({ key: keyOf(k), value: v === null ? null : val(v) }));
              const before = records(store, root);
              const res = await tree.update(root, updates);
              store.add(res.newNodes);
              const after = records(store, res.root);
              expect(res.staleNodes.map((n) => hex(n.hash)).sort()).to.deep.equal([...before].filter((h) => !after.has(h)).sort());
              for (const n of res.staleNodes) expect(n.leaf).to.equal(store.nodes.get(hex(n.hash))![0] === 0x00);
              // Pruned at once (a history of one tree): the new tree must not need any of them.
              for (const n of res.staleNodes) store.nodes.delete(hex(n.hash));
              for (const u of updates) {
                if (u.value === null) live.delete(hex(u.key));
                else live.set(hex(u.key), [u.key, u.value]);
              }
              root = res.root;
              expect(hex(root)).to.equal(hex(referenceRoot([...live.values()].sort((a, b) => Buffer.compare(a[0], b[0])))));
              const cold = new SparseMerkleTree(store, { cacheSize: 0 });
              for (const [k, v] of live.values()) expect(await cold.get(root, k)).to.deep.equal(v);
            }
          },
        ),
        { numRuns: 100 },
      );
    });

    it("deleting a key restores the previous root exactly; deleting all gives EMPTY_ROOT", async () => {
      await fc.assert(
        fc.asyncProperty(keySetArb, keyArb, async (keys, newKey) => {
          fc.pre(!keys.some((k) => hex(k) === hex(newKey)));
          const { apply } = setup();
          const root = await apply(EMPTY_ROOT, keys.map((key, i) => ({ key, value: val(i) })));
          const withNew = await apply(root, [{ key: newKey, value: val(500) }]);
          expect(hex(await apply(withNew, [{ key: newKey, value: null }]))).to.equal(hex(root));
          let r = root;
          for (const key of keys) r = await apply(r, [{ key, value: null }]);
          expect(r).to.deep.equal(EMPTY_ROOT);
        }),
        { numRuns: 60 },
      );
    });

    it("within a batch the last update of a key wins", async () => {
      const { tree, apply } = setup();
      const k1 = keyWithPrefix("01");
      const k2 = keyWithPrefix("11");
      const root = await apply(EMPTY_ROOT, [
        { key: k1, value: val(1) },
        { key: k2, value: val(2) },
        { key: k1, value: val(3) },
        { key: k2, value: null },
      ]);
      expect(root).to.deep.equal(leafHash(k1, val(3)));
      const root2 = await apply(root, [{ key: k1, value: null }, { key: k1, value: val(4) }]);
      expect(await tree.get(root2, k1)).to.deep.equal(val(4));
    });

    it("deleting an absent key or rewriting a value leaves the root unchanged and creates no node", async () => {
      const { tree, apply } = setup();
      const root = await apply(EMPTY_ROOT, [0, 1, 2, 3].map((i) => ({ key: keyWithPrefix(i.toString(2).padStart(2, "0")), value: val(i) })));
      const res = await tree.update(root, [
        { key: keyWithPrefix("0111", 0x77), value: null },
        { key: keyWithPrefix("10"), value: val(2) },
      ]);
      expect(res.root).to.deep.equal(root);
      expect(res.newNodes.size).to.equal(0);
    });
  });

  describe("storage", () => {
    it("newNodes are content-addressed and enough for a cold reader to serve every key", async () => {
      const { store, apply } = setup();
      const keys = Array.from({ length: 50 }, (_, i) => H(Uint8Array.of(i)));
      let root: Uint8Array = EMPTY_ROOT;
      for (let i = 0; i < keys.length; i += 7) root = await apply(root, keys.slice(i, i + 7).map((key, j) => ({ key, value: val(i + j) })));
      for (const [h, node] of store.nodes) {
        expect(h).to.equal(hex(H(recordPreimage(node))));
        // Internal nodes only: every leaf is written inline in its parent's record.
        expect(node[0]).to.be.oneOf([0x01, 0x02, 0x03]);
        if (node[0] !== 0x03) expect(node).to.have.length(node[0] === 0x01 ? 65 : 2 + 32 * (2 + (node[1] === 3 ? 2 : 1)));
      }
      expect(store.nodes.has("00".repeat(32))).to.equal(false);
      const cold = new SparseMerkleTree(store, { cacheSize: 0 });
      for (let i = 0; i < keys.length; i++) expect(await cold.get(root, keys[i]!)).to.deep.equal(val(i));
    });

    it("reads and updates a tree stored in the earlier layout (leaves with records of their own), and names those leaf records stale", async () => {
      const keys = Array.from({ length: 30 }, (_, i) => H(Uint8Array.of(i, 9)));
      const entries: Array<[Uint8Array, Uint8Array]> = keys.map((k, i) => [k, val(i)]);
      const store = new MemStore();
      const oldRoot = legacyRecords(entries, store.nodes);
      expect(oldRoot).to.deep.equal(referenceRoot(entries));
      const tree = new SparseMerkleTree(store, { cacheSize: 0 });
      for (let i = 0; i < keys.length; i++) expect(await tree.get(oldRoot, keys[i]!)).to.deep.equal(val(i));
      const proof = await tree.prove(oldRoot, keys[4]!);
      expect(verifySmtProof(oldRoot, keys[4]!, val(4), proof)).to.equal(true);

      // Applies updates; the stale nodes are exactly the records the old tree reaches and the new one does not.
      const step = async (from: Uint8Array, updates: SmtUpdate[]) => {
        const res = await tree.update(from, updates);
        store.add(res.newNodes);
        for (const rec of res.newNodes.values()) expect(rec[0], "new records hold their leaves inline").to.not.equal(0x00);
        const [before, after] = [reachableRecords(store.nodes, from), reachableRecords(store.nodes, res.root)];
        expect(res.staleNodes.map((n) => hex(n.hash)).sort()).to.deep.equal([...before].filter((h) => !after.has(h)).sort());
        return { root: res.root, staleLeaves: res.staleNodes.filter((n) => n.leaf).map((n) => hex(n.hash)) };
      };

      // A key whose sibling is a leaf: deleting it moves that leaf up, into a parent that holds it inline.
      const pair = [...store.nodes.values()].find((r) => r[0] === 0x01 && [r.subarray(1, 33), r.subarray(33, 65)].every((h) => store.nodes.get(hex(h))?.[0] === 0x00))!;
      const gone = keys.findIndex((k, i) => hex(leafHash(k, val(i))) === hex(pair.subarray(1, 33)));
      expect(gone).to.be.at.least(0);
      const moved = await step(oldRoot, [{ key: keys[gone]!, value: null }]);
      // The deleted leaf and the one that moved had records of their own: both are stale, as leaves.
      expect(moved.staleLeaves.sort()).to.deep.equal([hex(leafHash(keys[gone]!, val(gone))), hex(pair.subarray(33, 65))].sort());

      // A leaf replaced, and new keys beside the old leaves.
      const replaced = gone === 4 ? 3 : 4;
      const added = Array.from({ length: 10 }, (_, i) => H(Uint8Array.of(i, 10)));
      const res = await step(moved.root, [{ key: keys[replaced]!, value: val(1004) }, ...added.map((key, i) => ({ key, value: val(2000 + i) }))]);
      const after: Array<[Uint8Array, Uint8Array]> = [...entries.filter((_, i) => i !== replaced && i !== gone), [keys[replaced]!, val(1004)], ...added.map((k, i): [Uint8Array, Uint8Array] => [k, val(2000 + i)])];
      expect(res.root).to.deep.equal(referenceRoot(after));
      expect(res.staleLeaves).to.include(hex(leafHash(keys[replaced]!, val(replaced))));
      // Old and new records together serve every tree to a cold reader.
      const cold = new SparseMerkleTree(store, { cacheSize: 0 });
      for (const [k, v] of after) expect(await cold.get(res.root, k)).to.deep.equal(v);
      for (const [k, v] of entries) expect(await cold.get(oldRoot, k)).to.deep.equal(v);
    });

    it("reads the store only on a cache miss", async () => {
      const { store, tree, apply } = setup();
      const keys = Array.from({ length: 20 }, (_, i) => H(Uint8Array.of(i, 1)));
      const root = await apply(EMPTY_ROOT, keys.map((key, i) => ({ key, value: val(i) })));
      store.reads = 0;
      for (const key of keys) await tree.get(root, key);
      await tree.update(root, [{ key: keys[0]!, value: null }]);
      expect(store.reads).to.equal(0);
      const cold = new SparseMerkleTree(store, { cacheSize: 2 });
      expect(await cold.get(root, keys[3]!)).to.deep.equal(val(3));
      expect(store.reads).to.be.greaterThan(0);
    });

    it("keeps what it handed out intact while a small cache turns over many times", async () => {
      const { tree, apply } = setup(8);
      const keys = Array.from({ length: 64 }, (_, i) => H(Uint8Array.of(i, 2)));
      let root = await apply(EMPTY_ROOT, keys.map((key, i) => ({ key, value: val(i) })));
      const early = root;
      const proofs = await Promise.all(keys.slice(0, 8).map((k) => tree.prove(early, k)));
      const copies = proofs.map((p) => p.siblings.map((s) => hex(s)));
      // Hundreds of nodes through an 8-node cache: its generations turn over again and again.
      for (let round = 0; round < 20; round++) root = await apply(root, keys.map((key, i) => ({ key, value: val(1000 * round + i) })));
      proofs.forEach((p, i) => {
        expect(p.siblings.map((s) => hex(s))).to.deep.equal(copies[i]);
        expect(verifySmtProof(early, keys[i]!, val(i), p)).to.equal(true);
      });
      for (let i = 0; i < keys.length; i++) expect(await tree.get(root, keys[i]!)).to.deep.equal(val(19_000 + i));
      expect(await tree.get(early, keys[5]!)).to.deep.equal(val(5));
    });

    it("fails clearly on a missing or corrupt node", async () => {
      const { store, apply } = setup();
      const root = await apply(EMPTY_ROOT, [{ key: keyWithPrefix("0"), value: val(1) }, { key: keyWithPrefix("1"), value: val(2) }]);
      const cold = new SparseMerkleTree(new MemStore(), { cacheSize: 0 });
      await expectReject(cold.get(root, keyWithPrefix("0")), /missing SMT node/);
      const corrupt = new MemStore();
      for (const [k, v] of store.nodes) corrupt.nodes.set(k, v.slice());
      corrupt.nodes.get(hex(root))![5]! ^= 1;
      await expectReject(new SparseMerkleTree(corrupt).get(root, keyWithPrefix("0")), /does not match its hash/);
      // The root's record holds both leaves inline: a wrong flag, a cut or a flipped byte of a leaf is refused.
      const record = store.nodes.get(hex(root))!;
      expect([record[0], record[1], record.length]).to.deep.equal([2, 3, 130]);
      const withRecord = (bytes: Uint8Array) => new SparseMerkleTree({ getNode: async () => bytes }, { cacheSize: 0 });
      for (const flags of [0, 4]) {
        await expectReject(withRecord(Uint8Array.of(2, flags, ...record.subarray(2))).get(root, keyWithPrefix("0")), new RegExp(`corrupt SMT node ${hex(root)}: bad inline flags ${flags}`));
      }
      await expectReject(withRecord(record.subarray(0, 98)).get(root, keyWithPrefix("0")), /expected 130 bytes, got 98/);
      await expectReject(withRecord(Uint8Array.of(2, 1, ...record.subarray(2, 98))).get(root, keyWithPrefix("0")), /does not match its hash/);
      const flipped = record.slice();
      flipped[100]! ^= 1;
      await expectReject(withRecord(flipped).get(root, keyWithPrefix("1")), /does not match its hash/);
      await expectReject(withRecord(Uint8Array.of(7, ...record.subarray(1, 65))).get(root, keyWithPrefix("0")), /unknown tag 0x07/);
      await expectReject(withRecord(new Uint8Array(0)).get(root, keyWithPrefix("0")), /expected 65 bytes or more, got 0/);
    });

    it("checks input sizes with precise messages", async () => {
      const { tree } = setup();
      await expectReject(tree.update(EMPTY_ROOT, [{ key: new Uint8Array(31), value: val(1) }]), /expected 32-byte key, got 31 at updates\[0\]/);
      await expectReject(tree.update(EMPTY_ROOT, [{ key: new Uint8Array(32), value: new Uint8Array(33) }]), /expected 32-byte value, got 33/);
      await expectReject(tree.update(new Uint8Array(31), []), /expected 32-byte root, got 31/);
      await expectReject(tree.get(EMPTY_ROOT, "k" as unknown as Uint8Array), /expected 32-byte key, got string/);
      await expectReject(tree.prove(EMPTY_ROOT, new Uint8Array(0)), /expected 32-byte key, got 0/);
    });
  });

  describe("proofs", () => {
    // root = I(I(I(A,B),E), C): D = 01... stops at EMPTY, F = 1... stops at leaf C.
    const A = keyWithPrefix("000", 0x11);
    const B = keyWithPrefix("001", 0x22);
    const C = keyWithPrefix("1", 0x33);
    const D = keyWithPrefix("01", 0x44);
    const F = keyWithPrefix("1", 0x55);

    async function fixture(): Promise<{ tree: SparseMerkleTree; root: Uint8Array; apply: (r: Uint8Array, u: SmtUpdate[]) => Promise<Uint8Array> }> {
      const { tree, apply } = setup();
      const root = await apply(EMPTY_ROOT, [{ key: A, value: val(1) }, { key: B, value: val(2) }, { key: C, value: val(3) }]);
      return { tree, root, apply };
    }

    it("get returns the value of present keys and null for absent ones", async () => {
      const { tree, root } = await fixture();
      expect(await tree.get(root, A)).to.deep.equal(val(1));
      expect(await tree.get(root, C)).to.deep.equal(val(3));
      expect(await tree.get(root, D)).to.equal(null);
      expect(await tree.get(root, F)).to.equal(null);
    });

    it("inclusion proofs verify and fail on any flipped sibling byte, wrong value or wrong key", async () => {
      const { tree, root, apply } = await fixture();
      const proof = await tree.prove(root, A);
      expect(proof.siblings).to.have.length(3);
      expect(proof.leaf).to.deep.equal({ key: A, valueHash: val(1) });
      expect(verifySmtProof(root, A, val(1), proof)).to.equal(true);
      expectEverySiblingByteMatters(root, A, val(1), proof);
      expect(verifySmtProof(root, A, val(2), proof)).to.equal(false);
      expect(verifySmtProof(root, A, null, proof)).to.equal(false);
      expect(verifySmtProof(root, B, val(1), proof)).to.equal(false);
      expect(verifySmtProof(root, B, null, proof)).to.equal(false);
      const single = await apply(EMPTY_ROOT, [{ key: C, value: val(3) }]);
      expect(single).to.deep.equal(leafHash(C, val(3)));
      const rootProof = await tree.prove(single, C);
      expect(rootProof.siblings).to.have.length(0);
    });

    it("non-inclusion proofs that stop at EMPTY verify and fail when tampered", async () => {
      const { tree, root } = await fixture();
      const proof = await tree.prove(root, D);
      expect(proof.leaf).to.equal(null);
      expect(proof.siblings).to.have.length(2);
      expect(verifySmtProof(root, D, null, proof)).to.equal(true);
      expectEverySiblingByteMatters(root, D, null, proof);
      expect(verifySmtProof(root, D, val(1), proof)).to.equal(false);
      expect(verifySmtProof(root, keyWithPrefix("00"), null, proof)).to.equal(false);
      expect(verifySmtProof(EMPTY_ROOT, D, null, { siblings: [], leaf: null })).to.equal(true);
    });

    it("non-inclusion proofs that stop at a different leaf verify and fail when tampered", async () => {
      const { tree, root } = await fixture();
      const proof = await tree.prove(root, F);
      expect(proof.leaf).to.deep.equal({ key: C, valueHash: val(3) });
      expect(proof.siblings).to.have.length(1);
      expect(verifySmtProof(root, F, null, proof)).to.equal(true);
      expectEverySiblingByteMatters(root, F, null, proof);
      expect(verifySmtProof(root, F, val(3), proof)).to.equal(false);
      // The same proof does not show that C itself, or a key off C's path, is absent.
      expect(verifySmtProof(root, C, null, proof)).to.equal(false);
      expect(verifySmtProof(root, keyWithPrefix("0", 0x55), null, proof)).to.equal(false);
      expect(verifySmtProof(root, F, null, { ...proof, leaf: { key: C, valueHash: val(4) } })).to.equal(false);
      expect(verifySmtProof(root, F, null, { ...proof, leaf: null })).to.equal(false);
    });

    it("refuses an absence proof whose leaf is off the key's path, even under a hand-made root", () => {
      // Not a canonical tree (C goes right at bit 0), but the proof's hashes match it.
      const forged = internalHash(leafHash(C, val(3)), E);
      const key = keyWithPrefix("0", 0x66);
      expect(verifySmtProof(forged, key, null, { siblings: [E], leaf: { key: C, valueHash: val(3) } })).to.equal(false);
    });

    it("proofs for random trees verify for present and absent keys", async () => {
      await fc.assert(
        fc.asyncProperty(keySetArb, fc.uniqueArray(keyArb, { maxLength: 6, selector: hex }), async (keys, probes) => {
          const { tree, apply } = setup();
          const root = await apply(EMPTY_ROOT, keys.map((key, i) => ({ key, value: val(i) })));
          const present = new Map(keys.map((k, i) => [hex(k), val(i)]));
          for (const key of [...keys, ...probes]) {
            const v = present.get(hex(key)) ?? null;
            const proof = await tree.prove(root, key);
            expect(verifySmtProof(root, key, v, proof)).to.equal(true);
            expect(verifySmtProof(root, key, v === null ? val(77) : null, proof)).to.equal(false);
            expect(decodeSmtProof(JSON.parse(JSON.stringify(encodeSmtProof(proof))))).to.deep.equal(proof);
          }
        }),
        { numRuns: 60 },
      );
    });

    it("a proof against an old root still verifies after later updates", async () => {
      const { tree, root, apply } = await fixture();
      const later = await apply(root, [{ key: A, value: val(9) }, { key: B, value: null }, { key: D, value: val(4) }]);
      expect(later).to.not.deep.equal(root);
      const oldA = await tree.prove(root, A);
      expect(verifySmtProof(root, A, val(1), oldA)).to.equal(true);
      expect(verifySmtProof(later, A, val(1), oldA)).to.equal(false);
      expect(verifySmtProof(root, D, null, await tree.prove(root, D))).to.equal(true);
      expect(await tree.get(root, B)).to.deep.equal(val(2));
      expect(await tree.get(later, B)).to.equal(null);
      expect(verifySmtProof(later, A, val(9), await tree.prove(later, A))).to.equal(true);
    });

    it("verifySmtProof returns false on malformed input instead of throwing", () => {
      const good: SmtProof = { siblings: [E], leaf: null };
      const bad: unknown[] = [
        null,
        {},
        { siblings: "x", leaf: null },
        { siblings: [new Uint8Array(31)], leaf: null },
        { siblings: [null], leaf: null },
        { siblings: Array.from({ length: 257 }, () => E), leaf: null },
        { siblings: [], leaf: { key: new Uint8Array(31), valueHash: E } },
        { siblings: [], leaf: "leaf" },
        { siblings: [], leaf: undefined },
      ];
      for (const p of bad) expect(verifySmtProof(EMPTY_ROOT, D, null, p as SmtProof)).to.equal(false);
      expect(verifySmtProof(new Uint8Array(3), D, null, good)).to.equal(false);
      expect(verifySmtProof(EMPTY_ROOT, new Uint8Array(3), null, good)).to.equal(false);
      expect(verifySmtProof(EMPTY_ROOT, D, new Uint8Array(3), good)).to.equal(false);
    });
  });

  describe("proof JSON codec", () => {
    it("encodes as lowercase hex and decodes back", () => {
      const p: SmtProof = { siblings: [E, val(1)], leaf: { key: A32(), valueHash: val(2) } };
      const j = encodeSmtProof(p);
      expect(j.siblings[1]).to.equal(hex(val(1)));
      expect(j.leaf!.key).to.equal("ab".repeat(32));
      expect(decodeSmtProof(j)).to.deep.equal(p);
      expect(decodeSmtProof({ siblings: [], leaf: null })).to.deep.equal({ siblings: [], leaf: null });
    });

    it("rejects malformed input with a clear Error", () => {
      const h = "00".repeat(32);
      const cases: Array<[unknown, RegExp]> = [
        [null, /expected an object/],
        [[], /expected an object/],
        [{ leaf: null }, /missing field siblings/],
        [{ siblings: [] }, /missing field leaf/],
        [{ siblings: [], leaf: null, extra: 1 }, /unknown field extra/],
        [{ siblings: {}, leaf: null }, /siblings to be an array/],
        [{ siblings: [h.toUpperCase().replace(/0/g, "A")], leaf: null }, /siblings\[0\] to be 64 lowercase hex/],
        [{ siblings: [h + "00"], leaf: null }, /siblings\[0\]/],
        [{ siblings: [1], leaf: null }, /siblings\[0\]/],
        [{ siblings: new Array(1), leaf: null }, /siblings\[0\]/],
        [{ siblings: Array.from({ length: 257 }, () => h), leaf: null }, /at most 256 siblings, got 257/],
        [{ siblings: [], leaf: "x" }, /leaf to be an object or null/],
        [{ siblings: [], leaf: { key: h } }, /missing field valueHash/],
        [{ siblings: [], leaf: { key: h, valueHash: "zz" } }, /leaf.valueHash/],
      ];
      for (const [input, msg] of cases) expect(() => decodeSmtProof(input)).to.throw(Error, msg);
    });

    it("decoding arbitrary values either succeeds or throws an Error", () => {
      const hexArb = fc.oneof(fc.string(), fc.uint8Array({ minLength: 32, maxLength: 32 }).map(hex));
      const proofish = fc.record({
        siblings: fc.oneof(fc.array(hexArb, { maxLength: 3 }), fc.anything()),
        leaf: fc.oneof(fc.constant(null), fc.record({ key: hexArb, valueHash: hexArb }), fc.anything()),
      });
      fc.assert(
        fc.property(fc.oneof(fc.anything(), proofish), (input) => {
          try {
            const p = decodeSmtProof(input);
            expect(verifySmtProof(EMPTY_ROOT, E, null, p)).to.be.a("boolean");
          } catch (e) {
            expect(e).to.be.instanceOf(Error);
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});

function A32(): Uint8Array {
  return new Uint8Array(32).fill(0xab);
}

async function expectReject(p: Promise<unknown>, msg: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(Error);
    expect((e as Error).message).to.match(msg);
    return;
  }
  expect.fail(`expected rejection matching ${String(msg)}`);
}

function expectEverySiblingByteMatters(root: Uint8Array, key: Uint8Array, valueHash: Uint8Array | null, proof: SmtProof): void {
  for (let i = 0; i < proof.siblings.length; i++) {
    for (let b = 0; b < 32; b++) {
      const siblings = proof.siblings.map((s) => s.slice());
      siblings[i]![b]! ^= 0x01;
      expect(verifySmtProof(root, key, valueHash, { ...proof, siblings }), `sibling ${i} byte ${b}`).to.equal(false);
    }
  }
  expect(verifySmtProof(root, key, valueHash, { ...proof, siblings: proof.siblings.slice(1) })).to.equal(false);
  expect(verifySmtProof(root, key, valueHash, { ...proof, siblings: [...proof.siblings, E] })).to.equal(false);
}
