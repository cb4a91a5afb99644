/**
 * HTTP content negotiation (RFC 9110 section 12.5.1) as the resolver
 * binding uses it: media ranges with parameters and q-values, the most
 * specific matching range deciding an offer's q, ties to the server's order.
 */
import { expect } from "chai";
import fc from "fast-check";
import { negotiate, parseMediaRange } from "../../../src/rpc/accept.js";

const LD = 'application/ld+json;profile="https://w3id.org/did-resolution"';
const DID_JSON = "application/did+json";
const DID_LD = "application/did+ld+json";
const OFFERS = [DID_LD, DID_JSON, LD] as const;

describe("rpc/accept", () => {
  describe("parseMediaRange", () => {
    it("lower-cases type, subtype and parameter names, unquotes values and reads q", () => {
      expect(parseMediaRange('Application/LD+JSON ; Profile="https://w3id.org/did-resolution" ; q=0.5')).to.deep.equal({
        type: "application",
        subtype: "ld+json",
        params: { profile: "https://w3id.org/did-resolution" },
        q: 0.5,
      });
      expect(parseMediaRange("*/*")).to.deep.equal({ type: "*", subtype: "*", params: {}, q: 1 });
      // A separator inside a quoted value is part of the value, and a backslash escapes the next char.
      expect(parseMediaRange('text/plain;x="a;b\\"c"')!.params).to.deep.equal({ x: 'a;b"c' });
    });

    it("refuses what is not a media range: no slash, */subtype, bad tokens, bad q, a bare parameter", () => {
      for (const bad of ["json", "*/json", "text/pl ain", "te(xt/plain", "text/plain;q=1.5", "text/plain;q=0.1234", "text/plain;q=abc", "text/plain;=x", "text/plain;noequals"]) {
        expect(parseMediaRange(bad), bad).to.equal(undefined);
      }
      for (const ok of ["text/plain;q=0", "text/plain;q=1.000", "text/plain;q=0.001", "text/plain;;"]) expect(parseMediaRange(ok), ok).to.not.equal(undefined);
    });
  });

  describe("negotiate", () => {
    it("no Accept, or an empty one, takes the first offer by wildcard; nothing offered is nothing chosen", () => {
      expect(negotiate(undefined, OFFERS)).to.deep.equal({ offer: DID_LD, byWildcard: true });
      expect(negotiate("  ", OFFERS)).to.deep.equal({ offer: DID_LD, byWildcard: true });
      expect(negotiate(undefined, [])).to.equal(undefined);
    });

    it("*/* alone chooses the server's first offer, and says it was by wildcard", () => {
      expect(negotiate("*/*", OFFERS)).to.deep.equal({ offer: DID_LD, byWildcard: true });
      expect(negotiate("application/*", OFFERS)).to.deep.equal({ offer: DID_LD, byWildcard: false });
    });

    it("the highest q wins; ties go to the earlier offer", () => {
      expect(negotiate(`${DID_LD};q=0.2, ${DID_JSON};q=0.9`, OFFERS)!.offer).to.equal(DID_JSON);
      expect(negotiate(`${DID_JSON}, ${DID_LD}`, OFFERS)!.offer).to.equal(DID_LD);
    });

    it("the most specific range decides an offer's q: a parameterised range beats the bare type, a type beats a wildcard", () => {
      // The profile range (q=1) applies to the LD offer; the bare type (q=0.1) would apply to plain ld+json only.
      const accept = `application/ld+json;q=0.1, ${LD}, */*;q=0.5`;
      expect(negotiate(accept, [DID_JSON, LD])).to.deep.equal({ offer: LD, byWildcard: false });
      // Without the profile parameter the LD offer falls back to the bare type's q=0.1, and DID_JSON to */* (0.5).
      expect(negotiate("application/ld+json;q=0.1, */*;q=0.5", [LD, DID_JSON])).to.deep.equal({ offer: DID_JSON, byWildcard: true });
      // Each parameter outweighs type and subtype: */* with the profile beats the bare ld+json range for the LD offer.
      const byParam = `${DID_JSON};q=0.5, application/ld+json;q=0.1, */*;profile="https://w3id.org/did-resolution";q=0.9`;
      expect(negotiate(byParam, [DID_JSON, LD])).to.deep.equal({ offer: LD, byWildcard: false });
      // A range with a parameter the offer does not carry does not match it.
      expect(negotiate('application/ld+json;profile="other"', [LD])).to.equal(undefined);
    });

    it("q=0 means not acceptable: 406 when nothing else matches", () => {
      expect(negotiate(`${DID_JSON};q=0`, [DID_JSON])).to.equal(undefined);
      expect(negotiate(`${DID_JSON};q=0, */*;q=0.1`, [DID_JSON, DID_LD])!.offer).to.equal(DID_LD);
      expect(negotiate("text/html", OFFERS)).to.equal(undefined);
    });

    it("malformed ranges are skipped, the others still count", () => {
      expect(negotiate(`garbage, ;;, ${DID_JSON}`, OFFERS)!.offer).to.equal(DID_JSON);
    });

    it("reads at most 32 ranges of one header", () => {
      const filler = Array.from({ length: 32 }, (_, i) => `text/x${i}`).join(", ");
      expect(negotiate(`${filler}, ${DID_JSON}`, [DID_JSON])).to.equal(undefined);
      const fewer = Array.from({ length: 31 }, (_, i) => `text/x${i}`).join(", ");
      expect(negotiate(`${fewer}, ${DID_JSON}`, [DID_JSON])!.offer).to.equal(DID_JSON);
    });

    it("an offer that is not a media type is the server's bug, thrown", () => {
      expect(() => negotiate("*/*", ["not a type"])).to.throw(/not a media type/);
    });

    it("never throws on any Accept header, and only ever returns one of the offers", () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 200 }), (accept) => {
          const r = negotiate(accept, OFFERS);
          if (r !== undefined) expect(OFFERS).to.include(r.offer);
        }),
        { numRuns: 500 },
      );
    });
  });
});
