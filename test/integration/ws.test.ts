/**
 * A real node process followed over WebSocket: DID changes in commit order,
 * a tx followed to its commit, block headers in height order, and the
 * node's /metrics and /health as an operator sees them.
 */
import { expect } from "chai";
import { addService } from "../../src/did/document-edit.js";
import { SidClient, createDidTx } from "../../src/client/index.js";
import { testDid, testKey } from "../helpers/fixtures.js";
import { type NodeProcess, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";
import { type Json, WsTestClient } from "../helpers/ws-client.js";

describe("integration: WebSocket subscriptions on a node", function () {
  this.timeout(60_000);
  let node: NodeProcess;
  let home: string;
  let client: SidClient;
  let ws: WsTestClient;

  before(async () => {
    home = tempHome();
    // Short heartbeat: empty blocks keep newHeads coming.
    node = await startNodeProcess(home, { heartbeatMs: 300 });
    client = new SidClient(node.rpcUrl);
    ws = await WsTestClient.open(node.rpcUrl.replace("http://", "ws://") + "/ws");
  });

  after(async () => {
    await ws?.close();
    await node?.stop();
    removeHome(home);
  });

  it("serves JSON-RPC methods over the socket", async () => {
    const status = await ws.result("node_status");
    expect(status.chainId).to.equal(await client.chainId());
  });

  it("reports a DID's create, update and deactivate in order with versionIds 1, 2, 3", async () => {
    const key = testKey(0);
    const did = testDid(key).did;
    const sub = await ws.result("subscribe", ["did", { did }]);
    const created = await client.createDid(key);
    expect(created.did).to.equal(did);
    const updated = await client.updateDid(did, key, (d) => addService(d, { id: `${did}#hub`, type: "LinkedDomains", serviceEndpoint: "https://hub.example" }));
    const deactivated = await client.deactivateDid(did, key);

    const changes = await ws.notificationsAtLeast(sub, 3);
    expect(changes).to.have.length(3);
    expect(changes.map((c: Json) => [c.did, c.operation, c.versionId])).to.deep.equal([
      [did, "create", "1"],
      [did, "update", "2"],
      [did, "deactivate", "3"],
    ]);
    expect(changes.map((c: Json) => c.txHash)).to.deep.equal([created.txHash, updated.txHash, deactivated.txHash]);
    expect(changes.map((c: Json) => c.height)).to.deep.equal([created.height, updated.height, deactivated.height]);
    // The same story as did_history tells.
    const history = await client.history(did);
    expect(history.map((h) => h.versionId)).to.deep.equal(["1", "2", "3"]);
  });

  it("follows a tx to its commit, and reports an already committed one at once", async () => {
    const chainId = await client.chainId();
    const tx = createDidTx(chainId, testKey(1));
    const sub = await ws.result("subscribe", ["tx", { hash: tx.hash }]);
    const submitted = await client.submit(tx, false);
    expect(submitted.status).to.equal("pending");
    const [report] = await ws.notificationsAtLeast(sub, 1);
    const got = await client.rpc.call<Json>("tx_get", { hash: tx.hash });
    expect(report).to.deep.equal({ hash: tx.hash, status: "committed", height: got.height, index: got.index });

    // Subscribing after the commit: the answer, then the report straight away.
    const late = await ws.result("subscribe", ["tx", { hash: tx.hash }]);
    const [again] = await ws.notificationsAtLeast(late, 1);
    expect(again).to.deep.equal(report);
  });

  it("sends newHeads in height order, each matching block_get", async () => {
    const sub = await ws.result("subscribe", ["newHeads"]);
    const heads = await ws.notificationsAtLeast(sub, 3, 20_000);
    const heights = heads.map((h: Json) => h.height);
    for (let i = 1; i < heights.length; i++) expect(heights[i]).to.equal(heights[i - 1] + 1);
    const h0 = heads[0];
    const block = await client.rpc.call<Json>("block_get", { height: h0.height });
    expect(h0.hash).to.equal(block.hash);
    expect(h0).to.deep.include({ stateRoot: block.header.stateRoot, time: block.header.time, proposer: block.header.proposer, txCount: block.txs.length });
    expect(h0.committedAt).to.be.a("number");
    expect(await ws.result("unsubscribe", [sub])).to.equal(true);
  });

  it("exposes metrics and health over HTTP", async () => {
    const health = await fetch(`${node.rpcUrl}/health`);
    expect(health.status).to.equal(200);
    const h = (await health.json()) as Json;
    expect(h).to.include({ status: "ok", syncing: false });
    const text = await (await fetch(`${node.rpcUrl}/metrics`)).text();
    const sample = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    expect(sample("sid_block_height")).to.be.at.least(h.height);
    // Three DID txs and one more create so far.
    expect(sample("sid_txs_committed_total")).to.equal(4);
    expect(sample("sid_ws_connections")).to.equal(1);
    expect(sample("sid_did_resolve_duration_seconds_count")).to.be.greaterThan(0);
  });
});
