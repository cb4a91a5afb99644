/**
 * Merkle nodes of the state tree, under SmtNode by node hash, and the
 * stale-node index under StaleSmtNode: the nodes each height's tree no
 * longer holds, so trees older than the kept history can be pruned.
 */
import { smtNodeKey, staleSmtNodeKey } from "../buckets.js";
import type { KvBatch, KvStore } from "../db/kv.js";
import { EMPTY_ROOT, type StaleNode } from "../smt.js";

/** A stale-node entry: where its node went stale, and what finds the node again when it may be created again. */
export interface StaleEntry {
  /** The entry's own key (deleted with it). */
  key: Uint8Array;
  hash: Uint8Array;
  /** Set when the node may be created again: the walk that finds it in a tree. */
  trail?: { hash: Uint8Array; leaf: boolean; depth: number; path: Uint8Array };
}

/** The value of index keys whose key says it all. */
const EMPTY = new Uint8Array(0);

/** The value of a stale-node entry whose node may be created again: u8 leaf, u16be depth, the path key (32). */
function encodeStaleTrail(n: StaleNode): Uint8Array {
  const out = new Uint8Array(3 + n.path.length);
  out[0] = n.leaf ? 1 : 0;
  new DataView(out.buffer).setUint16(1, n.depth);
  out.set(n.path, 3);
  return out;
}

function decodeStaleTrail(hash: Uint8Array, v: Uint8Array): { hash: Uint8Array; leaf: boolean; depth: number; path: Uint8Array } {
  return { hash, leaf: v[0] === 1, depth: new DataView(v.buffer, v.byteOffset + 1, 2).getUint16(0), path: v.subarray(3) };
}

export class SmtNodeRepository {
  /** Node reads of one turn of the event loop, read by one getMany. */
  private nodeReads: { keys: Uint8Array[]; done: Promise<Array<Uint8Array | undefined>> } | undefined;

  constructor(private readonly kv: KvStore) {}

  /**
   * One node by hash. The tree walks both sides of a node at once, so the
   * misses of a whole level arrive in the same turn: they go to the store
   * together, one call instead of one awaited get per node.
   */
  async get(hash: Uint8Array): Promise<Uint8Array | undefined> {
    let round = this.nodeReads;
    if (!round) {
      const keys: Uint8Array[] = [];
      const done = new Promise<void>((r) => setImmediate(r)).then(() => {
        this.nodeReads = undefined;
        return this.kv.getMany(keys);
      });
      round = this.nodeReads = { keys, done };
    }
    const i = round.keys.push(smtNodeKey(hash)) - 1;
    return (await round.done)[i];
  }

  /** Adds nodes (by hex hash) to `batch`. */
  putNodes(batch: KvBatch, nodes: Iterable<[string, Uint8Array]>): void {
    for (const [hex, node] of nodes) batch.put(smtNodeKey(Buffer.from(hex, "hex")), node);
  }

  /** Adds one node to `batch`. */
  putNode(batch: KvBatch, hash: Uint8Array, node: Uint8Array): void {
    batch.put(smtNodeKey(hash), node);
  }

  delNode(batch: KvBatch, hash: Uint8Array): void {
    batch.del(smtNodeKey(hash));
  }

  /** Adds the nodes the tree of `height` no longer holds to the stale index, in `batch`. */
  putStale(batch: KvBatch, height: number, stale: readonly StaleNode[]): void {
    for (const n of stale) batch.put(staleSmtNodeKey(height, n.hash), n.mayReturn ? encodeStaleTrail(n) : EMPTY);
  }

  /** Stale entries of heights `from` to `to` (inclusive), in height order. */
  async *staleBetween(from: number, to: number): AsyncIterable<StaleEntry> {
    for await (const [key, value] of this.kv.entries({ gte: staleSmtNodeKey(from, EMPTY_ROOT), lt: staleSmtNodeKey(to + 1, EMPTY_ROOT) })) {
      const hash = key.subarray(9);
      yield value.length > 0 ? { key, hash, trail: decodeStaleTrail(hash, value) } : { key, hash };
    }
  }

  delStale(batch: KvBatch, entry: StaleEntry): void {
    batch.del(entry.key);
  }
}
