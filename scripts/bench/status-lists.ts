/**
 * Status list benchmark on a dev node:
 *  - status changes to committed: each accredited issuer holds a list of
 *    131,072 entries, every entry issued and 1% of them revoked; then each
 *    status change (one entry suspended or revoked) is one statuslist/publish
 *    carrying the whole re-signed token. Tokens and txs are signed up front
 *    with consecutive sequences; what is timed is submit to commit.
 *  - list fetch: `GET /status-lists/<id>/<listId>` of such a list: its size
 *    on the wire and the time per fetch (200), and per revalidation (304).
 *
 * Run alone: `node dist/scripts/bench/status-lists.js [--changes N]`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { randomInt } from "node:crypto";
import { fromHex } from "../../src/crypto/bytes.js";
import { type KeyPair, randomKeyPair } from "../../src/crypto/hd.js";
import { publicKeyOf } from "../../src/crypto/secp256k1.js";
import { RegistryClient, SidClient, statusListPublishTx, type SignedTx } from "../../src/client/index.js";
import { DEFAULT_STATUS_LIST_BASE_URI } from "../../src/chain/genesis.js";
import { STATUS_LIST_LIMITS, StatusValue, buildStatusListPayload, getStatus, newStatusList, setStatus, signStatusListToken, statusListUri } from "../../src/did/status-list.js";
import { leanCaller } from "./measure.js";

export interface StatusListBenchOptions {
  rpcUrl: string;
  /** Home of the node: its config/trustee_key.json accredits the issuers. */
  home: string;
  /** Status changes (publishes) to time, spread over the issuers. */
  changes: number;
  /** Fetches of the list to time. */
  fetches: number;
}

export interface StatusListBenchResult {
  listEntries: number;
  revokedFraction: number;
  issuers: number;
  changes: number;
  changesPerSec: number;
  changeP50Ms: number;
  changeP99Ms: number;
  /** Size of one publish tx (bytes) and of the token in it (chars), at the start of the timed run. */
  txBytes: number;
  tokenChars: number;
  fetch: { bytes: number; meanMs: number; p99Ms: number; notModifiedMeanMs: number; fetches: number };
}

/** Issuers publishing side by side (each one's publishes go in sequence order). */
const ISSUERS = 8;
const TYPE = "KYCBasic";
const LIST_ID = "bench";
const SIZE = STATUS_LIST_LIMITS.minSize;
const REVOKED = 0.01;
const POLL_MS = 10;

const progress = (msg: string) => process.stderr.write(`[bench status-lists] ${msg}\n`);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function trusteeOf(home: string): KeyPair {
  const file = JSON.parse(readFileSync(join(home, "config", "trustee_key.json"), "utf8")) as { secretKey: string };
  const secretKey = fromHex(file.secretKey, 32);
  return { secretKey, publicKey: publicKeyOf(secretKey) };
}

interface BenchIssuer {
  key: KeyPair;
  did: string;
  list: Uint8Array;
  iat: number;
}

function tokenOf(issuer: BenchIssuer): string {
  const uri = statusListUri(DEFAULT_STATUS_LIST_BASE_URI, issuer.did, LIST_ID);
  return signStatusListToken(`${issuer.did}#key-1`, buildStatusListPayload({ issuer: issuer.did, uri, iat: issuer.iat, ttl: 300, packed: issuer.list }), issuer.key.secretKey);
}

