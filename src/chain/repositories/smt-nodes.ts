/**
 * Merkle nodes of the state tree, under SmtNodeAt by the height that wrote
 * them and node hash (under SmtNode by node hash alone in a store that
 * began before), and the stale-node index under StaleSmtNode: the records
 * each height's tree no longer holds, so trees older than the kept history
 * can be pruned.
 */
import { readU64be, smtNodeAtKey, smtNodeKey, staleSmtNodesKey } from "../buckets.js";
import type { KvBatch, KvStore } from "../db/kv.js";
import { damagedStoreError } from "../store-faults.js";
import type { NodeAt, StaleNode } from "../smt.js";
import { VarintError, VarintReader, encodeVarints } from "../varint.js";

const HASH_BYTES = 32;
/** Bucket tag and u64be height. */
const STALE_RECORD_KEY_BYTES = 9;

function readHeight(key: Uint8Array): number {
  return readU64be(key, 1);
}

/** The key of the record of `hash` at `at` (NodeAt). */
function nodeKey(hash: Uint8Array, at: NodeAt): Uint8Array {
  return at === 0 ? smtNodeKey(hash) : smtNodeAtKey(at - 1, hash);
}

/** A record a tree no longer holds, and what finds it again when it may be written again. */
export interface StaleEntry {
  hash: Uint8Array;
  /** Where the record is (NodeAt). */
  at: NodeAt;
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
 * A height's record: a format byte (2), then per record its place (a
 * varint NodeAt) and its hash (32). No record is written again once stale
 * (a node made again gets a record at its new height; nothing is written
 * under a hash alone any more), so none needs a check before it is
 * deleted.
 *
 * Format 1, written before records were keyed by height, and still read:
 * per node u8 flags (bit 0: a trail follows, bit 1: the node is a leaf),
 * its hash (32), and with a trail u16be depth and the path key (32); every
 * node's record is under its hash alone.
 *
 * One key per height instead of one per node (about 15 per create at
 * 300,000 DIDs): each key written is a key deleted again K heights later,
 * whose tombstone LevelDB carries down through every level
 * (docs/storage.md, "One stale record per height").
 */
const STALE_FORMAT = 2;
const STALE_FORMAT_TRAILS = 1;
const FLAG_TRAIL = 1;
const FLAG_LEAF = 2;
const PATH_BYTES = 32;

function encodeStaleRecord(stale: readonly StaleNode[]): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(STALE_FORMAT)];
  for (const n of stale) {
    if (n.hash.length !== HASH_BYTES) throw new RangeError(`stale node: expected a ${HASH_BYTES}-byte hash, got ${n.hash.length}`);
    if (n.mayReturn) throw new RangeError("stale node: a record that may be written again is not written by this store");
    parts.push(encodeVarints([n.at]), n.hash);
  }
  return Buffer.concat(parts);
}

function decodeStaleRecord(height: number, v: Uint8Array): StaleEntry[] {
  // Damage (LEVEL_CORRUPTION): the node stops with the damaged-data remedy rather than prune the wrong nodes.
  const bad = (why: string) => damagedStoreError(`the stale-node record of height ${height} is malformed: ${why} (${v.length} bytes): the store is damaged; resync (remove data/chain and start the node again)`);
  if (v[0] === STALE_FORMAT) {
    const reader = new VarintReader(v, 1);
    const entries: StaleEntry[] = [];
    while (!reader.done) {
      const from = reader.at;
      let at: number;
      try {
        at = reader.next();
      } catch (e) {
        if (e instanceof VarintError) throw bad(`the place at byte ${from}: ${e.message}`);
        throw e;
      }
      // A place is 0 (under the hash alone) or a height + 1, at most this record's own height + 1.
      if (at > height + 1) throw bad(`place ${at} at byte ${from}`);
      if (reader.at + HASH_BYTES > v.length) throw bad(`node at byte ${from} cut short`);
      entries.push({ hash: v.subarray(reader.at, reader.at + HASH_BYTES), at });
      reader.at += HASH_BYTES;
    }
    return entries;
  }
  if (v[0] !== STALE_FORMAT_TRAILS) throw bad(`format ${v.length === 0 ? "missing" : v[0]}, expected ${STALE_FORMAT}`);
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
      entries.push({ hash, at: 0, trail: { hash, leaf: (flags & FLAG_LEAF) !== 0, depth, path: v.subarray(end - PATH_BYTES, end) } });
    } else {
      entries.push({ hash, at: 0 });
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
   * The record of `hash` at `at` (NodeAt). The tree walks both sides of a
   * node at once, so the misses of a whole level arrive in the same turn:
   * they go to the store together, one call instead of one awaited get per
   * node.
   */
  async get(hash: Uint8Array, at: NodeAt): Promise<Uint8Array | undefined> {
    let round = this.nodeReads;
    if (!round) {
      const keys: Uint8Array[] = [];
      const done = new Promise<void>((r) => setImmediate(r)).then(() => {
        this.nodeReads = undefined;
        return this.kv.getMany(keys);
      });
      round = this.nodeReads = { keys, done };
    }
    const i = round.keys.push(nodeKey(hash, at)) - 1;
    return (await round.done)[i];
  }

  /** Adds the records (by hex hash) the block of `height` wrote to `batch`. */
  putNodes(batch: KvBatch, height: number, nodes: Iterable<[string, Uint8Array]>): void {
    for (const [hex, node] of nodes) batch.put(smtNodeAtKey(height, Buffer.from(hex, "hex")), node);
  }

  /** Adds one record of `height` to `batch`. */
  putNode(batch: KvBatch, height: number, hash: Uint8Array, node: Uint8Array): void {
    batch.put(smtNodeAtKey(height, hash), node);
  }

  /** Deletes the record of `hash` at `at` (NodeAt) in `batch`. */
  delNode(batch: KvBatch, hash: Uint8Array, at: NodeAt): void {
    batch.del(nodeKey(hash, at));
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
      yield { key, entries: [value.length > 0 ? { hash, at: 0, trail: decodeStaleTrail(hash, value) } : { hash, at: 0 }] };
    }
  }

  delStale(batch: KvBatch, record: StaleRecord): void {
    batch.del(record.key);
  }

  /**
   * Adds to `batch` the deletion of the records that went stale at heights
   * `from` to `to`, with their stale records; a record under its hash alone
   * that may have been written again (its entry has a trail) is kept when
   * `holds` says a kept tree has it.
   */
  async pruneInto(batch: KvBatch, from: number, to: number, holds: (trail: NonNullable<StaleEntry["trail"]>) => Promise<boolean>): Promise<void> {
    for await (const record of this.staleBetween(from, to)) {
      this.delStale(batch, record);
      for (const entry of record.entries) {
        if (entry.trail && (await holds(entry.trail))) continue;
        this.delNode(batch, entry.hash, entry.at);
      }
    }
  }
}
