/**
 * The one input-check kit: shapes of input values declared as JSON Schema
 * (TypeBox, so the TypeScript type follows from the same declaration),
 * compiled once into checkers, and the scalar checks that code without a
 * schema (wire records, options, CLI values) uses. Every check answers the
 * same way for the same fault: a Fault naming the field and the reason, in
 * one wording ("expected integer", "greater than maximum 10", "expected 32
 * bytes, got 31", ...). Each room turns a Fault into its own typed error.
 *
 * This room imports nothing of the project, so every other room may use it.
 */
import Type, { type Static, type TObject, type TProperties, type TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { type Fault, reason } from "./faults.js";

export { Type };
export type { Static, TObject, TProperties, TSchema };

export * from "./faults.js";

// ---------------------------------------------------------------------------
// Schema shapes the project uses, so each is said one way.

const SAFE = Number.MAX_SAFE_INTEGER;

export const Shape = Object.freeze({
  /** A safe integer in [min, max]. */
  int: (min = -SAFE, max = SAFE) => Type.Integer({ minimum: min, maximum: max }),
  /** Lowercase hex of exactly `bytes` bytes. */
  hex: (bytes: number) => Type.String({ maxLength: 2 * bytes, pattern: `^[0-9a-f]{${2 * bytes}}$` }),
  /** A string of at most maxLength characters, matching `pattern` (unanchored) if given; give every patterned string a maxLength. */
  string: (maxLength: number, pattern?: string) => Type.String(pattern === undefined ? { maxLength } : { maxLength, pattern }),
  boolean: () => Type.Boolean(),
  /** One of a few strings. */
  oneOf: <const V extends string[]>(values: readonly [...V]) => Type.Unsafe<V[number]>({ type: "string", enum: [...values] }),
  /** An object whose members the code that takes it looks into. */
  object: () => Type.Unsafe<Record<string, unknown>>({ type: "object" }),
  /** An array of at most maxItems values that the code that takes it looks into. */
  array: (maxItems: number) => Type.Array(Type.Unknown(), { maxItems }),
  optional: <T extends TSchema>(t: T) => Type.Optional(t),
  /** An object of exactly these fields (no others). */
  fields: <P extends TProperties>(properties: P) => Type.Object(properties, { additionalProperties: false }),
});

// ---------------------------------------------------------------------------
// Compiled checkers.

export interface Checker<T> {
  readonly schema: TSchema;
  /** True when `v` has the shape. */
  is(v: unknown): v is T;
  /** The first fault of `v`, or undefined when it has the shape. */
  fault(v: unknown): Fault | undefined;
}

interface SchemaError {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
}

function pathOf(pointer: string): string {
  if (pointer === "") return "";
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .join(".");
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function valueAt(root: unknown, pointer: string): unknown {
  if (pointer === "") return root;
  let v = root;
  for (const part of pointer.slice(1).split("/")) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return v;
}

function schemaAt(root: TSchema, schemaPath: string): Record<string, unknown> | undefined {
  let s: unknown = root;
  for (const part of schemaPath.replace(/^#\/?/, "").split("/")) {
    if (part === "") continue;
    if (typeof s !== "object" || s === null) return undefined;
    s = (s as Record<string, unknown>)[part];
  }
  return typeof s === "object" && s !== null ? (s as Record<string, unknown>) : undefined;
}

/** A compiler error in the kit's wording. */
function faultOf(schema: TSchema, value: unknown, e: SchemaError): Fault {
  const path = pathOf(e.instancePath);
  const p = e.params;
  switch (e.keyword) {
    case "required": {
      const names = (p.requiredProperties as string[] | undefined) ?? [];
      return { path: join(path, names[0] ?? "?"), reason: reason.required() };
    }
    case "additionalProperties": {
      const names = (p.additionalProperties as string[] | undefined) ?? [];
      return { path: join(path, names[0] ?? "?"), reason: reason.unexpected() };
    }
    case "type":
      return { path, reason: reason.type(String(p.type)) };
    case "minimum":
    case "maximum": {
      // An integer schema bounds a value that is no safe integer (1e300) by its limits: it is not an integer here.
      const v = valueAt(value, e.instancePath);
      const s = schemaAt(schema, e.schemaPath);
      if (s?.type === "integer" && !Number.isSafeInteger(v)) return { path, reason: reason.type("integer") };
      return { path, reason: e.keyword === "minimum" ? reason.belowMinimum(Number(p.limit)) : reason.aboveMaximum(Number(p.limit)) };
    }
    case "maxLength":
      return { path, reason: reason.tooLong(Number(p.limit)) };
    case "minLength":
      return { path, reason: reason.tooShort(Number(p.limit)) };
    case "pattern":
      return { path, reason: reason.pattern(String(p.pattern)) };
    case "enum":
      return { path, reason: reason.oneOf((p.allowedValues as unknown[] | undefined) ?? []) };
    case "const":
      return { path, reason: reason.oneOf([p.allowedValue]) };
    case "maxItems":
      return { path, reason: reason.tooManyItems(Number(p.limit)) };
    case "minItems":
      return { path, reason: reason.tooFewItems(Number(p.limit)) };
    default:
      return { path, reason: `does not satisfy ${e.keyword}` };
  }
}

/**
 * Compile `schema` once into a checker (TypeBox generates the check
 * function). Throws at once on a schema the compiler refuses, e.g. a
 * malformed pattern.
 */
export function compileChecker<T extends TSchema>(schema: T): Checker<Static<T>> {
  assertPatterns(schema);
  const validator = Compile(schema);
  // JSON Schema counts a string's length in code points; the kit counts UTF-16 code units, as
  // String.length does, and before any pattern runs, so a pattern never sees an over-long string.
  const s = schema as { type?: unknown; maxLength?: unknown };
  const maxUnits = s.type === "string" && typeof s.maxLength === "number" ? s.maxLength : undefined;
  const tooLong = (v: unknown) => maxUnits !== undefined && typeof v === "string" && v.length > maxUnits;
  return {
    schema,
    is: (v: unknown): v is Static<T> => !tooLong(v) && validator.Check(v),
    fault(v: unknown): Fault | undefined {
      if (tooLong(v)) return { path: "", reason: reason.tooLong(maxUnits!) };
      if (validator.Check(v)) return undefined;
      const errors = validator.Errors(v) as unknown as SchemaError[];
      // Prefer the error of a field over the summary of a union or an additionalProperties "false" schema.
      const first = errors.find((e) => e.keyword !== "boolean" && e.keyword !== "anyOf") ?? errors[0];
      return first === undefined ? { path: "", reason: "invalid" } : faultOf(schema, v, first);
    },
  };
}

/** Every `pattern` in a schema must be an ECMAScript regex with flag u (as JSON Schema's), else compiling fails here. */
function assertPatterns(schema: unknown, at = "#"): void {
  if (typeof schema !== "object" || schema === null) return;
  for (const [k, v] of Object.entries(schema)) {
    if (k === "pattern" && typeof v === "string") {
      try {
        new RegExp(v, "u");
      } catch (e) {
        throw new Error(`${at}: pattern ${v} is not a regular expression: ${(e as Error).message}`);
      }
    } else if (typeof v === "object") {
      assertPatterns(v, `${at}/${k}`);
    }
  }
}
