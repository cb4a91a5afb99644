/**
 * The JOSE pieces credentials are made of, over our own secp256k1 and hash
 * code: ES256K (RFC 8812) signatures as JOSE r||s, the sha-256 hasher and
 * salt generator @sd-jwt needs, and a strict compact-JWS reader (ours, not
 * the library's, because verification must refuse lenient base64 and bad UTF-8).
 *
 * ES256K signs sha256(ASCII(header "." payload)) and serializes the 64-byte
 * compact r||s signature in base64url; signDigest always gives low-S, and
 * verifyDigest accepts only low-S, so a signature has one valid encoding.
 */
import { randomBytes } from "node:crypto";
import { sha256 } from "../../crypto/hash.js";
import { utf8 } from "../../crypto/bytes.js";
import { base64urlDecode, base64urlEncode } from "../../crypto/encoding.js";
import { signDigest, verifyDigest } from "../../crypto/secp256k1.js";

export const ES256K = "ES256K";
/** The only `_sd_alg` we issue and accept (the default of RFC 9901). */
export const SD_HASH_ALG = "sha-256";
/** 128 bits of salt per disclosure, the minimum RFC 9901 section 9.3 recommends. */
const SALT_BYTES = 16;

/** The ES256K JWS signature (base64url r||s) of a signing input `header.payload`. */
export function es256kSign(signingInput: string, secretKey: Uint8Array): string {
  return base64urlEncode(signDigest(sha256(utf8(signingInput)), secretKey));
}

/** The signer shape @sd-jwt calls: signing input in, base64url signature out. */
export function es256kSigner(secretKey: Uint8Array): (signingInput: string) => string {
  return (signingInput) => es256kSign(signingInput, secretKey);
}

/** True iff `signature` (base64url) is a valid low-S ES256K signature of `signingInput` by `publicKey`. */
export function es256kVerify(signingInput: string, signature: string, publicKey: Uint8Array): boolean {
  let sig: Uint8Array;
  try {
    sig = base64urlDecode(signature);
  } catch {
    return false;
  }
  return verifyDigest(sig, sha256(utf8(signingInput)), publicKey);
}

/** The hasher @sd-jwt calls for disclosure digests and sd_hash; anything but sha-256 is refused. */
export function sdHasher(data: string | ArrayBuffer, alg: string): Uint8Array {
  if (alg.toLowerCase() !== SD_HASH_ALG) throw new Error(`unsupported _sd_alg ${JSON.stringify(alg)} (only ${SD_HASH_ALG})`);
  return sha256(typeof data === "string" ? utf8(data) : new Uint8Array(data));
}

/** base64url(sha-256(ASCII(text))): the digest of a disclosure and the KB-JWT sd_hash (RFC 9901 sections 4.2.3, 4.3.1). */
export function sdDigest(text: string): string {
  return base64urlEncode(sha256(utf8(text)));
}

export function saltGenerator(): string {
  return base64urlEncode(randomBytes(SALT_BYTES));
}

export interface DecodedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** The exact `header.payload` text the signature covers (never re-encoded). */
  signingInput: string;
  signature: string;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** JSON of a base64url segment (strict alphabet, no padding, well-formed UTF-8), or undefined. */
export function decodeJsonSegment(segment: string): unknown {
  try {
    return JSON.parse(strictUtf8.decode(base64urlDecode(segment))) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Read a compact JWS with JSON header and payload objects. Returns undefined
 * for anything else, so callers turn it into their own verdict or error.
 */
export function decodeJws(compact: string): DecodedJws | undefined {
  const parts = compact.split(".");
  if (parts.length !== 3 || parts.some((p) => p === "")) return undefined;
  const header = decodeJsonSegment(parts[0]!);
  const payload = decodeJsonSegment(parts[1]!);
  if (!isPlainObject(header) || !isPlainObject(payload)) return undefined;
  return { header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: parts[2]! };
}
