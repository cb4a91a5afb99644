/**
 * Block sync: how a node that is behind (new, or back from downtime) gets
 * the committed blocks from its peers before it joins consensus.
 *
 * Server side (BlockSyncServer): tells each peer the range of blocks this
 * node can serve (status, on connect and after each block) and answers
 * getBlocks from an injected BlockSource.
 *
 * Client side (BlockSyncer): knows every peer's range, asks several peers
 * for consecutive ranges at once (pipelined, a bounded window ahead of the
 * applied height), checks each answer's shape and that each commit names
 * its block, and hands blocks strictly in height order to the injected
 * applySyncedBlock, which verifies the commit signatures and header links
 * and stores the block. A block it refuses (a typed error) costs the peer
 * that served it, and its height is fetched from another peer. When the
 * node is within one block of the best peer it signals caughtUp, so the
 * driver can switch to consensus.
 */
import { EventEmitter } from "node:events";
import type { Block, Commit } from "../chain/block.js";
import { encodeBlock, encodeCommit, headerHash } from "../chain/block.js";
import type { CanonicalValue } from "../chain/codec.js";
import { bytesEqual } from "../crypto/bytes.js";
import { CodedError } from "../errors.js";
import { P2pError, P2pErrorCode } from "./errors.js";
import { Channel } from "./frames.js";
import { Penalty } from "./limits.js";
import { type P2pLog, silentLog } from "./log.js";
import type { P2pNetwork } from "./network.js";
import type { PeerInfo } from "./peer.js";
import {
  type BlocksMessage,
  type GetBlocksMessage,
  MAX_BLOCKS_PER_REQUEST,
  type StatusMessage,
  type SyncMessage,
  type SyncedBlock,
  decodeSyncMessage,
} from "./sync-messages.js";

/** The node's committed blocks, as block sync reads them. */
export interface BlockSource {
  /** Height of the last committed block (0 before block 1). */
  head(): number;
  /** Lowest height still served; 1 when absent (nothing is pruned). */
  baseHeight?(): number;
  getBlock(height: number): Promise<Block | undefined> | Block | undefined;
  getCommit(height: number): Promise<Commit | undefined> | Commit | undefined;
}

export interface BlockSyncOptions {
  /** Blocks asked for per getBlocks (at most MAX_BLOCKS_PER_REQUEST). */
  batchSize: number;
  /** getBlocks in flight to one peer at a time. */
  maxRequestsPerPeer: number;
  /** How far beyond the applied height blocks are fetched (bounds the memory held by fetched blocks). */
  windowBlocks: number;
  /** An unanswered getBlocks is given to another peer after this long. */
  requestTimeoutMs: number;
  /** Progress is logged at most this often (the progress event fires for every block). */
  progressLogIntervalMs: number;
  /** Status announcements are sent at most this often (the latest height always goes out). */
  statusIntervalMs: number;
  /** getBlocks from one peer waiting to be served; more is flooding. */
  maxQueuedRequestsPerPeer: number;
  /**
   * Blocks behind the best peer at which sync hands over to consensus. 1
   * leaves the last block to consensus; 0 (a node that lost its height to
   * the peers) fetches every block they announced.
   */
  caughtUpLag: number;
}

export const defaultBlockSyncOptions: Readonly<BlockSyncOptions> = Object.freeze({
  batchSize: 20,
  maxRequestsPerPeer: 2,
  windowBlocks: 400,
  requestTimeoutMs: 15_000,
  progressLogIntervalMs: 5_000,
  statusIntervalMs: 250,
  maxQueuedRequestsPerPeer: 4,
  caughtUpLag: 1,
});

export function resolveBlockSyncOptions(opts: Partial<BlockSyncOptions> = {}): BlockSyncOptions {
  const out = { ...defaultBlockSyncOptions };
  for (const key of Object.keys(defaultBlockSyncOptions) as (keyof BlockSyncOptions)[]) {
    const v = opts[key];
    if (v === undefined) continue;
    const max = key === "batchSize" ? MAX_BLOCKS_PER_REQUEST : 100_000_000;
    const min = key === "caughtUpLag" ? 0 : 1;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new P2pError(P2pErrorCode.BAD_OPTION, `block sync option ${key}: expected an integer in [${min}, ${max}], got ${String(v)}`);
    }
    out[key] = v;
  }
  return out;
}

