/**
 * The WebSocket endpoint on a real server (127.0.0.1, port 0) built with
 * buildServer and fed by a NodeEvents emitter the test drives: JSON-RPC over
 * WS, subscriptions, and every bound (frames, connections, subscriptions,
 * slow consumers).
 */
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { ChainError, TxErrorCode } from "../../../src/chain/errors.js";
import { type BlockCommittedEvent, type DidChange, NodeEvents } from "../../../src/events/node-events.js";
import { defineMethod, type MethodTable } from "../../../src/rpc/jsonrpc.js";
import { type RpcOptions, resolveRpcOptions } from "../../../src/rpc/options.js";
import { buildServer } from "../../../src/rpc/server.js";
import { sendBudgetOf } from "../../../src/rpc/send-budget.js";
import { SubscriptionHub, type TxOutcome } from "../../../src/rpc/subscriptions.js";
import { registerWebSocket, type WebSocketEndpoint } from "../../../src/rpc/ws.js";
import { fixedKey, testDid } from "../../helpers/fixtures.js";
import { type Json, WsTestClient } from "../../helpers/ws-client.js";

const DID_A = testDid(fixedKey(1)).did;
const DID_B = testDid(fixedKey(2)).did;

function hash(n: number): string {
  return n.toString(16).padStart(64, "0");
}

function blockEvent(height: number, txHashes: string[] = [], didChanges: DidChange[] = []): BlockCommittedEvent {
  return {
    head: {
      chainId: "sid-test",
      height,
      hash: hash(1000 + height),
      time: new Date(1_800_000_000_000 + height * 1000).toISOString(),
      prevHash: hash(999 + height),
      txRoot: hash(0),
      evidenceHash: hash(0),
      stateRoot: hash(2000 + height),
      validatorsHash: hash(3),
      nextValidatorsHash: hash(3),
      proposer: "ab".repeat(20),
      lastCommitHash: hash(4),
      txCount: txHashes.length,
      committedAt: 1_800_000_000_000 + height,
    },
    txHashes,
    didChanges,
    round: 0,
  };
}

function change(did: string, versionId: number, height: number, operation: DidChange["operation"] = "update"): DidChange {
  return { did, operation, versionId: String(versionId), height, txHash: hash(versionId) };
}

/** How many times `blob` ran, across harnesses. */
let blobCalls = 0;

function testMethods(): MethodTable {
  return {
    blob: defineMethod<{ bytes: number }, string>({
      params: { bytes: { type: "integer", required: true, minimum: 0, maximum: 8 * 1024 * 1024 } },
      handler: ({ bytes }) => {
        blobCalls++;
        return "x".repeat(bytes);
      },
    }),
    echo: defineMethod<{ msg: string }, string>({ params: { msg: { type: "string", required: true, maxLength: 64 } }, handler: (p) => p.msg }),
    fail: defineMethod({
      params: {},
      handler: () => {
        throw new ChainError(TxErrorCode.BAD_SIGNATURE, "signature does not verify");
      },
    }),
  };
}

interface Harness {
  app: FastifyInstance;
  wsUrl: string;
  events: NodeEvents;
  hub: SubscriptionHub;
  endpoint: WebSocketEndpoint;
  outcomes: Map<string, TxOutcome>;
  open(): Promise<WsTestClient>;
  close(): Promise<void>;
}

