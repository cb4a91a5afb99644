/**
 * The verifier's side: one function that judges an SD-JWT VC presentation,
 * a bare SD-JWT VC, or a JWT VC against the chain, and answers with a
 * Verdict. The checks run in a fixed order and the first failure decides the
 * reason, so the same input always gets the same reason:
 *
 *   1. format                 MALFORMED
 *   2. credential id          MISSING_CREDENTIAL_ID
 *   3. anchor exists          NOT_ANCHORED
 *   4. anchored digest        DIGEST_MISMATCH
 *   5. anchor fields          ANCHOR_MISMATCH
 *   6. issuer key and sig     ISSUER_DID_UNRESOLVED, KEY_NOT_ASSERTION_METHOD, BAD_SIGNATURE
 *   7. accreditation          ISSUER_NOT_ACCREDITED, TYPE_NOT_ACCREDITED
 *   8. status and validity    REVOKED, SUSPENDED, EXPIRED, NOT_YET_VALID
 *   9. disclosures            DISCLOSURE_MISMATCH
 *  10. holder binding         KEY_BINDING_MISSING, SUBJECT_DID_UNRESOLVED, HOLDER_KEY_MISMATCH,
 *                             BAD_KEY_BINDING, AUDIENCE_MISMATCH, NONCE_MISMATCH, SD_HASH_MISMATCH
 *
 * Both formats take the same path through steps 2-8: the issuer key rules
 * (kid in assertionMethod as of anchoring, ES256K signature) are checked by
 * our own code for both, not delegated per format.
 */
import { bytesEqual } from "../../crypto/bytes.js";
import { validateDocument, keyForRelationship, type DidDocument, type Relationship } from "../../did/document.js";
import { parseDidUrlWithFragment } from "../../did/syntax.js";
import { CREDENTIAL_LIMITS, RESERVED_CLAIM_NAMES, SD_JWT_KEYS, credentialDigest, credentialIdFromJti } from "./contract.js";
import { invalidInput } from "./errors.js";
import { parseCredential, type ParsedCredential } from "./format.js";
import { ES256K, decodeJsonSegment, es256kVerify, sdDigest } from "./jose.js";
import {
  VerdictReason,
  type AnchoredCredential,
  type CredentialVerificationDeps,
  type DidResolutionLike,
  type JsonValue,
  type Verdict,
  type VerificationExpectation,
} from "./types.js";

/** KB-JWT media type (RFC 9901 section 4.3). */
export const KB_JWT_TYP = "kb+jwt";
/** Relationships whose keys may hold a credential for the subject (brief: authentication or assertionMethod). */
const HOLDER_RELATIONSHIPS: readonly Relationship[] = ["authentication", "assertionMethod"];

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

function sameTypes(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((t) => sa.has(t));
}

/** Step 5: the anchor describes this credential (issuer, subject, types, validity). */
function checkAnchorFields(c: ParsedCredential, anchor: AnchoredCredential): void {
  const mismatch = (what: string) => refuse(VerdictReason.ANCHOR_MISMATCH, `the anchor's ${what} differs from the credential's`);
  if (anchor.issuer !== c.issuer) mismatch("issuer");
  if (anchor.subject !== c.subject) mismatch("subject");
  if (!Array.isArray(anchor.types) || !sameTypes(anchor.types, c.types)) mismatch("types");
  if (anchor.validFrom !== c.nbf * 1000) mismatch("validFrom");
  if ((anchor.validUntil ?? null) !== (c.exp === undefined ? null : c.exp * 1000)) mismatch("validUntil");
}

/**
 * Step 6. Rule (issuer key): the header kid is a key of the issuer DID in
 * its assertionMethod in the document version in force when the credential
 * was anchored (chain time, not the issuer's own iat, which it could
 * backdate), and the ES256K signature verifies with that key. A key rotated
 * out later does not invalidate what it signed while it was in force.
 */
async function checkIssuerSignature(c: ParsedCredential, anchor: AnchoredCredential, deps: CredentialVerificationDeps): Promise<void> {
  let kidDid: string;
  try {
    kidDid = parseDidUrlWithFragment(c.kid).did;
  } catch {
    refuse(VerdictReason.KEY_NOT_ASSERTION_METHOD, "the header kid is not a DID URL with a fragment");
  }
  if (kidDid !== c.issuer) refuse(VerdictReason.KEY_NOT_ASSERTION_METHOD, `the header kid is a key of ${kidDid}, not of the issuer`);
  const versionTime = iso(anchor.anchoredTime);
  const doc = usableDocument(c.issuer, await deps.resolveDid(c.issuer, { versionTime }));
  if (typeof doc === "string") refuse(VerdictReason.ISSUER_DID_UNRESOLVED, `issuer ${c.issuer} at ${versionTime}: ${doc}`);
  const key = keyForRelationship(doc, "assertionMethod", c.kid);
  if (!key) refuse(VerdictReason.KEY_NOT_ASSERTION_METHOD, `${c.kid} is not in the issuer's assertionMethod at ${versionTime}`);
  if (!es256kVerify(c.issuerJwt.signingInput, c.issuerJwt.signature, key)) {
    refuse(VerdictReason.BAD_SIGNATURE, `the credential's signature does not verify with ${c.kid}`);
  }
}

