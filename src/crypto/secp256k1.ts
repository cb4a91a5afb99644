/**
 * secp256k1 ECDSA with two interchangeable backends.
 *
 * Signature verification is the node's bottleneck, so the native
 * libsecp256k1 binding (the `secp256k1` package's prebuilt addon) is used
 * where it loads, and @noble/secp256k1 otherwise. Both follow the same rules:
 * 32-byte message digests (no pre-hashing), 64-byte compact r||s signatures,
 * and only low-S signatures are valid (BIP 62 / libsecp256k1's rule), so a
 * signature has exactly one valid encoding and a tx hash cannot be malleated.
 */
import { createRequire } from "node:module";
import * as noble from "@noble/secp256k1";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { CryptoError, CryptoErrorCode } from "./errors.js";

noble.hashes.sha256 = nobleSha256;
noble.hashes.hmacSha256 = (key, msg) => hmac(nobleSha256, key, msg);

export type BackendName = "native" | "noble";

export interface SecpBackend {
  readonly name: BackendName;
  /** True iff `sig` is a valid low-S signature of `digest` by `publicKey`. Never throws on bad curve data. */
  verify(sig: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean;
  /** Deterministic (RFC 6979) low-S compact signature. */
  sign(digest: Uint8Array, secretKey: Uint8Array): Uint8Array;
  /** 33-byte compressed public key. */
  publicKey(secretKey: Uint8Array): Uint8Array;
  /** True iff the bytes are a valid point on the curve (33 or 65 bytes). */
  isValidPublicKey(publicKey: Uint8Array): boolean;
  /** The 33-byte compressed form of a 65-byte uncompressed point, or undefined when it is not a point on the curve. */
  compress(uncompressed: Uint8Array): Uint8Array | undefined;
}

/** Order of the secp256k1 group (SEC 2, section 2.4.1). */
const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N = CURVE_N >> 1n;
const HALF_N_BYTES = Uint8Array.from(Buffer.from(HALF_N.toString(16).padStart(64, "0"), "hex"));

export const nobleBackend: SecpBackend = {
  name: "noble",
  verify(sig, digest, publicKey) {
    try {
      return noble.verify(sig, digest, publicKey, { prehash: false, lowS: true });
    } catch {
      return false;
    }
  },
  sign(digest, secretKey) {
    return noble.sign(digest, secretKey, { prehash: false, lowS: true });
  },
  publicKey(secretKey) {
    return noble.getPublicKey(secretKey, true);
  },
  isValidPublicKey(publicKey) {
    try {
      noble.Point.fromBytes(publicKey).assertValidity();
      return true;
    } catch {
      return false;
    }
  },
  compress(uncompressed) {
    try {
      const p = noble.Point.fromBytes(uncompressed);
      p.assertValidity();
      return p.toBytes(true);
    } catch {
      return undefined;
    }
  },
};

interface NativeModule {
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, pub: Uint8Array): boolean;
  ecdsaSign(msg32: Uint8Array, sk: Uint8Array): { signature: Uint8Array; recid: number };
  publicKeyCreate(sk: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyVerify(pub: Uint8Array): boolean;
  publicKeyConvert(pub: Uint8Array, compressed: boolean): Uint8Array;
}

function loadNative(): SecpBackend | undefined {
  try {
    const require = createRequire(import.meta.url);
    // `secp256k1/bindings` is the addon alone; the package's main entry would
    // silently fall back to a slow pure-JS implementation instead of failing.
    const lib = require("secp256k1/bindings") as NativeModule;
    const backend: SecpBackend = {
      name: "native",
      verify(sig, digest, publicKey) {
        try {
          return lib.ecdsaVerify(sig, digest, publicKey);
        } catch {
          return false;
        }
      },
      sign(digest, secretKey) {
        return new Uint8Array(lib.ecdsaSign(digest, secretKey).signature);
      },
      publicKey(secretKey) {
        return new Uint8Array(lib.publicKeyCreate(secretKey, true));
      },
      isValidPublicKey(publicKey) {
        try {
          return lib.publicKeyVerify(publicKey);
        } catch {
          return false;
        }
      },
      compress(uncompressed) {
        if (uncompressed.length !== 65 || uncompressed[0] !== 4) return undefined;
        try {
          return new Uint8Array(lib.publicKeyConvert(uncompressed, true));
        } catch {
          return undefined;
        }
      },
    };
    // Self-test before trusting the addon.
    const sk = new Uint8Array(32).fill(7);
    const digest = new Uint8Array(32).fill(9);
    const sig = backend.sign(digest, sk);
    if (!backend.verify(sig, digest, backend.publicKey(sk))) return undefined;
    return backend;
  } catch {
    return undefined;
  }
}

function chooseBackend(): SecpBackend {
  const forced = process.env.SID_SECP256K1_BACKEND;
  if (forced === "noble") return nobleBackend;
  const native = loadNative();
  if (forced === "native" && !native) throw new Error("SID_SECP256K1_BACKEND=native but the native secp256k1 addon did not load");
  return native ?? nobleBackend;
}

/** The fastest backend that loaded; `SID_SECP256K1_BACKEND=noble|native` forces one. */
export const secp: SecpBackend = chooseBackend();
export const nativeBackend: SecpBackend | undefined = secp.name === "native" ? secp : loadNative();

function expectLength(what: string, bytes: unknown, len: number, code: CryptoErrorCode): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new CryptoError(code, `expected ${what} as bytes`);
  if (bytes.length !== len) throw new CryptoError(code, `expected ${len}-byte ${what}, got ${bytes.length}`);
}

