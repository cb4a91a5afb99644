/**
 * KYC end to end through a node: the glue between the credential SDK
 * (issue, present, verify: pure, chain-agnostic), the local stores of
 * issuers and holders, and the chain (status lists, issuer registry).
 *
 * Issuer: `createStatusList` once, then `issueCredentials` (one-time copies
 * for any number of holders, one list publish per batch) and
 * `changeCredentialStatus` (every copy of a credential, one publish).
 * Holder: `makeRequest` (copy keys from the holder's seed), `receiveIssuance`,
 * `presentCopy` (an unused copy, marked used). Verifier: `verifyWithNode`.
 *
 * Nothing per holder reaches the chain: a publish carries the issuer's
 * whole list, where a copy is one random index among at least 131,072.
 */
import type { KeyPair } from "../crypto/hd.js";
import { bytesEqual } from "../crypto/bytes.js";
import { jwkToPublicKey, publicKeyToJwk, type Secp256k1Jwk } from "../crypto/encoding.js";
import { CodedError } from "../errors.js";
import { newCredentialId, isCredentialId } from "./credentials/contract.js";
import { HolderKeys } from "./credentials/holder-keys.js";
import { issueCopies } from "./credentials/issue.js";
import { parseCredential } from "./credentials/format.js";
import { presentSdJwtVc } from "./credentials/present.js";
import { LIST_ID_RE, STATUS_LIST_LIMITS, StatusValue, buildStatusListToken, statusListUri } from "./credentials/status-token.js";
import { verifyCredentialPresentation } from "./credentials/verify.js";
import type { CredentialFormat, CredentialVerificationDeps, JsonValue, Verdict, VerificationExpectation } from "./credentials/types.js";
import { type HolderCredential, HolderStore, type IssuedCredentialRecord, type IssuedStatus, IssuerList, IssuerStore, KycStoreError, KycStoreErrorCode } from "./kyc-store.js";
import { RegistryClient } from "./registry-client.js";
import { SidClient, SidClientError } from "./sid-client.js";
import { StatusListCache } from "./status-list-client.js";
import { findMethodForKey } from "./txs.js";

export enum KycErrorCode {
  /** A request or issuance file is not of the expected shape. */
  BAD_FILE = "KYC_BAD_FILE",
  /** A received copy is not bound to the key the holder derived for it. */
  COPY_KEY_MISMATCH = "KYC_COPY_KEY_MISMATCH",
  /** The status change is not allowed (revocation is final; nothing to reinstate). */
  BAD_STATUS_CHANGE = "KYC_BAD_STATUS_CHANGE",
}

export class KycError extends CodedError<KycErrorCode> {}

/** Copies per credential unless asked otherwise: enough one-time presentations for a while. */
export const DEFAULT_COPIES = 20;
/** `sid kyc present` warns when this many or fewer unused copies remain. */
export const LOW_COPIES_WARNING = 3;
/** Seconds verifiers may cache a list token before revalidating (the token's `ttl`). */
export const DEFAULT_LIST_TTL = 300;
/** The base of list URIs when the node does not say (the genesis default). */
export const DEFAULT_STATUS_LIST_BASE_URI = "http://127.0.0.1:8660";

// ---------------------------------------------------------------------------
// issuer

/** Who issues: the issuer DID, a key in its assertionMethod (signs copies, tokens and txs), and its home state. */
export interface IssuerContext {
  client: SidClient;
  issuerDid: string;
  key: KeyPair;
  /** Full DID URL of `key` in the issuer's assertionMethod. */
  kid: string;
  store: IssuerStore;
}

/** The issuer context for `key`, which must be in the assertionMethod of `issuerDid`. */
export async function issuerContext(client: SidClient, home: string, issuerDid: string, key: KeyPair): Promise<IssuerContext> {
  const { document } = await client.current(issuerDid);
  const kid = findMethodForKey(document, key.publicKey, "assertionMethod");
  if (!kid) throw new SidClientError("unauthorized", `the issuer key is not in the assertionMethod of ${issuerDid}`);
  return { client, issuerDid, key, kid, store: IssuerStore.open(home, issuerDid) };
}

