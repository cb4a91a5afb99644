import { expect } from "chai";
import fc from "fast-check";
import { base58, base64 } from "@scure/base";
import {
  base58btcDecode,
  base58btcEncode,
  base64urlDecode,
  base64urlEncode,
  jwkToPublicKey,
  multibaseToPublicKey,
  publicKeyToJwk,
  publicKeyToMultibase,
} from "../../../src/crypto/encoding.js";
import { fromBase64, fromHex, toBase64, toHex } from "../../../src/crypto/bytes.js";
import { CryptoError, CryptoErrorCode } from "../../../src/crypto/errors.js";
import { publicKeyOf } from "../../../src/crypto/secp256k1.js";
import { expectCodedError, hex } from "../../helpers/fixtures.js";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const PUB1 = publicKeyOf(new Uint8Array(32).fill(1));
/** Pinned JWK of the key with secret 0x01*32 (same as test/unit/did/document.test.ts). */
const PINNED_JWK = {
  kty: "EC",
  crv: "secp256k1",
  x: "G4TFVnsSZECZXT7VqroFZdceGDRgSBn_nBf16dXdB48",
  y: "cL6vj1iLVBUH_tamQsWrQt_fgSCn9jneUSLUemmo6NE",
};

const randomPub = fc.bigInt(1n, N - 1n).map((k) => publicKeyOf(new Uint8Array(Buffer.from(k.toString(16).padStart(64, "0"), "hex"))));

function badKey(fn: () => unknown): CryptoError {
  return expectCodedError(fn, CryptoError, CryptoErrorCode.BAD_PUBLIC_KEY);
}

