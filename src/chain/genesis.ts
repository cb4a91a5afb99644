/**
 * The genesis file: chain id, genesis time, the validator set and the
 * consensus parameters every node must share. Its hash (sha256 of the
 * canonical encoding) is the previous hash of block 1, so two nodes with
 * different genesis files cannot share a chain.
 */
import { fromHex } from "../crypto/bytes.js";
import { sha256 } from "../crypto/hash.js";
import { assertCompressedPublicKey } from "../crypto/secp256k1.js";
import { encodeCanonical } from "./codec.js";
import { MAX_TRUSTEES, isValidChainId } from "./tx.js";
import { parseDid } from "../did/syntax.js";
import { KYC_LIMITS, isIssuerName, isTypeName, type IssuerRecord } from "../did/kyc.js";
import type { ChainParamsRecord, StateRecord, TrusteesRecord } from "./state.js";
import { genesisValidatorsRecord } from "./validators.js";
import { CodedError } from "../errors.js";

export interface GenesisValidator {
  name: string;
  /** 33-byte compressed secp256k1 key, hex. */
  publicKey: string;
  power: number;
}

export interface ConsensusParams {
  /** Most txs in one block. */
  maxBlockTxs: number;
  /** Most bytes of encoded txs in one block. */
  maxBlockBytes: number;
  /**
   * Evidence of misbehaviour at a height more than this many blocks below the
   * including block is refused: old evidence cannot be
   * replayed forever, and nodes need keep validator sets only this far back
   * for it. parseGenesis always fills it; optional so older in-code params
   * keep compiling (readers use maxEvidenceAge()).
   */
  maxEvidenceAgeBlocks?: number;
  /**
   * Consensus timing every validator of the chain runs with. A chain's
   * validators must agree on it: one with longer timeouts (or a longer wait
   * after each commit) than the others falls behind them. Optional so a
   * genesis written without it keeps its hash; readers use
   * consensusTiming(), which gives the defaults when it is absent.
   */
  timing?: ConsensusTiming;
}

/** Tendermint timeouts and the wait after each commit, in ms (a chain parameter: genesis `params.timing`). */
export interface ConsensusTiming {
  /** timeoutPropose(0): how long to wait for a round's proposal. */
  proposeMs: number;
  /** timeoutPrevote(0): how long to wait for more prevotes after 2f+1 of any kind. */
  prevoteMs: number;
  /** timeoutPrecommit(0): how long to wait for more precommits after 2f+1 of any kind. */
  precommitMs: number;
  /** Added to each timeout per round (timeout(r) = base + r * deltaMs). */
  deltaMs: number;
  /** Wait after a commit before the next height starts (late precommits, txs to gather). */
  commitMs: number;
}

/**
 * The timing of a genesis that names none: the values `npm run devnet` has
 * run with (loopback peers deliver late precommits within milliseconds, so
 * a short wait after each commit; measured in test/helpers/devnet.ts).
 */
export const defaultConsensusTiming: Readonly<ConsensusTiming> = Object.freeze({ proposeMs: 1000, prevoteMs: 500, precommitMs: 500, deltaMs: 250, commitMs: 200 });

const TIMING_KEYS = ["proposeMs", "prevoteMs", "precommitMs", "deltaMs", "commitMs"] as const;

/** The consensus timing of `p`: its `timing`, else the defaults. */
export function consensusTiming(p: ConsensusParams): ConsensusTiming {
  return p.timing ?? { ...defaultConsensusTiming };
}

/** Who governs: DIDs whose approvals, `threshold` of them, run governance actions. */
export interface GenesisTrustees {
  members: string[];
  threshold: number;
}

/** An issuer accredited from the start. */
export interface GenesisIssuer {
  did: string;
  name: string;
  types: string[];
}

export interface Genesis {
  chainId: string;
  /** RFC 3339 time; block 1 comes after it. */
  genesisTime: string;
  validators: GenesisValidator[];
  params: ConsensusParams;
  /** No trustees (members empty) means governance is off. */
  trustees: GenesisTrustees;
  issuers: GenesisIssuer[];
  /**
   * Base of the URIs status lists are served at (`<base>/status-lists/<id>/<listId>`);
   * absent in older genesis files, which mean DEFAULT_STATUS_LIST_BASE_URI.
   */
  statusListBaseUri?: string;
}

/** What a genesis without `statusListBaseUri` means: the default RPC address. */
export const DEFAULT_STATUS_LIST_BASE_URI = "http://127.0.0.1:8660";

export function statusListBaseUriOf(g: Genesis): string {
  return g.statusListBaseUri ?? DEFAULT_STATUS_LIST_BASE_URI;
}

