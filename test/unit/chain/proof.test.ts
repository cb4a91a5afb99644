/**
 * ChainStore.proveState / proveDid on a store built from real blocks: the
 * proof is anchored in the head's committed header, the record bytes are
 * the preimage of the proven value, and a block landing mid-proof never
 * yields a record that does not match the proof.
 */
import { expect } from "chai";
import { headerHash } from "../../../src/chain/block.js";
import { BlockErrorCode } from "../../../src/chain/errors.js";
import { MAX_PROOF_RECORD_BYTES, ProofErrorCode, parseStateProofJson, stateProofToJson } from "../../../src/chain/proof.js";
import { verifySmtProof } from "../../../src/chain/smt.js";
import { decodeDidRecord, didStateKey, encodeDidRecord } from "../../../src/chain/state.js";
import { sha256 } from "../../../src/crypto/hash.js";
import { verifyCommit } from "../../../src/chain/vote.js";
import { addVerificationMethod } from "../../../src/did/document-edit.js";
import { VALIDATORS } from "../../helpers/chain.js";
import { CHAIN_ID, createTx, expectChainErrorAsync, fixedKey, hex, testDid, updateTx, writeParams } from "../../helpers/fixtures.js";
import { type ProvingChain, provingChain } from "../../helpers/proofs.js";

const A = testDid(fixedKey(1));
const B = testDid(fixedKey(2));
const C = testDid(fixedKey(3));
const ABSENT = testDid(fixedKey(4));

