/**
 * The answer budgets of the JSON-RPC layer (per call, per batch, per page,
 * and the node-wide bytes held for clients), the HTTP limits, and the
 * protocol edge cases around them: on fastify's inject where possible, on
 * a real loopback socket for the timeouts and the connection cap.
 */
import net from "node:net";
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { AnswerLimitCode, defineMethod, type MethodTable } from "../../../src/rpc/jsonrpc.js";
import { resolveRpcOptions } from "../../../src/rpc/options.js";
import { pageByBytes } from "../../../src/rpc/paging.js";
import { registerResolverRoutes } from "../../../src/rpc/resolver-http.js";
import { resolutionError } from "../../../src/did/resolution.js";
import { buildServer } from "../../../src/rpc/server.js";
import { sendBudgetOf } from "../../../src/rpc/send-budget.js";

type Json = any;

function methods(): MethodTable {
  return {
    /** A string of `bytes` characters, after `ms` milliseconds (so answers can finish out of request order). */
    blob: defineMethod<{ bytes: number; ms?: number }, string>({
      params: { bytes: { type: "integer", required: true, minimum: 0, maximum: 8 * 1024 * 1024 }, ms: { type: "integer", minimum: 0, maximum: 1000 } },
      handler: async ({ bytes, ms }) => {
        if (ms) await new Promise((r) => setTimeout(r, ms));
        return "x".repeat(bytes);
      },
    }),
    list: defineMethod<{ after?: number; limit?: number }, unknown>({
      params: { after: { type: "integer", minimum: 0 }, limit: { type: "integer", minimum: 1, maximum: 500 } },
      handler: ({ after = -1, limit = 100 }, ctx) => {
        const records = Array.from({ length: 1000 }, (_, i) => ({ n: i, pad: "p".repeat(100 + (i % 7) * 50) })).filter((r) => r.n > after).slice(0, limit);
        const page = pageByBytes(records, limit, ctx, (r) => r, (r) => String(r.n));
        return { items: page.items, next: page.next };
      },
    }),
    echo: defineMethod<{ v: unknown }, unknown>({ params: { v: { type: "array" } }, handler: ({ v }) => v ?? null }),
  };
}

async function post(app: FastifyInstance, body: unknown): Promise<{ status: number; json: Json; text: string }> {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  const res = await app.inject({ method: "POST", url: "/", headers: { "content-type": "application/json" }, payload });
  return { status: res.statusCode, text: res.body, json: res.body === "" ? undefined : JSON.parse(res.body) };
}

const call = (method: string, params: unknown, id: unknown = 1) => ({ jsonrpc: "2.0", id, method, params });

