/**
 * The Universal Resolver binding over an in-memory chain view, driven with
 * app.inject: every status with a W3C result body, content negotiation,
 * dereferencing, and the option rules.
 */
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import type { DidRecord, DidVersion } from "../../../src/chain/state.js";
import { publicKeyOf } from "../../../src/crypto/secp256k1.js";
import { buildInitialDocument, type DidDocument } from "../../../src/did/document.js";
import { addService, addVerificationMethod } from "../../../src/did/document-edit.js";
import { type DidResolutionResult, presentDocument } from "../../../src/did/resolution.js";
import { negotiate } from "../../../src/rpc/accept.js";
import { registerResolverRoutes } from "../../../src/rpc/resolver-http.js";
import { createResolveDid, type DidReadApi } from "../../../src/rpc/resolve.js";
import { buildServer } from "../../../src/rpc/server.js";

type Json = any;

const T1 = Date.UTC(2026, 0, 1, 12, 0, 0, 250);
const T2 = Date.UTC(2026, 1, 1, 12, 0, 0);
const NOW = Date.UTC(2026, 5, 1);

/** A chain view holding a few DIDs' histories. */
class FakeChain implements DidReadApi {
  readonly versions = new Map<string, DidVersion[]>();
  readonly records = new Map<string, DidRecord>();
  failOn = "";
  head() {
    return { time: T2 };
  }
  add(did: string, ...vs: Array<{ operation: DidVersion["operation"]; time: number; document: DidDocument }>): void {
    const list = vs.map((v, i) => ({ did, versionId: i + 1, operation: v.operation, height: i + 1, time: v.time, txHash: new Uint8Array(32), document: v.document }));
    this.versions.set(did, list);
    const last = list[list.length - 1]!;
    this.records.set(did, {
      did,
      document: last.document,
      versionId: last.versionId,
      nonce: list.length,
      created: list[0]!.time,
      updated: last.time,
      createdHeight: 1,
      updatedHeight: last.height,
      deactivated: last.operation === "deactivate",
    });
  }
  async getDid(did: string) {
    if (did === this.failOn) throw new Error("disk on fire at /var/secret");
    return this.records.get(did);
  }
  private history(did: string): DidVersion[] {
    if (did === this.failOn) throw new Error("disk on fire at /var/secret");
    return this.versions.get(did) ?? [];
  }
  async getDidVersion(did: string, versionId: number) {
    return this.history(did).find((v) => v.versionId === versionId);
  }
  async getDidVersionEntry(did: string, versionId: number) {
    return this.history(did).find((v) => v.versionId === versionId);
  }
  async didVersionAt(did: string, time: number) {
    return this.history(did).filter((v) => v.time <= time).pop()?.versionId;
  }
}

const aliceV1 = buildInitialDocument(publicKeyOf(new Uint8Array(32).fill(1)));
const alice = aliceV1.id;
let aliceV2 = addVerificationMethod(aliceV1, publicKeyOf(new Uint8Array(32).fill(2)), "key-2", ["authentication"]);
aliceV2 = addService(aliceV2, { id: `${alice}#hub`, type: "DIDCommMessaging", serviceEndpoint: "https://hub.example/base/" });
aliceV2 = addService(aliceV2, { id: `${alice}#profile`, type: "Profile", serviceEndpoint: { origins: "https://profile.example" } });
/** aliceV2 as the resolver shows it: its contexts completed (the sid context for its services). */
const shownV2 = presentDocument(aliceV2);
const bobDoc = buildInitialDocument(publicKeyOf(new Uint8Array(32).fill(3)));
const bob = bobDoc.id;
const carol = buildInitialDocument(publicKeyOf(new Uint8Array(32).fill(4))).id; // never registered
const broken = buildInitialDocument(publicKeyOf(new Uint8Array(32).fill(5))).id; // the store fails on it

const enc = encodeURIComponent;

/** A resolution result body, as every DID answer must be. */
function expectResolutionResult(body: Json, error?: string): void {
  expect(body["@context"]).to.equal("https://w3id.org/did-resolution/v1");
  expect(body).to.have.all.keys("@context", "didDocument", "didResolutionMetadata", "didDocumentMetadata");
  if (error !== undefined) {
    expect(body.didResolutionMetadata.error).to.equal(error);
    expect(body.didResolutionMetadata.errorMessage).to.be.a("string");
    expect(body.didDocument).to.equal(null);
    expect(body.didDocumentMetadata).to.deep.equal({});
  }
}

