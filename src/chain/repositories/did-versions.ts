/**
 * DID version history: each version whole under DidVersion (when no tx of
 * its block holds its document), its entry without the document under
 * DidVersionEntry, and from the second version on a time index under
 * DidVersionTime (block time, then version number). A DID's current
 * version made by a create or update tx has no entry while its record
 * refers to that tx (the record and the tx give the entry); the entry is
 * stored when the record is next written. The indexes are built from the
 * versions once for a store written before they existed; a meta marker
 * says which layout they have.
 */
import {
  Bucket,
  didVersionEntryKey,
  didVersionEntryPrefix,
  didVersionKey,
  didVersionTimeKey,
  didVersionTimePrefix,
  metaKey,
  readU32be,
} from "../buckets.js";
import { decodeCanonical, encodeCanonical } from "../codec.js";
import { type KvBatch, type KvStore, prefixEnd, prefixRange } from "../db/kv.js";
import { type DidOperation, type DidVersion, decodeDidVersion, encodeDidVersion } from "../state.js";
import type { DidDocument } from "../../did/document.js";

/** One version of a DID without its document: what history pages list and resolution metadata needs of a neighbour. */
export interface DidVersionEntry {
  versionId: number;
  operation: DidOperation;
  height: number;
  /** Block time, ms since the Unix epoch. */
  time: number;
  txHash: Uint8Array;
}

/** A page of a DID's versions, in version order. */
export interface DidVersionPage {
  entries: DidVersionEntry[];
  /** Whether versions follow the last entry (the page stopped at its count or byte bound). */
  more: boolean;
}

/** The largest version number the history keys hold (u32be). */
export const MAX_VERSION_ID = 0xffff_ffff;

/**
 * Layout of the version indexes (DidVersionEntry, DidVersionTime). A store
 * written before they existed has no marker: ensureIndex() builds them from
 * the versions, once. A marker of another layout is refused with a resync hint.
 *   1: every version has its entry.
 *   2: a DID's current version has no entry when its record stands for it
 *      (StateRecordRepository.unstoredCurrentEntries). A store of layout 1
 *      reads as it is and is marked 2 on open; a node that reads layout 1
 *      only refuses a store of layout 2 instead of missing its entries.
 *   3: as 2. The store may also hold state tree records holding nodes
 *      (tag 0x03, smt-node.ts) and txs in short form (tx-store.ts), which
 *      a node that reads layout 2 would misread: it refuses the store at
 *      open instead, as this marker is the one it checks. Stores of layout
 *      1 and 2 read as they are and are marked 3 on open.
 *   4: as 3. The store may also hold state tree records keyed by height
 *      (SmtNodeAt), which a node that reads layout 3 would not find: it
 *      refuses the store instead. Stores of layouts 1 to 3 read as they
 *      are and are marked 4 on open.
 */
const VERSION_INDEX = metaKey("versionIndex");
const VERSION_INDEX_LAYOUT = 4;
/** Layouts this one reads as they are. */
const VERSION_INDEX_READ_AS_IS = [1, 2, 3];
/** Versions indexed per batch when ensureIndex() builds the indexes of an older store. */
const REINDEX_BATCH = 1_000;
/** The value of index keys whose key says it all. */
const EMPTY = new Uint8Array(0);

export function isVersionId(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 1 && n <= MAX_VERSION_ID;
}

function encodeVersionEntry(v: Omit<DidVersionEntry, "versionId">): Uint8Array {
  return encodeCanonical({ operation: v.operation, height: v.height, time: v.time, txHash: v.txHash });
}

function decodeVersionEntry(versionId: number, raw: Uint8Array): DidVersionEntry {
  const e = decodeCanonical(raw) as unknown as Omit<DidVersionEntry, "versionId">;
  return { versionId, operation: e.operation, height: e.height, time: e.time, txHash: e.txHash };
}

/** By DID, the entries of current versions that are not stored (StateRecordRepository.unstoredCurrentEntries). */
export type UnstoredCurrentEntries = (dids: readonly string[]) => Promise<Map<string, DidVersionEntry>>;

export class DidVersionRepository {
  constructor(
    private readonly kv: KvStore,
    private readonly unstoredCurrent: UnstoredCurrentEntries = async () => new Map(),
  ) {}

