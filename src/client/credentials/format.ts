/**
 * Reading a credential or presentation into its parts, with every
 * structural rule of our two formats checked. Cryptography and the chain are
 * not consulted here: this is the cheap "format" step that runs first.
 *
 * SD-JWT (RFC 9901 section 4): `<issuer JWT>~<disclosure>~...~<KB-JWT or empty>`.
 * JWT VC (W3C VC 1.1 JWT encoding): one compact JWS, no `~`.
 */
import { validateJwtCredentialPayload, type JwtCredentialPayload } from "did-jwt-vc";
import { jwkToPublicKey } from "../../crypto/encoding.js";
import { isValidDid } from "../../did/syntax.js";
import { CREDENTIAL_LIMITS, SD_JWT_VC_TYP, VC_BASE_TYPE, VC_CONTEXT_V1, isTypeName, typeOfVct } from "./contract.js";
import { ES256K, SD_HASH_ALG, decodeJws, isPlainObject, type DecodedJws } from "./jose.js";
import { readStatusClaim, type StatusReference } from "./status-token.js";
import type { CredentialFormat, JsonValue } from "./types.js";

/**
 * Members an SD-JWT VC of ours has in clear; everything else is a
 * disclosure (no personal data in clear). No `sub` and no `jti`: either
 * would be the same in every presentation and link them.
 */
const SD_JWT_VC_CLEAR_CLAIMS: ReadonlySet<string> = new Set(["iss", "iat", "nbf", "exp", "vct", "cnf", "status", "_sd", "_sd_alg"]);
/** A sha-256 digest in base64url: 43 characters. */
const SHA256_B64URL_RE = /^[A-Za-z0-9_-]{43}$/;

export interface ParsedCredential {
  format: CredentialFormat;
  /** The issuer-signed JWT, as text and decoded. */
  issuerJwtText: string;
  issuerJwt: DecodedJws;
  kid: string;
  issuer: string;
  types: string[];
  /** JWT NumericDates (seconds). */
  nbf: number;
  exp: number | undefined;
  /** Where the copy's status lives. */
  status: StatusReference;
  /** SD-JWT: the presented disclosures, as sent. */
  disclosures: string[];
  /** SD-JWT: digests the issuer signed (top-level `_sd`). */
  signedDigests: ReadonlySet<string>;
  /** SD-JWT: the holder key of `cnf.jwk`. */
  holderKey: Uint8Array | undefined;
  /** SD-JWT: the KB-JWT, if the presentation carries one. */
  keyBinding: { text: string; jws: DecodedJws } | undefined;
  /** SD-JWT: everything the KB-JWT's sd_hash covers: `<issuer JWT>~<disclosures>~`. */
  withoutKeyBinding: string;
  /** JWT VC: the subject's claims (credentialSubject without id). */
  subjectClaims: Record<string, JsonValue>;
}

export type ParseResult = { ok: true; value: ParsedCredential } | { ok: false; message: string };

const fail = (message: string): ParseResult => ({ ok: false, message });

