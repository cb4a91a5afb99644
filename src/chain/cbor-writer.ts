/**
 * The canonical encoder's writer: deterministic CBOR for the codec's value
 * model (null, booleans, safe integers, text, bytes, arrays, maps with text
 * keys sorted length-first then bytewise), written straight into one
 * growing scratch buffer. It writes exactly the bytes cborg's default
 * encoder writes for these values (codec.test.ts compares the two over
 * random values), with one allocation per encoding instead of token arrays,
 * sorted entry lists and chunk copies per map: the chain encodes every tx,
 * record, vote and frame. Values must have passed the codec's checkValue
 * (plain data: the writer calls no code of the value's, so it never runs
 * while another encoding is being written into the shared buffer).
 */
import type { CanonicalValue } from "./codec.js";

let scratch = Buffer.allocUnsafe(64 * 1024);
let pos = 0;

function ensure(n: number): void {
  if (pos + n <= scratch.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(scratch.length * 2, pos + n));
  scratch.copy(bigger, 0, 0, pos);
  scratch = bigger;
}

function writeHead(major: number, n: number): void {
  ensure(9);
  const m = major << 5;
  if (n < 24) scratch[pos++] = m | n;
  else if (n < 0x100) {
    scratch[pos++] = m | 24;
    scratch[pos++] = n;
  } else if (n < 0x10000) {
    scratch[pos++] = m | 25;
    scratch.writeUInt16BE(n, pos);
    pos += 2;
  } else if (n < 0x100000000) {
    scratch[pos++] = m | 26;
    scratch.writeUInt32BE(n, pos);
    pos += 4;
  } else {
    scratch[pos++] = m | 27;
    scratch.writeUInt32BE(Math.floor(n / 0x100000000), pos);
    scratch.writeUInt32BE(n >>> 0, pos + 4);
    pos += 8;
  }
}

function writeText(s: string): void {
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  // ASCII is its own UTF-8: one byte a character, copied as latin1.
  const n = ascii ? s.length : Buffer.byteLength(s, "utf8");
  writeHead(3, n);
  ensure(n);
  scratch.write(s, pos, n, ascii ? "latin1" : "utf8");
  pos += n;
}

/** Encoded text keys, for the few dozen field names every record repeats. */
const keyBytes = new Map<string, Buffer>();
const KEY_CACHE_MAX = 4096;

function encodedKey(k: string): Buffer {
  let b = keyBytes.get(k);
  if (b) return b;
  const start = pos;
  writeText(k);
  b = Buffer.from(scratch.subarray(start, pos));
  pos = start;
  if (k.length <= 64 && keyBytes.size < KEY_CACHE_MAX) keyBytes.set(k, b);
  return b;
}

/** Canonical key order: shorter encoding first, then bytewise. */
function keyOrder(a: Buffer, b: Buffer): number {
  return a.length - b.length || Buffer.compare(a, b);
}

function writeValue(v: CanonicalValue): void {
  if (v === null) {
    ensure(1);
    scratch[pos++] = 0xf6;
  } else if (v === true || v === false) {
    ensure(1);
    scratch[pos++] = v ? 0xf5 : 0xf4;
  } else if (typeof v === "number") {
    if (v >= 0) writeHead(0, v);
    else writeHead(1, -1 - v);
  } else if (typeof v === "string") {
    writeText(v);
  } else if (v instanceof Uint8Array) {
    writeHead(2, v.length);
    ensure(v.length);
    scratch.set(v, pos);
    pos += v.length;
  } else if (Array.isArray(v)) {
    writeHead(4, v.length);
    for (const item of v) writeValue(item);
  } else {
    const keys = Object.keys(v);
    const entries = keys.map((k) => ({ key: encodedKey(k), value: v[k]! }));
    entries.sort((a, b) => keyOrder(a.key, b.key));
    writeHead(5, entries.length);
    for (const e of entries) {
      ensure(e.key.length);
      e.key.copy(scratch, pos);
      pos += e.key.length;
      writeValue(e.value);
    }
  }
}

/** The canonical bytes of a value the codec checked; a fresh Uint8Array. */
export function writeCanonical(v: CanonicalValue): Uint8Array {
  pos = 0;
  writeValue(v);
  const out = new Uint8Array(pos);
  out.set(scratch.subarray(0, pos));
  return out;
}
