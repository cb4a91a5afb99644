/**
 * The one place where typed errors become JSON-RPC error objects
 * (STYLE.md: "Errors are mapped to JSON-RPC codes in exactly one place").
 * docs/errors.md is the human-readable copy of APP_ERROR_CODES; a unit test
 * keeps both in step with the code enums of the other rooms.
 */
import { BlockErrorCode, DidErrorCode, EvidenceErrorCode, GovErrorCode, KycErrorCode, StatusListErrorCode, TxErrorCode } from "../chain/errors.js";
import { CryptoErrorCode } from "../crypto/errors.js";
import { SubscriptionErrorCode } from "./ws-errors.js";

/** Codes reserved by the JSON-RPC 2.0 specification, section 5.1. */
export const JsonRpcErrorCode = Object.freeze({
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
} as const);

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** The part of a pino / fastify logger the RPC room uses. */
export interface RpcLogger {
  error(obj: object, msg?: string): void;
}

/** Every string code a handler may throw, across all rooms. */
export type AppErrorReason = TxErrorCode | DidErrorCode | BlockErrorCode | CryptoErrorCode | GovErrorCode | KycErrorCode | StatusListErrorCode | SubscriptionErrorCode | EvidenceErrorCode;

/**
 * String error code -> stable JSON-RPC error code. Numbers are part of the
 * public API: once given, a number is never changed or reused.
 *   1000-1099 tx and mempool (order of TxErrorCode)
 *   1100-1199 DID (DidErrorCode, did/errors.ts: the did room's rules and the registry's refusals)
 *   1200-1299 block
 *   1300-1399 crypto
 *   1400-1499 governance
 *   1500-1599 KYC registry (issuers; 1550-1599 status lists)
 *   1600-1699 WebSocket subscriptions
 *   1700-1799 evidence of validator misbehaviour
 * `satisfies` makes a new enum member without a number a compile error.
 */
export const APP_ERROR_CODES: Readonly<Record<string, number>> = Object.freeze({
  [TxErrorCode.DECODE]: 1000,
  [TxErrorCode.TOO_LARGE]: 1001,
  [TxErrorCode.UNKNOWN_TYPE]: 1002,
  [TxErrorCode.BAD_FIELD]: 1003,
  [TxErrorCode.WRONG_CHAIN]: 1004,
  [TxErrorCode.BAD_SIGNATURE]: 1005,
  [TxErrorCode.HIGH_S_SIGNATURE]: 1006,
  [TxErrorCode.BAD_SEQUENCE]: 1007,
  [TxErrorCode.UNKNOWN_SIGNER]: 1008,
  [TxErrorCode.UNAUTHORIZED]: 1009,
  [TxErrorCode.DUPLICATE]: 1010,
  [TxErrorCode.ALREADY_COMMITTED]: 1011,
  [TxErrorCode.MEMPOOL_FULL]: 1012,

  [DidErrorCode.INVALID_DID]: 1100,
  [DidErrorCode.NOT_FOUND]: 1101,
  [DidErrorCode.ALREADY_EXISTS]: 1102,
  [DidErrorCode.DEACTIVATED]: 1103,
  [DidErrorCode.ID_MISMATCH]: 1104,
  [DidErrorCode.STALE_VERSION]: 1105,
  [DidErrorCode.INVALID_DOCUMENT]: 1106,

  [BlockErrorCode.INVALID_BLOCK]: 1200,
  [BlockErrorCode.NOT_FOUND]: 1201,
  [BlockErrorCode.STATE_PRUNED]: 1202,
  [BlockErrorCode.HISTORY_NOT_HERE]: 1203,

  [CryptoErrorCode.BAD_PUBLIC_KEY]: 1300,
  [CryptoErrorCode.BAD_SECRET_KEY]: 1301,
  [CryptoErrorCode.BAD_SIGNATURE]: 1302,
  [CryptoErrorCode.BAD_MNEMONIC]: 1303,
  [CryptoErrorCode.BAD_ENCODING]: 1304,

  [GovErrorCode.DISABLED]: 1400,
  [GovErrorCode.NOT_TRUSTEE]: 1401,
  [GovErrorCode.PROPOSAL_NOT_FOUND]: 1402,
  [GovErrorCode.PROPOSAL_EXISTS]: 1403,
  [GovErrorCode.PROPOSAL_EXPIRED]: 1404,
  [GovErrorCode.PROPOSAL_CLOSED]: 1405,
  [GovErrorCode.ACTION_MISMATCH]: 1406,
  [GovErrorCode.ALREADY_APPROVED]: 1407,
  [GovErrorCode.ACTION_FAILED]: 1408,
  [GovErrorCode.VALIDATOR_NOT_FOUND]: 1409,
  [GovErrorCode.VALIDATOR_SET_EMPTY]: 1410,
  [GovErrorCode.VALIDATOR_SET_FULL]: 1411,

  [KycErrorCode.ISSUER_NOT_FOUND]: 1500,
  [KycErrorCode.ISSUER_EXISTS]: 1501,
  [KycErrorCode.ISSUER_NOT_ACTIVE]: 1502,
  [KycErrorCode.TYPE_NOT_ACCREDITED]: 1503,
  // 1504-1508 were the per-credential anchor codes (CREDENTIAL_*), retired with the anchors; never reused.

  [StatusListErrorCode.MALFORMED_TOKEN]: 1550,
  [StatusListErrorCode.BAD_HEADER]: 1551,
  [StatusListErrorCode.BAD_PAYLOAD]: 1552,
  [StatusListErrorCode.BAD_LIST]: 1553,
  [StatusListErrorCode.BAD_SIGNATURE]: 1554,
  [StatusListErrorCode.WRONG_KEY]: 1555,
  [StatusListErrorCode.WRONG_SUBJECT]: 1556,
  [StatusListErrorCode.STALE_TOKEN]: 1557,
  [StatusListErrorCode.SIZE_CHANGED]: 1558,
  [StatusListErrorCode.NOT_UNISSUED]: 1559,
  [StatusListErrorCode.REVOCATION_FINAL]: 1560,
  [StatusListErrorCode.BACK_TO_UNISSUED]: 1561,
  [StatusListErrorCode.ISSUE_NOT_ALLOWED]: 1562,
  [StatusListErrorCode.BAD_TRANSITION]: 1563,
  [StatusListErrorCode.NOT_FOUND]: 1564,
  [SubscriptionErrorCode.NOT_FOUND]: 1600,
  [SubscriptionErrorCode.LIMIT]: 1601,

  [EvidenceErrorCode.INVALID]: 1700,
  [EvidenceErrorCode.TOO_OLD]: 1701,
  [EvidenceErrorCode.DUPLICATE]: 1702,
  [EvidenceErrorCode.NOT_FOUND]: 1703,
} satisfies Record<AppErrorReason, number>);

