/**
 * Votes. A signature covers a domain tag, the chain id, height, round, step
 * and block hash (invariant 2), so it is valid for nothing else.
 */
import { sha256 } from "../crypto/hash.js";
import { verifyDigest } from "../crypto/secp256k1.js";
import { encodeCanonical } from "../chain/codec.js";
import type { Commit } from "../chain/block.js";
import type { ValidatorSet } from "./validators.js";

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

/** True iff the commit's signatures carry more than 2/3 of the set's power for its block. */
export function verifyCommit(chainId: string, commit: Commit, set: ValidatorSet): boolean {
  const digest = voteSigningDigest({ chainId, height: commit.height, round: commit.round, step: VoteStep.Precommit, blockHash: commit.blockHash });
  const seen = new Set<string>();
  let power = 0;
  for (const s of commit.sigs) {
    const v = set.byAddress(s.validator);
    const key = Buffer.from(s.validator).toString("hex");
    if (!v || seen.has(key)) return false;
    if (!verifyDigest(s.sig, digest, v.publicKey)) return false;
    seen.add(key);
    power += v.power;
  }
  return power >= set.quorum();
}
