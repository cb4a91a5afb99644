/**
 * Typed errors of WebSocket subscriptions. rpc/errors.ts maps the codes to
 * JSON-RPC numbers (1600-1699) with the other rooms' codes.
 */
import { CodedError } from "../errors.js";

export enum SubscriptionErrorCode {
  /** unsubscribe named an id this connection does not hold (never had, already ended or unsubscribed). */
  NOT_FOUND = "SUBSCRIPTION_NOT_FOUND",
  /** The connection already holds wsMaxSubscriptions subscriptions. */
  LIMIT = "SUBSCRIPTION_LIMIT",
}

export class SubscriptionError extends CodedError<SubscriptionErrorCode> {}
