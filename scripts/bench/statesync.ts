/**
 * State sync against full replay, in one run (`npm run bench -- --section
 * statesync [--dids N]`):
 *  - a single validator (snapshots every `interval` blocks) is grown to N
 *    DIDs through JSON-RPC batches of tx_submit;
 *  - once it has a snapshot taken after the last create, a new full node
 *    with `stateSync` enabled is started, and the time from its spawn until
 *    it resolves the last DID created is measured (and until it reports no
 *    longer catching up);
 *  - then a new full node without state sync (block sync from genesis), the
 *    same two times;
 *  - the ratio state sync / replay, and what the restore moved (chunks,
 *    bytes, from the node's log).
 * Nodes run one at a time, on loopback, each in its own temp home.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { createDidTx, type SignedTx } from "../../src/client/index.js";
import { initNetworkHomes } from "../../src/node/network-homes.js";
import { SnapshotDir } from "../../src/chain/snapshot-store.js";
import { DevnetNode, FAST_CONSENSUS } from "../../test/helpers/devnet.js";
import { freePort } from "../../test/helpers/node-process.js";
import { fetchAgain, round, submitTxs } from "./measure.js";

export interface StateSyncBenchOptions {
  dids: number;
  /** Blocks between the validator's snapshots. */
  interval?: number;
  progress: (msg: string) => void;
}

function editNodeJson(home: string, edit: (cfg: Record<string, unknown>) => void): void {
  const file = join(home, "config", "node.json");
  const cfg = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  edit(cfg);
  writeFileSync(file, JSON.stringify(cfg, null, 2) + "\n");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rpc<T>(url: string, method: string, params: Record<string, unknown>): Promise<T | undefined> {
  try {
    const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
    const body = (await r.json()) as { result?: T };
    return body.result;
  } catch {
    return undefined;
  }
}

/** Batches of 100 tx_submit without waiting, the mempool kept under 5,000. */
async function fill(url: string, txs: SignedTx[], progress: (m: string) => void): Promise<void> {
  const mempoolSize = async () => {
    const r = (await (await fetchAgain(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "node_status", params: {} }) })).json()) as { result?: { mempool: { size: number } } };
    if (!r.result) throw new Error(`node_status failed: ${JSON.stringify(r)}`);
    return r.result.mempool.size;
  };
  const BATCH = 100;
  for (let i = 0; i < txs.length; i += BATCH) {
    await submitTxs(url, txs.slice(i, i + BATCH).map((t) => t.base64));
    while ((await mempoolSize()) >= 5_000) await sleep(20);
    if ((i / BATCH) % 100 === 0) progress(`filled ${Math.min(i + BATCH, txs.length)} / ${txs.length}`);
  }
  while ((await mempoolSize()) > 0) await sleep(50);
}

/** Spawn `node`, and time until it resolves `did` and until it no longer catches up. */
async function timeToServe(node: DevnetNode, did: string, timeoutMs: number): Promise<{ resolveMs: number; caughtUpMs: number; height: number }> {
  const t0 = performance.now();
  await node.start(timeoutMs);
  let resolveMs: number | undefined;
  const deadline = t0 + timeoutMs;
  while (performance.now() < deadline) {
    if (resolveMs === undefined) {
      const r = await rpc<{ didDocument: unknown }>(node.rpcUrl, "did_resolve", { did });
      if (r?.didDocument) resolveMs = performance.now() - t0;
    }
    if (resolveMs !== undefined) {
      const st = await rpc<{ height: number; catchingUp: boolean }>(node.rpcUrl, "node_status", {});
      if (st && !st.catchingUp) return { resolveMs: round(resolveMs), caughtUpMs: round(performance.now() - t0), height: st.height };
    }
    await sleep(100);
  }
  throw new Error(`${node.name} did not serve ${did} within ${timeoutMs} ms:\n${node.output().slice(-3000)}`);
}

export async function benchStateSync(opts: StateSyncBenchOptions) {
  const interval = opts.interval ?? 50;
  const root = mkdtempSync(join(tmpdir(), "sid-bench-statesync-"));
  const ports: number[] = [];
  while (ports.length < 6) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const chainId = "sid-bench-statesync";
  const [v, s, r] = await initNetworkHomes(root, { validators: 1, fullNodes: 2, chainId, ports, consensus: FAST_CONSENSUS });
  editNodeJson(v!.home, (cfg) => {
    cfg.heartbeatMs = 500;
    cfg.snapshots = { interval, keep: 2 };
  });
  editNodeJson(s!.home, (cfg) => (cfg.stateSync = { enabled: true }));
  const env = { SID_LOG_LEVEL: "warn" };
  const validator = new DevnetNode(v!, undefined, env);
  const synced = new DevnetNode(s!, undefined, { SID_LOG_LEVEL: "info" });
  const replay = new DevnetNode(r!, undefined, env);
  try {
    await validator.start();
    opts.progress(`generating ${opts.dids} signed creates`);
    const txs = Array.from({ length: opts.dids }, () => createDidTx(chainId, randomKeyPair()));
    const fillStart = performance.now();
    await fill(validator.rpcUrl, txs, opts.progress);
    const fillSec = (performance.now() - fillStart) / 1000;
    const filledAt = await validator.height();
    const snaps = new SnapshotDir(join(v!.home, "data", "snapshots"));
    opts.progress(`waiting for a snapshot after height ${filledAt}`);
    const snapStart = performance.now();
    while ((snaps.heights()[0] ?? 0) <= filledAt) await sleep(200);
    const snapshotWaitMs = performance.now() - snapStart;
    const last = txs[txs.length - 1]!.tx.signer;

    opts.progress("a new full node by state sync");
    const bySync = await timeToServe(synced, last, 30 * 60_000);
    const log = synced.output();
    const done = /state sync done.*height=(\d+).*chunks=(\d+).*bytes=(\d+).*ms=(\d+)/.exec(log);
    await synced.stop();

    opts.progress("a new full node by replay from genesis");
    const byReplay = await timeToServe(replay, last, 60 * 60_000);
    await replay.stop();

    return {
      dids: opts.dids,
      fill: { seconds: round(fillSec, 1), opsPerSec: round(opts.dids / fillSec), height: filledAt },
      snapshot: { interval, waitMs: round(snapshotWaitMs), height: done ? Number(done[1]) : null, chunks: done ? Number(done[2]) : null, bytes: done ? Number(done[3]) : null, restoreMs: done ? Number(done[4]) : null },
      stateSync: bySync,
      replay: byReplay,
      /** Time to serve resolution: state sync / replay (the aim is at most 0.1). */
      ratioResolve: round(bySync.resolveMs / byReplay.resolveMs, 3),
      ratioCaughtUp: round(bySync.caughtUpMs / byReplay.caughtUpMs, 3),
    };
  } finally {
    await Promise.all([validator.stop(), synced.stop(), replay.stop()]);
    rmSync(root, { recursive: true, force: true });
  }
}
