import { expect } from "chai";
import { CommanderError, InvalidArgumentError } from "commander";
import { RpcError, RpcTransportError } from "../../../src/client/rpc-client.js";
import { KeystoreError, KeystoreErrorCode } from "../../../src/client/keystore.js";
import { buildInitialDocument } from "../../../src/did/document.js";
import { addVerificationMethod } from "../../../src/did/document-edit.js";
import { DidError, DidErrorCode } from "../../../src/did/errors.js";
import { didFromPublicKey } from "../../../src/did/syntax.js";
import { CliError, describeError, exitCodeOf } from "../../../src/cli/errors.js";
import { parseKeyIndex, parsePort, parseRelationships, parseUrl } from "../../../src/cli/options.js";
import {
  SIGNER_SEARCH_LIMIT,
  absoluteIdIn,
  controllersOf,
  findAuthenticationKey,
  nextFreeIndex,
  publicKeysIn,
} from "../../../src/cli/signer.js";
import { testKey } from "../../helpers/fixtures.js";

const ring = { key: (i: number) => testKey(i) };
const did = didFromPublicKey(testKey(0).publicKey);
const initial = buildInitialDocument(testKey(0).publicKey);

describe("cli/signer", () => {
  it("finds index 0 as the signer of a new DID", () => {
    const found = findAuthenticationKey(initial, ring);
    expect(found?.index).to.equal(0);
    expect(found?.vmId).to.equal(`${did}#key-1`);
  });

  it("skips the excluded key and finds another authentication key of the mnemonic", () => {
    const doc = addVerificationMethod(initial, testKey(3).publicKey, "key-4", ["authentication"]);
    const found = findAuthenticationKey(doc, ring, testKey(0).publicKey);
    expect(found?.index).to.equal(3);
    expect(found?.vmId).to.equal(`${did}#key-4`);
  });

  it("finds nothing when the only other key is not for authentication", function () {
    this.timeout(30_000); // derives all SIGNER_SEARCH_LIMIT keys
    const doc = addVerificationMethod(initial, testKey(1).publicKey, "key-2", ["assertionMethod", "keyAgreement"]);
    expect(findAuthenticationKey(doc, ring, testKey(0).publicKey)).to.equal(undefined);
    expect(SIGNER_SEARCH_LIMIT).to.equal(32);
  });

  it("picks the smallest free index >= 1 for a new key", () => {
    expect(nextFreeIndex(initial, ring)).to.equal(1);
    const doc = addVerificationMethod(initial, testKey(1).publicKey, "key-2", ["authentication"]);
    expect(nextFreeIndex(doc, ring)).to.equal(2);
    const gap = addVerificationMethod(initial, testKey(2).publicKey, "key-3", ["authentication"]);
    expect(nextFreeIndex(gap, ring)).to.equal(1);
    expect(publicKeysIn(gap).size).to.equal(2);
  });

  it("accepts key-1, #key-1 and the absolute id, and refuses other DIDs' ids", () => {
    for (const id of ["key-1", "#key-1", `${did}#key-1`, " key-1 "]) expect(absoluteIdIn(did, id)).to.equal(`${did}#key-1`);
    const other = didFromPublicKey(testKey(1).publicKey);
    expect(() => absoluteIdIn(did, `${other}#key-1`)).to.throw(CliError, /belongs to/);
    expect(() => absoluteIdIn(did, "bad id!")).to.throw(CliError, /bad id/);
    expect(() => absoluteIdIn(did, "")).to.throw(CliError);
  });

  it("lists controllers other than the DID itself", () => {
    const other = didFromPublicKey(testKey(1).publicKey);
    expect(controllersOf(initial)).to.deep.equal([]);
    expect(controllersOf({ ...initial, controller: other })).to.deep.equal([other]);
    expect(controllersOf({ ...initial, controller: [did, other] })).to.deep.equal([other]);
  });
});

describe("cli/options", () => {
  it("parses relationships, removing duplicates, and refuses unknown ones", () => {
    expect(parseRelationships("authentication,assertionMethod")).to.deep.equal(["authentication", "assertionMethod"]);
    expect(parseRelationships(" keyAgreement , keyAgreement ")).to.deep.equal(["keyAgreement"]);
    expect(() => parseRelationships("authentication,owner")).to.throw(InvalidArgumentError, /owner/);
    expect(() => parseRelationships(",")).to.throw(InvalidArgumentError);
  });

  it("parses indexes, ports and URLs strictly", () => {
    expect(parseKeyIndex("0")).to.equal(0);
    expect(parseKeyIndex("2147483647")).to.equal(2147483647);
    for (const bad of ["-1", "1.5", "2147483648", "x", "", "0x10"]) expect(() => parseKeyIndex(bad)).to.throw(InvalidArgumentError);
    expect(parsePort("8660")).to.equal(8660);
    expect(() => parsePort("65536")).to.throw(InvalidArgumentError);
    expect(parseUrl("http://127.0.0.1:8660")).to.equal("http://127.0.0.1:8660");
    for (const bad of ["127.0.0.1:8660x", "ftp://x", "nope"]) expect(() => parseUrl(bad)).to.throw(InvalidArgumentError);
  });
});

describe("cli/errors", () => {
  it("names the reason code of RPC application errors", () => {
    const err = new RpcError(-32010, "version 3 is not the current version 4", { reason: "DID_STALE_VERSION" });
    expect(describeError(err)).to.equal("DID_STALE_VERSION: version 3 is not the current version 4");
    expect(describeError(new RpcError(-32601, "method not found"))).to.equal("RPC error -32601: method not found");
  });

  it("gives one line for every kind of error", () => {
    expect(describeError(new RpcTransportError("cannot reach node at http://x"))).to.equal("cannot reach node at http://x");
    expect(describeError(new KeystoreError(KeystoreErrorCode.BAD_PASSPHRASE, "wrong passphrase"))).to.equal("wrong passphrase");
    expect(describeError(new DidError(DidErrorCode.INVALID_DOCUMENT, "id: is required"))).to.equal("DID_INVALID_DOCUMENT: id: is required");
    expect(describeError(new Error("line one\n  line two\r\n"))).to.equal("line one line two");
    expect(describeError("plain")).to.equal("plain");
  });

  it("maps exit codes: 1 for errors, 2 for usage, 0 for help", () => {
    expect(exitCodeOf(new Error("x"))).to.equal(1);
    expect(exitCodeOf(new CliError("x"))).to.equal(1);
    expect(exitCodeOf(new CommanderError(1, "commander.unknownCommand", "x"))).to.equal(2);
    expect(exitCodeOf(new CommanderError(1, "commander.missingMandatoryOptionValue", "x"))).to.equal(2);
    expect(exitCodeOf(new CommanderError(0, "commander.helpDisplayed", "x"))).to.equal(0);
  });
});
