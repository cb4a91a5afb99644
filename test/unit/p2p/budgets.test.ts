/**
 * Per-peer budgets and the priority of consensus over tx gossip: the tx
 * budget's buckets on a driven clock; on real networks, txs beyond a budget
 * or a full inbound queue are dropped and scored (and a peer that keeps
 * overrunning is banned), a consensus message is handled while a peer's txs
 * still wait for admission, each channel has its own message budget; and
 * the verdict on a gossiped tx whose signature fails.
 */
import { expect } from "chai";
import { ChainError, TxErrorCode } from "../../../src/chain/errors.js";
import { Channel } from "../../../src/p2p/frames.js";
import { Penalty, TxBudget } from "../../../src/p2p/limits.js";
import type { P2pNetwork, PenaltyEvent } from "../../../src/p2p/network.js";
import type { P2pOptions } from "../../../src/p2p/options.js";
import { resolveP2pOptions } from "../../../src/p2p/options.js";
import type { PeerInfo } from "../../../src/p2p/peer.js";
import { TxGossip } from "../../../src/p2p/tx-gossip.js";
import { FORGED_TX_WINDOW_BLOCKS, type TxVerdictContext, txVerdictOf } from "../../../src/node/bft-wiring.js";
import { CHAIN_ID, createTx, fixedKey, testDid, updateTx, writeParams } from "../../helpers/fixtures.js";
import { GENESIS_HASH, RawPeer, eventually, startNetwork } from "../../helpers/p2p.js";

