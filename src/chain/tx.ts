/**
 * The tx envelope: type, chain id, signer DID and verification method,
 * per-signer sequence, payload, and a signature over domain-separated
 * canonical bytes (invariant 2). Encoded with the canonical codec; the tx
 * hash is sha256 of the full encoding, which cannot be malleated because the
 * codec admits one encoding per value and signatures must be low-S.
 */
import { sha256 } from "../crypto/hash.js";
import { isHighS, signDigest } from "../crypto/secp256k1.js";
import { toHex } from "../crypto/bytes.js";
import { DidError } from "../did/errors.js";
import { parseDid, parseDidUrlWithFragment } from "../did/syntax.js";
import { validateDecodedDocument, type DidDocument } from "../did/document.js";
import { type CanonicalValue, decodeCanonical, encodeCanonical, endOfItem } from "./codec.js";
import { ChainError, CodecError, DidErrorCode, TxErrorCode } from "./errors.js";
import { KYC_LIMITS, isIssuerName, isTypeName } from "../did/kyc.js";
import type { GovAction } from "./state.js";
import { StatusListError, StatusListErrorCode, type StatusListToken, isListId, parseStatusListToken } from "../did/status-list.js";
import { MAX_VALIDATOR_POWER, isValidatorName, isValidatorPublicKeyHex } from "./validators.js";
import { assertCompressedPublicKey } from "../crypto/secp256k1.js";
import { fromHex } from "../crypto/bytes.js";
import { bytesFault, hexFault, intFault, isPlainObject, stringFault, unexpectedKey } from "../check/faults.js";

export const TX_VERSION = 1;
/** Domain tag of tx signatures; votes use another (chain/vote.ts). */
export const TX_SIGN_DOMAIN = "sid/tx/v1";
/** Largest encoded tx of every type but statuslist/publish: a maximal document (16 KiB) plus envelope, with room. */
export const MAX_TX_BYTES = 32 * 1024;
/** Largest encoded statuslist/publish: a maximal Status List Token plus envelope, with room. */
export const MAX_STATUS_LIST_TX_BYTES = 512 * 1024;
/** Largest encoded tx of any type: what transports and the mempool bound a tx by before decoding it. */
export const MAX_ANY_TX_BYTES = MAX_STATUS_LIST_TX_BYTES;
/** Sequences stay far below 2^53 so they survive JSON. */
const MAX_SEQUENCE = Number.MAX_SAFE_INTEGER;
const CHAIN_ID_RE = /^[a-z0-9][a-z0-9-]{0,47}$/;

export enum TxType {
  DidCreate = "did/create",
  DidUpdate = "did/update",
  DidDeactivate = "did/deactivate",
  /** A trustee proposes a governance action (and approves it). */
  GovPropose = "gov/propose",
  /** A trustee approves a pending proposal, restating its action so the signature covers it. */
  GovApprove = "gov/approve",
  /** An issuer publishes the latest Status List Token of one of its lists (creating the list on first publish). */
  StatusListPublish = "statuslist/publish",
}

export interface DidCreatePayload {
  document: DidDocument;
}
export interface DidUpdatePayload {
  did: string;
  prevVersionId: string;
  document: DidDocument;
}
export interface DidDeactivatePayload {
  did: string;
  prevVersionId: string;
}

export interface GovProposePayload {
  action: GovAction;
}
export interface GovApprovePayload {
  proposalId: string;
  action: GovAction;
}
/**
 * Invariant 5: an issuer-level list id and the issuer-signed token of the
 * whole list; nothing names a holder or a credential.
 */
export interface StatusListPublishPayload {
  listId: string;
  /** Compact JWS, `typ: statuslist+jwt` (src/did/status-list.ts). */
  token: string;
}

interface TxBody<T extends TxType, P> {
  v: typeof TX_VERSION;
  type: T;
  chainId: string;
  /** DID whose key signs, and whose sequence the tx uses. */
  signer: string;
  /** Absolute id of the signing verification method, `did:sid:...#key-1`. */
  vm: string;
  seq: number;
  payload: P;
}

export type UnsignedTx =
  | TxBody<TxType.DidCreate, DidCreatePayload>
  | TxBody<TxType.DidUpdate, DidUpdatePayload>
  | TxBody<TxType.DidDeactivate, DidDeactivatePayload>
  | TxBody<TxType.GovPropose, GovProposePayload>
  | TxBody<TxType.GovApprove, GovApprovePayload>
  | TxBody<TxType.StatusListPublish, StatusListPublishPayload>;

export type Tx = UnsignedTx & { sig: Uint8Array };

