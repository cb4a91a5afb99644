/**
 * Tx gossip on channel 1. Txs travel in batches: one frame carries up to
 * MAX_TX_BATCH encoded txs, so the per-frame work (CBOR envelope, the
 * network's frame hash, one WebSocket message and one socket write) is paid
 * once per batch and peer rather than once per tx and peer.
 *
 * Each peer has a queue of txs to send, flushed as one frame when it holds a
 * full batch or after `txFlushDelayMs`. Dedupe is per tx: a bounded LRU of tx
 * hash -> the connections that have the tx (they sent it to us, or we sent
 * it to them). A tx is never queued for a connection that has it, leaves a
 * queue when that peer sends it first, and a tx seen before is not admitted
 * again (one sha256 and a lookup, no decode).
 * The channel is registered with "manual" gossip: the network still drops
 * copies of whole frames, and this module alone decides what to relay.
 *
 * Inbound txs are the lowest priority work of a node. A received batch is
 * charged to its peer's budgets (txs and bytes per second) and its new txs
 * wait in that peer's bounded inbound queue; a scheduler takes them in turn
 * from every peer's queue, a slice per event-loop turn, while fewer than
 * `txAdmissionsInFlight` admissions run, each charged to the peer's
 * signature-check budget. Socket reads (consensus, block sync) run between
 * slices, so a flood of txs delays a vote by one slice at most. Txs beyond a
 * budget or a full queue are dropped and the peer is scored for it.
 */
import { LRUCache } from "lru-cache";
import type { CanonicalValue } from "../chain/codec.js";
import { MAX_ANY_TX_BYTES, txHash } from "../chain/tx.js";
import { toHex } from "../crypto/bytes.js";
import { P2pErrorCode } from "./errors.js";
import { Penalty, TxBudget, type TxBudgetOverrun } from "./limits.js";
import { Channel } from "./frames.js";
import type { Logger } from "../log/logger.js";
import type { P2pNetwork } from "./network.js";
import type { PeerInfo } from "./peer.js";
import { WireCheck } from "./validate.js";

/** Most txs in one batch frame: enough for a few ms of a loaded node's txs, small enough that a batch is cheap to admit in one turn. */
export const MAX_TX_BATCH = 256;

/** Most encoded tx bytes in one batch (1 MiB): a full batch of the largest txs splits over several frames. */
export const MAX_TX_BATCH_BYTES = 1024 * 1024;

/**
 * Largest batch frame: the tx bytes, at most 5 bytes of CBOR header per tx
 * (a byte string shorter than 2^32), and the envelope `{ch, m}` with the
 * array header (10 bytes; 16 allowed).
 */
export const MAX_TX_BATCH_FRAME_BYTES = MAX_TX_BATCH_BYTES + 5 * MAX_TX_BATCH + 16;

const check = new WireCheck(P2pErrorCode.INVALID_MESSAGE);

/**
 * The tx channel's wire form: an array of 1..MAX_TX_BATCH byte strings, each
 * one encoded tx of 1..MAX_ANY_TX_BYTES bytes, MAX_TX_BATCH_BYTES at most in all.
 * Anything else is an invalid message (the peer is scored for it). Only the
 * shape is checked here; each tx is decoded by admission.
 */
export function decodeTxBatch(m: CanonicalValue): Uint8Array[] {
  const items = check.array(m, "tx batch", MAX_TX_BATCH);
  if (items.length === 0) throw check.fail("tx batch", "expected at least one tx");
  let total = 0;
  for (let i = 0; i < items.length; i++) {
    const tx = check.bytes(items[i], `tx batch[${i}]`);
    if (tx.length === 0 || tx.length > MAX_ANY_TX_BYTES) throw check.fail(`tx batch[${i}]`, `expected 1..${MAX_ANY_TX_BYTES} bytes, got ${tx.length}`);
    total += tx.length;
  }
  if (total > MAX_TX_BATCH_BYTES) throw check.fail("tx batch", `expected at most ${MAX_TX_BATCH_BYTES} tx bytes in all, got ${total}`);
  return items as Uint8Array[];
}

