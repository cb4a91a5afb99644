/**
 * Typed errors of the chain room. Every rejection of a tx, wherever it comes
 * from (RPC, mempool, block execution), is a ChainError with one of these
 * codes; rpc/errors.ts maps them to JSON-RPC codes in one table.
 */
import { CodedError } from "../errors.js";
import { StatusListErrorCode } from "../did/status-list.js";

export enum TxErrorCode {
  DECODE = "TX_DECODE",
  TOO_LARGE = "TX_TOO_LARGE",
  UNKNOWN_TYPE = "TX_UNKNOWN_TYPE",
  BAD_FIELD = "TX_BAD_FIELD",
  WRONG_CHAIN = "TX_WRONG_CHAIN",
  BAD_SIGNATURE = "TX_BAD_SIGNATURE",
  HIGH_S_SIGNATURE = "TX_HIGH_S_SIGNATURE",
  BAD_SEQUENCE = "TX_BAD_SEQUENCE",
  UNKNOWN_SIGNER = "TX_UNKNOWN_SIGNER",
  UNAUTHORIZED = "TX_UNAUTHORIZED",
  DUPLICATE = "TX_DUPLICATE",
  ALREADY_COMMITTED = "TX_ALREADY_COMMITTED",
  MEMPOOL_FULL = "MEMPOOL_FULL",
}

export enum DidErrorCode {
  INVALID_DID = "DID_INVALID",
  NOT_FOUND = "DID_NOT_FOUND",
  ALREADY_EXISTS = "DID_ALREADY_EXISTS",
  DEACTIVATED = "DID_DEACTIVATED",
  ID_MISMATCH = "DID_ID_MISMATCH",
  STALE_VERSION = "DID_STALE_VERSION",
  INVALID_DOCUMENT = "DID_INVALID_DOCUMENT",
}

export enum BlockErrorCode {
  INVALID_BLOCK = "BLOCK_INVALID",
  NOT_FOUND = "BLOCK_NOT_FOUND",
  /** The state tree of that height is pruned: the node keeps the trees of its last StoreOptions.stateHistory heights. */
  STATE_PRUNED = "BLOCK_STATE_PRUNED",
  /** History (blocks, txs, DID versions) before the first height of a node started from a state snapshot: an archive node has it. */
  HISTORY_NOT_HERE = "HISTORY_NOT_ON_THIS_NODE",
}

/** Governance: trustees, proposals, approvals. */
export enum GovErrorCode {
  DISABLED = "GOV_DISABLED",
  NOT_TRUSTEE = "GOV_NOT_TRUSTEE",
  PROPOSAL_NOT_FOUND = "GOV_PROPOSAL_NOT_FOUND",
  PROPOSAL_EXISTS = "GOV_PROPOSAL_EXISTS",
  PROPOSAL_EXPIRED = "GOV_PROPOSAL_EXPIRED",
  PROPOSAL_CLOSED = "GOV_PROPOSAL_CLOSED",
  ACTION_MISMATCH = "GOV_ACTION_MISMATCH",
  ALREADY_APPROVED = "GOV_ALREADY_APPROVED",
  ACTION_FAILED = "GOV_ACTION_FAILED",
  /** validator/set power 0 names a key that is not in the validator set. */
  VALIDATOR_NOT_FOUND = "GOV_VALIDATOR_NOT_FOUND",
  /** validator/set would leave no validator or no voting power: the chain would halt. */
  VALIDATOR_SET_EMPTY = "GOV_VALIDATOR_SET_EMPTY",
  /** validator/set would grow the set past its bound. */
  VALIDATOR_SET_FULL = "GOV_VALIDATOR_SET_FULL",
}

/** The KYC registry: issuers (status lists have StatusListErrorCode). */
export enum KycErrorCode {
  ISSUER_NOT_FOUND = "ISSUER_NOT_FOUND",
  ISSUER_EXISTS = "ISSUER_EXISTS",
  ISSUER_NOT_ACTIVE = "ISSUER_NOT_ACTIVE",
  TYPE_NOT_ACCREDITED = "ISSUER_TYPE_NOT_ACCREDITED",
}

/** Evidence of validator misbehaviour in blocks and over RPC. */
export enum EvidenceErrorCode {
  /** Evidence that does not decode or does not prove misbehaviour by the set at its height (forged signature, wrong set, from the future). */
  INVALID = "EVIDENCE_INVALID",
  /** Evidence whose height is more than maxEvidenceAgeBlocks below the including block. */
  TOO_OLD = "EVIDENCE_TOO_OLD",
  /** Evidence already committed in an earlier block, or listed twice in one block. */
  DUPLICATE = "EVIDENCE_DUPLICATE",
  /** No committed evidence with that hash. */
  NOT_FOUND = "EVIDENCE_NOT_FOUND",
}

export { StatusListErrorCode };

export type ChainErrorCode = TxErrorCode | DidErrorCode | BlockErrorCode | GovErrorCode | KycErrorCode | StatusListErrorCode | EvidenceErrorCode;

export class ChainError extends CodedError<ChainErrorCode> {}

/** The codec's own error: anything undecodable or non-canonical. */
export class CodecError extends CodedError<TxErrorCode.DECODE> {
  constructor(message: string) {
    super(TxErrorCode.DECODE, message);
  }
}
