/**
 * The state machine rule by rule, driven by hand: each test feeds the inputs
 * one rule of Algorithm 1 needs and checks the actions. Validator 0 is the
 * machine under test; four validators of power 1, so 2f+1 = 3 and f+1 = 2.
 * The proposer of round r is validator (r + 1) % 4: validator 0 proposes in
 * round 3.
 */
import { expect } from "chai";
import { ConsensusError, ConsensusErrorCode } from "../../../src/consensus/errors.js";
import { verifyEvidence } from "../../../src/consensus/evidence.js";
import { NIL } from "../../../src/consensus/messages.js";
import { type TendermintAction, type TendermintInput, TendermintMachine } from "../../../src/consensus/tendermint.js";
import { VoteStep, verifyCommit } from "../../../src/chain/vote.js";
import { CHAIN_ID, hex } from "../../helpers/fixtures.js";
import { blockHash, precommit, prevote, proposal, validatorSet } from "../../helpers/consensus.js";

const H = 7;
const set = validatorSet([1, 1, 1, 1]);
const addr = (i: number) => set.validators[i]!.address;
const proposerIndex = (round: number) => (round + 1) % 4;
const V = blockHash("v");
const W = blockHash("w");

function startInput(height = H): TendermintInput {
  return { kind: "start", height, validators: set, proposerOf: (r) => addr(proposerIndex(r)) };
}

/** A machine for validator `self` at height H, with the start actions. */
function started(self: number | null = 0, options = {}): { m: TendermintMachine; actions: TendermintAction[] } {
  const m = new TendermintMachine({ self: self === null ? null : addr(self), options });
  return { m, actions: m.handle(startInput()) };
}

/** Feed inputs in order; returns all actions. */
function feed(m: TendermintMachine, ...inputs: TendermintInput[]): TendermintAction[] {
  return inputs.flatMap((i) => m.handle(i));
}

const propose = (round: number, hash: Uint8Array, polRound = -1, valid = true): TendermintInput => ({
  kind: "proposal",
  proposal: proposal(proposerIndex(round), H, round, hash, polRound),
  valid,
});
const pv = (i: number, round: number, hash: Uint8Array = NIL): TendermintInput => ({ kind: "vote", vote: prevote(i, H, round, hash) });
const pc = (i: number, round: number, hash: Uint8Array = NIL): TendermintInput => ({ kind: "vote", vote: precommit(i, H, round, hash) });
const timeout = (round: number, step: "propose" | "prevote" | "precommit"): TendermintInput => ({ kind: "timeout", height: H, round, step });

type VoteAction = Extract<TendermintAction, { kind: "vote" }>;
const votes = (as: TendermintAction[]) => as.filter((a): a is VoteAction => a.kind === "vote").map((a) => `${a.type === VoteStep.Prevote ? "prevote" : "precommit"}:${a.round}:${a.blockHash.length === 0 ? "nil" : hex(a.blockHash).slice(0, 6)}`);
const timeouts = (as: TendermintAction[]) => as.filter((a) => a.kind === "scheduleTimeout").map((a) => a as Extract<TendermintAction, { kind: "scheduleTimeout" }>);
const short = (h: Uint8Array) => hex(h).slice(0, 6);

/** Get validator 0 locked on `hash` in `round`: proposal, 2f+1 prevotes for it, precommit. */
function lockIn(m: TendermintMachine, round: number, hash: Uint8Array): void {
  const as = feed(m, propose(round, hash, -1), pv(1, round, hash), pv(2, round, hash), pv(3, round, hash));
  expect(votes(as)).to.deep.equal([`prevote:${round}:${short(hash)}`, `precommit:${round}:${short(hash)}`]);
  expect(m.roundState.lockedRound).to.equal(round);
}

/** Move from `round` to round + 1 by 2f+1 nil precommits and the precommit timeout. */
function nextRound(m: TendermintMachine, round: number): TendermintAction[] {
  return feed(m, pc(1, round), pc(2, round), pc(3, round), timeout(round, "precommit"));
}

