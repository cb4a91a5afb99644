/** Browser stand-in for the node:crypto calls the proof checker reaches: sha256 only, through @noble/hashes. */
import { sha256 } from "@noble/hashes/sha2.js";

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