export function isValidChainId(chainId: unknown): chainId is string {
  return typeof chainId === "string" && CHAIN_ID_RE.test(chainId);
}

function unsignedMap(tx: UnsignedTx): CanonicalValue {
  return {
    v: tx.v,
    type: tx.type,
    chainId: tx.chainId,
    signer: tx.signer,
    vm: tx.vm,
    seq: tx.seq,
    payload: tx.payload as unknown as CanonicalValue,
  };
}

/** The digest a tx signature covers: sha256(cbor([domain tag, unsigned tx])). The tx holds the chain id. */
export function txSigningDigest(tx: UnsignedTx): Uint8Array {
  return sha256(encodeCanonical([TX_SIGN_DOMAIN, unsignedMap(tx)]));
}

/** `sig` as a CBOR text key: 0x63 followed by its three bytes. */
const SIG_KEY = Uint8Array.of(0x63, 0x73, 0x69, 0x67);
/** The fixed start of every signing encoding: a 2-array, the domain tag, then a map of the 7 unsigned fields. */
const SIGNING_PREFIX = (() => {
  const domain = encodeCanonical(TX_SIGN_DOMAIN);
  return Uint8Array.of(0x82, ...domain, 0xa7);
})();

/**
 * txSigningDigest computed from the tx's own encoding, without encoding
 * anything again. `encoded` must be bytes decodeTx accepted: a canonical
 * map of exactly the 8 tx fields. Canonical map order does not depend on
 * which keys are present, so the 7-field unsigned map is those bytes with
 * the `sig` entry cut out and the map header 0xa8 made 0xa7.
 */
export function txSigningDigestOfEncoded(encoded: Uint8Array): Uint8Array {
  if (encoded[0] !== 0xa8) throw new ChainError(TxErrorCode.DECODE, "tx is not a map of 8 fields");
  let pos = 1;
  for (let i = 0; i < 8; i++) {
    const keyEnd = endOfItem(encoded, pos);
    const entryEnd = endOfItem(encoded, keyEnd);
    if (keyEnd - pos === SIG_KEY.length && SIG_KEY.every((b, j) => encoded[pos + j] === b)) {
      const out = new Uint8Array(SIGNING_PREFIX.length + encoded.length - 1 - (entryEnd - pos));
      out.set(SIGNING_PREFIX, 0);
      out.set(encoded.subarray(1, pos), SIGNING_PREFIX.length);
      out.set(encoded.subarray(entryEnd), SIGNING_PREFIX.length + pos - 1);
      return sha256(out);
    }
    pos = entryEnd;
  }
  throw new ChainError(TxErrorCode.DECODE, "tx has no sig field");
}

export function signTx(tx: UnsignedTx, secretKey: Uint8Array): Tx {
  return { ...tx, sig: signDigest(txSigningDigest(tx), secretKey) } as Tx;
}

export function encodeTx(tx: Tx): Uint8Array {
  const m = unsignedMap(tx) as Record<string, CanonicalValue>;
  m.sig = tx.sig;
  return encodeCanonical(m);
}

export function txHash(encoded: Uint8Array): Uint8Array {
  return sha256(encoded);
}

function bad(message: string, field: string): never {
  throw new ChainError(TxErrorCode.BAD_FIELD, message, { field });
}

function expectKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  const k = unexpectedKey(obj, allowed);
  if (k !== undefined) bad(`${where} has unknown field "${k}"`, `${where}.${k}`);
  for (const k of allowed) {
    if (!(k in obj)) bad(`${where} is missing field "${k}"`, `${where}.${k}`);
  }
}

function expectDid(v: unknown, field: string): string {
  try {
    return parseDid(v).did;
  } catch (e) {
    throw new ChainError(DidErrorCode.INVALID_DID, `${field}: ${(e as Error).message}`, { field });
  }
}

const VERSION_ID_RE = /^[1-9][0-9]{0,15}$/u;

function expectVersionId(v: unknown, field: string): string {
  const fault = stringFault(v, 16, VERSION_ID_RE);
  if (fault !== undefined) bad(`${field} must be a decimal version id string: ${fault}`, field);
  return v as string;
}

function expectDocument(v: unknown, did: string, field: string): DidDocument {
  try {
    return validateDecodedDocument(v, did);
  } catch (e) {
    if (e instanceof DidError) {
      throw new ChainError(DidErrorCode.INVALID_DOCUMENT, `${field}: ${e.message}`, { field, ...(e.data ?? {}) });
    }
    throw e;
  }
}

