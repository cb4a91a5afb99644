/**
 * The consensus wire messages of the Tendermint algorithm: proposals and
 * votes (prevote, precommit), their one canonical encoding, the cheap
 * stateless checks every message passes before any expensive work
 * (validateBasic), and their signatures.
 *
 * A vote signs voteSigningDigest (vote.ts), the digest commits already carry,
 * so the precommits of a round become a Commit unchanged. A proposal signs
 * its own digest under the domain "sid/proposal/v1", which also commits to
 * the POL round: a proposer cannot have one signature stand for two
 * proposals that differ only in polRound, and a proposal signature is never
 * valid as a vote (invariant 2). The signer's guard still places a proposal
 * at step Propose, before the prevote of the same round.
 */
import { bytesEqual, compareBytes, toHex } from "../crypto/bytes.js";
import { sha256 } from "../crypto/hash.js";
import { verifyDigest } from "../crypto/secp256k1.js";
import { type CanonicalValue, decodeCanonical, encodeCanonical } from "../chain/codec.js";
import { CodecError } from "../chain/errors.js";
import type { Commit } from "../chain/block.js";
import { ConsensusError, ConsensusErrorCode } from "./errors.js";
import type { SignState, ValidatorSigner } from "./signer.js";
import type { ValidatorSet } from "../chain/validator-set.js";
import { VoteStep, type VoteTarget, voteSigningDigest } from "../chain/vote.js";

export const PROPOSAL_SIGN_DOMAIN = "sid/proposal/v1";

/** Rounds are below 2^31, so round + 1 and round arithmetic stay exact everywhere a driver stores them. */
export const MAX_ROUND = 2 ** 31 - 1;
export const ADDRESS_LENGTH = 20;
export const HASH_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;
/**
 * Bound on an encoded proposal or vote before it is decoded. Both are a few
 * hundred bytes at most (a 32-byte hash, a 20-byte address, a 64-byte
 * signature and small integers); 1 KiB leaves room and no more.
 */
export const MAX_MESSAGE_BYTES = 1024;

/** A nil vote carries an empty block hash. */
export const NIL: Uint8Array = new Uint8Array(0);

export type VoteType = VoteStep.Prevote | VoteStep.Precommit;

export interface Vote {
  type: VoteType;
  height: number;
  round: number;
  /** The block voted for, or NIL (0 bytes). */
  blockHash: Uint8Array;
  /** Address (20 bytes) of the voting validator. */
  validator: Uint8Array;
  sig: Uint8Array;
}

export interface Proposal {
  height: number;
  round: number;
  /** Round of the proof-of-lock the proposer re-proposes from, -1 when there is none (the paper's validRound). */
  polRound: number;
  blockHash: Uint8Array;
  /** Address (20 bytes) of the proposer. */
  proposer: Uint8Array;
  sig: Uint8Array;
}

export type UnsignedVote = Omit<Vote, "sig">;
export type UnsignedProposal = Omit<Proposal, "sig">;

/** What the p2p side carries for consensus: one envelope for both kinds. */
export type ConsensusMessage = { kind: "proposal"; proposal: Proposal } | { kind: "vote"; vote: Vote };

export function isNil(blockHash: Uint8Array): boolean {
  return blockHash.length === 0;
}

// ---------------------------------------------------------------------------
// validateBasic: stateless range, type and size checks.

function bad(message: string): ConsensusError {
  return new ConsensusError(ConsensusErrorCode.BAD_MESSAGE, message);
}

function checkHeight(what: string, h: unknown): void {
  if (!Number.isSafeInteger(h) || (h as number) < 1) throw bad(`${what}.height must be an integer >= 1, got ${String(h)}`);
}

function checkRound(what: string, r: unknown): void {
  if (!Number.isSafeInteger(r) || (r as number) < 0 || (r as number) > MAX_ROUND) {
    throw bad(`${what}.round must be an integer in [0, 2^31-1], got ${String(r)}`);
  }
}

function checkBytes(what: string, b: unknown, ...lengths: number[]): void {
  if (!(b instanceof Uint8Array)) throw bad(`${what} must be bytes`);
  if (!lengths.includes(b.length)) throw bad(`expected ${lengths.join(" or ")}-byte ${what}, got ${b.length}`);
}

/** The stateless checks of a vote (type, ranges, sizes); throws ConsensusError BAD_MESSAGE. */
export function validateVoteBasic(v: Vote): void {
  if (typeof v !== "object" || v === null) throw bad("vote must be an object");
  if (v.type !== VoteStep.Prevote && v.type !== VoteStep.Precommit) throw bad(`vote.type must be Prevote (1) or Precommit (2), got ${String(v.type)}`);
  checkHeight("vote", v.height);
  checkRound("vote", v.round);
  checkBytes("vote.blockHash", v.blockHash, 0, HASH_LENGTH);
  checkBytes("vote.validator", v.validator, ADDRESS_LENGTH);
  checkBytes("vote.sig", v.sig, SIGNATURE_LENGTH);
}

