/**
 * Small checks for wire values after CBOR decoding: each throws a P2pError
 * with the given code and a message naming the field and what was expected,
 * so a refused message says exactly why.
 */
import type { CanonicalValue } from "../chain/codec.js";
import { P2pError, type P2pErrorCode } from "./errors.js";

export type WireRecord = { [key: string]: CanonicalValue };

export class WireCheck {
  constructor(private readonly code: P2pErrorCode) {}

  fail(what: string, why: string): P2pError {
    return new P2pError(this.code, `${what}: ${why}`);
  }

  /** A map with exactly the `required` keys plus any of the `optional` ones. */
  record(v: unknown, what: string, required: readonly string[], optional: readonly string[] = []): WireRecord {
    if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) throw this.fail(what, "expected a map");
    const rec = v as WireRecord;
    for (const k of required) if (!Object.hasOwn(rec, k)) throw this.fail(what, `missing field ${k}`);
    for (const k of Object.keys(rec)) {
      if (!required.includes(k) && !optional.includes(k)) throw this.fail(what, `unexpected field ${JSON.stringify(k.slice(0, 32))}`);
    }
    return rec;
  }

  int(v: unknown, what: string, min: number, max: number): number {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) throw this.fail(what, `expected an integer in [${min}, ${max}]`);
    return v;
  }

  bytes(v: unknown, what: string, length?: number): Uint8Array {
    if (!(v instanceof Uint8Array)) throw this.fail(what, "expected bytes");
    if (length !== undefined && v.length !== length) throw this.fail(what, `expected ${length} bytes, got ${v.length}`);
    return v;
  }

  string(v: unknown, what: string, maxLength: number): string {
    if (typeof v !== "string" || v.length > maxLength) throw this.fail(what, `expected a string of at most ${maxLength} chars`);
    return v;
  }

  array(v: unknown, what: string, maxLength: number): CanonicalValue[] {
    if (!Array.isArray(v)) throw this.fail(what, "expected an array");
    if (v.length > maxLength) throw this.fail(what, `expected at most ${maxLength} items, got ${v.length}`);
    return v;
  }
}
