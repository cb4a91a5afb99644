import { expect } from "chai";
import fc from "fast-check";
import { decode as cborgDecode, encode as cborgEncode } from "cborg";
import { type CanonicalValue, decodeCanonical, encodeCanonical } from "../../../src/chain/codec.js";
import { ChainError, DidErrorCode, TxErrorCode } from "../../../src/chain/errors.js";
import {
  MAX_ANY_TX_BYTES,
  MAX_TX_BYTES,
  TX_VERSION,
  TxType,
  decodeTx,
  encodeTx,
  isValidChainId,
  txHash,
  txSigningDigest,
  txSigningDigestOfEncoded,
  txTargetDid,
  txToJson,
} from "../../../src/chain/tx.js";
import { buildStatusListPayload, newStatusList, signStatusListToken, statusListUri } from "../../../src/did/status-list.js";
import { createDidTx, deactivateDidTx, statusListPublishTx, govApproveTx, govProposeTx, sealTx, updateDidTx } from "../../../src/client/txs.js";
import { malleate, isHighS } from "../../../src/crypto/secp256k1.js";
import { addVerificationMethod } from "../../../src/did/document-edit.js";
import { CHAIN_ID, expectChainError, fixedKey, hex, testDid, writeParams } from "../../helpers/fixtures.js";

const A = testDid(fixedKey(1));
const B = testDid(fixedKey(2));
const createA = createDidTx(CHAIN_ID, A.key, A.doc);
const updateA = updateDidTx(writeParams(A, 1, 1), addVerificationMethod(A.doc, B.key.publicKey, "key-2", ["authentication"]));
const deactivateA = deactivateDidTx(writeParams(A, 2, 2));

type RawTx = Record<string, CanonicalValue> & { payload: Record<string, CanonicalValue> };

/** The decoded map of an encoded tx, to be mutated and re-encoded. */
function raw(encoded: Uint8Array): RawTx {
  return decodeCanonical(encoded) as RawTx;
}

function reject(encoded: Uint8Array, code: string, field?: string): ChainError {
  const e = expectChainError(() => decodeTx(encoded, CHAIN_ID), code);
  if (field !== undefined) expect(e.data?.field).to.equal(field);
  return e;
}

function rejectMutated(base: Uint8Array, mutate: (t: RawTx) => void, code: string, field?: string): ChainError {
  const t = raw(base);
  mutate(t);
  return reject(encodeCanonical(t), code, field);
}

/** Any CBOR map, decoded without the canonical checks. */
function decodeCanonicalLoose(bytes: Uint8Array): Record<string, unknown> {
  return cborgDecode(bytes) as Record<string, unknown>;
}

const ENVELOPE_FIELDS = ["v", "type", "chainId", "signer", "vm", "seq", "payload", "sig"];

