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
import { pbkdf2Sync } from "node:crypto";
import { utf8 } from "../../crypto/bytes.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha512 } from "@noble/hashes/sha2.js";
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

/** Order of the secp256k1 group (SEC 2, section 2.4.1). */
const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

interface ExtendedPrivateKey {
  key: Uint8Array;
  chainCode: Uint8Array;
}

const toBig = (b: Uint8Array) => BigInt("0x" + Buffer.from(b).toString("hex"));
const to32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, "0"), "hex"));

/**
 * BIP32 hardened child (CKDpriv, i >= 2^31): I = HMAC-SHA512(c, 0x00 || k ||
 * ser32(i)), k_i = parse256(I_L) + k mod n, c_i = I_R. Only hashing and one
 * addition: no point multiplication per level (the library computes each
 * node's public key, which made a copy key cost ~8 ms). Returns undefined in
 * the BIP32 case of an invalid child (I_L >= n or k_i = 0). Held equal to
 * @scure/bip32 and bip39 by a unit test.
 */
function hardenedChild(parent: ExtendedPrivateKey, index: number): ExtendedPrivateKey | undefined {
  const data = new Uint8Array(37);
  data.set(parent.key, 1);
  new DataView(data.buffer).setUint32(33, (index + HARDENED_OFFSET) >>> 0, false);
  const I = hmac(sha512, parent.chainCode, data);
  const il = toBig(I.subarray(0, 32));
  if (il >= CURVE_N) return undefined;
  const k = (il + toBig(parent.key)) % CURVE_N;
  if (k === 0n) return undefined;
  return { key: to32(k), chainCode: I.slice(32) };
}

/** The holder's copy keys, derived from one mnemonic (the seed is stretched once, keys on demand). */
export class HolderKeys {
  private readonly account: ExtendedPrivateKey;
  private readonly credentialNodes = new Map<number, ExtendedPrivateKey>();

  constructor(mnemonic: string, bip39Passphrase = "") {
    validateMnemonic(mnemonic);
    // BIP39 seed: PBKDF2-HMAC-SHA512(NFKD(mnemonic), "mnemonic" || NFKD(passphrase), 2048, 64), natively (~2 ms, not ~50).
    const words = mnemonic.trim().split(/\s+/).join(" ").normalize("NFKD");
    const seed = pbkdf2Sync(words, `mnemonic${bip39Passphrase}`.normalize("NFKD"), 2048, 64, "sha512");
    // BIP32 master key: I = HMAC-SHA512("Bitcoin seed", seed), then the hardened path 44'/0'/1'.
    const I = hmac(sha512, utf8("Bitcoin seed"), seed);
    let node: ExtendedPrivateKey | undefined = { key: I.slice(0, 32), chainCode: I.slice(32) };
    const il = toBig(node.key);
    if (il === 0n || il >= CURVE_N) invalidInput("mnemonic", "BIP32 invalid master key");
    for (const i of [44, 0, 1]) {
      node = hardenedChild(node, i);
      if (!node) invalidInput("mnemonic", "BIP32 invalid child on the holder key path");
    }
    this.account = node;
  }

  /** The key of copy `copyN` of credential `credentialN`. */
  copyKey(credentialN: number, copyN: number): KeyPair {
    for (const [field, v] of [["credentialN", credentialN], ["copyN", copyN]] as const) {
      if (!Number.isSafeInteger(v) || v < 0 || v > MAX_INDEX) invalidInput(field, `must be an integer in [0, ${MAX_INDEX}]`);
    }
    let parent = this.credentialNodes.get(credentialN);
    if (!parent) {
      parent = hardenedChild(this.account, credentialN);
      // Probability below 2^-127: the holder's next request takes the next number.
      if (!parent) invalidInput("credentialN", `no valid key at credential ${credentialN} (BIP32 invalid child); use another`);
      this.credentialNodes.set(credentialN, parent);
    }
    const child = hardenedChild(parent, copyN);
    if (!child) invalidInput("copyN", `no valid key at copy ${copyN} (BIP32 invalid child)`);
    return { secretKey: child.key, publicKey: publicKeyOf(child.key) };
  }
}
