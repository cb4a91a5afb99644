/**
 * KvStore over LevelDB (the `level` package): the node's store. Keys and
 * values are bytes ("view" encodings); reads, writes and iterators go
 * through guardLevel, so a storage fault is reported to the latch.
 */
import { Level } from "level";
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

export class LevelKv implements KvStore {
  private constructor(
    /** The guarded LevelDB handle, for what the KvStore interface does not carry (snapshots, clear). */
    readonly level: LevelDb,
  ) {}

  /** Open (creating if missing) the LevelDB at `path`; faults of its reads and writes go to `latch`. */
  static async open(path: string, latch: FaultLatch): Promise<LevelKv> {
    const db: LevelDb = guardLevel(new Level<Uint8Array, Uint8Array>(path, { keyEncoding: "view", valueEncoding: "view", cacheSize: LEVEL_CACHE_BYTES, blockSize: LEVEL_BLOCK_BYTES, writeBufferSize: LEVEL_WRITE_BUFFER_BYTES, maxFileSize: LEVEL_TABLE_FILE_BYTES }), latch, path);
    await db.open();
    return new LevelKv(db);
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.level.get(key);
  }

  getMany(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    return this.level.getMany(keys as Uint8Array[]);
  }

  entries(range: KvRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    return this.level.iterator(range);
  }

  keys(range: KvRange): AsyncIterable<Uint8Array> {
    return this.level.keys(range);
  }

  values(range: KvRange): AsyncIterable<Uint8Array> {
    return this.level.values(range);
  }

  batch(): KvBatch {
    // A chained batch hands each put straight to LevelDB's WriteBatch: several times
    // cheaper than an array of operations for the thousands of puts a full block makes.
    const chained = this.level.batch();
    return {
      put: (key, value) => void chained.put(key, value),
      del: (key) => void chained.del(key),
      get length() {
        return chained.length;
      },
      write: (opts) => chained.write(opts?.sync ? { sync: true } : {}),
    };
  }

  close(): Promise<void> {
    return this.level.close();
  }
}
