/**
 * Evidence of equivocation: two signed votes of one validator for one
 * height, round and type, for different blocks. One canonical order (so one
 * encoding and one hash per equivocation), a strict decoder, and a verifier
 * that names the first condition that fails.
 */
import { expect } from "chai";
import { encodeCanonical } from "../../../src/chain/codec.js";
import { compareBytes } from "../../../src/crypto/bytes.js";
import { ConsensusErrorCode } from "../../../src/consensus/errors.js";
import { decodeEvidence, duplicateVoteEvidence, encodeEvidence, evidenceHash, verifyEvidence } from "../../../src/consensus/evidence.js";
import { NIL, encodeVote, messageValues } from "../../../src/consensus/messages.js";
import { ValidatorSet } from "../../../src/chain/validator-set.js";
import { VoteStep } from "../../../src/chain/vote.js";
import { blockHash, expectConsensusError, precommit, prevote, validatorSet, vote } from "../../helpers/consensus.js";
import { CHAIN_ID } from "../../helpers/fixtures.js";

const SET = validatorSet([10, 10, 10, 10]);
const A = blockHash("a");
const B = blockHash("b");

describe("consensus/evidence", () => {
  it("puts the two votes in one canonical order whichever arrived first: one encoding, one hash", () => {
    const x = prevote(1, 5, 0, A);
    const y = prevote(1, 5, 0, B);
    const e1 = duplicateVoteEvidence(x, y);
    const e2 = duplicateVoteEvidence(y, x);
    expect(e1).to.deep.equal(e2);
    expect(compareBytes(encodeVote(e1.voteA), encodeVote(e1.voteB))).to.be.lessThan(0);
    expect(encodeEvidence(e1)).to.deep.equal(encodeEvidence(e2));
    expect(evidenceHash(e1)).to.deep.equal(evidenceHash(e2));
    expect(evidenceHash(e1)).to.have.length(32);
    // Another equivocation hashes differently.
    expect(evidenceHash(duplicateVoteEvidence(x, prevote(1, 5, 0, NIL)))).to.not.deep.equal(evidenceHash(e1));
  });

  it("decode(encode(ev)) is ev, and the result verifies", () => {
    const ev = duplicateVoteEvidence(precommit(2, 9, 3, A), precommit(2, 9, 3, NIL));
    const back = decodeEvidence(encodeEvidence(ev));
    expect(back).to.deep.equal(ev);
    verifyEvidence(CHAIN_ID, back, SET);
  });

  it("decoding refuses anything but a canonical {kind: duplicateVote, voteA, voteB} as BAD_MESSAGE", () => {
    const ev = duplicateVoteEvidence(prevote(1, 5, 0, A), prevote(1, 5, 0, B));
    const voteA = messageValues.vote(ev.voteA);
    const voteB = messageValues.vote(ev.voteB);
    expectConsensusError(() => decodeEvidence(Uint8Array.of(0xff, 0x00)), ConsensusErrorCode.BAD_MESSAGE, /undecodable/);
    expectConsensusError(() => decodeEvidence(encodeCanonical([1, 2])), ConsensusErrorCode.BAD_MESSAGE, /must be a map/);
    expectConsensusError(() => decodeEvidence(encodeCanonical({ kind: "duplicateVote", voteA })), ConsensusErrorCode.BAD_MESSAGE, /exactly the keys/);
    expectConsensusError(() => decodeEvidence(encodeCanonical({ kind: "duplicateVote", voteA, voteB, extra: 1 })), ConsensusErrorCode.BAD_MESSAGE, /exactly the keys/);
    expectConsensusError(() => decodeEvidence(encodeCanonical({ kind: "lightAttack", voteA, voteB })), ConsensusErrorCode.BAD_MESSAGE, /unknown evidence kind/);
    expectConsensusError(() => decodeEvidence(new Uint8Array(5_000)), ConsensusErrorCode.BAD_MESSAGE, /too large/);
    expectConsensusError(() => decodeEvidence("bytes" as never), ConsensusErrorCode.BAD_MESSAGE, /must be bytes/);
  });

  describe("verifyEvidence (BAD_EVIDENCE naming the first failed condition)", () => {
    const bad = (ev: ReturnType<typeof duplicateVoteEvidence>, message: RegExp, set = SET, chainId = CHAIN_ID) =>
      expectConsensusError(() => verifyEvidence(chainId, ev, set), ConsensusErrorCode.BAD_EVIDENCE, message);

    it("accepts a block and nil from one validator in one round (nil counts as a block here)", () => {
      verifyEvidence(CHAIN_ID, duplicateVoteEvidence(prevote(0, 4, 1, A), prevote(0, 4, 1, NIL)), SET);
    });

    it("refuses votes of two validators, of two heights, rounds or types, and two votes for one block", () => {
      bad(duplicateVoteEvidence(prevote(0, 4, 0, A), prevote(1, 4, 0, B)), /different validators/);
      bad(duplicateVoteEvidence(prevote(0, 4, 0, A), prevote(0, 5, 0, B)), /same height, round and type/);
      bad(duplicateVoteEvidence(prevote(0, 4, 0, A), prevote(0, 4, 1, B)), /same height, round and type/);
      bad(duplicateVoteEvidence(prevote(0, 4, 0, A), precommit(0, 4, 0, B)), /same height, round and type/);
      // Two signatures over one vote: RFC 6979 makes them equal, so build the pair by hand.
      const v = prevote(0, 4, 0, A);
      bad({ voteA: v, voteB: { ...v } }, /same block/);
    });

    it("refuses a pair out of canonical order (a second encoding of one equivocation)", () => {
      const ev = duplicateVoteEvidence(prevote(0, 4, 0, A), prevote(0, 4, 0, B));
      bad({ voteA: ev.voteB, voteB: ev.voteA }, /canonical order/);
    });

    it("refuses a validator outside the set, a vote signed for another chain, a tampered signature", () => {
      bad(duplicateVoteEvidence(prevote(0, 4, 0, A), prevote(0, 4, 0, B)), /not in the validator set/, new ValidatorSet(SET.validators.slice(1)));
      const other = duplicateVoteEvidence(vote(1, VoteStep.Prevote, 4, 0, A, "other-chain"), vote(1, VoteStep.Prevote, 4, 0, B, "other-chain"));
      bad(other, /signature does not verify/);
      const ev = duplicateVoteEvidence(prevote(1, 4, 0, A), prevote(1, 4, 0, B));
      const sig = Uint8Array.from(ev.voteB.sig);
      sig[10]! ^= 0x01;
      bad({ voteA: ev.voteA, voteB: { ...ev.voteB, sig } }, /voteB's signature does not verify/);
    });

    it("refuses a malformed vote before anything else", () => {
      const ev = duplicateVoteEvidence(prevote(1, 4, 0, A), prevote(1, 4, 0, B));
      bad({ voteA: { ...ev.voteA, round: -1 }, voteB: ev.voteB }, /malformed vote/);
    });
  });
});
