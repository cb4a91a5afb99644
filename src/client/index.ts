export * from "./rpc-client.js";
export * from "./txs.js";
export * from "./sid-client.js";
export * from "./resolver.js";
