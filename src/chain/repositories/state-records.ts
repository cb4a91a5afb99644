/**
 * State records, by state id: DID records under Did, every other record
 * (issuers, status lists, trustees, proposals, validators) under Registry.
 * Decoded records are cached, known absences too, within a budget of bytes
 * (an estimate of the heap a record takes, from its encoding); reads of
 * many records in the same turn of the event loop go to the store as one
 * getMany.
 *
 * A DID record whose document a tx of the store brought is kept without
 * it: the record's bytes before and after the document, and where in that
 * tx (under BlockTx) the document's bytes are. Reading it puts the same
 * bytes back together, so what is hashed into the state root and what a
 * proof returns do not change; the document is stored once, in its tx.
 */
import { LRUCache } from "lru-cache";
import { blockTxKey, didKey, registryKey, registryPrefix } from "../buckets.js";
import { txFromStored } from "../tx-store.js";
import { type KvBatch, type KvStore, prefixEnd } from "../db/kv.js";
import { type StateRecord, type StatusListRecord, decodeDidRecord, decodeStateRecord, isDidStateId } from "../state.js";
import { damagedStoreError } from "../store-faults.js";
import { txHash } from "../tx.js";
import { VarintError, VarintReader, encodeVarints } from "../varint.js";
import type { DidVersionEntry } from "./did-versions.js";

/** Cache entry meaning "no such record". */
const ABSENT = Symbol("absent");

/**
 * Heap a cached record takes per byte of its encoding: its decoded objects
 * and the resolution result built from it (rpc/resolve.ts keeps it beside
 * the record). Measured on a dev node at 60,000 DIDs: 50,000 cached DID
 * records of about 750 encoded bytes grew the heap by 205 MiB, about 5.7
 * bytes per encoded byte. Bounding the cache by this estimate, not by a
 * count, keeps records of large documents (up to 16 KiB each) or status
 * lists (up to 512 KiB) from filling the heap when a client reads many.
 */
const HEAP_PER_ENCODED_BYTE = 6;
/** Heap of a cache entry beyond its record: the id, the entry, an absence. */
const ENTRY_OVERHEAD = 160;

/** The cache's estimate of the heap a record of `encodedBytes` takes, or an absence (0). */
export function cachedRecordSize(id: string, encodedBytes: number): number {
  return ENTRY_OVERHEAD + 2 * id.length + HEAP_PER_ENCODED_BYTE * encodedBytes;
}

/**
 * A record kept by reference: a first byte that is not a CBOR map's (a
 * canonical record is a map, 0xa0-0xbb), a header naming the tx's height
 * and index, the document's offset and length in the tx, and the length of
 * the record's bytes before the document; then those bytes, then the
 * record's bytes after it.
 *   0x01: the header as varints (varint.ts), and the tx referred to is the
 *         create or update that made the DID's current version, in the
 *         record's own block: that version's entry (DidVersionEntry) is not
 *         stored, since this record and its tx say all of it
 *         (unstoredCurrentEntries). The entry is stored when the record is
 *         next written.
 *   0x02: the header as varints, any tx holding the document.
 *   0x00: the header as five u32be (the earlier layout, read as it is).
 */
const BY_REF_FIXED = 0x00;
const BY_REF_CURRENT = 0x01;
const BY_REF = 0x02;
const FIXED_HEADER = 21;

/** The tx that brought a DID record's document: where it is stored, its bytes, and the document's bytes. */
export interface DocumentSource {
  height: number;
  index: number;
  tx: Uint8Array;
  document: Uint8Array;
  /** Whether the tx made the version the record is at (the record's block, not a deactivation). */
  current?: boolean;
}

const asBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length);

/**
 * What the store keeps for a record of `bytes`: by reference when `source`
 * holds the document that `bytes` hold, else the bytes themselves. The
 * split is by value, so putting the parts back gives `bytes` exactly.
 */
export function storedRecordBytes(bytes: Uint8Array, source?: DocumentSource): Uint8Array {
  if (!source || source.document.length === 0 || !Number.isSafeInteger(source.height) || !Number.isSafeInteger(source.index)) return bytes;
  const at = asBuffer(bytes).indexOf(asBuffer(source.document));
  const offset = asBuffer(source.tx).indexOf(asBuffer(source.document));
  if (at < 0 || offset < 0) return bytes;
  const before = bytes.subarray(0, at);
  const after = bytes.subarray(at + source.document.length);
  const header = encodeVarints([source.height, source.index, offset, source.document.length, before.length]);
  const out = new Uint8Array(1 + header.length + before.length + after.length);
  out[0] = source.current ? BY_REF_CURRENT : BY_REF;
  out.set(header, 1);
  out.set(before, 1 + header.length);
  out.set(after, 1 + header.length + before.length);
  return out;
}

interface RecordRef {
  height: number;
  index: number;
  offset: number;
  length: number;
  before: number;
  /** Where the record's bytes before the document start in the stored form. */
  start: number;
}

