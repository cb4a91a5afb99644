/**
 * A 2|2 network partition of 4 validator processes, each in its own Linux
 * network namespace joined to the others by a veth pair and a bridge (see
 * test/helpers/netns.ts). With power 10 each, a quorum needs 3: neither
 * half may commit while cut off, and once healed the chain must commit
 * again, without a fork. Needs root and `ip netns`; skipped with the reason
 * printed elsewhere.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initNetworkHomes } from "../../src/node/network-homes.js";
import { FAST_CONSENSUS, checkNoFork, sleep, waitFor, waitForHeight } from "../helpers/devnet.js";
import { NetnsLan, NetnsNode, cleanStaleNamespaces, netnsUnavailableReason } from "../helpers/netns.js";

/** Each node has a namespace of its own, so every one can use the default ports there. */
const RPC_PORT = 8660;
const P2P_PORT = 8661;
/** How long a partitioned chain is watched for a block that must not come. */
const PARTITION_WINDOW_MS = 5_000;
/** The bound on recovery after healing: a block within this time once the partition heals. */
const HEAL_DEADLINE_MS = 20_000;

describe("integration: 2|2 partition of 4 validators in network namespaces", function () {
  this.timeout(150_000);
  let lan: NetnsLan | undefined;
  let nodes: NetnsNode[] = [];
  let root: string | undefined;

  before(async function () {
    const reason = await netnsUnavailableReason();
    if (reason !== null) {
      console.log(`      skipping the netns partition test: ${reason}`);
      this.skip();
    }
    const stale = await cleanStaleNamespaces();
    if (stale.length > 0) console.log(`      removed stale namespaces of an earlier run: ${stale.join(", ")}`);
    root = mkdtempSync(join(tmpdir(), "sid-netns-"));
    lan = await NetnsLan.create(4);
    const homes = await initNetworkHomes(root, {
      validators: 4,
      fullNodes: 0,
      chainId: "sid-netns",
      ports: lan.nodeNs.flatMap(() => [RPC_PORT, P2P_PORT]),
      p2pHosts: lan.addresses,
      consensus: FAST_CONSENSUS,
    });
    nodes = homes.map((h, i) => new NetnsNode(h, lan!.nodeNs[i]!, join(root!, `rpc-${i}.sock`)));
    await Promise.all(nodes.map((n) => n.start()));
  });

  after(async function () {
    // Runs after a failed or skipped `before` too: each step copes with what was never made.
    await Promise.all(nodes.map((n) => n.stop()));
    await lan?.destroy();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  it("the nodes peer over their namespace addresses; a 2|2 partition commits nothing; healed, the chain commits again within 20 s with no fork", async () => {
    await waitForHeight(nodes, 2, 30_000);
    // A namespace holds only lo and its veth end, so 3 peers each means the chain runs over the bridge.
    await waitFor("3 peers on every node", async () => (await Promise.all(nodes.map((n) => n.peers()))).every((p) => p === 3), 20_000);

    await lan!.partition([2, 3]);
    expect(await lan!.sides()).to.deep.equal(["lan", "lan", "cut", "cut"]);
    // A block whose precommits were already on the wire may still land; then nothing may.
    await sleep(1_000);
    const halted = await Promise.all(nodes.map((n) => n.height()));
    await sleep(PARTITION_WINDOW_MS);
    expect(await Promise.all(nodes.map((n) => n.height())), "no block commits with 20 of 40 power on either side").to.deep.equal(halted);

    await lan!.heal();
    expect(await lan!.sides()).to.deep.equal(["lan", "lan", "lan", "lan"]);
    const top = Math.max(...halted);
    await waitForHeight(nodes, top + 2, HEAL_DEADLINE_MS);
    expect(await checkNoFork(nodes)).to.be.at.least(top + 2);
    for (const n of nodes) expect(n.output(), n.name).not.to.match(/equivocation detected|DOUBLE_SIGN_REFUSED/);
  });
});
