/**
 * The routes around JSON-RPC: /metrics, /health, CORS, the request log, and
 * the options that drive them.
 */
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { createLogger } from "../../../src/log/logger.js";
import { fastifyLogger } from "../../../src/node/fastify-logger.js";
import { type DidChange, NodeEvents, blockCommittedEvent } from "../../../src/events/node-events.js";
import { type HealthProblem, registerHealth } from "../../../src/rpc/health.js";
import { defineMethod, type MethodTable } from "../../../src/rpc/jsonrpc.js";
import { NodeMetrics, registerMetrics } from "../../../src/node/metrics.js";
import { resolveRpcOptions } from "../../../src/rpc/options.js";
import { buildServer } from "../../../src/rpc/server.js";
import { SubscriptionHub } from "../../../src/rpc/subscriptions.js";
import { registerWebSocket } from "../../../src/rpc/ws.js";
import { type Block, ZERO_HASH } from "../../../src/chain/block.js";
import { createTx, fixedKey, testDid } from "../../helpers/fixtures.js";
import { WsTestClient } from "../../helpers/ws-client.js";

function methods(): MethodTable {
  return {
    did_resolve: defineMethod<{ did: string }, unknown>({ params: { did: { type: "string", required: true, maxLength: 100 } }, handler: async ({ did }) => ({ did }) }),
    echo: defineMethod<{ msg: string }, string>({ params: { msg: { type: "string", required: true } }, handler: (p) => p.msg }),
  };
}

const rpcCall = (method: string, params: unknown) => ({ jsonrpc: "2.0", id: 1, method, params });

describe("rpc: metrics", () => {
  let app: FastifyInstance;
  let events: NodeEvents;
  let metrics: NodeMetrics;
  const sources = { height: 42, txs: 3, bytes: 900, peers: 0, conns: 2, subs: 5 };

  before(async () => {
    events = new NodeEvents();
    metrics = new NodeMetrics(
      {
        height: () => sources.height,
        mempool: () => ({ txs: sources.txs, bytes: sources.bytes }),
        peers: () => sources.peers,
        wsConnections: () => sources.conns,
        wsSubscriptions: () => sources.subs,
      },
      { processMetrics: true },
    );
    metrics.observe(events);
    app = buildServer({}, metrics.instrument(methods()), (a) => registerMetrics(a, metrics));
    await app.ready();
  });
  after(async () => {
    await app.close();
  });

  const scrape = async () => {
    const res = await app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).to.equal(200);
    expect(res.headers["content-type"]).to.match(/^text\/plain; version=0\.0\.4/);
    return res.body;
  };
  const value = (text: string, name: string): number => {
    const line = text.split("\n").find((l) => l.startsWith(name + " "));
    if (line === undefined) throw new Error(`no sample ${name}`);
    return Number(line.slice(name.length + 1));
  };

  it("exposes the node's gauges with the values of the moment", async () => {
    let text = await scrape();
    expect(value(text, "sid_block_height")).to.equal(42);
    expect(value(text, "sid_mempool_txs")).to.equal(3);
    expect(value(text, "sid_mempool_bytes")).to.equal(900);
    expect(value(text, "sid_p2p_peers")).to.equal(0);
    expect(value(text, "sid_ws_connections")).to.equal(2);
    expect(value(text, "sid_ws_subscriptions")).to.equal(5);
    sources.height = 43;
    text = await scrape();
    expect(value(text, "sid_block_height")).to.equal(43);
  });

  it("counts committed txs and consensus rounds from block events", async () => {
    const before = await scrape();
    events.emit("block", { ...emptyBlock(1), txHashes: ["aa", "bb", "cc"], round: 0 });
    events.emit("block", { ...emptyBlock(2), txHashes: ["dd"], round: 2 });
    const after = await scrape();
    expect(value(after, "sid_txs_committed_total") - value(before, "sid_txs_committed_total")).to.equal(4);
    expect(value(after, "sid_consensus_rounds_total") - value(before, "sid_consensus_rounds_total")).to.equal(1 + 3);
    expect(value(after, "sid_consensus_last_commit_round")).to.equal(2);
  });

  it("times did_resolve into a histogram in seconds", async () => {
    const before = value(await scrape(), "sid_did_resolve_duration_seconds_count");
    const res = await app.inject({ method: "POST", url: "/", payload: rpcCall("did_resolve", { did: "did:sid:x" }) });
    expect(res.json().result).to.deep.equal({ did: "did:sid:x" });
    await app.inject({ method: "POST", url: "/", payload: rpcCall("echo", ["not timed"]) });
    const text = await scrape();
    expect(value(text, "sid_did_resolve_duration_seconds_count")).to.equal(before + 1);
    expect(text).to.match(/^sid_did_resolve_duration_seconds_bucket\{le="0\.001"\} \d+$/m);
  });

  it("includes process metrics in its own registry only", async () => {
    const text = await scrape();
    expect(text).to.match(/^process_cpu_user_seconds_total /m);
    expect(text).to.match(/^nodejs_eventloop_lag_seconds /m);
    const bare = new NodeMetrics({ height: () => 1, mempool: () => ({ txs: 0, bytes: 0 }), peers: () => 0, wsConnections: () => 0, wsSubscriptions: () => 0 }, { processMetrics: false });
    const other = await bare.text();
    expect(other).to.not.match(/^process_/m);
    expect(value(other, "sid_block_height")).to.equal(1);
  });

  it("counts live WS connections and subscriptions of a real endpoint", async () => {
    const ev = new NodeEvents();
    const hub = new SubscriptionHub(ev, async () => undefined);
    const options = resolveRpcOptions({});
    let endpoint!: ReturnType<typeof registerWebSocket>;
    const m = new NodeMetrics(
      { height: () => 0, mempool: () => ({ txs: 0, bytes: 0 }), peers: () => 0, wsConnections: () => endpoint.connections, wsSubscriptions: () => hub.size },
      { processMetrics: false },
    );
    const live = buildServer(options, methods(), (a) => {
      registerMetrics(a, m);
      endpoint = registerWebSocket(a, { methods: methods(), hub, options });
    });
    try {
      await live.listen({ host: "127.0.0.1", port: 0 });
      const port = (live.server.address() as { port: number }).port;
      const c = await WsTestClient.open(`ws://127.0.0.1:${port}/ws`);
      await c.result("subscribe", ["newHeads"]);
      await c.result("subscribe", ["did"]);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(value(text, "sid_ws_connections")).to.equal(1);
      expect(value(text, "sid_ws_subscriptions")).to.equal(2);
      await c.close();
    } finally {
      await live.close();
      hub.dispose();
    }
  });
});

