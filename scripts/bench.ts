/**
 * `npm run bench`: one run on this machine, JSON on stdout; progress and,
 * at the end, the same figures as a table on stderr.
 *  (a) raw secp256k1 verification rate of the chosen backend, one core;
 *  (b) DID creates from concurrent clients to committed, on a real dev node
 *      process: ops/s and p50/p99 submit-to-committed latency;
 *  (c) did_resolve over HTTP at 64 connections on a state of >= 100,000 DIDs;
 *  (d) the same server answering a fixed document without a state lookup;
 *  (e) the Universal Resolver route beside did_resolve, 64 connections;
 *  (f) proof-carrying resolves served by the node and verified by the SDK;
 *  (g) --subscribers N (1000) websocket newHeads subscribers while DIDs are
 *      created: p50/p99 delay from commit to delivery;
 *  (h) --status-changes N (400) status list publishes to committed on lists of
 *      131,072 entries with 1% revoked (ops/s, p50/p99), and the list fetch
 *      size and time (scripts/bench/status-lists.ts, also runnable alone);
 *  (i) one-time credential copies signed and issued per second (batches of
 *      20, one publish each) and presentations verified per second with a
 *      cached list (scripts/bench/kyc.ts, also runnable alone);
 *  (j) versioned resolution on a DID of --versions N (3000) versions of
 *      ~16 KB documents (scripts/bench/versions.ts): version 1, a versionTime,
 *      a random version, as ratios of a one-version DID of the same size;
 *      bounded runs of the requests that once exhausted the heap; the node's
 *      peak RSS during the section;
 * and the ratios (b)/(a) and (c)/(d). Flags: --creates N (20000),
 * --state N (100000), --clients N (256; 2048 with --devnet), --seconds N (10), --out FILE
 * (also write the JSON there), --creates-only.
 * --devnet runs only the devnet section instead (scripts/bench/devnet.ts):
 * 4 validators + 1 full node, creates to finalized (--creates N, 10000 there),
 * p50/p99 at half that load for --seconds, block time and rounds per height.
 * --section versions runs only (j), on a fresh dev node.
 * --section export runs only the export stream (scripts/bench/export.ts) on a
 * fresh dev node: --export-ops N (20000) ops committed, then followed by the
 * verifying mirror from op 0, its ops/s as a ratio of the raw verification
 * rate measured in the same run.
 * --scale N grows a dev node to N DIDs and measures at every tenth (scripts/bench/scale.ts):
 * write ops/s, did_resolve p50/p99 at 64 connections for --seconds (5 there),
 * RSS, bytes per DID on disk and by bucket, Merkle cache hit rate.
 * --section statesync [--dids N] [--interval BLOCKS] times a new node serving by state sync against full replay
 * (scripts/bench/statesync.ts).
 * --section tables [--keys N] (3,000,000) times random LevelDB reads as the store's tables outnumber LevelDB's
 * open-table cache, with 2 MiB tables and the node's (scripts/bench/tables.ts); no node.
 * --devnet --attack flood: the honest commit rate while one hostile peer per
 * validator floods forged txs, over the unflooded rate of the same run
 * (--creates N per phase, 4000 there; --clients N, 1024 there).
 */
import autocannon from "autocannon";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { randomKeyPair } from "../src/crypto/hd.js";
import { nobleBackend, secp } from "../src/crypto/secp256k1.js";
import { SidClient, createDidTx, type SignedTx } from "../src/client/index.js";
import { removeHome, startNodeProcess, tempHome } from "../test/helpers/node-process.js";
import { join } from "node:path";
import { ValidatorSetTracker } from "../src/client/trust.js";
import { benchProofResolves } from "./bench/proofs.js";
import { benchResolverHttp } from "./bench/resolver.js";
import { benchWsNewHeads } from "./bench/ws.js";
import { benchStatusLists } from "./bench/status-lists.js";
import { benchKyc } from "./bench/kyc.js";
import { leanCaller, percentile, round, verifyRate } from "./bench/measure.js";
import { benchDevnet, benchDevnetFlood } from "./bench/devnet.js";
import { benchVersions } from "./bench/versions.js";
import { benchExport } from "./bench/export.js";
import { benchScale, scaleTable } from "./bench/scale.js";
import { benchStateSync } from "./bench/statesync.js";
import { benchTables } from "./bench/tables.js";

