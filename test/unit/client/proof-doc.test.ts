/**
 * docs/proofs.md, walked step by step on real proofs from a real store,
 * with nothing but sha256, the canonical CBOR encoder and secp256k1: if the
 * page and the bytes part ways, this fails. It also holds the page to the
 * header's field count and to what it says of a deactivated DID.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { decodeCanonical, encodeCanonical, type CanonicalValue } from "../../../src/chain/codec.js";
import { bytesEqual, concatBytes, fromBase64, fromHex, toHex, utf8 } from "../../../src/crypto/bytes.js";
import { sha256 } from "../../../src/crypto/hash.js";
import { verifyDigest } from "../../../src/crypto/secp256k1.js";
import { completeContexts, type DidDocument } from "../../../src/did/document.js";
import { CHAIN_ID, createTx, deactivateTx, fixedKey, testDid, writeParams } from "../../helpers/fixtures.js";
import { type ProvenResult, type ProvingChain, provingChain } from "../../helpers/proofs.js";

const DOC = readFileSync(resolve(fileURLToPath(import.meta.url), "../../../../../docs/proofs.md"), "utf8");

const A = testDid(fixedKey(1));
const B = testDid(fixedKey(2));
const ABSENT = testDid(fixedKey(4));

const bit = (key: Uint8Array, i: number) => (key[i >> 3]! >> (7 - (i & 7))) & 1;
const leaf = (key: Uint8Array, valueHash: Uint8Array) => sha256(concatBytes(Uint8Array.of(0), key, valueHash));
const internal = (l: Uint8Array, r: Uint8Array) => sha256(concatBytes(Uint8Array.of(1), l, r));

/** Steps 1 to 9 of "What is hashed, byte by byte"; returns the decoded record (or null). */
function walk(did: string, r: ProvenResult): Record<string, CanonicalValue> | null {
  const p = r.proof;
  // 1. state key
  const tag = utf8("sid/state/did\0");
  expect(toHex(tag)).to.equal("7369642f73746174652f64696400");
  const key = sha256(concatBytes(tag, utf8(did)));
  // 2, 3. record and value hash
  const record = p.record === null ? null : fromBase64(p.record);
  // 5. fold the siblings from the deepest up
  const siblings = p.smtProof.siblings.map((s) => fromHex(s));
  let h: Uint8Array;
  if (record !== null) h = leaf(key, sha256(record));
  else if (p.smtProof.leaf === null) h = new Uint8Array(32);
  else {
    const other = fromHex(p.smtProof.leaf.key);
    for (let i = 0; i < siblings.length; i++) expect(bit(other, i), `leaf shares bit ${i}`).to.equal(bit(key, i));
    h = leaf(other, fromHex(p.smtProof.leaf.valueHash));
  }
  for (let d = siblings.length - 1; d >= 0; d--) h = bit(key, d) === 0 ? internal(h, siblings[d]!) : internal(siblings[d]!, h);
  // 6. the root after the block's txs
  expect(toHex(h), "Merkle fold ends at header.stateRoot").to.equal(p.header.stateRoot);
  // 7. block hash over the header's eleven fields
  const hx = p.header;
  const header: Record<string, CanonicalValue> = {
    chainId: hx.chainId,
    height: hx.height,
    time: hx.time,
    prevHash: fromHex(hx.prevHash),
    txRoot: fromHex(hx.txRoot),
    evidenceHash: fromHex(hx.evidenceHash),
    stateRoot: fromHex(hx.stateRoot),
    validatorsHash: fromHex(hx.validatorsHash),
    nextValidatorsHash: fromHex(hx.nextValidatorsHash),
    proposer: fromHex(hx.proposer),
    lastCommitHash: fromHex(hx.lastCommitHash),
  };
  expect(Object.keys(hx).sort()).to.deep.equal(Object.keys(header).sort());
  expect(toHex(sha256(encodeCanonical(header)))).to.equal(p.commit.blockHash);
  // 8. validator set hash
  const set = p.validators.map((v) => ({ address: sha256(fromHex(v.publicKey)).subarray(0, 20), publicKey: fromHex(v.publicKey), power: v.power }));
  expect(toHex(sha256(encodeCanonical(set)))).to.equal(hx.validatorsHash);
  // 9. commit signatures: more than 2/3 of the power, each over the precommit digest
  const digest = sha256(encodeCanonical(["sid/vote/v1", hx.chainId, p.commit.height, p.commit.round, 2, fromHex(p.commit.blockHash)]));
  let power = 0;
  const total = set.reduce((t, v) => t + v.power, 0);
  for (const s of p.commit.sigs) {
    const v = set.find((x) => toHex(x.address) === s.validator);
    expect(v, `signer ${s.validator} is in the set`).to.not.equal(undefined);
    expect(verifyDigest(fromHex(s.sig), digest, v!.publicKey)).to.equal(true);
    power += v!.power;
  }
  expect(power).to.be.at.least(Math.floor((2 * total) / 3) + 1);
  return record === null ? null : (decodeCanonical(record) as Record<string, CanonicalValue>);
}

