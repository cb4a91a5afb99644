import { expect } from "chai";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { decode as cborgDecode, encode as cborgEncode } from "cborg";
import { type CanonicalValue, MAX_DEPTH, PreEncoded, decodeCanonical, encodeCanonical, encodeCanonicalMap, mapValueBytes } from "../../../src/chain/codec.js";
import { CodecError } from "../../../src/chain/errors.js";
import { TX_SIGN_DOMAIN, type UnsignedTx, decodeTx, encodeTx, txHash, txSigningDigest } from "../../../src/chain/tx.js";
import { type BlockHeader, ZERO_HASH, headerHash, txMerkleRoot } from "../../../src/chain/block.js";
import { type DidRecord, didRecordHash, didStateKey, encodeDidRecord } from "../../../src/chain/state.js";
import { SparseMerkleTree } from "../../../src/chain/smt.js";
import { createDidTx } from "../../../src/client/txs.js";
import { utf8 } from "../../../src/crypto/bytes.js";
import { CHAIN_ID, hex, testKey, unhex } from "../../helpers/fixtures.js";

/** sha256 through node:crypto directly, independent of src/crypto/hash.ts. */
function H(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function expectCodecError(fn: () => unknown, message?: RegExp): CodecError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, "expected a CodecError").to.be.instanceOf(CodecError);
  if (message) expect((thrown as Error).message).to.match(message);
  return thrown as CodecError;
}

// ---------------------------------------------------------------------------
// Known-answer vectors (also listed in docs/codec.md)

const VALUE_VECTORS: Array<{ name: string; value: CanonicalValue; hex: string }> = [
  // Keys sort length-first, then bytewise: a, b, c, aa.
  { name: "map key order", value: { b: 1, aa: 2, a: 3, c: -1 }, hex: "a461610361620161632062616102" },
  {
    name: "integers in minimal size",
    value: [0, 23, 24, 255, 256, 65535, 65536, -1, -24, -25, Number.MAX_SAFE_INTEGER],
    hex: "8b0017181818ff19010019ffff1a00010000203738181b001fffffffffffff",
  },
  { name: "byte string", value: Uint8Array.of(0xde, 0xad, 0xbe, 0xef), hex: "44deadbeef" },
  {
    name: "nested map, array, simple values, text, bytes",
    value: { list: [true, false, null, "sid"], m: { z: Uint8Array.of(1) } },
    hex: "a2616da1617a4101646c69737484f5f4f663736964",
  },
  { name: "empty map", value: {}, hex: "a0" },
  { name: "empty array", value: [], hex: "80" },
  { name: "UTF-8 text", value: "é", hex: "62c3a9" },
];

/** The create tx of the DID of deriveKey(TEST_MNEMONIC, 0), chain "sid-test", with buildInitialDocument. */
const TX_VECTOR = {
  did: "did:sid:3HbxTz9R1QHPxFy9TtdpzQpNqxv5",
  hex:
    "a861760162766d782a6469643a7369643a33486278547a39523151485078467939547464707a51704e71787635236b65792d3163736571006373696758402622" +
    "adce4a0e799329a1c906f433cb8bc6ff949278f2c6185511526b4e8b13354cb8d5aeb23b462e9ae921514c18b4f08d3e057bceb85c68932f9f76d6f398746474" +
    "7970656a6469642f637265617465667369676e657278246469643a7369643a33486278547a39523151485078467939547464707a51704e717876356763686169" +
    "6e4964687369642d74657374677061796c6f6164a168646f63756d656e74a662696478246469643a7369643a33486278547a3952315148507846793954746470" +
    "7a51704e717876356840636f6e7465787482781c68747470733a2f2f7777772e77332e6f72672f6e732f6469642f7631783268747470733a2f2f773369642e6f" +
    "72672f73656375726974792f7375697465732f736563703235366b312d323031392f76316e61757468656e7469636174696f6e81782a6469643a7369643a3348" +
    "6278547a39523151485078467939547464707a51704e71787635236b65792d316f617373657274696f6e4d6574686f6481782a6469643a7369643a3348627854" +
    "7a39523151485078467939547464707a51704e71787635236b65792d3172766572696669636174696f6e4d6574686f6481a4626964782a6469643a7369643a33" +
    "486278547a39523151485078467939547464707a51704e71787635236b65792d31647479706578214563647361536563703235366b3156657269666963617469" +
    "6f6e4b6579323031396a636f6e74726f6c6c657278246469643a7369643a33486278547a39523151485078467939547464707a51704e717876356c7075626c69" +
    "634b65794a776ba46178782b7175745333585355773245456e655a38786f446f50727937766236784e6a665a4c4e684639774d497231346179782b6b33415751" +
    "544d70546c5f525a355a795f6e686d777766612d584b426f6f396d334b664c74536b5a676b386363727669736563703235366b31636b74796245437463617061" +
    "62696c697479496e766f636174696f6e81782a6469643a7369643a33486278547a39523151485078467939547464707a51704e71787635236b65792d31",
  hash: "78dcc46a700a291dda24d734b836f09e57fe0cc90b4ac1f612bcf03ca197573e",
  signingDigest: "dfeb038160388d83621495da94324099ba94798f2710166e991e7c925f306ae6",
  sig: "2622adce4a0e799329a1c906f433cb8bc6ff949278f2c6185511526b4e8b13354cb8d5aeb23b462e9ae921514c18b4f08d3e057bceb85c68932f9f76d6f39874",
};

