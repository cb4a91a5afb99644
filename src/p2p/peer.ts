/**
 * One connection to a peer over one WebSocket: drives the handshake, then
 * hands each frame to the network that owns it, under the per-peer bounds
 * (message and byte rates, a bounded send queue, ping/pong keepalive).
 *
 * Nothing a peer sends may throw out of a socket handler: every listener
 * catches, and a failure closes this connection only.
 */
import type WebSocket from "ws";
import { formatAddress } from "./address.js";
import { P2pError, P2pErrorCode, closeFrameOf, errorOfCloseFrame } from "./errors.js";
import { Channel, decodeFrame, encodeFrame } from "./frames.js";
import type { CanonicalValue } from "../chain/codec.js";
import { Handshake, type HandshakeMessage, type LocalIdentity, MAX_HANDSHAKE_FRAME_BYTES, type RemoteIdentity } from "./handshake.js";
import { Penalty, PeerScore, TokenBucket } from "./limits.js";
import type { Logger } from "../log/logger.js";
import type { P2pOptions } from "./options.js";

export type Direction = "inbound" | "outbound";

/** A connected peer as the network's users see it. */
export interface PeerInfo {
  /** Node id (hex of sha256(node public key)[0:20]). */
  id: string;
  /** Remote "host:port" of this connection (for an outbound peer, the address dialled). */
  address: string;
  direction: Direction;
  score: number;
  /** Where the peer listens ("ip:port"), when it announced a port. */
  listenAddress?: string;
  /** ms since the Unix epoch. */
  connectedAt: number;
}

/** What a connection needs from the network that owns it. */
export interface ConnectionHost {
  readonly local: LocalIdentity;
  readonly opts: P2pOptions;
  readonly log: Logger;
  readonly now: () => number;
  /** Proven identity: refuse (throw a P2pError) or register the peer. */
  admit(conn: Connection, remote: RemoteIdentity): void;
  /** The handshake completed both ways. */
  onReady(conn: Connection): void;
  /** One binary frame from a ready peer, within its rate. */
  onFrame(conn: Connection, data: Uint8Array): void;
  /** The peer broke a rule below the frame layer (rate, oversized or invalid WebSocket frame). */
  onMisbehaviour(conn: Connection, err: P2pError, penalty: number): void;
  /** The connection ended (once), with why. */
  onClosed(conn: Connection, err: P2pError): void;
}

type State = "handshake" | "open" | "closed";

let nextSerial = 1;

/** Grace for the peer to answer our close frame before the socket is destroyed. */
const CLOSE_GRACE_MS = 1_000;

export class Connection {
  /** Unique per connection (never reused, unlike node ids across reconnects): the gossip seen-cache keys on it. */
  readonly serial = nextSerial++;
  readonly score: PeerScore;
  remote: RemoteIdentity | undefined;
  connectedAt = 0;
  /** Resolves when the handshake completes; rejects with the typed reason when it fails. */
  readonly ready: Promise<RemoteIdentity>;
  /** Resolves when the socket is closed for good. */
  readonly socketClosed: Promise<void>;

  private state: State = "handshake";
  private readonly handshake: Handshake;
  private readonly messageBucket: TokenBucket;
  private readonly byteBucket: TokenBucket;
  private pendingSends = 0;
  /** Per-channel inbound message budgets, made on a channel's first message. */
  private readonly channelBuckets = new Map<number, TokenBucket>();
  private handshakeTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  private resumeTimer: NodeJS.Timeout | undefined;
  private settleReady!: { resolve(r: RemoteIdentity): void; reject(e: P2pError): void };

