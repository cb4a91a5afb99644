export * from "./rpc-client.js";
export * from "./txs.js";
export * from "./sid-client.js";
export * from "./registry-client.js";
export * from "./credentials/index.js";
export * from "./trust.js";
export * from "./verify-proof.js";
export { PROOF_FORMAT, ProofError, ProofErrorCode, type StateProofJson } from "../chain/proof.js";
export * from "./resolver.js";
