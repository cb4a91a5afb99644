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
import { isUtf8 } from "node:buffer";
import { concatBytes } from "../crypto/bytes.js";
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

/** A value's canonical encoding (encodeCanonical's output), placed in a map as it is by encodeCanonicalMap. */
export class PreEncoded {
  constructor(readonly bytes: Uint8Array) {}
}

/** A definite-length head: major type and argument in the shortest form. */
function head(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff);
  return Uint8Array.of(m | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

/**
 * encodeCanonical of a map whose values may be PreEncoded, with the same
 * bytes: the other entries are encoded as one map, and the pre-encoded ones
 * are merged into it at their places in the key order. A large value two
 * records share (a DID document, already inside its tx) is not encoded again.
 */
export function encodeCanonicalMap(m: Record<string, CanonicalValue | PreEncoded>): Uint8Array {
  const rest: Record<string, CanonicalValue> = {};
  const pre: Array<{ key: Uint8Array; value: Uint8Array }> = [];
  let n = 0;
  for (const k of Object.keys(m)) {
    if (k === "__proto__") throw new CodecError("map key __proto__ is not allowed");
    const v = m[k]!;
    if (v instanceof PreEncoded) pre.push({ key: encodeCanonical(k), value: v.bytes });
    else {
      rest[k] = v;
      n++;
    }
  }
  const base = encodeCanonical(rest);
  if (pre.length === 0) return base;
  pre.sort((a, b) => compareKeys(a.key, 0, a.key.length, b.key, 0, b.key.length));
  const parts: Uint8Array[] = [head(5, n + pre.length)];
  let pos = endOfHead(base);
  let p = 0;
  for (let i = 0; i < n; i++) {
    const keyEnd = endOfItem(base, pos);
    const valueEnd = endOfItem(base, keyEnd);
    for (; p < pre.length && compareKeys(pre[p]!.key, 0, pre[p]!.key.length, base, pos, keyEnd) < 0; p++) parts.push(pre[p]!.key, pre[p]!.value);
    parts.push(base.subarray(pos, valueEnd));
    pos = valueEnd;
  }
  for (; p < pre.length; p++) parts.push(pre[p]!.key, pre[p]!.value);
  return concatBytes(...parts);
}

/** Where the first item inside a container starts: after its head. */
function endOfHead(bytes: Uint8Array): number {
  const ai = bytes[0]! & 0x1f;
  return ai < 24 ? 1 : 1 + (1 << (ai - 24));
}

export function decodeCanonical(bytes: Uint8Array): CanonicalValue {
  if (!(bytes instanceof Uint8Array)) throw new CodecError("expected bytes");
  checkCanonicalForm(bytes);
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
  return value as CanonicalValue;
}

/** The head readHead read last (kept in one object: the walks read a head per item and allocate nothing for it). */
const lastHead = { major: 0, ai: 0, arg: 0 };

/**
 * Read the head of the item at `pos` into lastHead and return where its
 * content starts: definite lengths only (an argument in 0, 1, 2, 4 or 8
 * extra bytes), anything else is refused.
 */
function readHead(bytes: Uint8Array, pos: number): number {
  if (pos >= bytes.length) throw new CodecError("malformed CBOR: truncated");
  const ib = bytes[pos++]!;
  const ai = ib & 0x1f;
  let arg = ai;
  if (ai >= 24) {
    if (ai > 27) throw new CodecError("malformed CBOR: indefinite length or reserved header");
    const n = 1 << (ai - 24);
    if (pos + n > bytes.length) throw new CodecError("malformed CBOR: truncated");
    arg = 0;
    for (let i = 0; i < n; i++) arg = arg * 256 + bytes[pos + i]!;
    pos += n;
  }
  lastHead.major = ib >> 5;
  lastHead.ai = ai;
  lastHead.arg = arg;
  return pos;
}

/** A container being walked: items still to read, and for a map the previous key's bytes (its order is checked against the next). */
interface Open {
  items: number;
  map: boolean;
  keyStart: number;
  keyEnd: number;
}

/**
 * The canonical form, checked on the bytes before the (recursive) decoder
 * sees them, without recursion: exactly one item and nothing after it;
 * definite lengths; every head in its shortest form; no tags, no floats,
 * no simple values but false, true and null; text strings valid UTF-8;
 * map keys text, sorted length-first then bytewise, none repeated; nesting
 * at most MAX_DEPTH. With the value model (checkValue) this is exactly what
 * encodeCanonical writes, so each value has one accepted encoding; a 32 KiB
 * tx nested 32,000 arrays deep is refused before it could cost recursion.
 */
function checkCanonicalForm(bytes: Uint8Array): void {
  const open: Open[] = [{ items: 1, map: false, keyStart: 0, keyEnd: 0 }]; // a virtual root holds one item
  let pos = 0;
  while (open.length > 0) {
    const top = open[open.length - 1]!;
    if (top.items === 0) {
      open.pop();
      continue;
    }
    // In a map, items alternate key, value: an even count left means a key comes next.
    const isKey = top.map && top.items % 2 === 0;
    top.items--;
    const start = pos;
    pos = readHead(bytes, pos);
    const { major, ai, arg } = lastHead;
    if (ai >= 24) {
      if (major === 7) throw new CodecError("floats and extended simple values are not allowed");
      if (arg < (ai === 24 ? 24 : 2 ** (4 << (ai - 24)))) throw new CodecError("non-canonical encoding: a head longer than needed");
    }
    if (isKey && major !== 3) throw new CodecError("map keys must be text");
    switch (major) {
      case 2:
      case 3:
        if (arg > bytes.length - pos) throw new CodecError("malformed CBOR: truncated");
        if (major === 3 && !isAscii(bytes, pos, pos + arg) && !isUtf8(bytes.subarray(pos, pos + arg))) throw new CodecError("text is not valid UTF-8");
        pos += arg;
        break;
      case 4:
      case 5: {
        const items = major === 5 ? arg * 2 : arg;
        if (items > bytes.length - pos) throw new CodecError("malformed CBOR: truncated");
        if (items > 0) {
          if (open.length > MAX_DEPTH) throw new CodecError(`nesting deeper than ${MAX_DEPTH}`);
          open.push({ items, map: major === 5, keyStart: 0, keyEnd: 0 });
        }
        break;
      }
      case 6:
        throw new CodecError("malformed CBOR: tags are not allowed");
      case 7:
        if (ai < 20 || ai > 22) throw new CodecError("simple values other than false, true and null are not allowed");
        break;
    }
    if (isKey) {
      if (top.keyEnd > 0 && compareKeys(bytes, top.keyStart, top.keyEnd, bytes, start, pos) >= 0) {
        throw new CodecError("non-canonical encoding: map keys out of order or repeated");
      }
      top.keyStart = start;
      top.keyEnd = pos;
    }
  }
  if (pos !== bytes.length) throw new CodecError("malformed CBOR: bytes after the value");
}

/** ASCII is valid UTF-8: most text is, and checking it needs no view of the bytes. */
function isAscii(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i]! >= 0x80) return false;
  return true;
}

