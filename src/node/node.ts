/**
 * Wiring: genesis, store, mempool, consensus engine and RPC server of one
 * node, started and stopped together.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { bytesEqual, fromHex, toHex } from "../crypto/bytes.js";
import { secp } from "../crypto/secp256k1.js";
import { genesisHash, genesisRecords, genesisTimeMs, type Genesis } from "../chain/genesis.js";
import { SignatureVerifier } from "../chain/execute.js";
import { Mempool, defaultMempoolOptions, type MempoolOptions, type Rejection } from "../chain/mempool.js";
import { ChainStore, type StoreOptions } from "../chain/store.js";
import { StorageFaultError, asStorageFault } from "../chain/store-faults.js";
import { TxPreverifier } from "../chain/preverify.js";
import { txHash } from "../chain/tx.js";
import { BlockErrorCode, ChainError } from "../chain/errors.js";
import { SingleValidatorEngine, defaultEngineOptions, type CommittedBlockEvent } from "../consensus/engine.js";
import { ValidatorSigner } from "../consensus/signer.js";
import { ConsensusStore } from "../consensus/consensus-store.js";
import { ValidatorSet, ValidatorSetsByHeight } from "../chain/validator-set.js";
import { validatorMethods } from "../rpc/validator-methods.js";
import { verifyCommit } from "../chain/vote.js";
import { buildServer } from "../rpc/server.js";
import { nodeMethods, type NodeReadApi, type SubmitOutcome } from "../rpc/methods.js";
import type { AnchoredStateProof, StateProof } from "../chain/proof.js";
import { registryMethods } from "../rpc/registry-methods.js";
import { ExportPageReader, exportMethods } from "../rpc/export-methods.js";
import { defaultRpcOptions, resolveRpcOptions, type RpcOptions } from "../rpc/options.js";
import { NodeEvents, blockCommittedEvent } from "../events/node-events.js";
import { type HealthProblem, healthProblemOf, registerHealth } from "../rpc/health.js";
import { type PeerStatus, netMethods } from "../rpc/net-methods.js";
import { NodeMetrics, registerMetrics } from "./metrics.js";
import { SubscriptionHub, type TxOutcome } from "../rpc/subscriptions.js";
import { registerWebSocket, type WebSocketEndpoint } from "../rpc/ws.js";
import { fastifyLogger } from "./fastify-logger.js";
import { registerResolverRoutes } from "../rpc/resolver-http.js";
import { registerExplorer } from "../explorer/routes.js";
import { registerStatusListRoutes } from "../rpc/status-list-http.js";
import { type StatusListRecord, statusListStateId } from "../chain/state.js";
import { createResolveDid } from "../rpc/resolve.js";
import { type HomePaths, NodeConfigError, homePaths, initHome, loadGenesis, loadValidatorKey } from "./home.js";
import { join } from "node:path";
import { BftEngine, type BftEngineOptions } from "../consensus/bft-engine.js";
import { FilePrivValidator, PRIV_VALIDATOR_STATE_FILE } from "../consensus/privval.js";
import { ConsensusWal } from "../consensus/wal.js";
import { type BlockSyncOptions, type P2pOptions, defaultP2pOptions } from "../p2p/index.js";
import { EvidencePool } from "../consensus/evidence-pool.js";
import { encodeEvidence } from "../consensus/evidence.js";
import { consensusTiming, maxEvidenceAge } from "../chain/genesis.js";
import { type NodeNetwork, wireNetwork } from "./bft-wiring.js";
import { proposalTxBytesFor } from "../consensus/wire.js";
import { createLogger, type Logger } from "../log/logger.js";
import { SnapshotDir, SnapshotWriter, type SnapshotOptions, resolveSnapshotOptions, snapshotsWarning } from "../chain/snapshot-store.js";
import { type StateSyncConfig, resolveStateSyncConfig, stateSyncInto } from "./state-sync.js";
import { intSettingFault } from "../check/faults.js";

export interface NodeOptions {
  home: string;
  dev: boolean;
  rpc: Partial<RpcOptions>;
  /** p2p port (default 8661). A single validator with no peers configured listens only when a port is given. */
  p2pPort?: number;
  /** Persistent peers ("host:port" or "nodeId@host:port"), added to node.json's p2p.persistentPeers. */
  peers?: string[];
  /** Longest time without a block; default from config/node.json, else 5 s. */
  heartbeatMs?: number;
  mempool: Partial<MempoolOptions>;
  /**
   * The operator says the validator's guard state (data/priv_validator_state.json)
   * is gone for good: sign again, but never below the network's height (when
   * first asked to sign) plus GUARD_RESET_MARGIN.
   */
  resetGuardState?: boolean;
}

/**
 * Heights a validator whose guard state was reset stays silent above the
 * network's height: whatever it signed before the state was lost was at most
 * at the height then in progress. CometBFT's double_sign_check_height plays
 * the same part.
 */
export const GUARD_RESET_MARGIN = 10;