/** What resolveRepresentation answers over HTTP: resolve's result plus the document's contentType. */
function withContentType(r: DidResolutionResult): DidResolutionResult {
  return { ...r, didResolutionMetadata: { ...r.didResolutionMetadata, contentType: "application/did+ld+json" } };
}

/** A dereferencing result body, as every DID URL error answer must be. */
function expectDereferencingResult(body: Json, error?: string): void {
  expect(body["@context"]).to.equal("https://w3id.org/did-resolution/v1");
  expect(body).to.have.all.keys("@context", "content", "dereferencingMetadata", "contentMetadata");
  if (error !== undefined) {
    expect(body.dereferencingMetadata.error).to.equal(error);
    expect(body.dereferencingMetadata.errorMessage).to.be.a("string");
    expect(body.content).to.equal(null);
    expect(body.contentMetadata).to.deep.equal({});
  }
}

describe("rpc: Universal Resolver binding", () => {
  let app: FastifyInstance;
  const chain = new FakeChain();
  chain.add(alice, { operation: "create", time: T1, document: aliceV1 }, { operation: "update", time: T2, document: aliceV2 });
  chain.add(bob, { operation: "create", time: T1, document: bobDoc }, { operation: "deactivate", time: T2, document: bobDoc });
  chain.failOn = broken;
  const resolveDid = createResolveDid(chain, () => NOW);

  before(async () => {
    app = buildServer({}, {}, (a) => registerResolverRoutes(a, resolveDid));
    await app.ready();
  });
  after(async () => {
    await app.close();
  });

  async function get(identifier: string, accept?: string) {
    const res = await app.inject({ method: "GET", url: `/1.0/identifiers/${identifier}`, headers: accept === undefined ? {} : { accept } });
    return { status: res.statusCode, type: res.headers["content-type"], location: res.headers.location, text: res.body, json: res.body === "" ? undefined : (JSON.parse(res.body) as Json) };
  }

  describe("resolution", () => {
    it("answers 200 with the resolution result by default, the same as did_resolve gives", async () => {
      for (const accept of [undefined, "*/*", "application/*", "text/html, */*;q=0.1"]) {
        const r = await get(alice, accept);
        expect(r.status, String(accept)).to.equal(200);
        expect(r.type).to.equal("application/did-resolution");
        expectResolutionResult(r.json);
        expect(r.json).to.deep.equal(withContentType(await resolveDid(alice, {})));
        expect(r.json.didDocument).to.deep.equal(shownV2);
        expect(r.json.didDocumentMetadata).to.deep.equal({ created: "2026-01-01T12:00:00Z", updated: "2026-02-01T12:00:00Z", versionId: "2" });
      }
    });

    it("takes the DID percent-encoded", async () => {
      const r = await get(enc(alice));
      expect(r.status).to.equal(200);
      expect(r.json).to.deep.equal(withContentType(await resolveDid(alice, {})));
    });

    it("answers the result for application/did-resolution and the older ld+json profile, each with its Content-Type", async () => {
      const a = await get(alice, "application/did-resolution");
      expect([a.status, a.type]).to.deep.equal([200, "application/did-resolution"]);
      expectResolutionResult(a.json);
      const legacy = 'application/ld+json;profile="https://w3id.org/did-resolution"';
      const b = await get(alice, legacy);
      expect([b.status, b.type]).to.deep.equal([200, legacy]);
      expect(b.json).to.deep.equal(a.json);
      const spaced = await get(alice, 'application/ld+json; profile="https://w3id.org/did-resolution"; q=0.9');
      expect(spaced.type).to.equal(legacy);
    });

    it("answers the document alone for did+ld+json (with @context) and did+json (without)", async () => {
      const ld = await get(alice, "application/did+ld+json");
      expect([ld.status, ld.type]).to.deep.equal([200, "application/did+ld+json"]);
      expect(ld.json).to.deep.equal(shownV2);
      expect(Object.keys(ld.json)[0]).to.equal("@context");
      const json = await get(alice, "application/did+json");
      expect([json.status, json.type]).to.deep.equal([200, "application/did+json"]);
      const { "@context": _ctx, ...withoutContext } = shownV2;
      expect(json.json).to.deep.equal(withoutContext);
      const did11 = await get(alice, "application/did");
      expect([did11.status, did11.type]).to.deep.equal([200, "application/did"]);
      expect(did11.json).to.deep.equal(shownV2);
    });

    it("follows q-values and specificity", async () => {
      expect((await get(alice, "application/did+json;q=0.5, application/did+ld+json")).type).to.equal("application/did+ld+json");
      expect((await get(alice, "application/did+ld+json;q=0.2, application/did+json;q=0.9")).type).to.equal("application/did+json");
      expect((await get(alice, "*/*;q=0.1, application/did+json")).type).to.equal("application/did+json");
      expect((await get(alice, "application/did-resolution;q=0, */*")).type).to.equal('application/ld+json;profile="https://w3id.org/did-resolution"');
    });

    it("answers 406 representationNotSupported with a resolution result for any other type", async () => {
      for (const accept of ["text/html", "application/json", "application/did+cbor", "application/ld+json;profile=\"https://example.com\"", "garbage", "application/did-resolution;q=0"]) {
        const r = await get(alice, accept);
        expect(r.status, accept).to.equal(406);
        expect(r.type).to.equal("application/did-resolution");
        expectResolutionResult(r.json, "representationNotSupported");
      }
    });

    it("answers 404 notFound for a DID never registered", async () => {
      for (const accept of [undefined, "application/did+ld+json"]) {
        const r = await get(carol, accept);
        expect(r.status).to.equal(404);
        expect(r.type).to.equal("application/did-resolution");
        expectResolutionResult(r.json, "notFound");
      }
    });

    it("answers 400 invalidDid for text that is not a did:sid DID", async () => {
      for (const id of ["not-a-did", "did:sid:0OIl", enc("did:sid:abc"), "did:sid:", enc("did:sid:" + "1".repeat(80)), ""]) {
        const r = await get(id);
        expect(r.status, id).to.equal(400);
        expectResolutionResult(r.json, "invalidDid");
      }
    });

    it("answers 501 methodNotSupported for another DID method", async () => {
      const r = await get("did:example:123");
      expect(r.status).to.equal(501);
      expectResolutionResult(r.json, "methodNotSupported");
    });

    it("answers 410 for a deactivated DID: the result (deactivated: true, no keys), or the bare document in the representation asked for", async () => {
      for (const accept of [undefined, "application/did-resolution"]) {
        const r = await get(bob, accept);
        expect(r.status, String(accept)).to.equal(410);
        expect(r.type).to.equal("application/did-resolution");
        expectResolutionResult(r.json);
        expect(r.json.didDocumentMetadata.deactivated).to.equal(true);
        expect(r.json.didDocument).to.deep.equal({ "@context": bobDoc["@context"], id: bob, verificationMethod: [] });
      }
      const ld = await get(bob, "application/did+ld+json");
      expect([ld.status, ld.type]).to.deep.equal([410, "application/did+ld+json"]);
      expect(ld.json).to.deep.equal({ "@context": bobDoc["@context"], id: bob, verificationMethod: [] });
      const json = await get(bob, "application/did+json");
      expect([json.status, json.type]).to.deep.equal([410, "application/did+json"]);
      expect(json.json).to.deep.equal({ id: bob, verificationMethod: [] });
      // its version before the deactivation resolves with 200
      const v1 = await get(`${bob}?versionId=1`);
      expect(v1.status).to.equal(200);
      expect(v1.json.didDocument).to.deep.equal(bobDoc);
    });

    it("answers 500 internalError with a resolution result that does not leak the cause", async () => {
      const r = await get(broken);
      expect(r.status).to.equal(500);
      expect(r.type).to.equal("application/did-resolution");
      expectResolutionResult(r.json, "internalError");
      expect(r.text).to.not.include("secret");
    });
  });

  describe("versionId and versionTime", () => {
    it("resolves a version given as a request option or as a DID parameter of the (encoded) DID URL", async () => {
      const expected = await resolveDid(alice, { versionId: "1" });
      expect(expected.didDocumentMetadata).to.deep.equal({ created: "2026-01-01T12:00:00Z", versionId: "1", nextVersionId: "2", nextUpdate: "2026-02-01T12:00:00Z" });
      for (const path of [`${alice}?versionId=1`, `${enc(`${alice}?versionId=1`)}`, `${enc(alice)}?versionId=1`]) {
        const r = await get(path);
        expect(r.status, path).to.equal(200);
        expect(r.json, path).to.deep.equal(withContentType(expected));
      }
      const byTime = await get(`${alice}?versionTime=2026-01-15T00:00:00Z`);
      expect(byTime.json.didDocumentMetadata.versionId).to.equal("1");
      const withOffset = await get(`${enc(alice)}?versionTime=2026-02-01T13:00:00+01:00`);
      expect(withOffset.json.didDocumentMetadata.versionId).to.equal("2");
    });

    it("answers 400 invalidOptions for versionId and versionTime together", async () => {
      for (const path of [`${alice}?versionId=1&versionTime=2026-01-15T00:00:00Z`, `${enc(`${alice}?versionId=1`)}?versionTime=2026-01-15T00:00:00Z`]) {
        const r = await get(path);
        expect(r.status, path).to.equal(400);
        expectResolutionResult(r.json, "invalidOptions");
      }
    });

    it("answers 400 invalidOptions for a versionTime in the future or malformed", async () => {
      for (const t of ["2026-06-01T00:00:01Z", "2099-01-01T00:00:00Z", "yesterday", "2026-02-30T00:00:00Z", "2026-01-15T00:00:00"]) {
        const r = await get(`${alice}?versionTime=${enc(t)}`);
        expect(r.status, t).to.equal(400);
        expectResolutionResult(r.json, "invalidOptions");
      }
      // "now" itself is fine
      expect((await get(`${alice}?versionTime=2026-06-01T00:00:00Z`)).status).to.equal(200);
    });

    it("answers 400 for a version both in the DID URL and as an option, or an option given twice", async () => {
      const both = await get(`${enc(`${alice}?versionId=1`)}?versionId=1`);
      expect(both.status).to.equal(400);
      expectResolutionResult(both.json, "invalidOptions");
      const twice = await get(`${alice}?versionId=1&versionId=2`);
      expect(twice.status).to.equal(400);
      expectResolutionResult(twice.json, "invalidOptions");
    });

    it("answers 404 for a version that does not exist or a time before the DID", async () => {
      expectResolutionResult((await get(`${alice}?versionId=7`)).json, "notFound");
      const early = await get(`${alice}?versionTime=2025-01-01T00:00:00Z`);
      expect(early.status).to.equal(404);
      expectResolutionResult(early.json, "notFound");
    });

    it("ignores resolution options it has no use for", async () => {
      const r = await get(`${alice}?noCache=true&expandRelativeUrls=true`);
      expect(r.status).to.equal(200);
      expect(r.json).to.deep.equal(withContentType(await resolveDid(alice, {})));
    });
  });

  describe("dereferencing", () => {
    it("gives a verification method for a percent-encoded fragment, as did+ld+json or did+json", async () => {
      const vm = aliceV2.verificationMethod![1]!;
      const ld = await get(enc(`${alice}#key-2`));
      expect([ld.status, ld.type]).to.deep.equal([200, "application/did+ld+json"]);
      expect(ld.json).to.deep.equal({ "@context": shownV2["@context"], ...vm });
      const json = await get(`${alice}%23key-2`, "application/did+json");
      expect([json.status, json.type]).to.deep.equal([200, "application/did+json"]);
      expect(json.json).to.deep.equal(vm);
    });

    it("gives a service object for its fragment", async () => {
      const r = await get(enc(`${alice}#hub`), "application/did+json");
      expect(r.json).to.deep.equal(aliceV2.service![0]);
    });

    it("gives the full dereferencing result for application/did-url-dereferencing", async () => {
      const r = await get(enc(`${alice}#key-1`), "application/did-url-dereferencing");
      expect([r.status, r.type]).to.deep.equal([200, "application/did-url-dereferencing"]);
      expectDereferencingResult(r.json);
      expect(r.json.content.id).to.equal(`${alice}#key-1`);
      expect(r.json.dereferencingMetadata).to.deep.equal({ contentType: "application/did+ld+json" });
      expect(r.json.contentMetadata.versionId).to.equal("2");
    });

    it("dereferences a fragment in an older version", async () => {
      expect((await get(enc(`${alice}?versionId=1#key-2`))).status).to.equal(404);
      expect((await get(enc(`${alice}?versionId=2#key-2`))).status).to.equal(200);
    });

    it("answers 404 notFound with a dereferencing result for an absent fragment, an unknown service or a DID path", async () => {
      for (const id of [enc(`${alice}#key-9`), enc(`${alice}?service=nope`), `${alice}?service=nope`, enc(`${alice}/some/path`), `${alice}/some/path`, enc(`${carol}#key-1`)]) {
        const r = await get(id);
        expect(r.status, id).to.equal(404);
        expect(r.type).to.equal("application/did-url-dereferencing");
        expect(r.json.dereferencingMetadata.error).to.equal("notFound");
        expect(r.json.content).to.equal(null);
      }
    });

    it("redirects a service to its endpoint, with relativeRef resolved, from an encoded DID URL or request parameters", async () => {
      for (const [id, location] of [
        [enc(`${alice}?service=hub`), "https://hub.example/base/"],
        [`${alice}?service=hub`, "https://hub.example/base/"],
        [enc(`${alice}?service=hub&relativeRef=${enc("/inbox?x=1")}`), "https://hub.example/inbox?x=1"],
        [`${alice}?service=hub&relativeRef=${enc("inbox")}`, "https://hub.example/base/inbox"],
        [`${enc(`${alice}#frag`)}?service=hub`, "https://hub.example/base/#frag"],
        [`${alice}?serviceType=DIDCommMessaging`, "https://hub.example/base/"],
      ] as const) {
        for (const accept of [undefined, "*/*", "text/uri-list"]) {
          const r = await get(id, accept);
          expect(r.status, `${id} ${accept}`).to.equal(303);
          expect(r.location, id).to.equal(location);
          expect(r.text).to.equal("");
        }
      }
    });

    it("gives the service selection as a result or as a document when asked", async () => {
      const full = await get(enc(`${alice}?service=hub`), "application/did-url-dereferencing");
      expect(full.status).to.equal(200);
      expect(full.json.content).to.deep.equal(["https://hub.example/base/"]);
      expect(full.json.dereferencingMetadata.contentType).to.equal("text/uri-list");
      const doc = await get(enc(`${alice}?service=hub`), "application/did+ld+json");
      expect([doc.status, doc.type]).to.deep.equal([200, "application/did+ld+json"]);
      expect(doc.json.service).to.deep.equal([aliceV2.service![0]]);
      // a map endpoint has no URL: the document holding the service, or 406 as a URL list
      const map = await get(enc(`${alice}?service=profile`));
      expect([map.status, map.type]).to.deep.equal([200, "application/did+ld+json"]);
      expect(map.json.service).to.deep.equal([aliceV2.service![1]]);
      const list = await get(enc(`${alice}?service=profile`), "text/uri-list");
      expect(list.status).to.equal(406);
      expectDereferencingResult(list.json, "representationNotSupported");
    });

    it("answers 406 with a dereferencing result for a type the resource has no representation in", async () => {
      for (const accept of ["application/did-resolution", "text/html", "image/png"]) {
        const r = await get(enc(`${alice}#key-1`), accept);
        expect(r.status, accept).to.equal(406);
        expectDereferencingResult(r.json, "representationNotSupported");
      }
      const keyAsList = await get(enc(`${alice}#key-1`), "text/uri-list");
      expect(keyAsList.status).to.equal(406);
      expectDereferencingResult(keyAsList.json, "representationNotSupported");
    });

    it("answers 400 invalidDidUrl for malformed DID URLs", async () => {
      for (const id of [
        enc(`${alice}#a b`),
        enc(`${alice}?service=a&service=b`),
        `${enc(`${alice}?service=hub`)}?service=hub`, // in the DID URL and the request
        enc(`${alice}?relativeRef=/x`),
        `${alice}?service=hub&relativeRef=${enc("https://elsewhere.example/")}`,
        enc("not a did#key-1"),
        enc(`did:sid:${"1".repeat(3000)}#x`),
      ]) {
        const r = await get(id);
        expect(r.status, id).to.equal(400);
        expect(r.type).to.equal("application/did-url-dereferencing");
        expectDereferencingResult(r.json, "invalidDidUrl");
      }
      const badDid = await get(enc("did:sid:abc#key-1"));
      expect(badDid.status).to.equal(400);
      expectDereferencingResult(badDid.json, "invalidDid");
    });

    it("answers 410 notFound, with the DID's metadata, for a key or service of a deactivated DID", async () => {
      for (const id of [enc(`${bob}#key-1`), `${bob}?service=hub`]) {
        const r = await get(id);
        expect(r.status, id).to.equal(410);
        expect(r.type).to.equal("application/did-url-dereferencing");
        expectDereferencingResult(r.json);
        expect(r.json.content).to.equal(null);
        expect(r.json.dereferencingMetadata.error).to.equal("notFound");
        expect(r.json.dereferencingMetadata.errorMessage).to.match(/deactivated/);
        expect(r.json.contentMetadata.deactivated).to.equal(true);
      }
    });

    it("takes an empty fragment or query, and ignores DID parameters did:sid does not define", async () => {
      for (const id of [enc(`${alice}#`), enc(`${alice}?`), enc(`${alice}?foo=bar`), `${alice}?foo=bar`]) {
        const r = await get(id);
        expect(r.status, id).to.equal(200);
        expect(r.json, id).to.deep.equal(withContentType(await resolveDid(alice, {})));
      }
      const key = await get(enc(`${alice}?foo=bar#key-1`));
      expect([key.status, key.type]).to.deep.equal([200, "application/did+ld+json"]);
      expect(key.json.id).to.equal(`${alice}#key-1`);
    });

    it("dereferences a bare DID for application/did-url-dereferencing: its document as the content", async () => {
      const r = await get(alice, "application/did-url-dereferencing");
      expect([r.status, r.type]).to.deep.equal([200, "application/did-url-dereferencing"]);
      expectDereferencingResult(r.json);
      expect(r.json.content).to.deep.equal(shownV2);
      expect(r.json.dereferencingMetadata).to.deep.equal({ contentType: "application/did+ld+json" });
      const dead = await get(bob, "application/did-url-dereferencing");
      expect(dead.status).to.equal(410);
      expect(dead.json.contentMetadata.deactivated).to.equal(true);
    });
  });

  describe("JSON-LD contexts", () => {
    it("serves each shipped context as application/ld+json, and 404 for any other name", async () => {
      const res = await app.inject({ method: "GET", url: "/contexts/sid-v1.jsonld" });
      expect(res.statusCode).to.equal(200);
      expect(res.headers["content-type"]).to.equal("application/ld+json");
      expect(JSON.parse(res.body)["@context"].serviceEndpoint["@id"]).to.equal("https://www.w3.org/ns/did#serviceEndpoint");
      expect((await app.inject({ method: "GET", url: "/contexts/did-v1.jsonld" })).statusCode).to.equal(200);
      for (const bad of ["/contexts/nope.jsonld", "/contexts/..%2Fpackage.json", "/contexts/README.md"]) {
        expect((await app.inject({ method: "GET", url: bad })).statusCode, bad).to.equal(404);
      }
    });
  });

  describe("Accept negotiation", () => {
    const offers = ["application/did-resolution", 'application/ld+json;profile="https://w3id.org/did-resolution"', "application/did+ld+json"];
    it("picks by q, then specificity, then the server's order", () => {
      expect(negotiate(undefined, offers)).to.deep.equal({ offer: offers[0], byWildcard: true });
      expect(negotiate("*/*", offers)).to.deep.equal({ offer: offers[0], byWildcard: true });
      expect(negotiate("application/*", offers)).to.deep.equal({ offer: offers[0], byWildcard: false });
      expect(negotiate("application/ld+json", offers)?.offer).to.equal(offers[1]);
      expect(negotiate('application/ld+json;profile="https://w3id.org/did-resolution"', offers)?.offer).to.equal(offers[1]);
      expect(negotiate("application/did+ld+json, application/did-resolution;q=0.9", offers)?.offer).to.equal(offers[2]);
      expect(negotiate("*/*;q=0.5, application/did-resolution;q=0", offers)?.offer).to.equal(offers[1]);
      expect(negotiate("text/plain", offers)).to.equal(undefined);
      expect(negotiate("application/did+ld+json;q=2", offers)).to.equal(undefined);
      expect(negotiate('application/ld+json;profile="a,b", text/html', offers)).to.equal(undefined);
    });
  });
});