/** Step 7. Rule (accreditation): the issuer was active and accredited for every type at the anchoring height. */
async function checkAccreditation(c: ParsedCredential, anchor: AnchoredCredential, deps: CredentialVerificationDeps): Promise<void> {
  const entry = await deps.issuerAt(c.issuer, anchor.anchoredHeight);
  if (!entry || entry.did !== c.issuer) {
    refuse(VerdictReason.ISSUER_NOT_ACCREDITED, `${c.issuer} was not in the issuer registry at height ${anchor.anchoredHeight}`);
  }
  if (entry.status !== "active") {
    refuse(VerdictReason.ISSUER_NOT_ACCREDITED, `${c.issuer} was ${entry.status} at height ${anchor.anchoredHeight}`);
  }
  const missing = c.types.filter((t) => !entry.types.includes(t));
  if (missing.length > 0) {
    refuse(VerdictReason.TYPE_NOT_ACCREDITED, `${c.issuer} was not accredited for ${missing.join(", ")} at height ${anchor.anchoredHeight}`);
  }
}

/**
 * Step 9. Rule (RFC 9901 section 7.1): every presented disclosure hashes to
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
 * Step 10. Rules (holder binding): the credential's cnf key is an
 * authentication or assertionMethod key of the subject DID today (a holder
 * who rotated the key away can no longer present), the KB-JWT is signed by
 * it, is for this verifier and this nonce, and its sd_hash covers exactly
 * the issuer JWT and the disclosures presented with it.
 */
async function checkKeyBinding(c: ParsedCredential, expect: VerificationExpectation, deps: CredentialVerificationDeps): Promise<void> {
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
  const doc = usableDocument(c.subject, await deps.resolveDid(c.subject));
  if (typeof doc === "string") refuse(VerdictReason.SUBJECT_DID_UNRESOLVED, `subject ${c.subject}: ${doc}`);
  const holderListed = HOLDER_RELATIONSHIPS.some((rel) =>
    (doc[rel] ?? []).some((entry) => {
      const key = keyForRelationship(doc, rel, typeof entry === "string" ? entry : entry.id);
      return key !== undefined && bytesEqual(key, holderKey);
    }),
  );
  if (!holderListed) refuse(VerdictReason.HOLDER_KEY_MISMATCH, "cnf.jwk is not an authentication or assertionMethod key of the subject DID");

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

  const verdict: Verdict = { valid: false, format: null, credentialId: null, issuer: null, subject: null, types: [], disclosed: {}, status: null };
  try {
    // 1. format
    const parsed = parseCredential(presentation);
    if (!parsed.ok) refuse(VerdictReason.MALFORMED, parsed.message);
    const c = parsed.value;
    Object.assign(verdict, { format: c.format, issuer: c.issuer, subject: c.subject, types: c.types });

    // 2. credential id
    const credentialId = credentialIdFromJti(c.jti);
    if (credentialId === undefined) refuse(VerdictReason.MISSING_CREDENTIAL_ID, "jti must be urn:sid:credential:<32 lowercase hex>");
    verdict.credentialId = credentialId;

    // 3-5. the anchor: exists, same digest, same fields
    const anchor = await deps.getAnchor(credentialId);
    if (!anchor || anchor.id !== credentialId) refuse(VerdictReason.NOT_ANCHORED, `credential ${credentialId} is not anchored on chain`);
    if (credentialDigest(c.issuerJwtText) !== anchor.digest) {
      refuse(VerdictReason.DIGEST_MISMATCH, "the issuer-signed JWT does not hash to the anchored digest");
    }
    checkAnchorFields(c, anchor);

    // 6-7. issuer key, signature, accreditation
    await checkIssuerSignature(c, anchor, deps);
    await checkAccreditation(c, anchor, deps);

    // 8. status at `now`
    const status = deps.statusAt ? await deps.statusAt(credentialId, expect.now) : anchor.status;
    if (status === undefined) refuse(VerdictReason.NOT_ANCHORED, `credential ${credentialId} was not anchored at ${iso(expect.now)}`);
    const validFrom = c.nbf * 1000;
    const validUntil = c.exp === undefined ? null : c.exp * 1000;
    // JWT rules (RFC 7519 section 4.1.4-5): invalid on or after exp, and before nbf.
    if (status !== "active" && status !== "suspended" && status !== "revoked") {
      // The chain side broke its contract: no verdict can be given.
      invalidInput("anchor status", `unknown status ${JSON.stringify(String(status)).slice(0, 80)}`);
    }
    const expired = validUntil !== null && expect.now >= validUntil;
    verdict.status = status === "active" && expired ? "expired" : status;
    if (status === "revoked") refuse(VerdictReason.REVOKED, `credential ${credentialId} is revoked`);
    if (status === "suspended") refuse(VerdictReason.SUSPENDED, `credential ${credentialId} is suspended`);
    if (expired) refuse(VerdictReason.EXPIRED, `credential ${credentialId} expired at ${iso(validUntil)}`);
    if (expect.now < validFrom) refuse(VerdictReason.NOT_YET_VALID, `credential ${credentialId} is valid from ${iso(validFrom)}`);

    // 9. disclosures
    const disclosed = c.format === "sd-jwt-vc" ? checkDisclosures(c) : c.subjectClaims;

    // 10. holder binding
    await checkKeyBinding(c, expect, deps);

    return { ...verdict, valid: true, disclosed };
  } catch (err) {
    if (err instanceof Refusal) return { ...verdict, valid: false, reason: err.reason, message: err.message, disclosed: {} };
    throw err;
  }
}
