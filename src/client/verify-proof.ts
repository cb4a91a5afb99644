/**
 * The light client's check of a proven DID resolution (did_resolve with
 * `proof: true`, format sid-proof/v1, docs/proofs.md): it trusts no node,
 * only a validator set for the chain it means (TrustedValidators), and
 * accepts the result only if the validators committed a header whose state
 * root holds exactly the record the result was built from, or no record.
 *
 * Checks run cheapest first, so a forged proof costs the client a few
 * hashes before any signature is verified; each failure is a ProofError
 * whose code names the check.
 */
import { headerHash } from "../chain/block.js";
import { type CanonicalValue, decodeCanonical, encodeCanonical } from "../chain/codec.js";
import { type AnchoredStateProof, ProofError, ProofErrorCode, parseStateProofJson } from "../chain/proof.js";
import { verifySmtProof } from "../chain/smt.js";
import { type DidRecord, type StatusListRecord, didStateKey, stateKeyOf, statusListStateId } from "../chain/state.js";
import { isListId } from "../did/status-list.js";
import { bytesEqual, toHex } from "../crypto/bytes.js";
import { sha256 } from "../crypto/hash.js";
import { ValidatorSet, validatorAddress } from "../chain/validator-set.js";
import { verifyCommit } from "../chain/vote.js";
import { type DidDocumentMetadata, type DidResolutionResult, resolveCurrent } from "../did/resolution.js";
import { parseDid } from "../did/syntax.js";
import type { TrustedValidators } from "../chain/light-block.js";

export interface VerifyProofOptions {
  /**
   * The DID that was asked for. The proof is checked for this DID's state
   * key: a notFound result names no DID, so the question binds it here.
   */
  did: string;
  /** The chain the client means; must be the trusted validators' chain. */
  chainId: string;
  trusted: TrustedValidators;
}

/** What a valid proof established. */
export interface VerifiedResolution {
  did: string;
  /** The height whose committed state the result is. */
  height: number;
  /** That block's time, ms since the Unix epoch: how fresh the proven state is (a node may serve an older head). */
  time: number;
  blockHash: string;
  stateRoot: string;
  /** The proven record, or null when the DID is proven not registered. */
  record: DidRecord | null;
}

/**
 * Verifies a did_resolve result carrying a sid-proof/v1 proof, in this order:
 *  1. the proof is well-formed (MALFORMED), present (MISSING);
 *  2. header.chainId is the trusted chain (WRONG_CHAIN);
 *  3. sha256(cbor(header)) = commit.blockHash (HEADER_MISMATCH), and
 *     proof.height = header.height = commit.height (HEIGHT_MISMATCH);
 *  4. the listed validators hash to header.validatorsHash
 *     (VALIDATORS_MISMATCH), and the set trusted at that height is the one
 *     the header names (UNTRUSTED_VALIDATORS);
 *  5. the record decodes canonically as a record of `did` (BAD_RECORD) and
 *     sha256(record) is the leaf's value hash (RECORD_HASH_MISMATCH);
 *  6. the SMT proof leads from didStateKey(did) and that value hash (or
 *     from absence) to header.stateRoot (BAD_STATE_PROOF);
 *  7. the result's didDocument (compared as canonical encodings) and
 *     metadata are those of the proven record, or notFound when there is
 *     none (DOCUMENT_MISMATCH, METADATA_MISMATCH);
 *  8. the commit carries more than 2/3 of the trusted set's power in valid
 *     precommit signatures for this chain, height, round and block
 *     (BAD_COMMIT).
 */
export function verifyResolutionProof(result: unknown, opts: VerifyProofOptions): VerifiedResolution {
  const did = parseDid(opts.did).did;
  const res = result as Partial<DidResolutionResult> & { proof: unknown };
  const { p, blockHash, trusted } = verifyProofAnchor(result, opts, "did_resolve");
  const record = p.valueBytes === null ? null : decodeRecord(p.valueBytes, did);
  verifyLeaf(p, didStateKey(did), did);
  checkResultMatches(res, record, did);
  verifyProofCommit(p, opts.chainId, trusted);
  const { header } = p;
  return { did, height: header.height, time: header.time, blockHash: toHex(blockHash), stateRoot: toHex(header.stateRoot), record };
}

