/**
 * State proofs, format "sid-proof/v1": a value of the state (or its absence)
 * proven against a committed block header. This file is a public format
 * (docs/proofs.md): the node writes it (stateProofToJson) and light clients
 * read it (parseStateProofJson) before checking it (client/verify-proof.ts).
 *
 * A proof carries everything a client needs besides its trusted validator
 * set: the header of the block at `height` (its stateRoot is the state after
 * that block), the commit for that header, the validator set that signed it
 * (whose hash the header names), the record bytes (the preimage of the value
 * hash in the tree) and the sparse Merkle tree proof (smt.ts) for the key.
 */
import { fromBase64, fromHex, toBase64, toHex } from "../crypto/bytes.js";
import { CodedError } from "../errors.js";
import { type BlockHeader, type Commit, type CommitJson, type CommitSig, type HeaderJson, commitToJson, headerToJson } from "./block.js";
import { type SmtProof, decodeSmtProof, encodeSmtProof } from "./smt.js";
import { isValidChainId, MAX_ANY_TX_BYTES } from "./tx.js";

export const PROOF_FORMAT = "sid-proof/v1";

/**
 * Most validators a proof lists or a commit carries: the genesis file allows
 * at most 150 validators (chain/genesis.ts), so a longer list is malformed.
 */
export const MAX_PROOF_VALIDATORS = 150;
/**
 * Largest record a proof carries. A record holds what one tx brought (a
 * document, or a status list token) and every tx is at most
 * MAX_ANY_TX_BYTES, so twice that leaves room for the record's own fields.
 */
export const MAX_PROOF_RECORD_BYTES = 2 * MAX_ANY_TX_BYTES;
/** Sizes fixed by the header format (chain/block.ts): sha256 digests and 20-byte addresses. */
const HASH_BYTES = 32;
const ADDRESS_BYTES = 20;
const SIG_BYTES = 64;
const PUBLIC_KEY_BYTES = 33;

/** Why a proof was refused: one code per check (docs/proofs.md lists them in order). */
export enum ProofErrorCode {
  /** The resolution result carries no proof. */
  MISSING = "PROOF_MISSING",
  /** The proof is not well-formed sid-proof/v1 JSON (field set, types, encodings, sizes). */
  MALFORMED = "PROOF_MALFORMED",
  /** The header is of another chain than the one the client trusts. */
  WRONG_CHAIN = "PROOF_WRONG_CHAIN",
  /** sha256(cbor(header)) is not the block hash the commit signs. */
  HEADER_MISMATCH = "PROOF_HEADER_MISMATCH",
  /** proof.height, header.height and commit.height are not one height. */
  HEIGHT_MISMATCH = "PROOF_HEIGHT_MISMATCH",
  /** The listed validators do not hash to header.validatorsHash. */
  VALIDATORS_MISMATCH = "PROOF_VALIDATORS_MISMATCH",
  /** The client trusts no set for this height, or not the set the header names. */
  UNTRUSTED_VALIDATORS = "PROOF_UNTRUSTED_VALIDATORS",
  /** The record bytes are not a canonical record of the DID asked for. */
  BAD_RECORD = "PROOF_BAD_RECORD",
  /** sha256(record) is not the value hash in the proof's leaf. */
  RECORD_HASH_MISMATCH = "PROOF_RECORD_HASH_MISMATCH",
  /** The Merkle proof does not lead from the key (and value) to header.stateRoot. */
  BAD_STATE_PROOF = "PROOF_BAD_STATE_PROOF",
  /** The result's didDocument (or its absence) is not the proven record's. */
  DOCUMENT_MISMATCH = "PROOF_DOCUMENT_MISMATCH",
  /** The result's metadata (versionId, created, updated, deactivated) is not the proven record's. */
  METADATA_MISMATCH = "PROOF_METADATA_MISMATCH",
  /** The commit's signatures do not carry more than 2/3 of the trusted set's power for this block. */
  BAD_COMMIT = "PROOF_BAD_COMMIT",
  /** A validator-set transition offered to a tracker is not committed as the rule requires. */
  BAD_TRANSITION = "PROOF_BAD_TRANSITION",
  /** The validator set offered as a header's next set does not hash to header.nextValidatorsHash. */
  NEXT_VALIDATORS_MISMATCH = "PROOF_NEXT_VALIDATORS_MISMATCH",
  /** Skipping verification: the trusted set's signers in the new commit hold no more than the trust level of its power (bisect). */
  NOT_ENOUGH_TRUST = "PROOF_NOT_ENOUGH_TRUST",
  /** A header does not follow the trusted one (height, time, prevHash), conflicts with a trusted header of its height, or bisection gave up. */
  BAD_HEADER_CHAIN = "PROOF_BAD_HEADER_CHAIN",
}