/** An http(s) origin with an optional path, no query or fragment, no trailing slash. */
function parseBaseUri(v: unknown): string {
  if (typeof v !== "string" || v.length === 0 || v.length > 200) throw new GenesisError("statusListBaseUri must be an http(s) URL of at most 200 chars");
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new GenesisError("statusListBaseUri must be an http(s) URL");
  }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || u.search !== "" || u.hash !== "" || u.username !== "" || u.password !== "" || v.endsWith("/")) {
    throw new GenesisError("statusListBaseUri must be an http(s) URL without query, fragment, credentials or trailing slash");
  }
  if (u.href !== v && u.href !== `${v}/`) throw new GenesisError(`statusListBaseUri must be written in normal form (${u.href.replace(/\/$/, "")})`);
  return v;
}

export const defaultConsensusParams: Required<Omit<ConsensusParams, "timing">> = { maxBlockTxs: 5_000, maxBlockBytes: 8 * 1024 * 1024, maxEvidenceAgeBlocks: 100_000 };

/** The evidence age limit of `p`, its default when unset. */
export function maxEvidenceAge(p: ConsensusParams): number {
  return p.maxEvidenceAgeBlocks ?? defaultConsensusParams.maxEvidenceAgeBlocks;
}

export class GenesisError extends CodedError<"GENESIS_INVALID"> {
  constructor(message: string) {
    super("GENESIS_INVALID", `invalid genesis: ${message}`);
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function posInt(v: unknown, what: string, max: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1 || v > max) throw new GenesisError(`${what} must be an integer in [1, ${max}]`);
  return v;
}

/** Validate a parsed genesis file. */
export function parseGenesis(raw: unknown): Genesis {
  if (!isObj(raw)) throw new GenesisError("must be a JSON object");
  if (!isValidChainId(raw.chainId)) throw new GenesisError("chainId must match [a-z0-9][a-z0-9-]{0,47}");
  if (typeof raw.genesisTime !== "string" || Number.isNaN(Date.parse(raw.genesisTime))) {
    throw new GenesisError("genesisTime must be an RFC 3339 time");
  }
  if (!Array.isArray(raw.validators) || raw.validators.length === 0 || raw.validators.length > 150) {
    throw new GenesisError("validators must be a non-empty array (at most 150)");
  }
  const seen = new Set<string>();
  const validators = raw.validators.map((v, i): GenesisValidator => {
    if (!isObj(v)) throw new GenesisError(`validators[${i}] must be an object`);
    if (typeof v.name !== "string" || v.name.length === 0 || v.name.length > 64) throw new GenesisError(`validators[${i}].name must be 1-64 chars`);
    if (typeof v.publicKey !== "string") throw new GenesisError(`validators[${i}].publicKey must be hex`);
    try {
      assertCompressedPublicKey(fromHex(v.publicKey));
    } catch (e) {
      throw new GenesisError(`validators[${i}].publicKey: ${(e as Error).message}`);
    }
    if (seen.has(v.publicKey)) throw new GenesisError(`validators[${i}].publicKey is listed twice`);
    seen.add(v.publicKey);
    return { name: v.name, publicKey: v.publicKey, power: posInt(v.power, `validators[${i}].power`, 1_000_000) };
  });
  const p = isObj(raw.params) ? raw.params : {};
  const params: ConsensusParams = {
    maxBlockTxs: p.maxBlockTxs === undefined ? defaultConsensusParams.maxBlockTxs : posInt(p.maxBlockTxs, "params.maxBlockTxs", 100_000),
    maxBlockBytes:
      p.maxBlockBytes === undefined ? defaultConsensusParams.maxBlockBytes : posInt(p.maxBlockBytes, "params.maxBlockBytes", 64 * 1024 * 1024),
    maxEvidenceAgeBlocks:
      p.maxEvidenceAgeBlocks === undefined
        ? defaultConsensusParams.maxEvidenceAgeBlocks
        : posInt(p.maxEvidenceAgeBlocks, "params.maxEvidenceAgeBlocks", 10_000_000),
  };
  // Only a genesis that names its timing carries it: filling the defaults in would change the hash of older files.
  if (p.timing !== undefined) params.timing = parseTiming(p.timing);
  return {
    chainId: raw.chainId,
    genesisTime: new Date(raw.genesisTime).toISOString(),
    validators,
    params,
    trustees: parseTrustees(raw.trustees),
    issuers: parseIssuers(raw.issuers),
    // Present only when given, so the hash of an older genesis file stays what it was.
    ...(raw.statusListBaseUri === undefined ? {} : { statusListBaseUri: parseBaseUri(raw.statusListBaseUri) }),
  };
}

function parseTiming(raw: unknown): ConsensusTiming {
  if (!isObj(raw)) throw new GenesisError(`params.timing must be {${TIMING_KEYS.join(", ")}}`);
  const extra = Object.keys(raw).filter((k) => !(TIMING_KEYS as readonly string[]).includes(k));
  if (extra.length > 0) throw new GenesisError(`params.timing has unknown keys: ${extra.join(", ")} (expected ${TIMING_KEYS.join(", ")})`);
  const out = { ...defaultConsensusTiming };
  for (const k of TIMING_KEYS) {
    const v = raw[k];
    if (v === undefined) continue;
    // The same bound as tendermintOptions: at most an hour per timeout.
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > 3_600_000) throw new GenesisError(`params.timing.${k} must be an integer number of ms in [0, 3600000]`);
    out[k] = v;
  }
  if (out.proposeMs === 0) throw new GenesisError("params.timing.proposeMs must be above 0: a round needs time for its proposal");
  return out;
}

