/** Browser stand-in for the node:crypto calls the shared code reaches: sha256, and PBKDF2-SHA512 for BIP39 seeds, through @noble/hashes. */
import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";

export function hash(algorithm: string, data: Uint8Array): Uint8Array {
  if (algorithm !== "sha256") throw new Error(`only sha256 is available in the browser, not ${algorithm}`);
  return sha256(data);
}

export function createHash(algorithm: string) {
  if (algorithm !== "sha256") throw new Error(`only sha256 is available in the browser, not ${algorithm}`);
  const h = sha256.create();
  return {
    update(part: Uint8Array) {
      h.update(part);
      return this;
    },
    digest(): Uint8Array {
      return h.digest();
    },
  };
}

/** PBKDF2 for the BIP39 seed (crypto/hd.ts): SHA-512 only, through @noble/hashes. */
export function pbkdf2Sync(password: string, salt: string, iterations: number, keylen: number, digest: string): Uint8Array {
  if (digest !== "sha512") throw new Error(`only sha512 PBKDF2 is available in the browser, not ${digest}`);
  return pbkdf2(sha512, password, salt, { c: iterations, dkLen: keylen });
}
