/**
 * The export stream (docs/export.md): `registry_export` pages through the
 * export log (every committed tx, numbered gap-free in commit order), and
 * the `export` WebSocket topic streams the same pages. Each entry carries
 * the signed tx bytes and where the tx is; with `blocks: true` a page also
 * carries, for each height it touches, the header and commit (canonical
 * bytes, so a mirror hashes exactly what validators signed) and the
 * block's tx hashes (to recompute the header's txRoot). A mirror can then
 * check each op's signature, that the tx is in its block, and that the
 * block is committed, trusting no node.
 */
import { LRUCache } from "lru-cache";
import { type Block, type Commit, encodeCommit, headerHash } from "../chain/block.js";
import { decodeCanonical, encodeCanonical } from "../chain/codec.js";
import { type ExportEntry, exportOpOf } from "../chain/export-log.js";
import { type Tx, txHash } from "../chain/tx.js";
import { toBase64, toHex } from "../crypto/bytes.js";
import { DEFAULT_ANSWER_LIMITS, type MethodTable, defineMethod } from "./jsonrpc.js";
import { Shape, Type } from "../check/index.js";

/** What the export needs of a node. */
export interface ExportReadApi {
  chainId: string;
  /** The last export sequence number committed. */
  lastExportSeq(): number;
  exportEntries(after: number, limit: number): Promise<ExportEntry[]>;
  getBlock(height: number): Promise<Block | undefined>;
  getCommit(height: number): Promise<Commit | undefined>;
}

/** One op as registry_export and the export topic give it. */
export interface ExportEntryJson {
  seq: number;
  height: number;
  index: number;
  txHash: string;
  blockHash: string;
  /** Block time, ISO 8601. */
  time: string;
  kind: string;
  action?: string;
  proposal?: string;
  subject: string;
  /** The signed tx, base64 of its canonical bytes (as tx_submit takes it): sha256 of these bytes is txHash. */
  tx: string;
}

/** What a mirror needs of one block to check that its entries are committed. */
export interface ExportBlockJson {
  /** base64 of the canonical header bytes: sha256 of them is the block hash the commit signs. */
  header: string;
  /** base64 of the canonical commit bytes (the commit stored with the block). */
  commit: string;
  /** The block's tx hashes in block order, hex: their txMerkleRoot is the header's txRoot. */
  txHashes: string[];
}

export interface ExportPage {
  entries: ExportEntryJson[];
  /** By height (decimal string), for every height the entries touch; only when asked for. */
  blocks?: Record<string, ExportBlockJson>;
  /** The seq to continue after when more entries followed this page, or null when the page reached the node's last. */
  next: number | null;
  /** The node's last export sequence number when the page was read. */
  last: number;
}

export interface ExportPageRequest {
  after: number;
  limit: number;
  blocks: boolean;
  /** A height whose block the client holds from an earlier page: it is not sent again. */
  knownBlock?: number;
  /** Most bytes of JSON the page's entries and blocks may hold (at least one entry is always given). */
  maxBytes: number;
}

/** Entries per page when the client names no limit, and at most. */
export const EXPORT_DEFAULT_LIMIT = 100;
export const EXPORT_MAX_LIMIT = 1000;
/**
 * Decoded blocks kept for consecutive pages (a page's entries are mostly in
 * one or two blocks). Few: a block may hold maxBlockBytes (8 MiB) of txs.
 */
const BLOCK_CACHE = 4;

interface CachedBlock {
  block: Block;
  hash: string;
  time: string;
  txHashes: string[];
  /** Built on first use by a page with blocks. */
  json?: ExportBlockJson;
  jsonBytes?: number;
}

/** Reads export pages from a node, keeping the last few decoded blocks. */
export class ExportPageReader {
  private readonly blocks = new LRUCache<number, CachedBlock>({ max: BLOCK_CACHE });

  constructor(readonly api: ExportReadApi) {}

  private async blockAt(height: number): Promise<CachedBlock> {
    const hit = this.blocks.get(height);
    if (hit) return hit;
    const block = await this.api.getBlock(height);
    if (!block) throw new Error(`the export log names block ${height}, which the block store lacks`);
    const cached: CachedBlock = { block, hash: toHex(headerHash(block.header)), time: new Date(block.header.time).toISOString(), txHashes: block.txs.map((t) => toHex(txHash(t))) };
    this.blocks.set(height, cached);
    return cached;
  }

  private async blockJson(height: number, b: CachedBlock): Promise<{ json: ExportBlockJson; bytes: number }> {
    if (!b.json) {
      const commit = await this.api.getCommit(height);
      if (!commit) throw new Error(`the block store has block ${height} without its commit`);
      b.json = { header: toBase64(encodeCanonical(b.block.header as never)), commit: toBase64(encodeCommit(commit)), txHashes: b.txHashes };
      b.jsonBytes = Buffer.byteLength(JSON.stringify(b.json)) + String(height).length + 4;
    }
    return { json: b.json, bytes: b.jsonBytes! };
  }

