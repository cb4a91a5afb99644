/**
 * Batched tx gossip (channel 1) between real networks on 127.0.0.1 port 0:
 * txs reach every node once, in batch frames, refused txs stop where they
 * were refused, malformed batches cost the sender score, a departed peer's
 * queue goes with it, and a real mempool admits a signer's consecutive txs
 * from one batch.
 */
import { expect } from "chai";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CanonicalValue } from "../../../src/chain/codec.js";
import { SignatureVerifier } from "../../../src/chain/execute.js";
import { Mempool, defaultMempoolOptions } from "../../../src/chain/mempool.js";
import { TxPreverifier } from "../../../src/chain/preverify.js";
import { ChainStore } from "../../../src/chain/store.js";
import { MAX_ANY_TX_BYTES as MAX_TX_BYTES } from "../../../src/chain/tx.js";
import { addVerificationMethod } from "../../../src/did/document-edit.js";
import { P2pError, P2pErrorCode, P2P_CLOSE_CODES } from "../../../src/p2p/errors.js";
import { Channel, encodeFrame } from "../../../src/p2p/frames.js";
import type { P2pNetwork, PenaltyEvent } from "../../../src/p2p/network.js";
import type { P2pOptions } from "../../../src/p2p/options.js";
import type { PeerInfo } from "../../../src/p2p/peer.js";
import { MAX_TX_BATCH, MAX_TX_BATCH_BYTES, MAX_TX_BATCH_FRAME_BYTES, TxGossip, type TxFault, decodeTxBatch } from "../../../src/p2p/tx-gossip.js";
import { CHAIN_ID, createTx, deactivateTx, fixedKey, testDid, updateTx, writeParams } from "../../helpers/fixtures.js";
import { GENESIS_HASH, RawPeer, connect, eventually, nextEvent, startNetwork } from "../../helpers/p2p.js";

/** A distinct tx-shaped byte string: `n` in the first four bytes. */
function tx(n: number, size = 16): Uint8Array {
  const b = new Uint8Array(size).fill(0xab);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}
const numberOf = (t: Uint8Array) => new DataView(t.buffer, t.byteOffset, t.byteLength).getUint32(0);
const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");

interface GossipNode {
  net: P2pNetwork;
  gossip: TxGossip;
  /** Every tx the gossip asked this node to admit, in order (hex). */
  calls: string[];
}

/** Ref'd timers: what keeps the process alive. */
const refTimers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout" || r === "Immediate").length;

