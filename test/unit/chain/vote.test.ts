import { expect } from "chai";
import type { Commit } from "../../../src/chain/block.js";
import { ValidatorSet } from "../../../src/chain/validator-set.js";
import { VoteStep, powerSigned, tallyCommit, verifyCommit, type VoteTarget } from "../../../src/chain/vote.js";
import { ValidatorSigner } from "../../../src/consensus/signer.js";
import { CHAIN_ID, fixedKey, hex } from "../../helpers/fixtures.js";

const target = (over: Partial<VoteTarget> = {}): VoteTarget => ({
  chainId: CHAIN_ID,
  height: 7,
  round: 1,
  step: VoteStep.Precommit,
  blockHash: new Uint8Array(32).fill(0x5c),
  ...over,
});

/** A set of the given keys with the given powers. */
function setOf(members: Array<[fill: number, power: number]>): ValidatorSet {
  return ValidatorSet.fromGenesis(members.map(([f, power], i) => ({ name: `v${i}`, publicKey: hex(fixedKey(f).publicKey), power })));
}

function commitBy(fills: number[], t = target()): Commit {
  return {
    height: t.height,
    round: t.round,
    blockHash: t.blockHash,
    sigs: fills.map((f) => {
      const s = new ValidatorSigner(fixedKey(f).secretKey, undefined);
      return { validator: s.address, sig: s.sign(t).sig };
    }),
  };
}

describe("chain/vote: one power count for strict and lenient commit checks", () => {
  const set = setOf([
    [1, 10],
    [2, 20],
    [3, 30],
    [4, 40],
  ]);

  it("counts each member's valid signature once, by its power", () => {
    expect(tallyCommit(CHAIN_ID, commitBy([1, 3, 4]), set)).to.deep.equal({ power: 80, discarded: 0 });
    expect(tallyCommit(CHAIN_ID, commitBy([2]), set)).to.deep.equal({ power: 20, discarded: 0 });
  });

  it("discards a non-member, a repeated member and a bad signature, and counts the rest", () => {
    const c = commitBy([9, 3, 4]);
    c.sigs.push(c.sigs[1]!);
    c.sigs.push({ ...commitBy([1]).sigs[0]!, sig: commitBy([1], target({ height: 8 })).sigs[0]!.sig });
    expect(tallyCommit(CHAIN_ID, c, set)).to.deep.equal({ power: 70, discarded: 3 });
    expect(powerSigned(CHAIN_ID, c, set)).to.equal(70);
    // The strict check stops at the first discard: the non-member comes first, nothing is counted after it.
    expect(tallyCommit(CHAIN_ID, c, set, true)).to.deep.equal({ power: 0, discarded: 1 });
  });

  it("verifyCommit needs a quorum with nothing discarded; powerSigned ignores what a new set may not know", () => {
    // 3 and 4 hold 70 of 100, above the quorum of 67.
    expect(verifyCommit(CHAIN_ID, commitBy([3, 4]), set)).to.equal(true);
    const withStranger = commitBy([3, 4, 9]);
    expect(powerSigned(CHAIN_ID, withStranger, set)).to.equal(70);
    expect(verifyCommit(CHAIN_ID, withStranger, set)).to.equal(false);
    expect(verifyCommit(CHAIN_ID, commitBy([2, 4]), set)).to.equal(false);
    expect(powerSigned("another-chain", commitBy([3, 4]), set)).to.equal(0);
  });
});
