/**
 * Public-key encodings used in DID documents: base58btc, JWK (RFC 7517 with
 * the secp256k1 curve of RFC 8812) and Multikey multibase (`zQ3s...`).
 */
import { base58, base64urlnopad } from "@scure/base";
import { CryptoError, CryptoErrorCode } from "./errors.js";
import { assertCompressedPublicKey, compressPoint, decompress } from "./secp256k1.js";

export function base58btcEncode(bytes: Uint8Array): string {
  return base58.encode(bytes);
}

export function base58btcDecode(text: string): Uint8Array {
  try {
    return base58.decode(text);
  } catch {
    throw new CryptoError(CryptoErrorCode.BAD_ENCODING, "invalid base58btc");
  }
}

export function base64urlEncode(bytes: Uint8Array): string {
  return base64urlnopad.encode(bytes);
}

export function base64urlDecode(text: string): Uint8Array {
  try {
    return base64urlnopad.decode(text);
  } catch {
    throw new CryptoError(CryptoErrorCode.BAD_ENCODING, "invalid base64url");
  }
}

/**
 * Parsed keys by their text form. Documents are checked at admission and
 * again at execution, and the JWK-to-point step is the costly part; the
 * mapping is a pure function, so remembering it changes no answer.
 */
const KEY_CACHE_MAX = 50_000;
const keyCache = new Map<string, Uint8Array>();

function cachedKey(text: string, parse: () => Uint8Array): Uint8Array {
  const hit = keyCache.get(text);
  if (hit) return hit.slice();
  const key = parse();
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value as string);
  keyCache.set(text, key.slice());
  return key;
}

export interface Secp256k1Jwk {
  kty: "EC";
  crv: "secp256k1";
  x: string;
  y: string;
}

export function publicKeyToJwk(pub: Uint8Array): Secp256k1Jwk {
  assertCompressedPublicKey(pub);
  const { x, y } = decompress(pub);
  return { kty: "EC", crv: "secp256k1", x: base64urlEncode(x), y: base64urlEncode(y) };
}

/** Parse a public JWK; private members (`d`) and other curves are refused. */
export function jwkToPublicKey(jwk: unknown): Uint8Array {
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) {
    throw new CryptoError(CryptoErrorCode.BAD_PUBLIC_KEY, "publicKeyJwk must be an object");
  }
  const j = jwk as Record<string, unknown>;
  if (j.kty !== "EC" || j.crv !== "secp256k1") {
    throw new CryptoError(CryptoErrorCode.BAD_PUBLIC_KEY, 'publicKeyJwk must have kty "EC" and crv "secp256k1"');
  }
  if ("d" in j) throw new CryptoError(CryptoErrorCode.BAD_PUBLIC_KEY, "publicKeyJwk must not contain a private key (d)");
  if (typeof j.x !== "string" || typeof j.y !== "string") {
    throw new CryptoError(CryptoErrorCode.BAD_PUBLIC_KEY, "publicKeyJwk needs string x and y");
  }
  const jx = j.x;
  const jy = j.y;
  return cachedKey(`jwk:${jx}.${jy}`, () => parseJwkPoint(jx, jy));
}

function parseJwkPoint(jx: string, jy: string): Uint8Array {
  const x = base64urlDecode(jx);
  const y = base64urlDecode(jy);
  if (x.length !== 32 || y.length !== 32) {
    throw new CryptoError(CryptoErrorCode.BAD_PUBLIC_KEY, `publicKeyJwk x and y must be 32 bytes, got ${x.length} and ${y.length}`);
  }
  return compressPoint(x, y);
}

/** Multicodec secp256k1-pub (0xe7) as an unsigned varint: 0xe7 0x01. */
const SECP256K1_PUB_MULTICODEC = Uint8Array.of(0xe7, 0x01);

/** Multikey `publicKeyMultibase`: 'z' + base58btc(0xe7 0x01 || compressed key), which starts "zQ3s". */
export function publicKeyToMultibase(pub: Uint8Array): string {
  assertCompressedPublicKey(pub);
  const buf = new Uint8Array(35);
  buf.set(SECP256K1_PUB_MULTICODEC, 0);
  buf.set(pub, 2);
  return "z" + base58.encode(buf);
}

export function multibaseToPublicKey(text: unknown): Uint8Array {
  if (typeof text !== "string" || !text.startsWith("z")) {
    throw new CryptoError(CryptoErrorCode.BAD_PUBLIC_KEY, "publicKeyMultibase must be a base58btc multibase string starting with 'z'");
  }
  return cachedKey(`mb:${text}`, () => parseMultibaseKey(text));
}

function parseMultibaseKey(text: string): Uint8Array {
  const raw = base58btcDecode(text.slice(1));
  if (raw.length !== 35 || raw[0] !== 0xe7 || raw[1] !== 0x01) {
    throw new CryptoError(CryptoErrorCode.BAD_PUBLIC_KEY, "publicKeyMultibase must hold a secp256k1-pub multicodec key (0xe701 + 33 bytes)");
  }
  const pub = raw.slice(2);
  assertCompressedPublicKey(pub);
  return pub;
}