/**
 * Steps 1-4 of the checks, shared by every proven answer: the proof is
 * present and well-formed, of the trusted chain, its header is the one the
 * commit signs, and the header names the validator set trusted there.
 */
function verifyProofAnchor(result: unknown, opts: { chainId: string; trusted: TrustedValidators }, method: string) {
  if (opts.trusted.chainId !== opts.chainId) {
    throw new ProofError(ProofErrorCode.WRONG_CHAIN, `asked for chain ${opts.chainId}, but the trusted validators are of chain ${opts.trusted.chainId}`);
  }
  if (typeof result !== "object" || result === null || !Object.hasOwn(result, "proof")) {
    throw new ProofError(ProofErrorCode.MISSING, `the answer carries no proof (ask ${method} with proof: true)`);
  }
  const p = parseStateProofJson((result as { proof: unknown }).proof);
  const { header, commit } = p;
  if (header.chainId !== opts.chainId) throw new ProofError(ProofErrorCode.WRONG_CHAIN, `the proof is of chain ${header.chainId}, not ${opts.chainId}`);
  const blockHash = headerHash(header);
  if (!bytesEqual(blockHash, commit.blockHash)) {
    throw new ProofError(ProofErrorCode.HEADER_MISMATCH, `the header hashes to ${toHex(blockHash)}, the commit signs ${toHex(commit.blockHash)}`);
  }
  if (p.height !== header.height || commit.height !== header.height) {
    throw new ProofError(ProofErrorCode.HEIGHT_MISMATCH, `proof height ${p.height}, header height ${header.height} and commit height ${commit.height} differ`);
  }
  const listed = validatorSetOf(p);
  if (!bytesEqual(listed.hash, header.validatorsHash)) {
    throw new ProofError(ProofErrorCode.VALIDATORS_MISMATCH, "the listed validators are not the set the header names");
  }
  const trusted = opts.trusted.setFor(header.height);
  if (!trusted) throw new ProofError(ProofErrorCode.UNTRUSTED_VALIDATORS, `no trusted validator set for height ${header.height}`);
  if (!bytesEqual(trusted.hash, header.validatorsHash)) {
    throw new ProofError(
      ProofErrorCode.UNTRUSTED_VALIDATORS,
      `block ${header.height} names validators ${toHex(header.validatorsHash)}, the trusted set there is ${toHex(trusted.hash)}`,
    );
  }
  return { p, blockHash, trusted };
}

/** The record bytes (or their absence) are what the SMT proof leads from, under `key`, to the header's state root. */
function verifyLeaf(p: AnchoredStateProof, key: Uint8Array, label: string): void {
  let valueHash: Uint8Array | null = null;
  if (p.valueBytes !== null) {
    valueHash = sha256(p.valueBytes);
    const leaf = p.proof.leaf;
    if (leaf === null || !bytesEqual(leaf.key, key)) throw new ProofError(ProofErrorCode.BAD_STATE_PROOF, `the Merkle proof does not reach the state key of ${label}`);
    if (!bytesEqual(leaf.valueHash, valueHash)) {
      throw new ProofError(ProofErrorCode.RECORD_HASH_MISMATCH, `sha256 of the record is ${toHex(valueHash)}, the proven value hash is ${toHex(leaf.valueHash)}`);
    }
  }
  if (!verifySmtProof(p.header.stateRoot, key, valueHash, p.proof)) {
    throw new ProofError(
      ProofErrorCode.BAD_STATE_PROOF,
      p.valueBytes !== null ? `the Merkle proof of ${label} does not lead to the state root` : `the Merkle proof does not show ${label} absent under the state root`,
    );
  }
}

