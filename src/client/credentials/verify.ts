/**
 * The verifier's side: one function that judges an SD-JWT VC presentation,
 * a bare SD-JWT VC, or a JWT VC against the chain, and answers with a
 * Verdict. The checks run in a fixed order and the first failure decides the
 * reason, so the same input always gets the same reason:
 *
 *   1. format                 MALFORMED
 *   2. issuer key and sig     ISSUER_DID_UNRESOLVED, KEY_NOT_ASSERTION_METHOD, BAD_SIGNATURE
 *   3. status list            STATUS_LIST_NOT_FOUND, STATUS_LIST_INVALID
 *   4. accreditation          TYPE_NOT_ACCREDITED
 *   5. status and validity    REVOKED, SUSPENDED, NOT_ISSUED, EXPIRED, NOT_YET_VALID
 *   6. disclosures            DISCLOSURE_MISMATCH
 *   7. holder binding         KEY_BINDING_MISSING, BAD_KEY_BINDING, AUDIENCE_MISMATCH,
 *                             NONCE_MISMATCH, SD_HASH_MISMATCH
 *
 * Proof of issuance while accredited: the chain lets a list entry turn
 * VALID only while the list's issuer is active and accredited for the
 * list's types (recorded when the list was created), and never lets it go
 * back to UNISSUED. So a copy whose entry is VALID (or SUSPENDED), in a
 * list whose types include the copy's type, was issued while accredited;
 * no per-credential record is needed. ES256K signatures (credential,
 * list token, KB-JWT) are accepted with high or low S (RFC 8812).
 */
import { validateDocument, keyForRelationship, type DidDocument } from "../../did/document.js";
import { parseDidUrlWithFragment } from "../../did/syntax.js";
import { CREDENTIAL_LIMITS, DAY_SECONDS, RESERVED_CLAIM_NAMES, SD_JWT_KEYS } from "./contract.js";
import { invalidInput } from "./errors.js";
import { parseCredential, type ParsedCredential } from "./format.js";
import { ES256K, decodeJsonSegment, es256kVerify, sdDigest } from "./jose.js";
import { StatusValue, getStatus, parseStatusListToken, parseStatusListUri, statusBytesLength, verifyStatusListSignature, type ParsedStatusListToken } from "./status-token.js";
import {
  VerdictReason,
  type CredentialVerificationDeps,
  type DidResolutionLike,
  type JsonValue,
  type Verdict,
  type VerificationExpectation,
} from "./types.js";

/** KB-JWT media type (RFC 9901 section 4.3). */
export const KB_JWT_TYP = "kb+jwt";

/** A failed check: the reason code and a message for people. */
class Refusal {
  constructor(
    readonly reason: VerdictReason,
    readonly message: string,
  ) {}
}

