/**
 * The node's LevelDB store: blocks, commits, state (DID records and the
 * sparse Merkle tree nodes under the state root) and indexes (block by hash,
 * tx by hash, DID version history). A block and everything it changes is
 * written in one atomic, synced batch (invariant 3): after `kill -9` the
 * store holds a whole block or none of it.
 */
import { Level } from "level";
import { LRUCache } from "lru-cache";
import { decodeCanonical, encodeCanonical, endOfItem, mapValueBytes } from "./codec.js";
import {
  Bucket,
  blockByHashKey,
  blockKey,
  blockTxKey,
  commitKey,
  didKey,
  didVersionEntryKey,
  didVersionEntryPrefix,
  didVersionKey,
  didVersionTimeKey,
  didVersionTimePrefix,
  evidenceByHashKey,
  evidenceByValidatorKey,
  evidenceByValidatorPrefix,
  evidenceOrderKey,
  evidenceOrderPrefix,
  exportKey,
  metaKey,
  readU32be,
  readU64be,
  registryKey,
  registryPrefix,
  smtNodeKey,
  staleSmtNodeKey,
  txIndexKey,
  u64be,
  validatorSetKey,
} from "./buckets.js";
import { type ExportEntry, decodeExportEntry, encodeExportEntry } from "./export-log.js";
import { VALIDATORS_ID, type ValidatorEntry, type ValidatorsRecord } from "./validators.js";
import { type Block, type BlockHeader, type Commit, decodeBlock, decodeCommit, encodeBlock, encodeCommit } from "./block.js";
import { SparseMerkleTree, EMPTY_ROOT, type StaleNode } from "./smt.js";
import { bytesEqual, toHex } from "../crypto/bytes.js";
import { FaultLatch, guardLevel } from "./store-faults.js";
import { sha256 } from "../crypto/hash.js";
import { BlockErrorCode, ChainError, EvidenceErrorCode } from "./errors.js";
import type { StateProof } from "./proof.js";
import type { SmtProof } from "./smt.js";
import type { DidDocument } from "../did/document.js";
import {
  type DidOperation,
  type DidRecord,
  type DidVersion,
  type StateRecord,
  type StateView,
  decodeDidVersion,
  decodeStateRecord,
  encodeDidRecord,
  encodeDidVersion,
  encodeStateRecord,
  isDidStateId,
  stateIdOf,
  stateKeyOf,
  viewOfRecords,
} from "./state.js";
import type { StatusListRecord } from "./state.js";

export interface ChainHead {
  height: number;
  hash: Uint8Array;
  time: number;
  stateRoot: Uint8Array;
}

export interface TxLocation {
  height: number;
  index: number;
}

export interface BlockCommitBatch {
  block: Block;
  blockHash: Uint8Array;
  commit: Commit;
  txHashes: Uint8Array[];
  /** Records written, by state id. */
  writes: Map<string, StateRecord>;
  /** Encodings of `writes`, as hashed into the state root. */
  encodedWrites: Map<string, Uint8Array>;
  versions: DidVersion[];
  /** Encodings of documents the versions hold, by document object (BlockEffects.documents): not encoded again. */
  documents?: ReadonlyMap<DidDocument, Uint8Array>;
  smtNodes: Map<string, Uint8Array>;
  /** The validator's double-sign guard state, made durable with the block. */
  signState?: unknown;
  /** Proposer priorities of the next height (consensus/proposer.ts encoding), stored with the block so a restart agrees on proposers. */
  nextProposerPriorities?: Uint8Array;
  /** The block's evidence, in block order, with what the caller decoded of it (the chain room does not decode votes). */
  evidence?: CommittedEvidenceIndex[];
}

/** What the store indexes of one piece of evidence in a block. */
export interface CommittedEvidenceIndex {
  /** sha256 of the evidence encoding. */
  hash: Uint8Array;
  /** Address (20 bytes) of the validator it convicts. */
  validator: Uint8Array;
}

/** Where committed evidence is: block height, index in the block's evidence list, the convicted validator. */
export interface EvidenceLocation {
  height: number;
  index: number;
  validator: Uint8Array;
}

/** Committed evidence: its location, hash and encoding. */
export interface StoredEvidence extends EvidenceLocation {
  hash: Uint8Array;
  encoded: Uint8Array;
}

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
const MAX_VERSION_ID = 0xffff_ffff;

function encodeVersionEntry(v: DidVersion): Uint8Array {
  return encodeCanonical({ operation: v.operation, height: v.height, time: v.time, txHash: v.txHash });
}

function decodeVersionEntry(versionId: number, raw: Uint8Array): DidVersionEntry {
  const e = decodeCanonical(raw) as unknown as Omit<DidVersionEntry, "versionId">;
  return { versionId, operation: e.operation, height: e.height, time: e.time, txHash: e.txHash };
}

type Db = Level<Uint8Array, Uint8Array>;
/** Cache entry meaning "no such record". */
const ABSENT = Symbol("absent");

const HEAD = metaKey("head");
/** meta "stateKeptFrom" -> u64be: the lowest height whose state tree is whole (older ones are pruned). */
const STATE_KEPT_FROM = metaKey("stateKeptFrom");
/** Stale-node computations kept for the commit that follows them (one per proposal considered at a height). */
const PENDING_STALE = 16;
/** The first height whose block the store holds, on a node restored from a snapshot (absent: 1). */
const BASE_HEIGHT = metaKey("baseHeight");
const GENESIS_HASH = metaKey("genesisHash");
const SIGN_STATE = metaKey("signState");
/**
 * Layout of the version indexes (DidVersionEntry, DidVersionTime). A store
 * written before they existed has no marker: open() builds them from the
 * versions, once. A marker of another layout is refused with a resync hint.
 */
