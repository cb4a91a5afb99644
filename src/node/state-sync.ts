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
import { LevelKv } from "../chain/db/level-kv.js";
import { type LightBlockSource, LightClient, ValidatorSetTracker } from "../client/trust.js";
import { intSettingFault } from "../check/faults.js";
import { SnapshotError, SnapshotErrorCode } from "../chain/snapshot.js";
import { ProposerPriorities } from "../consensus/proposer.js";
import { ValidatorSet } from "../chain/validator-set.js";
import type { P2pOptions } from "../p2p/index.js";
import { type StateSyncOptions, type StateSyncProgress, type TrustHeader, defaultStateSyncOptions, stateSyncFromPeers } from "../p2p/snapshot-sync.js";
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
 * Light blocks state sync fetches at most to trust one snapshot height
 * (node.json stateSync.maxLightBlocks). The light client fetches the target,
 * then one header per bisection step; a chain whose set moved more than 1/3
 * of its power S times since genesis needs about S * log2(H / S) of them at
 * height H (every height, at worst, when each block moves it): 1,360 were
 * measured at height 4,000 with the whole set replaced every 10 blocks, past
 * the former bound of 1,000. 10,000 is the SDK light client's own bound:
 * about 400 such changes on a chain of ten million blocks, by that estimate. A header that does not check is charged to its sender and
 * fetched again from another peer, so the bound limits an honest chain's
 * work, not a liar's (each liar is banned at its first lie).
 */
export const DEFAULT_MAX_LIGHT_BLOCKS = 10_000;

/** node.json "stateSync": whether to state-sync an empty store, the header bound, and the client's timing (p2p/snapshot-sync.ts). */
export interface StateSyncConfig extends Partial<StateSyncOptions> {
  enabled?: boolean;
  maxLightBlocks?: number;
}

/** The lowest value of each client option (an integer, at most MAX_SAFE_INTEGER): 0 where "none" means something. A key not named here is not checked. */
const CLIENT_OPTION_MIN: Readonly<Partial<Record<keyof StateSyncOptions, number>>> = Object.freeze({
  discoveryTimeoutMs: 1,
  offerWaitMs: 0,
  requestTimeoutMs: 1,
  chunksInFlightPerPeer: 1,
  chunkRequestsPerSecPerPeer: 1,
  timeoutMs: 1,
  progressIntervalMs: 0,
});

/**
 * node.json "stateSync" checked and split: `enabled`, `maxLightBlocks`
 * (default DEFAULT_MAX_LIGHT_BLOCKS) and the client's own options. Throws an
 * Error naming the key (`stateSync.maxLightBlocks: less than minimum 1 ...`).
 */
export function resolveStateSyncConfig(o: StateSyncConfig = {}): { enabled: boolean; maxLightBlocks: number; client: Partial<StateSyncOptions> } {
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new Error(`stateSync: expected an object, got ${JSON.stringify(o)}`);
  const { enabled, maxLightBlocks, ...client } = o;
  if (enabled !== undefined && typeof enabled !== "boolean") throw new Error(`stateSync.enabled: expected true or false, got ${JSON.stringify(enabled)}`);
  const check = (name: string, v: unknown, min: number) => {
    const fault = v === undefined ? undefined : intSettingFault(`stateSync.${name}`, v, min, Number.MAX_SAFE_INTEGER);
    if (fault !== undefined) throw new Error(fault);
  };
  check("maxLightBlocks", maxLightBlocks, 1);
  for (const key of Object.keys(defaultStateSyncOptions) as (keyof StateSyncOptions)[]) {
    const min = CLIENT_OPTION_MIN[key];
    if (min !== undefined) check(key, client[key], min);
  }
  return { enabled: enabled ?? false, maxLightBlocks: maxLightBlocks ?? DEFAULT_MAX_LIGHT_BLOCKS, client };
}

/**
 * State sync's header check: the SDK's light client from `tracker`'s trusted
 * headers (genesis at first), skipping verification with bisection over the
 * peers' light blocks; at most `maxLightBlocks` light blocks for one height.
 * Running out of them is no peer's fault (a long chain whose validator set
 * changed often): the height fails with SNAPSHOT_UNTRUSTED_SET naming
 * stateSync.maxLightBlocks, nobody is charged, and state sync tries the
 * other heights offered.
 */
export function lightClientTrust(tracker: ValidatorSetTracker, maxLightBlocks = DEFAULT_MAX_LIGHT_BLOCKS): TrustHeader {
  return async (source, height) => {
    let fetched = 0;
    const bounded: LightBlockSource = {
      lightBlock: async (h) => {
        if (fetched >= maxLightBlocks) throw lightBlocksExhausted(height, maxLightBlocks, tracker.anchorBelow(height).height);
        fetched++;
        return source.lightBlock(h);
      },
      validatorSet: async (h) => (await bounded.lightBlock(h)).validators,
      refused: (lb, e) => source.refused(lb, e),
    };
    // The bound is counted here, on every light block asked of the peers (refetches too), so the client's own is lifted.
    const r = await new LightClient(tracker, bounded, { maxFetches: Number.MAX_SAFE_INTEGER }).verifyHeight(height);
    return { hash: tracker.trustedAt(height)!.hash, intermediate: r.intermediate };
  };
}

function lightBlocksExhausted(height: number, maxLightBlocks: number, trustedUpTo: number): SnapshotError {
  return new SnapshotError(
    SnapshotErrorCode.UNTRUSTED_SET,
    `the header at ${height} is not reached from the genesis validators within stateSync.maxLightBlocks (${maxLightBlocks}) light blocks (the highest header trusted below it: ${trustedUpTo}): the validator set changed too often on the way for the light client's bisection; raise stateSync.maxLightBlocks in node.json, or start the node without state sync to replay the chain`,
    { height, maxLightBlocks, trustedUpTo },
  );
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
  cfg: { p2p?: Partial<P2pOptions>; stateSync?: StateSyncConfig },
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
  cfg: { p2p?: Partial<P2pOptions>; stateSync?: StateSyncConfig },
  slog: Logger,
  status: StateSyncHealth,
): Promise<void> {
  const genesisSet = ValidatorSet.fromGenesis(genesis.validators);
  const tracker = new ValidatorSetTracker(genesis.chainId, genesisSet, { genesisHash: gHash });
  let restorer: SnapshotRestorer | undefined;
  const { maxLightBlocks, client: syncOpts } = resolveStateSyncConfig(cfg.stateSync);
  // A store without a head holds no chain: whatever an interrupted state sync left in it goes, so no stale record outlives the new root.
  if (!(store.kv instanceof LevelKv)) throw new Error("state sync restores into a chain store on LevelDB");
  await store.kv.clear();
  slog.info("state sync: looking for snapshots", { peers: peers.join(",") });
  const r = await stateSyncFromPeers(
    { ...cfg.p2p, persistentPeers: peers },
    { chainId: genesis.chainId, genesisHash: gHash },
    {
      genesisSet,
      trustHeader: lightClientTrust(tracker, maxLightBlocks),
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
