/**
 * Status List Tokens (draft-ietf-oauth-status-list) as credentials and
 * verifiers use them: the 2-bit packing, the `lst` encoding, building and
 * signing a token, reading one strictly, and the `status_list` reference a
 * credential carries.
 *
 * Packing (draft section 4.1, bits = 2): entry i lives in byte floor(i/4),
 * at bit offset 2*(i mod 4) from the least significant bit. `lst` is the
 * base64url (no padding) of the ZLIB (RFC 1950) DEFLATE of the bytes.
 */
import { deflateSync, inflateSync } from "node:zlib";
import { base64urlDecode, base64urlEncode } from "../../crypto/encoding.js";
import { decodeJws, es256kSign, es256kVerify, isPlainObject, ES256K, type DecodedJws } from "./jose.js";

/** JWT `typ` of a Status List Token (draft section 5.1). */
export const STATUS_LIST_TYP = "statuslist+jwt";
export const STATUS_BITS = 2;

/** Status values with bits = 2 (draft section 7.1; 0x03 is the application-specific "never issued"). */
export enum StatusValue {
  VALID = 0x00,
  INVALID = 0x01,
  SUSPENDED = 0x02,
  UNISSUED = 0x03,
}

/** Sizes the chain accepts for a list: at least 2^17 entries (herd privacy), at most 2^20. */
export const STATUS_LIST_LIMITS = Object.freeze({ minSize: 131_072, maxSize: 1_048_576 });

/** A list id: what follows the issuer in the list URI. */
export const LIST_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export function statusBytesLength(size: number): number {
  return Math.ceil((size * STATUS_BITS) / 8);
}

/** A list of `size` entries, every one UNISSUED. */
export function unissuedList(size: number): Uint8Array {
  return new Uint8Array(statusBytesLength(size)).fill(0xff);
}

export function getStatus(bytes: Uint8Array, index: number): StatusValue {
  return ((bytes[index >> 2]! >> ((index & 3) * 2)) & 3) as StatusValue;
}

export function setStatus(bytes: Uint8Array, index: number, value: StatusValue): void {
  const shift = (index & 3) * 2;
  bytes[index >> 2] = (bytes[index >> 2]! & ~(3 << shift)) | (value << shift);
}

export function encodeLst(bytes: Uint8Array): string {
  return base64urlEncode(deflateSync(bytes, { level: 9 }));
}

/** The packed bytes of `lst`, bounded: inflating stops past `maxBytes` (a zip bomb is refused, not expanded). */
export function decodeLst(lst: string, maxBytes: number): Uint8Array {
  return new Uint8Array(inflateSync(base64urlDecode(lst), { maxOutputLength: maxBytes }));
}

/** The list URI the chain serves: `<base>/status-lists/<method-specific id of the issuer DID>/<listId>`. */
export function statusListUri(baseUri: string, issuerDid: string, listId: string): string {
  const msi = issuerDid.slice(issuerDid.lastIndexOf(":") + 1);
  return `${baseUri.replace(/\/+$/, "")}/status-lists/${msi}/${listId}`;
}

/** The issuer method-specific id and list id of a list URI, or undefined when it is not one. */
export function parseStatusListUri(uri: string): { base: string; issuerId: string; listId: string } | undefined {
  const m = /^(https?:\/\/[^\s/]+(?:\/[^\s]*?)?)\/status-lists\/([1-9A-HJ-NP-Za-km-z]{1,64})\/([A-Za-z0-9_-]{1,64})$/.exec(uri);
  return m ? { base: m[1]!, issuerId: m[2]!, listId: m[3]! } : undefined;
}

export interface BuildTokenInput {
  uri: string;
  /** Full DID URL of the signing key (a key of the issuer's document). */
  kid: string;
  secretKey: Uint8Array;
  bytes: Uint8Array;
  /** Seconds. */
  iat: number;
  /** Seconds a verifier may cache the token (draft section 5.1 `ttl`). */
  ttl?: number;
}

