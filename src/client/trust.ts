/**
 * What a light client trusts: the validator set that may commit the block at
 * a height. It starts from the genesis file (chain id and validators, taken
 * from a source the client trusts, not from the node it asks) and can follow
 * later validator-set changes one committed transition at a time.
 */
import { readFileSync } from "node:fs";
import { headerHash, type BlockHeader, type Commit } from "../chain/block.js";
import { parseGenesis } from "../chain/genesis.js";
import { ProofError, ProofErrorCode } from "../chain/proof.js";
import { bytesEqual, toHex } from "../crypto/bytes.js";
import { verifyDigest } from "../crypto/secp256k1.js";
import { ValidatorSet } from "../consensus/validators.js";
import { VoteStep, voteSigningDigest } from "../consensus/vote.js";

export interface TrustedValidators {
  /** The chain the sets belong to: a proof of another chain is refused. */
  readonly chainId: string;
  /** The set trusted to commit the block at `height`, or undefined when this client has no trusted set for it. */
  setFor(height: number): ValidatorSet | undefined;
}

/** A block whose header names a new validator set, offered to a tracker. */
export interface ValidatorSetTransition {
  header: BlockHeader;
  /** The commit for `header`. */
  commit: Commit;
  /** The set `header.validatorsHash` names. */
  validators: ValidatorSet;
}

/**
 * Trusted validator sets by height. Starts with the genesis set for every
 * height from 1; with no transition accepted it is the genesis-only light
 * client that today's single-set chains need.
 *
 * Transition rule (acceptTransition): a block at height H whose header names
 * a new set S' is trusted when valid precommits in its commit carry more
 * than 2/3 of the power of S' AND more than 2/3 of the power of the set
 * trusted at H so far (each set counts only its own members' signatures).
 * The old set thereby vouches for the new one; from H on, setFor answers
 * S'. Transitions are followed forwards only, in height order, and a client
 * trusts the latest set it knows for every later height until it is shown
 * another transition.
 *
 * Governance changes a set one validator per action, effective at H + 2;
 * only members of the new set sign its first commit. The rule follows a
 * change when those signers hold more than 2/3 of the old set's power too
 * (removing one of four equal validators leaves 3/4; adding one keeps all
 * the old signers). It cannot follow a change that takes more than 1/3 of
 * the old power out at once (several validators removed in one height): headers carry no
 * next-validators hash the old set could sign in its last block, so the
 * tracker refuses such a transition rather than trust it, and the client
 * re-anchors from a newer trusted set instead.
 */
export class ValidatorSetTracker implements TrustedValidators {
  /** Eras in ascending `fromHeight`; the first starts at height 1. */
  private readonly eras: Array<{ fromHeight: number; set: ValidatorSet }>;

  constructor(
    readonly chainId: string,
    genesisSet: ValidatorSet,
  ) {
    if (typeof chainId !== "string" || chainId === "") throw new TypeError("expected a chain id");
    if (!(genesisSet instanceof ValidatorSet) || genesisSet.validators.length === 0) throw new TypeError("expected a non-empty genesis ValidatorSet");
    this.eras = [{ fromHeight: 1, set: genesisSet }];
  }

  /** From a genesis file's parsed JSON (checked as the node checks it). */
  static fromGenesis(genesis: unknown): ValidatorSetTracker {
    const g = parseGenesis(genesis);
    return new ValidatorSetTracker(g.chainId, ValidatorSet.fromGenesis(g.validators));
  }

  /** From a genesis file, such as a node's `<home>/config/genesis.json`. */
  static fromGenesisFile(path: string): ValidatorSetTracker {
    return ValidatorSetTracker.fromGenesis(JSON.parse(readFileSync(path, "utf8")));
  }

  setFor(height: number): ValidatorSet | undefined {
    if (!Number.isSafeInteger(height) || height < 1) return undefined;
    for (let i = this.eras.length - 1; i >= 0; i--) if (this.eras[i]!.fromHeight <= height) return this.eras[i]!.set;
    return undefined;
  }

  /** Height of the latest accepted transition (1 when only genesis is known). */
  get latestHeight(): number {
    return this.eras[this.eras.length - 1]!.fromHeight;
  }

  /**
   * Follows a validator-set change (the rule is in the class comment).
   * Returns false when the header names the set already trusted there
   * (nothing to follow), true when the new set was accepted; throws a
   * ProofError naming the failed check otherwise.
   */
  acceptTransition(t: ValidatorSetTransition): boolean {
    const { header, commit, validators } = t;
    if (header.chainId !== this.chainId) {
      throw new ProofError(ProofErrorCode.WRONG_CHAIN, `transition header is of chain ${header.chainId}, not ${this.chainId}`);
    }
    if (!bytesEqual(headerHash(header), commit.blockHash)) throw new ProofError(ProofErrorCode.HEADER_MISMATCH, "transition commit does not sign this header");
    if (commit.height !== header.height) throw new ProofError(ProofErrorCode.HEIGHT_MISMATCH, `transition commit is for height ${commit.height}, header is ${header.height}`);
    if (!bytesEqual(validators.hash, header.validatorsHash)) throw new ProofError(ProofErrorCode.VALIDATORS_MISMATCH, "transition set is not the one the header names");
    const old = this.setFor(header.height);
    if (!old) throw new ProofError(ProofErrorCode.BAD_TRANSITION, `no trusted set at height ${header.height}`);
    if (bytesEqual(old.hash, validators.hash)) return false;
    if (header.height <= this.latestHeight) {
      throw new ProofError(ProofErrorCode.BAD_TRANSITION, `transitions are followed forwards: height ${header.height} is not after ${this.latestHeight}`);
    }
    const signedNew = powerSigned(this.chainId, commit, validators);
    if (signedNew < validators.quorum()) {
      throw new ProofError(ProofErrorCode.BAD_COMMIT, `the new set signed ${signedNew} of ${validators.totalPower} power; more than 2/3 (${validators.quorum()}) is needed`);
    }
    const signed = powerSigned(this.chainId, commit, old);
    if (signed < old.quorum()) {
      throw new ProofError(ProofErrorCode.BAD_TRANSITION, `the trusted set signed ${signed} of ${old.totalPower} power for the new set ${toHex(validators.hash)}; more than 2/3 (${old.quorum()}) is needed`);
    }
    this.eras.push({ fromHeight: header.height, set: validators });
    return true;
  }
}

/**
 * Power of `set` members with a valid precommit signature in `commit`, each
 * member counted once. Signatures of non-members are ignored (they may be
 * members of a new set); an invalid one from a member counts nothing.
 */
export function powerSigned(chainId: string, commit: Commit, set: ValidatorSet): number {
  const digest = voteSigningDigest({ chainId, height: commit.height, round: commit.round, step: VoteStep.Precommit, blockHash: commit.blockHash });
  const counted = new Set<string>();
  let power = 0;
  for (const s of commit.sigs) {
    const v = set.byAddress(s.validator);
    const key = toHex(s.validator);
    if (!v || counted.has(key) || !verifyDigest(s.sig, digest, v.publicKey)) continue;
    counted.add(key);
    power += v.power;
  }
  return power;
}
