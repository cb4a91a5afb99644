import { expect } from "chai";
import fc from "fast-check";
import { createSign, generateKeyPairSync } from "node:crypto";
import { deflateSync } from "node:zlib";
import { base64urlEncode } from "../../../src/crypto/encoding.js";
import { utf8 } from "../../../src/crypto/bytes.js";
import { isHighS, malleate, compressPoint } from "../../../src/crypto/secp256k1.js";
import { base64urlDecode } from "../../../src/crypto/encoding.js";
import {
  STATUS_LIST_LIMITS,
  StatusListError,
  StatusListErrorCode,
  StatusValue,
  buildStatusListPayload,
  checkTransition,
  decodeLst,
  encodeLst,
  getStatus,
  newStatusList,
  packStatuses,
  packedLength,
  parseCompactJws,
  parseStatusListToken,
  setStatus,
  signStatusListToken,
  statusListSigningInput,
  statusListUri,
  tokenList,
  unpackStatuses,
  verifyEs256k,
} from "../../../src/did/status-list.js";
import { verifyJWS } from "did-jwt";
import { publicKeyToJwk } from "../../../src/crypto/encoding.js";
import { fixedKey, testDid } from "../../helpers/fixtures.js";

const ISSUER = testDid(fixedKey(3));
const OTHER = testDid(fixedKey(4));
const BASE = "http://127.0.0.1:8660";
const SIZE = STATUS_LIST_LIMITS.minSize;

function expectStatusListError(fn: () => unknown, code: StatusListErrorCode): StatusListError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(StatusListError);
    expect((e as StatusListError).code, (e as Error).message).to.equal(code);
    return e as StatusListError;
  }
  expect.fail(`expected ${code}`);
}

function token(packed: Uint8Array, over: { kid?: string; secretKey?: Uint8Array; iat?: number; ttl?: number } = {}): string {
  const payload = buildStatusListPayload({ issuer: ISSUER.did, uri: statusListUri(BASE, ISSUER.did, "l1"), iat: over.iat ?? 1_800_000_000, ttl: over.ttl, packed });
  return signStatusListToken(over.kid ?? ISSUER.keyId, payload, over.secretKey ?? ISSUER.key.secretKey);
}

/** A compact JWS with the given header and payload objects and a 64-byte zero signature. */
function rawJws(header: unknown, payload: unknown, sig = new Uint8Array(64)): string {
  return `${base64urlEncode(utf8(JSON.stringify(header)))}.${base64urlEncode(utf8(JSON.stringify(payload)))}.${base64urlEncode(sig)}`;
}

