export * from "./rpc-client.js";
export * from "./txs.js";
export * from "./sid-client.js";
export * from "./registry-client.js";
export * from "./credentials/index.js";
export * from "./trust.js";
export { DEFAULT_TRUST_LEVEL, type LightBlock, type TrustLevel, type TrustedValidators, type VerificationRule, verifyAdjacent, verifySkipping } from "../chain/light-block.js";
export { powerSigned } from "../chain/vote.js";
export * from "./verify-proof.js";
export { PROOF_FORMAT, ProofError, ProofErrorCode, type StateProofJson } from "../chain/proof.js";
export * from "./resolver.js";
export * from "./kyc.js";
export * from "./contexts.js";
// Keys: BIP39 mnemonics and the HD keys a DID is made from (key i is m/44'/0'/0'/0/<i>).
export { generateMnemonic, validateMnemonic, deriveKey, randomKeyPair, DID_KEY_PATH_PREFIX, type KeyPair } from "../crypto/hd.js";
// Documents: the types and the pure editing helpers SidClient.updateDid takes.
export {
  type DidDocument,
  type VerificationMethod,
  type Service,
  type Relationship,
  DID_CONTEXT,
  SID_CONTEXT,
  buildInitialDocument,
  completeContexts,
} from "../did/document.js";
export { addVerificationMethod, removeVerificationMethod, addService, removeService } from "../did/document-edit.js";
export { didFromPublicKey } from "../did/syntax.js";
export type { DidResolutionResult, DidDocumentMetadata, ResolutionOptions } from "../did/resolution.js";
export * from "./kyc-store.js";
export * from "./status-list-client.js";
export { HOLDER_KEY_PATH_PREFIX, HolderKeys, holderKeyPath } from "./credentials/holder-keys.js";
