/**
 * Several Tendermint machines in one process over a simulated network
 * (test/helpers/tendermint-sim.ts): agreement, validity and progress under
 * delays, drops, partitions, crashed and Byzantine validators. Runs are
 * deterministic functions of their seed and use simulated time only.
 */
import { expect } from "chai";
import fc from "fast-check";
import { toHex } from "../../../src/crypto/bytes.js";
import { type SimConfig, TendermintSim, describeSim } from "../../helpers/tendermint-sim.js";

/** Run until every honest node committed cfg.heights or `limitMs` of simulated time passed. */
function runToEnd(cfg: SimConfig, limitMs = 600_000): TendermintSim {
  const sim = new TendermintSim(cfg);
  sim.run(limitMs, () => sim.allHonestCommitted());
  return sim;
}

function expectSafe(sim: TendermintSim): void {
  expect(sim.safetyViolation(), describeSim(sim)).to.equal(null);
}

function expectAllCommitted(sim: TendermintSim, heights = sim.cfg.heights): void {
  expect(sim.allHonestCommitted(heights), `not every honest node committed ${heights} by ${sim.now} ms: ${describeSim(sim)}`).to.equal(true);
  for (const n of sim.honest()) for (let h = 1; h <= heights; h++) expect(n.commits.has(h), `node ${n.index} height ${h}`).to.equal(true);
}

