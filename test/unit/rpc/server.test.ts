import { readFileSync } from "node:fs";
import { expect } from "chai";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { BlockErrorCode, ChainError, CodecError, DidErrorCode, TxErrorCode, GovErrorCode, KycErrorCode, StatusListErrorCode } from "../../../src/chain/errors.js";
import { CryptoError, CryptoErrorCode } from "../../../src/crypto/errors.js";
import { DidError } from "../../../src/did/errors.js";
import { APP_ERROR_CODES, RpcParamsError, toJsonRpcError } from "../../../src/rpc/errors.js";
import { SubscriptionErrorCode } from "../../../src/rpc/ws-errors.js";
import { compileMethods, defineMethod, dispatch, type MethodTable } from "../../../src/rpc/jsonrpc.js";
import { defaultRpcOptions, resolveRpcOptions } from "../../../src/rpc/options.js";
import { buildServer } from "../../../src/rpc/server.js";

const DID_RE = "^did:sid:[1-9A-HJ-NP-Za-km-z]{1,28}$";

function makeMethods(): MethodTable {
  let open: () => void = () => {};
  const gate = new Promise<string>((resolve) => {
    open = () => resolve("opened");
  });
  return {
    waitGate: defineMethod({
      params: {},
      handler: () => Promise.race([gate, new Promise<string>((r) => setTimeout(() => r("timed out"), 2000).unref())]),
    }),
    openGate: defineMethod({ params: {}, handler: () => open() }),
    echo: defineMethod<{ msg: string }, string>({
      params: { msg: { type: "string", required: true, maxLength: 16 } },
      handler: (p) => p.msg,
    }),
    add: defineMethod<{ a: number; b: number }, number>({
      params: { a: { type: "integer", required: true, minimum: 0 }, b: { type: "integer", required: true, maximum: 1000 } },
      handler: (p) => p.a + p.b,
    }),
    slow: defineMethod<{ ms: number; tag: string }, string>({
      params: { ms: { type: "integer", required: true, minimum: 0, maximum: 100 }, tag: { type: "string" } },
      handler: async (p) => {
        await new Promise((r) => setTimeout(r, p.ms));
        return p.tag ?? "slow";
      },
    }),
    resolve: defineMethod<{ did: string; flag?: boolean; opts?: object; list?: unknown[]; mode?: string }, unknown>({
      params: {
        did: { type: "string", required: true, maxLength: 64, pattern: DID_RE },
        flag: { type: "boolean" },
        opts: { type: "object" },
        list: { type: "array", maxLength: 2 },
        mode: { type: "string", enum: ["full", "short"] },
      },
      handler: (p) => p,
    }),
    nothing: defineMethod({ params: {}, handler: () => undefined }),
    fail: defineMethod({
      params: {},
      handler: () => {
        throw new ChainError(TxErrorCode.BAD_SIGNATURE, "signature does not verify", { txHash: "ab12" });
      },
    }),
    notFound: defineMethod({
      params: {},
      handler: async () => {
        throw new ChainError(DidErrorCode.NOT_FOUND, "no such DID");
      },
    }),
    badDid: defineMethod({
      params: { did: { type: "string" } },
      handler: () => {
        throw new RpcParamsError("did", "must be a did:sid DID");
      },
    }),
    boom: defineMethod({
      params: {},
      handler: () => {
        throw new Error("secret /etc/passwd details");
      },
    }),
    bigint: defineMethod({ params: {}, handler: () => ({ n: 1n }) }),
  };
}

type Json = any;

async function post(app: FastifyInstance, body: unknown, headers: Record<string, string> = { "content-type": "application/json" }) {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  const res = await app.inject({ method: "POST", url: "/", headers, payload });
  return { status: res.statusCode, headers: res.headers, text: res.body, json: res.body === "" ? undefined : (JSON.parse(res.body) as Json) };
}

const call = (method: string, params?: unknown, id: unknown = 1) =>
  params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params };

function expectWellFormed(r: Json): void {
  const entries = Array.isArray(r) ? r : [r];
  expect(entries.length).to.be.greaterThan(0);
  for (const e of entries) {
    expect(e.jsonrpc).to.equal("2.0");
    expect(e).to.have.property("id");
    expect(e.id === null || typeof e.id === "string" || typeof e.id === "number").to.equal(true);
    expect(Object.hasOwn(e, "result") !== Object.hasOwn(e, "error")).to.equal(true);
    if (e.error) {
      expect(Number.isInteger(e.error.code)).to.equal(true);
      expect(e.error.message).to.be.a("string");
    }
  }
}

