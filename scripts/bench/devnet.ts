/**
 * `npm run bench -- --devnet`: the BFT chain under load. Four validator
 * processes and one full node on loopback (the devnet's genesis and
 * timeouts), all on this machine with the load generator, and:
 *  (a) the same run's raw secp256k1 verification rate (one core);
 *  (b) DID creates to finalized, sustained: `clients` concurrent clients
 *      spread over the validators' RPC, each submitting with wait=true, so
 *      an answer means the tx is in a committed block (committed is final
 *      in BFT: no reorg can undo it); ops/s over `creates` txs;
 *  (c) at half that load: an open-loop submitter paced at 0.5 x (b) ops/s
 *      for `seconds`, p50/p99 submit-to-finalized latency, each measured
 *      from the moment the tx was due (so a late send counts against it);
 *  (d) over (b) and (c): mean block time from header times, and mean
 *      rounds per height from the commit round each block H+1 carries for
 *      H (round r means r + 1 rounds);
 *  (e) the ratio (b)/(a).
 * The run ends with the no-fork check over every node, the full node
 * included.
 */
import { cpus } from "node:os";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { secp } from "../../src/crypto/secp256k1.js";
import { createDidTx, type SignedTx } from "../../src/client/index.js";
import { DEVNET_CONSENSUS, type DevnetNode, checkNoFork, createDevnet, waitForHeight } from "../../test/helpers/devnet.js";
import { leanCaller, percentile, round, verifyRate } from "./measure.js";

export interface DevnetBenchOptions {
  /** Txs of the sustained run (b). */
  creates: number;
  /** Concurrent clients of (b), spread over the validators. */
  clients: number;
  /** Length of the paced run (c). */
  seconds: number;
  /** node.json "consensus" of every node; the devnet's by default. */
  consensus?: Record<string, unknown>;
  /** Genesis block caps; the devnet's (those of `sid init`) by default. */
  params?: { maxBlockTxs: number; maxBlockBytes: number };
  progress?: (msg: string) => void;
}

interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
}

export interface DevnetBenchResult {
  machine: { cpus: number; cpuModel: string | undefined; node: string };
  devnet: { validators: number; fullNodes: number; consensus: Record<string, unknown>; params: { maxBlockTxs: number; maxBlockBytes: number } | "default" };
  verify: { backend: string; opsPerSec: number };
  finalizedCreates: { txs: number; clients: number; seconds: number; opsPerSec: number; latencyMs: LatencySummary };
  halfLoad: { targetOpsPerSec: number; seconds: number; txs: number; achievedOpsPerSec: number; latencyMs: LatencySummary };
  blocks: { fromHeight: number; toHeight: number; meanBlockTimeMs: number; meanRoundsPerHeight: number; heightsWithRetries: number; meanTxsPerBlock: number; maxTxsInBlock: number };
  noForkUpToHeight: number;
  ratios: { finalizedCreatesOverVerify: number };
}

const summary = (sorted: number[]): LatencySummary => ({ p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1] ?? NaN) });

function makeTxs(chainId: string, n: number): SignedTx[] {
  return Array.from({ length: n }, () => createDidTx(chainId, randomKeyPair()));
}

const submitBody = (tx: SignedTx) => JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tx_submit", params: { tx: tx.base64, wait: true, timeoutMs: 60_000 } });

function expectCommitted(tx: SignedTx, res: any): void {
  if (res.error || res.result?.status !== "committed") throw new Error(`tx ${tx.hash} not finalized: ${JSON.stringify(res.error ?? res.result)}`);
}

/** (b): closed loop, `clients` workers, worker i on validator i mod n, each waiting for its tx's commit before sending the next. */
async function sustained(validators: DevnetNode[], txs: SignedTx[], clients: number) {
  const perNode = Math.ceil(clients / validators.length);
  const callers = validators.map((v) => leanCaller(v.rpcUrl, perNode));
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async (w: number) => {
    const call = callers[w % callers.length]!;
    while (next < txs.length) {
      const tx = txs[next++]!;
      const s = performance.now();
      expectCommitted(tx, await call(submitBody(tx)));
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, w) => worker(w)));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { txs: txs.length, clients, seconds: round(seconds, 2), opsPerSec: round(txs.length / seconds), latencyMs: summary(latencies) };
}

/**
 * (c): open loop. Tx i is due at t0 + i / rate and is sent then whatever
 * the earlier ones are doing; its latency runs from when it was due, so a
 * stalled sender does not hide queueing (coordinated omission).
 */