  /**
   * Adds `versions` to `batch`. `inBlock`: hex hashes of the block's txs. One
   * copy of each document: a create's or update's document is read back from
   * its tx in the block. A version whose tx brought no document (a
   * deactivation, once per DID) or that no tx of the block brought (a
   * caller's own history) is stored whole. `documents`: encodings of the
   * versions' documents by document object, not encoded again.
   */
  put(
    batch: KvBatch,
    versions: readonly DidVersion[],
    inBlock: ReadonlySet<string>,
    documents?: ReadonlyMap<DidDocument, Uint8Array>,
    /** By DID, the version whose entry its record stands for (StateRecordRepository.putEncoded): not stored. */
    unstored?: ReadonlyMap<string, number>,
  ): void {
    for (const v of versions) {
      const fromTx = v.operation !== "deactivate" && inBlock.has(Buffer.from(v.txHash).toString("hex"));
      if (!fromTx) batch.put(didVersionKey(v.did, v.versionId), encodeDidVersion(v, documents?.get(v.document)));
      this.putIndexes(batch, v, unstored?.get(v.did) !== v.versionId);
    }
  }

  /** Adds entries of earlier blocks' versions that were not stored (their records stood for them) to `batch`, by DID. */
  putEntries(batch: KvBatch, entries: ReadonlyMap<string, DidVersionEntry>): void {
    for (const [did, e] of entries) batch.put(didVersionEntryKey(did, e.versionId), encodeVersionEntry(e));
  }

  private putIndexes(batch: KvBatch, v: DidVersion, withEntry = true): void {
    if (withEntry) batch.put(didVersionEntryKey(v.did, v.versionId), encodeVersionEntry(v));
    // The first version's time is in its entry: at() falls back to it.
    if (v.versionId > 1) batch.put(didVersionTimeKey(v.did, v.time, v.versionId), EMPTY);
  }

  /** Adds the marker of the current index layout to `batch` (a new store's indexes are current from the start). */
  markIndexCurrent(batch: KvBatch): void {
    batch.put(VERSION_INDEX, Uint8Array.of(VERSION_INDEX_LAYOUT));
  }

  /** One version as stored: whole (undefined when not stored whole) and its entry (undefined when there is no such version). */
  async getStored(did: string, versionId: number): Promise<{ whole: DidVersion | undefined; entry: DidVersionEntry | undefined }> {
    if (!isVersionId(versionId)) return { whole: undefined, entry: undefined };
    const [whole, entry] = await this.kv.getMany([didVersionKey(did, versionId), didVersionEntryKey(did, versionId)]);
    if (whole || entry) return { whole: whole ? decodeDidVersion(whole) : undefined, entry: entry ? decodeVersionEntry(versionId, entry) : undefined };
    return { whole: undefined, entry: await this.entryNotFound(did, versionId) };
  }

  /** One version without its document: one small get (and, for a current version whose record stands for it, the record and its tx). */
  async getEntry(did: string, versionId: number): Promise<DidVersionEntry | undefined> {
    if (!isVersionId(versionId)) return undefined;
    const raw = await this.kv.get(didVersionEntryKey(did, versionId));
    return raw ? decodeVersionEntry(versionId, raw) : this.entryNotFound(did, versionId);
  }

  /**
   * Version `versionId`'s entry, which a get just did not find: the current
   * version's, read from its record, or none. A block committed since that
   * get may have stored it (its record then names a later version); stored
   * entries never change, so one more get answers then.
   */
  private async entryNotFound(did: string, versionId: number): Promise<DidVersionEntry | undefined> {
    const current = await this.unstoredEntry(did);
    if (!current || current.versionId < versionId) return undefined;
    if (current.versionId === versionId) return current;
    const raw = await this.kv.get(didVersionEntryKey(did, versionId));
    return raw ? decodeVersionEntry(versionId, raw) : undefined;
  }

  /** The current version's entry of `did` when it is not stored (its record stands for it). */
  private async unstoredEntry(did: string): Promise<DidVersionEntry | undefined> {
    return (await this.unstoredCurrent([did])).get(did);
  }

  /**
   * The version numbers of `did`, in order. The record is read before the
   * entries: a block committed in between stores the entry it stood for
   * (the same one), and the answer is the history as of the first read.
   */
  async versionIds(did: string): Promise<number[]> {
    const current = await this.unstoredEntry(did);
    const ids: number[] = [];
    for await (const key of this.kv.keys(prefixRange(didVersionEntryPrefix(did)))) {
      const id = readU32be(key, key.length - 4);
      if (!current || id < current.versionId) ids.push(id);
    }
    if (current) ids.push(current.versionId);
    return ids;
  }

