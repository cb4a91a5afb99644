/**
 * The p2p network of one node: listens for peers, dials configured ones,
 * authenticates every connection (handshake.ts), and routes frames between
 * peers and the channels registered on it (tx, consensus, evidence, block
 * sync). It decodes and checks what arrives, scores and bans peers that
 * break the rules, and dedupes gossip; what a message means is the
 * channel's business.
 */
import { EventEmitter } from "node:events";
import { type IncomingMessage, type Server, createServer } from "node:http";
import type { Socket } from "node:net";
import { LRUCache } from "lru-cache";
import WebSocket, { WebSocketServer } from "ws";
import type { CanonicalValue } from "../chain/codec.js";
import { toHex } from "../crypto/bytes.js";
import { sha256 } from "../crypto/hash.js";
import { type PeerAddress, formatAddress, isLoopback, parsePeerAddress } from "./address.js";
import { verdictOf } from "../errors.js";
import { P2pError, P2pErrorCode, closeFrameOf, penaltyOf } from "./errors.js";
import { Channel, MAX_CHANNEL, decodeFrame, encodeFrame } from "./frames.js";
import type { LocalIdentity, RemoteIdentity } from "./handshake.js";
import { BanList, Penalty } from "./limits.js";
import { type Logger, silentLogger } from "../log/logger.js";
import type { NodeKey } from "./node-key.js";
import { type P2pOptions, resolveP2pOptions } from "./options.js";
import { Connection, type ConnectionHost, type PeerInfo } from "./peer.js";

/**
 * How a channel's messages spread:
 * - "auto" (txs, evidence): the network remembers each message's hash,
 *   drops copies, and relays a message its handler accepted to every peer
 *   that has not seen it;
 * - "manual" (consensus): the same dedupe, but the channel's driver decides
 *   what to relay and calls broadcast(), which skips peers that have it;
 * - unset (block sync): point-to-point messages, no dedupe.
 */

export type GossipMode = "auto" | "manual";

export interface ChannelHandler<T> {
  /** Check and convert a decoded CBOR message (validateBasic); throw on anything invalid. */
  decode(m: CanonicalValue): T;
  /** Message to CBOR value; the identity when absent (T is then a CanonicalValue). */
  encode?(msg: T): CanonicalValue;
  /**
   * Handle a message from a peer. For "auto" gossip, returning (or
   * resolving to) false keeps the message from being relayed; a throw is
   * logged and also stops the relay. A handler that finds the peer at
   * fault (a bad signature, say) calls reportBad.
   */
  onMessage(peer: PeerInfo, msg: T): void | boolean | Promise<void | boolean>;
  /** Largest frame on this channel; the network's maxFrameBytes when absent. */
  maxMessageBytes?: number;
  gossip?: GossipMode;
}

interface Registered {
  handler: ChannelHandler<unknown>;
  maxBytes: number;
}

export interface P2pDeps {
  chainId: string;
  genesisHash: Uint8Array;
  nodeKey: NodeKey;
  log?: Logger;
  /** Clock in ms for rates, scores and bans. */
  now?: () => number;
}

/** A peer lost score: why, and whether it was dropped and banned for it. */
export interface PenaltyEvent {
  peer: PeerInfo;
  /** The offence: a P2pErrorCode, or "reported" for reportBad. */
  offence: string;
  reason: string;
  penalty: number;
  score: number;
  banned: boolean;
}

export interface P2pNetworkEvents {
  peerConnected: [peer: PeerInfo];
  peerDisconnected: [peer: PeerInfo, reason: P2pError];
  peerPenalized: [event: PenaltyEvent];
}

/** Running totals, for metrics and tests. */
export interface NetworkCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Gossip copies dropped because the message had been seen. */
  duplicatesDropped: number;
  /** Gossip frames forwarded to peers on behalf of others. */
  relayed: number;
  /** Messages dropped because their channel's per-peer budget was spent. */
  overBudget: number;
}