/**
 * Thrown by the params validator, and by handlers that find a bad param
 * themselves: `throw new RpcParamsError("did", "must be a did:sid DID")`.
 * Becomes -32602 with `data: { param, reason }`.
 */
export class RpcParamsError extends Error {
  constructor(
    readonly param: string,
    readonly reason: string,
  ) {
    super(`invalid param ${param}: ${reason}`);
    this.name = "RpcParamsError";
  }
}

export function invalidParams(param: string, reason: string): JsonRpcErrorObject {
  return { code: JsonRpcErrorCode.INVALID_PARAMS, message: "Invalid params", data: { param, reason } };
}

export function invalidRequest(reason: string): JsonRpcErrorObject {
  return { code: JsonRpcErrorCode.INVALID_REQUEST, message: "Invalid Request", data: { reason } };
}

export function internalError(): JsonRpcErrorObject {
  return { code: JsonRpcErrorCode.INTERNAL_ERROR, message: "Internal error" };
}

/** The string code of a typed error, if it is one we have a number for. */
function appReasonOf(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && Object.hasOwn(APP_ERROR_CODES, code) ? code : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Map anything a handler throws to a JSON-RPC error object.
 * - RpcParamsError -> -32602 Invalid params, data {param, reason}
 * - typed error with a known string `code` -> APP_ERROR_CODES[code], its
 *   message, data {...e.data, reason: code} (reason always wins)
 * - anything else -> -32603 "Internal error"; the real error goes to `log`
 *   only, so no message or stack trace reaches a client.
 */
export function toJsonRpcError(e: unknown, log?: RpcLogger): JsonRpcErrorObject {
  if (e instanceof RpcParamsError) return invalidParams(e.param, e.reason);
  const reason = appReasonOf(e);
  if (reason !== undefined) {
    const err = e as { message?: unknown; data?: unknown };
    const extra = isRecord(err.data) ? err.data : undefined;
    return {
      code: APP_ERROR_CODES[reason]!,
      message: typeof err.message === "string" && err.message !== "" ? err.message : reason,
      data: { ...extra, reason },
    };
  }
  log?.error({ err: e }, "internal error in JSON-RPC handler");
  return internalError();
}