export interface BlockSyncDeps {
  source: BlockSource;
  /**
   * Verify (commit signatures by the validator set, link to the previous
   * block, ...) and store one block. Throws a typed error (a CodedError)
   * for a bad block, which is blamed on the peer that served it; any other
   * error is a local failure and stops the sync.
   */
  applySyncedBlock(block: Block, commit: Commit): Promise<void>;
  log?: P2pLog;
  /** Clock in ms, for progress figures. */
  now?: () => number;
}

export interface SyncProgress {
  /** Height just applied. */
  height: number;
  /** Best height announced by a peer. */
  target: number;
  /** Blocks applied per second since the sync started. */
  blocksPerSec: number;
  /** Seconds left at that rate (undefined until there is a rate). */
  etaSec: number | undefined;
}

export interface BlockSyncerEvents {
  progress: [progress: SyncProgress];
  caughtUp: [status: { height: number; target: number }];
  /** A local failure (not a peer's): the sync stopped. */
  failed: [error: Error];
}

// ---------------------------------------------------------------- server

export class BlockSyncServer {
  private readonly queues = new Map<string, { depth: number; tail: Promise<void> }>();
  private lastStatusAt = -Infinity;
  private statusTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly network: P2pNetwork,
    private readonly source: BlockSource,
    private readonly opts: BlockSyncOptions,
    private readonly log: P2pLog,
    private readonly now: () => number,
  ) {}

  status(): StatusMessage {
    const height = this.source.head();
    const baseHeight = height === 0 ? 0 : Math.min(height, Math.max(1, this.source.baseHeight?.() ?? 1));
    return { type: "status", height, baseHeight };
  }

  sendStatus(peerId: string): void {
    this.network.send(peerId, Channel.BlockSync, this.status());
  }

  /** Tell every peer the new head; call after each committed block. Throttled, the latest height always goes out. */
  announce(): void {
    if (this.closed || this.statusTimer) return;
    const wait = this.lastStatusAt + this.opts.statusIntervalMs - this.now();
    if (wait <= 0) {
      this.lastStatusAt = this.now();
      this.network.broadcast(Channel.BlockSync, this.status());
      return;
    }
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      this.announce();
    }, wait);
    this.statusTimer.unref();
  }

  onGetBlocks(peerId: string, msg: GetBlocksMessage): void {
    let q = this.queues.get(peerId);
    if (!q) {
      q = { depth: 0, tail: Promise.resolve() };
      this.queues.set(peerId, q);
    }
    if (q.depth >= this.opts.maxQueuedRequestsPerPeer) {
      this.network.reportBad(peerId, `more than ${this.opts.maxQueuedRequestsPerPeer} getBlocks waiting`, Penalty.RATE_LIMITED);
      return;
    }
    q.depth++;
    const queue = q;
    // One request at a time per peer, in order: a peer cannot make this node read many ranges at once.
    q.tail = q.tail
      .then(() => this.serve(peerId, msg))
      .catch((e) => this.log("error", "serving blocks failed", { peer: peerId, from: msg.from, error: (e as Error).message }))
      .finally(() => queue.depth--);
  }

  onPeerDisconnected(peerId: string): void {
    this.queues.delete(peerId);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.statusTimer);
  }

  private async serve(peerId: string, msg: GetBlocksMessage): Promise<void> {
    if (this.closed || !this.network.peer(peerId)) return;
    const head = this.source.head();
    const base = this.status().baseHeight;
    // Room in one frame for the items, less the envelope and the message's own fields.
    const budget = this.network.opts.maxFrameBytes - 1024;
    const items: SyncedBlock[] = [];
    let bytes = 0;
    if (msg.from >= base) {
      for (let h = msg.from; h <= head && items.length < msg.count; h++) {
        const [block, commit] = await Promise.all([this.source.getBlock(h), this.source.getCommit(h)]);
        if (!block || !commit) break;
        const size = encodeBlock(block).length + encodeCommit(commit).length + 32;
        if (bytes + size > budget) {
          if (items.length === 0) this.log("warn", "block too large for one p2p frame; raise maxFrameBytes", { height: h, bytes: size, maxFrameBytes: this.network.opts.maxFrameBytes });
          break;
        }
        items.push({ block, commit });
        bytes += size;
      }
    }
    this.network.send(peerId, Channel.BlockSync, { type: "blocks", from: msg.from, items });
  }
}

// ---------------------------------------------------------------- client

interface PeerRange {
  height: number;
  base: number;
}

interface BlockRequest {
  peerId: string;
  from: number;
  count: number;
  timer: NodeJS.Timeout;
}