function emptyBlock(height: number) {
  return blockCommittedEvent({ block: emptyBlockParts(height), hash: new Uint8Array(32).fill(height), txs: [], versions: [] }, 5, 0);
}

describe("rpc: node events", () => {
  it("puts a committed block in wire form: hex hashes, ISO time, DID changes with string versionIds", () => {
    const d = testDid(fixedKey(3));
    const tx = createTx(d);
    const block: Block = { ...emptyBlockParts(7), txs: [tx.encoded] };
    const ev = blockCommittedEvent(
      {
        block,
        hash: new Uint8Array(32).fill(0xab),
        txs: [tx],
        versions: [{ did: d.did, versionId: 1, operation: "create", height: 7, time: 1_800_000_000_000, txHash: tx.hash, document: d.doc }],
      },
      1_800_000_000_123,
      1,
    );
    expect(ev.head).to.deep.include({ height: 7, hash: "ab".repeat(32), time: "2027-01-15T08:00:00.000Z", txCount: 1, committedAt: 1_800_000_000_123, proposer: "00".repeat(20) });
    expect(ev.txHashes).to.deep.equal([Buffer.from(tx.hash).toString("hex")]);
    const change: DidChange = { did: d.did, operation: "create", versionId: "1", height: 7, txHash: Buffer.from(tx.hash).toString("hex") };
    expect(ev.didChanges).to.deep.equal([change]);
    expect(ev.round).to.equal(1);
  });
});

function emptyBlockParts(height: number): Block {
  return {
    header: {
      chainId: "sid-test",
      height,
      time: 1_800_000_000_000,
      prevHash: ZERO_HASH,
      txRoot: ZERO_HASH,
      evidenceHash: ZERO_HASH,
      stateRoot: ZERO_HASH,
      validatorsHash: ZERO_HASH,
      nextValidatorsHash: ZERO_HASH,
      proposer: new Uint8Array(20),
      lastCommitHash: ZERO_HASH,
    },
    txs: [],
    evidence: [],
    lastCommit: null,
  };
}

