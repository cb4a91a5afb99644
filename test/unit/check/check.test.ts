/**
 * The input-check kit: compiled schema checkers and the scalar checks give
 * the same Fault (field and reason) for the same fault.
 */
import { expect } from "chai";
import fc from "fast-check";
import { Shape, Type, arrayFault, booleanFault, bytesFault, compileChecker, intFault, oneOfFault, stringFault, unexpectedKey } from "../../../src/check/index.js";

describe("check: the input-check kit", () => {
  const record = compileChecker(
    Shape.fields({
      hash: Shape.hex(32),
      height: Shape.int(1, 100),
      name: Type.Optional(Shape.string(8, "^[a-z]+$")),
      mode: Type.Optional(Shape.oneOf(["full", "short"])),
      flag: Type.Optional(Shape.boolean()),
      list: Type.Optional(Shape.array(2)),
      inner: Type.Optional(Shape.fields({ n: Shape.int(0, 9) })),
    }),
  );
  const ok = { hash: "ab".repeat(32), height: 5 };

  it("accepts a value of the shape", () => {
    expect(record.fault(ok)).to.equal(undefined);
    expect(record.is({ ...ok, name: "abc", mode: "full", flag: true, list: [1], inner: { n: 3 } })).to.equal(true);
  });

  const cases: [string, unknown, string, RegExp][] = [
    ["a missing field", { height: 5 }, "hash", /^required$/],
    ["an unexpected field", { ...ok, extra: 1 }, "extra", /^unexpected field$/],
    ["hex of the wrong length", { ...ok, hash: "ab" }, "hash", /does not match pattern/],
    ["hex too long", { ...ok, hash: "a".repeat(65) }, "hash", /longer than 64 characters/],
    ["upper-case hex", { ...ok, hash: "AB".repeat(32) }, "hash", /does not match pattern/],
    ["a fraction", { ...ok, height: 1.5 }, "height", /^expected integer$/],
    ["an unsafe integer", { ...ok, height: 2 ** 60 }, "height", /^expected integer$/],
    ["below the range", { ...ok, height: 0 }, "height", /^less than minimum 1$/],
    ["above the range", { ...ok, height: 101 }, "height", /^greater than maximum 100$/],
    ["a string for a boolean", { ...ok, flag: "yes" }, "flag", /^expected boolean$/],
    ["a value not in the list", { ...ok, mode: "x" }, "mode", /^expected one of: full, short$/],
    ["a number for a oneOf", { ...ok, mode: 1 }, "mode", /^expected string$/],
    ["too many items", { ...ok, list: [1, 2, 3] }, "list", /^more than 2 items: expected at most 2$/],
    ["a nested fault", { ...ok, inner: { n: 10 } }, "inner.n", /^greater than maximum 9$/],
    ["a nested unexpected field", { ...ok, inner: { n: 1, m: 2 } }, "inner.m", /^unexpected field$/],
  ];
  for (const [what, value, path, reason] of cases) {
    it(`refuses ${what}, naming ${path}`, () => {
      const f = record.fault(value);
      expect(f?.path).to.equal(path);
      expect(f?.reason).to.match(reason);
      expect(record.is(value)).to.equal(false);
    });
  }

  it("refuses a schema with a malformed pattern when compiling it", () => {
    expect(() => compileChecker(Shape.string(4, "("))).to.throw(/pattern/);
  });

  it("gives the scalar checks the wording of the compiled ones", () => {
    const int = compileChecker(Shape.int(0, 10));
    const str = compileChecker(Shape.string(3, "^[a-z]+$"));
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -20, max: 20 }), fc.double(), fc.string({ maxLength: 6 }), fc.boolean(), fc.constant(null)), (v) => {
        expect(intFault(v, 0, 10)).to.equal(int.fault(v)?.reason);
        expect(stringFault(v, 3, /^[a-z]+$/u)).to.equal(str.fault(v)?.reason);
      }),
    );
    expect(booleanFault(1)).to.equal(compileChecker(Shape.boolean()).fault(1)?.reason);
    expect(arrayFault([1, 2, 3], 2)).to.equal(compileChecker(Shape.array(2)).fault([1, 2, 3])?.reason);
    expect(oneOfFault("x", ["full", "short"])).to.equal(compileChecker(Shape.oneOf(["full", "short"])).fault("x")?.reason);
  });

  it("checks bytes and keys", () => {
    expect(bytesFault(new Uint8Array(31), 32)).to.equal("expected 32 bytes, got 31");
    expect(bytesFault("00", 1)).to.equal("expected bytes");
    expect(bytesFault(new Uint8Array(3))).to.equal(undefined);
    expect(unexpectedKey({ a: 1, b: 2 }, ["a"])).to.equal("b");
    expect(unexpectedKey({ a: 1 }, ["a", "b"])).to.equal(undefined);
  });
});
