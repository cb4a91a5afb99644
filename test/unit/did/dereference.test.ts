import { expect } from "chai";
import { publicKeyOf } from "../../../src/crypto/secp256k1.js";
import { buildInitialDocument, type DidDocument } from "../../../src/did/document.js";
import { addService, addVerificationMethod } from "../../../src/did/document-edit.js";
import {
  ContentType,
  DidUrlError,
  MAX_DID_URL_LENGTH,
  dereferenceDidUrl,
  namesDocument,
  parseDidQuery,
  parseDidUrl,
  resolutionOptionsOf,
} from "../../../src/did/dereference.js";
import { resolutionError, resolveCurrent } from "../../../src/did/resolution.js";

function expectUrlError(input: unknown, code: string): DidUrlError {
  let thrown: unknown;
  try {
    parseDidUrl(input);
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ${code} for ${String(input)}`).to.be.instanceOf(DidUrlError);
  expect((thrown as DidUrlError).code, String(input)).to.equal(code);
  return thrown as DidUrlError;
}

describe("did/dereference", () => {
  const key1 = publicKeyOf(new Uint8Array(32).fill(1));
  const key2 = publicKeyOf(new Uint8Array(32).fill(2));
  let doc: DidDocument = buildInitialDocument(key1);
  const did = doc.id;
  doc = addVerificationMethod(doc, key2, "key-2", ["authentication"]);
  doc = addService(doc, { id: `${did}#hub`, type: "DIDCommMessaging", serviceEndpoint: "https://hub.example/base/" });
  doc = addService(doc, { id: `${did}#mirror`, type: ["DIDCommMessaging", "Mirror"], serviceEndpoint: ["https://a.example/", { uri: "https://b.example/" }, "https://c.example/x"] });
  doc = addService(doc, { id: `${did}#profile`, type: "Profile", serviceEndpoint: { origins: "https://profile.example" } });
  const resolved = resolveCurrent({ document: doc, versionId: 4, created: Date.UTC(2026, 0, 1), updated: Date.UTC(2026, 1, 1), deactivated: false });
  const deref = (text: string, accept?: (typeof ContentType)[keyof typeof ContentType]) => dereferenceDidUrl(parseDidUrl(text), resolved, accept);

  describe("parsing", () => {
    it("splits a DID URL into DID, path, decoded parameters and fragment", () => {
      const u = parseDidUrl(`${did}?service=hub&relativeRef=%2Finbox%3Fa%3D1#top`);
      expect(u).to.deep.equal({
        didUrl: `${did}?service=hub&relativeRef=%2Finbox%3Fa%3D1#top`,
        did,
        path: "",
        params: { service: "hub", relativeRef: "/inbox?a=1" },
        fragment: "top",
        ignoredParams: [],
      });
      expect(parseDidUrl(did)).to.deep.equal({ didUrl: did, did, path: "", params: {}, ignoredParams: [] });
      expect(parseDidUrl(`${did}/a/b`).path).to.equal("/a/b");
      expect(parseDidUrl(`${did}#key-1`).fragment).to.equal("key-1");
      expect(parseDidUrl(`${did}?versionTime=2026-01-01T00:00:00+01:00`).params.versionTime).to.equal("2026-01-01T00:00:00+01:00");
    });

    it("says invalidDid for a bare string that is not a did:sid DID", () => {
      for (const bad of ["", "not-a-did", "did:sid:", "did:sid:0OIl", "did:sid:abc", "DID:sid:x", 42, null]) expectUrlError(bad, "invalidDid");
      // a DID URL whose DID is malformed in did:sid's own rules
      expectUrlError("did:sid:abc#key-1", "invalidDid");
      expectUrlError(`did:sid:${"1".repeat(40)}`, "invalidDid");
      // matrix parameters are neither DID nor DID URL syntax (DID Core 1.0 dropped them)
      expectUrlError(`${did};versionId=1`, "invalidDid");
      expectUrlError(`${did};versionId=1#key-1`, "invalidDidUrl");
    });

    it("says methodNotSupported for a well-formed DID of another method", () => {
      expectUrlError("did:example:123", "methodNotSupported");
      expectUrlError("did:web:example.com#key-1", "methodNotSupported");
    });

    it("says invalidDidUrl for text that is not a DID URL, or one did:sid cannot mean", () => {
      for (const bad of [
        `${did}#a b`,
        `${did}#%zz`,
        `${did}#%FF`, // not UTF-8
        `${did}?service`, // no value
        `${did}?service=`,
        `${did}?service=a&service=b`, // repeated
        `${did}?relativeRef=/x`, // relativeRef without a service
        `${did}?service=hub&relativeRef=https://evil.example/`, // not relative
        `${did}?service=hub&relativeRef=%20x`,
        `${did}?service=hub#a#b`,
        `${did}?service=hub&x${"y".repeat(MAX_DID_URL_LENGTH)}=1`,
      ]) {
        expectUrlError(bad, "invalidDidUrl");
      }
    });

    it("takes an empty query or fragment, which the grammar allows, as none", () => {
      for (const text of [`${did}?`, `${did}#`, `${did}?#`, `${did}?versionId=2&`]) {
        const u = parseDidUrl(text);
        expect(u.fragment, text).to.equal(undefined);
        expect(namesDocument(u), text).to.equal(true);
      }
      expect(deref(`${did}#`).content).to.deep.equal(resolved.didDocument);
    });

    it("ignores DID parameters did:sid does not define, and lists them", () => {
      const u = parseDidUrl(`${did}?foo=bar&versionId=2&flag&foo=baz`);
      expect(u.params).to.deep.equal({ versionId: "2" });
      expect(u.ignoredParams).to.deep.equal(["foo", "flag"]);
      expect(namesDocument(parseDidUrl(`${did}?foo=bar`))).to.equal(true);
      expect(parseDidUrl(`${did}?=hub`).ignoredParams).to.deep.equal([""]);
      expect(parseDidUrl(`${did}?foo=bar#key-1`).fragment).to.equal("key-1");
    });

    it("keeps '+' in a query value, as RFC 3986 does", () => {
      expect(parseDidQuery("versionTime=2026-01-01T00:00:00+01:00").get("versionTime")).to.equal("2026-01-01T00:00:00+01:00");
      expect(parseDidQuery("a=%2B%20").get("a")).to.equal("+ ");
    });

    it("tells a DID URL naming the document from one naming a part of it", () => {
      expect(namesDocument(parseDidUrl(did))).to.equal(true);
      expect(namesDocument(parseDidUrl(`${did}?versionId=2`))).to.equal(true);
      expect(resolutionOptionsOf(parseDidUrl(`${did}?versionId=2`))).to.deep.equal({ versionId: "2" });
      expect(namesDocument(parseDidUrl(`${did}#key-1`))).to.equal(false);
      expect(namesDocument(parseDidUrl(`${did}?service=hub`))).to.equal(false);
      expect(namesDocument(parseDidUrl(`${did}/x`))).to.equal(false);
    });
  });

  describe("fragments", () => {
    it("gives a verification method as JSON-LD with the document's @context, or as plain JSON without", () => {
      const ld = deref(`${did}#key-1`);
      expect(ld.dereferencingMetadata).to.deep.equal({ contentType: "application/did+ld+json" });
      expect(ld.content).to.deep.equal({ "@context": resolved.didDocument!["@context"], ...doc.verificationMethod![0]! });
      expect(Object.keys(ld.content as object)[0]).to.equal("@context");
      expect(ld.contentMetadata).to.deep.equal(resolved.didDocumentMetadata);
      const json = deref(`${did}#key-2`, ContentType.DID_JSON);
      expect(json.content).to.deep.equal(doc.verificationMethod![1]);
      expect(json.dereferencingMetadata.contentType).to.equal("application/did+json");
      expect(deref(`${did}#key-1`, ContentType.DID).dereferencingMetadata.contentType).to.equal("application/did");
    });

    it("gives a service by its fragment", () => {
      expect(deref(`${did}#hub`, ContentType.DID_JSON).content).to.deep.equal(doc.service![0]);
    });

    it("finds an embedded verification method", () => {
      const embedded = { id: `${did}#embedded`, type: "EcdsaSecp256k1VerificationKey2019" as const, controller: did, publicKeyJwk: doc.verificationMethod![0]!.publicKeyJwk! };
      const withEmbedded = { ...doc, assertionMethod: [embedded] };
      const r = dereferenceDidUrl(parseDidUrl(`${did}#embedded`), { ...resolved, didDocument: withEmbedded }, ContentType.DID_JSON);
      expect(r.content).to.deep.equal(embedded);
    });

    it("answers notFound for an absent fragment, and representationNotSupported for a key as a URL list", () => {
      const r = deref(`${did}#key-9`);
      expect(r.dereferencingMetadata.error).to.equal("notFound");
      expect(r.content).to.equal(null);
      // the DID resolved: the metadata of its document comes with the error
      expect(r.contentMetadata).to.deep.equal(resolved.didDocumentMetadata);
      expect(deref(`${did}#key-1`, ContentType.URI_LIST).dereferencingMetadata.error).to.equal("representationNotSupported");
    });
  });

  describe("services", () => {
    it("selects a service's endpoint URL by name, '#name' or absolute id", () => {
      for (const name of ["hub", "%23hub", encodeURIComponent(`${did}#hub`)]) {
        const r = deref(`${did}?service=${name}`);
        expect(r.dereferencingMetadata.contentType, name).to.equal("text/uri-list");
        expect(r.content, name).to.deep.equal(["https://hub.example/base/"]);
      }
    });

    it("resolves relativeRef against the endpoint (RFC 3986 section 5) and keeps the DID URL's fragment", () => {
      expect(deref(`${did}?service=hub&relativeRef=inbox%3Fa%3D1`).content).to.deep.equal(["https://hub.example/base/inbox?a=1"]);
      expect(deref(`${did}?service=hub&relativeRef=%2Finbox`).content).to.deep.equal(["https://hub.example/inbox"]);
      expect(deref(`${did}?service=hub&relativeRef=../up`).content).to.deep.equal(["https://hub.example/up"]);
      expect(deref(`${did}?service=hub#part`).content).to.deep.equal(["https://hub.example/base/#part"]);
    });

    it("takes the string endpoints of a set and skips maps", () => {
      expect(deref(`${did}?service=mirror`).content).to.deep.equal(["https://a.example/", "https://c.example/x"]);
    });

    it("selects by serviceType, alone or with service", () => {
      expect(deref(`${did}?serviceType=DIDCommMessaging`).content).to.deep.equal(["https://hub.example/base/", "https://a.example/", "https://c.example/x"]);
      expect(deref(`${did}?service=mirror&serviceType=Mirror`).content).to.deep.equal(["https://a.example/", "https://c.example/x"]);
      expect(deref(`${did}?service=hub&serviceType=Mirror`).dereferencingMetadata.error).to.equal("notFound");
    });

    it("as a document: the resolved document holding only the selected services", () => {
      const r = deref(`${did}?service=hub`, ContentType.DID_LD_JSON);
      expect(r.content).to.deep.equal({ ...resolved.didDocument, service: [doc.service![0]] });
      const plain = deref(`${did}?service=hub`, ContentType.DID_JSON).content as Record<string, unknown>;
      expect(plain).to.not.have.property("@context");
      expect(plain.service).to.deep.equal([doc.service![0]]);
    });

    it("a service whose endpoint is a map has no URL: a document naturally, representationNotSupported as a URL list", () => {
      const r = deref(`${did}?service=profile`);
      expect(r.dereferencingMetadata.contentType).to.equal("application/did+ld+json");
      expect((r.content as DidDocument).service).to.deep.equal([doc.service![2]]);
      expect(deref(`${did}?service=profile`, ContentType.URI_LIST).dereferencingMetadata.error).to.equal("representationNotSupported");
    });

    it("answers notFound for an unknown service", () => {
      const r = deref(`${did}?service=nope`);
      expect(r.dereferencingMetadata.error).to.equal("notFound");
      expect(r.content).to.equal(null);
    });
  });

  it("answers notFound for a DID path", () => {
    expect(deref(`${did}/some/path`).dereferencingMetadata.error).to.equal("notFound");
  });

  it("passes the resolution's error on", () => {
    const r = dereferenceDidUrl(parseDidUrl(`${did}#key-1`), resolutionError("notFound", "not registered"), undefined);
    expect(r).to.deep.equal({ "@context": "https://w3id.org/did-resolution/v1", dereferencingMetadata: { error: "notFound", errorMessage: "not registered" }, content: null, contentMetadata: {} });
  });

  it("answers notFound for a key or service of a deactivated DID, and its bare document for the DID, with its metadata", () => {
    const dead = resolveCurrent({ document: doc, versionId: 5, created: Date.UTC(2026, 0, 1), updated: Date.UTC(2026, 2, 1), deactivated: true });
    for (const text of [`${did}#key-1`, `${did}#hub`, `${did}?service=hub`]) {
      const r = dereferenceDidUrl(parseDidUrl(text), dead, undefined);
      expect(r.content, text).to.equal(null);
      expect(r.dereferencingMetadata.error, text).to.equal("notFound");
      expect(r.dereferencingMetadata.errorMessage, text).to.match(/deactivated/);
      expect(r.contentMetadata, text).to.deep.equal(dead.didDocumentMetadata);
    }
    const whole = dereferenceDidUrl(parseDidUrl(did), dead, undefined);
    expect(whole.content).to.deep.equal({ "@context": doc["@context"], id: did, verificationMethod: [] });
    expect(whole.contentMetadata.deactivated).to.equal(true);
  });

  it("gives the whole document for a DID URL that names it", () => {
    expect(deref(did).content).to.deep.equal(resolved.didDocument);
    expect(deref(did, ContentType.DID_JSON).content).to.not.have.property("@context");
  });
});
