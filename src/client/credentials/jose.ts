/**
 * The JOSE pieces credentials are made of, over our own secp256k1 and hash
 * code: ES256K (RFC 8812) signatures as JOSE r||s, the sha-256 hasher and
 * salt generator @sd-jwt needs, and a strict compact-JWS reader (ours, not
 * the library's, because verification must refuse lenient base64 and bad UTF-8).
 *
 * ES256K signs sha256(ASCII(header "." payload)) and serializes the 64-byte
 * compact r||s signature in base64url. We always sign low-S, but verify
 * either half: RFC 8812 has no low-S rule, and wallets and issuers that sign
 * with plain OpenSSL or WebCrypto produce high-S about half the time. (Chain
 * txs keep their low-S rule: a tx hash must not be malleable; a JOSE
 * signature is never hashed into an identifier.)
 */
import { randomBytes } from "node:crypto";
import { sha256 } from "../../crypto/hash.js";
import { utf8 } from "../../crypto/bytes.js";
import { base64urlDecode, base64urlEncode } from "../../crypto/encoding.js";
import { isHighS, signDigest, verifyDigest } from "../../crypto/secp256k1.js";

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

/** Order of the secp256k1 group (SEC 2, section 2.4.1). */
const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/**
 * The low-S twin (r, n - s) of a 64-byte r||s signature whose s is high,
 * or undefined when s is not below n (no valid signature has such an s).
 */
export function lowSOf(sig: Uint8Array): Uint8Array | undefined {
  if (sig.length !== 64 || !isHighS(sig)) return sig;
  const s = BigInt("0x" + Buffer.from(sig.subarray(32)).toString("hex"));
  if (s >= CURVE_N) return undefined;
  const out = new Uint8Array(64);
  out.set(sig.subarray(0, 32), 0);
  out.set(Buffer.from((CURVE_N - s).toString(16).padStart(64, "0"), "hex"), 32);
  return out;
}

/**
 * True iff `signature` (base64url r||s) is a valid ES256K signature of
 * `signingInput` by `publicKey`, with s in either half (RFC 8812): a high-S
 * signature is checked as its low-S twin, which verifies iff it does.
 */
export function es256kVerify(signingInput: string, signature: string, publicKey: Uint8Array): boolean {
  let sig: Uint8Array | undefined;
  try {
    sig = lowSOf(base64urlDecode(signature));
  } catch {
    return false;
  }
  return sig !== undefined && verifyDigest(sig, sha256(utf8(signingInput)), publicKey);
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
