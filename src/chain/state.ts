/**
 * State records and their commitments. The state is a map DID -> DidRecord;
 * its root is a sparse Merkle tree (smt.ts) over
 *   key   = sha256("sid/state/did\0" || did)
 *   value = sha256(canonical encoding of the record)
 * so any record, or its absence, can be proven against a header (proof.ts).
 */
import { sha256, sha256Parts } from "../crypto/hash.js";
import { utf8 } from "../crypto/bytes.js";
import type { DidDocument } from "../did/document.js";
import type { IssuerRecord } from "../did/kyc.js";
import { type CanonicalValue, PreEncoded, decodeCanonical, encodeCanonical, encodeCanonicalMap } from "./codec.js";
import { VALIDATORS_ID, type ValidatorSetAction, type ValidatorsRecord } from "./validators.js";

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

/** `documentBytes`: the document's canonical encoding when the caller has it (see encodeDidVersion). */
export function encodeDidRecord(r: DidRecord, documentBytes?: Uint8Array): Uint8Array {
  if (!documentBytes) return encodeCanonical(r as unknown as CanonicalValue);
  return encodeCanonicalMap({ ...(r as unknown as Record<string, CanonicalValue>), document: new PreEncoded(documentBytes) });
}

export function decodeDidRecord(bytes: Uint8Array): DidRecord {
  return decodeCanonical(bytes) as unknown as DidRecord;
}

export function didRecordHash(encoded: Uint8Array): Uint8Array {
  return sha256(encoded);
}

/**
 * `documentBytes`: the document's canonical encoding when the caller has it
 * (inside the tx that brought the document), so it is not encoded again;
 * the bytes are the same either way.
 */
export function encodeDidVersion(v: DidVersion, documentBytes?: Uint8Array): Uint8Array {
  if (!documentBytes) return encodeCanonical(v as unknown as CanonicalValue);
  return encodeCanonicalMap({ ...(v as unknown as Record<string, CanonicalValue>), document: new PreEncoded(documentBytes) });
}

export function decodeDidVersion(bytes: Uint8Array): DidVersion {
  return decodeCanonical(bytes) as unknown as DidVersion;
}

/** Synchronous read access to DID state; the pure rules see state only through this. */
export interface DidStateView {
  getDid(did: string): DidRecord | undefined;
}

// ---------------------------------------------------------------------------
// Registry state: issuers, status lists and governance live beside the DIDs in
// the same tree. Every record has a state id, a string unique across kinds:
// a DID record's id is the DID itself ("did:..."); the others are
// "<kind>:<id>". The tree key of a non-DID record is
// sha256("sid/state/<kind>\0" || id), so kinds never collide.

export interface TrusteesRecord {
  kind: "trustees";
  /** DIDs whose authentication keys sign governance txs. */
  members: string[];
  /** Approvals a proposal needs. */
  threshold: number;
  updatedHeight: number;
}

export type ProposalStatus = "pending" | "executed";

export interface ProposalRecord {
  kind: "proposal";
  /** Hex hash of the propose tx. */
  id: string;
  action: GovAction;
  proposer: string;
  /** Trustee DIDs that approved, the proposer first. */
  approvals: string[];
  createdHeight: number;
  /** Last height at which it may still be approved. */
  expiresHeight: number;
  status: ProposalStatus;
  executedHeight: number | null;
}

/** What governance can do: change the issuer registry, the trustee set itself, and the validator set. */
export type GovAction =
  | { kind: "issuer/add"; did: string; name: string; types: string[] }
  | { kind: "issuer/suspend"; did: string }
  | { kind: "issuer/reinstate"; did: string }
  | { kind: "issuer/remove"; did: string }
  | { kind: "trustees/set"; members: string[]; threshold: number }
  | ValidatorSetAction;

/**
 * One issuer status list: the latest issuer-signed Status List Token, kept
 * byte for byte, and what the chain checked it against. Invariant 5: keyed by
 * issuer and list id, nothing per holder or per credential.
 */
export interface StatusListRecord {
  kind: "statuslist";
  issuer: string;
  listId: string;
  /** The URI the list is served at and credentials name (the token's `sub`). */
  uri: string;
  /** The types the issuer was accredited for when the list was created: VALID entries were issued while accredited for them. */
  types: string[];
  /** Entries (2 bits each). */
  size: number;
  /** The latest token, exactly as published. */
  token: string;
  /** The token's `iat` (seconds); a later publish may not go back. */
  iat: number;
  /** Height and block time (ms) of the latest publish, and the height of the first. */
  height: number;
  time: number;
  createdHeight: number;
}

/** Chain-wide settings genesis sets that the rules read (absent: every default). */
export interface ChainParamsRecord {
  kind: "chainparams";
  statusListBaseUri: string;
}

export type RegistryRecord = IssuerRecord | TrusteesRecord | ProposalRecord | ValidatorsRecord | StatusListRecord | ChainParamsRecord;
export type StateRecord = DidRecord | RegistryRecord;

export const TRUSTEES_ID = "trustees:";
export const issuerStateId = (did: string) => `issuer:${did}`;
export const proposalStateId = (id: string) => `proposal:${id}`;
/** `statuslist:<issuer DID>/<listId>`: its tree key is sha256("sid/state/statuslist\0" || "<issuer DID>/<listId>"). */
export const statusListStateId = (issuer: string, listId: string) => `statuslist:${issuer}/${listId}`;
export const CHAIN_PARAMS_ID = "chainparams:";

export function isDidStateId(id: string): boolean {
  return id.startsWith("did:");
}

/** The state id a record is stored under. */
export function stateIdOf(r: StateRecord): string {
  if (!("kind" in r)) return r.did;
  switch (r.kind) {
    case "issuer":
      return issuerStateId(r.did);
    case "trustees":
      return TRUSTEES_ID;
    case "proposal":
      return proposalStateId(r.id);
    case "validators":
      return VALIDATORS_ID;
    case "statuslist":
      return statusListStateId(r.issuer, r.listId);
    case "chainparams":
      return CHAIN_PARAMS_ID;
  }
}

/** The tree key of a state id (didStateKey for DIDs, a kind-separated hash for the rest). */
export function stateKeyOf(id: string): Uint8Array {
  if (isDidStateId(id)) return didStateKey(id);
  const colon = id.indexOf(":");
  return sha256Parts(utf8(`sid/state/${id.slice(0, colon)}\0`), utf8(id.slice(colon + 1)));
}

export function encodeStateRecord(r: StateRecord): Uint8Array {
  return encodeCanonical(r as unknown as CanonicalValue);
}

export function decodeStateRecord(bytes: Uint8Array): StateRecord {
  return decodeCanonical(bytes) as unknown as StateRecord;
}

/** Synchronous read access to all state: the pure rules see it only through this. */
export interface StateView extends DidStateView {
  /** Any record by state id, or undefined when absent. */
  get(id: string): StateRecord | undefined;
}

/** A view over a map of loaded records keyed by state id. */
export function viewOfRecords(records: ReadonlyMap<string, StateRecord | undefined>): StateView {
  return {
    get: (id) => records.get(id),
    getDid: (did) => records.get(did) as DidRecord | undefined,
  };
}