/** Last and dearest: more than 2/3 of the trusted power signed the header. */
function verifyProofCommit(p: AnchoredStateProof, chainId: string, trusted: ValidatorSet): void {
  if (!verifyCommit(chainId, p.commit, trusted)) {
    throw new ProofError(ProofErrorCode.BAD_COMMIT, `the commit for block ${p.header.height} does not carry more than 2/3 of the trusted validators' power in valid signatures`);
  }
}

/** What a valid status-list proof established. */
export interface VerifiedStatusList {
  issuer: string;
  listId: string;
  height: number;
  time: number;
  blockHash: string;
  /** The proven list record (its token exactly as published), or null when the list is proven not to exist. */
  record: StatusListRecord | null;
}

/**
 * Verifies a statuslist_get answer carrying a proof (`proof: true`): the
 * same anchor and commit checks as a DID, the list's state key, and the
 * answer's token and fields against the proven record. The token's own
 * signature and entries are the caller's to check (src/did/status-list.ts).
 */
export function verifyStatusListProof(result: unknown, opts: { issuer: string; listId: string; chainId: string; trusted: TrustedValidators }): VerifiedStatusList {
  try {
    parseDid(opts.issuer);
  } catch {
    throw new ProofError(ProofErrorCode.MALFORMED, "the issuer must be a did:sid DID");
  }
  if (!isListId(opts.listId)) throw new ProofError(ProofErrorCode.MALFORMED, "the list id must match [A-Za-z0-9_-]{1,64}");
  const { p, blockHash, trusted } = verifyProofAnchor(result, opts, "statuslist_get");
  const label = `status list ${opts.issuer}/${opts.listId}`;
  const record = p.valueBytes === null ? null : decodeStatusListRecord(p.valueBytes, opts.issuer, opts.listId);
  verifyLeaf(p, stateKeyOf(statusListStateId(opts.issuer, opts.listId)), label);
  const shown = result as Record<string, unknown>;
  const mismatch = (why: string) => new ProofError(ProofErrorCode.METADATA_MISMATCH, `statuslist_get ${why}`);
  if (record) {
    const expect: Record<string, unknown> = { issuer: record.issuer, listId: record.listId, uri: record.uri, size: record.size, token: record.token, height: record.height };
    for (const [k, v] of Object.entries(expect)) if (shown[k] !== v) throw mismatch(`${k} differs from the proven record's`);
    if (JSON.stringify(shown.types) !== JSON.stringify(record.types)) throw mismatch("types differ from the proven record's");
  } else if (shown.token !== null) {
    throw mismatch(`shows a token, the proof shows ${label} does not exist`);
  }
  verifyProofCommit(p, opts.chainId, trusted);
  return { issuer: opts.issuer, listId: opts.listId, height: p.header.height, time: p.header.time, blockHash: toHex(blockHash), record };
}

function decodeStatusListRecord(bytes: Uint8Array, issuer: string, listId: string): StatusListRecord {
  let value: CanonicalValue;
  try {
    value = decodeCanonical(bytes);
  } catch (e) {
    throw new ProofError(ProofErrorCode.BAD_RECORD, `the record is not a canonical encoding: ${(e as Error).message}`);
  }
  const r = value as Record<string, CanonicalValue>;
  const bad = (why: string) => new ProofError(ProofErrorCode.BAD_RECORD, `the record ${why}`);
  if (!isPlainObject(r) || r.kind !== "statuslist" || r.issuer !== issuer || r.listId !== listId) throw bad(`is not status list ${issuer}/${listId}`);
  if (typeof r.token !== "string" || typeof r.uri !== "string" || typeof r.size !== "number" || !Array.isArray(r.types) || typeof r.height !== "number") throw bad("lacks its fields");
  return r as unknown as StatusListRecord;
}

