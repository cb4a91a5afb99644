/**
 * The node's chain store: blocks, commits, state (DID records and the
 * sparse Merkle tree nodes under the state root) and indexes (block by hash,
 * tx by hash, DID version history, evidence, validator sets, the export
 * log), each kept by its repository (repositories/) over one key-value
 * store (db/kv.ts: LevelDB for the node, in memory for tests). A block and
 * everything it changes is written in one atomic, synced batch across the
 * repositories (invariant 3): after `kill -9` the store holds a whole block
 * or none of it.
 */
import { LRUCache } from "lru-cache";
import { decodeCanonical, mapValueBytes } from "./codec.js";
import { proposerPrioritiesKey } from "./buckets.js";
import type { ExportEntry } from "./export-log.js";
import { VALIDATORS_ID, type ValidatorEntry, type ValidatorsRecord } from "./validators.js";
import type { Block, BlockHeader, Commit } from "./block.js";
import { SparseMerkleTree, EMPTY_ROOT, SmtNodeError, nodeAt, type NodeAt, type SmtPlaces, type StaleNode } from "./smt.js";
import { bytesEqual, toHex } from "../crypto/bytes.js";
import { FaultLatch, damagedStoreError } from "./store-faults.js";
import { sha256 } from "../crypto/hash.js";
import { BlockErrorCode, ChainError, EvidenceErrorCode } from "./errors.js";
import type { StateProof } from "./proof.js";
import type { SmtProof } from "./smt.js";
import type { DidDocument } from "../did/document.js";
import { type DidRecord, type DidVersion, type StateRecord, type StateView, encodeDidRecord, encodeStateRecord, isDidStateId, stateIdOf, stateKeyOf, viewOfRecords } from "./state.js";
import type { StatusListRecord } from "./state.js";
import type { KvBatch, KvStore } from "./db/kv.js";
import { LevelKv, type LevelDb } from "./db/level-kv.js";
import { BlockRepository } from "./repositories/blocks.js";
import { CommitRepository } from "./repositories/commits.js";
import { type TxLocation, TxIndexRepository } from "./repositories/tx-index.js";
import { type DocumentSource, StateRecordRepository } from "./repositories/state-records.js";
import { type DidVersionEntry, type DidVersionPage, DidVersionRepository } from "./repositories/did-versions.js";
import { type CommittedEvidenceIndex, type EvidenceLocation, EvidenceRepository } from "./repositories/evidence.js";
import { ValidatorSetRepository } from "./repositories/validator-sets.js";
import { ExportLogRepository } from "./repositories/export-log.js";
import { SmtNodeRepository } from "./repositories/smt-nodes.js";
import { type ChainHead, MetaRepository } from "./repositories/meta.js";

export type { ChainHead } from "./repositories/meta.js";
export type { TxLocation } from "./repositories/tx-index.js";
export type { DidVersionEntry, DidVersionPage } from "./repositories/did-versions.js";
export type { CommittedEvidenceIndex, EvidenceLocation } from "./repositories/evidence.js";

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
  /** The block's evidence, in block order, with what the caller decoded of it (the chain room does not decode votes). */
  evidence?: CommittedEvidenceIndex[];
  /** Writes of another room's repository over this store (ConsensusStore.putWithBlock), added to the block's batch last. */
  sideWrites?: (batch: KvBatch) => void;
}

/** Committed evidence: its location, hash and encoding. */
export interface StoredEvidence extends EvidenceLocation {
  hash: Uint8Array;
  encoded: Uint8Array;
}

/** Stale-node computations kept for the commit that follows them (one per proposal considered at a height). */
const PENDING_STALE = 16;
/** Blocks numbered per batch when open() builds the export log of an older store. */
const EXPORT_REINDEX_BLOCKS = 200;
/**
 * Attempts of proveState before giving up. An attempt fails only when a
 * block rewrote the proven key between reading the head and reading the
 * record; that needs a new block touching the same key each time.
 */
const PROOF_ATTEMPTS = 5;