async function publish(ctx: IssuerContext, list: IssuerList, statuses: Uint8Array, ttl: number): Promise<{ txHash: string; height: number }> {
  const token = buildStatusListToken({ uri: list.uri, kid: ctx.kid, secretKey: ctx.key.secretKey, bytes: statuses, iat: Math.floor(Date.now() / 1000), ttl });
  return new RegistryClient(ctx.client).publishStatusList(ctx.issuerDid, ctx.key, list.listId, token);
}

/** The base of list URIs the node's chain uses (its genesis `statusListBaseUri`). */
export async function statusListBaseUri(client: SidClient): Promise<string> {
  const s = (await client.status()) as unknown as { statusListBaseUri?: unknown };
  return typeof s.statusListBaseUri === "string" ? s.statusListBaseUri : DEFAULT_STATUS_LIST_BASE_URI;
}

export interface CreateListInput {
  listId: string;
  /** Entries; default and minimum 131,072 (the chain's herd-privacy floor). */
  size?: number;
  ttl?: number;
  /** Base of the list URI; default: what the node says. */
  baseUri?: string;
}

/**
 * Create a status list on chain: every entry UNISSUED, published once. The
 * chain records the types the issuer is accredited for now; copies of
 * those types can then be issued into it.
 */
export async function createStatusList(ctx: IssuerContext, input: CreateListInput): Promise<{ uri: string; size: number; txHash: string; height: number }> {
  if (typeof input.listId !== "string" || !LIST_ID_RE.test(input.listId)) throw new KycError(KycErrorCode.BAD_FILE, "a list id is 1-64 of [A-Za-z0-9_-]");
  const size = input.size ?? STATUS_LIST_LIMITS.minSize;
  if (!Number.isSafeInteger(size) || size < STATUS_LIST_LIMITS.minSize || size > STATUS_LIST_LIMITS.maxSize) {
    throw new KycError(KycErrorCode.BAD_FILE, `a list has ${STATUS_LIST_LIMITS.minSize}-${STATUS_LIST_LIMITS.maxSize} entries`);
  }
  return ctx.store.withLock(async () => {
    if (await ctx.store.hasList(input.listId)) throw new KycStoreError(KycStoreErrorCode.LIST_EXISTS, `list ${input.listId} exists in this issuer's home`);
    const uri = statusListUri(input.baseUri ?? (await statusListBaseUri(ctx.client)), ctx.issuerDid, input.listId);
    const list = IssuerList.fresh(input.listId, uri, size);
    const r = await publish(ctx, list, list.statuses, input.ttl ?? DEFAULT_LIST_TTL);
    list.publishedHeight = r.height;
    await ctx.store.saveList(list);
    return { uri, size, ...r };
  });
}

/** One credential to issue in a batch. */
export interface CredentialToIssue {
  type: string;
  claims: Record<string, JsonValue>;
  format: CredentialFormat;
  /** SD-JWT VC: one holder key per copy (from the holder's request). */
  holderKeys?: Uint8Array[];
  /** JWT VC: how many copies (default DEFAULT_COPIES). */
  copies?: number;
  validFrom?: number;
  validUntil?: number;
  /** The issuer's own note, kept in its home only. */
  label?: string;
}

export interface IssuedBatch {
  credentials: Array<{ credentialId: string; copies: string[] }>;
  txHash: string;
  height: number;
}

/**
 * Issue every credential of `items` into list `listId` and publish the list
 * once, turning all their indices VALID. Indices are allocated (and saved)
 * before anything is signed, so none is handed out twice even if the
 * publish fails; after a failure they stay unused forever.
 */
