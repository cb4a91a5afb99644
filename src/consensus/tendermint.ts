/**
 * The Tendermint consensus algorithm as a pure state machine: Algorithm 1 of
 * "The latest gossip on BFT consensus" (Buchman, Kwon, Milosevic, 2018),
 * for one height at a time. Line numbers in comments refer to that figure.
 *
 * Pure: no I/O, no clock, no randomness. A driver feeds inputs (start of a
 * height, proposals, votes, timeouts) to `handle` and carries out the
 * actions it returns: it signs and broadcasts proposals and votes (and feeds
 * them back as inputs, since a validator counts its own votes), arms timers
 * that come back as timeout inputs, stores the decided block and starts the
 * next height. The same inputs in the same order give the same actions, so
 * replaying the write-ahead log restores the round state after a crash.
 *
 * The driver checks signatures and block validity before an input gets here
 * (`valid` on a proposal is the paper's valid(v)); the machine checks that a
 * proposal comes from the round's proposer and a vote from a validator, and
 * ignores messages of other heights (the driver keeps those of the next
 * height until it starts it). Values are identified by block hash.
 *
 * Two deliberate choices beyond the figure:
 *  - The proposer arms timeoutPropose too (the figure arms it only on the
 *    others). If its driver fails to build or sign a block, it still moves
 *    on to prevote nil instead of waiting for the others' precommits.
 *  - Round skipping (line 55) counts votes, not proposals: a proposer's
 *    proposal is followed by its own prevote, which counts.
 *  - A faulty proposer may send different proposals of one round to
 *    different validators. Only the first one received is prevoted (lines
 *    22, 28), but a few others are kept too: if the rest of the network
 *    prevotes or precommits one of those, this machine must still be able to
 *    lock on it (line 36) or decide it (line 49), or it would wait forever at
 *    a height the others have decided. The figure's rules hold for any
 *    proposal received from the proposer, so this is within the algorithm.
 */
import { bytesEqual, toHex } from "../crypto/bytes.js";
import type { Commit } from "../chain/block.js";
import { ConsensusError, ConsensusErrorCode } from "./errors.js";
import type { DuplicateVoteEvidence } from "./evidence.js";
import { MAX_ROUND, NIL, type Proposal, type Vote, type VoteType, commitFromPrecommits, validateProposalBasic, validateVoteBasic } from "./messages.js";
import { type TendermintOptions, tendermintOptions } from "./options.js";
import type { ValidatorSet } from "../chain/validator-set.js";
import { VoteSet } from "./vote-set.js";
import { VoteStep } from "../chain/vote.js";

export type RoundStep = "propose" | "prevote" | "precommit";

export type TendermintInput =
  /** Begin `height` at round 0. `proposerOf(round)` names the proposer of each round of this height. */
  | { kind: "start"; height: number; validators: ValidatorSet; proposerOf: (round: number) => Uint8Array }
  /** A proposal whose signature the driver checked; `valid` is its verdict on the block (valid(v)). */
  | { kind: "proposal"; proposal: Proposal; valid: boolean }
  /** A vote whose signature the driver checked (own votes included). */
  | { kind: "vote"; vote: Vote }
  /** A timer armed by a scheduleTimeout action has fired. */
  | { kind: "timeout"; height: number; round: number; step: RoundStep };

export type TendermintAction =
  /** Build a block (or re-propose validValue), sign a proposal with polRound = validRound, broadcast it and feed it back. */
  | { kind: "propose"; height: number; round: number; validValue: Uint8Array | null; validRound: number }
  /** Sign this vote (through the double-sign guard, persisted first), broadcast it and feed it back. */
  | { kind: "vote"; type: VoteType; height: number; round: number; blockHash: Uint8Array }
  | { kind: "scheduleTimeout"; height: number; round: number; step: RoundStep; ms: number }
  /** The decision of the height, emitted exactly once per height, with the precommits that prove it. */
  | { kind: "commit"; height: number; round: number; blockHash: Uint8Array; commit: Commit }
  /** A validator equivocated; the driver gossips the evidence and may put it in a block. */
  | { kind: "evidence"; evidence: DuplicateVoteEvidence };

