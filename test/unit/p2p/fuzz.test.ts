/**
 * Invariant 6 for the p2p boundary: nothing a peer sends crashes the node.
 * A raw peer sends hundreds of generated frames (random bytes, random CBOR,
 * near-valid handshake and sync messages on every channel) to a node that
 * runs the tx, consensus and block sync channels; the node must keep
 * serving, log no internal error, and never throw out of a handler (mocha
 * fails a test on any uncaught exception).
 */
import { expect } from "chai";
import fc from "fast-check";
import type { CanonicalValue } from "../../../src/chain/codec.js";
import { Channel, encodeFrame } from "../../../src/p2p/frames.js";
import type { P2pNetwork } from "../../../src/p2p/network.js";
import { BlockSync } from "../../../src/p2p/sync.js";
import { decodeSyncMessage, type BlocksMessage } from "../../../src/p2p/sync-messages.js";
import { fixedKey } from "../../helpers/fixtures.js";
import { MemoryChain, RawPeer, buildChain, eventually, registerTxChannel, startNetwork } from "../../helpers/p2p.js";

const CHAIN = buildChain(5, [fixedKey(0x71), fixedKey(0x72), fixedKey(0x73), fixedKey(0x74)], 3);
const validBlock = CHAIN.blocks[1] as unknown as CanonicalValue;
const validCommit = CHAIN.commits[1] as unknown as CanonicalValue;

const odd: fc.Arbitrary<CanonicalValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -5, max: 300 }),
  fc.constant(Number.MAX_SAFE_INTEGER),
  fc.string({ maxLength: 6 }),
  fc.uint8Array({ maxLength: 40 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.constant(validBlock),
  fc.constant(validCommit),
);

/** Messages shaped like the protocol's, with any field wrong or missing. */
const nearValid: fc.Arbitrary<CanonicalValue> = fc.record(
  {
    type: fc.constantFrom("status", "getBlocks", "blocks", "hello", "auth", "ready", "vote", "x"),
    height: odd,
    baseHeight: odd,
    from: odd,
    count: odd,
    items: fc.oneof(odd, fc.array(fc.record({ block: odd, commit: odd }, { requiredKeys: [] }), { maxLength: 3 })),
    sig: odd,
  },
  { requiredKeys: ["type"] },
) as fc.Arbitrary<CanonicalValue>;

const anyValue: fc.Arbitrary<CanonicalValue> = fc.letrec<{ v: CanonicalValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    odd,
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 4 }).filter((k) => k !== "__proto__"), tie("v"), { maxKeys: 3 }),
  ),
})).v;

const frame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 64 }),
  fc.tuple(fc.integer({ min: 0, max: 6 }), fc.oneof(nearValid, anyValue)).map(([ch, m]) => encodeFrame(ch, m)),
);

describe("p2p/fuzz: nothing a peer sends crashes the node", function () {
  this.timeout(60_000);
  let net: P2pNetwork | undefined;
  let peer: RawPeer | undefined;
  afterEach(async () => {
    peer?.ws.terminate();
    await net?.stop();
  });

  it("survives generated frames on every channel and still answers a good request", async () => {
    // Let every frame through (no ban, no rate limit) so each reaches its decoder and handler.
    const started = await startNetwork({ banThreshold: -1_000_000, rateMessagesPerSec: 1_000_000, rateMessagesBurst: 1_000_000 });
    net = started.net;
    registerTxChannel(net);
    net.registerChannel<CanonicalValue>(Channel.Consensus, { decode: (m) => m, onMessage: () => {}, gossip: "manual" });
    const chain = MemoryChain.from(CHAIN);
    const sync = new BlockSync(net, { source: chain, applySyncedBlock: (b, c) => chain.applySyncedBlock(b, c) });
    sync.syncer.start(); // a syncing node also takes the generated status and blocks messages
    peer = RawPeer.connect(net.listenPort);
    expect(await peer.handshaken).to.equal(true);
    const frames = fc.sample(frame, { numRuns: 400, seed: 20260101 });
    for (const f of frames) peer.sendBytes(f);
    // A good request after the junk: the node still reads and answers this peer.
    peer.sendFrame(Channel.BlockSync, { type: "getBlocks", from: 1, count: 2 });
    await eventually(
      () =>
        peer!.frames.some((f) => {
          if (f.ch !== Channel.BlockSync) return false;
          const m = decodeSyncMessage(f.m);
          return m.type === "blocks" && m.from === 1 && (m as BlocksMessage).items.length === 2;
        }),
      "the answer to the good request",
    );
    expect(started.logs.filter((l) => l.level === "error")).to.deep.equal([]);
    expect(net.peers()).to.have.length(1);
    expect(net.counters.framesIn, "every frame reached the network").to.equal(frames.length + 1);
    const offences = new Set(started.logs.filter((l) => l.msg === "peer penalized").map((l) => l.fields!.offence));
    expect([...offences].sort()).to.include.members(["P2P_INVALID_MESSAGE", "P2P_MALFORMED_FRAME", "P2P_UNKNOWN_CHANNEL"]);
    sync.close();
  });
});
