/**
 * The network side of a node: the p2p transport, tx gossip, the consensus
 * channel feeding the BFT engine, and block sync before (and whenever the
 * node falls behind) consensus. The p2p handlers only decode, check and
 * queue; the engine's loop alone changes round state.
 *
 * Wiring order: the network is built first (it needs the store and the
 * mempool, not the engine); the BFT engine is built next with the network's
 * consensusPort in its deps; attachEngine then gives the network the engine
 * its consensus channel and block sync deliver to, before start.
 */
import type { Mempool } from "../chain/mempool.js";
import type { ChainStore } from "../chain/store.js";
import type { BftEngine, BftEngineDeps, WireConsensusMessage } from "../consensus/bft-engine.js";
import type { Block, Commit } from "../chain/block.js";
import { ConsensusError, ConsensusErrorCode } from "../consensus/errors.js";
import { MAX_EVIDENCE_FRAME_BYTES, decodeWireConsensus, decodeWireEvidence, encodeWireConsensus } from "../consensus/wire.js";
import { BlockSync, type BlockSyncOptions, Channel, P2pNetwork, type P2pOptions, Penalty, TxGossip, loadOrCreateNodeKey, nodeKeyPath, penaltyOf } from "../p2p/index.js";
import { ChainError, TxErrorCode } from "../chain/errors.js";
import { REJECT_FORGED, REJECT_INVALID } from "../errors.js";
import { TxType, decodeTx, txSigningDigestOfEncoded } from "../chain/tx.js";
import { verifyDigest } from "../crypto/secp256k1.js";
import { keyForRelationship } from "../did/document.js";
import type { PeerInfo } from "../p2p/index.js";
import type { EvidencePool } from "../consensus/evidence-pool.js";
import type { Logger } from "../log/logger.js";
import type { SnapshotDir } from "../chain/snapshot-store.js";
import { SnapshotServer, defaultSnapshotServerOptions, registerSnapshotChannel } from "../p2p/snapshot-sync.js";

export interface NetworkWiringDeps {
  home: string;
  chainId: string;
  genesisHash: Uint8Array;
  store: ChainStore;
  mempool: Mempool;
  /**
   * True when a BFT engine will drive consensus over this network (it is
   * built after the network, from consensusPort, and handed over with
   * attachEngine); false when a single validator produces blocks alone (the
   * network then only serves sync and txs).
   */
  bft: boolean;
  /** Pending evidence (BFT nodes): peers' evidence is checked into it and relayed. */
  evidence?: EvidencePool;
  log: Logger;
  /** node.json "blockSync": batch sizes, timeouts, how often progress is logged. */
  blockSync?: Partial<BlockSyncOptions>;
  /** The node's state snapshots, served on the snapshot channel. */
  snapshots?: SnapshotDir;
}

/** What the BFT engine calls on the network: the network half of its deps. */
export type ConsensusPort = Required<Pick<BftEngineDeps, "broadcast" | "reportPeer" | "peersHeight" | "provenPeersHeight" | "requestProof" | "catchUp">>;

/** What the network calls on the BFT engine. */
export type ConsensusDriver = Pick<BftEngine, "admit" | "currentMessages" | "applySyncedBlock" | "verifyCommitOf" | "start" | "startConsensus">;

