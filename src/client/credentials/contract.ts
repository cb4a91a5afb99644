/**
 * The fixed contract between credentials (off chain) and their anchors (on
 * chain): credential ids, type names, the SD-JWT VC `vct`, the anchored
 * digest, and the conversion of times. The chain side uses the same rules.
 */
import { randomBytes } from "node:crypto";
import { sha256 } from "../../crypto/hash.js";
import { toHex, utf8 } from "../../crypto/bytes.js";

import { CREDENTIAL_ID_RE, TYPE_NAME_RE, isCredentialId, isTypeName } from "../../did/kyc.js";

/** The chain's rules for ids and type names (did/kyc.ts), shared, not copied. */
export { CREDENTIAL_ID_RE, TYPE_NAME_RE, isCredentialId, isTypeName };
/** Inside a credential, the id is the JWT `jti` in this URN namespace. */
export const CREDENTIAL_JTI_PREFIX = "urn:sid:credential:";
/** SD-JWT VC `vct` of a type: `urn:sid:type:<Type>`. */
export const VCT_PREFIX = "urn:sid:type:";

/** SD-JWT VC media type in the JWT header (draft-ietf-oauth-sd-jwt-vc, section 3.2.1). */
export const SD_JWT_VC_TYP = "dc+sd-jwt";
/** The W3C VC Data Model 1.1 base context, first in every JWT VC. */
export const VC_CONTEXT_V1 = "https://www.w3.org/2018/credentials/v1";
export const VC_BASE_TYPE = "VerifiableCredential";

/** A fresh credential id (16 random bytes, lowercase hex). */
export function newCredentialId(): string {
  return randomBytes(16).toString("hex");
}

/** `urn:sid:credential:<hex>` for a credential id. */
export function credentialJti(credentialId: string): string {
  return CREDENTIAL_JTI_PREFIX + credentialId;
}

/** The credential id inside a `jti`, or undefined if the jti is not `urn:sid:credential:<32 hex>`. */
export function credentialIdFromJti(jti: unknown): string | undefined {
  if (typeof jti !== "string" || !jti.startsWith(CREDENTIAL_JTI_PREFIX)) return undefined;
  const id = jti.slice(CREDENTIAL_JTI_PREFIX.length);
  return isCredentialId(id) ? id : undefined;
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

/**
 * Rule (anchor digest): sha256, lowercase hex, of the UTF-8 bytes of the
 * issuer-signed JWT's compact serialization. Disclosures and key binding
 * stay outside it, so every presentation of a credential maps to one anchor.
 */
export function credentialDigest(credential: string): string {
  return toHex(sha256(utf8(issuerSignedJwt(credential))));
}

/** JWT NumericDate (seconds) of an on-chain time (ms), rounded so validity never grows: up for a start. */
export function startSeconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

/** JWT NumericDate (seconds) of an on-chain end time (ms), rounded down so validity never grows. */
export function endSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

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