describe("rpc: answer budgets", function () {
  this.timeout(20_000);
  let app: FastifyInstance;
  before(async () => {
    app = buildServer({ maxAnswerBytes: 64 * 1024, maxBatchAnswerBytes: 200 * 1024, maxPageBytes: 8 * 1024, maxBatch: 100 }, methods());
    await app.ready();
  });
  after(() => app.close());

  it("answers a call over maxAnswerBytes with -32001 naming the limit, and one under it in full", async () => {
    const big = await post(app, call("blob", { bytes: 70 * 1024 }, 7));
    expect(big.json).to.deep.include({ jsonrpc: "2.0", id: 7 });
    expect(big.json.result).to.equal(undefined);
    expect(big.json.error.code).to.equal(AnswerLimitCode.ANSWER_TOO_LARGE);
    expect(big.json.error.data).to.deep.equal({ limit: "maxAnswerBytes", max: 64 * 1024 });
    expect(big.text.length).to.be.below(1024);
    const ok = await post(app, call("blob", { bytes: 60 * 1024 }, 8));
    expect(ok.json.result).to.have.length(60 * 1024);
  });

  it("counts an answer's bytes, not its characters", async () => {
    const m: MethodTable = { wide: defineMethod({ params: {}, handler: () => "é".repeat(40 * 1024) }) };
    const a = buildServer({ maxAnswerBytes: 64 * 1024 }, m);
    try {
      const r = await post(a, call("wide", {}));
      expect(r.json.error.code).to.equal(AnswerLimitCode.ANSWER_TOO_LARGE);
    } finally {
      await a.close();
    }
  });

  it("gives a batch's results in request order while they fit maxBatchAnswerBytes, the rest -32002, whatever order they finish in", async () => {
    // Six answers of 50 KiB against 200 KiB: the first three fit. Early entries finish last.
    const batch = Array.from({ length: 6 }, (_, i) => call("blob", { bytes: 50 * 1024, ms: (6 - i) * 20 }, i + 1));
    const r = await post(app, batch);
    expect(r.json.map((e: Json) => e.id)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(r.json.slice(0, 3).every((e: Json) => typeof e.result === "string" && e.result.length === 50 * 1024)).to.equal(true);
    for (const e of r.json.slice(3)) {
      expect(e.result).to.equal(undefined);
      expect(e.error.code).to.equal(AnswerLimitCode.BATCH_ANSWER_TOO_LARGE);
      expect(e.error.data).to.deep.equal({ limit: "maxBatchAnswerBytes", max: 200 * 1024 });
    }
    expect(Buffer.byteLength(r.text)).to.be.below(200 * 1024 + 6 * 1024);
    // The same batch with its finishing order reversed gets the same answer.
    const again = await post(app, Array.from({ length: 6 }, (_, i) => call("blob", { bytes: 50 * 1024, ms: i * 20 }, i + 1)));
    expect(again.json.map((e: Json) => e.error?.code ?? "ok")).to.deep.equal(r.json.map((e: Json) => e.error?.code ?? "ok"));
  });

  it("counts results only, and once one result is past the budget every later one is too", async () => {
    const r = await post(app, [
      call("blob", { bytes: 60 * 1024 }, 1),
      call("nope", {}, 2),
      call("blob", { bytes: 60 * 1024 }, 3),
      call("blob", { bytes: 60 * 1024 }, 4),
      call("blob", { bytes: 30 * 1024 }, 5),
      call("blob", { bytes: 10 }, 6),
    ]);
    expect([0, 2, 3].map((i) => r.json[i].result.length)).to.deep.equal([60 * 1024, 60 * 1024, 60 * 1024]);
    expect(r.json[1].error.code).to.equal(-32601);
    // 180 KiB + 30 KiB is over 200 KiB: entry 5 fails, and so does entry 6 however small (the budget is a prefix).
    expect(r.json.slice(4).map((e: Json) => e.error.code)).to.deep.equal([AnswerLimitCode.BATCH_ANSWER_TOO_LARGE, AnswerLimitCode.BATCH_ANSWER_TOO_LARGE]);
  });

  it("pages a list by bytes as well as by count, and following next yields every item once", async () => {
    const seen: number[] = [];
    let after: number | undefined;
    let pages = 0;
    for (; pages < 200; pages++) {
      const r = await post(app, call("list", after === undefined ? { limit: 500 } : { after, limit: 500 }));
      const { items, next } = r.json.result;
      expect(items.length).to.be.greaterThan(0);
      expect(Buffer.byteLength(JSON.stringify(items))).to.be.at.most(8 * 1024 + 2);
      seen.push(...items.map((i: Json) => i.n));
      if (next === null) break;
      after = Number(next);
    }
    expect(pages).to.be.greaterThan(10);
    expect(seen).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i));
  });

  it("ends a page at `limit` when that comes first, with next set", () => {
    const recs = Array.from({ length: 5 }, (_, i) => ({ id: `r${i}` }));
    expect(pageByBytes(recs, 3, { maxPageBytes: 1 << 20 }, (r) => r, (r) => r.id)).to.deep.equal({ items: recs.slice(0, 3), next: "r2" });
    expect(pageByBytes(recs.slice(0, 2), 3, { maxPageBytes: 1 << 20 }, (r) => r, (r) => r.id)).to.deep.equal({ items: recs.slice(0, 2), next: null });
    // One item larger than the page still makes a page of one, so paging advances.
    expect(pageByBytes([{ id: "big", pad: "x".repeat(5000) }, { id: "b" }], 10, { maxPageBytes: 1024 }, (r) => r, (r) => r.id).next).to.equal("big");
    expect(pageByBytes([], 10, undefined, (r) => r, () => "x")).to.deep.equal({ items: [], next: null });
  });

  it("refuses an answer the node has no room for (maxSendBytes) with -32003, and gives the room back once sent", async () => {
    const a = buildServer({ maxAnswerBytes: 4 * 1024 * 1024, maxBatchAnswerBytes: 4 * 1024 * 1024, maxSendBytes: 1024 * 1024 }, methods());
    try {
      const budget = sendBudgetOf(a, 0);
      budget.add(600 * 1024); // as if a slow client held 600 KiB
      const r = await post(a, [call("blob", { bytes: 500 * 1024 }, 1), call("blob", { bytes: 10 }, 2)]);
      expect(r.json.map((e: Json) => e.error.code)).to.deep.equal([AnswerLimitCode.SEND_REFUSED, AnswerLimitCode.SEND_REFUSED]);
      expect(r.json[0].error.data).to.deep.equal({ limit: "maxSendBytes", max: 1024 * 1024 });
      budget.add(-600 * 1024);
      for (let i = 0; i < 4; i++) expect((await post(a, call("blob", { bytes: 700 * 1024 }))).json.result).to.have.length(700 * 1024);
      expect(budget.bytes).to.equal(0);
    } finally {
      await a.close();
    }
  });
});

