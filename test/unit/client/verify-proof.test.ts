/**
 * The SDK's proof verifier against answers of the node's own did_resolve
 * method over a chain of real blocks: it accepts them, and refuses every
 * single-byte change to the document, record, Merkle proof, header, commit
 * or validator list, commits by keys outside the trusted set, and proofs
 * of another chain.
 */
import { expect } from "chai";
import { ProofError, ProofErrorCode } from "../../../src/chain/proof.js";
import { fromBase64, toBase64 } from "../../../src/crypto/bytes.js";
import { ValidatorSet } from "../../../src/chain/validator-set.js";
import { addService } from "../../../src/did/document-edit.js";
import { ValidatorSetTracker } from "../../../src/client/trust.js";
import { verifyResolutionProof } from "../../../src/client/verify-proof.js";
import { VALIDATORS, VALIDATOR_KEY } from "../../helpers/chain.js";
import { CHAIN_ID, createTx, deactivateTx, fixedKey, hex, testDid, updateTx, writeParams } from "../../helpers/fixtures.js";
import { type ProvenResult, type ProvingChain, clone, hexByteFlips, provingChain, reanchor } from "../../helpers/proofs.js";

const A = testDid(fixedKey(1));
const B = testDid(fixedKey(2));
const C = testDid(fixedKey(3));
const ABSENT = testDid(fixedKey(4));
const OUTSIDER = fixedKey(0x43);
const OUTSIDERS = ValidatorSet.fromGenesis([{ name: "x", publicKey: hex(OUTSIDER.publicKey), power: 10 }]);
const TRUSTED = new ValidatorSetTracker(CHAIN_ID, VALIDATORS);

function verify(result: unknown, did = A.did, opts: { chainId?: string; trusted?: ValidatorSetTracker } = {}) {
  return verifyResolutionProof(result, { did, chainId: opts.chainId ?? CHAIN_ID, trusted: opts.trusted ?? TRUSTED });
}

/** The ProofError code `fn` throws (fails the test on success or on another error). */
function refusal(fn: () => unknown, label: string): string {
  try {
    fn();
  } catch (e) {
    expect(e, `${label}: ${(e as Error).message}`).to.be.instanceOf(ProofError);
    return (e as ProofError).code;
  }
  expect.fail(`${label}: accepted`);
}

function expectRefused(fn: () => unknown, codes: ProofErrorCode | ProofErrorCode[], label: string): void {
  const allowed = Array.isArray(codes) ? codes : [codes];
  expect(allowed, label).to.include(refusal(fn, label));
}

/** Every (path, setter) of the string leaves of a JSON value. */
function stringLeaves(v: unknown, path: string, out: Array<{ path: string; get: () => string; set: (s: string) => void }>): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      if (typeof x === "string") out.push({ path: `${path}[${i}]`, get: () => v[i], set: (s) => (v[i] = s) });
      else stringLeaves(x, `${path}[${i}]`, out);
    });
  } else if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (typeof o[k] === "string") out.push({ path: `${path}.${k}`, get: () => o[k] as string, set: (s) => (o[k] = s) });
      else stringLeaves(o[k], `${path}.${k}`, out);
    }
  }
}