/** A read-only view of the round state, for logs, metrics and tests. */
export interface RoundState {
  height: number;
  round: number;
  step: RoundStep;
  lockedValue: Uint8Array | null;
  lockedRound: number;
  validValue: Uint8Array | null;
  validRound: number;
  decision: { round: number; blockHash: Uint8Array } | null;
}

/**
 * Different proposals kept per round from an equivocating proposer (the
 * first is the round's proposal; the others are kept for lines 36 and 49).
 * A proposal for a block that already has 2f+1 prevotes or precommits is
 * kept beyond this bound: it is the one the network settled on.
 */
export const MAX_PROPOSALS_PER_ROUND = 4;

/** setTimeout's largest delay (2^31-1 ms); a longer one would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * Bound on rule firings for one input. Every firing moves the state forward
 * (a step, a round, a first-time flag or the decision), so a handful is the
 * most one input can cause; the bound guards the loop against a bug.
 */
const MAX_FIRINGS_PER_INPUT = 256;

interface ProposalEntry {
  proposal: Proposal;
  valid: boolean;
}

/** One machine per validator (or per full node, with `self` null or outside the set: it follows but never signs). */
export class TendermintMachine {
  private readonly options: TendermintOptions;
  private readonly self: Uint8Array | null;

  private started = false;
  private height = 0;
  private round = 0;
  private step: RoundStep = "propose";
  private lockedValue: Uint8Array | null = null;
  private lockedRound = -1;
  private validValue: Uint8Array | null = null;
  private validRound = -1;
  private decision: { round: number; blockHash: Uint8Array } | null = null;

  private votes: VoteSet | undefined;
  private proposerOf: (round: number) => Uint8Array = () => NIL;
  private readonly proposerCache = new Map<number, string>();
  private selfVotes = false;

  /**
   * Proposals of rounds up to the current one, from that round's proposer,
   * in arrival order: the first is the one prevoted; others (an equivocating
   * proposer's) can still be locked on or decided.
   */
  private readonly proposals = new Map<number, ProposalEntry[]>();
  /**
   * Proposals of future rounds, by sender. Their proposer is checked when
   * the round is reached: computing the proposer of an arbitrary round a
   * peer names would cost time in proportion to that round.
   */
  private readonly futureProposals = new Map<number, Map<string, ProposalEntry>>();
  /** Rounds above the current one in which each validator has sent something (maxFutureRoundsPerValidator). */
  private readonly futureRounds = new Map<string, Set<number>>();

  // "for the first time" flags of the current round (lines 34, 36, 47).
  private prevoteTimeoutArmed = false;
  private validValueSetThisRound = false;
  private precommitTimeoutArmed = false;

  constructor(opts: { self: Uint8Array | null; options?: Partial<TendermintOptions> }) {
    this.self = opts.self;
    this.options = tendermintOptions(opts.options);
  }

  get roundState(): RoundState {
    return {
      height: this.height,
      round: this.round,
      step: this.step,
      lockedValue: this.lockedValue,
      lockedRound: this.lockedRound,
      validValue: this.validValue,
      validRound: this.validRound,
      decision: this.decision,
    };
  }

  /** timeout(step, round) = base + round * deltaMs, capped at MAX_TIMER_MS. */
  timeoutMs(step: RoundStep, round: number): number {
    const base = step === "propose" ? this.options.proposeMs : step === "prevote" ? this.options.prevoteMs : this.options.precommitMs;
    return Math.min(base + round * this.options.deltaMs, MAX_TIMER_MS);
  }

  /** Feed one input; returns what the driver must do, in order. */
  handle(input: TendermintInput): TendermintAction[] {
    const out: TendermintAction[] = [];
    switch (input.kind) {
      case "start":
        this.onStart(input, out);
        break;
      case "proposal":
        this.onProposal(input.proposal, input.valid);
        break;
      case "vote":
        this.onVote(input.vote, out);
        break;
      case "timeout":
        this.onTimeout(input.height, input.round, input.step, out);
        break;
      default:
        throw new ConsensusError(ConsensusErrorCode.BAD_INPUT, `unknown input kind ${String((input as { kind?: unknown }).kind)}`);
    }
    this.applyRules(out);
    return out;
  }

