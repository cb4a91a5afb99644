/**
 * What the consensus driver writes into the WAL (wal.ts treats records as
 * opaque bytes): the inputs the state machine handled, in order, and the
 * messages this validator signed.
 *
 * - proposal / vote / timeout: inputs, appended before they are handled.
 *   Replaying them through a fresh machine after start(height) rebuilds the
 *   round state. A proposal record keeps the driver's validity verdict (so
 *   replay does not depend on re-executing the block) and may carry the
 *   encoded block, so the decided block is at hand after a restart.
 * - signedProposal / signedVote: what this validator signed, appended with
 *   sync before it is broadcast. On replay the machine asks again for the
 *   same vote or proposal; the driver answers from these records (a proposal
 *   is never rebuilt: a new block with a new time would be a different
 *   proposal, which the double-sign guard refuses) and re-broadcasts them.
 *
 * Each record has one canonical encoding. Encoding refuses a malformed
 * record with BAD_MESSAGE; decoding refuses anything else with WAL_CORRUPT,
 * since the frame's checksum held and the bytes are what was written.
 */
import { type CanonicalValue, decodeCanonical, encodeCanonical } from "../chain/codec.js";
import { CodecError } from "../chain/errors.js";
import { ConsensusError, ConsensusErrorCode } from "./errors.js";
import { MAX_ROUND, type Proposal, type Vote, messageValues, validateProposalBasic, validateVoteBasic } from "./messages.js";
import type { RoundStep } from "./tendermint.js";

export type WalRecord =
  | { kind: "proposal"; proposal: Proposal; valid: boolean; block: Uint8Array | null }
  | { kind: "vote"; vote: Vote }
  | { kind: "timeout"; height: number; round: number; step: RoundStep }
  | { kind: "signedProposal"; proposal: Proposal; block: Uint8Array | null }
  | { kind: "signedVote"; vote: Vote };

const STEPS: readonly RoundStep[] = ["propose", "prevote", "precommit"];

/** Encode a record; a malformed one is refused with BAD_MESSAGE, so it never reaches the log. */
export function encodeWalRecord(r: WalRecord): Uint8Array {
  const bad = (m: string) => new ConsensusError(ConsensusErrorCode.BAD_MESSAGE, `WAL record: ${m}`);
  const checkBlock = (b: unknown) => {
    if (b !== null && !(b instanceof Uint8Array)) throw bad("block must be bytes or null");
  };
  let value: CanonicalValue;
  switch (r.kind) {
    case "proposal":
      validateProposalBasic(r.proposal);
      if (typeof r.valid !== "boolean") throw bad("valid must be a boolean");
      checkBlock(r.block);
      value = { kind: r.kind, proposal: messageValues.proposal(r.proposal), valid: r.valid, block: r.block };
      break;
    case "vote":
    case "signedVote":
      validateVoteBasic(r.vote);
      value = { kind: r.kind, vote: messageValues.vote(r.vote) };
      break;
    case "timeout":
      if (!Number.isSafeInteger(r.height) || r.height < 1) throw bad("timeout height must be an integer >= 1");
      if (!Number.isSafeInteger(r.round) || r.round < 0 || r.round > MAX_ROUND) throw bad("timeout round out of range");
      if (!STEPS.includes(r.step)) throw bad(`unknown timeout step ${JSON.stringify(r.step)}`);
      value = { kind: r.kind, height: r.height, round: r.round, step: r.step };
      break;
    case "signedProposal":
      validateProposalBasic(r.proposal);
      checkBlock(r.block);
      value = { kind: r.kind, proposal: messageValues.proposal(r.proposal), block: r.block };
      break;
    default:
      throw bad(`unknown record kind ${JSON.stringify((r as { kind?: unknown }).kind)}`);
  }
  return encodeCanonical(value);
}

export function decodeWalRecord(bytes: Uint8Array): WalRecord {
  const fail = (m: string) => new ConsensusError(ConsensusErrorCode.WAL_CORRUPT, `WAL record: ${m}`);
  let value: unknown;
  try {
    value = decodeCanonical(bytes);
  } catch (e) {
    if (e instanceof CodecError) throw fail(`undecodable: ${e.message}`);
    throw e;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) throw fail("expected a map");
  const r = value as Record<string, unknown>;
  const keys = (...ks: string[]) => {
    if (Object.keys(r).sort().join(",") !== ["kind", ...ks].sort().join(",")) throw fail(`a ${String(r.kind)} record has exactly the keys kind, ${ks.join(", ")}`);
  };
  const block = (b: unknown): Uint8Array | null => {
    if (b === null || b instanceof Uint8Array) return b;
    throw fail("block must be bytes or null");
  };
  // Messages inside records pass the same validateBasic as on the wire.
  const message = <T>(decode: (v: unknown) => T, v: unknown): T => {
    try {
      return decode(v);
    } catch (e) {
      if (e instanceof ConsensusError) throw fail(e.message);
      throw e;
    }
  };
  switch (r.kind) {
    case "proposal":
      keys("proposal", "valid", "block");
      if (typeof r.valid !== "boolean") throw fail("valid must be a boolean");
      return { kind: "proposal", proposal: message(messageValues.proposalFrom, r.proposal), valid: r.valid, block: block(r.block) };
    case "vote":
    case "signedVote":
      keys("vote");
      return { kind: r.kind, vote: message(messageValues.voteFrom, r.vote) };
    case "timeout": {
      keys("height", "round", "step");
      const { height, round, step } = r;
      if (!Number.isSafeInteger(height) || (height as number) < 1) throw fail("timeout height must be an integer >= 1");
      if (!Number.isSafeInteger(round) || (round as number) < 0 || (round as number) > MAX_ROUND) throw fail("timeout round out of range");
      if (!STEPS.includes(step as RoundStep)) throw fail(`unknown timeout step ${JSON.stringify(step)}`);
      return { kind: "timeout", height: height as number, round: round as number, step: step as RoundStep };
    }
    case "signedProposal":
      keys("proposal", "block");
      return { kind: "signedProposal", proposal: message(messageValues.proposalFrom, r.proposal), block: block(r.block) };
    default:
      throw fail(`unknown record kind ${JSON.stringify(r.kind)}`);
  }
}
