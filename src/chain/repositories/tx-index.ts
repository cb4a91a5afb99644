/**
 * Tx locations: where each committed tx is (block height, index in the
 * block), by tx hash, under TxIndex.
 *
 * Keyed by the hash's first 12 bytes, not all 32: the key is most of what
 * the index costs on disk, and the tx itself, read by its location, says
 * whether it is the one asked for. The value lists the location of every
 * committed tx whose hash starts with those bytes (as unsigned LEB128
 * varints: height, index, height, index, ...): one, unless hashes collide
 * there, by chance (about 1 in 10^12 for 10^8 txs) or on purpose (a
 * collision takes about 2^48 hash evaluations to find). A lookup reads the
 * candidates and keeps the one whose hash matches.
 *
 * A store of the earlier layout keys each tx by its whole hash (33-byte
 * keys, a canonical {height, index} value); those entries are read as they
 * are, in the same getMany. A store begun with this layout (the meta
 * "txIndex" marker) has none, and a lookup is one get.
 */
import { metaKey, txIndexKey } from "../buckets.js";
import { decodeCanonical } from "../codec.js";
import type { KvBatch, KvStore } from "../db/kv.js";
import { bytesEqual } from "../../crypto/bytes.js";
import { damagedStoreError } from "../store-faults.js";
import { txHash } from "../tx.js";
import { VarintError, VarintReader, encodeVarints } from "../varint.js";

export interface TxLocation {
  height: number;
  index: number;
}

/** Bytes of the hash the key keeps. */
export const TX_INDEX_PREFIX_BYTES = 12;

const shortKey = (hash: Uint8Array) => txIndexKey(hash.subarray(0, TX_INDEX_PREFIX_BYTES));
/** Meta marker of a store whose tx index was written in this layout from its start. */
const LAYOUT = metaKey("txIndex");
const SHORT_KEYS_ONLY = Uint8Array.of(2);

/** A committed tx found by its hash: where it is, and its bytes when the lookup read them. */
export interface FoundTx extends TxLocation {
  tx?: Uint8Array;
}

export class TxIndexRepository {
  constructor(
    private readonly kv: KvStore,
    /** The encoded tx at a location, or undefined (BlockRepository.txBytes). */
    private readonly txAt: (height: number, index: number) => Promise<Uint8Array | undefined>,
    /** Told of an entry the store cannot read (damage), before the read fails with it. */
    private readonly damaged: (e: unknown) => void = () => {},
  ) {}

  /** Whether entries of the earlier layout may exist (a store begun before it, or not marked yet). */
  private wholeKeys = true;

  /** Reads the layout marker: call once when the store opens. */
  async load(): Promise<void> {
    const mark = await this.kv.get(LAYOUT);
    this.wholeKeys = !(mark && mark.length === 1 && mark[0] === SHORT_KEYS_ONLY[0]);
  }

  /** Adds the marker of a store that begins with this layout (genesis, a snapshot restore) to `batch`. */
  markBegun(batch: KvBatch): void {
    batch.put(LAYOUT, SHORT_KEYS_ONLY);
    this.wholeKeys = false;
  }

  private locations(raw: Uint8Array): TxLocation[] {
    try {
      return decodeLocations(raw);
    } catch (e) {
      this.damaged(e);
      throw e;
    }
  }

  async get(hash: Uint8Array): Promise<TxLocation | undefined> {
    const found = await this.find(hash);
    return found && { height: found.height, index: found.index };
  }

  /** Where the tx of `hash` is, with its bytes when they were read to tell it from a tx sharing the key. */
  async find(hash: Uint8Array): Promise<FoundTx | undefined> {
    if (hash.length !== 32) return undefined;
    const [short, whole] = this.wholeKeys ? await this.kv.getMany([shortKey(hash), txIndexKey(hash)]) : [await this.kv.get(shortKey(hash)), undefined];
    if (whole) return decodeCanonical(whole) as unknown as TxLocation;
    if (!short) return undefined;
    for (const loc of this.locations(short)) {
      const tx = await this.txAt(loc.height, loc.index);
      if (tx && bytesEqual(txHash(tx), hash)) return { ...loc, tx };
    }
    return undefined;
  }

  /**
   * Adds the location of each of a block's txs (by hash, in block order) to
   * `batch`, after the locations already listed under the same key.
   */
  async putBlock(batch: KvBatch, height: number, txHashes: readonly Uint8Array[]): Promise<void> {
    if (txHashes.length === 0) return;
    const byKey = new Map<string, { key: Uint8Array; locations: TxLocation[] }>();
    txHashes.forEach((hash, index) => {
      const key = shortKey(hash);
      const id = Buffer.from(key).toString("hex");
      const at = byKey.get(id) ?? { key, locations: [] };
      at.locations.push({ height, index });
      byKey.set(id, at);
    });
    const keys = [...byKey.values()];
    const listed = await this.kv.getMany(keys.map((k) => k.key));
    keys.forEach(({ key, locations }, i) => {
      const before = listed[i] ? this.locations(listed[i]) : [];
      // A block written again (the same height) lists its txs once.
      const kept = before.filter((l) => l.height !== height);
      batch.put(key, encodeLocations([...kept, ...locations]));
    });
  }
}

export function encodeLocations(locations: readonly TxLocation[]): Uint8Array {
  return encodeVarints(locations.flatMap((l) => [l.height, l.index]));
}

/** The locations of an index value; a value cut short or past 2^53 is damage, named as such. */
export function decodeLocations(raw: Uint8Array): TxLocation[] {
  const out: TxLocation[] = [];
  const r = new VarintReader(raw);
  try {
    while (!r.done) out.push({ height: r.next(), index: r.next() });
  } catch (e) {
    if (!(e instanceof VarintError)) throw e;
    throw damagedStoreError(`a tx index entry is damaged (${e.message}): resync (remove data/chain and start the node again)`, e);
  }
  return out;
}
