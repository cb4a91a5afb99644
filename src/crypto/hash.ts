/** Hash functions. sha256 everywhere the protocol hashes (ids, txs, blocks, Merkle nodes). */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { createHash, hash as oneShotHash } from "node:crypto";
import { allocBytes } from "./bytes.js";

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

/** Parts up to this many bytes in all are joined and hashed in one call. */
const JOINED_MAX = 1024;

/**
 * sha256 over several parts. Short ones (a Merkle node's tag and hashes, a
 * state key's domain and id) are copied together and hashed one-shot: a
 * Hash object per digest cost about twice as much of a node's main thread
 * (2.0% for the state keys alone at 4,000,000 DIDs). Longer ones are fed
 * to a Hash object without a copy.
 */
export function sha256Parts(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  if (total <= JOINED_MAX) {
    const whole = allocBytes(total);
    let at = 0;
    for (const p of parts) {
      whole.set(p, at);
      at += p.length;
    }
    return sha256(whole);
  }
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** The pure-JS reference implementation, used where node:crypto is not wanted. */
export const sha256Reference = nobleSha256;