/**
 * A refusal that is the sending peer's fault whatever this node's state (a
 * malformed tx, one for another chain, a bad signature no state can make
 * good): the peer is scored for it as for any invalid message.
 */
export interface TxFault {
  fault: string;
  /** Points the peer loses; Penalty.INVALID_MESSAGE when absent. */
  penalty?: number;
}

/**
 * Admission of a tx that arrived by gossip: true when admitted (it is then
 * relayed), false when refused for a reason that may be no fault of the
 * peer (the tx lost a race with a block or another tx of its signer), a
 * TxFault when it is.
 */
export type TxAdmit = (encoded: Uint8Array, from: PeerInfo) => Promise<boolean | TxFault>;

export interface TxGossipDeps {
  admit: TxAdmit;
}

/** Running totals, for tests and metrics. */
export interface TxGossipCounters {
  batchesIn: number;
  txsIn: number;
  /** Txs received that had been seen before (from any peer): dropped before admission. */
  duplicatesIn: number;
  admitted: number;
  refused: number;
  batchesOut: number;
  txsOut: number;
  /** Txs queued for a peer and never sent: it disconnected first, or the network refused the frame (a peer too slow is dropped). */
  txsDropped: number;
  /** Txs taken out of a peer's queue before the flush because that peer sent them to us meanwhile. */
  relaysSaved: number;
  /** Txs received and dropped unadmitted: beyond the sender's budgets, its full inbound queue, or its disconnection. */
  overBudget: number;
  /** Times a peer overran a budget (each scored). */
  overruns: number;
}

/** Most tx bytes waiting for admission per peer: two full batches. */
export const MAX_INBOUND_TX_BYTES = 2 * MAX_TX_BATCH_BYTES;

/** Admissions started per event-loop turn: a slice short enough that a consensus message waits for one at most. */
export const ADMISSION_SLICE = 64;

/**
 * Admissions of one peer's txs in flight at once. A forger is judged (and
 * banned) on its first few txs; this bounds how many more of its txs are
 * being checked by then. Enough for an honest relay: admissions take a few
 * ms, so 32 at once pass thousands of txs per second.
 */
export const MAX_ADMISSIONS_PER_PEER = 32;

interface InboundTx {
  key: string;
  encoded: Uint8Array;
  /** The dedupe entry made when the tx was queued; removed again when the tx is dropped unadmitted. */
  have: Set<number>;
}

/** The txs waiting to go to one connected peer. */
interface PeerQueue {
  /** New for each connection, so what a peer had before it reconnected does not count as known now. */
  readonly token: number;
  /** Tx hash (hex) -> encoded tx, in queue order; keyed so that a tx the peer sends us meanwhile leaves the queue. */
  txs: Map<string, Uint8Array>;
  bytes: number;
  /** Received txs waiting for admission, oldest first, and their bytes. */
  inbound: InboundTx[];
  inboundBytes: number;
  budget: TxBudget;
  info: PeerInfo;
  /** Its txs in admission now. */
  admitting: number;
}

export class TxGossip {
  readonly counters: TxGossipCounters = {
    batchesIn: 0,
    txsIn: 0,
    duplicatesIn: 0,
    admitted: 0,
    refused: 0,
    batchesOut: 0,
    txsOut: 0,
    txsDropped: 0,
    relaysSaved: 0,
    overBudget: 0,
    overruns: 0,
  };

