/** Small byte helpers shared by every room. */
import { base64 } from "@scure/base";
import { CryptoError, CryptoErrorCode } from "./errors.js";

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function fromHex(hex: string, expectedLength?: number): Uint8Array {
  if (typeof hex !== "string" || !HEX_RE.test(hex)) {
    throw new CryptoError(CryptoErrorCode.BAD_ENCODING, "expected lowercase hex string of even length");
  }
  const out = new Uint8Array(Buffer.from(hex, "hex"));
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new CryptoError(CryptoErrorCode.BAD_ENCODING, `expected ${expectedLength} bytes of hex, got ${out.length}`);
  }
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  return base64.encode(bytes);
}

/**
 * Strict padded base64 (RFC 4648 section 4); anything else is a typed
 * error. Decoded natively (every tx submitted over RPC comes this way). The
 * native decoder skips what is not base64, so the text must be exactly the
 * encoding of what it decodes to: that refuses other characters, missing
 * or extra padding and non-zero padding bits alike.
 */
export function fromBase64(text: string): Uint8Array {
  if (typeof text !== "string") throw new CryptoError(CryptoErrorCode.BAD_ENCODING, "expected base64 string");
  const decoded = Buffer.from(text, "base64");
  if (decoded.toString("base64") !== text) throw new CryptoError(CryptoErrorCode.BAD_ENCODING, "invalid base64");
  return new Uint8Array(decoded);
}

const encoder = new TextEncoder();
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Bytes of one shared pool (allocBytes). */
const POOL_BYTES = 16 * 1024;
/** The largest request allocBytes carves from the pool. */
const POOLED_MAX = 1024;
let pool: Uint8Array<ArrayBuffer> = new Uint8Array(POOL_BYTES);
let poolUsed = 0;

/**
 * `n` zero bytes, as `new Uint8Array(n)` gives, carved from a shared
 * 16 KiB buffer when `n` is at most 1 KiB (at an offset that is a multiple
 * of 8). An ArrayBuffer of its own costs two mallocs (its bytes and V8's
 * record of them) and a free after a collection, and an array of up to 64
 * bytes that V8 keeps in its own heap gets them all the same the first
 * time LevelDB, hashing or `.buffer` reads it; in a node at millions of
 * DIDs, whose C heap holds caches and memtables, glibc's allocator took
 * about a third of the main thread (`perf`), and 13% once these arrays
 * came from pools. A view keeps its whole pool alive: for bytes that do not outlive their use
 * (store keys, a Merkle node's preimage and record), never for what a
 * cache keeps.
 */
export function allocBytes(n: number): Uint8Array<ArrayBuffer> {
  // Anything else (large, negative, fractional) is new Uint8Array's to give or refuse.
  if (!(Number.isInteger(n) && n >= 0 && n <= POOLED_MAX)) return new Uint8Array(n);
  if (poolUsed + n > POOL_BYTES) {
    pool = new Uint8Array(POOL_BYTES);
    poolUsed = 0;
  }
  const out = pool.subarray(poolUsed, poolUsed + n);
  poolUsed += (n + 7) & ~7;
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // Long inputs (encodings, blocks) compare natively; a loop is cheaper for hashes and keys.
  if (a.length > 64) return Buffer.compare(a, b) === 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}
