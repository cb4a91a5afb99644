/**
 * Evidence of equivocation: one validator signed two different votes of one
 * type for one height and round. That is the misbehaviour Tendermint's safety
 * argument charges to the faulty third of power, and the only one a vote set
 * can prove alone, with the two signed votes.
 *
 * The pair is kept in one canonical order (voteA's encoding sorts before
 * voteB's), so a given equivocation has one encoding and one hash, whoever
 * observed it and in whichever order the votes arrived.
 */
import { bytesEqual, compareBytes } from "../crypto/bytes.js";
import { sha256 } from "../crypto/hash.js";
import { CodecError } from "../chain/errors.js";
import { decodeCanonical, encodeCanonical } from "../chain/codec.js";
import { ConsensusError, ConsensusErrorCode } from "./errors.js";
import { MAX_MESSAGE_BYTES, type Vote, encodeVote, messageValues, validateVoteBasic, verifyVote } from "./messages.js";
import type { ValidatorSet } from "../chain/validator-set.js";

export interface DuplicateVoteEvidence {
  voteA: Vote;
  voteB: Vote;
}

const EVIDENCE_KIND = "duplicateVote";

/** The evidence for two conflicting votes, in canonical order. */
export function duplicateVoteEvidence(a: Vote, b: Vote): DuplicateVoteEvidence {
  return compareBytes(encodeVote(a), encodeVote(b)) <= 0 ? { voteA: a, voteB: b } : { voteA: b, voteB: a };
}

export function encodeEvidence(ev: DuplicateVoteEvidence): Uint8Array {
  return encodeCanonical({ kind: EVIDENCE_KIND, voteA: messageValues.vote(ev.voteA), voteB: messageValues.vote(ev.voteB) });
}

/** Decode evidence from a peer or a block; any failure is ConsensusError BAD_MESSAGE. Does not verify it. */
export function decodeEvidence(bytes: Uint8Array): DuplicateVoteEvidence {
  const fail = (m: string) => new ConsensusError(ConsensusErrorCode.BAD_MESSAGE, m);
  if (!(bytes instanceof Uint8Array)) throw fail("evidence must be bytes");
  if (bytes.length > 2 * MAX_MESSAGE_BYTES + 64) throw fail(`evidence of ${bytes.length} bytes is too large`);
  let value: unknown;
  try {
    value = decodeCanonical(bytes);
  } catch (e) {
    if (e instanceof CodecError) throw fail(`undecodable evidence: ${e.message}`);
    throw e;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) throw fail("evidence must be a map");
  const r = value as Record<string, unknown>;
  const keys = Object.keys(r).sort();
  if (keys.join(",") !== "kind,voteA,voteB") throw fail("evidence must have exactly the keys kind, voteA, voteB");
  if (r.kind !== EVIDENCE_KIND) throw fail(`unknown evidence kind ${JSON.stringify(r.kind)}`);
  return { voteA: messageValues.voteFrom(r.voteA), voteB: messageValues.voteFrom(r.voteB) };
}

export function evidenceHash(ev: DuplicateVoteEvidence): Uint8Array {
  return sha256(encodeEvidence(ev));
}

/**
 * Check that `ev` proves equivocation on `chainId` by a member of `set`:
 * both votes well formed, from the same validator, for the same height,
 * round and type, for different blocks (nil counts as a block here: a
 * validator may not vote both nil and a block), in canonical order, and both
 * signatures valid. Throws ConsensusError BAD_EVIDENCE naming the first
 * failed condition.
 */
export function verifyEvidence(chainId: string, ev: DuplicateVoteEvidence, set: ValidatorSet): void {
  const fail = (m: string) => new ConsensusError(ConsensusErrorCode.BAD_EVIDENCE, m);
  const { voteA: a, voteB: b } = ev;
  try {
    validateVoteBasic(a);
    validateVoteBasic(b);
  } catch (e) {
    if (e instanceof ConsensusError) throw fail(`malformed vote in evidence: ${e.message}`);
    throw e;
  }
  if (!bytesEqual(a.validator, b.validator)) throw fail("votes are from different validators");
  if (a.height !== b.height || a.round !== b.round || a.type !== b.type) throw fail("votes are not for the same height, round and type");
  if (bytesEqual(a.blockHash, b.blockHash)) throw fail("votes are for the same block: no equivocation");
  if (compareBytes(encodeVote(a), encodeVote(b)) >= 0) throw fail("votes are not in canonical order");
  if (!set.byAddress(a.validator)) throw fail("the validator is not in the validator set");
  if (!verifyVote(chainId, a, set)) throw fail("voteA's signature does not verify");
  if (!verifyVote(chainId, b, set)) throw fail("voteB's signature does not verify");
}