describe("chain/tx decodeTx", () => {
  describe("valid txs", () => {
    for (const [name, s] of [
      ["create", createA],
      ["update", updateA],
      ["deactivate", deactivateA],
    ] as const) {
      it(`${name}: round-trips and its hash is stable`, () => {
        const tx = decodeTx(s.encoded, CHAIN_ID);
        expect(tx).to.deep.equal(s.tx);
        const again = encodeTx(tx);
        expect(hex(again)).to.equal(hex(s.encoded));
        expect(hex(txHash(again))).to.equal(s.hash);
        expect(hex(txHash(s.encoded))).to.equal(s.hash);
        expect(hex(txSigningDigest(tx))).to.equal(hex(txSigningDigest(s.tx)));
      });
    }

    it("targets the created DID or payload.did", () => {
      expect(txTargetDid(createA.tx)).to.equal(A.did);
      expect(txTargetDid(updateA.tx)).to.equal(A.did);
      expect(txTargetDid(deactivateA.tx)).to.equal(A.did);
    });

    it("txToJson shows the signature as hex", () => {
      const j = txToJson(createA.tx);
      expect(j.sig).to.equal(hex(createA.tx.sig));
      expect(j.type).to.equal(TxType.DidCreate);
      expect(j.seq).to.equal(0);
    });

    it("keeps a normal tx well below MAX_TX_BYTES and checks chain id syntax", () => {
      expect(createA.encoded.length).to.be.below(MAX_TX_BYTES);
      expect(isValidChainId(CHAIN_ID)).to.equal(true);
      expect(isValidChainId("a".repeat(48))).to.equal(true);
      expect(isValidChainId("a".repeat(49))).to.equal(false);
    });
  });

  describe("size and codec", () => {
    it("refuses more than MAX_ANY_TX_BYTES with TX_TOO_LARGE, before decoding", () => {
      reject(new Uint8Array(MAX_ANY_TX_BYTES + 1), TxErrorCode.TOO_LARGE);
      // At the limit the size rule passes and the codec rule applies; past MAX_TX_BYTES only a status list publish is let through (registry.test).
      reject(new Uint8Array(MAX_ANY_TX_BYTES), TxErrorCode.DECODE);
      reject(new Uint8Array(MAX_TX_BYTES), TxErrorCode.DECODE);
    });

    it("refuses bytes that are not CBOR with TX_DECODE", () => {
      reject(Uint8Array.of(0xff, 0x00), TxErrorCode.DECODE);
      reject(new Uint8Array(0), TxErrorCode.DECODE);
    });

    it("refuses a non-canonical encoding of a valid tx with TX_DECODE", () => {
      // cborg with insertion-ordered keys: same value, other bytes.
      const t = raw(createA.encoded);
      const reversed: Record<string, unknown> = {};
      for (const k of Object.keys(t).reverse()) reversed[k] = t[k];
      const unsorted = cborgEncode(reversed, { mapSorter: () => 0 } as never);
      expect(Object.keys(decodeCanonicalLoose(unsorted))).to.deep.equal(Object.keys(reversed));
      expect(hex(unsorted)).not.to.equal(hex(createA.encoded));
      reject(unsorted, TxErrorCode.DECODE);
    });

    it("decoding random bytes throws only ChainError", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
          try {
            decodeTx(bytes, CHAIN_ID);
          } catch (e) {
            expect(e).to.be.instanceOf(ChainError);
          }
        }),
        { numRuns: 500 },
      );
    });

    it("decoding mutated valid txs throws only ChainError", () => {
      fc.assert(
        fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (pos, xor) => {
          const bytes = updateA.encoded.slice();
          bytes[pos % bytes.length]! ^= xor;
          try {
            decodeTx(bytes, CHAIN_ID);
          } catch (e) {
            expect(e).to.be.instanceOf(ChainError);
          }
        }),
        { numRuns: 500 },
      );
    });
  });

  describe("envelope", () => {
    it("refuses a value that is not a map", () => {
      reject(encodeCanonical([1, 2]), TxErrorCode.BAD_FIELD, "tx");
      reject(encodeCanonical("tx"), TxErrorCode.BAD_FIELD, "tx");
      reject(encodeCanonical(Uint8Array.of(1)), TxErrorCode.BAD_FIELD, "tx");
      reject(encodeCanonical(null), TxErrorCode.BAD_FIELD, "tx");
    });

    for (const f of ENVELOPE_FIELDS) {
      it(`refuses a tx missing "${f}"`, () => {
        rejectMutated(createA.encoded, (t) => delete t[f], TxErrorCode.BAD_FIELD, `tx.${f}`);
      });
    }

    it("refuses an unknown extra field in the envelope", () => {
      rejectMutated(createA.encoded, (t) => (t.memo = "hi"), TxErrorCode.BAD_FIELD, "tx.memo");
      rejectMutated(updateA.encoded, (t) => (t.fee = 0), TxErrorCode.BAD_FIELD, "tx.fee");
    });

    it("refuses an unknown extra field in the payload", () => {
      rejectMutated(createA.encoded, (t) => (t.payload.note = "x"), TxErrorCode.BAD_FIELD, "payload.note");
      rejectMutated(updateA.encoded, (t) => (t.payload.note = "x"), TxErrorCode.BAD_FIELD, "payload.note");
      // A deactivation carries no document.
      rejectMutated(deactivateA.encoded, (t) => (t.payload.document = A.doc as never), TxErrorCode.BAD_FIELD, "payload.document");
    });

    it("refuses a payload missing a field", () => {
      rejectMutated(updateA.encoded, (t) => delete t.payload.prevVersionId, TxErrorCode.BAD_FIELD, "payload.prevVersionId");
      rejectMutated(updateA.encoded, (t) => delete t.payload.document, TxErrorCode.BAD_FIELD, "payload.document");
      rejectMutated(createA.encoded, (t) => delete t.payload.document, TxErrorCode.BAD_FIELD, "payload.document");
      rejectMutated(deactivateA.encoded, (t) => delete t.payload.did, TxErrorCode.BAD_FIELD, "payload.did");
    });

    it("refuses a payload that is not a map", () => {
      rejectMutated(createA.encoded, (t) => ((t as Record<string, CanonicalValue>).payload = [1]), TxErrorCode.BAD_FIELD, "payload");
    });

    it("refuses a wrong version", () => {
      expect(TX_VERSION).to.equal(1);
      for (const v of [0, 2, "1", null]) rejectMutated(createA.encoded, (t) => (t.v = v), TxErrorCode.BAD_FIELD, "v");
    });

    it("refuses a malformed chain id", () => {
      for (const c of ["", "SID", "-sid", "sid_test", "a".repeat(49), 5, null]) {
        rejectMutated(createA.encoded, (t) => (t.chainId = c), TxErrorCode.BAD_FIELD, "chainId");
      }
    });

    it("refuses another chain's tx with TX_WRONG_CHAIN", () => {
      rejectMutated(createA.encoded, (t) => (t.chainId = "sid-other"), TxErrorCode.WRONG_CHAIN);
      expectChainError(() => decodeTx(createA.encoded, "sid-other"), TxErrorCode.WRONG_CHAIN);
    });

    it("refuses a bad signer DID with DID_INVALID", () => {
      for (const s of ["did:example:123", "did:sid:0OIl", "did:sid:", A.did + "#key-1", 7]) {
        rejectMutated(createA.encoded, (t) => (t.signer = s), DidErrorCode.INVALID_DID, "signer");
      }
    });

    it("refuses a vm of another DID", () => {
      rejectMutated(createA.encoded, (t) => (t.vm = `${B.did}#key-1`), TxErrorCode.BAD_FIELD, "vm");
    });

    it("refuses a vm that is not a DID URL with a fragment", () => {
      for (const vm of [A.did, `${A.did}#`, `${A.did}#key 1`, "#key-1", 3]) {
        rejectMutated(createA.encoded, (t) => (t.vm = vm), TxErrorCode.BAD_FIELD, "vm");
      }
    });

    it("refuses a negative or non-integer seq", () => {
      for (const seq of [-1, "0", null]) rejectMutated(updateA.encoded, (t) => (t.seq = seq), TxErrorCode.BAD_FIELD, "seq");
    });

    it("refuses a float seq (the codec has no floats: TX_DECODE)", () => {
      const t = raw(updateA.encoded) as Record<string, unknown>;
      t.seq = 1.5;
      reject(cborgEncode(t), TxErrorCode.DECODE);
    });

    it("refuses a signature of the wrong length or type", () => {
      for (const sig of [createA.tx.sig.subarray(0, 63), new Uint8Array(65), new Uint8Array(0), hex(createA.tx.sig)]) {
        rejectMutated(createA.encoded, (t) => (t.sig = sig), TxErrorCode.BAD_FIELD, "sig");
      }
    });

    it("refuses a high-S signature with TX_HIGH_S_SIGNATURE", () => {
      const twin = malleate(createA.tx.sig);
      expect(isHighS(twin)).to.equal(true);
      rejectMutated(createA.encoded, (t) => (t.sig = twin), TxErrorCode.HIGH_S_SIGNATURE);
    });

    it("refuses an unknown type with TX_UNKNOWN_TYPE", () => {
      for (const type of ["did/transfer", "DID/CREATE", "", 1]) {
        rejectMutated(createA.encoded, (t) => (t.type = type), TxErrorCode.UNKNOWN_TYPE);
      }
    });
  });

  describe("payload", () => {
    it("refuses an invalid document with DID_INVALID_DOCUMENT", () => {
      rejectMutated(createA.encoded, (t) => delete (t.payload.document as Record<string, unknown>).authentication, DidErrorCode.INVALID_DOCUMENT);
      rejectMutated(createA.encoded, (t) => ((t.payload.document as Record<string, unknown>).extra = "x"), DidErrorCode.INVALID_DOCUMENT);
      rejectMutated(updateA.encoded, (t) => ((t.payload.document as Record<string, unknown>)["@context"] = "https://example.com"), DidErrorCode.INVALID_DOCUMENT);
      rejectMutated(updateA.encoded, (t) => ((t.payload.document as Record<string, unknown>).alsoKnownAs = [1]), DidErrorCode.INVALID_DOCUMENT);
      rejectMutated(updateA.encoded, (t) => (t.payload.document = "doc"), DidErrorCode.INVALID_DOCUMENT);
    });

    it("refuses an update whose document is another DID's", () => {
      rejectMutated(updateA.encoded, (t) => (t.payload.document = B.doc as never), DidErrorCode.INVALID_DOCUMENT);
    });

    it("refuses a create whose document id is not a DID", () => {
      rejectMutated(createA.encoded, (t) => ((t.payload.document as Record<string, unknown>).id = "did:web:example.com"), DidErrorCode.INVALID_DID);
      rejectMutated(createA.encoded, (t) => (t.payload.document = 5), DidErrorCode.INVALID_DID);
    });

    it("refuses a bad payload.did", () => {
      rejectMutated(updateA.encoded, (t) => (t.payload.did = "did:sid:x0"), DidErrorCode.INVALID_DID, "payload.did");
      rejectMutated(deactivateA.encoded, (t) => (t.payload.did = 1), DidErrorCode.INVALID_DID, "payload.did");
    });

    it("refuses a bad prevVersionId", () => {
      for (const base of [updateA.encoded, deactivateA.encoded]) {
        for (const p of ["0", "01", "-1", "1a", " 1", "12345678901234567", 1, null]) {
          rejectMutated(base, (t) => (t.payload.prevVersionId = p), TxErrorCode.BAD_FIELD, "payload.prevVersionId");
        }
      }
      // The largest accepted: 16 digits.
      const t = raw(updateA.encoded);
      t.payload.prevVersionId = "1234567890123456";
      expect(decodeTx(encodeCanonical(t), CHAIN_ID).type).to.equal(TxType.DidUpdate);
    });
  });

  it("decodeTx does not check the signature itself (that is checkTx's job)", () => {
    // Signed by a key that is not the signer's: still decodes; execution rejects it.
    const { sig: _sig, ...unsigned } = createA.tx;
    const forged = sealTx(unsigned, B.key.secretKey);
    expect(decodeTx(forged.encoded, CHAIN_ID).signer).to.equal(A.did);
  });
});