interface Fetched extends SyncedBlock {
  peerId: string;
}

export class BlockSyncer extends EventEmitter<BlockSyncerEvents> {
  private syncing = false;
  private applying = false;
  private readonly ranges = new Map<string, PeerRange>();
  /** In-flight getBlocks, by `${peerId}/${from}`. */
  private readonly requests = new Map<string, BlockRequest>();
  private readonly inflightByPeer = new Map<string, number>();
  /** Heights asked for and not yet answered -> the peer asked. */
  private readonly pending = new Map<number, string>();
  /** Fetched, not yet applied. */
  private readonly fetched = new Map<number, Fetched>();
  /** Peers whose copy of a height was refused: ask someone else. */
  private readonly avoid = new Map<number, Set<string>>();
  private nextHeight = 1;
  private startedAt = 0;
  private appliedCount = 0;
  private lastLogAt = 0;

  constructor(
    private readonly network: P2pNetwork,
    private readonly deps: BlockSyncDeps,
    private readonly opts: BlockSyncOptions,
    private readonly onApplied: () => void,
    private readonly log: P2pLog,
    private readonly now: () => number,
  ) {
    super();
  }

  /** Start fetching from peers; caughtUp fires once the node is within one block of the best peer. */
  start(): void {
    if (this.syncing) return;
    this.syncing = true;
    this.nextHeight = this.deps.source.head() + 1;
    this.startedAt = this.now();
    this.lastLogAt = this.startedAt;
    this.appliedCount = 0;
    this.log("info", "block sync started", { height: this.nextHeight - 1, target: this.bestPeerHeight() });
    this.tick();
  }

  /** Stop fetching (blocks already being applied finish). */
  stop(): void {
    this.syncing = false;
    this.dropAllRequests();
    this.fetched.clear();
    this.avoid.clear();
  }

  isSyncing(): boolean {
    return this.syncing;
  }

  /** Highest height any connected peer announced (undefined before any status). */
  bestPeerHeight(): number | undefined {
    let best: number | undefined;
    for (const r of this.ranges.values()) if (best === undefined || r.height > best) best = r.height;
    return best;
  }

  /** Each connected peer's announced range. */
  peerHeights(): Map<string, { height: number; baseHeight: number }> {
    return new Map([...this.ranges].map(([id, r]) => [id, { height: r.height, baseHeight: r.base }]));
  }

  onStatus(peerId: string, msg: StatusMessage): void {
    this.ranges.set(peerId, { height: msg.height, base: msg.baseHeight });
    this.tick();
  }

  onBlocks(peerId: string, msg: BlocksMessage): void {
    const key = `${peerId}/${msg.from}`;
    const req = this.requests.get(key);
    if (!req) {
      // A late answer to a request that timed out or was dropped when sync ended: harmless.
      this.log("debug", "unrequested blocks ignored", { peer: peerId, from: msg.from, items: msg.items.length });
      return;
    }
    this.finishRequest(key, req);
    if (msg.items.length > req.count) {
      this.network.reportBad(peerId, `answered getBlocks for ${req.count} blocks with ${msg.items.length}`, Penalty.REPORTED);
      this.tick();
      return;
    }
    // Cheap checks before anything is kept: each item is the block asked for, with a commit naming its hash.
    const bad = msg.items.findIndex((item, i) => {
      const h = req.from + i;
      return item.block.header.height !== h || item.commit.height !== h || !bytesEqual(item.commit.blockHash, headerHash(item.block.header));
    });
    if (bad >= 0) {
      this.network.reportBad(peerId, `blocks from ${req.from}: item ${bad} is not block ${req.from + bad} with a commit for its hash`, Penalty.BAD_BLOCK);
      this.tick();
      return;
    }
    for (let i = 0; i < msg.items.length; i++) {
      const h = req.from + i;
      if (h >= this.nextHeight && !this.fetched.has(h)) this.fetched.set(h, { ...msg.items[i]!, peerId });
    }
    if (msg.items.length < req.count) {
      // The peer has fewer blocks than it announced (or pruned them): believe the answer until it announces again.
      const range = this.ranges.get(peerId);
      const has = req.from + msg.items.length - 1;
      if (range && range.height > has) range.height = has;
    }
    this.tick();
  }

  onPeerDisconnected(peerId: string): void {
    this.ranges.delete(peerId);
    for (const [key, req] of this.requests) if (req.peerId === peerId) this.finishRequest(key, req);
    this.tick();
  }