const { values: args } = parseArgs({
  options: {
    creates: { type: "string" },
    state: { type: "string", default: "100000" },
    clients: { type: "string" },
    seconds: { type: "string", default: "10" },
    "creates-only": { type: "boolean", default: false },
    out: { type: "string" },
    subscribers: { type: "string", default: "1000" },
    "status-changes": { type: "string", default: "400" },
    devnet: { type: "boolean", default: false },
    section: { type: "string" },
    versions: { type: "string", default: "3000" },
    dids: { type: "string", default: "100000" },
    interval: { type: "string", default: "50" },
    keys: { type: "string", default: "3000000" },
    attack: { type: "string" },
    "export-ops": { type: "string", default: "20000" },
    scale: { type: "string" },
  },
});
const CREATES = Number(args.creates ?? (args.devnet ? "10000" : "20000"));
const STATE = Math.max(Number(args.state), CREATES);
// The devnet's commit latency is near a second: 256 waiting clients would measure that latency, not what the chain can carry.
const CLIENTS = Number(args.clients ?? (args.devnet ? "2048" : "256"));
const SECONDS = Number(args.seconds);

const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

function makeTxs(chainId: string, n: number): SignedTx[] {
  const out: SignedTx[] = [];
  for (let i = 0; i < n; i++) out.push(createDidTx(chainId, randomKeyPair()));
  return out;
}

async function benchCreates(url: string, txs: SignedTx[]) {
  const call = leanCaller(url, CLIENTS);
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < txs.length) {
      const tx = txs[next++]!;
      const s = performance.now();
      const res = await call(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tx_submit", params: { tx: tx.base64, wait: true } }));
      if (res.error || res.result?.status !== "committed") throw new Error(`tx ${tx.hash} not committed: ${JSON.stringify(res.error ?? res.result)}`);
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, worker));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { txs: txs.length, clients: CLIENTS, seconds: round(seconds, 2), opsPerSec: round(txs.length / seconds), latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) } };
}

