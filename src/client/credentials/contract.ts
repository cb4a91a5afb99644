/**
 * The fixed contract of sid credentials: type names and the SD-JWT VC
 * `vct`, local credential ids, rounded times, the fixed `_sd` length, and
 * the limits verification enforces.
 */
import { randomBytes } from "node:crypto";
import { sha256 } from "../../crypto/hash.js";
import { toHex, utf8 } from "../../crypto/bytes.js";

import { TYPE_NAME_RE, isTypeName } from "../../did/kyc.js";

/** The chain's rule for type names (did/kyc.ts), shared, not copied. */
export { TYPE_NAME_RE, isTypeName };
/** SD-JWT VC `vct` of a type: `urn:sid:type:<Type>`. */
export const VCT_PREFIX = "urn:sid:type:";

/** SD-JWT VC media type in the JWT header (draft-ietf-oauth-sd-jwt-vc, section 3.2.1). */
export const SD_JWT_VC_TYP = "dc+sd-jwt";
/** The W3C VC Data Model 1.1 base context, first in every JWT VC. */
export const VC_CONTEXT_V1 = "https://www.w3.org/2018/credentials/v1";
export const VC_BASE_TYPE = "VerifiableCredential";

/**
 * An issuer's local name for one credential (all its copies): 16 random
 * bytes in hex. It lives in the issuer's home and the holder's, never in a
 * copy, on chain or in a presentation.
 */
export const CREDENTIAL_ID_RE = /^[0-9a-f]{32}$/;

export function isCredentialId(v: unknown): v is string {
  return typeof v === "string" && CREDENTIAL_ID_RE.test(v);
}

/** A fresh credential id (16 random bytes, lowercase hex). */
export function newCredentialId(): string {
  return randomBytes(16).toString("hex");
}

export function vctOfType(type: string): string {
  return VCT_PREFIX + type;
}

/** The type a `vct` names, or undefined if it is not `urn:sid:type:<Type>`. */
export function typeOfVct(vct: unknown): string | undefined {
  if (typeof vct !== "string" || !vct.startsWith(VCT_PREFIX)) return undefined;
  const type = vct.slice(VCT_PREFIX.length);
  return isTypeName(type) ? type : undefined;
}

/**
 * The issuer-signed JWT of a credential or presentation: for an SD-JWT the
 * part before the first `~`, for a JWT VC the whole JWT.
 */
export function issuerSignedJwt(credential: string): string {
  const tilde = credential.indexOf("~");
  return tilde < 0 ? credential : credential.slice(0, tilde);
}

/** sha256, lowercase hex, of the issuer-signed JWT: a copy's fingerprint in the holder's store (never sent anywhere). */
export function credentialDigest(credential: string): string {
  return toHex(sha256(utf8(issuerSignedJwt(credential))));
}

export const DAY_SECONDS = 86_400;

/**
 * Rule (rounded times): `iat`, `nbf` and `exp` are whole UTC days (a
 * multiple of 86,400 s), so every copy an issuer makes on one day carries
 * the same times and none points at its batch. A moment is rounded down:
 * the start of its day.
 */
export function dayStart(ms: number): number {
  return Math.floor(ms / 1000 / DAY_SECONDS) * DAY_SECONDS;
}

/** Entries of `_sd` every SD-JWT VC of a type carries (claims plus decoys) unless the issuer asks for more. */
export const DEFAULT_SD_DIGESTS = 32;

/** JWT claim names a credential uses itself; a subject claim may not take them. */
export const RESERVED_CLAIM_NAMES: ReadonlySet<string> = new Set([
  // RFC 7519 registered claims
  "iss", "sub", "aud", "exp", "nbf", "iat", "jti",
  // RFC 7800 confirmation (holder key), SD-JWT VC type and status
  "cnf", "vct", "status",
  // W3C VC JWT encoding: the VC object and credentialSubject.id
  "vc", "id",
]);

/**
 * Keys with a meaning in SD-JWT payloads (RFC 9901 section 4.2): never a
 * claim name nor a key inside a claim value, so no claim can pose as a digest.
 */
export const SD_JWT_KEYS: ReadonlySet<string> = new Set(["_sd", "_sd_alg", "..."]);

/** Claim names: a letter, then up to 63 of [A-Za-z0-9_-] (given_name, age_over_18). No "_sd" or "..." lookalikes. */
export const CLAIM_NAME_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export const CREDENTIAL_LIMITS: Readonly<{
  maxClaims: 64;
  maxClaimsBytes: 16384;
  maxClaimDepth: 8;
  maxSerializedChars: 65536;
}> = Object.freeze({
  /** A KYC record has a handful of attributes; 64 leaves room without letting one credential balloon. */
  maxClaims: 64,
  /** UTF-8 bytes of JSON.stringify(claims): personal attributes, not documents or images. */
  maxClaimsBytes: 16384,
  /** Nesting of a claim value (an address object holds a few levels at most). */
  maxClaimDepth: 8,
  /** Longest credential or presentation verification reads: claims, base64url growth (4/3), salts, header, KB-JWT. */
  maxSerializedChars: 65536,
});