describe("p2p/tx-gossip", function () {
  this.timeout(30_000);
  const running: P2pNetwork[] = [];
  const gossips: TxGossip[] = [];
  const raws: RawPeer[] = [];
  afterEach(async () => {
    for (const g of gossips.splice(0)) g.close();
    for (const r of raws.splice(0)) r.ws.terminate();
    await Promise.all(running.splice(0).map((n) => n.stop()));
  });

  /** A network with tx gossip whose admission records each call and accepts what `accept` accepts. */
  async function gossipNode(opts: Partial<P2pOptions> = {}, accept: (t: Uint8Array) => boolean | TxFault = () => true): Promise<GossipNode> {
    const { net } = await startNetwork(opts);
    running.push(net);
    const calls: string[] = [];
    const gossip = new TxGossip(net, {
      admit: async (t) => {
        calls.push(hexOf(t));
        return accept(t);
      },
    });
    gossips.push(gossip);
    return { net, gossip, calls };
  }

  /** Wait until every frame sent has arrived and no node has txs queued or admissions in flight: nothing more will move. */
  async function settled(nodes: GossipNode[]): Promise<void> {
    const sum = (f: (n: GossipNode) => number) => nodes.reduce((s, n) => s + f(n), 0);
    await eventually(() => nodes.every((n) => n.gossip.idle) && sum((n) => n.net.counters.framesOut) === sum((n) => n.net.counters.framesIn), "gossip to settle");
  }

  describe("wire form", () => {
    it("a batch is an array of byte strings in the frame envelope (vector)", () => {
      expect(hexOf(encodeFrame(Channel.Tx, [Uint8Array.of(1, 2), Uint8Array.of(3)]))).to.equal("a2616d824201024103626368" + "01");
      expect(decodeTxBatch([Uint8Array.of(1, 2), Uint8Array.of(3)]).map(hexOf)).to.deep.equal(["0102", "03"]);
    });

    it("a batch at both bounds (MAX_TX_BATCH txs, MAX_TX_BATCH_BYTES in all) decodes and fits MAX_TX_BATCH_FRAME_BYTES", () => {
      const each = Math.floor(MAX_TX_BATCH_BYTES / MAX_TX_BATCH);
      const full = Array.from({ length: MAX_TX_BATCH }, (_, i) => tx(i, each));
      expect(decodeTxBatch(full)).to.have.length(MAX_TX_BATCH);
      expect(encodeFrame(Channel.Tx, full).length).to.be.at.most(MAX_TX_BATCH_FRAME_BYTES);
      // The largest txs: fewer of them, the same byte bound.
      const big = Array.from({ length: MAX_TX_BATCH_BYTES / MAX_TX_BYTES }, (_, i) => tx(i, MAX_TX_BYTES));
      expect(decodeTxBatch(big)).to.have.length(MAX_TX_BATCH_BYTES / MAX_TX_BYTES);
      expect(encodeFrame(Channel.Tx, big).length).to.be.at.most(MAX_TX_BATCH_FRAME_BYTES);
    });

    it("decoding any value gives a well-formed batch or throws P2P_INVALID_MESSAGE, nothing else", () => {
      const element = fc.oneof(
        fc.uint8Array({ minLength: 0, maxLength: 40 }),
        fc.constant(new Uint8Array(MAX_TX_BYTES + 1)),
        fc.integer(),
        fc.string({ maxLength: 4 }),
        fc.constant(null),
        fc.array(fc.uint8Array({ maxLength: 4 }), { maxLength: 2 }),
      ) as fc.Arbitrary<CanonicalValue>;
      const value = fc.oneof(
        fc.array(element, { maxLength: 6 }),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 2 }), { minLength: MAX_TX_BATCH - 1, maxLength: MAX_TX_BATCH + 2 }),
        element,
        fc.dictionary(fc.string({ maxLength: 3 }), element, { maxKeys: 2 }),
      ) as fc.Arbitrary<CanonicalValue>;
      let ok = 0;
      fc.assert(
        fc.property(value, (v) => {
          let batch: Uint8Array[];
          try {
            batch = decodeTxBatch(v);
          } catch (e) {
            expect(e).to.be.instanceOf(P2pError);
            expect((e as P2pError).code).to.equal(P2pErrorCode.INVALID_MESSAGE);
            return;
          }
          ok++;
          expect(batch.length).to.be.within(1, MAX_TX_BATCH);
          for (const t of batch) expect(t.length).to.be.within(1, MAX_TX_BYTES);
        }),
        { numRuns: 500, seed: 20260301 },
      );
      expect(ok, "some generated values are valid batches").to.be.greaterThan(0);
    });
  });

  describe("spreading txs", () => {
    it("txs submitted on one node reach each other node's admission exactly once, in far fewer frames than txs", async () => {
      const [a, b, c] = [await gossipNode(), await gossipNode(), await gossipNode()];
      await connect(a.net, b.net);
      await connect(b.net, c.net);
      await connect(c.net, a.net);
      const txs = Array.from({ length: 200 }, (_, i) => tx(i));
      for (const t of txs) expect(a.gossip.submit(t)).to.equal(2);
      // Submitting one again queues it for nobody: both peers are known to have it.
      expect(a.gossip.submit(txs[0]!)).to.equal(0);
      await settled([a, b, c]);
      const want = txs.map(hexOf);
      // b and c hear each tx from a and may hear it again from each other: admitted once all the same, in a's order.
      expect(b.calls).to.deep.equal(want);
      expect(c.calls).to.deep.equal(want);
      expect(a.calls, "copies that come back to the origin are not admitted").to.deep.equal([]);
      expect(a.gossip.counters.duplicatesIn).to.equal(a.gossip.counters.txsIn);
      // Submitted in one turn: one frame to each peer.
      expect(a.net.counters.framesOut).to.equal(2);
      expect(a.gossip.counters).to.include({ batchesOut: 2, txsOut: 400, txsDropped: 0 });
      const framesIn = a.net.counters.framesIn + b.net.counters.framesIn + c.net.counters.framesIn;
      expect(framesIn).to.be.below(txs.length / 10);
      for (const n of [b, c]) expect(n.gossip.counters.admitted).to.equal(txs.length);
    });

    it("a lone tx goes out after the flush delay, without waiting for a batch to fill", async () => {
      const a = await gossipNode();
      const b = await gossipNode();
      await connect(a.net, b.net);
      expect(a.gossip.submit(tx(1))).to.equal(1);
      expect(a.gossip.queuedFor(b.net.nodeId)).to.equal(1);
      expect(a.gossip.flushPending).to.equal(true);
      await eventually(() => b.calls.length === 1, "the tx at b");
      expect(b.calls).to.deep.equal([hexOf(tx(1))]);
      expect(a.gossip.counters).to.include({ batchesOut: 1, txsOut: 1 });
      expect(a.gossip.queuedFor(b.net.nodeId)).to.equal(0);
    });

    it("with txFlushDelayMs 0 a lone tx goes out at the end of the turn", async () => {
      const a = await gossipNode({ txFlushDelayMs: 0 });
      const b = await gossipNode();
      await connect(a.net, b.net);
      a.gossip.submit(tx(1));
      a.gossip.submit(tx(2));
      expect(a.gossip.counters.batchesOut, "nothing sent within the turn").to.equal(0);
      await eventually(() => b.calls.length === 2, "the txs at b");
      expect(a.gossip.counters).to.include({ batchesOut: 1, txsOut: 2 });
    });

    it("a full batch goes out at once, whether full by count or by bytes", async () => {
      const a = await gossipNode({ txFlushDelayMs: 10_000 });
      const b = await gossipNode();
      await connect(a.net, b.net);
      for (let i = 0; i < MAX_TX_BATCH; i++) a.gossip.submit(tx(i));
      expect(a.gossip.counters.batchesOut, "flushed by count within the turn").to.equal(1);
      expect(a.gossip.queuedFor(b.net.nodeId)).to.equal(0);
      const bigCount = MAX_TX_BATCH_BYTES / MAX_TX_BYTES;
      for (let i = 0; i <= bigCount; i++) a.gossip.submit(tx(1_000 + i, MAX_TX_BYTES));
      expect(a.gossip.counters.batchesOut, "flushed by bytes within the turn").to.equal(2);
      expect(a.gossip.queuedFor(b.net.nodeId)).to.equal(1);
      await eventually(() => b.calls.length === MAX_TX_BATCH + bigCount, "both full batches at b");
      expect(b.gossip.counters.batchesIn).to.equal(2);
      expect(b.net.peer(a.net.nodeId)!.score, "full frames are within the channel's bound").to.equal(0);
    });

    it("a tx still queued for a peer leaves the queue when that peer sends it to us first", async () => {
      const a = await gossipNode({ txFlushDelayMs: 10_000 });
      const b = await gossipNode();
      await connect(a.net, b.net);
      a.gossip.submit(tx(1));
      a.gossip.submit(tx(2));
      expect(a.gossip.queuedFor(b.net.nodeId)).to.equal(2);
      // b got tx 1 on its own (over RPC, say) and sends it within its short flush delay.
      b.gossip.submit(tx(1));
      await eventually(() => a.gossip.counters.duplicatesIn === 1, "b's copy at a");
      expect(a.gossip.queuedFor(b.net.nodeId)).to.equal(1);
      expect(a.gossip.counters.relaysSaved).to.equal(1);
      expect(a.calls, "a copy of a tx a submitted is not admitted").to.deep.equal([]);
      // What is left goes out in full batch at once; b is never offered tx 1 again.
      for (let i = 0; i < MAX_TX_BATCH - 1; i++) a.gossip.submit(tx(100 + i));
      await eventually(() => b.calls.length === MAX_TX_BATCH, "a's batch at b");
      expect(b.calls[0]).to.equal(hexOf(tx(2)));
      expect(b.calls).to.not.include(hexOf(tx(1)));
      expect(b.gossip.counters.duplicatesIn).to.equal(0);
    });

    it("a tx a node refuses is not relayed by it, and a copy of it is not admitted again", async () => {
      const a = await gossipNode();
      const b = await gossipNode({}, (t) => numberOf(t) !== 2);
      const c = await gossipNode();
      const d = await gossipNode();
      await connect(a.net, b.net);
      await connect(b.net, c.net);
      for (const n of [1, 2, 3]) a.gossip.submit(tx(n));
      await settled([a, b, c, d]);
      expect(b.calls).to.deep.equal([tx(1), tx(2), tx(3)].map(hexOf));
      expect(b.gossip.counters).to.include({ admitted: 2, refused: 1 });
      expect(c.calls).to.deep.equal([tx(1), tx(3)].map(hexOf));
      expect(b.net.peer(a.net.nodeId)!.score, "a refused tx costs its sender nothing").to.equal(0);
      // Another peer offers the refused tx: one hash lookup, no second admission.
      await connect(d.net, b.net);
      d.gossip.submit(tx(2));
      await settled([a, b, c, d]);
      expect(b.calls).to.have.length(3);
      expect(b.gossip.counters.duplicatesIn).to.equal(1);
      expect(c.calls).to.deep.equal([tx(1), tx(3)].map(hexOf));
    });
  });

  it("a tx refused as forged (a TxFault) costs its sender a penalty and is not relayed; repeats ban it", async () => {
    const a = await gossipNode();
    const b = await gossipNode({}, (t) => (numberOf(t) >= 100 ? { fault: "TX_BAD_SIGNATURE: forged" } : true));
    const c = await gossipNode();
    await connect(a.net, b.net);
    await connect(b.net, c.net);
    a.gossip.submit(tx(1));
    a.gossip.submit(tx(100));
    await settled([a, b, c]);
    expect(c.calls).to.deep.equal([tx(1)].map(hexOf));
    expect(b.gossip.counters).to.include({ admitted: 1, refused: 1 });
    expect(b.net.peer(a.net.nodeId)!.score).to.be.below(0);
    // Enough forged txs and the sender is dropped and banned.
    for (let i = 101; i < 110; i++) a.gossip.submit(tx(i));
    await eventually(() => b.net.isBanned(a.net.nodeId), "forger banned");
  });

  describe("malformed batches", () => {
    async function arena() {
      const b = await gossipNode();
      const bad = RawPeer.connect(b.net.listenPort);
      raws.push(bad);
      expect(await bad.handshaken).to.equal(true);
      await eventually(() => b.net.peers().length === 1, "raw peer listed");
      return { b, bad };
    }

    const bigTxs = (n: number) => Array.from({ length: n }, (_, i) => tx(i, MAX_TX_BYTES));
    const cases: [string, CanonicalValue][] = [
      ["one tx without the batch array (the unbatched form)", tx(1)],
      ["an empty batch", []],
      ["a batch with a non-bytes element", [tx(1), 5]],
      ["a batch with an empty tx", [tx(1), new Uint8Array(0)]],
      ["a batch with a tx over MAX_TX_BYTES", [tx(1, MAX_TX_BYTES + 1)]],
      ["a batch of more than MAX_TX_BATCH txs", Array.from({ length: MAX_TX_BATCH + 1 }, (_, i) => tx(i, 4))],
      ["a batch of more than MAX_TX_BATCH_BYTES in all", [...bigTxs(MAX_TX_BATCH_BYTES / MAX_TX_BYTES), tx(7, 4)]],
    ];
    for (const [what, m] of cases) {
      it(`${what}: the sender is penalised for an invalid message, nothing is admitted`, async () => {
        const { b, bad } = await arena();
        const penalised = nextEvent<[PenaltyEvent]>(b.net, "peerPenalized", (e) => e.peer.id === bad.nodeId);
        bad.sendFrame(Channel.Tx, m);
        const [ev] = await penalised;
        expect(ev).to.include({ offence: P2pErrorCode.INVALID_MESSAGE, banned: false });
        expect(ev.reason).to.match(/tx batch/);
        expect(b.calls).to.deep.equal([]);
        expect(b.gossip.counters.batchesIn).to.equal(0);
      });
    }

    it("a peer that keeps sending malformed batches is dropped and banned", async () => {
      const { b, bad } = await arena();
      const banned = nextEvent<[PenaltyEvent]>(b.net, "peerPenalized", (e) => e.peer.id === bad.nodeId && e.banned);
      // 25 points each against a ban at -100 that heals a little meanwhile: the fifth bans for sure.
      for (let i = 0; i < 5; i++) bad.sendFrame(Channel.Tx, [tx(i), i]);
      const [ev] = await banned;
      expect(ev.offence).to.equal(P2pErrorCode.INVALID_MESSAGE);
      expect((await bad.closed).code).to.equal(P2P_CLOSE_CODES[P2pErrorCode.MISBEHAVIOUR]);
      expect(b.net.isBanned(bad.nodeId)).to.equal(true);
      expect(b.calls).to.deep.equal([]);
    });

    it("a batch frame above the channel's bound: dropped and banned at once", async () => {
      const { b, bad } = await arena();
      const banned = nextEvent<[PenaltyEvent]>(b.net, "peerPenalized", (e) => e.peer.id === bad.nodeId && e.banned);
      bad.sendFrame(Channel.Tx, bigTxs(MAX_TX_BATCH_BYTES / MAX_TX_BYTES + 1));
      const [ev] = await banned;
      expect(ev.offence).to.equal(P2pErrorCode.FRAME_TOO_LARGE);
      await bad.closed;
      expect(b.calls).to.deep.equal([]);
    });
  });

  describe("peers coming and going", () => {
    it("a peer that disconnects takes its queue along: nothing is sent to it after, and no timer is left behind", async () => {
      const a = await gossipNode({ txFlushDelayMs: 10_000 });
      const b = await gossipNode();
      await connect(a.net, b.net);
      const sentTo: string[] = [];
      const send = a.net.send.bind(a.net);
      a.net.send = ((peerId: string, ch: number, msg: unknown) => {
        sentTo.push(peerId);
        return send(peerId, ch, msg);
      }) as typeof a.net.send;

      const timers = refTimers();
      expect(a.gossip.submit(tx(1))).to.equal(1);
      expect(a.gossip.flushPending).to.equal(true);
      expect(refTimers(), "the flush timer does not keep the process alive").to.equal(timers);
      expect(a.gossip.queuedFor(b.net.nodeId)).to.equal(1);

      const gone = nextEvent<[PeerInfo]>(a.net, "peerDisconnected", (p) => p.id === b.net.nodeId);
      await b.net.stop();
      await gone;
      expect(a.gossip.queuedFor(b.net.nodeId)).to.equal(undefined);
      expect(a.gossip.flushPending, "no flush left for an empty queue").to.equal(false);
      expect(a.gossip.counters.txsDropped).to.equal(1);

      // A new peer gets a full batch at once; the departed one is never sent anything.
      const c = await gossipNode();
      await connect(a.net, c.net);
      for (let i = 0; i < MAX_TX_BATCH; i++) a.gossip.submit(tx(100 + i));
      await eventually(() => c.calls.length === MAX_TX_BATCH, "the batch at c");
      expect(sentTo).to.deep.equal([c.net.nodeId]);
      expect(c.calls).to.not.include(hexOf(tx(1)));
    });

    it("close() drops every queue and its timer, and stops relaying", async () => {
      const a = await gossipNode({ txFlushDelayMs: 10_000 });
      const b = await gossipNode();
      await connect(a.net, b.net);
      a.gossip.submit(tx(1));
      a.gossip.close();
      expect(a.gossip.flushPending).to.equal(false);
      expect(a.gossip.queuedFor(b.net.nodeId)).to.equal(undefined);
      expect(a.gossip.submit(tx(2))).to.equal(0);
      expect(a.gossip.counters).to.include({ txsDropped: 1, batchesOut: 0 });
    });
  });

  describe("with a real mempool", () => {
    let dir: string | undefined;
    afterEach(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    });

    it("txs of one signer with consecutive sequences in one batch are all admitted, in batch order", async () => {
      dir = mkdtempSync(join(tmpdir(), "sid-tx-gossip-"));
      const store = await ChainStore.open(dir);
      const preverifier = new TxPreverifier(CHAIN_ID);
      try {
        await store.initGenesis(GENESIS_HASH, 1_767_225_600_000);
        const mempool = new Mempool(defaultMempoolOptions, {
          chainId: CHAIN_ID,
          verifier: new SignatureVerifier(),
          preverifier,
          loadState: (ids) => store.loadState(ids),
          isCommitted: async (h) => (await store.getTxLocation(h)) !== undefined,
          nextBlock: () => ({ height: store.head().height + 1, time: store.head().time + 1_000 }),
        });
        const a = await gossipNode();
        const { net } = await startNetwork();
        running.push(net);
        const refusals: string[] = [];
        const gossip = new TxGossip(net, {
          admit: async (t) => {
            try {
              await mempool.add(t);
              return true;
            } catch (e) {
              refusals.push(`${(e as { code?: string }).code}: ${(e as Error).message}`);
              return false;
            }
          },
        });
        gossips.push(gossip);
        await connect(a.net, net);
        // Three signers, three txs each (create, update at seq 1, deactivate at seq 2), interleaved.
        const signers = [0x31, 0x32, 0x33].map((k) => testDid(fixedKey(k)));
        const creates = signers.map((d) => createTx(d));
        const updates = signers.map((d) => updateTx(writeParams(d, 1, 1), addVerificationMethod(d.doc, fixedKey(0x41).publicKey, "key-2", ["authentication"])));
        const deactivates = signers.map((d) => deactivateTx(writeParams(d, 2, 2)));
        const txs = [...creates, ...updates, ...deactivates];
        for (const c of txs) a.gossip.submit(c.encoded);
        await eventually(() => gossip.counters.admitted + gossip.counters.refused === txs.length, "every tx admitted or refused");
        expect(refusals).to.deep.equal([]);
        expect(gossip.counters.batchesIn, "the txs came in one batch").to.equal(1);
        expect(mempool.reap(100, 1 << 20).map((c) => hexOf(c.hash))).to.deep.equal(txs.map((c) => hexOf(c.hash)));
      } finally {
        await preverifier.close();
        await store.close();
      }
    });
  });
});
