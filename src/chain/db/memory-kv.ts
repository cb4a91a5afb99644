/**
 * KvStore in memory, for tests: keys kept sorted in LevelDB's bytewise
 * order, ranges bounded as LevelDB bounds them, a scan reading the entries
 * as they were when it started (as a LevelDB iterator reads its implicit
 * snapshot), and batches applied whole.
 */
import { compareBytes } from "../../crypto/bytes.js";
import type { KvBatch, KvRange, KvStore } from "./kv.js";

interface Entry {
  key: Uint8Array;
  value: Uint8Array;
}

type Op = { type: "put"; key: Uint8Array; value: Uint8Array } | { type: "del"; key: Uint8Array };

/** Thrown for any use of a closed MemoryKv (LevelDB answers LEVEL_DATABASE_NOT_OPEN). */
export class KvClosedError extends Error {
  readonly code = "KV_CLOSED";
  constructor() {
    super("the in-memory store is closed");
  }
}

export class MemoryKv implements KvStore {
  /** Sorted by key, bytewise. */
  private entriesSorted: Entry[] = [];
  private closed = false;

  /** Entries held. */
  get size(): number {
    return this.entriesSorted.length;
  }

  /** Index of the first entry whose key is >= `key` (or > it when `after`). */
  private lowerIndex(key: Uint8Array, after = false): number {
    let lo = 0;
    let hi = this.entriesSorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareBytes(this.entriesSorted[mid]!.key, key);
      if (c < 0 || (after && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private open(): void {
    if (this.closed) throw new KvClosedError();
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.open();
    const i = this.lowerIndex(key);
    const e = this.entriesSorted[i];
    return e && compareBytes(e.key, key) === 0 ? e.value.slice() : undefined;
  }

  async getMany(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    this.open();
    return Promise.all(keys.map((k) => this.get(k)));
  }

  /** The entries of `range`, in its order, copied now. */
  private scan(range: KvRange): Entry[] {
    this.open();
    const start = range.gt ? this.lowerIndex(range.gt, true) : range.gte ? this.lowerIndex(range.gte) : 0;
    const end = range.lt ? this.lowerIndex(range.lt) : range.lte ? this.lowerIndex(range.lte, true) : this.entriesSorted.length;
    const slice = start < end ? this.entriesSorted.slice(start, end) : [];
    if (range.reverse) slice.reverse();
    const limit = range.limit !== undefined && Number.isInteger(range.limit) && range.limit >= 0 ? range.limit : Infinity;
    return slice.length > limit ? slice.slice(0, limit) : slice;
  }

  // Each scan reads the entries when it is asked for, not when first iterated.

  entries(range: KvRange): AsyncIterable<[Uint8Array, Uint8Array]> {
    return yieldAll(this.scan(range).map((e): [Uint8Array, Uint8Array] => [e.key.slice(), e.value.slice()]));
  }

  keys(range: KvRange): AsyncIterable<Uint8Array> {
    return yieldAll(this.scan(range).map((e) => e.key.slice()));
  }

  values(range: KvRange): AsyncIterable<Uint8Array> {
    return yieldAll(this.scan(range).map((e) => e.value.slice()));
  }

  batch(): KvBatch {
    const ops: Op[] = [];
    let written = false;
    return {
      put: (key, value) => void ops.push({ type: "put", key: key.slice(), value: value.slice() }),
      del: (key) => void ops.push({ type: "del", key: key.slice() }),
      get length() {
        return ops.length;
      },
      write: async () => {
        this.open();
        if (written) throw new Error("batch already written");
        written = true;
        for (const op of ops) this.apply(op);
      },
    };
  }

  private apply(op: Op): void {
    const i = this.lowerIndex(op.key);
    const found = i < this.entriesSorted.length && compareBytes(this.entriesSorted[i]!.key, op.key) === 0;
    if (op.type === "put") {
      if (found) this.entriesSorted[i] = { key: op.key, value: op.value };
      else this.entriesSorted.splice(i, 0, { key: op.key, value: op.value });
    } else if (found) this.entriesSorted.splice(i, 1);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

async function* yieldAll<T>(items: readonly T[]): AsyncIterable<T> {
  yield* items;
}
