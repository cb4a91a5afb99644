/**
 * Issuer status lists in the IETF Token Status List format
 * (draft-ietf-oauth-status-list), pure: packing of 2-bit statuses, the
 * `lst` encoding (zlib DEFLATE, base64url) with a bounded inflate, the
 * Status List Token (a compact JWS, `typ: statuslist+jwt`, ES256K), and the
 * chain's transition rule between two versions of one list.
 *
 * Invariant 5 (nothing per holder on chain): a list is an issuer-level
 * object; an index names no one, and verifiers fetch the whole list.
 */
import { inflateSync, deflateSync } from "node:zlib";
import { CodedError } from "../errors.js";
import { sha256 } from "../crypto/hash.js";
import { utf8 } from "../crypto/bytes.js";
import { base64urlDecode, base64urlEncode } from "../crypto/encoding.js";
import { isHighS, malleate, signDigest, verifyDigest } from "../crypto/secp256k1.js";
import { parseDid, parseDidUrlWithFragment } from "./syntax.js";

/** Status values (draft section "Status Types"; 0x03 is the application-specific value we give "never issued"). */
export const StatusValue = Object.freeze({
  VALID: 0x00,
  /** Revoked: final, the chain never lets it change. */
  INVALID: 0x01,
  SUSPENDED: 0x02,
  /** No credential was issued at this index; verifiers treat it as invalid. */
  UNISSUED: 0x03,
} as const);
export type StatusValue = (typeof StatusValue)[keyof typeof StatusValue];

export const STATUS_NAMES: readonly string[] = Object.freeze(["VALID", "INVALID", "SUSPENDED", "UNISSUED"]);

/** Bits per entry: the only value the chain accepts (four statuses need two bits). */
export const STATUS_LIST_BITS = 2;
const ENTRIES_PER_BYTE = 8 / STATUS_LIST_BITS;

export const STATUS_LIST_LIMITS = Object.freeze({
  /** Fewest entries of a list: the herd one index hides in (ARF annex 2 asks for large lists with random indices). */
  minSize: 131_072,
  /** Most entries of a list: 256 KiB of packed statuses. */
  maxSize: 1_048_576,
  /**
   * Longest token, in characters. A maximal list that does not compress
   * (262,144 bytes) is about 350,000 base64url chars of `lst`, and the
   * payload around it is base64url again (x 4/3): about 466,000.
   */
  maxTokenChars: 480 * 1024,
  /** Longest `sub` (the list URI). */
  maxUriChars: 512,
  /** Longest time to live a token may ask caches for: one week. */
  maxTtlSeconds: 7 * 24 * 3600,
});

/** A list id names a list within its issuer: short, URL-safe, no room for a name or a claim. */
export const LIST_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
export const STATUS_LIST_TYP = "statuslist+jwt";
export const STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt";
export const ES256K_ALG = "ES256K";