  constructor(
    readonly ws: WebSocket,
    readonly direction: Direction,
    /** Remote IP of the socket (for IP bans). */
    readonly remoteIp: string,
    /** "host:port": the dialled address (outbound) or the socket's remote end (inbound). */
    readonly address: string,
    private readonly host: ConnectionHost,
    expectedNodeId?: string,
  ) {
    const { opts, now } = host;
    this.score = new PeerScore(opts.scoreRecoveryPerSec, now);
    this.messageBucket = new TokenBucket(opts.rateMessagesPerSec, opts.rateMessagesBurst, now);
    this.byteBucket = new TokenBucket(opts.rateBytesPerSec, opts.rateBytesBurst, now);
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    this.ready.catch(() => {}); // callers that do not wait on it must not see an unhandled rejection
    this.socketClosed = new Promise((resolve) => ws.once("close", () => resolve()));
    this.handshake = new Handshake(host.local, {
      ...(expectedNodeId !== undefined ? { expectedNodeId } : {}),
      admit: (remote) => {
        host.admit(this, remote);
        // Known from here on, so the network can release the admission if the connection ends before ready.
        this.remote = remote;
      },
    });

    ws.on("message", (data, isBinary) => this.guard(() => this.onMessage(data, isBinary)));
    ws.on("pong", () => this.guard(() => this.onPong()));
    ws.on("ping", () => this.guard(() => this.onPing()));
    ws.on("error", (err) => this.guard(() => this.onSocketError(err)));
    ws.on("close", (code, reason) => this.guard(() => this.onSocketClose(code, reason.toString("utf8"))));
    this.handshakeTimer = setTimeout(
      () => this.guard(() => this.close(new P2pError(P2pErrorCode.HANDSHAKE_TIMEOUT, `handshake not completed within ${opts.handshakeTimeoutMs} ms`))),
      opts.handshakeTimeoutMs,
    );
  }

  get id(): string | undefined {
    return this.remote?.nodeId;
  }

  get isOpen(): boolean {
    return this.state === "open";
  }

  get isClosed(): boolean {
    return this.state === "closed";
  }

  /**
   * Charge one inbound message to its channel's budget of `ratePerSec`
   * (two seconds' worth of burst); false when the budget is spent.
   */
  takeChannelBudget(ch: number, ratePerSec: number): boolean {
    let bucket = this.channelBuckets.get(ch);
    if (!bucket) {
      bucket = new TokenBucket(ratePerSec, 2 * ratePerSec, this.host.now);
      this.channelBuckets.set(ch, bucket);
    }
    return bucket.tryTake(1);
  }

  /** Call once the socket is open: sends our hello. */
  start(): void {
    this.guard(() => this.sendHandshake(this.handshake.hello()));
  }

  info(): PeerInfo {
    const listenPort = this.remote?.listenPort;
    return {
      id: this.remote?.nodeId ?? "",
      address: this.address,
      direction: this.direction,
      score: Math.round(this.score.value * 100) / 100,
      ...(listenPort !== undefined ? { listenAddress: formatAddress(this.remoteIp, listenPort) } : {}),
      connectedAt: this.connectedAt,
    };
  }

  /**
   * Queue one frame for the peer. Never blocks: a peer whose queue is full
   * is too slow to keep up and is dropped (false is returned).
   */
  send(frame: Uint8Array): boolean {
    if (this.state !== "open") return false;
    const { sendQueueMaxBytes, sendQueueMaxMessages } = this.host.opts;
    if (this.pendingSends >= sendQueueMaxMessages || this.ws.bufferedAmount + frame.length > sendQueueMaxBytes) {
      this.close(
        new P2pError(P2pErrorCode.SEND_QUEUE_FULL, `send queue full (${this.pendingSends} messages, ${this.ws.bufferedAmount} bytes): peer too slow`),
      );
      return false;
    }
    this.pendingSends++;
    this.ws.send(frame, { binary: true }, () => this.pendingSends--);
    return true;
  }

  /** Close with a typed reason the peer will see; idempotent. */
  close(err: P2pError): void {
    if (this.state === "closed") return;
    const { code, reason } = closeFrameOf(err);
    try {
      if (this.ws.readyState === this.ws.CONNECTING) this.ws.terminate();
      else this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
    // A peer that never answers the close frame must not hold the socket open.
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
    this.finish(err, true);
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      const err = e instanceof P2pError ? e : new P2pError(P2pErrorCode.CONNECTION_FAILED, `internal error on connection: ${(e as Error).message}`);
      if (!(e instanceof P2pError)) this.host.log.error("p2p connection handler failed", { peer: this.id, address: this.address, error: (e as Error).stack });
      this.close(err);
    }
  }

