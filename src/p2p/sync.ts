/**
 * Block sync: how a node that is behind (new, or back from downtime) gets
 * the committed blocks from its peers before it joins consensus.
 *
 * Server side (BlockSyncServer, sync-server.ts): tells each peer the range
 * of blocks this node can serve (status, on connect and after each block)
 * and answers getBlocks from an injected BlockSource.
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
 *
 * A peer's status is a claim, not a proof. A peer proves a height by
 * serving that block with a commit that verifies against the validator set
 * of the height (deps.verifyCommit): by a probe (one block, asked of a peer
 * that claims more than this node has) or by the blocks sync applies.
 * provenHeight() is what consensus may act on. A peer that claims a range
 * and then serves none of it (an empty answer, no answer) has its claim cut
 * below the failed height for a while and is penalised, more each time it
 * fails again without serving in between (three in a row ban it); a peer
 * that serves a block with a bad commit is penalised at once. A sync always
 * ends: with every claim reached or cut, or, when it was asked to reach a
 * proven target, once the target is reached and what is still in flight
 * is late.
 */
import { EventEmitter } from "node:events";
import type { Block, Commit } from "../chain/block.js";
import { headerHash } from "../chain/block.js";
import type { CanonicalValue } from "../chain/codec.js";
import { bytesEqual } from "../crypto/bytes.js";
import { CodedError } from "../errors.js";
import { P2pError, P2pErrorCode } from "./errors.js";
import { Channel } from "./frames.js";
import { Penalty } from "./limits.js";
import { type Logger, silentLogger } from "../log/logger.js";
import type { P2pNetwork } from "./network.js";
import type { PeerInfo } from "./peer.js";
import { type BlockSource, BlockSyncServer } from "./sync-server.js";
import {
  type BlocksMessage,
  type GetBlocksMessage,
  MAX_BLOCKS_PER_REQUEST,
  type StatusMessage,
  type SyncMessage,
  type SyncedBlock,
  decodeSyncMessage,
} from "./sync-messages.js";

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
  /** An unanswered probe (one block, to check a peer's claim) fails after this long. */
  probeTimeoutMs: number;
  /** Least time between two probes of one peer. */
  probeIntervalMs: number;
  /** A status claiming this many blocks or more beyond this node's head is probed unasked. */
  probeAheadBlocks: number;
  /** How long a failed claim stays cut below the height the peer could not serve. */
  claimCutMs: number;
  /** With a proven target reached, requests in flight for longer than this do not hold the sync open. */
  targetGraceMs: number;
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
  probeTimeoutMs: 5_000,
  probeIntervalMs: 2_000,
  probeAheadBlocks: 3,
  claimCutMs: 30_000,
  targetGraceMs: 1_000,
});

/**
 * Penalty for a claimed range a peer did not serve (an empty answer, or none
 * in time), doubled for each further failure with no block served between:
 * 25, 50, 100, so the third in a row reaches the default ban threshold.
 */
export const CLAIM_NOT_SERVED_PENALTY = 25;

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
  /**
   * Whether `commit` proves `block` decided: it names the block and carries
   * a quorum of the set of the block's height. Undefined when that set is not
   * known here (no proof either way). Without it, probes prove nothing.
   */
  verifyCommit?(block: Block, commit: Commit): Promise<boolean | undefined>;
  log?: Logger;
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
  /** The sync ended, however (caught up, failed, stopped). */
  ended: [status: { height: number; reason: "caughtUp" | "failed" | "stopped" }];
  /** A peer proved a height (probe or applied block). */
  proven: [status: { peerId: string; height: number }];
}

// ---------------------------------------------------------------- client

interface PeerRange {
  /** The height the peer last announced. */
  claimed: number;
  base: number;
  /** Highest height it proved (served with a commit that verified); 0 before. */
  proven: number;
  /** Its claim cut below a height it failed to serve, until `cutUntil`. */
  cut?: number;
  cutUntil?: number;
  /** Failures to serve a claimed range since it last served a block. */
  strikes: number;
  lastProbeAt: number;
}

