/**
 * Typed errors of the credential SDK: thrown when a caller's input is wrong
 * (issue, present). A credential that fails verification is not an error
 * but a Verdict with a VerdictReason.
 */
import { CodedError } from "../../errors.js";

export enum CredentialErrorCode {
  /** An issue or present argument is out of its domain (bad DID, key, type name, claim, time). */
  INVALID_INPUT = "CREDENTIAL_INVALID_INPUT",
  /** The credential handed to present is not an SD-JWT VC of ours. */
  MALFORMED = "CREDENTIAL_MALFORMED",
  /** `disclose` names a claim the credential does not have; data.available lists those it has. */
  UNKNOWN_CLAIM = "CREDENTIAL_UNKNOWN_CLAIM",
  /** The holder secret key is not the key the credential is bound to (`cnf.jwk`). */
  HOLDER_KEY_MISMATCH = "CREDENTIAL_HOLDER_KEY_MISMATCH",
}

export class CredentialError extends CodedError<CredentialErrorCode> {}

export function invalidInput(field: string, problem: string): never {
  throw new CredentialError(CredentialErrorCode.INVALID_INPUT, `${field}: ${problem}`, { field });
}