describe("rpc: health", () => {
  it("answers 200 when current and 503 while syncing", async () => {
    let syncing = false;
    const app = buildServer({}, methods(), (a) => registerHealth(a, { height: () => 12, isSyncing: () => syncing }));
    try {
      let res = await app.inject({ method: "GET", url: "/health" });
      expect(res.statusCode).to.equal(200);
      expect(res.json()).to.deep.equal({ status: "ok", height: 12, syncing: false });
      syncing = true;
      res = await app.inject({ method: "GET", url: "/health" });
      expect(res.statusCode).to.equal(503);
      expect(res.json()).to.deep.equal({ status: "syncing", height: 12, syncing: true, reason: "catching up from height 12" });
    } finally {
      await app.close();
    }
  });

  it("answers 503 with the node's problem and its reason, ahead of syncing", async () => {
    let problem: HealthProblem | undefined = { status: "no-peers", reason: "no p2p peer connected" };
    const app = buildServer({}, methods(), (a) => registerHealth(a, { height: () => 0, isSyncing: () => true, problem: () => problem }));
    try {
      let res = await app.inject({ method: "GET", url: "/health" });
      expect(res.statusCode).to.equal(503);
      expect(res.json()).to.deep.equal({ status: "no-peers", height: 0, syncing: true, reason: "no p2p peer connected" });
      problem = { status: "faulted", reason: "chain store /x: LEVEL_IO_ERROR: IO error" };
      res = await app.inject({ method: "GET", url: "/health" });
      expect(res.statusCode).to.equal(503);
      expect(res.json().status).to.equal("faulted");
      problem = undefined;
      res = await app.inject({ method: "GET", url: "/health" });
      expect(res.statusCode).to.equal(503);
      expect(res.json().status).to.equal("syncing");
    } finally {
      await app.close();
    }
  });
});

