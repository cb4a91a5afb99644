/**
 * KYC credentials off chain (issue 4): issue SD-JWT VC and JWT VC, present
 * an SD-JWT VC selectively, verify either against the on-chain anchor, the
 * issuer registry and the DID documents. What other rooms may use; the
 * parsing and JOSE helpers stay private.
 */
export * from "./types.js";
export { CredentialError, CredentialErrorCode } from "./errors.js";
export {
  CLAIM_NAME_RE,
  CREDENTIAL_ID_RE,
  CREDENTIAL_JTI_PREFIX,
  CREDENTIAL_LIMITS,
  RESERVED_CLAIM_NAMES,
  SD_JWT_VC_TYP,
  TYPE_NAME_RE,
  VCT_PREFIX,
  VC_BASE_TYPE,
  VC_CONTEXT_V1,
  credentialDigest,
  credentialIdFromJti,
  credentialJti,
  isCredentialId,
  isTypeName,
  issuerSignedJwt,
  newCredentialId,
  typeOfVct,
  vctOfType,
} from "./contract.js";
export { issueJwtVc, issueSdJwtVc } from "./issue.js";
export { presentSdJwtVc } from "./present.js";
export { KB_JWT_TYP, verifyCredentialPresentation } from "./verify.js";