/** Fill the state quickly: JSON-RPC batches without waiting, keeping the mempool bounded. */
async function fill(client: SidClient, url: string, txs: SignedTx[]) {
  const BATCH = 100;
  for (let i = 0; i < txs.length; i += BATCH) {
    const body = txs.slice(i, i + BATCH).map((t, j) => ({ jsonrpc: "2.0", id: j, method: "tx_submit", params: { tx: t.base64 } }));
    const res = (await (await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json()) as Array<{ error?: { message: string } }>;
    const err = res.find((r) => r.error);
    if (err) throw new Error(`fill failed: ${err.error!.message}`);
    for (;;) {
      const st = await client.status();
      if (st.mempool.size < 5_000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    if ((i / BATCH) % 100 === 0) progress(`filled ${i + BATCH} / ${txs.length}`);
  }
  for (;;) {
    const st = await client.status();
    if (st.mempool.size === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function load(url: string, method: string, dids: string[]) {
  let i = 0;
  const result = await autocannon({
    url,
    connections: 64,
    duration: SECONDS,
    requests: [
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { did: dids[i++ % dids.length] } }) }),
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${method}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { connections: 64, seconds: SECONDS, reqPerSec: round(result.requests.average), latencyMs: { p50: result.latency.p50, p99: result.latency.p99 } };
}

/** Every leaf of the result as [section, measure, value], in the JSON's order. */
function summaryRows(result: unknown): Array<[string, string, string]> {
  const rows: Array<[string, string, string]> = [];
  const show = (v: unknown): string =>
    typeof v === "number" ? (Number.isInteger(v) ? v.toLocaleString("en-US") : v.toLocaleString("en-US", { maximumFractionDigits: 3 })) : String(v);
  const walk = (section: string, path: string, v: unknown): void => {
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) walk(section, path === "" ? k : `${path}.${k}`, x);
    } else if (Array.isArray(v) && v.some((x) => typeof x === "object" && x !== null)) {
      v.forEach((x, i) => walk(section, `${path}[${i}]`, x));
    } else {
      rows.push([section, path, Array.isArray(v) ? v.map(show).join(", ") : show(v)]);
    }
  };
  for (const [section, v] of Object.entries(result as Record<string, unknown>)) walk(section, "", v);
  return rows;
}

/** The result as an aligned table for people, on stderr (stdout carries only the JSON). */
function summaryTable(result: unknown): string {
  const rows = summaryRows(result);
  const head: [string, string, string] = ["section", "measure", "value"];
  const widths = [0, 1, 2].map((i) => Math.max(head[i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padEnd(widths[1]!)}  ${r[2]!.padStart(widths[2]!)}`;
  const out = [line(head), widths.map((w) => "-".repeat(w)).join("  ")];
  let last = "";
  for (const r of rows) {
    out.push(line([r[0] === last ? "" : r[0], r[1], r[2]]));
    last = r[0];
  }
  return out.join("\n") + "\n";
}

function report(result: unknown): void {
  const text = JSON.stringify(result, null, 2) + "\n";
  process.stdout.write(text);
  if (args.out) writeFileSync(args.out, text);
  process.stderr.write(`\n${summaryTable(result)}`);
}

const SECTIONS = ["versions", "export", "statesync", "tables"] as const;

async function versionsSection(node: { rpcUrl: string; proc: { pid?: number | undefined } }) {
  const versions = Number(args.versions);
  if (!Number.isSafeInteger(versions) || versions < 2) throw new Error(`--versions must be an integer of at least 2, got ${args.versions}`);
  progress(`(j) versioned resolution on a DID of ${versions} versions`);
  return benchVersions({ rpcUrl: node.rpcUrl, pid: node.proc.pid!, versions, seconds: SECONDS, progress });
}

async function main() {
  if (args.attack !== undefined && (!args.devnet || args.attack !== "flood")) throw new Error(`--attack takes "flood", with --devnet; got ${JSON.stringify(args.attack)}`);
  if (args.devnet && args.attack === "flood") {
    // Two phases of closed-loop creates: 4,000 each by default, from 1,024 clients.
    report(await benchDevnetFlood({ creates: Number(args.creates ?? "4000"), clients: Number(args.clients ?? "1024"), seconds: SECONDS, progress }));
    return;
  }
  if (args.scale !== undefined) {
    const result = await benchScale({ dids: Number(args.scale), seconds: Number(process.argv.includes("--seconds") ? args.seconds : "5"), progress });
    if ("stopped" in result) throw new Error("the scale run stopped before its end");
    const text = JSON.stringify(result, null, 2) + "\n";
    process.stdout.write(text);
    if (args.out) writeFileSync(args.out, text);
    process.stderr.write(`\n${scaleTable(result)}`);
    return;
  }
  if (args.section !== undefined) {
    if (!(SECTIONS as readonly string[]).includes(args.section)) throw new Error(`unknown --section ${args.section}; known: ${SECTIONS.join(", ")}`);
    if (args.section === "statesync") {
      // Its own nodes: a validator, then a state-synced and a replaying full node.
      const dids = Number(args.dids);
      if (!Number.isSafeInteger(dids) || dids < 1) throw new Error(`--dids must be a positive integer, got ${args.dids}`);
      const interval = Number(args.interval);
      if (!Number.isSafeInteger(interval) || interval < 1) throw new Error(`--interval must be a positive integer, got ${args.interval}`);
      progress(`state sync against replay at ${dids} DIDs, a snapshot every ${interval} blocks`);
      report({ machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version }, statesync: await benchStateSync({ dids, interval, progress }) });
      return;
    }
    if (args.section === "tables") {
      // LevelDB alone, no node.
      const keys = Number(args.keys);
      report({ machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version }, tables: await benchTables({ keys, seconds: SECONDS, progress }) });
      return;
    }
    const home = tempHome("sid-bench-");
    const node = await startNodeProcess(home, { heartbeatMs: 1_000, env: { SID_BENCH: "1", SID_LOG_LEVEL: "warn" } });
    try {
      const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version };
      if (args.section === "export") {
        const ops = Number(args["export-ops"]);
        if (!Number.isSafeInteger(ops) || ops < 1) throw new Error(`--export-ops must be a positive integer, got ${args["export-ops"]}`);
        report({ machine, export: await benchExport({ rpcUrl: node.rpcUrl, home, ops, progress }) });
      } else {
        report({ machine, versions: await versionsSection(node) });
      }
    } finally {
      await node.stop();
      removeHome(home);
    }
    return;
  }
  if (args.devnet) {
    report(await benchDevnet({ creates: CREATES, clients: CLIENTS, seconds: SECONDS, progress }));
    return;
  }
  progress(`(a) raw verification rate, backend ${secp.name}`);
  const verify = { backend: secp.name, opsPerSec: round(verifyRate(secp, 3)), nobleOpsPerSec: round(verifyRate(nobleBackend, 1)) };

  const home = tempHome("sid-bench-");
  // Request logs off: one line per request would be measured too.
  const node = await startNodeProcess(home, { heartbeatMs: 1_000, env: { SID_BENCH: "1", SID_LOG_LEVEL: "warn" } });
  try {
    const client = new SidClient(node.rpcUrl);
    const chainId = await client.chainId();
    progress(`generating ${CREATES} signed creates`);
    const txs = makeTxs(chainId, CREATES);
    progress(`(b) ${CREATES} creates from ${CLIENTS} concurrent clients`);
    const creates = await benchCreates(node.rpcUrl, txs);
    if (args["creates-only"]) {
      report({ verify, creates });
      return;
    }
    const fillTxs = STATE - CREATES;
    if (fillTxs > 0) {
      progress(`filling the state to ${STATE} DIDs`);
      await fill(client, node.rpcUrl, makeTxs(chainId, fillTxs));
    }
    const status = await client.status();
    const dids = txs.map((t) => t.tx.signer);
    progress(`(c) did_resolve at 64 connections for ${SECONDS} s`);
    const resolve = await load(node.rpcUrl, "did_resolve", dids);
    progress(`(d) fixed document at 64 connections for ${SECONDS} s`);
    const fixed = await load(node.rpcUrl, "debug_fixedResolution", dids);
    progress(`(e) Universal Resolver GET beside did_resolve at 64 connections, ${SECONDS} s each`);
    const resolverHttp = await benchResolverHttp({ rpcUrl: node.rpcUrl, dids, connections: 64, seconds: SECONDS });
    progress(`(f) proof-carrying resolves, served and verified, ${SECONDS} s each`);
    const trusted = ValidatorSetTracker.fromGenesisFile(join(home, "config", "genesis.json"));
    const proofs = await benchProofResolves({ rpcUrl: node.rpcUrl, dids, seconds: SECONDS, trusted });
    progress(`(g) ${args.subscribers} websocket subscribers to newHeads while DIDs are created, ${SECONDS} s`);
    const wsNewHeads = await benchWsNewHeads({
      rpcUrl: node.rpcUrl,
      subscribers: Number(args.subscribers),
      seconds: SECONDS,
      createDids: (n) => Promise.all(Array.from({ length: n }, () => client.submit(createDidTx(chainId, randomKeyPair()), true))),
    });
    progress(`(h) ${args["status-changes"]} status list changes to committed, then list fetches`);
    const statusLists = await benchStatusLists({ rpcUrl: node.rpcUrl, home, changes: Number(args["status-changes"]), fetches: 200 });
    progress(`(i) one-time copies issued (batches of 20) and presentations verified, ${SECONDS} s`);
    const kyc = await benchKyc({ rpcUrl: node.rpcUrl, home, copies: 2000, verifySeconds: SECONDS });
    const versions = await versionsSection(node);
    const out = {
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
      verify,
      creates: { ...creates, chainHeight: status.height },
      resolve: { ...resolve, stateDids: STATE },
      resolveFixed: fixed,
      resolverHttp,
      proofs,
      wsNewHeads,
      statusLists,
      kyc,
      versions,
      ratios: {
        createsOverVerify: round(creates.opsPerSec / verify.opsPerSec, 3),
        resolveOverFixed: round(resolve.reqPerSec / fixed.reqPerSec, 3),
        urOverDidResolve: round(resolverHttp.urReqPerSec / resolverHttp.didResolveReqPerSec, 3),
        proofVerifiedOverServed: round(proofs.verifiedPerSec / proofs.servedPerSec, 3),
        copiesSignedOverVerify: round(kyc.copiesSignedPerSec / verify.opsPerSec, 3),
      },
    };
    report(out);
  } finally {
    await node.stop();
    removeHome(home);
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
