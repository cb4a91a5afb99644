/**
 * The key-value stores under the chain store: the same checks against the
 * in-memory store and LevelDB (a tmp dir), so both order keys bytewise,
 * bound ranges, answer missing keys and apply batches alike.
 */
import { expect } from "chai";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type KvStore, prefixEnd, prefixRange } from "../../../src/chain/db/kv.js";
import { LEVEL_TABLE_FILE_BYTES, LEVEL_TREE_WRITE_BUFFER_BYTES, LEVEL_WRITE_BUFFER_BYTES, LevelKv, MOVE_BATCH } from "../../../src/chain/db/level-kv.js";
import { MemoryKv } from "../../../src/chain/db/memory-kv.js";
import { FaultLatch } from "../../../src/chain/store-faults.js";
import { hex } from "../../helpers/fixtures.js";

const b = (...bytes: number[]) => Uint8Array.from(bytes);
/** Keys chosen so that bytewise order differs from length order, string order of hex digits within a byte, and signed-byte order. */
const KEYS = [b(0x01), b(0x01, 0x00), b(0x01, 0x00, 0x00), b(0x01, 0xff), b(0x02), b(0x7f, 0xff), b(0x80), b(0x80, 0x00), b(0xfe, 0xff, 0xff), b(0xff), b(0xff, 0x00)];

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const keysHex = async (kv: KvStore, range: Parameters<KvStore["keys"]>[0]) => (await collect(kv.keys(range))).map(hex);

function kvChecks(name: string, open: () => Promise<{ kv: KvStore; done: () => Promise<void> }>): void {
  describe(`chain/db: ${name}`, () => {
    let kv: KvStore;
    let done: () => Promise<void>;
    beforeEach(async () => {
      ({ kv, done } = await open());
      // Written in shuffled order, over two batches.
      const first = kv.batch();
      for (const k of KEYS.filter((_, i) => i % 2 === 1)) first.put(k, Uint8Array.of(k.length, k[0]!));
      await first.write();
      const second = kv.batch();
      for (const k of KEYS.filter((_, i) => i % 2 === 0).reverse()) second.put(k, Uint8Array.of(k.length, k[0]!));
      await second.write({ sync: true });
    });
    afterEach(() => done());

    it("iterates in bytewise key order, forward and reverse", async () => {
      const sorted = KEYS.map(hex);
      expect(await keysHex(kv, {})).to.deep.equal(sorted);
      expect(await keysHex(kv, { reverse: true })).to.deep.equal([...sorted].reverse());
      const entries = await collect(kv.entries({}));
      expect(entries.map(([k, v]) => [hex(k), hex(v)])).to.deep.equal(KEYS.map((k) => [hex(k), hex(Uint8Array.of(k.length, k[0]!))]));
      expect((await collect(kv.values({ gte: b(0x80) }))).map(hex)).to.deep.equal(["0180", "0280", "03fe", "01ff", "02ff"]);
    });

    it("bounds ranges by gt, gte, lt and lte, with limits, in either direction", async () => {
      expect(await keysHex(kv, { gte: b(0x01, 0x00), lt: b(0x02) })).to.deep.equal(["0100", "010000", "01ff"]);
      expect(await keysHex(kv, { gt: b(0x01, 0x00), lte: b(0x02) })).to.deep.equal(["010000", "01ff", "02"]);
      expect(await keysHex(kv, { gt: b(0x01, 0x00), lte: b(0x02), reverse: true })).to.deep.equal(["02", "01ff", "010000"]);
      expect(await keysHex(kv, { gte: b(0x01), limit: 2 })).to.deep.equal(["01", "0100"]);
      expect(await keysHex(kv, { lte: b(0x80), reverse: true, limit: 3 })).to.deep.equal(["80", "7fff", "02"]);
      // Bounds that are not keys, an empty range, and a limit of 0.
      expect(await keysHex(kv, { gt: b(0x03), lt: b(0x80, 0x00, 0x00) })).to.deep.equal(["7fff", "80", "8000"]);
      expect(await keysHex(kv, { gte: b(0x02), lt: b(0x02) })).to.deep.equal([]);
      expect(await keysHex(kv, { gte: b(0x03), lte: b(0x02) })).to.deep.equal([]);
      expect(await keysHex(kv, { limit: 0 })).to.deep.equal([]);
      expect(await keysHex(kv, { limit: -1 })).to.have.length(KEYS.length);
    });

    it("scans a prefix: every key that starts with it, and only those", async () => {
      expect(await keysHex(kv, prefixRange(b(0x01)))).to.deep.equal(["01", "0100", "010000", "01ff"]);
      expect(await keysHex(kv, prefixRange(b(0xfe)))).to.deep.equal(["feffff"]);
      expect(hex(prefixEnd(b(0x01, 0xff)))).to.equal("02");
      expect(() => prefixEnd(b(0xff, 0xff))).to.throw(RangeError);
    });

    it("answers a missing key with undefined, alone and in getMany (in the order asked)", async () => {
      expect(await kv.get(b(0x03))).to.equal(undefined);
      expect(await kv.get(b(0x01, 0x00, 0x00, 0x00))).to.equal(undefined);
      expect(hex((await kv.get(b(0x7f, 0xff)))!)).to.equal("027f");
      const many = await kv.getMany([b(0xff), b(0x03), b(0x01), b(0x01)]);
      expect(many.map((v) => (v ? hex(v) : null))).to.deep.equal(["01ff", null, "0101", "0101"]);
      expect(await kv.getMany([])).to.deep.equal([]);
    });

    it("applies a batch whole, its later operations winning, and nothing before write()", async () => {
      const batch = kv.batch();
      batch.put(b(0x03), b(1));
      batch.del(b(0x03));
      batch.put(b(0x04), b(1));
      batch.put(b(0x04), b(2));
      batch.del(b(0x01));
      batch.del(b(0x05));
      expect(batch.length).to.equal(6);
      expect(hex((await kv.get(b(0x01)))!)).to.equal("0101");
      expect(await kv.get(b(0x04))).to.equal(undefined);
      await batch.write({ sync: true });
      expect(await kv.get(b(0x03))).to.equal(undefined);
      expect(hex((await kv.get(b(0x04)))!)).to.equal("02");
      expect(await kv.get(b(0x01))).to.equal(undefined);
      expect(await keysHex(kv, { lt: b(0x05) })).to.deep.equal(["0100", "010000", "01ff", "02", "04"]);
    });

    it("a scan reads the entries as they were when it was asked for", async () => {
      const it = kv.keys({ gte: b(0x02), lt: b(0x80) });
      const batch = kv.batch();
      batch.put(b(0x03), b(1));
      batch.del(b(0x7f, 0xff));
      await batch.write();
      expect((await collect(it)).map(hex)).to.deep.equal(["02", "7fff"]);
      expect(await keysHex(kv, { gte: b(0x02), lt: b(0x80) })).to.deep.equal(["02", "03"]);
    });

    it("keeps the bytes it was given, not the caller's buffer", async () => {
      const key = b(0x05);
      const value = b(9, 9);
      const batch = kv.batch();
      batch.put(key, value);
      await batch.write();
      value[0] = 0;
      key[0] = 0x06;
      expect(hex((await kv.get(b(0x05)))!)).to.equal("0909");
      expect(await kv.get(b(0x06))).to.equal(undefined);
    });
  });
}

