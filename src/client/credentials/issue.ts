/**
 * Issuing KYC credentials off chain as batches of one-time copies, in two
 * formats (SD-JWT VC with selective disclosure and holder binding, or a
 * W3C VC 1.1 JWT with all claims in clear). Each copy names its status list
 * entry (`status.status_list`, draft-ietf-oauth-status-list section 6.1);
 * the issuer makes those entries VALID on chain with one list publish for
 * the whole batch. Claim values never reach the chain.
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
  DEFAULT_SD_DIGESTS,
  RESERVED_CLAIM_NAMES,
  SD_JWT_VC_TYP,
  VC_BASE_TYPE,
  VC_CONTEXT_V1,
  SD_JWT_KEYS,
  dayStart,
  isTypeName,
  vctOfType,
} from "./contract.js";
import { invalidInput } from "./errors.js";
import { ES256K, SD_HASH_ALG, es256kSigner, saltGenerator, sdHasher } from "./jose.js";
import { readStatusClaim, statusClaim } from "./status-token.js";
import type { IssueCopiesInput, JsonValue } from "./types.js";

/** The checked, normalized input common to every copy. */
interface CheckedIssue {
  issuerDid: string;
  issuerKid: string;
  issuerSecretKey: Uint8Array;
  type: string;
  claims: Record<string, JsonValue>;
  iat: number;
  nbf: number;
  exp: number | undefined;
  sdDigests: number;
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

function checkIssue(input: IssueCopiesInput): CheckedIssue {
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
  if (!isTypeName(input.type)) invalidInput("type", "must be a letter then up to 63 of [A-Za-z0-9._-] (e.g. KYCBasic)");
  const claims = checkClaims(input.claims);
  const iat = dayStart(checkTime("issuedAt", input.issuedAt ?? Date.now()));
  const nbf = input.validFrom === undefined ? iat : dayStart(checkTime("validFrom", input.validFrom));
  let exp: number | undefined;
  if (input.validUntil !== undefined) {
    exp = dayStart(checkTime("validUntil", input.validUntil));
    if (exp <= nbf) invalidInput("validUntil", "must fall on a later UTC day than validFrom (times are rounded to the day)");
  }
  const sdDigests = input.sdDigests ?? DEFAULT_SD_DIGESTS;
  if (!Number.isSafeInteger(sdDigests) || sdDigests < 1 || sdDigests > CREDENTIAL_LIMITS.maxClaims * 2) {
    invalidInput("sdDigests", `must be an integer in [1, ${CREDENTIAL_LIMITS.maxClaims * 2}]`);
  }
  if (input.format === "sd-jwt-vc" && Object.keys(claims).length > sdDigests) {
    invalidInput("claims", `${Object.keys(claims).length} claims do not fit the type's ${sdDigests} _sd entries (raise sdDigests for every credential of the type)`);
  }
  if (!Array.isArray(input.copies) || input.copies.length < 1 || input.copies.length > MAX_COPIES) {
    invalidInput("copies", `must list 1-${MAX_COPIES} copies`);
  }
  return { issuerDid, issuerKid: input.issuerKid, issuerSecretKey: input.issuerSecretKey, type: input.type, claims, iat, nbf, exp, sdDigests };
}

/** Most copies one issuance makes: one-time copies for years of presentations, not a bulk export. */
export const MAX_COPIES = 1000;

function checkStatus(i: number, status: unknown): { status_list: { idx: number; uri: string } } {
  const ref = readStatusClaim({ status_list: status });
  if (typeof ref === "string") invalidInput(`copies[${i}].status`, ref);
  return statusClaim(ref);
}

/**
 * Issue one-time copies of one credential, each a separate signed
 * credential: its own salts, holder key (`cnf.jwk`) and status index, no
 * `sub` and no `jti`, times rounded to the day, and (SD-JWT VC) `_sd`
 * padded with decoy digests to the type's fixed length, so two copies share
 * only issuer-level values (iss, kid, vct, the list URI, the day, the `_sd`
 * length).
 *
 * - SD-JWT VC (RFC 9901, `typ: dc+sd-jwt`): every subject claim is a salted
 *   disclosure; `iss, iat, nbf, exp?, vct, cnf, status, _sd, _sd_alg` in clear.
 * - JWT VC (W3C VC 1.1 JWT via did-jwt-vc): all claims in clear in
 *   `vc.credentialSubject`, no holder binding, the same `status` claim.
 */
export async function issueCopies(input: IssueCopiesInput): Promise<string[]> {
  const c = checkIssue(input);
  const out: string[] = [];
  for (const [i, copy] of input.copies.entries()) {
    if (typeof copy !== "object" || copy === null) invalidInput(`copies[${i}]`, "must be an object");
    const status = checkStatus(i, copy.status);
    if (input.format === "sd-jwt-vc") {
      try {
        assertCompressedPublicKey(copy.holderPublicKey);
      } catch (err) {
        invalidInput(`copies[${i}].holderPublicKey`, err instanceof CryptoError ? err.message : "must be a 33-byte compressed secp256k1 key");
      }
      out.push(await issueSdJwtCopy(c, copy.holderPublicKey, status));
    } else if (input.format === "jwt-vc") {
      if (copy.holderPublicKey !== undefined) invalidInput(`copies[${i}].holderPublicKey`, "a JWT VC has no holder binding");
      out.push(await issueJwtCopy(c, status));
    } else {
      invalidInput("format", "must be sd-jwt-vc or jwt-vc");
    }
  }
  return out;
}

async function issueSdJwtCopy(c: CheckedIssue, holderPublicKey: Uint8Array, status: ReturnType<typeof statusClaim>): Promise<string> {
  const payload: SdJwtVcPayload = {
    iss: c.issuerDid,
    iat: c.iat,
    nbf: c.nbf,
    ...(c.exp === undefined ? {} : { exp: c.exp }),
    vct: vctOfType(c.type),
    cnf: { jwk: publicKeyToJwk(holderPublicKey) },
    status,
    ...c.claims,
  };
  const sdJwtVc = new SDJwtVcInstance({
    signer: es256kSigner(c.issuerSecretKey),
    signAlg: ES256K,
    hasher: sdHasher,
    hashAlg: SD_HASH_ALG,
    saltGenerator,
  });
  const names = Object.keys(c.claims);
  // Only the subject claims are disclosable; iss, vct, cnf, status and the times stay in clear (SD-JWT VC section 3.2.2).
  // Decoys (RFC 9901 section 4.2.5) bring _sd to the type's fixed length; the library sorts _sd, so position tells nothing.
  const frame = { _sd: names, _sd_decoy: c.sdDigests - names.length } as Parameters<typeof sdJwtVc.issue>[1];
  // typ set here, not left to the library's default, because verification insists on it.
  return sdJwtVc.issue(payload, frame, { header: { typ: SD_JWT_VC_TYP, kid: c.issuerKid } });
}

async function issueJwtCopy(c: CheckedIssue, status: ReturnType<typeof statusClaim>): Promise<string> {
  const payload: JwtCredentialPayload = {
    iat: c.iat,
    nbf: c.nbf,
    ...(c.exp === undefined ? {} : { exp: c.exp }),
    status,
    vc: {
      "@context": [VC_CONTEXT_V1],
      type: [VC_BASE_TYPE, c.type],
      credentialSubject: { ...c.claims },
    },
  };
  return createVerifiableCredentialJwt(
    payload,
    { did: c.issuerDid, signer: ES256KSigner(c.issuerSecretKey), alg: ES256K },
    { header: { alg: ES256K, kid: c.issuerKid } },
  );
}
