/**
 * Status List Tokens (draft-ietf-oauth-status-list) as issuers and
 * verifiers use them, over the chain's own codec (did/status-list.ts): build
 * and sign a token, read one into its packed entries, and the `status_list`
 * reference a credential carries (draft section 6.1).
 */
import {
  LIST_ID_RE,
  STATUS_LIST_LIMITS,
  STATUS_LIST_TYP,
  StatusListError,
  StatusValue,
  buildStatusListPayload,
  getStatus,
  newStatusList,
  packedLength,
  parseStatusListToken as parseTokenShape,
  setStatus,
  signStatusListToken,
  statusListUri,
  tokenList,
  verifyEs256k,
  type StatusListToken,
} from "../../did/status-list.js";
import { isPlainObject } from "./jose.js";

/** The chain's rules and codecs for lists, shared, not copied. */
export { LIST_ID_RE, STATUS_LIST_LIMITS, STATUS_LIST_TYP, StatusValue, getStatus, setStatus, statusListUri };

/** Bytes of a packed list of `size` entries. */
export const statusBytesLength = packedLength;

/** A list of `size` entries, every one UNISSUED. */
export const unissuedList = newStatusList;

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
  /** Seconds a verifier may cache the token (the draft's `ttl`). */
  ttl?: number;
}

/** A signed Status List Token: header `{alg: ES256K, typ: statuslist+jwt, kid}`, payload `{iss, sub, iat, ttl?, status_list}`. */
export function buildStatusListToken(input: BuildTokenInput): string {
  const issuer = input.kid.slice(0, input.kid.indexOf("#"));
  const payload = buildStatusListPayload({ issuer, uri: input.uri, iat: input.iat, packed: input.bytes, ...(input.ttl !== undefined ? { ttl: input.ttl } : {}) });
  return signStatusListToken(input.kid, payload, input.secretKey);
}

export interface ParsedStatusListToken {
  token: StatusListToken;
  kid: string;
  sub: string;
  exp: number | undefined;
  /** The packed entries. */
  bytes: Uint8Array;
}

/** A Status List Token read with every structural rule of the chain checked; a string names the first problem. */
export function parseStatusListToken(text: string): ParsedStatusListToken | string {
  try {
    const token = parseTokenShape(text);
    return { token, kid: token.header.kid, sub: token.payload.sub, exp: token.payload.exp, bytes: tokenList(token) };
  } catch (err) {
    if (err instanceof StatusListError) return err.message;
    throw err;
  }
}

/** ES256K with high or low S (RFC 8812), as the chain checks it. */
export function verifyStatusListSignature(t: ParsedStatusListToken, publicKey: Uint8Array): boolean {
  return verifyEs256k(t.token.signingInput, t.token.signature, publicKey);
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
