/**
 * A full node joins a chain of more than 1,000 blocks and block-syncs it
 * from genesis. The chain is made fast by a single validator with a 10 ms
 * heartbeat (an empty block whenever nothing happened for 10 ms), with DID
 * creates spread through it; the validator is then restarted with a slow
 * heartbeat so the head stays put while the full node (no validator key,
 * the validator as its only peer) fetches every block, checking each
 * block's commit, and must end with the same blocks, state roots and
 * documents.
 */
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateMnemonic } from "../../src/crypto/hd.js";
import { SidClient, createDidTx } from "../../src/client/index.js";
import { initNetworkHomes } from "../../src/node/network-homes.js";
import { freePort } from "../helpers/node-process.js";
import { didKeyOf } from "../helpers/hd-fast.js";
import { DevnetNode, FAST_CONSENSUS, checkNoFork, waitFor, waitForHeight } from "../helpers/devnet.js";

const TARGET_BLOCKS = 1_000;
const DIDS = 12;

function editNodeJson(home: string, edit: (cfg: Record<string, unknown>) => void): void {
  const file = join(home, "config", "node.json");
  const cfg = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  edit(cfg);
  writeFileSync(file, JSON.stringify(cfg, null, 2) + "\n");
}

const healthStatus = (n: DevnetNode) => fetch(`${n.rpcUrl}/health`).then((r) => r.status);

describe("integration: a full node block-syncs 1,000 blocks", function () {
  this.timeout(180_000);
  let root = "";
  let validator: DevnetNode;
  let full: DevnetNode;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "sid-sync1000-"));
    const ports: number[] = [];
    while (ports.length < 4) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    const [v, f] = await initNetworkHomes(root, { validators: 1, fullNodes: 1, chainId: "sid-sync", ports, consensus: FAST_CONSENSUS });
    editNodeJson(v!.home, (cfg) => (cfg.heartbeatMs = 10));
    // Progress every 250 ms: a sync of a few seconds must show several lines.
    editNodeJson(f!.home, (cfg) => (cfg.blockSync = { progressLogIntervalMs: 250 }));
    validator = new DevnetNode(v!);
    full = new DevnetNode(f!);
  });

  after(async () => {
    await full?.stop();
    await validator?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("syncs from genesis with progress lines, answers /health 503 then 200, and ends with the same blocks, state roots and documents", async () => {
    await validator.start();
    const chainId = "sid-sync";
    const m = generateMnemonic();
    const client = new SidClient(validator.rpcUrl);
    const created: { did: string; height: number }[] = [];
    // One create each time the chain has grown by about TARGET_BLOCKS / DIDS blocks: txs spread through the chain.
    for (let i = 0; i < DIDS; i++) {
      await waitForHeight([validator], Math.floor((i * TARGET_BLOCKS) / DIDS), 60_000);
      const tx = createDidTx(chainId, didKeyOf(m, i));
      const r = await client.submitAndCommit(tx, 30_000);
      created.push({ did: tx.tx.signer, height: r.height });
    }
    await waitForHeight([validator], TARGET_BLOCKS, 60_000);
    expect(new Set(created.map((c) => c.height)).size, "creates in distinct blocks").to.equal(DIDS);
    expect(created[DIDS - 1]!.height).to.be.greaterThan(TARGET_BLOCKS * 0.8);

    // A slow heartbeat from here on: the head stays (nearly) where it is while the full node syncs.
    await validator.stop();
    editNodeJson(validator.home, (cfg) => (cfg.heartbeatMs = 5_000));
    await validator.start();
    const head = await validator.height();
    expect(head).to.be.at.least(TARGET_BLOCKS);

    await full.start();
    // The RPC answers before the first synced block is applied: the node says it is behind.
    expect(await healthStatus(full)).to.equal(503);
    await waitFor("the full node to catch up", async () => (await healthStatus(full)) === 200, 90_000, 200);
    await waitForHeight([full], head, 10_000);

    const progress = [...full.output().matchAll(/syncing blocks height=(\d+) target=(\d+) blocksPerSec=([\d.]+) etaSec=(\d+)/g)];
    expect(progress.length, "progress lines").to.be.at.least(2);
    for (const p of progress) {
      expect(Number(p[2])).to.be.at.least(Number(p[1]));
      expect(Number(p[3])).to.be.greaterThan(0);
    }
    // The target is the peer's claim: the head, unless a request timed out on a loaded machine and the claim was cut for a while (and said so).
    expect(Math.max(...progress.map((p) => Number(p[2]))), "the head as target").to.be.at.least(head);
    if (progress.some((p) => Number(p[2]) < head)) expect(full.output()).to.match(/its claim is cut/);
    const heights = progress.map((p) => Number(p[1]));
    expect(heights, "progress moves forward").to.deep.equal([...heights].sort((a, b) => a - b));
    expect(full.output()).to.match(/block sync caught up/);

    for (const h of [1, 250, 500, 750, created[0]!.height, created[DIDS - 1]!.height, head]) {
      const [a, b] = await Promise.all([validator, full].map((n) => n.rpc<{ hash: string; header: { stateRoot: string } }>("block_get", { height: h })));
      expect(b!.hash, `block hash at ${h}`).to.equal(a!.hash);
      expect(b!.header.stateRoot, `state root at ${h}`).to.equal(a!.header.stateRoot);
    }
    const fullClient = new SidClient(full.rpcUrl);
    for (const c of created) {
      const a = await client.resolve(c.did);
      expect(a.didDocument?.id).to.equal(c.did);
      expect(await fullClient.resolve(c.did), c.did).to.deep.equal(a);
    }
    expect(await checkNoFork([validator, full])).to.be.at.least(head);
  });
});
