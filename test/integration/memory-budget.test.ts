/**
 * The node's memory budget (docs/limits.md) held against bounded versions of
 * the attacks it is built to withstand, on a real node process: batches that
 * amplify (large documents, histories, list pages), WebSocket clients that
 * never read the large answers they ask for, HTTP bodies trickled or left
 * unfinished, and many versioned resolves of a DID with many versions.
 * During each, the node's RSS (/proc/<pid>/status VmRSS) is sampled and must
 * stay under the stated bound, and a fresh `node_status` on a new connection
 * must be answered within 1 s (a liveness bound, not a speed measure).
 */
import http from "node:http";
import net from "node:net";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { expect } from "chai";
import WebSocket from "ws";
import { SidClient } from "../../src/client/sid-client.js";
import { createDidTx, updateDidTx } from "../../src/client/txs.js";
import { generateMnemonic, deriveKey, type KeyPair } from "../../src/crypto/hd.js";
import { buildInitialDocument, type DidDocument } from "../../src/did/document.js";
import { type NodeProcess, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";

/** The bound docs/limits.md states for a node with default options. */
const RSS_BOUND_BYTES = 1024 * 1024 * 1024;
const PROBE_BOUND_MS = 1_000;
const VERSIONS = 100;

type Json = any;

/**
 * A worker that asks node_status on a new connection every 100 ms and
 * reports each answer's time, or a failure when there is no well-formed
 * answer within the bound, until told to stop.
 */
const PROBER_SOURCE = `
const http = require("node:http");
const { parentPort, workerData } = require("node:worker_threads");
let running = true;
parentPort.on("message", () => (running = false));
const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "node_status" });
function probe() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.request(workerData.url, { method: "POST", agent: false, timeout: workerData.boundMs, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => {
        const ms = performance.now() - t0;
        let ok = false;
        try { ok = typeof JSON.parse(text).result.height === "number"; } catch {}
        if (!ok) resolve({ failure: "node_status answered " + text.slice(0, 200) });
        else if (ms > workerData.boundMs) resolve({ failure: "node_status answered after " + Math.round(ms) + " ms" });
        else resolve({ ms });
      });
    });
    req.on("timeout", () => req.destroy(new Error("no answer in " + workerData.boundMs + " ms")));
    req.on("error", (e) => resolve({ failure: "node_status: " + e.message }));
    req.end(body);
  });
}
(async () => {
  while (running) {
    parentPort.postMessage(await probe());
    await new Promise((r) => setTimeout(r, 100));
  }
  process.exit(0);
})();
`;

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A document near the 16 KiB limit: the initial one plus 15 services with long endpoints. */
function bigDocument(key: KeyPair, tag: number): DidDocument {
  const doc = buildInitialDocument(key.publicKey);
  doc.service = Array.from({ length: 15 }, (_, i) => ({
    id: `${doc.id}#s${i}`,
    type: "LinkedDomains",
    serviceEndpoint: `https://example.org/${tag}/${i}/${"a".repeat(900)}`,
  }));
  return doc;
}

/** POST a JSON-RPC body on a connection of its own. */
function post(url: string, body: unknown, timeoutMs = 30_000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(url, { method: "POST", agent: false, timeout: timeoutMs, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

function get(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, timeout: 30_000 }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      })
      .on("error", reject);
  });
}

const call = (method: string, params: unknown, id: number) => ({ jsonrpc: "2.0", id, method, params });

interface PhaseReport {
  peakRssMiB: number;
  probes: number;
  slowestProbeMs: number;
}

