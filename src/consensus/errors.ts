/**
 * Typed errors of the consensus room. Messages that come from peers are
 * refused with BAD_MESSAGE (never another exception), whose verdict blames
 * the sender, so the p2p side scores the peer by the error; the WAL and the sign-state file report damage
 * with their own codes, because an operator must act on those.
 *
 * DoubleSignError (signer.ts) stays where it is: it predates this file and
 * its code is already in use.
 */
import { CodedError, IGNORE, REJECT_INVALID, type Verdict } from "../errors.js";

export enum ConsensusErrorCode {
  /** A proposal, vote or evidence that fails decoding or validateBasic. */
  BAD_MESSAGE = "CONSENSUS_BAD_MESSAGE",
  /** A vote or proposal signed by an address outside the validator set. */
  UNKNOWN_VALIDATOR = "CONSENSUS_UNKNOWN_VALIDATOR",
  /** A vote for another height than the vote set's. */
  WRONG_HEIGHT = "CONSENSUS_WRONG_HEIGHT",
  /** Precommits that do not form one commit (mixed targets, repeated validators, nil). */
  BAD_COMMIT = "CONSENSUS_BAD_COMMIT",
  /** Evidence that does not prove misbehaviour. */
  BAD_EVIDENCE = "CONSENSUS_BAD_EVIDENCE",
  /** A driver used the state machine out of order (e.g. start at a lower height). */
  BAD_INPUT = "CONSENSUS_BAD_INPUT",
  /** This node's key is not (or no longer) able to sign blocks: out of the validator set at the height, or without a quorum alone. */
  NOT_VALIDATOR = "CONSENSUS_NOT_VALIDATOR",
  /** Options out of range. */
  BAD_OPTIONS = "CONSENSUS_BAD_OPTIONS",
  /** A WAL record that fails its checksum with valid records after it: not a torn write. */
  WAL_CORRUPT = "WAL_CORRUPT",
  /** The WAL was used after close, or a record is too large to frame. */
  WAL_USAGE = "WAL_USAGE",
  /** The validator's sign-state file exists but cannot be trusted. */
  PRIVVAL_STATE = "PRIVVAL_BAD_STATE",
}

/** What a ConsensusError may carry: the file and offset of damage (WAL, guard state), the floor a reset guard holds to. */
export interface ConsensusErrorData {
  readonly path?: string;
  readonly offset?: number;
  readonly floor?: number;
  readonly height?: number;
}

/** Input that is wrong whoever judges it: its sender is to blame. Every other code is this node's own condition. */
const CONSENSUS_REJECTS: ReadonlySet<ConsensusErrorCode> = new Set([ConsensusErrorCode.BAD_MESSAGE, ConsensusErrorCode.BAD_COMMIT, ConsensusErrorCode.BAD_EVIDENCE]);

export class ConsensusError extends CodedError<ConsensusErrorCode, ConsensusErrorData> {
  protected override verdictOfCode(code: ConsensusErrorCode): Verdict {
    return CONSENSUS_REJECTS.has(code) ? REJECT_INVALID : IGNORE;
  }
}