describe("rpc: protocol edge cases", () => {
  let app: FastifyInstance;
  before(async () => {
    app = buildServer({}, methods(), (a) => registerResolverRoutes(a, async () => resolutionError("notFound", "none")));
    await app.ready();
  });
  after(() => app.close());

  it("answers an id that JSON cannot carry (1e309) with -32600 and no result", async () => {
    for (const id of ["1e309", "-1e309"]) {
      const r = await post(app, `{"jsonrpc":"2.0","id":${id},"method":"echo","params":{"v":[1]}}`);
      expect(r.json).to.deep.equal({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request", data: { reason: "id must be a string, a finite number or null" } } });
    }
    expect((await post(app, `{"jsonrpc":"2.0","id":1e300,"method":"echo","params":{"v":[1]}}`)).json).to.deep.equal({ jsonrpc: "2.0", id: 1e300, result: [1] });
  });

  it("answers deeply nested JSON the same with or without a \\u escape", async () => {
    const depth = 20_000;
    const nested = (inner: string) => `{"jsonrpc":"2.0","id":1,"method":"echo","params":{"v":${"[".repeat(depth)}${inner}${"]".repeat(depth)}}}`;
    const plain = await post(app, nested('"a"'));
    const escaped = await post(app, nested('"\\u0061"'));
    expect(plain.json.result ?? plain.json.error.code).to.not.equal(undefined);
    expect(escaped.json.error?.code).to.equal(plain.json.error?.code);
    expect(escaped.status).to.equal(plain.status);
    // And the escape check still finds a __proto__ key deep down.
    const proto = await post(app, `{"jsonrpc":"2.0","id":1,"method":"echo","params":{"v":${"[".repeat(5000)}{"\\u005f_proto__":1}${"]".repeat(5000)}}}`);
    expect(proto.json.error.code).to.equal(-32600);
  });

  it("answers a malformed percent-escape on the resolver route with an invalidDid resolution result", async () => {
    const res = await app.inject({ method: "GET", url: "/1.0/identifiers/%E0%A4%A" });
    expect(res.statusCode).to.equal(400);
    expect(res.headers["content-type"]).to.equal("application/did-resolution");
    const body = JSON.parse(res.body);
    expect(body.didDocument).to.equal(null);
    expect(body.didResolutionMetadata.error).to.equal("invalidDid");
    // Elsewhere a bad path is still a JSON 400.
    const other = await app.inject({ method: "GET", url: "/nope/%E0%A4%A" });
    expect(other.statusCode).to.equal(400);
    expect(JSON.parse(other.body)).to.include({ statusCode: 400, error: "Bad Request" });
  });
});

describe("rpc: HTTP limits", function () {
  this.timeout(20_000);

  it("has safe defaults and refuses inconsistent timeouts", () => {
    const d = resolveRpcOptions({});
    expect(d).to.include({ headersTimeoutMs: 10_000, bodyTimeoutMs: 20_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, idleTimeoutMs: 90_000, maxConnections: 2500, maxBodiesInFlight: 128 });
    expect(d.maxConnections).to.be.greaterThan(d.wsMaxConnections);
    expect(() => resolveRpcOptions({ headersTimeoutMs: 40_000 })).to.throw(/headersTimeoutMs/);
    expect(() => resolveRpcOptions({ maxConnections: 0 })).to.throw(/maxConnections/);
    expect(() => resolveRpcOptions({ maxAnswerBytes: 10 })).to.throw(/maxAnswerBytes/);
  });

  async function listen(opts: Parameters<typeof buildServer>[0]): Promise<{ app: FastifyInstance; port: number }> {
    const app = buildServer({ port: 0, ...opts }, methods());
    await app.listen({ host: "127.0.0.1", port: 0 });
    const addr = app.server.address();
    if (addr === null || typeof addr === "string") throw new Error("no address");
    return { app, port: addr.port };
  }

  /** Open a socket, write `text`, and resolve with what came back once the server closes it. */
  function trickle(port: number, text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => s.write(text));
      let got = "";
      s.on("data", (d) => (got += d.toString()));
      s.on("error", () => {});
      s.on("close", () => resolve(got));
      setTimeout(() => reject(new Error("the server kept the socket open")), 15_000).unref();
    });
  }

  it("closes a connection whose body does not arrive within bodyTimeoutMs", async () => {
    const { app, port } = await listen({ bodyTimeoutMs: 300, requestTimeoutMs: 10_000, headersTimeoutMs: 5_000 });
    try {
      const got = await trickle(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\":");
      expect(got).to.equal("");
    } finally {
      await app.close();
    }
  });

  it("answers 408 and closes a connection whose headers do not arrive within headersTimeoutMs", async () => {
    const { app, port } = await listen({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    try {
      const got = await trickle(port, "POST / HTTP/1.1\r\nHost: x\r\n");
      expect(got).to.match(/^HTTP\/1\.1 408/);
    } finally {
      await app.close();
    }
  });

  it("refuses a large request body past maxBodiesInFlight with 503 and -32004 at once, and still serves small ones", async () => {
    const { app, port } = await listen({ maxBodiesInFlight: 2, bodyTimeoutMs: 5_000 });
    const post = (body: string) => fetch(`http://127.0.0.1:${port}/`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const large = JSON.stringify(call("echo", { v: ["y".repeat(70 * 1024)] }));
    try {
      const stalled = [0, 1].map(() => {
        const s = net.connect(port, "127.0.0.1", () => s.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n["));
        s.on("error", () => {});
        return s;
      });
      await new Promise((r) => setTimeout(r, 200));
      const res = await post(large);
      expect(res.status).to.equal(503);
      const json = (await res.json()) as Json;
      expect(json.error.code).to.equal(AnswerLimitCode.BODIES_BUSY);
      expect(json.error.data).to.deep.equal({ limit: "maxBodiesInFlight", max: 2 });
      // A small body does not need a slot.
      expect(((await (await post(JSON.stringify(call("echo", { v: [3] })))).json()) as Json).result).to.deep.equal([3]);
      for (const s of stalled) s.destroy();
      await new Promise((r) => setTimeout(r, 200));
      expect(((await (await post(large)).json()) as Json).result[0]).to.have.length(70 * 1024);
    } finally {
      await app.close();
    }
  });

  it("closes connections past maxConnections at once and serves again when one ends", async () => {
    const { app, port } = await listen({ maxConnections: 3 });
    try {
      const sockets: net.Socket[] = [];
      const closedEarly: boolean[] = [];
      for (let i = 0; i < 5; i++) {
        const s = net.connect(port, "127.0.0.1");
        s.on("error", () => {});
        const idx = i;
        closedEarly[idx] = false;
        s.on("close", () => (closedEarly[idx] = true));
        await new Promise((r) => s.once("connect", r));
        sockets.push(s);
      }
      // The server closes the two it cannot take; the first three stay open.
      await new Promise<void>((resolve, reject) => {
        const t = setInterval(() => {
          if (closedEarly[3] && closedEarly[4]) {
            clearInterval(t);
            resolve();
          }
        }, 10);
        setTimeout(() => reject(new Error("the extra connections were not closed")), 10_000).unref();
      });
      expect(closedEarly.slice(0, 3)).to.deep.equal([false, false, false]);
      sockets[0]!.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(call("echo", { v: [2] })) });
      expect(((await res.json()) as Json).result).to.deep.equal([2]);
      for (const s of sockets) s.destroy();
    } finally {
      await app.close();
    }
  });
});
