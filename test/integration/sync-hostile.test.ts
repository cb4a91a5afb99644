/**
 * Peers that lie about the chain, against a devnet of real processes on
 * loopback: a stranger with a fresh key claims heights it does not have, or
 * serves blocks whose commits are forged. Honest nodes keep committing, the
 * liar pays for its claims, and every test ends with the invariant check.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { generateMnemonic } from "../../src/crypto/hd.js";
import { SidClient, createDidTx } from "../../src/client/index.js";
import type { Block, BlockHeader, Commit } from "../../src/chain/block.js";
import { headerHash } from "../../src/chain/block.js";
import type { CanonicalValue } from "../../src/chain/codec.js";
import { fromHex } from "../../src/crypto/bytes.js";
import { Channel } from "../../src/p2p/index.js";
import { type Devnet, type DevnetNode, createDevnet, waitFor, waitForHeight } from "../helpers/devnet.js";
import { didKeyOf } from "../helpers/hd-fast.js";
import { type CommittedTx, checkInvariants } from "../helpers/invariants.js";
import { RawPeer } from "../helpers/p2p.js";

/** Submit `count` DID creates spread over `nodes`; the txs reported committed. */
async function submitCreates(net: Devnet, nodes: DevnetNode[], count: number): Promise<CommittedTx[]> {
  const m = generateMnemonic();
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const tx = createDidTx(net.chainId, didKeyOf(m, i));
      const r = await new SidClient(nodes[i % nodes.length]!.rpcUrl).submitAndCommit(tx, 30_000);
      return { hash: r.hash, height: r.height };
    }),
  );
}

/** Every node's height goes up by `by` from now, within `ms`. */
async function heightsRise(nodes: DevnetNode[], by: number, ms: number): Promise<void> {
  const now = await Promise.all(nodes.map((n) => n.height()));
  await waitFor(`every node ${by} blocks higher`, async () => (await Promise.all(nodes.map((n) => n.height()))).every((h, i) => h >= now[i]! + by), ms);
}

/** A block of `height` that links to nothing, with a commit that names it and carries signatures of no validator. */
function forgedItem(chainId: string, height: number): { block: Block; commit: Commit } {
  const header: BlockHeader = {
    chainId,
    height,
    time: Date.now(),
    prevHash: randomBytes(32),
    txRoot: randomBytes(32),
    evidenceHash: randomBytes(32),
    stateRoot: randomBytes(32),
    validatorsHash: randomBytes(32),
    nextValidatorsHash: randomBytes(32),
    proposer: randomBytes(20),
    lastCommitHash: randomBytes(32),
  };
  const commit: Commit = { height, round: 0, blockHash: headerHash(header), sigs: [{ validator: randomBytes(20), sig: randomBytes(64) }] };
  return { block: { header, txs: [], evidence: [], lastCommit: null }, commit };
}

type Answer = "mute" | "empty" | "forged";

/**
 * A hostile peer on one node: it announces `claim` every 300 ms and answers
 * getBlocks as told (never, with no blocks, with forged blocks).
 */
function liar(node: DevnetNode, chainId: string, genesisHash: Uint8Array, claim: () => number, answer: Answer) {
  const peer = RawPeer.connect(node.info.p2pPort, { chainId, genesisHash });
  let seen = 0;
  const timer = setInterval(() => {
    if (peer.ws.readyState !== peer.ws.OPEN) return;
    peer.sendFrame(Channel.BlockSync, { type: "status", height: claim(), baseHeight: 1 });
    for (; seen < peer.frames.length; seen++) {
      const f = peer.frames[seen]!;
      const m = f.m as { type?: string; from?: number; count?: number };
      if (f.ch !== Channel.BlockSync || m.type !== "getBlocks" || answer === "mute") continue;
      const items = answer === "empty" ? [] : Array.from({ length: m.count! }, (_, i) => forgedItem(chainId, m.from! + i));
      peer.sendFrame(Channel.BlockSync, { type: "blocks", from: m.from!, items } as unknown as CanonicalValue);
    }
  }, 300);
  return {
    peer,
    stop() {
      clearInterval(timer);
      peer.ws.terminate();
    },
  };
}

const bannedIn = (node: DevnetNode, nodeId: string) => node.output().split("\n").some((l) => /peer banned/.test(l) && l.includes(nodeId));