  private readonly admit: TxAdmit;
  private readonly log: Logger;
  private readonly flushDelayMs: number;
  /** Tx bytes per frame, so that the frame fits the channel's bound on this network. */
  private readonly batchBytes: number;
  /** Tx hash (hex) -> tokens of the connections that have the tx. */
  private readonly known: LRUCache<string, Set<number>>;
  /** Connected peers by node id. */
  private readonly queues = new Map<string, PeerQueue>();
  private nextToken = 1;
  private flushTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private inFlight = 0;
  private pumpScheduled = false;
  /** Round-robin position over the peers' inbound queues. */
  private turn = 0;
  private closed = false;
  private readonly onConnected = (peer: PeerInfo) => this.addPeer(peer);
  private readonly onDisconnected = (peer: PeerInfo) => this.dropPeer(peer.id);

  /** Registers channel 1 on `network` (before it starts) and follows its peers. */
  constructor(
    private readonly network: P2pNetwork,
    deps: TxGossipDeps,
  ) {
    this.admit = deps.admit;
    this.log = network.log;
    this.flushDelayMs = network.opts.txFlushDelayMs;
    this.batchBytes = Math.min(MAX_TX_BATCH_BYTES, network.opts.maxFrameBytes - (MAX_TX_BATCH_FRAME_BYTES - MAX_TX_BATCH_BYTES));
    this.known = new LRUCache({ max: network.opts.seenCacheSize });
    network.registerChannel<Uint8Array[]>(Channel.Tx, {
      gossip: "manual",
      maxMessageBytes: MAX_TX_BATCH_FRAME_BYTES,
      decode: decodeTxBatch,
      onMessage: (peer, txs) => this.receive(peer, txs),
    });
    network.on("peerConnected", this.onConnected);
    network.on("peerDisconnected", this.onDisconnected);
    for (const p of network.peers()) this.addPeer(p);
  }

  /** Send a tx this node admitted itself (RPC) to every peer that does not have it; the number of peers it was queued for. */
  submit(encoded: Uint8Array): number {
    if (this.closed) return 0;
    const key = toHex(txHash(encoded));
    let have = this.known.get(key);
    if (!have) {
      have = new Set();
      this.known.set(key, have);
    }
    return this.relay(key, encoded, have);
  }

  /** Txs waiting to be sent to a peer; undefined for a peer not connected. */
  queuedFor(peerId: string): number | undefined {
    return this.queues.get(peerId)?.txs.size;
  }

  /** True while a flush is scheduled. */
  get flushPending(): boolean {
    return this.flushTimer !== undefined;
  }

  /** Received txs of a peer waiting for admission; undefined for a peer not connected. */
  inboundFor(peerId: string): number | undefined {
    return this.queues.get(peerId)?.inbound.length;
  }

  /** Gossiped txs in admission now. */
  get admissionsInFlight(): number {
    return this.inFlight;
  }

  /** No tx queued for any peer or for admission, and no admission in flight: nothing more will be sent until new txs come. */
  get idle(): boolean {
    return this.inFlight === 0 && this.queuesEmpty();
  }