export enum StatusListErrorCode {
  /** Not a compact JWS of three strict base64url parts with JSON objects inside. */
  MALFORMED_TOKEN = "STATUSLIST_MALFORMED_TOKEN",
  /** Header is not exactly {alg: ES256K, typ: statuslist+jwt, kid: <DID URL>}. */
  BAD_HEADER = "STATUSLIST_BAD_HEADER",
  /** Payload claims missing, of the wrong type, or unknown. */
  BAD_PAYLOAD = "STATUSLIST_BAD_PAYLOAD",
  /** `status_list` is not {bits: 2, lst}, or `lst` does not inflate (bounded) to a list of an allowed size. */
  BAD_LIST = "STATUSLIST_BAD_LIST",
  /** The JWS signature does not verify with the key `kid` names. */
  BAD_SIGNATURE = "STATUSLIST_BAD_SIGNATURE",
  /** `kid` is not a key of the tx signer's current DID document. */
  WRONG_KEY = "STATUSLIST_WRONG_KEY",
  /** `sub` is not the list URI this chain serves the list at, or `iss` is not the issuer. */
  WRONG_SUBJECT = "STATUSLIST_WRONG_SUBJECT",
  /** `iat` is earlier than the `iat` of the list's current token. */
  STALE_TOKEN = "STATUSLIST_STALE_TOKEN",
  /** A later publish has another number of entries than the list. */
  SIZE_CHANGED = "STATUSLIST_SIZE_CHANGED",
  /** A first publish has an entry that is not UNISSUED. */
  NOT_UNISSUED = "STATUSLIST_NOT_UNISSUED",
  /** An INVALID entry would change: revocation is final. */
  REVOCATION_FINAL = "STATUSLIST_REVOCATION_FINAL",
  /** An entry would go back to UNISSUED. */
  BACK_TO_UNISSUED = "STATUSLIST_BACK_TO_UNISSUED",
  /** UNISSUED -> VALID while the issuer is not active and accredited for the list's types. */
  ISSUE_NOT_ALLOWED = "STATUSLIST_ISSUE_NOT_ALLOWED",
  /** UNISSUED -> SUSPENDED: an entry is issued (VALID) before it can be suspended. */
  BAD_TRANSITION = "STATUSLIST_BAD_TRANSITION",
  /** No list with that issuer and list id. */
  NOT_FOUND = "STATUSLIST_NOT_FOUND",
}

export class StatusListError extends CodedError<StatusListErrorCode> {}

function fail(code: StatusListErrorCode, message: string, data?: Record<string, unknown>): never {
  throw new StatusListError(code, message, data);
}

export function isListId(v: unknown): v is string {
  return typeof v === "string" && LIST_ID_RE.test(v);
}

// ---------------------------------------------------------------------------
// Packing

/** Bytes of a packed list of `size` 2-bit entries: ceil(size * 2 / 8). */
export function packedLength(size: number): number {
  return Math.ceil((size * STATUS_LIST_BITS) / 8);
}

/**
 * Entry i lives in byte floor(i/4) at bit offset 2*(i mod 4) counted from
 * the least significant bit (draft section "Status List"). Unused high bits
 * of a last partial byte stay 0.
 */
export function packStatuses(statuses: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(packedLength(statuses.length));
  for (let i = 0; i < statuses.length; i++) {
    const v = statuses[i]!;
    if (!Number.isInteger(v) || v < 0 || v > 3) throw new RangeError(`status[${i}] must be 0..3, got ${v}`);
    out[i >> 2]! |= v << ((i & 3) * 2);
  }
  return out;
}

/** One status per entry (0..3) of a packed list; `size` defaults to every entry the bytes hold. */
export function unpackStatuses(packed: Uint8Array, size = packed.length * ENTRIES_PER_BYTE): Uint8Array {
  if (packedLength(size) > packed.length) throw new RangeError(`${packed.length} bytes hold fewer than ${size} entries`);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (packed[i >> 2]! >> ((i & 3) * 2)) & 3;
  return out;
}

export function getStatus(packed: Uint8Array, index: number): StatusValue {
  if (!Number.isSafeInteger(index) || index < 0 || index >= packed.length * ENTRIES_PER_BYTE) {
    throw new RangeError(`index ${index} is outside a list of ${packed.length * ENTRIES_PER_BYTE} entries`);
  }
  return ((packed[index >> 2]! >> ((index & 3) * 2)) & 3) as StatusValue;
}

/** Set entry `index` in place. */
export function setStatus(packed: Uint8Array, index: number, status: StatusValue): void {
  getStatus(packed, index);
  if (!Number.isInteger(status) || status < 0 || status > 3) throw new RangeError(`status must be 0..3, got ${status}`);
  const shift = (index & 3) * 2;
  packed[index >> 2] = (packed[index >> 2]! & ~(3 << shift)) | (status << shift);
}