describe("consensus/tendermint: simulated networks", function () {
  this.timeout(120_000);

  it("four equal validators commit 20 heights in round 0 over a network with random delays", () => {
    const sim = runToEnd({ powers: [1, 1, 1, 1], seed: 1, heights: 20 });
    expectAllCommitted(sim);
    expectSafe(sim);
    for (const n of sim.honest()) expect([...n.commitRounds.values()].every((r) => r === 0), `node ${n.index} needed a later round`).to.equal(true);
  });

  it("is deterministic: the same seed gives the same blocks at the same times", () => {
    const a = runToEnd({ powers: [1, 1, 1, 1], seed: 42, heights: 5, dropRate: 0.2, gstMs: 5_000 });
    const b = runToEnd({ powers: [1, 1, 1, 1], seed: 42, heights: 5, dropRate: 0.2, gstMs: 5_000 });
    expect(b.now).to.equal(a.now);
    expect(b.events).to.equal(a.events);
    expect([...b.nodes[0]!.commits]).to.deep.equal([...a.nodes[0]!.commits]);
  });

  it("unequal powers (5, 3, 1, 1) commit 20 heights", () => {
    const sim = runToEnd({ powers: [5, 3, 1, 1], seed: 2, heights: 20 });
    expectAllCommitted(sim);
    expectSafe(sim);
  });

  it("one silent validator: the other three still commit, moving past its rounds by timeouts", () => {
    const sim = runToEnd({ powers: [1, 1, 1, 1], seed: 3, heights: 10, byzantine: { 2: "silent" } });
    expectAllCommitted(sim);
    expectSafe(sim);
    const laterRounds = [...sim.nodes[0]!.commitRounds.values()].filter((r) => r > 0);
    expect(laterRounds.length, "the silent validator's turns should have needed round 1").to.be.greaterThan(0);
  });

  it("two silent validators: no commit at all; once they come back, everyone commits", () => {
    const sim = new TendermintSim({ powers: [1, 1, 1, 1], seed: 4, heights: 5, downUntil: { 2: 60_000, 3: 60_000 } });
    sim.run(59_999);
    for (const n of sim.nodes) expect(n.commits.size, `node ${n.index} committed with half the power: ${describeSim(sim)}`).to.equal(0);
    sim.run(600_000, () => sim.allHonestCommitted());
    expectAllCommitted(sim);
    expectSafe(sim);
  });

  it("a 2|2 partition stops commits; when it heals, the held messages let everyone commit", () => {
    const sim = new TendermintSim({ powers: [1, 1, 1, 1], seed: 5, heights: 4, partitions: [{ from: 0, until: 30_000, groups: [[0, 1], [2, 3]] }] });
    sim.run(29_999);
    for (const n of sim.nodes) expect(n.commits.size, describeSim(sim)).to.equal(0);
    sim.run(600_000, () => sim.allHonestCommitted());
    expectAllCommitted(sim);
    expectSafe(sim);
  });

  it("a 3|1 partition: the majority side keeps committing, the minority catches up after it heals", () => {
    const sim = new TendermintSim({ powers: [1, 1, 1, 1], seed: 6, heights: 8, partitions: [{ from: 0, until: 40_000, groups: [[0, 1, 2], [3]] }] });
    sim.run(39_999);
    expect(sim.nodes[0]!.commits.size).to.be.greaterThan(0);
    expect(sim.nodes[3]!.commits.size).to.equal(0);
    sim.run(600_000, () => sim.allHonestCommitted());
    expectAllCommitted(sim);
    expectSafe(sim);
  });

  it("messages lost before stabilisation are replaced by gossip and every height commits", () => {
    const sim = runToEnd({ powers: [1, 1, 1, 1], seed: 7, heights: 6, dropRate: 0.4, gstMs: 30_000, delay: { min: 5, max: 600 } });
    expectAllCommitted(sim);
    expectSafe(sim);
  });

  for (const seed of [11, 12, 13]) {
    it(`a Byzantine validator that proposes two blocks and votes twice: honest nodes agree and report it (seed ${seed})`, () => {
      const byz = seed % 4;
      const sim = runToEnd({ powers: [1, 1, 1, 1], seed, heights: 8, byzantine: { [byz]: "equivocate" } });
      expectAllCommitted(sim);
      expectSafe(sim);
      const byzAddress = toHex(sim.set.validators[byz]!.address);
      for (const n of sim.honest()) {
        expect(n.evidence.length, `node ${n.index} saw no equivocation`).to.be.greaterThan(0);
        for (const ev of n.evidence) expect(toHex(ev.voteA.validator)).to.equal(byzAddress);
      }
    });
  }

  it("a validator proposing invalid blocks never gets one committed", () => {
    const sim = runToEnd({ powers: [1, 1, 1, 1], seed: 14, heights: 10, byzantine: { 1: "invalid" } });
    expectAllCommitted(sim);
    expectSafe(sim);
    expect([...sim.nodes[0]!.commitRounds.values()].some((r) => r > 0), "the invalid proposer's turns should have failed").to.equal(true);
  });

  it("randomised schedules, powers and one faulty validator: agreement and validity always, progress after stabilisation", () => {
    const cfgArb = fc
      .record({
        seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        powers: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 4, maxLength: 5 }),
        faulty: fc.option(fc.record({ index: fc.nat(4), behaviour: fc.constantFrom("silent" as const, "equivocate" as const, "invalid" as const) }), { nil: undefined }),
        dropRate: fc.constantFrom(0, 0.1, 0.3),
        gstMs: fc.integer({ min: 0, max: 20_000 }),
        maxDelay: fc.integer({ min: 1, max: 800 }),
      })
      .map(({ seed, powers, faulty, dropRate, gstMs, maxDelay }): SimConfig => {
        const total = powers.reduce((a, b) => a + b, 0);
        const index = faulty ? faulty.index % powers.length : -1;
        // A faulty validator must hold less than a third of the power, or no protocol can promise anything.
        const byzantine = faulty && 3 * powers[index]! < total ? { [index]: faulty.behaviour } : undefined;
        return { seed, powers, heights: 3, byzantine, dropRate, gstMs, delay: { min: 1, max: maxDelay } };
      });
    fc.assert(
      fc.property(cfgArb, (cfg) => {
        const sim = runToEnd(cfg, 900_000);
        expectSafe(sim);
        expectAllCommitted(sim);
      }),
      { numRuns: 15 },
    );
  });
});