interface BlockRequest {
  peerId: string;
  from: number;
  count: number;
  timer: NodeJS.Timeout;
  sentAt: number;
  /** A probe: one block to check a claim, not part of a sync. */
  probe?: true;
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
  /** A proven height this sync must reach before it may end early (catching up); undefined: every claim. */
  private target: number | undefined;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly network: P2pNetwork,
    private readonly deps: BlockSyncDeps,
    private readonly opts: BlockSyncOptions,
    private readonly onApplied: () => void,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    super();
  }

  /**
   * Start fetching from peers; caughtUp fires once the node is within
   * caughtUpLag of the best claim still standing. With `target` (a height a
   * peer proved), the sync may also end once the head reaches it and the
   * requests still in flight are late (targetGraceMs): a claim beyond the
   * proven height cannot hold consensus off for longer.
   */
  start(opts: { target?: number } = {}): void {
    if (this.syncing) return;
    this.syncing = true;
    this.target = opts.target;
    this.nextHeight = this.deps.source.head() + 1;
    this.startedAt = this.now();
    this.lastLogAt = this.startedAt;
    this.appliedCount = 0;
    this.log.info("block sync started", { height: this.nextHeight - 1, target: this.bestPeerHeight() ?? null, provenTarget: this.target ?? null, peers: this.ranges.size });
    this.tick();
  }

  /** Stop fetching (blocks already being applied finish). */
  stop(): void {
    const was = this.syncing;
    this.syncing = false;
    this.dropAllRequests(false);
    this.fetched.clear();
    this.avoid.clear();
    clearTimeout(this.graceTimer);
    if (was) this.emit("ended", { height: this.deps.source.head(), reason: "stopped" });
  }

  isSyncing(): boolean {
    return this.syncing;
  }

  /** A peer's claim as this node credits it: the announced height, cut while a failure to serve stands. */
  private claimOf(r: PeerRange): number {
    if (r.cut !== undefined && r.cutUntil !== undefined) {
      if (this.now() < r.cutUntil) return Math.max(r.proven, Math.min(r.claimed, r.cut));
      r.cut = r.cutUntil = undefined;
    }
    return r.claimed;
  }

  /** Highest height a connected peer claims (undefined before any status). A claim, not a proof. */
  bestPeerHeight(): number | undefined {
    let best: number | undefined;
    for (const r of this.ranges.values()) {
      const c = this.claimOf(r);
      if (best === undefined || c > best) best = c;
    }
    return best;
  }

  /** Highest height a connected peer proved (served with a commit that verified); undefined when none did. */
  provenHeight(): number | undefined {
    let best: number | undefined;
    for (const r of this.ranges.values()) if (r.proven > 0 && (best === undefined || r.proven > best)) best = r.proven;
    return best;
  }

  /** Each connected peer's announced range (as credited) and proven height. */
  peerHeights(): Map<string, { height: number; baseHeight: number; proven: number }> {
    return new Map([...this.ranges].map(([id, r]) => [id, { height: this.claimOf(r), baseHeight: r.base, proven: r.proven }]));
  }

  onStatus(peerId: string, msg: StatusMessage): void {
    const r = this.ranges.get(peerId);
    if (r) {
      r.claimed = msg.height;
      r.base = msg.baseHeight;
    } else {
      this.ranges.set(peerId, { claimed: msg.height, base: msg.baseHeight, proven: 0, strikes: 0, lastProbeAt: -Infinity });
    }
    // A claim far beyond this node's head is checked at once: consensus never acts on it, but a liar should pay for it.
    if (!this.syncing && msg.height >= this.deps.source.head() + this.opts.probeAheadBlocks) this.probe(peerId, this.deps.source.head() + 1);
    this.tick();
  }

  /**
   * Have a peer that claims `height` prove it: one block, with its commit
   * checked against the height's set. Does nothing when a peer already
   * proved it, or every claimer is being probed or was probed lately.
   */
  requestProof(height: number): void {
    if (this.syncing) return;
    for (const r of this.ranges.values()) if (r.proven >= height) return;
    for (const [id, r] of this.ranges) {
      if (this.claimOf(r) >= height && this.probe(id, height)) return;
    }
  }

  /** Ask `peerId` for block `height` alone; false when it may not be probed now. */
  private probe(peerId: string, height: number): boolean {
    const r = this.ranges.get(peerId);
    // The announced claim, not the credited one: a peer that claims again what it failed to serve is asked again (and pays again).
    if (!r || !this.deps.verifyCommit || r.proven >= height || r.claimed < height || r.base > height) return false;
    if (this.now() - r.lastProbeAt < this.opts.probeIntervalMs || this.requests.has(`${peerId}/${height}`)) return false;
    if ([...this.requests.values()].some((q) => q.peerId === peerId && q.probe)) return false;
    r.lastProbeAt = this.now();
    return this.sendRequest(peerId, height, 1, true);
  }

  private sendRequest(peerId: string, from: number, count: number, probe: boolean): boolean {
    const msg: GetBlocksMessage = { type: "getBlocks", from, count };
    if (!this.network.send(peerId, Channel.BlockSync, msg)) {
      this.ranges.delete(peerId);
      return false;
    }
    const key = `${peerId}/${from}`;
    const timer = setTimeout(() => this.onRequestTimeout(key), probe ? this.opts.probeTimeoutMs : this.opts.requestTimeoutMs);
    timer.unref();
    this.requests.set(key, { peerId, from, count, timer, sentAt: this.now(), ...(probe ? { probe: true as const } : {}) });
    this.inflightByPeer.set(peerId, (this.inflightByPeer.get(peerId) ?? 0) + 1);
    if (!probe) for (let i = 0; i < count; i++) this.pending.set(from + i, peerId);
    return true;
  }

  onBlocks(peerId: string, msg: BlocksMessage): void {
    const key = `${peerId}/${msg.from}`;
    const req = this.requests.get(key);
    if (!req) {
      // A late answer to a request that timed out or was dropped when sync ended: harmless.
      this.log.debug("unrequested blocks ignored", { peer: peerId, from: msg.from, items: msg.items.length });
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
    if (msg.items.length === 0) {
      // Asked only for what it claimed: it claimed what it cannot serve.
      this.claimFailed(peerId, req.from, `announced height ${this.ranges.get(peerId)?.claimed ?? "?"} but served nothing from ${req.from}`);
      this.tick();
      return;
    }
    if (req.probe) {
      void this.checkProbe(peerId, msg.items[0]!);
      return;
    }
    for (let i = 0; i < msg.items.length; i++) {
      const h = req.from + i;
      if (h >= this.nextHeight && !this.fetched.has(h)) this.fetched.set(h, { ...msg.items[i]!, peerId });
    }
    if (msg.items.length < req.count) {
      // Fewer than asked (a frame holds only so many blocks): ask for the rest again.
      this.log.debug("fewer blocks than asked", { peer: peerId, from: req.from, asked: req.count, got: msg.items.length });
    }
    this.tick();
  }

  private async checkProbe(peerId: string, item: SyncedBlock): Promise<void> {
    const h = item.block.header.height;
    let ok: boolean | undefined;
    try {
      ok = await this.deps.verifyCommit!(item.block, item.commit);
    } catch (e) {
      this.log.warn("checking a probed commit failed locally", { peer: peerId, height: h, error: (e as Error).message });
      return;
    }
    if (ok === false) {
      this.network.reportBad(peerId, `block ${h} served with a commit that does not verify against the set of its height`, Penalty.BAD_BLOCK);
    } else if (ok === true) {
      this.markProven(peerId, h);
    }
    this.tick();
  }

  private markProven(peerId: string, h: number): void {
    const r = this.ranges.get(peerId);
    if (!r) return;
    r.strikes = 0;
    if (h <= r.proven) return;
    r.proven = h;
    this.emit("proven", { peerId, height: h });
  }

  /** A peer did not serve a height within its claim: cut the claim below it for a while, and penalise (more each time in a row). */
  private claimFailed(peerId: string, height: number, reason: string): void {
    const r = this.ranges.get(peerId);
    if (!r) return;
    r.cut = Math.max(r.proven, height - 1);
    r.cutUntil = this.now() + this.opts.claimCutMs;
    r.strikes++;
    const penalty = CLAIM_NOT_SERVED_PENALTY * 2 ** Math.min(r.strikes - 1, 4);
    this.log.info("a peer did not serve the blocks it claimed; its claim is cut", { peer: peerId, height, claimed: r.claimed, cutTo: r.cut, strikes: r.strikes });
    this.network.reportBad(peerId, `claim not served: ${reason}`, penalty);
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
    if (!req.probe) for (let h = req.from; h < req.from + req.count; h++) if (this.pending.get(h) === req.peerId) this.pending.delete(h);
  }

  /** Drop the sync's requests (and the probes too when `probes`). */
  private dropAllRequests(probes: boolean): void {
    for (const [key, req] of this.requests) if (probes || !req.probe) this.finishRequest(key, req);
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
    const head = this.nextHeight - 1;
    const syncRequests = [...this.requests.values()].filter((q) => !q.probe);
    if (best === undefined) {
      // No peer left to ask. Catching up, consensus is waiting: hand back. (A node's first sync waits for peers.)
      if (this.target !== undefined) this.finishCaughtUp(head);
      return;
    }
    // Requests in flight may still bring the last block; wait for them rather than chase a moving target.
    if (head >= best - this.opts.caughtUpLag && syncRequests.length === 0) {
      this.finishCaughtUp(best);
      return;
    }
    if (this.target !== undefined && head >= this.target) {
      // The proven target is reached: what is still in flight may follow it for a moment, but may not hold consensus off.
      const t = this.now();
      const fresh = syncRequests.filter((q) => t - q.sentAt < this.opts.targetGraceMs);
      if (fresh.length === 0) {
        this.finishCaughtUp(best);
        return;
      }
      clearTimeout(this.graceTimer);
      this.graceTimer = setTimeout(() => this.tick(), Math.max(1, Math.min(...fresh.map((q) => q.sentAt + this.opts.targetGraceMs - t))));
      this.graceTimer.unref();
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
      const peerTop = Math.min(limit, this.claimOf(this.ranges.get(peerId)!));
      let count = 0;
      while (count < this.opts.batchSize && h + count <= peerTop && !this.fetched.has(h + count) && !this.pending.has(h + count) && !this.avoid.get(h + count)?.has(peerId)) count++;
      if (!this.sendRequest(peerId, h, count, false)) continue;
      h += count;
    }
  }

  /** The least busy peer that can serve height h and has not served a refused copy of it. */
  private pickPeer(h: number): string | undefined {
    const eligible = [...this.ranges].filter(([, r]) => r.base <= h && this.claimOf(r) >= h);
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
    const ms = req.probe ? this.opts.probeTimeoutMs : this.opts.requestTimeoutMs;
    this.log.info("getBlocks timed out; asking another peer", { peer: req.peerId, from: req.from, count: req.count });
    this.claimFailed(req.peerId, req.from, `getBlocks ${req.from}+${req.count} unanswered after ${ms} ms`);
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
            this.log.error("block sync stopped: applying a block failed locally", { height: h, error: (e as Error).message });
            this.syncing = false;
            this.dropAllRequests(false);
            this.fetched.clear();
            this.avoid.clear();
            this.emit("failed", e as Error);
            this.emit("ended", { height: this.deps.source.head(), reason: "failed" });
            return;
          }
          this.refuse(h, item.peerId, e);
          continue;
        }
        this.nextHeight = h + 1;
        this.avoid.delete(h);
        this.appliedCount++;
        this.markProven(item.peerId, h);
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
    this.log.warn("synced block refused; fetching it from another peer", { height: h, peer: peerId, code: e.code, error: e.message });
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
      this.log.info("syncing blocks", { height, target, blocksPerSec: Math.round(blocksPerSec * 10) / 10, etaSec: etaSec === undefined ? undefined : Math.ceil(etaSec) });
    }
  }

  private finishCaughtUp(target: number): void {
    const height = this.nextHeight - 1;
    this.syncing = false;
    this.dropAllRequests(false);
    this.fetched.clear();
    this.avoid.clear();
    clearTimeout(this.graceTimer);
    this.log.info("block sync caught up", { height, target, blocks: this.appliedCount });
    this.emit("caughtUp", { height, target });
    this.emit("ended", { height, reason: "caughtUp" });
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
    const log = deps.log ?? silentLogger;
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