describe("crypto/encoding", () => {
  describe("JWK", () => {
    it("encodes the pinned JWK", () => {
      expect(publicKeyToJwk(PUB1)).to.deep.equal(PINNED_JWK);
    });

    it("round-trips random keys", () => {
      fc.assert(
        fc.property(randomPub, (pub) => {
          const jwk = publicKeyToJwk(pub);
          expect(jwk.kty).to.equal("EC");
          expect(jwk.crv).to.equal("secp256k1");
          expect(hex(jwkToPublicKey(jwk))).to.equal(hex(pub));
        }),
        { numRuns: 50 },
      );
    });

    it("refuses a JWK with a private member d", () => {
      const e = badKey(() => jwkToPublicKey({ ...PINNED_JWK, d: "AAAA" }));
      expect(e.message).to.match(/private key/);
    });

    it("refuses a point not on the curve", () => {
      const y = base64urlDecode(PINNED_JWK.y);
      y[31]! ^= 1;
      const e = badKey(() => jwkToPublicKey({ ...PINNED_JWK, y: base64urlEncode(y) }));
      expect(e.message).to.match(/not on secp256k1/);
    });

    it("refuses other curves, key types, shapes and coordinate lengths", () => {
      badKey(() => jwkToPublicKey({ ...PINNED_JWK, crv: "P-256" }));
      badKey(() => jwkToPublicKey({ ...PINNED_JWK, kty: "OKP" }));
      badKey(() => jwkToPublicKey({ ...PINNED_JWK, x: undefined }));
      badKey(() => jwkToPublicKey({ ...PINNED_JWK, x: base64urlEncode(new Uint8Array(31)) }));
      badKey(() => jwkToPublicKey(null));
      badKey(() => jwkToPublicKey([PINNED_JWK]));
      badKey(() => jwkToPublicKey("jwk"));
    });

    it("refuses an invalid public key when encoding", () => {
      badKey(() => publicKeyToJwk(new Uint8Array(33)));
      badKey(() => publicKeyToJwk(new Uint8Array(65)));
    });
  });

  describe("Multikey multibase", () => {
    it("starts with zQ3s and round-trips", () => {
      fc.assert(
        fc.property(randomPub, (pub) => {
          const mb = publicKeyToMultibase(pub);
          expect(mb.startsWith("zQ3s")).to.equal(true);
          expect(hex(multibaseToPublicKey(mb))).to.equal(hex(pub));
        }),
        { numRuns: 50 },
      );
    });

    it("is 'z' + base58btc(0xe7 0x01 || key)", () => {
      const mb = publicKeyToMultibase(PUB1);
      const raw = base58.decode(mb.slice(1));
      expect(hex(raw)).to.equal("e701" + hex(PUB1));
    });

    it("refuses a wrong multicodec", () => {
      const ed25519 = "z" + base58.encode(Uint8Array.of(0xed, 0x01, ...PUB1));
      const e = badKey(() => multibaseToPublicKey(ed25519));
      expect(e.message).to.match(/multicodec/);
      badKey(() => multibaseToPublicKey("z" + base58.encode(Uint8Array.of(0xe7, 0x02, ...PUB1))));
    });

    it("refuses a wrong prefix, length, or a key off the curve", () => {
      badKey(() => multibaseToPublicKey("f" + hex(Uint8Array.of(0xe7, 0x01, ...PUB1))));
      badKey(() => multibaseToPublicKey(42));
      badKey(() => multibaseToPublicKey("z" + base58.encode(Uint8Array.of(0xe7, 0x01, ...PUB1.subarray(0, 32)))));
      badKey(() => multibaseToPublicKey("z" + base58.encode(Uint8Array.of(0xe7, 0x01, 0x02, ...new Uint8Array(32)))));
      expectCodedError(() => multibaseToPublicKey("z0OIl"), CryptoError, CryptoErrorCode.BAD_ENCODING);
    });
  });

  describe("base encodings", () => {
    it("base58btc round-trips and refuses invalid characters", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
          expect(hex(base58btcDecode(base58btcEncode(b)))).to.equal(hex(b));
        }),
      );
      expectCodedError(() => base58btcDecode("0OIl"), CryptoError, CryptoErrorCode.BAD_ENCODING);
    });

    it("base64url round-trips without padding and refuses padding", () => {
      expect(base64urlEncode(Uint8Array.of(0xfb, 0xff))).to.equal("-_8");
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
          expect(hex(base64urlDecode(base64urlEncode(b)))).to.equal(hex(b));
        }),
      );
      expectCodedError(() => base64urlDecode("-_8="), CryptoError, CryptoErrorCode.BAD_ENCODING);
    });

    it("hex and base64 round-trip; malformed text is BAD_ENCODING", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
          expect(hex(fromHex(toHex(b)))).to.equal(hex(b));
          expect(hex(fromBase64(toBase64(b)))).to.equal(hex(b));
        }),
      );
      expectCodedError(() => fromHex("ABCD"), CryptoError, CryptoErrorCode.BAD_ENCODING);
      expectCodedError(() => fromHex("abc"), CryptoError, CryptoErrorCode.BAD_ENCODING);
      expectCodedError(() => fromHex("abcd", 3), CryptoError, CryptoErrorCode.BAD_ENCODING);
      expectCodedError(() => fromBase64("a"), CryptoError, CryptoErrorCode.BAD_ENCODING);
    });

    it("fromBase64 accepts and refuses exactly what a strict RFC 4648 decoder does, with the same bytes", () => {
      const strict = (t: string): string | undefined => {
        try {
          return hex(base64.decode(t));
        } catch {
          return undefined;
        }
      };
      const ours = (t: string): string | undefined => {
        try {
          return hex(fromBase64(t));
        } catch (e) {
          expect(e).to.be.instanceOf(CryptoError);
          return undefined;
        }
      };
      const alphabet = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n".split(""));
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: alphabet, maxLength: 24 }), fc.uint8Array({ maxLength: 30 }).map(toBase64)), fc.nat(), fc.constantFrom("", "=", "A", " ", "QR=="), (t, at, extra) => {
          for (const v of [t, t.slice(0, at % (t.length + 1)) + extra + t.slice(at % (t.length + 1))]) expect(ours(v), JSON.stringify(v)).to.equal(strict(v));
        }),
        { numRuns: 3000 },
      );
      for (const t of ["", "QQ==", "QR==", "QUI=", "QUJ=", "QUJD", "Q===", "QQ=", "QQ", "QUJD\n"]) expect(ours(t), t).to.equal(strict(t));
    });
  });
});
