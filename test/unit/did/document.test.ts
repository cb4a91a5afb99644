import { expect } from "chai";
import fc from "fast-check";
import {
  base58btcEncode,
  base64urlEncode,
  deriveKey,
  publicKeyOf,
  publicKeyToJwk,
  publicKeyToMultibase,
  toHex,
} from "../../../src/crypto/index.js";
import { DidError, DidErrorCode } from "../../../src/did/errors.js";
import { didFromPublicKey } from "../../../src/did/syntax.js";
import { DID_CONTEXT, DOCUMENT_LIMITS, MULTIKEY_CONTEXT, RELATIONSHIPS, SECP256K1_2019_CONTEXT, buildInitialDocument, keyForRelationship, publicKeyOfMethod, validateDecodedDocument, validateDocument, verificationMethods, type DidDocument, type Service, type VerificationMethod } from "../../../src/did/document.js";
import { addService, addVerificationMethod, removeService, removeVerificationMethod } from "../../../src/did/document-edit.js";

/** BIP39 test mnemonic (all "abandon" + "about"): public, for tests only. */
const TEST_MNEMONIC =
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

const pkA = publicKeyOf(new Uint8Array(32).fill(1));
const pkB = publicKeyOf(new Uint8Array(32).fill(2));
const pkC = deriveKey(TEST_MNEMONIC, 1).publicKey;
const did = didFromPublicKey(pkA);
const didB = didFromPublicKey(pkB);
const key1 = `${did}#key-1`;

/** Pinned known answer for secret key 0x01 * 32 (see syntax.test.ts). */
const PINNED_DID = "did:sid:4NQ2u8mQ21B3eTrFKHaHvu5YLBor";
const PINNED_JWK = {
  kty: "EC",
  crv: "secp256k1",
  x: "G4TFVnsSZECZXT7VqroFZdceGDRgSBn_nBf16dXdB48",
  y: "cL6vj1iLVBUH_tamQsWrQt_fgSCn9jneUSLUemmo6NE",
};

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** A document using every feature: all three key types, an embedded key, every relationship, all endpoint forms. */
function richDocument(): DidDocument {
  return {
    "@context": [DID_CONTEXT, SECP256K1_2019_CONTEXT, MULTIKEY_CONTEXT],
    id: did,
    controller: [did, didB],
    alsoKnownAs: ["https://example.com/alice", didB],
    verificationMethod: [
      { id: key1, type: "EcdsaSecp256k1VerificationKey2019", controller: did, publicKeyJwk: publicKeyToJwk(pkA) },
      { id: `${did}#key-2`, type: "Multikey", controller: did, publicKeyMultibase: publicKeyToMultibase(pkB) },
      { id: `${did}#key-3`, type: "JsonWebKey2020", controller: didB, publicKeyJwk: publicKeyToJwk(pkC) },
    ],
    authentication: [key1, `${did}#key-2`],
    assertionMethod: [key1, `${did}#key-3`],
    keyAgreement: [{ id: `${did}#agree-1`, type: "Multikey", controller: did, publicKeyMultibase: publicKeyToMultibase(pkC) }],
    capabilityInvocation: [key1],
    capabilityDelegation: [`${did}#key-2`],
    service: [
      { id: `${did}#domain`, type: "LinkedDomains", serviceEndpoint: "https://example.com" },
      { id: `${did}#msg`, type: ["DIDCommMessaging"], serviceEndpoint: { uri: "https://example.com/didcomm" } },
      {
        id: `${did}#hub`,
        type: ["IdentityHub", "Storage"],
        serviceEndpoint: ["https://hub1.example.com", { instance: "https://hub2.example.com" }],
      },
    ],
  };
}

/** A mutated copy of the initial document (or of `base`). */
function mutated(fn: (d: any) => void, base: DidDocument = buildInitialDocument(pkA)): unknown {
  const d = clone(base);
  fn(d);
  return d;
}

function expectInvalid(doc: unknown, message: RegExp, path?: string, expectedDid = did): DidError {
  try {
    validateDocument(doc, expectedDid);
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(DidError);
    const e = err as DidError;
    expect(e.code).to.equal(DidErrorCode.INVALID_DOCUMENT);
    expect(e.code).to.equal("DID_INVALID_DOCUMENT");
    expect(e.message).to.match(message);
    if (path !== undefined) expect(e.data?.path).to.equal(path);
    return e;
  }
  return expect.fail(`expected DidError matching ${message}`);
}

function expectDidError(fn: () => unknown, message: RegExp): DidError {
  try {
    fn();
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(DidError);
    expect((err as DidError).message).to.match(message);
    return err as DidError;
  }
  return expect.fail(`expected DidError matching ${message}`);
}