  // -------------------------------------------------------------------------
  // Inputs

  private onStart(input: Extract<TendermintInput, { kind: "start" }>, out: TendermintAction[]): void {
    const { height, validators, proposerOf } = input;
    if (!Number.isSafeInteger(height) || height < 1) throw new ConsensusError(ConsensusErrorCode.BAD_INPUT, `height must be an integer >= 1, got ${height}`);
    if (this.started && height <= this.height) {
      throw new ConsensusError(ConsensusErrorCode.BAD_INPUT, `cannot start height ${height}: height ${this.height} was started already`);
    }
    if (validators.validators.length === 0 || validators.totalPower <= 0) throw new ConsensusError(ConsensusErrorCode.BAD_INPUT, "the validator set is empty");
    this.started = true;
    this.height = height;
    this.votes = new VoteSet(height, validators);
    this.proposerOf = proposerOf;
    this.proposerCache.clear();
    this.selfVotes = this.self !== null && this.votes.isValidator(this.self);
    // Line 54: reset the lock and valid values and empty the message log.
    this.lockedValue = null;
    this.lockedRound = -1;
    this.validValue = null;
    this.validRound = -1;
    this.decision = null;
    this.proposals.clear();
    this.futureProposals.clear();
    this.futureRounds.clear();
    this.startRound(0, out);
  }

  private onProposal(p: Proposal, valid: boolean): void {
    validateProposalBasic(p);
    if (!this.live() || p.height !== this.height) return;
    const entry = { proposal: p, valid: valid === true };
    if (p.round <= this.round) {
      if (this.isProposer(p.round, p.proposer)) this.keepProposal(entry);
      return;
    }
    const sender = toHex(p.proposer);
    if (!this.votes!.isValidator(p.proposer) || !this.admitFuture(sender, p.round)) return;
    let byRound = this.futureProposals.get(p.round);
    if (!byRound) {
      byRound = new Map();
      this.futureProposals.set(p.round, byRound);
    }
    if (!byRound.has(sender)) byRound.set(sender, entry);
  }

  private onVote(v: Vote, out: TendermintAction[]): void {
    validateVoteBasic(v);
    if (!this.live() || v.height !== this.height) return;
    const votes = this.votes!;
    if (!votes.isValidator(v.validator)) return;
    if (v.round > this.round && !this.admitFuture(toHex(v.validator), v.round)) return;
    const r = votes.add(v);
    if (r.status === "conflicting" && r.evidence) out.push({ kind: "evidence", evidence: r.evidence });
  }

  private onTimeout(height: number, round: number, step: RoundStep, out: TendermintAction[]): void {
    if (!this.live() || height !== this.height || round !== this.round) return;
    if (step === "propose" && this.step === "propose") {
      // Line 57: OnTimeoutPropose.
      this.castVote(VoteStep.Prevote, NIL, out);
      this.step = "prevote";
    } else if (step === "prevote" && this.step === "prevote") {
      // Line 61: OnTimeoutPrevote.
      this.castVote(VoteStep.Precommit, NIL, out);
      this.step = "precommit";
    } else if (step === "precommit") {
      // Line 65: OnTimeoutPrecommit.
      if (this.round < MAX_ROUND) this.startRound(this.round + 1, out);
    }
  }

  // -------------------------------------------------------------------------
  // The upon rules, evaluated until none fires.

  private applyRules(out: TendermintAction[]): void {
    if (!this.live()) return;
    for (let i = 0; i < MAX_FIRINGS_PER_INPUT && this.live(); i++) {
      const fired =
        this.decideOnPrecommits(out) ||
        this.skipToHigherRound(out) ||
        this.prevoteOnProposal(out) ||
        this.armPrevoteTimeout(out) ||
        this.lockOnPolka(out) ||
        this.precommitNilOnNilPolka(out) ||
        this.armPrecommitTimeout(out);
      if (!fired) return;
    }
  }

