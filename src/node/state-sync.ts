/**
 * Starting an empty node from its peers' state snapshots instead of replaying
 * every block (docs/state-sync.md): the snapshot is checked against the
 * genesis validators by the light client's rule, restored into the store,
 * and the node then block-syncs from its height.
 */
import type { Genesis } from "../chain/genesis.js";
import { SnapshotRestorer } from "../chain/snapshot-store.js";
import type { ChainStore } from "../chain/store.js";
import { ValidatorSetTracker } from "../client/trust.js";
import { ProposerPriorities } from "../consensus/proposer.js";
import { ValidatorSet } from "../chain/validator-set.js";
import type { P2pOptions } from "../p2p/index.js";
import { type StateSyncOptions, type StateSyncProgress, stateSyncFromPeers } from "../p2p/snapshot-sync.js";
import type { Logger } from "../log/logger.js";

/** One progress line of state sync, for stderr. */
export function stateSyncProgressLine(p: StateSyncProgress): string {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const eta = p.etaSec === undefined ? "?" : `${Math.ceil(p.etaSec)} s`;
  return `state sync: chunks ${p.chunksDone}/${p.chunksTotal}, ${mb(p.bytes)} MB, ${mb(p.bytesPerSec)} MB/s, ${eta} left`;
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
): Promise<void> {
  const slog = log.child("statesync");
  const trust = new ValidatorSetTracker(genesis.chainId, ValidatorSet.fromGenesis(genesis.validators));
  let restorer: SnapshotRestorer | undefined;
  const { enabled: _enabled, ...syncOpts } = cfg.stateSync ?? {};
  // A store without a head holds no chain: whatever an interrupted state sync left in it goes, so no stale record outlives the new root.
  await store.db.clear();
  slog.info("state sync: looking for snapshots", { peers: peers.join(",") });
  const r = await stateSyncFromPeers(
    { ...cfg.p2p, persistentPeers: peers },
    { chainId: genesis.chainId, genesisHash: gHash },
    {
      trust,
      genesisTime: Date.parse(genesis.genesisTime),
      restorer: (m) => (restorer = new SnapshotRestorer(store, m)),
      // Errors of the short-lived state-sync network are logged at warn level.
      log: { ...slog, error: (msg, f) => slog.warn(msg, f) },
      progress: (p) => process.stderr.write(stateSyncProgressLine(p) + "\n"),
    },
    syncOpts,
  );
  // A single validator stores no proposer priorities (it proposes every block): the node following it starts them here.
  await restorer!.finish(gHash, r.block, r.commit, (entries) => {
    const set = entries ? ValidatorSet.fromEntries(entries) : ValidatorSet.fromGenesis(genesis.validators);
    return set.validators.length === 1 ? ProposerPriorities.initial(set).encode() : undefined;
  });
  slog.info("state sync done", { height: r.height, chunks: r.chunks, bytes: r.bytes, ms: r.ms, refusedPeers: r.refusedPeers.length });
}
