/**
 * The node room, loaded on first use: commands that only touch the keystore
 * or talk RPC should not pay for loading the whole node (LevelDB, fastify, p2p).
 */
type NodeApi = typeof import("../node/index.js");

let api: Promise<NodeApi> | undefined;

export function nodeApi(): Promise<NodeApi> {
  api ??= import("../node/index.js");
  return api;
}

/** The home directory: --home, else SID_HOME, else ~/.sid (the node's rule). */
export async function homeOf(opts: { home?: string }): Promise<string> {
  return (await nodeApi()).resolveHome(opts.home);
}