const VERSION_INDEX = metaKey("versionIndex");
const VERSION_INDEX_LAYOUT = 1;
/**
 * The last export sequence number assigned (u64be), written with every
 * block. A store written before the export log existed has none: open()
 * numbers its committed txs from its blocks, once (the marker goes last).
 */
const EXPORT_SEQ = metaKey("exportSeq");
/** Blocks numbered per batch when open() builds the export log of an older store. */
const EXPORT_REINDEX_BLOCKS = 200;
/** Versions indexed per batch when open() builds the indexes of an older store. */
const REINDEX_BATCH = 1_000;

/** The value of index keys whose key says it all. */
const EMPTY = new Uint8Array(0);
/** meta "proposerPriorities/<height>" -> encoded ProposerPriorities of that height. */
const proposerPrioritiesKey = (height: number) => metaKey(`proposerPriorities/${height}`);
/**
 * Attempts of proveState before giving up. An attempt fails only when a
 * block rewrote the proven key between reading the head and reading the
 * record; that needs a new block touching the same key each time.
 */
const PROOF_ATTEMPTS = 5;

export interface StoreOptions {
  /** State records (DIDs, issuers, status lists, ...) kept decoded in memory. */
  didCacheSize: number;
  /** Merkle nodes kept in memory. */
  smtCacheSize: number;
  /**
   * Heights whose whole state tree is kept (K >= 2): the head and the K-1
   * before it stay provable; a Merkle node only older trees held is deleted
   * when the block K heights after it stopped being current commits.
   */
  stateHistory: number;
}

/**
 * 50,000 decoded records: a decoded DID record with its document, and the
 * resolution result kept beside it, take some KB of heap each, so 200,000
 * of them held most of a GB. Records beyond it come from LevelDB's own block
 * cache (LEVEL_CACHE_BYTES, compressed blocks' plain bytes) in one get.
 */
export const defaultStoreOptions: StoreOptions = { didCacheSize: 50_000, smtCacheSize: 400_000, stateHistory: 100 };

/** LevelDB's block cache: 64 MiB of table blocks (its default is 8 MiB), cheaper per record than decoded objects. */
const LEVEL_CACHE_BYTES = 64 * 1024 * 1024;


/** LevelDB key of a record: bucket D for DIDs, R for the registry. */
function stateDbKey(id: string): Uint8Array {
  return isDidStateId(id) ? didKey(id) : registryKey(id);
}

function isVersionId(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 1 && n <= MAX_VERSION_ID;
}

/**
 * The encoded tx at `index` of an encoded block, as a view into it: the
 * "txs" array is walked item by item, nothing else is decoded. Undefined
 * when there is no such tx.
 */
function blockTxBytes(block: Uint8Array, index: number): Uint8Array | undefined {
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

/** The first key after every key starting with `prefix`. */
function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = new Uint8Array(prefix);
  let i = end.length - 1;
  while (i >= 0 && end[i] === 0xff) i--;
  end[i] = end[i]! + 1;
  return end.subarray(0, i + 1);
}

export class ChainStore {
  readonly smt: SparseMerkleTree;
  private headCache: ChainHead | undefined;
  /** The last export sequence number committed (0 before the first tx). */
  private exportSeq = 0;
  private base = 1;
  /** Header and commit of the latest height proven against: one block decode per height, not per proof. */
  private proofAnchor: { height: number; header: BlockHeader; commit: Commit } | undefined;
  /** Cached records by state id, including known absences. */
  private readonly dids: LRUCache<string, StateRecord | typeof ABSENT>;
  /** The first storage fault of this store (faults.fault), and who is told of it (faults.onFault). */
  faults = new FaultLatch();
  /** K of StoreOptions.stateHistory. */
  private readonly stateHistory: number;
  /** The lowest height whose state tree is whole. */
  private keptFrom = 0;
  /** Nodes each state root computed from the head's root made stale, by "<from hex>:<root hex>", for commitBlock. */
  private readonly pendingStale = new LRUCache<string, StaleNode[]>({ max: PENDING_STALE });

  private constructor(
    readonly db: Db,
    opts: StoreOptions,
  ) {
    if (!Number.isSafeInteger(opts.stateHistory) || opts.stateHistory < 2) {
      throw new RangeError(`stateHistory must be an integer of at least 2 (the head and the height before it), got ${opts.stateHistory}`);
    }
    this.stateHistory = opts.stateHistory;
    this.dids = new LRUCache({ max: opts.didCacheSize });
    this.smt = new SparseMerkleTree({ getNode: (hash) => this.readNode(hash) }, { cacheSize: opts.smtCacheSize });
  }

  /** Merkle node reads of one turn of the event loop, read by one getMany. */
  private nodeReads: { keys: Uint8Array[]; done: Promise<Array<Uint8Array | undefined>> } | undefined;

  /**
   * One Merkle node from the store. The tree walks both sides of a node at
   * once, so the misses of a whole level arrive in the same turn: they go
   * to LevelDB together, one call instead of one awaited get per node.
   */
  private async readNode(hash: Uint8Array): Promise<Uint8Array | undefined> {
    let round = this.nodeReads;
    if (!round) {
      const keys: Uint8Array[] = [];
      const done = new Promise<void>((r) => setImmediate(r)).then(() => {
        this.nodeReads = undefined;
        return this.db.getMany(keys);
      });
      round = this.nodeReads = { keys, done };
    }
    const i = round.keys.push(smtNodeKey(hash)) - 1;
    return (await round.done)[i];
  }

