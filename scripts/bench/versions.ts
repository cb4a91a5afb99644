/**
 * Versioned resolution on a DID with thousands of versions, for
 * `npm run bench` (and `npm run bench -- --section versions` alone):
 *  - one DID grown to `versions` (3,000) versions of a near-16 KB document
 *    through tx_submit, and one DID of one version with a document of the
 *    same size (so the ratios compare the version lookup, not the size of
 *    what is sent);
 *  - did_resolve req/s at `connections` for: that one-version DID (the
 *    baseline), version 1 of the big DID, a versionTime in the middle of its
 *    history, a random version each request, and its current version; each
 *    as a ratio of the baseline;
 *  - the requests that used to exhaust the heap, bounded in time: 80
 *    connections on `GET /1.0/identifiers/DID?versionId=1`, and 8 clients
 *    each sending batches of 100 did_resolve with versionTime;
 *  - the node's peak RSS during the section (sampled from /proc every 50 ms).
 */
import autocannon from "autocannon";
import { readFileSync } from "node:fs";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { type DidDocument, validateDocument } from "../../src/did/document.js";
import { addService } from "../../src/did/document-edit.js";
import { SidClient, createDidTx, updateDidTx, type SignedTx } from "../../src/client/index.js";
import { leanCaller, round } from "./measure.js";

export interface VersionsBenchOptions {
  rpcUrl: string;
  /** The node's process id, for its RSS. */
  pid: number;
  versions: number;
  seconds: number;
  connections?: number;
  progress: (msg: string) => void;
}

interface Rate {
  reqPerSec: number;
  latencyMs: { p50: number; p99: number };
}

/** The largest JSON size a document may have is 16,384 bytes; aim just under it. */
const DOC_TARGET_BYTES = 16_000;
/** Base64 txs of ~22 KB each: 40 keep a batch under the 1 MiB body limit. */
const SUBMIT_BATCH = 40;

/** A document of about DOC_TARGET_BYTES: 15 services with long endpoints, one of them naming `version`. */
function bigDocument(base: DidDocument, version: number): DidDocument {
  let doc = base;
  const per = Math.floor((DOC_TARGET_BYTES - JSON.stringify(base).length) / 15) - 120;
  for (let i = 0; i < 15; i++) {
    const tag = i === 0 ? `v${version}-` : `s${i}-`;
    doc = addService(doc, { id: `${base.id}#s${i}`, type: "LinkedDomains", serviceEndpoint: `https://${tag}x.example/${"p".repeat(per)}` });
  }
  return validateDocument(doc, base.id);
}

/** RSS of `pid` in bytes, from /proc (Linux); undefined where there is none. */
function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function rate(name: string, url: string, connections: number, seconds: number, request: autocannon.Request): Promise<Rate> {
  const result = await autocannon({ url, connections, duration: seconds, requests: [request] });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  return { reqPerSec: round(result.requests.average), latencyMs: { p50: result.latency.p50, p99: result.latency.p99 } };
}

