/**
 * The base of every typed error in sid: a stable string `code` (one enum per
 * room: TxErrorCode, DidErrorCode, CryptoErrorCode, ...), a message for
 * people, an optional payload `data` whose shape each error class declares,
 * and a verdict saying whether whoever sent the refused input is to blame.
 * rpc/errors.ts maps codes to JSON-RPC numbers in one table; the CLI prints
 * `code: message`; the p2p side scores a peer by the verdict alone.
 */

/**
 * How bad a sender's fault is, for peer scoring (p2p/errors.ts turns it into
 * penalty points):
 * - "invalid": input no honest peer sends whatever its state (undecodable,
 *   fails its stateless checks, for another chain);
 * - "forged": a signature that fails where no race can explain it.
 */
export type SenderFault = "invalid" | "forged";

/**
 * What an error says about the sender of the input it refuses, as gossip
 * validation has it: "ignore" drops the input without blaming the sender (it
 * may be a race: a block or key rotation one side has not seen yet),
 * "reject" drops it and penalises the sender. Accepted input raises no
 * error, so an error's verdict is never "accept".
 */
export type Verdict = { readonly action: "ignore" } | { readonly action: "reject"; readonly fault: SenderFault };

export const IGNORE: Verdict = Object.freeze({ action: "ignore" });
export const REJECT_INVALID: Verdict = Object.freeze({ action: "reject", fault: "invalid" });
export const REJECT_FORGED: Verdict = Object.freeze({ action: "reject", fault: "forged" });

/** The payload of an error class that declares none. */
export type NoData = Readonly<Record<never, never>>;

export class CodedError<C extends string = string, D extends object = Readonly<Record<string, unknown>>> extends Error {
  /** Set when the thrower knows better than the code (the same code may be a race or a forgery). */
  private readonly verdictGiven: Verdict | undefined;

  constructor(
    readonly code: C,
    message: string,
    readonly data?: D,
    verdict?: Verdict,
  ) {
    super(message);
    this.name = new.target.name;
    this.verdictGiven = verdict;
  }

  /** Whether the sender of the refused input is to blame: the thrower's verdict, else the room's verdict for the code. */
  get verdict(): Verdict {
    return this.verdictGiven ?? this.verdictOfCode(this.code);
  }

  /** The room's verdict for a code (its table); a room without one blames nobody. */
  protected verdictOfCode(_code: C): Verdict {
    return IGNORE;
  }
}

/**
 * The verdict on input refused with `e`: the error's own when it is a typed
 * error, else "reject" as invalid (a decoder that throws anything but its
 * typed error was given input no honest peer sends).
 */
export function verdictOf(e: unknown): Verdict {
  return e instanceof CodedError ? e.verdict : REJECT_INVALID;
}
