export * from "./rpc-client.js";
export * from "./txs.js";
export * from "./sid-client.js";
export * from "./registry-client.js";
export * from "./credentials/index.js";
export * from "./kyc.js";