  /** Entries with seq > after, bounded by count and bytes; see ExportPage. */
  async readPage(req: ExportPageRequest): Promise<ExportPage> {
    const last = this.api.lastExportSeq();
    const found = await this.api.exportEntries(req.after, req.limit + 1);
    const entries: ExportEntryJson[] = [];
    const blocks: Record<string, ExportBlockJson> = {};
    let bytes = 0;
    let cut = false;
    for (const e of found) {
      if (entries.length === req.limit) {
        cut = true;
        break;
      }
      const b = await this.blockAt(e.height);
      const encoded = b.block.txs[e.index];
      if (!encoded) throw new Error(`the export log names tx ${e.index} of block ${e.height}, which has ${b.block.txs.length}`);
      const hash = b.txHashes[e.index]!;
      // A committed tx passed decodeTx's checks when its block was executed: its fields are read, not checked again.
      const op = exportOpOf(decodeCanonical(encoded) as unknown as Tx, Buffer.from(hash, "hex"));
      const json: ExportEntryJson = { seq: e.seq, height: e.height, index: e.index, txHash: hash, blockHash: b.hash, time: b.time, ...op, tx: toBase64(encoded) };
      let size = Buffer.byteLength(JSON.stringify(json)) + 1;
      const key = String(e.height);
      let blockJson: ExportBlockJson | undefined;
      if (req.blocks && blocks[key] === undefined && e.height !== req.knownBlock) {
        const bj = await this.blockJson(e.height, b);
        blockJson = bj.json;
        size += bj.bytes;
      }
      if (entries.length > 0 && bytes + size > req.maxBytes) {
        cut = true;
        break;
      }
      entries.push(json);
      if (blockJson) blocks[key] = blockJson;
      bytes += size;
    }
    const lastEntry = entries[entries.length - 1];
    return { entries, ...(req.blocks ? { blocks } : {}), next: cut && lastEntry ? lastEntry.seq : null, last };
  }
}

const SEQ_PARAM = Shape.int(0);

/** `registry_export`. */
export function exportMethods(reader: ExportPageReader): MethodTable {
  return {
    registry_export: defineMethod({
      description:
        "Every DID operation and registry change in commit order, each with its gap-free sequence number, the signed tx and where it is: `limit` entries with seq > `after` (0: from the first), bounded by bytes; `next` is the cursor of the following page, null when the page reached `last`. With blocks: true, the headers, commits and tx hashes a mirror needs to check each entry, but for the height `knownBlock` (one the client holds from its previous page).",
      params: Type.Object({
        after: Type.Optional(SEQ_PARAM),
        limit: Type.Optional(Shape.int(1, EXPORT_MAX_LIMIT)),
        blocks: Type.Optional(Shape.boolean()),
        knownBlock: Type.Optional(Shape.int(1)),
      }),
      handler: ({ after = 0, limit = EXPORT_DEFAULT_LIMIT, blocks = false, knownBlock }, ctx): Promise<ExportPage> =>
        reader.readPage({ after, limit, blocks, ...(knownBlock !== undefined ? { knownBlock } : {}), maxBytes: ctx.maxPageBytes ?? DEFAULT_ANSWER_LIMITS.maxPageBytes }),
    }),
  };
}

/** Where an export stream's pages go: one subscription on one connection. */
export interface ExportStreamSink {
  /** Hand one page (serialized) to the connection; never waits. */
  notify(resultJson: string): void;
  /** Resolves once the connection has written out everything queued (at once when nothing is). */
  drained(): Promise<void>;
  /** True once the subscription or its connection has ended. */
  ended(): boolean;
}

export interface ExportStreamOptions {
  after: number;
  blocks: boolean;
  /** Most bytes of one page (a notification). */
  maxBytes: number;
  limit?: number;
}

/**
 * One `export` subscription: pages read from the store after a cursor, one
 * at a time, the next only once the connection has written the last out.
 * A slow client is thus paged, never buffered for: it holds at most one
 * page of the node's memory, and catches up from the store at its own pace
 * (it may lag behind the head by any number of ops). Each page follows the
 * last one's final seq, so the stream has no gap and no duplicate.
 */
export class ExportStream {
  private cursor: number;
  /** Height of the last entry sent: its block went with an earlier page. */
  private lastHeight: number | undefined;
  private running = false;
  private again = false;
  private active = false;

  constructor(
    private readonly reader: ExportPageReader,
    private readonly sink: ExportStreamSink,
    private readonly opts: ExportStreamOptions,
  ) {
    this.cursor = opts.after;
  }

  /** The seq of the last op sent. */
  get position(): number {
    return this.cursor;
  }

  /** Start streaming (after the answer to `subscribe` has gone out). */
  start(): void {
    this.active = true;
    this.poke();
  }

  /** New ops may have been committed: send what the client has not had yet. */
  poke(): void {
    if (!this.active) return;
    if (this.running) {
      this.again = true;
      return;
    }
    void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      do {
        this.again = false;
        for (;;) {
          await this.sink.drained();
          if (this.sink.ended()) return;
          const page = await this.reader.readPage({
            after: this.cursor,
            limit: this.opts.limit ?? EXPORT_MAX_LIMIT,
            blocks: this.opts.blocks,
            ...(this.lastHeight !== undefined ? { knownBlock: this.lastHeight } : {}),
            maxBytes: this.opts.maxBytes,
          });
          if (this.sink.ended() || page.entries.length === 0) break;
          const tail = page.entries[page.entries.length - 1]!;
          this.cursor = tail.seq;
          this.lastHeight = tail.height;
          this.sink.notify(JSON.stringify(page));
          if (page.next === null) break;
        }
      } while (this.again && !this.sink.ended());
    } catch {
      // The store is closing with the node: the connection goes with it.
    } finally {
      this.running = false;
    }
  }
}