async function startHarness(opts: Partial<RpcOptions> = {}): Promise<Harness> {
  const options = resolveRpcOptions({ port: 0, ...opts });
  const events = new NodeEvents();
  const outcomes = new Map<string, TxOutcome>();
  const hub = new SubscriptionHub(events, async (h) => outcomes.get(h));
  const methods = testMethods();
  let endpoint!: WebSocketEndpoint;
  const app = buildServer(options, methods, (a) => {
    endpoint = registerWebSocket(a, { methods, hub, options });
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === "string") throw new Error("no address");
  const wsUrl = `ws://127.0.0.1:${addr.port}/ws`;
  return {
    app,
    wsUrl,
    events,
    hub,
    endpoint,
    outcomes,
    open: () => WsTestClient.open(wsUrl),
    async close() {
      await app.close();
      hub.dispose();
    },
  };
}

/** Wait (bounded) until the server side reaches a state the client cannot see directly. */
async function eventually(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("rpc: WebSocket endpoint", function () {
  this.timeout(30_000);

  describe("JSON-RPC over WS", () => {
    let h: Harness;
    let c: WsTestClient;
    before(async () => {
      h = await startHarness({ maxBatch: 4 });
      c = await h.open();
    });
    after(async () => {
      await c?.close();
      await h?.close();
    });

    it("answers a call with the same result as over HTTP", async () => {
      expect(await c.call("echo", { msg: "hi" })).to.deep.equal({ jsonrpc: "2.0", id: 1, result: "hi" });
    });

    it("maps typed errors and unknown methods like HTTP does", async () => {
      const r = await c.call("fail");
      expect(r.error).to.deep.equal({ code: 1005, message: "signature does not verify", data: { reason: "TX_BAD_SIGNATURE" } });
      const m = await c.call("nope");
      expect(m.error.code).to.equal(-32601);
    });

    it("answers a batch in request order and leaves notifications unanswered", async () => {
      c.send([
        { jsonrpc: "2.0", id: "a", method: "echo", params: ["one"] },
        { jsonrpc: "2.0", method: "echo", params: ["not answered"] },
        { jsonrpc: "2.0", id: "b", method: "echo", params: { msg: "two" } },
      ]);
      const batch = await c.waitFor((m) => Array.isArray(m));
      expect(batch).to.deep.equal([
        { jsonrpc: "2.0", id: "a", result: "one" },
        { jsonrpc: "2.0", id: "b", result: "two" },
      ]);
      const tooBig = Array.from({ length: 5 }, (_, i) => ({ jsonrpc: "2.0", id: 100 + i, method: "echo", params: ["x"] }));
      c.send(tooBig);
      const refused = await c.waitFor((m) => m.id === null && m.error?.code === -32600 && /exceeds the limit of 4/.test(m.error.data.reason));
      expect(refused.error.message).to.equal("Invalid Request");
    });

    it("answers a frame that is not JSON with -32700 and keeps the connection", async () => {
      c.send("{not json");
      const r = await c.waitFor((m) => m.error?.code === -32700);
      expect(r.id).to.equal(null);
      expect(await c.result("echo", ["still here"])).to.equal("still here");
    });

    it("answers a binary frame with -32600 and keeps the connection", async () => {
      c.send(Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: 9, method: "echo", params: ["bin"] })));
      const r = await c.waitFor((m) => m.error?.code === -32600 && /binary frames/.test(m.error.data?.reason));
      expect(r.id).to.equal(null);
      expect(await c.result("echo", ["after binary"])).to.equal("after binary");
    });

    it("closes a connection whose text frame is not UTF-8 with 1007", async () => {
      const bad = await h.open();
      // A text frame (opcode 1) with an invalid byte, written below the client library, which would refuse to send it.
      (bad.socket as unknown as { _socket: { write(b: Buffer): void } })._socket.write(Buffer.from([0x81, 0x81, 0, 0, 0, 0, 0xff]));
      expect((await bad.closed).code).to.equal(1007);
      expect(await c.result("echo", ["others unaffected"])).to.equal("others unaffected");
    });

    it("does not offer subscribe over HTTP", async () => {
      const res = await h.app.inject({ method: "POST", url: "/", headers: { "content-type": "application/json" }, payload: { jsonrpc: "2.0", id: 1, method: "subscribe", params: ["newHeads"] } });
      expect(res.json().error.code).to.equal(-32601);
    });
  });

  describe("subscriptions", () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ wsMaxSubscriptions: 3 });
    });
    after(async () => {
      await h?.close();
    });

    it("subscribes to newHeads, notifies in the Ethereum shape, and stops after unsubscribe", async () => {
      const c = await h.open();
      try {
        const id = await c.result("subscribe", ["newHeads"]);
        expect(id).to.match(/^0x[0-9a-f]{32}$/);
        const ev = blockEvent(7);
        h.events.emit("block", ev);
        const n = await c.waitFor((m) => m.method === "subscription");
        expect(n).to.deep.equal({ jsonrpc: "2.0", method: "subscription", params: { subscription: id, result: ev.head } });

        expect(await c.result("unsubscribe", [id])).to.equal(true);
        h.events.emit("block", blockEvent(8));
        // Delivery is synchronous in emit: had block 8 been sent, it would precede this answer.
        await c.result("echo", ["sync"]);
        expect(c.notifications(id).map((r) => r.height)).to.deep.equal([7]);
        expect(h.hub.size).to.equal(0);
      } finally {
        await c.close();
      }
    });

    it("refuses an unknown topic and malformed filters with -32602", async () => {
      const c = await h.open();
      try {
        const cases: [unknown, string][] = [
          [["blocks"], "topic"],
          [[], "topic"],
          [[42], "topic"],
          [["newHeads", "x"], "filter"],
          [["newHeads", { did: DID_A }], "filter"],
          [["did", { did: "did:example:123" }], "filter.did"],
          [["did", { did: 5 }], "filter.did"],
          [["did", { who: DID_A }], "filter"],
          [["tx", {}], "filter.hash"],
          [["tx"], "filter.hash"],
          [["tx", { hash: "ABCD" }], "filter.hash"],
          [["statusLists", { issuer: "" }], "filter.issuer"],
          [["statusLists", { issuer: "did:web:x" }], "filter.issuer"],
          [["statusLists", { holder: DID_A }], "filter"],
          [["statusLists", { subject: DID_A }], "filter"],
          [["credentials"], "topic"],
        ];
        for (const [params, param] of cases) {
          const r = await c.call("subscribe", params);
          expect(r.error?.code, JSON.stringify(params)).to.equal(-32602);
          expect(r.error.data.param, JSON.stringify(params)).to.equal(param);
        }
        expect(h.hub.size).to.equal(0);
      } finally {
        await c.close();
      }
    });

    it("answers unsubscribe of an unknown id with SUBSCRIPTION_NOT_FOUND", async () => {
      const c = await h.open();
      const other = await h.open();
      try {
        const r = await c.call("unsubscribe", ["0x" + "0".repeat(32)]);
        expect(r.error.code).to.equal(1600);
        expect(r.error.data.reason).to.equal("SUBSCRIPTION_NOT_FOUND");
        // Another connection's id is unknown here too.
        const theirs = await other.result("subscribe", ["newHeads"]);
        expect((await c.call("unsubscribe", [theirs])).error.code).to.equal(1600);
        expect((await c.call("unsubscribe", [5])).error.code).to.equal(-32602);
      } finally {
        await c.close();
        await other.close();
      }
    });

    it("refuses a subscription past wsMaxSubscriptions with SUBSCRIPTION_LIMIT", async () => {
      const c = await h.open();
      try {
        const ids = [];
        for (let i = 0; i < 3; i++) ids.push(await c.result("subscribe", ["newHeads"]));
        const r = await c.call("subscribe", ["did"]);
        expect(r.error.code).to.equal(1601);
        expect(r.error.data).to.deep.equal({ limit: 3, reason: "SUBSCRIPTION_LIMIT" });
        // A slot freed is a slot usable.
        await c.result("unsubscribe", [ids[0]]);
        expect(await c.result("subscribe", ["did"])).to.match(/^0x/);
      } finally {
        await c.close();
      }
    });

    it("drops the subscriptions of a closed connection", async () => {
      const c = await h.open();
      await c.result("subscribe", ["newHeads"]);
      await c.result("subscribe", ["did", { did: DID_A }]);
      await c.result("subscribe", ["tx", { hash: hash(77) }]);
      expect(h.hub.size).to.equal(3);
      await c.close();
      await eventually(() => h.hub.size === 0 && h.endpoint.connections === 0, "subscriptions dropped");
      // Events after the close go nowhere and break nothing.
      h.events.emit("block", blockEvent(9, [hash(77)], [change(DID_A, 2, 9)]));
    });

    it("sends DID changes in commit order, all or filtered by DID", async () => {
      const c = await h.open();
      try {
        const all = await c.result("subscribe", ["did"]);
        const onlyA = await c.result("subscribe", ["did", { did: DID_A }]);
        h.events.emit("block", blockEvent(10, [hash(1), hash(2)], [change(DID_A, 1, 10, "create"), change(DID_B, 1, 10, "create")]));
        h.events.emit("block", blockEvent(11, [hash(3)], [change(DID_A, 2, 11)]));
        h.events.emit("block", blockEvent(12, [hash(4)], [change(DID_B, 2, 12, "deactivate")]));
        await c.notificationsAtLeast(all, 4);
        await c.result("echo", ["sync"]);
        const label = (r: Json) => `${r.did === DID_A ? "A" : "B"}:${r.versionId}:${r.operation}`;
        expect(c.notifications(all).map(label)).to.deep.equal(["A:1:create", "B:1:create", "A:2:update", "B:2:deactivate"]);
        expect(c.notifications(onlyA)).to.deep.equal([change(DID_A, 1, 10, "create"), change(DID_A, 2, 11)]);
      } finally {
        await c.close();
      }
    });

    it("reports a pending tx once when committed, then ends the subscription", async () => {
      const c = await h.open();
      try {
        const id = await c.result("subscribe", ["tx", { hash: hash(5) }]);
        h.events.emit("block", blockEvent(20, [hash(4), hash(5)]));
        const n = await c.waitFor((m) => m.params?.subscription === id);
        expect(n.params.result).to.deep.equal({ hash: hash(5), status: "committed", height: 20, index: 1 });
        // Ended: a second commit of the same hash (impossible on chain) is not reported, and the id is gone.
        h.events.emit("block", blockEvent(21, [hash(5)]));
        expect((await c.call("unsubscribe", [id])).error.data.reason).to.equal("SUBSCRIPTION_NOT_FOUND");
        expect(c.notifications(id)).to.have.length(1);
      } finally {
        await c.close();
      }
    });

    it("reports a rejected tx with its error", async () => {
      const c = await h.open();
      try {
        const id = await c.result("subscribe", ["tx", { hash: hash(6) }]);
        h.events.emit("txRejected", { hash: hash(6), error: { code: "DID_STALE_VERSION", message: "stale" } });
        const n = await c.waitFor((m) => m.params?.subscription === id);
        expect(n.params.result).to.deep.equal({ hash: hash(6), status: "rejected", error: { code: "DID_STALE_VERSION", message: "stale" } });
      } finally {
        await c.close();
      }
    });

    it("reports an already committed tx at once, after the subscribe answer", async () => {
      h.outcomes.set(hash(8), { hash: hash(8), status: "committed", height: 3, index: 0 });
      const c = await h.open();
      try {
        const answer = await c.call("subscribe", ["tx", { hash: hash(8) }]);
        const note = await c.waitFor((m) => m.method === "subscription");
        expect(note.params).to.deep.equal({ subscription: answer.result, result: { hash: hash(8), status: "committed", height: 3, index: 0 } });
        expect(c.received.indexOf(answer)).to.be.lessThan(c.received.indexOf(note));
        // Reported, so ended.
        expect((await c.call("unsubscribe", [answer.result])).error.data.reason).to.equal("SUBSCRIPTION_NOT_FOUND");
      } finally {
        await c.close();
      }
    });

    it("streams status list publishes, all or by issuer, issuer-level only", async () => {
      const c = await h.open();
      try {
        const any = await c.result("subscribe", ["statusLists"]);
        const byIssuer = await c.result("subscribe", ["statusLists", { issuer: DID_A }]);
        const evs = [
          { issuer: DID_A, listId: "l1", height: 30 },
          { issuer: DID_B, listId: "l1", height: 30 },
          { issuer: DID_A, listId: "l2", height: 31 },
        ] as const;
        for (const ev of evs) h.events.emit("statusList", { ...ev });
        await c.notificationsAtLeast(any, 3);
        await c.result("echo", ["sync"]);
        expect(c.notifications(any)).to.deep.equal(evs);
        expect(c.notifications(byIssuer).map((e) => e.listId)).to.deep.equal(["l1", "l2"]);
      } finally {
        await c.close();
      }
    });
  });

  describe("bounds", () => {
    it("closes a connection that sends a frame over wsMaxFrameBytes with 1009", async () => {
      const h = await startHarness({ wsMaxFrameBytes: 1024 });
      try {
        const c = await h.open();
        // Just under the bound is served.
        expect(await c.result("echo", ["x".repeat(60)])).to.have.length(60);
        c.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "echo", params: ["y".repeat(2000)] }));
        const closed = await c.closed;
        expect(closed.code).to.equal(1009);
        await eventually(() => h.endpoint.connections === 0, "connection gone");
      } finally {
        await h.close();
      }
    });

    it("refuses connections past wsMaxConnections with 503, and takes one again when a slot frees", async () => {
      const h = await startHarness({ wsMaxConnections: 2 });
      try {
        const a = await h.open();
        const b = await h.open();
        let err: { statusCode?: number } | undefined;
        await h.open().catch((e) => (err = e));
        expect(err?.statusCode).to.equal(503);
        await a.close();
        await eventually(() => h.endpoint.connections === 1, "slot freed");
        const c = await h.open();
        expect(await c.result("echo", ["in"])).to.equal("in");
        await b.close();
        await c.close();
      } finally {
        await h.close();
      }
    });

    it("answers upgrades of other paths with 404", async () => {
      const h = await startHarness();
      try {
        let err: { statusCode?: number } | undefined;
        await WsTestClient.open(h.wsUrl.replace("/ws", "/socket")).catch((e) => (err = e));
        expect(err?.statusCode).to.equal(404);
        // The HTTP side is unaffected.
        const res = await fetch(h.wsUrl.replace("ws://", "http://").replace("/ws", "/"), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "echo", params: ["http"] }),
        });
        expect(((await res.json()) as Json).result).to.equal("http");
      } finally {
        await h.close();
      }
    });

    it("closes a subscriber that stops reading with 4008 while a reading one keeps receiving", async () => {
      const h = await startHarness({ wsMaxQueueBytes: 64 * 1024, wsMaxQueueMessages: 100_000, wsCloseGraceMs: 10_000 });
      try {
        const fast = await h.open();
        const slow = await h.open();
        const fastId = await fast.result("subscribe", ["newHeads"]);
        await slow.result("subscribe", ["newHeads"]);
        // The slow client stops reading: what the node sends piles up in the kernel, then in the node's queue.
        (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
        let height = 0;
        // Bounded: 64 KiB of queue plus the kernel's socket buffers take far fewer than this many ~700-byte heads.
        for (let round = 0; round < 400 && h.hub.size === 2; round++) {
          for (let i = 0; i < 50; i++) h.events.emit("block", blockEvent(++height));
          // The fast client reads everything sent so far before the next round.
          await fast.notificationsAtLeast(fastId, height);
        }
        expect(h.hub.size, "the slow subscriber was dropped").to.equal(1);
        const droppedAt = height;
        h.events.emit("block", blockEvent(++height));
        const got = await fast.notificationsAtLeast(fastId, height);
        expect(got.map((r) => r.height)).to.deep.equal(Array.from({ length: height }, (_, i) => i + 1));
        expect(droppedAt).to.be.greaterThan(50);

        // Once it reads again, the slow client finds the reason after what was queued.
        (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
        const closed = await slow.closed;
        expect(closed).to.deep.equal({ code: 4008, reason: "subscriber too slow" });
        await fast.close();
      } finally {
        await h.close();
      }
    });

    it("refuses an answer larger than the send queue with -32003 instead of queueing it, and keeps the connection", async () => {
      const h = await startHarness({ wsMaxQueueBytes: 64 * 1024 });
      try {
        const c = await h.open();
        const r = await c.call("blob", { bytes: 100 * 1024 });
        expect(r.result).to.equal(undefined);
        expect(r.error.code).to.equal(-32003);
        expect(r.error.data).to.deep.equal({ limit: "wsMaxQueueBytes", max: 64 * 1024 });
        expect((await c.call("blob", { bytes: 60 * 1024 })).result).to.have.length(60 * 1024);
        // In a batch every id gets the error.
        c.send([{ jsonrpc: "2.0", id: "a", method: "blob", params: { bytes: 40 * 1024 } }, { jsonrpc: "2.0", id: "b", method: "blob", params: { bytes: 40 * 1024 } }]);
        const batch = await c.waitFor((m) => Array.isArray(m));
        expect(batch.map((e: Json) => [e.id, e.error.code])).to.deep.equal([["a", -32003], ["b", -32003]]);
        await c.close();
      } finally {
        await h.close();
      }
    });

    it("does not read a client that does not read its answers, and holds at most its queue bound for it", async () => {
      const h = await startHarness({ wsMaxQueueBytes: 256 * 1024 });
      try {
        const c = await h.open();
        const budget = sendBudgetOf(h.app, 0);
        (c.socket as unknown as { _socket: { pause(): void } })._socket.pause();
        const before = blobCalls;
        const asked = 100;
        // Spaced, so that frames sent after the node paused the connection are not already in its read buffer.
        for (let i = 0; i < asked; i++) {
          c.send({ jsonrpc: "2.0", id: i, method: "blob", params: { bytes: 200 * 1024 } });
          await new Promise((r) => setTimeout(r, 10));
        }
        // The kernel's buffers fill first, then the node's queue; from then on the node stops reading the client.
        await eventually(() => budget.bytes > 0, "answers queued in the node");
        let peak = 0;
        for (let i = 0; i < 30; i++) {
          peak = Math.max(peak, budget.bytes);
          await new Promise((r) => setTimeout(r, 10));
        }
        expect(peak).to.be.at.most(256 * 1024);
        const handled = blobCalls - before;
        expect(handled, "requests the node worked on while the client did not read").to.be.below(asked);
        // Once it reads, every request is answered: a result, or -32003 for what did not fit; nothing is lost.
        (c.socket as unknown as { _socket: { resume(): void } })._socket.resume();
        await c.until(() => c.received.filter((m) => typeof m.id === "number").length === asked, 20_000, "every answer");
        for (const m of c.received) expect(m.result?.length === 200 * 1024 || m.error?.code === -32003, JSON.stringify(m).slice(0, 100)).to.equal(true);
        expect(budget.bytes).to.equal(0);
        await c.close();
      } finally {
        await h.close();
      }
    });

    it("closes every connection with 1001 when the server closes", async () => {
      const h = await startHarness();
      const c = await h.open();
      await c.result("subscribe", ["newHeads"]);
      await h.close();
      expect((await c.closed).code).to.equal(1001);
      expect(h.hub.size).to.equal(0);
    });
  });
});
