/**
 * Typed errors of the p2p room. A connection that is refused or dropped is
 * closed with the WebSocket close code of its error (4000-4999, the range
 * RFC 6455 section 7.4.2 leaves to applications) and a reason that starts
 * with the string code, so the other side can rebuild the same typed error
 * and log why it was refused.
 */
import { CodedError, IGNORE, REJECT_INVALID, type Verdict } from "../errors.js";
import { Penalty } from "./limits.js";

export enum P2pErrorCode {
  // handshake refusals
  WRONG_VERSION = "P2P_WRONG_VERSION",
  WRONG_CHAIN = "P2P_WRONG_CHAIN",
  WRONG_GENESIS = "P2P_WRONG_GENESIS",
  BAD_SIGNATURE = "P2P_BAD_SIGNATURE",
  NODE_ID_MISMATCH = "P2P_NODE_ID_MISMATCH",
  UNEXPECTED_NODE_ID = "P2P_UNEXPECTED_NODE_ID",
  SELF_CONNECTION = "P2P_SELF_CONNECTION",
  DUPLICATE_PEER = "P2P_DUPLICATE_PEER",
  HANDSHAKE_TIMEOUT = "P2P_HANDSHAKE_TIMEOUT",
  HANDSHAKE_FAILED = "P2P_HANDSHAKE_FAILED",
  BANNED = "P2P_BANNED",
  TOO_MANY_PEERS = "P2P_TOO_MANY_PEERS",
  // misbehaviour of a connected peer
  MALFORMED_FRAME = "P2P_MALFORMED_FRAME",
  FRAME_TOO_LARGE = "P2P_FRAME_TOO_LARGE",
  UNKNOWN_CHANNEL = "P2P_UNKNOWN_CHANNEL",
  INVALID_MESSAGE = "P2P_INVALID_MESSAGE",
  RATE_LIMITED = "P2P_RATE_LIMITED",
  MISBEHAVIOUR = "P2P_MISBEHAVIOUR",
  // connection health
  SEND_QUEUE_FULL = "P2P_SEND_QUEUE_FULL",
  PING_TIMEOUT = "P2P_PING_TIMEOUT",
  CONNECTION_FAILED = "P2P_CONNECTION_FAILED",
  SHUTTING_DOWN = "P2P_SHUTTING_DOWN",
  // local usage and configuration
  NOT_CONNECTED = "P2P_NOT_CONNECTED",
  CHANNEL_NOT_REGISTERED = "P2P_CHANNEL_NOT_REGISTERED",
  BAD_ADDRESS = "P2P_BAD_ADDRESS",
  BAD_OPTION = "P2P_BAD_OPTION",
  NODE_KEY_INVALID = "P2P_NODE_KEY_INVALID",
  LISTEN_FAILED = "P2P_LISTEN_FAILED",
}

/** What a P2pError may carry: the WebSocket close code it arrived with. */
export interface P2pErrorData {
  readonly closeCode?: number;
}

/** A connected peer's misbehaviour: its messages are what is wrong. Every other code is a refusal or a local condition. */
const P2P_REJECTS: ReadonlySet<P2pErrorCode> = new Set([P2pErrorCode.MALFORMED_FRAME, P2pErrorCode.FRAME_TOO_LARGE, P2pErrorCode.INVALID_MESSAGE, P2pErrorCode.MISBEHAVIOUR]);

export class P2pError extends CodedError<P2pErrorCode, P2pErrorData> {
  protected override verdictOfCode(code: P2pErrorCode): Verdict {
    return P2P_REJECTS.has(code) ? REJECT_INVALID : IGNORE;
  }
}

/** Points a peer loses for input refused with a "reject" verdict (none for "ignore"). */
export function penaltyOf(verdict: Verdict): number {
  if (verdict.action === "ignore") return 0;
  return verdict.fault === "forged" ? Penalty.FORGED_TX : Penalty.INVALID_MESSAGE;
}

/**
 * Close code sent with each refusal. Numbers are part of the wire protocol:
 * once given, never changed or reused. Codes that only ever describe local
 * conditions have none (they never travel).
 */
export const P2P_CLOSE_CODES: Readonly<Partial<Record<P2pErrorCode, number>>> = Object.freeze({
  [P2pErrorCode.WRONG_VERSION]: 4001,
  [P2pErrorCode.WRONG_CHAIN]: 4002,
  [P2pErrorCode.WRONG_GENESIS]: 4003,
  [P2pErrorCode.BAD_SIGNATURE]: 4004,
  [P2pErrorCode.NODE_ID_MISMATCH]: 4005,
  [P2pErrorCode.UNEXPECTED_NODE_ID]: 4006,
  [P2pErrorCode.SELF_CONNECTION]: 4007,
  [P2pErrorCode.DUPLICATE_PEER]: 4008,
  [P2pErrorCode.HANDSHAKE_TIMEOUT]: 4009,
  [P2pErrorCode.HANDSHAKE_FAILED]: 4010,
  [P2pErrorCode.BANNED]: 4011,
  [P2pErrorCode.TOO_MANY_PEERS]: 4012,
  [P2pErrorCode.MALFORMED_FRAME]: 4020,
  [P2pErrorCode.FRAME_TOO_LARGE]: 4021,
  [P2pErrorCode.UNKNOWN_CHANNEL]: 4022,
  [P2pErrorCode.INVALID_MESSAGE]: 4023,
  [P2pErrorCode.RATE_LIMITED]: 4024,
  [P2pErrorCode.MISBEHAVIOUR]: 4025,
  [P2pErrorCode.SEND_QUEUE_FULL]: 4030,
  [P2pErrorCode.PING_TIMEOUT]: 4031,
  [P2pErrorCode.SHUTTING_DOWN]: 4032,
});

/** Longest close reason RFC 6455 allows (125-byte control frame minus the 2-byte code). */
const MAX_CLOSE_REASON_BYTES = 123;

/** The close code and reason that carry `err` to the peer. */
export function closeFrameOf(err: P2pError): { code: number; reason: string } {
  const code = P2P_CLOSE_CODES[err.code] ?? 4000;
  let reason = `${err.code}: ${err.message}`;
  while (Buffer.byteLength(reason) > MAX_CLOSE_REASON_BYTES) reason = reason.slice(0, -1);
  return { code, reason };
}

const KNOWN_CODES = new Set<string>(Object.values(P2pErrorCode));

/** The typed error a peer's close frame carries, or CONNECTION_FAILED for anything else. */
export function errorOfCloseFrame(code: number, reason: string): P2pError {
  const named = /^(P2P_[A-Z_]+): ?(.*)$/s.exec(reason);
  if (code >= 4000 && code <= 4999 && named && KNOWN_CODES.has(named[1]!)) {
    return new P2pError(named[1] as P2pErrorCode, `refused by peer: ${named[2]}`, { closeCode: code });
  }
  return new P2pError(P2pErrorCode.CONNECTION_FAILED, `connection closed by peer (code ${code}${reason ? `, ${reason}` : ""})`, { closeCode: code });
}
