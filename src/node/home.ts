/**
 * The node's home directory:
 *   <home>/config/genesis.json         the chain's genesis
 *   <home>/config/node.json            node options (ports, limits)
 *   <home>/config/validator_key.json   the validator's secret key (0600)
 *   <home>/config/trustee_key.json     a local trustee key (0600), made by `sid init`
 *   <home>/data/chain/                 LevelDB: blocks, state, indexes
 *   <home>/keys/                       encrypted user keys (sid keys ...)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fromHex, toHex } from "../crypto/bytes.js";
import { randomKeyPair } from "../crypto/hd.js";
import { publicKeyOf } from "../crypto/secp256k1.js";
import { type Genesis, parseGenesis } from "../chain/genesis.js";
import { isValidChainId } from "../chain/tx.js";
import { validatorAddress } from "../chain/validator-set.js";
import { didFromPublicKey } from "../did/syntax.js";
import { CodedError } from "../errors.js";

export class NodeConfigError extends CodedError<"NODE_CONFIG"> {
  constructor(message: string) {
    super("NODE_CONFIG", message);
  }
}

export interface HomePaths {
  home: string;
  configDir: string;
  dataDir: string;
  keysDir: string;
  genesisFile: string;
  configFile: string;
  validatorKeyFile: string;
  trusteeKeyFile: string;
  chainDb: string;
}

export function homePaths(home: string): HomePaths {
  const h = resolve(home);
  const configDir = join(h, "config");
  const dataDir = join(h, "data");
  return {
    home: h,
    configDir,
    dataDir,
    keysDir: join(h, "keys"),
    genesisFile: join(configDir, "genesis.json"),
    configFile: join(configDir, "node.json"),
    validatorKeyFile: join(configDir, "validator_key.json"),
    trusteeKeyFile: join(configDir, "trustee_key.json"),
    chainDb: join(dataDir, "chain"),
  };
}

/** --home, else SID_HOME, else ~/.sid */
export function resolveHome(flag?: string): string {
  return resolve(flag ?? process.env.SID_HOME ?? join(homedir(), ".sid"));
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new NodeConfigError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new NodeConfigError(`${what} ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export function loadGenesis(paths: HomePaths): Genesis {
  try {
    return parseGenesis(readJson(paths.genesisFile, "genesis file"));
  } catch (e) {
    if (e instanceof NodeConfigError) throw e;
    throw new NodeConfigError(`${paths.genesisFile}: ${(e as Error).message}`);
  }
}

export interface ValidatorKeyFile {
  address: string;
  publicKey: string;
  secretKey: string;
}

export function loadValidatorKey(paths: HomePaths): Uint8Array | undefined {
  if (!existsSync(paths.validatorKeyFile)) return undefined;
  const raw = readJson(paths.validatorKeyFile, "validator key file") as Partial<ValidatorKeyFile>;
  try {
    const sk = fromHex(String(raw.secretKey), 32);
    publicKeyOf(sk);
    return sk;
  } catch (e) {
    throw new NodeConfigError(`validator key file ${paths.validatorKeyFile} is invalid: ${(e as Error).message}`);
  }
}

/** The repository's genesis templates (genesis/*.json next to dist/). */
function genesisTemplate(name: string): Record<string, unknown> {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ["../../..", "../.."]) {
    const p = join(here, up, "genesis", `${name}.json`);
    if (existsSync(p)) return readJson(p, "genesis template") as Record<string, unknown>;
  }
  throw new NodeConfigError(`genesis template ${name}.json not found`);
}

export interface InitResult {
  created: boolean;
  chainId: string;
  /** "" for a full node's home (no validator key). */
  validatorAddress: string;
  /** The validator's public key (hex, compressed): what a genesis or `sid validator add` names; "" for a full node. */
  validatorPublicKey: string;
  genesisFile: string;
  /** The DID of the local trustee key, when this home has one. */
  trusteeDid?: string;
}

export interface TrusteeKeyFile {
  did: string;
  publicKey: string;
  secretKey: string;
}

/** The local trustee key (`sid init` makes one), or undefined when the home has none. */
export function loadTrusteeKey(paths: HomePaths): { did: string; secretKey: Uint8Array } | undefined {
  if (!existsSync(paths.trusteeKeyFile)) return undefined;
  const raw = readJson(paths.trusteeKeyFile, "trustee key file") as Partial<TrusteeKeyFile>;
  try {
    const sk = fromHex(String(raw.secretKey), 32);
    return { did: didFromPublicKey(publicKeyOf(sk)), secretKey: sk };
  } catch (e) {
    throw new NodeConfigError(`trustee key file ${paths.trusteeKeyFile} is invalid: ${(e as Error).message}`);
  }
}

/**
 * Make a home: a fresh validator key and a single-validator genesis naming
 * it (from genesis/dev.json). An existing home is left alone unless `force`.
 */
export async function initHome(home: string, opts: { dev: boolean; chainId?: string; force?: boolean }): Promise<InitResult> {
  const paths = homePaths(home);
  if (existsSync(paths.genesisFile) && !opts.force) return initHomeExisting(paths);
  if (opts.force && existsSync(paths.chainDb)) {
    throw new NodeConfigError(`${paths.home} already holds chain data; --force would orphan it. Remove ${paths.dataDir} first.`);
  }
  if (opts.chainId !== undefined && !isValidChainId(opts.chainId)) {
    throw new NodeConfigError("chain id must match [a-z0-9][a-z0-9-]{0,47}");
  }
  for (const d of [paths.configDir, paths.dataDir, paths.keysDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const key = randomKeyPair();
  const address = toHex(validatorAddress(key.publicKey));
  const keyFile: ValidatorKeyFile = { address, publicKey: toHex(key.publicKey), secretKey: toHex(key.secretKey) };
  writeFileSync(paths.validatorKeyFile, JSON.stringify(keyFile, null, 2) + "\n", { mode: 0o600 });
  // The local trustee, alone with threshold 1: governance (the issuer registry) runs on one machine.
  const trustee = randomKeyPair();
  const trusteeDid = didFromPublicKey(trustee.publicKey);
  const trusteeFile: TrusteeKeyFile = { did: trusteeDid, publicKey: toHex(trustee.publicKey), secretKey: toHex(trustee.secretKey) };
  writeFileSync(paths.trusteeKeyFile, JSON.stringify(trusteeFile, null, 2) + "\n", { mode: 0o600 });
  const template = genesisTemplate("dev");
  const genesis = parseGenesis({
    ...template,
    chainId: opts.chainId ?? (opts.dev ? template.chainId : "sid-local"),
    genesisTime: new Date().toISOString(),
    validators: [{ name: "validator-0", publicKey: toHex(key.publicKey), power: 10 }],
    trustees: { members: [trusteeDid], threshold: 1 },
  });
  writeFileSync(paths.genesisFile, JSON.stringify(genesis, null, 2) + "\n");
  return { created: true, chainId: genesis.chainId, validatorAddress: address, validatorPublicKey: keyFile.publicKey, genesisFile: paths.genesisFile, trusteeDid };
}

export interface JoinHomeOptions {
  /** The network's genesis file, copied into the home. */
  genesisFile: string;
  /** Persistent peers ("host:port" or "nodeId@host:port"), written to node.json p2p.persistentPeers. */
  peers: string[];
  /** false: a full node's home, without a validator key. */
  validator: boolean;
  p2pPort?: number;
  rpcPort?: number;
  /** Start from a peer's state snapshot instead of replaying every block (node.json "stateSync"). */
  stateSync?: boolean;
}

/**
 * A home that joins an existing network: its genesis copied, its peers in
 * node.json, and a fresh validator key unless it is a full node's. Consensus
 * timing comes from the genesis, so node.json names none. An existing home
 * is left alone (created: false).
 */
export function initJoinHome(home: string, opts: JoinHomeOptions): InitResult {
  const paths = homePaths(home);
  // Checked first: a bad genesis or peer list leaves no half-made home behind.
  const genesisText = (() => {
    try {
      return readFileSync(opts.genesisFile, "utf8");
    } catch (e) {
      throw new NodeConfigError(`cannot read genesis file ${opts.genesisFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  })();
  let genesis: Genesis;
  try {
    genesis = parseGenesis(JSON.parse(genesisText));
  } catch (e) {
    throw new NodeConfigError(`${opts.genesisFile}: ${(e as Error).message}`);
  }
  if (opts.peers.length === 0) throw new NodeConfigError("--peers must name at least one peer of the network (host:port, comma-separated)");
  for (const p of opts.peers) {
    if (!/^(?:[0-9a-f]{40}@)?[^\s@]+:\d{1,5}$/.test(p)) throw new NodeConfigError(`peer "${p}" is not host:port or nodeId@host:port`);
  }
  if (existsSync(paths.genesisFile)) {
    const r = initHomeExisting(paths);
    return r;
  }
  for (const d of [paths.configDir, paths.dataDir, paths.keysDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
  writeFileSync(paths.genesisFile, genesisText.endsWith("\n") ? genesisText : genesisText + "\n");
  const cfg = { p2p: { ...(opts.p2pPort !== undefined ? { port: opts.p2pPort } : {}), persistentPeers: opts.peers }, ...(opts.rpcPort !== undefined ? { rpc: { port: opts.rpcPort } } : {}), ...(opts.stateSync ? { stateSync: { enabled: true } } : {}) };
  writeFileSync(paths.configFile, JSON.stringify(cfg, null, 2) + "\n");
  let address = "";
  let publicKey = "";
  if (opts.validator) {
    const key = randomKeyPair();
    address = toHex(validatorAddress(key.publicKey));
    publicKey = toHex(key.publicKey);
    const keyFile: ValidatorKeyFile = { address, publicKey, secretKey: toHex(key.secretKey) };
    writeFileSync(paths.validatorKeyFile, JSON.stringify(keyFile, null, 2) + "\n", { mode: 0o600, flag: "wx" });
  }
  return { created: true, chainId: genesis.chainId, validatorAddress: address, validatorPublicKey: publicKey, genesisFile: paths.genesisFile };
}

function initHomeExisting(paths: HomePaths): InitResult {
  const g = loadGenesis(paths);
  const sk = loadValidatorKey(paths);
  return {
    created: false,
    chainId: g.chainId,
    validatorAddress: sk ? toHex(validatorAddress(publicKeyOf(sk))) : "",
    validatorPublicKey: sk ? toHex(publicKeyOf(sk)) : "",
    genesisFile: paths.genesisFile,
    ...(existsSync(paths.trusteeKeyFile) ? { trusteeDid: loadTrusteeKey(paths)?.did } : {}),
  };
}