/** A fresh list of `size` entries, every one UNISSUED (what a first publish must carry). */
export function newStatusList(size: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 1 || size % ENTRIES_PER_BYTE !== 0) {
    throw new RangeError(`size must be a positive multiple of ${ENTRIES_PER_BYTE}, got ${size}`);
  }
  return new Uint8Array(packedLength(size)).fill(0xff);
}

// ---------------------------------------------------------------------------
// lst: zlib DEFLATE (RFC 1950/1951) then base64url without padding

/** `lst` of packed bytes; level 9 as in the draft's examples. */
export function encodeLst(packed: Uint8Array): string {
  return base64urlEncode(deflateSync(packed, { level: 9 }));
}

/**
 * Packed bytes of an `lst`. Inflation stops at `maxBytes` (zlib
 * maxOutputLength), so a small `lst` that would inflate to gigabytes (a zip
 * bomb) costs at most that much memory and is refused as BAD_LIST.
 */
export function decodeLst(lst: string, maxBytes: number = packedLength(STATUS_LIST_LIMITS.maxSize)): Uint8Array {
  if (typeof lst !== "string" || lst.length === 0) fail(StatusListErrorCode.BAD_LIST, "status_list.lst must be a non-empty string");
  let compressed: Uint8Array;
  try {
    compressed = base64urlDecode(lst);
  } catch {
    fail(StatusListErrorCode.BAD_LIST, "status_list.lst is not base64url without padding");
  }
  let out: Buffer;
  try {
    out = inflateSync(compressed, { maxOutputLength: maxBytes });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError) {
      fail(StatusListErrorCode.BAD_LIST, `status_list.lst inflates to more than ${maxBytes} bytes`, { maxBytes });
    }
    fail(StatusListErrorCode.BAD_LIST, `status_list.lst is not zlib DEFLATE data: ${(e as Error).message}`);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

// ---------------------------------------------------------------------------
// The Status List Token (compact JWS)

export interface StatusListHeader {
  alg: typeof ES256K_ALG;
  typ: typeof STATUS_LIST_TYP;
  /** Absolute DID URL of the signing verification method: `did:sid:...#key-1`. */
  kid: string;
}

export interface StatusListPayload {
  /** The issuer DID, when present (the draft asks for it when the credentials carry `iss`). */
  iss?: string;
  /** The list URI. */
  sub: string;
  /** Seconds since the Unix epoch. */
  iat: number;
  exp?: number;
  /** Seconds a cache may keep the token. */
  ttl?: number;
  status_list: { bits: typeof STATUS_LIST_BITS; lst: string };
}

export interface ParsedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** ASCII bytes of `header.payload`, what the signature covers. */
  signingInput: Uint8Array;
  /** 64-byte r||s. */
  signature: Uint8Array;
}