describe("did/document", () => {
  describe("constants", () => {
    it("limits are frozen and as specified", () => {
      expect(Object.isFrozen(DOCUMENT_LIMITS)).to.equal(true);
      expect(DOCUMENT_LIMITS).to.deep.equal({
        maxBytes: 16384,
        maxVerificationMethods: 16,
        maxServices: 16,
        maxAlsoKnownAs: 8,
        maxControllers: 8,
        maxContexts: 8,
        maxStringLength: 2048,
        maxRelationshipEntries: 16,
      });
      expect(Object.isFrozen(RELATIONSHIPS)).to.equal(true);
      expect(RELATIONSHIPS).to.have.length(5);
    });
  });

  describe("buildInitialDocument", () => {
    it("has the pinned shape", () => {
      expect(did).to.equal(PINNED_DID);
      expect(buildInitialDocument(pkA)).to.deep.equal({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/secp256k1-2019/v1"],
        id: PINNED_DID,
        verificationMethod: [
          {
            id: `${PINNED_DID}#key-1`,
            type: "EcdsaSecp256k1VerificationKey2019",
            controller: PINNED_DID,
            publicKeyJwk: PINNED_JWK,
          },
        ],
        authentication: [`${PINNED_DID}#key-1`],
        assertionMethod: [`${PINNED_DID}#key-1`],
        capabilityInvocation: [`${PINNED_DID}#key-1`],
      });
    });

    it("passes validation, which returns an equal fresh copy", () => {
      const doc = buildInitialDocument(pkA);
      const checked = validateDocument(doc, did);
      expect(checked).to.deep.equal(doc);
      expect(checked).to.not.equal(doc);
      expect(checked.verificationMethod).to.not.equal(doc.verificationMethod);
    });

    it("works for derived keys and refuses bad keys with a DidError", () => {
      const doc = buildInitialDocument(pkC);
      expect(validateDocument(doc, didFromPublicKey(pkC)).id).to.equal(didFromPublicKey(pkC));
      expectDidError(() => buildInitialDocument(new Uint8Array(33)), /public key/);
      expectDidError(() => buildInitialDocument(new Uint8Array(65)), /33-byte/);
    });
  });

  describe("validateDocument accepts", () => {
    it("a document using every supported feature", () => {
      const doc = richDocument();
      expect(validateDocument(doc, did)).to.deep.equal(doc);
    });

    it("@context as the bare DID context string, and a single controller", () => {
      const doc = mutated((d) => {
        d["@context"] = DID_CONTEXT;
        d.controller = didB;
      });
      expect(validateDocument(doc, did)["@context"]).to.equal(DID_CONTEXT);
    });

    it("a document exactly at the limits", () => {
      const doc = mutated((d) => {
        for (let i = 2; i <= DOCUMENT_LIMITS.maxVerificationMethods; i++) {
          d.verificationMethod.push({ ...d.verificationMethod[0], id: `${did}#key-${i}` });
          d.authentication.push(`${did}#key-${i}`);
        }
        d.alsoKnownAs = Array.from({ length: DOCUMENT_LIMITS.maxAlsoKnownAs }, (_, i) => `https://a.example/${i}`);
      });
      validateDocument(doc, did);
    });

    it("is not fooled by later changes to its input", () => {
      const doc = buildInitialDocument(pkA);
      const checked = validateDocument(doc, did);
      doc.authentication!.length = 0;
      expect(checked.authentication).to.deep.equal([key1]);
    });
  });

  describe("validateDocument rejects", () => {
    it("a bad expected DID as invalidDid", () => {
      try {
        validateDocument(buildInitialDocument(pkA), "did:web:example.com");
        expect.fail("should throw");
      } catch (err) {
        expect(err).to.be.instanceOf(DidError);
        expect((err as DidError).code).to.equal(DidErrorCode.INVALID_DID);
      }
    });

    it("values that are not plain objects", () => {
      for (const v of [null, undefined, "doc", 42, true, [], [buildInitialDocument(pkA)]]) {
        expectInvalid(v, /must be a JSON object/, "");
      }
      expectInvalid(new Date(0), /plain JSON object/, "");
      expectInvalid(new Map([["id", did]]), /plain JSON object/, "");
      class Doc {
        id = did;
      }
      expectInvalid(new Doc(), /plain JSON object/, "");
    });

    it("an unknown top-level property", () => {
      expectInvalid(mutated((d) => (d.personalData = "Alice, born 1990")), /unknown DID document property "personalData"/, "personalData");
      expectInvalid(mutated((d) => (d.publicKey = [])), /unknown DID document property "publicKey"/, "publicKey");
    });

    it("a wrong or missing id", () => {
      expectInvalid(buildInitialDocument(pkA), /id: must be "did:sid:.*", got "did:sid:/, "id", didB);
      expectInvalid(mutated((d) => delete d.id), /id: is required/, "id");
      expectInvalid(mutated((d) => (d.id = [did])), /id: must be a string/, "id");
    });

    it("a missing, wrong, duplicated or oversized @context", () => {
      expectInvalid(mutated((d) => delete d["@context"]), /@context: is required/, "@context");
      expectInvalid(
        mutated((d) => (d["@context"] = [SECP256K1_2019_CONTEXT, DID_CONTEXT])),
        /first @context entry must be "https:\/\/www.w3.org\/ns\/did\/v1"/,
        "@context[0]",
      );
      expectInvalid(mutated((d) => (d["@context"] = "https://www.w3.org/2018/credentials/v1")), /@context: must be/, "@context");
      expectInvalid(mutated((d) => (d["@context"] = [])), /must not be empty/, "@context");
      expectInvalid(mutated((d) => d["@context"].push(SECP256K1_2019_CONTEXT)), /duplicate context/, "@context[2]");
      expectInvalid(
        mutated((d) => (d["@context"] = [DID_CONTEXT, ...Array.from({ length: 8 }, (_, i) => `https://c.example/${i}`)])),
        /too many context URIs: 9, at most 8/,
        "@context",
      );
      expectInvalid(mutated((d) => d["@context"].push({ "@vocab": "https://x.example/" })), /a URI string/, "@context[2]");
      expectInvalid(mutated((d) => d["@context"].push("not a uri")), /is not a URI/, "@context[2]");
    });

    it("a bad controller", () => {
      expectInvalid(mutated((d) => (d.controller = "did:web:example.com")), /controller: "did:web:example.com" is not a valid did:sid DID/, "controller");
      expectInvalid(mutated((d) => (d.controller = [])), /controller: must not be an empty array/, "controller");
      expectInvalid(mutated((d) => (d.controller = [didB, didB])), /duplicate controller/, "controller[1]");
      expectInvalid(mutated((d) => (d.controller = [didB, `${didB}#key-1`])), /not a valid did:sid DID/, "controller[1]");
      expectInvalid(
        mutated((d) => (d.controller = Array.from({ length: 9 }, (_, i) => didFromPublicKey(publicKeyOf(new Uint8Array(32).fill(i + 1)))))),
        /too many controller DIDs: 9, at most 8/,
        "controller",
      );
    });

    it("bad alsoKnownAs entries", () => {
      expectInvalid(mutated((d) => (d.alsoKnownAs = "https://a.example")), /must be an array of URIs/, "alsoKnownAs");
      expectInvalid(mutated((d) => (d.alsoKnownAs = ["alice"])), /"alice" is not a URI/, "alsoKnownAs[0]");
      expectInvalid(mutated((d) => (d.alsoKnownAs = ["https://a.example/x y"])), /is not a URI/, "alsoKnownAs[0]");
      expectInvalid(mutated((d) => (d.alsoKnownAs = ["https://a.example", "https://a.example"])), /duplicate URI/, "alsoKnownAs[1]");
      expectInvalid(
        mutated((d) => (d.alsoKnownAs = Array.from({ length: 9 }, (_, i) => `https://a.example/${i}`))),
        /too many URIs: 9, at most 8/,
        "alsoKnownAs",
      );
    });

    it("ids that are not absolute DID URLs of this document", () => {
      expectInvalid(mutated((d) => (d.verificationMethod[0].id = "#key-1")), /not an absolute DID URL/, "verificationMethod[0].id");
      expectInvalid(mutated((d) => (d.verificationMethod[0].id = did)), /no fragment/, "verificationMethod[0].id");
      expectInvalid(mutated((d) => (d.verificationMethod[0].id = `${did}#key 1`)), /fragment must be/, "verificationMethod[0].id");
      expectInvalid(
        mutated((d) => (d.verificationMethod[0].id = `${didB}#key-1`)),
        /must be a DID URL of this document/,
        "verificationMethod[0].id",
      );
      expectInvalid(
        mutated((d) => (d.service = [{ id: "https://example.com", type: "X", serviceEndpoint: "https://example.com" }])),
        /not an absolute DID URL/,
        "service[0].id",
      );
    });

    it("duplicate ids anywhere in the document", () => {
      expectInvalid(mutated((d) => d.verificationMethod.push(clone(d.verificationMethod[0]))), /duplicate id ".*#key-1"/, "verificationMethod[1].id");
      expectInvalid(
        mutated((d) => d.keyAgreement = [clone(d.verificationMethod[0])]),
        /duplicate id ".*#key-1"/,
        "keyAgreement[0].id",
      );
      expectInvalid(
        mutated((d) => (d.service = [{ id: key1, type: "X", serviceEndpoint: "https://example.com" }])),
        /duplicate id ".*#key-1"/,
        "service[0].id",
      );
      expectInvalid(
        mutated((d) => d.service.push(clone(d.service[0])), richDocument()),
        /duplicate id ".*#domain"/,
        "service[3].id",
      );
    });

    it("dangling and duplicated references", () => {
      expectInvalid(mutated((d) => d.assertionMethod.push(`${did}#key-9`)), /reference ".*#key-9" does not name a verification method/, "assertionMethod[1]");
      expectInvalid(mutated((d) => (d.authentication = [`${didB}#key-1`])), /must be a DID URL of this document/, "authentication[0]");
      expectInvalid(mutated((d) => (d.authentication = ["#key-1"])), /not an absolute DID URL/, "authentication[0]");
      expectInvalid(mutated((d) => d.authentication.push(key1)), /duplicate entry ".*#key-1" in authentication/, "authentication[1]");
      // A reference names a top-level method; embedded ones belong to their own relationship only.
      expectInvalid(mutated((d) => d.authentication.push(`${did}#agree-1`), richDocument()), /does not name a verification method/, "authentication[2]");
      expectInvalid(mutated((d) => (d.assertionMethod = key1)), /must be an array/, "assertionMethod");
      expectInvalid(mutated((d) => (d.assertionMethod = [[key1]])), /must be a verification method/, "assertionMethod[0]");
      expectInvalid(
        mutated((d) => (d.capabilityDelegation = Array.from({ length: 17 }, () => key1))),
        /too many verification method references or embedded methods: 17, at most 16/,
        "capabilityDelegation",
      );
    });

    it("a document without authentication", () => {
      expectInvalid(mutated((d) => delete d.authentication), /at least one authentication entry is required/, "authentication");
      expectInvalid(mutated((d) => (d.authentication = [])), /otherwise the DID could never be updated/, "authentication");
    });

    it("too many verification methods", () => {
      const many = mutated((d) => {
        for (let i = 2; i <= 17; i++) d.verificationMethod.push({ ...d.verificationMethod[0], id: `${did}#key-${i}` });
      });
      expectInvalid(many, /too many verification methods: 17, at most 16/, "verificationMethod");
      const withEmbedded = mutated((d) => {
        for (let i = 2; i <= 16; i++) d.verificationMethod.push({ ...d.verificationMethod[0], id: `${did}#key-${i}` });
        d.keyAgreement = [{ ...d.verificationMethod[0], id: `${did}#agree` }];
      });
      expectInvalid(withEmbedded, /too many verification methods \(top-level and embedded\)/, "keyAgreement[0]");
    });

    it("bad verification method members", () => {
      const p = "verificationMethod[0]";
      expectInvalid(mutated((d) => (d.verificationMethod[0].note = "x")), /unknown verification method property "note"/, `${p}.note`);
      expectInvalid(mutated((d) => (d.verificationMethod[0].type = "Ed25519VerificationKey2020")), /unsupported verification method type/, `${p}.type`);
      expectInvalid(mutated((d) => delete d.verificationMethod[0].type), /must be a string/, `${p}.type`);
      expectInvalid(mutated((d) => delete d.verificationMethod[0].controller), /must be a did:sid DID string/, `${p}.controller`);
      expectInvalid(mutated((d) => (d.verificationMethod[0].controller = "did:key:z6Mk")), /not a valid did:sid DID/, `${p}.controller`);
      expectInvalid(mutated((d) => (d.verificationMethod[0].controller = key1)), /not a valid did:sid DID/, `${p}.controller`);
      expectInvalid(mutated((d) => (d.verificationMethod = {})), /must be an array of verification methods/, "verificationMethod");
    });

    it("a key encoding that does not match the method type", () => {
      const p = "verificationMethod[0]";
      expectInvalid(
        mutated((d) => (d.verificationMethod[0].publicKeyMultibase = publicKeyToMultibase(pkA))),
        /carries publicKeyJwk, not publicKeyMultibase/,
        `${p}.publicKeyMultibase`,
      );
      expectInvalid(mutated((d) => delete d.verificationMethod[0].publicKeyJwk), /is required for type EcdsaSecp256k1VerificationKey2019/, `${p}.publicKeyJwk`);
      expectInvalid(mutated((d) => (d.verificationMethod[0].type = "Multikey")), /carries publicKeyMultibase, not publicKeyJwk/, `${p}.publicKeyJwk`);
      expectInvalid(
        mutated((d) => {
          d.verificationMethod[0].type = "Multikey";
          delete d.verificationMethod[0].publicKeyJwk;
        }),
        /is required for type Multikey/,
        `${p}.publicKeyMultibase`,
      );
      expectInvalid(
        mutated((d) => {
          d.verificationMethod[0].type = "JsonWebKey2020";
          d.verificationMethod[0].publicKeyMultibase = publicKeyToMultibase(pkA);
          delete d.verificationMethod[0].publicKeyJwk;
        }),
        /carries publicKeyJwk/,
        `${p}.publicKeyMultibase`,
      );
    });

    it("bad publicKeyJwk values", () => {
      const p = "verificationMethod[0].publicKeyJwk";
      expectInvalid(mutated((d) => (d.verificationMethod[0].publicKeyJwk.d = base64urlEncode(new Uint8Array(32).fill(1)))), /must not contain a private key \(d\)/, `${p}.d`);
      expectInvalid(mutated((d) => (d.verificationMethod[0].publicKeyJwk.kid = "k")), /unknown publicKeyJwk property "kid"/, `${p}.kid`);
      expectInvalid(mutated((d) => (d.verificationMethod[0].publicKeyJwk.kty = "OKP")), /must be "EC"/, `${p}.kty`);
      expectInvalid(mutated((d) => (d.verificationMethod[0].publicKeyJwk.crv = "P-256")), /must be "secp256k1"/, `${p}.crv`);
      expectInvalid(mutated((d) => (d.verificationMethod[0].publicKeyJwk = "x")), /must be a public JWK/, p);
      // Wrong length: 31 bytes.
      expectInvalid(
        mutated((d) => (d.verificationMethod[0].publicKeyJwk.x = base64urlEncode(new Uint8Array(31).fill(5)))),
        /must encode 32 bytes, got 31/,
        `${p}.x`,
      );
      expectInvalid(mutated((d) => (d.verificationMethod[0].publicKeyJwk.y = "!!!")), /not unpadded base64url/, `${p}.y`);
      expectInvalid(mutated((d) => (d.verificationMethod[0].publicKeyJwk.x += "=")), /not unpadded base64url/, `${p}.x`);
      // Same 32 bytes, but non-zero padding bits in the last character: not the canonical encoding.
      const x = PINNED_JWK.x;
      const last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      const twin = x.slice(0, -1) + last[last.indexOf(x.at(-1)!) + 1];
      expectInvalid(mutated((d) => (d.verificationMethod[0].publicKeyJwk.x = twin)), /(canonical|base64url)/, `${p}.x`);
      // Right length, but (x, y) is not on the curve.
      expectInvalid(
        mutated((d) => (d.verificationMethod[0].publicKeyJwk.x = base64urlEncode(new Uint8Array(32).fill(5)))),
        /invalid secp256k1 key: JWK point is not on secp256k1/,
        p,
      );
      // A valid x with the y of another key.
      expectInvalid(
        mutated((d) => (d.verificationMethod[0].publicKeyJwk.y = publicKeyToJwk(pkB).y)),
        /not on secp256k1/,
        p,
      );
    });

    it("bad publicKeyMultibase values", () => {
      const doc = richDocument();
      const p = "verificationMethod[1].publicKeyMultibase";
      expect(publicKeyToMultibase(pkB).startsWith("zQ3s")).to.equal(true);
      // ed25519 multicodec (0xed01) starts "z6Mk".
      expectInvalid(
        mutated((d) => (d.verificationMethod[1].publicKeyMultibase = "z" + base58btcEncode(Uint8Array.of(0xed, 0x01, ...new Uint8Array(32).fill(3)))), doc),
        /must be a secp256k1 Multikey/,
        p,
      );
      expectInvalid(mutated((d) => (d.verificationMethod[1].publicKeyMultibase = "zQ3s" + "1".repeat(80)), doc), /must be a secp256k1 Multikey/, p);
      expectInvalid(mutated((d) => (d.verificationMethod[1].publicKeyMultibase = "zQ3s0OIl"), doc), /invalid secp256k1 Multikey: invalid base58btc/, p);
      // Right multicodec and length, but x = 0 is not on the curve.
      const offCurve = "z" + base58btcEncode(Uint8Array.of(0xe7, 0x01, 0x02, ...new Uint8Array(32)));
      expect(offCurve.startsWith("zQ3s")).to.equal(true);
      expectInvalid(mutated((d) => (d.verificationMethod[1].publicKeyMultibase = offCurve), doc), /not a point on secp256k1/, p);
      // One byte short: the prefix no longer reads "zQ3s".
      const short = "z" + base58btcEncode(Uint8Array.of(0xe7, 0x01, ...pkB.subarray(0, 32)));
      expectInvalid(mutated((d) => (d.verificationMethod[1].publicKeyMultibase = short), doc), /must be a secp256k1 Multikey/, p);
      // The right prefix but far too few bytes.
      expectInvalid(mutated((d) => (d.verificationMethod[1].publicKeyMultibase = "zQ3sabc"), doc), /0xe701 \+ 33 bytes/, p);
      expectInvalid(mutated((d) => (d.keyAgreement[0].publicKeyMultibase = offCurve), doc), /not a point/, "keyAgreement[0].publicKeyMultibase");
    });

    it("bad services", () => {
      const doc = richDocument();
      expectInvalid(mutated((d) => (d.service[0].priority = "1"), doc), /unknown service property "priority"/, "service[0].priority");
      expectInvalid(mutated((d) => delete d.service[0].serviceEndpoint, doc), /is required/, "service[0].serviceEndpoint");
      expectInvalid(mutated((d) => (d.service[0].type = ""), doc), /must not be empty/, "service[0].type");
      expectInvalid(mutated((d) => (d.service[0].type = []), doc), /must not be an empty array/, "service[0].type");
      expectInvalid(mutated((d) => (d.service[0].type = ["A", ""]), doc), /must not be empty/, "service[0].type[1]");
      expectInvalid(mutated((d) => (d.service[0].type = { a: "b" }), doc), /non-empty string or a non-empty array/, "service[0].type");
      expectInvalid(mutated((d) => (d.service[0].serviceEndpoint = "example.com"), doc), /"example.com" is not a URI/, "service[0].serviceEndpoint");
      expectInvalid(mutated((d) => (d.service[0].serviceEndpoint = []), doc), /must not be an empty array/, "service[0].serviceEndpoint");
      expectInvalid(mutated((d) => (d.service[1].serviceEndpoint = { uri: ["https://a.example"] }), doc), /must be a string/, "service[1].serviceEndpoint.uri");
      expectInvalid(mutated((d) => (d.service[2].serviceEndpoint[0] = "no uri"), doc), /is not a URI/, "service[2].serviceEndpoint[0]");
      expectInvalid(mutated((d) => (d.service[2].serviceEndpoint = [["https://a.example"]]), doc), /URI string or a map/, "service[2].serviceEndpoint[0]");
      expectInvalid(mutated((d) => (d.service = d.service[0]), doc), /must be an array of services/, "service");
      expectInvalid(
        mutated((d) => {
          d.service = Array.from({ length: 17 }, (_, i) => ({ id: `${did}#s${i}`, type: "X", serviceEndpoint: "https://a.example" }));
        }),
        /too many services: 17, at most 16/,
        "service",
      );
    });

    it("strings longer than maxStringLength or not well-formed", () => {
      const long = "https://a.example/" + "a".repeat(DOCUMENT_LIMITS.maxStringLength);
      expectInvalid(mutated((d) => (d.alsoKnownAs = [long])), /string of 2066 characters is longer than 2048/, "alsoKnownAs[0]");
      expectInvalid(mutated((d) => (d["k".repeat(3000)] = "v")), /longer than 2048/, "");
      expectInvalid(mutated((d) => (d.alsoKnownAs = ["https://a.example/\ud800"])), /lone surrogate/, "alsoKnownAs[0]");
      // A proper surrogate pair is fine.
      validateDocument(mutated((d) => (d.alsoKnownAs = ["https://a.example/\u{1F600}"])), did);
    });

    it("an oversized document", () => {
      const big = mutated((d) => {
        d.service = Array.from({ length: 8 }, (_, i) => ({
          id: `${did}#s${i}`,
          type: "X",
          serviceEndpoint: ["https://a.example/" + "a".repeat(2000)],
        }));
      });
      expectInvalid(big, /document is (\d+ bytes, )?larger than 16384/, "");
      // Multi-byte characters count as UTF-8 bytes, not characters.
      const wide = mutated((d) => {
        d.service = Array.from({ length: 4 }, (_, i) => ({
          id: `${did}#s${i}`,
          type: "X",
          serviceEndpoint: ["https://a.example/" + "€".repeat(1500)],
        }));
      });
      expectInvalid(wide, /larger than 16384/, "");
      // Huge inputs are refused early, whatever they contain.
      expectInvalid(mutated((d) => (d.extra = Array.from({ length: 100_000 }, () => "x"))), /larger than 16384 bytes/, "");
      expectInvalid(mutated((d) => (d.extra = new Array(1e9))), /larger than 16384 bytes/, "");
    });

    it("numbers anywhere", () => {
      expectInvalid(mutated((d) => (d.verificationMethod[0].publicKeyJwk.x = 5)), /numbers are not allowed/, "verificationMethod[0].publicKeyJwk.x");
      expectInvalid(mutated((d) => (d.version = 1)), /numbers are not allowed/, "version");
      expectInvalid(mutated((d) => (d.service = [{ id: `${did}#s`, type: "X", serviceEndpoint: { port: 443 } }])), /numbers are not allowed/, "service[0].serviceEndpoint.port");
      expectInvalid(mutated((d) => (d.authentication = [0])), /numbers are not allowed/, "authentication[0]");
      expectInvalid(mutated((d) => (d.x = Number.NaN)), /numbers are not allowed/, "x");
      expectInvalid({ ...buildInitialDocument(pkA), x: 10n }, /numbers are not allowed/, "x");
    });

    it("other non-JSON values", () => {
      expectInvalid(mutated((d) => (d.controller = null)), /null is not allowed/, "controller");
      expectInvalid(mutated((d) => (d.controller = true)), /a boolean is not allowed/, "controller");
      expectInvalid({ ...buildInitialDocument(pkA), controller: undefined }, /undefined is not allowed/, "controller");
      expectInvalid({ ...buildInitialDocument(pkA), controller: () => did }, /function is not allowed/, "controller");
      expectInvalid({ ...buildInitialDocument(pkA), controller: Symbol("x") }, /symbol is not allowed/, "controller");
      expectInvalid({ ...buildInitialDocument(pkA), alsoKnownAs: new Uint8Array(2) }, /plain JSON object/, "alsoKnownAs");
      // eslint-disable-next-line no-sparse-arrays
      expectInvalid({ ...buildInitialDocument(pkA), alsoKnownAs: [, "https://a.example"] }, /holes/, "alsoKnownAs[0]");
    });

    it("hostile structures: deep nesting, cycles, getters, proxies", () => {
      expectInvalid(mutated((d) => (d.service = [{ id: `${did}#s`, type: "X", serviceEndpoint: [{ a: { b: "c" } }] }])), /nested too deeply/);
      const cyclic: any = clone(buildInitialDocument(pkA));
      cyclic.self = cyclic;
      expectInvalid(cyclic, /nested too deeply|unknown/);
      const cyclicArray: any[] = [];
      cyclicArray.push(cyclicArray);
      expectInvalid({ ...buildInitialDocument(pkA), alsoKnownAs: cyclicArray }, /nested too deeply/);
      // Wide sharing (a DAG that would be exponential to walk) stops at the size bound.
      let wide: unknown = "x";
      for (let i = 0; i < 4; i++) wide = Array.from({ length: 100 }, () => wide);
      expectInvalid({ ...buildInitialDocument(pkA), alsoKnownAs: wide }, /larger than 16384/, "");
      const withGetter = clone(buildInitialDocument(pkA)) as any;
      Object.defineProperty(withGetter, "id", { get: () => did, enumerable: true });
      expectInvalid(withGetter, /accessor properties are not allowed/, "id");
      const throwing = new Proxy(clone(buildInitialDocument(pkA)), {
        ownKeys() {
          throw new Error("boom");
        },
      });
      expectInvalid(throwing, /could not be validated: boom/, "");
      // A "__proto__" own key (as JSON.parse produces) stays data and is refused as unknown.
      expectInvalid(JSON.parse(`{"__proto__": {"id": "x"}, "@context": "${DID_CONTEXT}", "id": "${did}"}`), /unknown DID document property "__proto__"/);
    });
  });

  describe("keys and relationships", () => {
    it("verificationMethods lists top-level and embedded methods by id", () => {
      const methods = verificationMethods(richDocument());
      expect([...methods.keys()]).to.deep.equal([key1, `${did}#key-2`, `${did}#key-3`, `${did}#agree-1`]);
      expect(methods.get(`${did}#agree-1`)!.type).to.equal("Multikey");
    });

    it("publicKeyOfMethod decodes JWK and Multikey to the compressed key", () => {
      const doc = richDocument();
      const [m1, m2, m3] = doc.verificationMethod!;
      expect(toHex(publicKeyOfMethod(m1!))).to.equal(toHex(pkA));
      expect(toHex(publicKeyOfMethod(m2!))).to.equal(toHex(pkB));
      expect(toHex(publicKeyOfMethod(m3!))).to.equal(toHex(pkC));
      const bad = { ...m1!, publicKeyJwk: { ...m1!.publicKeyJwk!, x: base64urlEncode(new Uint8Array(32).fill(5)) } };
      expectDidError(() => publicKeyOfMethod(bad), /not on secp256k1/);
      expectDidError(() => publicKeyOfMethod(null as unknown as VerificationMethod), /verificationMethod/);
    });

    it("keyForRelationship finds referenced keys", () => {
      const doc = richDocument();
      expect(toHex(keyForRelationship(doc, "authentication", key1)!)).to.equal(toHex(pkA));
      expect(toHex(keyForRelationship(doc, "authentication", "#key-1")!)).to.equal(toHex(pkA));
      expect(toHex(keyForRelationship(doc, "authentication", `${did}#key-2`)!)).to.equal(toHex(pkB));
      expect(toHex(keyForRelationship(doc, "assertionMethod", `${did}#key-3`)!)).to.equal(toHex(pkC));
    });

    it("keyForRelationship finds embedded keys, only in their relationship", () => {
      const doc = richDocument();
      expect(toHex(keyForRelationship(doc, "keyAgreement", `${did}#agree-1`)!)).to.equal(toHex(pkC));
      expect(keyForRelationship(doc, "authentication", `${did}#agree-1`)).to.equal(undefined);
    });

    it("keyForRelationship refuses keys not in the relationship", () => {
      const doc = richDocument();
      expect(keyForRelationship(doc, "authentication", `${did}#key-3`)).to.equal(undefined);
      expect(keyForRelationship(doc, "keyAgreement", key1)).to.equal(undefined);
      expect(keyForRelationship(doc, "capabilityDelegation", key1)).to.equal(undefined);
      expect(keyForRelationship(doc, "authentication", `${did}#nope`)).to.equal(undefined);
      expect(keyForRelationship(doc, "authentication", `${didB}#key-1`)).to.equal(undefined);
      const initial = buildInitialDocument(pkA);
      expect(keyForRelationship(initial, "keyAgreement", key1)).to.equal(undefined);
      expect(keyForRelationship(initial, "capabilityDelegation", key1)).to.equal(undefined);
      expect(keyForRelationship(initial, "id" as never, key1)).to.equal(undefined);
    });
  });

  describe("editing helpers", () => {
    it("addVerificationMethod adds a key and its references without touching the input", () => {
      const doc = buildInitialDocument(pkA);
      const before = clone(doc);
      const next = addVerificationMethod(doc, pkB, "key-2", ["authentication", "keyAgreement", "authentication"]);
      expect(doc).to.deep.equal(before);
      expect(next.verificationMethod).to.have.length(2);
      expect(next.verificationMethod![1]).to.deep.equal({
        id: `${did}#key-2`,
        type: "EcdsaSecp256k1VerificationKey2019",
        controller: did,
        publicKeyJwk: publicKeyToJwk(pkB),
      });
      expect(next.authentication).to.deep.equal([key1, `${did}#key-2`]);
      expect(next.keyAgreement).to.deep.equal([`${did}#key-2`]);
      expect(next.assertionMethod).to.deep.equal([key1]);
      expect(toHex(keyForRelationship(next, "keyAgreement", "#key-2")!)).to.equal(toHex(pkB));
      expect(keyForRelationship(next, "assertionMethod", "#key-2")).to.equal(undefined);
      expect(validateDocument(next, did)).to.deep.equal(next);
    });

    it("addVerificationMethod adds the secp256k1 context when missing", () => {
      const doc = validateDocument(mutated((d) => (d["@context"] = DID_CONTEXT)), did);
      const next = addVerificationMethod(doc, pkB, "key-2", []);
      expect(next["@context"]).to.deep.equal([DID_CONTEXT, SECP256K1_2019_CONTEXT]);
      expect(doc["@context"]).to.equal(DID_CONTEXT);
    });

    it("addVerificationMethod refuses duplicate ids, bad fragments, bad keys and unknown relationships", () => {
      const doc = buildInitialDocument(pkA);
      expectDidError(() => addVerificationMethod(doc, pkB, "key-1", []), /".*#key-1" already exists/);
      const withService = addService(doc, { id: `${did}#svc`, type: "X", serviceEndpoint: "https://a.example" });
      expectDidError(() => addVerificationMethod(withService, pkB, "svc", []), /already exists/);
      expectDidError(() => addVerificationMethod(doc, pkB, "key 2", []), /fragment/);
      expectDidError(() => addVerificationMethod(doc, new Uint8Array(33), "key-2", []), /public key/);
      expectDidError(() => addVerificationMethod(doc, pkB, "key-2", ["owner" as never]), /unknown verification relationship "owner"/);
    });

    it("removeVerificationMethod removes the key and every reference to it", () => {
      const doc = buildInitialDocument(pkA);
      const added = addVerificationMethod(doc, pkB, "key-2", [...RELATIONSHIPS]);
      const removed = removeVerificationMethod(added, `${did}#key-2`);
      expect(removed).to.deep.equal(doc);
      expect(JSON.stringify(removed)).to.not.contain("#key-2");
      expect(added.capabilityDelegation).to.deep.equal([`${did}#key-2`]);
      // Removing the original key leaves key-2 in charge.
      const rotated = removeVerificationMethod(added, "#key-1");
      expect(rotated.verificationMethod!.map((m) => m.id)).to.deep.equal([`${did}#key-2`]);
      for (const rel of RELATIONSHIPS) expect(rotated[rel]).to.deep.equal([`${did}#key-2`]);
    });

    it("removeVerificationMethod removes embedded methods and drops emptied relationships", () => {
      const removed = removeVerificationMethod(richDocument(), `${did}#agree-1`);
      expect(removed.keyAgreement).to.equal(undefined);
      expect(verificationMethods(removed).has(`${did}#agree-1`)).to.equal(false);
    });

    it("removeVerificationMethod refuses a missing id and removing the last authentication key", () => {
      const doc = buildInitialDocument(pkA);
      expectDidError(() => removeVerificationMethod(doc, `${did}#key-9`), /no verification method ".*#key-9"/);
      expectDidError(() => removeVerificationMethod(doc, key1), /at least one authentication entry is required/);
    });

    it("addService and removeService", () => {
      const doc = buildInitialDocument(pkA);
      const svc: Service = { id: `${did}#linked`, type: "LinkedDomains", serviceEndpoint: { origins: "https://a.example" } };
      const next = addService(doc, svc);
      expect(next.service).to.deep.equal([svc]);
      expect(doc.service).to.equal(undefined);
      svc.type = "Changed";
      expect(next.service![0]!.type).to.equal("LinkedDomains");
      expectDidError(() => addService(next, { id: `${did}#linked`, type: "X", serviceEndpoint: "https://b.example" }), /already exists/);
      expectDidError(() => addService(next, { id: key1, type: "X", serviceEndpoint: "https://b.example" }), /already exists/);
      expectDidError(() => addService(doc, { id: `${did}#bad`, type: "X", serviceEndpoint: "not a uri" }), /is not a URI/);
      expect(removeService(next, "#linked")).to.deep.equal(doc);
      expectDidError(() => removeService(next, `${did}#other`), /no service ".*#other"/);
      const two = addService(next, { id: `${did}#two`, type: ["A", "B"], serviceEndpoint: ["https://a.example", { x: "y" }] });
      expect(removeService(two, `${did}#linked`).service!.map((s) => s.id)).to.deep.equal([`${did}#two`]);
    });
  });

  describe("properties", () => {
    function expectOnlyDidErrors(value: unknown): void {
      try {
        const checked = validateDocument(value, did);
        // Whatever passes is stable under re-validation.
        expect(validateDocument(checked, did)).to.deep.equal(checked);
      } catch (err) {
        if (!(err instanceof DidError) || err.code !== DidErrorCode.INVALID_DOCUMENT) throw err;
      }
    }

    /** The in-place check for decoded (plain) data must give validateDocument's verdict: the same document, or the same error and path. */
    function expectSameVerdictInPlace(value: unknown): void {
      const verdict = (f: () => unknown) => {
        try {
          return { ok: f() };
        } catch (err) {
          if (!(err instanceof DidError)) throw err;
          return { code: err.code, message: err.message, path: err.data?.path };
        }
      };
      const copied = verdict(() => validateDocument(value, did));
      const inPlace = verdict(() => validateDecodedDocument(value === undefined ? value : JSON.parse(JSON.stringify(value)), did));
      expect(inPlace).to.deep.equal(copied);
    }

    it("never throws anything but DidError on arbitrary JSON values", () => {
      fc.assert(fc.property(fc.jsonValue(), (v) => expectOnlyDidErrors(v)), { numRuns: 500 });
    });

    it("checks decoded JSON data in place with validateDocument's verdicts", () => {
      fc.assert(fc.property(fc.jsonValue(), (v) => expectSameVerdictInPlace(v)), { numRuns: 300 });
      expectSameVerdictInPlace(richDocument());
      expectSameVerdictInPlace(buildInitialDocument(pkA));
    });

    it("never throws anything but DidError on arbitrary JS values", () => {
      fc.assert(
        fc.property(
          fc.anything({
            withBigInt: true,
            withBoxedValues: true,
            withDate: true,
            withMap: true,
            withSet: true,
            withNullPrototype: true,
            withObjectString: true,
            withTypedArray: true,
            withSparseArray: true,
          }),
          (v) => expectOnlyDidErrors(v),
        ),
        { numRuns: 300 },
      );
    });

    it("never throws anything but DidError on mutations of a valid document", () => {
      type Slot = { parent: any; key: string | number };
      function slots(v: any, out: Slot[] = []): Slot[] {
        if (typeof v === "object" && v !== null) {
          for (const key of Array.isArray(v) ? v.keys() : Object.keys(v)) {
            out.push({ parent: v, key });
            slots(v[key], out);
          }
        }
        return out;
      }
      const mutation = fc.record({
        at: fc.nat(),
        kind: fc.constantFrom("replace", "delete", "insert", "swapString", "copyFrom"),
        value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string(), fc.constantFrom(did, key1, didB, `${didB}#key-1`, DID_CONTEXT)),
        key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom("id", "type", "d", "controller", "publicKeyJwk", "publicKeyMultibase")),
        from: fc.nat(),
      });
      fc.assert(
        fc.property(fc.constantFrom(richDocument(), buildInitialDocument(pkA)), fc.array(mutation, { minLength: 1, maxLength: 4 }), (base, muts) => {
          const doc = clone(base) as any;
          for (const m of muts) {
            const all = slots(doc);
            if (all.length === 0) break;
            const { parent, key } = all[m.at % all.length]!;
            switch (m.kind) {
              case "replace":
                parent[key] = m.value;
                break;
              case "delete":
                if (Array.isArray(parent)) parent.splice(key as number, 1);
                else delete parent[key];
                break;
              case "insert":
                if (Array.isArray(parent)) parent.push(m.value);
                else parent[m.key] = m.value;
                break;
              case "swapString":
                if (typeof parent[key] === "string") parent[key] = (parent[key] as string).slice(1) + (typeof m.value === "string" ? m.value : JSON.stringify(m.value)).slice(0, 2);
                break;
              case "copyFrom":
                parent[key] = clone(all[m.from % all.length]!.parent[all[m.from % all.length]!.key]);
                break;
            }
          }
          expectOnlyDidErrors(doc);
          expectSameVerdictInPlace(doc);
        }),
        { numRuns: 1000 },
      );
    });
  });
});