describe("consensus/tendermint: the rules of Algorithm 1 one by one", () => {
  it("start: round 0 in step propose, with timeoutPropose armed; no proposal from a non-proposer", () => {
    const { m, actions } = started(0);
    expect(actions).to.deep.equal([{ kind: "scheduleTimeout", height: H, round: 0, step: "propose", ms: 1000 }]);
    expect(m.roundState).to.include({ height: H, round: 0, step: "propose", lockedRound: -1, validRound: -1 });
  });

  it("start (lines 14-19): the proposer asks for a new block, and also arms timeoutPropose", () => {
    const { actions } = started(1);
    expect(actions).to.deep.equal([
      { kind: "propose", height: H, round: 0, validValue: null, validRound: -1 },
      { kind: "scheduleTimeout", height: H, round: 0, step: "propose", ms: 1000 },
    ]);
  });

  it("line 22: prevotes a valid fresh proposal, nil for an invalid one", () => {
    const a = started(0).m;
    expect(votes(feed(a, propose(0, V)))).to.deep.equal([`prevote:0:${short(V)}`]);
    expect(a.roundState.step).to.equal("prevote");
    const b = started(0).m;
    expect(votes(feed(b, propose(0, V, -1, false)))).to.deep.equal(["prevote:0:nil"]);
  });

  it("ignores proposals from anyone but the round's proposer", () => {
    const { m } = started(0);
    const wrong: TendermintInput = { kind: "proposal", proposal: proposal(2, H, 0, W), valid: true };
    expect(feed(m, wrong)).to.deep.equal([]);
    expect(m.roundState.step).to.equal("propose");
    expect(feed(m, pv(1, 0, W), pv(2, 0, W), pv(3, 0, W)).filter((a) => a.kind === "vote")).to.deep.equal([]);
  });

  it("prevotes only the first of two proposals of a round, but a polka for the second still locks on it (line 36)", () => {
    const { m } = started(0);
    // The round's proposer equivocates: the first proposal received is the one prevoted.
    expect(votes(feed(m, propose(0, V), propose(0, W)))).to.deep.equal([`prevote:0:${short(V)}`]);
    // The rest of the network got W and prevoted it: the rule holds for any proposal from the proposer.
    expect(votes(feed(m, pv(1, 0, W), pv(2, 0, W), pv(3, 0, W)))).to.deep.equal([`precommit:0:${short(W)}`]);
    expect(short(m.roundState.lockedValue!)).to.equal(short(W));
    // And it decides W on 2f+1 precommits for it.
    expect(feed(m, pc(1, 0, W), pc(2, 0, W), pc(3, 0, W)).filter((a) => a.kind === "commit")).to.have.length(1);
  });

  it("line 57: timeoutPropose prevotes nil; stale timeouts and timeouts of other steps do nothing", () => {
    const { m } = started(0);
    expect(feed(m, timeout(0, "prevote"), { kind: "timeout", height: H + 1, round: 0, step: "propose" }, timeout(1, "propose"))).to.deep.equal([]);
    expect(votes(feed(m, timeout(0, "propose")))).to.deep.equal(["prevote:0:nil"]);
    expect(feed(m, timeout(0, "propose"))).to.deep.equal([]);
  });

  it("line 34: 2f+1 prevotes of any kind arm timeoutPrevote once; line 61: it precommits nil", () => {
    const { m } = started(0);
    feed(m, propose(0, V));
    const as = feed(m, pv(1, 0, W), pv(2, 0, NIL), pv(3, 0, V), pv(0, 0, V));
    expect(timeouts(as)).to.deep.equal([{ kind: "scheduleTimeout", height: H, round: 0, step: "prevote", ms: 500 }]);
    expect(votes(as)).to.deep.equal([]);
    expect(votes(feed(m, timeout(0, "prevote")))).to.deep.equal(["precommit:0:nil"]);
    expect(m.roundState.step).to.equal("precommit");
    expect(m.roundState.lockedRound).to.equal(-1);
  });

  it("line 36: the proposal and 2f+1 prevotes for it lock the value and precommit it", () => {
    const { m } = started(0);
    lockIn(m, 0, V);
    expect(m.roundState.step).to.equal("precommit");
    expect(short(m.roundState.lockedValue!)).to.equal(short(V));
    expect(short(m.roundState.validValue!)).to.equal(short(V));
    expect(m.roundState.validRound).to.equal(0);
  });

  it("line 36 waits for the proposal: prevotes for an unseen block lock nothing until it arrives", () => {
    const { m } = started(0);
    feed(m, timeout(0, "propose")); // prevoted nil
    expect(votes(feed(m, pv(1, 0, V), pv(2, 0, V), pv(3, 0, V)))).to.deep.equal([]);
    expect(votes(feed(m, propose(0, V)))).to.deep.equal([`precommit:0:${short(V)}`]);
    expect(m.roundState.lockedRound).to.equal(0);
  });

  it("line 36 from step precommit: updates the valid value but not the lock, and our next proposal carries it (lines 15-16)", () => {
    const { m } = started(0);
    // We time out on the proposal and prevote nil; with two V prevotes that is 2f+1 of any kind.
    feed(m, timeout(0, "propose"), pv(0, 0), pv(1, 0, V), pv(2, 0, V), timeout(0, "prevote"));
    expect(m.roundState.step).to.equal("precommit");
    // The third V prevote and then the proposal arrive late: a polka for V in round 0, seen in step precommit.
    expect(feed(m, pv(3, 0, V))).to.deep.equal([]);
    expect(votes(feed(m, propose(0, V)))).to.deep.equal([]);
    expect(m.roundState).to.include({ lockedRound: -1, lockedValue: null, validRound: 0 });
    expect(short(m.roundState.validValue!)).to.equal(short(V));
    // Rounds 1 and 2 fail; round 3 is ours and re-proposes V with validRound 0.
    nextRound(m, 0);
    nextRound(m, 1);
    const as = nextRound(m, 2);
    expect(as.find((a) => a.kind === "propose")).to.deep.equal({ kind: "propose", height: H, round: 3, validValue: V, validRound: 0 });
  });

  it("line 44: 2f+1 prevotes for nil precommit nil", () => {
    const { m } = started(0);
    feed(m, timeout(0, "propose"));
    expect(votes(feed(m, pv(1, 0), pv(2, 0), pv(3, 0)))).to.deep.equal(["precommit:0:nil"]);
  });

  it("line 47: 2f+1 precommits of any kind arm timeoutPrecommit once, in any step; line 65 starts the next round", () => {
    const { m } = started(0);
    const as = feed(m, pc(1, 0, V), pc(2, 0), pc(3, 0, W));
    expect(timeouts(as)).to.deep.equal([{ kind: "scheduleTimeout", height: H, round: 0, step: "precommit", ms: 500 }]);
    expect(timeouts(feed(m, pc(0, 0)))).to.deep.equal([]);
    const next = feed(m, timeout(0, "precommit"));
    expect(next).to.deep.equal([{ kind: "scheduleTimeout", height: H, round: 1, step: "propose", ms: 1250 }]);
    expect(m.roundState).to.include({ round: 1, step: "propose" });
  });

  it("timeouts grow with the round and the options override the defaults", () => {
    const m = new TendermintMachine({ self: addr(0), options: { proposeMs: 100, prevoteMs: 50, precommitMs: 60, deltaMs: 10 } });
    expect(m.timeoutMs("propose", 0)).to.equal(100);
    expect(m.timeoutMs("prevote", 3)).to.equal(80);
    expect(m.timeoutMs("precommit", 10)).to.equal(160);
    expect(new TendermintMachine({ self: null }).timeoutMs("propose", 4)).to.equal(2000);
    expect(new TendermintMachine({ self: null }).timeoutMs("propose", 2 ** 31 - 1)).to.equal(2 ** 31 - 1);
    expect(() => new TendermintMachine({ self: null, options: { deltaMs: -1 } })).to.throw(ConsensusError, /deltaMs/);
  });

  it("line 49: a proposal and 2f+1 precommits for it decide, exactly once, with a commit that verifies", () => {
    const { m } = started(0);
    const as = feed(m, propose(0, V), pc(1, 0, V), pc(2, 0, V));
    expect(as.filter((a) => a.kind === "commit")).to.deep.equal([]);
    const decided = feed(m, pc(3, 0, V));
    const commits = decided.filter((a) => a.kind === "commit") as Extract<TendermintAction, { kind: "commit" }>[];
    expect(commits).to.have.length(1);
    expect(commits[0]).to.include({ height: H, round: 0 });
    expect(short(commits[0]!.blockHash)).to.equal(short(V));
    expect(verifyCommit(CHAIN_ID, commits[0]!.commit, set)).to.equal(true);
    expect(m.roundState.decision!.round).to.equal(0);
    // Nothing more happens at this height.
    expect(feed(m, pc(0, 0, V), timeout(0, "precommit"), timeout(0, "propose"), pv(1, 1, V), propose(1, W))).to.deep.equal([]);
  });

  it("line 49 decides on precommits of an earlier round that arrive after we moved on", () => {
    const { m } = started(0);
    // Round 0: we prevote V but miss the polka, time out and precommit nil; 1 and 2 precommit V.
    feed(m, propose(0, V), pv(0, 0, V), pv(1, 0), pv(2, 0, V), timeout(0, "prevote"), pc(0, 0), pc(1, 0, V), pc(2, 0, V), timeout(0, "precommit"));
    expect(m.roundState.round).to.equal(1);
    expect(m.roundState.decision).to.equal(null);
    // Validator 3's precommit for V in round 0 arrives now: 2f+1 for V in round 0 with its proposal.
    const late = feed(m, pc(3, 0, V));
    const commit = late.find((a) => a.kind === "commit") as Extract<TendermintAction, { kind: "commit" }>;
    expect(commit).to.include({ height: H, round: 0 });
    expect(short(commit.blockHash)).to.equal(short(V));
    expect(commit.commit.sigs).to.have.length(3);
    expect(verifyCommit(CHAIN_ID, commit.commit, set)).to.equal(true);
  });

  it("line 49 with a future round: 2f+1 precommits and the proposal of a later round skip there and decide", () => {
    const { m } = started(0);
    const as = feed(m, pc(1, 3, W), pc(2, 3, W), propose(3, W), pc(3, 3, W));
    const commit = as.find((a) => a.kind === "commit") as Extract<TendermintAction, { kind: "commit" }>;
    expect(commit).to.not.equal(undefined);
    expect(commit.round).to.equal(3);
    expect(short(commit.blockHash)).to.equal(short(W));
    expect(verifyCommit(CHAIN_ID, commit.commit, set)).to.equal(true);
  });

  it("line 55: f+1 votes of a higher round skip to it; f votes do not", () => {
    const { m } = started(0);
    expect(feed(m, pv(1, 5, V))).to.deep.equal([]);
    expect(m.roundState.round).to.equal(0);
    const as = feed(m, pc(2, 5));
    expect(m.roundState).to.include({ round: 5, step: "propose" });
    expect(timeouts(as)).to.deep.equal([{ kind: "scheduleTimeout", height: H, round: 5, step: "propose", ms: 1000 + 5 * 250 }]);
    // Round 7 is validator 0's: skipping there asks it to propose.
    const jump = feed(m, pv(1, 7), pv(3, 7));
    expect(jump[0]).to.deep.equal({ kind: "propose", height: H, round: 7, validValue: null, validRound: -1 });
  });

  it("keeps votes and proposals of future rounds and uses them on reaching that round", () => {
    const { m } = started(0);
    // Round 2's proposal and one prevote arrive while we are in round 0: stored, nothing done.
    expect(feed(m, propose(2, V), pv(1, 2, V))).to.deep.equal([]);
    nextRound(m, 0);
    // Entering round 2, the stored proposal is prevoted at once (line 22).
    expect(votes(nextRound(m, 1))).to.deep.equal([`prevote:2:${short(V)}`]);
    expect(m.roundState).to.include({ round: 2, step: "prevote" });
  });

  it("a validator can hold votes in only maxFutureRoundsPerValidator rounds ahead", () => {
    const { m } = started(0, { maxFutureRoundsPerValidator: 4 });
    // Validator 1 fills its budget with rounds 1..4, then a vote for round 20 is dropped.
    feed(m, pv(1, 1), pv(1, 2), pv(1, 3), pv(1, 4), pv(1, 20));
    expect(feed(m, pv(2, 20))).to.deep.equal([]);
    expect(m.roundState.round).to.equal(0); // validator 1's round-20 vote was not kept: only f
    // Within the budget, the same pattern skips.
    feed(m, pv(2, 3));
    expect(m.roundState.round).to.equal(3);
  });

  it("ignores votes and proposals of other heights and votes from non-validators", () => {
    const { m } = started(0);
    const other: TendermintInput[] = [
      { kind: "vote", vote: prevote(1, H + 1, 0, V) },
      { kind: "vote", vote: prevote(2, H - 1, 3, V) },
      { kind: "proposal", proposal: proposal(1, H + 1, 0, V), valid: true },
      { kind: "vote", vote: prevote(5, H, 0, V) },
      { kind: "vote", vote: prevote(6, H, 4, V) },
      { kind: "vote", vote: prevote(7, H, 4, V) },
    ];
    expect(feed(m, ...other)).to.deep.equal([]);
    expect(m.roundState).to.include({ round: 0, step: "propose" });
  });

  it("reports a double vote once; the second vote counts for its block but not twice towards 2f+1 of any kind", () => {
    const { m } = started(0);
    expect(feed(m, pv(1, 0, V))).to.deep.equal([]);
    const as = feed(m, pv(1, 0, W));
    expect(as.map((a) => a.kind)).to.deep.equal(["evidence"]);
    const ev = (as[0] as Extract<TendermintAction, { kind: "evidence" }>).evidence;
    expect(() => verifyEvidence(CHAIN_ID, ev, set)).to.not.throw();
    expect(feed(m, pv(1, 0))).to.deep.equal([]);
    // Validators 1 and 2 have prevoted: 2 of 4, however many votes 1 sent, so timeoutPrevote is not armed.
    expect(feed(m, timeout(0, "propose"), pv(2, 0, W)).filter((a) => a.kind === "scheduleTimeout")).to.deep.equal([]);
    // Validator 1's W prevote does count for W: with 2 and 3 that is a polka for W.
    const { m: n } = started(0);
    feed(n, propose(0, W), pv(1, 0, V), pv(1, 0, W), pv(2, 0, W));
    expect(votes(feed(n, pv(3, 0, W)))).to.deep.equal([`precommit:0:${short(W)}`]);
  });

  it("a machine without a validator key follows and decides but never signs", () => {
    const { m, actions } = started(null);
    expect(actions.map((a) => a.kind)).to.deep.equal(["scheduleTimeout"]);
    const as = feed(m, propose(0, V), timeout(0, "propose"), pv(1, 0, V), pv(2, 0, V), pv(3, 0, V), pc(1, 0, V), pc(2, 0, V), pc(3, 0, V));
    expect(as.filter((a) => a.kind === "vote" || a.kind === "propose")).to.deep.equal([]);
    expect(as.filter((a) => a.kind === "commit")).to.have.length(1);
  });

  it("refuses to start a height at or below one already started, and an empty set", () => {
    const { m } = started(0);
    expect(() => m.handle(startInput(H))).to.throw(ConsensusError, /already/);
    expect(() => m.handle(startInput(H - 1))).to.throw(ConsensusError);
    expect(() => m.handle({ kind: "start", height: H + 1, validators: validatorSet([]), proposerOf: () => addr(0) })).to.throw(ConsensusError, /empty/);
    try {
      m.handle({ kind: "start", height: 0, validators: set, proposerOf: () => addr(0) });
      expect.fail("started height 0");
    } catch (e) {
      expect((e as ConsensusError).code).to.equal(ConsensusErrorCode.BAD_INPUT);
    }
    // The next height resets the lock and the log.
    lockIn(m, 0, V);
    m.handle(startInput(H + 1));
    expect(m.roundState).to.include({ height: H + 1, round: 0, lockedRound: -1, validRound: -1, decision: null });
  });
});

