/**
 * The 8-byte big-endian numbers in the store's keys: the same bytes as the
 * 64-bit integer LevelDB orders them by, read back to the same number, and
 * a value a number cannot hold exactly refused rather than written wrong.
 */
import { expect } from "chai";
import { readU32be, readU64be, u32be, u64be } from "../../../src/chain/buckets.js";
import { hex } from "../../helpers/fixtures.js";

/** The reference encoding: the integer as an unsigned 64-bit BigInt. */
function reference(n: number): string {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return hex(b);
}

describe("chain/buckets: u64be", () => {
  const edges = [0, 1, 255, 256, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 12345, 2 ** 52, Number.MAX_SAFE_INTEGER, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64 - 2 ** 11];

  it("writes the bytes of the unsigned 64-bit integer, and reads them back", () => {
    const random = Array.from({ length: 2000 }, (_, i) => Math.floor(Math.random() * 2 ** (1 + (i % 53))));
    for (const n of [...edges, ...random]) {
      const b = u64be(n);
      expect(hex(b), String(n)).to.equal(reference(n));
      expect(readU64be(b), String(n)).to.equal(n);
    }
  });

  it("orders bytewise as the numbers do", () => {
    const sorted = edges.map((n) => hex(u64be(n)));
    expect([...sorted].sort()).to.deep.equal(sorted);
  });

  it("reads at an offset, in a view of a larger buffer", () => {
    const n = 2 ** 45 + 987654321;
    const buf = new Uint8Array(32);
    buf.set(u64be(n), 13);
    expect(readU64be(buf.subarray(12), 1)).to.equal(n);
    expect(readU64be(buf, 13)).to.equal(n);
  });

  it("writes every integer a number holds up to 2^64 - 1 (a cursor of MAX_SAFE_INTEGER + 1 too), and refuses the rest", () => {
    expect(hex(u64be(Number.MAX_SAFE_INTEGER + 1))).to.equal("0020000000000000");
    for (const bad of [-1, -0.5, 0.5, 2 ** 64, NaN, Infinity, -Infinity]) {
      expect(() => u64be(bad), String(bad)).to.throw(RangeError, /integer from 0 to 2\^64 - 1/);
    }
  });

  it("reads a value past 2^53 as the nearest number, as a BigInt converted would", () => {
    for (const big of [2n ** 53n + 1n, 2n ** 63n + 2n ** 11n + 1n, 2n ** 64n - 1n]) {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, big);
      expect(readU64be(b)).to.equal(Number(big));
    }
  });

  it("refuses to read past the end of the bytes", () => {
    expect(() => readU64be(new Uint8Array(7))).to.throw(RangeError);
    expect(() => readU64be(new Uint8Array(16), 9)).to.throw(RangeError);
    expect(() => readU32be(new Uint8Array(3))).to.throw(RangeError);
    expect(readU64be(new Uint8Array(16), 8)).to.equal(0);
  });
});

describe("chain/buckets: u32be", () => {
  it("writes the bytes of the unsigned 32-bit integer, and reads them back (at an offset too)", () => {
    for (const n of [0, 1, 255, 256, 65535, 2 ** 24 + 7, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, n);
      expect(hex(u32be(n)), String(n)).to.equal(hex(b));
      const at = new Uint8Array(9);
      at.set(u32be(n), 5);
      expect(readU32be(at, 5), String(n)).to.equal(n);
    }
  });
});