  static async open(path: string, opts: Partial<StoreOptions> = {}): Promise<ChainStore> {
    const latch = new FaultLatch();
    // Reads and writes that fail for the disk's sake (IO error, corruption, full or read-only disk) are reported to `faults`.
    const db: Db = guardLevel(new Level<Uint8Array, Uint8Array>(path, { keyEncoding: "view", valueEncoding: "view", cacheSize: LEVEL_CACHE_BYTES }), latch, path);
    await db.open();
    const store = new ChainStore(db, { ...defaultStoreOptions, ...opts });
    store.faults = latch;
    const [head, keptFrom] = await db.getMany([HEAD, STATE_KEPT_FROM]);
    if (head) store.headCache = decodeCanonical(head) as unknown as ChainHead;
    if (keptFrom) store.keptFrom = readU64be(keptFrom);
    const base = await db.get(BASE_HEIGHT);
    if (base) store.base = readU64be(base);
    if (head) {
      try {
        await store.checkVersionIndex();
        await store.checkExportLog();
      } catch (e) {
        await db.close();
        throw e;
      }
    }
    return store;
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** The latest committed block, or the genesis pseudo-head (height 0). */
  head(): ChainHead {
    if (!this.headCache) throw new Error("store has no genesis; call initGenesis first");
    return this.headCache;
  }

  /**
   * The first height whose block, commit, txs and DID versions this store
   * holds: 1, or the snapshot height of a node restored by state sync.
   */
  baseHeight(): number {
    return this.base;
  }

  isInitialized(): boolean {
    return this.headCache !== undefined;
  }

  async genesisHash(): Promise<Uint8Array | undefined> {
    return this.db.get(GENESIS_HASH);
  }

  /** Record genesis: height 0, with the records genesis names (trustees, issuers) as its state. */
  async initGenesis(genesisHash: Uint8Array, genesisTime: number, records: readonly StateRecord[] = []): Promise<void> {
    const writes = new Map(records.map((r) => [stateIdOf(r), r]));
    const { root, nodes, encoded } = await this.computeStateRootFrom(EMPTY_ROOT, writes);
    const head: ChainHead = { height: 0, hash: genesisHash, time: genesisTime, stateRoot: root };
    const batch = this.db.batch();
    batch.put(GENESIS_HASH, genesisHash);
    for (const [id, bytes] of encoded) batch.put(stateDbKey(id), bytes);
    for (const [hex, node] of nodes) batch.put(smtNodeKey(Buffer.from(hex, "hex")), node);
    const vals = writes.get(VALIDATORS_ID) as ValidatorsRecord | undefined;
    if (vals) {
      batch.put(validatorSetKey(1), encodeCanonical(vals.current as never));
      for (const p of vals.pending) batch.put(validatorSetKey(p.effectiveHeight), encodeCanonical(p.set as never));
    }
    batch.put(HEAD, encodeCanonical(head as never));
    batch.put(VERSION_INDEX, Uint8Array.of(VERSION_INDEX_LAYOUT));
    batch.put(EXPORT_SEQ, u64be(0));
    await batch.write({ sync: true });
    this.headCache = head;
    this.exportSeq = 0;
  }

  /**
   * The version indexes are read-side only (no state root covers them), so
   * a store written before they existed is indexed from its versions here,
   * in batches; the marker goes last, so a crash midway redoes the work.
   */
  private async checkVersionIndex(): Promise<void> {
    const mark = await this.db.get(VERSION_INDEX);
    if (mark) {
      if (mark.length === 1 && mark[0] === VERSION_INDEX_LAYOUT) return;
      throw new Error(
        `the data dir's DID version index has layout ${Buffer.from(mark).toString("hex")}, this node reads layout ${VERSION_INDEX_LAYOUT}: ` +
          "run the node version that wrote it, or resync (remove data/chain and start the node again)",
      );
    }
    let batch = this.db.batch();
    let pending = 0;
    for await (const raw of this.db.values({ gte: Uint8Array.of(Bucket.DidVersion), lt: Uint8Array.of(Bucket.DidVersion + 1) })) {
      const v = decodeDidVersion(raw);
      batch.put(didVersionEntryKey(v.did, v.versionId), encodeVersionEntry(v));
      // The first version's time is in its entry: didVersionAt falls back to it.
      if (v.versionId > 1) batch.put(didVersionTimeKey(v.did, v.time, v.versionId), EMPTY);
      if (++pending === REINDEX_BATCH) {
        await batch.write();
        batch = this.db.batch();
        pending = 0;
      }
    }
    batch.put(VERSION_INDEX, Uint8Array.of(VERSION_INDEX_LAYOUT));
    await batch.write({ sync: true });
  }

  /**
   * The export log is derived from the blocks (no state root covers it), so
   * a store written before it existed is numbered here from its blocks, in
   * height order, in batches; the last sequence number goes last, so a
   * crash midway numbers again from the start (the same numbers).
   */
  private async checkExportLog(): Promise<void> {
    const mark = await this.db.get(EXPORT_SEQ);
    if (mark) {
      if (mark.length !== 8) throw new Error(`the data dir's export sequence marker is ${mark.length} bytes, expected 8: resync (remove data/chain and start the node again)`);
      this.exportSeq = readU64be(mark);
      return;
    }
    // A store restored from a snapshot holds no export log (see exportEntries).
    if (this.base > 1) return;
    let seq = 0;
    let expected = 1;
    let batch = this.db.batch();
    let blocks = 0;
    for await (const raw of this.db.values({ gte: blockKey(1), lt: Uint8Array.of(Bucket.Block + 1) })) {
      const block = decodeBlock(raw);
      const height = block.header.height;
      // The numbers count every tx from block 1: a store without its early blocks cannot be numbered from them.
      if (height !== expected++) {
        throw new Error(`the data dir has no export log and its blocks start at height ${height}, not 1: its ops cannot be numbered; resync (remove data/chain and start the node again)`);
      }
      // A block of the current layout keeps its txs under BlockTx; one of the earlier layout, inline.
      let txs = block.txs.length;
      if (txs === 0) for await (const _ of this.db.keys({ gte: blockTxKey(height, 0), lt: blockTxKey(height + 1, 0) })) txs++;
      for (let index = 0; index < txs; index++) batch.put(exportKey(++seq), encodeExportEntry(height, index));
      if (++blocks === EXPORT_REINDEX_BLOCKS) {
        await batch.write();
        batch = this.db.batch();
        blocks = 0;
      }
    }
    batch.put(EXPORT_SEQ, u64be(seq));
    await batch.write({ sync: true });
    this.exportSeq = seq;
  }

  /** The last export sequence number committed: the number of txs in blocks 1 to the head. */
  lastExportSeq(): number {
    return this.exportSeq;
  }

  /** Export log entries with seq > `after`, in order, at most `limit` of them. */
  async exportEntries(after: number, limit: number): Promise<ExportEntry[]> {
    if (!Number.isSafeInteger(after) || after < 0) throw new RangeError(`after must be a sequence number (0 or more), got ${after}`);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
    if (this.base > 1) {
      throw new ChainError(
        BlockErrorCode.HISTORY_NOT_HERE,
        `the export log is not on this node: it was started from a state snapshot at height ${this.base}, and export numbers count every op from block 1; an archive node (one that replayed the chain from genesis) serves registry_export`,
        { firstHeight: this.base },
      );
    }
    const out: ExportEntry[] = [];
    if (after >= this.exportSeq) return out;
    for await (const [key, value] of this.db.iterator({ gt: exportKey(after), lt: Uint8Array.of(Bucket.Export + 1), limit })) {
      out.push(decodeExportEntry(readU64be(key.subarray(1)), value));
    }
    return out;
  }

  /**
   * The validator set in force at `height` (1 to head + 2: a change made in
   * the head block starts at head + 2 and is already known), from the index
   * of sets by the height they start at. Undefined when the chain keeps no
   * validator set in state (a store initialised without the genesis record):
   * then the genesis file's set signs every height.
   */
  async validatorSetAt(height: number): Promise<ValidatorEntry[] | undefined> {
    const top = this.head().height + 2;
    if (!Number.isSafeInteger(height) || height < 1 || height > top) {
      throw new ChainError(BlockErrorCode.NOT_FOUND, `the validator set is known for heights 1 to ${top}, not ${height}`);
    }
    for await (const value of this.db.values({ gte: validatorSetKey(0), lte: validatorSetKey(height), reverse: true, limit: 1 })) {
      return decodeCanonical(value) as unknown as ValidatorEntry[];
    }
    return undefined;
  }

  /** Where evidence with this hash was committed, or undefined. */
  getEvidenceLocation(hash: Uint8Array): Promise<EvidenceLocation | undefined> {
    return this.read(evidenceByHashKey(hash), (raw) => decodeCanonical(raw) as unknown as EvidenceLocation);
  }

  /** Committed evidence by hash, with its encoding (read from its block). */
  async getEvidence(hash: Uint8Array): Promise<StoredEvidence | undefined> {
    const loc = await this.getEvidenceLocation(hash);
    if (!loc) return undefined;
    const block = await this.getBlock(loc.height);
    const encoded = block?.evidence?.[loc.index];
    if (!encoded) throw new Error(`evidence index names block ${loc.height} item ${loc.index}, which the block store lacks`);
    return { ...loc, hash, encoded };
  }

  /**
   * Committed evidence in commit order (height, then position in the block),
   * all or one validator's, `limit` after the evidence hash `after`.
   */
  async listEvidence(opts: { validator?: Uint8Array; after?: Uint8Array; limit: number }): Promise<StoredEvidence[]> {
    const prefix = opts.validator ? evidenceByValidatorPrefix(opts.validator) : evidenceOrderPrefix();
    let gt: Uint8Array | undefined;
    if (opts.after) {
      const loc = await this.getEvidenceLocation(opts.after);
      if (!loc) throw new ChainError(EvidenceErrorCode.NOT_FOUND, `no committed evidence ${Buffer.from(opts.after).toString("hex")} to list after`);
      gt = opts.validator ? evidenceByValidatorKey(opts.validator, loc.height, loc.index) : evidenceOrderKey(loc.height, loc.index);
    }
    const out: StoredEvidence[] = [];
    for await (const hash of this.db.values({ ...(gt ? { gt } : { gte: prefix }), lt: prefixEnd(prefix), limit: opts.limit })) {
      const ev = await this.getEvidence(hash);
      if (ev) out.push(ev);
    }
    return out;
  }

  async getDid(did: string): Promise<DidRecord | undefined> {
    return (await this.getRecord(did)) as DidRecord | undefined;
  }

  /** Any state record by state id (`did:...`, `issuer:<did>`, `statuslist:<did>/<listId>`, ...). */
  async getRecord(id: string): Promise<StateRecord | undefined> {
    const cached = this.dids.get(id);
    if (cached !== undefined) return cached === ABSENT ? undefined : cached;
    const rec = await this.read(stateDbKey(id), decodeStateRecord);
    this.dids.set(id, rec ?? ABSENT);
    return rec;
  }

  /** Every record of a kind ("issuer", "proposal"), in id order: for the small governance sets. */
  async listRecords(kind: string, opts: { after?: string; limit: number }): Promise<StateRecord[]> {
    const prefix = registryPrefix(kind);
    const upper = prefixEnd(prefix);
    const gt = opts.after !== undefined ? registryKey(`${kind}:${opts.after}`) : undefined;
    const out: StateRecord[] = [];
    for await (const value of this.db.values({ ...(gt ? { gt } : { gte: prefix }), lt: upper, limit: opts.limit })) out.push(decodeStateRecord(value));
    return out;
  }

  /** The status lists of an issuer, in list id order, `limit` after the list id `after`: a scan of its records' ids. */
  async listStatusLists(issuer: string, opts: { after?: string; limit: number }): Promise<StatusListRecord[]> {
    const prefix = registryKey(`statuslist:${issuer}/`);
    const gt = opts.after !== undefined ? registryKey(`statuslist:${issuer}/${opts.after}`) : undefined;
    const out: StatusListRecord[] = [];
    for await (const value of this.db.values({ ...(gt ? { gt } : { gte: prefix }), lt: prefixEnd(prefix), limit: opts.limit })) {
      out.push(decodeStateRecord(value) as StatusListRecord);
    }
    return out;
  }

  /**
   * Load records for many DIDs. Cache misses of all callers in the same turn
   * of the event loop go to LevelDB as one getMany: admissions arrive one
   * request at a time, and a LevelDB call costs far more than a key.
   */
  async loadState(dids: Iterable<string>): Promise<Map<string, StateRecord | undefined>> {
    const out = new Map<string, StateRecord | undefined>();
    const misses: string[] = [];
    for (const did of dids) {
      if (out.has(did)) continue;
      const cached = this.dids.get(did);
      if (cached === undefined) {
        misses.push(did);
        out.set(did, undefined);
      } else out.set(did, cached === ABSENT ? undefined : cached);
    }
    if (misses.length > 0) {
      const recs = await this.readDidsBatched(misses);
      misses.forEach((did, i) => out.set(did, recs[i]));
    }
    return out;
  }

  private pendingReads: { dids: string[]; done: Promise<Map<string, StateRecord | undefined>> } | undefined;

  private async readDidsBatched(dids: string[]): Promise<Array<StateRecord | undefined>> {
    let round = this.pendingReads;
    if (!round) {
      const batch: string[] = [];
      const done = new Promise<void>((r) => setImmediate(r)).then(async () => {
        this.pendingReads = undefined;
        const raws = await this.db.getMany(batch.map(stateDbKey));
        const found = new Map<string, StateRecord | undefined>();
        batch.forEach((did, i) => {
          const raw = raws[i];
          const rec = raw ? decodeStateRecord(raw) : undefined;
          // A block committed meanwhile has put fresher records in the cache.
          if (!this.dids.has(did)) this.dids.set(did, rec ?? ABSENT);
          found.set(did, rec);
        });
        return found;
      });
      round = this.pendingReads = { dids: batch, done };
    }
    round.dids.push(...dids);
    const found = await round.done;
    return dids.map((d) => {
      const cached = this.dids.get(d);
      if (cached !== undefined) return cached === ABSENT ? undefined : cached;
      return found.get(d);
    });
  }

  /**
   * Every version of `did`, documents included: unbounded, for tests and
   * offline tools. Serving code reads one version (getDidVersion), one
   * entry (getDidVersionEntry), a page (didVersionPage) or a time
   * (didVersionAt).
   */
  async getDidVersions(did: string): Promise<DidVersion[]> {
    const prefix = didVersionEntryPrefix(did);
    const ids: number[] = [];
    for await (const key of this.db.keys({ gte: prefix, lt: prefixEnd(prefix) })) ids.push(readU32be(key, key.length - 4));
    const out: DidVersion[] = [];
    for (const id of ids) {
      const v = await this.getDidVersion(did, id);
      if (v) out.push(v);
    }
    return out;
  }

  /** One key of a bucket, decoded, or undefined when absent. */
  private async read<T>(key: Uint8Array, decode: (raw: Uint8Array) => T): Promise<T | undefined> {
    const raw = await this.db.get(key);
    return raw ? decode(raw) : undefined;
  }

  /**
   * One version with its document. A version stored whole (an older layout,
   * or one no tx brought) is one get; otherwise the entry, the tx's location
   * and the tx (see documentOfVersion): three small gets.
   */
  async getDidVersion(did: string, versionId: number): Promise<DidVersion | undefined> {
    if (!isVersionId(versionId)) return undefined;
    const [whole, rawEntry] = await this.db.getMany([didVersionKey(did, versionId), didVersionEntryKey(did, versionId)]);
    if (whole) return decodeDidVersion(whole);
    if (!rawEntry) return undefined;
    const e = decodeVersionEntry(versionId, rawEntry);
    const document = await this.documentOfVersion(did, e);
    return { did, versionId, operation: e.operation, height: e.height, time: e.time, txHash: e.txHash, document };
  }

  /**
   * The document of a version whose entry is `e` and which is not stored
   * whole: its create or update tx brought it, read by the tx index from the
   * block's own key for that tx (or, in a block of the earlier layout, from
   * the block's tx array without decoding the rest). A store missing any of
   * these is damaged.
   */
  private async documentOfVersion(did: string, e: DidVersionEntry): Promise<DidDocument> {
    const loc = await this.getTxLocation(e.txHash);
    let tx = loc && loc.height === e.height ? await this.db.get(blockTxKey(loc.height, loc.index)) : undefined;
    if (loc && !tx) {
      // A block of the earlier layout, its txs inline.
      const rawBlock = await this.db.get(blockKey(loc.height));
      tx = rawBlock && blockTxBytes(rawBlock, loc.index);
    }
    const payload = tx && mapValueBytes(tx, "payload");
    const doc = payload && mapValueBytes(payload, "document");
    if (!doc) throw new Error(`store damaged: the tx of ${did} version ${e.versionId} (${Buffer.from(e.txHash).toString("hex")}) holds no document in block ${e.height}; resync this node's data dir`);
    return decodeCanonical(doc) as unknown as DidDocument;
  }

  /** One version without its document (operation, height, time, tx): one small get. */
  async getDidVersionEntry(did: string, versionId: number): Promise<DidVersionEntry | undefined> {
    if (!isVersionId(versionId)) return undefined;
    return this.read(didVersionEntryKey(did, versionId), (raw) => decodeVersionEntry(versionId, raw));
  }

  /**
   * The number of the version of `did` valid at `time` (ms): the latest one
   * whose block time is not after it, by one reverse seek in the time index
   * (and the first version's entry when the seek finds none). Undefined when
   * `did` had no version yet then.
   */
  async didVersionAt(did: string, time: number): Promise<number | undefined> {
    if (!(time >= 0)) return undefined;
    const t = Math.min(Math.floor(time), Number.MAX_SAFE_INTEGER);
    for await (const key of this.db.keys({ gte: didVersionTimePrefix(did), lte: didVersionTimeKey(did, t, MAX_VERSION_ID), reverse: true, limit: 1 })) {
      return readU32be(key, key.length - 4);
    }
    // The time index holds versions from the second on (a store of the older layout holds the first too).
    const first = await this.getDidVersionEntry(did, 1);
    return first && first.time <= t ? 1 : undefined;
  }

  /**
   * Versions of `did` after version `after` (0: from the first), in version
   * order, at most `limit` of them and at most `maxBytes` of stored entries
   * (always at least one, so every page moves on). Reads the entry index
   * only, never a document.
   */
  async didVersionPage(did: string, opts: { after?: number; limit: number; maxBytes: number }): Promise<DidVersionPage> {
    const after = opts.after ?? 0;
    if (!Number.isSafeInteger(after) || after < 0) throw new RangeError(`after must be a version number (0 or more), got ${after}`);
    if (!Number.isSafeInteger(opts.limit) || opts.limit < 1) throw new RangeError(`limit must be a positive integer, got ${opts.limit}`);
    const entries: DidVersionEntry[] = [];
    if (after >= MAX_VERSION_ID) return { entries, more: false };
    const prefix = didVersionEntryPrefix(did);
    const range = after === 0 ? { gte: prefix } : { gt: didVersionEntryKey(did, after) };
    let bytes = 0;
    for await (const [key, value] of this.db.iterator({ ...range, lt: prefixEnd(prefix), limit: opts.limit + 1 })) {
      if (entries.length === opts.limit || (entries.length > 0 && bytes + value.length > opts.maxBytes)) return { entries, more: true };
      bytes += value.length;
      entries.push(decodeVersionEntry(readU32be(key, key.length - 4), value));
    }
    return { entries, more: false };
  }

  async getBlock(height: number): Promise<Block | undefined> {
    const block = await this.read(blockKey(height), decodeBlock);
    // A block of the earlier layout holds its txs inline; otherwise they are under BlockTx.
    if (!block || block.txs.length > 0) return block;
    for await (const tx of this.db.values({ gte: blockTxKey(height, 0), lt: blockTxKey(height + 1, 0) })) block.txs.push(tx);
    return block;
  }

  getBlockHeightByHash(hash: Uint8Array): Promise<number | undefined> {
    return this.read(blockByHashKey(hash), readU64be);
  }

  getCommit(height: number): Promise<Commit | undefined> {
    return this.read(commitKey(height), decodeCommit);
  }

  getTxLocation(hash: Uint8Array): Promise<TxLocation | undefined> {
    return this.read(txIndexKey(hash), (raw) => decodeCanonical(raw) as unknown as TxLocation);
  }

  /** The validator's last sign state, stored with the last block it signed. */
  getSignState(): Promise<unknown> {
    return this.read(SIGN_STATE, decodeCanonical);
  }

  /** Proposer priorities stored for `height` (written with block height-1), or undefined. */
  getProposerPriorities(height: number): Promise<Uint8Array | undefined> {
    return this.read(proposerPrioritiesKey(height), (raw) => raw);
  }

  /**
   * Proves the value under `stateKey` (or its absence) against the latest
   * committed block: the head's header and commit, the record bytes from
   * `loadValue`, and the SMT proof from the head's state root (nodes are
   * never deleted, so that root stays provable while blocks land).
   *
   * Generic over the kind of record: `loadValue` reads the current bytes of
   * whatever `stateKey` commits to (a DID record, a status list),
   * whose value hash is sha256 of those bytes as for every state record.
   * The bytes are returned only if their sha256 is the value hash the proof
   * reaches: a block that lands between reading the head and reading the
   * bytes makes them newer than the root, and the proof is taken again from
   * the new head. Throws BLOCK_NOT_FOUND before the first block (height 0 has
   * no header to prove against).
   */
  async proveState(stateKey: Uint8Array, loadValue: () => Promise<Uint8Array | undefined>): Promise<StateProof> {
    for (let attempt = 0; attempt < PROOF_ATTEMPTS; attempt++) {
      const head = this.head();
      if (head.height === 0) throw new ChainError(BlockErrorCode.NOT_FOUND, "no block committed yet; state proofs start at height 1");
      const [anchor, proof, value] = await Promise.all([this.anchorAt(head.height), this.smt.prove(head.stateRoot, stateKey), loadValue()]);
      const leaf = proof.leaf !== null && bytesEqual(proof.leaf.key, stateKey) ? proof.leaf : null;
      if (leaf === null && value === undefined) return { height: head.height, header: anchor.header, commit: anchor.commit, valueBytes: null, proof };
      if (leaf !== null && value !== undefined && bytesEqual(sha256(value), leaf.valueHash)) {
        return { height: head.height, header: anchor.header, commit: anchor.commit, valueBytes: value, proof };
      }
      // The bytes are newer than the root: let the commit that wrote them move the head.
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`state proof: the stored value under ${Buffer.from(stateKey).toString("hex")} did not match the state root in ${PROOF_ATTEMPTS} attempts`);
  }

  /** proveState for a DID record: key didStateKey(did), bytes its canonical record encoding. */
  proveDid(did: string): Promise<StateProof> {
    return this.proveRecord(did);
  }

  /** proveState for any record by state id (DIDs, issuers, status lists, ...): its tree key and stored bytes. */
  proveRecord(id: string): Promise<StateProof> {
    return this.proveState(stateKeyOf(id), () => this.db.get(stateDbKey(id)));
  }

  private async anchorAt(height: number): Promise<{ height: number; header: BlockHeader; commit: Commit }> {
    const cached = this.proofAnchor;
    if (cached?.height === height) return cached;
    const [block, commit] = await Promise.all([this.getBlock(height), this.getCommit(height)]);
    if (!block || !commit) throw new Error(`store has no block or commit at its head height ${height}`);
    const anchor = { height, header: block.header, commit };
    // Concurrent proofs may load an older height after a newer one; keep the newest.
    if (!this.proofAnchor || this.proofAnchor.height < height) this.proofAnchor = anchor;
    return anchor;
  }

  /** A synchronous view over records loaded beforehand (execute.ts reads state only this way). */
  static viewOf(records: Map<string, StateRecord | undefined>): StateView {
    return viewOfRecords(records);
  }

  /**
   * Compute the state root after `writes`, without writing anything. Returns
   * the records' encodings too, so commitBlock stores the bytes it hashed.
   * `documents`: encodings of documents the writes hold, by document object
   * (BlockEffects.documents), which are then not encoded again.
   */
  computeStateRoot(
    writes: Map<string, StateRecord>,
    documents?: ReadonlyMap<DidDocument, Uint8Array>,
  ): Promise<{ root: Uint8Array; nodes: Map<string, Uint8Array>; encoded: Map<string, Uint8Array> }> {
    return this.computeStateRootFrom(this.head().stateRoot, writes, documents);
  }

  private async computeStateRootFrom(
    from: Uint8Array,
    writes: Map<string, StateRecord>,
    documents?: ReadonlyMap<DidDocument, Uint8Array>,
  ): Promise<{ root: Uint8Array; nodes: Map<string, Uint8Array>; encoded: Map<string, Uint8Array> }> {
    const encoded = new Map<string, Uint8Array>();
    const updates = [...writes].map(([id, r]) => {
      const doc = "kind" in r ? undefined : documents?.get(r.document);
      const bytes = doc ? encodeDidRecord(r as DidRecord, doc) : encodeStateRecord(r);
      encoded.set(id, bytes);
      // A DID record never repeats (every write moves its nonce or version on); other records may.
      return { key: stateKeyOf(id), value: sha256(bytes), mayRepeat: !isDidStateId(id) };
    });
    const { root, newNodes, staleNodes } = await this.smt.update(from, updates);
    this.pendingStale.set(`${toHex(from)}:${toHex(root)}`, staleNodes);
    return { root, nodes: newNodes, encoded };
  }

  /** Write a block, its commit, state changes and indexes in one synced batch, then move the head. */
  async commitBlock(b: BlockCommitBatch): Promise<void> {
    const h = b.block.header;
    // A chained batch hands each put straight to LevelDB's WriteBatch: several
    // times cheaper than an array of operations for the thousands of puts
    // (mostly Merkle nodes) a full block makes.
    const batch = this.db.batch();
    // Deletes first: a node pruned here and made again by this block is put back below.
    const keptFrom = await this.pruneInto(batch, h.height, h.stateRoot);
    const stale = this.headCache ? this.pendingStale.get(`${toHex(this.headCache.stateRoot)}:${toHex(h.stateRoot)}`) : undefined;
    for (const n of stale ?? []) batch.put(staleSmtNodeKey(h.height, n.hash), n.mayReturn ? encodeStaleTrail(n) : EMPTY);
    // The header, evidence and last commit in one key, each tx in its own: a version's document is then one small get.
    batch.put(blockKey(h.height), encodeBlock({ ...b.block, txs: [] }));
    b.block.txs.forEach((tx, index) => batch.put(blockTxKey(h.height, index), tx));
    batch.put(commitKey(h.height), encodeCommit(b.commit));
    batch.put(blockByHashKey(b.blockHash), u64be(h.height));
    b.txHashes.forEach((hash, index) => batch.put(txIndexKey(hash), encodeCanonical({ height: h.height, index })));
    // Every tx of a block changed state: each gets the next export number, in block order (from block 1:
    // a store restored from a snapshot does not know the number its first block starts at, and keeps no log).
    const firstSeq = this.exportSeq + 1;
    if (this.base === 1) {
      b.txHashes.forEach((_, index) => batch.put(exportKey(firstSeq + index), encodeExportEntry(h.height, index)));
      batch.put(EXPORT_SEQ, u64be(firstSeq - 1 + b.txHashes.length));
    }
    for (const [id, bytes] of b.encodedWrites) batch.put(stateDbKey(id), bytes);
    const inBlock = new Set(b.txHashes.map((t) => Buffer.from(t).toString("hex")));
    for (const v of b.versions) {
      // One copy of each document: a create's or update's document is read back from its tx in this
      // block. A version whose tx brought no document (a deactivation, once per DID) or that no tx of
      // the block brought (a caller's own history) is stored whole.
      const fromTx = v.operation !== "deactivate" && inBlock.has(Buffer.from(v.txHash).toString("hex"));
      if (!fromTx) batch.put(didVersionKey(v.did, v.versionId), encodeDidVersion(v, b.documents?.get(v.document)));
      batch.put(didVersionEntryKey(v.did, v.versionId), encodeVersionEntry(v));
      // The first version's time is in its entry: didVersionAt falls back to it.
      if (v.versionId > 1) batch.put(didVersionTimeKey(v.did, v.time, v.versionId), EMPTY);
    }
    // A changed validator record schedules sets; index each by the height it starts at (rewriting one already indexed is a no-op).
    const vals = b.writes.get(VALIDATORS_ID) as ValidatorsRecord | undefined;
    for (const p of vals?.pending ?? []) batch.put(validatorSetKey(p.effectiveHeight), encodeCanonical(p.set as never));
    (b.evidence ?? []).forEach((ev, index) => {
      batch.put(evidenceByHashKey(ev.hash), encodeCanonical({ height: h.height, index, validator: ev.validator }));
      batch.put(evidenceOrderKey(h.height, index), ev.hash);
      batch.put(evidenceByValidatorKey(ev.validator, h.height, index), ev.hash);
    });
    for (const [hex, node] of b.smtNodes) batch.put(smtNodeKey(Buffer.from(hex, "hex")), node);
    const head: ChainHead = { height: h.height, hash: b.blockHash, time: h.time, stateRoot: h.stateRoot };
    batch.put(HEAD, encodeCanonical(head as never));
    if (b.signState !== undefined) batch.put(SIGN_STATE, encodeCanonical(b.signState as never));
    if (b.nextProposerPriorities !== undefined) batch.put(proposerPrioritiesKey(h.height + 1), b.nextProposerPriorities);
    await batch.write({ sync: true });
    for (const [id, r] of b.writes) this.dids.set(id, r);
    if (this.base === 1) this.exportSeq = firstSeq - 1 + b.txHashes.length;
    this.headCache = head;
    this.keptFrom = keptFrom;
    this.pendingStale.clear();
  }

  /**
   * Adds to `batch` the deletion of every Merkle node no kept tree needs
   * once `height` commits with `root`: the nodes that went stale at or
   * before height - K + 1 (the trees that held them are older than the
   * oldest kept, height - K + 1), with their index entries. A node that may
   * have been created again since (flagged in its entry) is kept if the new
   * tree holds it. Returns the lowest height whose tree stays whole.
   */
  private async pruneInto(batch: ReturnType<Db["batch"]>, height: number, root: Uint8Array): Promise<number> {
    const oldestKept = height - this.stateHistory + 1;
    if (oldestKept < 1) return this.keptFrom;
    // Entries up to keptFrom are deleted already: seeking past them skips their tombstones.
    const from = staleSmtNodeKey(this.keptFrom + 1, EMPTY_ROOT);
    for await (const [key, value] of this.db.iterator({ gte: from, lt: staleSmtNodeKey(oldestKept + 1, EMPTY_ROOT) })) {
      batch.del(key);
      const hash = key.subarray(9);
      if (value.length > 0) {
        const trail = decodeStaleTrail(hash, value);
        // A node the new tree still holds (or one its walk cannot read yet: this block's own) stays.
        const live = await this.smt.holds(root, trail).catch(() => true);
        if (live) continue;
      }
      batch.del(smtNodeKey(hash));
    }
    const keptFrom = Math.max(this.keptFrom, oldestKept);
    batch.put(STATE_KEPT_FROM, u64be(keptFrom));
    return keptFrom;
  }

  /** The lowest height whose state tree is whole: proofs at older heights fail with BLOCK_STATE_PRUNED. */
  stateKeptFrom(): number {
    return Math.max(this.keptFrom, 1);
  }

  /**
   * A proof of the value under `stateKey` (or of its absence) in the state
   * tree of `height`, with that block's header: the leaf carries the value
   * hash the record had then. Throws BLOCK_NOT_FOUND for a height with no
   * block, BLOCK_STATE_PRUNED for a height older than the kept trees.
   */
  async proveStateAt(height: number, stateKey: Uint8Array): Promise<{ height: number; header: BlockHeader; proof: SmtProof }> {
    if (!Number.isSafeInteger(height) || height < 1 || height > this.head().height) {
      throw new ChainError(BlockErrorCode.NOT_FOUND, `no block at height ${height}; the head is ${this.head().height}`);
    }
    const pruned = () =>
      new ChainError(
        BlockErrorCode.STATE_PRUNED,
        `the state tree of height ${height} is pruned: this node keeps heights ${this.stateKeptFrom()} to ${this.head().height} (stateHistory ${this.stateHistory})`,
        { height, keptFrom: this.stateKeptFrom() },
      );
    if (height < this.keptFrom) throw pruned();
    const block = await this.getBlock(height);
    if (!block) throw new ChainError(BlockErrorCode.NOT_FOUND, `no block at height ${height}`);
    try {
      return { height, header: block.header, proof: await this.smt.prove(block.header.stateRoot, stateKey) };
    } catch (e) {
      // A commit that landed meanwhile may have pruned the tree under the walk.
      if (height < this.keptFrom) throw pruned();
      throw e;
    }
  }
}

