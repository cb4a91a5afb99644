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
import { isValidChainId } from "./tx.js";
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
}

export interface Genesis {
  chainId: string;
  /** RFC 3339 time; block 1 comes after it. */
  genesisTime: string;
  validators: GenesisValidator[];
  params: ConsensusParams;
}

export const defaultConsensusParams: ConsensusParams = { maxBlockTxs: 5_000, maxBlockBytes: 8 * 1024 * 1024 };

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
  };
  return { chainId: raw.chainId, genesisTime: new Date(raw.genesisTime).toISOString(), validators, params };
}

export function genesisHash(g: Genesis): Uint8Array {
  return sha256(encodeCanonical(g as never));
}

export function genesisTimeMs(g: Genesis): number {
  return Date.parse(g.genesisTime);
}