describe("chain/store: state proofs", function () {
  this.timeout(20_000);
  let chain: ProvingChain;

  beforeEach(async () => {
    chain = await provingChain();
  });
  afterEach(async () => {
    await chain.close();
  });

  it("has nothing to prove against before the first block", async () => {
    await expectChainErrorAsync(chain.store.proveDid(A.did), BlockErrorCode.NOT_FOUND);
  });

  it("proves a registered DID against the head's committed header", async () => {
    await chain.commit([createTx(A), createTx(B), createTx(C)]);
    await chain.commit([]);
    const head = chain.store.head();
    const p = await chain.store.proveDid(B.did);

    expect(p.height).to.equal(2);
    expect(p.header).to.deep.equal((await chain.store.getBlock(2))!.header);
    expect(hex(headerHash(p.header))).to.equal(hex(head.hash));
    expect(hex(p.header.stateRoot)).to.equal(hex(head.stateRoot));
    expect(p.commit).to.deep.equal(await chain.store.getCommit(2));
    expect(hex(p.commit.blockHash)).to.equal(hex(head.hash));
    expect(verifyCommit(CHAIN_ID, p.commit, VALIDATORS)).to.equal(true);

    const rec = decodeDidRecord(p.valueBytes!);
    expect(rec).to.deep.equal(await chain.store.getDid(B.did));
    expect(hex(p.valueBytes!)).to.equal(hex(encodeDidRecord(rec)));
    expect(hex(p.proof.leaf!.key)).to.equal(hex(didStateKey(B.did)));
    expect(verifySmtProof(p.header.stateRoot, didStateKey(B.did), sha256(p.valueBytes!), p.proof)).to.equal(true);
    // Three leaves: the walk to B passes at least one internal node.
    expect(p.proof.siblings.length).to.be.greaterThan(0);
    // An inclusion proof is no proof of absence, nor of another value.
    expect(verifySmtProof(p.header.stateRoot, didStateKey(B.did), null, p.proof)).to.equal(false);
    expect(verifySmtProof(p.header.stateRoot, didStateKey(B.did), sha256(encodeDidRecord({ ...rec, nonce: 9 })), p.proof)).to.equal(false);
  });

  it("proves an unregistered DID absent", async () => {
    await chain.commit([createTx(A), createTx(B), createTx(C)]);
    const p = await chain.store.proveDid(ABSENT.did);
    expect(p.height).to.equal(1);
    expect(p.valueBytes).to.equal(null);
    expect(verifySmtProof(p.header.stateRoot, didStateKey(ABSENT.did), null, p.proof)).to.equal(true);
    expect(p.proof.leaf === null || hex(p.proof.leaf.key) !== hex(didStateKey(ABSENT.did))).to.equal(true);
  });

  it("follows the head: the newest record at the newest height, and old proofs stay valid for their own header", async () => {
    await chain.commit([createTx(A)]);
    const before = await chain.store.proveDid(A.did);
    const doc2 = addVerificationMethod(A.doc, B.key.publicKey, "key-2", ["authentication"]);
    await chain.commit([updateTx(writeParams(A, 1, 1), doc2)]);
    const after = await chain.store.proveDid(A.did);

    expect([before.height, after.height]).to.deep.equal([1, 2]);
    expect(decodeDidRecord(before.valueBytes!).versionId).to.equal(1);
    expect(decodeDidRecord(after.valueBytes!)).to.deep.include({ versionId: 2, document: doc2 });
    expect(verifySmtProof(after.header.stateRoot, didStateKey(A.did), sha256(after.valueBytes!), after.proof)).to.equal(true);
    expect(verifySmtProof(before.header.stateRoot, didStateKey(A.did), sha256(before.valueBytes!), before.proof)).to.equal(true);
    expect(verifySmtProof(after.header.stateRoot, didStateKey(A.did), sha256(before.valueBytes!), after.proof)).to.equal(false);
  });

  it("takes the proof again when a block rewrites the record while it is being read", async () => {
    await chain.commit([createTx(A)]);
    const doc2 = addVerificationMethod(A.doc, B.key.publicKey, "key-2", ["authentication"]);
    let loads = 0;
    const p = await chain.store.proveState(didStateKey(A.did), async () => {
      // First read: the head (height 1) is already taken; a block updating A lands before the bytes are read.
      if (loads++ === 0) await chain.commit([updateTx(writeParams(A, 1, 1), doc2)]);
      return chain.store.records.getBytes(A.did);
    });
    expect(loads).to.equal(2);
    expect(p.height).to.equal(2);
    expect(decodeDidRecord(p.valueBytes!).versionId).to.equal(2);
    expect(verifySmtProof(p.header.stateRoot, didStateKey(A.did), sha256(p.valueBytes!), p.proof)).to.equal(true);
  });

  it("never returns bytes that the proof does not commit to", async () => {
    await chain.commit([createTx(A)]);
    const real = (await chain.store.records.getBytes(A.did))!;
    const wrong = real.slice();
    wrong[wrong.length - 1]! ^= 1;
    let loads = 0;
    const counting = (v: Uint8Array | undefined) => async () => {
      loads++;
      return v;
    };
    await expectRejects(chain.store.proveState(didStateKey(A.did), counting(wrong)), /did not match the state root in 5 attempts/);
    expect(loads).to.equal(5);
    // Bytes for a key the tree does not hold, and no bytes for a key it holds.
    await expectRejects(chain.store.proveState(didStateKey(ABSENT.did), counting(real)), /did not match/);
    await expectRejects(chain.store.proveState(didStateKey(A.did), counting(undefined)), /did not match/);
  });

  it("round-trips through the JSON format, which refuses anything but the exact shape", async () => {
    await chain.commit([createTx(A), createTx(B)]);
    const p = await chain.store.proveDid(A.did);
    const anchored = { ...p, validators: VALIDATORS.validators.map((v) => ({ publicKey: v.publicKey, power: v.power })) };
    const json = JSON.parse(JSON.stringify(stateProofToJson(anchored)));
    expect(parseStateProofJson(json)).to.deep.equal(anchored);

    const malformed: Array<[string, (j: any) => void]> = [
      ["format", (j) => (j.format = "sid-proof/v2")],
      ["extra field", (j) => (j.extra = 1)],
      ["missing field", (j) => delete j.record],
      ["height 0", (j) => (j.height = 0)],
      ["fractional height", (j) => (j.height = 1.5)],
      ["upper-case hex", (j) => (j.header.stateRoot = j.header.stateRoot.toUpperCase())],
      ["short hash", (j) => (j.header.txRoot = j.header.txRoot.slice(2))],
      ["bad chain id", (j) => (j.header.chainId = "Sid Test")],
      ["time as ISO text", (j) => (j.header.time = new Date(j.header.time).toISOString())],
      ["no signatures", (j) => (j.commit.sigs = [])],
      ["short signature", (j) => (j.commit.sigs[0].sig = j.commit.sigs[0].sig.slice(2))],
      ["151 validators", (j) => (j.validators = Array.from({ length: 151 }, () => j.validators[0]))],
      ["zero power", (j) => (j.validators[0].power = 0)],
      ["unpadded base64", (j) => (j.record = j.record.replace(/=+$/, "") + "A")],
      ["record not a string", (j) => (j.record = [1, 2])],
      ["oversized record", (j) => (j.record = "A".repeat(Math.ceil((MAX_PROOF_RECORD_BYTES + 3) / 3) * 4))],
      ["smt sibling", (j) => (j.smtProof.siblings = ["00"])],
      ["not an object", (j) => (j.header = [])],
    ];
    for (const [what, edit] of malformed) {
      const bad = JSON.parse(JSON.stringify(json));
      edit(bad);
      let code: string | undefined;
      try {
        parseStateProofJson(bad);
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect(code, what).to.equal(ProofErrorCode.MALFORMED);
    }
  });
});

async function expectRejects(p: Promise<unknown>, message: RegExp): Promise<void> {
  let thrown: unknown;
  try {
    await p;
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected a rejection matching ${message}`).to.be.instanceOf(Error);
  expect((thrown as Error).message).to.match(message);
}
