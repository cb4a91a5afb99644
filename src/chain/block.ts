/**
 * Blocks: a header (chain id, height, time, previous hash, tx root, evidence
 * root, state root after this block, validators hash, next validators hash,
 * proposer, hash of the last commit), the encoded txs, the encoded evidence, and the commit
 * signatures of the previous block. The block
 * hash is sha256 of the canonical header encoding.
 */
import { sha256, sha256Parts } from "../crypto/hash.js";
import { toHex } from "../crypto/bytes.js";
import { type CanonicalValue, decodeCanonical, encodeCanonical } from "./codec.js";
import { BlockErrorCode, ChainError, CodecError } from "./errors.js";

export interface BlockHeader {
  chainId: string;
  height: number;
  /** ms since the Unix epoch; strictly greater than the previous block's. */
  time: number;
  /** Hash of block height-1; the genesis hash for height 1. */
  prevHash: Uint8Array;
  txRoot: Uint8Array;
  /** Merkle root of the block's evidence hashes (evidenceMerkleRoot), zero when it has none. */
  evidenceHash: Uint8Array;
  /** State root after applying this block's txs. */
  stateRoot: Uint8Array;
  /** Hash of the validator set that signs this block's commit (ValidatorSet.hash). */
  validatorsHash: Uint8Array;
  /**
   * Hash of the validator set that signs the commit of height+1. Governance
   * changes made in block H start at H + 2, so the proposer of H already
   * knows the set of H + 1; the set of H vouches for it by committing H,
   * which is what lets a light client follow any change of the set.
   */
  nextValidatorsHash: Uint8Array;
  /** Address (20 bytes) of the proposing validator. */
  proposer: Uint8Array;
  /** Hash of lastCommit (zero bytes when there is none, at height 1). */
  lastCommitHash: Uint8Array;
}

export interface CommitSig {
  validator: Uint8Array;
  sig: Uint8Array;
}

/** More than 2/3 of voting power precommitted blockHash at height/round. */
export interface Commit {
  height: number;
  round: number;
  blockHash: Uint8Array;
  sigs: CommitSig[];
}

/** Evidence as it travels in blocks: its canonical encoding (consensus/evidence.ts decodes it). */
export type EncodedEvidence = Uint8Array;

export interface Block {
  header: BlockHeader;
  txs: Uint8Array[];
  /** Proofs of validator misbehaviour committed by this block (evidence of equivocation). */
  evidence: EncodedEvidence[];
  lastCommit: Commit | null;
}

export const ZERO_HASH = new Uint8Array(32);

/** Most evidence items in one block: equivocation is rare, and each item costs two signature checks on every node. */
export const MAX_BLOCK_EVIDENCE = 100;

export function headerHash(h: BlockHeader): Uint8Array {
  return sha256(encodeCanonical(h as unknown as CanonicalValue));
}

export function commitHash(c: Commit | null): Uint8Array {
  return c ? sha256(encodeCanonical(c as unknown as CanonicalValue)) : ZERO_HASH;
}

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);

/**
 * Merkle root of tx hashes, RFC 6962 shape: leaf = sha256(0x00 || txHash),
 * node = sha256(0x01 || left || right), split at the largest power of two
 * below n; the empty list has the zero hash.
 */
export function txMerkleRoot(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return ZERO_HASH;
  const rec = (lo: number, hi: number): Uint8Array => {
    if (hi - lo === 1) return sha256Parts(LEAF, hashes[lo]!);
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    return sha256Parts(NODE, rec(lo, lo + k), rec(lo + k, hi));
  };
  return rec(0, hashes.length);
}

/** The header's evidenceHash: the txMerkleRoot shape over sha256 of each evidence encoding, in block order. */
export function evidenceMerkleRoot(evidence: readonly EncodedEvidence[]): Uint8Array {
  return txMerkleRoot(evidence.map((e) => sha256(e)));
}

export function encodeBlock(b: Block): Uint8Array {
  return encodeCanonical(b as unknown as CanonicalValue);
}

export function decodeBlock(bytes: Uint8Array): Block {
  try {
    return decodeCanonical(bytes) as unknown as Block;
  } catch (e) {
    if (e instanceof CodecError) throw new ChainError(BlockErrorCode.INVALID_BLOCK, `undecodable block: ${e.message}`);
    throw e;
  }
}

export function encodeCommit(c: Commit): Uint8Array {
  return encodeCanonical(c as unknown as CanonicalValue);
}

export function decodeCommit(bytes: Uint8Array): Commit {
  return decodeCanonical(bytes) as unknown as Commit;
}

/** A header's JSON form, its bytes as lowercase hex; `T` is the form of its time. */
export interface HeaderJson<T extends string | number = number> {
  chainId: string;
  height: number;
  time: T;
  prevHash: string;
  txRoot: string;
  evidenceHash: string;
  stateRoot: string;
  validatorsHash: string;
  nextValidatorsHash: string;
  proposer: string;
  lastCommitHash: string;
}

/**
 * A header's JSON form. The two forms differ in `time` only: "iso" (an ISO
 * 8601 string) is what block_get and newHeads show people; "ms" (ms since
 * the Unix epoch, the value in the header itself) is what proofs carry, since
 * a client re-hashes the header from it.
 */
export function headerToJson(h: BlockHeader, time?: "iso"): HeaderJson<string>;
export function headerToJson(h: BlockHeader, time: "ms"): HeaderJson<number>;
export function headerToJson(h: BlockHeader, time: "iso" | "ms" = "iso"): HeaderJson<string> | HeaderJson<number> {
  return {
    chainId: h.chainId,
    height: h.height,
    time: time === "ms" ? h.time : new Date(h.time).toISOString(),
    prevHash: toHex(h.prevHash),
    txRoot: toHex(h.txRoot),
    evidenceHash: toHex(h.evidenceHash),
    stateRoot: toHex(h.stateRoot),
    validatorsHash: toHex(h.validatorsHash),
    nextValidatorsHash: toHex(h.nextValidatorsHash),
    proposer: toHex(h.proposer),
    lastCommitHash: toHex(h.lastCommitHash),
  } as HeaderJson<string> | HeaderJson<number>;
}

/** A commit's JSON form (block_get and proofs alike), its bytes as lowercase hex. */
export interface CommitJson {
  height: number;
  round: number;
  blockHash: string;
  sigs: Array<{ validator: string; sig: string }>;
}

export function commitToJson(c: Commit): CommitJson;
export function commitToJson(c: Commit | null): CommitJson | null;
export function commitToJson(c: Commit | null): CommitJson | null {
  if (!c) return null;
  return {
    height: c.height,
    round: c.round,
    blockHash: toHex(c.blockHash),
    sigs: c.sigs.map((s) => ({ validator: toHex(s.validator), sig: toHex(s.sig) })),
  };
}