describe("client/verify-proof", function () {
  this.timeout(60_000);
  let chain: ProvingChain;
  let found: ProvenResult;
  let absent: ProvenResult;
  let deactivated: ProvenResult;

  before(async () => {
    chain = await provingChain();
    await chain.commit([createTx(A), createTx(B), createTx(C)]);
    await chain.commit([updateTx(writeParams(A, 1, 1), addService(A.doc, { id: `${A.did}#hub`, type: "LinkedDomains", serviceEndpoint: "https://a.example" })), deactivateTx(writeParams(C, 1, 1))]);
    found = await chain.resolve({ did: A.did, proof: true });
    absent = await chain.resolve({ did: ABSENT.did, proof: true });
    deactivated = await chain.resolve({ did: C.did, proof: true });
  });
  after(async () => {
    await chain?.close();
  });

  describe("accepts", () => {
    it("a proof of a registered DID, whose result is the usual resolution result", async () => {
      const v = verify(found);
      const head = chain.store.head();
      expect(v).to.deep.include({ did: A.did, height: 2, time: head.time, blockHash: hex(head.hash), stateRoot: hex(head.stateRoot) });
      expect(v.record).to.deep.equal(await chain.store.getDid(A.did));
      const { proof, ...plain } = found;
      expect(proof.format).to.equal("sid-proof/v1");
      expect(plain).to.deep.equal(await chain.resolve({ did: A.did }));
      expect(plain.didDocumentMetadata).to.deep.include({ versionId: "2" });
    });

    it("a proof of absence for an unregistered DID, and a proof of a deactivated DID", async () => {
      expect(absent.didResolutionMetadata.error).to.equal("notFound");
      expect(absent.proof.record).to.equal(null);
      expect(verify(absent, ABSENT.did)).to.deep.include({ did: ABSENT.did, height: 2, record: null });
      expect(deactivated.didDocumentMetadata.deactivated).to.equal(true);
      expect(verify(deactivated, C.did).record?.deactivated).to.equal(true);
    });

    it("the same proof whatever the JSON member order of the document", () => {
      const r = clone(found);
      const doc = r.didDocument as unknown as Record<string, unknown>;
      r.didDocument = Object.fromEntries(Object.entries(doc).reverse()) as never;
      expect(verify(r).height).to.equal(2);
    });
  });

  describe("refuses a change to", () => {
    it("any character or member of the document", () => {
      const leaves: Parameters<typeof stringLeaves>[2] = [];
      const r = clone(found);
      stringLeaves(r.didDocument, "didDocument", leaves);
      let checked = 0;
      for (const leaf of leaves) {
        const original = leaf.get();
        for (let i = 0; i < original.length; i++) {
          leaf.set(original.slice(0, i) + (original[i] === "a" ? "b" : "a") + original.slice(i + 1));
          expectRefused(() => verify(r), ProofErrorCode.DOCUMENT_MISMATCH, `${leaf.path}[${i}]`);
          checked++;
        }
        leaf.set(original);
      }
      expect(checked).to.be.greaterThan(500);
      verify(r); // restored

      const edits: Array<[string, (d: any) => void]> = [
        ["member renamed", (d) => ((d.services = d.service), delete d.service)],
        ["member added", (d) => (d.alsoKnownAs = ["https://a.example"])],
        ["member removed", (d) => delete d.assertionMethod],
        ["list entry added", (d) => d.authentication.push(d.authentication[0])],
        ["float", (d) => (d.version = 1.5)],
        ["null document", (_d) => undefined],
      ];
      for (const [what, edit] of edits) {
        const e = clone(found);
        if (what === "null document") e.didDocument = null;
        else edit(e.didDocument);
        expectRefused(() => verify(e), ProofErrorCode.DOCUMENT_MISMATCH, what);
      }
    });

    it("the metadata or the resolution status", () => {
      const edits: Array<[string, (r: any) => void, ProofErrorCode]> = [
        ["versionId", (r) => (r.didDocumentMetadata.versionId = "1"), ProofErrorCode.METADATA_MISMATCH],
        ["created", (r) => (r.didDocumentMetadata.created = "2026-01-01T00:00:00.000Z"), ProofErrorCode.METADATA_MISMATCH],
        ["updated", (r) => delete r.didDocumentMetadata.updated, ProofErrorCode.METADATA_MISMATCH],
        ["deactivated", (r) => (r.didDocumentMetadata.deactivated = true), ProofErrorCode.METADATA_MISMATCH],
        ["nextVersionId", (r) => (r.didDocumentMetadata.nextVersionId = "3"), ProofErrorCode.METADATA_MISMATCH],
        ["error", (r) => (r.didResolutionMetadata.error = "notFound"), ProofErrorCode.DOCUMENT_MISMATCH],
      ];
      for (const [what, edit, code] of edits) {
        const r = clone(found);
        edit(r);
        expectRefused(() => verify(r), code, what);
      }
      const notDeactivated = clone(deactivated);
      delete (notDeactivated.didDocumentMetadata as Record<string, unknown>).deactivated;
      expectRefused(() => verify(notDeactivated, C.did), ProofErrorCode.METADATA_MISMATCH, "deactivation hidden");
      // An absent DID shown as registered, with the document of another.
      const shown = clone(absent);
      shown.didDocument = found.didDocument;
      shown.didResolutionMetadata = found.didResolutionMetadata;
      expectRefused(() => verify(shown, ABSENT.did), ProofErrorCode.DOCUMENT_MISMATCH, "absent shown as registered");
    });

    it("any byte of the record", () => {
      const bytes = fromBase64(found.proof.record!);
      let checked = 0;
      for (const flip of hexByteFlips(hex(bytes))) {
        const r = clone(found);
        r.proof.record = toBase64(Buffer.from(flip.value, "hex"));
        expectRefused(() => verify(r), [ProofErrorCode.BAD_RECORD, ProofErrorCode.RECORD_HASH_MISMATCH], `record byte ${flip.at} ^ ${flip.mask}`);
        checked++;
      }
      expect(checked).to.equal(2 * bytes.length);
      // Withholding the record of a registered DID, or adding one to a proof of absence.
      const withheld = clone(found);
      withheld.proof.record = null;
      expectRefused(() => verify(withheld), ProofErrorCode.BAD_STATE_PROOF, "record withheld");
      const added = clone(absent);
      added.proof.record = found.proof.record;
      expectRefused(() => verify(added, ABSENT.did), ProofErrorCode.BAD_RECORD, "record of another DID");
    });

    it("any byte of the Merkle proof", () => {
      for (const [label, base, did] of [["inclusion", found, A.did], ["absence", absent, ABSENT.did]] as const) {
        const siblings = base.proof.smtProof.siblings;
        expect(siblings.length, label).to.be.greaterThan(0);
        siblings.forEach((s, i) => {
          for (const flip of hexByteFlips(s)) {
            const r = clone(base);
            r.proof.smtProof.siblings[i] = flip.value;
            expectRefused(() => verify(r, did), ProofErrorCode.BAD_STATE_PROOF, `${label} sibling ${i} byte ${flip.at} ^ ${flip.mask}`);
          }
        });
        const fewer = clone(base);
        fewer.proof.smtProof.siblings.pop();
        expectRefused(() => verify(fewer, did), ProofErrorCode.BAD_STATE_PROOF, `${label}: a sibling dropped`);
        const leaf = base.proof.smtProof.leaf;
        if (leaf === null) continue;
        for (const field of ["key", "valueHash"] as const) {
          for (const flip of hexByteFlips(leaf[field])) {
            const r = clone(base);
            r.proof.smtProof.leaf![field] = flip.value;
            const codes = label === "inclusion" && field === "valueHash" ? ProofErrorCode.RECORD_HASH_MISMATCH : ProofErrorCode.BAD_STATE_PROOF;
            expectRefused(() => verify(r, did), codes, `${label} leaf.${field} byte ${flip.at} ^ ${flip.mask}`);
          }
        }
      }
    });

    it("any byte of the header: stateRoot, validatorsHash, height and every other field", () => {
      const header = found.proof.header as unknown as Record<string, unknown>;
      for (const field of ["stateRoot", "validatorsHash", "prevHash", "txRoot", "proposer", "lastCommitHash"]) {
        for (const flip of hexByteFlips(header[field] as string)) {
          const r = clone(found);
          (r.proof.header as unknown as Record<string, unknown>)[field] = flip.value;
          expectRefused(() => verify(r), ProofErrorCode.HEADER_MISMATCH, `header.${field} byte ${flip.at} ^ ${flip.mask}`);
        }
      }
      for (const field of ["height", "time"] as const) {
        for (const delta of [1, -1, 256]) {
          const r = clone(found);
          r.proof.header[field] += delta;
          expectRefused(() => verify(r), ProofErrorCode.HEADER_MISMATCH, `header.${field} ${delta}`);
        }
      }
      const otherChain = clone(found);
      otherChain.proof.header.chainId = "sid-tesu";
      expectRefused(() => verify(otherChain), ProofErrorCode.WRONG_CHAIN, "header.chainId");
      const height = clone(found);
      height.proof.height = 1;
      expectRefused(() => verify(height), ProofErrorCode.HEIGHT_MISMATCH, "proof.height");
    });

    it("any byte of the commit's signatures, and its other fields", () => {
      const sig = found.proof.commit.sigs[0]!;
      for (const field of ["sig", "validator"] as const) {
        for (const flip of hexByteFlips(sig[field])) {
          const r = clone(found);
          r.proof.commit.sigs[0]![field] = flip.value;
          expectRefused(() => verify(r), ProofErrorCode.BAD_COMMIT, `commit.sigs[0].${field} byte ${flip.at} ^ ${flip.mask}`);
        }
      }
      for (const flip of hexByteFlips(found.proof.commit.blockHash, [0x01])) {
        const r = clone(found);
        r.proof.commit.blockHash = flip.value;
        expectRefused(() => verify(r), ProofErrorCode.HEADER_MISMATCH, `commit.blockHash byte ${flip.at}`);
      }
      const round = clone(found);
      round.proof.commit.round = 1;
      expectRefused(() => verify(round), ProofErrorCode.BAD_COMMIT, "commit.round");
      const height = clone(found);
      height.proof.commit.height = 3;
      expectRefused(() => verify(height), ProofErrorCode.HEIGHT_MISMATCH, "commit.height");
      const twice = clone(found);
      twice.proof.commit.sigs.push(twice.proof.commit.sigs[0]!);
      expectRefused(() => verify(twice), ProofErrorCode.BAD_COMMIT, "one signature counted twice");
    });

    it("any byte of the validator list", () => {
      for (const flip of hexByteFlips(found.proof.validators[0]!.publicKey)) {
        const r = clone(found);
        r.proof.validators[0]!.publicKey = flip.value;
        expectRefused(() => verify(r), ProofErrorCode.VALIDATORS_MISMATCH, `validators[0].publicKey byte ${flip.at} ^ ${flip.mask}`);
      }
      const power = clone(found);
      power.proof.validators[0]!.power += 1;
      expectRefused(() => verify(power), ProofErrorCode.VALIDATORS_MISMATCH, "validators[0].power");
      const more = clone(found);
      more.proof.validators.push({ publicKey: hex(OUTSIDER.publicKey), power: 1 });
      expectRefused(() => verify(more), ProofErrorCode.VALIDATORS_MISMATCH, "a validator added");
    });
  });

  describe("refuses anchors it does not trust", () => {
    const validator = { key: VALIDATOR_KEY, address: VALIDATORS.validators[0]!.address };
    const outsider = { key: OUTSIDER, address: OUTSIDERS.validators[0]!.address };

    it("re-signing by the trusted validator is accepted (the forging helper itself is sound)", () => {
      expect(verify({ ...found, proof: reanchor(found.proof, { signers: [validator] }) }).height).to.equal(2);
    });

    it("a commit signed by keys outside the trusted set", () => {
      // A chain of the outsider's own: its header names its set, which is listed.
      const ownSet = reanchor(found.proof, { edit: (h) => (h.validatorsHash = OUTSIDERS.hash), signers: [outsider], listed: OUTSIDERS });
      expectRefused(() => verify({ ...found, proof: ownSet }), ProofErrorCode.UNTRUSTED_VALIDATORS, "outsider's own set");
      // The header names the trusted set, but the outsider signed.
      const claimsTrusted = reanchor(found.proof, { signers: [outsider] });
      expectRefused(() => verify({ ...found, proof: claimsTrusted }), ProofErrorCode.BAD_COMMIT, "outsider's signature");
      // The outsider signs under the trusted validator's address.
      const impersonated = reanchor(found.proof, { signers: [{ key: OUTSIDER, address: validator.address }] });
      expectRefused(() => verify({ ...found, proof: impersonated }), ProofErrorCode.BAD_COMMIT, "outsider under the validator's address");
      // A trusted signature plus an outsider's: the commit holds a signature of no member.
      const mixed = reanchor(found.proof, { signers: [validator, outsider] });
      expectRefused(() => verify({ ...found, proof: mixed }), ProofErrorCode.BAD_COMMIT, "an extra outsider signature");
    });

    it("a proof of another chain, however it is signed", () => {
      const other = reanchor(found.proof, { edit: (h) => (h.chainId = "sid-other"), signers: [validator] });
      expectRefused(() => verify({ ...found, proof: other }), ProofErrorCode.WRONG_CHAIN, "header of sid-other");
      // The same proof is good for a client of that chain: the chain id is the only difference.
      expect(verify({ ...found, proof: other }, A.did, { chainId: "sid-other", trusted: new ValidatorSetTracker("sid-other", VALIDATORS) }).height).to.equal(2);
      const signedElsewhere = reanchor(found.proof, { signers: [validator], signChainId: "sid-other" });
      expectRefused(() => verify({ ...found, proof: signedElsewhere }), ProofErrorCode.BAD_COMMIT, "header of sid-test, votes of sid-other");
      expectRefused(() => verify(found, A.did, { chainId: "sid-other" }), ProofErrorCode.WRONG_CHAIN, "options and trusted set disagree");
    });

    it("a height with no trusted set", () => {
      const none = { chainId: CHAIN_ID, setFor: () => undefined } as unknown as ValidatorSetTracker;
      expectRefused(() => verify(found, A.did, { trusted: none }), ProofErrorCode.UNTRUSTED_VALIDATORS, "no set");
    });
  });

  describe("refuses answers that prove something else", () => {
    it("a result without a proof", () => {
      const { proof: _p, ...plain } = found;
      expectRefused(() => verify(plain), ProofErrorCode.MISSING, "no proof");
      expectRefused(() => verify(null), ProofErrorCode.MISSING, "null");
    });

    it("a proof of another DID than the one asked for", () => {
      expectRefused(() => verify(found, B.did), ProofErrorCode.BAD_RECORD, "A's proof for B");
      expectRefused(() => verify(absent, A.did), ProofErrorCode.BAD_STATE_PROOF, "ABSENT's absence for A");
    });
  });
});