  /** Line 49: a proposal of any round r and 2f+1 precommits for it in r decide the height. */
  private decideOnPrecommits(out: TendermintAction[]): boolean {
    const votes = this.votes!;
    for (const round of this.proposals.keys()) {
      const v = votes.twoThirdsMajority(round, VoteStep.Precommit);
      if (v === undefined || v.length === 0 || !this.validProposalOf(round, v)) continue;
      const commit = commitFromPrecommits(votes.votesFor(round, VoteStep.Precommit, v));
      this.decision = { round, blockHash: v };
      out.push({ kind: "commit", height: this.height, round, blockHash: v, commit });
      return true;
    }
    return false;
  }

  /** Line 55: f+1 messages of a higher round: go to the highest such round. */
  private skipToHigherRound(out: TendermintAction[]): boolean {
    const rounds = this.votes!.roundsWithVotes();
    for (let i = rounds.length - 1; i >= 0 && rounds[i]! > this.round; i--) {
      if (this.votes!.hasOneThirdAny(rounds[i]!)) {
        this.startRound(rounds[i]!, out);
        return true;
      }
    }
    return false;
  }

  /** Lines 22 and 28: prevote on the round's proposal, respecting the lock. */
  private prevoteOnProposal(out: TendermintAction[]): boolean {
    if (this.step !== "propose") return false;
    const entry = this.proposals.get(this.round)?.[0];
    if (!entry) return false;
    const { proposal, valid } = entry;
    const v = proposal.blockHash;
    const vr = proposal.polRound;
    let accept: boolean;
    if (vr === -1) {
      // Line 22: a fresh proposal; prevote it unless locked on another value.
      accept = valid && (this.lockedRound === -1 || this.sameValue(this.lockedValue, v));
    } else if (vr >= 0 && vr < this.round && this.votes!.hasTwoThirdsFor(vr, VoteStep.Prevote, v)) {
      // Line 28: a re-proposal with a proof-of-lock from round vr; a POL at
      // or after our lock round releases the lock.
      accept = valid && (this.lockedRound <= vr || this.sameValue(this.lockedValue, v));
    } else {
      // A re-proposal whose POL we have not seen (yet): wait for it or for timeoutPropose.
      return false;
    }
    this.castVote(VoteStep.Prevote, accept ? v : NIL, out);
    this.step = "prevote";
    return true;
  }

  /** Line 34: 2f+1 prevotes of any kind in the current round arm timeoutPrevote, once. */
  private armPrevoteTimeout(out: TendermintAction[]): boolean {
    if (this.step !== "prevote" || this.prevoteTimeoutArmed || !this.votes!.hasTwoThirdsAny(this.round, VoteStep.Prevote)) return false;
    this.prevoteTimeoutArmed = true;
    this.schedule("prevote", out);
    return true;
  }

  /**
   * Line 36: the round's proposal and 2f+1 prevotes for it (a polka). In step
   * prevote: lock on it and precommit it. From step prevote on, and once per
   * round: it becomes the valid value a future proposal of ours re-proposes.
   */
  private lockOnPolka(out: TendermintAction[]): boolean {
    if (this.validValueSetThisRound || this.step === "propose") return false;
    const v = this.votes!.twoThirdsMajority(this.round, VoteStep.Prevote);
    if (v === undefined || v.length === 0 || !this.validProposalOf(this.round, v)) return false;
    if (this.step === "prevote") {
      this.lockedValue = v;
      this.lockedRound = this.round;
      this.castVote(VoteStep.Precommit, v, out);
      this.step = "precommit";
    }
    this.validValue = v;
    this.validRound = this.round;
    this.validValueSetThisRound = true;
    return true;
  }

  /** Line 44: 2f+1 prevotes for nil: precommit nil. */
  private precommitNilOnNilPolka(out: TendermintAction[]): boolean {
    if (this.step !== "prevote" || !this.votes!.hasTwoThirdsFor(this.round, VoteStep.Prevote, NIL)) return false;
    this.castVote(VoteStep.Precommit, NIL, out);
    this.step = "precommit";
    return true;
  }