export class ProofError extends CodedError<ProofErrorCode> {}

/** A validator as a proof lists it: the fields its set hash covers (the address derives from the key). */
export interface ProofValidator {
  publicKey: Uint8Array;
  power: number;
}

/** A state value proven against the committed block at `height`. */
export interface StateProof {
  height: number;
  header: BlockHeader;
  /** The commit for `header` (stored at `height`, carried again in block height + 1). */
  commit: Commit;
  /** The record bytes whose sha256 is the value hash under the key, or null when the key is absent. */
  valueBytes: Uint8Array | null;
  proof: SmtProof;
}

/** A state proof plus the validator set that signed its commit. */
export interface AnchoredStateProof extends StateProof {
  validators: ProofValidator[];
}

export interface StateProofJson {
  format: typeof PROOF_FORMAT;
  height: number;
  header: HeaderJson<number>;
  commit: CommitJson;
  validators: Array<{ publicKey: string; power: number }>;
  /** base64 (RFC 4648, padded) of the canonical record encoding, or null for an absent key. */
  record: string | null;
  smtProof: ReturnType<typeof encodeSmtProof>;
}

/** The JSON form of a proof, as did_resolve returns it with `proof: true`. */
export function stateProofToJson(p: AnchoredStateProof): StateProofJson {
  return {
    format: PROOF_FORMAT,
    height: p.height,
    header: headerToJson(p.header, "ms"),
    commit: commitToJson(p.commit),
    validators: p.validators.map((v) => ({ publicKey: toHex(v.publicKey), power: v.power })),
    record: p.valueBytes === null ? null : toBase64(p.valueBytes),
    smtProof: encodeSmtProof(p.proof),
  };
}

/**
 * Strict inverse of stateProofToJson: exactly the fields of the format,
 * lowercase hex of the exact lengths, safe integers, padded base64, bounded
 * lists. Says nothing about whether the proof is true; that is the
 * verifier's job. Every refusal is a ProofError MALFORMED naming the field.
 */
export function parseStateProofJson(j: unknown): AnchoredStateProof {
  const p = object(j, "proof", ["format", "height", "header", "commit", "validators", "record", "smtProof"]);
  if (p.format !== PROOF_FORMAT) throw malformed("format", `must be "${PROOF_FORMAT}"`);
  const height = integer(p.height, "height", 1);
  const header = parseHeader(p.header);
  const commit = parseCommit(p.commit);
  const validators = parseValidatorsJson(p.validators);
  let valueBytes: Uint8Array | null = null;
  if (p.record !== null) {
    if (typeof p.record !== "string") throw malformed("record", "must be base64 or null");
    // Base64 needs 4 characters per 3 bytes: refuse an oversized string before decoding it.
    if (p.record.length > Math.ceil(MAX_PROOF_RECORD_BYTES / 3) * 4) throw malformed("record", `longer than ${MAX_PROOF_RECORD_BYTES} bytes`);
    try {
      valueBytes = fromBase64(p.record);
    } catch {
      throw malformed("record", "must be padded base64 (RFC 4648 section 4)");
    }
    if (valueBytes.length > MAX_PROOF_RECORD_BYTES) throw malformed("record", `longer than ${MAX_PROOF_RECORD_BYTES} bytes`);
  }
  let proof: SmtProof;
  try {
    proof = decodeSmtProof(p.smtProof);
  } catch (e) {
    throw malformed("smtProof", (e as Error).message);
  }
  return { height, header, commit, validators, valueBytes, proof };
}

/** A validator list as proofs carry it ({publicKey, power}, 1 to MAX_PROOF_VALIDATORS); MALFORMED otherwise. */
export function parseValidatorsJson(j: unknown): ProofValidator[] {
  return list(j, "validators").map((v, i) => {
    const o = object(v, `validators[${i}]`, ["publicKey", "power"]);
    return { publicKey: hex(o.publicKey, `validators[${i}].publicKey`, PUBLIC_KEY_BYTES), power: integer(o.power, `validators[${i}].power`, 1) };
  });
}

