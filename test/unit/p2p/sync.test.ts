/**
 * Block sync over real WebSockets on 127.0.0.1: real blocks and commits of
 * a 4-validator set (3 of 4 sign each commit), served from memory, applied
 * by a verifying applySyncedBlock.
 */
import { expect } from "chai";
import { encodeCommit, headerHash } from "../../../src/chain/block.js";
import { fixedKey, hex } from "../../helpers/fixtures.js";
import { Channel } from "../../../src/p2p/frames.js";
import type { P2pNetwork, PenaltyEvent } from "../../../src/p2p/network.js";
import { BlockSync, CLAIM_NOT_SERVED_PENALTY, type SyncProgress } from "../../../src/p2p/sync.js";
import type { CanonicalValue } from "../../../src/chain/codec.js";
import { bytesEqual } from "../../../src/crypto/bytes.js";
import { verifyCommit } from "../../../src/chain/vote.js";
import { MAX_BLOCKS_PER_REQUEST, type BlocksMessage } from "../../../src/p2p/sync-messages.js";
import { P2pErrorCode } from "../../../src/p2p/errors.js";
import { MemoryChain, RawPeer, buildChain, connect, eventually, nextEvent, startNetwork } from "../../helpers/p2p.js";
import { loggerOf } from "../../../src/log/logger.js";

const KEYS = [fixedKey(0x51), fixedKey(0x52), fixedKey(0x53), fixedKey(0x54)];
const N = 40;
const CHAIN = buildChain(N, KEYS, 3);

