/**
 * The Universal Resolver route (`GET /1.0/identifiers/{did}`) against
 * JSON-RPC `did_resolve` on the same node, the same DIDs and the same load,
 * one after the other: what the HTTP binding costs over JSON-RPC.
 *
 * `benchResolverHttp` is for `npm run bench` (scripts/bench.ts). Run alone,
 * it starts a dev node, registers a few DIDs and prints one JSON line:
 *   node dist/scripts/bench/resolver.js [--dids N (200)] [--seconds N (5)]
 */
import autocannon from "autocannon";
import { parseArgs } from "node:util";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { SidClient, createDidTx } from "../../src/client/index.js";
import { removeHome, startNodeProcess, tempHome } from "../../test/helpers/node-process.js";
import { runIfMain } from "./measure.js";

export interface ResolverBenchOptions {
  rpcUrl: string;
  /** Registered DIDs, asked for in turn. */
  dids: string[];
  /** Concurrent connections of each run (default 64, as the did_resolve benchmark). */
  connections?: number;
  /** Length of each of the two runs. */
  seconds: number;
}

export interface ResolverBenchResult {
  urReqPerSec: number;
  didResolveReqPerSec: number;
  /** urReqPerSec / didResolveReqPerSec. */
  ratio: number;
  connections: number;
  seconds: number;
  latencyMs: { ur: { p50: number; p99: number }; didResolve: { p50: number; p99: number } };
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function run(name: string, url: string, connections: number, seconds: number, request: autocannon.Request) {
  const result = await autocannon({ url, connections, duration: seconds, requests: [request] });
  // A run that answered errors measured something else: refuse its number.
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  return { reqPerSec: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

/** Both runs against the node at `rpcUrl`; every DID must be registered and active (anything but 200 fails the run). */
export async function benchResolverHttp(opts: ResolverBenchOptions): Promise<ResolverBenchResult> {
  if (opts.dids.length === 0) throw new RangeError("benchResolverHttp: give at least one DID");
  const connections = opts.connections ?? 64;
  const base = opts.rpcUrl.replace(/\/+$/, "");
  let i = 0;
  const ur = await run("UR GET", base, connections, opts.seconds, {
    method: "GET",
    headers: { accept: "application/did-resolution" },
    setupRequest: (req) => ({ ...req, path: `/1.0/identifiers/${encodeURIComponent(opts.dids[i++ % opts.dids.length]!)}` }),
  });
  let j = 0;
  const rpc = await run("did_resolve", base, connections, opts.seconds, {
    method: "POST",
    path: "/",
    headers: { "content-type": "application/json" },
    setupRequest: (req) => ({ ...req, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "did_resolve", params: { did: opts.dids[j++ % opts.dids.length] } }) }),
  });
  return {
    urReqPerSec: round(ur.reqPerSec),
    didResolveReqPerSec: round(rpc.reqPerSec),
    ratio: round(ur.reqPerSec / rpc.reqPerSec, 3),
    connections,
    seconds: opts.seconds,
    latencyMs: { ur: { p50: ur.p50, p99: ur.p99 }, didResolve: { p50: rpc.p50, p99: rpc.p99 } },
  };
}

/** Register `n` fresh DIDs in batches and wait (bounded) until all are committed. */
async function registerDids(client: SidClient, rpcUrl: string, n: number): Promise<string[]> {
  const chainId = await client.chainId();
  const txs = Array.from({ length: n }, () => createDidTx(chainId, randomKeyPair()));
  for (let k = 0; k < txs.length; k += 100) {
    const batch = txs.slice(k, k + 100).map((t, idx) => ({ jsonrpc: "2.0", id: idx, method: "tx_submit", params: { tx: t.base64 } }));
    const res = (await (await fetch(rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(batch) })).json()) as Array<{ error?: { message: string } }>;
    const failed = res.find((r) => r.error);
    if (failed) throw new Error(`registering DIDs failed: ${failed.error!.message}`);
  }
  const deadline = Date.now() + 60_000;
  while ((await client.status()).mempool.size > 0) {
    if (Date.now() > deadline) throw new Error("DIDs still pending after 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return txs.map((t) => t.tx.signer);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dids: { type: "string", default: "200" }, seconds: { type: "string", default: "5" } } });
  const home = tempHome("sid-bench-ur-");
  const node = await startNodeProcess(home, { heartbeatMs: 1_000 });
  try {
    const client = new SidClient(node.rpcUrl);
    const dids = await registerDids(client, node.rpcUrl, Number(values.dids));
    const result = await benchResolverHttp({ rpcUrl: node.rpcUrl, dids, seconds: Number(values.seconds) });
    process.stdout.write(JSON.stringify({ dids: dids.length, ...result }) + "\n");
  } finally {
    await node.stop();
    removeHome(home);
  }
}

runIfMain(import.meta.url, main);
