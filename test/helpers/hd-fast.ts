/**
 * Key derivation for tests that make many holders: the same keys as
 * crypto/hd.ts deriveKey (BIP39 seed, then BIP32 at m/44'/0'/0'/0/<index>),
 * with the seed's PBKDF2 computed by node:crypto (about 2 ms) instead of the
 * pure-JS one (about 50 ms, all of it blocking the event loop). Callers
 * check one key against deriveKey, so the two cannot drift apart unseen.
 */
import { pbkdf2Sync } from "node:crypto";
import { HDKey } from "@scure/bip32";
import { DID_KEY_PATH_PREFIX, type KeyPair } from "../../src/crypto/hd.js";
import { publicKeyOf } from "../../src/crypto/secp256k1.js";

export function didKeyOf(mnemonic: string, index = 0): KeyPair {
  const words = mnemonic.trim().split(/\s+/).join(" ").normalize("NFKD");
  const seed = pbkdf2Sync(words, "mnemonic", 2048, 64, "sha512");
  const node = HDKey.fromMasterSeed(new Uint8Array(seed)).derive(`${DID_KEY_PATH_PREFIX}/${index}`);
  if (!node.privateKey) throw new Error("derivation gave no private key");
  const secretKey = new Uint8Array(node.privateKey);
  return { secretKey, publicKey: publicKeyOf(secretKey) };
}
