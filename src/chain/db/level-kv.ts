/**
 * KvStore over LevelDB (the `level` package): the node's store. Keys and
 * values are bytes ("view" encodings); reads, writes and iterators go
 * through guardLevel, so a storage fault is reported to the latch.
 */
import { Level } from "level";
import { join } from "node:path";
import { compareBytes } from "../../crypto/bytes.js";
import { TREE_BUCKETS, isTreeKey } from "../buckets.js";
import { type FaultLatch, guardLevel } from "../store-faults.js";
import type { KvBatch, KvRange, KvStore } from "./kv.js";

export type LevelDb = Level<Uint8Array, Uint8Array>;

/** LevelDB's block cache: 64 MiB of table blocks (its default is 8 MiB), cheaper per record than decoded objects. */
export const LEVEL_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * LevelDB's table block: 16 KiB (its default is 4 KiB). A block is
 * compressed whole (Snappy), so the repeats across neighbouring values (a
 * create tx names its DID seven times, and every document the same
 * contexts and key type) compress across more of them: at 60,000 DIDs the
 * compacted store takes 847 bytes per DID against 914 (BlockTx 272 against
 * 324), and the index LevelDB keeps in memory per table has a quarter of
 * the entries (one per block).
 * Applies to tables written from now on; older ones keep theirs until
 * compacted.
 */
export const LEVEL_BLOCK_BYTES = 16 * 1024;

/**
 * LevelDB's write buffer (memtable): 32 MiB (its default is 4 MiB). Every
 * block writes the Merkle nodes along the paths it changed under random
 * (hash) keys, and the pruner deletes them again K blocks later
 * (StoreOptions.stateHistory, 100). A put and its delete flushed close
 * together meet in the first compaction, which drops the put (the delete,
 * its tombstone, goes on down: deeper levels may hold the key); with a
 * small memtable the put has already gone down into deeper levels, and is
 * rewritten at every level until its tombstone catches up.
 * Growing a dev node to 100,000 DIDs (about 40 creates a block), LevelDB's compaction thread spent
 * 0.12-0.13 ms per create at the last 10,000 against 0.55-0.56 with 4 MiB,
 * and creates ran at 1,101-1,107/s against 829-884/s (two runs each).
 * Memory: up to two memtables (one being flushed), filled as written.
 */
export const LEVEL_WRITE_BUFFER_BYTES = 32 * 1024 * 1024;

/**
 * The tree store's write buffer: 128 MiB. Its records are keyed by height,
 * so a block's new records land in key order after the others; but the
 * deletes of records gone stale fall all over the older heights (a node
 * below depth 10 or so outlives the 100 kept heights), so every flushed
 * table spans the store and is merged with the tables below it that it
 * overlaps, each time the same number of them whatever the table holds.
 * A larger buffer puts more blocks into each such merge. Grown from
 * 3,000,000 to 3,400,000 DIDs on copies of one store (200,000 creates a
 * run, 2026-12-06), the node wrote 68.2 and 69.8 KB to disk per create
 * with 32 MiB, 45.3 with 64 MiB and 26.6 and 28.1 with 128 MiB, at the
 * same rate (1,097-1,158 creates/s). Memory: up to two (one being
 * flushed), filled as written; a restart replays up to one from its log.
 */
export const LEVEL_TREE_WRITE_BUFFER_BYTES = 128 * 1024 * 1024;

/**
 * LevelDB's table file: up to 64 MiB (its default is 2 MiB). A read opens
 * the table that may hold its key, and LevelDB keeps about a thousand
 * tables open (`maxOpenFiles` 1000, less ten, in 16 shards that each evict
 * on their own). Once the tables come near that number, random keys (every
 * Merkle node's key is a hash) keep reopening tables: reading a table's
 * footer, index and Bloom filter again and losing its blocks from the
 * block cache. In a LevelDB of 6 million random keys in 405 tables of
 * 2 MiB, random `getMany` reads ran at 83-99k keys/s with all open, 21k
 * with 440 slots and 10k with 290 (docs/storage.md, "Table files"). With
 * 2 MiB tables a node reaches that point at 1.5-2 GB, some 3-4 million
 * DIDs; with 64 MiB at about 50 GB.
 * Applies to tables written from now on; compactions rewrite older ones.
 */