describe("integration: block sync against lying peers", function () {
  this.timeout(150_000);

  it("strangers claiming a height 1e9 above the head to every validator (one answering nothing, one answering with no blocks) stop nobody and are banned", async () => {
    const net = await createDevnet({ validators: 4 });
    const liars: ReturnType<typeof liar>[] = [];
    try {
      const v = net.validators;
      await waitForHeight(v, 3);
      const status = await v[0]!.rpc<{ genesisHash: string }>("node_status");
      const genesisHash = fromHex(status.genesisHash, 32);
      const head = await v[0]!.height();
      for (const n of v) for (const answer of ["mute", "empty"] as const) liars.push(liar(n, net.chainId, genesisHash, () => head + 1_000_000_000, answer));
      expect((await Promise.all(liars.map((l) => l.peer.handshaken))).every(Boolean), "the liars are connected").to.equal(true);

      // Consensus goes on under the lie, and txs commit.
      await heightsRise(v, 3, 10_000);
      const committed = await submitCreates(net, v, 8);
      await heightsRise(v, 3, 10_000);
      // Each liar pays for the claim it cannot serve, on the validator it lied to, until it is banned there.
      const target = (i: number) => v[Math.floor(i / 2)]!;
      await waitFor("every liar banned", async () => liars.every((l, i) => bannedIn(target(i), l.peer.nodeId)), 60_000).catch((e) => {
        console.log(v[0]!.output().split("\n").filter((l) => /sync|peer|probe|claim/.test(l)).slice(-40).join("\n"));
        throw e;
      });
      for (const l of liars) expect((await Promise.race([l.peer.closed, new Promise((r) => setTimeout(() => r(undefined), 5_000))])) !== undefined, "banned peer disconnected").to.equal(true);
      for (const n of v) {
        expect(n.output()).not.to.match(/was started already/);
        expect(n.output()).not.to.match(/catching up by block sync/);
      }
      for (const l of liars) l.stop();
      // And after the liars left.
      await heightsRise(v, 3, 10_000);
      await checkInvariants(v, committed);
    } finally {
      for (const l of liars) l.stop();
      await net.cleanup();
    }
  });

  it("a peer that serves forged commits to a node syncing from genesis is banned, and the node syncs from the honest peers", async () => {
    const net = await createDevnet({ validators: 4, fullNodes: 1, startOnly: [0, 1, 2, 3] });
    let l: ReturnType<typeof liar> | undefined;
    try {
      const v = net.validators;
      const full = net.fullNodes[0]!;
      await waitForHeight(v, 3);
      const committed = await submitCreates(net, v, 6);
      await waitForHeight(v, 20, 30_000);
      const genesisHash = fromHex((await v[0]!.rpc<{ genesisHash: string }>("node_status")).genesisHash, 32);
      await full.start();
      // It claims the honest head (and later far more), and serves forged blocks for whatever it is asked.
      let far = false;
      l = liar(full, net.chainId, genesisHash, () => (far ? 1_000_000_000 : 20), "forged");
      expect(await l.peer.handshaken).to.equal(true);
      await waitFor("the forger banned", async () => {
        far = (await full.height()) >= 20;
        return bannedIn(full, l!.peer.nodeId);
      }, 30_000).catch((e) => {
        console.log(full.output().split("\n").filter((x) => /sync|peer|probe|claim|consensus/.test(x)).slice(-30).join("\n"));
        throw e;
      });
      expect(full.output()).to.match(/does not verify|refused: BLOCK_INVALID|not block \d+ with a commit/);
      // The full node follows the chain from the honest peers.
      const top = Math.max(...(await Promise.all(v.map((n) => n.height()))));
      await waitForHeight([full], top + 3, 20_000);
      await checkInvariants([...v, full], committed);
    } finally {
      l?.stop();
      await net.cleanup();
    }
  });

  it("penalties stay with the liar: honest peers are never penalised for their status", async () => {
    // The attack tests above check the liar; here only honest nodes run, with one of them restarted behind (it catches up).
    const net = await createDevnet({ validators: 4 });
    try {
      const v = net.validators;
      await waitForHeight(v, 3);
      await v[3]!.stop();
      await heightsRise(v.slice(0, 3), 10, 20_000);
      await v[3]!.start();
      await heightsRise(v, 3, 20_000);
      for (const n of v) expect(n.output(), n.name).not.to.match(/peer (penalized|banned)/);
      await checkInvariants(v);
    } finally {
      await net.cleanup();
    }
  });
});
