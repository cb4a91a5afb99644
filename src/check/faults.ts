/**
 * The check kit's wording and its scalar checks, without the schema
 * compiler, so code bundled for the browser (chain/, did/) can use them
 * without it. index.ts re-exports all of this beside the schemas.
 */

/** What is wrong with an input: the field (dotted path, "" for the value itself) and why. */
export interface Fault {
  path: string;
  reason: string;
}

// ---------------------------------------------------------------------------
// Reasons: the wording every check of the kit uses.

export const reason = Object.freeze({
  required: () => "required",
  unexpected: () => "unexpected field",
  type: (expected: string) => `expected ${expected}`,
  belowMinimum: (min: number) => `less than minimum ${min}`,
  aboveMaximum: (max: number) => `greater than maximum ${max}`,
  tooLong: (max: number) => `longer than ${max} characters`,
  tooShort: (min: number) => `shorter than ${min} characters`,
  pattern: (pattern: string) => `does not match pattern ${pattern}`,
  oneOf: (values: readonly unknown[]) => `expected one of: ${values.map(String).join(", ")}`,
  tooManyItems: (max: number) => `more than ${max} items: expected at most ${max}`,
  tooFewItems: (min: number) => `fewer than ${min} items`,
  byteLength: (want: number, got: number) => `expected ${want} bytes, got ${got}`,
});

// ---------------------------------------------------------------------------
// Scalar checks: each returns the reason a value is refused, or undefined.

/** A safe integer in [min, max] (both inclusive). */
export function intFault(v: unknown, min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): string | undefined {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) return reason.type("integer");
  if (v < min) return reason.belowMinimum(min);
  if (v > max) return reason.aboveMaximum(max);
  return undefined;
}

/** A value as a message shows it: JSON where it has one, at most 100 characters. */
export function show(v: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = String(v);
  }
  return text.length <= 100 ? text : text.slice(0, 100) + "…";
}

/**
 * The message for an integer setting (an option, a config key) that is not
 * a safe integer in [min, max], or undefined when it is:
 * `name: greater than maximum 65535 (an integer in [0, 65535]), got 70000`.
 */
export function intSettingFault(name: string, v: unknown, min: number, max: number): string | undefined {
  const f = intFault(v, min, max);
  return f === undefined ? undefined : `${name}: ${f} (an integer in [${min}, ${max}]), got ${show(v)}`;
}

/** A string of at most maxLength UTF-16 code units, matching `pattern` if given (tested unanchored, as JSON Schema does). */
export function stringFault(v: unknown, maxLength: number, pattern?: RegExp): string | undefined {
  if (typeof v !== "string") return reason.type("string");
  if (v.length > maxLength) return reason.tooLong(maxLength);
  if (pattern !== undefined && !pattern.test(v)) return reason.pattern(pattern.source);
  return undefined;
}

/** A non-empty string of at most maxLength. */
export function nonEmptyStringFault(v: unknown, maxLength: number): string | undefined {
  if (typeof v === "string" && v.length === 0) return reason.tooShort(1);
  return stringFault(v, maxLength);
}

const HEX_PATTERNS = new Map<number, RegExp>();

/** Lowercase hex of exactly `bytes` bytes (the scalar twin of Shape.hex, with the same reasons). */
export function hexFault(v: unknown, bytes: number): string | undefined {
  let re = HEX_PATTERNS.get(bytes);
  if (re === undefined) HEX_PATTERNS.set(bytes, (re = new RegExp(`^[0-9a-f]{${2 * bytes}}$`, "u")));
  return stringFault(v, 2 * bytes, re);
}

export function booleanFault(v: unknown): string | undefined {
  return typeof v === "boolean" ? undefined : reason.type("boolean");
}

/** Bytes (a Uint8Array), of exactly `length` bytes if given. */
export function bytesFault(v: unknown, length?: number): string | undefined {
  if (!(v instanceof Uint8Array)) return reason.type("bytes");
  if (length !== undefined && v.length !== length) return reason.byteLength(length, v.length);
  return undefined;
}

export function arrayFault(v: unknown, maxItems: number): string | undefined {
  if (!Array.isArray(v)) return reason.type("array");
  if (v.length > maxItems) return reason.tooManyItems(maxItems);
  return undefined;
}

/** A plain object: not null, not an array, not bytes. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** The first key of `v` that is not in `allowed`, if any. */
export function unexpectedKey(v: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) return k;
  return undefined;
}

export function oneOfFault<T>(v: unknown, values: readonly T[]): string | undefined {
  return values.includes(v as T) ? undefined : reason.oneOf(values);
}