export async function issueCredentials(ctx: IssuerContext, listId: string, items: CredentialToIssue[], opts: { sdDigests?: number; ttl?: number } = {}): Promise<IssuedBatch> {
  if (!Array.isArray(items) || items.length === 0) throw new KycError(KycErrorCode.BAD_FILE, "nothing to issue");
  return ctx.store.withLock(async () => {
    const list = await ctx.store.list(listId);
    const plans = items.map((item) => {
      const n = item.format === "sd-jwt-vc" ? (item.holderKeys?.length ?? 0) : (item.copies ?? DEFAULT_COPIES);
      if (!Number.isSafeInteger(n) || n < 1) throw new KycError(KycErrorCode.BAD_FILE, item.format === "sd-jwt-vc" ? "an SD-JWT VC needs one holder key per copy" : "copies must be at least 1");
      return { item, n };
    });
    const total = plans.reduce((a, p) => a + p.n, 0);
    const indices = list.allocate(total);
    await ctx.store.saveList(list);

    const statuses = list.statuses.slice();
    const records = await ctx.store.credentials();
    const out: IssuedBatch["credentials"] = [];
    const newRecords: IssuedCredentialRecord[] = [];
    let at = 0;
    for (const { item, n } of plans) {
      const mine = indices.slice(at, at + n);
      at += n;
      const copies = await issueCopies({
        format: item.format,
        issuerDid: ctx.issuerDid,
        issuerKid: ctx.kid,
        issuerSecretKey: ctx.key.secretKey,
        type: item.type,
        claims: item.claims,
        ...(item.validFrom !== undefined ? { validFrom: item.validFrom } : {}),
        ...(item.validUntil !== undefined ? { validUntil: item.validUntil } : {}),
        ...(opts.sdDigests !== undefined ? { sdDigests: opts.sdDigests } : {}),
        copies: mine.map((idx, i) => ({ status: { uri: list.uri, idx }, ...(item.format === "sd-jwt-vc" ? { holderPublicKey: item.holderKeys![i]! } : {}) })),
      });
      for (const idx of mine) statuses[idx >> 2] = statuses[idx >> 2]! & ~(3 << ((idx & 3) * 2));
      const id = newCredentialId();
      newRecords.push({ id, type: item.type, format: item.format, listId, indices: mine, status: "valid", issued: new Date().toISOString(), ...(item.label ? { label: item.label } : {}) });
      out.push({ credentialId: id, copies });
    }
    const r = await publish(ctx, list, statuses, opts.ttl ?? DEFAULT_LIST_TTL);
    list.statuses.set(statuses);
    list.publishedHeight = r.height;
    await ctx.store.saveList(list);
    for (const rec of newRecords) records.set(rec.id, rec);
    await ctx.store.saveCredentials(records);
    return { credentials: out, ...r };
  });
}

const STATUS_VALUE: Record<IssuedStatus, StatusValue> = { valid: StatusValue.VALID, suspended: StatusValue.SUSPENDED, revoked: StatusValue.INVALID };

/**
 * Set every copy of each credential to `status` ("suspended", "valid" to
 * reinstate, "revoked": final), one publish per list touched. Refused
 * locally before the chain would refuse: a revoked credential changes no
 * more, and reinstating needs a suspended credential.
 */
export async function changeCredentialStatus(ctx: IssuerContext, changes: Array<{ credentialId: string; status: IssuedStatus }>, opts: { ttl?: number } = {}): Promise<Array<{ listId: string; txHash: string; height: number }>> {
  return ctx.store.withLock(async () => {
    const records = await ctx.store.credentials();
    const byList = new Map<string, Array<{ rec: IssuedCredentialRecord; status: IssuedStatus }>>();
    for (const { credentialId, status } of changes) {
      if (!isCredentialId(credentialId)) throw new KycError(KycErrorCode.BAD_FILE, `not a credential id: ${String(credentialId).slice(0, 40)}`);
      const rec = records.get(credentialId);
      if (!rec) throw new KycStoreError(KycStoreErrorCode.CREDENTIAL_NOT_FOUND, `this issuer's home has no credential ${credentialId}`);
      if (rec.status === "revoked") throw new KycError(KycErrorCode.BAD_STATUS_CHANGE, `credential ${credentialId} is revoked, which is final`);
      if (rec.status === status) throw new KycError(KycErrorCode.BAD_STATUS_CHANGE, `credential ${credentialId} is already ${status}`);
      if (!(status in STATUS_VALUE)) throw new KycError(KycErrorCode.BAD_STATUS_CHANGE, `unknown status ${String(status).slice(0, 20)}`);
      byList.set(rec.listId, [...(byList.get(rec.listId) ?? []), { rec, status }]);
    }
    const out: Array<{ listId: string; txHash: string; height: number }> = [];
    for (const [listId, group] of byList) {
      const list = await ctx.store.list(listId);
      const statuses = list.statuses.slice();
      const scratch = new IssuerList(list.listId, list.uri, list.size, statuses, list.allocated, null);
      for (const { rec, status } of group) for (const idx of rec.indices) scratch.set(idx, STATUS_VALUE[status]);
      const r = await publish(ctx, list, statuses, opts.ttl ?? DEFAULT_LIST_TTL);
      list.statuses.set(statuses);
      list.publishedHeight = r.height;
      await ctx.store.saveList(list);
      for (const { rec, status } of group) rec.status = status;
      await ctx.store.saveCredentials(records);
      out.push({ listId, ...r });
    }
    return out;
  });
}

