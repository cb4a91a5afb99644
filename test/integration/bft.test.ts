/**
 * BFT consensus among real node processes on loopback: 4 validators (power
 * 10 each, so 3 make a quorum) and full nodes. Every test ends with the
 * no-fork invariant: the same block hash at every height up to the lowest
 * common height, and the same state root.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { deriveKey, generateMnemonic } from "../../src/crypto/hd.js";
import { SidClient, createDidTx } from "../../src/client/index.js";
import { encodeCanonical } from "../../src/chain/codec.js";
import { type Devnet, checkNoFork, createDevnet, sleep, waitFor, waitForHeight } from "../helpers/devnet.js";

function keys(n: number) {
  const m = generateMnemonic();
  return Array.from({ length: n }, (_, i) => deriveKey(m, i));
}

async function submitAll(net: Devnet, count: number): Promise<{ did: string; height: number }[]> {
  const ks = keys(count);
  const chainId = net.chainId;
  // Spread submissions over the validators: gossip must bring each tx to the proposer.
  return Promise.all(
    ks.map(async (k, i) => {
      const client = new SidClient(net.validators[i % net.validators.length]!.rpcUrl);
      const tx = createDidTx(chainId, k);
      const r = await client.submitAndCommit(tx, 30_000);
      return { did: tx.tx.signer, height: r.height };
    }),
  );
}

async function expectOnEveryNode(net: Devnet, nodes: typeof net.nodes, committed: { did: string; height: number }[]): Promise<void> {
  await waitForHeight(nodes, Math.max(...committed.map((c) => c.height)));
  for (const n of nodes) {
    const client = new SidClient(n.rpcUrl);
    for (const c of committed) {
      const r = await client.resolve(c.did);
      expect(r.didDocument?.id, `${c.did} on ${n.name}`).to.equal(c.did);
    }
  }
}

describe("integration: BFT consensus with 4 validator processes", function () {
  this.timeout(120_000);

  it("4 validators commit a stream of DID txs; every tx reported committed is on every node, no fork", async () => {
    const net = await createDevnet({ validators: 4 });
    try {
      await waitForHeight(net.validators, 2);
      const committed = await submitAll(net, 24);
      await expectOnEveryNode(net, net.validators, committed);
      // More than one proposer took part: the weighted round robin rotates.
      const proposers = new Set<string>();
      const top = await net.validators[0]!.height();
      for (let h = 1; h <= Math.min(top, 8); h++) proposers.add((await net.validators[0]!.rpc<{ header: { proposer: string } }>("block_get", { height: h })).header.proposer);
      expect(proposers.size).to.be.greaterThan(1);
      const peers = await fetch(`${net.validators[0]!.rpcUrl}/metrics`).then((r) => r.text());
      expect(peers).to.match(/sid_p2p_peers\S* 3\b/);
      expect(await checkNoFork(net.validators)).to.be.greaterThan(1);
    } finally {
      await net.cleanup();
    }
  });
});

export { readFileSync, join, WebSocket, encodeCanonical, sleep, waitFor };
