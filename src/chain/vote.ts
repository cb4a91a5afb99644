/**
 * Votes. A signature covers a domain tag, the chain id, height, round, step
 * and block hash (invariant 2), so it is valid for nothing else.
 */
import { toHex } from "../crypto/bytes.js";
import { sha256 } from "../crypto/hash.js";
import { verifyDigest } from "../crypto/secp256k1.js";
import { encodeCanonical } from "./codec.js";
import type { Commit } from "./block.js";
import type { ValidatorSet } from "./validator-set.js";

export const VOTE_SIGN_DOMAIN = "sid/vote/v1";

export enum VoteStep {
  Propose = 0,
  Prevote = 1,
  Precommit = 2,
}

export interface VoteTarget {
  chainId: string;
  height: number;
  round: number;
  step: VoteStep;
  blockHash: Uint8Array;
}

export function voteSigningDigest(v: VoteTarget): Uint8Array {
  return sha256(encodeCanonical([VOTE_SIGN_DOMAIN, v.chainId, v.height, v.round, v.step, v.blockHash]));
}

/**
 * The power of `set` members with a valid precommit signature in `commit`,
 * each member counted once, and how many signatures were discarded: from a
 * non-member, a member already counted, or not valid. With `stopAtDiscard`
 * the count stops at the first discarded signature (a strict check needs no
 * more).
 */
export function tallyCommit(chainId: string, commit: Commit, set: ValidatorSet, stopAtDiscard = false): { power: number; discarded: number } {
  const digest = voteSigningDigest({ chainId, height: commit.height, round: commit.round, step: VoteStep.Precommit, blockHash: commit.blockHash });
  const counted = new Set<string>();
  let power = 0;
  let discarded = 0;
  for (const s of commit.sigs) {
    const v = set.byAddress(s.validator);
    const key = toHex(s.validator);
    if (!v || counted.has(key) || !verifyDigest(s.sig, digest, v.publicKey)) {
      discarded++;
      if (stopAtDiscard) break;
      continue;
    }
    counted.add(key);
    power += v.power;
  }
  return { power, discarded };
}

/**
 * True iff the commit's signatures carry more than 2/3 of the set's power
 * for its block and every signature is a valid one of a distinct member.
 */
export function verifyCommit(chainId: string, commit: Commit, set: ValidatorSet): boolean {
  const t = tallyCommit(chainId, commit, set, true);
  return t.discarded === 0 && t.power >= set.quorum();
}

/**
 * Power of `set` members with a valid precommit signature in `commit`, each
 * member counted once. Signatures of non-members are ignored (they may be
 * members of a new set); an invalid one from a member counts nothing.
 */
export function powerSigned(chainId: string, commit: Commit, set: ValidatorSet): number {
  return tallyCommit(chainId, commit, set).power;
}
