import { expect } from "chai";
import fc from "fast-check";
import { createHash } from "node:crypto";
import {
  type SecpBackend,
  decompress,
  isHighS,
  malleate,
  nativeBackend,
  nobleBackend,
  publicKeyOf,
  secp,
  signDigest,
  verifyDigest,
} from "../../../src/crypto/secp256k1.js";
import { sha256, sha256Parts, sha256Reference } from "../../../src/crypto/hash.js";
import { CryptoError, CryptoErrorCode } from "../../../src/crypto/errors.js";
import { concatBytes, utf8 } from "../../../src/crypto/bytes.js";
import { expectCodedError, hex, unhex } from "../../helpers/fixtures.js";

/** Order of secp256k1 (SEC 2, 2.4.1), written out here independently of src. */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function bigToBytes32(n: bigint): Uint8Array {
  return unhex(n.toString(16).padStart(64, "0"));
}

const SK1 = new Uint8Array(32).fill(1);
const SK2 = new Uint8Array(32).fill(2);
const DIGEST = sha256(utf8("sid known answer"));

const backends: Array<{ name: string; backend: SecpBackend | undefined }> = [
  { name: "noble", backend: nobleBackend },
  { name: "native", backend: nativeBackend },
];

if (!nativeBackend) {
  console.log("    [secp256k1.test] native secp256k1 addon did not load: native backend cases are skipped");
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

/** Garbage public keys: each must make verify return false, never throw. */
const GARBAGE_KEYS: Array<[string, Uint8Array]> = [
  ["33 zero bytes", new Uint8Array(33)],
  ["prefix 02 with x = 0 (not on the curve)", concatBytes(Uint8Array.of(2), new Uint8Array(32))],
  ["prefix 02 with x = p (out of field)", unhex("02fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f")],
  ["bad prefix 05", concatBytes(Uint8Array.of(5), publicKeyOf(SK1).subarray(1))],
  ["10 bytes", new Uint8Array(10).fill(3)],
  ["empty", new Uint8Array(0)],
  ["65 zero bytes", new Uint8Array(65)],
];

describe("crypto/secp256k1", () => {
  describe("known answers", () => {
    it("public key of secret key 1 is the generator G", () => {
      const one = new Uint8Array(32);
      one[31] = 1;
      expect(hex(publicKeyOf(one))).to.equal("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
    });

    it("signs sha256('Satoshi Nakamoto') with key 1 as the published RFC 6979 low-S vector", () => {
      const one = new Uint8Array(32);
      one[31] = 1;
      const digest = sha256(utf8("Satoshi Nakamoto"));
      expect(hex(signDigest(digest, one))).to.equal(
        "934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8" +
          "2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5",
      );
    });

    it("pins the signature of a fixed digest by the key 0x01*32", () => {
      expect(hex(DIGEST)).to.equal("dd58bd66c815b514550ade0e9ce10431f4561efee3351b087cf2eec079d999bc");
      expect(hex(publicKeyOf(SK1))).to.equal("031b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f");
      expect(hex(signDigest(DIGEST, SK1))).to.equal(
        "8255a899bfeccd5a9df7a7395888428aafc6e1240efbb90e4291909304f3271e" +
          "15bc0850e646f06bfae73394a0377195427a8a3e842e28892216d584dc30b3f4",
      );
    });
  });

  for (const { name, backend } of backends) {
    describe(`${name} backend`, () => {
      let b: SecpBackend;
      before(function () {
        if (!backend) {
          console.log(`    skipping ${name} backend: the native secp256k1 addon did not load`);
          this.skip();
        }
        b = backend;
      });

      it("reports its name", () => {
        expect(b.name).to.equal(name);
      });

      it("accepts a valid signature", () => {
        const sig = b.sign(DIGEST, SK1);
        expect(sig).to.have.length(64);
        expect(b.verify(sig, DIGEST, b.publicKey(SK1))).to.equal(true);
      });

      it("rejects a signature checked against another key", () => {
        const sig = b.sign(DIGEST, SK1);
        expect(b.verify(sig, DIGEST, b.publicKey(SK2))).to.equal(false);
      });

      it("rejects when one bit of the message flips", () => {
        const sig = b.sign(DIGEST, SK1);
        const pub = b.publicKey(SK1);
        for (const bit of [0, 7, 100, 255]) expect(b.verify(sig, flipBit(DIGEST, bit), pub), `bit ${bit}`).to.equal(false);
      });

      it("rejects when one byte of the signature flips", () => {
        const sig = b.sign(DIGEST, SK1);
        const pub = b.publicKey(SK1);
        for (const i of [0, 31, 32, 63]) {
          const bad = sig.slice();
          bad[i]! ^= 0x01;
          expect(b.verify(bad, DIGEST, pub), `byte ${i}`).to.equal(false);
        }
      });

      it("rejects the high-S twin of a valid signature (low-S rule)", () => {
        const sig = b.sign(DIGEST, SK1);
        const twin = malleate(sig);
        expect(isHighS(sig)).to.equal(false);
        expect(isHighS(twin)).to.equal(true);
        expect(b.verify(twin, DIGEST, b.publicKey(SK1))).to.equal(false);
      });

      it("returns false, never throws, for garbage public keys", () => {
        const sig = b.sign(DIGEST, SK1);
        for (const [what, pub] of GARBAGE_KEYS) {
          let result: boolean | undefined;
          expect(() => (result = b.verify(sig, DIGEST, pub)), what).not.to.throw();
          expect(result, what).to.equal(false);
          expect(b.isValidPublicKey(pub), what).to.equal(false);
        }
      });

      it("returns false, never throws, for garbage signatures", () => {
        const pub = b.publicKey(SK1);
        for (const sig of [new Uint8Array(64), new Uint8Array(64).fill(0xff), new Uint8Array(10)]) {
          let result: boolean | undefined;
          expect(() => (result = b.verify(sig, DIGEST, pub))).not.to.throw();
          expect(result).to.equal(false);
        }
      });

      it("derives compressed public keys and recognizes valid ones", () => {
        const pub = b.publicKey(SK1);
        expect(pub).to.have.length(33);
        expect(b.isValidPublicKey(pub)).to.equal(true);
      });
    });
  }

  describe("both backends agree", () => {
    let native: SecpBackend;
    before(function () {
      if (!nativeBackend) {
        console.log("    skipping backend agreement: the native secp256k1 addon did not load");
        this.skip();
      }
      native = nativeBackend;
    });

    it("produce identical deterministic (RFC 6979) signatures", () => {
      for (const sk of [SK1, SK2, bigToBytes32(N - 1n)]) {
        const a = nobleBackend.sign(DIGEST, sk);
        expect(hex(native.sign(DIGEST, sk))).to.equal(hex(a));
        expect(hex(nobleBackend.sign(DIGEST, sk)), "deterministic").to.equal(hex(a));
      }
    });

    it("agree on keys, signatures and verification over random keys and digests", () => {
      fc.assert(
        fc.property(
          fc.bigInt(1n, N - 1n),
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.nat(255),
          (k, digest, bit) => {
            const sk = bigToBytes32(k);
            const pubN = nobleBackend.publicKey(sk);
            expect(hex(native.publicKey(sk))).to.equal(hex(pubN));
            const sigN = nobleBackend.sign(digest, sk);
            const sigX = native.sign(digest, sk);
            expect(hex(sigX)).to.equal(hex(sigN));
            expect(isHighS(sigN)).to.equal(false);
            for (const b of [nobleBackend, native]) {
              expect(b.verify(sigN, digest, pubN), `${b.name} valid`).to.equal(true);
              expect(b.verify(malleate(sigN), digest, pubN), `${b.name} high-S`).to.equal(false);
              expect(b.verify(sigN, flipBit(digest, bit), pubN), `${b.name} flipped`).to.equal(false);
            }
          },
        ),
        { numRuns: 60 },
      );
    });

    it("agree on compressing points: the same 33 bytes for curve points, undefined for anything else", () => {
      fc.assert(
        fc.property(fc.bigInt(1n, N - 1n), fc.nat(64), fc.integer({ min: 1, max: 255 }), (k, at, xor) => {
          const point = nobleBackend.publicKey(bigToBytes32(k));
          const raw = decompress(point);
          const uncompressed = Uint8Array.from([4, ...raw.x, ...raw.y]);
          for (const b of [nobleBackend, native]) expect(hex(b.compress(uncompressed)!), b.name).to.equal(hex(point));
          const bent = uncompressed.slice();
          bent[at]! ^= xor; // off the curve (or no longer an uncompressed point) in all but negligibly many cases
          expect(native.compress(bent) === undefined).to.equal(nobleBackend.compress(bent) === undefined);
        }),
        { numRuns: 60 },
      );
      expect(native.compress(new Uint8Array(33))).to.equal(undefined);
      expect(nobleBackend.compress(new Uint8Array(65))).to.equal(undefined);
    });

    it("agree on verify for arbitrary (possibly invalid) signatures and keys", () => {
      const pub = publicKeyOf(SK1);
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 64, maxLength: 64 }),
          fc.oneof(fc.constant(pub), fc.uint8Array({ minLength: 33, maxLength: 33 })),
          (sig, key) => {
            expect(native.verify(sig, DIGEST, key)).to.equal(nobleBackend.verify(sig, DIGEST, key));
          },
        ),
        { numRuns: 100 },
      );
    });
  });

  describe("module functions over the chosen backend", () => {
    it("uses one of the two backends", () => {
      expect(["native", "noble"]).to.include(secp.name);
    });

    it("verifyDigest accepts a valid signature and rejects bad lengths without throwing", () => {
      const sig = signDigest(DIGEST, SK1);
      const pub = publicKeyOf(SK1);
      expect(verifyDigest(sig, DIGEST, pub)).to.equal(true);
      expect(verifyDigest(sig.subarray(0, 63), DIGEST, pub)).to.equal(false);
      expect(verifyDigest(sig, DIGEST.subarray(0, 31), pub)).to.equal(false);
      expect(verifyDigest(sig, DIGEST, new Uint8Array(65))).to.equal(false);
      expect(verifyDigest(malleate(sig), DIGEST, pub)).to.equal(false);
    });

    it("malleate is an involution and keeps r", () => {
      const sig = signDigest(DIGEST, SK1);
      const twin = malleate(sig);
      expect(hex(twin.subarray(0, 32))).to.equal(hex(sig.subarray(0, 32)));
      expect(hex(malleate(twin))).to.equal(hex(sig));
    });

    it("isHighS splits at n/2", () => {
      const sig = new Uint8Array(64);
      sig.set(bigToBytes32(N >> 1n), 32);
      expect(isHighS(sig)).to.equal(false);
      sig.set(bigToBytes32((N >> 1n) + 1n), 32);
      expect(isHighS(sig)).to.equal(true);
    });

    it("signDigest and publicKeyOf refuse bad inputs with a CryptoError", () => {
      expectCodedError(() => signDigest(new Uint8Array(31), SK1), CryptoError, CryptoErrorCode.BAD_ENCODING);
      expectCodedError(() => signDigest(DIGEST, new Uint8Array(31)), CryptoError, CryptoErrorCode.BAD_SECRET_KEY);
      expectCodedError(() => publicKeyOf(new Uint8Array(32)), CryptoError, CryptoErrorCode.BAD_SECRET_KEY);
      expectCodedError(() => publicKeyOf(bigToBytes32(N)), CryptoError, CryptoErrorCode.BAD_SECRET_KEY);
      expectCodedError(() => publicKeyOf(new Uint8Array(33)), CryptoError, CryptoErrorCode.BAD_SECRET_KEY);
    });
  });
});

describe("crypto/hash", () => {
  it("sha256 matches the FIPS 180-2 'abc' vector", () => {
    expect(hex(sha256(utf8("abc")))).to.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hex(sha256(new Uint8Array(0)))).to.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("sha256 equals sha256Reference on random inputs", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        expect(hex(sha256(data))).to.equal(hex(sha256Reference(data)));
      }),
      { numRuns: 200 },
    );
  });

  it("sha256 of a subarray hashes only the view", () => {
    const big = new Uint8Array(100).map((_, i) => i);
    const view = big.subarray(10, 20);
    expect(hex(sha256(view))).to.equal(hex(sha256Reference(big.slice(10, 20))));
  });

  it("sha256Parts equals sha256 of the concatenation", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }), (parts) => {
        const whole = concatBytes(...parts);
        expect(hex(sha256Parts(...parts))).to.equal(hex(sha256(whole)));
        expect(hex(sha256Parts(...parts))).to.equal(createHash("sha256").update(whole).digest("hex"));
      }),
      { numRuns: 100 },
    );
  });
});