export interface StoreOptions {
  /**
   * Budget, in bytes of heap, of the state records (DIDs, issuers, status
   * lists, ...) kept decoded in memory, as estimated from their encodings
   * (repositories/state-records.ts, cachedRecordSize).
   */
  recordCacheBytes: number;
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
 * 64 MiB of decoded records: a decoded DID record with its document, and
 * the resolution result kept beside it, take about 4 KB of heap for a
 * one-key document, so about 15,000 of those (docs/operations.md: against
 * 256 MiB, 90-190 MiB less heap growing a node to 200,000 DIDs, and
 * random resolves past 100,000 DIDs within the run's noise: they read
 * LevelDB either way); a record of a large document
 * counts for its size, so many of them cannot fill the heap (a count of
 * 50,000 records could have held 50,000 documents of 16 KiB). Records
 * beyond it come from LevelDB's own block cache (LEVEL_CACHE_BYTES,
 * compressed blocks' plain bytes) in one get.
 * 1,200,000 Merkle nodes of 98 bytes in the node cache's buffers (118 MB;
 * a node holding leaves inline takes 162 or 226) plus its index. New nodes
 * (every write's path) cycle through it, so it answers fewer lookups as the
 * tree grows (0.996 at 100,000 DIDs, 0.84 at 500,000, 0.76 at 1,000,000 in
 * the README's growth run); the top levels, which every walk passes, stay
 * in it.
 */
export const defaultStoreOptions: StoreOptions = { recordCacheBytes: 64 * 1024 * 1024, smtCacheSize: 1_200_000, stateHistory: 100 };

export class ChainStore {
  readonly smt: SparseMerkleTree;
  private headCache: ChainHead | undefined;
  /** The last export sequence number committed (0 before the first tx). */
  private exportSeq = 0;
  private base = 1;
  /** Header and commit of the latest height proven against: one block decode per height, not per proof. */
  private proofAnchor: { height: number; header: BlockHeader; commit: Commit } | undefined;
  /** The first storage fault of this store (faults.fault), and who is told of it (faults.onFault). */
  faults = new FaultLatch();
  /** Where the store is, as faults name it ("in memory" for a store over another KvStore). */
  private path = "in memory";
  /** K of StoreOptions.stateHistory. */
  private readonly stateHistory: number;
  /** The lowest height whose state tree is whole. */
  private keptFrom = 0;
  /** The first height whose tree's root has a record keyed by height (meta smtKeyedFrom). */
  private smtKeyedFrom = 0;
  /**
   * The kept floor of the commit being written: its deletes may show to
   * reads before the write settles, so a walk of a tree below it that
   * finds a node gone is a tree pruned on purpose, not damage.
   */
  private pruningTo = 0;
  /** Nodes each state root computed from the head's root made stale, by "<from hex>:<root hex>", for commitBlock. */
  private readonly pendingStale = new LRUCache<string, StaleNode[]>({ max: PENDING_STALE });

  readonly blocks: BlockRepository;
  readonly commits: CommitRepository;
  readonly txIndex: TxIndexRepository;
  readonly records: StateRecordRepository;
  readonly versions: DidVersionRepository;
  readonly evidence: EvidenceRepository;
  readonly validatorSets: ValidatorSetRepository;
  readonly exportLog: ExportLogRepository;
  readonly smtNodes: SmtNodeRepository;
  readonly meta: MetaRepository;

  private constructor(
    /** The key-value store under every repository. */
    readonly kv: KvStore,
    opts: StoreOptions,
  ) {
    if (!Number.isSafeInteger(opts.stateHistory) || opts.stateHistory < 2) {
      throw new RangeError(`stateHistory must be an integer of at least 2 (the head and the height before it), got ${opts.stateHistory}`);
    }
    this.stateHistory = opts.stateHistory;
    this.blocks = new BlockRepository(kv);
    this.commits = new CommitRepository(kv);
    this.txIndex = new TxIndexRepository(
      kv,
      (h, i) => this.blocks.txBytes(h, i),
      (e) => this.faults.report(e, "chain store", this.path),
    );
    this.records = new StateRecordRepository(
      kv,
      opts.recordCacheBytes,
      (h, i) => this.blocks.inlineTxBytes(h, i),
      (e) => this.faults.report(e, "chain store", this.path),
    );
    this.versions = new DidVersionRepository(kv, (dids) => this.records.unstoredCurrentEntries(dids));
    this.evidence = new EvidenceRepository(kv);
    this.validatorSets = new ValidatorSetRepository(kv);
    this.exportLog = new ExportLogRepository(kv);
    this.smtNodes = new SmtNodeRepository(kv, (e) => this.faults.report(e, "chain store", this.path));
    this.meta = new MetaRepository(kv);
    this.smt = new SparseMerkleTree({ getNode: (hash, at) => this.smtNodes.get(hash, at) }, { cacheSize: opts.smtCacheSize });
  }

  /**
   * The main LevelDB of a store opened from a path (the tree's records have
   * one of their own: db/level-kv.ts), for snapshots and compaction.
   */
  get db(): LevelDb {
    if (this.kv instanceof LevelKv) return this.kv.level;
    throw new Error("this chain store is not on LevelDB");
  }

  /** Open the LevelDB store at `path`: reads and writes that fail for the disk's sake (IO error, corruption, full or read-only disk) are reported to `faults`. */
  static async open(path: string, opts: Partial<StoreOptions> = {}): Promise<ChainStore> {
    const latch = new FaultLatch();
    const kv = await LevelKv.open(path, latch);
    const store = await ChainStore.openKv(kv, opts);
    store.faults = latch;
    store.path = path;
    return store;
  }

  /** A store over `kv` (an in-memory one for tests); closes `kv` when its older layout cannot be brought up to date. */
  static async openKv(kv: KvStore, opts: Partial<StoreOptions> = {}): Promise<ChainStore> {
    const store = new ChainStore(kv, { ...defaultStoreOptions, ...opts });
    const meta = await store.meta.load();
    await store.txIndex.load();
    store.headCache = meta.head;
    if (meta.stateKeptFrom !== undefined) store.keptFrom = meta.stateKeptFrom;
    if (meta.baseHeight !== undefined) store.base = meta.baseHeight;
    if (meta.head) {
      try {
        store.smtKeyedFrom = await store.meta.smtKeyedFromOf(meta);
        await store.versions.ensureIndex();
        await store.checkExportLog();
      } catch (e) {
        await kv.close();
        throw e;
      }
    }
    return store;
  }

  async close(): Promise<void> {
    await this.kv.close();
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

  genesisHash(): Promise<Uint8Array | undefined> {
    return this.meta.genesisHash();
  }

  /** Record genesis: height 0, with the records genesis names (trustees, issuers) as its state. */
  async initGenesis(genesisHash: Uint8Array, genesisTime: number, records: readonly StateRecord[] = []): Promise<void> {
    const writes = new Map(records.map((r) => [stateIdOf(r), r]));
    const { root, nodes, encoded } = await this.computeStateRootFrom(EMPTY_ROOT, writes, undefined, { rootAt: 0, at: nodeAt(0) });
    const head: ChainHead = { height: 0, hash: genesisHash, time: genesisTime, stateRoot: root };
    const batch = this.kv.batch();
    this.meta.putGenesisHash(batch, genesisHash);
    this.meta.putSmtKeyedFrom(batch, 0);
    this.smtKeyedFrom = 0;
    this.records.putEncoded(batch, encoded);
    this.smtNodes.putNodes(batch, 0, nodes);
    const vals = writes.get(VALIDATORS_ID) as ValidatorsRecord | undefined;
    if (vals) {
      this.validatorSets.put(batch, 1, vals.current);
      this.validatorSets.putScheduled(batch, vals);
    }
    this.meta.putHead(batch, head);
    this.versions.markIndexCurrent(batch);
    this.txIndex.markBegun(batch);
    this.exportLog.putLastSeq(batch, 0);
    await batch.write({ sync: true });
    this.headCache = head;
    this.exportSeq = 0;
  }

  /**
   * The export log is derived from the blocks (no state root covers it), so
   * a store written before it existed is numbered here from its blocks, in
   * height order, in batches; the last sequence number goes last, so a
   * crash midway numbers again from the start (the same numbers).
   */
  private async checkExportLog(): Promise<void> {
    const last = await this.exportLog.lastSeq();
    if (last !== undefined) {
      this.exportSeq = last;
      return;
    }
    // A store restored from a snapshot holds no export log (see exportEntries).
    if (this.base > 1) return;
    let seq = 0;
    let expected = 1;
    let batch = this.kv.batch();
    let blocks = 0;
    for await (const { height, txs } of this.blocks.txCounts(1)) {
      // The numbers count every tx from block 1: a store without its early blocks cannot be numbered from them.
      if (height !== expected++) {
        throw new Error(`the data dir has no export log and its blocks start at height ${height}, not 1: its ops cannot be numbered; resync (remove data/chain and start the node again)`);
      }
      this.exportLog.putBlock(batch, seq + 1, height, txs);
      seq += txs;
      if (++blocks === EXPORT_REINDEX_BLOCKS) {
        await batch.write();
        batch = this.kv.batch();
        blocks = 0;
      }
    }
    this.exportLog.putLastSeq(batch, seq);
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
    if (after >= this.exportSeq) return [];
    return this.exportLog.entriesAfter(after, limit);
  }

  /**
   * The validator set in force at `height` (1 to head + 2: a change made in
   * the head block starts at head + 2 and is already known), from the index
   * of sets by the height they start at. Undefined when the chain keeps no
   * validator set in state (a store initialised without the genesis record):
   * then the genesis file's set signs every height.
   */
  validatorSetAt(height: number): Promise<ValidatorEntry[] | undefined> {
    const top = this.head().height + 2;
    if (!Number.isSafeInteger(height) || height < 1 || height > top) {
      throw new ChainError(BlockErrorCode.NOT_FOUND, `the validator set is known for heights 1 to ${top}, not ${height}`);
    }
    return this.validatorSets.inForceAt(height);
  }

  /** Where evidence with this hash was committed, or undefined. */
  getEvidenceLocation(hash: Uint8Array): Promise<EvidenceLocation | undefined> {
    return this.evidence.location(hash);
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
    let after: EvidenceLocation | undefined;
    if (opts.after) {
      after = await this.getEvidenceLocation(opts.after);
      if (!after) throw new ChainError(EvidenceErrorCode.NOT_FOUND, `no committed evidence ${Buffer.from(opts.after).toString("hex")} to list after`);
    }
    const hashes = await this.evidence.hashes({ ...(opts.validator ? { validator: opts.validator } : {}), ...(after ? { after } : {}), limit: opts.limit });
    const out: StoredEvidence[] = [];
    for (const hash of hashes) {
      const ev = await this.getEvidence(hash);
      if (ev) out.push(ev);
    }
    return out;
  }

  async getDid(did: string): Promise<DidRecord | undefined> {
    return (await this.getRecord(did)) as DidRecord | undefined;
  }

  /** Any state record by state id (`did:...`, `issuer:<did>`, `statuslist:<did>/<listId>`, ...). */
  getRecord(id: string): Promise<StateRecord | undefined> {
    return this.records.get(id);
  }

  /** Every record of a kind ("issuer", "proposal"), in id order: for the small governance sets. */
  listRecords(kind: string, opts: { after?: string; limit: number }): Promise<StateRecord[]> {
    return this.records.list(kind, opts);
  }

  /** The status lists of an issuer, in list id order, `limit` after the list id `after`: a scan of its records' ids. */
  listStatusLists(issuer: string, opts: { after?: string; limit: number }): Promise<StatusListRecord[]> {
    return this.records.listStatusLists(issuer, opts);
  }

  /**
   * Load records for many DIDs. Cache misses of all callers in the same turn
   * of the event loop go to the store as one getMany.
   */
  loadState(dids: Iterable<string>): Promise<Map<string, StateRecord | undefined>> {
    return this.records.loadMany(dids);
  }

  /**
   * Every version of `did`, documents included: unbounded, for tests and
   * offline tools. Serving code reads one version (getDidVersion), one
   * entry (getDidVersionEntry), a page (didVersionPage) or a time
   * (didVersionAt).
   */
  async getDidVersions(did: string): Promise<DidVersion[]> {
    const out: DidVersion[] = [];
    for (const id of await this.versions.versionIds(did)) {
      const v = await this.getDidVersion(did, id);
      if (v) out.push(v);
    }
    return out;
  }

  /**
   * One version with its document. A version stored whole (an older layout,
   * or one no tx brought) is one get; otherwise the entry, the tx's location
   * and the tx (see documentOfVersion): three small gets.
   */
  async getDidVersion(did: string, versionId: number): Promise<DidVersion | undefined> {
    const { whole, entry } = await this.versions.getStored(did, versionId);
    if (whole) return whole;
    if (!entry) return undefined;
    const document = await this.documentOfVersion(did, entry);
    return { did, versionId, operation: entry.operation, height: entry.height, time: entry.time, txHash: entry.txHash, document };
  }

  /**
   * The document of a version whose entry is `e` and which is not stored
   * whole: its create or update tx brought it, read by the tx index from the
   * block's own key for that tx (or, in a block of the earlier layout, from
   * the block's tx array without decoding the rest). A store missing any of
   * these is damaged.
   */
  private async documentOfVersion(did: string, e: DidVersionEntry): Promise<DidDocument> {
    const loc = await this.txIndex.find(e.txHash);
    // The index read the tx to find it, or names where it is; one naming another height than the entry's: only that block's inline txs are looked at.
    const tx = !loc ? undefined : (loc.tx ?? (loc.height === e.height ? await this.blocks.txBytes(loc.height, loc.index) : await this.blocks.inlineTxBytes(loc.height, loc.index)));
    const payload = tx && mapValueBytes(tx, "payload");
    const doc = payload && mapValueBytes(payload, "document");
    if (!doc) throw new Error(`store damaged: the tx of ${did} version ${e.versionId} (${Buffer.from(e.txHash).toString("hex")}) holds no document in block ${e.height}; resync this node's data dir`);
    return decodeCanonical(doc) as unknown as DidDocument;
  }

  /** One version without its document (operation, height, time, tx): one small get. */
  getDidVersionEntry(did: string, versionId: number): Promise<DidVersionEntry | undefined> {
    return this.versions.getEntry(did, versionId);
  }

  /**
   * The number of the version of `did` valid at `time` (ms): the latest one
   * whose block time is not after it. Undefined when `did` had no version yet then.
   */
  didVersionAt(did: string, time: number): Promise<number | undefined> {
    return this.versions.at(did, time);
  }

  /**
   * Versions of `did` after version `after` (0: from the first), in version
   * order, at most `limit` of them and at most `maxBytes` of stored entries
   * (always at least one, so every page moves on). Reads the entry index
   * only, never a document.
   */
  didVersionPage(did: string, opts: { after?: number; limit: number; maxBytes: number }): Promise<DidVersionPage> {
    return this.versions.page(did, opts);
  }

  getBlock(height: number): Promise<Block | undefined> {
    return this.blocks.get(height);
  }

  getBlockHeightByHash(hash: Uint8Array): Promise<number | undefined> {
    return this.blocks.heightByHash(hash);
  }

  getCommit(height: number): Promise<Commit | undefined> {
    return this.commits.get(height);
  }

  getTxLocation(hash: Uint8Array): Promise<TxLocation | undefined> {
    return this.txIndex.get(hash);
  }

  /**
   * The proposer priorities stored for `height` (consensus/consensus-store.ts
   * writes and reads them; a snapshot carries them as bytes), or undefined.
   */
  getProposerPriorities(height: number): Promise<Uint8Array | undefined> {
    return this.kv.get(proposerPrioritiesKey(height));
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
      let found: [{ header: BlockHeader; commit: Commit }, SmtProof, Uint8Array | undefined];
      try {
        found = await Promise.all([this.anchorAt(head.height), this.walkTree(head.height, () => this.smt.prove(head.stateRoot, stateKey, this.treeRootAt(head.height))), loadValue()]);
      } catch (e) {
        // Blocks landed during the walk and pruned the tree it read: prove from the new head.
        if (e instanceof SmtNodeError) continue;
        throw e;
      }
      const [anchor, proof, value] = found;
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
    return this.proveState(stateKeyOf(id), () => this.records.getBytes(id));
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
    const head = this.head();
    return this.walkTree(head.height, () => this.computeStateRootFrom(head.stateRoot, writes, documents, { rootAt: this.treeRootAt(head.height), at: nodeAt(head.height + 1) }));
  }

  /** Where the record of the root of `height`'s tree is: under that height, or under its hash alone in a store that began before. */
  treeRootAt(height: number): NodeAt {
    return height >= this.smtKeyedFrom ? nodeAt(height) : 0;
  }

  /** The root of the next height from `from` after `writes`; the new records (`nodes`) are at `places.at`. */
  private async computeStateRootFrom(
    from: Uint8Array,
    writes: Map<string, StateRecord>,
    documents: ReadonlyMap<DidDocument, Uint8Array> | undefined,
    places: SmtPlaces,
  ): Promise<{ root: Uint8Array; nodes: Map<string, Uint8Array>; encoded: Map<string, Uint8Array> }> {
    const encoded = new Map<string, Uint8Array>();
    const updates = [...writes].map(([id, r]) => {
      const doc = "kind" in r ? undefined : documents?.get(r.document);
      const bytes = doc ? encodeDidRecord(r as DidRecord, doc) : encodeStateRecord(r);
      encoded.set(id, bytes);
      // No mayRepeat: a record coming back to an earlier encoding gets new records at this height (smt.ts SmtPlaces).
      return { key: stateKeyOf(id), value: sha256(bytes) };
    });
    const { root, newNodes, staleNodes } = await this.smt.update(from, updates, places);
    this.pendingStale.set(`${toHex(from)}:${toHex(root)}`, staleNodes);
    return { root, nodes: newNodes, encoded };
  }

  /** Write a block, its commit, state changes and indexes in one synced batch across the repositories, then move the head. */
  async commitBlock(b: BlockCommitBatch): Promise<void> {
    const h = b.block.header;
    // The records this block rewrites that stood for their current version's entry: the entry is stored now.
    const created = new Set(b.versions.filter((v) => v.versionId === 1).map((v) => v.did));
    const entriesToStore = await this.records.unstoredCurrentEntries([...b.encodedWrites.keys()].filter((id) => isDidStateId(id) && !created.has(id)));
    const batch = this.kv.batch();
    // Deletes first: a node pruned here and made again by this block is put back below.
    const keptFrom = await this.pruneInto(batch, h.height, h.stateRoot);
    const stale = this.headCache ? this.pendingStale.get(`${toHex(this.headCache.stateRoot)}:${toHex(h.stateRoot)}`) : undefined;
    this.smtNodes.putStale(batch, h.height, stale ?? []);
    this.blocks.put(batch, b.block, b.blockHash);
    this.commits.put(batch, h.height, b.commit);
    await this.txIndex.putBlock(batch, h.height, b.txHashes);
    // Every tx of a block changed state: each gets the next export number, in block order (from block 1:
    // a store restored from a snapshot does not know the number its first block starts at, and keeps no log).
    const firstSeq = this.exportSeq + 1;
    if (this.base === 1) {
      this.exportLog.putBlock(batch, firstSeq, h.height, b.txHashes.length);
      this.exportLog.putLastSeq(batch, firstSeq - 1 + b.txHashes.length);
    }
    const txIndexOf = new Map(b.txHashes.map((t, i) => [Buffer.from(t).toString("hex"), i]));
    const standing = this.records.putEncoded(batch, b.encodedWrites, documentSources(b, txIndexOf));
    this.versions.putEntries(batch, entriesToStore);
    this.versions.put(batch, b.versions, new Set(txIndexOf.keys()), b.documents, new Map([...standing].map((did) => [did, (b.writes.get(did) as DidRecord).versionId])));
    // A changed validator record schedules sets; index each by the height it starts at (rewriting one already indexed is a no-op).
    this.validatorSets.putScheduled(batch, b.writes.get(VALIDATORS_ID) as ValidatorsRecord | undefined);
    this.evidence.putBlock(batch, h.height, b.evidence ?? []);
    this.smtNodes.putNodes(batch, h.height, b.smtNodes);
    const head: ChainHead = { height: h.height, hash: b.blockHash, time: h.time, stateRoot: h.stateRoot };
    this.meta.putHead(batch, head);
    // The consensus's own data (sign state, proposer priorities), made durable with the block.
    b.sideWrites?.(batch);
    this.pruningTo = keptFrom;
    try {
      await batch.write({ sync: true });
    } catch (e) {
      this.pruningTo = this.keptFrom;
      throw e;
    }
    this.records.remember(b.writes, b.encodedWrites);
    if (this.base === 1) this.exportSeq = firstSeq - 1 + b.txHashes.length;
    this.headCache = head;
    this.keptFrom = keptFrom;
    this.pendingStale.clear();
  }

  /**
   * Adds to `batch` the deletion of every Merkle record no kept tree needs
   * once `height` commits with `root`: those that went stale at or before
   * the oldest kept height, height - K + 1 (SmtNodeRepository.pruneInto).
   * Returns the lowest height whose tree stays whole.
   */
  private async pruneInto(batch: KvBatch, height: number, root: Uint8Array): Promise<number> {
    const oldestKept = height - this.stateHistory + 1;
    if (oldestKept < 1) return this.keptFrom;
    // Entries up to keptFrom are deleted already: seeking past them skips their tombstones.
    // A node the new tree still holds (or one its walk cannot read yet: this block's own) stays.
    await this.smtNodes.pruneInto(batch, this.keptFrom + 1, oldestKept, (trail) => this.smt.holds(root, trail, nodeAt(height)).catch(() => true));
    const keptFrom = Math.max(this.keptFrom, oldestKept);
    this.meta.putStateKeptFrom(batch, keptFrom);
    return keptFrom;
  }

  /** The lowest height whose state tree is whole: proofs at older heights fail with BLOCK_STATE_PRUNED. */
  stateKeptFrom(): number {
    return Math.max(this.keptFloor(), 1);
  }

  /** The lowest height whose tree is kept (0: genesis's too), counting the deletes of a commit being written. */
  private keptFloor(): number {
    return Math.max(this.keptFrom, this.pruningTo);
  }

  /**
   * Runs `walk`, a walk of the state tree of `height`. The store promises
   * every tree from stateKeptFrom() to the head whole, so a node such a walk
   * finds missing or not matching its hash is damage to the store: reported
   * to the fault latch as LEVEL_CORRUPTION (the node stops, with the
   * damaged-data remedy, and /health says faulted) and thrown as that. A
   * tree below the floor (pruned on purpose, maybe while the walk ran) is
   * not: its SmtNodeError reaches the caller as it is, for it to refuse the
   * height (BLOCK_STATE_PRUNED) or walk the new head's tree.
   */
  private async walkTree<T>(height: number, walk: () => Promise<T>): Promise<T> {
    try {
      return await walk();
    } catch (e) {
      if (!(e instanceof SmtNodeError) || height < this.keptFloor()) throw e;
      const damage = damagedStoreError(`state tree of height ${height}: ${e.message}`, e);
      this.faults.report(damage, "chain store", this.path);
      throw damage;
    }
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
    if (height < this.keptFloor()) throw pruned();
    const block = await this.getBlock(height);
    if (!block) throw new ChainError(BlockErrorCode.NOT_FOUND, `no block at height ${height}`);
    try {
      return { height, header: block.header, proof: await this.walkTree(height, () => this.smt.prove(block.header.stateRoot, stateKey, this.treeRootAt(height))) };
    } catch (e) {
      // A commit that landed meanwhile may have pruned the tree under the walk (walkTree latched nothing then).
      if (e instanceof SmtNodeError && height < this.keptFloor()) throw pruned();
      throw e;
    }
  }
}

/**
 * By DID, the tx of block `b` that brought the document of its latest
 * version in the block (a create or update), for the record to refer to.
 * A DID whose record holds another document (a deactivation keeps the one
 * before) is left out: the reference is checked against the record's bytes.
 */
function documentSources(b: BlockCommitBatch, txIndexOf: ReadonlyMap<string, number>): Map<string, DocumentSource> {
  const out = new Map<string, DocumentSource>();
  for (const v of b.versions) {
    if (v.operation === "deactivate") continue;
    const index = txIndexOf.get(Buffer.from(v.txHash).toString("hex"));
    const document = b.documents?.get(v.document);
    const tx = index === undefined ? undefined : b.block.txs[index];
    if (index === undefined || !document || !tx) continue;
    // The record stands for this version's entry when it is at this version (no later one in the block).
    const r = b.writes.get(v.did) as DidRecord | undefined;
    const current = !!r && r.versionId === v.versionId && !r.deactivated && r.updated === v.time && r.updatedHeight === v.height && v.height === b.block.header.height;
    out.set(v.did, { height: b.block.header.height, index, tx, document, current });
  }
  return out;
}