/** Canonical key order on two encoded text keys: shorter first, then bytewise (a key's head carries its length, so comparing the whole encodings bytewise after their lengths gives the same order). */
function compareKeys(b1: Uint8Array, s1: number, e1: number, b2: Uint8Array, s2: number, e2: number): number {
  const l1 = e1 - s1;
  const l2 = e2 - s2;
  if (l1 !== l2) return l1 - l2;
  for (let i = 0; i < l1; i++) {
    const d = b1[s1 + i]! - b2[s2 + i]!;
    if (d !== 0) return d;
  }
  return 0;
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
    pos = readHead(bytes, pos);
    const { major, arg } = lastHead;
    if (major === 2 || major === 3) pos += arg;
    else if (major === 4) items += arg;
    else if (major === 5) items += arg * 2;
    else if (major === 6) throw new CodecError("malformed CBOR: tags are not allowed");
  }
  if (pos > bytes.length) throw new CodecError("malformed CBOR: truncated");
  return pos;
}

/** Encodings of the few field names mapValueBytes is asked for (it runs for every tx of every block). */
const keyEncodings = new Map<string, Uint8Array>();

function encodedKey(key: string): Uint8Array {
  let e = keyEncodings.get(key);
  if (!e) {
    e = encodeCanonical(key);
    if (keyEncodings.size < 64) keyEncodings.set(key, e);
  }
  return e;
}

/**
 * The encoded value of text key `key` in the encoded map `bytes` (bytes
 * decodeCanonical accepts, of fewer than 24 entries: the records this is
 * for), as a view into them; undefined when there is no such key or
 * `bytes` is not such a map.
 */
export function mapValueBytes(bytes: Uint8Array, key: string): Uint8Array | undefined {
  const ib = bytes[0];
  if (ib === undefined || ib >> 5 !== 5 || (ib & 0x1f) >= 24) return undefined;
  const want = encodedKey(key);
  let pos = 1;
  for (let i = 0; i < (ib & 0x1f); i++) {
    const keyEnd = endOfItem(bytes, pos);
    const valueEnd = endOfItem(bytes, keyEnd);
    if (compareKeys(bytes, pos, keyEnd, want, 0, want.length) === 0) return bytes.subarray(keyEnd, valueEnd);
    pos = valueEnd;
  }
  return undefined;
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
