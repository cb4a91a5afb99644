/**
 * The store's own facts, under Meta by name: the head, the genesis hash,
 * the base height of a store restored from a snapshot, and the lowest
 * height whose state tree is whole.
 */
import { metaKey, readU64be, stateKeptFromKey, u64be } from "../buckets.js";
import { decodeCanonical, encodeCanonical } from "../codec.js";
import type { KvBatch, KvStore } from "../db/kv.js";

export interface ChainHead {
  height: number;
  hash: Uint8Array;
  time: number;
  stateRoot: Uint8Array;
}

const HEAD = metaKey("head");
const GENESIS_HASH = metaKey("genesisHash");
/** u64be: the lowest height whose state tree is whole (older ones are pruned), in a store written before the tree store (buckets.ts stateKeptFromKey). */
const STATE_KEPT_FROM = metaKey("stateKeptFrom");
/** u64be: the first height whose block the store holds, on a node restored from a snapshot (absent: 1). */
const BASE_HEIGHT = metaKey("baseHeight");
/**
 * u64be: the first height whose state tree's root has a record keyed by
 * height (SmtNodeAt); the roots of the heights before it are under their
 * hash alone (SmtNode). Absent in a store that began before records were
 * keyed by height: open() sets it to the height after the head.
 */
const SMT_KEYED_FROM = metaKey("smtKeyedFrom");

/** What open() reads of a store: undefined where it holds nothing yet. */
export interface StoredMeta {
  head: ChainHead | undefined;
  stateKeptFrom: number | undefined;
  baseHeight: number | undefined;
  smtKeyedFrom: number | undefined;
}

export class MetaRepository {
  constructor(private readonly kv: KvStore) {}

  /** The head, state-kept-from, base height and the first height keyed by height, in one read. */
  async load(): Promise<StoredMeta> {
    const [head, keptFromMeta, base, keyedFrom, keptFromTree] = await this.kv.getMany([HEAD, STATE_KEPT_FROM, BASE_HEIGHT, SMT_KEYED_FROM, stateKeptFromKey()]);
    const keptFrom = keptFromTree ?? keptFromMeta;
    return {
      head: head ? (decodeCanonical(head) as unknown as ChainHead) : undefined,
      stateKeptFrom: keptFrom ? readU64be(keptFrom) : undefined,
      baseHeight: base ? readU64be(base) : undefined,
      smtKeyedFrom: keyedFrom ? readU64be(keyedFrom) : undefined,
    };
  }

  genesisHash(): Promise<Uint8Array | undefined> {
    return this.kv.get(GENESIS_HASH);
  }

  putGenesisHash(batch: KvBatch, hash: Uint8Array): void {
    batch.put(GENESIS_HASH, hash);
  }

  putHead(batch: KvBatch, head: ChainHead): void {
    batch.put(HEAD, encodeCanonical(head as never));
  }

  putStateKeptFrom(batch: KvBatch, height: number): void {
    batch.put(stateKeptFromKey(), u64be(height));
  }

  putBaseHeight(batch: KvBatch, height: number): void {
    batch.put(BASE_HEIGHT, u64be(height));
  }

  putSmtKeyedFrom(batch: KvBatch, height: number): void {
    batch.put(SMT_KEYED_FROM, u64be(height));
  }

  /**
   * The first height keyed by height of a store `load()` read: for a store
   * that began before records were keyed by height, the height after its
   * head, written now (its trees so far are under hashes alone).
   */
  async smtKeyedFromOf(meta: StoredMeta): Promise<number> {
    if (meta.smtKeyedFrom !== undefined || meta.head === undefined) return meta.smtKeyedFrom ?? 0;
    const batch = this.kv.batch();
    this.putSmtKeyedFrom(batch, meta.head.height + 1);
    await batch.write({ sync: true });
    return meta.head.height + 1;
  }
}
