/**
 * Faults under load: a 4-validator devnet takes a paced stream of DID
 * creates while validators are killed (-9) and restarted, two at once, all
 * four at once, or paused with SIGSTOP. Every fault ends with the invariant
 * check: the same block hash at every common height, the same state root at
 * the common head, and every tx a node reported committed present, at the
 * height it was reported at, on every node.
 *
 * The default run covers each kind of fault once. SID_FAULT_KILLS (random
 * single kills, default 1) and SID_FAULT_PAUSE_MS (default 8,000) make the
 * long variants, e.g. SID_FAULT_KILLS=30 SID_FAULT_PAUSE_MS=20000 for thirty
 * kills and a 20 s pause.
 */
import { expect } from "chai";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { SidClient, createDidTx } from "../../src/client/index.js";
import { type Devnet, type DevnetNode, checkNoFork, createDevnet, sleep, waitFor, waitForHeight } from "../helpers/devnet.js";

const KILLS = boundedInt(process.env.SID_FAULT_KILLS, 1, 1, 100);
const PAUSE_MS = boundedInt(process.env.SID_FAULT_PAUSE_MS, 8_000, 1_000, 120_000);
/** Creates per second the load aims at (bounded: each is a signed tx and an HTTP call). */
const RATE = boundedInt(process.env.SID_FAULT_RATE, 100, 1, 500);

function boundedInt(raw: string | undefined, fallback: number, min: number, max: number): number {
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`expected an integer from ${min} to ${max}, got ${raw}`);
  return n;
}

interface Committed {
  hash: string;
  height: number;
}

/**
 * An open-loop submitter: RATE creates a second spread over the running
 * validators, each waiting for its commit. Only what a node answered
 * "committed" is recorded; a tx whose node died is simply not counted.
 * At most 2,000 in flight, so a halted chain does not pile up requests.
 */
class Load {
  readonly committed: Committed[] = [];
  private running = true;
  private inFlight = 0;
  private sent = 0;
  private readonly done: Promise<void>;

  constructor(
    private readonly net: Devnet,
    private readonly deadlineMs: number,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    const pending: Promise<void>[] = [];
    const started = Date.now();
    while (this.running && Date.now() < this.deadlineMs) {
      const due = Math.floor(((Date.now() - started) / 1000) * RATE);
      while (this.sent < due && this.inFlight < 2_000) {
        const live = this.net.validators.filter((v) => v.running);
        if (live.length === 0) break;
        const node = live[this.sent % live.length]!;
        this.sent++;
        pending.push(this.submitOne(node));
      }
      await sleep(20);
    }
    await Promise.all(pending);
  }

