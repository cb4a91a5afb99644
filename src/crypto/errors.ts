import { CodedError, type NoData } from "../errors.js";

/** Errors of the crypto room: bad key or signature encodings. */
export enum CryptoErrorCode {
  BAD_PUBLIC_KEY = "BAD_PUBLIC_KEY",
  BAD_SECRET_KEY = "BAD_SECRET_KEY",
  BAD_SIGNATURE = "BAD_SIGNATURE",
  BAD_MNEMONIC = "BAD_MNEMONIC",
  BAD_ENCODING = "BAD_ENCODING",
}

/** Carries no payload: the message names the bad input. */
export class CryptoError extends CodedError<CryptoErrorCode, NoData> {}
