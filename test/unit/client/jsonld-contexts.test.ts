/**
 * Every document a node serves, and every part of one it dereferences,
 * expands in JSON-LD safe mode (the `jsonld` package, which fails on any
 * term or type no listed context defines) with the offline contexts the
 * package ships: what a JSON-LD consumer of did:sid sees.
 */
import { expect } from "chai";
import jsonld from "jsonld";
import { sidDocumentLoader } from "../../../src/client/contexts.js";
import { publicKeyOf, publicKeyToMultibase } from "../../../src/crypto/index.js";
import { ContentType, dereferenceDidUrl, parseDidUrl } from "../../../src/did/dereference.js";
import { DID_CONTEXT, buildInitialDocument, type DidDocument, validateDocument } from "../../../src/did/document.js";
import { addService, addVerificationMethod } from "../../../src/did/document-edit.js";
import { resolveCurrent } from "../../../src/did/resolution.js";

type Expanded = Array<Record<string, unknown>>;

async function expandSafe(doc: unknown): Promise<Expanded> {
  const options = { documentLoader: sidDocumentLoader, safe: true } as unknown as jsonld.Options.Expand;
  return (await jsonld.expand(doc as jsonld.JsonLdDocument, options)) as unknown as Expanded;
}

const SEC = "https://w3id.org/security#";
const DID_NS = "https://www.w3.org/ns/did#";

describe("client: JSON-LD contexts, safe mode", () => {
  const key1 = publicKeyOf(new Uint8Array(32).fill(1));
  const key2 = publicKeyOf(new Uint8Array(32).fill(2));
  const base = buildInitialDocument(key1);
  const did = base.id;
  let full = addVerificationMethod(base, key2, "key-2", ["authentication", "keyAgreement"]);
  full = addService(full, { id: `${did}#site`, type: "LinkedDomains", serviceEndpoint: "https://alice.example" });
  full = addService(full, { id: `${did}#dm`, type: "DIDCommMessaging", serviceEndpoint: { uri: "https://dm.example/inbox", accept: "didcomm/v2" } });
  full = addService(full, { id: `${did}#other`, type: ["SomethingNew", "LinkedDomains"], serviceEndpoint: ["https://a.example/", "https://b.example/"] });

  /** A holder's document listing only the DID context, with a Multikey key and a JsonWebKey2020 key. */
  const bare: DidDocument = validateDocument(
    {
      "@context": DID_CONTEXT,
      id: did,
      verificationMethod: [
        { id: `${did}#mk`, type: "Multikey", controller: did, publicKeyMultibase: publicKeyToMultibase(key1) },
        { id: `${did}#jwk`, type: "JsonWebKey2020", controller: did, publicKeyJwk: base.verificationMethod![0]!.publicKeyJwk! },
      ],
      authentication: [`${did}#mk`, `${did}#jwk`],
      service: [{ id: `${did}#hub`, type: "LinkedDomains", serviceEndpoint: "https://hub.example" }],
    },
    did,
  );

  const resolved = (document: DidDocument, deactivated = false) =>
    resolveCurrent({ document, versionId: 2, created: Date.UTC(2026, 0, 1), updated: Date.UTC(2026, 1, 1), deactivated });

  it("the shipped contexts load and refuse any other URL", async () => {
    await expandSafe({ "@context": DID_CONTEXT, id: did, alsoKnownAs: ["https://alice.example"] });
    let thrown: unknown;
    try {
      await expandSafe({ "@context": "https://example.com/unknown/v1", id: did, alsoKnownAs: ["https://alice.example"] });
    } catch (e) {
      thrown = e;
    }
    expect(String((thrown as { details?: { cause?: unknown } })?.details?.cause ?? thrown)).to.match(/no offline copy/);
  });

  it("safe mode fails on a term no listed context defines (the check is real)", async () => {
    // the stored document of `bare` as a holder wrote it, without the contexts its keys and service need
    let thrown: unknown;
    try {
      await expandSafe(bare);
    } catch (e) {
      thrown = e;
    }
    expect(thrown, "expansion of a document missing its contexts").to.be.instanceOf(Error);
  });

  for (const [name, doc] of [
    ["a new DID's document", base],
    ["a document with two keys and services of known, unknown and several types, and a map endpoint", full],
    ["a document listing only the DID context, with Multikey and JsonWebKey2020 keys", bare],
  ] as const) {
    it(`expands ${name} as served, keeping every key, relationship and service`, async () => {
      const served = resolved(doc).didDocument!;
      const [node] = await expandSafe(served);
      expect(node!["@id"]).to.equal(did);
      const methods = node![`${SEC}verificationMethod`] as Expanded;
      expect(methods.map((m) => m["@id"])).to.deep.equal(doc.verificationMethod!.map((m) => m.id));
      for (const m of methods) {
        expect(m["@type"]).to.have.length(1);
        expect(String((m["@type"] as string[])[0])).to.match(/^https:\/\/w3id\.org\/security#/);
        const keyProperty = m[`${SEC}publicKeyJwk`] ?? m[`${SEC}publicKeyMultibase`];
        expect(keyProperty, String(m["@id"])).to.not.equal(undefined);
      }
      expect((node![`${SEC}authenticationMethod`] as Expanded).length).to.equal(doc.authentication!.length);
      const services = (node![`${DID_NS}service`] as Expanded | undefined) ?? [];
      expect(services.length).to.equal(doc.service?.length ?? 0);
      for (const s of services) {
        expect(s[`${DID_NS}serviceEndpoint`], String(s["@id"])).to.not.equal(undefined);
        for (const t of s["@type"] as string[]) expect(t).to.match(/^https?:\/\//);
      }
    });
  }

  it("maps LinkedDomains and DIDCommMessaging to their registered IRIs", async () => {
    const [node] = await expandSafe(resolved(full).didDocument);
    const types = ((node![`${DID_NS}service`] as Expanded).flatMap((s) => s["@type"] as string[]));
    expect(types).to.include("https://identity.foundation/.well-known/resources/did-configuration/#LinkedDomains");
    expect(types).to.include("https://didcomm.org/messaging/contexts/v2#DIDCommMessaging");
  });

  it("expands a deactivated DID's document", async () => {
    const [node] = await expandSafe(resolved(full, true).didDocument);
    expect(node).to.deep.equal({ "@id": did, [`${SEC}verificationMethod`]: [] });
  });

  it("expands each dereferenced key and service on its own, and a service keeps its endpoint", async () => {
    for (const doc of [full, bare]) {
      const res = resolved(doc);
      const parts = [...doc.verificationMethod!.map((m) => m.id), ...doc.service!.map((s) => s.id)];
      for (const id of parts) {
        const r = dereferenceDidUrl(parseDidUrl(id), res, ContentType.DID_LD_JSON);
        expect(r.dereferencingMetadata.error, id).to.equal(undefined);
        const [node] = await expandSafe(r.content);
        expect(node!["@id"], id).to.equal(id);
        if (id.endsWith("#site") || id.endsWith("#hub") || id.endsWith("#other") || id.endsWith("#dm")) {
          expect(node![`${DID_NS}serviceEndpoint`], id).to.not.equal(undefined);
        }
      }
      // the document holding only the selected services
      const sel = dereferenceDidUrl(parseDidUrl(`${did}?service=${doc.service![0]!.id.split("#")[1]}`), res, ContentType.DID_LD_JSON);
      const [node] = await expandSafe(sel.content);
      expect((node![`${DID_NS}service`] as Expanded).length).to.equal(1);
    }
  });
});
