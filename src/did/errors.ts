import { CodedError, IGNORE, REJECT_INVALID, type Verdict } from "../errors.js";

/**
 * Codes of errors about DIDs: the pure rules of this room (a DID's syntax, a
 * document's validity) and the registry's refusals (chain/execute.ts), one
 * vocabulary for both.
 */
export enum DidErrorCode {
  INVALID_DID = "DID_INVALID",
  NOT_FOUND = "DID_NOT_FOUND",
  ALREADY_EXISTS = "DID_ALREADY_EXISTS",
  DEACTIVATED = "DID_DEACTIVATED",
  ID_MISMATCH = "DID_ID_MISMATCH",
  STALE_VERSION = "DID_STALE_VERSION",
  INVALID_DOCUMENT = "DID_INVALID_DOCUMENT",
}

/** What a DidError may carry: the document member at fault (its path, or the id of the entry). */
export interface DidErrorData {
  readonly path?: string;
  readonly id?: string;
  readonly did?: string;
}

/** A DID or document that breaks the rules is wrong whoever judges it. */
const DID_REJECTS: ReadonlySet<DidErrorCode> = new Set([DidErrorCode.INVALID_DID, DidErrorCode.INVALID_DOCUMENT, DidErrorCode.ID_MISMATCH]);

/** Errors of the did room's pure rules: INVALID_DID and INVALID_DOCUMENT. */
export class DidError extends CodedError<DidErrorCode.INVALID_DID | DidErrorCode.INVALID_DOCUMENT, DidErrorData> {
  protected override verdictOfCode(code: DidErrorCode): Verdict {
    return DID_REJECTS.has(code) ? REJECT_INVALID : IGNORE;
  }
}
