import { expect } from "chai";
import fc from "fast-check";
import { ConsensusError, ConsensusErrorCode } from "../../../src/consensus/errors.js";
import { ProposerPriorities } from "../../../src/consensus/proposer.js";
import { ValidatorSet } from "../../../src/chain/validator-set.js";
import { encodeCanonical } from "../../../src/chain/codec.js";
import { hex } from "../../helpers/fixtures.js";

/** A set whose validator i has address [i+1, 0, 0, ...] (so address order is index order) and the given power. */
function setOf(powers: readonly number[], order?: readonly number[]): ValidatorSet {
  const idx = order ?? powers.map((_, i) => i);
  return new ValidatorSet(
    idx.map((i) => {
      const address = new Uint8Array(20);
      address[0] = i + 1;
      return { name: String.fromCharCode(65 + i), address, publicKey: new Uint8Array(33), power: powers[i]! };
    }),
  );
}

/** Names of the proposers of `steps` consecutive steps, starting at initial(set). */
function sequence(set: ValidatorSet, steps: number): string {
  const name = (p: ProposerPriorities) => String.fromCharCode(64 + p.proposer()[0]!);
  let p = ProposerPriorities.initial(set);
  const out = [name(p)];
  for (let i = 1; i < steps; i++) {
    p = p.advance(1);
    out.push(name(p));
  }
  return out.join("");
}