  /** Stop sending and relaying (the node is stopping); queued txs are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.network.off("peerConnected", this.onConnected);
    this.network.off("peerDisconnected", this.onDisconnected);
    for (const id of [...this.queues.keys()]) this.dropPeer(id);
    this.cancelFlush();
  }

  // ---- internals ----

  private receive(peer: PeerInfo, txs: Uint8Array[]): void {
    if (this.closed) return;
    // Frames come only from connected peers; one from a peer just dropped is dropped with it.
    const from = this.queues.get(peer.id);
    this.counters.batchesIn++;
    this.counters.txsIn += txs.length;
    if (!from) {
      this.counters.overBudget += txs.length;
      return;
    }
    let bytes = 0;
    for (const encoded of txs) bytes += encoded.length;
    const over = from.budget.receive(txs.length, bytes);
    if (over) {
      this.counters.overBudget += txs.length;
      this.overrun(from, over, txs.length);
      return;
    }
    const { txInboundQueueMax } = this.network.opts;
    let dropped = 0;
    for (const encoded of txs) {
      const key = toHex(txHash(encoded));
      const seen = this.known.get(key);
      if (seen) {
        seen.add(from.token);
        this.counters.duplicatesIn++;
        // Still queued for this peer: it has the tx now, so it need not be sent (in a mesh, neighbours relay to each other at once).
        if (from.txs.delete(key)) {
          from.bytes -= encoded.length;
          this.counters.relaysSaved++;
        }
        continue;
      }
      if (from.inbound.length >= txInboundQueueMax || from.inboundBytes + encoded.length > MAX_INBOUND_TX_BYTES) {
        dropped++;
        continue;
      }
      const have = new Set([from.token]);
      this.known.set(key, have);
      from.inbound.push({ key, encoded, have });
      from.inboundBytes += encoded.length;
    }
    if (dropped > 0) {
      this.counters.overBudget += dropped;
      this.overrun(from, "queue", dropped);
    }
    this.schedulePump();
  }

  private overrun(q: PeerQueue, budget: TxBudgetOverrun, txs: number): void {
    this.counters.overruns++;
    this.network.reportBad(q.info.id, `tx gossip over its ${budget} budget: ${txs} txs dropped`, Penalty.TX_BUDGET_OVERRUN);
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    setImmediate(() => this.pump());
  }

  /**
   * Start admissions: one tx at a time from each peer's inbound queue in
   * turn (so no peer's flood holds back another's txs, and each peer's txs
   * start in the order they came), at most ADMISSION_SLICE per turn and
   * while fewer than txAdmissionsInFlight run.
   */
  private pump(): void {
    this.pumpScheduled = false;
    if (this.closed) return;
    const max = this.network.opts.txAdmissionsInFlight;
    const ready = (q: PeerQueue) => q.inbound.length > 0 && q.admitting < MAX_ADMISSIONS_PER_PEER;
    const peers = [...this.queues.values()].filter(ready);
    const overSigChecks = new Map<PeerQueue, number>();
    let started = 0;
    while (peers.length > 0 && started < ADMISSION_SLICE && this.inFlight < max) {
      this.turn = (this.turn + 1) % peers.length;
      const q = peers[this.turn]!;
      const next = q.inbound.shift()!;
      q.inboundBytes -= next.encoded.length;
      if (!q.budget.admit()) {
        if (q.inbound.length === 0) peers.splice(this.turn, 1);
        // Dropped unadmitted: forget it, so that the same tx from another peer is admitted.
        if (this.known.peek(next.key) === next.have) this.known.delete(next.key);
        overSigChecks.set(q, (overSigChecks.get(q) ?? 0) + 1);
        this.counters.overBudget++;
        continue;
      }
      started++;
      this.startAdmission(q, next);
      if (!ready(q)) peers.splice(this.turn, 1);
    }
    for (const [q, n] of overSigChecks) this.overrun(q, "signature checks", n);
    if (peers.length > 0 && this.inFlight < max) this.schedulePump();
  }

  private startAdmission(q: PeerQueue, t: InboundTx): void {
    const peer = q.info;
    this.inFlight++;
    q.admitting++;
    this.admit(t.encoded, peer).then(
      (admitted) => {
        q.admitting--;
        if (typeof admitted === "object") {
          this.network.reportBad(peer.id, `invalid tx: ${admitted.fault}`, admitted.penalty ?? Penalty.INVALID_MESSAGE);
          this.admitted(t.key, t.encoded, t.have, false);
        } else this.admitted(t.key, t.encoded, t.have, admitted);
      },
      (e: unknown) => {
        q.admitting--;
        this.log.warn("tx admission failed", { peer: peer.id, error: (e as Error)?.message ?? String(e) });
        this.admitted(t.key, t.encoded, t.have, false);
      },
    );
  }

  private admitted(key: string, encoded: Uint8Array, have: Set<number>, admitted: boolean): void {
    this.inFlight--;
    this.schedulePump();
    if (!admitted) {
      this.counters.refused++;
      return;
    }
    this.counters.admitted++;
    if (!this.closed) this.relay(key, encoded, have);
  }

