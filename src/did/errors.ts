import { CodedError } from "../errors.js";

/** Typed errors of the did room (pure rules). */
export enum DidRuleCode {
  INVALID_DID = "DID_INVALID",
  INVALID_DOCUMENT = "DID_INVALID_DOCUMENT",
}

export class DidError extends CodedError<DidRuleCode> {}