/** The stateless checks of a proposal; polRound is -1 or an earlier round. Throws ConsensusError BAD_MESSAGE. */
export function validateProposalBasic(p: Proposal): void {
  if (typeof p !== "object" || p === null) throw bad("proposal must be an object");
  checkHeight("proposal", p.height);
  checkRound("proposal", p.round);
  if (!Number.isSafeInteger(p.polRound) || p.polRound < -1 || p.polRound >= p.round) {
    throw bad(`proposal.polRound must be -1 or in [0, round), got ${String(p.polRound)} at round ${p.round}`);
  }
  checkBytes("proposal.blockHash", p.blockHash, HASH_LENGTH);
  checkBytes("proposal.proposer", p.proposer, ADDRESS_LENGTH);
  checkBytes("proposal.sig", p.sig, SIGNATURE_LENGTH);
}

// ---------------------------------------------------------------------------
// Canonical encoding. Field names are the encoding; decode accepts exactly
// these keys, so one message has one encoding.

const VOTE_KEYS = ["blockHash", "height", "round", "sig", "type", "validator"] as const;
const PROPOSAL_KEYS = ["blockHash", "height", "polRound", "proposer", "round", "sig"] as const;

function voteValue(v: Vote): CanonicalValue {
  return { type: v.type, height: v.height, round: v.round, blockHash: v.blockHash, validator: v.validator, sig: v.sig };
}

function proposalValue(p: Proposal): CanonicalValue {
  return { height: p.height, round: p.round, polRound: p.polRound, blockHash: p.blockHash, proposer: p.proposer, sig: p.sig };
}

function expectRecord(what: string, value: unknown, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) throw bad(`${what} must be a map`);
  const got = Object.keys(value).sort();
  const want = [...keys].sort();
  if (got.length !== want.length || got.some((k, i) => k !== want[i])) throw bad(`${what} must have exactly the keys ${want.join(", ")}`);
  return value as Record<string, unknown>;
}

function voteFrom(value: unknown): Vote {
  const r = expectRecord("vote", value, VOTE_KEYS);
  const v = { type: r.type, height: r.height, round: r.round, blockHash: r.blockHash, validator: r.validator, sig: r.sig } as Vote;
  validateVoteBasic(v);
  return v;
}

function proposalFrom(value: unknown): Proposal {
  const r = expectRecord("proposal", value, PROPOSAL_KEYS);
  const p = { height: r.height, round: r.round, polRound: r.polRound, blockHash: r.blockHash, proposer: r.proposer, sig: r.sig } as Proposal;
  validateProposalBasic(p);
  return p;
}

function decodeBounded(what: string, bytes: Uint8Array, max: number): CanonicalValue {
  if (!(bytes instanceof Uint8Array)) throw bad(`${what} must be bytes`);
  if (bytes.length > max) throw bad(`${what} of ${bytes.length} bytes exceeds ${max}`);
  try {
    return decodeCanonical(bytes);
  } catch (e) {
    if (e instanceof CodecError) throw bad(`undecodable ${what}: ${e.message}`);
    throw e;
  }
}

export function encodeVote(v: Vote): Uint8Array {
  validateVoteBasic(v);
  return encodeCanonical(voteValue(v));
}

/** Decode and validateBasic a vote; any failure is ConsensusError BAD_MESSAGE. */
export function decodeVote(bytes: Uint8Array): Vote {
  return voteFrom(decodeBounded("vote", bytes, MAX_MESSAGE_BYTES));
}

export function encodeProposal(p: Proposal): Uint8Array {
  validateProposalBasic(p);
  return encodeCanonical(proposalValue(p));
}

/** Decode and validateBasic a proposal; any failure is ConsensusError BAD_MESSAGE. */
export function decodeProposal(bytes: Uint8Array): Proposal {
  return proposalFrom(decodeBounded("proposal", bytes, MAX_MESSAGE_BYTES));
}

/** Envelope tags on the wire. */
const MESSAGE_TAG = { proposal: "proposal", vote: "vote" } as const;

export function encodeConsensusMessage(m: ConsensusMessage): Uint8Array {
  if (m.kind === "proposal") {
    validateProposalBasic(m.proposal);
    return encodeCanonical({ kind: MESSAGE_TAG.proposal, body: proposalValue(m.proposal) });
  }
  validateVoteBasic(m.vote);
  return encodeCanonical({ kind: MESSAGE_TAG.vote, body: voteValue(m.vote) });
}

