import { SidNode } from "./node.js";
import { createLogger } from "../log/logger.js";
import { LEVELDB_CHANGES, levelDbBuild } from "../chain/db/level-build.js";

export { resolveHome, initHome, homePaths, NodeConfigError } from "./home.js";
export type { InitResult, HomePaths } from "./home.js";
export { SidNode, EXIT_STORAGE_FAULT, GUARD_RESET_MARGIN } from "./node.js";
export { initJoinHome } from "./home.js";
export { validatorInit, initNetworkHomes } from "./network-homes.js";

export interface StartOptions {
  home: string;
  dev: boolean;
  rpcPort?: number;
  rpcHost?: string;
  p2pPort?: number;
  heartbeatMs?: number;
  peers?: string[];
  /** Sign again after the guard state was lost (see NodeOptions.resetGuardState). */
  resetGuardState?: boolean;
  log?: (line: string) => void;
}

export interface RunningNode {
  rpcUrl: string;
  stop(): Promise<void>;
  /** Called once if a storage fault stops the node, with the one-line cause and what to do. */
  onFault(fn: (f: { message: string; remedy: string }) => void): void;
}

/** Start a node (initialising a dev home first when `dev` and the home is empty). */
export async function startNode(opts: StartOptions): Promise<RunningNode> {
  const rpc: { port?: number; host?: string } = {};
  if (opts.rpcPort !== undefined) rpc.port = opts.rpcPort;
  if (opts.rpcHost !== undefined) rpc.host = opts.rpcHost;
  const log = createLogger(opts.log);
  const level = levelDbBuild();
  if (level.missing.length > 0) {
    const what = level.missing.map((c) => LEVELDB_CHANGES[c]).join("; ");
    log.warn(`LevelDB: a binary without the node's changes, which ${what}; \`npm run build:leveldb\` builds the node's own (docs/operations.md#leveldb-as-built-for-the-node)`, { binary: level.binary });
  } else log.info("LevelDB: the node's build (no compactions triggered by reads, tables read with pread)", { binary: level.binary });
  const node = await SidNode.start(
    {
      home: opts.home,
      dev: opts.dev,
      rpc,
      ...(opts.p2pPort !== undefined ? { p2pPort: opts.p2pPort } : {}),
      ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
      ...(opts.peers !== undefined ? { peers: opts.peers } : {}),
      ...(opts.resetGuardState ? { resetGuardState: true } : {}),
      mempool: {},
    },
    log,
  );
  return { rpcUrl: node.rpcUrl, stop: () => node.stop(), onFault: (fn) => node.onFault((f) => fn({ message: f.message, remedy: f.remedy })) };
}