interface PersistentPeer {
  addr: PeerAddress;
  /** Expected (from the address) or learned at the first connection. */
  nodeId: string | undefined;
  failures: number;
  dialing: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** Most bans remembered at once. */
const MAX_BANS = 10_000;

/** The WebSocket mask of outbound frames: all zero, so neither side XORs the payload (see dial). */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

export class P2pNetwork extends EventEmitter<P2pNetworkEvents> implements ConnectionHost {
  readonly opts: P2pOptions;
  readonly local: LocalIdentity;
  readonly log: Logger;
  readonly now: () => number;
  readonly counters: NetworkCounters = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, duplicatesDropped: 0, relayed: 0, overBudget: 0 };

  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  /** Sockets that completed the WebSocket upgrade (the rest are closed after the handshake timeout). */
  private readonly upgraded = new WeakSet<Socket>();
  private stopping = false;
  private readonly channels = new Map<number, Registered>();
  /** Every live connection, handshaking or open. */
  private readonly connections = new Set<Connection>();
  /** Admitted peers (handshake proven), by node id: at most one connection each. */
  private readonly peersById = new Map<string, Connection>();
  private readonly bans: BanList;
  /** Gossip dedupe: message hash -> serials of the connections that sent or were sent it. */
  private readonly seen: LRUCache<string, Set<number>>;
  private readonly persistent: PersistentPeer[];

  constructor(opts: Partial<P2pOptions>, deps: P2pDeps) {
    super();
    this.opts = resolveP2pOptions(opts);
    this.local = { chainId: deps.chainId, genesisHash: deps.genesisHash, nodeKey: deps.nodeKey };
    this.log = deps.log ?? silentLogger;
    this.now = deps.now ?? Date.now;
    this.bans = new BanList(MAX_BANS, this.now);
    this.seen = new LRUCache({ max: this.opts.seenCacheSize });
    this.persistent = this.opts.persistentPeers.map((p) => {
      const addr = parsePeerAddress(p);
      return { addr, nodeId: addr.nodeId, failures: 0, dialing: false, timer: undefined };
    });
  }

  get nodeId(): string {
    return this.local.nodeKey.nodeId;
  }

  /** The port the network listens on (after start). */
  get listenPort(): number {
    return this.local.listenPort ?? 0;
  }

