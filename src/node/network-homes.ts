/**
 * Homes for a network of several nodes sharing one genesis: N validators
 * (power 10 each) and full nodes, each home with its own keys, node.json
 * (ports, persistent peers, consensus timeouts) and the same genesis,
 * whose trustees are the first home's local trustee (threshold 1), as
 * `sid init` makes them. Used by the devnet, its tests, and `sid init
 * --validators N`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toHex } from "../crypto/bytes.js";
import { randomKeyPair } from "../crypto/hd.js";
import { publicKeyOf } from "../crypto/secp256k1.js";
import { type ConsensusTiming, parseGenesis } from "../chain/genesis.js";
import { validatorAddress } from "../chain/validator-set.js";
import { formatAddress } from "../p2p/index.js";
import { type ValidatorKeyFile, NodeConfigError, homePaths, initHome, loadValidatorKey } from "./home.js";

export interface NetworkHomesOptions {
  validators: number;
  fullNodes: number;
  chainId: string;
  /** Loopback ports, two per node (RPC, p2p), in node order. */
  ports: number[];
  /**
   * p2p address of each node, in node order: what it listens on and what
   * its peers dial (default 127.0.0.1 for every node). Nodes in network
   * namespaces of their own each have an address there.
   */
  p2pHosts?: string[];
  /**
   * Consensus options in node.json's shape: the chain's timing
   * (tendermint.proposeMs/prevoteMs/precommitMs/deltaMs, timeoutCommitMs)
   * goes to genesis params.timing; the rest (catchUpAfterMs,
   * initialSyncWaitMs, ...) to every node's node.json "consensus".
   */
  consensus?: Record<string, unknown>;
  /** Extra node.json "p2p" options of every node. */
  p2p?: Record<string, unknown>;
  params?: { maxBlockTxs: number; maxBlockBytes: number };
}

/** Split node.json-shaped consensus options into the chain's timing (genesis) and the node-local rest. */
export function splitConsensusOptions(consensus: Record<string, unknown> | undefined): { timing: Partial<ConsensusTiming>; local: Record<string, unknown> } {
  const timing: Partial<ConsensusTiming> = {};
  if (!consensus) return { timing, local: {} };
  const { tendermint, timeoutCommitMs, ...local } = consensus;
  const tm = { ...(tendermint as Record<string, unknown> | undefined) };
  for (const k of ["proposeMs", "prevoteMs", "precommitMs", "deltaMs"] as const) {
    if (typeof tm[k] === "number") timing[k] = tm[k];
    delete tm[k];
  }
  if (typeof timeoutCommitMs === "number") timing.commitMs = timeoutCommitMs;
  if (Object.keys(tm).length > 0) local.tendermint = tm;
  return { timing, local };
}

export interface NetworkNodeHome {
  name: string;
  home: string;
  role: "validator" | "full";
  rpcPort: number;
  p2pPort: number;
  /** Address the node's p2p listens on and its peers dial. */
  p2pHost: string;
  /** Validator address (hex), for validators. */
  address?: string;
}

/**
 * `sid validator init`: the home's validator key, made if absent. Prints
 * what a genesis or a governance proposal names: the public key and address.
 */
export function validatorInit(home: string): { created: boolean; publicKey: string; address: string; keyFile: string } {
  const paths = homePaths(home);
  const existing = loadValidatorKey(paths);
  if (existing) {
    const pk = publicKeyOf(existing);
    return { created: false, publicKey: toHex(pk), address: toHex(validatorAddress(pk)), keyFile: paths.validatorKeyFile };
  }
  mkdirSync(paths.configDir, { recursive: true, mode: 0o700 });
  const key = randomKeyPair();
  const file: ValidatorKeyFile = { address: toHex(validatorAddress(key.publicKey)), publicKey: toHex(key.publicKey), secretKey: toHex(key.secretKey) };
  // "wx": never overwrite a key another process wrote meanwhile.
  writeFileSync(paths.validatorKeyFile, JSON.stringify(file, null, 2) + "\n", { mode: 0o600, flag: "wx" });
  return { created: true, publicKey: file.publicKey, address: file.address, keyFile: paths.validatorKeyFile };
}

