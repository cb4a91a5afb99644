/**
 * Unsigned LEB128 varints (7 bits a byte, least significant group first,
 * the high bit set on every byte but the last) for the store's own compact
 * values. Numbers are safe integers (below 2^53); reading anything else, or
 * bytes cut short, is a VarintError.
 */

export class VarintError extends Error {}

/** The varints of `values`, one after the other. */
export function encodeVarints(values: readonly number[]): Uint8Array {
  const out: number[] = [];
  for (let n of values) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`a varint is a non-negative safe integer, got ${n}`);
    while (n >= 0x80) {
      out.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    out.push(n);
  }
  return Uint8Array.from(out);
}

/** A reader of varints from `raw`, starting at `at`; `at` is where the next one starts. */
export class VarintReader {
  constructor(
    private readonly raw: Uint8Array,
    public at = 0,
  ) {}

  get done(): boolean {
    return this.at >= this.raw.length;
  }

  next(): number {
    let n = 0;
    // Eight groups of 7 bits reach 2^56; past 2^53 is refused below.
    for (let scale = 1; scale <= 2 ** 49; scale *= 0x80) {
      if (this.at >= this.raw.length) throw new VarintError("varint cut short");
      const b = this.raw[this.at++]!;
      n += (b & 0x7f) * scale;
      if (b >= 0x80) continue;
      if (!Number.isSafeInteger(n)) throw new VarintError("varint past 2^53");
      return n;
    }
    throw new VarintError("varint longer than 8 bytes");
  }
}
