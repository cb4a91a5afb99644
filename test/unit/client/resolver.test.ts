/**
 * The did-resolver plugin against a fake node (an injected fetch): what it
 * sends, and how each kind of failure comes back as a W3C result.
 */
import { expect } from "chai";
import { Resolver } from "did-resolver";
import { getResolver } from "../../../src/client/resolver.js";
import { publicKeyOf } from "../../../src/crypto/secp256k1.js";
import { buildInitialDocument } from "../../../src/did/document.js";
import { resolveCurrent } from "../../../src/did/resolution.js";

const doc = buildInitialDocument(publicKeyOf(new Uint8Array(32).fill(7)));
const did = doc.id;
const RESULT = resolveCurrent({ document: doc, versionId: 1, created: Date.UTC(2026, 0, 1), updated: Date.UTC(2026, 0, 1), deactivated: false });

type Reply = { status?: number; json?: unknown; throws?: Error };

/** A fetch that records the JSON-RPC calls it gets and answers with `reply`. */
function fakeNode(reply: (params: Record<string, unknown>) => Reply) {
  const calls: Array<{ url: string; method: string; params: Record<string, unknown> }> = [];
  const fetch = (async (url: string | URL, init?: RequestInit) => {
    const req = JSON.parse(String(init?.body)) as { method: string; params: Record<string, unknown>; id: number };
    calls.push({ url: String(url), method: req.method, params: req.params });
    const r = reply(req.params);
    if (r.throws) throw r.throws;
    return new Response(JSON.stringify(r.json ?? { jsonrpc: "2.0", id: req.id, result: RESULT }), { status: r.status ?? 200, headers: { "content-type": "application/json" } });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

describe("client: did-resolver plugin", () => {
  it("resolves through the unmodified did-resolver Resolver with did_resolve", async () => {
    const node = fakeNode(() => ({}));
    const resolver = new Resolver(getResolver({ rpcUrl: "http://127.0.0.1:1", fetch: node.fetch }));
    const r = await resolver.resolve(did);
    expect(r).to.deep.equal(RESULT);
    expect(node.calls).to.deep.equal([{ url: "http://127.0.0.1:1", method: "did_resolve", params: { did } }]);
  });

  it("passes versionId and versionTime from the DID URL query, ;params and resolution options", async () => {
    const node = fakeNode(() => ({}));
    const resolver = new Resolver(getResolver({ rpcUrl: "http://127.0.0.1:1", fetch: node.fetch }));
    await resolver.resolve(`${did}?versionId=2`);
    await resolver.resolve(`${did}?versionTime=${encodeURIComponent("2026-01-01T00:00:00Z")}`);
    await resolver.resolve(`${did};versionId=3`);
    await resolver.resolve(did, { versionId: "4" } as never);
    await resolver.resolve(`${did}?versionId=5`, { versionId: "5" } as never);
    expect(node.calls.map((c) => c.params)).to.deep.equal([
      { did, versionId: "2" },
      { did, versionTime: "2026-01-01T00:00:00Z" },
      { did, versionId: "3" },
      { did, versionId: "4" },
      { did, versionId: "5" },
    ]);
  });

  it("refuses conflicting or malformed options and bad DIDs without asking the node", async () => {
    const node = fakeNode(() => ({}));
    const resolver = new Resolver(getResolver({ rpcUrl: "http://127.0.0.1:1", fetch: node.fetch }));
    const cases: Array<[string, object, string]> = [
      [`${did}?versionId=1`, { versionId: "2" }, "invalidOptions"],
      [`${did}?versionId=1&versionTime=2026-01-01T00:00:00Z`, {}, "invalidOptions"],
      [`${did}?versionTime=tomorrow`, {}, "invalidOptions"],
      [`${did}?versionId=1&versionId=2`, {}, "invalidDidUrl"],
      ["did:sid:abc", {}, "invalidDid"],
    ];
    for (const [url, options, error] of cases) {
      const r = await resolver.resolve(url, options as never);
      expect(r.didResolutionMetadata.error, url).to.equal(error);
      expect(r.didDocument).to.equal(null);
    }
    expect(node.calls).to.deep.equal([]);
  });

  it("returns the node's notFound as it is", async () => {
    const notFound = { "@context": "https://w3id.org/did-resolution/v1", didDocument: null, didResolutionMetadata: { error: "notFound", errorMessage: "x" }, didDocumentMetadata: {} };
    const node = fakeNode(() => ({ json: { jsonrpc: "2.0", id: 1, result: notFound } }));
    const r = await new Resolver(getResolver({ rpcUrl: "http://127.0.0.1:1", fetch: node.fetch })).resolve(did);
    expect(r).to.deep.equal(notFound);
  });

  it("turns transport failures, JSON-RPC errors and odd answers into error results", async () => {
    const cases: Array<[Reply, string]> = [
      [{ throws: new TypeError("fetch failed") }, "internalError"],
      [{ json: { jsonrpc: "2.0", id: 1, error: { code: -32602, message: "Invalid params" } } }, "invalidDid"],
      [{ json: { jsonrpc: "2.0", id: 1, error: { code: -32603, message: "Internal error" } } }, "internalError"],
      [{ json: { jsonrpc: "2.0", id: 1, result: { hello: 1 } } }, "internalError"],
      [{ json: "not an object" }, "internalError"],
    ];
    for (const [reply, error] of cases) {
      const node = fakeNode(() => reply);
      const r = await new Resolver(getResolver({ rpcUrl: "http://127.0.0.1:1", fetch: node.fetch })).resolve(did);
      expect(r.didResolutionMetadata.error, JSON.stringify(reply)).to.equal(error);
      expect(r.didDocument).to.equal(null);
    }
  });

  it("refuses a missing or non-HTTP rpcUrl", () => {
    expect(() => getResolver({ rpcUrl: "" })).to.throw(TypeError);
    expect(() => getResolver({ rpcUrl: "ftp://x" })).to.throw(TypeError);
  });
});
