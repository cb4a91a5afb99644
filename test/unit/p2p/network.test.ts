/**
 * The p2p network over real WebSockets on 127.0.0.1 (port 0): handshake
 * and its refusals, gossip with dedupe, bounds, scoring and bans, and
 * persistent peers.
 */
import { expect } from "chai";
import { connect as connectTcp } from "node:net";
import type { CanonicalValue } from "../../../src/chain/codec.js";
import { signDigest } from "../../../src/crypto/secp256k1.js";
import { P2pError, P2pErrorCode, P2P_CLOSE_CODES } from "../../../src/p2p/errors.js";
import { Channel } from "../../../src/p2p/frames.js";
import { handshakeDigest } from "../../../src/p2p/handshake.js";
import type { P2pNetwork, PenaltyEvent } from "../../../src/p2p/network.js";
import type { P2pOptions } from "../../../src/p2p/options.js";
import type { PeerInfo } from "../../../src/p2p/peer.js";
import { CHAIN_ID } from "../../helpers/fixtures.js";
import { GENESIS_HASH, RawPeer, type TxInbox, connect, eventually, freshNodeKey, nextEvent, registerTxChannel, startNetwork } from "../../helpers/p2p.js";

const tx = (n: number, size = 8) => new Uint8Array(size).fill(n & 0xff).map((b, i) => (i === 0 ? n >> 8 : b));
const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");