const HEADER_VECTOR = {
  hex:
    "ab6474696d651b0000018bcfe568006668656967687401667478526f6f7458209fb6384c0f9d4a3a593dea20ddcd69c5af1224730c5c4e3d1e18cee1eefd1836" +
    "67636861696e4964687369642d746573746870726576486173685820aeebad4a796fcc2e15dc4c6061b45ed9b373f26adfc798ca7d2d8cc58182718e6870726f" +
    "706f736572543333333333333333333333333333333333333333697374617465526f6f7458201111111111111111111111111111111111111111111111111111" +
    "1111111111116c65766964656e636548617368582000000000000000000000000000000000000000000000000000000000000000006e6c617374436f6d6d6974" +
    "48617368582000000000000000000000000000000000000000000000000000000000000000006e76616c696461746f7273486173685820222222222222222222" +
    "2222222222222222222222222222222222222222222222726e65787456616c696461746f72734861736858202323232323232323232323232323232323232323" +
    "232323232323232323232323",
  hash: "f841f427670918522a385191a36928ac66efcd72cceee8e70a79d4f6fbef35fa",
  txRoot: "9fb6384c0f9d4a3a593dea20ddcd69c5af1224730c5c4e3d1e18cee1eefd1836",
};

function vectorHeader(): BlockHeader {
  return {
    chainId: CHAIN_ID,
    height: 1,
    time: 1_700_000_000_000,
    prevHash: H(utf8("genesis")),
    txRoot: txMerkleRoot([unhex(TX_VECTOR.hash)]),
    evidenceHash: ZERO_HASH,
    stateRoot: new Uint8Array(32).fill(0x11),
    validatorsHash: new Uint8Array(32).fill(0x22),
    nextValidatorsHash: new Uint8Array(32).fill(0x23),
    proposer: new Uint8Array(20).fill(0x33),
    lastCommitHash: ZERO_HASH,
  };
}

const STATE_VECTOR = {
  stateKey: "db9f84e9f5f17591ca0d0e00233d45dfc974c9321636d4d8db241006b725d4a5",
  recordHash: "2f27e81a9c9afe075de6eeddce533a5fa1171c9f3f785c898d7da8affbf718ad",
  oneLeafRoot: "99981755b103a4dad55e4b0b2430aa96993b821bdab9f2d7da3c6394919085a0",
  twoLeafRoot: "01692a3197488dafb2fb445f00e3bcfcb0e6e5d61da4f0679080cbaa53c98e04",
};

// ---------------------------------------------------------------------------
// Arbitraries

/** Text without lone surrogates (those are not representable in UTF-8). */
const text = fc.string({ unit: "binary", maxLength: 12 });
const mapKey = fc.string({ unit: "binary", maxLength: 6 }).filter((k) => k !== "__proto__");
const leaf: fc.Arbitrary<CanonicalValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -1000, max: 1000 }),
  fc.maxSafeInteger(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32),
  text,
  fc.uint8Array({ maxLength: 40 }),
);
const { canonical } = fc.letrec<{ canonical: CanonicalValue }>((tie) => ({
  canonical: fc.oneof(
    { maxDepth: 4, depthIdentifier: "canonical" },
    leaf,
    fc.array(tie("canonical"), { maxLength: 4, depthIdentifier: "canonical" }),
    fc.dictionary(mapKey, tie("canonical"), { maxKeys: 4, noNullPrototype: true, depthIdentifier: "canonical" }),
  ),
}));