  private finishRequest(key: string, req: BlockRequest): void {
    clearTimeout(req.timer);
    this.requests.delete(key);
    this.inflightByPeer.set(req.peerId, (this.inflightByPeer.get(req.peerId) ?? 1) - 1);
    for (let h = req.from; h < req.from + req.count; h++) if (this.pending.get(h) === req.peerId) this.pending.delete(h);
  }

  private dropAllRequests(): void {
    for (const req of this.requests.values()) clearTimeout(req.timer);
    this.requests.clear();
    this.inflightByPeer.clear();
    this.pending.clear();
  }

  /** Decide the next step: apply what is in order, declare caught up, or ask for more. */
  private tick(): void {
    if (!this.syncing || this.applying) return;
    if (this.fetched.has(this.nextHeight)) {
      void this.applyInOrder();
      return;
    }
    const best = this.bestPeerHeight();
    if (best === undefined) return;
    // Requests in flight may still bring the last block; wait for them rather than chase a moving target.
    if (this.nextHeight - 1 >= best - this.opts.caughtUpLag && this.requests.size === 0) {
      this.finishCaughtUp(best);
      return;
    }
    this.requestMissing(best);
  }

  private requestMissing(best: number): void {
    const limit = Math.min(best, this.nextHeight - 1 + this.opts.windowBlocks);
    let h = this.nextHeight;
    while (h <= limit) {
      if (this.fetched.has(h) || this.pending.has(h)) {
        h++;
        continue;
      }
      const peerId = this.pickPeer(h);
      if (peerId === undefined) {
        h++;
        continue;
      }
      const peerTop = Math.min(limit, this.ranges.get(peerId)!.height);
      let count = 0;
      while (count < this.opts.batchSize && h + count <= peerTop && !this.fetched.has(h + count) && !this.pending.has(h + count) && !this.avoid.get(h + count)?.has(peerId)) count++;
      const msg: GetBlocksMessage = { type: "getBlocks", from: h, count };
      if (!this.network.send(peerId, Channel.BlockSync, msg)) {
        this.ranges.delete(peerId);
        continue;
      }
      const key = `${peerId}/${h}`;
      const timer = setTimeout(() => this.onRequestTimeout(key), this.opts.requestTimeoutMs);
      timer.unref();
      this.requests.set(key, { peerId, from: h, count, timer });
      this.inflightByPeer.set(peerId, (this.inflightByPeer.get(peerId) ?? 0) + 1);
      for (let i = 0; i < count; i++) this.pending.set(h + i, peerId);
      h += count;
    }
  }

  /** The least busy peer that can serve height h and has not served a refused copy of it. */
  private pickPeer(h: number): string | undefined {
    const eligible = [...this.ranges].filter(([, r]) => r.base <= h && r.height >= h);
    let avoided = this.avoid.get(h);
    if (avoided && eligible.every(([id]) => avoided!.has(id))) {
      // Every peer that has the height served a refused copy: give them another chance rather than stall.
      this.avoid.delete(h);
      avoided = undefined;
    }
    let choice: string | undefined;
    let load = this.opts.maxRequestsPerPeer;
    for (const [id] of eligible) {
      const inflight = this.inflightByPeer.get(id) ?? 0;
      if (!avoided?.has(id) && inflight < load) {
        choice = id;
        load = inflight;
      }
    }
    return choice;
  }

  private onRequestTimeout(key: string): void {
    const req = this.requests.get(key);
    if (!req) return;
    this.finishRequest(key, req);
    this.log("info", "getBlocks timed out; asking another peer", { peer: req.peerId, from: req.from, count: req.count });
    this.network.reportBad(req.peerId, `getBlocks ${req.from}+${req.count} unanswered after ${this.opts.requestTimeoutMs} ms`, Penalty.TIMEOUT);
    this.tick();
  }

  private async applyInOrder(): Promise<void> {
    this.applying = true;
    try {
      while (this.syncing) {
        // Blocks may have been added by someone else (the node committed one): skip what is already there.
        const head = this.deps.source.head();
        if (head >= this.nextHeight) {
          for (let h = this.nextHeight; h <= head; h++) this.fetched.delete(h);
          this.nextHeight = head + 1;
        }
        const h = this.nextHeight;
        const item = this.fetched.get(h);
        if (!item) break;
        this.fetched.delete(h);
        try {
          await this.deps.applySyncedBlock(item.block, item.commit);
        } catch (e) {
          if (!(e instanceof CodedError)) {
            this.log("error", "block sync stopped: applying a block failed locally", { height: h, error: (e as Error).message });
            this.stop();
            this.emit("failed", e as Error);
            return;
          }
          this.refuse(h, item.peerId, e);
          continue;
        }
        this.nextHeight = h + 1;
        this.avoid.delete(h);
        this.appliedCount++;
        this.onApplied();
        this.reportProgress(h);
      }
    } finally {
      this.applying = false;
    }
    this.tick();
  }