describe("chain/tx txSigningDigestOfEncoded", () => {
  const signer = { chainId: CHAIN_ID, signer: A.did, vm: A.keyId, seq: 3, secretKey: A.key.secretKey };
  const bigDoc = addVerificationMethod(addVerificationMethod(A.doc, B.key.publicKey, "key-2", ["authentication"]), fixedKey(3).publicKey, "key-3", ["assertionMethod"]);
  const cases = {
    create: createA,
    update: updateA,
    "update with a larger document": updateDidTx(writeParams(A, 70_000, 300), bigDoc),
    deactivate: deactivateA,
    "gov/propose": govProposeTx(signer, { kind: "issuer/add", did: B.did, name: "Issuer B", types: ["KYCBasic", "AgeOver18"] }),
    "gov/approve": govApproveTx({ ...signer, seq: 1_000_000 }, "ab".repeat(32), { kind: "issuer/remove", did: B.did }),
    "statuslist/publish": statusListPublishTx(
      { ...signer, seq: 0 },
      "list-1",
      signStatusListToken(A.keyId, buildStatusListPayload({ issuer: A.did, uri: statusListUri("http://127.0.0.1:8660", A.did, "list-1"), iat: 1_800_000_000, packed: newStatusList(131_072) }), A.key.secretKey),
    ),
  };
  for (const [name, s] of Object.entries(cases)) {
    it(`${name}: equals the digest of the re-encoded unsigned tx`, () => {
      const tx = decodeTx(s.encoded, CHAIN_ID);
      expect(hex(txSigningDigestOfEncoded(s.encoded))).to.equal(hex(txSigningDigest(tx)));
    });
  }

  it("equals txSigningDigest for any chain id, sequence and signature bytes", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,47}$/), fc.integer({ min: 0, max: 2 ** 40 }), fc.uint8Array({ minLength: 64, maxLength: 64 }), (chainId, seq, sig) => {
        const t = { ...deactivateA.tx, chainId, seq, sig };
        expect(hex(txSigningDigestOfEncoded(encodeTx(t)))).to.equal(hex(txSigningDigest(t)));
      }),
      { numRuns: 200 },
    );
  });

  it("refuses bytes that are not an 8-field map with a sig", () => {
    expectChainError(() => txSigningDigestOfEncoded(encodeCanonical({ a: 1 })), TxErrorCode.DECODE);
    const noSig = raw(createA.encoded);
    delete noSig.sig;
    noSig.sjg = new Uint8Array(64);
    expectChainError(() => txSigningDigestOfEncoded(encodeCanonical(noSig)), TxErrorCode.DECODE);
  });
});