describe("p2p/sync: block sync", function () {
  this.timeout(30_000);
  const running: P2pNetwork[] = [];
  const syncs: BlockSync[] = [];
  afterEach(async () => {
    for (const s of syncs.splice(0)) s.close();
    await Promise.all(running.splice(0).map((n) => n.stop()));
  });

  async function syncNode(chain: MemoryChain, opts: ConstructorParameters<typeof BlockSync>[2] = {}) {
    const { net, logs } = await startNetwork();
    running.push(net);
    const sync = new BlockSync(net, { source: chain, applySyncedBlock: (b, c) => chain.applySyncedBlock(b, c), log: loggerOf((level, msg, fields) => logs.push({ level, msg, fields })) }, opts);
    syncs.push(sync);
    return { net, sync, chain, logs };
  }

  it("the test chain is real: every commit carries a quorum for its block and blocks link", async () => {
    const check = new MemoryChain(CHAIN.chainId, CHAIN.genesisHash, CHAIN.validators);
    for (let i = 0; i < N; i++) await check.applySyncedBlock(CHAIN.blocks[i]!, CHAIN.commits[i]!);
    expect(check.head()).to.equal(N);
    // and the verifier refuses a commit by too few validators (2 of 4 is below the quorum of 27 power)
    const weak = buildChain(1, KEYS, 2);
    let thrown: unknown;
    await new MemoryChain(CHAIN.chainId, CHAIN.genesisHash, weak.validators).applySyncedBlock(weak.blocks[0]!, weak.commits[0]!).catch((e) => (thrown = e));
    expect((thrown as { code?: string }).code).to.equal("BLOCK_INVALID");
  });

  it("a node with no blocks syncs N blocks from two peers, in order, with progress and caughtUp", async () => {
    const a = await syncNode(MemoryChain.from(CHAIN));
    const b = await syncNode(MemoryChain.from(CHAIN));
    const c = await syncNode(new MemoryChain(CHAIN.chainId, CHAIN.genesisHash, CHAIN.validators), { batchSize: 5, maxRequestsPerPeer: 2, progressLogIntervalMs: 1 });
    await connect(c.net, a.net);
    await connect(c.net, b.net);
    await eventually(() => c.sync.syncer.peerHeights().size === 2, "both peers' status at c");
    expect(c.sync.syncer.bestPeerHeight()).to.equal(N);
    const progress: SyncProgress[] = [];
    c.sync.syncer.on("progress", (p) => progress.push(p));
    const caughtUp = nextEvent<[{ height: number; target: number }]>(c.sync.syncer, "caughtUp");
    c.sync.syncer.start();
    expect(c.sync.isSyncing()).to.equal(true);
    const [done] = await caughtUp;
    expect(done).to.deep.equal({ height: N, target: N });
    expect(c.sync.isSyncing()).to.equal(false);
    expect(c.chain.applied).to.deep.equal(Array.from({ length: N }, (_, i) => i + 1));
    expect(c.chain.blocks.map((bl) => hex(headerHash(bl.header)))).to.deep.equal(CHAIN.blocks.map((bl) => hex(headerHash(bl.header))));
    // pipelined from both peers
    expect(a.chain.served, "blocks served by a").to.be.greaterThan(0);
    expect(b.chain.served, "blocks served by b").to.be.greaterThan(0);
    expect(a.chain.served + b.chain.served).to.equal(N);
    // one progress event per block, heights in order, the rate and time left filled in
    expect(progress.map((p) => p.height)).to.deep.equal(c.chain.applied);
    expect(progress.every((p) => p.target === N && p.blocksPerSec >= 0)).to.equal(true);
    expect(progress.at(-1)!.etaSec).to.satisfy((v: number | undefined) => v === undefined || v === 0);
    const logged = c.logs.filter((l) => l.msg === "syncing blocks");
    expect(logged.length).to.be.greaterThan(0);
    expect(logged[0]!.fields).to.have.keys("height", "target", "blocksPerSec", "etaSec");
    expect(c.logs.some((l) => l.msg === "block sync caught up")).to.equal(true);
    // c announced its new head to its peers
    await eventually(() => a.sync.syncer.peerHeights().get(c.net.nodeId)?.height === N, "c's status at a");
  });

  it("a peer that serves a block with a bad commit is reported and the block is fetched from another peer", async () => {
    const a = await syncNode(MemoryChain.from(CHAIN));
    const bad = MemoryChain.from(CHAIN);
    // Two forged commits, so whichever range b is asked for first holds one: the real commit with one
    // signature replaced by another validator's (valid math, wrong signer), so only signature checks catch it.
    for (const h of [3, 8]) {
      const real = CHAIN.commits[h - 1]!;
      bad.serveInstead.set(h, { ...real, sigs: [{ validator: real.sigs[0]!.validator, sig: real.sigs[1]!.sig }, ...real.sigs.slice(1)] });
    }
    const b = await syncNode(bad);
    const c = await syncNode(new MemoryChain(CHAIN.chainId, CHAIN.genesisHash, CHAIN.validators), { batchSize: 5, maxRequestsPerPeer: 2 });
    await connect(c.net, a.net);
    await connect(c.net, b.net);
    await eventually(() => c.sync.syncer.peerHeights().size === 2, "both peers' status at c");
    const reported = nextEvent<[PenaltyEvent]>(c.net, "peerPenalized", (e) => e.peer.id === b.net.nodeId);
    const caughtUp = nextEvent<[{ height: number; target: number }]>(c.sync.syncer, "caughtUp");
    c.sync.syncer.start();
    const [ev] = await reported;
    expect(ev.offence).to.equal("reported");
    expect(ev.reason).to.match(/^block (3|8) refused: BLOCK_INVALID/);
    expect(ev.banned).to.equal(true);
    const [done] = await caughtUp;
    expect(done.height).to.equal(N);
    expect(c.net.isBanned(b.net.nodeId)).to.equal(true);
    expect(c.chain.applied).to.deep.equal(Array.from({ length: N }, (_, i) => i + 1));
    // every stored commit is the genuine one
    expect(c.chain.commits.map((cm) => hex(encodeCommit(cm)))).to.deep.equal(CHAIN.commits.map((cm) => hex(encodeCommit(cm))));
    expect(c.logs.some((l) => l.msg.startsWith("synced block refused"))).to.equal(true);
  });

  it("a range a peer leaves unanswered is asked of another peer after the request timeout", async () => {
    const a = await syncNode(MemoryChain.from(CHAIN));
    const c = await syncNode(new MemoryChain(CHAIN.chainId, CHAIN.genesisHash, CHAIN.validators), { batchSize: 10, requestTimeoutMs: 200 });
    await connect(c.net, a.net);
    // A peer that announces every block and never answers.
    const mute = RawPeer.connect(c.net.listenPort);
    try {
      expect(await mute.handshaken).to.equal(true);
      mute.sendFrame(Channel.BlockSync, { type: "status", height: N, baseHeight: 1 });
      await eventually(() => c.sync.syncer.peerHeights().size === 2, "both statuses at c");
      const timedOut = nextEvent<[PenaltyEvent]>(c.net, "peerPenalized", (e) => e.peer.id === mute.nodeId);
      const caughtUp = nextEvent<[{ height: number; target: number }]>(c.sync.syncer, "caughtUp");
      c.sync.syncer.start();
      const [ev] = await timedOut;
      expect(ev.reason).to.match(/unanswered after 200 ms/);
      expect((await caughtUp)[0].height).to.equal(N);
      expect(c.chain.applied).to.deep.equal(Array.from({ length: N }, (_, i) => i + 1));
      expect(mute.frames.some((f) => (f.m as { type?: string }).type === "getBlocks"), "the mute peer was asked").to.equal(true);
    } finally {
      mute.ws.terminate();
    }
  });

  it("a node one block behind the best peer is caught up at once and fetches nothing", async () => {
    const a = await syncNode(MemoryChain.from(CHAIN));
    const c = await syncNode(MemoryChain.from(CHAIN, N - 1));
    await connect(c.net, a.net);
    await eventually(() => c.sync.syncer.peerHeights().size === 1, "a's status at c");
    const caughtUp = nextEvent<[{ height: number; target: number }]>(c.sync.syncer, "caughtUp");
    c.sync.syncer.start();
    expect(await caughtUp).to.deep.equal([{ height: N - 1, target: N }]);
    expect(a.chain.served).to.equal(0);
  });

  it("a peer that claims blocks and serves none is penalised and has its claim cut; sync ends with the honest peer's blocks", async () => {
    const a = await syncNode(MemoryChain.from(CHAIN));
    const c = await syncNode(new MemoryChain(CHAIN.chainId, CHAIN.genesisHash, CHAIN.validators), { batchSize: 10 });
    await connect(c.net, a.net);
    const liar = RawPeer.connect(c.net.listenPort);
    try {
      expect(await liar.handshaken).to.equal(true);
      const claim = 1_000_000_000;
      liar.sendFrame(Channel.BlockSync, { type: "status", height: claim, baseHeight: 1 });
      await eventually(() => c.sync.syncer.peerHeights().size === 2, "both statuses at c");
      expect(c.sync.syncer.bestPeerHeight()).to.equal(claim);
      expect(c.sync.syncer.provenHeight()).to.equal(undefined);
      const penalties: PenaltyEvent[] = [];
      c.net.on("peerPenalized", (e: PenaltyEvent) => {
        if (e.peer.id === liar.nodeId) penalties.push(e);
      });
      // The liar answers every getBlocks with no blocks.
      let answered = 0;
      const answering = setInterval(() => {
        for (; answered < liar.frames.length; answered++) {
          const m = liar.frames[answered]!.m as { type?: string; from?: number };
          if (m.type === "getBlocks") liar.sendFrame(Channel.BlockSync, { type: "blocks", from: m.from!, items: [] });
        }
      }, 5);
      const caughtUp = nextEvent<[{ height: number; target: number }]>(c.sync.syncer, "caughtUp");
      c.sync.syncer.start();
      const [done] = await caughtUp;
      clearInterval(answering);
      expect(done.height).to.equal(N);
      expect(c.chain.applied).to.deep.equal(Array.from({ length: N }, (_, i) => i + 1));
      expect(penalties.length).to.be.greaterThan(0);
      expect(penalties[0]!.reason).to.match(/^claim not served: announced height 1000000000 but served nothing from \d+/);
      expect(penalties[0]!.penalty).to.equal(CLAIM_NOT_SERVED_PENALTY);
      // Its claim stands cut at what it could not serve; the honest peer proved every height it served.
      expect(c.sync.syncer.bestPeerHeight()).to.be.below(claim);
      expect(c.sync.syncer.provenHeight()).to.equal(N);
    } finally {
      liar.ws.terminate();
    }
  });

  it("a far claim is probed: one block asked, a forged commit costs the whole budget, a claim alone proves nothing", async () => {
    let verified = 0;
    const { net, logs } = await startNetwork();
    running.push(net);
    const chain = MemoryChain.from(CHAIN, 5);
    const sync = new BlockSync(
      net,
      {
        source: chain,
        applySyncedBlock: (b, cm) => chain.applySyncedBlock(b, cm),
        verifyCommit: async (b, cm) => {
          verified++;
          return bytesEqual(cm.blockHash, headerHash(b.header)) && verifyCommit(CHAIN.chainId, cm, CHAIN.validators);
        },
        log: loggerOf((level, msg, fields) => logs.push({ level, msg, fields })),
      },
      { probeIntervalMs: 1 },
    );
    syncs.push(sync);
    // An honest peer far ahead: probed, it proves height 6.
    const a = await syncNode(MemoryChain.from(CHAIN));
    await connect(net, a.net);
    const proven = nextEvent<[{ peerId: string; height: number }]>(sync.syncer, "proven");
    expect((await proven)[0]).to.deep.equal({ peerId: a.net.nodeId, height: 6 });
    expect(sync.syncer.provenHeight()).to.equal(6);
    // A forger far ahead: its commit does not verify.
    const forger = RawPeer.connect(net.listenPort);
    try {
      expect(await forger.handshaken).to.equal(true);
      const banned = nextEvent<[PenaltyEvent]>(net, "peerPenalized", (e) => e.peer.id === forger.nodeId);
      forger.sendFrame(Channel.BlockSync, { type: "status", height: 1_000_000, baseHeight: 1 });
      await eventually(() => forger.frames.some((f) => (f.m as { type?: string }).type === "getBlocks"), "the probe");
      const ask = forger.frames.find((f) => (f.m as { type?: string }).type === "getBlocks")!.m as { from: number; count: number };
      expect(ask).to.deep.include({ from: 6, count: 1 });
      const real = CHAIN.commits[5]!;
      const forged = { ...real, sigs: [{ validator: real.sigs[0]!.validator, sig: real.sigs[1]!.sig }, ...real.sigs.slice(1)] };
      forger.sendFrame(Channel.BlockSync, { type: "blocks", from: 6, items: [{ block: CHAIN.blocks[5]!, commit: forged }] } as unknown as CanonicalValue);
      const [ev] = await banned;
      expect(ev.reason).to.match(/commit that does not verify/);
      expect(ev.banned).to.equal(true);
      expect(verified).to.be.at.least(2);
      expect(sync.syncer.provenHeight()).to.equal(6);
    } finally {
      forger.ws.terminate();
    }
    // A liar far ahead that answers with nothing: each claim it repeats and fails costs double the last.
    const liar = RawPeer.connect(net.listenPort);
    try {
      expect(await liar.handshaken).to.equal(true);
      const penalties: PenaltyEvent[] = [];
      net.on("peerPenalized", (e: PenaltyEvent) => {
        if (e.peer.id === liar.nodeId) penalties.push(e);
      });
      let answered = 0;
      for (let round = 1; round <= 3; round++) {
        liar.sendFrame(Channel.BlockSync, { type: "status", height: 1_000_000, baseHeight: 1 });
        await eventually(() => liar.frames.filter((f) => (f.m as { type?: string }).type === "getBlocks").length >= round, `probe ${round}`);
        for (; answered < liar.frames.length; answered++) {
          const m = liar.frames[answered]!.m as { type?: string; from?: number };
          if (m.type === "getBlocks") liar.sendFrame(Channel.BlockSync, { type: "blocks", from: m.from!, items: [] });
        }
        await eventually(() => penalties.length >= round, `penalty ${round}`);
      }
      expect(penalties.map((p) => p.penalty)).to.deep.equal([CLAIM_NOT_SERVED_PENALTY, 2 * CLAIM_NOT_SERVED_PENALTY, 4 * CLAIM_NOT_SERVED_PENALTY]);
      expect(penalties[2]!.banned).to.equal(true);
      // Its claim never counted as proof.
      expect(sync.syncer.provenHeight()).to.equal(6);
    } finally {
      liar.ws.terminate();
    }
  });

  it("serves the blocks it has, fewer when asked beyond its head, and refuses oversized requests", async () => {
    const a = await syncNode(MemoryChain.from(CHAIN));
    const peer = RawPeer.connect(a.net.listenPort);
    try {
      expect(await peer.handshaken).to.equal(true);
      await eventually(() => peer.frames.some((f) => f.ch === Channel.BlockSync), "a's status");
      expect(peer.frames[0]!.m).to.deep.equal({ type: "status", height: N, baseHeight: 1 });
      peer.sendFrame(Channel.BlockSync, { type: "getBlocks", from: N - 2, count: 5 });
      await eventually(() => peer.frames.length === 2, "the blocks answer");
      const answer = peer.frames[1]!.m as unknown as BlocksMessage;
      expect(answer.from).to.equal(N - 2);
      expect(answer.items.map((it) => it.block.header.height)).to.deep.equal([N - 2, N - 1, N]);
      expect(hex(encodeCommit(answer.items[2]!.commit))).to.equal(hex(encodeCommit(CHAIN.commits[N - 1]!)));
      const penalized = nextEvent<[PenaltyEvent]>(a.net, "peerPenalized", (e) => e.peer.id === peer.nodeId);
      peer.sendFrame(Channel.BlockSync, { type: "getBlocks", from: 1, count: MAX_BLOCKS_PER_REQUEST + 1 });
      const [ev] = await penalized;
      expect(ev.offence).to.equal(P2pErrorCode.INVALID_MESSAGE);
      expect(ev.reason).to.match(/getBlocks\.count/);
    } finally {
      peer.ws.terminate();
    }
  });
});
