/**
 * A full node that got its blocks by block sync numbers the ops as the
 * validator that made them does: registry_export gives the same entries on
 * both, and the export log goes on the same way for blocks the full node
 * applies as they come.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SidClient, createDidTx } from "../../src/client/index.js";
import { initNetworkHomes } from "../../src/node/network-homes.js";
import type { ExportEntryJson, ExportPage } from "../../src/rpc/export-methods.js";
import { numberedKey } from "../helpers/export-chain.js";
import { freePort } from "../helpers/node-process.js";
import { DevnetNode, FAST_CONSENSUS, waitFor } from "../helpers/devnet.js";

async function exportAll(node: DevnetNode): Promise<ExportEntryJson[]> {
  const out: ExportEntryJson[] = [];
  let after = 0;
  for (;;) {
    const p = await node.rpc<ExportPage>("registry_export", { after, limit: 1000 });
    out.push(...p.entries);
    if (p.next === null) return out;
    after = p.next;
  }
}

describe("integration: export numbers on a block-synced full node", function () {
  this.timeout(90_000);
  let root = "";
  let validator: DevnetNode;
  let full: DevnetNode;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "sid-export-sync-"));
    const ports: number[] = [];
    while (ports.length < 4) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    const [v, f] = await initNetworkHomes(root, { validators: 1, fullNodes: 1, chainId: "sid-export", ports, consensus: FAST_CONSENSUS });
    validator = new DevnetNode(v!);
    full = new DevnetNode(f!);
  });

  after(async () => {
    await full?.stop();
    await validator?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("gives the same sequence numbers to the same ops, synced and live", async () => {
    await validator.start();
    const client = new SidClient(validator.rpcUrl);
    const submit = (from: number, n: number) =>
      Promise.all(Array.from({ length: n }, (_, i) => client.submitAndCommit(createDidTx("sid-export", numberedKey(0x72, from + i)), 30_000)));
    await submit(0, 12);
    await submit(12, 5);
    const before = await exportAll(validator);
    expect(before.map((e) => e.seq)).to.deep.equal(Array.from({ length: 17 }, (_, i) => i + 1));

    await full.start();
    await waitFor("the full node to sync the ops", async () => (await full.rpc<ExportPage>("registry_export", { limit: 1 })).last >= 17, 60_000, 200);
    expect(await exportAll(full)).to.deep.equal(before);

    // Ops committed while the full node follows: the same numbers again.
    await submit(17, 6);
    const last = (await validator.rpc<ExportPage>("registry_export", { limit: 1 })).last;
    expect(last).to.equal(23);
    await waitFor("the full node to apply the new ops", async () => (await full.rpc<ExportPage>("registry_export", { limit: 1 })).last >= last, 30_000, 200);
    expect(await exportAll(full)).to.deep.equal(await exportAll(validator));
  });
});