export function assertCompressedPublicKey(pub: unknown): asserts pub is Uint8Array {
  expectLength("compressed public key", pub, 33, CryptoErrorCode.BAD_PUBLIC_KEY);
  if ((pub[0] !== 2 && pub[0] !== 3) || !secp.isValidPublicKey(pub)) {
    throw new CryptoError(CryptoErrorCode.BAD_PUBLIC_KEY, "public key is not a point on secp256k1");
  }
}

/** Sign a 32-byte digest; the result is always low-S. */
export function signDigest(digest: Uint8Array, secretKey: Uint8Array): Uint8Array {
  expectLength("digest", digest, 32, CryptoErrorCode.BAD_ENCODING);
  expectLength("secret key", secretKey, 32, CryptoErrorCode.BAD_SECRET_KEY);
  return secp.sign(digest, secretKey);
}

/** Verify a 64-byte compact signature; high-S and malformed signatures are invalid. */
export function verifyDigest(sig: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean {
  if (sig.length !== 64 || digest.length !== 32 || publicKey.length !== 33) return false;
  return secp.verify(sig, digest, publicKey);
}

export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  expectLength("secret key", secretKey, 32, CryptoErrorCode.BAD_SECRET_KEY);
  try {
    return secp.publicKey(secretKey);
  } catch {
    throw new CryptoError(CryptoErrorCode.BAD_SECRET_KEY, "secret key out of range");
  }
}

/** True iff the s half of a compact signature is in the upper half of the order. */
export function isHighS(sig: Uint8Array): boolean {
  // Big-endian bytes compare like the numbers they hold: no bigint per tx.
  for (let i = 0; i < 32; i++) {
    const a = sig[32 + i]!;
    const b = HALF_N_BYTES[i]!;
    if (a !== b) return a > b;
  }
  return false;
}

/** The malleated twin (r, n - s) of a signature: valid math, but rejected by the low-S rule. */
export function malleate(sig: Uint8Array): Uint8Array {
  const s = BigInt("0x" + Buffer.from(sig.subarray(32, 64)).toString("hex"));
  const s2 = (CURVE_N - s).toString(16).padStart(64, "0");
  const out = new Uint8Array(64);
  out.set(sig.subarray(0, 32), 0);
  out.set(Buffer.from(s2, "hex"), 32);
  return out;
}

/** Uncompressed point (x, y) of a compressed key, for JWK. */
export function decompress(pub: Uint8Array): { x: Uint8Array; y: Uint8Array } {
  const p = noble.Point.fromBytes(pub);
  const raw = p.toBytes(false);
  return { x: raw.slice(1, 33), y: raw.slice(33, 65) };
}

/** Compress an (x, y) point, checking it is on the curve. */
export function compressPoint(x: Uint8Array, y: Uint8Array): Uint8Array {
  const raw = new Uint8Array(65);
  raw[0] = 4;
  raw.set(x, 1);
  raw.set(y, 33);
  const compressed = secp.compress(raw);
  if (!compressed) throw new CryptoError(CryptoErrorCode.BAD_PUBLIC_KEY, "JWK point is not on secp256k1");
  return compressed;
}
