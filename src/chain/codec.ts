/**
 * The canonical codec: deterministic CBOR (RFC 8949 section 4.2) through
 * cborg. Everything that is hashed or signed is encoded here, so every node
 * derives the same bytes from the same value (invariant 1).
 *
 * Decoding is strict: indefinite lengths, undefined, NaN/Infinity, bigints
 * beyond 2^53, duplicate map keys and non-minimal integers are refused, and
 * the bytes must re-encode to themselves, so each value has exactly one
 * accepted encoding. Any failure is a CodecError, never another exception.
 * Test vectors: docs/codec.md.
 */
import { decode as cborDecode, encode as cborEncode } from "cborg";
import { bytesEqual } from "../crypto/bytes.js";
import { CodecError } from "./errors.js";

/** The values the codec carries: JSON's, minus floats, plus byte strings. */
export type CanonicalValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | CanonicalValue[]
  | { [key: string]: CanonicalValue };

const DECODE_OPTIONS = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  useMaps: false,
  rejectDuplicateMapKeys: true,
} as const;

/** Nesting depth bound: documents are shallow; this keeps recursion bounded. */
export const MAX_DEPTH = 16;

export function encodeCanonical(value: CanonicalValue): Uint8Array {
  checkValue(value, 0);
  return cborEncode(value);
}

export function decodeCanonical(bytes: Uint8Array): CanonicalValue {
  if (!(bytes instanceof Uint8Array)) throw new CodecError("expected bytes");
  let value: unknown;
  try {
    value = cborDecode(bytes, DECODE_OPTIONS);
  } catch (e) {
    throw new CodecError(`malformed CBOR: ${(e as Error).message}`);
  }
  try {
    checkValue(value, 0);
  } catch (e) {
    if (e instanceof CodecError) throw e;
    throw new CodecError(`malformed value: ${(e as Error).message}`);
  }
  let again: Uint8Array;
  try {
    again = cborEncode(value);
  } catch (e) {
    throw new CodecError(`value does not re-encode: ${(e as Error).message}`);
  }
  if (!bytesEqual(again, bytes)) throw new CodecError("non-canonical encoding (map key order, sizes or float form)");
  return value as CanonicalValue;
}

const LONE_SURROGATE = /\p{Surrogate}/u;

function checkValue(value: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new CodecError(`nesting deeper than ${MAX_DEPTH}`);
  if (value === null || typeof value === "boolean") return;
  if (typeof value === "string") {
    // A lone surrogate would be written as U+FFFD, so two values would share one encoding.
    if (LONE_SURROGATE.test(value)) throw new CodecError("strings must be well-formed Unicode (lone surrogate)");
    return;
  }
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new CodecError("numbers must be safe integers");
    return;
  }
  if (value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    for (const v of value) checkValue(v, depth + 1);
    return;
  }
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw new CodecError("only plain objects can be encoded");
    for (const k of Object.keys(value)) {
      if (k === "__proto__") throw new CodecError("map key __proto__ is not allowed");
      checkValue((value as Record<string, unknown>)[k], depth + 1);
    }
    return;
  }
  throw new CodecError(`cannot encode a value of type ${typeof value}`);
}