export const LEVEL_TABLE_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Which of the two LevelDBs a key is in: the state tree's records and the
 * stale-record index (buckets `n` and `s`; `isTreeKey`, buckets.ts) in the
 * tree store, everything else in the main one. Keyed by height, the tree's
 * records are written in key order and most are deleted again K heights
 * later; in the main store their tables would span the key range of the
 * random keys around them (DIDs, tx hashes), and every compaction of them
 * would rewrite a share of every level below (docs/storage.md, "The tree
 * store").
 */
const TREE_DIR = "tree";

export class LevelKv implements KvStore {
  private constructor(
    /** The guarded main LevelDB handle, for what the KvStore interface does not carry (snapshots, clear). */
    readonly level: LevelDb,
    /** The guarded LevelDB of the tree's records (`<path>/tree`). */
    readonly tree: LevelDb,
  ) {}

  /**
   * Open (creating if missing) the LevelDB at `path` and the tree store in
   * it; faults of their reads and writes go to `latch`. Tree keys a store
   * written before the tree store holds in the main one are moved there.
   */
  static async open(path: string, latch: FaultLatch): Promise<LevelKv> {
    const options = { keyEncoding: "view", valueEncoding: "view", cacheSize: LEVEL_CACHE_BYTES, blockSize: LEVEL_BLOCK_BYTES, writeBufferSize: LEVEL_WRITE_BUFFER_BYTES, maxFileSize: LEVEL_TABLE_FILE_BYTES } as const;
    const db: LevelDb = guardLevel(new Level<Uint8Array, Uint8Array>(path, options), latch, path);
    await db.open();
    const treePath = join(path, TREE_DIR);
    const tree: LevelDb = guardLevel(new Level<Uint8Array, Uint8Array>(treePath, { ...options, writeBufferSize: LEVEL_TREE_WRITE_BUFFER_BYTES }), latch, treePath);
    try {
      await tree.open();
      const kv = new LevelKv(db, tree);
      await kv.moveTreeKeys();
      return kv;
    } catch (e) {
      await Promise.allSettled([tree.close(), db.close()]);
      throw e;
    }
  }

  /** Moves the tree keys the main store holds (a store written before the tree store) into the tree store, a batch at a time. */
  private async moveTreeKeys(): Promise<void> {
    for (const bucket of TREE_BUCKETS) {
      // Each batch goes on after the last key moved: a seek from the bucket's start would step over
      // the tombstones of every batch before it, quadratic in a store of millions of tree records.
      let after: Uint8Array | undefined;
      for (;;) {
        const found: Array<[Uint8Array, Uint8Array]> = [];
        const from = after ? { gt: after } : { gte: Uint8Array.of(bucket) };
        for await (const e of this.level.iterator({ ...from, lt: Uint8Array.of(bucket + 1), limit: MOVE_BATCH })) found.push(e);
        if (found.length === 0) break;
        after = found[found.length - 1]![0];
        // Into the tree store first: a crash between the two writes leaves a copy, not a loss.
        await this.tree.batch(found.map(([key, value]) => ({ type: "put" as const, key, value })), { sync: true });
        await this.level.batch(found.map(([key]) => ({ type: "del" as const, key })), { sync: true });
      }
    }
  }

  private of(key: Uint8Array): LevelDb {
    return isTreeKey(key) ? this.tree : this.level;
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.of(key).get(key);
  }

  async getMany(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    const inTree = keys.map(isTreeKey);
    const treeKeys = keys.filter((_, i) => inTree[i]) as Uint8Array[];
    if (treeKeys.length === 0) return this.level.getMany(keys as Uint8Array[]);
    if (treeKeys.length === keys.length) return this.tree.getMany(treeKeys);
    const [t, m] = await Promise.all([this.tree.getMany(treeKeys), this.level.getMany(keys.filter((_, i) => !inTree[i]) as Uint8Array[])]);
    let ti = 0;
    let mi = 0;
    return inTree.map((x) => (x ? t[ti++] : m[mi++]));
  }

  entries(range: KvRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    const where = storesOf(range);
    if (where === "tree") return this.tree.iterator(range);
    if (where === "main") return this.level.iterator(range);
    return merged(this.level.iterator(range), this.tree.iterator(range), range);
  }

  keys(range: KvRange): AsyncIterable<Uint8Array> {
    const where = storesOf(range);
    if (where !== "both") return (where === "tree" ? this.tree : this.level).keys(range);
    return project(this.entries(range), ([key]) => key);
  }

  values(range: KvRange): AsyncIterable<Uint8Array> {
    const where = storesOf(range);
    if (where !== "both") return (where === "tree" ? this.tree : this.level).values(range);
    return project(this.entries(range), ([, value]) => value);
  }

  batch(): KvBatch {
    // A chained batch hands each put straight to LevelDB's WriteBatch: several times
    // cheaper than an array of operations for the thousands of puts a full block makes.
    const main = this.level.batch();
    const tree = this.tree.batch();
    return {
      put: (key, value) => void (isTreeKey(key) ? tree : main).put(key, value),
      del: (key) => void (isTreeKey(key) ? tree : main).del(key),
      get length() {
        return main.length + tree.length;
      },
      // The tree store first: a crash between the two writes leaves the tree's records of a block
      // not committed (written again, the same, when it is) and its prunes done, never a committed
      // block without its records. The kept floor is a tree key (meta.ts), so it moves with the prunes.
      write: async (opts) => {
        const o = opts?.sync ? { sync: true } : {};
        try {
          if (tree.length > 0) await tree.write(o);
          else await tree.close();
        } catch (e) {
          await main.close();
          throw e;
        }
        if (main.length > 0) await main.write(o);
        else await main.close();
      },
    };
  }

  /** Deletes every key of both stores. */
  async clear(): Promise<void> {
    await this.tree.clear();
    await this.level.clear();
  }

  async close(): Promise<void> {
    await Promise.all([this.tree.close(), this.level.close()]);
  }
}

/** Keys moved per batch from the main store into the tree store on open. */
export const MOVE_BATCH = 10_000;

/** Whether a range holds keys of the main store only, the tree store only, or both. */
function storesOf(range: KvRange): "main" | "tree" | "both" {
  const low = range.gte ?? range.gt;
  const high = range.lt ?? range.lte;
  if (low === undefined || high === undefined || low.length === 0 || high.length === 0) return "both";
  const [a, b] = [low[0]!, high[0]!];
  // One bucket (or the bound just past it): its store.
  if (a === b || (range.lt !== undefined && b === a + 1 && high.length === 1)) return isTreeKey(low) ? "tree" : "main";
  return "both";
}

async function* project<T>(entries: AsyncIterable<[Uint8Array, Uint8Array]>, f: (e: [Uint8Array, Uint8Array]) => T): AsyncIterable<T> {
  for await (const e of entries) yield f(e);
}

/** Two key-ordered streams as one, in the range's order, at most its limit. */
async function* merged(a: AsyncIterable<[Uint8Array, Uint8Array]>, b: AsyncIterable<[Uint8Array, Uint8Array]>, range: KvRange): AsyncIterable<[Uint8Array, Uint8Array]> {
  const ia = a[Symbol.asyncIterator]();
  const ib = b[Symbol.asyncIterator]();
  const sign = range.reverse ? -1 : 1;
  const limit = range.limit === undefined || range.limit < 0 ? Infinity : range.limit;
  let [na, nb] = await Promise.all([ia.next(), ib.next()]);
  try {
    for (let n = 0; n < limit && !(na.done && nb.done); n++) {
      if (nb.done || (!na.done && sign * compareBytes(na.value[0], nb.value[0]) < 0)) {
        yield na.value;
        na = await ia.next();
      } else {
        yield nb.value;
        nb = await ib.next();
      }
    }
  } finally {
    await Promise.all([ia.return?.(), ib.return?.()]);
  }
}