function isNumericDate(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Parse either format; `ok: false` carries a message naming the first problem. */
export function parseCredential(text: unknown): ParseResult {
  if (typeof text !== "string") return fail("a credential or presentation must be a string");
  if (text.length > CREDENTIAL_LIMITS.maxSerializedChars) {
    return fail(`${text.length} characters, at most ${CREDENTIAL_LIMITS.maxSerializedChars}`);
  }
  return text.includes("~") ? parseSdJwtVc(text) : parseJwtVc(text);
}

function parseSdJwtVc(text: string): ParseResult {
  const parts = text.split("~");
  const issuerJwtText = parts[0]!;
  const last = parts[parts.length - 1]!;
  const disclosures = parts.slice(1, -1);
  if (disclosures.some((d) => d === "")) return fail("empty disclosure between two '~'");
  const issuerJwt = decodeJws(issuerJwtText);
  if (!issuerJwt) return fail("the issuer-signed JWT is not a compact JWS with JSON header and payload");
  const { header, payload } = issuerJwt;
  if (header.alg !== ES256K) return fail(`issuer JWT alg must be ${ES256K}`);
  if (header.typ !== SD_JWT_VC_TYP) return fail(`issuer JWT typ must be ${SD_JWT_VC_TYP}`);
  if (typeof header.kid !== "string") return fail("issuer JWT header has no kid");
  for (const key of Object.keys(payload)) {
    if (!SD_JWT_VC_CLEAR_CLAIMS.has(key)) return fail(`claim ${JSON.stringify(key.slice(0, 64))} is in clear; subject claims must be disclosures`);
  }
  const common = commonClaims(payload);
  if (typeof common === "string") return fail(common);
  const type = typeOfVct(payload.vct);
  if (type === undefined) return fail("vct must be urn:sid:type:<Type>");
  if (payload._sd_alg !== SD_HASH_ALG) return fail(`_sd_alg must be ${SD_HASH_ALG}`);
  const sd = payload._sd ?? [];
  if (!Array.isArray(sd) || !sd.every((d): d is string => typeof d === "string" && SHA256_B64URL_RE.test(d))) {
    return fail("_sd must be an array of base64url sha-256 digests");
  }
  const signedDigests = new Set(sd);
  // RFC 9901 section 7.1: a digest that appears twice makes the SD-JWT invalid.
  if (signedDigests.size !== sd.length) return fail("_sd lists a digest twice");
  const cnf = payload.cnf;
  let holderKey: Uint8Array;
  try {
    if (!isPlainObject(cnf)) throw new Error("no cnf");
    holderKey = jwkToPublicKey(cnf.jwk);
  } catch {
    return fail("cnf.jwk must be a secp256k1 public JWK (the holder key)");
  }
  let keyBinding: ParsedCredential["keyBinding"];
  if (last !== "") {
    const jws = decodeJws(last);
    if (!jws) return fail("the key binding JWT is not a compact JWS with JSON header and payload");
    keyBinding = { text: last, jws };
  }
  return {
    ok: true,
    value: {
      format: "sd-jwt-vc",
      issuerJwtText,
      issuerJwt,
      kid: header.kid,
      ...common,
      types: [type],
      disclosures,
      signedDigests,
      holderKey,
      keyBinding,
      withoutKeyBinding: text.slice(0, text.length - last.length),
      subjectClaims: {},
    },
  };
}

/** iss, nbf, exp and status, shared by both formats; a string names the problem. */
function commonClaims(payload: Record<string, unknown>): Pick<ParsedCredential, "issuer" | "nbf" | "exp" | "status"> | string {
  if (!isValidDid(payload.iss)) return "iss must be a did:sid DID";
  if (payload.sub !== undefined || payload.jti !== undefined) return "sub and jti must not be in clear (they would link every presentation)";
  if (payload.iat !== undefined && !isNumericDate(payload.iat)) return "iat must be a NumericDate";
  if (!isNumericDate(payload.nbf)) return "nbf (validFrom) must be a NumericDate";
  if (payload.exp !== undefined && !(isNumericDate(payload.exp) && payload.exp > payload.nbf)) return "exp (validUntil) must be a NumericDate after nbf";
  const status = readStatusClaim(payload.status);
  if (typeof status === "string") return status;
  return { issuer: payload.iss, nbf: payload.nbf, exp: payload.exp as number | undefined, status };
}

function parseJwtVc(text: string): ParseResult {
  const issuerJwt = decodeJws(text);
  if (!issuerJwt) return fail("neither an SD-JWT (no '~') nor a compact JWS with JSON header and payload");
  const { header, payload } = issuerJwt;
  if (header.alg !== ES256K) return fail(`JWT alg must be ${ES256K}`);
  if (header.typ !== undefined && header.typ !== "JWT") return fail('JWT VC typ must be "JWT" or absent');
  if (typeof header.kid !== "string") return fail("JWT header has no kid");
  const common = commonClaims(payload);
  if (typeof common === "string") return fail(common);
  try {
    validateJwtCredentialPayload(payload as JwtCredentialPayload);
  } catch (err) {
    return fail(`not a W3C VC JWT: ${(err as Error).message}`);
  }
  const vc = payload.vc as Record<string, unknown>;
  const context = Array.isArray(vc["@context"]) ? vc["@context"] : [vc["@context"]];
  if (context[0] !== VC_CONTEXT_V1) return fail(`vc.@context must start with ${VC_CONTEXT_V1}`);
  const vcTypes = Array.isArray(vc.type) ? vc.type : [vc.type];
  const types = vcTypes.filter((t) => t !== VC_BASE_TYPE);
  if (!vcTypes.includes(VC_BASE_TYPE) || types.length !== 1 || !types.every(isTypeName)) {
    return fail(`vc.type must be ["${VC_BASE_TYPE}", <Type>]`);
  }
  const subjectObject = vc.credentialSubject;
  if (!isPlainObject(subjectObject)) return fail("vc.credentialSubject must be an object");
  const subjectClaims: Record<string, JsonValue> = {};
  for (const [name, value] of Object.entries(subjectObject)) {
    Object.defineProperty(subjectClaims, name, { value: value as JsonValue, enumerable: true, writable: true, configurable: true });
  }
  return {
    ok: true,
    value: {
      format: "jwt-vc",
      issuerJwtText: text,
      issuerJwt,
      kid: header.kid,
      ...common,
      types: types as string[],
      disclosures: [],
      signedDigests: new Set(),
      holderKey: undefined,
      keyBinding: undefined,
      withoutKeyBinding: text,
      subjectClaims,
    },
  };
}