function refuse(reason: VerdictReason, message: string): never {
  throw new Refusal(reason, message);
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The document of a resolution result, if it resolved to a live, valid
 * did:sid document; otherwise a message saying why not.
 */
function usableDocument(did: string, res: DidResolutionLike): DidDocument | string {
  const error = res?.didResolutionMetadata?.error;
  if (error !== undefined) return `${error}${res.didResolutionMetadata?.errorMessage ? `: ${res.didResolutionMetadata.errorMessage}` : ""}`;
  if (res?.didDocumentMetadata?.deactivated === true) return "the DID is deactivated";
  if (res?.didDocument === null || res?.didDocument === undefined) return "no DID document";
  try {
    // A resolver is another party: its document is checked like any untrusted input.
    return validateDocument(res.didDocument, did);
  } catch (err) {
    return `invalid DID document: ${(err as Error).message}`;
  }
}

/** The assertionMethod key `kid` names in a resolved document, or a refusal. */
function assertionKey(doc: DidDocument | string, did: string, kid: string, when: string): Uint8Array | Refusal {
  if (typeof doc === "string") return new Refusal(VerdictReason.ISSUER_DID_UNRESOLVED, `issuer ${did} ${when}: ${doc}`);
  const key = keyForRelationship(doc, "assertionMethod", kid);
  return key ?? new Refusal(VerdictReason.KEY_NOT_ASSERTION_METHOD, `${kid} is not in the issuer's assertionMethod ${when}`);
}

function checkKidOfIssuer(kid: string, issuer: string, reason: VerdictReason, what: string): void {
  let kidDid: string;
  try {
    kidDid = parseDidUrlWithFragment(kid).did;
  } catch {
    refuse(reason, `the ${what} kid is not a DID URL with a fragment`);
  }
  if (kidDid !== issuer) refuse(reason, `the ${what} kid is a key of ${kidDid}, not of the issuer ${issuer}`);
}

/**
 * Step 2. Rule (issuer key): the header kid is a key in the issuer's
 * assertionMethod and the ES256K signature verifies with it. The current
 * document is asked first; a key rotated out since is looked up in the
 * version in force at the end of the copy's issuance day (the copy's `iat`
 * is rounded down to its day). A stale key cannot make a copy count: only
 * a VALID entry published by the issuer on chain does (step 5).
 */
async function checkIssuerSignature(c: ParsedCredential, deps: CredentialVerificationDeps, now: number): Promise<void> {
  checkKidOfIssuer(c.kid, c.issuer, VerdictReason.KEY_NOT_ASSERTION_METHOD, "credential's");
  let key = assertionKey(usableDocument(c.issuer, await deps.resolveDid(c.issuer)), c.issuer, c.kid, "now");
  if (key instanceof Refusal) {
    const iat = c.issuerJwt.payload.iat;
    if (typeof iat === "number" && Number.isSafeInteger(iat)) {
      const versionTime = iso(Math.min((iat + DAY_SECONDS) * 1000 - 1, now));
      const earlier = assertionKey(usableDocument(c.issuer, await deps.resolveDid(c.issuer, { versionTime })), c.issuer, c.kid, `at ${versionTime}`);
      if (!(earlier instanceof Refusal)) key = earlier;
    }
  }
  if (key instanceof Refusal) throw key;
  if (!es256kVerify(c.issuerJwt.signingInput, c.issuerJwt.signature, key)) {
    refuse(VerdictReason.BAD_SIGNATURE, `the credential's signature does not verify with ${c.kid}`);
  }
}

/** The same deps, with each DID resolution asked at most once per verification. */
function memoizedResolution(deps: CredentialVerificationDeps): CredentialVerificationDeps {
  const seen = new Map<string, Promise<DidResolutionLike>>();
  return {
    statusList: (uri) => deps.statusList(uri),
    resolveDid: (did, options) => {
      const key = `${did} ${options?.versionTime ?? ""}`;
      let p = seen.get(key);
      if (!p) {
        p = deps.resolveDid(did, options);
        seen.set(key, p);
      }
      return p;
    },
  };
}

/** Parsed tokens by their text: inflating a list is the costly part, and the result is a pure function of the token. */
const parsedTokens = new Map<string, ParsedStatusListToken>();
const PARSED_TOKENS_MAX = 64;

function parseTokenCached(token: string): ParsedStatusListToken | string {
  const hit = parsedTokens.get(token);
  if (hit) return hit;
  const parsed = parseStatusListToken(token);
  if (typeof parsed === "string") return parsed;
  if (parsedTokens.size >= PARSED_TOKENS_MAX) parsedTokens.delete(parsedTokens.keys().next().value!);
  parsedTokens.set(token, parsed);
  return parsed;
}

/**
 * Step 3. Rule (status list): the chain has a list at the copy's URI; its
 * token is a well-formed Status List Token whose `sub` is that URI, signed
 * by a key of the copy's issuer (checked against the issuer document in
 * force when the token was published), not expired, and long enough to
 * hold the copy's index. The URI names the issuer, so a copy cannot borrow
 * another issuer's list.
 */
async function checkStatusList(c: ParsedCredential, deps: CredentialVerificationDeps, now: number): Promise<{ bytes: Uint8Array; types: string[] }> {
  const { uri, idx } = c.status;
  const ref = parseStatusListUri(uri);
  if (!ref || `did:sid:${ref.issuerId}` !== c.issuer) refuse(VerdictReason.STATUS_LIST_INVALID, `the status list ${uri} is not one of the issuer's`);
  const snapshot = await deps.statusList(uri);
  if (!snapshot) refuse(VerdictReason.STATUS_LIST_NOT_FOUND, `the chain has no status list at ${uri}`);
  const t = parseTokenCached(snapshot.token);
  if (typeof t === "string") refuse(VerdictReason.STATUS_LIST_INVALID, `the status list token is malformed: ${t}`);
  if (t.sub !== uri) refuse(VerdictReason.STATUS_LIST_INVALID, "the status list token is for another URI");
  if (t.exp !== undefined && now >= t.exp * 1000) refuse(VerdictReason.STATUS_LIST_INVALID, `the status list token expired at ${iso(t.exp * 1000)}`);
  checkKidOfIssuer(t.kid, c.issuer, VerdictReason.STATUS_LIST_INVALID, "status list token's");
  // The chain checked the token against the issuer's document when it was published: ask the current one first, then that version.
  let key = keyOfDocument(usableDocument(c.issuer, await deps.resolveDid(c.issuer)), t.kid);
  if (typeof key === "string" || !verifyStatusListSignature(t, key)) {
    const versionTime = iso(snapshot.time);
    key = keyOfDocument(usableDocument(c.issuer, await deps.resolveDid(c.issuer, { versionTime })), t.kid);
    if (typeof key === "string") refuse(VerdictReason.STATUS_LIST_INVALID, `the status list token's key ${t.kid} at ${versionTime}: ${key}`);
    if (!verifyStatusListSignature(t, key)) refuse(VerdictReason.STATUS_LIST_INVALID, `the status list token's signature does not verify with ${t.kid}`);
  }
  if (statusBytesLength(idx + 1) > t.bytes.length) refuse(VerdictReason.STATUS_LIST_INVALID, `the status list has no index ${idx}`);
  if (!Array.isArray(snapshot.types)) refuse(VerdictReason.STATUS_LIST_INVALID, "the chain gave no types for the list");
  return { bytes: t.bytes, types: snapshot.types };
}

/** The key a list token's kid names: any verification method of the issuer's document (the chain checked it at publish). */
function keyOfDocument(doc: DidDocument | string, kid: string): Uint8Array | string {
  if (typeof doc === "string") return doc;
  for (const rel of ["assertionMethod", "authentication", "capabilityInvocation"] as const) {
    const key = keyForRelationship(doc, rel, kid);
    if (key) return key;
  }
  return "is not a key of the issuer's document";
}

/**
 * Step 6. Rule (RFC 9901 section 7.1): every presented disclosure hashes to
 * a digest in the signed `_sd`, none twice, each is a [salt, name, value]
 * claim disclosure whose name is not already in the payload. Returns the
 * revealed claims.
 */
function checkDisclosures(c: ParsedCredential): Record<string, JsonValue> {
  const disclosed: Record<string, JsonValue> = {};
  const seen = new Set<string>();
  c.disclosures.forEach((d, i) => {
    const digest = sdDigest(d);
    if (!c.signedDigests.has(digest)) refuse(VerdictReason.DISCLOSURE_MISMATCH, `disclosure ${i} is not among the digests the issuer signed`);
    if (seen.has(digest)) refuse(VerdictReason.DISCLOSURE_MISMATCH, `disclosure ${i} is presented twice`);
    seen.add(digest);
    const item = decodeJsonSegment(d);
    if (!Array.isArray(item) || item.length !== 3 || typeof item[0] !== "string" || typeof item[1] !== "string") {
      refuse(VerdictReason.DISCLOSURE_MISMATCH, `disclosure ${i} is not a claim disclosure [salt, name, value]`);
    }
    const name = item[1] as string;
    if (SD_JWT_KEYS.has(name) || RESERVED_CLAIM_NAMES.has(name) || Object.hasOwn(c.issuerJwt.payload, name) || Object.hasOwn(disclosed, name)) {
      refuse(VerdictReason.DISCLOSURE_MISMATCH, `disclosure ${i} names claim ${JSON.stringify(name.slice(0, 64))}, which is reserved or already present`);
    }
    const nested = nestedProblem(item[2], 0);
    if (nested) refuse(VerdictReason.DISCLOSURE_MISMATCH, `disclosure ${i} ${nested}`);
    Object.defineProperty(disclosed, name, { value: item[2] as JsonValue, enumerable: true, writable: true, configurable: true });
  });
  return disclosed;
}

/**
 * What is wrong inside a disclosed value, if anything: SD-JWT keys (nested
 * selective disclosure, which sid credentials do not use) or nesting deeper
 * than issuing allows. The depth bound also keeps this walk's recursion small.
 */
function nestedProblem(v: unknown, depth: number): string | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  if (depth >= CREDENTIAL_LIMITS.maxClaimDepth) return `nests deeper than ${CREDENTIAL_LIMITS.maxClaimDepth} levels`;
  if (!Array.isArray(v) && Object.keys(v).some((k) => SD_JWT_KEYS.has(k))) return "holds nested selective disclosure, which sid credentials do not use";
  for (const item of Object.values(v)) {
    const problem = nestedProblem(item, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Step 7. Rules (holder binding): the KB-JWT is signed by the copy's own
 * key (`cnf.jwk`, a one-time key from the holder's seed, tied to no DID so
 * that presentations do not link), is for this verifier and this nonce, and
 * its sd_hash covers exactly the issuer JWT and the disclosures presented
 * with it.
 */
async function checkKeyBinding(c: ParsedCredential, expect: VerificationExpectation): Promise<void> {
  const required = expect.requireKeyBinding ?? c.format === "sd-jwt-vc";
  if (c.format === "jwt-vc") {
    if (required) refuse(VerdictReason.KEY_BINDING_MISSING, "key binding is required and a JWT VC carries none");
    return;
  }
  const kb = c.keyBinding;
  if (!kb) {
    if (required) refuse(VerdictReason.KEY_BINDING_MISSING, "key binding is required and the presentation has no KB-JWT");
    return;
  }
  const holderKey = c.holderKey!;
  const { header, payload } = kb.jws;
  if (header.typ !== KB_JWT_TYP || header.alg !== ES256K) refuse(VerdictReason.BAD_KEY_BINDING, `the KB-JWT header must have typ ${KB_JWT_TYP} and alg ${ES256K}`);
  if (!Number.isSafeInteger(payload.iat) || typeof payload.aud !== "string" || typeof payload.nonce !== "string" || typeof payload.sd_hash !== "string") {
    refuse(VerdictReason.BAD_KEY_BINDING, "the KB-JWT must carry iat, aud, nonce and sd_hash");
  }
  if (!es256kVerify(kb.jws.signingInput, kb.jws.signature, holderKey)) {
    refuse(VerdictReason.BAD_KEY_BINDING, "the KB-JWT is not signed by the credential's holder key (cnf.jwk)");
  }
  if (expect.audience !== undefined && payload.aud !== expect.audience) {
    refuse(VerdictReason.AUDIENCE_MISMATCH, "the presentation was made for another audience");
  }
  if (expect.nonce !== undefined && payload.nonce !== expect.nonce) {
    refuse(VerdictReason.NONCE_MISMATCH, "the presentation was made for another nonce (replayed?)");
  }
  if (payload.sd_hash !== sdDigest(c.withoutKeyBinding)) {
    refuse(VerdictReason.SD_HASH_MISMATCH, "the KB-JWT sd_hash does not cover the presented credential and disclosures");
  }
}

/**
 * Verify an SD-JWT VC presentation (or bare SD-JWT VC, or JWT VC) against
 * the chain as read through `deps`, expecting `expect`. Never throws for a
 * bad credential: the answer is a Verdict with a reason. Throws
 * CredentialError INVALID_INPUT for a bad `expect`, and lets through
 * whatever a dependency throws (the chain could not be read, so there is no
 * verdict to give).
 */
export async function verifyCredentialPresentation(
  presentation: string,
  deps: CredentialVerificationDeps,
  expect: VerificationExpectation,
): Promise<Verdict> {
  if (typeof expect !== "object" || expect === null) invalidInput("expect", "must be an object");
  if (!Number.isSafeInteger(expect.now) || expect.now < 0) invalidInput("expect.now", "must be a non-negative integer of ms since the epoch");
  if (expect.requireKeyBinding !== undefined && typeof expect.requireKeyBinding !== "boolean") invalidInput("expect.requireKeyBinding", "must be a boolean");

  deps = memoizedResolution(deps);
  const verdict: Verdict = { valid: false, format: null, issuer: null, types: [], statusListUri: null, disclosed: {}, status: null };
  try {
    // 1. format
    const parsed = parseCredential(presentation);
    if (!parsed.ok) refuse(VerdictReason.MALFORMED, parsed.message);
    const c = parsed.value;
    Object.assign(verdict, { format: c.format, issuer: c.issuer, types: c.types, statusListUri: c.status.uri });

    // 2. issuer key and signature
    await checkIssuerSignature(c, deps, expect.now);

    // 3. the whole status list (never one index: the node cannot tell which copy is checked)
    const list = await checkStatusList(c, deps, expect.now);

    // 4. accreditation: the list's types are those the issuer was accredited for when the chain let entries turn VALID
    const missing = c.types.filter((t) => !list.types.includes(t));
    if (missing.length > 0) refuse(VerdictReason.TYPE_NOT_ACCREDITED, `the status list is for ${list.types.join(", ") || "no types"}, not ${missing.join(", ")}`);

    // 5. status and validity at `now`
    const value = getStatus(list.bytes, c.status.idx);
    const validFrom = c.nbf * 1000;
    const validUntil = c.exp === undefined ? null : c.exp * 1000;
    const expired = validUntil !== null && expect.now >= validUntil;
    verdict.status = value === StatusValue.VALID ? (expired ? "expired" : "valid") : value === StatusValue.INVALID ? "revoked" : value === StatusValue.SUSPENDED ? "suspended" : "unissued";
    if (value === StatusValue.INVALID) refuse(VerdictReason.REVOKED, "the issuer revoked this credential");
    if (value === StatusValue.SUSPENDED) refuse(VerdictReason.SUSPENDED, "the issuer suspended this credential");
    if (value === StatusValue.UNISSUED) refuse(VerdictReason.NOT_ISSUED, "the status list says no credential was issued at this index");
    // JWT rules (RFC 7519 section 4.1.4-5): invalid on or after exp, and before nbf.
    if (expired) refuse(VerdictReason.EXPIRED, `the credential expired at ${iso(validUntil)}`);
    if (expect.now < validFrom) refuse(VerdictReason.NOT_YET_VALID, `the credential is valid from ${iso(validFrom)}`);

    // 6. disclosures
    const disclosed = c.format === "sd-jwt-vc" ? checkDisclosures(c) : c.subjectClaims;

    // 7. holder binding
    await checkKeyBinding(c, expect);

    return { ...verdict, valid: true, disclosed };
  } catch (err) {
    if (err instanceof Refusal) return { ...verdict, valid: false, reason: err.reason, message: err.message, disclosed: {} };
    throw err;
  }
}
