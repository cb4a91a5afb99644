/**
 * Issuing KYC credentials off chain, in two formats:
 *
 * - SD-JWT VC (RFC 9901 selective disclosure, `typ: dc+sd-jwt`): every
 *   subject claim is a salted disclosure, so the holder later reveals only
 *   the claims a verifier needs; the credential is bound to a holder key
 *   (`cnf.jwk`) and each presentation proves possession of it.
 * - JWT VC (W3C VC Data Model 1.1, JWT encoding, via did-jwt-vc): all claims
 *   in clear in `credentialSubject`. No selective disclosure and no holder
 *   binding: whoever holds the JWT can show it, and shows all of it.
 *
 * Both are signed ES256K by a key in the issuer's assertionMethod, named by
 * the header `kid`, and both return the fields of the on-chain anchor
 * (id, digest, types, validity). Claim values never reach the chain.
 */
import { SDJwtVcInstance, type SdJwtVcPayload } from "@sd-jwt/sd-jwt-vc";
import { ES256KSigner } from "did-jwt";
import { createVerifiableCredentialJwt, type JwtCredentialPayload } from "did-jwt-vc";
import { CryptoError } from "../../crypto/errors.js";
import { publicKeyToJwk } from "../../crypto/encoding.js";
import { assertCompressedPublicKey, publicKeyOf } from "../../crypto/secp256k1.js";
import { parseDid, parseDidUrlWithFragment } from "../../did/syntax.js";
import {
  CLAIM_NAME_RE,
  CREDENTIAL_LIMITS,
  RESERVED_CLAIM_NAMES,
  SD_JWT_VC_TYP,
  VC_BASE_TYPE,
  VC_CONTEXT_V1,
  SD_JWT_KEYS,
  credentialDigest,
  credentialJti,
  endSeconds,
  isCredentialId,
  isTypeName,
  newCredentialId,
  startSeconds,
  vctOfType,
} from "./contract.js";
import { invalidInput } from "./errors.js";
import { ES256K, SD_HASH_ALG, es256kSigner, saltGenerator, sdHasher } from "./jose.js";
import type { IssueJwtVcInput, IssueSdJwtVcInput, IssuedCredential, JsonValue } from "./types.js";

/** The checked, normalized common part of both issue inputs. */
interface CheckedIssue {
  issuerDid: string;
  issuerKid: string;
  issuerSecretKey: Uint8Array;
  subjectDid: string;
  type: string;
  claims: Record<string, JsonValue>;
  credentialId: string;
  iat: number;
  nbf: number;
  exp: number | undefined;
}

const utf8Length = (s: string) => Buffer.byteLength(s, "utf8");

function checkDid(field: string, v: unknown): string {
  try {
    return parseDid(v).did;
  } catch (err) {
    return invalidInput(field, `not a did:sid DID: ${(err as Error).message}`);
  }
}

function checkTime(field: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    invalidInput(field, "must be a non-negative integer of ms since the epoch");
  }
  return v;
}

