/**
 * State sync over p2p: the snapshot channel's server (every node with
 * snapshots answers list, manifest, chunk and light-block requests, one at a
 * time per peer, within a byte budget per peer), and the client a new node
 * runs once, before it starts, to restore the state at a recent height
 * instead of replaying the chain.
 *
 * Client steps: ask every peer for its snapshots; pick the highest height
 * offered by two peers with the same manifest (else the highest offered);
 * trust the header of that height by the light client's skipping
 * verification from genesis, bisecting over headers the peers serve
 * (the node gives the light client, TrustHeader, over a P2pLightBlockSource); fetch the
 * manifest and check that its chunk roots give the header's state root;
 * fetch the chunks from every peer offering the height, a few at a time from
 * each, decompress each (format 2, bounded, in libuv's thread pool), check
 * it against its manifest subtree root and write it. A peer
 * whose block, manifest or chunk does not check is penalised
 * (Penalty.BAD_SNAPSHOT) and not asked again; the chunk is fetched from
 * another peer.
 */
import { randomBytes } from "node:crypto";
import { type Block, type Commit, headerHash } from "../chain/block.js";
import { type CanonicalValue, decodeCanonical } from "../chain/codec.js";
import { type SnapshotManifest, SnapshotError, SnapshotErrorCode, decodeManifest, verifyChunkFile, verifyManifest } from "../chain/snapshot.js";
import type { SnapshotDir, SnapshotRestorer } from "../chain/snapshot-store.js";
import { bytesEqual, fromHex, toHex } from "../crypto/bytes.js";
import { sha256 } from "../crypto/hash.js";
import type { LightBlock } from "../chain/light-block.js";
import { ProofError } from "../chain/proof.js";
import type { ValidatorEntry } from "../chain/validators.js";
import { ValidatorSet, validatorAddress } from "../chain/validator-set.js";
import { Channel } from "./frames.js";
import { Penalty, TokenBucket } from "./limits.js";
import { type Logger, silentLogger } from "../log/logger.js";
import type { P2pNetwork } from "./network.js";
import { type SnapshotMessage, type SnapshotOffer, type WireValidator, MAX_LISTED, decodeSnapshotMessage } from "./snapshot-messages.js";
import { nodeKeyOf } from "./node-key.js";
import { P2pNetwork as Network } from "./network.js";
import type { P2pOptions } from "./options.js";

/** What the snapshot server reads. */
export interface SnapshotSource {
  dir: SnapshotDir;
  getBlock(height: number): Promise<Block | undefined>;
  getCommit(height: number): Promise<Commit | undefined>;
  /** The validator set in force at a height (ChainStore.validatorSetAt); undefined: the genesis set. */
  validatorSetAt?(height: number): Promise<ValidatorEntry[] | undefined>;
  /** The first height whose block and commit the node holds (ChainStore.baseHeight: above 1 on a state-synced node). */
  baseHeight?(): number;
  /** The node's head height: light blocks are served up to it. */
  headHeight?(): number;
}

export interface SnapshotServerOptions {
  /** Requests of one peer waiting to be served; more is flooding (RATE_LIMITED). */
  maxQueuedPerPeer: number;
  /** Bytes served to one peer per second (chunks wait when the budget is spent). */
  bytesPerSecPerPeer: number;
}

export const defaultSnapshotServerOptions: Readonly<SnapshotServerOptions> = Object.freeze({ maxQueuedPerPeer: 16, bytesPerSecPerPeer: 64 * 1024 * 1024 });

/** Answers the snapshot channel from the node's snapshot dir and block store. */
export class SnapshotServer {
  private readonly queues = new Map<string, { depth: number; tail: Promise<void>; budget: TokenBucket }>();
  /** Offers by height, cached until the set of snapshots changes. */
  private offers: { key: string; items: SnapshotOffer[] } | undefined;

  constructor(
    private readonly network: P2pNetwork,
    private readonly source: SnapshotSource,
    private readonly opts: SnapshotServerOptions = defaultSnapshotServerOptions,
    private readonly log: Logger = silentLogger,
    private readonly now: () => number = Date.now,
  ) {}

