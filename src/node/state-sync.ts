/**
 * Starting an empty node from its peers' state snapshots instead of replaying
 * every block (docs/state-sync.md): the snapshot height's header is trusted
 * by the light client from the genesis validators (bisecting over headers
 * peers serve when the set has moved), the snapshot is checked against it
 * and restored into the store, and the node then block-syncs from its
 * height. Meanwhile the RPC port answers GET /health with 503 "state-sync".
 */
import type { Genesis } from "../chain/genesis.js";
import { SnapshotRestorer } from "../chain/snapshot-store.js";
import type { ChainStore } from "../chain/store.js";
import { LightClient, ValidatorSetTracker } from "../client/trust.js";
import { ProposerPriorities } from "../consensus/proposer.js";
import { ValidatorSet } from "../chain/validator-set.js";
import type { P2pOptions } from "../p2p/index.js";
import { type StateSyncOptions, type StateSyncProgress, type TrustHeader, stateSyncFromPeers } from "../p2p/snapshot-sync.js";
import type { Logger } from "../log/logger.js";
import type { StateSyncHealth } from "../rpc/health.js";
import { StateSyncHealthServer } from "../rpc/state-sync-health.js";

/** One progress line of state sync, for stderr. */
export function stateSyncProgressLine(p: StateSyncProgress): string {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const eta = p.etaSec === undefined ? "?" : `${Math.ceil(p.etaSec)} s`;
  return `state sync: chunks ${p.chunksDone}/${p.chunksTotal}, ${mb(p.bytes)} MB, ${mb(p.bytesPerSec)} MB/s, ${eta} left`;
}

/**
 * State sync's header check: the SDK's light client from `tracker`'s trusted
 * headers (genesis at first), skipping verification with bisection over the
 * peers' light blocks; at most `maxFetches` light blocks for one height.
 */
export function lightClientTrust(tracker: ValidatorSetTracker, maxFetches = 1_000): TrustHeader {
  return async (source, height) => {
    const r = await new LightClient(tracker, source, { maxFetches }).verifyHeight(height);
    return { hash: tracker.trustedAt(height)!.hash, intermediate: r.intermediate };
  };
}

/**
 * Restore the state at a recent height from the peers' snapshots into the
 * empty `store`; the node then block-syncs from there. Progress goes to
 * stderr, one line a second. `cfg` is node.json's "p2p" and "stateSync".
 */
export async function stateSyncInto(
  store: ChainStore,
  genesis: Genesis,
  gHash: Uint8Array,
  peers: string[],
  cfg: { p2p?: Partial<P2pOptions>; stateSync?: { enabled?: boolean } & Partial<StateSyncOptions> },
  log: Logger,
  /** The node's RPC host and port: GET /health answers 503 "state-sync" there until this returns. */
  healthAt?: { host: string; port: number },
): Promise<void> {
  const slog = log.child("statesync");
  const status: StateSyncHealth = { phase: "discovering", chunksDone: 0, chunksTotal: 0, bytes: 0 };
  let health: StateSyncHealthServer | undefined;
  if (healthAt) {
    try {
      health = await StateSyncHealthServer.listen(healthAt.host, healthAt.port, () => status);
    } catch (e) {
      // The node's RPC server binds the same port later and reports a busy port itself.
      slog.warn("state sync: the RPC port does not answer /health during state sync", { host: healthAt.host, port: healthAt.port, error: (e as Error).message });
    }
  }
  try {
    await restore(store, genesis, gHash, peers, cfg, slog, status);
  } finally {
    await health?.close();
  }
}

async function restore(
  store: ChainStore,
  genesis: Genesis,
  gHash: Uint8Array,
  peers: string[],
  cfg: { p2p?: Partial<P2pOptions>; stateSync?: { enabled?: boolean } & Partial<StateSyncOptions> },
  slog: Logger,
  status: StateSyncHealth,
): Promise<void> {
  const genesisSet = ValidatorSet.fromGenesis(genesis.validators);
  const tracker = new ValidatorSetTracker(genesis.chainId, genesisSet, { genesisHash: gHash });
  let restorer: SnapshotRestorer | undefined;
  const { enabled: _enabled, ...syncOpts } = cfg.stateSync ?? {};
  // A store without a head holds no chain: whatever an interrupted state sync left in it goes, so no stale record outlives the new root.
  await store.db.clear();
  slog.info("state sync: looking for snapshots", { peers: peers.join(",") });
  const r = await stateSyncFromPeers(
    { ...cfg.p2p, persistentPeers: peers },
    { chainId: genesis.chainId, genesisHash: gHash },
    {
      genesisSet,
      trustHeader: lightClientTrust(tracker),
      phase: (phase, height) => {
        status.phase = phase;
        if (height !== undefined) status.height = height;
      },
      restorer: (m) => {
        status.phase = "chunks";
        status.chunksTotal = m.chunks.filter((c) => c.leaves > 0).length;
        status.chunksDone = status.bytes = 0;
        return (restorer = new SnapshotRestorer(store, m));
      },
      // Errors of the short-lived state-sync network are logged at warn level.
      log: { ...slog, error: (msg, f) => slog.warn(msg, f) },
      progress: (p) => {
        status.chunksDone = p.chunksDone;
        status.chunksTotal = p.chunksTotal;
        status.bytes = p.bytes;
        process.stderr.write(stateSyncProgressLine(p) + "\n");
      },
    },
    syncOpts,
  );
  status.phase = "finishing";
  // A single validator stores no proposer priorities (it proposes every block): the node following it starts them here.
  await restorer!.finish(gHash, r.block, r.commit, (entries) => {
    const set = entries ? ValidatorSet.fromEntries(entries) : ValidatorSet.fromGenesis(genesis.validators);
    return set.validators.length === 1 ? ProposerPriorities.initial(set).encode() : undefined;
  });
  slog.info("state sync done", { height: r.height, chunks: r.chunks, bytes: r.bytes, ms: r.ms, refusedPeers: r.refusedPeers.length });
}
