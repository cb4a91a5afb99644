export * from "./errors.js";
export * from "./bytes.js";
export * from "./hash.js";
export * from "./secp256k1.js";
export * from "./hd.js";
export * from "./encoding.js";