describe("integration: memory budget under attack", function () {
  this.timeout(120_000);
  let node: NodeProcess;
  let home: string;
  let client: SidClient;
  let pid: number;
  let bigDid: string;
  let versionedDid: string;
  const report: Record<string, PhaseReport> = {};

  before(async () => {
    home = tempHome("sid-membudget-");
    mkdirSync(join(home, "config"), { recursive: true });
    // A lowered body timeout, so trickled bodies end within the test.
    writeFileSync(join(home, "config", "node.json"), JSON.stringify({ rpc: { bodyTimeoutMs: 2_000 } }));
    node = await startNodeProcess(home);
    pid = node.proc.pid!;
    client = new SidClient(node.rpcUrl);
    const chainId = await client.chainId();
    const mnemonic = generateMnemonic();

    const k0 = deriveKey(mnemonic, 0);
    bigDid = (await client.submitAndCommit(createDidTx(chainId, k0, bigDocument(k0, 0))), bigDocument(k0, 0).id);

    // A DID with VERSIONS versions of ~16 KiB each.
    const k1 = deriveKey(mnemonic, 1);
    const first = bigDocument(k1, 0);
    versionedDid = first.id;
    await client.submitAndCommit(createDidTx(chainId, k1, first));
    const vm = `${versionedDid}#key-1`;
    for (let v = 1; v < VERSIONS; v++) {
      await client.submitAndCommit(updateDidTx({ chainId, did: versionedDid, prevVersionId: String(v), signer: versionedDid, seq: v, vm, secretKey: k1.secretKey }, bigDocument(k1, v)));
    }
  });

  after(async () => {
    if (Object.keys(report).length > 0) console.log(`      memory budget: ${JSON.stringify({ boundMiB: RSS_BOUND_BYTES / 2 ** 20, ...report })}`);
    await node?.stop();
    if (home) removeHome(home);
  });

  /** Run `attack` while sampling RSS and probing node_status; assert both bounds. */
  async function underAttack(name: string, attack: () => Promise<void>): Promise<void> {
    let running = true;
    let peak = rssOf(pid);
    const probeMs: number[] = [];
    const failures: string[] = [];
    const sampler = (async () => {
      while (running) {
        peak = Math.max(peak, rssOf(pid));
        await sleep(25);
      }
    })();
    // The probes run in a worker thread: the attack's own clients (in this thread) must not delay them.
    const prober = new Worker(PROBER_SOURCE, { eval: true, workerData: { url: node.rpcUrl, boundMs: PROBE_BOUND_MS } });
    prober.on("message", (m: { ms?: number; failure?: string }) => {
      if (m.failure !== undefined) failures.push(m.failure);
      else probeMs.push(m.ms!);
    });
    const proberDone = new Promise<void>((r) => prober.once("exit", () => r()));
    try {
      await attack();
    } finally {
      running = false;
      await sampler;
      prober.postMessage("stop");
      await proberDone;
    }
    report[name] = { peakRssMiB: Math.round(peak / 2 ** 20), probes: probeMs.length, slowestProbeMs: Math.round(Math.max(0, ...probeMs)) };
    expect(failures, `${name}: node_status within ${PROBE_BOUND_MS} ms`).to.deep.equal([]);
    expect(probeMs.length, `${name}: probes made`).to.be.greaterThan(0);
    expect(peak, `${name}: peak RSS ${Math.round(peak / 2 ** 20)} MiB`).to.be.below(RSS_BOUND_BYTES);
  }

  it("amplifying batches: large documents, histories and list pages, 6 clients at once", async () => {
    await underAttack("amplification", async () => {
      const batches = [
        Array.from({ length: 100 }, (_, i) => call("did_resolve", { did: bigDid }, i)),
        Array.from({ length: 100 }, (_, i) => call("did_history", { did: versionedDid }, i)),
        Array.from({ length: 100 }, (_, i) => call("issuer_list", { limit: 500 }, i)),
      ];
      let answered = 0;
      await Promise.all(
        Array.from({ length: 6 }, async (_, c) => {
          for (let round = 0; round < 3; round++) {
            const r = await post(node.rpcUrl, batches[(c + round) % batches.length]);
            const json = JSON.parse(r.text) as Json[];
            expect(json).to.have.length(100);
            // Each entry a whole result or a typed error: nothing partial.
            for (const e of json) expect(e.result !== undefined || [-32001, -32002, -32003].includes(e.error?.code), JSON.stringify(e).slice(0, 200)).to.equal(true);
            expect(Buffer.byteLength(r.text)).to.be.below(4 * 1024 * 1024 + 100 * 512);
            answered++;
          }
        }),
      );
      expect(answered).to.equal(18);
    });
  });

  it("WebSocket clients that never read the large answers they ask for", async () => {
    await underAttack("wsNonReading", async () => {
      const wsUrl = node.rpcUrl.replace("http:", "ws:") + "/ws";
      const clients = await Promise.all(
        Array.from({ length: 20 }, () => new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(wsUrl);
          ws.once("open", () => resolve(ws));
          ws.once("error", reject);
        })),
      );
      const closes = clients.map((ws) => new Promise<number>((r) => ws.once("close", (code) => r(code))));
      for (const ws of clients) {
        ws.on("error", () => {});
        (ws as unknown as { _socket: net.Socket })._socket.pause();
        // Two batches of ~1.6 MB answers each: 64 MB if the node queued them all.
        for (let b = 0; b < 2; b++) ws.send(JSON.stringify(Array.from({ length: 100 }, (_, i) => call("did_resolve", { did: bigDid }, b * 100 + i))));
      }
      await sleep(3_000);
      for (const ws of clients) ws.terminate();
      await Promise.all(closes);
    });
  });

  it("HTTP bodies trickled or left unfinished are cut off at bodyTimeoutMs", async () => {
    await underAttack("httpBodies", async () => {
      const sockets: Promise<boolean>[] = [];
      const open = (body: (s: net.Socket) => void, trickles: boolean) =>
        new Promise<boolean>((resolve) => {
          const s = net.connect(Number(new URL(node.rpcUrl).port), "127.0.0.1", () => body(s));
          let trickle: NodeJS.Timeout | undefined;
          s.on("error", () => {});
          // Read what the node answers (a 503 to some), so its end of the connection is seen.
          s.resume();
          s.on("close", () => {
            clearInterval(trickle);
            resolve(true);
          });
          s.on("connect", () => {
            if (trickles) trickle = setInterval(() => s.writable && s.write(" "), 200);
          });
          // Bounded: a socket the node never closes fails the test below.
          setTimeout(() => {
            if (!s.destroyed) {
              s.destroy();
              resolve(false);
            }
          }, 30_000).unref();
        });
      const head = (len: number) => `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;
      // 300 trickling a 1 MiB body a byte at a time, 30 sending all but the last byte of it at once
      // (past maxBodiesInFlight some are refused with 503 at once: also an end).
      for (let i = 0; i < 300; i++) sockets.push(open((s) => s.write(head(1024 * 1024) + "["), true));
      for (let i = 0; i < 30; i++) sockets.push(open((s) => s.write(head(1024 * 1024) + "[" + " ".repeat(1024 * 1024 - 2)), false));
      const closedByNode = await Promise.all(sockets);
      expect(closedByNode.filter((c) => !c).length, "sockets the node left open").to.equal(0);
    });
  });

  it("many versioned resolves of a DID with many versions", async () => {
    await underAttack("versionedResolves", async () => {
      const did = encodeURIComponent(versionedDid);
      for (let round = 0; round < 3; round++) {
        const rs = await Promise.all(Array.from({ length: 80 }, () => get(`${node.rpcUrl}/1.0/identifiers/${did}?versionId=1`)));
        for (const r of rs) {
          expect(r.status).to.equal(200);
          expect((JSON.parse(r.text) as Json).didDocumentMetadata.versionId).to.equal("1");
        }
      }
      const t = new Date().toISOString();
      const batches = await Promise.all(
        Array.from({ length: 8 }, () => post(node.rpcUrl, Array.from({ length: 100 }, (_, i) => call("did_resolve", { did: versionedDid, versionTime: t }, i)))),
      );
      for (const b of batches) {
        for (const e of JSON.parse(b.text) as Json[]) expect(e.result?.didDocumentMetadata?.versionId === String(VERSIONS) || e.error?.code === -32002, JSON.stringify(e).slice(0, 200)).to.equal(true);
      }
    });
  });
});
