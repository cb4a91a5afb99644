/**
 * Prometheus metrics of one node on `GET /metrics` (text exposition format).
 * Each node has its own Registry, so tests can build several side by side.
 * Names end in their unit (STYLE.md): `_seconds`, `_total`, or the thing
 * counted (`_txs`, `_peers`, `_connections`).
 */
import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { NodeEvents } from "../events/node-events.js";
import type { MethodTable, RpcMethod } from "../rpc/jsonrpc.js";

/** Read at scrape time, so the numbers are those of the moment. */
export interface MetricsSources {
  height(): number;
  mempool(): { txs: number; bytes: number };
  /** Connected p2p peers; 0 until the node has a p2p layer. */
  peers(): number;
  wsConnections(): number;
  wsSubscriptions(): number;
  /** Merkle node cache lookups since the node started (absent: not reported). */
  smtCache?(): { hits: number; misses: number };
  /** State snapshots written and failed since the node started (absent: the node takes none). */
  snapshots?(): { written: number; failures: number; paced: number; lastWritten: number };
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC): on for a node, off where several registries share a process. */
  processMetrics: boolean;
}

/** DID resolution answers in well under a millisecond from cache and a few ms from disk. */
const RESOLVE_BUCKETS_SECONDS = Object.freeze([0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]);

export class NodeMetrics {
  readonly registry = new Registry();
  readonly txsCommitted: Counter;
  readonly consensusRounds: Counter;
  readonly lastCommitRound: Gauge;
  readonly didResolveSeconds: Histogram;

  constructor(sources: MetricsSources, opts: MetricsOptions) {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    /** A counter whose total another part of the node keeps: read at each scrape. */
    const pulledCounter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    gauge("sid_block_height", "Height of the last committed block.", () => sources.height());
    gauge("sid_mempool_txs", "Txs waiting in the mempool.", () => sources.mempool().txs);
    gauge("sid_mempool_bytes", "Encoded size of the txs waiting in the mempool.", () => sources.mempool().bytes);
    gauge("sid_p2p_peers", "Connected p2p peers.", () => sources.peers());
    gauge("sid_ws_connections", "Open WebSocket connections.", () => sources.wsConnections());
    gauge("sid_ws_subscriptions", "Live WebSocket subscriptions, all connections together.", () => sources.wsSubscriptions());
    if (sources.smtCache) {
      const read = sources.smtCache;
      pulledCounter("sid_smt_cache_hits_total", "Merkle node lookups answered by the node cache.", () => read().hits);
      pulledCounter("sid_smt_cache_misses_total", "Merkle node lookups that read the store.", () => read().misses);
    }
    if (sources.snapshots) {
      const read = sources.snapshots;
      pulledCounter("sid_snapshots_written_total", "State snapshots written since the node started.", () => read().written);
      pulledCounter("sid_snapshot_failures_total", "State snapshots that failed (disk full or failing, directory not writable, root mismatch) since the node started.", () => read().failures);
      pulledCounter("sid_snapshots_paced_total", "Snapshot heights skipped since the node started because the last snapshot ended too recently (snapshots.busyShare).", () => read().paced);
      gauge("sid_snapshot_last_height", "Height of the last state snapshot written since the node started (0: none).", () => read().lastWritten);
    }
    this.txsCommitted = new Counter({ name: "sid_txs_committed_total", help: "Txs committed in blocks since the node started.", registers });
    this.consensusRounds = new Counter({
      name: "sid_consensus_rounds_total",
      help: "Consensus rounds run for the blocks committed since the node started (a block committed in round r took r + 1).",
      registers,
    });
    this.lastCommitRound = new Gauge({ name: "sid_consensus_last_commit_round", help: "Round in which the last block was committed.", registers });
    this.didResolveSeconds = new Histogram({
      name: "sid_did_resolve_duration_seconds",
      help: "Time to answer did_resolve.",
      buckets: [...RESOLVE_BUCKETS_SECONDS],
      registers,
    });
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Count committed blocks and txs; returns the function that stops listening. */
  observe(events: NodeEvents): () => void {
    const onBlock = (ev: { txHashes: string[]; round: number }) => {
      this.txsCommitted.inc(ev.txHashes.length);
      this.consensusRounds.inc(ev.round + 1);
      this.lastCommitRound.set(ev.round);
    };
    events.on("block", onBlock);
    return () => events.off("block", onBlock);
  }

  /** The method table with did_resolve timed into sid_did_resolve_duration_seconds (other methods as they are). */
  instrument(methods: MethodTable): MethodTable {
    const resolve = methods.did_resolve;
    if (resolve === undefined) return methods;
    const hist = this.didResolveSeconds;
    const timed: RpcMethod = {
      ...resolve,
      async handler(params, ctx) {
        const end = hist.startTimer();
        try {
          return await resolve.handler(params, ctx);
        } finally {
          end();
        }
      },
    };
    return { ...methods, did_resolve: timed };
  }

  /** The text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** `GET /metrics` on the RPC app. */
export function registerMetrics(app: FastifyInstance, metrics: NodeMetrics): void {
  app.get("/metrics", async (_request, reply) => {
    const text = await metrics.text();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