async function expectP2pError(p: Promise<unknown>, code: P2pErrorCode): Promise<P2pError> {
  let thrown: unknown;
  try {
    await p;
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected P2pError ${code}`).to.be.instanceOf(P2pError);
  expect((thrown as P2pError).code, (thrown as Error).message).to.equal(code);
  return thrown as P2pError;
}

describe("p2p/network", function () {
  this.timeout(20_000);
  const running: P2pNetwork[] = [];
  const raws: RawPeer[] = [];
  afterEach(async () => {
    for (const r of raws.splice(0)) r.ws.terminate();
    await Promise.all(running.splice(0).map((n) => n.stop()));
  });

  async function node(opts: Partial<P2pOptions> = {}, over: Parameters<typeof startNetwork>[1] = {}) {
    const r = await startNetwork(opts, over);
    running.push(r.net);
    return r;
  }

  function raw(net: P2pNetwork, opts: Parameters<typeof RawPeer.connect>[1] = {}): RawPeer {
    const r = RawPeer.connect(net.listenPort, opts);
    raws.push(r);
    return r;
  }

  describe("connect and gossip", () => {
    it("two networks complete the handshake and list each other with direction, address and score", async () => {
      const a = await node();
      const b = await node();
      const info = await connect(a.net, b.net);
      expect(info).to.include({ id: b.net.nodeId, address: b.address, direction: "outbound", score: 0 });
      const [ofA] = b.net.peers();
      expect(ofA).to.include({ id: a.net.nodeId, direction: "inbound", listenAddress: a.address, score: 0 });
      expect(a.net.peers().map((p) => p.id)).to.deep.equal([b.net.nodeId]);
    });

    it("a tx crosses a line of three networks: each handler sees it once, relayed once, never sent back", async () => {
      const [a, b, c] = [await node(), await node(), await node()];
      const [ia, ib, ic] = [registerTxChannel(a.net), registerTxChannel(b.net), registerTxChannel(c.net)];
      await connect(a.net, b.net);
      await connect(c.net, b.net);
      expect(a.net.broadcast(Channel.Tx, tx(1))).to.equal(1);
      await eventually(() => ic.received.length === 1, "tx at the far end");
      // A second tx is a barrier: frames on each link arrive in order, so copies of the first would be here by now.
      a.net.broadcast(Channel.Tx, tx(2));
      await eventually(() => ic.received.length === 2, "barrier tx");
      expect(ia.received).to.deep.equal([]);
      expect(ib.received.map((r) => r.tx)).to.deep.equal([hexOf(tx(1)), hexOf(tx(2))]);
      expect(ib.received[0]!.from).to.equal(a.net.nodeId);
      expect(ic.received[0]).to.deep.equal({ from: b.net.nodeId, tx: hexOf(tx(1)) });
      expect(b.net.counters.relayed).to.equal(2);
      expect(c.net.counters.relayed).to.equal(0);
      expect(a.net.counters.framesIn, "nothing comes back to the origin").to.equal(0);
      for (const n of [a, b, c]) expect(n.net.counters.duplicatesDropped).to.equal(0);
    });

    it("in a triangle each network handles a tx once; copies are dropped and none returns to the origin", async () => {
      const [a, b, c] = [await node(), await node(), await node()];
      const [ia, ib, ic] = [registerTxChannel(a.net), registerTxChannel(b.net), registerTxChannel(c.net)];
      await connect(a.net, b.net);
      await connect(b.net, c.net);
      await connect(c.net, a.net);
      expect(a.net.broadcast(Channel.Tx, tx(7))).to.equal(2);
      // Broadcasting the same message again sends it to nobody: every peer has it.
      expect(a.net.broadcast(Channel.Tx, tx(7))).to.equal(0);
      await eventually(() => ib.received.length === 1 && ic.received.length === 1, "tx at b and c");
      a.net.broadcast(Channel.Tx, tx(8));
      await eventually(() => ib.received.length === 2 && ic.received.length === 2, "barrier tx");
      await eventually(() => b.net.counters.framesIn + c.net.counters.framesIn === 4 + b.net.counters.relayed + c.net.counters.relayed, "relayed copies arrive");
      expect(ia.received).to.deep.equal([]);
      expect(ib.received.map((r) => r.tx)).to.deep.equal([hexOf(tx(7)), hexOf(tx(8))]);
      expect(ic.received.map((r) => r.tx)).to.deep.equal([hexOf(tx(7)), hexOf(tx(8))]);
      expect(a.net.counters.framesIn, "nothing comes back to the origin").to.equal(0);
      // b and c may each relay to the other (neither knows the other has it); at most once per message and peer.
      const relayed = b.net.counters.relayed + c.net.counters.relayed;
      expect(relayed).to.be.at.most(4);
      expect(b.net.counters.duplicatesDropped + c.net.counters.duplicatesDropped).to.equal(relayed);
    });

    it("a handler that refuses a tx (returns false) stops its relay", async () => {
      const [a, b, c] = [await node(), await node(), await node()];
      registerTxChannel(a.net);
      const ib = registerTxChannel(b.net, (t) => t[1] !== 0xbb);
      const ic = registerTxChannel(c.net);
      await connect(a.net, b.net);
      await connect(b.net, c.net);
      a.net.broadcast(Channel.Tx, tx(0xbb));
      a.net.broadcast(Channel.Tx, tx(0x11));
      await eventually(() => ic.received.length === 1, "the accepted tx at c");
      expect(ib.received).to.have.length(2);
      expect(ic.received.map((r) => r.tx)).to.deep.equal([hexOf(tx(0x11))]);
    });

    it("a manual-gossip channel drops copies and lets its driver relay to the peers that lack a message", async () => {
      const [a, b, c] = [await node(), await node(), await node()];
      const handled: Record<string, string[]> = { a: [], b: [], c: [] };
      const channel = (name: string, net: P2pNetwork, relay: boolean) =>
        net.registerChannel<CanonicalValue>(Channel.Consensus, {
          decode: (m) => m,
          onMessage: (_peer, msg) => {
            handled[name]!.push(JSON.stringify(msg));
            // the consensus driver relays what it accepted; no `except`: the sender is known to have it
            if (relay) expect(net.broadcast(Channel.Consensus, msg)).to.equal(1);
          },
          gossip: "manual",
        });
      channel("a", a.net, false);
      channel("b", b.net, true);
      channel("c", c.net, false);
      await connect(a.net, b.net);
      await connect(b.net, c.net);
      const vote = { type: "vote", height: 3 };
      expect(a.net.broadcast(Channel.Consensus, vote)).to.equal(1);
      // the same message again: a knows b has it
      expect(a.net.broadcast(Channel.Consensus, vote)).to.equal(0);
      // a raw copy from another peer of b is dropped before its handler
      await eventually(() => handled.c!.length === 1, "vote relayed to c");
      const r = raw(b.net);
      expect(await r.handshaken).to.equal(true);
      r.sendFrame(Channel.Consensus, vote);
      await eventually(() => b.net.counters.duplicatesDropped === 1, "copy dropped at b");
      expect(handled).to.deep.equal({ a: [], b: [JSON.stringify(vote)], c: [JSON.stringify(vote)] });
      expect(c.net.counters.relayed + a.net.counters.relayed).to.equal(0);
    });

    it("send() reaches one peer; unknown peers and unregistered channels are refused", async () => {
      const [a, b, c] = [await node(), await node(), await node()];
      registerTxChannel(a.net);
      const ib = registerTxChannel(b.net);
      const ic = registerTxChannel(c.net);
      await connect(a.net, b.net);
      await connect(a.net, c.net);
      expect(a.net.send(c.net.nodeId, Channel.Tx, tx(3))).to.equal(true);
      expect(a.net.send("00".repeat(20), Channel.Tx, tx(3))).to.equal(false);
      expect(() => a.net.send(b.net.nodeId, Channel.Evidence, tx(3))).to.throw(P2pError).with.property("code", P2pErrorCode.CHANNEL_NOT_REGISTERED);
      await eventually(() => ic.received.length === 1, "tx at c");
      // c relays it to its other peers: it has none but a, which has it
      expect(ib.received).to.deep.equal([]);
    });
  });

  describe("handshake refusals", () => {
    it("refuses a peer on another chain id, and the dialler learns why", async () => {
      const a = await node({}, { chainId: "sid-other" });
      const b = await node();
      const err = await expectP2pError(a.net.dial(b.address), P2pErrorCode.WRONG_CHAIN);
      expect(err.message).to.match(/sid-other|sid-test/);
      const r = raw(b.net, { chainId: "sid-other" });
      expect(await r.closed).to.deep.include({ code: P2P_CLOSE_CODES[P2pErrorCode.WRONG_CHAIN] });
      expect((await r.closed).reason).to.match(/^P2P_WRONG_CHAIN: /);
      expect(b.net.peers()).to.deep.equal([]);
    });

    it("refuses a peer with another genesis hash", async () => {
      const b = await node();
      const r = raw(b.net, { genesisHash: new Uint8Array(32).fill(0x12) });
      const closed = await r.closed;
      expect(closed.code).to.equal(P2P_CLOSE_CODES[P2pErrorCode.WRONG_GENESIS]);
      expect(closed.reason).to.match(/^P2P_WRONG_GENESIS/);
      expect(await r.handshaken).to.equal(false);
      const a = await node({}, { genesisHash: new Uint8Array(32).fill(0x13) });
      await expectP2pError(a.net.dial(b.address), P2pErrorCode.WRONG_GENESIS);
    });

    it("refuses a forged handshake signature (signed by another key)", async () => {
      const b = await node();
      const other = freshNodeKey();
      const r = raw(b.net, {
        tamper: (m) => (m.type === "auth" ? { type: "auth", sig: signDigest(handshakeDigest(CHAIN_ID, GENESIS_HASH, new Uint8Array(32), new Uint8Array(32), other.publicKey), other.secretKey) } : m),
      });
      const closed = await r.closed;
      expect(closed.code).to.equal(P2P_CLOSE_CODES[P2pErrorCode.BAD_SIGNATURE]);
      expect(closed.reason).to.match(/^P2P_BAD_SIGNATURE/);
      expect(b.net.peers()).to.deep.equal([]);
    });

    it("refuses a node id that is not the hash of the presented key", async () => {
      const b = await node();
      const r = raw(b.net, { tamper: (m) => (m.type === "hello" ? { ...m, nodeId: freshNodeKey().nodeId } : m) });
      expect((await r.closed).code).to.equal(P2P_CLOSE_CODES[P2pErrorCode.NODE_ID_MISMATCH]);
    });

    it("refuses a connection to itself", async () => {
      const a = await node();
      await expectP2pError(a.net.dial(a.address), P2pErrorCode.SELF_CONNECTION);
      await expectP2pError(a.net.dial(`${a.net.nodeId}@${a.address}`), P2pErrorCode.SELF_CONNECTION);
      expect(a.net.peers()).to.deep.equal([]);
    });

    it("refuses a second connection from a peer already connected, and keeps the first", async () => {
      const a = await node();
      const b = await node();
      await connect(a.net, b.net);
      const before = b.net.peers()[0]!;
      await expectP2pError(a.net.dial(b.address), P2pErrorCode.DUPLICATE_PEER);
      await expectP2pError(a.net.dial(`${b.net.nodeId}@${b.address}`), P2pErrorCode.DUPLICATE_PEER);
      // The same key from another socket (a raw peer holding a's node key): refused by b.
      const r = raw(b.net, { nodeKey: a.net.local.nodeKey });
      const closed = await r.closed;
      expect(closed.code).to.equal(P2P_CLOSE_CODES[P2pErrorCode.DUPLICATE_PEER]);
      expect(closed.reason).to.match(/^P2P_DUPLICATE_PEER/);
      expect(b.net.peers()).to.deep.equal([before]);
    });

    it("a peer admitted but gone before its ready can connect again (the admission is released)", async () => {
      const b = await node();
      const key = freshNodeKey();
      const quitter = raw(b.net, { nodeKey: key, withholdReady: true });
      await quitter.closed;
      expect(b.net.peers()).to.deep.equal([]);
      const again = raw(b.net, { nodeKey: key });
      expect(await again.handshaken).to.equal(true);
      await eventually(() => b.net.peers().some((p) => p.id === key.nodeId), "the peer listed");
    });

    it("two networks that dial each other at once end with exactly one connection", async () => {
      const a = await node();
      const b = await node();
      const results = await Promise.allSettled([a.net.dial(b.address), b.net.dial(a.address)]);
      expect(results.filter((r) => r.status === "fulfilled").length).to.be.at.least(1);
      await eventually(() => a.net.peers().length === 1 && b.net.peers().length === 1, "one connection each");
      const [pa, pb] = [a.net.peers()[0]!, b.net.peers()[0]!];
      expect(pa.direction).to.not.equal(pb.direction);
      expect(pa.id).to.equal(b.net.nodeId);
    });

    it("refuses a peer other than the node id named in the address", async () => {
      const a = await node();
      const b = await node();
      await expectP2pError(a.net.dial(`${freshNodeKey().nodeId}@${b.address}`), P2pErrorCode.UNEXPECTED_NODE_ID);
      const info = await a.net.dial(`${b.net.nodeId}@${b.address}`);
      expect(info.id).to.equal(b.net.nodeId);
    });

    it("closes a connection that does not complete the handshake in time", async () => {
      const b = await node({ handshakeTimeoutMs: 150 });
      const r = raw(b.net, { silent: true });
      const closed = await r.closed;
      expect(closed.code).to.equal(P2P_CLOSE_CODES[P2pErrorCode.HANDSHAKE_TIMEOUT]);
      expect(closed.reason).to.match(/^P2P_HANDSHAKE_TIMEOUT/);
    });

    it("accepts nothing but handshake frames before the handshake completes", async () => {
      const b = await node();
      registerTxChannel(b.net);
      const r = raw(b.net, { silent: true });
      await nextEvent(r.ws, "open");
      r.sendFrame(Channel.Tx, tx(1));
      const closed = await r.closed;
      expect(closed.code).to.equal(P2P_CLOSE_CODES[P2pErrorCode.HANDSHAKE_FAILED]);
      expect(closed.reason).to.match(/channel 1 before the handshake/);
    });

    it("closes a socket that never asks for the WebSocket upgrade, and answers plain HTTP with 426", async () => {
      const b = await node({ handshakeTimeoutMs: 150 });
      const sock = connectTcp(b.net.listenPort);
      await new Promise((resolve) => sock.once("close", resolve));
      const res = await fetch(`http://${b.address}/`);
      expect(res.status).to.equal(426);
    });

    it("refuses inbound peers beyond maxInboundPeers", async () => {
      const b = await node({ maxInboundPeers: 1 });
      const a = await node();
      const c = await node();
      await connect(a.net, b.net);
      await expectP2pError(c.net.dial(b.address), P2pErrorCode.TOO_MANY_PEERS);
      expect(b.net.peers().map((p) => p.id)).to.deep.equal([a.net.nodeId]);
    });
  });

  describe("misbehaving peers", () => {
    /** b serves; good is an honest peer of b; bad is a raw peer that completed the handshake with b. */
    async function arena(opts: Partial<P2pOptions> = {}) {
      const b = await node(opts);
      const good = await node();
      const inboxB = registerTxChannel(b.net);
      const inboxGood = registerTxChannel(good.net);
      await connect(good.net, b.net);
      const bad = raw(b.net);
      expect(await bad.handshaken).to.equal(true);
      await eventually(() => b.net.peers().length === 2, "bad peer listed");
      return { b, good, bad, inboxB, inboxGood };
    }

    async function expectDroppedAndBanned(
      ctx: { b: { net: P2pNetwork; address: string }; good: { net: P2pNetwork }; bad: RawPeer; inboxB: TxInbox; inboxGood: TxInbox },
      banned: Promise<[PenaltyEvent]>,
      offence: P2pErrorCode,
    ) {
      const [ev] = await banned;
      expect(ev.offence).to.equal(offence);
      expect(ev.score).to.be.at.most(-100);
      await ctx.bad.closed;
      expect(ctx.b.net.isBanned(ctx.bad.nodeId)).to.equal(true);
      expect(ctx.b.net.peers().map((p) => p.id)).to.deep.equal([ctx.good.net.nodeId]);
      // The banned key cannot come back.
      const again = raw(ctx.b.net, { nodeKey: ctx.bad.nodeKey });
      const closed = await again.closed;
      expect(closed.code).to.equal(P2P_CLOSE_CODES[P2pErrorCode.BANNED]);
      // The honest peer keeps exchanging messages both ways.
      const n = ctx.inboxB.received.length;
      ctx.good.net.broadcast(Channel.Tx, tx(0x4242));
      await eventually(() => ctx.inboxB.received.length === n + 1, "good -> b");
      ctx.b.net.broadcast(Channel.Tx, tx(0x4343));
      await eventually(() => ctx.inboxGood.received.some((r) => r.tx === hexOf(tx(0x4343))), "b -> good");
    }

    const bannedEvent = (net: P2pNetwork, id: string) => nextEvent<[PenaltyEvent]>(net, "peerPenalized", (e) => e.peer.id === id && e.banned);

    it("garbage binary (not CBOR)", async () => {
      const ctx = await arena();
      const banned = bannedEvent(ctx.b.net, ctx.bad.nodeId);
      ctx.bad.sendBytes(Uint8Array.of(0xff, 0x00, 0x13, 0x37, 0xde, 0xad));
      await expectDroppedAndBanned(ctx, banned, P2pErrorCode.MALFORMED_FRAME);
      expect((await ctx.bad.closed).code).to.equal(P2P_CLOSE_CODES[P2pErrorCode.MISBEHAVIOUR]);
    });

    it("CBOR that is not canonical (envelope keys out of order)", async () => {
      const ctx = await arena();
      const banned = bannedEvent(ctx.b.net, ctx.bad.nodeId);
      // {"ch": 1, "m": h'00'}: canonical order puts "m" (shorter) first
      ctx.bad.sendBytes(Uint8Array.of(0xa2, 0x62, 0x63, 0x68, 0x01, 0x61, 0x6d, 0x41, 0x00));
      await expectDroppedAndBanned(ctx, banned, P2pErrorCode.MALFORMED_FRAME);
    });

    it("a text frame", async () => {
      const ctx = await arena();
      const banned = bannedEvent(ctx.b.net, ctx.bad.nodeId);
      ctx.bad.sendBytes("hello", false);
      await expectDroppedAndBanned(ctx, banned, P2pErrorCode.MALFORMED_FRAME);
    });

    it("a frame above maxFrameBytes", async () => {
      const ctx = await arena({ maxFrameBytes: 64 * 1024, sendQueueMaxBytes: 64 * 1024, rateBytesBurst: 64 * 1024 });
      const banned = bannedEvent(ctx.b.net, ctx.bad.nodeId);
      ctx.bad.sendBytes(new Uint8Array(100 * 1024));
      await expectDroppedAndBanned(ctx, banned, P2pErrorCode.FRAME_TOO_LARGE);
    });

    it("a frame above its channel's bound", async () => {
      const ctx = await arena();
      const banned = bannedEvent(ctx.b.net, ctx.bad.nodeId);
      ctx.bad.sendFrame(Channel.Tx, new Uint8Array(50 * 1024));
      await expectDroppedAndBanned(ctx, banned, P2pErrorCode.FRAME_TOO_LARGE);
      expect(ctx.inboxB.received.every((r) => r.from !== ctx.bad.nodeId)).to.equal(true);
    });

    it("unknown channels: one costs score, a few more get the peer banned", async () => {
      const ctx = await arena();
      const first = nextEvent<[PenaltyEvent]>(ctx.b.net, "peerPenalized", (e) => e.peer.id === ctx.bad.nodeId);
      ctx.bad.sendFrame(9, "hi");
      const [ev] = await first;
      expect(ev).to.include({ offence: P2pErrorCode.UNKNOWN_CHANNEL, banned: false });
      expect(ctx.b.net.peer(ctx.bad.nodeId)!.score).to.be.below(0);
      const banned = bannedEvent(ctx.b.net, ctx.bad.nodeId);
      for (let i = 0; i < 5; i++) ctx.bad.sendFrame(9, "hi");
      await expectDroppedAndBanned(ctx, banned, P2pErrorCode.UNKNOWN_CHANNEL);
    });

    it("messages its channel's decoder refuses", async () => {
      const ctx = await arena();
      const banned = bannedEvent(ctx.b.net, ctx.bad.nodeId);
      for (let i = 0; i < 5; i++) ctx.bad.sendFrame(Channel.Tx, { not: "a tx", i });
      await expectDroppedAndBanned(ctx, banned, P2pErrorCode.INVALID_MESSAGE);
    });

    it("a flood above the message rate", async () => {
      const ctx = await arena({ rateMessagesPerSec: 20, rateMessagesBurst: 20 });
      const banned = bannedEvent(ctx.b.net, ctx.bad.nodeId);
      for (let i = 0; i < 100; i++) ctx.bad.sendFrame(Channel.Tx, tx(0x1000 + i));
      await expectDroppedAndBanned(ctx, banned, P2pErrorCode.RATE_LIMITED);
      // Only what fit in the bucket was handled.
      expect(ctx.inboxB.received.filter((r) => r.from === ctx.bad.nodeId).length).to.be.at.most(20);
    });

    it("a ping flood above the message rate", async () => {
      const ctx = await arena({ rateMessagesPerSec: 20, rateMessagesBurst: 20 });
      const banned = bannedEvent(ctx.b.net, ctx.bad.nodeId);
      for (let i = 0; i < 100; i++) ctx.bad.ws.ping();
      await expectDroppedAndBanned(ctx, banned, P2pErrorCode.RATE_LIMITED);
    });

    it("with banLoopbackAddresses the address is banned too: a fresh key from it is refused before any handshake", async () => {
      const ctx = await arena({ banLoopbackAddresses: true });
      const banned = bannedEvent(ctx.b.net, ctx.bad.nodeId);
      ctx.bad.sendBytes(Uint8Array.of(0xff));
      await banned;
      const other = raw(ctx.b.net); // new node key, same 127.0.0.1
      const closed = await other.closed;
      expect(closed.code).to.equal(P2P_CLOSE_CODES[P2pErrorCode.BANNED]);
      expect(closed.reason).to.match(/127\.0\.0\.1 is banned/);
      expect(await other.handshaken).to.equal(false);
    });

    it("reportBad from a channel handler lowers the score and bans at the threshold", async () => {
      const ctx = await arena();
      ctx.b.net.reportBad(ctx.bad.nodeId, "vote with a bad signature", 60);
      expect(ctx.b.net.peer(ctx.bad.nodeId)!.score).to.be.at.most(-59);
      const banned = bannedEvent(ctx.b.net, ctx.bad.nodeId);
      ctx.b.net.reportBad(ctx.bad.nodeId, "vote with a bad signature", 60);
      const [ev] = await banned;
      expect(ev).to.include({ offence: "reported", reason: "vote with a bad signature" });
      await ctx.bad.closed;
      expect(ctx.b.net.isBanned(ctx.bad.nodeId)).to.equal(true);
    });
  });

  describe("connection health", () => {
    it("drops a peer whose send queue overflows instead of waiting for it", async () => {
      const b = await node({ maxFrameBytes: 64 * 1024, sendQueueMaxBytes: 128 * 1024, rateBytesBurst: 64 * 1024 });
      registerTxChannel(b.net);
      const slow = raw(b.net);
      expect(await slow.handshaken).to.equal(true);
      await eventually(() => b.net.peers().length === 1, "slow peer listed");
      slow.ws.pause(); // stop reading: the kernel buffers fill, then b's queue
      const gone = nextEvent<[PeerInfo, P2pError]>(b.net, "peerDisconnected");
      let sent = 0;
      // Bounded: 2,000 x 32 KiB = 64 MiB at most, far more than loopback socket buffers hold.
      for (let i = 0; i < 2_000 && b.net.peers().length > 0; i++) {
        sent += b.net.broadcast(Channel.Tx, new Uint8Array(32 * 1024).fill(i & 0xff).map((v, j) => (j < 2 ? (i >> (8 * j)) & 0xff : v)));
        if (i % 16 === 15) await new Promise((r) => setImmediate(r));
      }
      const [, reason] = await gone;
      expect(reason.code).to.equal(P2pErrorCode.SEND_QUEUE_FULL);
      expect(sent).to.be.greaterThan(4);
    });

    it("drops a peer that stops answering pings", async () => {
      const b = await node({ pingIntervalMs: 50, pongTimeoutMs: 100 });
      const mute = raw(b.net, { autoPong: false });
      expect(await mute.handshaken).to.equal(true);
      const closed = await mute.closed;
      expect(closed.code).to.equal(P2P_CLOSE_CODES[P2pErrorCode.PING_TIMEOUT]);
    });

    it("redials a persistent peer after it restarts", async () => {
      const bKey = freshNodeKey();
      const b1 = await startNetwork({}, { nodeKey: bKey });
      const port = b1.net.listenPort;
      const a = await node({ persistentPeers: [`${bKey.nodeId}@127.0.0.1:${port}`] });
      await eventually(() => a.net.peers().length === 1, "first connection to the persistent peer");
      const dropped = nextEvent<[PeerInfo, P2pError]>(a.net, "peerDisconnected");
      await b1.net.stop();
      const [, why] = await dropped;
      expect(why.code).to.equal(P2pErrorCode.SHUTTING_DOWN);
      const back = nextEvent<[PeerInfo]>(a.net, "peerConnected");
      const b2 = await node({ port }, { nodeKey: bKey });
      const [info] = await back;
      expect(info).to.include({ id: bKey.nodeId, direction: "outbound" });
      await eventually(() => b2.net.peers().some((p) => p.id === a.net.nodeId), "b sees a again");
    });
  });
});
