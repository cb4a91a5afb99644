/**
 * `GET /health`: 200 when the node serves the chain's head, 503 while it is
 * catching up, so a load balancer sends resolvers only to nodes that are
 * current.
 */
import type { FastifyInstance } from "fastify";

export interface HealthSources {
  height(): number;
  /** True while block sync is catching up with the network. */
  isSyncing(): boolean;
}

export interface HealthReport {
  status: "ok" | "syncing";
  height: number;
  syncing: boolean;
}

export function registerHealth(app: FastifyInstance, sources: HealthSources): void {
  app.get("/health", async (_request, reply) => {
    const syncing = sources.isSyncing();
    const body: HealthReport = { status: syncing ? "syncing" : "ok", height: sources.height(), syncing };
    return reply.code(syncing ? 503 : 200).send(body);
  });
}
