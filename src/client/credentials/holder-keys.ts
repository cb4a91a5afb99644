/**
 * One-time holder keys: every copy of every credential is bound (`cnf.jwk`)
 * to its own key, derived from the holder's BIP39 mnemonic at
 *
 *   m/44'/0'/1'/<credential n>'/<copy n>'
 *
 * Account 1' is set apart from the DID keys (account 0', m/44'/0'/0'/0/i),
 * so no copy key is ever a key of the holder's DID document; every level is
 * hardened, so a leaked copy key and any public data reveal no other key.
 * `credential n` is the holder's own counter (one per request), `copy n`
 * the copy's place in the batch. The mnemonic alone restores every key.
 */
import * as bip39 from "bip39";
import { HDKey } from "@scure/bip32";
import type { KeyPair } from "../../crypto/hd.js";
import { validateMnemonic } from "../../crypto/hd.js";
import { publicKeyOf } from "../../crypto/secp256k1.js";
import { invalidInput } from "./errors.js";

export const HOLDER_KEY_PATH_PREFIX = "m/44'/0'/1'";
/** Hardened indices are below 2^31. */
const MAX_INDEX = 0x7fffffff;
/** BIP32: child indices from 2^31 up are hardened. */
const HARDENED_OFFSET = 0x80000000;

export function holderKeyPath(credentialN: number, copyN: number): string {
  return `${HOLDER_KEY_PATH_PREFIX}/${credentialN}'/${copyN}'`;
}

/** The holder's copy keys, derived from one mnemonic (the seed is stretched once, keys on demand). */
export class HolderKeys {
  private readonly account: HDKey;

  constructor(mnemonic: string, bip39Passphrase = "") {
    validateMnemonic(mnemonic);
    const seed = bip39.mnemonicToSeedSync(mnemonic.trim().split(/\s+/).join(" "), bip39Passphrase);
    this.account = HDKey.fromMasterSeed(new Uint8Array(seed)).derive(HOLDER_KEY_PATH_PREFIX);
  }

  /** The key of copy `copyN` of credential `credentialN`. */
  copyKey(credentialN: number, copyN: number): KeyPair {
    for (const [field, v] of [["credentialN", credentialN], ["copyN", copyN]] as const) {
      if (!Number.isSafeInteger(v) || v < 0 || v > MAX_INDEX) invalidInput(field, `must be an integer in [0, ${MAX_INDEX}]`);
    }
    const node = this.account.deriveChild(credentialN + HARDENED_OFFSET).deriveChild(copyN + HARDENED_OFFSET);
    if (!node.privateKey) invalidInput("credentialN", "derivation gave no private key");
    const secretKey = new Uint8Array(node.privateKey);
    return { secretKey, publicKey: publicKeyOf(secretKey) };
  }
}
