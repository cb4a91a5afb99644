/**
 * KYC benchmark on a running dev node:
 *  - copies signed per second: one-time SD-JWT VC copies (own holder key,
 *    own index, 32 `_sd` entries with decoys) in batches of 20, signing only;
 *  - copies issued per second end to end: batches of 20 copies through
 *    `issueCredentials` (allocation, signing, one list publish committed);
 *  - list fetch: size of the Status List Token of a 131,072-entry list, time
 *    of a full GET and of a 304 revalidation;
 *  - presentations verified per second with a cached list: in memory (list
 *    and issuer document already read), and through the node with the list
 *    revalidated by ETag at every verification (a 304 each).
 * The setup (issuer DID, accreditation, list creation) is outside the timed parts.
 *
 * Run alone: `node dist/scripts/bench/kyc.js [--copies N] [--seconds S]`
 * starts a dev node in a temporary home and prints the figures as JSON;
 * `--offline` runs only the parts that need no node (benchKycOffline).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fromHex } from "../../src/crypto/bytes.js";
import { generateMnemonic, randomKeyPair } from "../../src/crypto/hd.js";
import { publicKeyOf } from "../../src/crypto/secp256k1.js";
import {
  HolderKeys,
  RegistryClient,
  SidClient,
  StatusListCache,
  createStatusList,
  issueCopies,
  issueCredentials,
  issuerContext,
  nodeVerificationDeps,
  presentSdJwtVc,
  verifyCredentialPresentation,
  type CredentialVerificationDeps,
  type DidResolutionLike,
  type StatusListSnapshot,
  StatusValue,
  buildStatusListToken,
  setStatus,
  statusListUri,
  unissuedList,
} from "../../src/client/index.js";
import { buildInitialDocument } from "../../src/did/document.js";

export interface KycBenchOptions {
  rpcUrl: string;
  /** Home of the node: its config/trustee_key.json accredits the issuer. */
  home: string;
  /** Copies to sign in the signing-only part (a multiple of 20). */
  copies: number;
  verifySeconds: number;
}

export interface KycBenchResult {
  copiesSignedPerSec: number;
  copiesIssuedPerSec: number;
  publishP50Ms: number;
  listEntries: number;
  listTokenBytes: number;
  listFetchMs: number;
  listNotModifiedMs: number;
  verifiedPerSecCached: number;
  verifiedPerSecRevalidated: number;
}

const BATCH = 20;
const PUBLISHES = 10;
const TYPE = "KYCBasic";
const CLAIMS = { given_name: "Bench", family_name: "Marker", birthdate: "1980-01-01", document_number: "B-0000001", age_over_18: true };