export interface NodeNetwork {
  network: P2pNetwork;
  sync: BlockSync;
  txGossip: TxGossip;
  /** The engine's view of the network (BftEngineDeps): built with the network, so the engine is built after it. */
  consensusPort: ConsensusPort;
  /**
   * Hand the network the engine it feeds (a BFT node, once, before start):
   * the consensus channel goes to its inbox, synced blocks to its apply.
   */
  attachEngine(engine: ConsensusDriver): void;
  /** Relay a tx this node admitted (RPC) to its peers. */
  gossipTx(encoded: Uint8Array): void;
  /** Send evidence this node found to its peers. */
  gossipEvidence(encoded: Uint8Array): void;
  /** Tell peers about a block committed here. */
  announceBlock(): void;
  /**
   * Fetch the peers' blocks until this node has what they announced (or, with
   * a proven `target`, at least that); resolves when the sync ends, however.
   */
  catchUp(target?: number): Promise<void>;
  /** Start listening and dialling; with an engine, run block sync and then consensus. */
  start(opts: { initialSyncWaitMs: number }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * What a refused gossiped tx says about the peer that sent it, as a verdict
 * (accept / ignore / reject, as gossip validation has it): `ignore` for a
 * refusal that may be a race (a block, its signer's other txs, a key
 * rotation this node or the peer has not seen yet), `reject` with a penalty
 * for one no honest peer sends. The rules are stated in docs/p2p.md ("Txs").
 */
export type TxVerdict = { verdict: "ignore" } | { verdict: "reject"; penalty: number; reason: string };

/**
 * Blocks a signer's committed record must have stood unchanged, and the
 * most a peer may lag behind this node, for a bad signature on the
 * signer's tx to be held against the peer: within that window the peer and
 * this node hold the same key for the signer.
 */
export const FORGED_TX_WINDOW_BLOCKS = 10;

export interface TxVerdictContext {
  chainId: string;
  headHeight(): number;
  /** The height the peer announced (block sync status), undefined before its first. */
  peerHeight(peerId: string): number | undefined;
  /** Whether a tx in this node's pool changes the signer (its record as admission saw it may then be a pending one). */
  hasPending(did: string): boolean;
  committedDid(did: string): Promise<{ document: Parameters<typeof keyForRelationship>[0]; updatedHeight: number; deactivated: boolean } | undefined>;
}

const IGNORED: TxVerdict = { verdict: "ignore" };

/**
 * The verdict on a gossiped tx the mempool refused with `e`: the error's own
 * (ChainError's table blames the sender for refusals no state can explain),
 * except that a bad signature, which the table cannot judge alone, is
 * judged by the forged-signature rule (forgedTxVerdict).
 */
export async function txVerdictOf(e: ChainError, encoded: Uint8Array, from: PeerInfo, ctx: TxVerdictContext): Promise<TxVerdict> {
  const v = e.verdict;
  if (v.action === "reject") return { verdict: "reject", penalty: penaltyOf(v), reason: `${e.code}: ${e.message}` };
  return e.code === TxErrorCode.BAD_SIGNATURE ? forgedTxVerdict(e, encoded, from, ctx) : IGNORED;
}

/**
 * A bad signature is the peer's fault when it is on a create (checked
 * against the key in its own document: forged, not stale), or when no race
 * can explain it: the peer is neither ahead of this node nor more than
 * FORGED_TX_WINDOW_BLOCKS behind (an honest peer announces each block
 * before it relays txs checked against it, over the same connection); the
 * signer's committed record has not changed in that window and no pooled tx
 * changes it, so the peer checked the tx against the same key; and the
 * signature fails against that committed key. A peer that relays such a tx
 * did not check it.
 */
async function forgedTxVerdict(e: ChainError, encoded: Uint8Array, from: PeerInfo, ctx: TxVerdictContext): Promise<TxVerdict> {
  let tx;
  try {
    tx = decodeTx(encoded, ctx.chainId);
  } catch {
    return IGNORED;
  }
  if (tx.type === TxType.DidCreate) return { verdict: "reject", penalty: penaltyOf(REJECT_INVALID), reason: `${e.code}: ${e.message}` };
  const head = ctx.headHeight();
  const announced = ctx.peerHeight(from.id);
  if (announced !== undefined && (announced > head || announced < head - FORGED_TX_WINDOW_BLOCKS)) return IGNORED;
  if (ctx.hasPending(tx.signer)) return IGNORED;
  const signer = await ctx.committedDid(tx.signer);
  if (!signer || signer.deactivated || signer.updatedHeight > head - FORGED_TX_WINDOW_BLOCKS) return IGNORED;
  const relationship = tx.type === TxType.StatusListPublish ? "assertionMethod" : "authentication";
  const key = keyForRelationship(signer.document, relationship, tx.vm);
  if (!key || verifyDigest(tx.sig, txSigningDigestOfEncoded(encoded), key)) return IGNORED;
  return { verdict: "reject", penalty: penaltyOf(REJECT_FORGED), reason: `forged tx: signature of ${tx.signer} does not verify against its committed key ${tx.vm}` };
}

export function wireNetwork(p2p: Partial<P2pOptions>, deps: NetworkWiringDeps): NodeNetwork {
  const plog = deps.log.child("p2p");
  const network = new P2pNetwork(p2p, { chainId: deps.chainId, genesisHash: deps.genesisHash, nodeKey: loadOrCreateNodeKey(nodeKeyPath(deps.home)), log: plog });
  const { store, mempool } = deps;
  /** The BFT engine, once attached; block sync and the consensus channel deliver to it. */
  let engine: ConsensusDriver | undefined;
  let started = false;

  // Txs travel in batches (tx-gossip.ts). The same admission as a tx over RPC; only admitted txs are relayed.
  // A peer's announced height is block sync's (built below; admissions start with the network).
  const verdictContext: TxVerdictContext = {
    chainId: deps.chainId,
    headHeight: () => store.head().height,
    peerHeight: (id) => sync.syncer.peerHeights().get(id)?.height,
    hasPending: (did) => mempool.pendingRecord(did) !== undefined,
    committedDid: (did) => store.getDid(did),
  };
  const txGossip = new TxGossip(network, {
    admit: async (encoded, from) => {
      try {
        await mempool.add(encoded);
        return true;
      } catch (e) {
        if (!(e instanceof ChainError)) {
          plog.warn("tx admission failed", { error: (e as Error)?.message ?? String(e) });
          return false;
        }
        // Malformed or forged: the peer's fault. Other refusals may be races: dropped, not relayed, not held against the peer.
        const v = await txVerdictOf(e, encoded, from, verdictContext);
        return v.verdict === "reject" ? { fault: v.reason, penalty: v.penalty } : false;
      }
    },
  });

  const pool = deps.evidence;
  if (pool) {
    network.registerChannel<Uint8Array>(Channel.Evidence, {
      gossip: "auto",
      maxMessageBytes: MAX_EVIDENCE_FRAME_BYTES,
      decode: decodeWireEvidence,
      // The block rule for evidence decides: only new evidence that passes it is pooled and relayed.
      onMessage: async (peer, encoded) => {
        try {
          const added = await pool.add(encoded);
          if (added) plog.info("evidence received", { peer: peer.id, validator: Buffer.from(added.validator).toString("hex"), height: added.height });
          return added !== undefined;
        } catch (e) {
          if (!(e instanceof ChainError)) throw e;
          // Forged evidence (it does not decode, or its votes prove nothing against the set of their height) is the
          // sender's fault: its error rejects it. Other refusals may come from what this node lacks (the set of a
          // height it has not reached): dropped, not penalised.
          const v = e.verdict;
          if (v.action === "reject") network.reportBad(peer.id, `forged evidence: ${e.message}`, penaltyOf(v));
          else plog.info("evidence refused", { peer: peer.id, code: e.code, error: e.message });
          return false;
        }
      },
    });
  }

  if (deps.bft) {
    network.registerChannel<WireConsensusMessage>(Channel.Consensus, {
      gossip: "manual",
      maxMessageBytes: network.opts.maxFrameBytes,
      decode: decodeWireConsensus,
      encode: encodeWireConsensus,
      onMessage: (peer, msg) => {
        engine?.admit(msg, peer.id);
      },
    });
    // A peer that connects mid-height gets what this node holds of it (liveness: gossip reaches every correct node).
    network.on("peerConnected", (peer) => {
      for (const m of engine?.currentMessages() ?? []) network.send(peer.id, Channel.Consensus, m);
    });
  }
  const attachEngine = (e: ConsensusDriver): void => {
    if (!deps.bft || engine || started) throw new ConsensusError(ConsensusErrorCode.BAD_INPUT, "an engine is attached once, to a network built for one, before it starts");
    engine = e;
  };

  const sync = new BlockSync(
    network,
    {
      source: {
        head: () => store.head().height,
        baseHeight: () => store.baseHeight(),
        getBlock: (h) => store.getBlock(h),
        getCommit: (h) => store.getCommit(h),
      },
      applySyncedBlock: async (block, commit) => {
        if (!engine) throw new ConsensusError(ConsensusErrorCode.BAD_INPUT, "this node produces its own blocks; it does not sync");
        await engine.applySyncedBlock(block, commit);
      },
      ...(deps.bft ? { verifyCommit: (block: Block, commit: Commit) => (engine ? engine.verifyCommitOf(block, commit) : Promise.resolve(undefined)) } : {}),
      log: plog,
    },
    // 0: sync until this node has every block a peer announced; consensus then starts at the peers' next height.
    { ...deps.blockSync, caughtUpLag: 0 },
  );

  const consensusPort: ConsensusPort = {
    broadcast: (msg, except) => void network.broadcast(Channel.Consensus, msg, except),
    reportPeer: (peer, reason) => network.reportBad(peer, reason, Penalty.BAD_SIGNATURE),
    peersHeight: () => sync.syncer.bestPeerHeight(),
    provenPeersHeight: () => sync.syncer.provenHeight(),
    requestProof: (h) => sync.syncer.requestProof(h),
    catchUp: (target) => catchUp(target),
  };

  if (deps.snapshots) {
    const server = new SnapshotServer(network, { dir: deps.snapshots, getBlock: (h) => store.getBlock(h), getCommit: (h) => store.getCommit(h), validatorSetAt: (h) => store.validatorSetAt(h), baseHeight: () => store.baseHeight(), headHeight: () => store.head().height }, defaultSnapshotServerOptions, plog);
    registerSnapshotChannel(network, server);
  }

  const catchUp = (target?: number): Promise<void> =>
    new Promise((resolve) => {
      if (sync.syncer.isSyncing()) {
        sync.syncer.once("ended", () => resolve());
        return;
      }
      sync.syncer.once("ended", () => resolve());
      sync.syncer.start(target !== undefined ? { target } : {});
    });

  return {
    network,
    sync,
    txGossip,
    consensusPort,
    attachEngine,
    gossipTx: (encoded) => void txGossip.submit(encoded),
    gossipEvidence: (encoded) => {
      if (!pool) return;
      try {
        network.broadcast(Channel.Evidence, encoded);
      } catch (e) {
        plog.warn("evidence gossip failed", { error: (e as Error).message });
      }
    },
    announceBlock: () => sync.announce(),
    catchUp,
    async start({ initialSyncWaitMs }) {
      started = true;
      await network.start();
      if (!engine) return;
      const driver = engine;
      driver.start();
      // Block sync first. With no peer answering (the first validators of a network start together), consensus starts anyway after a short wait.
      let consensusStarted = false;
      const begin = () => {
        if (consensusStarted) return;
        consensusStarted = true;
        clearTimeout(fallback);
        driver.startConsensus();
      };
      const fallback = setTimeout(() => {
        if (sync.syncer.bestPeerHeight() === undefined) {
          sync.syncer.stop();
          begin();
        }
      }, initialSyncWaitMs);
      fallback.unref();
      void catchUp().then(begin);
    },
    async stop() {
      sync.close();
      txGossip.close();
      await network.stop();
    },
  };
}

export { Penalty };