describe("rpc: CORS", () => {
  const build = (cors: false | "*" | string[]) =>
    buildServer({ cors }, methods(), (a) => registerHealth(a, { height: () => 1, isSyncing: () => false }));
  const post = (app: FastifyInstance, origin: string) =>
    app.inject({ method: "POST", url: "/", headers: { origin, "content-type": "application/json" }, payload: rpcCall("echo", ["x"]) });
  const preflight = (app: FastifyInstance, url: string, origin: string, method: string) =>
    app.inject({ method: "OPTIONS", url, headers: { origin, "access-control-request-method": method, "access-control-request-headers": "content-type" } });

  it("sends no CORS headers by default", async () => {
    const app = build(false);
    try {
      const res = await post(app, "https://wallet.example");
      expect(res.statusCode).to.equal(200);
      expect(res.headers["access-control-allow-origin"]).to.equal(undefined);
    } finally {
      await app.close();
    }
  });

  it("allows listed origins only, on POST / and GET routes, preflight included", async () => {
    const app = build(["https://wallet.example", "http://localhost:3000"]);
    try {
      const ok = await post(app, "https://wallet.example");
      expect(ok.headers["access-control-allow-origin"]).to.equal("https://wallet.example");
      expect(ok.headers.vary).to.match(/Origin/);
      expect(ok.json().result).to.equal("x");
      const other = await post(app, "https://evil.example");
      expect(other.headers["access-control-allow-origin"]).to.equal(undefined);

      const pre = await preflight(app, "/", "http://localhost:3000", "POST");
      expect(pre.statusCode).to.equal(204);
      expect(pre.headers["access-control-allow-origin"]).to.equal("http://localhost:3000");
      expect(String(pre.headers["access-control-allow-methods"])).to.include("POST");
      expect(String(pre.headers["access-control-allow-headers"]).toLowerCase()).to.include("content-type");

      const preGet = await preflight(app, "/health", "https://wallet.example", "GET");
      expect(preGet.statusCode).to.equal(204);
      expect(preGet.headers["access-control-allow-origin"]).to.equal("https://wallet.example");
      const get = await app.inject({ method: "GET", url: "/health", headers: { origin: "https://wallet.example" } });
      expect(get.headers["access-control-allow-origin"]).to.equal("https://wallet.example");
    } finally {
      await app.close();
    }
  });

  it('allows any origin with "*"', async () => {
    const app = build("*");
    try {
      expect((await post(app, "https://anyone.example")).headers["access-control-allow-origin"]).to.equal("*");
    } finally {
      await app.close();
    }
  });

  it("applies the same origins to WebSocket upgrades", async () => {
    const options = resolveRpcOptions({ cors: ["https://wallet.example"] });
    const ev = new NodeEvents();
    const hub = new SubscriptionHub(ev, async () => undefined);
    const app = buildServer(options, methods(), (a) => {
      registerWebSocket(a, { methods: methods(), hub, options });
    });
    try {
      await app.listen({ host: "127.0.0.1", port: 0 });
      const url = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}/ws`;
      const ok = await WsTestClient.open(url, { origin: "https://wallet.example" });
      expect(await ok.result("echo", ["hi"])).to.equal("hi");
      await ok.close();
      let err: { statusCode?: number } | undefined;
      await WsTestClient.open(url, { origin: "https://evil.example" }).catch((e) => (err = e));
      expect(err?.statusCode).to.equal(403);
      // Clients that are not browsers send no Origin and are served.
      const plain = await WsTestClient.open(url);
      await plain.close();
    } finally {
      await app.close();
      hub.dispose();
    }
  });
});

describe("rpc: request log", () => {
  it("is off unless a logger is given", async () => {
    const app = buildServer({}, methods());
    expect(resolveRpcOptions({}).logger).to.equal(false);
    await app.close();
  });

  it("writes one line per request with a request id, through the node's logger", async () => {
    const lines: string[] = [];
    const app = buildServer({ logger: fastifyLogger(createLogger((l) => lines.push(l)).child("rpc")) }, methods());
    try {
      await app.inject({ method: "POST", url: "/", headers: { "content-type": "application/json" }, payload: rpcCall("echo", ["a"]) });
      await app.inject({ method: "GET", url: "/nowhere" });
      const requests = lines.filter((l) => / request /.test(l));
      expect(requests, lines.join("\n")).to.have.length(2);
      expect(requests[0]).to.match(/INFO {2}\[rpc\] request reqId=\S+ method=POST url=\/ status=200 ms=[\d.]+$/);
      expect(requests[1]).to.match(/method=GET url=\/nowhere status=404/);
      const ids = requests.map((l) => /reqId=(\S+)/.exec(l)![1]);
      expect(ids[0]).to.not.equal(ids[1]);
    } finally {
      await app.close();
    }
  });

  it("keeps only warnings and errors under SID_LOG_LEVEL=warn", async () => {
    const lines: string[] = [];
    const saved = process.env.SID_LOG_LEVEL;
    process.env.SID_LOG_LEVEL = "warn";
    try {
      const log = createLogger((l) => lines.push(l));
      log.info("quiet");
      log.warn("loud");
      const app = buildServer({ logger: fastifyLogger(log) }, methods());
      await app.inject({ method: "GET", url: "/nowhere" });
      await app.close();
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(/WARN .* loud$/);
    } finally {
      if (saved === undefined) delete process.env.SID_LOG_LEVEL;
      else process.env.SID_LOG_LEVEL = saved;
    }
  });
});

describe("rpc: options of the live endpoints", () => {
  it("accepts false, \"*\" or a list of origins for cors", () => {
    expect(resolveRpcOptions({ cors: "*" }).cors).to.equal("*");
    expect(resolveRpcOptions({ cors: ["https://a.example", "http://127.0.0.1:8080"] }).cors).to.deep.equal(["https://a.example", "http://127.0.0.1:8080"]);
    for (const bad of [true, "https://a.example", [], ["https://a.example/"], ["https://a.example/path"], ["ftp://a.example"], ["*"], [5]]) {
      expect(() => resolveRpcOptions({ cors: bad as never }), JSON.stringify(bad)).to.throw(TypeError, /cors/);
    }
  });

  it("refuses out-of-range WebSocket bounds", () => {
    expect(() => resolveRpcOptions({ wsMaxFrameBytes: 10 })).to.throw(/wsMaxFrameBytes/);
    expect(() => resolveRpcOptions({ wsMaxConnections: 0 })).to.throw(/wsMaxConnections/);
    expect(() => resolveRpcOptions({ wsMaxSubscriptions: 1.5 })).to.throw(/wsMaxSubscriptions/);
    expect(() => resolveRpcOptions({ wsMaxQueueBytes: -1 })).to.throw(/wsMaxQueueBytes/);
    expect(() => resolveRpcOptions({ wsMaxQueueMessages: 0 })).to.throw(/wsMaxQueueMessages/);
    expect(() => resolveRpcOptions({ wsPingIntervalMs: -5 })).to.throw(/wsPingIntervalMs/);
  });
});
