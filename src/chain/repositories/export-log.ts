/**
 * The export log, under Export: every committed tx by its global sequence
 * number (from 1), as (height, index), one entry per block (a run, under
 * the number of the block's first tx); the meta "exportSeq" marker holds
 * the last number assigned. The entry codec is export-log.ts's.
 */
import { Bucket, exportKey, metaKey, readU64be, u64be } from "../buckets.js";
import type { KvBatch, KvStore } from "../db/kv.js";
import { type ExportEntry, decodeExportRun, encodeExportRun } from "../export-log.js";

/**
 * The last export sequence number assigned (u64be), written with every
 * block. A store written before the export log existed has none.
 */
const EXPORT_SEQ = metaKey("exportSeq");

export class ExportLogRepository {
  constructor(private readonly kv: KvStore) {}

  /** The last sequence number committed; undefined when the store has no marker (written before the log existed). */
  async lastSeq(): Promise<number | undefined> {
    const mark = await this.kv.get(EXPORT_SEQ);
    if (!mark) return undefined;
    if (mark.length !== 8) throw new Error(`the data dir's export sequence marker is ${mark.length} bytes, expected 8: resync (remove data/chain and start the node again)`);
    return readU64be(mark);
  }

  /** Adds the run of the `txs` txs of the block at `height`, numbered from `firstSeq`, to `batch` (not the marker). */
  putBlock(batch: KvBatch, firstSeq: number, height: number, txs: number): void {
    if (txs > 0) batch.put(exportKey(firstSeq), encodeExportRun(height, txs));
  }

  /** Adds the marker of the last sequence number assigned to `batch`. */
  putLastSeq(batch: KvBatch, seq: number): void {
    batch.put(EXPORT_SEQ, u64be(seq));
  }

  /** Entries with seq > `after`, in order, at most `limit` of them. */
  async entriesAfter(after: number, limit: number): Promise<ExportEntry[]> {
    const out: ExportEntry[] = [];
    // The run holding after + 1 starts there or before: one reverse seek.
    let from = after + 1;
    for await (const key of this.kv.keys({ gte: exportKey(0), lte: exportKey(after + 1), reverse: true, limit: 1 })) from = readU64be(key.subarray(1));
    // Every run holds one tx or more, so `limit` runs are enough.
    for await (const [key, value] of this.kv.entries({ gte: exportKey(from), lt: Uint8Array.of(Bucket.Export + 1), limit })) {
      const run = decodeExportRun(readU64be(key.subarray(1)), value);
      for (let k = Math.max(0, after + 1 - run.first); k < run.count && out.length < limit; k++) out.push({ seq: run.first + k, height: run.height, index: run.index + k });
      if (out.length === limit) break;
    }
    return out;
  }
}