/** A JSON value copied into fresh plain data: finite numbers, no undefined, no class instances, bounded depth. */
function copyJson(v: unknown, path: string, depth: number): JsonValue {
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) invalidInput(path, "numbers must be finite");
    return v;
  }
  if (typeof v !== "object") invalidInput(path, `a ${typeof v} is not a JSON value`);
  if (depth >= CREDENTIAL_LIMITS.maxClaimDepth) invalidInput(path, `nested deeper than ${CREDENTIAL_LIMITS.maxClaimDepth} levels`);
  if (Array.isArray(v)) return v.map((item, i) => copyJson(item, `${path}[${i}]`, depth + 1));
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) invalidInput(path, "must be a plain JSON object");
  const out: { [key: string]: JsonValue } = {};
  for (const [k, item] of Object.entries(v)) {
    if (SD_JWT_KEYS.has(k)) invalidInput(`${path}.${k}`, "is an SD-JWT key and cannot appear in a claim value");
    // defineProperty keeps a "__proto__" key an ordinary member.
    Object.defineProperty(out, k, { value: copyJson(item, `${path}.${k}`, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * Rule (claims): at most maxClaims top-level claims, each named by
 * CLAIM_NAME_RE and not a name the credential itself uses, each a JSON
 * value; all together at most maxClaimsBytes of JSON.
 */
function checkClaims(claims: unknown): Record<string, JsonValue> {
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) invalidInput("claims", "must be an object of claim name to JSON value");
  const names = Object.keys(claims);
  if (names.length > CREDENTIAL_LIMITS.maxClaims) invalidInput("claims", `${names.length} claims, at most ${CREDENTIAL_LIMITS.maxClaims}`);
  for (const name of names) {
    if (!CLAIM_NAME_RE.test(name)) invalidInput(`claims.${name.slice(0, 80)}`, "claim names are a letter then up to 63 of [A-Za-z0-9_-]");
    if (RESERVED_CLAIM_NAMES.has(name)) invalidInput(`claims.${name}`, "is a name the credential itself uses (reserved)");
  }
  const copy = copyJson(claims, "claims", 0) as Record<string, JsonValue>;
  const bytes = utf8Length(JSON.stringify(copy));
  if (bytes > CREDENTIAL_LIMITS.maxClaimsBytes) invalidInput("claims", `${bytes} bytes of JSON, at most ${CREDENTIAL_LIMITS.maxClaimsBytes}`);
  return copy;
}

function checkIssue(input: IssueJwtVcInput): CheckedIssue {
  if (typeof input !== "object" || input === null) invalidInput("input", "must be an object");
  const issuerDid = checkDid("issuerDid", input.issuerDid);
  let kidDid: string;
  try {
    kidDid = parseDidUrlWithFragment(input.issuerKid).did;
  } catch (err) {
    return invalidInput("issuerKid", `must be a full DID URL such as ${issuerDid}#key-1: ${(err as Error).message}`);
  }
  if (kidDid !== issuerDid) invalidInput("issuerKid", `must be a key of the issuer ${issuerDid}, not of ${kidDid}`);
  try {
    publicKeyOf(input.issuerSecretKey);
  } catch (err) {
    invalidInput("issuerSecretKey", err instanceof CryptoError ? err.message : "must be a 32-byte secp256k1 secret key");
  }
  const subjectDid = checkDid("subjectDid", input.subjectDid);
  if (!isTypeName(input.type)) invalidInput("type", "must be a letter then up to 63 of [A-Za-z0-9._-] (e.g. KYCBasic)");
  const claims = checkClaims(input.claims);
  const validFrom = checkTime("validFrom", input.validFrom);
  const nbf = startSeconds(validFrom);
  let exp: number | undefined;
  if (input.validUntil !== undefined) {
    exp = endSeconds(checkTime("validUntil", input.validUntil));
    if (exp <= nbf) invalidInput("validUntil", "must be at least a second after validFrom");
  }
  const credentialId = input.credentialId ?? newCredentialId();
  if (!isCredentialId(credentialId)) invalidInput("credentialId", "must be 32 lowercase hex characters");
  const iat = Math.floor(checkTime("issuedAt", input.issuedAt ?? Date.now()) / 1000);
  return { issuerDid, issuerKid: input.issuerKid, issuerSecretKey: input.issuerSecretKey, subjectDid, type: input.type, claims, credentialId, iat, nbf, exp };
}

function issued(format: IssuedCredential["format"], credential: string, c: CheckedIssue): IssuedCredential {
  return {
    format,
    credential,
    credentialId: c.credentialId,
    digest: credentialDigest(credential),
    issuer: c.issuerDid,
    subject: c.subjectDid,
    types: [c.type],
    validFrom: c.nbf * 1000,
    validUntil: c.exp === undefined ? null : c.exp * 1000,
  };
}

/**
 * Issue an SD-JWT VC: header `{typ: "dc+sd-jwt", alg: "ES256K", kid}`,
 * payload `iss, sub, iat, nbf, exp?, vct, jti, cnf.jwk` in clear and every
 * subject claim as a salted sha-256 disclosure (`_sd`, `_sd_alg`).
 * Returns the compact `jwt~disclosure~...~` and the anchor fields.
 */
export async function issueSdJwtVc(input: IssueSdJwtVcInput): Promise<IssuedCredential> {
  const c = checkIssue(input);
  try {
    assertCompressedPublicKey(input.holderPublicKey);
  } catch (err) {
    invalidInput("holderPublicKey", err instanceof CryptoError ? err.message : "must be a 33-byte compressed secp256k1 key");
  }
  const payload: SdJwtVcPayload = {
    iss: c.issuerDid,
    sub: c.subjectDid,
    iat: c.iat,
    nbf: c.nbf,
    ...(c.exp === undefined ? {} : { exp: c.exp }),
    vct: vctOfType(c.type),
    jti: credentialJti(c.credentialId),
    cnf: { jwk: publicKeyToJwk(input.holderPublicKey) },
    ...c.claims,
  };
  const sdJwtVc = new SDJwtVcInstance({
    signer: es256kSigner(c.issuerSecretKey),
    signAlg: ES256K,
    hasher: sdHasher,
    hashAlg: SD_HASH_ALG,
    saltGenerator,
  });
  // Only the subject claims are disclosable; iss, vct, cnf and the times stay in clear (SD-JWT VC section 3.2.2).
  const frame = { _sd: Object.keys(c.claims) } as Parameters<typeof sdJwtVc.issue>[1];
  // typ set here, not left to the library's default, because verification insists on it.
  const credential = await sdJwtVc.issue(payload, frame, { header: { typ: SD_JWT_VC_TYP, kid: c.issuerKid } });
  return issued("sd-jwt-vc", credential, c);
}

/**
 * Issue a W3C VC 1.1 JWT with did-jwt-vc: `vc.@context` the VC 1.1 context,
 * `vc.type` `["VerifiableCredential", type]`, `vc.credentialSubject`
 * `{id: subjectDid, ...claims}`, `sub`, `jti`, `iat`, `nbf`, `exp?`; header
 * `{alg: "ES256K", kid, typ: "JWT"}`. All claims are visible to anyone who
 * sees the JWT: use issueSdJwtVc when the holder should disclose selectively.
 */
export async function issueJwtVc(input: IssueJwtVcInput): Promise<IssuedCredential> {
  const c = checkIssue(input);
  const payload: JwtCredentialPayload = {
    sub: c.subjectDid,
    iat: c.iat,
    nbf: c.nbf,
    ...(c.exp === undefined ? {} : { exp: c.exp }),
    jti: credentialJti(c.credentialId),
    vc: {
      "@context": [VC_CONTEXT_V1],
      type: [VC_BASE_TYPE, c.type],
      credentialSubject: { id: c.subjectDid, ...c.claims },
    },
  };
  const credential = await createVerifiableCredentialJwt(
    payload,
    { did: c.issuerDid, signer: ES256KSigner(c.issuerSecretKey), alg: ES256K },
    { header: { alg: ES256K, kid: c.issuerKid } },
  );
  return issued("jwt-vc", credential, c);
}