  private sendHandshake(m: HandshakeMessage): void {
    this.ws.send(encodeFrame(Channel.Handshake, m as unknown as CanonicalValue), { binary: true });
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.state === "closed") return;
    const bytes = toBytes(data);
    if (this.state === "handshake") {
      if (!isBinary) throw new P2pError(P2pErrorCode.HANDSHAKE_FAILED, "text frame during the handshake");
      if (bytes.length > MAX_HANDSHAKE_FRAME_BYTES) throw new P2pError(P2pErrorCode.HANDSHAKE_FAILED, `handshake frame of ${bytes.length} bytes`);
      let frame;
      try {
        frame = decodeFrame(bytes);
      } catch (e) {
        throw new P2pError(P2pErrorCode.HANDSHAKE_FAILED, (e as Error).message);
      }
      if (frame.ch !== Channel.Handshake) throw new P2pError(P2pErrorCode.HANDSHAKE_FAILED, `frame on channel ${frame.ch} before the handshake completed`);
      const step = this.handshake.receive(frame.m);
      if (step.reply) this.sendHandshake(step.reply);
      if (step.done) this.becomeReady();
      return;
    }
    if (!this.messageBucket.tryTake(1)) {
      this.host.onMisbehaviour(this, new P2pError(P2pErrorCode.RATE_LIMITED, `more than ${this.host.opts.rateMessagesPerSec} messages/s`), Penalty.RATE_LIMITED);
      return;
    }
    // Bytes beyond the rate are not an offence (block sync moves many): stop reading until the debt is repaid.
    const debtMs = this.byteBucket.takeWithDebt(bytes.length);
    if (debtMs > 0) this.pauseFor(debtMs);
    if (!isBinary) {
      this.host.onMisbehaviour(this, new P2pError(P2pErrorCode.MALFORMED_FRAME, "text frame"), Penalty.MALFORMED_FRAME);
      return;
    }
    this.host.onFrame(this, bytes);
  }

  private becomeReady(): void {
    this.state = "open";
    this.connectedAt = Date.now();
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    const { pingIntervalMs } = this.host.opts;
    this.pingTimer = setInterval(() => this.guard(() => this.ping()), pingIntervalMs);
    this.pingTimer.unref();
    this.settleReady.resolve(this.remote!);
    this.host.onReady(this);
  }

  private ping(): void {
    if (this.state !== "open" || this.pongTimer) return;
    const { pongTimeoutMs } = this.host.opts;
    this.pongTimer = setTimeout(
      () => this.guard(() => this.close(new P2pError(P2pErrorCode.PING_TIMEOUT, `no pong within ${pongTimeoutMs} ms`))),
      pongTimeoutMs,
    );
    this.ws.ping();
  }

  /** ws answers pings by itself; they count against the message rate so a ping flood is a flood. */
  private onPing(): void {
    if (this.state === "open" && !this.messageBucket.tryTake(1)) {
      this.host.onMisbehaviour(this, new P2pError(P2pErrorCode.RATE_LIMITED, `more than ${this.host.opts.rateMessagesPerSec} messages/s (pings)`), Penalty.RATE_LIMITED);
    }
  }

  private onPong(): void {
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
  }

  private pauseFor(ms: number): void {
    if (this.resumeTimer) return;
    this.ws.pause();
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      if (this.state !== "closed") this.ws.resume();
    }, ms);
  }

  private onSocketError(err: Error & { code?: string }): void {
    // ws reports protocol violations (oversized or invalid frames) here and then closes the socket itself.
    const code = err.code ?? "";
    if (code.startsWith("WS_ERR_")) {
      const tooLarge = code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH";
      const e = new P2pError(tooLarge ? P2pErrorCode.FRAME_TOO_LARGE : P2pErrorCode.MALFORMED_FRAME, `WebSocket protocol error: ${err.message}`);
      if (this.state === "open") this.host.onMisbehaviour(this, e, tooLarge ? Penalty.FRAME_TOO_LARGE : Penalty.MALFORMED_FRAME);
      this.close(e);
      return;
    }
    this.close(new P2pError(P2pErrorCode.CONNECTION_FAILED, `socket error: ${err.message}`));
  }

  private onSocketClose(code: number, reason: string): void {
    if (this.state === "closed") return;
    const err =
      code === 1006 ? new P2pError(P2pErrorCode.CONNECTION_FAILED, "connection lost") : errorOfCloseFrame(code, reason);
    this.finish(err, false);
  }

  private finish(err: P2pError, local: boolean): void {
    if (this.state === "closed") return;
    const wasOpen = this.state === "open";
    this.state = "closed";
    clearTimeout(this.handshakeTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    clearTimeout(this.resumeTimer);
    if (!wasOpen) this.settleReady.reject(err);
    this.host.log[local ? "info" : "debug"](local ? "closed p2p connection" : "p2p connection closed by peer", {
      peer: this.id,
      address: this.address,
      direction: this.direction,
      reason: err.code,
      message: err.message,
    });
    this.host.onClosed(this, err);
  }
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  const buf = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? Buffer.from(data) : data;
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