/** Exit code of a node stopped by a storage fault (EX_IOERR of sysexits.h): a supervisor restarts it. */
export const EXIT_STORAGE_FAULT = 74;

/** Ports from DESIGN.md: RPC 8660, p2p 8661, loopback unless configured. */
export const defaultNodeOptions = { rpcPort: 8660, p2pPort: 8661, heartbeatMs: defaultEngineOptions.heartbeatMs };

export interface FileConfig {
  rpc?: Partial<RpcOptions>;
  p2pPort?: number;
  /** p2p transport options (p2p.persistentPeers, p2p.host, limits). */
  p2p?: Partial<P2pOptions>;
  /** BFT consensus options: timeouts (consensus.tendermint), timeoutCommitMs, ... */
  consensus?: Partial<BftEngineOptions> & { initialSyncWaitMs?: number };
  heartbeatMs?: number;
  mempool?: Partial<MempoolOptions>;
  /** Block sync options (blockSync.progressLogIntervalMs, batchSize, ...). */
  blockSync?: Partial<BlockSyncOptions>;
  /** State snapshots this node takes and serves: interval (blocks, 0 = none), keep, chunkBits (docs/state-sync.md). */
  snapshots?: Partial<SnapshotOptions>;
  /** Start an empty node from a peer's snapshot instead of replaying every block (docs/state-sync.md). */
  stateSync?: StateSyncConfig;
  /** Memory of the chain store's caches (docs/operations.md): records by estimated heap bytes, Merkle nodes by count. */
  store?: Partial<Pick<StoreOptions, "recordCacheBytes" | "smtCacheSize">>;
}