function expectTypeList(v: unknown, max: number, field: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > max) bad(`${field} must list 1 to ${max} type names`, field);
  v.forEach((t, i) => {
    if (!isTypeName(t)) bad(`${field}[${i}] must match [A-Za-z][A-Za-z0-9._-]{0,63}`, `${field}[${i}]`);
  });
  if (new Set(v).size !== v.length) bad(`${field} lists a type twice`, field);
  return v as string[];
}

function expectDidList(v: unknown, max: number, field: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > max) bad(`${field} must list 1 to ${max} DIDs`, field);
  v.forEach((d, i) => expectDid(d, `${field}[${i}]`));
  if (new Set(v).size !== v.length) bad(`${field} lists a DID twice`, field);
  return v as string[];
}

/** Most trustees a chain may have. */
export const MAX_TRUSTEES = 32;

/** validateBasic of a governance action: exact fields per kind. */
export function expectGovAction(v: unknown, field: string): GovAction {
  if (!isPlainObject(v)) bad(`${field} must be a map`, field);
  switch (v.kind) {
    case "issuer/add":
      expectKeys(v, ["kind", "did", "name", "types"], field);
      expectDid(v.did, `${field}.did`);
      if (!isIssuerName(v.name)) bad(`${field}.name must be 1-64 printable chars without surrounding spaces`, `${field}.name`);
      expectTypeList(v.types, KYC_LIMITS.maxIssuerTypes, `${field}.types`);
      break;
    case "issuer/suspend":
    case "issuer/reinstate":
    case "issuer/remove":
      expectKeys(v, ["kind", "did"], field);
      expectDid(v.did, `${field}.did`);
      break;
    case "trustees/set": {
      expectKeys(v, ["kind", "members", "threshold"], field);
      const members = expectDidList(v.members, MAX_TRUSTEES, `${field}.members`);
      const thresholdFault = intFault(v.threshold, 1, members.length);
      if (thresholdFault !== undefined) bad(`${field}.threshold must be an integer in [1, ${members.length}]: ${thresholdFault}`, `${field}.threshold`);
      break;
    }
    case "validator/set": {
      expectKeys(v, ["kind", "publicKey", "name", "power"], field);
      if (!isValidatorPublicKeyHex(v.publicKey)) bad(`${field}.publicKey must be a 33-byte compressed secp256k1 key in lowercase hex (66 chars)`, `${field}.publicKey`);
      try {
        assertCompressedPublicKey(fromHex(v.publicKey));
      } catch (e) {
        bad(`${field}.publicKey: ${(e as Error).message}`, `${field}.publicKey`);
      }
      const power = v.power;
      const powerFault = intFault(power, 0, MAX_VALIDATOR_POWER);
      if (powerFault !== undefined) bad(`${field}.power must be an integer in [0, ${MAX_VALIDATOR_POWER}] (0 removes the validator): ${powerFault}`, `${field}.power`);
      // A removal may leave the name empty; an added or re-weighed validator is named.
      if (!(power === 0 && v.name === "") && !isValidatorName(v.name)) {
        bad(`${field}.name must be 1-64 printable chars without surrounding spaces ("" allowed only with power 0)`, `${field}.name`);
      }
      break;
    }
    default:
      bad(`${field}.kind must be issuer/add, issuer/suspend, issuer/reinstate, issuer/remove, trustees/set or validator/set`, `${field}.kind`);
  }
  return v as unknown as GovAction;
}

/**
 * Decode and check a tx without looking at state (CometBFT's validateBasic):
 * size, codec, exact field set, types, chain id, signature shape and low-S,
 * document validity. Cheap checks run first; the same function serves RPC,
 * mempool and block execution.
 */
