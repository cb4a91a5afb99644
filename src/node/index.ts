import { SidNode } from "./node.js";
import { createLogger } from "./log.js";

export { resolveHome, initHome, homePaths, NodeConfigError } from "./home.js";
export type { InitResult, HomePaths } from "./home.js";
export { SidNode } from "./node.js";
export { validatorInit, initNetworkHomes } from "./network-homes.js";

export interface StartOptions {
  home: string;
  dev: boolean;
  rpcPort?: number;
  rpcHost?: string;
  p2pPort?: number;
  heartbeatMs?: number;
  peers?: string[];
  log?: (line: string) => void;
}

/** Start a node (initialising a dev home first when `dev` and the home is empty). */
export async function startNode(opts: StartOptions): Promise<{ rpcUrl: string; stop(): Promise<void> }> {
  const rpc: { port?: number; host?: string } = {};
  if (opts.rpcPort !== undefined) rpc.port = opts.rpcPort;
  if (opts.rpcHost !== undefined) rpc.host = opts.rpcHost;
  const node = await SidNode.start(
    {
      home: opts.home,
      dev: opts.dev,
      rpc,
      ...(opts.p2pPort !== undefined ? { p2pPort: opts.p2pPort } : {}),
      ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
      ...(opts.peers !== undefined ? { peers: opts.peers } : {}),
      mempool: {},
    },
    createLogger(opts.log),
  );
  return { rpcUrl: node.rpcUrl, stop: () => node.stop() };
}
