/**
 * Merkle nodes of the state tree, under SmtNode by node hash, and the
 * stale-node index under StaleSmtNode: the nodes each height's tree no
 * longer holds, so trees older than the kept history can be pruned.
 */
import { smtNodeKey, staleSmtNodesKey } from "../buckets.js";
import type { KvBatch, KvStore } from "../db/kv.js";
import { damagedStoreError } from "../store-faults.js";
import type { StaleNode } from "../smt.js";

const HASH_BYTES = 32;
/** Bucket tag and u64be height. */
const STALE_RECORD_KEY_BYTES = 9;

function readHeight(key: Uint8Array): number {
  return Number(new DataView(key.buffer, key.byteOffset + 1, 8).getBigUint64(0));
}

/** A node a tree no longer holds, and what finds it again when it may be created again. */
export interface StaleEntry {
  hash: Uint8Array;
  /** Set when the node may be created again: the walk that finds it in a tree. */
  trail?: { hash: Uint8Array; leaf: boolean; depth: number; path: Uint8Array };
}

/** The stale nodes of one height as stored under one key: the height's record, or one node's entry in a store of the earlier layout. */
export interface StaleRecord {
  /** The key, deleted once its nodes are pruned. */
  key: Uint8Array;
  entries: StaleEntry[];
}

/**
 * A height's record: a format byte (1), then per node u8 flags (bit 0: a
 * trail follows, bit 1: the node is a leaf), its hash (32), and with a
 * trail u16be depth and the path key (32). One key per height instead of
 * one per node (about 15 per create at 300,000 DIDs): each key written is
 * a key deleted again K heights later, whose tombstone LevelDB carries
 * down through every level (docs/storage.md, "One stale record per height").
 */
const STALE_FORMAT = 1;
const FLAG_TRAIL = 1;
const FLAG_LEAF = 2;
const PATH_BYTES = 32;

function encodeStaleRecord(stale: readonly StaleNode[]): Uint8Array {
  let size = 1;
  for (const n of stale) {
    if (n.hash.length !== HASH_BYTES || (n.mayReturn && n.path.length !== PATH_BYTES)) {
      throw new RangeError(`stale node: expected a ${HASH_BYTES}-byte hash and a ${PATH_BYTES}-byte path, got ${n.hash.length} and ${n.path.length}`);
    }
    size += 1 + HASH_BYTES + (n.mayReturn ? 2 + PATH_BYTES : 0);
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = STALE_FORMAT;
  let at = 1;
  for (const n of stale) {
    out[at] = (n.mayReturn ? FLAG_TRAIL : 0) | (n.mayReturn && n.leaf ? FLAG_LEAF : 0);
    out.set(n.hash, at + 1);
    at += 1 + HASH_BYTES;
    if (!n.mayReturn) continue;
    view.setUint16(at, n.depth);
    out.set(n.path, at + 2);
    at += 2 + PATH_BYTES;
  }
  return out;
}

function decodeStaleRecord(height: number, v: Uint8Array): StaleEntry[] {
  // Damage (LEVEL_CORRUPTION): the node stops with the damaged-data remedy rather than prune the wrong nodes.
  const bad = (why: string) => damagedStoreError(`the stale-node record of height ${height} is malformed: ${why} (${v.length} bytes): the store is damaged; resync (remove data/chain and start the node again)`);
  if (v[0] !== STALE_FORMAT) throw bad(`format ${v.length === 0 ? "missing" : v[0]}, expected ${STALE_FORMAT}`);
  const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const entries: StaleEntry[] = [];
  let at = 1;
  while (at < v.length) {
    const flags = v[at]!;
    if ((flags & ~(FLAG_TRAIL | FLAG_LEAF)) !== 0 || flags === FLAG_LEAF) throw bad(`flags ${flags} at byte ${at}`);
    const end = at + 1 + HASH_BYTES + (flags & FLAG_TRAIL ? 2 + PATH_BYTES : 0);
    if (end > v.length) throw bad(`node at byte ${at} cut short`);
    const hash = v.subarray(at + 1, at + 1 + HASH_BYTES);
    if (flags & FLAG_TRAIL) {
      const depth = view.getUint16(at + 1 + HASH_BYTES);
      entries.push({ hash, trail: { hash, leaf: (flags & FLAG_LEAF) !== 0, depth, path: v.subarray(end - PATH_BYTES, end) } });
    } else {
      entries.push({ hash });
    }
    at = end;
  }
  return entries;
}

/** An entry of the earlier layout: empty, or u8 leaf, u16be depth, the path key. */
function decodeStaleTrail(hash: Uint8Array, v: Uint8Array): { hash: Uint8Array; leaf: boolean; depth: number; path: Uint8Array } {
  return { hash, leaf: v[0] === 1, depth: new DataView(v.buffer, v.byteOffset + 1, 2).getUint16(0), path: v.subarray(3) };
}

export class SmtNodeRepository {
  /** Node reads of one turn of the event loop, read by one getMany. */
  private nodeReads: { keys: Uint8Array[]; done: Promise<Array<Uint8Array | undefined>> } | undefined;

  constructor(
    private readonly kv: KvStore,
    /** Told of a stale-node record that cannot be read (damage), before the walk fails with it. */
    private readonly damaged: (e: unknown) => void = () => {},
  ) {}

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

  /** Adds the nodes the tree of `height` no longer holds to the stale index, in `batch`: one record, none when there are none. */
  putStale(batch: KvBatch, height: number, stale: readonly StaleNode[]): void {
    if (stale.length > 0) batch.put(staleSmtNodesKey(height), encodeStaleRecord(stale));
  }

  /** The stale records of heights `from` to `to` (inclusive), in height order. */
  async *staleBetween(from: number, to: number): AsyncIterable<StaleRecord> {
    for await (const [key, value] of this.kv.entries({ gte: staleSmtNodesKey(from), lt: staleSmtNodesKey(to + 1) })) {
      if (key.length === STALE_RECORD_KEY_BYTES) {
        let entries: StaleEntry[];
        try {
          entries = decodeStaleRecord(readHeight(key), value);
        } catch (e) {
          this.damaged(e);
          throw e;
        }
        yield { key, entries };
        continue;
      }
      // The earlier layout: height, then the node's hash in the key.
      const hash = key.subarray(STALE_RECORD_KEY_BYTES);
      yield { key, entries: [value.length > 0 ? { hash, trail: decodeStaleTrail(hash, value) } : { hash }] };
    }
  }

  delStale(batch: KvBatch, record: StaleRecord): void {
    batch.del(record.key);
  }
}