// ---------------------------------------------------------------------------
// holder -> issuer -> holder files

export const REQUEST_KIND = "sid-kyc-request";
export const ISSUANCE_KIND = "sid-kyc-issuance";

/** What a holder gives the issuer: one fresh public key per copy. No DID, nothing that links the copies to the holder's other keys. */
export interface KycRequest {
  kind: typeof REQUEST_KIND;
  version: 1;
  requestId: string;
  keys: Secp256k1Jwk[];
}

/** What the issuer gives back: the copies of one credential. */
export interface KycIssuance {
  kind: typeof ISSUANCE_KIND;
  version: 1;
  /** The request it answers (SD-JWT VC), or null (JWT VC needs no request). */
  requestId: string | null;
  credentialId: string;
  issuer: string;
  credentialType: string;
  format: CredentialFormat;
  copies: string[];
}

/** A request for `copies` copies: derives one key per copy at a fresh credential number and remembers it in the holder's home. */
export async function makeRequest(store: HolderStore, keys: HolderKeys, copies = DEFAULT_COPIES): Promise<KycRequest> {
  if (!Number.isSafeInteger(copies) || copies < 1 || copies > 1000) throw new KycError(KycErrorCode.BAD_FILE, "copies must be 1-1000");
  const credentialN = await store.nextCredentialN();
  const requestId = newCredentialId();
  const jwks = Array.from({ length: copies }, (_, i) => publicKeyToJwk(keys.copyKey(credentialN, i).publicKey));
  await store.saveRequest({ requestId, credentialN, copies, created: new Date().toISOString() });
  return { kind: REQUEST_KIND, version: 1, requestId, keys: jwks };
}

/** The holder keys of a request file, checked (the issuer reads it: untrusted input). */
export function readRequest(v: unknown): { requestId: string; keys: Uint8Array[] } {
  const r = v as Partial<KycRequest> | null;
  if (typeof r !== "object" || r === null || r.kind !== REQUEST_KIND || r.version !== 1) throw new KycError(KycErrorCode.BAD_FILE, `not a ${REQUEST_KIND} of version 1`);
  if (typeof r.requestId !== "string" || !isCredentialId(r.requestId)) throw new KycError(KycErrorCode.BAD_FILE, "requestId must be 32 lowercase hex");
  if (!Array.isArray(r.keys) || r.keys.length < 1 || r.keys.length > 1000) throw new KycError(KycErrorCode.BAD_FILE, "keys must list 1-1000 public JWKs");
  const keys = r.keys.map((jwk, i) => {
    try {
      return jwkToPublicKey(jwk);
    } catch (err) {
      throw new KycError(KycErrorCode.BAD_FILE, `keys[${i}]: ${(err as Error).message}`);
    }
  });
  const distinct = new Set(keys.map((k) => Buffer.from(k).toString("hex")));
  if (distinct.size !== keys.length) throw new KycError(KycErrorCode.BAD_FILE, "keys repeats a key: every copy needs its own");
  return { requestId: r.requestId, keys };
}

/**
 * Store the copies of an issuance in the holder's home, after checking
 * each one: it parses, names the issuance's issuer and type, and (SD-JWT VC)
 * is bound to the key the holder derived for that copy. The request is then
 * forgotten (its keys are the copies' now).
 */
