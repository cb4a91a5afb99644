/**
 * The base of every typed error in sid: a stable string `code` (one enum per
 * room: TxErrorCode, DidErrorCode, CryptoErrorCode, ...), a message for
 * people, and optional structured `data`. rpc/errors.ts maps codes to
 * JSON-RPC numbers in one table; the CLI prints `code: message`.
 */
export class CodedError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
