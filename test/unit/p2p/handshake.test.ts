/**
 * The handshake state machine beyond the wire tests: refusal order when a
 * hello is wrong in several ways, listen-port bounds, nothing accepted after
 * ready, the remote identity as proven, and frames that carry the messages
 * across the real frame codec.
 */
import { expect } from "chai";
import type { CanonicalValue } from "../../../src/chain/codec.js";
import { P2pError, P2pErrorCode } from "../../../src/p2p/errors.js";
import { Channel, decodeFrame, encodeFrame } from "../../../src/p2p/frames.js";
import { Handshake, type HandshakeMessage, type LocalIdentity, MAX_HANDSHAKE_FRAME_BYTES, P2P_PROTOCOL_VERSION, buildHello, checkHello, decodeHandshakeMessage } from "../../../src/p2p/handshake.js";
import { nodeKeyOf } from "../../../src/p2p/node-key.js";
import { GENESIS_HASH } from "../../helpers/p2p.js";
import { CHAIN_ID } from "../../helpers/fixtures.js";

const KEY_A = nodeKeyOf(new Uint8Array(32).fill(7));
const KEY_B = nodeKeyOf(new Uint8Array(32).fill(8));
const local = (nodeKey = KEY_A, over: Partial<LocalIdentity> = {}): LocalIdentity => ({ chainId: CHAIN_ID, genesisHash: GENESIS_HASH, nodeKey, ...over });

function code(fn: () => unknown): P2pErrorCode {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(P2pError);
    return (e as P2pError).code;
  }
  expect.fail("expected a P2pError");
}

/** Send a message through the frame codec, as peer.ts does on channel 0. */
const overTheWire = (m: HandshakeMessage): CanonicalValue => {
  const bytes = encodeFrame(Channel.Handshake, m as unknown as CanonicalValue);
  expect(bytes.length).to.be.at.most(MAX_HANDSHAKE_FRAME_BYTES);
  const f = decodeFrame(bytes);
  expect(f.ch).to.equal(Channel.Handshake);
  return f.m;
};

describe("p2p/handshake", () => {
  it("two sides complete over real frames; each learns the other's proven id, key, version and announced port", () => {
    const admitted: string[] = [];
    const a = new Handshake(local(KEY_A, { listenPort: 26656 }), { admit: (r) => admitted.push(r.nodeId) });
    const b = new Handshake(local(KEY_B), { admit: (r) => admitted.push(r.nodeId) });
    const authA = a.receive(overTheWire(b.hello())).reply!;
    const authB = b.receive(overTheWire(a.hello())).reply!;
    const readyA = a.receive(overTheWire(authB)).reply!;
    const readyB = b.receive(overTheWire(authA)).reply!;
    const doneA = a.receive(overTheWire(readyB)).done!;
    const doneB = b.receive(overTheWire(readyA)).done!;
    expect(doneA).to.deep.equal({ nodeId: KEY_B.nodeId, publicKey: KEY_B.publicKey, version: P2P_PROTOCOL_VERSION });
    expect(doneB).to.deep.equal({ nodeId: KEY_A.nodeId, publicKey: KEY_A.publicKey, version: P2P_PROTOCOL_VERSION, listenPort: 26656 });
    expect(admitted.sort()).to.deep.equal([KEY_A.nodeId, KEY_B.nodeId].sort());
    // After ready nothing more is a handshake message.
    expect(code(() => a.receive(overTheWire(readyB)))).to.equal(P2pErrorCode.HANDSHAKE_FAILED);
    expect(code(() => a.receive(overTheWire(b.hello())))).to.equal(P2pErrorCode.HANDSHAKE_FAILED);
  });

  it("a fresh nonce per handshake unless one is given", () => {
    const one = new Handshake(local(), { admit: () => {} });
    const two = new Handshake(local(), { admit: () => {} });
    expect(Buffer.from(one.nonce).equals(Buffer.from(two.nonce))).to.equal(false);
    const fixed = new Uint8Array(32).fill(5);
    expect(new Handshake(local(), { admit: () => {}, nonce: fixed }).hello().nonce).to.equal(fixed);
  });

  it("refuses a hello in the order most useful to an operator: version, then chain, then genesis, then key, then id", () => {
    const hello = buildHello(local(KEY_B), new Uint8Array(32));
    const me = local(KEY_A);
    expect(code(() => checkHello({ ...hello, version: 1, chainId: "other", genesisHash: new Uint8Array(32) }, me))).to.equal(P2pErrorCode.WRONG_VERSION);
    expect(code(() => checkHello({ ...hello, chainId: "other", genesisHash: new Uint8Array(32) }, me))).to.equal(P2pErrorCode.WRONG_CHAIN);
    expect(code(() => checkHello({ ...hello, genesisHash: new Uint8Array(32), nodeId: KEY_A.nodeId }, me))).to.equal(P2pErrorCode.WRONG_GENESIS);
    // An uncompressed-prefix key is refused as a handshake failure before its id is compared.
    expect(code(() => checkHello({ ...hello, publicKey: Uint8Array.of(4, ...hello.publicKey.subarray(1)), nodeId: KEY_A.nodeId }, me))).to.equal(P2pErrorCode.HANDSHAKE_FAILED);
    expect(code(() => checkHello({ ...hello, nodeId: KEY_A.nodeId }, me))).to.equal(P2pErrorCode.NODE_ID_MISMATCH);
    // A peer with our own key is ourselves, whatever id we expected.
    expect(code(() => checkHello(buildHello(local(KEY_A), new Uint8Array(32)), me, KEY_B.nodeId))).to.equal(P2pErrorCode.SELF_CONNECTION);
    checkHello(hello, me, KEY_B.nodeId);
  });

  it("decodes a listen port in [1, 65535] and a node id of 40 lowercase hex chars only", () => {
    const hello = buildHello(local(KEY_B, { listenPort: 1 }), new Uint8Array(32)) as unknown as Record<string, CanonicalValue>;
    expect(decodeHandshakeMessage(hello)).to.include({ listenPort: 1 });
    expect(decodeHandshakeMessage({ ...hello, listenPort: 65_535 })).to.include({ listenPort: 65_535 });
    for (const listenPort of [0, 65_536, -1, "80"]) expect(code(() => decodeHandshakeMessage({ ...hello, listenPort } as never))).to.equal(P2pErrorCode.HANDSHAKE_FAILED);
    for (const nodeId of [KEY_B.nodeId.toUpperCase(), KEY_B.nodeId.slice(1), `${KEY_B.nodeId}0`]) {
      expect(code(() => decodeHandshakeMessage({ ...hello, nodeId }))).to.equal(P2pErrorCode.HANDSHAKE_FAILED);
    }
    expect(code(() => decodeHandshakeMessage({ type: "auth", sig: new Uint8Array(63) }))).to.equal(P2pErrorCode.HANDSHAKE_FAILED);
    expect(code(() => decodeHandshakeMessage({ type: "ready", extra: null } as never))).to.equal(P2pErrorCode.HANDSHAKE_FAILED);
  });
});
