/**
 * One DID grown to some hundreds of versions through a real node's RPC
 * (chained updates, many per block), then read back: versioned resolves by
 * number and time over JSON-RPC and the Universal Resolver route, did_history
 * in pages through the SDK and the CLI.
 */
import { expect } from "chai";
import { deriveKey, generateMnemonic } from "../../src/crypto/hd.js";
import { addService } from "../../src/did/document-edit.js";
import { resolutionTime } from "../../src/did/resolution.js";
import { type DidHistoryEntry, RpcError, SidClient, type SignedTx, updateDidTx, deactivateDidTx } from "../../src/client/index.js";
import { type NodeProcess, removeHome, runCli, startNodeProcess, tempHome } from "../helpers/node-process.js";

const VERSIONS = 320;

async function rpcBatch(url: string, calls: Array<{ method: string; params: Record<string, unknown> }>): Promise<any[]> {
  const body = calls.map((c, id) => ({ jsonrpc: "2.0", id, ...c }));
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(r.status).to.equal(200);
  const answers = (await r.json()) as any[];
  return answers.sort((a, b) => a.id - b.id);
}

describe("integration: a DID with hundreds of versions", function () {
  this.timeout(90_000);
  let node: NodeProcess;
  let home: string;
  let client: SidClient;
  let did: string;
  let history: DidHistoryEntry[];

  before(async () => {
    home = tempHome();
    node = await startNodeProcess(home, { heartbeatMs: 60_000 });
    client = new SidClient(node.rpcUrl);
    const key = deriveKey(generateMnemonic(), 0);
    const created = await client.createDid(key);
    did = created.did;
    const chainId = await client.chainId();
    const base = (await client.current(did)).document;
    // Updates 2 .. VERSIONS-1 and a deactivation, each naming the one before: the mempool chains them.
    const txs: SignedTx[] = [];
    for (let v = 2; v <= VERSIONS; v++) {
      const p = { chainId, did, prevVersionId: String(v - 1), signer: did, seq: v - 1, vm: `${did}#key-1`, secretKey: key.secretKey };
      txs.push(v === VERSIONS ? deactivateDidTx(p) : updateDidTx(p, addService(base, { id: `${did}#hub`, type: "LinkedDomains", serviceEndpoint: `https://v${v}.example` })));
    }
    for (let i = 0; i < txs.length; i += 40) {
      const answers = await rpcBatch(node.rpcUrl, txs.slice(i, i + 40).map((t) => ({ method: "tx_submit", params: { tx: t.base64 } })));
      for (const a of answers) expect(a.error, JSON.stringify(a.error)).to.equal(undefined);
    }
    const deadline = Date.now() + 60_000;
    while ((await client.status()).mempool.size > 0) {
      if (Date.now() > deadline) throw new Error("updates still pending after 60 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    history = await client.history(did);
  });

  after(async () => {
    await node?.stop();
    removeHome(home);
  });

  it("lists every version through the SDK's pages, and pages by the cursor", async () => {
    expect(history.map((h) => h.versionId)).to.deep.equal(Array.from({ length: VERSIONS }, (_, i) => String(i + 1)));
    expect(history[0]!.operation).to.equal("create");
    expect(history[VERSIONS - 1]!.operation).to.equal("deactivate");
    expect(new Set(history.map((h) => h.height)).size, "several versions share a block").to.be.lessThan(VERSIONS);

    const first = await client.historyPage(did, { limit: 7 });
    expect(first.versions.map((v) => v.versionId)).to.deep.equal(["1", "2", "3", "4", "5", "6", "7"]);
    expect(first.next).to.equal("7");
    const second = await client.historyPage(did, { after: first.next!, limit: 7 });
    expect(second.versions).to.deep.equal(history.slice(7, 14));
    const tail = await client.historyPage(did, { after: String(VERSIONS - 3), limit: 10 });
    expect(tail.versions.map((v) => v.versionId)).to.deep.equal([String(VERSIONS - 2), String(VERSIONS - 1), String(VERSIONS)]);
    expect(tail.next).to.equal(null);
    // The default page is bounded: the whole history takes several.
    const dflt = await client.historyPage(did);
    expect(dflt.versions.length).to.equal(100);
    expect(dflt.next).to.equal("100");
    expect((await client.historyPage(did, { after: String(VERSIONS), limit: 5 })).versions).to.deep.equal([]);

    for (const [params, param] of [
      [{ did, after: "x1" }, "after"],
      [{ did, after: "-1" }, "after"],
      [{ did, limit: 0 }, "limit"],
      [{ did, limit: 1001 }, "limit"],
    ] as const) {
      const err = await client.historyPage(params.did, params as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, JSON.stringify(params)).to.be.instanceOf(RpcError);
      expect((err as RpcError).code).to.equal(-32602);
      expect(((err as RpcError).data as { param: string }).param).to.equal(param);
    }
  });

  it("resolves any version by number and by time, with its neighbours in the metadata", async () => {
    const created = resolutionTime(Date.parse(history[0]!.time));
    const v1 = await client.resolve(did, { versionId: "1" });
    expect(v1.didDocumentMetadata).to.deep.equal({ created, versionId: "1", nextVersionId: "2", nextUpdate: resolutionTime(Date.parse(history[1]!.time)) });
    expect(JSON.stringify(v1.didDocument)).to.not.include("#hub");

    const mid = await client.resolve(did, { versionId: "160" });
    expect(mid.didDocumentMetadata).to.deep.include({ created, versionId: "160", updated: resolutionTime(Date.parse(history[159]!.time)), nextVersionId: "161" });
    expect(JSON.stringify(mid.didDocument)).to.include("https://v160.example");

    const last = await client.resolve(did, { versionId: String(VERSIONS) });
    expect(last).to.deep.equal(await client.resolve(did));
    expect(last.didDocumentMetadata.deactivated).to.equal(true);
    expect((await client.resolve(did, { versionId: String(VERSIONS + 1) })).didResolutionMetadata.error).to.equal("notFound");

    // did_history's millisecond times: each names the last version of its block.
    const asked = history.filter((_, i) => i % 37 === 0);
    const answers = await rpcBatch(
      node.rpcUrl,
      asked.map((h) => ({ method: "did_resolve", params: { did, versionTime: h.time } })),
    );
    asked.forEach((h, i) => {
      const expected = history.filter((x) => x.time <= h.time).pop()!.versionId;
      expect(answers[i].result.didDocumentMetadata.versionId, h.time).to.equal(expected);
    });
    const before = await client.resolve(did, { versionTime: new Date(Date.parse(history[0]!.time) - 1000).toISOString() });
    expect(before.didResolutionMetadata.error).to.equal("notFound");
  });

  it("serves versions on the Universal Resolver route", async () => {
    const r = await fetch(`${node.rpcUrl}/1.0/identifiers/${encodeURIComponent(did)}?versionId=2`, { headers: { accept: "application/did-resolution" } });
    expect(r.status).to.equal(200);
    const body = (await r.json()) as any;
    expect(body.didDocumentMetadata).to.deep.include({ versionId: "2", nextVersionId: "3" });
  });

  it("sid did history follows the pages, or lists a window with --after and --limit", async () => {
    const all = await runCli(["did", "history", did, "--rpc", node.rpcUrl, "--json"]);
    expect(all.code, all.stderr).to.equal(0);
    const parsed = JSON.parse(all.stdout);
    // The CLI adds what each version changed (create, then the updates' names) to the node's entries.
    expect(parsed.versions.map(({ changes: _c, ...v }: { changes: string[] }) => v)).to.deep.equal(history);
    expect(parsed.versions[0].changes).to.deep.equal(["create"]);
    expect(parsed.next).to.equal(null);

    const window = await runCli(["did", "history", did, "--rpc", node.rpcUrl, "--json", "--after", "10", "--limit", "5"]);
    expect(window.code, window.stderr).to.equal(0);
    const w = JSON.parse(window.stdout);
    expect(w.versions.map(({ changes: _c, ...v }: { changes: string[] }) => v)).to.deep.equal(history.slice(10, 15));
    expect(w.next).to.equal("15");

    const text = await runCli(["did", "history", did, "--rpc", node.rpcUrl, "--after", String(VERSIONS - 2)]);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.include("deactivate");
    expect(text.stdout).to.not.include("more versions follow");

    const bad = await runCli(["did", "history", did, "--rpc", node.rpcUrl, "--after", "x"]);
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.match(/version number/);
  });
});
