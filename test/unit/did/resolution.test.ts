import { expect } from "chai";
import { publicKeyOf } from "../../../src/crypto/secp256k1.js";
import { addService, buildInitialDocument } from "../../../src/did/document.js";
import { checkResolutionRequest, presentDocument, resolveCurrent, resolveFromVersions, type VersionInfo } from "../../../src/did/resolution.js";

describe("did/resolution", () => {
  const doc1 = buildInitialDocument(publicKeyOf(new Uint8Array(32).fill(1)));
  const did = doc1.id;
  const doc2 = addService(doc1, { id: `${did}#hub`, type: "LinkedDomains", serviceEndpoint: "https://hub.example" });
  const t = (s: string) => Date.parse(s);
  const versions: VersionInfo[] = [
    { versionId: 1, time: t("2026-01-01T00:00:00Z"), deactivated: false, document: doc1 },
    { versionId: 2, time: t("2026-02-01T00:00:00Z"), deactivated: false, document: doc2 },
    { versionId: 3, time: t("2026-03-01T00:00:00Z"), deactivated: true, document: doc2 },
  ];

  it("resolves the latest version with created, updated, versionId and deactivated", () => {
    const r = resolveFromVersions(did, versions, {});
    expect(r.didResolutionMetadata).to.deep.equal({ contentType: "application/did+ld+json" });
    expect(r.didDocumentMetadata).to.deep.equal({
      created: "2026-01-01T00:00:00.000Z",
      updated: "2026-03-01T00:00:00.000Z",
      versionId: "3",
      deactivated: true,
    });
  });

  it("resolves a versionId with nextVersionId and nextUpdate", () => {
    const r = resolveFromVersions(did, versions, { versionId: "1" });
    expect(r.didDocument).to.deep.equal(doc1);
    expect(r.didDocumentMetadata).to.deep.equal({
      created: "2026-01-01T00:00:00.000Z",
      versionId: "1",
      nextVersionId: "2",
      nextUpdate: "2026-02-01T00:00:00.000Z",
    });
  });

  it("resolves a versionTime to the version valid then", () => {
    expect(resolveFromVersions(did, versions, { versionTime: "2026-02-15T00:00:00Z" }).didDocumentMetadata.versionId).to.equal("2");
    expect(resolveFromVersions(did, versions, { versionTime: "2026-02-01T00:00:00Z" }).didDocumentMetadata.versionId).to.equal("2");
    expect(resolveFromVersions(did, versions, { versionTime: "2025-12-31T23:59:59Z" }).didResolutionMetadata.error).to.equal("notFound");
  });

  it("answers invalidDid, notFound and invalidOptions with a null document", () => {
    for (const [res, err] of [
      [resolveFromVersions("did:example:1", versions, {}), "invalidDid"],
      [resolveFromVersions(did, [], {}), "notFound"],
      [resolveFromVersions(did, versions, { versionId: "9" }), "notFound"],
      [resolveFromVersions(did, versions, { versionId: "1", versionTime: "2026-01-01T00:00:00Z" }), "invalidOptions"],
      [resolveFromVersions(did, versions, { versionId: "01" }), "invalidOptions"],
      [resolveFromVersions(did, versions, { versionTime: "yesterday" }), "invalidOptions"],
    ] as const) {
      expect(res.didResolutionMetadata.error).to.equal(err);
      expect(res.didDocument).to.equal(null);
    }
    expect(checkResolutionRequest(did, {})).to.equal(undefined);
  });

  it("current resolution agrees with resolution from versions", () => {
    const cur = resolveCurrent({ document: doc2, versionId: 3, created: versions[0]!.time, updated: versions[2]!.time, deactivated: true });
    expect(cur).to.deep.equal(resolveFromVersions(did, versions, {}));
  });

  it("presents @context first and keeps every member", () => {
    const shuffled = Object.fromEntries(Object.entries(doc2).reverse()) as typeof doc2;
    const p = presentDocument(shuffled);
    expect(Object.keys(p)[0]).to.equal("@context");
    expect(Object.keys(p)[1]).to.equal("id");
    expect(p).to.deep.equal(doc2);
  });
});