function genesisDid(v: unknown, what: string): string {
  try {
    return parseDid(v).did;
  } catch (e) {
    throw new GenesisError(`${what}: ${(e as Error).message}`);
  }
}

function parseTrustees(raw: unknown): GenesisTrustees {
  if (raw === undefined) return { members: [], threshold: 0 };
  if (!isObj(raw) || !Array.isArray(raw.members)) throw new GenesisError("trustees must be {members: [DID...], threshold}");
  if (raw.members.length > MAX_TRUSTEES) throw new GenesisError(`trustees.members lists more than ${MAX_TRUSTEES} DIDs`);
  const members = raw.members.map((d, i) => genesisDid(d, `trustees.members[${i}]`));
  if (new Set(members).size !== members.length) throw new GenesisError("trustees.members lists a DID twice");
  if (members.length === 0) {
    if (raw.threshold !== undefined && raw.threshold !== 0) throw new GenesisError("trustees.threshold must be 0 when there are no members");
    return { members, threshold: 0 };
  }
  return { members, threshold: posInt(raw.threshold, "trustees.threshold", members.length) };
}

function parseIssuers(raw: unknown): GenesisIssuer[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.length > 1000) throw new GenesisError("issuers must be an array (at most 1000)");
  const seen = new Set<string>();
  return raw.map((v, i): GenesisIssuer => {
    if (!isObj(v)) throw new GenesisError(`issuers[${i}] must be an object`);
    const did = genesisDid(v.did, `issuers[${i}].did`);
    if (seen.has(did)) throw new GenesisError(`issuers[${i}].did is listed twice`);
    seen.add(did);
    if (!isIssuerName(v.name)) throw new GenesisError(`issuers[${i}].name must be 1-64 printable chars`);
    const types = v.types;
    if (!Array.isArray(types) || types.length === 0 || types.length > KYC_LIMITS.maxIssuerTypes || !types.every(isTypeName) || new Set(types).size !== types.length) {
      throw new GenesisError(`issuers[${i}].types must list 1-${KYC_LIMITS.maxIssuerTypes} distinct type names`);
    }
    return { did, name: v.name, types: [...types] as string[] };
  });
}

/** The state genesis starts from: its validator set, the trustees and the issuers it names. */
export function genesisRecords(g: Genesis): StateRecord[] {
  const time = genesisTimeMs(g);
  const out: StateRecord[] = [genesisValidatorsRecord(g.validators)];
  if (g.trustees.members.length > 0) {
    const t: TrusteesRecord = { kind: "trustees", members: g.trustees.members, threshold: g.trustees.threshold, updatedHeight: 0 };
    out.push(t);
  }
  if (g.statusListBaseUri !== undefined) {
    const params: ChainParamsRecord = { kind: "chainparams", statusListBaseUri: g.statusListBaseUri };
    out.push(params);
  }
  for (const i of g.issuers) {
    const rec: IssuerRecord = {
      kind: "issuer",
      did: i.did,
      name: i.name,
      types: i.types,
      status: "active",
      updatedHeight: 0,
      updatedTime: time,
      history: [{ status: "active", name: i.name, types: i.types, height: 0, time }],
    };
    out.push(rec);
  }
  return out;
}

/** sha256 of the canonical encoding of the parsed genesis (defaults filled in). */
export function genesisHash(g: Genesis): Uint8Array {
  return sha256(encodeCanonical(g as never));
}

export function genesisTimeMs(g: Genesis): number {
  return Date.parse(g.genesisTime);
}