/** A signed Status List Token: header `{alg: ES256K, typ: statuslist+jwt, kid}`, payload `{sub, iat, ttl?, status_list}`. */
export function buildStatusListToken(input: BuildTokenInput): string {
  const header = { alg: ES256K, typ: STATUS_LIST_TYP, kid: input.kid };
  const payload = {
    sub: input.uri,
    iat: input.iat,
    ...(input.ttl !== undefined ? { ttl: input.ttl } : {}),
    status_list: { bits: STATUS_BITS, lst: encodeLst(input.bytes) },
  };
  const signingInput = `${base64urlEncode(Buffer.from(JSON.stringify(header)))}.${base64urlEncode(Buffer.from(JSON.stringify(payload)))}`;
  return `${signingInput}.${es256kSign(signingInput, input.secretKey)}`;
}

export interface ParsedStatusListToken {
  jws: DecodedJws;
  kid: string;
  sub: string;
  iat: number;
  ttl: number | undefined;
  exp: number | undefined;
  bytes: Uint8Array;
}

/** A Status List Token read with every structural rule checked; a string names the first problem. */
export function parseStatusListToken(token: string, maxEntries = STATUS_LIST_LIMITS.maxSize): ParsedStatusListToken | string {
  const jws = decodeJws(token);
  if (!jws) return "not a compact JWS with JSON header and payload";
  const { header, payload } = jws;
  if (header.alg !== ES256K) return `alg must be ${ES256K}`;
  if (header.typ !== STATUS_LIST_TYP) return `typ must be ${STATUS_LIST_TYP}`;
  if (typeof header.kid !== "string") return "the header has no kid";
  if (typeof payload.sub !== "string") return "sub (the list URI) is missing";
  const isSeconds = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (!isSeconds(payload.iat)) return "iat must be a NumericDate";
  if (payload.ttl !== undefined && !isSeconds(payload.ttl)) return "ttl must be a whole number of seconds";
  if (payload.exp !== undefined && !isSeconds(payload.exp)) return "exp must be a NumericDate";
  const sl = payload.status_list;
  if (!isPlainObject(sl) || sl.bits !== STATUS_BITS || typeof sl.lst !== "string") return `status_list must be {bits: ${STATUS_BITS}, lst}`;
  let bytes: Uint8Array;
  try {
    bytes = decodeLst(sl.lst, statusBytesLength(maxEntries));
  } catch (err) {
    return `status_list.lst does not inflate within ${maxEntries} entries: ${(err as Error).message}`;
  }
  return { jws, kid: header.kid, sub: payload.sub, iat: payload.iat, ttl: payload.ttl as number | undefined, exp: payload.exp as number | undefined, bytes };
}

export function verifyStatusListSignature(t: ParsedStatusListToken, publicKey: Uint8Array): boolean {
  return es256kVerify(t.jws.signingInput, t.jws.signature, publicKey);
}

/** The `status` claim of a credential (draft section 6.1): where its status lives. */
export interface StatusReference {
  idx: number;
  uri: string;
}

export function statusClaim(ref: StatusReference): { status_list: StatusReference } {
  return { status_list: { idx: ref.idx, uri: ref.uri } };
}

/** The status reference of a credential payload, or a string naming the problem. */
export function readStatusClaim(v: unknown): StatusReference | string {
  if (!isPlainObject(v) || !isPlainObject(v.status_list)) return "status.status_list is missing";
  const { idx, uri } = v.status_list;
  if (typeof idx !== "number" || !Number.isSafeInteger(idx) || idx < 0 || idx >= STATUS_LIST_LIMITS.maxSize) return "status.status_list.idx must be a list index";
  if (typeof uri !== "string" || !parseStatusListUri(uri)) return "status.status_list.uri must be a sid status list URI";
  return { idx, uri };
}
