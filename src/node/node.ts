/**
 * Wiring: genesis, store, mempool, consensus engine and RPC server of one
 * node, started and stopped together.
 */
import { existsSync, readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { bytesEqual, toHex } from "../crypto/bytes.js";
import { secp } from "../crypto/secp256k1.js";
import { genesisHash, genesisTimeMs, type Genesis } from "../chain/genesis.js";
import { SignatureVerifier } from "../chain/execute.js";
import { Mempool, defaultMempoolOptions, type MempoolOptions, type Rejection } from "../chain/mempool.js";
import { ChainStore } from "../chain/store.js";
import { TxPreverifier } from "../chain/preverify.js";
import { txHash } from "../chain/tx.js";
import { SingleValidatorEngine, defaultEngineOptions, type CommittedBlockEvent } from "../consensus/engine.js";
import { type SignState, ValidatorSigner } from "../consensus/signer.js";
import { ValidatorSet } from "../consensus/validators.js";
import { verifyCommit } from "../consensus/vote.js";
import { buildServer } from "../rpc/server.js";
import { nodeMethods, type NodeReadApi, type SubmitOutcome } from "../rpc/methods.js";
import { defaultRpcOptions, type RpcOptions } from "../rpc/options.js";
import { registerResolverRoutes } from "../rpc/resolver-http.js";
import { createResolveDid } from "../rpc/resolve.js";
import { type HomePaths, NodeConfigError, homePaths, initHome, loadGenesis, loadValidatorKey } from "./home.js";
import { createLogger, type Logger } from "./log.js";

export interface NodeOptions {
  home: string;
  dev: boolean;
  rpc: Partial<RpcOptions>;
  /** Reserved for the p2p transport; a single-validator node has no peers and does not listen. */
  p2pPort?: number;
  /** Longest time without a block; default from config/node.json, else 5 s. */
  heartbeatMs?: number;
  mempool: Partial<MempoolOptions>;
}

/** Ports from DESIGN.md: RPC 8660, p2p 8661, loopback unless configured. */
export const defaultNodeOptions = { rpcPort: 8660, p2pPort: 8661, heartbeatMs: defaultEngineOptions.heartbeatMs };

interface FileConfig {
  rpc?: Partial<RpcOptions>;
  p2pPort?: number;
  heartbeatMs?: number;
  mempool?: Partial<MempoolOptions>;
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
    if (v !== undefined && (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1)) {
      throw new NodeConfigError(`${paths.configFile}: ${name} must be a positive integer`);
    }
  };
  positive(cfg.heartbeatMs, "heartbeatMs");
  positive(cfg.p2pPort, "p2pPort");
  positive(cfg.mempool?.maxTxs, "mempool.maxTxs");
  positive(cfg.mempool?.maxBytes, "mempool.maxBytes");
  return cfg;
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
  private app: FastifyInstance | undefined;
  rpcUrl = "";
  validatorAddress: Uint8Array | undefined;
  private preverifier: TxPreverifier | undefined;

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
      store = await ChainStore.open(paths.chainDb);
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as { code?: string }).code;
      if (cause === "LEVEL_LOCKED") throw new NodeConfigError(`${paths.chainDb} is locked: another sid node is using ${paths.home}`);
      throw e;
    }
    let preverifier: TxPreverifier | undefined;
    try {
      if (!store.isInitialized()) await store.initGenesis(gHash, genesisTimeMs(genesis));
      const stored = await store.genesisHash();
      if (!stored || !bytesEqual(stored, gHash)) {
        throw new NodeConfigError(`${paths.chainDb} belongs to another genesis (stored ${stored ? toHex(stored) : "none"}, file ${toHex(gHash)})`);
      }
      const verifier = new SignatureVerifier();
      const validators = ValidatorSet.fromGenesis(genesis.validators);
      await checkHeadCommit(store, genesis.chainId, validators);
      const mempoolOpts = { ...defaultMempoolOptions, ...fileCfg.mempool, ...opts.mempool };
      preverifier = new TxPreverifier(genesis.chainId);
      const mempool = new Mempool(mempoolOpts, {
        preverifier,
        chainId: genesis.chainId,
        verifier,
        loadDids: (dids) => store.loadDids(dids),
        isCommitted: async (h) => (await store.getTxLocation(h)) !== undefined,
        nextBlock: () => {
          const head = store.head();
          return { height: head.height + 1, time: Math.max(Date.now(), head.time + 1) };
        },
      });
      const node = new SidNode(genesis, store, mempool, verifier, log);
      node.preverifier = preverifier;

      const sk = loadValidatorKey(paths);
      if (sk) {
        const signer = new ValidatorSigner(sk, (await store.getSignState()) as SignState | undefined);
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
            log: (msg, f) => log.child("consensus").info(msg, f),
          },
        );
        node.engine.on("block", (ev: CommittedBlockEvent) => node.onBlock(ev));
        node.engine.on("txRejected", (d: { hash: Uint8Array; why: Rejection }) => node.settle(toHex(d.hash), { status: "rejected", hash: toHex(d.hash), error: d.why }));
      } else {
        log.warn("no validator key: this node will not produce blocks", { keyFile: paths.validatorKeyFile });
      }

      const rpcOpts = { ...defaultRpcOptions, port: defaultNodeOptions.rpcPort, ...fileCfg.rpc, ...opts.rpc };
      node.app = buildServer(rpcOpts, nodeMethods(node.readApi(), { benchMethods: process.env.SID_BENCH === "1" }), (app) => {
        app.get("/health", async () => ({ status: "ok", height: store.head().height }));
        registerResolverRoutes(app, createResolveDid(node.readApi()));
      });
      const address = await node.app.listen({ host: rpcOpts.host, port: rpcOpts.port });
      node.rpcUrl = address.replace("[::1]", "127.0.0.1");
      node.engine?.start();
      log.info("sid node running", { p2p: `off (single validator; port ${opts.p2pPort ?? fileCfg.p2pPort ?? defaultNodeOptions.p2pPort} reserved)`, chainId: genesis.chainId, height: store.head().height, rpc: node.rpcUrl, secp256k1: secp.name, home: paths.home });
      return node;
    } catch (e) {
      await preverifier?.close();
      await store.close();
      throw e;
    }
  }

  private readApi(): NodeReadApi {
    const s = this.store;
    return {
      chainId: this.genesis.chainId,
      genesisHash: genesisHash(this.genesis),
      validatorAddress: this.validatorAddress,
      signatureBackend: secp.name,
      head: () => s.head(),
      getBlock: (h) => s.getBlock(h),
      getBlockHeightByHash: (h) => s.getBlockHeightByHash(h),
      getTxLocation: (h) => s.getTxLocation(h),
      getDid: (d) => s.getDid(d),
      getDidVersions: (d) => s.getDidVersions(d),
      mempool: this.mempool,
      submitTx: (encoded, wait, timeoutMs) => this.submitTx(encoded, wait, timeoutMs),
    };
  }

  async submitTx(encoded: Uint8Array, wait: boolean, timeoutMs: number): Promise<SubmitOutcome> {
    const hash = toHex(txHash(encoded));
    if (!wait) {
      await this.mempool.add(encoded);
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

  private onBlock(ev: CommittedBlockEvent): void {
    if (this.waiters.size === 0) return;
    ev.txs.forEach((c, index) => {
      const hash = toHex(c.hash);
      this.settle(hash, { status: "committed", hash, height: ev.block.header.height, index });
    });
  }

  /** Stop accepting requests, finish the block in progress, close the store. */
  async stop(): Promise<void> {
    await this.app?.close();
    await this.engine?.stop();
    await this.preverifier?.close();
    await this.store.close();
    this.log.info("sid node stopped");
  }
}

