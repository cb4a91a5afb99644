/**
 * Typed errors of the chain room. Every rejection of a tx, wherever it comes
 * from (RPC, mempool, block execution), is a ChainError with one of these
 * codes; rpc/errors.ts maps them to JSON-RPC codes in one table.
 */
import { CodedError } from "../errors.js";

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
}

export type ChainErrorCode = TxErrorCode | DidErrorCode | BlockErrorCode;

export class ChainError extends CodedError<ChainErrorCode> {}

/** The codec's own error: anything undecodable or non-canonical. */
export class CodecError extends CodedError<TxErrorCode.DECODE> {
  constructor(message: string) {
    super(TxErrorCode.DECODE, message);
  }
}