export function decodeTx(encoded: Uint8Array, chainId: string): Tx {
  if (encoded.length > MAX_ANY_TX_BYTES) {
    throw new ChainError(TxErrorCode.TOO_LARGE, `tx is ${encoded.length} bytes, limit ${MAX_ANY_TX_BYTES}`);
  }
  let raw: CanonicalValue;
  try {
    raw = decodeCanonical(encoded);
  } catch (e) {
    if (e instanceof CodecError) throw new ChainError(TxErrorCode.DECODE, e.message);
    throw e;
  }
  if (!isPlainObject(raw)) bad("tx must be a map", "tx");
  expectKeys(raw, ["v", "type", "chainId", "signer", "vm", "seq", "payload", "sig"], "tx");
  if (encoded.length > MAX_TX_BYTES && raw.type !== TxType.StatusListPublish) {
    throw new ChainError(TxErrorCode.TOO_LARGE, `tx is ${encoded.length} bytes, limit ${MAX_TX_BYTES} (${MAX_STATUS_LIST_TX_BYTES} for ${TxType.StatusListPublish})`);
  }
  if (raw.v !== TX_VERSION) bad(`unsupported tx version ${String(raw.v)}`, "v");
  if (!isValidChainId(raw.chainId)) bad("chainId must match [a-z0-9][a-z0-9-]{0,47}", "chainId");
  if (raw.chainId !== chainId) {
    throw new ChainError(TxErrorCode.WRONG_CHAIN, `tx is for chain "${raw.chainId}", this is "${chainId}"`);
  }
  const signer = expectDid(raw.signer, "signer");
  let vmDid: string;
  try {
    vmDid = parseDidUrlWithFragment(raw.vm).did;
  } catch (e) {
    bad(`vm: ${(e as Error).message}`, "vm");
  }
  if (vmDid !== signer) bad("vm must be a verification method of the signer DID", "vm");
  const seqFault = intFault(raw.seq, 0, MAX_SEQUENCE);
  if (seqFault !== undefined) bad(`seq must be a non-negative integer: ${seqFault}`, "seq");
  const sigFault = bytesFault(raw.sig, 64);
  if (sigFault !== undefined) bad(`sig must be 64 bytes (compact r||s): ${sigFault}`, "sig");
  if (isHighS(raw.sig as Uint8Array)) {
    throw new ChainError(TxErrorCode.HIGH_S_SIGNATURE, "signature is not in low-S form (malleable); sign with s <= n/2");
  }
  const p = raw.payload;
  if (!isPlainObject(p)) bad("payload must be a map", "payload");
  switch (raw.type) {
    case TxType.DidCreate: {
      expectKeys(p, ["document"], "payload");
      const doc = p.document;
      const id = isPlainObject(doc) ? doc.id : undefined;
      expectDid(id, "payload.document.id");
      expectDocument(doc, id as string, "payload.document");
      break;
    }
    case TxType.DidUpdate: {
      expectKeys(p, ["did", "prevVersionId", "document"], "payload");
      const did = expectDid(p.did, "payload.did");
      expectVersionId(p.prevVersionId, "payload.prevVersionId");
      expectDocument(p.document, did, "payload.document");
      break;
    }
    case TxType.DidDeactivate: {
      expectKeys(p, ["did", "prevVersionId"], "payload");
      expectDid(p.did, "payload.did");
      expectVersionId(p.prevVersionId, "payload.prevVersionId");
      break;
    }
    case TxType.GovPropose:
      expectKeys(p, ["action"], "payload");
      expectGovAction(p.action, "payload.action");
      break;
    case TxType.GovApprove:
      expectKeys(p, ["proposalId", "action"], "payload");
      const idFault = hexFault(p.proposalId, 32);
      if (idFault !== undefined) bad(`payload.proposalId must be 64 lowercase hex chars: ${idFault}`, "payload.proposalId");
      expectGovAction(p.action, "payload.action");
      break;
    case TxType.StatusListPublish: {
      expectKeys(p, ["listId", "token"], "payload");
      if (!isListId(p.listId)) bad("payload.listId must match [A-Za-z0-9_-]{1,64}", "payload.listId");
      let token: StatusListToken;
      try {
        token = parseStatusListToken(p.token);
      } catch (e) {
        if (e instanceof StatusListError) throw new ChainError(e.code, `payload.token: ${e.message}`, { field: "payload.token", ...(e.data ?? {}) });
        throw e;
      }
      if (token.issuer !== signer) {
        throw new ChainError(StatusListErrorCode.WRONG_KEY, "payload.token: header.kid must be a key of the tx signer (the issuer)", { field: "payload.token" });
      }
      break;
    }
    default:
      throw new ChainError(TxErrorCode.UNKNOWN_TYPE, `unknown tx type "${String(raw.type).slice(0, 40)}"`);
  }
  return raw as unknown as Tx;
}

/** The DID a DID operation writes to; for other txs, the signer. */
export function txTargetDid(tx: Tx): string {
  switch (tx.type) {
    case TxType.DidCreate:
      return tx.payload.document.id;
    case TxType.DidUpdate:
    case TxType.DidDeactivate:
      return tx.payload.did;
    default:
      return tx.signer;
  }
}

/** A JSON view of a tx for RPC answers. */
export function txToJson(tx: Tx): Record<string, unknown> {
  return { v: tx.v, type: tx.type, chainId: tx.chainId, signer: tx.signer, vm: tx.vm, seq: tx.seq, payload: tx.payload, sig: toHex(tx.sig) };
}
