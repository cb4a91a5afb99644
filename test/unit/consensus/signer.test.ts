import { expect } from "chai";
import { txSigningDigest } from "../../../src/chain/tx.js";
import { verifyDigest } from "../../../src/crypto/secp256k1.js";
import { DoubleSignError, ValidatorSigner } from "../../../src/consensus/signer.js";
import { ValidatorSet } from "../../../src/chain/validator-set.js";
import { VoteStep, verifyCommit, voteSigningDigest, type VoteTarget } from "../../../src/chain/vote.js";
import type { Commit } from "../../../src/chain/block.js";
import { CHAIN_ID, createTx, fixedKey, hex, testDid } from "../../helpers/fixtures.js";

const target = (over: Partial<VoteTarget> = {}): VoteTarget => ({
  chainId: CHAIN_ID,
  height: 5,
  round: 0,
  step: VoteStep.Precommit,
  blockHash: new Uint8Array(32).fill(0xaa),
  ...over,
});

function setOf(...fills: number[]): ValidatorSet {
  return ValidatorSet.fromGenesis(fills.map((f, i) => ({ name: `v${i}`, publicKey: hex(fixedKey(f).publicKey), power: 10 })));
}

describe("consensus/signer: the double-sign guard (invariant 4)", () => {
  it("refuses a second, different message for the same height/round/step", () => {
    const s = new ValidatorSigner(fixedKey(7).secretKey, undefined);
    s.sign(target());
    expect(() => s.sign(target({ blockHash: new Uint8Array(32).fill(0xbb) }))).to.throw(DoubleSignError);
  });

  it("returns the same signature for an identical re-sign", () => {
    const s = new ValidatorSigner(fixedKey(7).secretKey, undefined);
    const a = s.sign(target());
    const b = s.sign(target());
    expect(hex(b.sig)).to.equal(hex(a.sig));
  });

  it("refuses to sign below what it signed, and resumes from a persisted state", () => {
    const s = new ValidatorSigner(fixedKey(7).secretKey, undefined);
    const { state } = s.sign(target({ height: 9 }));
    expect(() => s.sign(target({ height: 8 }))).to.throw(DoubleSignError);
    // a restarted signer given the persisted state keeps the guard
    const restarted = new ValidatorSigner(fixedKey(7).secretKey, state);
    expect(() => restarted.sign(target({ height: 9, blockHash: new Uint8Array(32) }))).to.throw(DoubleSignError);
    expect(() => restarted.sign(target({ height: 10 }))).to.not.throw();
  });

  it("signs the vote digest with the validator key", () => {
    const k = fixedKey(7);
    const { sig } = new ValidatorSigner(k.secretKey, undefined).sign(target());
    expect(verifyDigest(sig, voteSigningDigest(target()), k.publicKey)).to.equal(true);
  });
});

describe("consensus/vote: domain separation (invariant 2) and commits", () => {
  it("a vote signature covers chain id, height, round, step and block hash", () => {
    const base = hex(voteSigningDigest(target()));
    for (const t of [target({ chainId: "other" }), target({ height: 6 }), target({ round: 1 }), target({ step: VoteStep.Prevote }), target({ blockHash: new Uint8Array(32) })]) {
      expect(hex(voteSigningDigest(t))).to.not.equal(base);
    }
  });

  it("a tx signature is not valid as a vote and the other way round", () => {
    const d = testDid(fixedKey(3));
    const c = createTx(d);
    const txDigest = txSigningDigest(c.tx);
    expect(hex(txDigest)).to.not.equal(hex(voteSigningDigest(target())));
    const voteSig = new ValidatorSigner(d.key.secretKey, undefined).sign(target()).sig;
    expect(verifyDigest(voteSig, txDigest, d.key.publicKey)).to.equal(false);
    expect(verifyDigest(c.tx.sig, voteSigningDigest(target()), d.key.publicKey)).to.equal(false);
  });

  const commitBy = (fills: number[], t = target()): Commit => ({
    height: t.height,
    round: t.round,
    blockHash: t.blockHash,
    sigs: fills.map((f) => {
      const s = new ValidatorSigner(fixedKey(f).secretKey, undefined);
      return { validator: s.address, sig: s.sign(t).sig };
    }),
  });

  it("accepts a commit with more than 2/3 of the power", () => {
    expect(verifyCommit(CHAIN_ID, commitBy([1, 2, 3]), setOf(1, 2, 3, 4))).to.equal(true);
    expect(verifyCommit(CHAIN_ID, commitBy([1]), setOf(1))).to.equal(true);
  });

  it("refuses too little power, unknown or repeated validators, bad signatures and another chain", () => {
    const set = setOf(1, 2, 3, 4);
    expect(verifyCommit(CHAIN_ID, commitBy([1, 2]), set)).to.equal(false);
    expect(verifyCommit(CHAIN_ID, commitBy([1, 2, 9]), set)).to.equal(false);
    const dup = commitBy([1, 2]);
    dup.sigs.push(dup.sigs[0]!);
    expect(verifyCommit(CHAIN_ID, dup, set)).to.equal(false);
    const bad = commitBy([1, 2, 3]);
    bad.sigs[2] = { ...bad.sigs[2]!, sig: commitBy([3], target({ height: 99 })).sigs[0]!.sig };
    expect(verifyCommit(CHAIN_ID, bad, set)).to.equal(false);
    expect(verifyCommit("other-chain", commitBy([1, 2, 3]), set)).to.equal(false);
  });

  it("needs more than 2/3, not 2/3 exactly", () => {
    expect(setOf(1, 2, 3).quorum()).to.equal(21);
    expect(verifyCommit(CHAIN_ID, commitBy([1, 2]), setOf(1, 2, 3))).to.equal(false);
  });
});