  private async submitOne(node: DevnetNode): Promise<void> {
    this.inFlight++;
    try {
      const tx = createDidTx(this.net.chainId, randomKeyPair());
      const r = await new SidClient(node.rpcUrl).submit(tx, true, 10_000);
      if (r.status === "committed" && r.height !== undefined) this.committed.push({ hash: r.hash, height: r.height });
    } catch {
      // the node was killed or paused under the request: nothing was reported committed
    } finally {
      this.inFlight--;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** The chain goes on: every given node's height rises past where the fastest of them is now. */
async function expectProgress(nodes: DevnetNode[], blocks: number, timeoutMs = 30_000): Promise<void> {
  const top = Math.max(...(await Promise.all(nodes.map((n) => n.height().catch(() => 0)))));
  await waitForHeight(nodes, top + blocks, timeoutMs);
}

/**
 * The invariant: no fork, and every tx reported committed is on every node
 * in the block at its reported height (one block_get per height and node:
 * the blocks list their txs' hashes).
 */
async function checkInvariant(nodes: DevnetNode[], live: Committed[]): Promise<void> {
  // The load goes on meanwhile: check the txs reported so far, against a height every node has reached.
  const committed = [...live];
  const top = Math.max(0, ...committed.map((c) => c.height));
  await waitForHeight(nodes, top, 30_000);
  expect(await checkNoFork(nodes)).to.be.at.least(top);
  const byHeight = new Map<number, string[]>();
  for (const c of committed) byHeight.set(c.height, [...(byHeight.get(c.height) ?? []), c.hash]);
  const heights = [...byHeight.keys()];
  for (const n of nodes) {
    for (let i = 0; i < heights.length; i += 50) {
      const slice = heights.slice(i, i + 50);
      const blocks = await Promise.all(slice.map((h) => n.rpc<{ txs: string[] }>("block_get", { height: h })));
      blocks.forEach((b, j) => {
        const inBlock = new Set(b.txs);
        for (const hash of byHeight.get(slice[j]!)!) expect(inBlock.has(hash), `${hash} in block ${slice[j]} on ${n.name}`).to.equal(true);
      });
    }
  }
}

function pick<T>(xs: readonly T[], n: number): T[] {
  const copy = [...xs];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

const restartDelay = () => 1_000 + Math.floor(Math.random() * 4_000);

describe("integration: faults under load (kill -9, several at once, all four, SIGSTOP)", function () {
  this.timeout(240_000 + KILLS * 30_000 + PAUSE_MS);
  let net: Devnet;
  let load: Load;

  before(async () => {
    net = await createDevnet({ validators: 4 });
    await waitForHeight(net.validators, 2);
    load = new Load(net, Date.now() + 600_000 + KILLS * 30_000);
  });

  after(async () => {
    await load?.stop();
    await net?.cleanup();
  });

  it(`${KILLS} random kill -9 of a random validator, each restarted after 1-5 s`, async () => {
    for (let k = 0; k < KILLS; k++) {
      const [victim] = pick(net.validators, 1) as [DevnetNode];
      await victim.kill9();
      await sleep(restartDelay());
      await victim.start();
      await expectProgress(net.validators, 2);
    }
    await checkInvariant(net.validators, load.committed);
    expect(load.committed.length, "txs committed under the faults").to.be.greaterThan(0);
  });

  it("two validators killed at once: nothing commits with 2 of 4; both restarted, the chain resumes", async () => {
    const before = load.committed.length;
    const victims = pick(net.validators, 2);
    await Promise.all(victims.map((v) => v.kill9()));
    const rest = net.validators.filter((v) => !victims.includes(v));
    await sleep(1_000);
    const halted = Math.max(...(await Promise.all(rest.map((n) => n.height()))));
    await sleep(restartDelay());
    expect(Math.max(...(await Promise.all(rest.map((n) => n.height())))), "no block with half the power").to.equal(halted);
    await Promise.all(victims.map((v) => v.start()));
    await expectProgress(net.validators, 3);
    await waitFor("txs committed after the restart", async () => load.committed.length > before, 30_000);
    await checkInvariant(net.validators, load.committed);
  });

  it("all four killed and restarted: the chain resumes where it was and loses nothing", async () => {
    const before = load.committed.length;
    await Promise.all(net.validators.map((v) => v.kill9()));
    await sleep(restartDelay());
    await Promise.all(net.validators.map((v) => v.start()));
    await expectProgress(net.validators, 3);
    await waitFor("txs committed after the restart", async () => load.committed.length > before, 30_000);
    await checkInvariant(net.validators, load.committed);
  });

  it(`one validator paused with SIGSTOP for ${PAUSE_MS / 1000} s: the others go on; resumed, it catches up`, async () => {
    const [victim] = pick(net.validators, 1) as [DevnetNode];
    const rest = net.validators.filter((v) => v !== victim);
    victim.proc!.kill("SIGSTOP");
    try {
      const start = Date.now();
      await expectProgress(rest, 3);
      await sleep(Math.max(0, PAUSE_MS - (Date.now() - start)));
    } finally {
      victim.proc!.kill("SIGCONT");
    }
    const top = Math.max(...(await Promise.all(rest.map((n) => n.height()))));
    await waitForHeight([victim], top, 60_000);
    await expectProgress(net.validators, 2);
    await load.stop();
    await checkInvariant(net.validators, load.committed);
  });
});