/** Make the homes under `root` (root/node-0 ... ): validators first, then full nodes. */
export async function initNetworkHomes(root: string, opts: NetworkHomesOptions): Promise<NetworkNodeHome[]> {
  const total = opts.validators + opts.fullNodes;
  if (!Number.isSafeInteger(opts.validators) || opts.validators < 1 || opts.validators > 100) throw new NodeConfigError("validators must be an integer in [1, 100]");
  if (!Number.isSafeInteger(opts.fullNodes) || opts.fullNodes < 0 || opts.fullNodes > 100) throw new NodeConfigError("full nodes must be an integer in [0, 100]");
  if (opts.ports.length < 2 * total) throw new NodeConfigError(`${total} nodes need ${2 * total} ports, got ${opts.ports.length}`);
  if (opts.p2pHosts !== undefined && (opts.p2pHosts.length !== total || opts.p2pHosts.some((h) => typeof h !== "string" || h === ""))) {
    throw new NodeConfigError(`p2pHosts must name a non-empty host for each of the ${total} nodes, got ${JSON.stringify(opts.p2pHosts).slice(0, 200)}`);
  }
  const hostOf = (i: number) => opts.p2pHosts?.[i] ?? "127.0.0.1";
  const nodes: NetworkNodeHome[] = [];
  for (let i = 0; i < total; i++) {
    const home = join(root, `node-${i}`);
    if (existsSync(join(home, "config", "genesis.json"))) throw new NodeConfigError(`${home} is already initialized`);
    await initHome(home, { dev: false, chainId: opts.chainId });
    const paths = homePaths(home);
    const role = i < opts.validators ? "validator" : "full";
    if (role === "full") rmSync(paths.validatorKeyFile);
    const node: NetworkNodeHome = { name: role === "validator" ? `validator-${i}` : `full-${i - opts.validators}`, home, role, rpcPort: opts.ports[2 * i]!, p2pPort: opts.ports[2 * i + 1]!, p2pHost: hostOf(i) };
    if (role === "validator") node.address = toHex(validatorAddress(publicKeyOf(loadValidatorKey(paths)!)));
    nodes.push(node);
  }
  const first = homePaths(nodes[0]!.home);
  const base = JSON.parse(readFileSync(first.genesisFile, "utf8")) as Record<string, unknown>;
  const split = splitConsensusOptions(opts.consensus);
  const genesis = parseGenesis({
    ...base,
    chainId: opts.chainId,
    validators: nodes
      .filter((n) => n.role === "validator")
      .map((n) => {
        const sk = loadValidatorKey(homePaths(n.home))!;
        return { name: n.name, publicKey: toHex(publicKeyOf(sk)), power: 10 };
      }),
    params: { ...(base.params as Record<string, unknown> | undefined), ...opts.params, timing: { ...((base.params as { timing?: object } | undefined)?.timing), ...split.timing } },
  });
  const text = JSON.stringify(genesis, null, 2) + "\n";
  for (const n of nodes) {
    const paths = homePaths(n.home);
    writeFileSync(paths.genesisFile, text);
    const peers = nodes.filter((o) => o !== n).map((o) => formatAddress(o.p2pHost, o.p2pPort));
    const cfg = {
      rpc: { port: n.rpcPort },
      // host only when not the default, so loopback homes read as before.
      p2p: { ...(n.p2pHost !== "127.0.0.1" ? { host: n.p2pHost } : {}), port: n.p2pPort, persistentPeers: peers, redialBaseMs: 250, redialMaxMs: 2_000, ...opts.p2p },
      ...(Object.keys(split.local).length > 0 ? { consensus: split.local } : {}),
    };
    writeFileSync(paths.configFile, JSON.stringify(cfg, null, 2) + "\n");
  }
  return nodes;
}
