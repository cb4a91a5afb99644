/**
 * Blocks: the header, evidence and last commit of each height under Block
 * (the txs array left empty), each tx under BlockTx (one get per tx; the
 * commonest create in a short form, tx-store.ts), and
 * the height of each block hash under BlockByHash. A block of the earlier
 * layout holds its txs inline under Block; reads take both.
 */
import { Bucket, blockByHashKey, blockKey, blockTxKey, readU64be, u64be } from "../buckets.js";
import { type Block, decodeBlock, encodeBlock } from "../block.js";
import { endOfItem, mapValueBytes } from "../codec.js";
import type { KvBatch, KvStore } from "../db/kv.js";
import { storedTxBytes, txFromStored } from "../tx-store.js";

export class BlockRepository {
  constructor(private readonly kv: KvStore) {}

  /** The block at `height` with its txs, or undefined. */
  async get(height: number): Promise<Block | undefined> {
    const raw = await this.kv.get(blockKey(height));
    if (!raw) return undefined;
    const block = decodeBlock(raw);
    // A block of the earlier layout holds its txs inline; otherwise they are under BlockTx.
    if (block.txs.length > 0) return block;
    for await (const tx of this.kv.values(this.txRange(height))) block.txs.push(txFromStored(tx));
    return block;
  }

  /** The height of the block with this header hash, or undefined. */
  async heightByHash(hash: Uint8Array): Promise<number | undefined> {
    const raw = await this.kv.get(blockByHashKey(hash));
    return raw ? readU64be(raw) : undefined;
  }

  /**
   * The encoded tx at `index` of the block at `height`: its own key, or (a
   * block of the earlier layout) a view into the block's tx array, nothing
   * else decoded. Undefined when there is no such tx.
   */
  async txBytes(height: number, index: number): Promise<Uint8Array | undefined> {
    const tx = await this.kv.get(blockTxKey(height, index));
    return tx ? txFromStored(tx) : this.inlineTxBytes(height, index);
  }

  /** The encoded tx at `index` inside the block at `height` (a block of the earlier layout), or undefined. */
  async inlineTxBytes(height: number, index: number): Promise<Uint8Array | undefined> {
    const raw = await this.kv.get(blockKey(height));
    return raw ? blockTxBytes(raw, index) : undefined;
  }

  /** Adds the block (its txs under their own keys) and its hash index to `batch`. */
  put(batch: KvBatch, block: Block, hash: Uint8Array): void {
    const height = block.header.height;
    // The header, evidence and last commit in one key, each tx in its own: a version's document is then one small get.
    batch.put(blockKey(height), encodeBlock({ ...block, txs: [] }));
    // A did/create of a key's initial document in short form (tx-store.ts).
    block.txs.forEach((tx, index) => batch.put(blockTxKey(height, index), storedTxBytes(tx)));
    batch.put(blockByHashKey(hash), u64be(height));
  }

  /** Adds the block whole (its txs inline, as a snapshot's base block is kept) and its hash index to `batch`. */
  putWhole(batch: KvBatch, block: Block, hash: Uint8Array): void {
    batch.put(blockKey(block.header.height), encodeBlock(block));
    batch.put(blockByHashKey(hash), u64be(block.header.height));
  }

  /**
   * Each stored block from `from` up, in height order, with the number of
   * txs it holds (inline or under BlockTx): what numbering the export log
   * of an older store needs.
   */
  async *txCounts(from: number): AsyncIterable<{ height: number; txs: number }> {
    for await (const raw of this.kv.values({ gte: blockKey(from), lt: Uint8Array.of(Bucket.Block + 1) })) {
      const block = decodeBlock(raw);
      const height = block.header.height;
      let txs = block.txs.length;
      if (txs === 0) for await (const _ of this.kv.keys(this.txRange(height))) txs++;
      yield { height, txs };
    }
  }

  private txRange(height: number): { gte: Uint8Array; lt: Uint8Array } {
    return { gte: blockTxKey(height, 0), lt: blockTxKey(height + 1, 0) };
  }
}

/**
 * The encoded tx at `index` of an encoded block, as a view into it: the
 * "txs" array is walked item by item, nothing else is decoded. Undefined
 * when there is no such tx.
 */
export function blockTxBytes(block: Uint8Array, index: number): Uint8Array | undefined {
  const txs = mapValueBytes(block, "txs");
  if (!txs || txs.length === 0 || txs[0]! >> 5 !== 4) return undefined;
  const { count, pos: first } = arrayHead(txs);
  if (index < 0 || index >= count) return undefined;
  let pos = first;
  for (let i = 0; i < index; i++) pos = endOfItem(txs, pos);
  // A byte string: its head, then its bytes.
  const end = endOfItem(txs, pos);
  const { count: len, pos: start } = arrayHead(txs, pos);
  return start + len === end ? txs.subarray(start, end) : undefined;
}

/** The argument of the CBOR head at `pos` (a length or count) and where the content starts. */
function arrayHead(bytes: Uint8Array, pos = 0): { count: number; pos: number } {
  const info = bytes[pos]! & 0x1f;
  if (info < 24) return { count: info, pos: pos + 1 };
  const view = new DataView(bytes.buffer, bytes.byteOffset + pos + 1);
  if (info === 24) return { count: view.getUint8(0), pos: pos + 2 };
  if (info === 25) return { count: view.getUint16(0), pos: pos + 3 };
  if (info === 26) return { count: view.getUint32(0), pos: pos + 5 };
  return { count: Number(view.getBigUint64(0)), pos: pos + 9 };
}
