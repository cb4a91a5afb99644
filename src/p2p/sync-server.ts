/**
 * Block sync, server side: tells each peer the range of blocks this node can
 * serve (status, on connect and after each block, throttled) and answers
 * getBlocks from a BlockSource, one request at a time per peer and within one
 * p2p frame. The client side (sync.ts) fetches and applies.
 */
import type { Block, Commit } from "../chain/block.js";
import { encodeBlock, encodeCommit } from "../chain/block.js";
import { Channel } from "./frames.js";
import { Penalty } from "./limits.js";
import type { Logger } from "../log/logger.js";
import type { P2pNetwork } from "./network.js";
import type { GetBlocksMessage, StatusMessage, SyncedBlock } from "./sync-messages.js";

/** The node's committed blocks, as block sync reads them. */
export interface BlockSource {
  /** Height of the last committed block (0 before block 1). */
  head(): number;
  /** Lowest height still served; 1 when absent (nothing is pruned). */
  baseHeight?(): number;
  getBlock(height: number): Promise<Block | undefined> | Block | undefined;
  getCommit(height: number): Promise<Commit | undefined> | Commit | undefined;
}

/** The block sync options the server reads (BlockSyncOptions has them). */
export interface BlockSyncServerOptions {
  /** Status announcements are sent at most this often (the latest height always goes out). */
  statusIntervalMs: number;
  /** getBlocks from one peer waiting to be served; more is flooding. */
  maxQueuedRequestsPerPeer: number;
}

export class BlockSyncServer {
  private readonly queues = new Map<string, { depth: number; tail: Promise<void> }>();
  private lastStatusAt = -Infinity;
  private statusTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly network: P2pNetwork,
    private readonly source: BlockSource,
    private readonly opts: BlockSyncServerOptions,
    private readonly log: Logger,
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
      .catch((e) => this.log.error("serving blocks failed", { peer: peerId, from: msg.from, error: (e as Error).message }))
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
          if (items.length === 0) this.log.warn("block too large for one p2p frame; raise maxFrameBytes", { height: h, bytes: size, maxFrameBytes: this.network.opts.maxFrameBytes });
          break;
        }
        items.push({ block, commit });
        bytes += size;
      }
    }
    this.network.send(peerId, Channel.BlockSync, { type: "blocks", from: msg.from, items });
  }
}
