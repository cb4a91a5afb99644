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
 *
 * `--attack flood` (benchDevnetFlood) measures instead the honest commit
 * rate under a forged-tx flood: the same closed-loop creates as (b), first
 * unflooded, then while one hostile peer per validator floods tx batches of
 * `did/update` txs with the right sequence and version and random
 * signatures (a banned flooder comes back with a fresh node key at once, so
 * the flood lasts the whole phase); the ratio flooded / unflooded, both
 * figures with their p50/p99, the flood's size and bans, and each
 * validator's resident memory before and after.
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { buildInitialDocument } from "../../src/did/document.js";
import { Worker } from "node:worker_threads";
import { decodeTx, encodeTx } from "../../src/chain/tx.js";
import { fromHex } from "../../src/crypto/bytes.js";
import { updateDidTx } from "../../src/client/index.js";
import type { SybilFloodResult } from "../../test/helpers/hostile-peer.js";
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

export interface FloodBenchResult {
  machine: DevnetBenchResult["machine"];
  devnet: { validators: number; fullNodes: number; consensus: Record<string, unknown> };
  unflooded: { txs: number; clients: number; seconds: number; opsPerSec: number; latencyMs: LatencySummary; blocksPerSec: number };
  flooded: { txs: number; clients: number; seconds: number; opsPerSec: number; latencyMs: LatencySummary; blocksPerSec: number };
  flood: {
    peersPerValidator: 1;
    batchTxs: number;
    framesSent: number;
    forgedTxsSent: number;
    connections: number;
    bans: number;
    refused: number;
    /** How the node closed the flooders' connections: close code -> count (4025 a ban, 4011 refused as banned). */
    closeCodes: Record<string, number>;
    perValidator: Omit<SybilFloodResult, "nodeIds" | "closeCodes">[];
  };
  validatorRssMiB: { before: number[]; after: number[] };
  noForkUpToHeight: number;
  ratios: { floodedOverUnflooded: number };
}

function rssMiB(node: DevnetNode): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${node.proc!.pid}/status`, "utf8"));
    return m ? round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

/** Forged txs per flood frame: a full batch. */
const FLOOD_BATCH = 256;

/** `--devnet --attack flood`: the honest commit rate with and without one forged-tx flooder per validator. */
export async function benchDevnetFlood(opts: DevnetBenchOptions): Promise<FloodBenchResult> {
  const progress = opts.progress ?? (() => {});
  if (!Number.isSafeInteger(opts.creates) || opts.creates < 1) throw new Error(`--creates must be a positive integer, got ${opts.creates}`);
  if (!Number.isSafeInteger(opts.clients) || opts.clients < 1) throw new Error(`--clients must be a positive integer, got ${opts.clients}`);
  const consensus = opts.consensus ?? DEVNET_CONSENSUS;
  const chainId = "sid-devnet";
  progress(`generating 2 x ${opts.creates} signed creates`);
  const honestA = makeTxs(chainId, opts.creates);
  const honestB = makeTxs(chainId, opts.creates);
  progress("starting 4 validators and 1 full node");
  // Started here rather than by createDevnet, with a longer timeout: on a loaded machine a node can take over 20 s to come up.
  const net = await createDevnet({ validators: 4, fullNodes: 1, chainId, consensus, env: { SID_LOG_LEVEL: "warn" }, startOnly: [] });
  try {
    await Promise.all(net.nodes.map((n) => n.start(120_000)));
  } catch (e) {
    await net.cleanup();
    throw e;
  }
  try {
    await waitForHeight(net.nodes, 2, 30_000);
    const v0 = net.validators[0]!;
    const genesisHash = fromHex((await v0.rpc<{ genesisHash: string }>("node_status")).genesisHash, 32);
    // The DID whose next update the flooders copy with random signatures; its key must stand for the race window first.
    const key = randomKeyPair();
    const created = await v0.rpc<{ status: string; height: number }>("tx_submit", { tx: createDidTx(chainId, key).base64, wait: true });
    const doc = buildInitialDocument(key.publicKey);
    const template = decodeTx(
      Uint8Array.from(Buffer.from(updateDidTx({ chainId, did: doc.id, prevVersionId: "1", signer: doc.id, seq: 1, vm: `${doc.id}#key-1`, secretKey: key.secretKey }, doc).base64, "base64")),
      chainId,
    );
    await waitForHeight(net.validators, created.height + 11, 60_000);

    const phase = async (txs: SignedTx[]) => {
      const h0 = await v0.height();
      const t0 = performance.now();
      const r = await sustained(net.validators, txs, opts.clients);
      const blocksPerSec = round(((await v0.height()) - h0) / ((performance.now() - t0) / 1000), 2);
      return { ...r, blocksPerSec };
    };
    progress(`unflooded: ${opts.creates} creates to finalized from ${opts.clients} clients`);
    const unflooded = await phase(honestA);
    progress(`unflooded: ${unflooded.opsPerSec} ops/s, p99 ${unflooded.latencyMs.p99} ms`);
    const before = net.validators.map(rssMiB);

    progress("flooded: one forged-tx flooder per validator");
    // The flooders run on a worker thread of their own, so that they do not delay the honest clients' requests here.
    const worker = new Worker(new URL("./flood-worker.js", import.meta.url), {
      workerData: { targets: net.validators.map((v) => ({ port: v.info.p2pPort, chainId, genesisHash })), chainId, template: encodeTx(template), batchTxs: FLOOD_BATCH },
    });
    const floods = new Promise<SybilFloodResult[]>((resolve, reject) => {
      worker.once("message", (r: SybilFloodResult[]) => resolve(r));
      worker.once("error", reject);
    });
    const flooded = await phase(honestB).finally(() => worker.postMessage("stop"));
    const results = await floods;
    await worker.terminate();
    const after = net.validators.map(rssMiB);
    progress(`flooded: ${flooded.opsPerSec} ops/s, p99 ${flooded.latencyMs.p99} ms`);

    const to = await v0.height();
    await waitForHeight(net.nodes, to, 60_000);
    const noForkUpToHeight = await checkNoFork(net.nodes);
    const sum = (f: (r: SybilFloodResult) => number) => results.reduce((a, r) => a + f(r), 0);
    return {
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
      devnet: { validators: net.validators.length, fullNodes: net.fullNodes.length, consensus },
      unflooded,
      flooded,
      flood: {
        peersPerValidator: 1,
        batchTxs: FLOOD_BATCH,
        framesSent: sum((r) => r.sent),
        forgedTxsSent: sum((r) => r.sent) * FLOOD_BATCH,
        connections: sum((r) => r.connections),
        bans: sum((r) => r.bans),
        refused: sum((r) => r.refused),
        closeCodes: results.flatMap((r) => r.closeCodes).reduce<Record<string, number>>((m, c) => ((m[c] = (m[c] ?? 0) + 1), m), {}),
        perValidator: results.map(({ nodeIds: _n, closeCodes: _c, ...r }) => r),
      },
      validatorRssMiB: { before, after },
      noForkUpToHeight,
      ratios: { floodedOverUnflooded: round(flooded.opsPerSec / unflooded.opsPerSec, 3) },
    };
  } finally {
    await net.cleanup();
  }
}