  /** Listen, then dial the persistent peers. */
  async start(): Promise<void> {
    if (this.http) return;
    const { handshakeTimeoutMs } = this.opts;
    // Our own HTTP server rather than ws's: its timeouts and connection cap bound sockets that never
    // upgrade, and stop() can close every socket it holds.
    const http = createServer(
      { headersTimeout: handshakeTimeoutMs, requestTimeout: handshakeTimeoutMs, connectionsCheckingInterval: Math.min(Math.max(handshakeTimeoutMs, 100), 5_000) },
      (_req, res) => {
        res.writeHead(426, { "content-type": "text/plain", connection: "close" });
        res.end("sid p2p endpoint: WebSocket upgrade required\n");
      },
    );
    http.maxConnections = this.opts.maxInboundPeers + this.opts.maxPendingHandshakes;
    // A socket that connects and never asks for the upgrade would otherwise hold a slot for as long as it likes.
    http.on("connection", (socket: Socket) => {
      const timer = setTimeout(() => {
        if (!this.upgraded.has(socket)) socket.destroy();
      }, handshakeTimeoutMs);
      timer.unref();
      socket.once("close", () => clearTimeout(timer));
    });
    const wss = new WebSocketServer({ server: http, maxPayload: this.opts.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
    wss.on("error", (e) => this.log.error("p2p server error", { error: e.message }));
    wss.on("connection", (ws, req) => this.onInbound(ws, req));
    await new Promise<void>((resolve, reject) => {
      http.once("error", (e) =>
        reject(new P2pError(P2pErrorCode.LISTEN_FAILED, `cannot listen on ${formatAddress(this.opts.host, this.opts.port)}: ${e.message}`)),
      );
      http.listen(this.opts.port, this.opts.host, () => resolve());
    });
    http.on("error", (e) => this.log.error("p2p server error", { error: e.message }));
    this.http = http;
    this.wss = wss;
    const addr = http.address();
    this.local.listenPort = typeof addr === "object" && addr !== null ? addr.port : this.opts.port;
    this.log.info("p2p listening", { address: formatAddress(this.opts.host, this.local.listenPort), nodeId: this.nodeId });
    for (const p of this.persistent) this.dialPersistent(p);
  }

  /** Stop dialling and accepting, close every connection, and wait for the sockets to close. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const p of this.persistent) clearTimeout(p.timer);
    const conns = [...this.connections];
    for (const c of conns) c.close(new P2pError(P2pErrorCode.SHUTTING_DOWN, "node shutting down"));
    await Promise.all(conns.map((c) => c.socketClosed));
    if (this.http) {
      const http = this.http;
      this.wss!.close();
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections(); // sockets that never upgraded
      await closed;
    }
    this.log.info("p2p stopped", { nodeId: this.nodeId });
  }

  /** Register the handler of one channel (1..255; 0 is the handshake's). */
  registerChannel<T>(ch: Channel, handler: ChannelHandler<T>): void {
    if (!Number.isInteger(ch) || ch < 1 || ch > MAX_CHANNEL) throw new P2pError(P2pErrorCode.BAD_OPTION, `channel must be an integer in [1, ${MAX_CHANNEL}], got ${ch}`);
    if (this.channels.has(ch)) throw new P2pError(P2pErrorCode.BAD_OPTION, `channel ${ch} is already registered`);
    const maxBytes = Math.min(handler.maxMessageBytes ?? this.opts.maxFrameBytes, this.opts.maxFrameBytes);
    this.channels.set(ch, { handler: handler as ChannelHandler<unknown>, maxBytes });
  }

  /** Connected peers (handshake complete). */
  peers(): PeerInfo[] {
    return [...this.peersById.values()].filter((c) => c.isOpen).map((c) => c.info());
  }

  peer(id: string): PeerInfo | undefined {
    const c = this.peersById.get(id);
    return c?.isOpen ? c.info() : undefined;
  }

  isBanned(nodeId: string): boolean {
    return this.bans.isBanned(`node:${nodeId}`);
  }

  /**
   * Send `msg` on channel `ch` to every connected peer but `except`. On a
   * gossip channel, peers known to have the message (they sent it, or were
   * sent it) are skipped, so a message goes at most once to each peer.
   * Returns the number of peers it was queued for.
   */
  broadcast<T>(ch: Channel, msg: T, except?: string | Iterable<string>): number {
    const { reg, frame } = this.encodeFor(ch, msg);
    const skip = new Set<string>(typeof except === "string" ? [except] : (except ?? []));
    const have = reg.handler.gossip ? this.seenEntry(toHex(sha256(frame))) : undefined;
    let sent = 0;
    for (const conn of [...this.peersById.values()]) {
      if (!conn.isOpen || skip.has(conn.id!) || have?.has(conn.serial)) continue;
      if (this.sendFrame(conn, frame)) {
        have?.add(conn.serial);
        sent++;
      }
    }
    return sent;
  }

  /** Send `msg` on channel `ch` to one peer; false if it is not connected (or was just dropped as too slow). */
  send<T>(peerId: string, ch: Channel, msg: T): boolean {
    const { reg, frame } = this.encodeFor(ch, msg);
    const conn = this.peersById.get(peerId);
    if (!conn?.isOpen) return false;
    const ok = this.sendFrame(conn, frame);
    if (ok && reg.handler.gossip) this.seenEntry(toHex(sha256(frame))).add(conn.serial);
    return ok;
  }

  /**
   * A channel handler found a peer at fault (a bad signature, a block that
   * does not verify): lower its score, and at the threshold drop and ban it.
   */
  reportBad(peerId: string, reason: string, penalty: number = Penalty.REPORTED): void {
    const conn = this.peersById.get(peerId);
    if (!conn || conn.isClosed) {
      this.log.debug("report on a peer no longer connected", { peer: peerId, reason });
      return;
    }
    this.penalize(conn, "reported", reason, penalty);
  }

  /** Close the connection to a peer (no ban). */
  disconnect(peerId: string, reason = "disconnected by this node"): void {
    this.peersById.get(peerId)?.close(new P2pError(P2pErrorCode.CONNECTION_FAILED, reason));
  }

  /** Dial "host:port" or "nodeId@host:port"; resolves with the peer once the handshake completes. */
  async dial(address: string): Promise<PeerInfo> {
    const addr = parsePeerAddress(address);
    if (this.stopping) throw new P2pError(P2pErrorCode.SHUTTING_DOWN, "node shutting down");
    if (addr.nodeId !== undefined) {
      if (addr.nodeId === this.nodeId) throw new P2pError(P2pErrorCode.SELF_CONNECTION, `${address} is this node`);
      if (this.peersById.has(addr.nodeId)) throw new P2pError(P2pErrorCode.DUPLICATE_PEER, `already connected to ${addr.nodeId}`);
      if (this.isBanned(addr.nodeId)) throw new P2pError(P2pErrorCode.BANNED, `${addr.nodeId} is banned`);
    }
    if (this.bans.isBanned(`addr:${addr.address}`)) throw new P2pError(P2pErrorCode.BANNED, `${addr.address} is banned`);
    if (this.countAdmitted("outbound") >= this.opts.maxOutboundPeers) {
      throw new P2pError(P2pErrorCode.TOO_MANY_PEERS, `already ${this.opts.maxOutboundPeers} outbound peers`);
    }
    const ws = new WebSocket(`ws://${addr.address}/`, {
      maxPayload: this.opts.maxFrameBytes,
      perMessageDeflate: false,
      handshakeTimeout: this.opts.handshakeTimeoutMs,
      // A zero mask: both sides then skip the XOR pass over every frame (a proposal frame carries a whole block).
      // Masking guards browsers' shared proxies against crafted bytes; node-to-node frames are authenticated CBOR.
      generateMask: zeroMask,
    });
    const conn = new Connection(ws, "outbound", addr.host, addr.address, this, addr.nodeId);
    this.connections.add(conn);
    ws.once("open", () => conn.start());
    await conn.ready;
    return conn.info();
  }

  // ---- ConnectionHost: called by connections ----

  admit(conn: Connection, remote: RemoteIdentity): void {
    if (this.stopping) throw new P2pError(P2pErrorCode.SHUTTING_DOWN, "node shutting down");
    if (this.isBanned(remote.nodeId)) throw new P2pError(P2pErrorCode.BANNED, `node ${remote.nodeId} is banned`);
    const existing = this.peersById.get(remote.nodeId);
    if (existing && existing !== conn) {
      // Two nodes that dial each other at once would each refuse the other's
      // connection and end with none. Both sides keep the one dialled by the
      // lower node id, so they agree which to keep.
      const dialler = (c: Connection) => (c.direction === "outbound" ? this.nodeId : remote.nodeId);
      if (existing.direction !== conn.direction && dialler(conn) < dialler(existing)) {
        existing.close(new P2pError(P2pErrorCode.DUPLICATE_PEER, "replaced by the connection dialled by the lower node id"));
      } else {
        throw new P2pError(P2pErrorCode.DUPLICATE_PEER, `already connected to ${remote.nodeId}`);
      }
    }
    const max = conn.direction === "inbound" ? this.opts.maxInboundPeers : this.opts.maxOutboundPeers;
    if (this.countAdmitted(conn.direction) >= max) throw new P2pError(P2pErrorCode.TOO_MANY_PEERS, `already ${max} ${conn.direction} peers`);
    this.peersById.set(remote.nodeId, conn);
  }

  onReady(conn: Connection): void {
    const info = conn.info();
    this.log.info("peer connected", { peer: info.id, address: info.address, direction: info.direction });
    this.emit("peerConnected", info);
  }

  onFrame(conn: Connection, data: Uint8Array): void {
    this.counters.framesIn++;
    this.counters.bytesIn += data.length;
    let frame;
    try {
      frame = decodeFrame(data);
    } catch (e) {
      this.penalize(conn, P2pErrorCode.MALFORMED_FRAME, (e as Error).message, Penalty.MALFORMED_FRAME);
      return;
    }
    if (frame.ch === Channel.Handshake) {
      this.penalize(conn, P2pErrorCode.MALFORMED_FRAME, "handshake frame after the handshake", Penalty.MALFORMED_FRAME);
      return;
    }
    const reg = this.channels.get(frame.ch);
    if (!reg) {
      this.penalize(conn, P2pErrorCode.UNKNOWN_CHANNEL, `unknown channel ${frame.ch}`, Penalty.UNKNOWN_CHANNEL);
      return;
    }
    if (data.length > reg.maxBytes) {
      this.penalize(conn, P2pErrorCode.FRAME_TOO_LARGE, `${data.length}-byte frame on channel ${frame.ch} (limit ${reg.maxBytes})`, Penalty.FRAME_TOO_LARGE);
      return;
    }
    // Each kind of message has its own budget, so a flood of one kind is dropped before its handler runs and cannot
    // use up the connection's overall rate that the others need.
    const rate = this.channelRate(frame.ch);
    if (rate !== undefined && !conn.takeChannelBudget(frame.ch, rate)) {
      this.counters.overBudget++;
      this.penalize(conn, P2pErrorCode.RATE_LIMITED, `more than ${rate} messages/s on channel ${frame.ch}`, Penalty.RATE_LIMITED);
      return;
    }
    let id: string | undefined;
    if (reg.handler.gossip) {
      id = toHex(sha256(data));
      const have = this.seen.get(id);
      if (have) {
        have.add(conn.serial);
        this.counters.duplicatesDropped++;
        return;
      }
      this.seen.set(id, new Set([conn.serial]));
    }
    let msg: unknown;
    try {
      msg = reg.handler.decode(frame.m);
    } catch (e) {
      // The decoder's error says whether the sender is to blame (validateBasic refusals always do).
      const verdict = verdictOf(e);
      const code = (e as { code?: unknown }).code;
      const why = `${typeof code === "string" ? code + ": " : ""}${(e as Error).message}`;
      if (verdict.action === "reject") this.penalize(conn, P2pErrorCode.INVALID_MESSAGE, `channel ${frame.ch}: ${why}`, penaltyOf(verdict));
      else this.log.debug("message dropped", { peer: conn.id, channel: frame.ch, error: why });
      return;
    }
    this.deliver(conn, frame.ch, reg, msg, data, id);
  }

  onMisbehaviour(conn: Connection, err: P2pError, penalty: number): void {
    this.penalize(conn, err.code, err.message, penalty);
  }

  onClosed(conn: Connection, err: P2pError): void {
    this.connections.delete(conn);
    const id = conn.id;
    if (id === undefined || this.peersById.get(id) !== conn) return;
    this.peersById.delete(id);
    if (conn.connectedAt === 0) return; // admitted but never ready: nobody was told it connected
    const info = conn.info();
    this.emit("peerDisconnected", info, err);
    const p = this.persistent.find((q) => q.nodeId === id || (conn.direction === "outbound" && q.addr.address === conn.address));
    if (p && !this.stopping) {
      // A peer that stayed up a while starts over at the base delay; one that flaps backs off.
      p.failures = this.now() - conn.connectedAt >= this.opts.redialMaxMs ? 1 : p.failures + 1;
      this.scheduleRedial(p);
    }
  }

  // ---- internals ----

  private onInbound(ws: WebSocket, req: IncomingMessage): void {
    ws.on("error", () => {}); // a refused socket can still error; the Connection adds its own handling
    this.upgraded.add(req.socket);
    const ip = req.socket.remoteAddress ?? "";
    const address = formatAddress(ip, req.socket.remotePort ?? 0);
    const refuse = (err: P2pError) => {
      const { code, reason } = closeFrameOf(err);
      this.log.debug("refused inbound connection", { address, reason: err.code, message: err.message });
      ws.close(code, reason);
      setTimeout(() => ws.terminate(), 1_000).unref();
    };
    if (this.stopping) return refuse(new P2pError(P2pErrorCode.SHUTTING_DOWN, "node shutting down"));
    if (this.ipBansApply(ip) && this.bans.isBanned(`ip:${ip}`)) return refuse(new P2pError(P2pErrorCode.BANNED, `${ip} is banned`));
    let handshaking = 0;
    for (const c of this.connections) if (c.direction === "inbound" && !c.isOpen) handshaking++;
    if (handshaking >= this.opts.maxPendingHandshakes) return refuse(new P2pError(P2pErrorCode.TOO_MANY_PEERS, "too many handshakes in progress"));
    if (this.countAdmitted("inbound") >= this.opts.maxInboundPeers) {
      return refuse(new P2pError(P2pErrorCode.TOO_MANY_PEERS, `already ${this.opts.maxInboundPeers} inbound peers`));
    }
    const conn = new Connection(ws, "inbound", ip, address, this);
    this.connections.add(conn);
    conn.start();
  }

  /** The per-peer inbound message budget of a channel (options.channelRatePerSec), undefined for a channel without one. */
  private channelRate(ch: number): number | undefined {
    const r = this.opts.channelRatePerSec;
    switch (ch) {
      case Channel.Tx:
        return r.tx;
      case Channel.Consensus:
        return r.consensus;
      case Channel.Evidence:
        return r.evidence;
      case Channel.BlockSync:
        return r.blockSync;
      case Channel.Snapshot:
        return r.snapshot;
      default:
        return undefined;
    }
  }

  private countAdmitted(direction: "inbound" | "outbound"): number {
    let n = 0;
    for (const c of this.peersById.values()) if (c.direction === direction) n++;
    return n;
  }

  private ipBansApply(ip: string): boolean {
    return this.opts.banLoopbackAddresses || !isLoopback(ip);
  }

  private encodeFor<T>(ch: number, msg: T): { reg: Registered; frame: Uint8Array } {
    const reg = this.channels.get(ch);
    if (!reg) throw new P2pError(P2pErrorCode.CHANNEL_NOT_REGISTERED, `channel ${ch} is not registered`);
    const value = reg.handler.encode ? reg.handler.encode(msg) : (msg as CanonicalValue);
    const frame = encodeFrame(ch, value);
    if (frame.length > reg.maxBytes) throw new P2pError(P2pErrorCode.FRAME_TOO_LARGE, `${frame.length}-byte message for channel ${ch} (limit ${reg.maxBytes})`);
    return { reg, frame };
  }

  private seenEntry(id: string): Set<number> {
    let have = this.seen.get(id);
    if (!have) {
      have = new Set();
      this.seen.set(id, have);
    }
    return have;
  }

  private sendFrame(conn: Connection, frame: Uint8Array): boolean {
    if (!conn.send(frame)) return false;
    this.counters.framesOut++;
    this.counters.bytesOut += frame.length;
    return true;
  }

  private deliver(conn: Connection, ch: number, reg: Registered, msg: unknown, frame: Uint8Array, id: string | undefined): void {
    const peer = conn.info();
    const relay = (accepted: void | boolean) => {
      if (reg.handler.gossip !== "auto" || accepted === false || this.stopping) return;
      const have = this.seenEntry(id!);
      for (const other of [...this.peersById.values()]) {
        if (!other.isOpen || have.has(other.serial)) continue;
        if (this.sendFrame(other, frame)) {
          have.add(other.serial);
          this.counters.relayed++;
        }
      }
    };
    const failed = (e: unknown) =>
      this.log.warn("channel handler failed", { channel: ch, peer: peer.id, error: (e as Error)?.message ?? String(e), code: (e as { code?: unknown })?.code });
    let result: void | boolean | Promise<void | boolean>;
    try {
      result = reg.handler.onMessage(peer, msg);
    } catch (e) {
      failed(e);
      return;
    }
    if (result instanceof Promise) result.then(relay, failed).catch(failed);
    else relay(result);
  }

  private penalize(conn: Connection, offence: string, reason: string, penalty: number): void {
    if (conn.isClosed || conn.id === undefined) return;
    const score = conn.score.penalize(penalty);
    const banned = score <= this.opts.banThreshold;
    const info = conn.info();
    this.log[banned ? "warn" : "info"](banned ? "peer banned" : "peer penalized", { peer: info.id, address: info.address, offence, reason, penalty, score });
    if (banned) {
      const ms = this.opts.banDurationMs;
      this.bans.ban(`node:${info.id}`, ms);
      if (this.ipBansApply(conn.remoteIp)) this.bans.ban(`ip:${conn.remoteIp}`, ms);
      if (conn.direction === "outbound") this.bans.ban(`addr:${conn.address}`, ms);
    }
    this.emit("peerPenalized", { peer: info, offence, reason, penalty, score, banned });
    if (banned) conn.close(new P2pError(P2pErrorCode.MISBEHAVIOUR, `banned (score ${Math.round(score)}; last: ${offence}: ${reason})`));
  }

  private dialPersistent(p: PersistentPeer): void {
    if (this.stopping || p.dialing || p.timer) return;
    if (p.nodeId !== undefined && this.peersById.has(p.nodeId)) return;
    p.dialing = true;
    this.dial(p.addr.nodeId !== undefined ? `${p.addr.nodeId}@${p.addr.address}` : p.addr.address).then(
      (info) => {
        p.dialing = false;
        p.nodeId = info.id;
      },
      (e: P2pError) => {
        p.dialing = false;
        // The peer dialled us first: connected all the same.
        if (p.nodeId !== undefined && this.peersById.has(p.nodeId)) return;
        p.failures++;
        this.log[p.failures === 1 ? "info" : "debug"]("persistent peer dial failed", { address: p.addr.address, reason: e.code, message: e.message, failures: p.failures });
        this.scheduleRedial(p);
      },
    );
  }

  /** Redial after base * 2^(failures-1), capped, with ±25% jitter so restarted nodes do not dial in lockstep. */
  private scheduleRedial(p: PersistentPeer): void {
    if (this.stopping || p.timer) return;
    const { redialBaseMs, redialMaxMs } = this.opts;
    let delay = Math.min(redialMaxMs, redialBaseMs * 2 ** Math.min(30, Math.max(0, p.failures - 1)));
    delay = Math.round(delay * (0.75 + Math.random() / 2));
    const banMs = Math.max(this.bans.remainingMs(`addr:${p.addr.address}`), p.nodeId !== undefined ? this.bans.remainingMs(`node:${p.nodeId}`) : 0);
    if (banMs > delay) delay = banMs;
    p.timer = setTimeout(() => {
      p.timer = undefined;
      this.dialPersistent(p);
    }, delay);
    p.timer.unref();
  }
}