function tx(n: number, size = 16): Uint8Array {
  const b = new Uint8Array(size).fill(0xcd);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

describe("p2p budgets and consensus first", function () {
  this.timeout(30_000);

  describe("TxBudget", () => {
    it("holds two seconds of txs and bytes, refuses a batch beyond either whole, and refills at its rate", () => {
      let now = 0;
      const b = new TxBudget({ txsPerSec: 100, bytesPerSec: 1000, sigChecksPerSec: 10 }, () => now);
      expect(b.receive(200, 100)).to.equal(undefined);
      expect(b.receive(1, 1)).to.equal("txs");
      now += 1000; // 100 txs and 1000 bytes back (the byte bucket is full again at 2000)
      expect(b.receive(50, 2001)).to.equal("bytes");
      // The refused batch took nothing: the 100 txs are all there.
      expect(b.receive(100, 1000)).to.equal(undefined);
      expect(b.receive(1, 1)).to.equal("txs");
    });

    it("counts signature checks one by one: 2 s of burst, then the rate", () => {
      let now = 0;
      const b = new TxBudget({ txsPerSec: 100, bytesPerSec: 1000, sigChecksPerSec: 10 }, () => now);
      let n = 0;
      while (b.admit()) n++;
      expect(n).to.equal(20);
      now += 500;
      n = 0;
      while (b.admit()) n++;
      expect(n).to.equal(5);
    });
  });

  it("options: the budgets are checked, and channelRatePerSec is merged over its defaults", () => {
    expect(resolveP2pOptions({ channelRatePerSec: { consensus: 7 } as P2pOptions["channelRatePerSec"] }).channelRatePerSec).to.deep.include({ consensus: 7, evidence: 20 });
    expect(() => resolveP2pOptions({ txBudgetSigChecksPerSec: 0 })).to.throw(/txBudgetSigChecksPerSec/);
    expect(() => resolveP2pOptions({ channelRatePerSec: { votes: 1 } as unknown as P2pOptions["channelRatePerSec"] })).to.throw(/channelRatePerSec/);
  });

  describe("on real networks", () => {
    const running: P2pNetwork[] = [];
    const gossips: TxGossip[] = [];
    const raws: RawPeer[] = [];
    afterEach(async () => {
      for (const g of gossips.splice(0)) g.close();
      for (const r of raws.splice(0)) r.ws.terminate();
      await Promise.all(running.splice(0).map((n) => n.stop()));
    });

    /** A network with tx gossip whose admissions are recorded and settle only when `release` is called (or at once). */
    async function node(opts: Partial<P2pOptions>, hold = false) {
      const { net, address } = await startNetwork(opts);
      running.push(net);
      const calls: Uint8Array[] = [];
      const waiting: Array<() => void> = [];
      const gossip = new TxGossip(net, {
        admit: async (t) => {
          calls.push(t);
          if (hold) await new Promise<void>((r) => waiting.push(r));
          return false;
        },
      });
      gossips.push(gossip);
      const penalties: PenaltyEvent[] = [];
      net.on("peerPenalized", (e) => penalties.push(e));
      return { net, gossip, calls, waiting, penalties, port: Number(address.split(":")[1]) };
    }

    async function rawPeer(port: number): Promise<RawPeer> {
      const r = RawPeer.connect(port, { genesisHash: GENESIS_HASH });
      raws.push(r);
      expect(await r.handshaken).to.equal(true);
      return r;
    }

    it("txs beyond the signature-check budget are dropped before admission, scored, and forgotten (another peer's copy is admitted)", async () => {
      const n = await node({ txBudgetSigChecksPerSec: 10 });
      const attacker = await rawPeer(n.port);
      const txs = Array.from({ length: 100 }, (_, i) => tx(i));
      attacker.sendFrame(Channel.Tx, txs);
      await eventually(() => n.gossip.counters.overBudget === 80 && n.gossip.idle, "the batch to be judged");
      expect(n.calls).to.have.length(20); // the 2 s burst
      expect(n.penalties.map((p) => p.reason)).to.deep.include(`tx gossip over its signature checks budget: 80 txs dropped`);
      expect(n.penalties[0]!.penalty).to.equal(Penalty.TX_BUDGET_OVERRUN);
      // A dropped tx is not remembered as seen: an honest peer's copy goes to admission.
      const honest = await rawPeer(n.port);
      honest.sendFrame(Channel.Tx, [txs[99]!]);
      await eventually(() => n.calls.length === 21, "the honest copy to be admitted");
    });

    it("a peer's inbound queue is bounded: with admissions stuck, txs past txInboundQueueMax are dropped and scored", async () => {
      const n = await node({ txInboundQueueMax: 256, txAdmissionsInFlight: 1 }, true);
      const attacker = await rawPeer(n.port);
      for (let b = 0; b < 3; b++) attacker.sendFrame(Channel.Tx, Array.from({ length: 256 }, (_, i) => tx(b * 256 + i)));
      await eventually(() => n.gossip.counters.txsIn === 768, "the batches to arrive");
      await eventually(() => n.gossip.counters.overBudget > 0, "an overrun");
      expect(n.calls).to.have.length(1); // one admission in flight, the rest wait
      expect(n.gossip.inboundFor(attacker.nodeId)).to.be.at.most(256);
      expect(n.gossip.admissionsInFlight).to.equal(1);
      expect(n.penalties.some((p) => /queue budget/.test(p.reason))).to.equal(true);
      for (const r of n.waiting.splice(0)) r();
    });

    it("a peer that keeps overrunning its tx budget is banned", async () => {
      const n = await node({ txBudgetTxsPerSec: 100 });
      const attacker = await rawPeer(n.port);
      for (let b = 0; b < 30; b++) attacker.sendFrame(Channel.Tx, Array.from({ length: 256 }, (_, i) => tx(b * 256 + i)));
      const closed = await attacker.closed;
      expect(closed.code).to.equal(4025);
      expect(n.net.isBanned(attacker.nodeId)).to.equal(true);
      expect(n.penalties.filter((p) => /txs budget/.test(p.reason)).length).to.be.at.least(10);
    });

    it("consensus first: a consensus message is handled while a flood of txs still waits for admission", async () => {
      const n = await node({ txAdmissionsInFlight: 4, txInboundQueueMax: 4096 }, true);
      const handled: { queued: number | undefined; admissions: number }[] = [];
      let attackerId = "";
      n.net.registerChannel<unknown>(Channel.Consensus, {
        decode: (m) => m,
        onMessage: () => {
          handled.push({ queued: n.gossip.inboundFor(attackerId), admissions: n.calls.length });
        },
      });
      const attacker = await rawPeer(n.port);
      attackerId = attacker.nodeId;
      for (let b = 0; b < 4; b++) attacker.sendFrame(Channel.Tx, Array.from({ length: 256 }, (_, i) => tx(b * 256 + i)));
      attacker.sendFrame(Channel.Consensus, { vote: 1 });
      await eventually(() => handled.length === 1, "the consensus message");
      // Handled with hundreds of the flood's txs still queued, and only the in-flight few started.
      expect(handled[0]!.queued).to.be.greaterThan(500);
      expect(handled[0]!.admissions).to.be.at.most(4);
      for (const r of n.waiting.splice(0)) r();
    });

    it("each channel has its own message budget: a flood on one is dropped and scored, another channel still gets through", async () => {
      const n = await node({ channelRatePerSec: { consensus: 5, evidence: 20, blockSync: 200, tx: 200, snapshot: 200 } });
      const got: number[] = [];
      n.net.registerChannel<unknown>(Channel.Consensus, { decode: (m) => m, onMessage: (_p, m) => void got.push(m as number) });
      const attacker = await rawPeer(n.port);
      for (let i = 0; i < 14; i++) attacker.sendFrame(Channel.Consensus, i);
      attacker.sendFrame(Channel.Tx, [tx(1)]);
      await eventually(() => n.calls.length === 1 && n.net.counters.overBudget === 4, "the flood to be judged");
      expect(got).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(n.penalties.filter((p) => p.offence === "P2P_RATE_LIMITED")).to.have.length(4);
    });
  });

  describe("the verdict on a gossiped tx whose signature fails", () => {
    const alice = testDid(fixedKey(7));
    const mallory = fixedKey(9);
    const peer: PeerInfo = { id: "ab".repeat(20), address: "127.0.0.1:1", direction: "inbound", score: 0, connectedAt: 0 };
    // An update of alice's document at version 1, seq 1, signed by a key that is not hers.
    const forged = updateTx(writeParams(alice, 1, 1, { did: alice.did, keyId: alice.keyId, secretKey: mallory.secretKey }), alice.doc);
    const badSig = new ChainError(TxErrorCode.BAD_SIGNATURE, "signature does not verify");
    const head = 100;
    const ctx = (over: Partial<TxVerdictContext> = {}, record: { updatedHeight: number; doc?: typeof alice.doc } = { updatedHeight: 3 }): TxVerdictContext => ({
      chainId: CHAIN_ID,
      headHeight: () => head,
      peerHeight: () => head,
      hasPending: () => false,
      committedDid: async () => ({ document: record.doc ?? alice.doc, updatedHeight: record.updatedHeight, deactivated: false }),
      ...over,
    });

    it("rejects it (FORGED_TX) when it fails against the signer's settled committed key and the peer is level with this node", async () => {
      const v = await txVerdictOf(badSig, forged.encoded, peer, ctx());
      expect(v).to.deep.include({ verdict: "reject", penalty: Penalty.FORGED_TX });
      // A peer that never announced a height is judged the same (an honest one announces on connect).
      expect((await txVerdictOf(badSig, forged.encoded, peer, ctx({ peerHeight: () => undefined }))).verdict).to.equal("reject");
    });

    it("ignores it when a race can explain it: the peer ahead or far behind, the signer's record recent or pending", async () => {
      expect((await txVerdictOf(badSig, forged.encoded, peer, ctx({ peerHeight: () => head + 1 }))).verdict).to.equal("ignore");
      expect((await txVerdictOf(badSig, forged.encoded, peer, ctx({ peerHeight: () => head - FORGED_TX_WINDOW_BLOCKS - 1 }))).verdict).to.equal("ignore");
      expect((await txVerdictOf(badSig, forged.encoded, peer, ctx({}, { updatedHeight: head - FORGED_TX_WINDOW_BLOCKS + 1 }))).verdict).to.equal("ignore");
      expect((await txVerdictOf(badSig, forged.encoded, peer, ctx({ hasPending: () => true }))).verdict).to.equal("ignore");
      expect((await txVerdictOf(badSig, forged.encoded, peer, ctx({ committedDid: async () => undefined }))).verdict).to.equal("ignore");
    });

    it("ignores it when the signature verifies against the committed key (it failed against a pending one)", async () => {
      const genuine = updateTx(writeParams(alice, 1, 1), alice.doc);
      expect((await txVerdictOf(badSig, genuine.encoded, peer, ctx())).verdict).to.equal("ignore");
    });

    it("rejects stateless refusals and a create's bad signature; ignores other state refusals", async () => {
      const create = createTx(testDid(fixedKey(11)));
      expect((await txVerdictOf(badSig, create.encoded, peer, ctx()))).to.deep.include({ verdict: "reject", penalty: Penalty.INVALID_MESSAGE });
      expect((await txVerdictOf(new ChainError(TxErrorCode.DECODE, "x"), forged.encoded, peer, ctx())).verdict).to.equal("reject");
      expect((await txVerdictOf(new ChainError(TxErrorCode.BAD_SEQUENCE, "x"), forged.encoded, peer, ctx())).verdict).to.equal("ignore");
    });
  });
});
