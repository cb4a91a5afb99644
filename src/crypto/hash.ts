/** Hash functions. sha256 everywhere the protocol hashes (ids, txs, blocks, Merkle nodes). */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { createHash, hash as oneShotHash } from "node:crypto";

/**
 * sha256 through node:crypto (OpenSSL), which is several times faster than
 * the pure-JS implementation on small inputs; both give identical digests
 * (checked in test/unit/crypto).
 */
export function sha256(data: Uint8Array): Uint8Array {
  // One-shot hashing skips the Hash object: about a third cheaper per call.
  const d = oneShotHash("sha256", data, "buffer");
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** sha256 over several parts without concatenating them first. */
export function sha256Parts(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** The pure-JS reference implementation, used where node:crypto is not wanted. */
export const sha256Reference = nobleSha256;
