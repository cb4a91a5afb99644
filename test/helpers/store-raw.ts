/**
 * Raw access to a chain store's keys through its KvStore, which finds each
 * key in the LevelDB that holds it (the tree's records and stale records
 * are in a LevelDB of their own: src/chain/db/level-kv.ts).
 */
import type { KvRange, KvStore } from "../../src/chain/db/kv.js";

export interface RawKv {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  del(key: Uint8Array): Promise<void>;
  iterator(range: KvRange): AsyncIterable<[Uint8Array, Uint8Array]>;
  keys(range: KvRange): AsyncIterable<Uint8Array>;
}

export function rawKv(store: { kv: KvStore }): RawKv {
  const { kv } = store;
  return {
    get: (key) => kv.get(key),
    put: async (key, value) => {
      const b = kv.batch();
      b.put(key, value);
      await b.write({ sync: true });
    },
    del: async (key) => {
      const b = kv.batch();
      b.del(key);
      await b.write({ sync: true });
    },
    iterator: (range) => kv.entries(range),
    keys: (range) => kv.keys(range),
  };
}
