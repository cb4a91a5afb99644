/**
 * The votes of one height, by round and type, with the power behind each
 * block hash (and nil): the counts the Tendermint rules ask about, "2f+1
 * prevotes for v", "2f+1 precommits of any kind", "f+1 messages in round r".
 *
 * With unequal powers, "2f+1" is more than 2/3 of the total power
 * (ValidatorSet.quorum) and "f+1" is more than 1/3: some correct validator
 * is then among the senders.
 *
 * Only a validator's first vote per round and type counts. A second,
 * different one is equivocation: it is not counted (counting it would let
 * one validator stand on both sides of a quorum) and is reported once as
 * DuplicateVoteEvidence. Signatures are the caller's job (the driver checks
 * them before the machine sees a vote).
 */
import { bytesEqual, toHex } from "../crypto/bytes.js";
import { ConsensusError, ConsensusErrorCode } from "./errors.js";
import { type DuplicateVoteEvidence, duplicateVoteEvidence } from "./evidence.js";
import { type Vote, type VoteType, validateVoteBasic } from "./messages.js";
import type { ValidatorSet } from "./validators.js";
import { VoteStep } from "./vote.js";

export type AddVoteResult =
  | { status: "added" }
  /** The same vote again (gossip repeats itself): nothing changed. */
  | { status: "duplicate" }
  /** A second, different vote for the same round and type: not counted; evidence the first time. */
  | { status: "conflicting"; evidence?: DuplicateVoteEvidence };

/** The votes of one type in one round. */
class TypedVotes {
  readonly byValidator = new Map<string, Vote>();
  /** blockHash hex ("" for nil) -> summed power. */
  readonly powerByBlock = new Map<string, number>();
  /** Power of every validator that voted, whatever for. */
  total = 0;
  /** Validators already reported for equivocation here. */
  readonly reported = new Set<string>();
}

class RoundVotes {
  readonly prevotes = new TypedVotes();
  readonly precommits = new TypedVotes();
  /** Validators with any vote in this round, for the f+1 round-skip count. */
  readonly voters = new Set<string>();
  voterPower = 0;

  of(type: VoteType): TypedVotes {
    return type === VoteStep.Prevote ? this.prevotes : this.precommits;
  }
}

export class VoteSet {
  private readonly rounds = new Map<number, RoundVotes>();
  /** address hex -> power, built once: ValidatorSet.byAddress is a linear scan. */
  private readonly powerOf = new Map<string, number>();
  private readonly quorumPower: number;
  private readonly oneThirdPower: number;

  constructor(
    readonly height: number,
    readonly validators: ValidatorSet,
  ) {
    for (const v of validators.validators) this.powerOf.set(toHex(v.address), v.power);
    this.quorumPower = validators.quorum();
    // More than 1/3: power * 3 > total.
    this.oneThirdPower = Math.floor(validators.totalPower / 3) + 1;
  }

  /** True iff `address` may vote in this set. */
  isValidator(address: Uint8Array): boolean {
    return this.powerOf.has(toHex(address));
  }

  /**
   * Add a vote whose signature the caller has checked. Throws ConsensusError
   * for a malformed vote, a vote of another height (WRONG_HEIGHT) or from
   * outside the validator set (UNKNOWN_VALIDATOR).
   */
  add(vote: Vote): AddVoteResult {
    validateVoteBasic(vote);
    if (vote.height !== this.height) {
      throw new ConsensusError(ConsensusErrorCode.WRONG_HEIGHT, `vote for height ${vote.height} in the vote set of height ${this.height}`);
    }
    const who = toHex(vote.validator);
    const power = this.powerOf.get(who);
    if (power === undefined) throw new ConsensusError(ConsensusErrorCode.UNKNOWN_VALIDATOR, `vote from ${who}, not a validator`);
    let round = this.rounds.get(vote.round);
    if (!round) {
      round = new RoundVotes();
      this.rounds.set(vote.round, round);
    }
    const typed = round.of(vote.type);
    const earlier = typed.byValidator.get(who);
    if (earlier) {
      // The same target is the same vote even with another signature (a key
      // can make many valid signatures of one digest): nothing to prove.
      if (bytesEqual(earlier.blockHash, vote.blockHash)) return { status: "duplicate" };
      if (typed.reported.has(who)) return { status: "conflicting" };
      typed.reported.add(who);
      return { status: "conflicting", evidence: duplicateVoteEvidence(earlier, vote) };
    }
    typed.byValidator.set(who, vote);
    const key = toHex(vote.blockHash);
    typed.powerByBlock.set(key, (typed.powerByBlock.get(key) ?? 0) + power);
    typed.total += power;
    if (!round.voters.has(who)) {
      round.voters.add(who);
      round.voterPower += power;
    }
    return { status: "added" };
  }

  /** Power behind `blockHash` (NIL for nil) among votes of `type` in `round`. */
  power(round: number, type: VoteType, blockHash: Uint8Array): number {
    return this.rounds.get(round)?.of(type).powerByBlock.get(toHex(blockHash)) ?? 0;
  }

  /** "2f+1 ⟨type, h, round, id(v)⟩": more than 2/3 of the power for `blockHash` (NIL for nil). */
  hasTwoThirdsFor(round: number, type: VoteType, blockHash: Uint8Array): boolean {
    return this.power(round, type, blockHash) >= this.quorumPower;
  }

  /** "2f+1 ⟨type, h, round, ∗⟩": more than 2/3 of the power voted, for anything. */
  hasTwoThirdsAny(round: number, type: VoteType): boolean {
    return (this.rounds.get(round)?.of(type).total ?? 0) >= this.quorumPower;
  }

  /**
   * The block hash (NIL for nil) with more than 2/3 of `type` votes in
   * `round`, if any. At most one exists, since each validator counts once.
   */
  twoThirdsMajority(round: number, type: VoteType): Uint8Array | undefined {
    const typed = this.rounds.get(round)?.of(type);
    if (!typed) return undefined;
    for (const [key, power] of typed.powerByBlock) {
      if (power >= this.quorumPower) {
        for (const v of typed.byValidator.values()) if (toHex(v.blockHash) === key) return v.blockHash;
      }
    }
    return undefined;
  }

  /** "f+1 ⟨∗, h, round, ∗, ∗⟩" for round skipping: validators with more than 1/3 of the power voted in `round`. */
  hasOneThirdAny(round: number): boolean {
    return (this.rounds.get(round)?.voterPower ?? 0) >= this.oneThirdPower;
  }

  /** The counted votes of `type` in `round` for `blockHash` (NIL for nil). */
  votesFor(round: number, type: VoteType, blockHash: Uint8Array): Vote[] {
    const typed = this.rounds.get(round)?.of(type);
    if (!typed) return [];
    return [...typed.byValidator.values()].filter((v) => bytesEqual(v.blockHash, blockHash));
  }

  /** The counted vote of `validator` of `type` in `round`, if any. */
  get(round: number, type: VoteType, validator: Uint8Array): Vote | undefined {
    return this.rounds.get(round)?.of(type).byValidator.get(toHex(validator));
  }

  /** Rounds that hold at least one vote, ascending. */
  roundsWithVotes(): number[] {
    return [...this.rounds.keys()].sort((a, b) => a - b);
  }
}
