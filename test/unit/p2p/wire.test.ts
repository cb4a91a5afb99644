/**
 * The p2p wire pieces without sockets: frames, the handshake state machine
 * and its digest (known-answer vector), sync message shapes, addresses,
 * options, rate buckets, scores and bans, close frames.
 */
import { expect } from "chai";
import fc from "fast-check";
import type { CanonicalValue } from "../../../src/chain/codec.js";
import { sha256 } from "../../../src/crypto/hash.js";
import { verifyDigest } from "../../../src/crypto/secp256k1.js";
import { parsePeerAddress } from "../../../src/p2p/address.js";
import { P2pError, P2pErrorCode, closeFrameOf, errorOfCloseFrame } from "../../../src/p2p/errors.js";
import { decodeFrame, encodeFrame } from "../../../src/p2p/frames.js";
import { Handshake, P2P_PROTOCOL_VERSION, type HandshakeMessage, type LocalIdentity, type RemoteIdentity, handshakeDigest } from "../../../src/p2p/handshake.js";
import { BanList, PeerScore, TokenBucket } from "../../../src/p2p/limits.js";
import { nodeKeyOf } from "../../../src/p2p/node-key.js";
import { defaultP2pOptions, resolveP2pOptions } from "../../../src/p2p/options.js";
import { decodeSyncMessage } from "../../../src/p2p/sync-messages.js";
import { CHAIN_ID, expectCodedError, fixedKey, hex, unhex } from "../../helpers/fixtures.js";
import { GENESIS_HASH, buildChain } from "../../helpers/p2p.js";

const KEY_A = nodeKeyOf(new Uint8Array(32).fill(1));
const KEY_B = nodeKeyOf(new Uint8Array(32).fill(2));
const identity = (nodeKey = KEY_A, over: Partial<LocalIdentity> = {}): LocalIdentity => ({ chainId: CHAIN_ID, genesisHash: GENESIS_HASH, nodeKey, ...over });
const asValue = (m: HandshakeMessage) => m as unknown as CanonicalValue;

function p2pError(fn: () => unknown, code: P2pErrorCode): P2pError {
  return expectCodedError(fn, P2pError, code);
}

/** Run two handshakes against each other in memory; returns what each side learned. */
function runHandshake(a: Handshake, b: Handshake): { atA?: RemoteIdentity; atB?: RemoteIdentity } {
  const out: { atA?: RemoteIdentity; atB?: RemoteIdentity } = {};
  const toB: HandshakeMessage[] = [a.hello()];
  const toA: HandshakeMessage[] = [b.hello()];
  for (let i = 0; i < 10 && (toA.length > 0 || toB.length > 0); i++) {
    const mb = toB.shift();
    if (mb) {
      const s = b.receive(asValue(mb));
      if (s.reply) toA.push(s.reply);
      if (s.done) out.atB = s.done;
    }
    const ma = toA.shift();
    if (ma) {
      const s = a.receive(asValue(ma));
      if (s.reply) toB.push(s.reply);
      if (s.done) out.atA = s.done;
    }
  }
  return out;
}

