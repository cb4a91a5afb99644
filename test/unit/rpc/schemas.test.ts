/**
 * The node's JSON-RPC method table against its params schemas: every method
 * declares its params as a schema, which is compiled when the table is; for
 * each declared param, a value of the wrong kind and a value past each of its
 * constraints is refused with -32602 naming that param, before the handler
 * runs (the read APIs here throw if touched).
 */
import { expect } from "chai";
import { ExportPageReader, exportMethods } from "../../../src/rpc/export-methods.js";
import { compileMethods, dispatch, isCompiled, type JsonRpcFailure, type MethodTable } from "../../../src/rpc/jsonrpc.js";
import { type NodeReadApi, nodeMethods } from "../../../src/rpc/methods.js";
import { netMethods } from "../../../src/rpc/net-methods.js";
import { registryMethods, type RegistryReadApi } from "../../../src/rpc/registry-methods.js";
import { subscriptionMethods } from "../../../src/rpc/subscriptions.js";
import { validatorMethods, type ValidatorReadApi } from "../../../src/rpc/validator-methods.js";

/** An API whose every member throws: a handler reached with bad params would fail the test with -32603. */
function untouchable<T extends object>(): T {
  return new Proxy({} as T, {
    get: (_t, key) => {
      if (key === "then") return undefined;
      throw new Error(`the handler ran and read ${String(key)}`);
    },
  });
}

function allMethods(): MethodTable {
  return {
    ...nodeMethods(untouchable<NodeReadApi>(), { benchMethods: true }),
    ...registryMethods(untouchable<RegistryReadApi>()),
    ...exportMethods(new ExportPageReader(untouchable())),
    ...netMethods(untouchable()),
    ...validatorMethods(untouchable<ValidatorReadApi>()),
    ...subscriptionMethods(),
  };
}

interface PropSchema {
  type?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  pattern?: string;
  enum?: string[];
  maxItems?: number;
}

/** Bad values for one param schema, each with the reason expected. */
function badValues(s: PropSchema): [string, unknown, RegExp][] {
  const out: [string, unknown, RegExp][] = [];
  switch (s.type) {
    case "string":
      out.push(["a number", 42, /expected string/], ["null", null, /expected string/]);
      if (s.maxLength !== undefined) out.push(["too long", "a".repeat(s.maxLength + 1), new RegExp(`longer than ${s.maxLength}`)]);
      if (s.pattern !== undefined) out.push(["off pattern", "!", /does not match pattern/]);
      if (s.enum !== undefined) out.push(["not in the enum", "nope", /expected one of/]);
      break;
    case "integer":
      out.push(["a fraction", 1.5, /expected integer/], ["a string", "1", /expected integer/], ["beyond safe integers", 1e300, /expected integer/]);
      if (s.minimum !== undefined && s.minimum > -Number.MAX_SAFE_INTEGER) out.push(["below minimum", s.minimum - 1, new RegExp(`less than minimum ${s.minimum}`)]);
      if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) out.push(["above maximum", s.maximum + 1, new RegExp(`greater than maximum ${s.maximum}`)]);
      break;
    case "boolean":
      out.push(["a string", "yes", /expected boolean/], ["a number", 1, /expected boolean/]);
      break;
    case "object":
      out.push(["an array", [], /expected object/], ["a string", "x", /expected object/]);
      break;
    case "array":
      out.push(["an object", {}, /expected array/]);
      if (s.maxItems !== undefined) out.push(["too long", new Array(s.maxItems + 1).fill(0), new RegExp(`more than ${s.maxItems}`)]);
      break;
    default:
      throw new Error(`no bad values for a param of type ${String(s.type)}`);
  }
  return out;
}

/** A valid value for a param, to fill the required params beside the one under test. */
function goodValue(name: string, s: PropSchema): unknown {
  if (s.enum !== undefined) return s.enum[0];
  if (s.type === "string" && s.pattern?.includes("did:sid")) return "did:sid:abc";
  if (s.type === "string" && s.pattern?.includes("0-9a-f")) return "0".repeat(s.maxLength ?? 64);
  if (s.type === "string" && s.pattern !== undefined) return "a";
  if (s.type === "string") return name === "did" ? "did:sid:abc" : "x";
  if (s.type === "integer") return s.minimum !== undefined && s.minimum > 0 ? s.minimum : 0;
  if (s.type === "boolean") return false;
  if (s.type === "object") return {};
  return [];
}