function loadFileConfig(paths: HomePaths): FileConfig {
  if (!existsSync(paths.configFile)) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(paths.configFile, "utf8"));
  } catch (e) {
    throw new NodeConfigError(`${paths.configFile} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new NodeConfigError(`${paths.configFile} must hold a JSON object`);
  const cfg = raw as FileConfig;
  const positive = (v: unknown, name: string) => {
    const fault = v === undefined ? undefined : intSettingFault(name, v, 1, Number.MAX_SAFE_INTEGER);
    if (fault !== undefined) throw new NodeConfigError(`${paths.configFile}: ${fault}`);
  };
  positive(cfg.heartbeatMs, "heartbeatMs");
  positive(cfg.p2pPort, "p2pPort");
  positive(cfg.mempool?.maxTxs, "mempool.maxTxs");
  positive(cfg.mempool?.maxBytes, "mempool.maxBytes");
  if (cfg.store !== undefined) {
    if (typeof cfg.store !== "object" || cfg.store === null || Array.isArray(cfg.store)) throw new NodeConfigError(`${paths.configFile}: store: expected an object, got ${JSON.stringify(cfg.store)}`);
    for (const k of Object.keys(cfg.store)) {
      if (k !== "recordCacheBytes" && k !== "smtCacheSize") throw new NodeConfigError(`${paths.configFile}: store.${k}: unknown setting (recordCacheBytes, smtCacheSize)`);
    }
    // 0 is allowed: no cache (every read goes to LevelDB). The Merkle cache's buffers are typed arrays of
    // 98 bytes a node per half of it, which a JavaScript engine bounds: 40 million nodes (5 GB) is well inside.
    for (const [name, v, max] of [
      ["recordCacheBytes", cfg.store.recordCacheBytes, Number.MAX_SAFE_INTEGER],
      ["smtCacheSize", cfg.store.smtCacheSize, 40_000_000],
    ] as const) {
      const fault = v === undefined ? undefined : intSettingFault(`store.${name}`, v, 0, max);
      if (fault !== undefined) throw new NodeConfigError(`${paths.configFile}: ${fault}`);
    }
  }
  return cfg;
}

/**
 * The BFT engine's options: the chain's timing from genesis (every validator
 * runs the same), then node.json's "consensus". A timing value there that
 * differs from genesis still wins (an operator's experiment), with a warning:
 * a validator slower than the others falls behind them.
 */
export function consensusOptionsOf(genesis: Genesis, file: FileConfig["consensus"], configFile: string, log: Pick<Logger, "warn">): Partial<BftEngineOptions> {
  const t = consensusTiming(genesis.params);
  const { initialSyncWaitMs: _wait, tendermint: fileTm, ...rest } = { ...file };
  const fromGenesis = { proposeMs: t.proposeMs, prevoteMs: t.prevoteMs, precommitMs: t.precommitMs, deltaMs: t.deltaMs };
  const overridden: string[] = [];
  for (const k of Object.keys(fromGenesis) as (keyof typeof fromGenesis)[]) {
    const v = fileTm?.[k];
    if (v !== undefined && v !== fromGenesis[k]) overridden.push(`tendermint.${k}=${String(v)} (genesis ${fromGenesis[k]})`);
  }
  if (rest.timeoutCommitMs !== undefined && rest.timeoutCommitMs !== t.commitMs) overridden.push(`timeoutCommitMs=${String(rest.timeoutCommitMs)} (genesis ${t.commitMs})`);
  if (overridden.length > 0) {
    log.warn("node.json overrides the chain's consensus timing: this validator may fall behind the others; remove these keys to follow genesis", { file: configFile, overrides: overridden.join(", ") });
  }
  return { ...rest, timeoutCommitMs: rest.timeoutCommitMs ?? t.commitMs, tendermint: { ...fileTm, ...fromGenesis, ...definedOnly(fileTm) } };
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  if (!o) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A store that does not open: its path and LevelDB's cause (the error itself says only "Database failed to open"), and what to do. */
export function storeOpenError(path: string, home: string, e: unknown): Error {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.cause?.code ?? err.code;
  if (code === "LEVEL_LOCKED") return new NodeConfigError(`${path} is locked: another sid node is using ${home}`);
  const cause = (err.cause?.message ?? err.message ?? String(e)).replace(/\s*[\r\n]+\s*/g, " ").trim();
  const hint = /corruption|CURRENT|MANIFEST|\.ldb|\.sst/i.test(`${code ?? ""} ${cause}`)
    ? "the store is damaged: restore data/chain from a backup, or remove data/chain and let the node sync from its peers (keep data/priv_validator_state.json)"
    : /No space|ENOSPC/i.test(cause)
      ? "free disk space and start again"
      : /Read-only|EROFS|EACCES|Permission/i.test(cause)
        ? "the node needs write access to it"
        : "check the path, its permissions and the disk";
  return new NodeConfigError(`cannot open the chain store ${path}: ${code ? `${code}: ` : ""}${cause}; ${hint}`);
}

/** The stored head must carry a commit by the validators, for its own hash: a check that the data is this chain's. */
async function checkHeadCommit(store: ChainStore, chainId: string, validators: ValidatorSet): Promise<void> {
  const head = store.head();
  if (head.height === 0) return;
  const commit = await store.getCommit(head.height);
  if (!commit || !bytesEqual(commit.blockHash, head.hash) || !verifyCommit(chainId, commit, validators)) {
    throw new NodeConfigError(`the stored head (height ${head.height}) has no valid commit by this genesis's validators; the data directory is damaged or not this chain's`);
  }
}

type Waiter = (o: SubmitOutcome) => void;

export class SidNode {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private engine: SingleValidatorEngine | undefined;
  /** The BFT engine (several validators, or a full node); undefined when a single validator produces blocks alone. */
  bft: BftEngine | undefined;
  private net: NodeNetwork | undefined;
  /** Evidence of equivocation not yet committed (BFT nodes): detected here or gossiped. */
  evidencePool: EvidencePool | undefined;
  private wal: ConsensusWal | undefined;
  private app: FastifyInstance | undefined;
  rpcUrl = "";
  validatorAddress: Uint8Array | undefined;
  private preverifier: TxPreverifier | undefined;
  /** The set of each height, as governance scheduled it (validator/set, from H+2). */
  private validatorSets: ValidatorSetsByHeight | undefined;
  /** Committed blocks and rejected txs, for WS subscriptions and metrics. */
  readonly events = new NodeEvents();
  private hub: SubscriptionHub | undefined;
  private stopMetrics: (() => void) | undefined;
  /** The storage fault that stopped this node, if any (GET /health answers 503 with it). */
  fault: StorageFaultError | undefined;
  private readonly faultListeners: ((f: StorageFaultError) => void)[] = [];
  /** p2p peers are expected (persistent peers configured, or several validators): none connected is unhealthy. */
  private expectsPeers = false;
  /** Takes a state snapshot every snapshots.interval blocks (undefined when off). */
  snapshots: SnapshotWriter | undefined;

  private constructor(
    readonly genesis: Genesis,
    readonly store: ChainStore,
    readonly mempool: Mempool,
    readonly verifier: SignatureVerifier,
    private readonly log: Logger,
  ) {}

  static async start(opts: NodeOptions, log: Logger = createLogger()): Promise<SidNode> {
    const paths = homePaths(opts.home);
    if (!existsSync(paths.genesisFile)) {
      if (!opts.dev) throw new NodeConfigError(`${paths.home} has no genesis; run "sid init" (or start with --dev)`);
      const r = await initHome(paths.home, { dev: true });
      log.info("initialised dev home", { home: paths.home, chainId: r.chainId, validator: r.validatorAddress });
    }
    const genesis = loadGenesis(paths);
    const fileCfg = loadFileConfig(paths);
    const gHash = genesisHash(genesis);
    let store: ChainStore;
    try {
      store = await ChainStore.open(paths.chainDb, fileCfg.store);
    } catch (e) {
      throw storeOpenError(paths.chainDb, paths.home, e);
    }
    let preverifier: TxPreverifier | undefined;
    let created: SidNode | undefined;
    let snapshotOpts: SnapshotOptions;
    let stateSyncEnabled: boolean;
    try {
      snapshotOpts = resolveSnapshotOptions(fileCfg.snapshots);
      stateSyncEnabled = resolveStateSyncConfig(fileCfg.stateSync).enabled;
    } catch (e) {
      await store.close();
      throw new NodeConfigError(`${paths.configFile}: ${(e as Error).message}`);
    }
    if (stateSyncEnabled && !store.isInitialized()) {
      try {
        await stateSyncInto(store, genesis, gHash, [...(fileCfg.p2p?.persistentPeers ?? []), ...(opts.peers ?? [])], fileCfg, log, {
          host: opts.rpc?.host ?? fileCfg.rpc?.host ?? defaultRpcOptions.host,
          port: opts.rpc?.port ?? fileCfg.rpc?.port ?? defaultNodeOptions.rpcPort,
        });
      } catch (e) {
        await store.close().catch(() => {});
        throw e;
      }
      await store.close();
      store = await ChainStore.open(paths.chainDb, fileCfg.store);
    }
    try {
      if (!store.isInitialized()) await store.initGenesis(gHash, genesisTimeMs(genesis), genesisRecords(genesis));
      const stored = await store.genesisHash();
      if (!stored || !bytesEqual(stored, gHash)) {
        throw new NodeConfigError(`${paths.chainDb} belongs to another genesis (stored ${stored ? toHex(stored) : "none"}, file ${toHex(gHash)})`);
      }
      const verifier = new SignatureVerifier();
      const validators = ValidatorSet.fromGenesis(genesis.validators);
      const sets = new ValidatorSetsByHeight(store, validators);
      // Governance may have changed the set: the head's commit is by the set at the head's height.
      await checkHeadCommit(store, genesis.chainId, store.head().height > 0 ? await sets.at(store.head().height) : validators);
      const mempoolOpts = { ...defaultMempoolOptions, ...fileCfg.mempool, ...opts.mempool };
      preverifier = new TxPreverifier(genesis.chainId);
      const mempool = new Mempool(mempoolOpts, {
        preverifier,
        chainId: genesis.chainId,
        verifier,
        loadState: (dids) => store.loadState(dids),
        isCommitted: async (h) => (await store.getTxLocation(h)) !== undefined,
        nextBlock: () => {
          const head = store.head();
          return { height: head.height + 1, time: Math.max(Date.now(), head.time + 1) };
        },
      });
      const node = new SidNode(genesis, store, mempool, verifier, log);
      created = node;
      store.faults.onFault((f) => node.onStorageFault(f));
      node.preverifier = preverifier;
      node.validatorSets = sets;
      const snapshotDir = new SnapshotDir(join(paths.dataDir, "snapshots"));
      if (snapshotOpts.interval > 0) {
        const slog = log.child("snapshot");
        node.snapshots = new SnapshotWriter(store, snapshotDir, snapshotOpts, slog);
      }

      const sk = loadValidatorKey(paths);
      const single = validators.validators.length === 1;
      // p2p: always with several validators; on a single-validator chain only when asked for (a port or peers), so dev nodes do not claim 8661.
      // Built before the BFT engine, which gets the network's consensus port in its deps.
      const peers = [...(fileCfg.p2p?.persistentPeers ?? []), ...(opts.peers ?? [])];
      const explicitPort = opts.p2pPort ?? fileCfg.p2p?.port ?? fileCfg.p2pPort;
      node.expectsPeers = peers.length > 0 || !single;
      // A single validator with its key produces blocks alone; every other node runs the BFT engine (and keeps an evidence pool).
      const bft = !(sk && single);
      const pool = bft ? (node.evidencePool = new EvidencePool({}, { chainId: genesis.chainId, store, setAt: (h) => sets.at(h), maxAgeBlocks: maxEvidenceAge(genesis.params) })) : undefined;
      let net: NodeNetwork | undefined;
      if (!single || peers.length > 0 || explicitPort !== undefined) {
        try {
          net = node.net = wireNetwork(
            { ...fileCfg.p2p, port: explicitPort ?? defaultNodeOptions.p2pPort, persistentPeers: peers },
            { home: paths.home, chainId: genesis.chainId, genesisHash: gHash, store, mempool, bft, snapshots: snapshotDir, ...(pool ? { evidence: pool } : {}), log, ...(fileCfg.blockSync ? { blockSync: fileCfg.blockSync } : {}) },
          );
        } catch (e) {
          throw new NodeConfigError(`p2p options (${paths.configFile} "p2p" or flags): ${(e as Error).message}`);
        }
      }

      if (!bft && sk) {
        const signer = new ValidatorSigner(sk, await new ConsensusStore(store.kv).signState());
        node.validatorAddress = signer.address;
        if (!validators.byAddress(signer.address)) {
          throw new NodeConfigError(`validator key ${toHex(signer.address)} is not in the genesis validator set`);
        }
        node.engine = new SingleValidatorEngine(
          { heartbeatMs: opts.heartbeatMs ?? fileCfg.heartbeatMs ?? defaultNodeOptions.heartbeatMs },
          {
            chainId: genesis.chainId,
            store,
            mempool,
            validators,
            signer,
            params: genesis.params,
            verifier,
            clock: Date.now,
            log: log.child("consensus"),
          },
        );
        node.engine.on("block", (ev: CommittedBlockEvent) => node.onBlock(ev));
        node.engine.on("txRejected", (d: { hash: Uint8Array; why: Rejection }) => node.onTxRejected(d));
      } else {
        let privval: FilePrivValidator | null = null;
        if (sk) {
          // A key outside today's set still signs once governance adds it (and stops when it removes it): the engine decides per height.
          const statePath = join(paths.dataDir, PRIV_VALIDATOR_STATE_FILE);
          const walPath = join(paths.dataDir, "cs.wal");
          const stateMissing = !existsSync(statePath);
          if (stateMissing) {
            // No guard state on a home that has run before: it was deleted or lost, and this validator may have signed at the heights ahead.
            const walBytes = existsSync(walPath) ? statSync(walPath).size : 0;
            const hasRun = store.head().height > 0 || walBytes > 0;
            if (hasRun && !opts.resetGuardState) {
              throw new NodeConfigError(
                `the validator's guard state ${statePath} is missing, but this home has run before (chain height ${store.head().height}, WAL ${walBytes} bytes): ` +
                  `signing without it could double-sign. Restore the file, or start once with --reset-guard-state to sign again from the network's height + ${GUARD_RESET_MARGIN}`,
              );
            }
          }
          privval = await FilePrivValidator.open(statePath, sk);
          if (opts.resetGuardState) {
            if (!stateMissing) log.warn("--reset-guard-state given but the guard state file exists: it is kept, and signing also waits for the network's height + margin", { file: statePath });
            privval.requireFloor(GUARD_RESET_MARGIN, () => Math.max(store.head().height, net?.sync.syncer.bestPeerHeight() ?? 0), (floor: number) =>
              log.warn("guard state reset: this validator signs nothing below the floor", { floor, margin: GUARD_RESET_MARGIN }),
            );
          }
          privval.onWriteFailure = (e) => node.reportFault(e, "guard state", statePath);
          node.validatorAddress = privval.address;
          node.wal = await ConsensusWal.open(walPath);
          node.wal.onWriteFailure = (e) => node.reportFault(e, "consensus WAL", walPath);
          if (node.wal.truncatedBytes > 0) log.warn("cut a torn tail off the consensus WAL (a crash during a write; nothing in it was sent)", { file: walPath, bytes: node.wal.truncatedBytes });
          const head = store.head().height;
          if (!(await sets.at(head + 1)).byAddress(privval.address)) {
            log.info("the validator key is not in the current validator set: following until governance adds it", { address: toHex(privval.address) });
          }
        } else {
          log.info("no validator key: running as a full node", { keyFile: paths.validatorKeyFile });
        }
        const consensusOpts = consensusOptionsOf(genesis, fileCfg.consensus, paths.configFile, log.child("consensus"));
        // A proposal carries its whole block in one p2p frame: the proposer caps its txs to fit (validators still accept up to params.maxBlockBytes).
        consensusOpts.maxProposalTxBytes ??= proposalTxBytesFor(fileCfg.p2p?.maxFrameBytes ?? defaultP2pOptions.maxFrameBytes);
        const evidence = pool!;
        node.bft = new BftEngine(consensusOpts, {
          chainId: genesis.chainId,
          store,
          mempool,
          verifier,
          params: genesis.params,
          validatorSetAt: (h) => sets.at(h),
          pendingEvidence: () => evidence.pending(),
          onEvidence: (ev) => {
            evidence.add(ev).then(
              (added) => {
                if (added) net?.gossipEvidence(encodeEvidence(ev));
              },
              (e: unknown) => log.child("consensus").warn("detected evidence refused by the pool", { error: (e as Error).message, code: (e as { code?: unknown }).code }),
            );
          },
          privval,
          wal: node.wal ?? null,
          // Without p2p (a lone full node) there is no one to send to or sync from.
          ...(net ? net.consensusPort : { broadcast: () => {} }),
          clock: Date.now,
          log: log.child("consensus"),
        });
        node.bft.on("block", (ev) => node.onBlock(ev));
        node.bft.on("txRejected", (d) => node.onTxRejected(d));
        net?.attachEngine(node.bft);
      }

      let rpcOpts: RpcOptions;
      try {
        // Request logs go to the node's log unless node.json or the caller set `logger`.
        rpcOpts = resolveRpcOptions({ ...defaultRpcOptions, port: defaultNodeOptions.rpcPort, logger: fastifyLogger(log.child("rpc")), ...fileCfg.rpc, ...opts.rpc });
      } catch (e) {
        throw new NodeConfigError(`rpc options (${paths.configFile} "rpc" or flags): ${(e as Error).message}`);
      }
      let ws: WebSocketEndpoint | undefined;
      const exportReader = new ExportPageReader({
        chainId: genesis.chainId,
        lastExportSeq: () => store.lastExportSeq(),
        exportEntries: (after, limit) => store.exportEntries(after, limit),
        getBlock: (h) => store.getBlock(h),
        getCommit: (h) => store.getCommit(h),
      });
      // One export page is one notification: it must fit a connection's send queue with room to spare.
      const exportPageBytes = Math.min(rpcOpts.maxPageBytes, Math.floor(rpcOpts.wsMaxQueueBytes / 2));
      const hub = (node.hub = new SubscriptionHub(node.events, (hash) => node.txOutcome(hash), { reader: exportReader, pageBytes: exportPageBytes }));
      const metrics = new NodeMetrics(
        {
          height: () => store.head().height,
          mempool: () => ({ txs: mempool.size, bytes: mempool.byteSize }),
          peers: () => node.peerCount(),
          wsConnections: () => ws?.connections ?? 0,
          wsSubscriptions: () => hub.size,
          smtCache: () => store.smt.cacheStats(),
          ...(node.snapshots ? { snapshots: () => node.snapshots!.stats() } : {}),
        },
        { processMetrics: true },
      );
      node.stopMetrics = metrics.observe(node.events);
      const methods = metrics.instrument({
        ...nodeMethods(node.readApi(), { benchMethods: process.env.SID_BENCH === "1" }),
        ...registryMethods({
          head: () => store.head(),
          getRecord: (id) => store.getRecord(id),
          listRecords: (kind, o) => store.listRecords(kind, o),
          listStatusLists: (issuer, o) => store.listStatusLists(issuer, o),
          proveRecord: (id) => node.proveRecord(id),
          now: Date.now,
        }),
        ...exportMethods(exportReader),
        ...netMethods({ peers: () => node.peerStatuses() }),
        ...validatorMethods({
          head: () => store.head(),
          validatorsAt: (h) => node.validatorsAt(h),
          getEvidence: (h) => store.getEvidence(h),
          listEvidence: (o) => store.listEvidence(o),
        }),
      });
      node.app = buildServer(rpcOpts, methods, (app) => {
        registerHealth(app, { height: () => store.head().height, isSyncing: () => node.isSyncing(), problem: () => node.healthProblem(), snapshots: () => snapshotsWarning(node.snapshots?.stats()) });
        registerMetrics(app, metrics);
        ws = registerWebSocket(app, { methods, hub, options: rpcOpts });
        registerExplorer(app, { genesisFile: paths.genesisFile });
        registerResolverRoutes(app, createResolveDid(node.readApi()));
        registerStatusListRoutes(app, { getStatusList: async (issuer, listId) => (await store.getRecord(statusListStateId(issuer, listId))) as StatusListRecord | undefined });
      });
      const address = await node.app.listen({ host: rpcOpts.host, port: rpcOpts.port });
      node.rpcUrl = address.replace("[::1]", "127.0.0.1");
      node.engine?.start();
      if (node.net) {
        await node.net.start({ initialSyncWaitMs: fileCfg.consensus?.initialSyncWaitMs ?? 3_000 });
      } else if (node.bft) {
        node.bft.start();
        node.bft.startConsensus();
      }
      log.info("sid node running", { p2p: node.net ? `${fileCfg.p2p?.host ?? "127.0.0.1"}:${node.net.network.listenPort} node ${node.net.network.nodeId}` : "off (single validator)", mode: node.bft ? (node.validatorAddress ? "validator" : "full node") : "single validator", chainId: genesis.chainId, height: store.head().height, rpc: node.rpcUrl, secp256k1: secp.name, home: paths.home });
      return node;
    } catch (e) {
      await created?.net?.stop().catch(() => {});
      await created?.wal?.close().catch(() => {});
      await preverifier?.close();
      await store.close().catch(() => {});
      // A read that failed for the disk's sake while starting (a damaged table, say) is a storage fault, named as one.
      throw store.faults.fault ?? asStorageFault(e, "chain store", paths.chainDb) ?? e;
    }
  }

  /** The typed error for history before this store's first height (a node restored from a snapshot). */
  private historyNotHere(what: string): ChainError {
    const first = this.store.baseHeight();
    return new ChainError(
      BlockErrorCode.HISTORY_NOT_HERE,
      `${what} is before this node's first height ${first}: it was started from a state snapshot and holds no blocks, txs or DID versions before it; an archive node (one that replayed the chain from genesis) has them`,
      { firstHeight: first },
    );
  }

  private readApi(): NodeReadApi {
    const s = this.store;
    const pruned = () => s.baseHeight() > 1;
    return {
      chainId: this.genesis.chainId,
      genesisHash: genesisHash(this.genesis),
      validatorAddress: this.validatorAddress,
      signatureBackend: secp.name,
      head: () => s.head(),
      getBlock: async (h) => {
        if (h < s.baseHeight()) throw this.historyNotHere(`block ${h}`);
        return s.getBlock(h);
      },
      getBlockHeightByHash: (h) => s.getBlockHeightByHash(h),
      getTxLocation: (h) => s.getTxLocation(h),
      getDid: (d) => s.getDid(d),
      // Versions of a DID written before the first height are not here: asked for, they get the typed error, not "not found".
      getDidVersion: async (d, n) => {
        const v = await s.getDidVersion(d, n);
        if (v || !pruned()) return v;
        const rec = await s.getDid(d);
        if (rec && n >= 1 && n <= rec.versionId) throw this.historyNotHere(`version ${n} of ${d}`);
        return undefined;
      },
      getDidVersionEntry: async (d, n) => {
        const v = await s.getDidVersionEntry(d, n);
        if (v || !pruned()) return v;
        const rec = await s.getDid(d);
        if (rec && n >= 1 && n <= rec.versionId) throw this.historyNotHere(`version ${n} of ${d}`);
        return undefined;
      },
      didVersionAt: async (d, t) => {
        const n = await s.didVersionAt(d, t);
        if (n !== undefined || !pruned()) return n;
        const rec = await s.getDid(d);
        if (!rec || rec.created > t) return undefined;
        if (rec.updated <= t) return rec.versionId;
        throw this.historyNotHere(`the version of ${d} at ${new Date(t).toISOString()}`);
      },
      didVersionPage: async (d, o) => {
        const page = await s.didVersionPage(d, o);
        if (!pruned()) return page;
        const from = (o.after ?? 0) + 1;
        if (page.entries[0]?.versionId === from) return page;
        const rec = await s.getDid(d);
        if (rec && from <= rec.versionId) throw this.historyNotHere(`version ${from} of ${d}`);
        return page;
      },
      proveDid: (d) => this.proveDid(d),
      mempool: this.mempool,
      submitTx: (encoded, wait, timeoutMs) => this.submitTx(encoded, wait, timeoutMs),
      peerCount: () => this.peerCount(),
      isCatchingUp: () => this.isSyncing(),
    };
  }

  /** A DID's state proof plus the validator set that signed its commit (did_resolve with proof). */
  private proveDid(did: string): Promise<AnchoredStateProof> {
    return this.proveRecord(did);
  }

  /** Any record's state proof (DIDs, issuers, status lists, ...) plus the validator set that signed its commit. */
  proveRecord(id: string): Promise<AnchoredStateProof> {
    return this.proveWithValidators(this.store.proveRecord(id));
  }

  /** The validator set that signs `height` (1 to head + 2). */
  validatorsAt(height: number): Promise<ValidatorSet> {
    if (height < this.store.baseHeight()) return Promise.reject(this.historyNotHere(`the validator set of height ${height}`));
    return this.validatorSets!.at(height);
  }

  private async proveWithValidators(proof: Promise<StateProof>): Promise<AnchoredStateProof> {
    const p = await proof;
    const set = await this.validatorsAt(p.height);
    // A header naming another set than the chain's state schedules would be a broken chain, not a client error.
    if (!bytesEqual(set.hash, p.header.validatorsHash)) throw new Error(`block ${p.height} names validators ${toHex(p.header.validatorsHash)}, not the set in force at its height`);
    return { ...p, validators: set.validators.map((v) => ({ publicKey: v.publicKey, power: v.power })) };
  }

  async submitTx(encoded: Uint8Array, wait: boolean, timeoutMs: number): Promise<SubmitOutcome> {
    const hash = toHex(txHash(encoded));
    if (!wait) {
      await this.mempool.add(encoded);
      this.net?.gossipTx(encoded);
      return { status: "pending", hash };
    }
    // Register before admission so a commit cannot slip between the two.
    let waiter!: Waiter;
    const settled = new Promise<SubmitOutcome>((resolve) => (waiter = resolve));
    const set = this.waiters.get(hash) ?? new Set();
    set.add(waiter);
    this.waiters.set(hash, set);
    const timer = setTimeout(() => this.settleOne(hash, waiter, { status: "pending", hash }), timeoutMs);
    try {
      await this.mempool.add(encoded);
      this.net?.gossipTx(encoded);
    } catch (e) {
      clearTimeout(timer);
      this.removeWaiter(hash, waiter);
      throw e;
    }
    const out = await settled;
    clearTimeout(timer);
    return out;
  }

  private removeWaiter(hash: string, w: Waiter): void {
    const set = this.waiters.get(hash);
    if (!set) return;
    set.delete(w);
    if (set.size === 0) this.waiters.delete(hash);
  }

  private settleOne(hash: string, w: Waiter, o: SubmitOutcome): void {
    this.removeWaiter(hash, w);
    w(o);
  }

  private settle(hash: string, o: SubmitOutcome): void {
    const set = this.waiters.get(hash);
    if (!set) return;
    this.waiters.delete(hash);
    for (const w of set) w(o);
  }

  /** True while block sync is catching up (GET /health answers 503, node_status.catchingUp). A single validator is never behind. */
  isSyncing(): boolean {
    return (this.bft?.isSyncing() ?? false) || (this.net?.sync.syncer.isSyncing() ?? false);
  }

  /** Each connected peer with the height it announced (net_peers). */
  peerStatuses(): PeerStatus[] {
    if (!this.net) return [];
    const heights = this.net.sync.syncer.peerHeights();
    return this.net.network.peers().map((p) => ({
      id: p.id,
      address: p.address,
      direction: p.direction,
      height: heights.get(p.id)?.height ?? null,
      score: p.score,
      listenAddress: p.listenAddress ?? null,
      connectedAt: new Date(p.connectedAt).toISOString(),
    }));
  }

  /** Why GET /health answers 503, if it does (healthProblemOf); stale after five times propose + commit wait, at least 5 s. */
  healthProblem(now = Date.now()): HealthProblem | undefined {
    const t = consensusTiming(this.genesis.params);
    return healthProblemOf({
      fault: this.fault,
      expectsPeers: this.expectsPeers,
      peerCount: this.peerCount(),
      syncing: this.isSyncing(),
      bft: this.bft !== undefined,
      head: this.store.head(),
      bestPeerHeight: this.net?.sync.syncer.bestPeerHeight(),
      staleAfterMs: Math.max(5_000, 5 * (t.proposeMs + t.commitMs)),
      now,
    });
  }

  /** Connected p2p peers (sid_p2p_peers); none until the node has a p2p layer. */
  peerCount(): number {
    return this.net?.network.peers().length ?? 0;
  }

  /** A tx's final status for a `tx` subscription: committed, rejected, or undefined while pending or unknown. */
  private async txOutcome(hash: string): Promise<TxOutcome | undefined> {
    const h = fromHex(hash, 32);
    const loc = await this.store.getTxLocation(h);
    if (loc) return { hash, status: "committed", height: loc.height, index: loc.index };
    const rejected = this.mempool.rejection(h);
    return rejected ? { hash, status: "rejected", error: rejected } : undefined;
  }

  private onTxRejected(d: { hash: Uint8Array; why: Rejection }): void {
    this.events.emit("txRejected", { hash: toHex(d.hash), error: d.why });
    this.settle(toHex(d.hash), { status: "rejected", hash: toHex(d.hash), error: d.why });
  }

  private onBlock(ev: CommittedBlockEvent): void {
    // First: the snapshot must be taken before anything can commit the next block.
    this.snapshots?.onCommitted(ev.block.header.height, ev.block.header.stateRoot);
    this.net?.announceBlock();
    this.evidencePool?.onBlockCommitted(ev.block.header.height, ev.evidence.map((e) => e.hash));
    this.events.emit("block", blockCommittedEvent(ev, Date.now(), ev.round ?? 0));
    for (const s of ev.statusLists) this.events.emit("statusList", s);
    if (this.waiters.size === 0) return;
    ev.txs.forEach((c, index) => {
      const hash = toHex(c.hash);
      this.settle(hash, { status: "committed", hash, height: ev.block.header.height, index });
    });
  }

  /**
   * Called once, with the first storage fault of the store, the WAL or the
   * guard state. The node stops producing and following blocks; the process
   * is expected to exit (`sid start` exits with EXIT_STORAGE_FAULT), since a
   * store that failed a write is not trusted to take the next one.
   */
  onFault(fn: (f: StorageFaultError) => void): void {
    if (this.fault) fn(this.fault);
    else this.faultListeners.push(fn);
  }

  /** An error of a file this node writes: a storage fault stops the node; other errors are the caller's. */
  reportFault(e: unknown, source: string, path: string): void {
    const f = asStorageFault(e, source, path);
    if (f) this.onStorageFault(f);
  }

  private onStorageFault(f: StorageFaultError): void {
    if (this.fault) return;
    this.fault = f;
    this.log.error("storage fault: this node stops", { source: f.source, path: f.path, cause: `${f.causeCode}: ${f.causeMessage}`, todo: f.remedy });
    // Nothing more is decided or applied on a store that failed: the engines stop (their in-flight step ends with an error).
    void this.engine?.stop().catch(() => {});
    void this.bft?.stop().catch(() => {});
    this.net?.sync.syncer.stop();
    for (const l of this.faultListeners.splice(0)) l(f);
  }

  /** Stop accepting requests, finish the block in progress, close the store. */
  async stop(): Promise<void> {
    await this.app?.close();
    this.hub?.dispose();
    this.stopMetrics?.();
    await this.engine?.stop();
    await this.bft?.stop();
    await this.net?.stop();
    await this.snapshots?.idle();
    await this.wal?.close();
    await this.preverifier?.close();
    await this.store.close();
    this.log.info("sid node stopped");
  }
}

