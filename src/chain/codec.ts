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
  checkNesting(bytes);
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

/**
 * Walk the item headers without recursion and refuse nesting deeper than
 * MAX_DEPTH before the (recursive) decoder sees the bytes: a 32 KiB tx could
 * otherwise nest 32,000 arrays deep. Also refuses what canonical values never
 * hold: indefinite lengths, tags and reserved header values.
 */
function checkNesting(bytes: Uint8Array): void {
  const open: number[] = [1]; // items still to read in each open container; a virtual root holds one
  let pos = 0;
  while (open.length > 0) {
    const top = open.length - 1;
    if (open[top] === 0) {
      open.pop();
      continue;
    }
    open[top]!--;
    if (pos >= bytes.length) throw new CodecError("malformed CBOR: truncated");
    const ib = bytes[pos++]!;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    let arg: number;
    if (ai < 24) arg = ai;
    else if (ai <= 27) {
      const n = 1 << (ai - 24);
      if (pos + n > bytes.length) throw new CodecError("malformed CBOR: truncated");
      arg = 0;
      for (let i = 0; i < n; i++) arg = arg * 256 + bytes[pos + i]!;
      pos += n;
    } else throw new CodecError("malformed CBOR: indefinite length or reserved header");
    if (major === 2 || major === 3) {
      if (arg > bytes.length - pos) throw new CodecError("malformed CBOR: truncated");
      pos += arg;
    } else if (major === 4 || major === 5) {
      const items = major === 5 ? arg * 2 : arg;
      if (items > bytes.length - pos) throw new CodecError("malformed CBOR: truncated");
      if (items > 0) {
        open.push(items);
        if (open.length - 1 > MAX_DEPTH) throw new CodecError(`nesting deeper than ${MAX_DEPTH}`);
      }
    } else if (major === 6) throw new CodecError("malformed CBOR: tags are not allowed");
  }
}

/**
 * The offset just past the item that starts at `pos`, in bytes that
 * decodeCanonical accepted (definite lengths, no tags): a way to find an
 * item's exact bytes inside a larger encoding without decoding it.
 */
export function endOfItem(bytes: Uint8Array, pos: number): number {
  let items = 1;
  while (items > 0) {
    items--;
    if (pos >= bytes.length) throw new CodecError("malformed CBOR: truncated");
    const ib = bytes[pos++]!;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    let arg: number;
    if (ai < 24) arg = ai;
    else if (ai <= 27) {
      const n = 1 << (ai - 24);
      arg = 0;
      for (let i = 0; i < n; i++) arg = arg * 256 + bytes[pos + i]!;
      pos += n;
    } else throw new CodecError("malformed CBOR: indefinite length or reserved header");
    if (major === 2 || major === 3) pos += arg;
    else if (major === 4) items += arg;
    else if (major === 5) items += arg * 2;
    else if (major === 6) throw new CodecError("malformed CBOR: tags are not allowed");
  }
  if (pos > bytes.length) throw new CodecError("malformed CBOR: truncated");
  return pos;
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