async function call(methods: MethodTable, method: string, params: unknown): Promise<JsonRpcFailure> {
  const r = await dispatch(methods, { jsonrpc: "2.0", id: 1, method, params }, { maxBatch: 10 });
  expect(r, `${method} answered nothing`).to.not.equal(undefined);
  return r as JsonRpcFailure;
}

describe("rpc: params schemas of the node's methods", () => {
  const methods = allMethods();
  const names = Object.keys(methods);

  it("registers the methods of every room", () => {
    for (const m of ["node_status", "tx_submit", "did_resolve", "issuer_list", "statuslist_get", "registry_export", "net_peers", "validators_get", "evidence_list", "subscribe", "debug_fixedResolution"]) {
      expect(names, m).to.include(m);
    }
  });

  it("declares every method's params as an object schema and compiles each when the table is compiled", () => {
    compileMethods(methods);
    for (const name of names) {
      const p = methods[name]!.params as { type?: unknown; properties?: unknown; additionalProperties?: unknown };
      expect(p.type, name).to.equal("object");
      expect(p.properties, name).to.be.an("object");
      expect(isCompiled(methods[name]!), name).to.equal(true);
    }
  });

  it("refuses an unknown param of every method, naming it", async () => {
    for (const name of names) {
      const r = await call(methods, name, { notAParam: 1 });
      expect(r.error, name).to.deep.equal({ code: -32602, message: "Invalid params", data: { param: "notAParam", reason: "unknown param" } });
    }
  });

  it("refuses a bad value of each kind for every param of every method, naming the param", async () => {
    let checked = 0;
    const kinds = new Set<string>();
    for (const name of names) {
      const schema = methods[name]!.params as { properties: Record<string, PropSchema>; required?: string[] };
      const required = new Set(schema.required ?? []);
      for (const [param, ps] of Object.entries(schema.properties)) {
        kinds.add(ps.type!);
        for (const [what, bad, reason] of badValues(ps)) {
          const params: Record<string, unknown> = {};
          for (const [other, os] of Object.entries(schema.properties)) if (other !== param && required.has(other)) params[other] = goodValue(other, os);
          params[param] = bad;
          const r = await call(methods, name, params);
          const label = `${name}.${param} ${what}`;
          expect(r.error?.code, label).to.equal(-32602);
          expect((r.error?.data as { param: string }).param, label).to.equal(param);
          expect((r.error?.data as { reason: string }).reason, label).to.match(reason);
          checked++;
        }
        if (required.has(param)) {
          const params: Record<string, unknown> = {};
          for (const [other, os] of Object.entries(schema.properties)) if (other !== param && required.has(other)) params[other] = goodValue(other, os);
          const r = await call(methods, name, params);
          expect(r.error, `${name} without ${param}`).to.deep.equal({ code: -32602, message: "Invalid params", data: { param, reason: "required" } });
          checked++;
        }
      }
    }
    // Every kind of param the node declares was tried.
    expect([...kinds].sort()).to.deep.equal(["boolean", "integer", "object", "string"]);
    expect(checked).to.be.greaterThan(100);
  });

  it("maps positional params onto the schema's property order", async () => {
    // did_history's order is did, after, limit: a limit in the place of `after` is refused as `after`.
    const r = await call(methods, "did_history", ["did:sid:abc", 5]);
    expect(r.error).to.deep.equal({ code: -32602, message: "Invalid params", data: { param: "after", reason: "expected string" } });
    const tooMany = await call(methods, "did_sequence", ["did:sid:abc", 1]);
    expect((tooMany.error?.data as { param: string }).param).to.equal("params[1]");
  });

  it("counts a string's length in UTF-16 code units, before its pattern", async () => {
    // 33 astral characters: 66 code units, 33 code points; hex of 32 bytes allows 64.
    const r = await call(methods, "tx_get", { hash: "\u{1F600}".repeat(33) });
    expect(r.error).to.deep.equal({ code: -32602, message: "Invalid params", data: { param: "hash", reason: "longer than 64 characters" } });
  });
});
