/**
 * newHeads fan-out: many WebSocket subscribers on one node, blocks made by
 * the caller's load, and the delay from commit to delivery as each
 * subscriber sees it. The node stamps every newHeads notification with its
 * commit wall time (`committedAt`, ms); subscribers run on the same machine,
 * so `Date.now() - committedAt` on receipt is the delay on one clock.
 *
 * Standalone: `node dist/scripts/bench/ws.js [--subscribers N] [--seconds S]`
 * starts a dev node, drives it with DID creates and prints the result as JSON.
 */
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { SidClient, createDidTx } from "../../src/client/index.js";
import { removeHome, startNodeProcess, tempHome } from "../../test/helpers/node-process.js";
import { runIfMain } from "./measure.js";

export interface WsNewHeadsBenchOptions {
  rpcUrl: string;
  subscribers: number;
  seconds: number;
  /** Make `n` DID creates and resolve once they are committed; called back to back for `seconds`. */
  createDids: (n: number) => Promise<unknown>;
  /** Creates per createDids call (default 20). */
  batch?: number;
}

export interface WsNewHeadsBenchResult {
  subscribers: number;
  /** Distinct block heights delivered during the run. */
  blocks: number;
  /** Notifications received, all subscribers together (ideally blocks × subscribers). */
  deliveries: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Sockets opened at once while connecting, so the node's accept queue is not flooded. */
const CONNECT_WAVE = 100;
const COMMITTED_AT = '"committedAt":';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Open one subscriber and subscribe it to newHeads; resolves once the subscription id is back. */
function openSubscriber(url: string, onHead: (delayMs: number, height: number) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let subscribed = false;
    ws.once("error", reject);
    ws.once("open", () => ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "subscribe", params: ["newHeads"] })));
    ws.on("message", (data) => {
      const now = Date.now();
      const text = String(data);
      if (!subscribed) {
        const answer = JSON.parse(text) as { id?: number; result?: string; error?: unknown };
        if (answer.id !== 1) return;
        if (answer.result === undefined) return reject(new Error(`subscribe failed: ${text.slice(0, 200)}`));
        subscribed = true;
        return resolve(ws);
      }
      // Read the two numbers without parsing the whole head, so the client's own work stays out of the delay.
      const at = text.indexOf(COMMITTED_AT);
      if (at < 0) return;
      const committedAt = parseInt(text.slice(at + COMMITTED_AT.length, at + COMMITTED_AT.length + 20), 10);
      const h = text.indexOf('"height":');
      onHead(now - committedAt, parseInt(text.slice(h + 9, h + 29), 10));
    });
  });
}

export async function benchWsNewHeads(opts: WsNewHeadsBenchOptions): Promise<WsNewHeadsBenchResult> {
  if (!Number.isInteger(opts.subscribers) || opts.subscribers < 1) throw new RangeError("subscribers must be a positive integer");
  if (!(opts.seconds > 0)) throw new RangeError("seconds must be positive");
  const url = opts.rpcUrl.replace(/^http/, "ws").replace(/\/$/, "") + "/ws";
  const delays: number[] = [];
  const heights = new Set<number>();
  let measuring = false;
  const onHead = (delayMs: number, height: number) => {
    if (!measuring) return;
    delays.push(delayMs);
    heights.add(height);
  };

  const sockets: WebSocket[] = [];
  try {
    for (let i = 0; i < opts.subscribers; i += CONNECT_WAVE) {
      const wave = Math.min(CONNECT_WAVE, opts.subscribers - i);
      sockets.push(...(await Promise.all(Array.from({ length: wave }, () => openSubscriber(url, onHead)))));
    }
    measuring = true;
    const deadline = Date.now() + opts.seconds * 1000;
    const batch = opts.batch ?? 20;
    while (Date.now() < deadline) await opts.createDids(batch);
    // Let the last block's notifications arrive before counting.
    await new Promise((r) => setTimeout(r, 500));
    measuring = false;
  } finally {
    for (const ws of sockets) ws.terminate();
  }
  delays.sort((a, b) => a - b);
  return {
    subscribers: opts.subscribers,
    blocks: heights.size,
    deliveries: delays.length,
    p50Ms: percentile(delays, 50),
    p99Ms: percentile(delays, 99),
    maxMs: delays.length ? delays[delays.length - 1]! : NaN,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { subscribers: { type: "string", default: "1000" }, seconds: { type: "string", default: "5" } } });
  const home = tempHome("sid-bench-ws-");
  // Request logs off: the bench measures delivery, not log writing.
  const node = await startNodeProcess(home, { heartbeatMs: 1_000, env: { SID_LOG_LEVEL: "warn" } });
  try {
    const client = new SidClient(node.rpcUrl);
    const chainId = await client.chainId();
    const result = await benchWsNewHeads({
      rpcUrl: node.rpcUrl,
      subscribers: Number(values.subscribers),
      seconds: Number(values.seconds),
      createDids: (n) => Promise.all(Array.from({ length: n }, () => client.submit(createDidTx(chainId, randomKeyPair()), true))),
    });
    process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  } finally {
    await node.stop();
    removeHome(home);
  }
}

runIfMain(import.meta.url, main);
