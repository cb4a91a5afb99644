/**
 * The votes of one height, by round and type, with the power behind each
 * block hash (and nil): the counts the Tendermint rules ask about, "2f+1
 * prevotes for v", "2f+1 precommits of any kind", "f+1 messages in round r".
 *
 * With unequal powers, "2f+1" is more than 2/3 of the total power
 * (ValidatorSet.quorum) and "f+1" is more than 1/3: some correct validator
 * is then among the senders.
 *
 * Each validator counts once in the "any" totals and the round-skip count,
 * by its first vote of a round and type. A second, different vote is
 * equivocation, reported once as DuplicateVoteEvidence. It still counts for
 * the block it names: the rules count messages for id(v), and a signed
 * precommit for v is part of a valid commit for v whatever else its signer
 * signed. Without that, a node that heard a faulty validator's other vote
 * first could never see the 2f+1 the rest of the network decided on. It is
 * safe: two blocks each with 2f+1 would need a correct validator to vote
 * twice. Signatures are the caller's job (the driver checks them before the
 * machine sees a vote).
 */
import { toHex } from "../crypto/bytes.js";
import { ConsensusError, ConsensusErrorCode } from "./errors.js";
import { type DuplicateVoteEvidence, duplicateVoteEvidence } from "./evidence.js";
import { type Vote, type VoteType, validateVoteBasic } from "./messages.js";
import type { ValidatorSet } from "../chain/validator-set.js";
import { VoteStep } from "../chain/vote.js";

/**
 * Different blocks (nil included) one validator's votes of one round and
 * type are kept for, so equivocation cannot fill memory: nil and the two
 * proposals an equivocating proposer can make are what an attack needs;
 * more is spam.
 */
export const MAX_BLOCKS_PER_VALIDATOR = 3;

export type AddVoteResult =
  | { status: "added" }
  /** The same vote again (gossip repeats itself): nothing changed. */
  | { status: "duplicate" }
  /** A different vote for a round and type the validator voted in: counted for its block only; evidence the first time. */
  | { status: "conflicting"; evidence?: DuplicateVoteEvidence };

interface BlockVotes {
  power: number;
  /** validator hex -> its vote for this block */
  votes: Map<string, Vote>;
}

/** The votes of one type in one round. */
class TypedVotes {
  /** Each validator's first vote: what the "any" total counts. */
  readonly first = new Map<string, Vote>();
  /** blockHash hex ("" for nil) -> the validators that voted for it and their power. */
  readonly byBlock = new Map<string, BlockVotes>();
  /** validator hex -> number of different blocks it voted for. */
  readonly blocksOf = new Map<string, number>();
  /** Power of every validator that voted, whatever for, each once. */
  total = 0;
  /** Validators already reported for equivocation here. */
  readonly reported = new Set<string>();

  countFor(who: string, power: number, vote: Vote): void {
    const key = toHex(vote.blockHash);
    let block = this.byBlock.get(key);
    if (!block) {
      block = { power: 0, votes: new Map() };
      this.byBlock.set(key, block);
    }
    block.votes.set(who, vote);
    block.power += power;
    this.blocksOf.set(who, (this.blocksOf.get(who) ?? 0) + 1);
  }
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
    const earlier = typed.first.get(who);
    if (!earlier) {
      typed.first.set(who, vote);
      typed.total += power;
      typed.countFor(who, power, vote);
      if (!round.voters.has(who)) {
        round.voters.add(who);
        round.voterPower += power;
      }
      return { status: "added" };
    }
    // The same target is the same vote even with another signature (a key
    // can make many valid signatures of one digest): nothing new.
    if (typed.byBlock.get(toHex(vote.blockHash))?.votes.has(who)) return { status: "duplicate" };
    let evidence: DuplicateVoteEvidence | undefined;
    if (!typed.reported.has(who)) {
      typed.reported.add(who);
      evidence = duplicateVoteEvidence(earlier, vote);
    }
    if ((typed.blocksOf.get(who) ?? 0) < MAX_BLOCKS_PER_VALIDATOR) typed.countFor(who, power, vote);
    return evidence ? { status: "conflicting", evidence } : { status: "conflicting" };
  }

  /** Power behind `blockHash` (NIL for nil) among votes of `type` in `round`. */
  power(round: number, type: VoteType, blockHash: Uint8Array): number {
    return this.rounds.get(round)?.of(type).byBlock.get(toHex(blockHash))?.power ?? 0;
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
   * `round`, if any. At most one exists while faulty validators hold less
   * than 1/3 of the power.
   */
  twoThirdsMajority(round: number, type: VoteType): Uint8Array | undefined {
    const typed = this.rounds.get(round)?.of(type);
    if (!typed) return undefined;
    for (const block of typed.byBlock.values()) {
      if (block.power >= this.quorumPower) return block.votes.values().next().value!.blockHash;
    }
    return undefined;
  }

  /** "f+1 ⟨∗, h, round, ∗, ∗⟩" for round skipping: validators with more than 1/3 of the power voted in `round`. */
  hasOneThirdAny(round: number): boolean {
    return (this.rounds.get(round)?.voterPower ?? 0) >= this.oneThirdPower;
  }

  /** The votes of `type` in `round` for `blockHash` (NIL for nil), one per validator. */
  votesFor(round: number, type: VoteType, blockHash: Uint8Array): Vote[] {
    return [...(this.rounds.get(round)?.of(type).byBlock.get(toHex(blockHash))?.votes.values() ?? [])];
  }

  /** The first vote of `validator` of `type` in `round`, if any. */
  get(round: number, type: VoteType, validator: Uint8Array): Vote | undefined {
    return this.rounds.get(round)?.of(type).first.get(toHex(validator));
  }

  /** Rounds that hold at least one vote, ascending. */
  roundsWithVotes(): number[] {
    return [...this.rounds.keys()].sort((a, b) => a - b);
  }
}
