import { expect } from "chai";
import * as bip39 from "bip39";
import { HDKey } from "@scure/bip32";
import { base58check } from "@scure/base";
import { ripemd160 } from "@noble/hashes/legacy.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { DID_KEY_PATH_PREFIX, deriveKey, generateMnemonic, randomKeyPair, validateMnemonic } from "../../../src/crypto/hd.js";
import { CryptoError, CryptoErrorCode } from "../../../src/crypto/errors.js";
import { publicKeyOf } from "../../../src/crypto/secp256k1.js";
import { TEST_MNEMONIC, expectCodedError, hex } from "../../helpers/fixtures.js";

/** Pinned: the key at m/44'/0'/0'/0/0 of the test mnemonic (its P2PKH address is the published 1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA). */
const PINNED_PUB_0 = "03aaeb52dd7494c361049de67cc680e83ebcbbbdbeb13637d92cd845f70308af5e";
const PINNED_SECRET_0 = "e284129cc0922579a535bbf4d1a3b25773090d28c909bc0fed73b5e0222cc372";
const PINNED_PUB_1 = "02dfcaec532010d704860e20ad6aff8cf3477164ffb02f93d45c552dadc70ed24f";

function p2pkhAddress(pub: Uint8Array): string {
  const h160 = ripemd160(nobleSha256(pub));
  const payload = new Uint8Array(21);
  payload.set(h160, 1);
  return base58check(nobleSha256).encode(payload);
}

describe("crypto/hd", () => {
  it("uses the BIP44 path m/44'/0'/0'/0", () => {
    expect(DID_KEY_PATH_PREFIX).to.equal("m/44'/0'/0'/0");
  });

  it("derives the pinned key at m/44'/0'/0'/0/0 of the 'abandon ... about' mnemonic", () => {
    const k = deriveKey(TEST_MNEMONIC, 0);
    expect(hex(k.publicKey)).to.equal(PINNED_PUB_0);
    expect(hex(k.secretKey)).to.equal(PINNED_SECRET_0);
    expect(hex(publicKeyOf(k.secretKey))).to.equal(PINNED_PUB_0);
    // Independent check against the widely published BIP44 address of this mnemonic.
    expect(p2pkhAddress(k.publicKey)).to.equal("1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA");
  });

  it("agrees with @scure/bip32 used directly", () => {
    const root = HDKey.fromMasterSeed(new Uint8Array(bip39.mnemonicToSeedSync(TEST_MNEMONIC)));
    for (const index of [0, 1, 7]) {
      const node = root.derive(`m/44'/0'/0'/0/${index}`);
      const k = deriveKey(TEST_MNEMONIC, index);
      expect(hex(k.publicKey), `index ${index}`).to.equal(hex(node.publicKey!));
      expect(hex(k.secretKey), `index ${index}`).to.equal(hex(node.privateKey!));
    }
    expect(hex(deriveKey(TEST_MNEMONIC, 1).publicKey)).to.equal(PINNED_PUB_1);
  });

  it("uses the BIP39 passphrase", () => {
    const plain = deriveKey(TEST_MNEMONIC, 0);
    const withPass = deriveKey(TEST_MNEMONIC, 0, "TREZOR");
    expect(hex(withPass.publicKey)).not.to.equal(hex(plain.publicKey));
    const node = HDKey.fromMasterSeed(new Uint8Array(bip39.mnemonicToSeedSync(TEST_MNEMONIC, "TREZOR"))).derive("m/44'/0'/0'/0/0");
    expect(hex(withPass.publicKey)).to.equal(hex(node.publicKey!));
  });

  it("normalizes whitespace in the mnemonic", () => {
    const messy = "  " + TEST_MNEMONIC.split(" ").join("  \t") + "\n";
    expect(hex(deriveKey(messy, 0).publicKey)).to.equal(PINNED_PUB_0);
  });

  describe("invalid mnemonics are a CryptoError BAD_MNEMONIC", () => {
    const cases: Array<[string, unknown]> = [
      ["bad checksum (twelve 'abandon')", Array(12).fill("abandon").join(" ")],
      ["word not in the list", TEST_MNEMONIC.replace(/about$/, "aboutx")],
      ["wrong word count (11)", TEST_MNEMONIC.split(" ").slice(1).join(" ")],
      ["empty", ""],
      ["not a string", 42],
    ];
    for (const [what, mnemonic] of cases) {
      it(what, () => {
        expectCodedError(() => validateMnemonic(mnemonic as string), CryptoError, CryptoErrorCode.BAD_MNEMONIC);
        expectCodedError(() => deriveKey(mnemonic as string, 0), CryptoError, CryptoErrorCode.BAD_MNEMONIC);
      });
    }

    it("accepts the valid one", () => {
      expect(() => validateMnemonic(TEST_MNEMONIC)).not.to.throw();
    });
  });

  describe("index bounds", () => {
    for (const index of [-1, 0x80000000, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      it(`refuses index ${index} with BAD_SECRET_KEY`, () => {
        expectCodedError(() => deriveKey(TEST_MNEMONIC, index), CryptoError, CryptoErrorCode.BAD_SECRET_KEY);
      });
    }

    it("accepts the highest non-hardened index 2^31 - 1, matching @scure/bip32", () => {
      const k = deriveKey(TEST_MNEMONIC, 0x7fffffff);
      const node = HDKey.fromMasterSeed(new Uint8Array(bip39.mnemonicToSeedSync(TEST_MNEMONIC))).derive("m/44'/0'/0'/0/2147483647");
      expect(hex(k.publicKey)).to.equal(hex(node.publicKey!));
    });

    it("gives different keys for different indexes", () => {
      expect(hex(deriveKey(TEST_MNEMONIC, 0).publicKey)).not.to.equal(hex(deriveKey(TEST_MNEMONIC, 1).publicKey));
    });
  });

  it("generateMnemonic gives a valid 24-word mnemonic", () => {
    const m = generateMnemonic();
    expect(m.split(" ")).to.have.length(24);
    expect(() => validateMnemonic(m)).not.to.throw();
  });

  it("randomKeyPair gives a matching key pair", () => {
    const k = randomKeyPair();
    expect(k.secretKey).to.have.length(32);
    expect(hex(publicKeyOf(k.secretKey))).to.equal(hex(k.publicKey));
  });
});
