/**
 * KYC benchmark on a running dev node (issue 4):
 *  - anchors to committed: N credential anchors, pre-signed, from several
 *    accredited issuers at once (each issuer's txs carry consecutive
 *    sequences, so each issuer submits in order, one admission in flight;
 *    the issuers run side by side). Latency is submit to the moment a block
 *    holding the tx is seen (the head is polled every POLL_MS).
 *  - verifications per second: `sid kyc verify`-equivalent checks of SD-JWT VC
 *    presentations through the SDK against the node (verifyWithNode: anchor,
 *    issuer DID at anchoring time, accreditation, status at now, subject DID,
 *    key binding), a few at once, for `verifySeconds`.
 * The setup (DIDs, accreditation through the home's trustee key) is outside
 * the timed parts.
 *
 * Run alone: `node dist/scripts/bench/kyc.js [--anchors N] [--seconds S]`
 * starts a dev node in a temporary home and prints the figures as JSON.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fromHex, utf8 } from "../../src/crypto/bytes.js";
import { sha256 } from "../../src/crypto/hash.js";
import { type KeyPair, randomKeyPair } from "../../src/crypto/hd.js";
import { publicKeyOf } from "../../src/crypto/secp256k1.js";
import { RegistryClient, SidClient, anchorCredentialTx, issueAndAnchor, newCredentialId, presentSdJwtVc, verifyWithNode, type SignedTx } from "../../src/client/index.js";
import { leanCaller } from "./measure.js";

export interface KycBenchOptions {
  rpcUrl: string;
  /** Home of the node: its config/trustee_key.json accredits the issuers. */
  home: string;
  anchors: number;
  verifySeconds: number;
}

export interface KycBenchResult {
  anchorsPerSec: number;
  anchorP50Ms: number;
  anchorP99Ms: number;
  verificationsPerSec: number;
}

/** Issuers anchoring side by side: enough to fill blocks, few enough to accredit quickly. */
const ISSUERS = 16;
/** Verifications in flight at once (a verifier service handling several requests). */
const VERIFIERS = 8;
/** How often the head is polled to see commits. */
const POLL_MS = 10;
const TYPE = "KYCBasic";

const progress = (msg: string) => process.stderr.write(`[bench kyc] ${msg}\n`);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A typed JSON-RPC call over measure.ts's keep-alive caller; an error answer rejects with its message. */
function rpcCaller(url: string, sockets: number) {
  const post = leanCaller(url, sockets);
  const call = async <T>(method: string, params: Record<string, unknown>): Promise<T> => {
    const r = (await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }))) as { result?: T; error?: { message: string; data?: unknown } };
    if (r.error) throw new Error(`${method}: ${r.error.message} ${JSON.stringify(r.error.data ?? {})}`);
    return r.result as T;
  };
  return { call, close: () => post.close() };
}

function trusteeOf(home: string): KeyPair {
  const file = JSON.parse(readFileSync(join(home, "config", "trustee_key.json"), "utf8")) as { secretKey: string };
  const secretKey = fromHex(file.secretKey, 32);
  return { secretKey, publicKey: publicKeyOf(secretKey) };
}

/** Register `n` issuer DIDs and a subject, and accredit the issuers for TYPE through governance. */
async function setUp(client: SidClient, home: string, n: number) {
  const registry = new RegistryClient(client);
  const trustee = trusteeOf(home);
  await registry.ensureDid(trustee);
  const issuers = Array.from({ length: n }, () => randomKeyPair());
  const holder = randomKeyPair();
  const [holderDid, ...issuerDids] = await Promise.all([holder, ...issuers].map((k) => registry.ensureDid(k)));
  // One trustee signs these in sequence order, so they go one after another.
  for (const did of issuerDids) {
    const r = await registry.propose({ kind: "issuer/add", did: did!, name: `Bench issuer ${did!.slice(-6)}`, types: [TYPE] }, trustee);
    if (!r.executed) throw new Error(`accrediting ${did} did not execute`);
  }
  return { registry, holder, holderDid: holderDid!, issuers: issuers.map((key, i) => ({ key, did: issuerDids[i]! })) };
}

/** Every issuer's anchors, signed up front with consecutive sequences. */
async function presign(client: SidClient, issuers: Array<{ key: KeyPair; did: string }>, subject: string, total: number): Promise<SignedTx[][]> {
  const chainId = await client.chainId();
  const validFrom = Math.floor(Date.now() / 1000) * 1000;
  return Promise.all(
    issuers.map(async ({ key, did }, i) => {
      const count = Math.floor(total / issuers.length) + (i < total % issuers.length ? 1 : 0);
      const seq0 = await client.nextSequence(did);
      const vm = `${did}#key-1`;
      return Array.from({ length: count }, (_, j) =>
        anchorCredentialTx(
          { chainId, signer: did, vm, seq: seq0 + j, secretKey: key.secretKey },
          { id: newCredentialId(), subject, types: [TYPE], digest: sha256(utf8(`bench ${did} ${j}`)), validFrom, validUntil: validFrom + 365 * 86_400_000 },
        ),
      );
    }),
  );
}

