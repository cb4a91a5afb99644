/**
 * `GET /health`: 200 when the node serves the chain's head, 503 with the
 * reason otherwise (invariant 8: health tells the truth), so a load balancer
 * or a supervisor sends resolvers only to nodes that are current:
 *
 *   faulted   a storage fault stopped the node (it exits, or must be restarted)
 *   syncing   block sync is fetching blocks the node is behind by
 *   no-peers  the node is meant to have p2p peers and has none
 *   stale     its head is older than a few block times while peers are ahead
 */
import type { FastifyInstance } from "fastify";

export type HealthStatus = "ok" | "syncing" | "faulted" | "no-peers" | "stale";

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
}

export interface HealthReport {
  status: HealthStatus;
  height: number;
  syncing: boolean;
  /** Why the status is not ok. */
  reason?: string;
}

export function healthReport(sources: HealthSources): HealthReport {
  const syncing = sources.isSyncing();
  const height = sources.height();
  const p = sources.problem?.() ?? (syncing ? { status: "syncing" as const, reason: `catching up from height ${height}` } : undefined);
  return p ? { status: p.status, height, syncing, reason: p.reason } : { status: "ok", height, syncing };
}

export function registerHealth(app: FastifyInstance, sources: HealthSources): void {
  app.get("/health", async (_request, reply) => {
    const body = healthReport(sources);
    return reply.code(body.status === "ok" ? 200 : 503).send(body);
  });
}