describe("consensus/tendermint: lock rules", () => {
  it("locked on v in round 0, prevotes nil for a fresh proposal of w in round 1", () => {
    const { m } = started(0);
    lockIn(m, 0, V);
    nextRound(m, 0);
    expect(votes(feed(m, propose(1, W, -1)))).to.deep.equal(["prevote:1:nil"]);
  });

  it("locked on v, prevotes v again when v is proposed afresh", () => {
    const { m } = started(0);
    lockIn(m, 0, V);
    nextRound(m, 0);
    expect(votes(feed(m, propose(1, V, -1)))).to.deep.equal([`prevote:1:${short(V)}`]);
  });

  it("locked on v in round 0, does not prevote w re-proposed with polRound 0 without a POL for w in round 0", () => {
    const { m } = started(0);
    lockIn(m, 0, V);
    nextRound(m, 0);
    // The proposal claims a POL in round 0, but round 0's prevotes were for V: line 28 does not fire.
    expect(votes(feed(m, propose(1, W, 0)))).to.deep.equal([]);
    expect(m.roundState.step).to.equal("propose");
    expect(votes(feed(m, timeout(1, "propose")))).to.deep.equal(["prevote:1:nil"]);
  });

  it("locked on v, the proposal of w and a polka for w in a later round move the lock to w (line 36)", () => {
    const { m } = started(0);
    lockIn(m, 0, V);
    nextRound(m, 0);
    // Round 1: fresh proposal of W; we are locked on V and prevote nil; the others prevote W.
    expect(votes(feed(m, propose(1, W, -1)))).to.deep.equal(["prevote:1:nil"]);
    expect(votes(feed(m, pv(1, 1, W), pv(2, 1, W), pv(3, 1, W)))).to.deep.equal([`precommit:1:${short(W)}`]);
    expect(m.roundState.lockedRound).to.equal(1);
    expect(short(m.roundState.lockedValue!)).to.equal(short(W));
  });

  it("locked on v in round 1, prevotes nil for w re-proposed with a POL from round 0, older than the lock", () => {
    const { m } = started(0);
    nextRound(m, 0);
    lockIn(m, 1, V);
    nextRound(m, 1);
    expect(m.roundState.round).to.equal(2);
    // A POL for W in round 0 exists, but lockedRound 1 > 0 and the lock is on V.
    feed(m, pv(1, 0, W), pv(2, 0, W), pv(3, 0, W));
    expect(votes(feed(m, propose(2, W, 0)))).to.deep.equal(["prevote:2:nil"]);
  });

  it("locked on v in round 0, prevotes w re-proposed with a POL from round 1 (lockedRound <= vr, line 28)", () => {
    const { m } = started(0);
    lockIn(m, 0, V);
    nextRound(m, 0);
    // Round 1: no proposal reaches us; we prevote nil; the others prevote W, then all precommit nil.
    feed(m, timeout(1, "propose"), pv(1, 1, W), pv(2, 1, W), pv(3, 1, W), timeout(1, "prevote"), pc(1, 1), pc(2, 1), pc(3, 1), timeout(1, "precommit"));
    expect(m.roundState.round).to.equal(2);
    expect(m.roundState.lockedRound).to.equal(0); // we never saw round 1's proposal: the lock stands
    // Round 2's proposer re-proposes W with polRound 1: a POL at or after our lock round, so we prevote W.
    expect(votes(feed(m, propose(2, W, 1)))).to.deep.equal([`prevote:2:${short(W)}`]);
  });

  it("an invalid block is never prevoted, POL or not", () => {
    const { m } = started(0);
    nextRound(m, 0);
    feed(m, pv(1, 0, W), pv(2, 0, W), pv(3, 0, W));
    expect(votes(feed(m, propose(1, W, 0, false)))).to.deep.equal(["prevote:1:nil"]);
  });

  it("the proposer re-proposes its locked, valid value with its valid round (lines 15-16)", () => {
    const { m } = started(0);
    lockIn(m, 0, V);
    nextRound(m, 0);
    nextRound(m, 1);
    const as = nextRound(m, 2);
    expect(m.roundState.round).to.equal(3);
    expect(as.find((a) => a.kind === "propose")).to.deep.equal({ kind: "propose", height: H, round: 3, validValue: V, validRound: 0 });
  });

});
