import { expect } from "chai";
import { createHash } from "node:crypto";
import { base58 } from "@scure/base";
import { publicKeyOf, toHex } from "../../../src/crypto/index.js";
import { DidError, DidErrorCode } from "../../../src/did/errors.js";
import {
  DID_ID_BYTES,
  DID_PREFIX,
  didFromCheckedKey,
  didFromPublicKey,
  isValidDid,
  parseDid,
  parseDidUrlWithFragment,
} from "../../../src/did/syntax.js";

/** Known answer: secret key 0x01 * 32 (pinned once; a change here breaks every existing DID). */
const SK_ONES = new Uint8Array(32).fill(1);
const PK_ONES_HEX = "031b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f";
const DID_ONES = "did:sid:4NQ2u8mQ21B3eTrFKHaHvu5YLBor";

function expectDidError(fn: () => unknown, code: DidErrorCode, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(DidError);
    expect((err as DidError).code).to.equal(code);
    expect((err as DidError).message).to.match(pattern);
    return;
  }
  expect.fail("expected a DidError");
}

describe("did/syntax", () => {
  describe("didFromPublicKey", () => {
    it("derives the pinned DID of a fixed key (known answer)", () => {
      const pk = publicKeyOf(SK_ONES);
      expect(toHex(pk)).to.equal(PK_ONES_HEX);
      expect(didFromPublicKey(pk)).to.equal(DID_ONES);
    });

    it("matches an independent computation: base58btc(sha256(key)[0..20])", () => {
      const pk = publicKeyOf(SK_ONES);
      const digest = createHash("sha256").update(pk).digest();
      expect(DID_PREFIX + base58.encode(new Uint8Array(digest.subarray(0, DID_ID_BYTES)))).to.equal(DID_ONES);
    });

    it("didFromCheckedKey derives the same DID for a valid key, without the curve check", () => {
      for (const fill of [1, 2, 3]) {
        const pk = publicKeyOf(new Uint8Array(32).fill(fill));
        expect(didFromCheckedKey(pk)).to.equal(didFromPublicKey(pk));
      }
    });

    it("different keys give different DIDs", () => {
      const other = didFromPublicKey(publicKeyOf(new Uint8Array(32).fill(2)));
      expect(other).to.not.equal(DID_ONES);
      expect(isValidDid(other)).to.equal(true);
    });

    it("refuses keys that are not 33-byte compressed points", () => {
      expect(() => didFromPublicKey(new Uint8Array(32))).to.throw(/33-byte/);
      const bad = new Uint8Array(33);
      bad[0] = 2; // x = 0 is not on the curve
      expect(() => didFromPublicKey(bad)).to.throw(/not a point/);
    });
  });

  describe("parseDid", () => {
    it("answers the same for a DID it has seen before, and a caller cannot change what it remembers", () => {
      const first = parseDid(DID_ONES);
      first.idBytes.fill(0);
      const again = parseDid(DID_ONES);
      expect(base58.encode(again.idBytes)).to.equal(DID_ONES.slice(DID_PREFIX.length));
      // A near miss of a remembered DID is still refused.
      expectDidError(() => parseDid(DID_ONES + "1"), DidErrorCode.INVALID_DID, /base58|bytes/);
      expectDidError(() => parseDid(DID_ONES.slice(0, -1) + "0"), DidErrorCode.INVALID_DID, /base58/);
    });

    it("accepts the known-answer DID and returns its 20 id bytes", () => {
      const { did, idBytes } = parseDid(DID_ONES);
      expect(did).to.equal(DID_ONES);
      expect(idBytes).to.have.length(DID_ID_BYTES);
      const digest = createHash("sha256").update(publicKeyOf(SK_ONES)).digest();
      expect(toHex(idBytes)).to.equal(digest.subarray(0, 20).toString("hex"));
    });

    it("rejects another DID method", () => {
      expectDidError(() => parseDid("did:web:4NQ2u8mQ21B3eTrFKHaHvu5YLBor"), DidErrorCode.INVALID_DID, /not a did:sid DID/);
      expectDidError(() => parseDid("DID:sid:4NQ2u8mQ21B3eTrFKHaHvu5YLBor"), DidErrorCode.INVALID_DID, /not a did:sid DID/);
    });

    for (const ch of ["0", "O", "I", "l"]) {
      it(`rejects the non-base58 character ${JSON.stringify(ch)}`, () => {
        const bad = DID_ONES.slice(0, -1) + ch;
        expectDidError(() => parseDid(bad), DidErrorCode.INVALID_DID, /base58btc/);
      });
    }

    it("rejects ids that encode the wrong number of bytes", () => {
      const short = DID_PREFIX + base58.encode(new Uint8Array(19).fill(7));
      const long = DID_PREFIX + base58.encode(new Uint8Array(21).fill(7));
      expectDidError(() => parseDid(short), DidErrorCode.INVALID_DID, /exactly 20 bytes/);
      expectDidError(() => parseDid(long), DidErrorCode.INVALID_DID, /base58btc|exactly 20 bytes/);
      expectDidError(() => parseDid("did:sid:1" + DID_ONES.slice(8)), DidErrorCode.INVALID_DID, /base58btc|exactly 20 bytes/);
    });

    it("rejects an empty id, paths, queries and fragments", () => {
      expectDidError(() => parseDid("did:sid:"), DidErrorCode.INVALID_DID, /base58btc/);
      expectDidError(() => parseDid(DID_ONES + "#key-1"), DidErrorCode.INVALID_DID, /base58btc/);
      expectDidError(() => parseDid(DID_ONES + "/path"), DidErrorCode.INVALID_DID, /base58btc/);
      expectDidError(() => parseDid(DID_ONES + "?q=1"), DidErrorCode.INVALID_DID, /base58btc/);
    });

    it("rejects non-strings", () => {
      for (const v of [undefined, null, 42, {}, [DID_ONES], new TextEncoder().encode(DID_ONES)]) {
        expectDidError(() => parseDid(v), DidErrorCode.INVALID_DID, /must be a string/);
        expect(isValidDid(v)).to.equal(false);
      }
    });

    it("rejects overlong input before parsing it", () => {
      expectDidError(() => parseDid(DID_PREFIX + "a".repeat(100)), DidErrorCode.INVALID_DID, /too long/);
      expectDidError(() => parseDid("x".repeat(1_000_000)), DidErrorCode.INVALID_DID, /too long/);
    });
  });

  describe("parseDidUrlWithFragment", () => {
    it("splits a DID URL into DID and fragment", () => {
      expect(parseDidUrlWithFragment(`${DID_ONES}#key-1`)).to.deep.equal({ did: DID_ONES, fragment: "key-1" });
      expect(parseDidUrlWithFragment(`${DID_ONES}#a.b_c~d-9`)).to.deep.equal({ did: DID_ONES, fragment: "a.b_c~d-9" });
    });

    it("requires a fragment", () => {
      expectDidError(() => parseDidUrlWithFragment(DID_ONES), DidErrorCode.INVALID_DID, /no fragment/);
    });

    it("rejects empty, overlong and out-of-charset fragments", () => {
      for (const frag of ["", "a".repeat(65), "key 1", "key#1", "k/1", "k?1", "ключ", "a%20b"]) {
        expectDidError(() => parseDidUrlWithFragment(`${DID_ONES}#${frag}`), DidErrorCode.INVALID_DID, /fragment/);
      }
      expect(parseDidUrlWithFragment(`${DID_ONES}#${"a".repeat(64)}`).fragment).to.have.length(64);
    });

    it("rejects a bad DID part and non-strings", () => {
      expectDidError(() => parseDidUrlWithFragment("did:web:example.com#key-1"), DidErrorCode.INVALID_DID, /did:sid/);
      expectDidError(() => parseDidUrlWithFragment("#key-1"), DidErrorCode.INVALID_DID, /did:sid/);
      expectDidError(() => parseDidUrlWithFragment(7), DidErrorCode.INVALID_DID, /must be a string/);
    });
  });
});
