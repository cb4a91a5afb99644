/** Errors of the crypto room: bad key or signature encodings. */
export enum CryptoErrorCode {
  BAD_PUBLIC_KEY = "BAD_PUBLIC_KEY",
  BAD_SECRET_KEY = "BAD_SECRET_KEY",
  BAD_SIGNATURE = "BAD_SIGNATURE",
  BAD_MNEMONIC = "BAD_MNEMONIC",
  BAD_ENCODING = "BAD_ENCODING",
}

export class CryptoError extends Error {
  constructor(readonly code: CryptoErrorCode, message: string) {
    super(message);
    this.name = "CryptoError";
  }
}