const canonical = (x: unknown) => toHex(encodeCanonical(x as CanonicalValue));

describe("docs/proofs.md, step by step on real proofs", () => {
  let chain: ProvingChain;
  before(async () => {
    chain = await provingChain();
    await chain.commit([createTx(A), createTx(B)]);
    await chain.commit([deactivateTx(writeParams(B, 1, 1))]);
  });
  after(async () => chain.close());

  it("says the header has eleven fields, and names each field the header has", () => {
    expect(DOC).to.match(/\*\*eleven\*\* fields/);
    expect(DOC).to.not.match(/\b(nine|ten) fields/);
    const answer = /"header":\s*\{([^}]*)\}/.exec(DOC)![1]!.split(",").map((f) => f.trim());
    const step7 = /\*\*eleven\*\* fields \(([^)]*)\)/.exec(DOC)![1]!.split(",").map((f) => f.trim().replace(/`/g, "").replace(/;.*$/, ""));
    expect(answer).to.have.length(11);
    expect(step7.sort()).to.deep.equal([...answer].sort());
  });

  it("walks a live DID's proof: the record's document, contexts completed, is the shown document", async () => {
    const r = await chain.resolve({ did: A.did, proof: true });
    const rec = walk(A.did, r)!;
    expect(rec.did).to.equal(A.did);
    expect(rec.deactivated).to.equal(false);
    const doc = rec.document as unknown as DidDocument;
    expect(canonical(r.didDocument)).to.equal(canonical({ ...doc, "@context": completeContexts(doc) }));
  });

  it("walks a deactivated DID's proof: the record holds the last full document, the node shows {@context, id, verificationMethod: []}", async () => {
    const r = await chain.resolve({ did: B.did, proof: true });
    const rec = walk(B.did, r)!;
    expect(rec.deactivated).to.equal(true);
    const doc = rec.document as unknown as DidDocument;
    expect(doc.verificationMethod, "the record keeps the keys").to.have.length(1);
    expect(canonical(doc)).to.equal(canonical(B.doc));
    expect(r.didDocument).to.deep.equal({ "@context": doc["@context"], id: B.did, verificationMethod: [] });
    expect(r.didDocumentMetadata.deactivated).to.equal(true);
    expect(DOC).to.match(/\*\*last full document\*\*/);
    expect(DOC).to.include('"verificationMethod": []');
  });

  it("walks an absent DID's proof of absence", async () => {
    const r = await chain.resolve({ did: ABSENT.did, proof: true });
    expect(walk(ABSENT.did, r)).to.equal(null);
    expect(r.didResolutionMetadata.error).to.equal("notFound");
    expect(bytesEqual(utf8(r.proof.header.chainId), utf8(CHAIN_ID))).to.equal(true);
  });
});