async function paced(validators: DevnetNode[], txs: SignedTx[], rate: number, seconds: number) {
  const callers = validators.map((v) => leanCaller(v.rpcUrl, 1024));
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  let sent = 0;
  while (sent < txs.length) {
    const now = performance.now();
    const due = Math.min(txs.length, Math.floor(((now - t0) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const tx = txs[sent]!;
      const dueAt = t0 + (sent / rate) * 1000;
      const call = callers[sent % callers.length]!;
      pending.push(
        call(submitBody(tx)).then((res) => {
          expectCommitted(tx, res);
          latencies.push(performance.now() - dueAt);
        }),
      );
    }
    // 5 ms ticks: fine enough for rates up to thousands per second, cheap on a shared machine.
    if (sent < txs.length) await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { targetOpsPerSec: round(rate), seconds, txs: txs.length, achievedOpsPerSec: round(txs.length / elapsed), latencyMs: summary(latencies) };
}

interface BlockJson {
  header: { height: number; time: string };
  txs: string[];
  lastCommit: { height: number; round: number } | null;
}

/** (d): block time from header times over (from, to], rounds from the commit of each height in (from, to) carried by the next block. */
async function blockStats(node: DevnetNode, from: number, to: number) {
  const blocks: BlockJson[] = [];
  for (let h = from; h <= to; h++) blocks.push(await node.rpc<BlockJson>("block_get", { height: h }));
  const time = (b: BlockJson) => Date.parse(b.header.time);
  const rounds: number[] = [];
  for (let i = 2; i < blocks.length; i++) rounds.push(blocks[i]!.lastCommit!.round + 1);
  const produced = blocks.slice(1);
  const txCounts = produced.map((b) => b.txs.length);
  return {
    fromHeight: from,
    toHeight: to,
    meanBlockTimeMs: round((time(blocks[blocks.length - 1]!) - time(blocks[0]!)) / Math.max(1, to - from)),
    meanRoundsPerHeight: round(rounds.reduce((a, b) => a + b, 0) / Math.max(1, rounds.length), 3),
    heightsWithRetries: rounds.filter((r) => r > 1).length,
    meanTxsPerBlock: round(txCounts.reduce((a, b) => a + b, 0) / Math.max(1, txCounts.length)),
    maxTxsInBlock: Math.max(0, ...txCounts),
  };
}

export async function benchDevnet(opts: DevnetBenchOptions): Promise<DevnetBenchResult> {
  const progress = opts.progress ?? (() => {});
  if (!Number.isSafeInteger(opts.creates) || opts.creates < 1) throw new Error(`--creates must be a positive integer, got ${opts.creates}`);
  if (!Number.isSafeInteger(opts.clients) || opts.clients < 1) throw new Error(`--clients must be a positive integer, got ${opts.clients}`);
  if (!(opts.seconds > 0)) throw new Error(`--seconds must be positive, got ${opts.seconds}`);
  const consensus = opts.consensus ?? DEVNET_CONSENSUS;
  const chainId = "sid-devnet";

  // Before the nodes start, so they do not share the cores with it.
  progress(`(a) raw verification rate, backend ${secp.name}`);
  const verify = { backend: secp.name, opsPerSec: round(verifyRate(secp, 3)) };
  progress(`generating ${opts.creates} signed creates`);
  const txs = makeTxs(chainId, opts.creates);

  progress("starting 4 validators and 1 full node");
  // Request logs off: one line per request in five processes would be measured too.
  const net = await createDevnet({ validators: 4, fullNodes: 1, chainId, consensus, ...(opts.params ? { params: opts.params } : {}), env: { SID_LOG_LEVEL: "warn" } });
  try {
    await waitForHeight(net.nodes, 2, 30_000);
    const from = await net.validators[0]!.height();
    progress(`(b) ${opts.creates} creates to finalized from ${opts.clients} clients over ${net.validators.length} validators`);
    const finalizedCreates = await sustained(net.validators, txs, opts.clients);
    progress(`(b) ${finalizedCreates.opsPerSec} ops/s`);
    const rate = Math.max(1, finalizedCreates.opsPerSec / 2);
    const pacedTxs = makeTxs(chainId, Math.max(1, Math.round(rate * opts.seconds)));
    progress(`(c) paced at ${round(rate)} ops/s for ${opts.seconds} s`);
    const halfLoad = await paced(net.validators, pacedTxs, rate, opts.seconds);
    const to = await net.validators[0]!.height();
    progress(`(d) blocks ${from}..${to}`);
    const blocks = await blockStats(net.validators[0]!, from, to);
    // The full node follows: every node must hold the same blocks.
    await waitForHeight(net.nodes, to, 30_000);
    const noForkUpToHeight = await checkNoFork(net.nodes);
    return {
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
      devnet: { validators: net.validators.length, fullNodes: net.fullNodes.length, consensus, params: opts.params ?? "default" },
      verify,
      finalizedCreates,
      halfLoad,
      blocks,
      noForkUpToHeight,
      ratios: { finalizedCreatesOverVerify: round(finalizedCreates.opsPerSec / verify.opsPerSec, 3) },
    };
  } finally {
    await net.cleanup();
  }
}
