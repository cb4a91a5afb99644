/**
 * `GET /health`: 200 when the node serves the chain's head, 503 with the
 * reason otherwise (invariant 8: health tells the truth), so a load balancer
 * or a supervisor sends resolvers only to nodes that are current:
 *
 *   faulted   a storage fault stopped the node (it exits, or must be restarted)
 *   syncing   block sync is fetching blocks the node is behind by
 *   no-peers  the node is meant to have p2p peers and has none
 *   stale     its head is older than a few block times while peers are ahead
 *   state-sync  the node is restoring its state from peers' snapshots; the
 *               RPC port answers only this until it is done
 *               (rpc/state-sync-health.ts, docs/state-sync.md)
 */
import type { FastifyInstance } from "fastify";

export type HealthStatus = "ok" | "syncing" | "faulted" | "no-peers" | "stale" | "state-sync";

/** Why a node is not healthy, most serious first. */
export interface HealthProblem {
  status: Exclude<HealthStatus, "ok">;
  reason: string;
}

export interface HealthSources {
  height(): number;
  /** True while block sync is catching up with the network. */
  isSyncing(): boolean;
  /** The node's problem, if it has one (a fault, no peers, a stale head); syncing is reported from isSyncing when this gives none. */
  problem?(): HealthProblem | undefined;
  /** A warning that leaves the node healthy: its last snapshot failed (snapshots are optional). */
  snapshots?(): SnapshotsWarning | undefined;
}

/** GET /health's `snapshots` field: present while the last snapshot attempted failed (docs/state-sync.md). */
export interface SnapshotsWarning {
  status: "failing";
  /** Failures since the node started. */
  failures: number;
  /** Height of the last snapshot written since the node started (0: none). */
  lastWritten: number;
  error: { height: number; path: string; code: string; message: string; at: string };
}

/** What a node knows of itself when its health is asked. */
export interface HealthFacts {
  /** The storage fault that stopped it, if one did. */
  fault?: { message: string; remedy: string };
  /** Whether it is meant to have p2p peers (a BFT node with persistent peers). */
  expectsPeers: boolean;
  peerCount: number;
  syncing: boolean;
  /** A multi-validator chain, where a head that stops moving means something. */
  bft: boolean;
  head: { height: number; time: number };
  /** The highest height a connected peer announced, if any did. */
  bestPeerHeight?: number;
  /** How long a head may stand still while peers are ahead before the node is stale (ms). */
  staleAfterMs: number;
  now: number;
}

/**
 * Why GET /health answers 503, if it does, most serious first: a storage
 * fault; no peer although the node is meant to have some; catching up; or a
 * head older than `staleAfterMs` while a peer announced a higher one.
 */
export function healthProblemOf(f: HealthFacts): HealthProblem | undefined {
  if (f.fault) return { status: "faulted", reason: `${f.fault.message}; ${f.fault.remedy}` };
  const best = f.bestPeerHeight;
  if (f.expectsPeers && f.peerCount === 0) return { status: "no-peers", reason: `no p2p peer connected (height ${f.head.height}); check persistentPeers and that the peers are reachable` };
  if (f.syncing) return { status: "syncing", reason: `catching up: height ${f.head.height}${best !== undefined ? `, peers at ${best}` : ""}` };
  if (f.bft && best !== undefined && best > f.head.height) {
    const age = f.now - f.head.time;
    if (age > f.staleAfterMs) return { status: "stale", reason: `head ${f.head.height} is ${Math.round(age / 1000)} s old while peers are at ${best}` };
  }
  return undefined;
}

export interface HealthReport {
  status: HealthStatus;
  height: number;
  syncing: boolean;
  /** Why the status is not ok. */
  reason?: string;
  /** With status "state-sync": where the state sync is. */
  stateSync?: StateSyncHealth;
  /** Present while the last snapshot attempted failed; the status stays as it is. */
  snapshots?: SnapshotsWarning;
}

/** The progress of a state sync, as GET /health shows it while the node restores its state. */
export interface StateSyncHealth {
  /** discovering: asking peers for snapshots; verifying: trusting the snapshot header; chunks: fetching the state; finishing: writing the last batch. */
  phase: "discovering" | "verifying" | "chunks" | "finishing";
  /** The snapshot height, once chosen. */
  height?: number;
  chunksDone: number;
  chunksTotal: number;
  bytes: number;
}

/** The 503 body of GET /health while the node state-syncs. */
export function stateSyncHealthReport(p: StateSyncHealth): HealthReport {
  const at = p.height !== undefined ? ` at height ${p.height}` : "";
  const what =
    p.phase === "discovering"
      ? "looking for peers' snapshots"
      : p.phase === "verifying"
        ? `verifying the snapshot header${at} from genesis`
        : p.phase === "chunks"
          ? `chunks ${p.chunksDone}/${p.chunksTotal}, ${(p.bytes / 1e6).toFixed(1)} MB${at}`
          : `writing the restored state${at}`;
  return { status: "state-sync", height: 0, syncing: true, reason: `state sync: ${what}; the node serves once it is done`, stateSync: { ...p } };
}

export function healthReport(sources: HealthSources): HealthReport {
  const syncing = sources.isSyncing();
  const height = sources.height();
  const p = sources.problem?.() ?? (syncing ? { status: "syncing" as const, reason: `catching up from height ${height}` } : undefined);
  const snapshots = sources.snapshots?.();
  const body: HealthReport = p ? { status: p.status, height, syncing, reason: p.reason } : { status: "ok", height, syncing };
  return snapshots ? { ...body, snapshots } : body;
}

export function registerHealth(app: FastifyInstance, sources: HealthSources): void {
  app.get("/health", async (_request, reply) => {
    const body = healthReport(sources);
    return reply.code(body.status === "ok" ? 200 : 503).send(body);
  });
}
