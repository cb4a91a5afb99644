import { expect } from "chai";
import { publicKeyOf } from "../../../src/crypto/secp256k1.js";
import { DID_CONTEXT, JWS_2020_CONTEXT, MULTIKEY_CONTEXT, SECP256K1_2019_CONTEXT, SID_CONTEXT, buildInitialDocument, completeContexts, type DidDocument } from "../../../src/did/document.js";
import { addService } from "../../../src/did/document-edit.js";
import {
  checkResolutionRequest,
  parseDateTime,
  presentDocument,
  resolutionTime,
  resolveCurrent,
  resolveFromVersions,
  type VersionInfo,
} from "../../../src/did/resolution.js";

describe("did/resolution", () => {
  const doc1 = buildInitialDocument(publicKeyOf(new Uint8Array(32).fill(1)));
  const did = doc1.id;
  const doc2 = addService(doc1, { id: `${did}#hub`, type: "LinkedDomains", serviceEndpoint: "https://hub.example" });
  const t = (s: string) => Date.parse(s);
  // Block times carry milliseconds; metadata shows whole seconds.
  const versions: VersionInfo[] = [
    { versionId: 1, time: t("2026-01-01T00:00:00.250Z"), deactivated: false, document: doc1 },
    { versionId: 2, time: t("2026-02-01T00:00:00.750Z"), deactivated: false, document: doc2 },
    { versionId: 3, time: t("2026-03-01T00:00:00Z"), deactivated: true, document: doc2 },
  ];
  const NOW = t("2026-06-01T00:00:00Z");
  /** doc2 as served: its contexts completed with the sid context its service needs. */
  const shown2 = { ...doc2, "@context": completeContexts(doc2) };
  const resolve = (opts: { versionId?: string; versionTime?: string }) => resolveFromVersions(did, versions, opts, NOW);

  it("resolves the latest version with created, updated, versionId and deactivated, in whole UTC seconds", () => {
    const r = resolve({});
    // resolve gives no contentType: only resolveRepresentation does (DID Core 1.0, section 7.1.2)
    expect(r.didResolutionMetadata).to.deep.equal({});
    expect(r.didDocumentMetadata).to.deep.equal({
      created: "2026-01-01T00:00:00Z",
      updated: "2026-03-01T00:00:00Z",
      versionId: "3",
      deactivated: true,
    });
  });

  it("shows a deactivated DID without keys, relationships or services, so no verifier finds a key in it", () => {
    const r = resolve({});
    expect(r.didDocument).to.deep.equal({ "@context": doc2["@context"], id: did, verificationMethod: [] });
    // the versions before the deactivation keep their document
    expect(resolve({ versionId: "2" }).didDocument).to.deep.equal(shown2);
  });

  it("fills every metadata member for each version as DID Resolution says", () => {
    expect(resolve({ versionId: "1" }).didDocumentMetadata).to.deep.equal({
      created: "2026-01-01T00:00:00Z",
      versionId: "1",
      nextVersionId: "2",
      nextUpdate: "2026-02-01T00:00:00Z",
    });
    expect(resolve({ versionId: "2" }).didDocumentMetadata).to.deep.equal({
      created: "2026-01-01T00:00:00Z",
      updated: "2026-02-01T00:00:00Z",
      versionId: "2",
      nextVersionId: "3",
      nextUpdate: "2026-03-01T00:00:00Z",
    });
    expect(resolve({ versionId: "3" })).to.deep.equal(resolve({}));
    expect(resolve({ versionId: "1" }).didDocument).to.deep.equal(doc1);
  });

  it("resolves a versionTime to the latest version not after it", () => {
    expect(resolve({ versionTime: "2026-02-15T00:00:00Z" }).didDocumentMetadata.versionId).to.equal("2");
    expect(resolve({ versionTime: "2026-02-01T00:00:00Z" }).didDocumentMetadata.versionId).to.equal("2");
    expect(resolve({ versionTime: "2026-01-31T23:59:59Z" }).didDocumentMetadata.versionId).to.equal("1");
    expect(resolve({ versionTime: "2025-12-31T23:59:59Z" }).didResolutionMetadata.error).to.equal("notFound");
  });

  it("resolves `created` or `updated` given back as versionTime to the version that showed it", () => {
    for (const v of ["1", "2", "3"]) {
      const meta = resolve({ versionId: v }).didDocumentMetadata;
      const shown = meta.updated ?? meta.created!;
      expect(resolve({ versionTime: shown }).didDocumentMetadata.versionId).to.equal(v);
    }
  });

  it("reads a whole-second versionTime as all of that second, and one with a fraction exactly", () => {
    const sameSecond: VersionInfo[] = [
      { versionId: 1, time: t("2026-01-01T00:00:00.100Z"), deactivated: false, document: doc1 },
      { versionId: 2, time: t("2026-01-01T00:00:00.600Z"), deactivated: false, document: doc2 },
      { versionId: 3, time: t("2026-01-01T00:00:01.000Z"), deactivated: false, document: doc1 },
    ];
    const at = (versionTime: string) => resolveFromVersions(did, sameSecond, { versionTime }, NOW).didDocumentMetadata.versionId;
    expect(at("2026-01-01T00:00:00Z")).to.equal("2");
    expect(at("2026-01-01T00:00:00.100Z")).to.equal("1");
    expect(at("2026-01-01T00:00:00.599Z")).to.equal("1");
    expect(at("2026-01-01T00:00:00.600Z")).to.equal("2");
    expect(at("2026-01-01T00:00:01Z")).to.equal("3");
    expect(resolveFromVersions(did, sameSecond, { versionTime: "2026-01-01T00:00:00.099Z" }, NOW).didResolutionMetadata.error).to.equal("notFound");
  });

  it("takes versionTime with a zone offset or fractional seconds", () => {
    // 2026-02-01T01:00:00+01:00 is 2026-02-01T00:00:00Z, the second of version 2
    expect(resolve({ versionTime: "2026-02-01T01:00:00+01:00" }).didDocumentMetadata.versionId).to.equal("2");
    expect(resolve({ versionTime: "2026-01-31T23:00:00-01:00" }).didDocumentMetadata.versionId).to.equal("2");
    expect(resolve({ versionTime: "2026-01-31T23:59:59.999999999Z" }).didDocumentMetadata.versionId).to.equal("1");
    expect(resolve({ versionTime: "2026-02-01T00:00:00.749Z" }).didDocumentMetadata.versionId).to.equal("1");
    expect(resolve({ versionTime: "2026-02-01T00:00:00.75Z" }).didDocumentMetadata.versionId).to.equal("2");
  });

  it("refuses a versionTime later than now, and accepts one equal to it", () => {
    const future = resolve({ versionTime: "2026-06-01T00:00:01Z" });
    expect(future.didResolutionMetadata.error).to.equal("invalidOptions");
    expect(future.didResolutionMetadata.errorMessage).to.match(/future/);
    expect(resolve({ versionTime: "2026-06-01T00:00:00Z" }).didDocumentMetadata.versionId).to.equal("3");
    expect(checkResolutionRequest(did, { versionTime: "2099-01-01T00:00:00Z" }, NOW)?.didResolutionMetadata.error).to.equal("invalidOptions");
    // without a "now" (a client's syntax check) the time is not bounded
    expect(checkResolutionRequest(did, { versionTime: "2099-01-01T00:00:00Z" })).to.equal(undefined);
  });

  it("refuses malformed versionTime values", () => {
    for (const bad of [
      "yesterday",
      "2026-01-01",
      "2026-01-01T00:00:00", // no zone: names no instant
      "2026-01-01 00:00:00Z",
      "2026-02-30T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-01-01T24:00:00Z",
      "2026-01-01T23:60:00Z",
      "2026-01-01T23:59:60Z",
      "2026-01-01T00:00:00.Z",
      "2026-01-01T00:00:00.1234567890Z",
      "2026-01-01T00:00:00+24:00",
      "+2026-01-01T00:00:00Z",
      " 2026-01-01T00:00:00Z",
    ]) {
      expect(resolve({ versionTime: bad }).didResolutionMetadata.error, bad).to.equal("invalidOptions");
    }
  });

  it("answers invalidDid, notFound and invalidOptions with a null document and empty document metadata", () => {
    for (const [res, err] of [
      [resolveFromVersions("did:sid:0OIl", versions, {}, NOW), "invalidDid"],
      [resolveFromVersions("did:example:1", versions, {}, NOW), "methodNotSupported"],
      [resolveFromVersions("did:web:example.com", versions, {}, NOW), "methodNotSupported"],
      [resolveFromVersions(did, [], {}, NOW), "notFound"],
      [resolve({ versionId: "9" }), "notFound"],
      [resolve({ versionId: "1", versionTime: "2026-01-01T00:00:00Z" }), "invalidOptions"],
      [resolve({ versionId: "01" }), "invalidOptions"],
      [resolve({ versionId: "0" }), "invalidOptions"],
    ] as const) {
      expect(res.didResolutionMetadata.error).to.equal(err);
      expect(res.didResolutionMetadata.errorMessage).to.be.a("string");
      expect(res.didDocument).to.equal(null);
      expect(res.didDocumentMetadata).to.deep.equal({});
    }
    expect(checkResolutionRequest(did, {})).to.equal(undefined);
  });

  it("current resolution agrees with resolution from versions", () => {
    const cur = resolveCurrent({ document: doc2, versionId: 3, created: versions[0]!.time, updated: versions[2]!.time, deactivated: true });
    expect(cur).to.deep.equal(resolve({}));
    const active = resolveCurrent({ document: doc2, versionId: 2, created: versions[0]!.time, updated: versions[1]!.time, deactivated: false });
    const fromVersions = resolveFromVersions(did, versions.slice(0, 2), {}, NOW);
    expect(active).to.deep.equal(fromVersions);
    expect(resolveCurrent({ document: doc1, versionId: 1, created: versions[0]!.time, updated: versions[0]!.time, deactivated: false }).didDocumentMetadata).to.deep.equal({
      created: "2026-01-01T00:00:00Z",
      versionId: "1",
    });
  });

  it("presents @context first and keeps every member", () => {
    const shuffled = Object.fromEntries(Object.entries(doc2).reverse()) as typeof doc2;
    const p = presentDocument(shuffled);
    expect(Object.keys(p)[0]).to.equal("@context");
    expect(Object.keys(p)[1]).to.equal("id");
    expect(p).to.deep.equal(shown2);
  });

  it("parses RFC 3339 date-times to the instant they name", () => {
    expect(parseDateTime("2026-01-02T03:04:05Z")).to.equal(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseDateTime("2026-01-02t03:04:05z")).to.equal(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseDateTime("2026-01-02T03:04:05.5Z")).to.equal(Date.UTC(2026, 0, 2, 3, 4, 5, 500));
    expect(parseDateTime("2026-01-02T05:34:05+02:30")).to.equal(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseDateTime("2024-02-29T00:00:00Z")).to.equal(Date.UTC(2024, 1, 29));
    expect(parseDateTime("2000-02-29T00:00:00Z")).to.equal(Date.UTC(2000, 1, 29));
    expect(parseDateTime("1900-02-29T00:00:00Z")).to.equal(undefined);
    expect(parseDateTime(20260102)).to.equal(undefined);
    expect(resolutionTime(Date.UTC(2026, 0, 2, 3, 4, 5, 999))).to.equal("2026-01-02T03:04:05Z");
  });

  describe("contexts on the read side", () => {
    const vm = doc1.verificationMethod![0]!;
    it("adds the context each key type and the services need, after the listed ones, and nothing else", () => {
      const multikey: DidDocument = {
        "@context": DID_CONTEXT,
        id: did,
        verificationMethod: [{ id: vm.id, type: "Multikey", controller: did, publicKeyMultibase: "zQ3sfake" }],
        authentication: [vm.id],
      };
      expect(completeContexts(multikey)).to.deep.equal([DID_CONTEXT, MULTIKEY_CONTEXT]);
      const jwk: DidDocument = { ...doc1, "@context": [DID_CONTEXT], verificationMethod: [{ ...vm, type: "JsonWebKey2020" }] };
      expect(completeContexts(jwk)).to.deep.equal([DID_CONTEXT, JWS_2020_CONTEXT]);
      // an embedded method counts too
      const embedded: DidDocument = { "@context": DID_CONTEXT, id: did, authentication: [vm] };
      expect(completeContexts(embedded)).to.deep.equal([DID_CONTEXT, SECP256K1_2019_CONTEXT]);
      expect(completeContexts(doc2)).to.deep.equal([DID_CONTEXT, SECP256K1_2019_CONTEXT, SID_CONTEXT]);
      // a document listing all it needs is given back as it is
      expect(completeContexts(doc1)).to.equal(doc1["@context"]);
      const listed = { ...doc2, "@context": [DID_CONTEXT, SID_CONTEXT, SECP256K1_2019_CONTEXT] };
      expect(completeContexts(listed)).to.equal(listed["@context"]);
    });

    it("serves the completed list, keeps the deactivated document's own list", () => {
      expect(resolve({ versionId: "2" }).didDocument!["@context"]).to.deep.equal([DID_CONTEXT, SECP256K1_2019_CONTEXT, SID_CONTEXT]);
      expect(resolve({}).didDocument!["@context"]).to.deep.equal(doc2["@context"]);
    });
  });
});
