/**
 * KYC credentials off chain: issue one-time copies (SD-JWT VC or JWT VC)
 * that name an on-chain status list entry, present an SD-JWT VC copy
 * selectively, verify either against the issuer's DID and status list.
 * What other rooms may use; the parsing and JOSE helpers stay private.
 */
export * from "./types.js";
export { CredentialError, CredentialErrorCode } from "./errors.js";
export {
  CLAIM_NAME_RE,
  CREDENTIAL_ID_RE,
  CREDENTIAL_LIMITS,
  DAY_SECONDS,
  DEFAULT_SD_DIGESTS,
  RESERVED_CLAIM_NAMES,
  SD_JWT_VC_TYP,
  TYPE_NAME_RE,
  VCT_PREFIX,
  VC_BASE_TYPE,
  VC_CONTEXT_V1,
  credentialDigest,
  dayStart,
  isCredentialId,
  isTypeName,
  issuerSignedJwt,
  newCredentialId,
  typeOfVct,
  vctOfType,
} from "./contract.js";
export { MAX_COPIES, issueCopies } from "./issue.js";
export { presentSdJwtVc } from "./present.js";
export { KB_JWT_TYP, verifyCredentialPresentation } from "./verify.js";
export { es256kVerify } from "./jose.js";
export {
  LIST_ID_RE,
  STATUS_LIST_LIMITS,
  STATUS_LIST_TYP,
  StatusValue,
  buildStatusListToken,
  getStatus,
  parseStatusListToken,
  parseStatusListUri,
  setStatus,
  statusListUri,
  unissuedList,
  type StatusReference,
} from "./status-token.js";