export interface StatusListToken {
  header: StatusListHeader;
  payload: StatusListPayload;
  signingInput: Uint8Array;
  signature: Uint8Array;
  /** The DID of `kid`. */
  issuer: string;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function jsonPart(part: string, what: string): Record<string, unknown> {
  let bytes: Uint8Array;
  try {
    bytes = base64urlDecode(part);
  } catch {
    fail(StatusListErrorCode.MALFORMED_TOKEN, `JWS ${what} is not base64url without padding`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    fail(StatusListErrorCode.MALFORMED_TOKEN, `JWS ${what} is not UTF-8`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail(StatusListErrorCode.MALFORMED_TOKEN, `JWS ${what} is not JSON`);
  }
  if (!isPlainObject(value)) fail(StatusListErrorCode.MALFORMED_TOKEN, `JWS ${what} is not a JSON object`);
  return value;
}

/**
 * Split a compact JWS (RFC 7515 section 7.1) into its parts, strictly:
 * exactly three non-empty parts, each base64url without padding, header
 * and payload UTF-8 JSON objects, a 64-byte signature.
 */
export function parseCompactJws(token: unknown, maxChars: number = STATUS_LIST_LIMITS.maxTokenChars): ParsedJws {
  if (typeof token !== "string") fail(StatusListErrorCode.MALFORMED_TOKEN, "token must be a string");
  if (token.length > maxChars) fail(StatusListErrorCode.MALFORMED_TOKEN, `token is ${token.length} chars, limit ${maxChars}`);
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) {
    fail(StatusListErrorCode.MALFORMED_TOKEN, "token must be a compact JWS: three non-empty parts separated by '.'");
  }
  const header = jsonPart(parts[0]!, "header");
  const payload = jsonPart(parts[1]!, "payload");
  let signature: Uint8Array;
  try {
    signature = base64urlDecode(parts[2]!);
  } catch {
    fail(StatusListErrorCode.MALFORMED_TOKEN, "JWS signature is not base64url without padding");
  }
  if (signature.length !== 64) fail(StatusListErrorCode.MALFORMED_TOKEN, `JWS signature must be 64 bytes (ES256K r||s), got ${signature.length}`);
  return { header, payload, signingInput: utf8(`${parts[0]}.${parts[1]}`), signature };
}

function onlyKeys(obj: Record<string, unknown>, required: readonly string[], optional: readonly string[], where: string, code: StatusListErrorCode): void {
  for (const k of Object.keys(obj)) {
    if (!required.includes(k) && !optional.includes(k)) fail(code, `${where} has unknown field "${k}"`, { field: `${where}.${k}` });
  }
  for (const k of required) if (!(k in obj)) fail(code, `${where} is missing "${k}"`, { field: `${where}.${k}` });
}

/** Seconds since the Unix epoch between 2000 and 2200. */
function isSeconds(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 946_684_800 && v <= 7_258_118_400;
}

/**
 * Parse a Status List Token and check its shape (not its signature, not
 * the list inside): header exactly {alg: ES256K, typ: statuslist+jwt, kid},
 * payload {iss?, sub, iat, exp?, ttl?, status_list: {bits: 2, lst}}.
 */
export function parseStatusListToken(token: unknown): StatusListToken {
  const jws = parseCompactJws(token);
  const h = jws.header;
  onlyKeys(h, ["alg", "typ", "kid"], [], "header", StatusListErrorCode.BAD_HEADER);
  if (h.alg !== ES256K_ALG) fail(StatusListErrorCode.BAD_HEADER, `header.alg must be ${ES256K_ALG}`);
  if (h.typ !== STATUS_LIST_TYP) fail(StatusListErrorCode.BAD_HEADER, `header.typ must be ${STATUS_LIST_TYP}`);
  let issuer: string;
  try {
    issuer = parseDidUrlWithFragment(h.kid).did;
  } catch (e) {
    fail(StatusListErrorCode.BAD_HEADER, `header.kid must be a DID URL with a fragment: ${(e as Error).message}`);
  }
  const p = jws.payload;
  onlyKeys(p, ["sub", "iat", "status_list"], ["iss", "exp", "ttl"], "payload", StatusListErrorCode.BAD_PAYLOAD);
  if (typeof p.sub !== "string" || p.sub.length === 0 || p.sub.length > STATUS_LIST_LIMITS.maxUriChars) {
    fail(StatusListErrorCode.BAD_PAYLOAD, `payload.sub must be the list URI (1-${STATUS_LIST_LIMITS.maxUriChars} chars)`);
  }
  if (p.iss !== undefined && p.iss !== issuer) fail(StatusListErrorCode.WRONG_SUBJECT, "payload.iss must be the DID of header.kid");
  if (!isSeconds(p.iat)) fail(StatusListErrorCode.BAD_PAYLOAD, "payload.iat must be seconds since the Unix epoch");
  if (p.exp !== undefined && (!isSeconds(p.exp) || p.exp <= p.iat)) fail(StatusListErrorCode.BAD_PAYLOAD, "payload.exp must be seconds since the Unix epoch, after iat");
  if (p.ttl !== undefined && (typeof p.ttl !== "number" || !Number.isSafeInteger(p.ttl) || p.ttl < 1 || p.ttl > STATUS_LIST_LIMITS.maxTtlSeconds)) {
    fail(StatusListErrorCode.BAD_PAYLOAD, `payload.ttl must be an integer number of seconds in [1, ${STATUS_LIST_LIMITS.maxTtlSeconds}]`);
  }
  const sl = p.status_list;
  if (!isPlainObject(sl)) fail(StatusListErrorCode.BAD_LIST, "payload.status_list must be an object");
  onlyKeys(sl, ["bits", "lst"], [], "payload.status_list", StatusListErrorCode.BAD_LIST);
  if (sl.bits !== STATUS_LIST_BITS) fail(StatusListErrorCode.BAD_LIST, `payload.status_list.bits must be ${STATUS_LIST_BITS}`);
  if (typeof sl.lst !== "string" || sl.lst.length === 0) fail(StatusListErrorCode.BAD_LIST, "payload.status_list.lst must be a non-empty string");
  return {
    header: h as unknown as StatusListHeader,
    payload: p as unknown as StatusListPayload,
    signingInput: jws.signingInput,
    signature: jws.signature,
    issuer,
  };
}

/**
 * ES256K (RFC 8812) over a JWS signing input, accepting high or low S:
 * RFC 8812 has no low-S rule, so a standard signer may produce either. A
 * high-S signature is checked as its low-S twin (same validity). Chain tx
 * signatures keep their own low-S rule (chain/tx.ts); this is for JOSE only.
 */
export function verifyEs256k(signingInput: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const sig = isHighS(signature) ? malleate(signature) : signature;
  return verifyDigest(sig, sha256(signingInput), publicKey);
}

export interface StatusListPayloadInput {
  issuer: string;
  uri: string;
  /** Seconds. */
  iat: number;
  ttl?: number;
  exp?: number;
  packed: Uint8Array;
}

/** The JWT claims of a Status List Token; `iss` is the issuer DID, as in the credentials. */
export function buildStatusListPayload(input: StatusListPayloadInput): StatusListPayload {
  const payload: StatusListPayload = {
    iss: parseDid(input.issuer).did,
    sub: input.uri,
    iat: input.iat,
    status_list: { bits: STATUS_LIST_BITS, lst: encodeLst(input.packed) },
  };
  if (input.exp !== undefined) payload.exp = input.exp;
  if (input.ttl !== undefined) payload.ttl = input.ttl;
  return payload;
}

/** `base64url(header).base64url(payload)`, what ES256K signs. */
export function statusListSigningInput(kid: string, payload: StatusListPayload): string {
  const header: StatusListHeader = { alg: ES256K_ALG, typ: STATUS_LIST_TYP, kid };
  return `${base64urlEncode(utf8(JSON.stringify(header)))}.${base64urlEncode(utf8(JSON.stringify(payload)))}`;
}

/** A signed compact token (low-S, as signDigest always gives). */
export function signStatusListToken(kid: string, payload: StatusListPayload, secretKey: Uint8Array): string {
  const input = statusListSigningInput(kid, payload);
  return `${input}.${base64urlEncode(signDigest(sha256(utf8(input)), secretKey))}`;
}

/**
 * The URI a list is served at and named by in credentials:
 * `<base>/status-lists/<method-specific id of the issuer DID>/<listId>`.
 */
export function statusListUri(baseUri: string, issuer: string, listId: string): string {
  const id = parseDid(issuer).did.slice("did:sid:".length);
  if (!isListId(listId)) throw new RangeError("listId must match [A-Za-z0-9_-]{1,64}");
  return `${baseUri.replace(/\/+$/, "")}/status-lists/${id}/${listId}`;
}

/** The packed list of a token whose shape has been checked, bounded to the largest list. */
export function tokenList(token: StatusListToken): Uint8Array {
  const packed = decodeLst(token.payload.status_list.lst, packedLength(STATUS_LIST_LIMITS.maxSize));
  const size = packed.length * ENTRIES_PER_BYTE;
  if (size < STATUS_LIST_LIMITS.minSize || size > STATUS_LIST_LIMITS.maxSize) {
    fail(StatusListErrorCode.BAD_LIST, `a list has ${STATUS_LIST_LIMITS.minSize} to ${STATUS_LIST_LIMITS.maxSize} entries, this one ${size}`, { size });
  }
  return packed;
}

// ---------------------------------------------------------------------------
// The transition rule

export interface TransitionViolation {
  code: StatusListErrorCode;
  /** First offending entry (-1 for a size change). */
  index: number;
  from?: StatusValue;
  to?: StatusValue;
  message: string;
}

/**
 * Rule (revocation is final, issuance only while accredited): from `oldList`
 * (undefined for a first publish) to `newList`, returns the first offending
 * entry and why, or undefined when the change is allowed.
 * - first publish: every entry UNISSUED;
 * - the size stays;
 * - INVALID never changes; nothing goes back to UNISSUED;
 * - UNISSUED -> VALID only when `issuerMayIssue`; UNISSUED -> SUSPENDED never;
 * - VALID <-> SUSPENDED and anything -> INVALID always (a removed or
 *   suspended issuer may still revoke and suspend).
 */
export function checkTransition(oldList: Uint8Array | undefined, newList: Uint8Array, opts: { issuerMayIssue: boolean }): TransitionViolation | undefined {
  if (oldList === undefined) {
    for (let b = 0; b < newList.length; b++) {
      if (newList[b] === 0xff) continue;
      for (let k = 0; k < ENTRIES_PER_BYTE; k++) {
        const to = ((newList[b]! >> (k * 2)) & 3) as StatusValue;
        if (to !== StatusValue.UNISSUED) {
          const index = b * ENTRIES_PER_BYTE + k;
          return { code: StatusListErrorCode.NOT_UNISSUED, index, to, message: `a new list has every entry UNISSUED; entry ${index} is ${STATUS_NAMES[to]}` };
        }
      }
    }
    return undefined;
  }
  if (oldList.length !== newList.length) {
    return {
      code: StatusListErrorCode.SIZE_CHANGED,
      index: -1,
      message: `the list has ${oldList.length * ENTRIES_PER_BYTE} entries; the new token has ${newList.length * ENTRIES_PER_BYTE}`,
    };
  }
  for (let b = 0; b < newList.length; b++) {
    const ob = oldList[b]!;
    const nb = newList[b]!;
    if (ob === nb) continue;
    for (let k = 0; k < ENTRIES_PER_BYTE; k++) {
      const from = ((ob >> (k * 2)) & 3) as StatusValue;
      const to = ((nb >> (k * 2)) & 3) as StatusValue;
      if (from === to) continue;
      const index = b * ENTRIES_PER_BYTE + k;
      const v = (code: StatusListErrorCode, why: string): TransitionViolation => ({
        code,
        index,
        from,
        to,
        message: `entry ${index}: ${STATUS_NAMES[from]} -> ${STATUS_NAMES[to]} refused: ${why}`,
      });
      if (from === StatusValue.INVALID) return v(StatusListErrorCode.REVOCATION_FINAL, "revocation is final");
      if (to === StatusValue.UNISSUED) return v(StatusListErrorCode.BACK_TO_UNISSUED, "nothing goes back to UNISSUED");
      if (from === StatusValue.UNISSUED && to === StatusValue.VALID && !opts.issuerMayIssue) {
        return v(StatusListErrorCode.ISSUE_NOT_ALLOWED, "the issuer is not active and accredited for the list's types");
      }
      if (from === StatusValue.UNISSUED && to === StatusValue.SUSPENDED) return v(StatusListErrorCode.BAD_TRANSITION, "an entry is issued (VALID) before it is suspended");
    }
  }
  return undefined;
}