async function submitAll(url: string, client: SidClient, txs: SignedTx[], progress: (m: string) => void): Promise<void> {
  const post = leanCaller(url, 1);
  try {
    for (let i = 0; i < txs.length; i += SUBMIT_BATCH) {
      const body = txs.slice(i, i + SUBMIT_BATCH).map((t, j) => ({ jsonrpc: "2.0", id: j, method: "tx_submit", params: { tx: t.base64 } }));
      const res = (await post(JSON.stringify(body))) as Array<{ error?: { message: string } }>;
      const err = Array.isArray(res) ? res.find((r) => r.error) : { error: { message: JSON.stringify(res).slice(0, 200) } };
      if (err) throw new Error(`submitting versions failed: ${err.error!.message}`);
      // Keep the mempool well under its byte bound (64 MiB by default).
      while ((await client.status()).mempool.bytes > 16 * 1024 * 1024) await new Promise((r) => setTimeout(r, 20));
      if ((i / SUBMIT_BATCH) % 25 === 0) progress(`submitted ${Math.min(i + SUBMIT_BATCH, txs.length)} / ${txs.length} versions`);
    }
    const deadline = Date.now() + 300_000;
    while ((await client.status()).mempool.size > 0) {
      if (Date.now() > deadline) throw new Error("versions still pending after 300 s");
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    post.close();
  }
}

export async function benchVersions(opts: VersionsBenchOptions) {
  const connections = opts.connections ?? 64;
  const client = new SidClient(opts.rpcUrl);
  const chainId = await client.chainId();
  const bigKey = randomKeyPair();
  const oneKey = randomKeyPair();
  const bigDid = createDidTx(chainId, bigKey).tx.signer;
  const oneDid = createDidTx(chainId, oneKey).tx.signer;
  const base = (k: typeof bigKey) => createDidTx(chainId, k).tx.payload as { document: DidDocument };

  opts.progress(`versions: signing ${opts.versions} versions of ~${DOC_TARGET_BYTES} B documents`);
  const bigBase = base(bigKey).document;
  const txs: SignedTx[] = [createDidTx(chainId, bigKey, bigDocument(bigBase, 1)), createDidTx(chainId, oneKey, bigDocument(base(oneKey).document, 1))];
  for (let v = 2; v <= opts.versions; v++) {
    const p = { chainId, did: bigDid, prevVersionId: String(v - 1), signer: bigDid, seq: v - 1, vm: `${bigDid}#key-1`, secretKey: bigKey.secretKey };
    txs.push(updateDidTx(p, bigDocument(bigBase, v)));
  }
  const docBytes = JSON.stringify((txs[0]!.tx.payload as { document: DidDocument }).document).length;

  let peakRss = rssOf(opts.pid) ?? 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(opts.pid) ?? 0)), 50);
  try {
    const g0 = performance.now();
    await submitAll(opts.rpcUrl, client, txs, opts.progress);
    const growSeconds = (performance.now() - g0) / 1000;
    const rssAfterGrow = rssOf(opts.pid);

    const history = await client.history(bigDid);
    if (history.length !== opts.versions) throw new Error(`the DID has ${history.length} versions, expected ${opts.versions}`);
    const midTime = history[Math.floor(history.length / 2)]!.time;

    const rpc = (params: () => Record<string, unknown>): autocannon.Request => ({
      method: "POST",
      path: "/",
      headers: { "content-type": "application/json" },
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "did_resolve", params: params() }) }),
    });
    const url = opts.rpcUrl.replace(/\/+$/, "");
    opts.progress(`versions: did_resolve at ${connections} connections, ${opts.seconds} s each`);
    const oneVersion = await rate("one-version DID", url, connections, opts.seconds, rpc(() => ({ did: oneDid })));
    const version1 = await rate("version 1", url, connections, opts.seconds, rpc(() => ({ did: bigDid, versionId: "1" })));
    const versionTime = await rate("versionTime", url, connections, opts.seconds, rpc(() => ({ did: bigDid, versionTime: midTime })));
    const randomVersion = await rate("random version", url, connections, opts.seconds, rpc(() => ({ did: bigDid, versionId: String(1 + Math.floor(Math.random() * opts.versions)) })));
    const current = await rate("current of the big DID", url, connections, opts.seconds, rpc(() => ({ did: bigDid })));

    opts.progress(`versions: the former heap exhausters, ${opts.seconds} s each`);
    const urVersion1 = await rate("UR GET versionId=1 at 80 connections", url, 80, opts.seconds, {
      method: "GET",
      path: `/1.0/identifiers/${encodeURIComponent(bigDid)}?versionId=1`,
      headers: { accept: "application/did-resolution" },
    });
    const batchBody = JSON.stringify(
      Array.from({ length: 100 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "did_resolve", params: { did: bigDid, versionTime: history[(i * 29) % history.length]!.time } })),
    );
    const post = leanCaller(opts.rpcUrl, 8);
    let batches = 0;
    let answered = 0;
    let refused = 0;
    let batchSeconds = 0;
    try {
      const end = performance.now() + opts.seconds * 1000;
      const b0 = performance.now();
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (performance.now() < end) {
            const res = (await post(batchBody)) as Array<{ result?: unknown; error?: unknown }> | { error?: unknown };
            batches++;
            if (Array.isArray(res)) for (const r of res) r.result !== undefined ? answered++ : refused++;
            else refused += 100;
          }
        }),
      );
      batchSeconds = (performance.now() - b0) / 1000;
    } finally {
      post.close();
    }
    const ratio = (r: Rate) => round(r.reqPerSec / oneVersion.reqPerSec, 3);
    return {
      versions: opts.versions,
      documentBytes: docBytes,
      connections,
      seconds: opts.seconds,
      grow: { seconds: round(growSeconds, 1), versionsPerSec: round(opts.versions / growSeconds) },
      oneVersionDid: oneVersion,
      version1,
      versionTime: { ...versionTime, asked: midTime },
      randomVersion,
      currentOfBigDid: current,
      ratios: { version1: ratio(version1), versionTime: ratio(versionTime), randomVersion: ratio(randomVersion), currentOfBigDid: ratio(current) },
      attacks: {
        urVersion1At80Connections: urVersion1,
        versionTimeBatchesOf100: { clients: 8, batches, batchesPerSec: round(batches / batchSeconds), answered, refused },
      },
      nodeRssMiB: { afterGrow: rssAfterGrow === undefined ? null : round(rssAfterGrow / 2 ** 20), peak: round(Math.max(peakRss, rssOf(opts.pid) ?? 0) / 2 ** 20) },
    };
  } finally {
    clearInterval(sampler);
  }
}