  /** Queue `encoded` for every connected peer whose token is not in `have`, and add them to it. */
  private relay(key: string, encoded: Uint8Array, have: Set<number>): number {
    let n = 0;
    for (const [id, q] of this.queues) {
      if (have.has(q.token)) continue;
      have.add(q.token);
      this.enqueue(id, q, key, encoded);
      n++;
    }
    return n;
  }

  private enqueue(peerId: string, q: PeerQueue, key: string, encoded: Uint8Array): void {
    if (q.txs.size > 0 && q.bytes + encoded.length > this.batchBytes) this.flush(peerId, q);
    q.txs.set(key, encoded);
    q.bytes += encoded.length;
    // A full batch goes at once, so a queue never holds more than one batch: a peer that reads too slowly
    // shows up in the network's send queue, which drops it, rather than here.
    if (q.txs.size >= MAX_TX_BATCH || q.bytes >= this.batchBytes) this.flush(peerId, q);
    else this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined) return;
    // Unref'd: queued txs never keep a stopping process alive.
    this.flushTimer = this.flushDelayMs === 0 ? setImmediate(() => this.flushAll()) : setTimeout(() => this.flushAll(), this.flushDelayMs);
    this.flushTimer.unref();
  }

  private cancelFlush(): void {
    const t = this.flushTimer;
    if (t === undefined) return;
    this.flushTimer = undefined;
    if (this.flushDelayMs === 0) clearImmediate(t as NodeJS.Immediate);
    else clearTimeout(t as NodeJS.Timeout);
  }

  private flushAll(): void {
    this.flushTimer = undefined;
    for (const [id, q] of this.queues) if (q.txs.size > 0) this.flush(id, q);
  }

  private flush(peerId: string, q: PeerQueue): void {
    const batch = [...q.txs.values()];
    q.txs = new Map();
    q.bytes = 0;
    let sent = false;
    try {
      sent = this.network.send(peerId, Channel.Tx, batch);
    } catch (e) {
      // Only a local fault can land here (a frame above a maxFrameBytes set below one tx): logged, never thrown at the caller.
      this.log.warn("tx batch not sent", { peer: peerId, txs: batch.length, error: (e as Error).message });
    }
    if (sent) {
      this.counters.batchesOut++;
      this.counters.txsOut += batch.length;
    } else this.counters.txsDropped += batch.length;
  }

  /** A new connection gets a new token; txs still queued for an earlier connection of the same node go to this one. */
  private addPeer(peer: PeerInfo): void {
    const earlier = this.queues.get(peer.id);
    const { txBudgetTxsPerSec, txBudgetBytesPerSec, txBudgetSigChecksPerSec } = this.network.opts;
    this.queues.set(peer.id, {
      token: this.nextToken++,
      txs: earlier?.txs ?? new Map(),
      bytes: earlier?.bytes ?? 0,
      inbound: earlier?.inbound ?? [],
      inboundBytes: earlier?.inboundBytes ?? 0,
      admitting: earlier?.admitting ?? 0,
      budget: earlier?.budget ?? new TxBudget({ txsPerSec: txBudgetTxsPerSec, bytesPerSec: txBudgetBytesPerSec, sigChecksPerSec: txBudgetSigChecksPerSec }, this.network.now),
      info: peer,
    });
  }

  private dropPeer(peerId: string): void {
    const q = this.queues.get(peerId);
    if (!q) return;
    this.queues.delete(peerId);
    this.counters.txsDropped += q.txs.size;
    // Its txs not yet admitted go with it; forgotten, so that the same txs from other peers are admitted.
    for (const t of q.inbound) if (this.known.peek(t.key) === t.have) this.known.delete(t.key);
    this.counters.overBudget += q.inbound.length;
    q.inbound = [];
    if (this.queuesEmpty()) this.cancelFlush();
  }

  private queuesEmpty(): boolean {
    for (const q of this.queues.values()) if (q.txs.size > 0 || q.inbound.length > 0) return false;
    return true;
  }
}