kvChecks("in memory", async () => {
  const kv = new MemoryKv();
  return { kv, done: () => kv.close() };
});

kvChecks("LevelDB", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sid-kv-"));
  const kv = await LevelKv.open(join(dir, "db"), new FaultLatch());
  return {
    kv,
    done: async () => {
      await kv.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe("chain/db: LevelDB's write buffer", () => {
  it("holds writes of twice LevelDB's default buffer (4 MiB) in memory and the log: no table is written until it fills", async () => {
    expect(LEVEL_WRITE_BUFFER_BYTES).to.be.greaterThan(8 * 1024 * 1024);
    const dir = mkdtempSync(join(tmpdir(), "sid-kv-wb-"));
    try {
      const kv = await LevelKv.open(join(dir, "db"), new FaultLatch());
      // 8 MiB of incompressible values, a MiB a batch: with a 4 MiB buffer LevelDB would flush tables on the way.
      for (let batchNo = 0; batchNo < 8; batchNo++) {
        const batch = kv.batch();
        for (let i = 0; i < 16; i++) batch.put(b(batchNo, i), new Uint8Array(randomBytes(64 * 1024)));
        await batch.write();
      }
      // Closing waits for LevelDB's background flushes and compactions.
      await kv.close();
      expect(readdirSync(join(dir, "db")).filter((f) => f.endsWith(".ldb"))).to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("chain/db: the tree store's write buffer", () => {
  it("holds more than the main store's buffer of tree records in memory and the log: no table is written until it fills", async () => {
    expect(LEVEL_TREE_WRITE_BUFFER_BYTES).to.be.greaterThan(LEVEL_WRITE_BUFFER_BYTES + 8 * 1024 * 1024);
    const dir = mkdtempSync(join(tmpdir(), "sid-kv-twb-"));
    try {
      const kv = await LevelKv.open(join(dir, "db"), new FaultLatch());
      // The main store's buffer and 8 MiB more of incompressible tree records (bucket n), a MiB a batch.
      const batches = LEVEL_WRITE_BUFFER_BYTES / (1024 * 1024) + 8;
      for (let batchNo = 0; batchNo < batches; batchNo++) {
        const batch = kv.batch();
        for (let i = 0; i < 16; i++) batch.put(b(0x6e, batchNo, i), new Uint8Array(randomBytes(64 * 1024)));
        await batch.write();
      }
      await kv.close();
      expect(readdirSync(join(dir, "db", "tree")).filter((f) => f.endsWith(".ldb"))).to.deep.equal([]);
      expect(readdirSync(join(dir, "db")).filter((f) => f.endsWith(".ldb")), "nothing went to the main store").to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("chain/db: LevelDB's table files", () => {
  it("merges 12 MiB into one table file, not six of LevelDB's default 2 MiB", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sid-kv-tf-"));
    try {
      const kv = await LevelKv.open(join(dir, "db"), new FaultLatch());
      const compact = () => (kv.level as unknown as { compactRange(start: Uint8Array, end: Uint8Array): Promise<void> }).compactRange(b(0), b(0xff));
      // 6 MiB of incompressible values under even keys, compacted down; then 6 MiB under the odd keys between them.
      // A table that overlaps none below is moved down whole, so only the second compaction merges, and it splits its
      // output where a table reaches LevelDB's file size.
      for (const parity of [0, 1]) {
        for (let batchNo = 0; batchNo < 6; batchNo++) {
          const batch = kv.batch();
          for (let i = 0; i < 16; i++) batch.put(b(batchNo, 2 * i + parity), new Uint8Array(randomBytes(64 * 1024)));
          await batch.write();
        }
        await compact();
      }
      await kv.close();
      const tables = readdirSync(join(dir, "db")).filter((f) => f.endsWith(".ldb"));
      expect(tables).to.have.length(1);
      expect(statSync(join(dir, "db", tables[0]!)).size).to.be.greaterThan(12 * 1024 * 1024);
      expect(LEVEL_TABLE_FILE_BYTES).to.be.greaterThan(12 * 1024 * 1024);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("chain/db: in memory, closed", () => {
  it("refuses every use once closed", async () => {
    const kv = new MemoryKv();
    await kv.close();
    for (const use of [() => kv.get(b(1)), () => kv.getMany([b(1)]), () => kv.batch().write(), async () => kv.keys({})]) {
      let err: unknown;
      try {
        await use();
      } catch (e) {
        err = e;
      }
      expect((err as { code?: string } | undefined)?.code).to.equal("KV_CLOSED");
    }
  });
});

describe("chain/db: LevelDB with the tree store beside the main one", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "sid-kv-tree-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Keys of the tree's buckets ('n', 's') among main keys on both sides of them, and a key of each bucket's tag alone. */
  const mixed = [b(0x4d, 1), b(0x62, 9), b(0x6d, 0xff), b(0x6e), b(0x6e, 0, 1), b(0x6e, 0, 2), b(0x6f), b(0x72, 5), b(0x73), b(0x73, 0, 0, 3), b(0x74), b(0x75, 1)];

  it("keeps tree keys in the tree store and answers every read as one store in key order would", async () => {
    const kv = await LevelKv.open(join(dir, "db"), new FaultLatch());
    const mem = new MemoryKv();
    try {
      for (const store of [kv, mem]) {
        const batch = store.batch();
        for (const k of [...mixed].reverse()) batch.put(k, Uint8Array.of(k.length, k[0]!));
        batch.del(b(0x6e, 0, 2));
        batch.del(b(0x62, 9));
        await batch.write({ sync: true });
      }
      // Where each key is.
      expect(hex((await kv.tree.get(b(0x6e, 0, 1)))!)).to.equal("036e");
      expect(await kv.level.get(b(0x6e, 0, 1))).to.equal(undefined);
      expect(hex((await kv.tree.get(b(0x73)))!)).to.equal("0173");
      expect(hex((await kv.level.get(b(0x6f)))!)).to.equal("016f");
      expect(await kv.tree.get(b(0x6f))).to.equal(undefined);
      // Every read as the in-memory store gives it.
      const ranges: Array<Parameters<KvStore["keys"]>[0]> = [
        {},
        { reverse: true },
        { limit: 4 },
        { reverse: true, limit: 5 },
        { gte: b(0x6d), lt: b(0x74) },
        { gt: b(0x6e), lte: b(0x73), reverse: true },
        { gte: b(0x6e), lt: b(0x6f) },
        { gte: b(0x73, 0), lt: b(0x73, 1) },
        { gte: b(0x62), lt: b(0x63) },
        { gte: b(0x6e, 0, 1), limit: 3 },
      ];
      for (const r of ranges) {
        const label = JSON.stringify(r);
        expect((await collect(kv.entries(r))).map(([k, v]) => hex(k) + hex(v)), label).to.deep.equal((await collect(mem.entries(r))).map(([k, v]) => hex(k) + hex(v)));
        expect(await keysHex(kv, r), label).to.deep.equal(await keysHex(mem, r));
        expect((await collect(kv.values(r))).map(hex), label).to.deep.equal((await collect(mem.values(r))).map(hex));
      }
      const asked = [b(0x73, 0, 0, 3), b(0x4d, 1), b(0x6e, 0, 2), b(0x6f), b(0x6e, 0, 1), b(0x99)];
      const show = (vs: Array<Uint8Array | undefined>) => vs.map((v) => (v ? hex(v) : null));
      expect(show(await kv.getMany(asked))).to.deep.equal(show(await mem.getMany(asked)));
      expect(show(await kv.getMany(asked.filter((k) => k[0] === 0x6e)))).to.deep.equal([null, "036e"]);
    } finally {
      await kv.close();
      await mem.close();
    }
  });

  it("moves the tree keys a store written before the tree store holds in the main one into it on open, and clear() empties both", async () => {
    const path = join(dir, "db");
    // A store written before: one LevelDB, tree keys in it.
    const { Level } = await import("level");
    const old = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: "view", valueEncoding: "view" });
    await old.open();
    await old.batch([...mixed.map((k) => ({ type: "put" as const, key: k, value: Uint8Array.of(k[0]!) }))]);
    await old.close();
    let kv = await LevelKv.open(path, new FaultLatch());
    try {
      expect((await collect(kv.level.keys({}))).map(hex)).to.deep.equal(mixed.filter((k) => k[0] !== 0x6e && k[0] !== 0x73).map(hex));
      expect((await collect(kv.tree.keys({}))).map(hex)).to.deep.equal(mixed.filter((k) => k[0] === 0x6e || k[0] === 0x73).map(hex));
      expect(await keysHex(kv, {})).to.deep.equal(mixed.map(hex));
    } finally {
      await kv.close();
    }
    kv = await LevelKv.open(path, new FaultLatch());
    try {
      expect(await keysHex(kv, {}), "the same after a second open").to.deep.equal(mixed.map(hex));
      await kv.clear();
      expect(await keysHex(kv, {})).to.deep.equal([]);
    } finally {
      await kv.close();
    }
  });

  it("moves tree keys of more than one batch, each key once, in both tree buckets", async () => {
    const path = join(dir, "db");
    const { Level } = await import("level");
    const old = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: "view", valueEncoding: "view" });
    await old.open();
    const n = MOVE_BATCH * 2 + 7;
    const key = (tag: number, i: number) => b(tag, i >>> 16, (i >>> 8) & 0xff, i & 0xff);
    for (const tag of [0x6e, 0x73]) {
      for (let i = 0; i < n; i += 5_000) {
        await old.batch(Array.from({ length: Math.min(5_000, n - i) }, (_, j) => ({ type: "put" as const, key: key(tag, i + j), value: b(tag, j & 0xff) })));
      }
    }
    await old.put(b(0x64, 1), b(1));
    await old.close();
    const kv = await LevelKv.open(path, new FaultLatch());
    try {
      expect(await collect(kv.level.keys({})), "the main store keeps only its own").to.have.length(1);
      for (const tag of [0x6e, 0x73]) {
        const moved = await collect(kv.tree.keys({ gte: b(tag), lt: b(tag + 1) }));
        expect(moved.length, `bucket 0x${tag.toString(16)}`).to.equal(n);
        expect(hex(moved[0]!)).to.equal(hex(key(tag, 0)));
        expect(hex(moved[n - 1]!)).to.equal(hex(key(tag, n - 1)));
      }
    } finally {
      await kv.close();
    }
  });
});
