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
