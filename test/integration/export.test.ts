/**
 * The export stream of a real dev node process: registry_export pages
 * through every op with gap-free numbers and refuses bad params with typed
 * errors; the `export` WebSocket topic streams the same entries and resumes
 * at a cursor with no gap or duplicate; the mirror (scripts/mirror.ts, run
 * as its own process) verifies the ops, stops and resumes exactly where it
 * stopped, and refuses a tampered entry keeping nothing of it.
 */
import { expect } from "chai";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { RpcError, SidClient, createDidTx, type SignedTx } from "../../src/client/index.js";
import { addService } from "../../src/did/document-edit.js";
import type { ExportEntryJson, ExportPage } from "../../src/rpc/export-methods.js";
import { Mirror, MirrorError, MirrorErrorCode } from "../../scripts/mirror.js";
import { numberedKey } from "../helpers/export-chain.js";
import { type NodeProcess, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";
import { type Json, WsTestClient } from "../helpers/ws-client.js";

const MIRROR_SCRIPT = resolve(fileURLToPath(import.meta.url), "../../../scripts/mirror.js");
const run = promisify(execFile);

describe("integration: the export stream of a node", function () {
  this.timeout(60_000);
  let node: NodeProcess;
  let home: string;
  let client: SidClient;
  let chainId: string;
  let dir: string;
  let keyIndex = 0;

  /** Submit `n` creates at once and wait until all are committed (they land in one or a few blocks). */
  async function creates(n: number): Promise<SignedTx[]> {
    const txs = Array.from({ length: n }, () => createDidTx(chainId, numberedKey(0x71, keyIndex++)));
    await Promise.all(txs.map((t) => client.submitAndCommit(t)));
    return txs;
  }

  async function exportAll(limit: number): Promise<ExportEntryJson[]> {
    const out: ExportEntryJson[] = [];
    let after = 0;
    for (;;) {
      const p = await client.rpc.call<ExportPage>("registry_export", { after, limit });
      out.push(...p.entries);
      if (p.next === null) return out;
      after = p.next;
    }
  }

  before(async () => {
    home = tempHome();
    dir = mkdtempSync(join(tmpdir(), "sid-export-it-"));
    node = await startNodeProcess(home, { heartbeatMs: 300 });
    client = new SidClient(node.rpcUrl);
    chainId = await client.chainId();
    await creates(25);
    const key = numberedKey(0x71, 0);
    const did = createDidTx(chainId, key).tx.signer;
    await client.updateDid(did, key, (d) => addService(d, { id: `${did}#hub`, type: "LinkedDomains", serviceEndpoint: "https://hub.example" }));
    await client.deactivateDid(did, key);
  });

  after(async () => {
    await node?.stop();
    removeHome(home);
    rmSync(dir, { recursive: true, force: true });
  });

  it("registry_export pages through every op, numbered 1..N in commit order, each with its tx and block", async () => {
    const all = await exportAll(7);
    expect(all.map((e) => e.seq)).to.deep.equal(Array.from({ length: 27 }, (_, i) => i + 1));
    const heights = all.map((e) => [e.height, e.index]);
    expect(heights).to.deep.equal([...heights].sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!));
    expect(all.slice(-2).map((e) => e.kind)).to.deep.equal(["did/update", "did/deactivate"]);
    for (const e of [all[0]!, all[26]!]) {
      const tx = await client.rpc.call<Json>("tx_get", { hash: e.txHash });
      expect([tx.height, tx.index]).to.deep.equal([e.height, e.index]);
      const block = await client.rpc.call<Json>("block_get", { height: e.height });
      expect(block.hash).to.equal(e.blockHash);
      expect(block.txs[e.index]).to.equal(e.txHash);
    }
    // One page of everything gives the same entries as small pages did.
    const one = await client.rpc.call<ExportPage>("registry_export", { limit: 1000 });
    expect(one.entries).to.deep.equal(all);
    expect(one.next).to.equal(null);
    expect(one.last).to.equal(27);
  });

  it("registry_export refuses bad params with -32602, naming the param", async () => {
    for (const [params, name] of [
      [{ after: -1 }, "after"],
      [{ after: 1.5 }, "after"],
      [{ after: "3" }, "after"],
      [{ limit: 0 }, "limit"],
      [{ limit: 1001 }, "limit"],
      [{ blocks: "yes" }, "blocks"],
      [{ cursor: 3 }, "cursor"],
    ] as const) {
      let thrown: unknown;
      await client.rpc.call("registry_export", params).catch((e: unknown) => (thrown = e));
      expect(thrown, JSON.stringify(params)).to.be.instanceOf(RpcError);
      expect((thrown as RpcError).code).to.equal(-32602);
      expect(JSON.stringify((thrown as RpcError).data ?? (thrown as RpcError).message)).to.include(name);
    }
  });

  it("the export topic streams the same entries, follows new blocks, and resumes at a cursor with no gap or duplicate", async () => {
    const expected = await exportAll(1000);
    const url = node.rpcUrl.replace("http://", "ws://") + "/ws";
    const bad = await WsTestClient.open(url);
    const refused = await bad.call("subscribe", ["export", { after: -2 }]);
    expect(refused.error.code).to.equal(-32602);
    const unknown = await bad.call("subscribe", ["export", { from: 2 }]);
    expect(unknown.error.code).to.equal(-32602);
    await bad.close();

    const entriesOf = (ws: WsTestClient, sub: string) => ws.notifications(sub).flatMap((p: ExportPage) => p.entries);
    const first = await WsTestClient.open(url);
    const sub1 = await first.result("subscribe", ["export", { after: 5 }]);
    await first.until(() => entriesOf(first, sub1).length >= 22, 10_000, "the backlog after 5");
    expect(entriesOf(first, sub1)).to.deep.equal(expected.slice(5));
    // Live: the next ops arrive as their blocks commit.
    await creates(6);
    await first.until(() => entriesOf(first, sub1).length >= 28, 10_000, "6 new ops");
    const seen = entriesOf(first, sub1) as ExportEntryJson[];
    expect(seen.map((e) => e.seq)).to.deep.equal(Array.from({ length: 28 }, (_, i) => i + 6));
    await first.close();

    // A consumer that stopped at op 30 resumes from there while more ops are committed.
    const second = await WsTestClient.open(url);
    const more = creates(5);
    const sub2 = await second.result("subscribe", ["export", { after: 30, blocks: true }]);
    await more;
    await second.until(() => entriesOf(second, sub2).length >= 8, 10_000, "ops 31 to 38");
    const resumed = entriesOf(second, sub2) as ExportEntryJson[];
    expect(resumed.map((e) => e.seq)).to.deep.equal([31, 32, 33, 34, 35, 36, 37, 38]);
    expect(resumed.slice(0, 3)).to.deep.equal(seen.slice(-3));
    // Each block comes once: with the page of its first op; a page leaves out the block of the previous page's last op.
    const pages = second.notifications(sub2) as ExportPage[];
    let prevHeight: number | undefined;
    for (const p of pages) {
      for (const e of p.entries) {
        if (e.height === prevHeight) expect(p.blocks?.[String(e.height)], `block ${e.height} sent again`).to.equal(undefined);
        else expect(p.blocks?.[String(e.height)], `block ${e.height} with the page`).to.not.equal(undefined);
      }
      prevHeight = p.entries[p.entries.length - 1]?.height;
    }
    await second.close();
  });

  it("the mirror, as a process, verifies ops, stops at --max-ops and resumes exactly where it stopped", async () => {
    const mdir = join(dir, "mirror");
    const genesis = join(home, "config", "genesis.json");
    const args = [MIRROR_SCRIPT, "--rpc", node.rpcUrl, "--genesis", genesis, "--dir", mdir, "--limit", "9"];
    const a = JSON.parse((await run(process.execPath, [...args, "--max-ops", "20"])).stdout) as Json;
    expect(a).to.include({ from: 0, cursor: 20, verified: 20 });
    const last = (await client.rpc.call<ExportPage>("registry_export", { after: 0, limit: 1 })).last;
    const b = JSON.parse((await run(process.execPath, args)).stdout) as Json;
    expect(b).to.include({ from: 20, cursor: last, verified: last - 20 });
    const mirror = await Mirror.open({ dir: mdir, rpcUrl: node.rpcUrl, genesisFile: genesis });
    try {
      expect(mirror.cursor).to.equal(last);
      const all = await exportAll(1000);
      for (const seq of [1, 20, 21, last]) expect(await mirror.getOp(seq)).to.deep.equal(all[seq - 1]);
      const deactivated = all.find((e) => e.kind === "did/deactivate")!;
      expect((await mirror.getDid(deactivated.subject))?.deactivated).to.equal(true);
    } finally {
      await mirror.close();
    }
  });

  it("the mirror, killed with SIGKILL while it follows, resumes with every op once", async () => {
    const mdir = join(dir, "mirror-killed");
    const genesis = join(home, "config", "genesis.json");
    const args = [MIRROR_SCRIPT, "--rpc", node.rpcUrl, "--genesis", genesis, "--dir", mdir, "--limit", "2"];
    const child = spawn(process.execPath, [...args, "--follow"], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    const exited = new Promise((r) => child.once("exit", r));
    // Killed once it has kept its first page (usually mid-way: it has many pages of 2 to go; either way it must resume exactly).
    for (let i = 0; i < 200 && !/op \d+ of/.test(err); i++) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGKILL");
    await exited;
    expect(err, "the mirror made progress before it was killed").to.match(/op \d+ of \d+/);
    const out = JSON.parse((await run(process.execPath, args)).stdout) as Json;
    const last = (await client.rpc.call<ExportPage>("registry_export", { after: 0, limit: 1 })).last;
    expect(out.cursor).to.equal(last);
    expect(out.from + out.verified).to.equal(last);
    const mirror = await Mirror.open({ dir: mdir, rpcUrl: node.rpcUrl, genesisFile: genesis });
    try {
      const all = await exportAll(1000);
      for (let seq = 1; seq <= last; seq++) expect(await mirror.getOp(seq), `op ${seq}`).to.deep.equal(all[seq - 1]);
    } finally {
      await mirror.close();
    }
  });

  it("the mirror refuses a tampered entry and keeps nothing of its page", async () => {
    await creates(4);
    const mdir = join(dir, "mirror");
    const mirror = await Mirror.open({ dir: mdir, rpcUrl: node.rpcUrl, genesisFile: join(home, "config", "genesis.json") });
    try {
      const at = mirror.cursor;
      const page = await mirror.fetchPage(10);
      expect(page.entries.length).to.equal(4);
      const tampered: ExportPage = JSON.parse(JSON.stringify(page));
      // Another op's signed tx in the third entry's place.
      tampered.entries[2]!.tx = tampered.entries[3]!.tx;
      let thrown: unknown;
      await mirror.apply(tampered).catch((e: unknown) => (thrown = e));
      expect(thrown).to.be.instanceOf(MirrorError);
      expect((thrown as MirrorError).code).to.equal(MirrorErrorCode.NOT_IN_BLOCK);
      expect(mirror.cursor).to.equal(at);
      expect(await mirror.getOp(at + 1)).to.equal(undefined);
      // The untampered page is kept.
      expect(await mirror.apply(page)).to.equal(4);
      expect(mirror.cursor).to.equal(at + 4);
    } finally {
      await mirror.close();
    }
  });
});