  /** A block the chain refused: blame its server, forget everything else it sent, fetch the height elsewhere. */
  private refuse(h: number, peerId: string, e: CodedError): void {
    this.log("warn", "synced block refused; fetching it from another peer", { height: h, peer: peerId, code: e.code, error: e.message });
    this.network.reportBad(peerId, `block ${h} refused: ${e.code}: ${e.message}`, Penalty.BAD_BLOCK);
    let avoided = this.avoid.get(h);
    if (!avoided) this.avoid.set(h, (avoided = new Set()));
    avoided.add(peerId);
    for (const [fh, f] of this.fetched) if (f.peerId === peerId) this.fetched.delete(fh);
  }

  private reportProgress(height: number): void {
    const t = this.now();
    const target = Math.max(this.bestPeerHeight() ?? height, height);
    const elapsedSec = (t - this.startedAt) / 1000;
    const blocksPerSec = elapsedSec > 0 ? this.appliedCount / elapsedSec : 0;
    const etaSec = blocksPerSec > 0 ? (target - height) / blocksPerSec : undefined;
    this.emit("progress", { height, target, blocksPerSec, etaSec });
    if (t - this.lastLogAt >= this.opts.progressLogIntervalMs) {
      this.lastLogAt = t;
      this.log("info", "syncing blocks", { height, target, blocksPerSec: Math.round(blocksPerSec * 10) / 10, etaSec: etaSec === undefined ? undefined : Math.ceil(etaSec) });
    }
  }

  private finishCaughtUp(target: number): void {
    const height = this.nextHeight - 1;
    this.syncing = false;
    this.dropAllRequests();
    this.fetched.clear();
    this.avoid.clear();
    this.log("info", "block sync caught up", { height, target, blocks: this.appliedCount });
    this.emit("caughtUp", { height, target });
  }
}

// ---------------------------------------------------------------- wiring

/**
 * Block sync on a network: registers channel 4, routes its messages to the
 * server and the syncer, and sends this node's status to each new peer.
 */
export class BlockSync {
  readonly server: BlockSyncServer;
  readonly syncer: BlockSyncer;
  readonly opts: BlockSyncOptions;
  private readonly onConnected: (p: PeerInfo) => void;
  private readonly onDisconnected: (p: PeerInfo) => void;

  constructor(
    private readonly network: P2pNetwork,
    deps: BlockSyncDeps,
    opts: Partial<BlockSyncOptions> = {},
  ) {
    this.opts = resolveBlockSyncOptions(opts);
    const log = deps.log ?? silentLog;
    const now = deps.now ?? Date.now;
    this.server = new BlockSyncServer(network, deps.source, this.opts, log, now);
    this.syncer = new BlockSyncer(network, deps, this.opts, () => this.server.announce(), log, now);
    network.registerChannel<SyncMessage>(Channel.BlockSync, {
      decode: decodeSyncMessage,
      encode: (m) => m as unknown as CanonicalValue,
      onMessage: (peer, msg) => {
        switch (msg.type) {
          case "status":
            return this.syncer.onStatus(peer.id, msg);
          case "getBlocks":
            return this.server.onGetBlocks(peer.id, msg);
          case "blocks":
            return this.syncer.onBlocks(peer.id, msg);
        }
      },
    });
    this.onConnected = (p) => this.server.sendStatus(p.id);
    this.onDisconnected = (p) => {
      this.server.onPeerDisconnected(p.id);
      this.syncer.onPeerDisconnected(p.id);
    };
    network.on("peerConnected", this.onConnected);
    network.on("peerDisconnected", this.onDisconnected);
    // Peers connected before block sync was attached learn our status now.
    for (const p of network.peers()) this.onConnected(p);
  }

  /** Tell peers about a block committed outside the syncer (by consensus). */
  announce(): void {
    this.server.announce();
  }

  isSyncing(): boolean {
    return this.syncer.isSyncing();
  }

  close(): void {
    this.syncer.stop();
    this.server.close();
    this.network.off("peerConnected", this.onConnected);
    this.network.off("peerDisconnected", this.onDisconnected);
  }
}