  /**
   * Versions of `did` after version `after` (0: from the first), in version
   * order, at most `limit` of them and at most `maxBytes` of stored entries
   * (always at least one, so every page moves on).
   */
  async page(did: string, opts: { after?: number; limit: number; maxBytes: number }): Promise<DidVersionPage> {
    const after = opts.after ?? 0;
    if (!Number.isSafeInteger(after) || after < 0) throw new RangeError(`after must be a version number (0 or more), got ${after}`);
    if (!Number.isSafeInteger(opts.limit) || opts.limit < 1) throw new RangeError(`limit must be a positive integer, got ${opts.limit}`);
    const entries: DidVersionEntry[] = [];
    if (after >= MAX_VERSION_ID) return { entries, more: false };
    const prefix = didVersionEntryPrefix(did);
    const range = after === 0 ? { gte: prefix } : { gt: didVersionEntryKey(did, after) };
    let bytes = 0;
    const room = (size: number) => entries.length < opts.limit && (entries.length === 0 || bytes + size <= opts.maxBytes);
    // The record first, as in versionIds: entries stored since are left out, the one it stood for comes from it.
    const current = await this.unstoredEntry(did);
    for await (const [key, value] of this.kv.entries({ ...range, lt: prefixEnd(prefix), limit: opts.limit + 1 })) {
      const versionId = readU32be(key, key.length - 4);
      if (current && versionId >= current.versionId) break;
      if (!room(value.length)) return { entries, more: true };
      bytes += value.length;
      entries.push(decodeVersionEntry(versionId, value));
    }
    // The current version last, when its record stands for its entry; counted at the size it will be stored at.
    if (!current || current.versionId <= after) return { entries, more: false };
    if (!room(encodeVersionEntry(current).length)) return { entries, more: true };
    entries.push(current);
    return { entries, more: false };
  }

  /**
   * The number of the version of `did` valid at `time` (ms): the latest one
   * whose block time is not after it, by one reverse seek in the time index
   * (and the first version's entry when the seek finds none). Undefined when
   * `did` had no version yet then.
   */
  async at(did: string, time: number): Promise<number | undefined> {
    if (!(time >= 0)) return undefined;
    const t = Math.min(Math.floor(time), Number.MAX_SAFE_INTEGER);
    for await (const key of this.kv.keys({ gte: didVersionTimePrefix(did), lte: didVersionTimeKey(did, t, MAX_VERSION_ID), reverse: true, limit: 1 })) {
      return readU32be(key, key.length - 4);
    }
    // The time index holds versions from the second on (a store of the older layout holds the first too).
    const first = await this.getEntry(did, 1);
    return first && first.time <= t ? 1 : undefined;
  }

  /**
   * The version indexes are read-side only (no state root covers them), so
   * a store written before they existed is indexed from its versions here,
   * in batches; the marker goes last, so a crash midway redoes the work.
   */
  async ensureIndex(): Promise<void> {
    const mark = await this.kv.get(VERSION_INDEX);
    if (mark) {
      if (mark.length === 1 && mark[0] === VERSION_INDEX_LAYOUT) return;
      if (mark.length === 1 && VERSION_INDEX_READ_AS_IS.includes(mark[0]!)) {
        const batch = this.kv.batch();
        this.markIndexCurrent(batch);
        return batch.write({ sync: true });
      }
      throw new Error(
        `the data dir's DID version index has layout ${Buffer.from(mark).toString("hex")}, this node reads layout ${VERSION_INDEX_LAYOUT}: ` +
          "run the node version that wrote it, or resync (remove data/chain and start the node again)",
      );
    }
    let batch = this.kv.batch();
    let pending = 0;
    for await (const raw of this.kv.values({ gte: Uint8Array.of(Bucket.DidVersion), lt: Uint8Array.of(Bucket.DidVersion + 1) })) {
      this.putIndexes(batch, decodeDidVersion(raw));
      if (++pending === REINDEX_BATCH) {
        await batch.write();
        batch = this.kv.batch();
        pending = 0;
      }
    }
    this.markIndexCurrent(batch);
    await batch.write({ sync: true });
  }
}