  onRequest(peerId: string, msg: SnapshotMessage): void {
    let q = this.queues.get(peerId);
    if (!q) {
      q = { depth: 0, tail: Promise.resolve(), budget: new TokenBucket(this.opts.bytesPerSecPerPeer, 2 * this.opts.bytesPerSecPerPeer, this.now) };
      this.queues.set(peerId, q);
    }
    if (q.depth >= this.opts.maxQueuedPerPeer) {
      this.network.reportBad(peerId, `more than ${this.opts.maxQueuedPerPeer} snapshot requests waiting`, Penalty.RATE_LIMITED);
      return;
    }
    q.depth++;
    const queue = q;
    q.tail = q.tail
      .then(() => this.serve(peerId, msg, queue.budget))
      .catch((e) => this.log.warn("serving a snapshot request failed", { peer: peerId, type: msg.type, error: (e as Error).message }))
      .finally(() => queue.depth--);
  }

  onPeerDisconnected(peerId: string): void {
    this.queues.delete(peerId);
  }

  /** Offers of the snapshots on disk, newest first. */
  list(): SnapshotOffer[] {
    const heights = this.source.dir.heights().slice(0, MAX_LISTED);
    const key = heights.join(",");
    if (this.offers?.key === key) return this.offers.items;
    const items: SnapshotOffer[] = [];
    for (const h of heights) {
      const bytes = this.source.dir.manifestBytes(h);
      if (!bytes) continue;
      const m = decodeManifest(decodeCanonical(bytes));
      items.push({ height: h, hash: sha256(bytes), chunks: m.chunks.filter((c) => c.leaves > 0).length, bytes: m.chunks.reduce((s, c) => s + c.bytes, 0) });
    }
    this.offers = { key, items };
    return items;
  }