async function benchAnchors(rpcUrl: string, chains: SignedTx[][]): Promise<{ anchorsPerSec: number; anchorP50Ms: number; anchorP99Ms: number }> {
  const total = chains.reduce((n, c) => n + c.length, 0);
  const rpc = rpcCaller(rpcUrl, chains.length + 2);
  const submitted = new Map<string, number>();
  const latencies: number[] = [];
  let lastCommit = 0;
  let failure: Error | undefined;
  let height = (await rpc.call<{ height: number }>("node_status", {})).height;

  const t0 = performance.now();
  const submitters = chains.map(async (chain) => {
    for (const tx of chain) {
      submitted.set(tx.hash, performance.now());
      const r = await rpc.call<{ status: string }>("tx_submit", { tx: tx.base64, wait: false });
      if (r.status !== "pending" && r.status !== "committed") throw new Error(`anchor ${tx.hash}: ${r.status}`);
    }
  });
  const watcher = (async () => {
    // Bounded: at most five minutes of polling.
    const deadline = Date.now() + 300_000;
    while (latencies.length < total && !failure) {
      if (Date.now() > deadline) throw new Error(`only ${latencies.length} of ${total} anchors committed in 5 minutes`);
      const head = (await rpc.call<{ height: number }>("node_status", {})).height;
      const seen = performance.now();
      for (let h = height + 1; h <= head; h++) {
        const block = await rpc.call<{ txs: string[] }>("block_get", { height: h });
        for (const hash of block.txs) {
          const s = submitted.get(hash);
          if (s === undefined) continue;
          latencies.push(seen - s);
          submitted.delete(hash);
          lastCommit = seen;
        }
      }
      height = head;
      if (latencies.length < total) await sleep(POLL_MS);
    }
  })();
  try {
    await Promise.all(submitters);
  } catch (e) {
    failure = e as Error;
    await watcher.catch(() => undefined);
    throw e;
  } finally {
    if (!failure) await watcher;
    rpc.close();
  }
  latencies.sort((a, b) => a - b);
  return { anchorsPerSec: round(total / ((lastCommit - t0) / 1000)), anchorP50Ms: round(percentile(latencies, 50)), anchorP99Ms: round(percentile(latencies, 99)) };
}

async function benchVerify(client: SidClient, presentations: Array<{ p: string; nonce: string }>, audience: string, seconds: number): Promise<number> {
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const verifier = async (w: number) => {
    for (let i = w; performance.now() < end; i += VERIFIERS) {
      const { p, nonce } = presentations[i % presentations.length]!;
      const v = await verifyWithNode(client, p, { audience, nonce });
      if (!v.valid) throw new Error(`presentation refused: ${v.reason}: ${v.message}`);
      done++;
    }
  };
  await Promise.all(Array.from({ length: VERIFIERS }, (_, w) => verifier(w)));
  return done / ((performance.now() - t0) / 1000);
}

/** Anchors to committed and verifications per second on the dev node at `rpcUrl` whose home is `home`. */
export async function benchKyc(opts: KycBenchOptions): Promise<KycBenchResult> {
  if (!Number.isSafeInteger(opts.anchors) || opts.anchors < 1) throw new Error("anchors must be a positive integer");
  if (!(opts.verifySeconds > 0)) throw new Error("verifySeconds must be positive");
  const client = new SidClient(opts.rpcUrl);
  const issuerCount = Math.min(ISSUERS, opts.anchors);
  progress(`setting up ${issuerCount} accredited issuers`);
  const { holder, holderDid, issuers } = await setUp(client, opts.home, issuerCount);

  progress(`pre-signing ${opts.anchors} anchors`);
  const chains = await presign(client, issuers, holderDid, opts.anchors);
  progress(`anchoring ${opts.anchors} credentials from ${issuerCount} issuers`);
  const anchors = await benchAnchors(opts.rpcUrl, chains);

  progress("issuing credentials to verify");
  const audience = "https://verifier.bench.example";
  const claims = { given_name: "Bench", family_name: "Holder", birthdate: "1990-01-01", document_number: "B-0000001", age_over_18: true };
  const presentations: Array<{ p: string; nonce: string }> = [];
  for (const [i, issuer] of issuers.slice(0, 4).entries()) {
    const c = await issueAndAnchor({ client, issuerDid: issuer.did, issuerKey: issuer.key, subjectDid: holderDid, type: TYPE, claims, format: "sd-jwt-vc", validUntil: Date.now() + 86_400_000 });
    const nonce = `bench-nonce-${i}`;
    presentations.push({ nonce, p: await presentSdJwtVc({ credential: c.credential.credential, disclose: ["given_name", "age_over_18"], holderSecretKey: holder.secretKey, audience, nonce }) });
  }
  progress(`verifying presentations for ${opts.verifySeconds} s, ${VERIFIERS} at once`);
  const verificationsPerSec = round(await benchVerify(client, presentations, audience, opts.verifySeconds));
  return { ...anchors, verificationsPerSec };
}

// Run alone: a dev node in a temporary home.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { anchors: { type: "string", default: "2000" }, seconds: { type: "string", default: "5" } } });
  const { removeHome, startNodeProcess, tempHome } = await import("../../test/helpers/node-process.js");
  const home = tempHome("sid-bench-kyc-");
  const node = await startNodeProcess(home, { heartbeatMs: 1_000 });
  try {
    const r = await benchKyc({ rpcUrl: node.rpcUrl, home, anchors: Number(values.anchors), verifySeconds: Number(values.seconds) });
    process.stdout.write(JSON.stringify({ anchors: Number(values.anchors), ...r }, null, 2) + "\n");
  } catch (e) {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  } finally {
    await node.stop();
    removeHome(home);
  }
}
