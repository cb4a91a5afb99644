/**
 * Typed errors of the consensus room. Messages that come from peers are
 * refused with BAD_MESSAGE (never another exception), so the p2p side can
 * score the peer on the code; the WAL and the sign-state file report damage
 * with their own codes, because an operator must act on those.
 *
 * DoubleSignError (signer.ts) stays where it is: it predates this file and
 * its code is already in use.
 */
import { CodedError } from "../errors.js";

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

export class ConsensusError extends CodedError<ConsensusErrorCode> {}
