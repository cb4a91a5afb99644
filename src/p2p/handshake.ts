/**
 * The authenticated handshake, run by both sides of one connection at once:
 *
 *   1. each side sends hello {version, chainId, genesisHash, nodeId, publicKey, nonce, listenPort?}
 *   2. on the peer's hello, each side checks it and sends auth {sig}: a
 *      signature over handshakeDigest(chainId, genesisHash, peer's nonce,
 *      own nonce, own public key)
 *   3. on the peer's auth, each side verifies it, admits the peer (ban,
 *      duplicate and limit checks) and sends ready {}
 *   4. the handshake is done when the peer's ready arrives.
 *
 * Signing the peer's fresh nonce proves possession of the key now (no
 * replay of an old handshake); the chain id and genesis hash in the digest
 * keep a signature from serving on another network (invariant 2). Each side
 * sends its frames in this order, so the peer's ready always comes after
 * its auth, and admission has been decided before ready is answered.
 *
 * The handshake authenticates node ids; it does not encrypt the connection
 * or bind later frames to the key (that would take a key exchange).
 *
 * This class holds the state and the rules only; peer.ts drives it over
 * a socket.
 */
import type { CanonicalValue } from "../chain/codec.js";
import { encodeCanonical } from "../chain/codec.js";
import { bytesEqual, toHex } from "../crypto/bytes.js";
import { sha256 } from "../crypto/hash.js";
import { secp, signDigest, verifyDigest } from "../crypto/secp256k1.js";
import { NODE_ID_RE } from "./address.js";
import { P2pError, P2pErrorCode } from "./errors.js";
import { type NodeKey, nodeIdOf } from "./node-key.js";
import { WireCheck } from "./validate.js";

/** Version of the p2p protocol (frames, handshake, channels); peers must speak the same one. 2: channel 1 carries tx batches. */
export const P2P_PROTOCOL_VERSION = 2;
export const HANDSHAKE_DOMAIN = "sid/p2p/handshake/v1";
export const NONCE_BYTES = 32;
/** A handshake frame is a few hundred bytes; anything larger before the handshake is refused unread. */
export const MAX_HANDSHAKE_FRAME_BYTES = 1024;

export interface LocalIdentity {
  chainId: string;
  genesisHash: Uint8Array;
  nodeKey: NodeKey;
  /** Announced so an inbound peer's listen address is known (for redial and later peer exchange). */
  listenPort?: number;
}

export interface HelloMessage {
  type: "hello";
  version: number;
  chainId: string;
  genesisHash: Uint8Array;
  nodeId: string;
  publicKey: Uint8Array;
  nonce: Uint8Array;
  listenPort?: number;
}

export interface AuthMessage {
  type: "auth";
  sig: Uint8Array;
}

export interface ReadyMessage {
  type: "ready";
}

export type HandshakeMessage = HelloMessage | AuthMessage | ReadyMessage;

/** Who the peer proved to be. */
export interface RemoteIdentity {
  nodeId: string;
  publicKey: Uint8Array;
  version: number;
  listenPort?: number;
}

/** The digest a side signs: its own public key, both nonces, bound to the chain and genesis. */
export function handshakeDigest(chainId: string, genesisHash: Uint8Array, peerNonce: Uint8Array, ownNonce: Uint8Array, ownPublicKey: Uint8Array): Uint8Array {
  return sha256(encodeCanonical([HANDSHAKE_DOMAIN, chainId, genesisHash, peerNonce, ownNonce, ownPublicKey]));
}

export function buildHello(local: LocalIdentity, nonce: Uint8Array): HelloMessage {
  return {
    type: "hello",
    version: P2P_PROTOCOL_VERSION,
    chainId: local.chainId,
    genesisHash: local.genesisHash,
    nodeId: local.nodeKey.nodeId,
    publicKey: local.nodeKey.publicKey,
    nonce,
    ...(local.listenPort !== undefined ? { listenPort: local.listenPort } : {}),
  };
}

const check = new WireCheck(P2pErrorCode.HANDSHAKE_FAILED);

/** Shape checks of a handshake message (validateBasic); no protocol rules yet. */
export function decodeHandshakeMessage(m: CanonicalValue): HandshakeMessage {
  const type = check.record(m, "handshake message", ["type"], ["version", "chainId", "genesisHash", "nodeId", "publicKey", "nonce", "listenPort", "sig"]).type;
  switch (type) {
    case "hello": {
      const r = check.record(m, "hello", ["type", "version", "chainId", "genesisHash", "nodeId", "publicKey", "nonce"], ["listenPort"]);
      const hello: HelloMessage = {
        type: "hello",
        version: check.int(r.version, "hello.version", 0, 0xffff),
        chainId: check.string(r.chainId, "hello.chainId", 64),
        genesisHash: check.bytes(r.genesisHash, "hello.genesisHash", 32),
        nodeId: check.string(r.nodeId, "hello.nodeId", 40),
        publicKey: check.bytes(r.publicKey, "hello.publicKey", 33),
        nonce: check.bytes(r.nonce, "hello.nonce", NONCE_BYTES),
      };
      if (!NODE_ID_RE.test(hello.nodeId)) throw check.fail("hello.nodeId", "expected 40 lowercase hex chars");
      if (r.listenPort !== undefined) hello.listenPort = check.int(r.listenPort, "hello.listenPort", 1, 65535);
      return hello;
    }
    case "auth": {
      const r = check.record(m, "auth", ["type", "sig"]);
      return { type: "auth", sig: check.bytes(r.sig, "auth.sig", 64) };
    }
    case "ready":
      check.record(m, "ready", ["type"]);
      return { type: "ready" };
    default:
      throw check.fail("handshake message", `unknown type ${JSON.stringify(type)?.slice(0, 32)}`);
  }
}