describe("consensus/proposer: weighted round robin", () => {
  it("known answer: powers A=1, B=2, C=3 repeat C B A C B C", () => {
    // Worked by hand: priorities after each step (A, B, C)
    // [1,2,-3] C, [2,-2,0] B, [-3,0,3] A (tie with C: lower address), [-2,2,0] C, [-1,-2,3] B, [0,0,0] C.
    expect(sequence(setOf([1, 2, 3]), 12)).to.equal("CBACBC".repeat(2));
    const p = ProposerPriorities.initial(setOf([1, 2, 3]));
    expect(p.list().map((e) => e.priority)).to.deep.equal([1, 2, -3]);
    expect(p.advance(2).list().map((e) => e.priority)).to.deep.equal([-3, 0, 3]);
    expect(p.advance(5).list().map((e) => e.priority)).to.deep.equal([0, 0, 0]);
  });

  it("known answer: equal powers take turns in address order", () => {
    expect(sequence(setOf([1, 1, 1, 1]), 8)).to.equal("ABCDABCD");
    expect(sequence(setOf([10, 10, 10]), 6)).to.equal("ABCABC");
  });

  it("known answer: a dominant validator proposes most rounds, others in between", () => {
    // A=1, B=1, C=8 (total 10): C proposes 8 of every 10. By hand:
    // [1,1,-2] C, [2,2,-4] C, [3,3,-6] C, [-6,4,2] A, [-5,5,0] C, [-4,6,-2] C,
    // [-3,-3,6] B, [-2,-2,4] C, [-1,-1,2] C, [0,0,0] C.
    expect(sequence(setOf([1, 1, 8]), 20)).to.equal("CCCACCBCCC".repeat(2));
  });

  it("nextFor: the same set is one step; a removed validator drops out, the others keep their priority", () => {
    const four = setOf([10, 10, 10, 10]);
    const p = ProposerPriorities.initial(four); // [-30, 10, 10, 10], A proposed
    expect(p.nextFor(four).encode()).to.deep.equal(p.advance(1).encode());
    // Without D: carried [-30, 10, 10], centred by mean floor(-10/3) = -4 to [-26, 14, 14], step +10: B (tie, lower address) -30.
    const three = setOf([10, 10, 10]);
    const q = p.nextFor(three);
    expect(q.matches(three)).to.equal(true);
    expect(q.list().map((e) => e.priority)).to.deep.equal([-16, -6, 24]);
    expect(q.proposer()[0]).to.equal(2);
  });

  it("nextFor: a new validator starts at -1.125 x the new total power and does not propose at once", () => {
    const four = setOf([10, 10, 10, 10]);
    const five = setOf([10, 10, 10, 10, 10]);
    const p = ProposerPriorities.initial(four); // [-30, 10, 10, 10]
    // E joins at -(50 + ceil(50/8)) = -57; mean floor(-57/5) = -12 gives [-18, 22, 22, 22, -45]; step +10: B at 32 - 50.
    const q = p.nextFor(five);
    expect(q.matches(five)).to.equal(true);
    expect(q.list().map((e) => e.priority)).to.deep.equal([-8, -18, 32, 32, -35]);
    expect(q.proposer()[0]).to.equal(2);
    // Over the following steps the newcomer gets its turn like everyone else.
    const names = new Set<number>();
    let r = q;
    for (let i = 0; i < 10; i++) {
      r = r.nextFor(five);
      names.add(r.proposer()[0]!);
    }
    expect(names.has(5)).to.equal(true);
  });

  it("advance(n) gives the proposer of round n: the steps compose", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 7 }), fc.nat(40), fc.nat(40), (powers, a, b) => {
        const p = ProposerPriorities.initial(setOf(powers));
        const direct = p.advance(a + b);
        const composed = p.advance(a).advance(b);
        expect(composed.list()).to.deep.equal(direct.list());
        expect(hex(composed.proposer())).to.equal(hex(direct.proposer()));
      }),
      { numRuns: 100 },
    );
  });

  it("is deterministic and immutable: advancing returns a new value and leaves the old one as it was", () => {
    const p = ProposerPriorities.initial(setOf([3, 1, 4, 1, 5]));
    const before = p.encode();
    const a = p.advance(7);
    const b = p.advance(7);
    expect(hex(a.encode())).to.equal(hex(b.encode()));
    expect(hex(p.encode())).to.equal(hex(before));
    expect(p.advance(0)).to.equal(p);
  });

  it("does not depend on the order of the validator set", () => {
    const powers = [5, 1, 3, 3, 2];
    const a = sequence(setOf(powers), 40);
    const b = sequence(setOf(powers, [4, 2, 0, 3, 1]), 40);
    expect(b).to.equal(a);
  });

  it("over many steps each validator proposes in proportion to its power", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 2, maxLength: 6 }), (powers) => {
        const total = powers.reduce((s, x) => s + x, 0);
        const rounds = 20;
        const steps = total * rounds;
        const counts = new Array<number>(powers.length).fill(0);
        let p = ProposerPriorities.initial(setOf(powers));
        counts[p.proposer()[0]! - 1]!++;
        for (let i = 1; i < steps; i++) {
          p = p.advance(1);
          counts[p.proposer()[0]! - 1]!++;
        }
        // Each validator's count is within a small constant of its share.
        powers.forEach((power, i) => expect(Math.abs(counts[i]! - power * rounds)).to.be.at.most(powers.length));
      }),
      { numRuns: 25 },
    );
  });

  it("keeps priorities within three times the total power, even for very unequal powers", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 300 }), (powers, steps) => {
        const total = powers.reduce((s, x) => s + x, 0);
        let p = ProposerPriorities.initial(setOf(powers));
        for (let i = 0; i < steps; i++) {
          p = p.advance(1);
          for (const e of p.list()) expect(Math.abs(e.priority)).to.be.at.most(3 * total);
        }
      }),
      { numRuns: 30 },
    );
  });

  it("scales down priorities whose spread exceeds twice the total power (stored values from elsewhere)", () => {
    const set = setOf([1, 1]);
    // Priorities [1000, -1000] with total 2: spread 2000 > 4, so they are divided by ceil(2000/4) = 500 first.
    const stored = ProposerPriorities.decode(encodeCanonical({ entries: [[set.validators[0]!.address, 1, 1000], [set.validators[1]!.address, 1, -1000]], proposer: 0 }));
    const next = stored.advance(1);
    // [2, -2] -> +1 each -> [3, -1] -> A proposes -> [1, -1]
    expect(next.list().map((e) => e.priority)).to.deep.equal([1, -1]);
    expect(next.proposer()[0]).to.equal(1);
  });

  it("round-trips through its canonical encoding and matches its set", () => {
    const set = setOf([7, 2, 9]);
    const p = ProposerPriorities.initial(set).advance(11);
    const q = ProposerPriorities.decode(p.encode());
    expect(q.list()).to.deep.equal(p.list());
    expect(hex(q.proposer())).to.equal(hex(p.proposer()));
    expect(hex(q.advance(3).encode())).to.equal(hex(p.advance(3).encode()));
    expect(q.matches(set)).to.equal(true);
    expect(q.matches(setOf([7, 2, 8]))).to.equal(false);
    expect(q.matches(setOf([7, 2]))).to.equal(false);
  });

  it("refuses bad stored priorities and random bytes with ConsensusError BAD_MESSAGE", () => {
    const a = new Uint8Array(20).fill(1);
    const bad = [
      encodeCanonical({ entries: [], proposer: 0 }),
      encodeCanonical({ entries: [[a, 1, 0]], proposer: 1 }),
      encodeCanonical({ entries: [[a, 1, 0], [a, 1, 0]], proposer: 0 }),
      encodeCanonical({ entries: [[a, 0, 0]], proposer: 0 }),
      encodeCanonical({ entries: [[new Uint8Array(19), 1, 0]], proposer: 0 }),
      encodeCanonical({ entries: [[a, 1, 2 ** 52]], proposer: 0 }),
      encodeCanonical({ entries: [[a, 2 ** 49, 0]], proposer: 0 }),
      encodeCanonical({ entries: [[a, 1]], proposer: 0 }),
      encodeCanonical({ entries: [[a, 1, 0]], proposer: 0, extra: 1 }),
      encodeCanonical([1, 2]),
    ];
    for (const bytes of bad) {
      expect(() => ProposerPriorities.decode(bytes)).to.throw(ConsensusError);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          ProposerPriorities.decode(bytes);
        } catch (e) {
          expect(e).to.be.instanceOf(ConsensusError);
          expect((e as ConsensusError).code).to.equal(ConsensusErrorCode.BAD_MESSAGE);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("refuses an empty set, zero power and out-of-range advances", () => {
    expect(() => ProposerPriorities.initial(new ValidatorSet([]))).to.throw(ConsensusError, /empty/);
    expect(() => ProposerPriorities.initial(setOf([1, 0]))).to.throw(ConsensusError, /positive/);
    const p = ProposerPriorities.initial(setOf([1, 2]));
    expect(() => p.advance(-1)).to.throw(ConsensusError);
    expect(() => p.advance(1.5)).to.throw(ConsensusError);
    expect(() => p.advance(2 ** 31)).to.throw(ConsensusError);
  });
});