/** Accredit `n` issuers, and bring each one's list to: every entry issued, 1% revoked (three publishes each). */
async function setUp(client: SidClient, home: string, n: number): Promise<BenchIssuer[]> {
  const registry = new RegistryClient(client);
  const trustee = trusteeOf(home);
  await registry.ensureDid(trustee);
  const keys = Array.from({ length: n }, () => randomKeyPair());
  const dids = await Promise.all(keys.map((k) => registry.ensureDid(k)));
  for (const did of dids) {
    const r = await registry.propose({ kind: "issuer/add", did, name: `Bench issuer ${did.slice(-6)}`, types: [TYPE] }, trustee);
    if (!r.executed) throw new Error(`accrediting ${did} did not execute`);
  }
  const iat = Math.floor(Date.now() / 1000);
  const issuers = keys.map((key, i) => ({ key, did: dids[i]!, list: newStatusList(SIZE), iat }));
  await Promise.all(issuers.map((is) => registry.publishStatusList(is.did, is.key, LIST_ID, tokenOf(is))));
  for (const is of issuers) {
    is.list.fill(0x00); // every entry VALID
    is.iat++;
  }
  await Promise.all(issuers.map((is) => registry.publishStatusList(is.did, is.key, LIST_ID, tokenOf(is))));
  for (const is of issuers) {
    for (let revoked = 0; revoked < SIZE * REVOKED; ) {
      const i = randomInt(SIZE);
      if (getStatus(is.list, i) === StatusValue.INVALID) continue;
      setStatus(is.list, i, StatusValue.INVALID);
      revoked++;
    }
    is.iat++;
  }
  await Promise.all(issuers.map((is) => registry.publishStatusList(is.did, is.key, LIST_ID, tokenOf(is))));
  return issuers;
}

/** Each issuer's next `count` status changes (one random VALID entry suspended or revoked per publish), signed up front. */
async function presign(client: SidClient, issuers: BenchIssuer[], total: number): Promise<SignedTx[][]> {
  const chainId = await client.chainId();
  return Promise.all(
    issuers.map(async (is, k) => {
      const count = Math.floor(total / issuers.length) + (k < total % issuers.length ? 1 : 0);
      const seq0 = await client.nextSequence(is.did);
      const out: SignedTx[] = [];
      for (let j = 0; j < count; j++) {
        let i: number;
        do i = randomInt(SIZE);
        while (getStatus(is.list, i) !== StatusValue.VALID);
        setStatus(is.list, i, j % 2 === 0 ? StatusValue.SUSPENDED : StatusValue.INVALID);
        is.iat++;
        out.push(statusListPublishTx({ chainId, signer: is.did, vm: `${is.did}#key-1`, seq: seq0 + j, secretKey: is.key.secretKey }, LIST_ID, tokenOf(is)));
      }
      return out;
    }),
  );
}

async function benchChanges(rpcUrl: string, chains: SignedTx[][]): Promise<{ changesPerSec: number; changeP50Ms: number; changeP99Ms: number }> {
  const post = leanCaller(rpcUrl, 16);
  const call = async <T>(method: string, params: Record<string, unknown>): Promise<T> => {
    const r = (await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }))) as { result?: T; error?: { message: string; data?: unknown } };
    if (r.error) throw new Error(`${method}: ${r.error.message} ${JSON.stringify(r.error.data ?? {})}`);
    return r.result as T;
  };
  try {
    const total = chains.reduce((n, c) => n + c.length, 0);
    const sentAt = new Map<string, number>();
    const t0 = performance.now();
    await Promise.all(
      chains.map(async (chain) => {
        for (const tx of chain) {
          sentAt.set(tx.hash, performance.now());
          const r = await call<{ status: string }>("tx_submit", { tx: tx.base64 });
          if (r.status !== "pending" && r.status !== "committed") throw new Error(`publish ${tx.hash}: ${JSON.stringify(r)}`);
        }
      }),
    );
    // Poll each issuer's last tx; a tx committing means every earlier one of that issuer did too.
    const latencies: number[] = [];
    const pending = new Set(chains.flat().map((t) => t.hash));
    const deadline = Date.now() + 300_000;
    let lastCommit = t0;
    while (pending.size > 0) {
      for (const hash of [...pending]) {
        const r = await call<{ status: string } | null>("tx_get", { hash }).catch(() => null);
        if (r && (r as { height?: number }).height !== undefined) {
          pending.delete(hash);
          const now = performance.now();
          latencies.push(now - sentAt.get(hash)!);
          lastCommit = now;
        }
      }
      if (Date.now() > deadline) throw new Error(`only ${total - pending.size} of ${total} publishes committed in 5 minutes`);
      if (pending.size > 0) await sleep(POLL_MS);
    }
    latencies.sort((a, b) => a - b);
    return { changesPerSec: round(total / ((lastCommit - t0) / 1000)), changeP50Ms: round(percentile(latencies, 50)), changeP99Ms: round(percentile(latencies, 99)) };
  } finally {
    post.close();
  }
}