/** Protocol rules for a peer's hello, in the order a refusal is most useful to the operator. */
export function checkHello(hello: HelloMessage, local: LocalIdentity, expectedNodeId?: string): void {
  if (hello.version !== P2P_PROTOCOL_VERSION) {
    throw new P2pError(P2pErrorCode.WRONG_VERSION, `peer speaks p2p version ${hello.version}, this node ${P2P_PROTOCOL_VERSION}`);
  }
  if (hello.chainId !== local.chainId) {
    throw new P2pError(P2pErrorCode.WRONG_CHAIN, `peer is on chain ${JSON.stringify(hello.chainId)}, this node on ${JSON.stringify(local.chainId)}`);
  }
  if (!bytesEqual(hello.genesisHash, local.genesisHash)) {
    throw new P2pError(P2pErrorCode.WRONG_GENESIS, `peer has genesis ${toHex(hello.genesisHash).slice(0, 16)}…, this node ${toHex(local.genesisHash).slice(0, 16)}…`);
  }
  if ((hello.publicKey[0] !== 2 && hello.publicKey[0] !== 3) || !secp.isValidPublicKey(hello.publicKey)) {
    throw new P2pError(P2pErrorCode.HANDSHAKE_FAILED, "hello.publicKey is not a compressed secp256k1 point");
  }
  if (nodeIdOf(hello.publicKey) !== hello.nodeId) {
    throw new P2pError(P2pErrorCode.NODE_ID_MISMATCH, `peer claims node id ${hello.nodeId} but its key gives ${nodeIdOf(hello.publicKey)}`);
  }
  if (hello.nodeId === local.nodeKey.nodeId) throw new P2pError(P2pErrorCode.SELF_CONNECTION, "connected to itself");
  if (expectedNodeId !== undefined && hello.nodeId !== expectedNodeId) {
    throw new P2pError(P2pErrorCode.UNEXPECTED_NODE_ID, `expected node ${expectedNodeId}, peer is ${hello.nodeId}`);
  }
}

export interface HandshakeOptions {
  /** Refuse any other peer (from a "nodeId@host:port" address). */
  expectedNodeId?: string;
  /** Called once the peer's key is proven, before ready is sent; throws a P2pError to refuse the peer. */
  admit(remote: RemoteIdentity): void;
  /** Fixed nonce for tests; fresh random bytes otherwise. */
  nonce?: Uint8Array;
}

/** What to do after a handshake message: send a reply, and/or the handshake is done. */
export interface HandshakeStep {
  reply?: HandshakeMessage;
  done?: RemoteIdentity;
}

type State = "awaitHello" | "awaitAuth" | "awaitReady" | "done";

export class Handshake {
  readonly nonce: Uint8Array;
  private state: State = "awaitHello";
  private peerHello: HelloMessage | undefined;

  constructor(
    private readonly local: LocalIdentity,
    private readonly opts: HandshakeOptions,
  ) {
    this.nonce = opts.nonce ?? crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  }

  /** The first frame, sent as soon as the connection opens. */
  hello(): HelloMessage {
    return buildHello(this.local, this.nonce);
  }

  /** Feed one decoded handshake message; throws a P2pError that should close the connection. */
  receive(m: CanonicalValue): HandshakeStep {
    const msg = decodeHandshakeMessage(m);
    const expected = this.state === "awaitHello" ? "hello" : this.state === "awaitAuth" ? "auth" : this.state === "awaitReady" ? "ready" : "nothing";
    if (msg.type !== expected) throw new P2pError(P2pErrorCode.HANDSHAKE_FAILED, `expected ${expected}, got ${msg.type}`);
    switch (msg.type) {
      case "hello": {
        checkHello(msg, this.local, this.opts.expectedNodeId);
        this.peerHello = msg;
        this.state = "awaitAuth";
        const digest = handshakeDigest(this.local.chainId, this.local.genesisHash, msg.nonce, this.nonce, this.local.nodeKey.publicKey);
        return { reply: { type: "auth", sig: signDigest(digest, this.local.nodeKey.secretKey) } };
      }
      case "auth": {
        const peer = this.peerHello!;
        const digest = handshakeDigest(this.local.chainId, this.local.genesisHash, this.nonce, peer.nonce, peer.publicKey);
        if (!verifyDigest(msg.sig, digest, peer.publicKey)) {
          throw new P2pError(P2pErrorCode.BAD_SIGNATURE, `handshake signature of ${peer.nodeId} does not verify`);
        }
        this.opts.admit(this.remote());
        this.state = "awaitReady";
        return { reply: { type: "ready" } };
      }
      case "ready":
        this.state = "done";
        return { done: this.remote() };
    }
  }

  private remote(): RemoteIdentity {
    const h = this.peerHello!;
    return { nodeId: h.nodeId, publicKey: h.publicKey, version: h.version, ...(h.listenPort !== undefined ? { listenPort: h.listenPort } : {}) };
  }
}
