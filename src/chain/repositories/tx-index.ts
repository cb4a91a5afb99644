/** Tx locations: where each committed tx is (block height, index in the block), by tx hash, under TxIndex. */
import { txIndexKey } from "../buckets.js";
import { decodeCanonical, encodeCanonical } from "../codec.js";
import type { KvBatch, KvStore } from "../db/kv.js";

export interface TxLocation {
  height: number;
  index: number;
}

export class TxIndexRepository {
  constructor(private readonly kv: KvStore) {}

  async get(hash: Uint8Array): Promise<TxLocation | undefined> {
    const raw = await this.kv.get(txIndexKey(hash));
    return raw ? (decodeCanonical(raw) as unknown as TxLocation) : undefined;
  }

  /** Adds the location of each of a block's txs (by hash, in block order) to `batch`. */
  putBlock(batch: KvBatch, height: number, txHashes: readonly Uint8Array[]): void {
    txHashes.forEach((hash, index) => batch.put(txIndexKey(hash), encodeCanonical({ height, index })));
  }
}