// ---------------------------------------------------------------------------

describe("chain/codec", () => {
  describe("known-answer vectors", () => {
    for (const v of VALUE_VECTORS) {
      it(`${v.name}: ${v.hex}`, () => {
        expect(hex(encodeCanonical(v.value))).to.equal(v.hex);
        expect(decodeCanonical(unhex(v.hex))).to.deep.equal(v.value);
      });
    }

    it("the full signed create tx of the test mnemonic's key 0", () => {
      const s = createDidTx(CHAIN_ID, testKey(0));
      expect(s.tx.signer).to.equal(TX_VECTOR.did);
      expect(hex(s.encoded)).to.equal(TX_VECTOR.hex);
      expect(hex(s.tx.sig)).to.equal(TX_VECTOR.sig);
      expect(s.hash).to.equal(TX_VECTOR.hash);
      expect(hex(txHash(s.encoded))).to.equal(TX_VECTOR.hash);
      expect(hex(H(s.encoded)), "tx hash = sha256(full encoding)").to.equal(TX_VECTOR.hash);
      expect(hex(txSigningDigest(s.tx))).to.equal(TX_VECTOR.signingDigest);
      // The pinned bytes decode to the same tx and encode back to themselves.
      const decoded = decodeTx(unhex(TX_VECTOR.hex), CHAIN_ID);
      expect(hex(encodeTx(decoded))).to.equal(TX_VECTOR.hex);
    });

    it("signing digest = sha256(cbor([\"sid/tx/v1\", unsigned tx]))", () => {
      const s = createDidTx(CHAIN_ID, testKey(0));
      const { sig: _sig, ...unsigned } = s.tx;
      const preimage = encodeCanonical([TX_SIGN_DOMAIN, unsigned as unknown as CanonicalValue]);
      // 0x82 = array(2), 0x69 = text(9) "sid/tx/v1", 0xa7 = map(7): the unsigned fields, no sig.
      expect(hex(preimage.subarray(0, 12))).to.equal("82" + "69" + hex(utf8("sid/tx/v1")) + "a7");
      expect(hex(H(preimage))).to.equal(TX_VECTOR.signingDigest);
      // The digest depends on the chain id and on the domain tag.
      const other: UnsignedTx = { ...(unsigned as UnsignedTx), chainId: "sid-other" };
      expect(hex(txSigningDigest(other))).not.to.equal(TX_VECTOR.signingDigest);
      expect(hex(H(encodeCanonical(["sid/vote/v1", unsigned as unknown as CanonicalValue])))).not.to.equal(TX_VECTOR.signingDigest);
    });

    it("tx field order in the encoding is length-first: v, vm, seq, sig, type, signer, chainId, payload", () => {
      const bytes = Buffer.from(unhex(TX_VECTOR.hex));
      const fields = ["v", "vm", "seq", "sig", "type", "signer", "chainId", "payload"];
      expect(Object.keys(decodeCanonical(bytes) as object)).to.have.members(fields);
      expect(bytes[0], "map of 8 entries").to.equal(0xa8);
      // First occurrence of each key's encoding (text header + UTF-8) in the tx bytes.
      const positions = fields.map((k) => bytes.indexOf(Buffer.from([0x60 + k.length, ...utf8(k)])));
      expect(positions.every((p) => p > 0)).to.equal(true);
      expect([...positions].sort((a, b) => a - b)).to.deep.equal(positions);
    });

    it("block header encoding and hash", () => {
      const h = vectorHeader();
      expect(hex(h.txRoot)).to.equal(HEADER_VECTOR.txRoot);
      expect(hex(h.txRoot)).to.equal(hex(H(Uint8Array.of(0), unhex(TX_VECTOR.hash))));
      expect(hex(encodeCanonical(h as unknown as CanonicalValue))).to.equal(HEADER_VECTOR.hex);
      expect(hex(headerHash(h))).to.equal(HEADER_VECTOR.hash);
      expect(hex(H(unhex(HEADER_VECTOR.hex)))).to.equal(HEADER_VECTOR.hash);
    });

    it("state key, record hash and SMT roots", async () => {
      const doc = createDidTx(CHAIN_ID, testKey(0)).tx.payload;
      const record: DidRecord = {
        did: TX_VECTOR.did,
        document: (doc as { document: DidRecord["document"] }).document,
        versionId: 1,
        nonce: 1,
        created: 1_700_000_000_000,
        updated: 1_700_000_000_000,
        createdHeight: 1,
        updatedHeight: 1,
        deactivated: false,
      };
      const key = didStateKey(record.did);
      expect(hex(key)).to.equal(STATE_VECTOR.stateKey);
      expect(hex(key)).to.equal(hex(H(utf8("sid/state/did\0"), utf8(record.did))));
      const valueHash = didRecordHash(encodeDidRecord(record));
      expect(hex(valueHash)).to.equal(STATE_VECTOR.recordHash);
      expect(hex(valueHash)).to.equal(hex(H(encodeCanonical(record as unknown as CanonicalValue))));

      const smt = new SparseMerkleTree({ getNode: async () => undefined });
      const one = await smt.update(new Uint8Array(32), [{ key, value: valueHash }]);
      expect(hex(one.root)).to.equal(STATE_VECTOR.oneLeafRoot);
      expect(hex(one.root), "leaf = sha256(0x00 || key || valueHash)").to.equal(hex(H(Uint8Array.of(0), key, valueHash)));

      // key2 starts with bit 0 and key with bit 1: root = internal(leaf2, leaf1).
      const key2 = new Uint8Array(32).fill(0x11);
      const value2 = new Uint8Array(32).fill(0x22);
      const two = await smt.update(new Uint8Array(32), [{ key, value: valueHash }, { key: key2, value: value2 }]);
      expect(hex(two.root)).to.equal(STATE_VECTOR.twoLeafRoot);
      const expected = H(Uint8Array.of(1), H(Uint8Array.of(0), key2, value2), H(Uint8Array.of(0), key, valueHash));
      expect(hex(two.root), "internal = sha256(0x01 || left || right)").to.equal(hex(expected));
    });
  });

  describe("properties", () => {
    it("decodeCanonical(encodeCanonical(x)) deep-equals x", () => {
      fc.assert(
        fc.property(canonical, (x) => {
          const bytes = encodeCanonical(x);
          expect(decodeCanonical(bytes)).to.deep.equal(x);
          // And the encoding is a fixed point.
          expect(hex(encodeCanonical(decodeCanonical(bytes)))).to.equal(hex(bytes));
        }),
        { numRuns: 300 },
      );
    });

    it("encoding does not depend on the insertion order of map keys", () => {
      fc.assert(
        fc.property(fc.dictionary(mapKey, leaf, { maxKeys: 8, noNullPrototype: true }), (m) => {
          const reversed: Record<string, CanonicalValue> = {};
          for (const k of Object.keys(m).reverse()) reversed[k] = m[k]!;
          expect(hex(encodeCanonical(reversed))).to.equal(hex(encodeCanonical(m)));
        }),
      );
    });

    function decodesOrCodecError(bytes: Uint8Array): void {
      let value: CanonicalValue | undefined;
      try {
        value = decodeCanonical(bytes);
      } catch (e) {
        expect(e, `${hex(bytes)} threw ${String(e)}`).to.be.instanceOf(CodecError);
        return;
      }
      // Whatever decodes is canonical: it encodes back to the same bytes.
      expect(hex(encodeCanonical(value))).to.equal(hex(bytes));
    }

    it("decoding random bytes returns a value or throws CodecError, nothing else", () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), decodesOrCodecError), { numRuns: 2000 });
    });

    it("decoding mutated valid encodings returns a value or throws CodecError, nothing else", () => {
      fc.assert(
        fc.property(canonical, fc.nat(), fc.integer({ min: 1, max: 255 }), (x, pos, xor) => {
          const bytes = encodeCanonical(x).slice();
          bytes[pos % bytes.length]! ^= xor;
          decodesOrCodecError(bytes);
          decodesOrCodecError(bytes.subarray(0, pos % bytes.length));
        }),
        { numRuns: 1000 },
      );
    });

    /** The definition the byte checks must agree with: decodes at all, and encodeCanonical gives the same bytes back. */
    function canonicalByReencoding(bytes: Uint8Array): boolean {
      try {
        return hex(encodeCanonical(cborgDecode(bytes, { strict: true, allowIndefinite: false, allowUndefined: false, rejectDuplicateMapKeys: true }) as CanonicalValue)) === hex(bytes);
      } catch {
        return false;
      }
    }

    function accepts(bytes: Uint8Array): boolean {
      try {
        decodeCanonical(bytes);
        return true;
      } catch (e) {
        expect(e).to.be.instanceOf(CodecError);
        return false;
      }
    }

    it("accepts exactly the encodings encodeCanonical writes, under byte edits and swapped map entries", () => {
      const reversedEntries = (m: Record<string, CanonicalValue>) => {
        // The entries written in the opposite of canonical key order: same value, non-canonical bytes.
        const keys = Object.keys(m).map((k) => ({ k, key: cborgEncode(k) }));
        keys.sort((a, b) => a.key.length - b.key.length || Buffer.compare(a.key, b.key));
        const entries = keys.reverse().map(({ k, key }) => Buffer.concat([key, encodeCanonical(m[k]!)]));
        return new Uint8Array(Buffer.concat([Uint8Array.of(0xa0 + keys.length), ...entries]));
      };
      fc.assert(
        fc.property(canonical, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.uint8Array({ maxLength: 3 }), (x, pos, xor, extra) => {
          const bytes = encodeCanonical(x).slice();
          const at = pos % bytes.length;
          const edited = bytes.slice();
          edited[at]! ^= xor;
          for (const b of [bytes, edited, bytes.subarray(0, at), Uint8Array.from([...bytes.subarray(0, at), ...extra, ...bytes.subarray(at)])]) {
            expect(accepts(b), hex(b)).to.equal(canonicalByReencoding(b));
          }
          if (typeof x === "object" && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array) && Object.keys(x).length > 1 && Object.keys(x).length < 24) {
            const swapped = reversedEntries(x);
            expect(accepts(swapped), hex(swapped)).to.equal(false);
            expect(canonicalByReencoding(swapped)).to.equal(false);
          }
        }),
        { numRuns: 1500 },
      );
    });

    it("encodeCanonicalMap with some values pre-encoded writes encodeCanonical's bytes, and mapValueBytes finds each value in them", () => {
      fc.assert(
        fc.property(fc.dictionary(mapKey, canonical, { maxKeys: 23, noNullPrototype: true }), fc.array(fc.boolean(), { minLength: 23, maxLength: 23 }), (m, pre) => {
          const mixed: Record<string, CanonicalValue | PreEncoded> = {};
          Object.keys(m).forEach((k, i) => (mixed[k] = pre[i] ? new PreEncoded(encodeCanonical(m[k]!)) : m[k]!));
          const bytes = encodeCanonicalMap(mixed);
          expect(hex(bytes)).to.equal(hex(encodeCanonical(m)));
          for (const k of Object.keys(m)) expect(hex(mapValueBytes(bytes, k)!)).to.equal(hex(encodeCanonical(m[k]!)));
          expect(mapValueBytes(bytes, "not-a-key-of-m")).to.equal(undefined);
        }),
        { numRuns: 300 },
      );
      expect(mapValueBytes(encodeCanonical([1, 2]), "a")).to.equal(undefined);
      expect(() => encodeCanonicalMap(JSON.parse('{"__proto__": 1}'))).to.throw(CodecError);
    });

    it("refuses non-bytes input with CodecError", () => {
      expectCodecError(() => decodeCanonical("a0" as unknown as Uint8Array));
      expectCodecError(() => decodeCanonical(null as unknown as Uint8Array));
    });
  });

  describe("non-canonical and unsupported encodings are rejected with CodecError", () => {
    const cases: Array<[string, string]> = [
      ["unsorted map keys {b, a}", "a2616201616101"],
      ["map keys bytewise but not length-first {aa, b}", "a262616101616202"],
      ["duplicate map key", "a2616101616102"],
      ["non-minimal integer 23 in 1 extra byte", "1817"],
      ["non-minimal integer 1 in 2 extra bytes", "190001"],
      ["non-minimal integer 255 in 4 extra bytes", "1a000000ff"],
      ["non-minimal negative integer", "3800"],
      ["non-minimal byte string length", "5801ff"],
      ["non-minimal array length", "980100"],
      ["non-minimal map length", "b801616101"],
      ["indefinite-length array", "9f01ff"],
      ["indefinite-length map", "bf616101ff"],
      ["indefinite-length text", "7f6161ff"],
      ["indefinite-length bytes", "5f4101ff"],
      ["half float 1.0", "f93c00"],
      ["double 1.0", "fb3ff0000000000000"],
      ["half float 1.5", "f93e00"],
      ["NaN", "f97e00"],
      ["Infinity", "f97c00"],
      ["undefined", "f7"],
      ["simple value 16", "f0"],
      ["tag 42", "d82a41ff"],
      ["bignum tag 2", "c249010000000000000000"],
      ["integer 2^53 (beyond safe)", "1b0020000000000000"],
      ["negative integer -2^53 - 1", "3b0020000000000000"],
      ["trailing bytes", "0100"],
      ["empty input", ""],
      ["truncated map", "a16161"],
      ["invalid UTF-8", "62c328"],
      ["non-text map key", "a10101"],
      ["__proto__ map key", "a1695f5f70726f746f5f5f01"],
    ];
    for (const [what, h] of cases) {
      it(`${what}: ${h || "(empty)"}`, () => {
        expectCodecError(() => decodeCanonical(unhex(h)));
      });
    }

    it(`nesting deeper than MAX_DEPTH (${MAX_DEPTH}) is refused; MAX_DEPTH itself is fine`, () => {
      const ok = "81".repeat(MAX_DEPTH) + "00";
      expect(() => decodeCanonical(unhex(ok))).not.to.throw();
      expectCodecError(() => decodeCanonical(unhex("81".repeat(MAX_DEPTH + 1) + "00")), /nesting/);
    });

    it("a tx-sized input nested 30,000 deep is refused before the recursive decoder sees it", () => {
      expectCodecError(() => decodeCanonical(new Uint8Array(30_000).fill(0x81)), /nesting/);
      expectCodecError(() => decodeCanonical(unhex("a16161".repeat(9_000) + "00")), /nesting/);
    });

    it("tags are refused", () => {
      expectCodecError(() => decodeCanonical(unhex("c11a514b67b0")), /tags/);
    });

    it("cborg's own float encoding of an integer-valued number is not accepted", () => {
      // cborg.encode(1.5) makes a float; the codec must never accept it.
      expectCodecError(() => decodeCanonical(cborgEncode(1.5)));
    });
  });

  describe("encodeCanonical refuses values outside the model with CodecError", () => {
    const cases: Array<[string, unknown]> = [
      ["float", 1.5],
      ["NaN", Number.NaN],
      ["Infinity", Number.POSITIVE_INFINITY],
      ["unsafe integer", 2 ** 53],
      ["undefined", undefined],
      ["bigint", 1n],
      ["function", () => 1],
      ["symbol", Symbol("x")],
      ["Map", new Map()],
      ["Date", new Date(0)],
      ["float inside a map", { a: [1, { b: 0.1 }] }],
      ["undefined inside an array", [1, undefined]],
    ];
    for (const [what, value] of cases) {
      it(what, () => {
        expectCodecError(() => encodeCanonical(value as CanonicalValue));
      });
    }

    it("an own __proto__ key", () => {
      const o: Record<string, unknown> = {};
      Object.defineProperty(o, "__proto__", { value: 1, enumerable: true, configurable: true, writable: true });
      expectCodecError(() => encodeCanonical(o as CanonicalValue), /__proto__/);
    });

    it("nesting deeper than MAX_DEPTH", () => {
      let v: CanonicalValue = 0;
      for (let i = 0; i <= MAX_DEPTH; i++) v = [v];
      expectCodecError(() => encodeCanonical(v), /nesting/);
    });

    // cborg would write a lone surrogate as U+FFFD, so "\ud800" and "\ufffd" would share bytes.
    it("refuses strings with a lone surrogate (not representable in UTF-8)", () => {
      expectCodecError(() => encodeCanonical("\ud800"));
      expectCodecError(() => encodeCanonical({ a: ["x\udc00"] }));
      expect(() => encodeCanonical("\ud83d\ude00")).not.to.throw();
    });
  });
});
