import { expect } from "chai";
import fc from "fast-check";
import { ConsensusError, ConsensusErrorCode } from "../../../src/consensus/errors.js";
import { type DuplicateVoteEvidence, decodeEvidence, duplicateVoteEvidence, encodeEvidence, evidenceHash, verifyEvidence } from "../../../src/consensus/evidence.js";
import { NIL, encodeVote } from "../../../src/consensus/messages.js";
import { MAX_BLOCKS_PER_VALIDATOR, VoteSet } from "../../../src/consensus/vote-set.js";
import { VoteStep } from "../../../src/chain/vote.js";
import { CHAIN_ID, hex } from "../../helpers/fixtures.js";
import { blockHash, precommit, prevote, validatorSet, expectConsensusError } from "../../helpers/consensus.js";

const X = blockHash("x");
const Y = blockHash("y");


describe("consensus/vote-set: quorum math", () => {
  // Powers 5, 3, 1, 1: total 10, +2/3 needs 7, +1/3 needs 4.
  const set = validatorSet([5, 3, 1, 1]);

  it("+2/3 for a block needs more than 2/3 of the power, not more than 2/3 of the validators", () => {
    const vs = new VoteSet(4, set);
    vs.add(prevote(0, 4, 0, X));
    expect(vs.power(0, VoteStep.Prevote, X)).to.equal(5);
    expect(vs.hasTwoThirdsFor(0, VoteStep.Prevote, X)).to.equal(false);
    expect(vs.twoThirdsMajority(0, VoteStep.Prevote)).to.equal(undefined);
    // Three of four validators, but 5+1+1 = 7 of 10: just enough.
    vs.add(prevote(2, 4, 0, X));
    expect(vs.hasTwoThirdsFor(0, VoteStep.Prevote, X)).to.equal(false);
    vs.add(prevote(3, 4, 0, X));
    expect(vs.power(0, VoteStep.Prevote, X)).to.equal(7);
    expect(vs.hasTwoThirdsFor(0, VoteStep.Prevote, X)).to.equal(true);
    expect(hex(vs.twoThirdsMajority(0, VoteStep.Prevote)!)).to.equal(hex(X));
    // Prevotes say nothing about precommits, or about other rounds.
    expect(vs.hasTwoThirdsAny(0, VoteStep.Precommit)).to.equal(false);
    expect(vs.hasTwoThirdsFor(1, VoteStep.Prevote, X)).to.equal(false);
  });

  it("two validators with 8 of 10 make a quorum that three small ones cannot", () => {
    const big = new VoteSet(4, set);
    big.add(precommit(0, 4, 2, X));
    big.add(precommit(1, 4, 2, X));
    expect(big.hasTwoThirdsFor(2, VoteStep.Precommit, X)).to.equal(true);
    const small = new VoteSet(4, set);
    for (const i of [1, 2, 3]) small.add(precommit(i, 4, 2, X));
    expect(small.power(2, VoteStep.Precommit, X)).to.equal(5);
    expect(small.hasTwoThirdsFor(2, VoteStep.Precommit, X)).to.equal(false);
    expect(small.hasTwoThirdsAny(2, VoteStep.Precommit)).to.equal(false);
  });

  it("+2/3 any counts nil and every block together, with no majority for any one", () => {
    const vs = new VoteSet(4, set);
    vs.add(prevote(0, 4, 1, X));
    vs.add(prevote(2, 4, 1, NIL));
    expect(vs.hasTwoThirdsAny(1, VoteStep.Prevote)).to.equal(false);
    vs.add(prevote(3, 4, 1, Y));
    expect(vs.hasTwoThirdsAny(1, VoteStep.Prevote)).to.equal(true);
    expect(vs.twoThirdsMajority(1, VoteStep.Prevote)).to.equal(undefined);
    expect(vs.power(1, VoteStep.Prevote, NIL)).to.equal(1);
  });

  it("+2/3 for nil is a majority for the empty hash", () => {
    const vs = new VoteSet(4, set);
    vs.add(prevote(0, 4, 0));
    vs.add(prevote(1, 4, 0));
    expect(vs.hasTwoThirdsFor(0, VoteStep.Prevote, NIL)).to.equal(true);
    expect(vs.twoThirdsMajority(0, VoteStep.Prevote)!.length).to.equal(0);
  });

  it("f+1 in a round counts each validator once over both vote types and needs more than 1/3 of the power", () => {
    const vs = new VoteSet(4, set);
    vs.add(prevote(2, 4, 3, X));
    vs.add(precommit(2, 4, 3, X));
    vs.add(prevote(3, 4, 3));
    expect(vs.hasOneThirdAny(3)).to.equal(false); // 1 + 1 = 2 of 10
    vs.add(precommit(1, 4, 3));
    expect(vs.hasOneThirdAny(3)).to.equal(true); // 2 + 3 = 5 > 10/3
    const alone = new VoteSet(4, set);
    alone.add(precommit(0, 4, 7));
    expect(alone.hasOneThirdAny(7)).to.equal(true); // 5 of 10 alone
    const exactThird = new VoteSet(4, validatorSet([1, 1, 1]));
    exactThird.add(prevote(0, 4, 1, X));
    expect(exactThird.hasOneThirdAny(1)).to.equal(false); // 1 of 3 is not more than 1/3
    exactThird.add(prevote(1, 4, 1, X));
    expect(exactThird.hasOneThirdAny(1)).to.equal(true);
  });

  it("agrees with a direct sum over random vote assignments (quorum thresholds with unequal powers)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.constantFrom("x", "y", "nil", "none"), { minLength: 6, maxLength: 6 }),
        (powers, choices) => {
          const s = validatorSet(powers);
          const vs = new VoteSet(2, s);
          const total = powers.reduce((a, b) => a + b, 0);
          const sum = { x: 0, y: 0, nil: 0 };
          powers.forEach((p, i) => {
            const c = choices[i]!;
            if (c === "none") return;
            vs.add(prevote(i, 2, 0, c === "x" ? X : c === "y" ? Y : NIL));
            sum[c] += p;
          });
          const more2of3 = (p: number) => 3 * p > 2 * total;
          expect(vs.hasTwoThirdsFor(0, VoteStep.Prevote, X)).to.equal(more2of3(sum.x));
          expect(vs.hasTwoThirdsFor(0, VoteStep.Prevote, NIL)).to.equal(more2of3(sum.nil));
          expect(vs.hasTwoThirdsAny(0, VoteStep.Prevote)).to.equal(more2of3(sum.x + sum.y + sum.nil));
          expect(vs.hasOneThirdAny(0)).to.equal(3 * (sum.x + sum.y + sum.nil) > total);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("consensus/vote-set: membership, duplicates and equivocation", () => {
  const set = validatorSet([1, 1, 1, 1]);

  it("refuses votes from non-validators and of other heights with typed errors", () => {
    const vs = new VoteSet(4, set);
    expectConsensusError(() => vs.add(prevote(4, 4, 0, X)), ConsensusErrorCode.UNKNOWN_VALIDATOR);
    expectConsensusError(() => vs.add(prevote(0, 5, 0, X)), ConsensusErrorCode.WRONG_HEIGHT);
    expectConsensusError(() => vs.add({ ...prevote(0, 4, 0, X), round: -1 }), ConsensusErrorCode.BAD_MESSAGE);
    expect(vs.roundsWithVotes()).to.deep.equal([]);
  });

  it("counts an identical vote once", () => {
    const vs = new VoteSet(4, set);
    const v = prevote(0, 4, 0, X);
    expect(vs.add(v)).to.deep.equal({ status: "added" });
    expect(vs.add(v)).to.deep.equal({ status: "duplicate" });
    expect(vs.add({ ...v, sig: v.sig.slice() })).to.deep.equal({ status: "duplicate" });
    expect(vs.power(0, VoteStep.Prevote, X)).to.equal(1);
    expect(vs.votesFor(0, VoteStep.Prevote, X)).to.have.length(1);
  });

  it("detects a second, different vote for one round and type and reports it once", () => {
    const vs = new VoteSet(4, set);
    const a = precommit(1, 4, 2, X);
    const b = precommit(1, 4, 2, Y);
    expect(vs.add(a).status).to.equal("added");
    const r = vs.add(b);
    expect(r.status).to.equal("conflicting");
    const ev = (r as { evidence: DuplicateVoteEvidence }).evidence;
    expect(ev).to.deep.equal(duplicateVoteEvidence(a, b));
    expect(() => verifyEvidence(CHAIN_ID, ev, set)).to.not.throw();
    expect(vs.add(precommit(1, 4, 2))).to.deep.equal({ status: "conflicting" });
    expect(vs.add(b)).to.deep.equal({ status: "duplicate" });
    expect(hex(vs.get(2, VoteStep.Precommit, a.validator)!.blockHash)).to.equal(hex(X));
    // A prevote and a precommit of one round are not a conflict.
    expect(vs.add(prevote(1, 4, 2, Y)).status).to.equal("added");
  });

  it("counts an equivocator's votes for each block it names, but once in the any-total and the f+1 count", () => {
    const vs = new VoteSet(4, set);
    vs.add(precommit(1, 4, 2, X));
    vs.add(precommit(1, 4, 2, Y));
    vs.add(precommit(1, 4, 2));
    expect(vs.power(2, VoteStep.Precommit, X)).to.equal(1);
    expect(vs.power(2, VoteStep.Precommit, Y)).to.equal(1);
    expect(vs.power(2, VoteStep.Precommit, NIL)).to.equal(1);
    expect(vs.hasOneThirdAny(2)).to.equal(false); // one validator of four
    vs.add(precommit(2, 4, 2, Y));
    expect(vs.hasTwoThirdsAny(2, VoteStep.Precommit)).to.equal(false); // two validators of four
    vs.add(precommit(3, 4, 2, Y));
    // 1, 2 and 3 signed precommits for Y: a valid commit for Y, whatever else 1 signed.
    expect(vs.hasTwoThirdsFor(2, VoteStep.Precommit, Y)).to.equal(true);
    expect(hex(vs.twoThirdsMajority(2, VoteStep.Precommit)!)).to.equal(hex(Y));
    expect(vs.votesFor(2, VoteStep.Precommit, Y).map((v) => hex(v.validator))).to.have.members([1, 2, 3].map((i) => hex(set.validators[i]!.address)));
  });

  it("keeps a validator's votes for at most MAX_BLOCKS_PER_VALIDATOR blocks per round and type", () => {
    const vs = new VoteSet(4, set);
    const hashes = [X, Y, NIL, blockHash("z"), blockHash("w")];
    for (const h of hashes) vs.add(prevote(1, 4, 0, h));
    const counted = hashes.filter((h) => vs.power(0, VoteStep.Prevote, h) > 0);
    expect(counted).to.have.length(MAX_BLOCKS_PER_VALIDATOR);
  });
});

describe("consensus/evidence", () => {
  const set = validatorSet([1, 1, 1, 1]);
  const a = prevote(2, 9, 1, X);
  const b = prevote(2, 9, 1, Y);
  const ev = duplicateVoteEvidence(a, b);

  it("orders the pair canonically, whichever arrived first", () => {
    expect(duplicateVoteEvidence(b, a)).to.deep.equal(ev);
    expect(Buffer.compare(encodeVote(ev.voteA), encodeVote(ev.voteB))).to.equal(-1);
    expect(hex(evidenceHash(duplicateVoteEvidence(b, a)))).to.equal(hex(evidenceHash(ev)));
  });

  it("round-trips through its canonical encoding", () => {
    expect(decodeEvidence(encodeEvidence(ev))).to.deep.equal(ev);
  });

  it("verifies real equivocation, nil against a block included", () => {
    expect(() => verifyEvidence(CHAIN_ID, ev, set)).to.not.throw();
    expect(() => verifyEvidence(CHAIN_ID, duplicateVoteEvidence(precommit(0, 9, 0, X), precommit(0, 9, 0)), set)).to.not.throw();
  });

  const cases: Array<[string, () => DuplicateVoteEvidence, RegExp, string?]> = [
    ["votes of two validators", () => duplicateVoteEvidence(prevote(1, 9, 1, X), prevote(2, 9, 1, Y)), /different validators/],
    ["votes for one block", () => ({ voteA: a, voteB: { ...a } }), /same block/],
    ["votes of two rounds", () => duplicateVoteEvidence(prevote(2, 9, 1, X), prevote(2, 9, 2, Y)), /same height, round and type/],
    ["votes of two heights", () => duplicateVoteEvidence(prevote(2, 9, 1, X), prevote(2, 8, 1, Y)), /same height, round and type/],
    ["a prevote and a precommit", () => duplicateVoteEvidence(prevote(2, 9, 1, X), precommit(2, 9, 1, Y)), /same height, round and type/],
    ["the pair out of order", () => ({ voteA: ev.voteB, voteB: ev.voteA }), /canonical order/],
    ["a forged signature", () => duplicateVoteEvidence(a, { ...b, sig: prevote(2, 9, 1, blockHash("z")).sig }), /signature does not verify/],
    ["a validator outside the set", () => duplicateVoteEvidence(prevote(6, 9, 1, X), prevote(6, 9, 1, Y)), /not in the validator set/],
    ["another chain", () => ev, /signature does not verify/, "other-chain"],
    ["a malformed vote", () => ({ voteA: { ...a, round: -1 }, voteB: b }), /malformed/],
  ];
  for (const [name, make, message, chain] of cases) {
    it(`refuses evidence with ${name}`, () => {
      expectConsensusError(() => verifyEvidence(chain ?? CHAIN_ID, make(), set), ConsensusErrorCode.BAD_EVIDENCE, message);
    });
  }

  it("decoding random or mutated bytes throws only ConsensusError BAD_MESSAGE", () => {
    const good = encodeEvidence(ev);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.tuple(fc.nat(400), fc.nat(255)), { maxLength: 3 }), (random, edits) => {
        const mutated = good.slice();
        for (const [at, value] of edits) mutated[at % mutated.length] = value;
        for (const bytes of [random, mutated]) {
          try {
            decodeEvidence(bytes);
          } catch (e) {
            expect(e).to.be.instanceOf(ConsensusError);
            expect((e as ConsensusError).code).to.equal(ConsensusErrorCode.BAD_MESSAGE);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