  /** Line 47: 2f+1 precommits of any kind in the current round arm timeoutPrecommit, once. */
  private armPrecommitTimeout(out: TendermintAction[]): boolean {
    if (this.precommitTimeoutArmed || !this.votes!.hasTwoThirdsAny(this.round, VoteStep.Precommit)) return false;
    this.precommitTimeoutArmed = true;
    this.schedule("precommit", out);
    return true;
  }

  // -------------------------------------------------------------------------
  // Helpers

  /** Line 11: StartRound. */
  private startRound(round: number, out: TendermintAction[]): void {
    this.round = round;
    this.step = "propose";
    this.prevoteTimeoutArmed = false;
    this.validValueSetThisRound = false;
    this.precommitTimeoutArmed = false;
    for (const rounds of this.futureRounds.values()) for (const r of rounds) if (r <= round) rounds.delete(r);
    // Proposals of the rounds reached now: keep the first from the right proposer.
    for (const [r, bySender] of this.futureProposals) {
      if (r > round) continue;
      for (const entry of bySender.values()) {
        if (this.isProposer(r, entry.proposal.proposer)) this.keepProposal(entry);
      }
      this.futureProposals.delete(r);
    }
    if (this.selfVotes && this.isProposer(round, this.self!)) {
      // Lines 14-18: re-propose the valid value if there is one.
      out.push({ kind: "propose", height: this.height, round, validValue: this.validValue, validRound: this.validRound });
    }
    this.schedule("propose", out);
  }

  /** Keep a proposal from its round's proposer (checked by the caller), within MAX_PROPOSALS_PER_ROUND. */
  private keepProposal(entry: ProposalEntry): void {
    const { round, blockHash } = entry.proposal;
    let kept = this.proposals.get(round);
    if (!kept) {
      kept = [];
      this.proposals.set(round, kept);
    }
    if (kept.some((e) => bytesEqual(e.proposal.blockHash, blockHash))) return;
    const settled = this.votes!.hasTwoThirdsFor(round, VoteStep.Prevote, blockHash) || this.votes!.hasTwoThirdsFor(round, VoteStep.Precommit, blockHash);
    if (kept.length < MAX_PROPOSALS_PER_ROUND || settled) kept.push(entry);
  }

  /** valid(v) for a proposal of `round` with block `v` that we received from the round's proposer. */
  private validProposalOf(round: number, v: Uint8Array): boolean {
    return this.proposals.get(round)?.some((e) => e.valid && bytesEqual(e.proposal.blockHash, v)) ?? false;
  }

  private schedule(step: RoundStep, out: TendermintAction[]): void {
    out.push({ kind: "scheduleTimeout", height: this.height, round: this.round, step, ms: this.timeoutMs(step, this.round) });
  }

  private castVote(type: VoteType, blockHash: Uint8Array, out: TendermintAction[]): void {
    if (this.selfVotes) out.push({ kind: "vote", type, height: this.height, round: this.round, blockHash });
  }

  private isProposer(round: number, address: Uint8Array): boolean {
    let hex = this.proposerCache.get(round);
    if (hex === undefined) {
      hex = toHex(this.proposerOf(round));
      this.proposerCache.set(round, hex);
    }
    return hex === toHex(address);
  }

  /** Bound the rounds ahead of ours a validator may occupy memory in (maxFutureRoundsPerValidator). */
  private admitFuture(sender: string, round: number): boolean {
    let rounds = this.futureRounds.get(sender);
    if (!rounds) {
      rounds = new Set();
      this.futureRounds.set(sender, rounds);
    }
    if (rounds.has(round)) return true;
    if (rounds.size >= this.options.maxFutureRoundsPerValidator) return false;
    rounds.add(round);
    return true;
  }

  private sameValue(a: Uint8Array | null, b: Uint8Array): boolean {
    return a !== null && bytesEqual(a, b);
  }

  /** Started and not yet decided: after the decision, everything waits for the next start. */
  private live(): boolean {
    return this.started && this.decision === null;
  }
}
