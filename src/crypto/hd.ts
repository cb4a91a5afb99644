/**
 * BIP39 mnemonics to BIP32 HD keys. A DID's keys come from one mnemonic at
 * path m/44'/0'/0'/0/<index>; index 0 is the key the DID id derives from.
 */
import { pbkdf2Sync } from "node:crypto";
import * as bip39 from "bip39";
import { HDKey } from "@scure/bip32";
import { CryptoError, CryptoErrorCode } from "./errors.js";
import { publicKeyOf } from "./secp256k1.js";

/** BIP44 purpose 44', coin 0', account 0', external chain 0. */
export const DID_KEY_PATH_PREFIX = "m/44'/0'/0'/0";
/** Highest index we derive: BIP32 non-hardened indexes are below 2^31. */
const MAX_INDEX = 0x7fffffff;

export interface KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array; // 33-byte compressed
}

/** A new 24-word English mnemonic (256 bits of entropy). */
export function generateMnemonic(): string {
  return bip39.generateMnemonic(256);
}

export function validateMnemonic(mnemonic: string): void {
  if (typeof mnemonic !== "string" || !bip39.validateMnemonic(normalizeMnemonic(mnemonic))) {
    throw new CryptoError(CryptoErrorCode.BAD_MNEMONIC, "invalid BIP39 mnemonic (wrong word, count or checksum)");
  }
}

function normalizeMnemonic(mnemonic: string): string {
  return mnemonic.trim().split(/\s+/).join(" ");
}

/**
 * The BIP39 seed: PBKDF2-HMAC-SHA512, 2048 rounds, over the NFKD mnemonic
 * with the salt "mnemonic" + NFKD passphrase (the same bytes as
 * bip39.mnemonicToSeedSync), by node's native PBKDF2: the pure-JS one costs
 * tens of milliseconds per key, and many times that in a long-lived process.
 */
function mnemonicSeed(mnemonic: string, passphrase: string): Uint8Array {
  return pbkdf2Sync(mnemonic.normalize("NFKD"), `mnemonic${passphrase}`.normalize("NFKD"), 2048, 64, "sha512");
}

/** The key at m/44'/0'/0'/0/<index> of a mnemonic (with an optional BIP39 passphrase). */
export function deriveKey(mnemonic: string, index: number, bip39Passphrase = ""): KeyPair {
  validateMnemonic(mnemonic);
  if (!Number.isInteger(index) || index < 0 || index > MAX_INDEX) {
    throw new CryptoError(CryptoErrorCode.BAD_SECRET_KEY, `key index must be an integer in [0, ${MAX_INDEX}], got ${index}`);
  }
  const seed = mnemonicSeed(normalizeMnemonic(mnemonic), bip39Passphrase);
  const node = HDKey.fromMasterSeed(new Uint8Array(seed)).derive(`${DID_KEY_PATH_PREFIX}/${index}`);
  if (!node.privateKey) throw new CryptoError(CryptoErrorCode.BAD_SECRET_KEY, "derivation gave no private key");
  const secretKey = new Uint8Array(node.privateKey);
  return { secretKey, publicKey: publicKeyOf(secretKey) };
}

/** A fresh random key pair (validator and node keys). */
export function randomKeyPair(): KeyPair {
  for (;;) {
    const sk = new Uint8Array(32);
    crypto.getRandomValues(sk);
    try {
      return { secretKey: sk, publicKey: publicKeyOf(sk) };
    } catch {
      // out of range: astronomically rare, draw again
    }
  }
}
