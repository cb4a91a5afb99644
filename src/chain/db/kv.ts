/**
 * The small key-value store the chain's repositories are written over:
 * byte keys in bytewise order, point reads, range scans and atomic
 * batches. Two implementations: LevelKv (LevelDB, the node's) and MemoryKv
 * (sorted in memory, for tests); both order keys and bound ranges alike.
 */

/** A key range, as LevelDB takes it: bounds are bytes, compared bytewise. */
export interface KvRange {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
  /** Highest key first. */
  reverse?: boolean;
  /** At most this many entries (absent or -1: all). */
  limit?: number;
}

/** Writes applied together by write(): all of them or none. */
export interface KvBatch {
  put(key: Uint8Array, value: Uint8Array): void;
  del(key: Uint8Array): void;
  /** Operations added so far. */
  readonly length: number;
  /** Apply the batch; `sync`: durable on disk before the promise settles. */
  write(opts?: { sync?: boolean }): Promise<void>;
}

export interface KvStore {
  /** The value under `key`, or undefined. */
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** The values under `keys`, in their order (undefined where absent), read in one call. */
  getMany(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>>;
  /** Entries in `range`, in key order (or reverse), as of the call. */
  entries(range: KvRange): AsyncIterable<[Uint8Array, Uint8Array]>;
  keys(range: KvRange): AsyncIterable<Uint8Array>;
  values(range: KvRange): AsyncIterable<Uint8Array>;
  /** A new, empty batch. */
  batch(): KvBatch;
  close(): Promise<void>;
}

/** The first key after every key starting with `prefix` (the exclusive upper bound of a prefix scan). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = new Uint8Array(prefix);
  let i = end.length - 1;
  while (i >= 0 && end[i] === 0xff) i--;
  if (i < 0) throw new RangeError("a prefix of 0xff bytes only has no upper bound");
  end[i] = end[i]! + 1;
  return end.subarray(0, i + 1);
}

/** The range of every key starting with `prefix`. */
export function prefixRange(prefix: Uint8Array): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: prefix, lt: prefixEnd(prefix) };
}
