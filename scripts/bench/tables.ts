/**
 * `npm run bench -- --section tables [--keys N]`: random reads from a LevelDB
 * store as its tables outnumber LevelDB's open-table cache
 * (LEVEL_TABLE_FILE_BYTES, docs/storage.md "Table files").
 *
 * Builds two stores with the node's LevelDB options, N random 33-byte keys
 * (a tag byte and a hash, like the Merkle node keys) with 100-byte random
 * values each: one with LevelDB's default 2 MiB tables, one with the node's.
 * Then reads random existing keys, 64 a `getMany`, for --seconds after a
 * second of warming, with the open-table cache (`maxOpenFiles`) at its
 * default, at a little more than the first store's tables, and at a little
 * fewer. Reported as keys read per second and as ratios of the first store
 * with every table open, measured in the same run.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Level } from "level";
import { LEVEL_BLOCK_BYTES, LEVEL_CACHE_BYTES, LEVEL_TABLE_FILE_BYTES, LEVEL_WRITE_BUFFER_BYTES } from "../../src/chain/db/level-kv.js";
import { round } from "./measure.js";

export interface TablesOptions {
  keys: number;
  seconds: number;
  progress: (msg: string) => void;
}

export interface TablesRow {
  tableFileBytes: number;
  tables: number;
  /** maxOpenFiles as asked of LevelDB. */
  maxOpenFiles: number;
  /** The tables LevelDB keeps open: maxOpenFiles, raised to its minimum of 74, less ten it keeps for other files. */
  tableCacheSlots: number;
  keysReadPerSec: number;
  /** Over the 2 MiB store with every table open. */
  ratio: number;
}

/** LevelDB's own table file size. */
const LEVELDB_DEFAULT_FILE_BYTES = 2 * 1024 * 1024;
const LEVELDB_DEFAULT_OPEN_FILES = 1000;
/** LevelDB raises a smaller maxOpenFiles to 74, and keeps ten of them for files other than tables. */
const LEVELDB_MIN_OPEN_FILES = 74;
const NON_TABLE_FILES = 10;
const slotsOf = (maxOpenFiles: number): number => Math.max(maxOpenFiles, LEVELDB_MIN_OPEN_FILES) - NON_TABLE_FILES;
const WRITE_BATCH = 2_000;
const READ_BATCH = 64;

function keyOf(i: number): Uint8Array {
  const n = Buffer.alloc(8);
  n.writeBigUInt64BE(BigInt(i));
  const key = new Uint8Array(33);
  key[0] = 0x07;
  key.set(createHash("sha256").update(n).digest(), 1);
  return key;
}

function openStore(path: string, fileBytes: number, maxOpenFiles: number): Level<Uint8Array, Uint8Array> {
  return new Level<Uint8Array, Uint8Array>(path, {
    keyEncoding: "view",
    valueEncoding: "view",
    cacheSize: LEVEL_CACHE_BYTES,
    blockSize: LEVEL_BLOCK_BYTES,
    writeBufferSize: LEVEL_WRITE_BUFFER_BYTES,
    maxFileSize: fileBytes,
    maxOpenFiles,
  });
}

async function build(path: string, keys: number, fileBytes: number): Promise<number> {
  const db = openStore(path, fileBytes, LEVELDB_DEFAULT_OPEN_FILES);
  await db.open();
  try {
    for (let i = 0; i < keys; i += WRITE_BATCH) {
      const ops = [];
      for (let j = i; j < Math.min(keys, i + WRITE_BATCH); j++) ops.push({ type: "put" as const, key: keyOf(j), value: new Uint8Array(randomBytes(100)) });
      await db.batch(ops);
    }
    await (db as unknown as { compactRange(start: Uint8Array, end: Uint8Array): Promise<void> }).compactRange(Uint8Array.of(0), Uint8Array.of(0xff));
  } finally {
    await db.close();
  }
  return readdirSync(path).filter((f) => f.endsWith(".ldb")).length;
}

async function readRate(path: string, keys: number, fileBytes: number, maxOpenFiles: number, seconds: number): Promise<number> {
  const db = openStore(path, fileBytes, maxOpenFiles);
  await db.open();
  try {
    const readFor = async (ms: number): Promise<number> => {
      let read = 0;
      const end = performance.now() + ms;
      while (performance.now() < end) {
        const batch = Array.from({ length: READ_BATCH }, () => keyOf(Math.floor(Math.random() * keys)));
        const got = await db.getMany(batch);
        if (got.some((v) => v === undefined)) throw new Error("a key written was not read back");
        read += batch.length;
      }
      return read;
    };
    await readFor(1_000);
    const t0 = performance.now();
    const read = await readFor(seconds * 1_000);
    return read / ((performance.now() - t0) / 1_000);
  } finally {
    await db.close();
  }
}

export async function benchTables(opts: TablesOptions): Promise<{ keys: number; seconds: number; rows: TablesRow[] }> {
  if (!Number.isSafeInteger(opts.keys) || opts.keys < 1_000_000) throw new RangeError(`--keys must be an integer of at least 1000000 (fewer fit in one write buffer, flushed as one table whatever the file size), got ${opts.keys}`);
  if (!(opts.seconds > 0)) throw new RangeError(`--seconds must be a positive number, got ${opts.seconds}`);
  const dir = mkdtempSync(join(tmpdir(), "sid-bench-tables-"));
  const rows: TablesRow[] = [];
  try {
    const small = join(dir, "default");
    const large = join(dir, "node");
    opts.progress(`building ${opts.keys} keys in 2 MiB tables`);
    const smallTables = await build(small, opts.keys, LEVELDB_DEFAULT_FILE_BYTES);
    opts.progress(`building ${opts.keys} keys in ${LEVEL_TABLE_FILE_BYTES / 1024 / 1024} MiB tables`);
    const largeTables = await build(large, opts.keys, LEVEL_TABLE_FILE_BYTES);
    // Slots are maxOpenFiles less ten: a little more than the 2 MiB store's tables, then a little fewer (LevelDB
    // raises maxOpenFiles to at least 74, so a row asking for fewer gets 64 slots; tableCacheSlots says what it got).
    const runs: Array<[string, number, number, number]> = [
      [small, LEVELDB_DEFAULT_FILE_BYTES, smallTables, LEVELDB_DEFAULT_OPEN_FILES],
      [small, LEVELDB_DEFAULT_FILE_BYTES, smallTables, Math.ceil(smallTables * 1.1) + 10],
      [small, LEVELDB_DEFAULT_FILE_BYTES, smallTables, Math.floor(smallTables * 0.9) + 10],
      [large, LEVEL_TABLE_FILE_BYTES, largeTables, LEVELDB_DEFAULT_OPEN_FILES],
      [large, LEVEL_TABLE_FILE_BYTES, largeTables, Math.ceil(largeTables * 1.1) + 10],
    ];
    let base = NaN;
    for (const [path, fileBytes, tables, maxOpenFiles] of runs) {
      opts.progress(`reading: ${tables} tables of up to ${fileBytes / 1024 / 1024} MiB, ${slotsOf(maxOpenFiles)} open-table slots, ${opts.seconds} s`);
      const rate = await readRate(path, opts.keys, fileBytes, maxOpenFiles, opts.seconds);
      if (Number.isNaN(base)) base = rate;
      rows.push({ tableFileBytes: fileBytes, tables, maxOpenFiles, tableCacheSlots: slotsOf(maxOpenFiles), keysReadPerSec: round(rate), ratio: round(rate / base, 3) });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { keys: opts.keys, seconds: opts.seconds, rows };
}
