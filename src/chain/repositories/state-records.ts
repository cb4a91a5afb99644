/**
 * State records, by state id: DID records under Did, every other record
 * (issuers, status lists, trustees, proposals, validators) under Registry.
 * Decoded records are cached, known absences too; reads of many records in
 * the same turn of the event loop go to the store as one getMany.
 */
import { LRUCache } from "lru-cache";
import { didKey, registryKey, registryPrefix } from "../buckets.js";
import { type KvBatch, type KvStore, prefixEnd } from "../db/kv.js";
import { type StateRecord, type StatusListRecord, decodeStateRecord, isDidStateId } from "../state.js";

/** Cache entry meaning "no such record". */
const ABSENT = Symbol("absent");

/** The store key of a record: bucket Did for DIDs, Registry for the rest. */
export function stateDbKey(id: string): Uint8Array {
  return isDidStateId(id) ? didKey(id) : registryKey(id);
}

export class StateRecordRepository {
  /** Cached records by state id, including known absences. */
  private readonly cache: LRUCache<string, StateRecord | typeof ABSENT>;
  /** The misses of this turn of the event loop, read together. */
  private pendingReads: { ids: string[]; done: Promise<Map<string, StateRecord | undefined>> } | undefined;

  constructor(
    private readonly kv: KvStore,
    cacheSize: number,
  ) {
    this.cache = new LRUCache({ max: cacheSize });
  }

  /** One record by state id, or undefined. */
  async get(id: string): Promise<StateRecord | undefined> {
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached === ABSENT ? undefined : cached;
    const raw = await this.kv.get(stateDbKey(id));
    const rec = raw ? decodeStateRecord(raw) : undefined;
    this.cache.set(id, rec ?? ABSENT);
    return rec;
  }

  /** The stored bytes of a record (as hashed into the state root), or undefined. */
  getBytes(id: string): Promise<Uint8Array | undefined> {
    return this.kv.get(stateDbKey(id));
  }

  /**
   * Records for many ids. Cache misses of all callers in the same turn of
   * the event loop go to the store as one getMany: admissions arrive one
   * request at a time, and a store call costs far more than a key.
   */
  async loadMany(ids: Iterable<string>): Promise<Map<string, StateRecord | undefined>> {
    const out = new Map<string, StateRecord | undefined>();
    const misses: string[] = [];
    for (const id of ids) {
      if (out.has(id)) continue;
      const cached = this.cache.get(id);
      if (cached === undefined) {
        misses.push(id);
        out.set(id, undefined);
      } else out.set(id, cached === ABSENT ? undefined : cached);
    }
    if (misses.length > 0) {
      const recs = await this.readBatched(misses);
      misses.forEach((id, i) => out.set(id, recs[i]));
    }
    return out;
  }

  private async readBatched(ids: string[]): Promise<Array<StateRecord | undefined>> {
    let round = this.pendingReads;
    if (!round) {
      const batch: string[] = [];
      const done = new Promise<void>((r) => setImmediate(r)).then(async () => {
        this.pendingReads = undefined;
        const raws = await this.kv.getMany(batch.map(stateDbKey));
        const found = new Map<string, StateRecord | undefined>();
        batch.forEach((id, i) => {
          const raw = raws[i];
          const rec = raw ? decodeStateRecord(raw) : undefined;
          // A block committed meanwhile has put fresher records in the cache.
          if (!this.cache.has(id)) this.cache.set(id, rec ?? ABSENT);
          found.set(id, rec);
        });
        return found;
      });
      round = this.pendingReads = { ids: batch, done };
    }
    round.ids.push(...ids);
    const found = await round.done;
    return ids.map((id) => {
      const cached = this.cache.get(id);
      if (cached !== undefined) return cached === ABSENT ? undefined : cached;
      return found.get(id);
    });
  }

  /** Every record of a kind ("issuer", "proposal"), in id order, `limit` after the id `after` (without its kind). */
  async list(kind: string, opts: { after?: string; limit: number }): Promise<StateRecord[]> {
    const prefix = registryPrefix(kind);
    const gt = opts.after !== undefined ? registryKey(`${kind}:${opts.after}`) : undefined;
    const out: StateRecord[] = [];
    for await (const value of this.kv.values({ ...(gt ? { gt } : { gte: prefix }), lt: prefixEnd(prefix), limit: opts.limit })) out.push(decodeStateRecord(value));
    return out;
  }

  /** The status lists of an issuer, in list id order, `limit` after the list id `after`: a scan of its records' ids. */
  async listStatusLists(issuer: string, opts: { after?: string; limit: number }): Promise<StatusListRecord[]> {
    const prefix = registryKey(`statuslist:${issuer}/`);
    const gt = opts.after !== undefined ? registryKey(`statuslist:${issuer}/${opts.after}`) : undefined;
    const out: StatusListRecord[] = [];
    for await (const value of this.kv.values({ ...(gt ? { gt } : { gte: prefix }), lt: prefixEnd(prefix), limit: opts.limit })) {
      out.push(decodeStateRecord(value) as StatusListRecord);
    }
    return out;
  }

  /** Adds each record's encoding (by state id) to `batch`. */
  putEncoded(batch: KvBatch, encoded: Iterable<[string, Uint8Array]>): void {
    for (const [id, bytes] of encoded) batch.put(stateDbKey(id), bytes);
  }

  /** Caches records a committed batch wrote. */
  remember(writes: Iterable<[string, StateRecord]>): void {
    for (const [id, r] of writes) this.cache.set(id, r);
  }
}
