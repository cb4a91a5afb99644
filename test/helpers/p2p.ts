/**
 * Helpers for the p2p tests: networks on 127.0.0.1 port 0, a raw peer that
 * speaks the wire protocol by hand (so tests can break its rules), waits
 * bounded by a deadline, and a chain of real blocks and commits.
 */
import type { EventEmitter } from "node:events";
import WebSocket from "ws";
import { type Block, type Commit, ZERO_HASH, commitHash, headerHash, txMerkleRoot } from "../../src/chain/block.js";
import type { CanonicalValue } from "../../src/chain/codec.js";
import { BlockErrorCode, ChainError, TxErrorCode } from "../../src/chain/errors.js";
import { bytesEqual } from "../../src/crypto/bytes.js";
import { randomKeyPair, type KeyPair } from "../../src/crypto/hd.js";
import { signDigest } from "../../src/crypto/secp256k1.js";
import { ValidatorSet } from "../../src/chain/validator-set.js";
import { VoteStep, verifyCommit, voteSigningDigest } from "../../src/chain/vote.js";
import { Channel, decodeFrame, encodeFrame, type Frame } from "../../src/p2p/frames.js";
import { Handshake, type HandshakeMessage, type LocalIdentity } from "../../src/p2p/handshake.js";
import { type LogLevel, loggerOf } from "../../src/log/logger.js";
import { type NodeKey, nodeKeyOf } from "../../src/p2p/node-key.js";
import { P2pNetwork, type ChannelHandler } from "../../src/p2p/network.js";
import type { P2pOptions } from "../../src/p2p/options.js";
import type { PeerInfo } from "../../src/p2p/peer.js";
import type { BlockSource } from "../../src/p2p/sync-server.js";
import { CHAIN_ID, hex } from "./fixtures.js";


export const GENESIS_HASH = new Uint8Array(32).fill(0x11);

export function freshNodeKey(): NodeKey {
  return nodeKeyOf(randomKeyPair().secretKey);
}

