/**
 * The byte helpers every room uses: hex (lowercase, even, optional exact
 * length), views into larger buffers, concatenation, equality and order on
 * both the short (loop) and long (native) paths, agreeing with each other.
 */
import { expect } from "chai";
import fc from "fast-check";
import { allocBytes, bytesEqual, compareBytes, concatBytes, fromHex, toHex, utf8 } from "../../../src/crypto/bytes.js";
import { CryptoError, CryptoErrorCode } from "../../../src/crypto/errors.js";

function badEncoding(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(CryptoError);
    expect((e as CryptoError).code).to.equal(CryptoErrorCode.BAD_ENCODING);
    expect((e as CryptoError).message).to.match(message);
    return;
  }
  expect.fail("expected BAD_ENCODING");
}

describe("crypto/bytes", () => {
  it("toHex reads only the view's own bytes of a larger buffer", () => {
    const backing = Uint8Array.from([0xaa, 0x01, 0x02, 0x03, 0xbb]);
    expect(toHex(backing.subarray(1, 4))).to.equal("010203");
    expect(toHex(new Uint8Array(0))).to.equal("");
  });

  it("fromHex takes lowercase hex of even length, and an exact length when asked", () => {
    expect(Array.from(fromHex("00ff10"))).to.deep.equal([0, 255, 16]);
    expect(fromHex("", 0)).to.have.length(0);
    expect(fromHex("abcd", 2)).to.have.length(2);
    for (const bad of ["ABCD", "abc", "0x00", "zz", " 00", "00 "]) badEncoding(() => fromHex(bad), /lowercase hex/);
    badEncoding(() => fromHex(7 as never), /lowercase hex/);
    badEncoding(() => fromHex("abcd", 3), /expected 3 bytes of hex, got 2/);
  });

  it("hex round-trips any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        expect(Array.from(fromHex(toHex(b)))).to.deep.equal(Array.from(b));
      }),
    );
  });

  it("concatBytes joins in order, empty parts included", () => {
    expect(Array.from(concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3)))).to.deep.equal([1, 2, 3]);
    expect(concatBytes()).to.have.length(0);
    const a = Uint8Array.of(9);
    const joined = concatBytes(a);
    joined[0] = 1;
    expect(a[0]).to.equal(9, "a copy, not a view");
  });

  it("bytesEqual agrees with a byte-by-byte comparison on both sides of 64 bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 60, maxLength: 70 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (a, at, flip) => {
        const b = Uint8Array.from(a);
        expect(bytesEqual(a, b)).to.equal(true);
        b[at % b.length] ^= flip;
        expect(bytesEqual(a, b)).to.equal(false);
        expect(bytesEqual(a, a.subarray(1))).to.equal(false);
      }),
    );
  });

  it("compareBytes orders lexicographically, a prefix first", () => {
    expect(compareBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).to.be.lessThan(0);
    expect(compareBytes(Uint8Array.of(2), Uint8Array.of(1, 255))).to.be.greaterThan(0);
    expect(compareBytes(Uint8Array.of(1), Uint8Array.of(1, 0))).to.be.lessThan(0);
    expect(compareBytes(Uint8Array.of(), Uint8Array.of())).to.equal(0);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (a, b) => {
        expect(Math.sign(compareBytes(a, b))).to.equal(-Math.sign(compareBytes(b, a)));
        expect(compareBytes(a, b) === 0).to.equal(bytesEqual(a, b));
        // Same order as the hex strings (equal-length hex per byte keeps lexicographic order).
        expect(Math.sign(compareBytes(a, b))).to.equal(Math.sign(toHex(a) < toHex(b) ? -1 : toHex(a) > toHex(b) ? 1 : 0));
      }),
    );
  });

  it("utf8 encodes text as UTF-8", () => {
    expect(Array.from(utf8("é€"))).to.deep.equal([0xc3, 0xa9, 0xe2, 0x82, 0xac]);
  });

  describe("allocBytes", () => {
    it("gives zero bytes of the length asked for, none of them shared with another call", () => {
      const got: Uint8Array[] = [];
      // Enough to cross several pools, with sizes that are not multiples of 8.
      for (let i = 0; i < 3000; i++) {
        const n = [0, 1, 7, 8, 9, 41, 65, 130, 1024][i % 9]!;
        const b = allocBytes(n);
        expect(b.length).to.equal(n);
        expect(b.every((x) => x === 0), `call ${i}`).to.equal(true);
        expect(b.byteOffset % 8).to.equal(0);
        b.fill(0xff);
        got.push(b);
      }
      // Each came back all zeros though every earlier one had been filled: none overlaps an earlier one. And all are still filled.
      for (const b of got) expect(b.every((x) => x === 0xff)).to.equal(true);
    });

    it("carves small requests from one shared buffer", () => {
      const a = allocBytes(65);
      const b = allocBytes(65);
      // b starts a new pool only when a filled the last one.
      if (b.byteOffset !== 0) {
        expect(b.buffer).to.equal(a.buffer);
        expect(b.byteOffset).to.equal(a.byteOffset + 72);
      }
      expect(a.buffer.byteLength).to.equal(16 * 1024);
    });

    it("gives larger requests a buffer of their own, and refuses what new Uint8Array refuses", () => {
      const big = allocBytes(1025);
      expect(big.byteOffset).to.equal(0);
      expect(big.buffer.byteLength).to.equal(1025);
      for (const bad of [-1, 2 ** 53]) expect(() => allocBytes(bad), String(bad)).to.throw(RangeError);
      expect(allocBytes(1.5).length).to.equal(new Uint8Array(1.5).length);
    });
  });
});