/** A header in the proof JSON shape (headerToJson "ms": time in ms), strictly; MALFORMED otherwise. */
export function parseHeaderJson(j: unknown): BlockHeader {
  return parseHeader(j);
}

/** A commit in the proof JSON shape (commitToJson), strictly; MALFORMED otherwise. */
export function parseCommitJson(j: unknown): Commit {
  return parseCommit(j);
}

function parseHeader(j: unknown): BlockHeader {
  const h = object(j, "header", ["chainId", "height", "time", "prevHash", "txRoot", "evidenceHash", "stateRoot", "validatorsHash", "nextValidatorsHash", "proposer", "lastCommitHash"]);
  if (!isValidChainId(h.chainId)) throw malformed("header.chainId", "must match [a-z0-9][a-z0-9-]{0,47}");
  return {
    chainId: h.chainId,
    height: integer(h.height, "header.height", 1),
    time: integer(h.time, "header.time", 0),
    prevHash: hex(h.prevHash, "header.prevHash", HASH_BYTES),
    txRoot: hex(h.txRoot, "header.txRoot", HASH_BYTES),
    evidenceHash: hex(h.evidenceHash, "header.evidenceHash", HASH_BYTES),
    stateRoot: hex(h.stateRoot, "header.stateRoot", HASH_BYTES),
    validatorsHash: hex(h.validatorsHash, "header.validatorsHash", HASH_BYTES),
    nextValidatorsHash: hex(h.nextValidatorsHash, "header.nextValidatorsHash", HASH_BYTES),
    proposer: hex(h.proposer, "header.proposer", ADDRESS_BYTES),
    lastCommitHash: hex(h.lastCommitHash, "header.lastCommitHash", HASH_BYTES),
  };
}

function parseCommit(j: unknown): Commit {
  const c = object(j, "commit", ["height", "round", "blockHash", "sigs"]);
  const sigs: CommitSig[] = list(c.sigs, "commit.sigs").map((s, i) => {
    const o = object(s, `commit.sigs[${i}]`, ["validator", "sig"]);
    return { validator: hex(o.validator, `commit.sigs[${i}].validator`, ADDRESS_BYTES), sig: hex(o.sig, `commit.sigs[${i}].sig`, SIG_BYTES) };
  });
  return { height: integer(c.height, "commit.height", 1), round: integer(c.round, "commit.round", 0), blockHash: hex(c.blockHash, "commit.blockHash", HASH_BYTES), sigs };
}

function malformed(field: string, reason: string): ProofError {
  return new ProofError(ProofErrorCode.MALFORMED, `malformed proof: ${field} ${reason}`, { field });
}

function object(j: unknown, what: string, fields: readonly string[]): Record<string, unknown> {
  if (typeof j !== "object" || j === null || Array.isArray(j)) throw malformed(what, "must be an object");
  const o = j as Record<string, unknown>;
  for (const f of fields) if (!Object.hasOwn(o, f)) throw malformed(what, `is missing ${f}`);
  for (const k of Object.keys(o)) if (!fields.includes(k)) throw malformed(what, `has an unknown field ${k}`);
  return o;
}

/** A non-empty list of at most MAX_PROOF_VALIDATORS entries (validators, commit signatures). */
function list(j: unknown, what: string): unknown[] {
  if (!Array.isArray(j)) throw malformed(what, "must be an array");
  if (j.length === 0 || j.length > MAX_PROOF_VALIDATORS) throw malformed(what, `must hold 1 to ${MAX_PROOF_VALIDATORS} entries, got ${j.length}`);
  // Copied by index: a sparse array must not leave holes.
  return Array.from({ length: j.length }, (_, i) => j[i]);
}

function integer(j: unknown, what: string, min: number): number {
  if (typeof j !== "number" || !Number.isSafeInteger(j) || j < min) throw malformed(what, `must be an integer >= ${min}`);
  return j;
}

function hex(j: unknown, what: string, length: number): Uint8Array {
  if (typeof j !== "string" || j.length !== 2 * length) throw malformed(what, `must be ${2 * length} lowercase hex characters`);
  try {
    return fromHex(j, length);
  } catch {
    throw malformed(what, `must be ${2 * length} lowercase hex characters`);
  }
}