/** Whether a stored DID record stands for its current version's entry (BY_REF_CURRENT). */
export function keptAsCurrent(stored: Uint8Array): boolean {
  return stored[0] === BY_REF_CURRENT;
}

function refOf(stored: Uint8Array): RecordRef | undefined {
  const tag = stored[0];
  if (tag !== BY_REF && tag !== BY_REF_CURRENT && tag !== BY_REF_FIXED) return undefined;
  const damaged = (why: string) => damagedStoreError(`a stored DID record by reference ${why}: the store is damaged; resync (remove data/chain and start the node again)`);
  let ref: RecordRef;
  if (tag === BY_REF_FIXED) {
    if (stored.length < FIXED_HEADER) throw damaged(`is ${stored.length} bytes, shorter than its header`);
    const view = new DataView(stored.buffer, stored.byteOffset, stored.length);
    ref = { height: view.getUint32(1), index: view.getUint32(5), offset: view.getUint32(9), length: view.getUint32(13), before: view.getUint32(17), start: FIXED_HEADER };
  } else {
    const r = new VarintReader(stored, 1);
    try {
      ref = { height: r.next(), index: r.next(), offset: r.next(), length: r.next(), before: r.next(), start: 0 };
    } catch (e) {
      if (e instanceof VarintError) throw damaged(`has a bad header (${e.message})`);
      throw e;
    }
    ref.start = r.at;
  }
  if (ref.start + ref.before > stored.length) throw damaged("names more bytes before its document than it holds");
  return ref;
}

/** The record's bytes from its stored form and the tx it names. */
function assemble(stored: Uint8Array, ref: RecordRef, tx: Uint8Array | undefined): Uint8Array {
  if (!tx || ref.offset + ref.length > tx.length) {
    // Damage to the store, given LevelDB's code for its own: the fault latch stops the node with the resync remedy.
    throw damagedStoreError(
      `the tx holding a DID record's document (height ${ref.height}, index ${ref.index}) is ${tx ? "shorter than the reference" : "not in the store"}: the store is damaged; resync (remove data/chain and start the node again)`,
    );
  }
  const after = stored.length - ref.start - ref.before;
  const out = new Uint8Array(ref.before + ref.length + after);
  out.set(stored.subarray(ref.start, ref.start + ref.before), 0);
  out.set(tx.subarray(ref.offset, ref.offset + ref.length), ref.before);
  out.set(stored.subarray(ref.start + ref.before), ref.before + ref.length);
  return out;
}

/** The store key of a record: bucket Did for DIDs, Registry for the rest. */
export function stateDbKey(id: string): Uint8Array {
  return isDidStateId(id) ? didKey(id) : registryKey(id);
}

export class StateRecordRepository {
  /** Cached records by state id, including known absences, sized by cachedRecordSize. */
  private readonly cache: LRUCache<string, StateRecord | typeof ABSENT>;
  /** The misses of this turn of the event loop, read together. */
  private pendingReads: { ids: string[]; done: Promise<Map<string, StateRecord | undefined>> } | undefined;

  /**
   * `inlineTx`: a tx of a block of the earlier layout (txs inside the block),
   * for a reference no BlockTx key answers.
   */
  constructor(
    private readonly kv: KvStore,
    /** Budget of the record cache, in estimated bytes of heap (cachedRecordSize); 0 caches nothing. */
    cacheBytes: number,
    private readonly inlineTx: (height: number, index: number) => Promise<Uint8Array | undefined> = async () => undefined,
    /** Told of a record the store cannot put back together (damage), before the read fails with it. */
    private readonly damaged: (e: unknown) => void = () => {},
  ) {
    // lru-cache needs a positive budget; 0 (no cache) is a budget no entry fits.
    this.cache = new LRUCache({ maxSize: Math.max(1, cacheBytes) });
  }

  /**
   * One record by state id, or undefined. A miss joins the other misses of
   * this turn of the event loop (concurrent resolves, admissions) in one
   * getMany for the records and one for the txs they refer to.
   */
  async get(id: string): Promise<StateRecord | undefined> {
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached === ABSENT ? undefined : cached;
    return (await this.readBatched([id]))[0];
  }

  /** The bytes of a record (as hashed into the state root), or undefined. */
  async getBytes(id: string): Promise<Uint8Array | undefined> {
    const stored = await this.kv.get(stateDbKey(id));
    const ref = stored && this.refOf(stored);
    return ref ? this.assemble(stored, ref, await this.txOf(ref, await this.kv.get(blockTxKey(ref.height, ref.index)))) : stored;
  }