/** Decode a consensus envelope from a peer; any failure is ConsensusError BAD_MESSAGE. */
export function decodeConsensusMessage(bytes: Uint8Array): ConsensusMessage {
  const r = expectRecord("consensus message", decodeBounded("consensus message", bytes, MAX_MESSAGE_BYTES + 32), ["body", "kind"]);
  if (r.kind === MESSAGE_TAG.proposal) return { kind: "proposal", proposal: proposalFrom(r.body) };
  if (r.kind === MESSAGE_TAG.vote) return { kind: "vote", vote: voteFrom(r.body) };
  throw bad(`unknown consensus message kind ${JSON.stringify(r.kind)}`);
}

/** Values for canonical containers that embed messages (evidence, WAL records). */
export const messageValues = { vote: voteValue, proposal: proposalValue, voteFrom, proposalFrom } as const;

// ---------------------------------------------------------------------------
// Signatures.

export function voteTargetOf(chainId: string, v: UnsignedVote): VoteTarget {
  return { chainId, height: v.height, round: v.round, step: v.type, blockHash: v.blockHash };
}

/** sha256 of ["sid/proposal/v1", chainId, height, round, polRound, blockHash], canonically encoded. */
export function proposalSigningDigest(chainId: string, p: UnsignedProposal): Uint8Array {
  return sha256(encodeCanonical([PROPOSAL_SIGN_DOMAIN, chainId, p.height, p.round, p.polRound, p.blockHash]));
}

/**
 * Sign a vote through the double-sign guard. The caller makes `state`
 * durable before the vote leaves the node (invariant 4); FilePrivValidator
 * does both.
 */
export function signVote(chainId: string, v: UnsignedVote, signer: ValidatorSigner): { vote: Vote; state: SignState } {
  if (!bytesEqual(v.validator, signer.address)) throw bad("vote.validator is not the signer's address");
  const unsigned = { ...v, sig: new Uint8Array(SIGNATURE_LENGTH) };
  validateVoteBasic(unsigned);
  const { sig, state } = signer.sign(voteTargetOf(chainId, v));
  return { vote: { ...unsigned, sig }, state };
}

/** Sign a proposal through the double-sign guard, at step Propose of its round. */
export function signProposal(chainId: string, p: UnsignedProposal, signer: ValidatorSigner): { proposal: Proposal; state: SignState } {
  if (!bytesEqual(p.proposer, signer.address)) throw bad("proposal.proposer is not the signer's address");
  const unsigned = { ...p, sig: new Uint8Array(SIGNATURE_LENGTH) };
  validateProposalBasic(unsigned);
  const { sig, state } = signer.signAt({ height: p.height, round: p.round, step: VoteStep.Propose }, proposalSigningDigest(chainId, p));
  return { proposal: { ...unsigned, sig }, state };
}

/** True iff the vote is signed by its validator, a member of `set`, on this chain. */
export function verifyVote(chainId: string, v: Vote, set: ValidatorSet): boolean {
  const val = set.byAddress(v.validator);
  if (!val) return false;
  return verifyDigest(v.sig, voteSigningDigest(voteTargetOf(chainId, v)), val.publicKey);
}

/** True iff the proposal is signed by its proposer, a member of `set`, on this chain. */
export function verifyProposal(chainId: string, p: Proposal, set: ValidatorSet): boolean {
  const val = set.byAddress(p.proposer);
  if (!val) return false;
  return verifyDigest(p.sig, proposalSigningDigest(chainId, p), val.publicKey);
}

/**
 * The Commit a block carries as lastCommit, from precommits for one block at
 * one height and round. Signatures are ordered by validator address, so every
 * node that holds the same precommits builds the same commit bytes. Checks
 * the shape only; verifyCommit (vote.ts) checks signatures and power.
 */
export function commitFromPrecommits(votes: readonly Vote[]): Commit {
  const fail = (m: string) => new ConsensusError(ConsensusErrorCode.BAD_COMMIT, m);
  const first = votes[0];
  if (!first) throw fail("a commit needs at least one precommit");
  if (isNil(first.blockHash)) throw fail("a commit cannot be for nil");
  const seen = new Set<string>();
  for (const v of votes) {
    validateVoteBasic(v);
    if (v.type !== VoteStep.Precommit) throw fail("a commit is made of precommits only");
    if (v.height !== first.height || v.round !== first.round || !bytesEqual(v.blockHash, first.blockHash)) {
      throw fail("precommits of a commit must share height, round and block hash");
    }
    const key = toHex(v.validator);
    if (seen.has(key)) throw fail(`validator ${key} appears twice`);
    seen.add(key);
  }
  const sigs = [...votes].sort((a, b) => compareBytes(a.validator, b.validator)).map((v) => ({ validator: v.validator, sig: v.sig }));
  return { height: first.height, round: first.round, blockHash: first.blockHash, sigs };
}
