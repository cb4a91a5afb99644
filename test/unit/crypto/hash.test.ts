/**
 * sha256 through node:crypto, sha256Parts without concatenation, and the
 * pure-JS reference: the same digests, known answers from FIPS 180-2.
 */
import { expect } from "chai";
import fc from "fast-check";
import { concatBytes, toHex, utf8 } from "../../../src/crypto/bytes.js";
import { sha256, sha256Parts, sha256Reference } from "../../../src/crypto/hash.js";

describe("crypto/hash", () => {
  it("known answers (FIPS 180-2 examples, and the empty string)", () => {
    expect(toHex(sha256(utf8("abc")))).to.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(toHex(sha256(new Uint8Array(0)))).to.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(toHex(sha256(utf8("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))).to.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });

  it("hashes a view's own bytes, and returns a 32-byte Uint8Array", () => {
    const backing = utf8("xxabcxx");
    const d = sha256(backing.subarray(2, 5));
    expect(d).to.be.instanceOf(Uint8Array);
    expect(d).to.have.length(32);
    expect(toHex(d)).to.equal(toHex(sha256(utf8("abc"))));
  });

  it("sha256, sha256Parts and the reference agree on any input and any split", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 5 }), (parts) => {
        const whole = concatBytes(...parts);
        const d = toHex(sha256(whole));
        expect(toHex(sha256Parts(...parts))).to.equal(d);
        expect(toHex(sha256Reference(whole))).to.equal(d);
      }),
    );
  });

  it("sha256Parts agrees with the reference past the length it joins parts up to", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 300, maxLength: 700 }), { minLength: 1, maxLength: 4 }), (parts) => {
        expect(toHex(sha256Parts(...parts))).to.equal(toHex(sha256Reference(concatBytes(...parts))));
      }),
      { numRuns: 50 },
    );
  });
});
