/**
 * Checks of wire values after CBOR decoding, with the check kit's wording:
 * each throws a P2pError with the given code and a message naming the field
 * and what was expected, so a refused message says exactly why.
 */
import type { CanonicalValue } from "../chain/codec.js";
import { arrayFault, bytesFault, intFault, isPlainObject, reason, stringFault } from "../check/faults.js";
import { P2pError, type P2pErrorCode } from "./errors.js";

export type WireRecord = { [key: string]: CanonicalValue };

export class WireCheck {
  constructor(private readonly code: P2pErrorCode) {}

  fail(what: string, why: string): P2pError {
    return new P2pError(this.code, `${what}: ${why}`);
  }

  private check(fault: string | undefined, what: string): void {
    if (fault !== undefined) throw this.fail(what, fault);
  }

  /** A map with exactly the `required` keys plus any of the `optional` ones. */
  record(v: unknown, what: string, required: readonly string[], optional: readonly string[] = []): WireRecord {
    if (!isPlainObject(v)) throw this.fail(what, reason.type("a map"));
    const rec = v as WireRecord;
    for (const k of required) if (!Object.hasOwn(rec, k)) throw this.fail(`${what}.${k}`, reason.required());
    for (const k of Object.keys(rec)) {
      if (!required.includes(k) && !optional.includes(k)) throw this.fail(what, `${reason.unexpected()} ${JSON.stringify(k.slice(0, 32))}`);
    }
    return rec;
  }

  int(v: unknown, what: string, min: number, max: number): number {
    this.check(intFault(v, min, max), what);
    return v as number;
  }

  bytes(v: unknown, what: string, length?: number): Uint8Array {
    this.check(bytesFault(v, length), what);
    return v as Uint8Array;
  }

  string(v: unknown, what: string, maxLength: number): string {
    this.check(stringFault(v, maxLength), what);
    return v as string;
  }

  array(v: unknown, what: string, maxLength: number): CanonicalValue[] {
    this.check(arrayFault(v, maxLength), what);
    return v as CanonicalValue[];
  }
}