/** The listed validators as a set; names are not hashed, addresses derive from the keys. */
function validatorSetOf(p: AnchoredStateProof): ValidatorSet {
  return new ValidatorSet(p.validators.map((v, i) => ({ name: `validator-${i}`, address: validatorAddress(v.publicKey), publicKey: v.publicKey, power: v.power })));
}

/** Canonical record bytes of `did`, with the fields resolution reads checked for type. */
function decodeRecord(bytes: Uint8Array, did: string): DidRecord {
  let value: CanonicalValue;
  try {
    value = decodeCanonical(bytes);
  } catch (e) {
    throw new ProofError(ProofErrorCode.BAD_RECORD, `the record is not a canonical encoding: ${(e as Error).message}`);
  }
  const bad = (why: string) => new ProofError(ProofErrorCode.BAD_RECORD, `the record ${why}`);
  if (!isPlainObject(value)) throw bad("is not a map");
  const r = value as Record<string, CanonicalValue>;
  if (r.did !== did) throw bad(`is of ${typeof r.did === "string" ? r.did : "no DID"}, not ${did}`);
  if (!isPlainObject(r.document)) throw bad("holds no document map");
  for (const f of ["versionId", "nonce", "created", "updated", "createdHeight", "updatedHeight"]) {
    const n = r[f];
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) throw bad(`field ${f} is not a non-negative integer`);
  }
  if ((r.versionId as number) < 1) throw bad("field versionId is below 1");
  if (typeof r.deactivated !== "boolean") throw bad("field deactivated is not a boolean");
  return r as unknown as DidRecord;
}

/** The result must be what the node builds from the proven record (resolveCurrent), or notFound without one. */
function checkResultMatches(res: Partial<DidResolutionResult>, record: DidRecord | null, did: string): void {
  const docMismatch = (why: string) => new ProofError(ProofErrorCode.DOCUMENT_MISMATCH, why);
  const resolutionMeta: unknown = res.didResolutionMetadata;
  if (!isPlainObject(resolutionMeta)) throw docMismatch("the result has no didResolutionMetadata object");
  const error = (resolutionMeta as { error?: unknown }).error;
  if (record === null) {
    if (error !== "notFound" || res.didDocument !== null) throw docMismatch(`the proof shows ${did} is not registered, the result does not say notFound`);
    checkMetadata(res.didDocumentMetadata, {});
    return;
  }
  if (error !== undefined) throw docMismatch(`the proof shows ${did} registered, the result reports ${String(error)}`);
  if (!isPlainObject(res.didDocument)) throw docMismatch("the result has no didDocument");
  let shown: Uint8Array;
  try {
    shown = encodeCanonical(res.didDocument as unknown as CanonicalValue);
  } catch (e) {
    throw docMismatch(`the result's didDocument has no canonical encoding: ${(e as Error).message}`);
  }
  // What the node builds from the proven record (a deactivated DID shows no keys), compared as
  // canonical encodings, not JSON text: member order means nothing in JSON.
  const expected = resolveCurrent(record);
  if (!bytesEqual(shown, encodeCanonical(expected.didDocument as unknown as CanonicalValue))) throw docMismatch(`the result's didDocument is not the proven document of ${did}`);
  checkMetadata(res.didDocumentMetadata, expected.didDocumentMetadata);
}

function checkMetadata(shown: unknown, expected: DidDocumentMetadata): void {
  const fail = (why: string) => new ProofError(ProofErrorCode.METADATA_MISMATCH, `didDocumentMetadata ${why}`);
  if (!isPlainObject(shown)) throw fail("is not an object");
  const s = shown as Record<string, unknown>;
  const e = expected as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!Object.hasOwn(e, k)) throw fail(`has ${k}, which the proven record does not give`);
  for (const k of Object.keys(e)) if (s[k] !== e[k]) throw fail(`${k} is ${JSON.stringify(s[k])}, the proven record gives ${JSON.stringify(e[k])}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