describe("rpc: JSON-RPC 2.0 server", () => {
  let app: FastifyInstance;
  before(async () => {
    app = buildServer({ maxBatch: 5, bodyLimit: 64 * 1024 }, makeMethods(), (a) => {
      a.get("/health", async () => ({ ok: true }));
    });
    await app.ready();
  });
  after(async () => {
    await app.close();
  });

  describe("calls", () => {
    it("answers a single call by name", async () => {
      const r = await post(app, call("add", { a: 2, b: 3 }, 7));
      expect(r.status).to.equal(200);
      expect(r.headers["content-type"]).to.match(/^application\/json/);
      expect(r.json).to.deep.equal({ jsonrpc: "2.0", id: 7, result: 5 });
    });

    it("echoes string ids and null ids", async () => {
      expect((await post(app, call("echo", { msg: "hi" }, "abc"))).json).to.deep.equal({ jsonrpc: "2.0", id: "abc", result: "hi" });
      expect((await post(app, call("echo", { msg: "hi" }, null))).json).to.deep.equal({ jsonrpc: "2.0", id: null, result: "hi" });
    });

    it("maps by-position params in ParamSpec order", async () => {
      expect((await post(app, call("add", [40, 2]))).json.result).to.equal(42);
      // Trailing optional params may be left out.
      expect((await post(app, call("slow", [0]))).json.result).to.equal("slow");
    });

    it("rejects more positional params than the method takes", async () => {
      const r = await post(app, call("add", [1, 2, 3]));
      expect(r.json.error.code).to.equal(-32602);
      expect(r.json.error.data.param).to.equal("params[2]");
    });

    it("calls a method without params member", async () => {
      const r = await post(app, call("nothing"));
      expect(r.json).to.deep.equal({ jsonrpc: "2.0", id: 1, result: null });
    });

    it("accepts text/plain, a charset parameter and a missing content-type", async () => {
      const variants: Record<string, string>[] = [{ "content-type": "text/plain" }, { "content-type": "application/json; charset=utf-8" }, {}];
      for (const headers of variants) {
        const r = await post(app, call("add", { a: 1, b: 1 }), headers);
        expect(r.status).to.equal(200);
        expect(r.json.result).to.equal(2);
      }
    });

    it("answers an unsupported content-type with 415 and a JSON-RPC body", async () => {
      const r = await post(app, call("add", { a: 1, b: 1 }), { "content-type": "application/xml" });
      expect(r.status).to.equal(415);
      expect(r.json.error.code).to.equal(-32600);
    });
  });

  describe("batches and notifications", () => {
    it("runs a batch concurrently and keeps request order", async () => {
      // "waitGate" only returns "opened" if "openGate", later in the batch, runs while it waits.
      const r = await post(app, [
        call("waitGate", {}, 1),
        call("add", { a: 1, b: 2 }, 2),
        call("nope", {}, 3),
        call("slow", { ms: 20, tag: "fourth" }, 4),
        call("openGate", {}, 5),
      ]);
      expect(r.status).to.equal(200);
      expect(r.json.map((e: Json) => e.id)).to.deep.equal([1, 2, 3, 4, 5]);
      expect(r.json[0].result).to.equal("opened");
      expect(r.json[1].result).to.equal(3);
      expect(r.json[2].error.code).to.equal(-32601);
      expect(r.json[3].result).to.equal("fourth");
      expect(r.json[4].result).to.equal(null);
    });

    it("answers a batch with mixed results and errors in order", async () => {
      const r = await post(app, [call("fail", {}, "a"), call("echo", ["x"], "b"), call("add", { a: "1" }, "c"), call("boom", {}, "d")]);
      expect(r.json.map((e: Json) => [e.id, e.result ?? e.error.code])).to.deep.equal([
        ["a", 1005],
        ["b", "x"],
        ["c", -32602],
        ["d", -32603],
      ]);
    });

    it("sends nothing for a notification (204)", async () => {
      const r = await post(app, { jsonrpc: "2.0", method: "add", params: { a: 1, b: 2 } });
      expect(r.status).to.equal(204);
      expect(r.text).to.equal("");
    });

    it("sends no error for a failing notification", async () => {
      for (const method of ["nope", "fail", "boom"]) {
        const r = await post(app, { jsonrpc: "2.0", method, params: { bad: 1 } });
        expect(r.status).to.equal(204);
      }
    });

    it("sends 204 for a batch of only notifications", async () => {
      const r = await post(app, [
        { jsonrpc: "2.0", method: "add", params: { a: 1, b: 2 } },
        { jsonrpc: "2.0", method: "fail" },
      ]);
      expect(r.status).to.equal(204);
      expect(r.text).to.equal("");
    });

    it("leaves notifications out of a mixed batch", async () => {
      const r = await post(app, [{ jsonrpc: "2.0", method: "add", params: [1, 1] }, call("add", [2, 2], "x")]);
      expect(r.json).to.deep.equal([{ jsonrpc: "2.0", id: "x", result: 4 }]);
    });

    it("rejects an empty batch", async () => {
      const r = await post(app, []);
      expect(r.status).to.equal(200);
      expect(r.json).to.deep.equal({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request", data: { reason: "empty batch" } } });
    });

    it("rejects a batch over maxBatch as a whole", async () => {
      const r = await post(app, Array.from({ length: 6 }, (_, i) => call("add", [i, i], i)));
      expect(r.json.id).to.equal(null);
      expect(r.json.error.code).to.equal(-32600);
      expect(r.json.error.data.reason).to.contain("limit of 5");
    });

    it("answers each non-object batch entry with its own error", async () => {
      const r = await post(app, [1, "x", null, [call("add", [1, 1])]]);
      expect(r.json).to.have.length(4);
      for (const e of r.json) {
        expect(e.id).to.equal(null);
        expect(e.error.code).to.equal(-32600);
      }
    });
  });

  describe("protocol errors", () => {
    it("answers malformed JSON with -32700, HTTP 200, id null", async () => {
      for (const body of ['{"jsonrpc":"2.0",', "not json", "", "   "]) {
        const r = await post(app, body);
        expect(r.status).to.equal(200);
        expect(r.json.id).to.equal(null);
        expect(r.json.error.code).to.equal(-32700);
        expect(r.json.error.message).to.equal("Parse error");
      }
    });

    const invalid: [string, unknown, unknown][] = [
      ["a number", 42, null],
      ["a string", '"x"', null],
      ["null", null, null],
      ["missing jsonrpc", { id: 3, method: "add" }, 3],
      ["jsonrpc 1.0", { jsonrpc: "1.0", id: 3, method: "add" }, 3],
      ["jsonrpc as number", { jsonrpc: 2.0, id: 3, method: "add" }, 3],
      ["id an object", { jsonrpc: "2.0", id: { a: 1 }, method: "add" }, null],
      ["id a boolean", { jsonrpc: "2.0", id: true, method: "add" }, null],
      ["id an array", { jsonrpc: "2.0", id: [1], method: "add" }, null],
      ["method missing", { jsonrpc: "2.0", id: 3 }, 3],
      ["method a number", { jsonrpc: "2.0", id: 3, method: 1 }, 3],
      ["params a string", { jsonrpc: "2.0", id: 3, method: "add", params: "1,2" }, 3],
      ["params null", { jsonrpc: "2.0", id: 3, method: "add", params: null }, 3],
      ["invalid request without id", { jsonrpc: "2.0", method: 1, params: "bar" }, null],
    ];
    for (const [what, body, id] of invalid) {
      it(`rejects a request that is ${what} with -32600`, async () => {
        const r = await post(app, body);
        expect(r.status).to.equal(200);
        expect(r.json.error.code).to.equal(-32600);
        expect(r.json.error.message).to.equal("Invalid Request");
        expect(r.json.id).to.equal(id);
      });
    }

    it("rejects a __proto__ key, also when escaped", async () => {
      for (const body of ['{"jsonrpc":"2.0","id":1,"method":"resolve","params":{"did":"x","opts":{"__proto__":{"admin":true}}}}',
        '{"jsonrpc":"2.0","id":1,"method":"echo","params":{"\\u005f_proto__":1}}']) {
        const r = await post(app, body);
        expect(r.json.error.code).to.equal(-32600);
        expect(r.json.error.data.reason).to.contain("__proto__");
      }
    });

    it("answers an unknown method with -32601 naming it", async () => {
      const r = await post(app, call("did_nope", {}, 9));
      expect(r.json).to.deep.equal({ jsonrpc: "2.0", id: 9, error: { code: -32601, message: "Method not found", data: { method: "did_nope" } } });
    });

    it("does not find methods on the prototype chain", async () => {
      for (const method of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
        expect((await post(app, call(method, {}))).json.error.code).to.equal(-32601);
      }
    });
  });

  describe("params validation", () => {
    const cases: [string, string, unknown, string, RegExp][] = [
      ["missing", "add", { a: 1 }, "b", /required/],
      ["unknown", "add", { a: 1, b: 2, c: 3 }, "c", /unknown/],
      ["wrong type (string for integer)", "add", { a: "1", b: 2 }, "a", /expected integer/],
      ["fraction for integer", "add", { a: 1.5, b: 2 }, "a", /expected integer/],
      ["null value", "echo", { msg: null }, "msg", /expected string/],
      ["below minimum", "add", { a: -1, b: 2 }, "a", /minimum 0/],
      ["above maximum", "add", { a: 1, b: 1001 }, "b", /maximum 1000/],
      ["too long", "echo", { msg: "x".repeat(17) }, "msg", /longer than 16/],
      ["pattern mismatch", "resolve", { did: "did:web:example.com" }, "did", /pattern/],
      ["wrong boolean", "resolve", { did: "did:sid:abc", flag: "yes" }, "flag", /expected boolean/],
      ["array for object", "resolve", { did: "did:sid:abc", opts: [] }, "opts", /expected object/],
      ["object for array", "resolve", { did: "did:sid:abc", list: {} }, "list", /expected array/],
      ["array too long", "resolve", { did: "did:sid:abc", list: [1, 2, 3] }, "list", /more than 2/],
      ["not in enum", "resolve", { did: "did:sid:abc", mode: "huge" }, "mode", /one of: full, short/],
      ["missing positional", "add", [1], "b", /required/],
    ];
    for (const [what, method, params, param, reason] of cases) {
      it(`rejects a param that is ${what} with -32602 naming ${param}`, async () => {
        const r = await post(app, call(method, params));
        expect(r.json.error.code).to.equal(-32602);
        expect(r.json.error.message).to.equal("Invalid params");
        expect(r.json.error.data.param).to.equal(param);
        expect(r.json.error.data.reason).to.match(reason);
      });
    }

    it("passes only declared params to the handler", async () => {
      const r = await post(app, call("resolve", { did: "did:sid:abc", flag: true, mode: "full" }));
      expect(r.json.result).to.deep.equal({ did: "did:sid:abc", flag: true, mode: "full" });
    });

    it("maps an RpcParamsError thrown by a handler to -32602", async () => {
      const r = await post(app, call("badDid", { did: "x" }));
      expect(r.json.error).to.deep.equal({ code: -32602, message: "Invalid params", data: { param: "did", reason: "must be a did:sid DID" } });
    });

    it("refuses a malformed ParamSpec when the table is compiled", () => {
      const bad = (params: unknown) => () => compileMethods({ m: { params: params as never, handler: () => 1 } });
      expect(bad({ a: { type: "float" } })).to.throw(/type must be/);
      expect(bad({ a: { type: "integer", maxLength: 3 } })).to.throw(/maxLength does not apply/);
      expect(bad({ a: { type: "string", minimum: 3 } })).to.throw(/minimum does not apply/);
      expect(bad({ a: { type: "string", pattern: "(" } })).to.throw();
      expect(bad({ a: { type: "string", enum: [] } })).to.throw(/enum/);
      expect(bad(Object.defineProperty({}, "__proto__", { value: { type: "string" }, enumerable: true }))).to.throw(/identifier/);
      expect(bad({ "a-b": { type: "string" } })).to.throw(/identifier/);
      expect(() => compileMethods({ "rpc.x": { params: {}, handler: () => 1 } })).to.throw(/reserved/);
      expect(() => buildServer({}, { m: { params: { a: { type: "nope" as never } }, handler: () => 1 } })).to.throw();
    });
  });

  describe("errors", () => {
    it("maps a typed error to its numeric code with data.reason", async () => {
      const r = await post(app, call("fail", {}, 4));
      expect(r.json).to.deep.equal({
        jsonrpc: "2.0",
        id: 4,
        error: { code: 1005, message: "signature does not verify", data: { txHash: "ab12", reason: "TX_BAD_SIGNATURE" } },
      });
      const nf = await post(app, call("notFound"));
      expect(nf.json.error).to.deep.equal({ code: 1101, message: "no such DID", data: { reason: "DID_NOT_FOUND" } });
    });

    it("hides the message and stack of an internal error", async () => {
      const r = await post(app, call("boom", {}, 8));
      expect(r.status).to.equal(200);
      expect(r.json).to.deep.equal({ jsonrpc: "2.0", id: 8, error: { code: -32603, message: "Internal error" } });
      expect(r.text).not.to.contain("passwd");
      expect(r.text).not.to.contain("at ");
    });

    it("logs the real internal error through the logger passed in", async () => {
      const logged: unknown[] = [];
      const log = { error: (obj: object) => void logged.push(obj) };
      const out = await dispatch(makeMethods(), call("boom"), { maxBatch: 5, log });
      expect(out).to.deep.equal({ jsonrpc: "2.0", id: 1, error: { code: -32603, message: "Internal error" } });
      expect(logged).to.have.length(1);
      expect(String((logged[0] as { err: Error }).err.message)).to.contain("passwd");
    });

    it("turns an unserializable result into -32603 without spoiling the batch", async () => {
      const r = await post(app, [call("bigint", {}, 1), call("add", [1, 2], 2)]);
      expect(r.json).to.deep.equal([
        { jsonrpc: "2.0", id: 1, error: { code: -32603, message: "Internal error" } },
        { jsonrpc: "2.0", id: 2, result: 3 },
      ]);
    });

    it("answers an oversized body with 413 and a JSON-RPC body", async () => {
      const r = await post(app, call("echo", { msg: "x".repeat(70 * 1024) }));
      expect(r.status).to.equal(413);
      expect(r.json).to.deep.equal({ jsonrpc: "2.0", id: null, error: { code: -32600, message: `Request body larger than ${64 * 1024} bytes` } });
    });

    it("answers unknown routes with JSON 404", async () => {
      for (const [method, url] of [["GET", "/"], ["GET", "/nope"], ["POST", "/nope"]] as const) {
        const res = await app.inject({ method, url, payload: method === "POST" ? "{}" : undefined });
        expect(res.statusCode).to.equal(404);
        expect(res.headers["content-type"]).to.match(/^application\/json/);
        expect(JSON.parse(res.body).error).to.equal("Not Found");
      }
    });

    it("serves the routes added through extra", async () => {
      const res = await app.inject({ method: "GET", url: "/health" });
      expect(res.statusCode).to.equal(200);
      expect(res.json()).to.deep.equal({ ok: true });
    });

    it("never answers random bodies with a 5xx or a malformed response", async function () {
      this.timeout(30_000);
      const body = fc.oneof(
        fc.string({ unit: "binary", maxLength: 200 }),
        fc.json({ maxDepth: 3 }),
        fc.jsonValue({ maxDepth: 3 }).map((params) => JSON.stringify({ jsonrpc: "2.0", id: 1, method: "add", params })),
        fc.array(fc.oneof(fc.constant(call("add", [1, 2])), fc.jsonValue({ maxDepth: 2 })), { maxLength: 8 }).map((a) => JSON.stringify(a)),
      );
      const contentType = fc.constantFrom("application/json", "text/plain", undefined);
      await fc.assert(
        fc.asyncProperty(body, contentType, async (text, ct) => {
          const res = await app.inject({ method: "POST", url: "/", headers: ct ? { "content-type": ct } : {}, payload: text });
          expect(res.statusCode === 200 || res.statusCode === 204).to.equal(true);
          if (res.statusCode === 204) return;
          expectWellFormed(JSON.parse(res.body));
        }),
        { numRuns: 300 },
      );
    });

    it("answers random strings that are not JSON with a -32700 error", async function () {
      this.timeout(30_000);
      await fc.assert(
        fc.asyncProperty(fc.string({ unit: "grapheme", maxLength: 100 }), async (text) => {
          let isJson = true;
          try {
            JSON.parse(text);
          } catch {
            isJson = false;
          }
          fc.pre(!isJson);
          const r = await post(app, text);
          expect(r.status).to.equal(200);
          expect(r.json).to.deep.include({ jsonrpc: "2.0", id: null });
          expect(r.json.error.code).to.equal(-32700);
        }),
        { numRuns: 200 },
      );
    });
  });

  it("serves over a real socket on 127.0.0.1", async () => {
    const live = buildServer({ port: 0 }, makeMethods());
    try {
      await live.listen({ host: "127.0.0.1", port: 0 });
      const addr = live.server.address();
      if (addr === null || typeof addr === "string") throw new Error("no address");
      const res = await fetch(`http://127.0.0.1:${addr.port}/`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify([call("add", { a: 20, b: 22 }, 1), call("fail", {}, 2)]),
      });
      expect(res.status).to.equal(200);
      const json = (await res.json()) as Json;
      expect(json[0].result).to.equal(42);
      expect(json[1].error.code).to.equal(1005);
    } finally {
      await live.close();
    }
  });
});

describe("rpc: options", () => {
  it("defaults to loopback, port 8660, 1 MiB bodies, batches of 100, no logger", () => {
    expect(defaultRpcOptions).to.deep.include({ host: "127.0.0.1", port: 8660, bodyLimit: 1048576, maxBatch: 100, logger: false, cors: false });
    expect(resolveRpcOptions({ port: undefined, maxBatch: 3 })).to.deep.equal({ ...defaultRpcOptions, maxBatch: 3 });
  });

  it("refuses out-of-range options", () => {
    expect(() => resolveRpcOptions({ port: 70000 })).to.throw(/port/);
    expect(() => resolveRpcOptions({ bodyLimit: 0 })).to.throw(/bodyLimit/);
    expect(() => resolveRpcOptions({ maxBatch: 1.5 })).to.throw(/maxBatch/);
    expect(() => resolveRpcOptions({ host: "" })).to.throw(/host/);
  });
});

describe("rpc: application error codes", () => {
  const enums: [string, Record<string, string>][] = [
    ["TxErrorCode", TxErrorCode],
    ["DidErrorCode", DidErrorCode],
    ["BlockErrorCode", BlockErrorCode],
    ["CryptoErrorCode", CryptoErrorCode],
    ["GovErrorCode", GovErrorCode],
    ["KycErrorCode", KycErrorCode],
    ["StatusListErrorCode", StatusListErrorCode],
    ["SubscriptionErrorCode", SubscriptionErrorCode],
  ];

  it("gives every enum value a number", () => {
    for (const [name, e] of enums) {
      for (const reason of Object.values(e)) {
        expect(APP_ERROR_CODES[reason], `${name} ${reason}`).to.be.a("number");
      }
    }
  });

  it("uses unique numbers in the documented ranges", () => {
    const numbers = Object.values(APP_ERROR_CODES);
    expect(new Set(numbers).size).to.equal(numbers.length);
    const range = (lo: number, e: Record<string, string>) => {
      for (const reason of Object.values(e)) expect(APP_ERROR_CODES[reason]).to.be.within(lo, lo + 99);
    };
    range(1000, TxErrorCode);
    range(1100, DidErrorCode);
    range(1200, BlockErrorCode);
    range(1300, CryptoErrorCode);
    range(1400, GovErrorCode);
    range(1500, KycErrorCode);
    range(1550, StatusListErrorCode);
    range(1600, SubscriptionErrorCode);
    // Tx numbers follow the order of TxErrorCode.
    expect(Object.values(TxErrorCode).map((r) => APP_ERROR_CODES[r])).to.deep.equal(Object.values(TxErrorCode).map((_, i) => 1000 + i));
  });

  it("is the table documented in docs/errors.md", () => {
    const doc = readFileSync(new URL("../../../../docs/errors.md", import.meta.url), "utf8");
    for (const [reason, n] of Object.entries(APP_ERROR_CODES)) {
      expect(doc, reason).to.match(new RegExp(`\\|\\s*${n}\\s*\\|\\s*\`${reason}\`\\s*\\|`));
    }
  });

  it("maps typed errors of every room, and nothing else", () => {
    expect(toJsonRpcError(new CodecError("truncated"))).to.deep.equal({ code: 1000, message: "truncated", data: { reason: "TX_DECODE" } });
    expect(toJsonRpcError(new DidError(DidErrorCode.INVALID_DID, "bad did", { did: "x" }))).to.deep.equal({
      code: 1100,
      message: "bad did",
      data: { did: "x", reason: "DID_INVALID" },
    });
    expect(toJsonRpcError(new CryptoError(CryptoErrorCode.BAD_SIGNATURE, "bad sig")).code).to.equal(1302);
    expect(toJsonRpcError(new ChainError(TxErrorCode.MEMPOOL_FULL, "full")).code).to.equal(1012);
    // The reason cannot be overwritten through data.
    expect(toJsonRpcError(new ChainError(TxErrorCode.DUPLICATE, "dup", { reason: "x" })).data).to.deep.equal({ reason: "TX_DUPLICATE" });
    // Unknown string codes (Node's, fastify's) are internal errors.
    const sys = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1"), { code: "ECONNREFUSED" });
    expect(toJsonRpcError(sys)).to.deep.equal({ code: -32603, message: "Internal error" });
    expect(toJsonRpcError("a string")).to.deep.equal({ code: -32603, message: "Internal error" });
    expect(toJsonRpcError({ code: "toString" })).to.deep.equal({ code: -32603, message: "Internal error" });
  });
});
