import { expect } from "chai";
import { publicKeyOf } from "../../../src/crypto/secp256k1.js";
import { DID_CONTEXT, SID_CONTEXT, buildInitialDocument } from "../../../src/did/document.js";
import { addService, addVerificationMethod, removeService, removeVerificationMethod } from "../../../src/did/document-edit.js";
import { describeChange, diffDocuments, sameDocument } from "../../../src/did/document-diff.js";

describe("did/document: what a version changed", () => {
  const v1 = buildInitialDocument(publicKeyOf(new Uint8Array(32).fill(1)));
  const did = v1.id;
  const key2 = publicKeyOf(new Uint8Array(32).fill(2));
  const withKey = addVerificationMethod(v1, key2, "key-2", ["authentication"]);
  const withService = addService(withKey, { id: `${did}#hub`, type: "LinkedDomains", serviceEndpoint: "https://hub.example" });

  it("names each edit the CLI makes", () => {
    expect(describeChange(v1, withKey)).to.deep.equal(["add-key"]);
    expect(describeChange(withKey, removeVerificationMethod(withKey, "#key-1"))).to.deep.equal(["remove-key"]);
    expect(describeChange(withKey, withService)).to.deep.equal(["add-service"]);
    expect(describeChange(withService, removeService(withService, "#hub"))).to.deep.equal(["remove-service"]);
    const moved = { ...withService, service: [{ ...withService.service![0]!, serviceEndpoint: "https://new.example" }] };
    expect(describeChange(withService, moved)).to.deep.equal(["change-service"]);
    expect(describeChange(withKey, { ...withKey, assertionMethod: [...withKey.assertionMethod!, `${did}#key-2`] })).to.deep.equal(["change-relationships"]);
    expect(describeChange(v1, { ...v1, alsoKnownAs: ["https://alice.example"] })).to.deep.equal(["change-also-known-as"]);
    // several at once, in a fixed order
    expect(describeChange(v1, withService)).to.deep.equal(["add-key", "add-service"]);
    expect(describeChange(withService, withService)).to.deep.equal([]);
  });

  it("diffDocuments names the ids of keys and services added, removed and changed", () => {
    const k2 = `${did}#key-2`;
    expect(diffDocuments(v1, withKey).keys).to.deep.equal({ added: [k2], removed: [], changed: [] });
    expect(diffDocuments(withKey, removeVerificationMethod(withKey, "#key-1")).keys).to.deep.equal({ added: [], removed: [`${did}#key-1`], changed: [] });
    const rekeyed = { ...withKey, verificationMethod: withKey.verificationMethod!.map((vm) => (vm.id === k2 ? { ...vm, type: "JsonWebKey2020" as const } : vm)) };
    expect(diffDocuments(withKey, rekeyed).keys.changed).to.deep.equal([k2]);
    const d = diffDocuments(withKey, withService);
    expect(d.services).to.deep.equal({ added: [`${did}#hub`], removed: [], changed: [] });
    expect([d.relationships, d.controller, d.alsoKnownAs]).to.deep.equal([false, false, false]);
    expect(diffDocuments(withKey, { ...withKey, assertionMethod: [...withKey.assertionMethod!, k2] }).relationships).to.equal(true);
  });

  it("takes a document and its served form (member order, completed contexts) as the same", () => {
    const reordered = Object.fromEntries(Object.entries(withService).reverse()) as typeof withService;
    expect(sameDocument(withService, reordered)).to.equal(true);
    const served = { ...withService, "@context": [...(withService["@context"] as string[]), SID_CONTEXT] };
    expect(sameDocument(withService, served)).to.equal(true);
    expect(describeChange(withService, served)).to.deep.equal([]);
    expect(sameDocument(withService, withKey)).to.equal(false);
    expect(sameDocument(v1, { ...v1, "@context": [DID_CONTEXT, "https://example.com/ctx"] })).to.equal(false);
    expect(describeChange(v1, { ...v1, "@context": [DID_CONTEXT, "https://example.com/ctx"] })).to.deep.equal(["change-context"]);
  });
});
