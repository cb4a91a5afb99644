/**
 * Measuring tools shared by the benchmark sections: the raw signature
 * verification rate every throughput figure is compared with, percentiles,
 * rounding for the JSON report, and a cheap JSON-RPC caller for load
 * generators that share the machine with the nodes they measure.
 */
import { Agent, request as httpRequest } from "node:http";
import { pathToFileURL } from "node:url";
import { randomKeyPair } from "../../src/crypto/hd.js";
import type { SecpBackend } from "../../src/crypto/secp256k1.js";

/**
 * secp256k1 verifications per second of `backend` on one core, over
 * `seconds`: the ceiling any tx throughput is measured against (each tx
 * costs at least one verification).
 */
export function verifyRate(backend: SecpBackend, seconds: number): number {
  const items = Array.from({ length: 256 }, () => {
    const k = randomKeyPair();
    const digest = new Uint8Array(32);
    crypto.getRandomValues(digest);
    return { pub: k.publicKey, digest, sig: backend.sign(digest, k.secretKey) };
  });
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++) {
      const it = items[n % items.length]!;
      if (!backend.verify(it.sig, it.digest, it.pub)) throw new Error("verify failed");
      n++;
    }
  }
  return n / seconds;
}

/** The p-th percentile (0..100) of ascending `sorted`, nearest rank; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** `x` to `d` decimals, for the JSON report. */
export const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

/**
 * A lean JSON-RPC call over node:http with keep-alive: the load generator
 * shares this 2-core machine with the node, so it must cost little per call.
 */
export function leanCaller(url: string, sockets: number): ((body: string) => Promise<any>) & { close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const u = new URL(url);
  const call = (body: string) =>
    new Promise<any>((resolve, reject) => {
      const req = httpRequest(
        { agent, host: u.hostname, port: u.port, path: "/", method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
            } catch (e) {
              reject(e);
            }
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  return Object.assign(call, { close: () => agent.destroy() });
}

/** Run `main` when this module is the script node was started with (a bench section run on its own). */
export function runIfMain(moduleUrl: string, main: () => Promise<void>): void {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  main().catch((e) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}

/**
 * fetch, tried again (up to FETCH_TRIES in all) when the connection fails:
 * a kept-alive socket the server closed while the bench was signing the
 * next tenth fails the request sent on it, and after minutes of signing
 * (a tenth of 10,000,000 DIDs) every idle socket of the pool may be such a
 * one. Only for requests that are safe to repeat (reads, and submits, which
 * the mempool de-duplicates by hash).
 */
export async function fetchAgain(url: string, init?: RequestInit): Promise<Response> {
  for (let tries = 1; ; tries++) {
    try {
      return await fetch(url, init);
    } catch (e) {
      if (tries >= FETCH_TRIES) throw e;
      await new Promise((r) => setTimeout(r, 100 * tries));
    }
  }
}

const FETCH_TRIES = 5;

/** What tx_submit answers for a tx it already has: not a failure when a batch was sent again. */
const RESUBMITTED = new Set(["TX_DUPLICATE", "TX_ALREADY_COMMITTED"]);

/**
 * Submits signed txs (base64) in one JSON-RPC batch. A batch fetchAgain
 * sent again (the first request received, its answer lost with the
 * connection) finds its txs in the mempool or committed: those count as
 * submitted; any other error is thrown.
 */
export async function submitTxs(url: string, txs: readonly string[]): Promise<void> {
  const body = txs.map((tx, id) => ({ jsonrpc: "2.0", id, method: "tx_submit", params: { tx } }));
  const res = (await (await fetchAgain(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json()) as Array<{ error?: { message: string; data?: { reason?: string } } }>;
  const err = res.find((r) => r.error && !RESUBMITTED.has(r.error.data?.reason ?? ""));
  if (err) throw new Error(`tx_submit failed: ${err.error!.message}`);
}