async function benchFetch(rpcUrl: string, issuer: BenchIssuer, fetches: number): Promise<StatusListBenchResult["fetch"]> {
  const url = `${rpcUrl}/status-lists/${issuer.did.slice("did:sid:".length)}/${LIST_ID}`;
  const first = await fetch(url);
  if (first.status !== 200) throw new Error(`GET ${url}: ${first.status}`);
  const body = await first.text();
  const etag = first.headers.get("etag")!;
  const times: number[] = [];
  for (let i = 0; i < fetches; i++) {
    const t = performance.now();
    const r = await fetch(url);
    await r.arrayBuffer();
    times.push(performance.now() - t);
  }
  const revalidations: number[] = [];
  for (let i = 0; i < fetches; i++) {
    const t = performance.now();
    const r = await fetch(url, { headers: { "if-none-match": etag } });
    await r.arrayBuffer();
    if (r.status !== 304) throw new Error(`revalidation answered ${r.status}`);
    revalidations.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { bytes: Buffer.byteLength(body), meanMs: round(mean(times), 2), p99Ms: round(percentile(times, 99), 2), notModifiedMeanMs: round(mean(revalidations), 2), fetches };
}

/** Status changes to committed and list fetches on the dev node at `rpcUrl` whose home is `home`. */
export async function benchStatusLists(opts: StatusListBenchOptions): Promise<StatusListBenchResult> {
  if (!Number.isSafeInteger(opts.changes) || opts.changes < 1) throw new Error("changes must be a positive integer");
  const client = new SidClient(opts.rpcUrl);
  const n = Math.min(ISSUERS, opts.changes);
  progress(`setting up ${n} issuers, each with a list of ${SIZE} entries, all issued, ${REVOKED * 100}% revoked`);
  const issuers = await setUp(client, opts.home, n);
  progress(`pre-signing ${opts.changes} status changes`);
  const chains = await presign(client, issuers, opts.changes);
  const sample = chains[0]![0]!;
  const tokenChars = (sample.tx.payload as { token: string }).token.length;
  progress(`publishing ${opts.changes} status changes from ${n} issuers`);
  const changes = await benchChanges(opts.rpcUrl, chains);
  progress(`fetching a list ${opts.fetches} times, then revalidating it as often`);
  const fetchResult = await benchFetch(opts.rpcUrl, issuers[0]!, opts.fetches);
  return { listEntries: SIZE, revokedFraction: REVOKED, issuers: n, changes: opts.changes, ...changes, txBytes: sample.encoded.length, tokenChars, fetch: fetchResult };
}

// Run alone: a dev node in a temporary home.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { changes: { type: "string", default: "400" }, fetches: { type: "string", default: "200" }, port: { type: "string" } } });
  const { removeHome, startNodeProcess, tempHome } = await import("../../test/helpers/node-process.js");
  const home = tempHome("sid-bench-status-lists-");
  const node = await startNodeProcess(home, { heartbeatMs: 1_000, ...(values.port !== undefined ? { port: Number(values.port) } : {}) });
  try {
    const r = await benchStatusLists({ rpcUrl: node.rpcUrl, home, changes: Number(values.changes), fetches: Number(values.fetches) });
    process.stdout.write(JSON.stringify(r, null, 2) + "\n");
  } catch (e) {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  } finally {
    await node.stop();
    removeHome(home);
  }
}