  private async serve(peerId: string, msg: SnapshotMessage, budget: TokenBucket): Promise<void> {
    if (!this.network.peer(peerId)) return;
    let answer: SnapshotMessage | undefined;
    switch (msg.type) {
      case "listSnapshots":
        answer = { type: "snapshots", items: this.list() };
        break;
      case "getManifest":
        answer = { type: "manifest", height: msg.height, data: (await this.source.dir.readManifestBytes(msg.height)) ?? null };
        break;
      case "getChunk": {
        let data = (await this.source.dir.chunk(msg.height, msg.index)) ?? null;
        if (data && data.length > this.network.opts.maxFrameBytes - 1024) {
          this.log.warn("snapshot chunk too large for one p2p frame; raise maxFrameBytes or snapshots.chunkBits", { height: msg.height, index: msg.index, bytes: data.length });
          data = null;
        }
        if (data) {
          const wait = budget.takeWithDebt(data.length);
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        answer = { type: "chunk", height: msg.height, index: msg.index, data };
        break;
      }
      case "getLightBlock": {
        // Any height this node holds a block and commit for, from its base to its head: a light client bisecting
        // to a snapshot height asks for heights between. Below the base (a state-synced node) there is no block,
        // and the sets the node knows there would be the base's, not that height's: answered null.
        const base = this.source.baseHeight?.() ?? 1;
        const head = this.source.headHeight?.() ?? Number.MAX_SAFE_INTEGER;
        const held = msg.height >= base && msg.height <= head;
        const [block, commit] = held ? await Promise.all([this.source.getBlock(msg.height), this.source.getCommit(msg.height)]) : [undefined, undefined];
        answer = { type: "lightBlock", height: msg.height, block: block && commit ? block : null, commit: block && commit ? commit : null };
        if (block && commit && this.source.validatorSetAt) {
          const [sets, next] = await Promise.all([this.source.validatorSetAt(msg.height), this.source.validatorSetAt(msg.height + 1)]);
          if (sets && next) {
            answer.validators = toWireSet(sets);
            answer.nextValidators = toWireSet(next);
          }
        }
        if (block) {
          // A block with its txs can be large: its bytes count against the same per-peer budget as chunks.
          const wait = budget.takeWithDebt(block.txs.reduce((n, t) => n + t.length, 1024));
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        break;
      }
      default:
        this.network.reportBad(peerId, `unrequested snapshot answer ${msg.type}`, Penalty.REPORTED);
        return;
    }
    this.network.send(peerId, Channel.Snapshot, answer);
  }
}

function setOfWire(ws: readonly WireValidator[]): ValidatorSet {
  return new ValidatorSet(ws.map((w, i) => ({ name: `validator-${i}`, publicKey: w.publicKey, address: validatorAddress(w.publicKey), power: w.power })));
}

function toWireSet(es: readonly ValidatorEntry[]): WireValidator[] {
  return es.map((e) => ({ publicKey: fromHex(e.publicKey, 33), power: e.power }));
}

/** One light-block request to one peer: the answer, or undefined (no answer in time, or the peer is gone). */
export type LightBlockRequest = (peerId: string, height: number) => Promise<Extract<SnapshotMessage, { type: "lightBlock" }> | undefined>;

/**
 * A light client's LightBlockSource (client/trust.ts) over the snapshot
 * channel: `getLightBlock` to the
 * peers offering the snapshot first, then to any other connected peer, the
 * first usable answer wins. Nothing a peer says is trusted: the light
 * client checks every header against the ones it trusts.
 *
 * Charging, as for the rest of state sync: a peer is penalised
 * (`refuse`, Penalty.BAD_SNAPSHOT) only for what no honest peer sends:
 * a block of another height than asked, or a light block the light client
 * refused for another reason than too little trust (a commit that does not
 * name the header, sets the header does not name, a commit its own set did
 * not give, a header that conflicts with or does not link to a header
 * trusted from genesis; under the light client's assumption, fewer than
 * 1/3 faulty in any trusted set, a trusted header is the chain's). Not
 * charged, and the next peer asked: no answer, a null answer (it does not
 * hold that height: pruned, state-synced above it, or an older node that
 * serves snapshot heights only), and an answer without sets whose header
 * names a set other than the genesis set (an older node: a forged and an
 * honest answer look alike without the sets). Too little trust for a skip
 * is never charged: the light client bisects.
 */
export class P2pLightBlockSource {
  /** Which peer sent each light block handed out: a refused one is charged to it. */
  private readonly servedBy = new WeakMap<LightBlock, string>();
  /** The last block handed out at the target height, with its commit (pivots keep only their headers). */
  private targetBlock: { block: Block; commit: Commit } | undefined;
  /** Light blocks asked of peers, for the caller's figures. */
  requests = 0;

  constructor(
    private readonly request: LightBlockRequest,
    /** Peers to ask, best first; called again for every request (refused peers left out). */
    private readonly peers: () => string[],
    private readonly genesisSet: ValidatorSet,
    private readonly refuse: (peerId: string, why: string) => void,
    /** The height the caller is verifying: a header missing there is BAD_HEADER, below it UNTRUSTED_SET. */
    private readonly target: number,
  ) {}

  async lightBlock(height: number): Promise<LightBlock> {
    let withoutSets = 0;
    for (const peer of this.peers()) {
      this.requests++;
      const a = await this.request(peer, height);
      if (!a?.block || !a.commit) continue;
      if (a.block.header.height !== height || a.height !== height) {
        this.refuse(peer, `light block: asked for height ${height}, got ${a.block.header.height}`);
        continue;
      }
      const h = a.block.header;
      let validators: ValidatorSet;
      let nextValidators: ValidatorSet;
      if (a.validators && a.nextValidators) {
        validators = setOfWire(a.validators);
        nextValidators = setOfWire(a.nextValidators);
      } else if (bytesEqual(h.validatorsHash, this.genesisSet.hash) && bytesEqual(h.nextValidatorsHash, this.genesisSet.hash)) {
        // A chain that keeps no set in its state (or an older peer): the header names the genesis set on both sides.
        validators = nextValidators = this.genesisSet;
      } else {
        withoutSets++;
        continue;
      }
      const lb: LightBlock = { header: h, commit: a.commit, validators, nextValidators };
      this.servedBy.set(lb, peer);
      if (height === this.target) this.targetBlock = { block: a.block, commit: a.commit };
      return lb;
    }
    const why = `no peer served the block at height ${height} with its commit${withoutSets ? ` (${withoutSets} sent it without the validator sets it names)` : ""}`;
    if (height === this.target) throw new SnapshotError(SnapshotErrorCode.BAD_HEADER, why);
    throw new SnapshotError(
      SnapshotErrorCode.UNTRUSTED_SET,
      `the header at ${this.target} is not reached from the genesis validators: ${why}, which the light client needs to bisect the validator-set changes; start the node without state sync to replay the chain, or add a peer that holds the chain from genesis`,
    );
  }

  async validatorSet(height: number): Promise<ValidatorSet> {
    return (await this.lightBlock(height)).validators;
  }

  refused(lb: LightBlock, error: ProofError): void {
    const peer = this.servedBy.get(lb);
    if (peer !== undefined) this.refuse(peer, `light block ${lb.header.height}: ${error.message}`);
  }

  /** The block and commit last handed out at `height`, when it is the target height. */
  blockAt(height: number): { block: Block; commit: Commit } | undefined {
    return height === this.target ? this.targetBlock : undefined;
  }
}

/**
 * How state sync trusts the header of a snapshot height: from the headers it
 * trusts (genesis at first), over `source`. The node gives the SDK's light
 * client (skipping verification with bisection, node/state-sync.ts); it
 * returns the trusted header's hash and how many headers it trusted on the
 * way, and throws a ProofError when it cannot.
 */
export type TrustHeader = (source: P2pLightBlockSource, height: number) => Promise<{ hash: Uint8Array; intermediate: number }>;

/**
 * The block and commit at `height`, once `trust` has trusted its header
 * over `source`. A ProofError (every peer's header refused) is BAD_HEADER;
 * SnapshotErrors of `trust` and the source pass through: no peer holds a
 * header needed, or the bisection ran past stateSync.maxLightBlocks
 * (UNTRUSTED_SET, node/state-sync.ts).
 */
export async function verifySnapshotHeight(trust: TrustHeader, source: P2pLightBlockSource, height: number): Promise<{ block: Block; commit: Commit; intermediate: number }> {
  let trusted: { hash: Uint8Array; intermediate: number };
  try {
    trusted = await trust(source, height);
  } catch (e) {
    if (!(e instanceof ProofError)) throw e;
    throw new SnapshotError(SnapshotErrorCode.BAD_HEADER, `block ${height}: ${e.message}`);
  }
  const got = source.blockAt(height);
  if (!got || !bytesEqual(headerHash(got.block.header), trusted.hash)) throw new SnapshotError(SnapshotErrorCode.BAD_HEADER, `block ${height}: the trusted header is not the one fetched`);
  return { ...got, intermediate: trusted.intermediate };
}

export interface StateSyncOptions {
  /** How long to wait for peers and their offers before giving up. */
  discoveryTimeoutMs: number;
  /** After the first offer, how long to wait for more peers' offers. */
  offerWaitMs: number;
  /** One request's answer. */
  requestTimeoutMs: number;
  /** Chunk requests in flight to one peer. */
  chunksInFlightPerPeer: number;
  /** Chunk requests sent to one peer per second: below a default server's snapshot channel budget (200/s), which drops and scores the excess. */
  chunkRequestsPerSecPerPeer: number;
  /** The whole state sync. */
  timeoutMs: number;
  /** Progress lines at most this often (stderr). */
  progressIntervalMs: number;
}

export const defaultStateSyncOptions: Readonly<StateSyncOptions> = Object.freeze({
  discoveryTimeoutMs: 30_000,
  offerWaitMs: 1_500,
  requestTimeoutMs: 20_000,
  chunksInFlightPerPeer: 4,
  chunkRequestsPerSecPerPeer: 150,
  timeoutMs: 3_600_000,
  progressIntervalMs: 1_000,
});

export interface StateSyncProgress {
  chunksDone: number;
  chunksTotal: number;
  bytes: number;
  bytesPerSec: number;
  etaSec: number | undefined;
}

export interface StateSyncDeps {
  /** The validator set of the genesis file: the set a header without sets is taken to name when it names it. */
  genesisSet: ValidatorSet;
  /** Trusts the header of the snapshot height from genesis (the light client; TrustHeader). */
  trustHeader: TrustHeader;
  /** The phase before chunks: "discovering" peers' snapshots, "verifying" the snapshot height's header. */
  phase?(p: "discovering" | "verifying", height?: number): void;
  /** A restorer over the empty store for the chosen manifest. */
  restorer(manifest: SnapshotManifest): SnapshotRestorer;
  log?: Logger;
  /** A progress line (default: none). */
  progress?(p: StateSyncProgress): void;
  now?: () => number;
}

export interface StateSyncResult {
  height: number;
  block: Block;
  commit: Commit;
  manifest: SnapshotManifest;
  chunks: number;
  bytes: number;
  ms: number;
  /** Peers refused for a bad block, manifest or chunk. */
  refusedPeers: string[];
}

type Answer = Extract<SnapshotMessage, { type: "snapshots" | "manifest" | "chunk" | "lightBlock" }>;

interface Pending {
  resolve(a: Answer | undefined): void;
  timer: NodeJS.Timeout;
}

/** The client side of the snapshot channel: requests with answers, and the state sync itself. */
export class StateSyncClient {
  private readonly pending = new Map<string, Pending>();
  private readonly offers = new Map<string, SnapshotOffer[]>();
  private readonly refused = new Set<string>();
  /** Chunks being decompressed, checked or written now, and the workers waiting for a turn (CHUNKS_IN_HAND). */
  private inHand = 0;
  private readonly handWaiters: Array<() => void> = [];
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(
    private readonly network: P2pNetwork,
    private readonly deps: StateSyncDeps,
    readonly opts: StateSyncOptions = defaultStateSyncOptions,
  ) {
    this.log = deps.log ?? silentLogger;
    this.now = deps.now ?? Date.now;
  }

  /** An answer from a peer: settles the matching request, if any. */
  onAnswer(peerId: string, msg: Answer): void {
    if (msg.type === "snapshots") this.offers.set(peerId, msg.items);
    const key = this.keyOf(peerId, msg);
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    clearTimeout(p.timer);
    p.resolve(msg);
  }

  onPeerDisconnected(peerId: string): void {
    this.offers.delete(peerId);
    for (const [key, p] of this.pending) {
      if (key.startsWith(`${peerId}/`)) {
        this.pending.delete(key);
        clearTimeout(p.timer);
        p.resolve(undefined);
      }
    }
  }

  private keyOf(peerId: string, m: { type: string; height?: number; index?: number }): string {
    const kind = m.type === "snapshots" || m.type === "listSnapshots" ? "list" : m.type === "manifest" || m.type === "getManifest" ? "manifest" : m.type === "chunk" || m.type === "getChunk" ? "chunk" : "block";
    return `${peerId}/${kind}/${m.height ?? ""}/${m.index ?? ""}`;
  }

  private request<T extends Answer>(peerId: string, msg: SnapshotMessage): Promise<T | undefined> {
    const key = this.keyOf(peerId, msg);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        resolve(undefined);
      }, this.opts.requestTimeoutMs);
      timer.unref();
      this.pending.get(key)?.resolve(undefined);
      this.pending.set(key, { resolve: resolve as (a: Answer | undefined) => void, timer });
      if (!this.network.send(peerId, Channel.Snapshot, msg)) {
        clearTimeout(timer);
        this.pending.delete(key);
        resolve(undefined);
      }
    });
  }

  private refuse(peerId: string, why: string): void {
    this.refused.add(peerId);
    this.log.warn("state sync: peer refused", { peer: peerId, reason: why });
    this.network.reportBad(peerId, why, Penalty.BAD_SNAPSHOT);
  }

  private livePeers(): string[] {
    return this.network
      .peers()
      .map((p) => p.id)
      .filter((id) => !this.refused.has(id));
  }

  /** Ask every peer for its snapshots until one offers some (or discovery times out), then wait a moment for the others. */
  private async discover(deadline: number): Promise<void> {
    let firstOfferAt: number | undefined;
    while (this.now() < deadline) {
      const peers = this.livePeers();
      await Promise.all(peers.filter((id) => !this.offers.get(id)?.length).map((id) => this.request(id, { type: "listSnapshots" })));
      const offering = [...this.offers.values()].filter((o) => o.length > 0).length;
      if (offering > 0 && firstOfferAt === undefined) firstOfferAt = this.now();
      if (firstOfferAt !== undefined && (this.now() - firstOfferAt >= this.opts.offerWaitMs || offering >= 3)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Heights offered, best first: by more than one peer with the same manifest, then by height. */
  private candidates(): Array<{ height: number; hash: Uint8Array; peers: string[] }> {
    const byKey = new Map<string, { height: number; hash: Uint8Array; peers: string[] }>();
    for (const [peer, items] of this.offers) {
      if (this.refused.has(peer)) continue;
      for (const o of items) {
        const key = `${o.height}/${toHex(o.hash)}`;
        const c = byKey.get(key) ?? { height: o.height, hash: o.hash, peers: [] };
        c.peers.push(peer);
        byKey.set(key, c);
      }
    }
    return [...byKey.values()].sort((a, b) => Number(b.peers.length > 1) - Number(a.peers.length > 1) || b.height - a.height || b.peers.length - a.peers.length);
  }

  /** Run the whole state sync; throws a SnapshotError when no peer's snapshot can be restored. */
  async run(): Promise<StateSyncResult> {
    const started = this.now();
    this.deps.phase?.("discovering");
    await this.discover(started + this.opts.discoveryTimeoutMs);
    let lastError: Error | undefined;
    for (const cand of this.candidates()) {
      try {
        return await this.syncHeight(cand.height, cand.peers, started);
      } catch (e) {
        if (!(e instanceof SnapshotError)) throw e;
        lastError = e;
        this.log.warn("state sync at this height failed; trying another", { height: cand.height, error: e.message });
      }
    }
    throw new SnapshotError(SnapshotErrorCode.SYNC_FAILED, `no peer offered a snapshot that could be restored${lastError ? ` (last: ${lastError.message})` : ""}; peers connected: ${this.network.peers().length}`);
  }

  private async syncHeight(height: number, offeredBy: string[], started: number): Promise<StateSyncResult> {
    const peers = () => offeredBy.filter((p) => !this.refused.has(p) && this.network.peer(p));
    // The header at the height, trusted from genesis by the light client: peers offering the height first, then any other.
    this.deps.phase?.("verifying", height);
    const askable = () => [...peers(), ...this.livePeers().filter((p) => !offeredBy.includes(p))];
    const source = new P2pLightBlockSource(
      (p, h) => this.request<Extract<Answer, { type: "lightBlock" }>>(p, { type: "getLightBlock", height: h }),
      askable,
      this.deps.genesisSet,
      (p, why) => this.refuse(p, `snapshot header ${height}: ${why}`),
      height,
    );
    const { block, commit, intermediate } = await verifySnapshotHeight(this.deps.trustHeader, source, height);
    this.log.info("state sync: snapshot header trusted", { height, intermediateHeaders: intermediate, lightBlockRequests: source.requests });
    // The manifest, checked against the header's state root.
    let manifest: SnapshotManifest | undefined;
    for (const p of peers()) {
      const a = await this.request<Extract<Answer, { type: "manifest" }>>(p, { type: "getManifest", height });
      if (!a?.data) continue;
      try {
        const m = decodeManifest(decodeCanonicalOrThrow(a.data));
        if (m.height !== height) throw new SnapshotError(SnapshotErrorCode.BAD_MANIFEST, `manifest of height ${m.height}, asked for ${height}`);
        verifyManifest(m, block.header.stateRoot);
        manifest = m;
        break;
      } catch (e) {
        if (!(e instanceof SnapshotError)) throw e;
        this.refuse(p, e.message);
      }
    }
    if (!manifest) throw new SnapshotError(SnapshotErrorCode.BAD_MANIFEST, `no peer served a manifest that checks against the state root at ${height}`);
    const restorer = this.deps.restorer(manifest);
    const todo = manifest.chunks.map((c, i) => (c.leaves > 0 ? i : -1)).filter((i) => i >= 0);
    const total = todo.length;
    const totalBytes = manifest.chunks.reduce((s, c) => s + c.bytes, 0);
    let bytes = 0;
    let done = 0;
    const chunkStart = this.now();
    let lastProgress = 0;
    const progress = (force: boolean) => {
      const t = this.now();
      if (!force && t - lastProgress < this.opts.progressIntervalMs) return;
      lastProgress = t;
      const sec = Math.max(0.001, (t - chunkStart) / 1000);
      const rate = bytes / sec;
      this.deps.progress?.({ chunksDone: done, chunksTotal: total, bytes, bytesPerSec: rate, etaSec: rate > 0 ? Math.max(0, totalBytes - bytes) / rate : undefined });
    };
    const queue = [...todo];
    /** Peers whose copy of a chunk did not arrive (no answer, null): try others first. */
    const tried = new Map<number, Set<string>>();
    let writing: Promise<void> = Promise.resolve();
    const deadline = started + this.opts.timeoutMs;
    const pace = new Map<string, TokenBucket>();
    const worker = async (peer: string): Promise<void> => {
      let bucket = pace.get(peer);
      if (!bucket) pace.set(peer, (bucket = new TokenBucket(this.opts.chunkRequestsPerSecPerPeer, this.opts.chunkRequestsPerSecPerPeer, this.now)));
      while (queue.length > 0 && !this.refused.has(peer) && this.network.peer(peer) && this.now() < deadline) {
        const qi = queue.findIndex((i) => !tried.get(i)?.has(peer));
        if (qi < 0) return;
        const index = queue.splice(qi, 1)[0]!;
        const wait = bucket.takeWithDebt(1);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const a = await this.request<Extract<Answer, { type: "chunk" }>>(peer, { type: "getChunk", height, index });
        if (!a?.data) {
          this.log.info("state sync: a chunk was not served; asking another peer", { peer, index, reason: a ? "not held" : "no answer" });
          let t = tried.get(index);
          if (!t) tried.set(index, (t = new Set()));
          t.add(peer);
          queue.push(index);
          if (peers().every((p) => t!.has(p))) t.clear();
          await new Promise((r) => setTimeout(r, a ? 50 : 100));
          continue;
        }
        const file = a.data;
        const refusal = await this.inTurn(async () => {
          let verified;
          try {
            // A compressed chunk is decompressed off the main thread, its output bounded (MAX_CHUNK_DATA_BYTES).
            verified = await verifyChunkFile(manifest!, index, file);
          } catch (e) {
            if (!(e instanceof SnapshotError)) throw e;
            return e;
          }
          const v = verified;
          writing = writing.then(() => restorer.addChunk(index, v.items, v.leaves));
          await writing;
          return undefined;
        });
        if (refusal) {
          queue.push(index);
          this.refuse(peer, refusal.message);
          return;
        }
        bytes += a.data.length;
        done++;
        progress(false);
      }
    };
    while (done < total) {
      const live = peers();
      if (live.length === 0) throw new SnapshotError(SnapshotErrorCode.SYNC_FAILED, `every peer offering height ${height} is gone or refused (${done}/${total} chunks restored)`);
      if (this.now() >= deadline) throw new SnapshotError(SnapshotErrorCode.SYNC_FAILED, `state sync timed out (${done}/${total} chunks restored)`);
      // A chunk every live peer failed to serve is asked of them all again.
      for (const t of tried.values()) if (live.every((p) => t.has(p))) t.clear();
      const before = done;
      const workers: Promise<void>[] = [];
      for (const p of live) for (let k = 0; k < this.opts.chunksInFlightPerPeer; k++) workers.push(worker(p));
      await Promise.all(workers);
      await writing;
      // Nothing moved (every peer failed the chunks left): wait a moment rather than spin.
      if (done === before) await new Promise((r) => setTimeout(r, 200));
    }
    progress(true);
    return { height, block, commit, manifest, chunks: total, bytes, ms: this.now() - started, refusedPeers: [...this.refused] };
  }

  /**
   * Runs `f` (decompress, check and write one chunk) when fewer than
   * CHUNKS_IN_HAND chunks are: however many peers serve chunks at once, a
   * joining node holds at most that many chunks' data, each bounded by
   * MAX_CHUNK_DATA_BYTES.
   */
  private async inTurn<T>(f: () => Promise<T>): Promise<T> {
    while (this.inHand >= CHUNKS_IN_HAND) await new Promise<void>((r) => this.handWaiters.push(r));
    this.inHand++;
    try {
      return await f();
    } finally {
      this.inHand--;
      this.handWaiters.shift()?.();
    }
  }
}

/**
 * Chunks a joining node decompresses, checks and writes at once, whatever
 * the number of peers and chunksInFlightPerPeer: with MAX_CHUNK_DATA_BYTES
 * each, at most 128 MiB of chunk data in hand, even when every peer sends
 * chunk files built to decompress to the bound.
 */
const CHUNKS_IN_HAND = 2;

function decodeCanonicalOrThrow(b: Uint8Array): CanonicalValue {
  try {
    return decodeCanonical(b);
  } catch (e) {
    throw new SnapshotError(SnapshotErrorCode.BAD_MANIFEST, `snapshot manifest: not canonical CBOR: ${(e as Error).message}`);
  }
}

/** Registers the snapshot channel on a node's network: serves snapshots, and routes answers to `client` when given. */
export function registerSnapshotChannel(network: P2pNetwork, server: SnapshotServer | undefined, client?: StateSyncClient): void {
  network.registerChannel<SnapshotMessage>(Channel.Snapshot, {
    decode: decodeSnapshotMessage,
    encode: (m) => m as unknown as CanonicalValue,
    onMessage: (peer, msg) => {
      switch (msg.type) {
        case "listSnapshots":
        case "getManifest":
        case "getChunk":
        case "getLightBlock":
          if (server) server.onRequest(peer.id, msg);
          else if (msg.type === "listSnapshots") network.send(peer.id, Channel.Snapshot, { type: "snapshots", items: [] });
          return;
        default:
          if (client) client.onAnswer(peer.id, msg);
          return;
      }
    },
  });
  network.on("peerDisconnected", (p) => {
    server?.onPeerDisconnected(p.id);
    client?.onPeerDisconnected(p.id);
  });
}

/**
 * Runs state sync on a network of its own (an ephemeral node key, outbound
 * only) to the given peers, and stops it: the node then starts its own
 * network and block-syncs from the snapshot height.
 */
export async function stateSyncFromPeers(
  p2p: Partial<P2pOptions> & { persistentPeers: string[] },
  ids: { chainId: string; genesisHash: Uint8Array },
  deps: StateSyncDeps,
  opts: Partial<StateSyncOptions> = {},
): Promise<StateSyncResult> {
  if (p2p.persistentPeers.length === 0) throw new SnapshotError(SnapshotErrorCode.SYNC_FAILED, "state sync needs peers: set p2p.persistentPeers in node.json or pass --peer");
  const network = new Network({ ...p2p, port: 0, host: "127.0.0.1" }, { chainId: ids.chainId, genesisHash: ids.genesisHash, nodeKey: nodeKeyOf(new Uint8Array(randomBytes(32))), ...(deps.log ? { log: deps.log } : {}) });
  // The peers' other channels (status, txs, votes) are not for this short-lived network: dropped unread, never held against them.
  for (const ch of [Channel.Tx, Channel.Consensus, Channel.Evidence, Channel.BlockSync]) {
    network.registerChannel<CanonicalValue>(ch, { decode: (m) => m, onMessage: () => {} });
  }
  const client = new StateSyncClient(network, deps, { ...defaultStateSyncOptions, ...opts });
  registerSnapshotChannel(network, undefined, client);
  await network.start();
  try {
    return await client.run();
  } finally {
    await network.stop();
  }
}