export interface LogLine {
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

/** A started network on 127.0.0.1:0 with its log lines kept. */
export async function startNetwork(
  opts: Partial<P2pOptions> = {},
  over: { chainId?: string; genesisHash?: Uint8Array; nodeKey?: NodeKey } = {},
): Promise<{ net: P2pNetwork; logs: LogLine[]; address: string }> {
  const logs: LogLine[] = [];
  const net = new P2pNetwork(
    { host: "127.0.0.1", port: 0, handshakeTimeoutMs: 2_000, redialBaseMs: 20, redialMaxMs: 200, ...opts },
    {
      chainId: over.chainId ?? CHAIN_ID,
      genesisHash: over.genesisHash ?? GENESIS_HASH,
      nodeKey: over.nodeKey ?? freshNodeKey(),
      log: loggerOf((level, msg, fields) => logs.push({ level, msg, fields })),
    },
  );
  await net.start();
  return { net, logs, address: `127.0.0.1:${net.listenPort}` };
}

/** Txs seen by one network's tx channel handler. */
export interface TxInbox {
  received: { from: string; tx: string }[];
}

/**
 * A bytes channel with auto gossip and a small bound on channel 1, for the
 * network's own gossip tests (a node's tx channel carries batches: TxGossip,
 * tested in tx-gossip.test.ts).
 */
export function registerTxChannel(net: P2pNetwork, accept: (tx: Uint8Array) => boolean = () => true): TxInbox {
  const inbox: TxInbox = { received: [] };
  const handler: ChannelHandler<Uint8Array> = {
    decode(m) {
      if (!(m instanceof Uint8Array) || m.length === 0 || m.length > 32 * 1024) throw new ChainError(TxErrorCode.DECODE, "tx must be 1..32768 bytes");
      return m;
    },
    onMessage(peer, tx) {
      inbox.received.push({ from: peer.id, tx: hex(tx) });
      return accept(tx);
    },
    maxMessageBytes: 40 * 1024,
    gossip: "auto",
  };
  net.registerChannel(Channel.Tx, handler);
  return inbox;
}

/** Resolves on the first `event` whose arguments pass `pred`. */
export function nextEvent<A extends unknown[]>(em: EventEmitter, event: string, pred: (...args: A) => boolean = () => true): Promise<A> {
  return new Promise((resolve) => {
    const on = (...args: unknown[]) => {
      if (!pred(...(args as A))) return;
      em.off(event, on);
      resolve(args as A);
    };
    em.on(event, on);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `cond` every 10 ms; fail after `maxPolls` (a deadline for failure, not a speed assertion). */
export async function eventually(cond: () => boolean, what: string, maxPolls = 800): Promise<void> {
  for (let i = 0; i < maxPolls; i++) {
    if (cond()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/** Connect a to b and wait until both see each other. */
export async function connect(a: P2pNetwork, b: P2pNetwork): Promise<PeerInfo> {
  const seen = nextEvent<[PeerInfo]>(b, "peerConnected", (p) => p.id === a.nodeId);
  const info = await a.dial(`127.0.0.1:${b.listenPort}`);
  await seen;
  return info;
}

export interface RawPeerOptions {
  chainId?: string;
  genesisHash?: Uint8Array;
  nodeKey?: NodeKey;
  /** Rewrite an outgoing handshake message (to forge it). */
  tamper?: (m: HandshakeMessage) => HandshakeMessage;
  /** Complete the handshake but, instead of sending ready, close the socket once the node's ready arrives. */
  withholdReady?: boolean;
  /** Connect but take no part in the handshake (handshake timeout). */
  silent?: boolean;
  autoPong?: boolean;
}

/**
 * A peer that speaks the wire protocol by hand over a plain ws client, so
 * a test can send what a sid node never would.
 */
export class RawPeer {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves true when the handshake completed, false if the connection closed first. */
  readonly handshaken: Promise<boolean>;
  readonly nodeKey: NodeKey;

  private constructor(
    readonly ws: WebSocket,
    opts: RawPeerOptions,
  ) {
    this.nodeKey = opts.nodeKey ?? freshNodeKey();
    const local: LocalIdentity = { chainId: opts.chainId ?? CHAIN_ID, genesisHash: opts.genesisHash ?? GENESIS_HASH, nodeKey: this.nodeKey };
    const hs = new Handshake(local, { admit: () => {} });
    const tamper = opts.tamper ?? ((m) => m);
    const sendHs = (m: HandshakeMessage) => ws.send(encodeFrame(Channel.Handshake, tamper(m) as unknown as CanonicalValue));
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on("error", () => {});
    this.handshaken = new Promise((resolve) => {
      let done = false;
      ws.on("close", () => resolve(done));
      ws.on("open", () => {
        if (!opts.silent) sendHs(hs.hello());
      });
      ws.on("message", (data: Buffer) => {
        if (opts.silent) return;
        const frame = decodeFrame(new Uint8Array(data));
        if (done) {
          this.frames.push(frame);
          return;
        }
        let step;
        try {
          step = hs.receive(frame.m);
        } catch {
          return; // the raw peer's own checks are not under test: let the node under test decide
        }
        if (step.reply && !(opts.withholdReady && step.reply.type === "ready")) sendHs(step.reply);
        if (step.done && opts.withholdReady) {
          ws.close();
          return;
        }
        if (step.done) {
          done = true;
          resolve(true);
        }
      });
    });
  }

  static connect(port: number, opts: RawPeerOptions = {}): RawPeer {
    return new RawPeer(new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false, autoPong: opts.autoPong ?? true }), opts);
  }

  get nodeId(): string {
    return this.nodeKey.nodeId;
  }

  sendBytes(bytes: Uint8Array | string, binary = true): void {
    this.ws.send(bytes, { binary });
  }

  sendFrame(ch: number, m: CanonicalValue): void {
    this.ws.send(encodeFrame(ch, m));
  }
}

// ---------------------------------------------------------------- a real chain

export interface TestChain {
  chainId: string;
  genesisHash: Uint8Array;
  validators: ValidatorSet;
  blocks: Block[];
  commits: Commit[];
}

/** Commit `blockHash` at height/round 0 with the given validator keys (precommit signatures). */
export function signCommit(chainId: string, height: number, blockHash: Uint8Array, keys: readonly KeyPair[], set: ValidatorSet): Commit {
  const digest = voteSigningDigest({ chainId, height, round: 0, step: VoteStep.Precommit, blockHash });
  return {
    height,
    round: 0,
    blockHash,
    sigs: keys.map((k) => ({ validator: set.validators.find((v) => bytesEqual(v.publicKey, k.publicKey))!.address, sig: signDigest(digest, k.secretKey) })),
  };
}

/**
 * `n` empty blocks linked from GENESIS_HASH, each committed by the first
 * `signers` of `keys` (3 of 4 validators of power 10 is a quorum).
 */
export function buildChain(n: number, keys: readonly KeyPair[], signers = keys.length): TestChain {
  const validators = ValidatorSet.fromGenesis(keys.map((k, i) => ({ name: `v${i}`, publicKey: hex(k.publicKey), power: 10 })));
  const blocks: Block[] = [];
  const commits: Commit[] = [];
  let prevHash: Uint8Array = GENESIS_HASH;
  let lastCommit: Commit | null = null;
  for (let height = 1; height <= n; height++) {
    const block: Block = {
      header: {
        chainId: CHAIN_ID,
        height,
        time: 1_767_225_600_000 + height * 1000,
        prevHash,
        txRoot: txMerkleRoot([]),
        evidenceHash: ZERO_HASH,
        stateRoot: new Uint8Array(32).fill(0x22),
        validatorsHash: validators.hash,
        nextValidatorsHash: validators.hash,
        proposer: validators.validators[height % keys.length]!.address,
        lastCommitHash: lastCommit ? commitHash(lastCommit) : ZERO_HASH,
      },
      txs: [],
      evidence: [],
      lastCommit,
    };
    const hash = headerHash(block.header);
    const commit = signCommit(CHAIN_ID, height, hash, keys.slice(0, signers), validators);
    blocks.push(block);
    commits.push(commit);
    prevHash = hash;
    lastCommit = commit;
  }
  return { chainId: CHAIN_ID, genesisHash: GENESIS_HASH, validators, blocks, commits };
}

/**
 * An in-memory chain: the BlockSource a server reads, and the verifying
 * applySyncedBlock a syncing node uses (commit quorum, header links).
 */
export class MemoryChain implements BlockSource {
  readonly blocks: Block[] = [];
  readonly commits: Commit[] = [];
  readonly applied: number[] = [];
  /** Heights whose served commit is replaced (a peer that serves bad data). */
  readonly serveInstead = new Map<number, Commit>();
  /** Blocks read by peers (getBlock calls). */
  served = 0;

  constructor(
    readonly chainId: string,
    readonly genesisHash: Uint8Array,
    readonly validators: ValidatorSet,
  ) {}

  static from(chain: TestChain, upTo = chain.blocks.length): MemoryChain {
    const m = new MemoryChain(chain.chainId, chain.genesisHash, chain.validators);
    m.blocks.push(...chain.blocks.slice(0, upTo));
    m.commits.push(...chain.commits.slice(0, upTo));
    return m;
  }

  head(): number {
    return this.blocks.length;
  }

  getBlock(h: number): Block | undefined {
    this.served++;
    return this.blocks[h - 1];
  }

  getCommit(h: number): Commit | undefined {
    return this.serveInstead.get(h) ?? this.commits[h - 1];
  }

  async applySyncedBlock(block: Block, commit: Commit): Promise<void> {
    const h = this.blocks.length + 1;
    const bad = (why: string) => new ChainError(BlockErrorCode.INVALID_BLOCK, `block ${block.header.height}: ${why}`);
    if (block.header.height !== h) throw bad(`expected height ${h}`);
    if (block.header.chainId !== this.chainId) throw bad("wrong chain id");
    const prev = h === 1 ? this.genesisHash : headerHash(this.blocks[h - 2]!.header);
    if (!bytesEqual(block.header.prevHash, prev)) throw bad("does not link to the previous block");
    if (!bytesEqual(block.header.lastCommitHash, commitHash(block.lastCommit))) throw bad("lastCommitHash does not match lastCommit");
    if (!bytesEqual(commit.blockHash, headerHash(block.header)) || !verifyCommit(this.chainId, commit, this.validators)) {
      throw bad("commit does not carry a quorum of valid signatures for this block");
    }
    this.blocks.push(block);
    this.commits.push(commit);
    this.applied.push(h);
  }
}
