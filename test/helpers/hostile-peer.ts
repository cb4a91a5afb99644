/**
 * A hostile peer: speaks the p2p handshake with a fresh node key, then
 * sends whatever frames (or raw bytes) a test or benchmark asks for, as
 * fast as the socket takes them, bounded in count and time. Frames the node
 * sends back are counted and dropped, so a long flood holds no memory.
 */
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import type { CanonicalValue } from "../../src/chain/codec.js";
import { encodeTx, type Tx } from "../../src/chain/tx.js";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { Channel, decodeFrame, encodeFrame } from "../../src/p2p/frames.js";
import { Handshake, type HandshakeMessage } from "../../src/p2p/handshake.js";
import { type NodeKey, nodeKeyOf } from "../../src/p2p/node-key.js";

/** Close code of a ban (P2P_MISBEHAVIOUR) and of a refusal because the key or address is banned. */
export const BAN_CLOSE_CODES: readonly number[] = [4025, 4011];

export interface HostileTarget {
  port: number;
  chainId: string;
  genesisHash: Uint8Array;
  host?: string;
}

export interface FloodLimits {
  /** Most messages sent. */
  maxMessages: number;
  /** Most milliseconds spent. */
  maxMs: number;
  /** Bytes left unwritten in the socket before the flood waits (the node reads at its own pace). */
  maxBufferedBytes?: number;
  /** Ends the flood early when it returns true. */
  stop?: () => boolean;
}

export interface FloodResult {
  sent: number;
  ms: number;
  /** Closed by the node before the flood ended. */
  closed: boolean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class HostilePeer {
  readonly nodeKey: NodeKey;
  /** Frames the node sent after the handshake (dropped, counted). */
  framesReceived = 0;
  closeCode: number | undefined;
  closeReason = "";
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(
    private readonly ws: WebSocket,
    nodeKey: NodeKey,
  ) {
    this.nodeKey = nodeKey;
    this.closed = new Promise((resolve) =>
      ws.on("close", (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        resolve({ code, reason: this.closeReason });
      }),
    );
    ws.on("error", () => {});
  }

  /** Connect with a fresh node key and complete the handshake; throws when the node refuses. */
  static async connect(target: HostileTarget, timeoutMs = 5_000): Promise<HostilePeer> {
    const nodeKey = nodeKeyOf(randomKeyPair().secretKey);
    const ws = new WebSocket(`ws://${target.host ?? "127.0.0.1"}:${target.port}/`, { perMessageDeflate: false });
    const peer = new HostilePeer(ws, nodeKey);
    const hs = new Handshake({ chainId: target.chainId, genesisHash: target.genesisHash, nodeKey }, { admit: () => {} });
    const send = (m: HandshakeMessage) => ws.send(encodeFrame(Channel.Handshake, m as unknown as CanonicalValue));
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`handshake with 127.0.0.1:${target.port} not done in ${timeoutMs} ms`));
      }, timeoutMs);
      ws.on("open", () => send(hs.hello()));
      ws.on("close", (code, reason) => {
        clearTimeout(timer);
        if (!done) reject(new Error(`refused: ${code} ${reason.toString()}`));
      });
      ws.on("message", (data: Buffer) => {
        if (done) {
          peer.framesReceived++;
          return;
        }
        try {
          const step = hs.receive(decodeFrame(new Uint8Array(data)).m);
          if (step.reply) send(step.reply);
          if (step.done) {
            done = true;
            clearTimeout(timer);
            resolve();
          }
        } catch (e) {
          ws.terminate();
          reject(e as Error);
        }
      });
    });
    return peer;
  }

  get nodeId(): string {
    return this.nodeKey.nodeId;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** True when the node closed the connection with a ban. */
  get banned(): boolean {
    return this.closeCode !== undefined && BAN_CLOSE_CODES.includes(this.closeCode);
  }

  sendFrame(ch: number, m: CanonicalValue): void {
    if (this.isOpen) this.ws.send(encodeFrame(ch, m), { binary: true });
  }

  sendBytes(bytes: Uint8Array | string, binary = true): void {
    if (this.isOpen) this.ws.send(bytes, { binary });
  }

  /** Send `frameAt(i)` (encoded frame bytes) for i = 0, 1, ... until a limit is reached or the node closes the connection. */
  async flood(frameAt: (i: number) => Uint8Array, limits: FloodLimits): Promise<FloodResult> {
    const start = Date.now();
    const maxBuffered = limits.maxBufferedBytes ?? 4 * 1024 * 1024;
    let sent = 0;
    const stop = limits.stop ?? (() => false);
    while (sent < limits.maxMessages && Date.now() - start < limits.maxMs && this.isOpen && !stop()) {
      if (this.ws.bufferedAmount > maxBuffered) {
        await sleep(2);
        continue;
      }
      this.ws.send(frameAt(sent), { binary: true });
      sent++;
      // Let the socket write, other floods of this process run, and the close frame arrive.
      if (sent % 4 === 0) await new Promise((r) => setImmediate(r));
    }
    return { sent, ms: Date.now() - start, closed: !this.isOpen };
  }

  close(): void {
    this.ws.terminate();
  }
}