  /** The bytes of records from their stored forms (as a Did or Registry value holds them), in order: one getMany for the txs named. */
  async expand(stored: ReadonlyArray<Uint8Array | undefined>): Promise<Array<Uint8Array | undefined>> {
    const refs = stored.map((s) => (s ? this.refOf(s) : undefined));
    const txs = await this.txsOf(refs);
    return stored.map((s, i) => {
      const ref = refs[i];
      return ref ? this.assemble(s!, ref, txs[i]) : s;
    });
  }

  /** The txs `refs` name, in order (undefined where there is no ref): one getMany. */
  private async txsOf(refs: ReadonlyArray<RecordRef | undefined>): Promise<Array<Uint8Array | undefined>> {
    const wanted = refs.flatMap((r) => (r ? [blockTxKey(r.height, r.index)] : []));
    if (wanted.length === 0) return refs.map(() => undefined);
    const found = await this.kv.getMany(wanted);
    let next = 0;
    return Promise.all(refs.map((r) => (r ? this.txOf(r, found[next++]) : undefined)));
  }

  /**
   * By DID, the entry of each current version that is not stored under
   * DidVersionEntry (the record is kept BY_REF_CURRENT): its number and
   * block time from the record, its block and tx hash from the tx the record
   * refers to. DIDs whose current entry is stored, or that have no record,
   * are left out. Reads the store, not the cache, so commitBlock can ask
   * before its batch is written.
   */
  async unstoredCurrentEntries(dids: readonly string[]): Promise<Map<string, DidVersionEntry>> {
    const out = new Map<string, DidVersionEntry>();
    if (dids.length === 0) return out;
    const stored = await this.kv.getMany(dids.map((d) => didKey(d)));
    const refs = stored.map((s) => (s && keptAsCurrent(s) ? this.refOf(s) : undefined));
    const txs = await this.txsOf(refs);
    dids.forEach((did, i) => {
      const ref = refs[i];
      if (!ref) return;
      const tx = txs[i]!;
      const r = decodeDidRecord(this.assemble(stored[i]!, ref, tx));
      if (r.deactivated || r.updatedHeight !== ref.height || r.did !== did) {
        const e = damagedStoreError(`the DID record of ${did} stands for a version its tx did not make (height ${ref.height}, index ${ref.index}): the store is damaged; resync (remove data/chain and start the node again)`);
        this.damaged(e);
        throw e;
      }
      out.set(did, { versionId: r.versionId, operation: r.versionId === 1 ? "create" : "update", height: ref.height, time: r.updated, txHash: txHash(tx) });
    });
    return out;
  }

  private refOf(stored: Uint8Array): RecordRef | undefined {
    try {
      return refOf(stored);
    } catch (e) {
      this.damaged(e);
      throw e;
    }
  }

  private assemble(stored: Uint8Array, ref: RecordRef, tx: Uint8Array | undefined): Uint8Array {
    try {
      return assemble(stored, ref, tx);
    } catch (e) {
      this.damaged(e);
      throw e;
    }
  }

  private async txOf(ref: RecordRef, fromKey: Uint8Array | undefined): Promise<Uint8Array | undefined> {
    return fromKey ? txFromStored(fromKey) : this.inlineTx(ref.height, ref.index);
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
        const raws = await this.expand(await this.kv.getMany(batch.map(stateDbKey)));
        const found = new Map<string, StateRecord | undefined>();
        batch.forEach((id, i) => {
          const raw = raws[i];
          const rec = raw ? decodeStateRecord(raw) : undefined;
          // A block committed meanwhile has put fresher records in the cache.
          if (!this.cache.has(id)) this.cache.set(id, rec ?? ABSENT, { size: cachedRecordSize(id, raw?.length ?? 0) });
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

  /**
   * Adds each record's encoding (by state id) to `batch`. `sources`: by DID,
   * the tx of the same batch (or an earlier one) that holds its record's
   * document; those records are kept by reference to it. Returns the DIDs
   * whose records now stand for their current version's entry (a source
   * marked current): the caller does not store those entries.
   */
  putEncoded(batch: KvBatch, encoded: Iterable<[string, Uint8Array]>, sources?: ReadonlyMap<string, DocumentSource>): Set<string> {
    const current = new Set<string>();
    for (const [id, bytes] of encoded) {
      const stored = isDidStateId(id) ? storedRecordBytes(bytes, sources?.get(id)) : bytes;
      if (keptAsCurrent(stored)) current.add(id);
      batch.put(stateDbKey(id), stored);
    }
    return current;
  }

  /** Caches records a committed batch wrote; `encoded`: their encodings by id (for their size). */
  remember(writes: Iterable<[string, StateRecord]>, encoded: ReadonlyMap<string, Uint8Array>): void {
    // A record over the whole budget is not cached, and lru-cache drops the older one of that id with it.
    for (const [id, r] of writes) this.cache.set(id, r, { size: cachedRecordSize(id, encoded.get(id)?.length ?? 0) });
  }

  /** Entries and estimated bytes of the record cache. */
  cacheUse(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: this.cache.calculatedSize };
  }
}
