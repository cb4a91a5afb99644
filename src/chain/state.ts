/**
 * State records and their commitments. The state is a map DID -> DidRecord;
 * its root is a sparse Merkle tree (smt.ts) over
 *   key   = sha256("sid/state/did\0" || did)
 *   value = sha256(canonical encoding of the record)
 * so a later issue can serve inclusion and non-inclusion proofs.
 */
import { sha256, sha256Parts } from "../crypto/hash.js";
import { utf8 } from "../crypto/bytes.js";
import type { DidDocument } from "../did/document.js";
import { type CanonicalValue, decodeCanonical, encodeCanonical } from "./codec.js";

export type DidOperation = "create" | "update" | "deactivate";

export interface DidRecord {
  did: string;
  document: DidDocument;
  /** 1 after create, +1 per update or deactivate. */
  versionId: number;
  /** Number of txs this DID has signed: the next tx it signs must carry seq = nonce. */
  nonce: number;
  /** Block times (ms since the Unix epoch) and heights of the first and latest version. */
  created: number;
  updated: number;
  createdHeight: number;
  updatedHeight: number;
  deactivated: boolean;
}

/** One version of a DID, kept in the history index. */
export interface DidVersion {
  did: string;
  versionId: number;
  operation: DidOperation;
  height: number;
  time: number;
  txHash: Uint8Array;
  document: DidDocument;
}

const DID_KEY_DOMAIN = utf8("sid/state/did\0");

export function didStateKey(did: string): Uint8Array {
  return sha256Parts(DID_KEY_DOMAIN, utf8(did));
}

export function encodeDidRecord(r: DidRecord): Uint8Array {
  return encodeCanonical(r as unknown as CanonicalValue);
}

export function decodeDidRecord(bytes: Uint8Array): DidRecord {
  return decodeCanonical(bytes) as unknown as DidRecord;
}

export function didRecordHash(encoded: Uint8Array): Uint8Array {
  return sha256(encoded);
}

export function encodeDidVersion(v: DidVersion): Uint8Array {
  return encodeCanonical(v as unknown as CanonicalValue);
}

export function decodeDidVersion(bytes: Uint8Array): DidVersion {
  return decodeCanonical(bytes) as unknown as DidVersion;
}

/** Synchronous read access to DID state; the pure rules see state only through this. */
export interface DidStateView {
  getDid(did: string): DidRecord | undefined;
}