const progress = (msg: string) => process.stderr.write(`[bench kyc] ${msg}\n`);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function timeFor(seconds: number, step: () => Promise<void>): Promise<number> {
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  let n = 0;
  while (performance.now() < end) {
    await step();
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

export async function benchKyc(opts: KycBenchOptions): Promise<KycBenchResult> {
  const client = new SidClient(opts.rpcUrl);
  const registry = new RegistryClient(client);
  const file = JSON.parse(readFileSync(join(opts.home, "config", "trustee_key.json"), "utf8")) as { secretKey: string };
  const trusteeSk = fromHex(file.secretKey, 32);
  const trustee = { secretKey: trusteeSk, publicKey: publicKeyOf(trusteeSk) };
  const issuerKey = randomKeyPair();
  const issuerDid = await registry.ensureDid(issuerKey);
  await registry.propose({ kind: "issuer/add", did: issuerDid, name: "Bench KYC", types: [TYPE] }, trustee);
  const issuerHome = mkdtempSync(join(tmpdir(), "sid-bench-kyc-"));
  try {
    const ctx = await issuerContext(client, issuerHome, issuerDid, issuerKey);
    const list = await createStatusList(ctx, { listId: "bench" });
    const holder = new HolderKeys(generateMnemonic());
    const keys = Array.from({ length: BATCH }, (_, i) => holder.copyKey(0, i).publicKey);

    progress(`signing ${opts.copies} copies in batches of ${BATCH}`);
    const batches = Math.max(1, Math.round(opts.copies / BATCH));
    let t = performance.now();
    for (let b = 0; b < batches; b++) {
      await issueCopies({
        format: "sd-jwt-vc", issuerDid, issuerKid: ctx.kid, issuerSecretKey: issuerKey.secretKey, type: TYPE, claims: CLAIMS,
        copies: keys.map((holderPublicKey, i) => ({ holderPublicKey, status: { uri: list.uri, idx: b * BATCH + i } })),
      });
    }
    const copiesSignedPerSec = (batches * BATCH) / ((performance.now() - t) / 1000);

    progress(`${PUBLISHES} batches of ${BATCH} copies issued end to end (one publish each)`);
    const publishMs: number[] = [];
    let last: string[] = [];
    t = performance.now();
    for (let b = 0; b < PUBLISHES; b++) {
      const s = performance.now();
      const r = await issueCredentials(ctx, "bench", [{ type: TYPE, claims: CLAIMS, format: "sd-jwt-vc", holderKeys: keys.map((_, i) => holder.copyKey(b + 1, i).publicKey) }]);
      publishMs.push(performance.now() - s);
      last = r.credentials[0]!.copies;
    }
    const copiesIssuedPerSec = (PUBLISHES * BATCH) / ((performance.now() - t) / 1000);
    publishMs.sort((a, b) => a - b);

    progress("list fetch and revalidation");
    const url = `${opts.rpcUrl}${new URL(list.uri).pathname}`;
    const FETCHES = 50;
    let token = "";
    let etag = "";
    t = performance.now();
    for (let i = 0; i < FETCHES; i++) {
      const res = await fetch(url);
      token = await res.text();
      etag = res.headers.get("etag") ?? "";
    }
    const listFetchMs = (performance.now() - t) / FETCHES;
    t = performance.now();
    for (let i = 0; i < FETCHES; i++) {
      const res = await fetch(url, { headers: { "if-none-match": etag } });
      await res.arrayBuffer();
      if (res.status !== 304) throw new Error(`expected 304, got ${res.status}`);
    }
    const listNotModifiedMs = (performance.now() - t) / FETCHES;

    progress(`presentations verified, ${opts.verifySeconds} s each way`);
    const audience = "https://bench.example";
    const nonce = "bench-nonce";
    const presentation = await presentSdJwtVc({ credential: last[0]!, disclose: ["age_over_18"], holderSecretKey: holder.copyKey(PUBLISHES, 0).secretKey, audience, nonce });
    const nodeDeps = nodeVerificationDeps(client, new StatusListCache(client));
    const snapshot = (await nodeDeps.statusList(list.uri)) as StatusListSnapshot;
    const issuerDoc = await nodeDeps.resolveDid(issuerDid);
    const cachedDeps: CredentialVerificationDeps = { resolveDid: async (): Promise<DidResolutionLike> => issuerDoc, statusList: async () => snapshot };
    const check = async (deps: CredentialVerificationDeps) => {
      const v = await verifyCredentialPresentation(presentation, deps, { audience, nonce, now: Date.now() });
      if (!v.valid) throw new Error(`bench presentation refused: ${v.reason} ${v.message}`);
    };
    const verifiedPerSecCached = await timeFor(opts.verifySeconds, () => check(cachedDeps));
    const verifiedPerSecRevalidated = await timeFor(opts.verifySeconds, () => check(nodeDeps));

    return {
      copiesSignedPerSec: round(copiesSignedPerSec),
      copiesIssuedPerSec: round(copiesIssuedPerSec),
      publishP50Ms: round(publishMs[Math.floor(publishMs.length / 2)]!),
      listEntries: list.size,
      listTokenBytes: Buffer.byteLength(token),
      listFetchMs: round(listFetchMs, 2),
      listNotModifiedMs: round(listNotModifiedMs, 2),
      verifiedPerSecCached: round(verifiedPerSecCached),
      verifiedPerSecRevalidated: round(verifiedPerSecRevalidated),
    };
  } finally {
    rmSync(issuerHome, { recursive: true, force: true });
  }
}

/**
 * The parts that need no node: copies signed per second (batches of 20) and
 * presentations verified per second against an in-memory list of 131,072
 * entries (all issued, 1% revoked at random) and issuer document.
 */
export async function benchKycOffline(opts: { copies: number; verifySeconds: number }): Promise<{ copiesSignedPerSec: number; verifiedPerSecCached: number; listTokenBytes: number }> {
  const issuerKey = randomKeyPair();
  const doc = buildInitialDocument(issuerKey.publicKey);
  const kid = `${doc.id}#key-1`;
  const uri = statusListUri("http://127.0.0.1:8660", doc.id, "bench");
  const holder = new HolderKeys(generateMnemonic());
  const keys = Array.from({ length: BATCH }, (_, i) => holder.copyKey(0, i).publicKey);
  const batches = Math.max(1, Math.round(opts.copies / BATCH));
  let last: string[] = [];
  const t = performance.now();
  for (let b = 0; b < batches; b++) {
    last = await issueCopies({
      format: "sd-jwt-vc", issuerDid: doc.id, issuerKid: kid, issuerSecretKey: issuerKey.secretKey, type: TYPE, claims: CLAIMS,
      copies: keys.map((holderPublicKey, i) => ({ holderPublicKey, status: { uri, idx: b * BATCH + i } })),
    });
  }
  const copiesSignedPerSec = (batches * BATCH) / ((performance.now() - t) / 1000);
  const bytes = unissuedList(131_072);
  // Every entry issued, 1% revoked at random indices (the herd a list hides a copy in).
  const draw = new Uint32Array(randomBytes(4 * 131_072).buffer);
  for (let i = 0; i < 131_072; i++) setStatus(bytes, i, draw[i]! % 100 === 0 ? StatusValue.INVALID : StatusValue.VALID);
  const token = buildStatusListToken({ uri, kid, secretKey: issuerKey.secretKey, bytes, iat: Math.floor(Date.now() / 1000), ttl: 300 });
  const resolution: DidResolutionLike = { didDocument: doc, didResolutionMetadata: {}, didDocumentMetadata: {} };
  const deps: CredentialVerificationDeps = { resolveDid: async () => resolution, statusList: async () => ({ uri, token, types: [TYPE], time: Date.now() }) };
  const audience = "https://bench.example";
  const nonce = "bench-nonce";
  const presentation = await presentSdJwtVc({ credential: last[0]!, disclose: ["age_over_18"], holderSecretKey: holder.copyKey(0, 0).secretKey, audience, nonce });
  const verifiedPerSecCached = await timeFor(opts.verifySeconds, async () => {
    const v = await verifyCredentialPresentation(presentation, deps, { audience, nonce, now: Date.now() });
    if (!v.valid) throw new Error(`bench presentation refused: ${v.reason} ${v.message}`);
  });
  return { copiesSignedPerSec: round(copiesSignedPerSec), verifiedPerSecCached: round(verifiedPerSecCached), listTokenBytes: Buffer.byteLength(token) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { copies: { type: "string", default: "2000" }, seconds: { type: "string", default: "5" }, offline: { type: "boolean", default: false } } });
  if (values.offline) {
    process.stdout.write(JSON.stringify(await benchKycOffline({ copies: Number(values.copies), verifySeconds: Number(values.seconds) }), null, 2) + "\n");
    process.exit(0);
  }
  const { startNodeProcess, tempHome, removeHome } = await import("../../test/helpers/node-process.js");
  const home = tempHome("sid-bench-kyc-node-");
  const node = await startNodeProcess(home, { heartbeatMs: 60_000 });
  try {
    const r = await benchKyc({ rpcUrl: node.rpcUrl, home, copies: Number(values.copies), verifySeconds: Number(values.seconds) });
    process.stdout.write(JSON.stringify(r, null, 2) + "\n");
  } finally {
    await node.stop();
    removeHome(home);
  }
}