export async function receiveIssuance(store: HolderStore, keys: HolderKeys, v: unknown): Promise<HolderCredential> {
  const iss = v as Partial<KycIssuance> | null;
  if (typeof iss !== "object" || iss === null || iss.kind !== ISSUANCE_KIND || iss.version !== 1) throw new KycError(KycErrorCode.BAD_FILE, `not a ${ISSUANCE_KIND} of version 1`);
  if (!isCredentialId(iss.credentialId) || !Array.isArray(iss.copies) || iss.copies.length === 0) throw new KycError(KycErrorCode.BAD_FILE, "an issuance needs a credentialId and copies");
  const format = iss.format;
  if (format !== "sd-jwt-vc" && format !== "jwt-vc") throw new KycError(KycErrorCode.BAD_FILE, "format must be sd-jwt-vc or jwt-vc");
  let credentialN: number | null = null;
  if (format === "sd-jwt-vc") {
    if (typeof iss.requestId !== "string") throw new KycError(KycErrorCode.BAD_FILE, "an SD-JWT VC issuance answers a request (requestId)");
    const req = await store.request(iss.requestId);
    if (iss.copies.length > req.copies) throw new KycError(KycErrorCode.BAD_FILE, `${iss.copies.length} copies for a request of ${req.copies}`);
    credentialN = req.credentialN;
  }
  let issuer: string | undefined;
  let type: string | undefined;
  iss.copies.forEach((text, i) => {
    const parsed = parseCredential(text);
    if (!parsed.ok) throw new KycError(KycErrorCode.BAD_FILE, `copy ${i}: ${parsed.message}`);
    const c = parsed.value;
    if (c.format !== format) throw new KycError(KycErrorCode.BAD_FILE, `copy ${i} is a ${c.format}, not a ${format}`);
    issuer ??= c.issuer;
    type ??= c.types[0];
    if (c.issuer !== issuer || c.types[0] !== type) throw new KycError(KycErrorCode.BAD_FILE, `copy ${i} has another issuer or type than copy 0`);
    if (credentialN !== null && !bytesEqual(c.holderKey!, keys.copyKey(credentialN, i).publicKey)) {
      throw new KycError(KycErrorCode.COPY_KEY_MISMATCH, `copy ${i} is not bound to the key this holder derived for it`);
    }
  });
  const held: HolderCredential = {
    id: iss.credentialId,
    issuer: issuer!,
    type: type!,
    format,
    credentialN,
    received: new Date().toISOString(),
    copies: iss.copies.map((credential, copyN) => ({ copyN, credential, used: false })),
  };
  await store.saveCredential(held);
  if (typeof iss.requestId === "string") await store.dropRequest(iss.requestId);
  return held;
}

/**
 * Present credential `credentialId` from the holder's home with a copy not
 * shown before (marked used first), revealing `disclose` to `audience` for
 * `nonce`. A JWT VC copy is shown whole. `remaining` counts the unused
 * copies left; ask for more when it is low (LOW_COPIES_WARNING).
 */
export async function presentCopy(
  store: HolderStore,
  keys: HolderKeys,
  credentialId: string,
  p: { disclose: string[]; audience: string; nonce: string; now?: number },
): Promise<{ presentation: string; remaining: number }> {
  const { credential, copy, remaining } = await store.takeUnusedCopy(credentialId);
  if (credential.format === "jwt-vc") return { presentation: copy.credential, remaining };
  const key = keys.copyKey(credential.credentialN!, copy.copyN);
  const presentation = await presentSdJwtVc({
    credential: copy.credential,
    disclose: p.disclose,
    holderSecretKey: key.secretKey,
    audience: p.audience,
    nonce: p.nonce,
    ...(p.now !== undefined ? { now: p.now } : {}),
  });
  return { presentation, remaining };
}

// ---------------------------------------------------------------------------
// verifier

/**
 * Verification's view of the chain through `client`'s node: DID resolution
 * (with versionTime) and whole status lists from `lists` (ETag-cached).
 */
export function nodeVerificationDeps(client: SidClient, lists: StatusListCache = new StatusListCache(client)): CredentialVerificationDeps {
  return {
    resolveDid: (did, options) => client.resolve(did, options?.versionTime !== undefined ? { versionTime: options.versionTime } : {}),
    statusList: (uri) => lists.get(uri),
  };
}

/**
 * Judge a presentation (or copy) against the chain as `client`'s node holds
 * it, at `expect.now` (default: now). See verifyCredentialPresentation for
 * the checks and reason codes.
 */
export function verifyWithNode(
  client: SidClient,
  presentation: string,
  expect: Omit<VerificationExpectation, "now"> & { now?: number } = {},
  lists?: StatusListCache,
): Promise<Verdict> {
  return verifyCredentialPresentation(presentation, nodeVerificationDeps(client, lists), { ...expect, now: expect.now ?? Date.now() });
}