describe("status list (draft-ietf-oauth-status-list)", () => {
  describe("packing", () => {
    it("packs the draft's 2-bit example into 0xC9 0x44 0xF9 and its lst is the draft's", () => {
      // Example "Status List Token with 2-Bit Status Values": twelve statuses.
      const statuses = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];
      const packed = packStatuses(statuses);
      expect(Array.from(packed)).to.deep.equal([0xc9, 0x44, 0xf9]);
      expect(encodeLst(packed)).to.equal("eNo76fITAAPfAgc");
      expect(Array.from(decodeLst("eNo76fITAAPfAgc"))).to.deep.equal([0xc9, 0x44, 0xf9]);
      expect(Array.from(unpackStatuses(packed, 12))).to.deep.equal(statuses);
    });

    it("decodes the draft's 1-bit example lst to 0xB9 0xA3", () => {
      expect(Array.from(decodeLst("eNrbuRgAAhcBXQ"))).to.deep.equal([0xb9, 0xa3]);
    });

    it("puts entry i in byte floor(i/4) at bit 2*(i mod 4) from the least significant bit", () => {
      const packed = new Uint8Array(4);
      setStatus(packed, 5, StatusValue.SUSPENDED);
      expect(Array.from(packed)).to.deep.equal([0, 0b0000_1000, 0, 0]);
      setStatus(packed, 15, StatusValue.UNISSUED);
      expect(packed[3]).to.equal(0b1100_0000);
      expect(getStatus(packed, 5)).to.equal(StatusValue.SUSPENDED);
      expect(getStatus(packed, 15)).to.equal(StatusValue.UNISSUED);
      expect(() => getStatus(packed, 16)).to.throw(RangeError);
      expect(() => getStatus(packed, -1)).to.throw(RangeError);
    });

    it("unpack(pack(x)) is x, and lst round-trips", () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 400 }), (statuses) => {
          const packed = packStatuses(statuses);
          expect(packed.length).to.equal(packedLength(statuses.length));
          expect(Array.from(unpackStatuses(packed, statuses.length))).to.deep.equal(statuses);
          expect(Array.from(decodeLst(encodeLst(packed)))).to.deep.equal(Array.from(packed));
        }),
        { numRuns: 100 },
      );
    });

    it("a new list is every entry UNISSUED", () => {
      const l = newStatusList(SIZE);
      expect(l.length).to.equal(SIZE / 4);
      expect(getStatus(l, 0)).to.equal(StatusValue.UNISSUED);
      expect(getStatus(l, SIZE - 1)).to.equal(StatusValue.UNISSUED);
    });
  });

  describe("lst decoding is bounded", () => {
    it("refuses a zip bomb past the bound without inflating it", () => {
      const bomb = base64urlEncode(deflateSync(new Uint8Array(64 * 1024 * 1024)));
      expect(bomb.length).to.be.below(100_000);
      const e = expectStatusListError(() => decodeLst(bomb), StatusListErrorCode.BAD_LIST);
      expect(e.message).to.match(/more than 262144 bytes/);
    });

    it("refuses bad base64url, padding and non-zlib data with BAD_LIST", () => {
      expectStatusListError(() => decodeLst("eNo76fITAAPfAgc="), StatusListErrorCode.BAD_LIST);
      expectStatusListError(() => decodeLst("eNo7+fITAAPfAgc"), StatusListErrorCode.BAD_LIST);
      expectStatusListError(() => decodeLst(base64urlEncode(utf8("not zlib at all"))), StatusListErrorCode.BAD_LIST);
      expectStatusListError(() => decodeLst("eNo76fIT"), StatusListErrorCode.BAD_LIST);
      expectStatusListError(() => decodeLst(""), StatusListErrorCode.BAD_LIST);
    });

    it("decoding random text never throws anything but BAD_LIST", () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 200 }), (s) => {
          try {
            decodeLst(s, 1024);
          } catch (e) {
            expect(e).to.be.instanceOf(StatusListError);
            expect((e as StatusListError).code).to.equal(StatusListErrorCode.BAD_LIST);
          }
        }),
        { numRuns: 300 },
      );
    });

    it("tokenList refuses a list smaller or larger than the bounds", () => {
      const small = parseStatusListToken(token(newStatusList(SIZE - 4)));
      expectStatusListError(() => tokenList(small), StatusListErrorCode.BAD_LIST);
      const big = parseStatusListToken(token(newStatusList(STATUS_LIST_LIMITS.maxSize + 4)));
      expectStatusListError(() => tokenList(big), StatusListErrorCode.BAD_LIST);
      expect(tokenList(parseStatusListToken(token(newStatusList(STATUS_LIST_LIMITS.maxSize)))).length).to.equal(STATUS_LIST_LIMITS.maxSize / 4);
    });
  });

  describe("token", () => {
    it("builds, signs, parses and verifies a token naming the list URI", () => {
      const packed = newStatusList(SIZE);
      setStatus(packed, 7, StatusValue.VALID);
      const t = parseStatusListToken(token(packed, { ttl: 300 }));
      expect(t.header).to.deep.equal({ alg: "ES256K", typ: "statuslist+jwt", kid: ISSUER.keyId });
      expect(t.issuer).to.equal(ISSUER.did);
      expect(t.payload.sub).to.equal(`${BASE}/status-lists/${ISSUER.did.slice(8)}/l1`);
      expect(t.payload.iss).to.equal(ISSUER.did);
      expect(t.payload.ttl).to.equal(300);
      expect(getStatus(tokenList(t), 7)).to.equal(StatusValue.VALID);
      expect(verifyEs256k(t.signingInput, t.signature, ISSUER.key.publicKey)).to.equal(true);
      expect(verifyEs256k(t.signingInput, t.signature, OTHER.key.publicKey)).to.equal(false);
    });

    it("a token verifies with an independent JOSE implementation (did-jwt verifyJWS, ES256K), and a tampered one does not", () => {
      const t = token(newStatusList(SIZE));
      const vm = { id: ISSUER.keyId, type: "EcdsaSecp256k1VerificationKey2019", controller: ISSUER.did, publicKeyJwk: publicKeyToJwk(ISSUER.key.publicKey) };
      expect(verifyJWS(t, vm).id).to.equal(ISSUER.keyId);
      const [h, p, sig] = t.split(".");
      const other = token(newStatusList(SIZE + 4));
      expect(() => verifyJWS(`${h}.${other.split(".")[1]}.${sig}`, vm)).to.throw();
      void p;
    });

    it("the signing input is base64url(header).base64url(payload) of exactly those JSON texts", () => {
      const payload = buildStatusListPayload({ issuer: ISSUER.did, uri: "u", iat: 1_800_000_000, packed: new Uint8Array([0xc9, 0x44, 0xf9]) });
      const input = statusListSigningInput(ISSUER.keyId, payload);
      const [h, p] = input.split(".");
      expect(JSON.parse(Buffer.from(h!, "base64url").toString())).to.deep.equal({ alg: "ES256K", typ: "statuslist+jwt", kid: ISSUER.keyId });
      expect(JSON.parse(Buffer.from(p!, "base64url").toString())).to.deep.equal({ iss: ISSUER.did, sub: "u", iat: 1_800_000_000, status_list: { bits: 2, lst: "eNo76fITAAPfAgc" } });
    });

    it("accepts a high-S signature (RFC 8812 has no low-S rule) and refuses a tampered one", () => {
      const t = parseStatusListToken(token(newStatusList(SIZE)));
      expect(isHighS(t.signature)).to.equal(false);
      const high = malleate(t.signature);
      expect(isHighS(high)).to.equal(true);
      expect(verifyEs256k(t.signingInput, high, ISSUER.key.publicKey)).to.equal(true);
      const bad = t.signature.slice();
      bad[10]! ^= 1;
      expect(verifyEs256k(t.signingInput, bad, ISSUER.key.publicKey)).to.equal(false);
    });

    it("verifies a signature made by node:crypto (OpenSSL, high or low S as it comes)", () => {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "secp256k1" });
      const jwk = publicKey.export({ format: "jwk" }) as { x: string; y: string };
      const pub = compressPoint(base64urlDecode(jwk.x), base64urlDecode(jwk.y));
      for (let i = 0; i < 12; i++) {
        const input = utf8(`header.payload-${i}`);
        const signer = createSign("sha256");
        signer.update(input);
        const sig = new Uint8Array(signer.sign({ key: privateKey, dsaEncoding: "ieee-p1363" }));
        expect(verifyEs256k(input, sig, pub), `signature ${i}`).to.equal(true);
        // Its twin of the other S half verifies too, so both halves are covered whatever OpenSSL chose.
        expect(verifyEs256k(input, malleate(sig), pub)).to.equal(true);
      }
    });

    it("refuses malformed compact JWS with MALFORMED_TOKEN", () => {
      const good = token(newStatusList(SIZE));
      const [h, p, s] = good.split(".");
      for (const bad of [`${h}.${p}`, `${h}.${p}.${s}.x`, `${h}..${s}`, `${h}=.${p}.${s}`, `${h}.${p}.${s!.slice(0, -2)}`, `${h}.${base64urlEncode(utf8("[1]"))}.${s}`, `${h}.${base64urlEncode(Uint8Array.of(0xff, 0xfe))}.${s}`, `${h}.${base64urlEncode(utf8("{"))}.${s}`]) {
        expectStatusListError(() => parseCompactJws(bad), StatusListErrorCode.MALFORMED_TOKEN);
      }
      expectStatusListError(() => parseCompactJws(42), StatusListErrorCode.MALFORMED_TOKEN);
      expectStatusListError(() => parseCompactJws("a".repeat(STATUS_LIST_LIMITS.maxTokenChars + 1)), StatusListErrorCode.MALFORMED_TOKEN);
    });

    it("refuses a wrong header with BAD_HEADER, a wrong payload with BAD_PAYLOAD or BAD_LIST", () => {
      const payload = buildStatusListPayload({ issuer: ISSUER.did, uri: "u", iat: 1_800_000_000, packed: newStatusList(SIZE) });
      const hdr = { alg: "ES256K", typ: "statuslist+jwt", kid: ISSUER.keyId };
      const cases: [unknown, unknown, StatusListErrorCode][] = [
        [{ ...hdr, alg: "ES256" }, payload, StatusListErrorCode.BAD_HEADER],
        [{ ...hdr, alg: "none" }, payload, StatusListErrorCode.BAD_HEADER],
        [{ ...hdr, typ: "jwt" }, payload, StatusListErrorCode.BAD_HEADER],
        [{ ...hdr, kid: ISSUER.did }, payload, StatusListErrorCode.BAD_HEADER],
        [{ ...hdr, jku: "http://x" }, payload, StatusListErrorCode.BAD_HEADER],
        [hdr, { ...payload, sub: undefined }, StatusListErrorCode.BAD_PAYLOAD],
        [hdr, { ...payload, iat: "now" }, StatusListErrorCode.BAD_PAYLOAD],
        [hdr, { ...payload, ttl: 0 }, StatusListErrorCode.BAD_PAYLOAD],
        [hdr, { ...payload, exp: 1_700_000_000 }, StatusListErrorCode.BAD_PAYLOAD],
        [hdr, { ...payload, holder: "did:sid:x" }, StatusListErrorCode.BAD_PAYLOAD],
        [hdr, { ...payload, iss: OTHER.did }, StatusListErrorCode.WRONG_SUBJECT],
        [hdr, { ...payload, status_list: { bits: 1, lst: payload.status_list.lst } }, StatusListErrorCode.BAD_LIST],
        [hdr, { ...payload, status_list: { bits: 2 } }, StatusListErrorCode.BAD_LIST],
        [hdr, { ...payload, status_list: { bits: 2, lst: payload.status_list.lst, idx: 4 } }, StatusListErrorCode.BAD_LIST],
      ];
      for (const [h, p, code] of cases) expectStatusListError(() => parseStatusListToken(rawJws(h, p)), code);
    });
  });

  describe("checkTransition", () => {
    const base = (): Uint8Array => newStatusList(SIZE);
    const with_ = (l: Uint8Array, entries: [number, StatusValue][]): Uint8Array => {
      const out = l.slice();
      for (const [i, v] of entries) setStatus(out, i, v);
      return out;
    };
    const may = { issuerMayIssue: true };
    const mayNot = { issuerMayIssue: false };

    it("a first publish must be all UNISSUED", () => {
      expect(checkTransition(undefined, base(), may)).to.equal(undefined);
      const v = checkTransition(undefined, with_(base(), [[99, StatusValue.VALID]]), may);
      expect(v).to.include({ code: StatusListErrorCode.NOT_UNISSUED, index: 99, to: StatusValue.VALID });
    });

    it("allows issuance while accredited, suspend, reinstate and revoke", () => {
      const issued = with_(base(), [[1, StatusValue.VALID], [2, StatusValue.VALID], [3, StatusValue.VALID]]);
      expect(checkTransition(base(), issued, may)).to.equal(undefined);
      const changed = with_(issued, [[1, StatusValue.SUSPENDED], [2, StatusValue.INVALID], [9, StatusValue.INVALID]]);
      expect(checkTransition(issued, changed, mayNot)).to.equal(undefined);
      expect(checkTransition(changed, with_(changed, [[1, StatusValue.VALID]]), mayNot)).to.equal(undefined);
      expect(checkTransition(changed, with_(changed, [[1, StatusValue.INVALID]]), mayNot)).to.equal(undefined);
    });

    it("revocation is final: INVALID never becomes anything else", () => {
      const revoked = with_(base(), [[500, StatusValue.INVALID]]);
      for (const to of [StatusValue.VALID, StatusValue.SUSPENDED, StatusValue.UNISSUED]) {
        const v = checkTransition(revoked, with_(revoked, [[500, to]]), may);
        expect(v).to.include({ code: StatusListErrorCode.REVOCATION_FINAL, index: 500, from: StatusValue.INVALID, to });
      }
    });

    it("UNISSUED -> VALID only when the issuer may issue; nothing back to UNISSUED; no UNISSUED -> SUSPENDED", () => {
      expect(checkTransition(base(), with_(base(), [[4, StatusValue.VALID]]), mayNot)).to.include({ code: StatusListErrorCode.ISSUE_NOT_ALLOWED, index: 4 });
      const issued = with_(base(), [[4, StatusValue.VALID]]);
      expect(checkTransition(issued, with_(issued, [[4, StatusValue.UNISSUED]]), may)).to.include({ code: StatusListErrorCode.BACK_TO_UNISSUED, index: 4 });
      expect(checkTransition(base(), with_(base(), [[6, StatusValue.SUSPENDED]]), may)).to.include({ code: StatusListErrorCode.BAD_TRANSITION, index: 6 });
    });

    it("reports the first offending index and refuses a size change", () => {
      const issued = with_(base(), [[10, StatusValue.INVALID], [20, StatusValue.INVALID]]);
      const v = checkTransition(issued, with_(issued, [[20, StatusValue.VALID], [10, StatusValue.VALID]]), may);
      expect(v?.index).to.equal(10);
      expect(checkTransition(base(), newStatusList(SIZE + 4), may)).to.include({ code: StatusListErrorCode.SIZE_CHANGED });
    });

    it("agrees with an entry-by-entry reading of the rules on random lists", () => {
      const allowed = (from: number, to: number, mayIssue: boolean): boolean =>
        from === to || (from !== 1 && to !== 3 && !(from === 3 && to === 2) && !(from === 3 && to === 0 && !mayIssue));
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })), { minLength: 4, maxLength: 64 }), fc.boolean(), (pairs, mayIssue) => {
          const n = pairs.length - (pairs.length % 4);
          const olds = pairs.slice(0, n).map((p) => p[0]);
          const news = pairs.slice(0, n).map((p) => p[1]);
          const v = checkTransition(packStatuses(olds), packStatuses(news), { issuerMayIssue: mayIssue });
          const firstBad = olds.findIndex((o, i) => !allowed(o, news[i]!, mayIssue));
          expect(v?.index ?? -1).to.equal(firstBad);
        }),
        { numRuns: 300 },
      );
    });
  });
});