export interface SybilFloodResult {
  connections: number;
  /** Connections the node ended with a ban. */
  bans: number;
  /** Connections the node refused at the handshake. */
  refused: number;
  sent: number;
  /** Node ids used, in order. */
  nodeIds: string[];
  /** Close code of each connection the node closed, in order. */
  closeCodes: number[];
}

/**
 * Flood from one hostile peer at a time, and when the node drops it, come
 * back with a fresh key and go on (a stranger can mint node keys for free):
 * until `limits.maxMs` or `limits.maxMessages` over all connections, or
 * `maxConnections`, or `stop()` returns true.
 */
export async function sybilFlood(
  target: HostileTarget,
  frameAt: (i: number) => Uint8Array,
  limits: FloodLimits & { maxConnections: number },
  stop: () => boolean = () => false,
): Promise<SybilFloodResult> {
  const start = Date.now();
  const out: SybilFloodResult = { connections: 0, bans: 0, refused: 0, sent: 0, nodeIds: [], closeCodes: [] };
  while (out.connections < limits.maxConnections && out.sent < limits.maxMessages && Date.now() - start < limits.maxMs && !stop()) {
    let peer: HostilePeer;
    try {
      peer = await HostilePeer.connect(target);
    } catch {
      out.refused++;
      out.connections++;
      await sleep(20);
      continue;
    }
    out.connections++;
    out.nodeIds.push(peer.nodeId);
    const base = out.sent;
    const r = await peer.flood((i) => frameAt(base + i), {
      maxMessages: limits.maxMessages - out.sent,
      maxMs: Math.max(1, limits.maxMs - (Date.now() - start)),
      stop,
      ...(limits.maxBufferedBytes !== undefined ? { maxBufferedBytes: limits.maxBufferedBytes } : {}),
    });
    out.sent += r.sent;
    if (r.closed) await Promise.race([peer.closed, sleep(3_000)]);
    if (peer.closeCode !== undefined) out.closeCodes.push(peer.closeCode);
    if (peer.banned) out.bans++;
    peer.close();
  }
  return out;
}

/** Encoded template and where its signature sits, per template tx. */
const sigSlots = new WeakMap<Tx, { bytes: Uint8Array; at: number }>();

/**
 * A copy of `tx` with a random low-S signature: well formed, never valid.
 * The template is encoded once; each copy overwrites its 64 signature bytes,
 * so a flood costs the sender a memcpy per tx, not an encoding.
 */
export function withRandomSignature(tx: Tx): Uint8Array {
  let slot = sigSlots.get(tx);
  if (!slot) {
    const bytes = encodeTx(tx);
    const at = Buffer.from(bytes).indexOf(Buffer.from(tx.sig));
    if (at < 0) throw new Error("signature not found in the encoded tx");
    slot = { bytes, at };
    sigSlots.set(tx, slot);
  }
  const out = new Uint8Array(slot.bytes);
  const sig = randomBytes(64);
  sig[0]! &= 0x7f; // r below the curve order
  sig[32]! &= 0x3f; // s below half the order: low-S
  sig[31]! |= 1;
  sig[63]! |= 1;
  out.set(sig, slot.at);
  return out;
}