describe("p2p/wire", () => {
  describe("node ids", () => {
    it("are the hex of the first 20 bytes of sha256 of the compressed public key", () => {
      expect(hex(KEY_A.publicKey)).to.equal("031b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f");
      expect(KEY_A.nodeId).to.equal("f1d12012406b87afb27f6dd16ac0a76fcdaa55ed");
      expect(KEY_A.nodeId).to.equal(hex(sha256(KEY_A.publicKey).subarray(0, 20)));
    });
  });

  describe("frames", () => {
    it("encode {ch, m} canonically (known answer) and decode back", () => {
      const bytes = encodeFrame(1, Uint8Array.of(1, 2, 3));
      expect(hex(bytes)).to.equal("a2616d4301020362636801"); // {"m": h'010203', "ch": 1}
      const f = decodeFrame(bytes);
      expect(f.ch).to.equal(1);
      expect(hex(f.m as Uint8Array)).to.equal("010203");
    });

    it("refuse anything but a canonical two-key envelope with a channel in [0, 255]", () => {
      const cases: [string, Uint8Array][] = [
        ["not CBOR", Uint8Array.of(0xff, 0x00)],
        ["empty", new Uint8Array(0)],
        ["non-canonical key order", unhex("a262636801616d4100")],
        ["not a map", unhex("8201")],
        ["missing m", unhex("a1626368 01".replace(" ", ""))],
        ["extra key", unhex("a3617801616d4100626368" + "01")],
        ["channel 256", unhex("a2616d4100626368190100")],
        ["channel as text", unhex("a2616d410062636861" + "31")],
      ];
      for (const [what, bytes] of cases) {
        const e = p2pError(() => decodeFrame(bytes), P2pErrorCode.MALFORMED_FRAME);
        expect(e.message, what).to.be.a("string");
      }
    });

    it("decoding random bytes never throws anything but MALFORMED_FRAME", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
          try {
            decodeFrame(bytes);
          } catch (e) {
            return e instanceof P2pError && e.code === P2pErrorCode.MALFORMED_FRAME;
          }
          return true;
        }),
        { numRuns: 2_000 },
      );
    });

    it("decode(encode(x)) is x for any channel and value", () => {
      const value: fc.Arbitrary<CanonicalValue> = fc.letrec<{ v: CanonicalValue }>((tie) => ({
        v: fc.oneof(
          { depthSize: "small" },
          fc.constant(null),
          fc.boolean(),
          fc.integer(),
          fc.string(),
          fc.uint8Array({ maxLength: 16 }),
          fc.array(tie("v"), { maxLength: 3 }),
          fc.dictionary(fc.string({ maxLength: 4 }).filter((k) => k !== "__proto__"), tie("v"), { maxKeys: 3 }),
        ),
      })).v;
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 255 }), value, (ch, m) => {
          const f = decodeFrame(encodeFrame(ch, m));
          expect(f.ch).to.equal(ch);
          expect(hex(encodeFrame(f.ch, f.m))).to.equal(hex(encodeFrame(ch, m)));
        }),
        { numRuns: 300 },
      );
    });
  });

  describe("handshake", () => {
    it("digest: known-answer vector over domain, chain id, genesis hash, both nonces and the signer's key", () => {
      const d = handshakeDigest(CHAIN_ID, GENESIS_HASH, new Uint8Array(32).fill(0xaa), new Uint8Array(32).fill(0xbb), KEY_A.publicKey);
      // sha256 of CBOR ["sid/p2p/handshake/v1", "sid-test", h'11'*32, h'aa'*32, h'bb'*32, pubkey], checked by hand
      expect(hex(d)).to.equal("0bdd04bcf5f5f027d8979d26c824e9aefff01bc31a20ff29402428aab4d4c071");
      // every input matters (domain separation: another chain or genesis gives another digest)
      expect(hex(handshakeDigest("sid-other", GENESIS_HASH, new Uint8Array(32).fill(0xaa), new Uint8Array(32).fill(0xbb), KEY_A.publicKey))).to.not.equal(hex(d));
      expect(hex(handshakeDigest(CHAIN_ID, new Uint8Array(32), new Uint8Array(32).fill(0xaa), new Uint8Array(32).fill(0xbb), KEY_A.publicKey))).to.not.equal(hex(d));
      expect(hex(handshakeDigest(CHAIN_ID, GENESIS_HASH, new Uint8Array(32).fill(0xbb), new Uint8Array(32).fill(0xaa), KEY_A.publicKey))).to.not.equal(hex(d));
    });

    it("two sides learn each other's proven identity; each signs the other's nonce", () => {
      const admitted: string[] = [];
      const a = new Handshake(identity(KEY_A, { listenPort: 9001 }), { admit: (r) => admitted.push(`a:${r.nodeId}`) });
      const b = new Handshake(identity(KEY_B), { admit: (r) => admitted.push(`b:${r.nodeId}`) });
      const { atA, atB } = runHandshake(a, b);
      expect(atA).to.deep.include({ nodeId: KEY_B.nodeId, version: P2P_PROTOCOL_VERSION });
      expect(atB).to.deep.include({ nodeId: KEY_A.nodeId, listenPort: 9001 });
      expect(admitted.sort()).to.deep.equal([`a:${KEY_B.nodeId}`, `b:${KEY_A.nodeId}`].sort());
      // the auth b sends answers a's nonce
      const b2 = new Handshake(identity(KEY_B), { admit: () => {} });
      const auth = b2.receive(asValue(a.hello())).reply as { sig: Uint8Array };
      const digest = handshakeDigest(CHAIN_ID, GENESIS_HASH, a.nonce, b2.nonce, KEY_B.publicKey);
      expect(verifyDigest(auth.sig, digest, KEY_B.publicKey)).to.equal(true);
    });

    it("refuses out-of-order, unknown and malformed messages", () => {
      const fresh = () => new Handshake(identity(KEY_B), { admit: () => {} });
      p2pError(() => fresh().receive({ type: "auth", sig: new Uint8Array(64) }), P2pErrorCode.HANDSHAKE_FAILED);
      p2pError(() => fresh().receive({ type: "ready" }), P2pErrorCode.HANDSHAKE_FAILED);
      p2pError(() => fresh().receive({ type: "hi" }), P2pErrorCode.HANDSHAKE_FAILED);
      p2pError(() => fresh().receive("hello"), P2pErrorCode.HANDSHAKE_FAILED);
      const hello = asValue(new Handshake(identity(KEY_A), { admit: () => {} }).hello()) as Record<string, CanonicalValue>;
      p2pError(() => fresh().receive({ ...hello, extra: 1 }), P2pErrorCode.HANDSHAKE_FAILED);
      p2pError(() => fresh().receive({ ...hello, nonce: new Uint8Array(31) }), P2pErrorCode.HANDSHAKE_FAILED);
      p2pError(() => fresh().receive({ ...hello, publicKey: Uint8Array.of(2, ...new Uint8Array(32)) }), P2pErrorCode.HANDSHAKE_FAILED); // x = 0 is not on the curve
      p2pError(() => fresh().receive({ ...hello, version: P2P_PROTOCOL_VERSION - 1 }), P2pErrorCode.WRONG_VERSION);
      p2pError(() => fresh().receive({ ...hello, chainId: "sid-other" }), P2pErrorCode.WRONG_CHAIN);
      p2pError(() => fresh().receive({ ...hello, genesisHash: new Uint8Array(32) }), P2pErrorCode.WRONG_GENESIS);
      p2pError(() => fresh().receive({ ...hello, nodeId: KEY_B.nodeId }), P2pErrorCode.NODE_ID_MISMATCH);
      const self = new Handshake(identity(KEY_A), { admit: () => {} });
      p2pError(() => self.receive(hello), P2pErrorCode.SELF_CONNECTION);
      const expecting = new Handshake(identity(KEY_B), { admit: () => {}, expectedNodeId: nodeKeyOf(new Uint8Array(32).fill(3)).nodeId });
      p2pError(() => expecting.receive(hello), P2pErrorCode.UNEXPECTED_NODE_ID);
    });

    it("refuses an auth signed by another key or over another nonce", () => {
      const a = new Handshake(identity(KEY_A), { admit: () => {} });
      const b = new Handshake(identity(KEY_B), { admit: () => {} });
      a.receive(asValue(b.hello()));
      // b's signature, but over a nonce a never sent (a replay from another handshake)
      const replay = new Handshake(identity(KEY_B), { admit: () => {} }).receive(asValue(new Handshake(identity(KEY_A), { admit: () => {} }).hello())).reply!;
      p2pError(() => a.receive(asValue(replay)), P2pErrorCode.BAD_SIGNATURE);
    });

    it("a refusal by admit (duplicate, ban, limits) stops the handshake before ready", () => {
      const a = new Handshake(identity(KEY_A), {
        admit: () => {
          throw new P2pError(P2pErrorCode.DUPLICATE_PEER, "already connected");
        },
      });
      const b = new Handshake(identity(KEY_B), { admit: () => {} });
      p2pError(() => runHandshake(a, b), P2pErrorCode.DUPLICATE_PEER);
    });
  });

  describe("sync messages", () => {
    const chain = buildChain(2, [fixedKey(0x61)]);
    const item = { block: chain.blocks[1]!, commit: chain.commits[1]! } as unknown as CanonicalValue;

    it("accept status, getBlocks and blocks of the right shape", () => {
      expect(decodeSyncMessage({ type: "status", height: 5, baseHeight: 1 })).to.deep.equal({ type: "status", height: 5, baseHeight: 1 });
      expect(decodeSyncMessage({ type: "status", height: 0, baseHeight: 0 })).to.deep.include({ height: 0 });
      expect(decodeSyncMessage({ type: "getBlocks", from: 3, count: 100 })).to.deep.include({ count: 100 });
      const blocks = decodeSyncMessage({ type: "blocks", from: 2, items: [item] });
      expect(blocks.type === "blocks" && blocks.items[0]!.block.header.height).to.equal(2);
    });

    it("refuse bad bounds and shapes with INVALID_MESSAGE naming the field", () => {
      const bad: [CanonicalValue, RegExp][] = [
        [{ type: "status", height: 3, baseHeight: 4 }, /baseHeight/],
        [{ type: "status", height: 3, baseHeight: 0 }, /baseHeight/],
        [{ type: "getBlocks", from: 0, count: 1 }, /getBlocks\.from/],
        [{ type: "getBlocks", from: 1, count: 101 }, /getBlocks\.count/],
        [{ type: "getBlocks", from: 1, count: 1, extra: true }, /unexpected field/],
        [{ type: "blocks", from: 1, items: [{ block: null, commit: null }] }, /items\[0\]\.block/],
        [{ type: "blocks", from: 1, items: Array(101).fill(item) }, /at most 100/],
        [{ type: "nope" }, /unknown type/],
      ];
      for (const [m, why] of bad) expect(p2pError(() => decodeSyncMessage(m), P2pErrorCode.INVALID_MESSAGE).message).to.match(why);
      const shortHash = { ...(item as Record<string, CanonicalValue>), commit: { ...(chain.commits[1] as unknown as Record<string, CanonicalValue>), blockHash: new Uint8Array(31) } };
      expect(p2pError(() => decodeSyncMessage({ type: "blocks", from: 2, items: [shortHash] }), P2pErrorCode.INVALID_MESSAGE).message).to.match(/commit\.blockHash: expected 32 bytes, got 31/);
    });
  });

  describe("addresses and options", () => {
    it("parse host:port, nodeId@host:port and [v6]:port", () => {
      expect(parsePeerAddress("127.0.0.1:8661")).to.deep.equal({ host: "127.0.0.1", port: 8661, address: "127.0.0.1:8661" });
      expect(parsePeerAddress(`${KEY_A.nodeId}@node-1.example.com:9`)).to.deep.equal({ nodeId: KEY_A.nodeId, host: "node-1.example.com", port: 9, address: "node-1.example.com:9" });
      expect(parsePeerAddress("[::1]:8661")).to.deep.include({ host: "::1", address: "[::1]:8661" });
      for (const bad of ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "::1:8661", "abc@127.0.0.1:1", "-bad-:1", "", 5, "a b:1"]) {
        p2pError(() => parsePeerAddress(bad), P2pErrorCode.BAD_ADDRESS);
      }
    });

    it("default to loopback:8661 and refuse bad values", () => {
      const o = resolveP2pOptions();
      expect(o).to.include({ host: "127.0.0.1", port: 8661 });
      expect(o).to.deep.equal({ ...defaultP2pOptions, persistentPeers: [] });
      expect(resolveP2pOptions({ port: 0, persistentPeers: ["127.0.0.1:1"] })).to.include({ port: 0 });
      p2pError(() => resolveP2pOptions({ port: -1 }), P2pErrorCode.BAD_OPTION);
      p2pError(() => resolveP2pOptions({ persistentPeers: ["nowhere"] }), P2pErrorCode.BAD_ADDRESS);
      // a full bucket must hold the largest frame, or such a frame could never pass
      p2pError(() => resolveP2pOptions({ maxFrameBytes: 8 << 20, rateBytesBurst: 4 << 20 }), P2pErrorCode.BAD_OPTION);
      p2pError(() => resolveP2pOptions({ banThreshold: 0 }), P2pErrorCode.BAD_OPTION);
    });
  });

  describe("bounds", () => {
    it("a token bucket holds its burst and refills at its rate", () => {
      let t = 0;
      const bucket = new TokenBucket(10, 5, () => t);
      for (let i = 0; i < 5; i++) expect(bucket.tryTake(1)).to.equal(true);
      expect(bucket.tryTake(1)).to.equal(false);
      t = 100; // 10/s -> one token
      expect(bucket.tryTake(1)).to.equal(true);
      expect(bucket.tryTake(1)).to.equal(false);
      t = 10_000; // capped at the burst
      expect(bucket.takeWithDebt(8)).to.equal(300); // 3 tokens short at 10/s
    });

    it("a score falls with penalties and heals toward 0, never above", () => {
      let t = 0;
      const s = new PeerScore(2, () => t);
      expect(s.penalize(30)).to.equal(-30);
      t = 5_000;
      expect(s.value).to.equal(-20);
      t = 60_000;
      expect(s.value).to.equal(0);
    });

    it("bans expire and the list stays bounded, oldest first", () => {
      let t = 0;
      const bans = new BanList(2, () => t);
      bans.ban("node:a", 1_000);
      bans.ban("node:b", 5_000);
      bans.ban("node:c", 5_000);
      expect([bans.isBanned("node:a"), bans.isBanned("node:b"), bans.isBanned("node:c")]).to.deep.equal([false, true, true]);
      t = 5_000;
      expect(bans.isBanned("node:b")).to.equal(false);
      expect(bans.remainingMs("node:c")).to.equal(0);
    });
  });

  describe("close frames", () => {
    it("carry the typed error to the peer and back, within the 123-byte limit", () => {
      const err = new P2pError(P2pErrorCode.WRONG_CHAIN, "x".repeat(500));
      const { code, reason } = closeFrameOf(err);
      expect(code).to.equal(4002);
      expect(Buffer.byteLength(reason)).to.be.at.most(123);
      const back = errorOfCloseFrame(code, reason);
      expect(back.code).to.equal(P2pErrorCode.WRONG_CHAIN);
      expect(errorOfCloseFrame(1000, "bye").code).to.equal(P2pErrorCode.CONNECTION_FAILED);
      expect(errorOfCloseFrame(4002, "P2P_NOT_A_CODE: x").code).to.equal(P2pErrorCode.CONNECTION_FAILED);
    });
  });
});
