/** Options of the p2p room (merged into NodeOptions by the node). */
import { P2pError, P2pErrorCode } from "./errors.js";
import { parsePeerAddress } from "./address.js";
import { booleanFault, intSettingFault, isPlainObject, nonEmptyStringFault, reason, show } from "../check/faults.js";

const MiB = 1024 * 1024;

export interface P2pOptions {
  /** Interface to listen on. Loopback unless the operator opts in (DESIGN.md, default ports). */
  host: string;
  /** 0 lets the OS choose (tests). */
  port: number;
  /** Peers dialled at start and redialled when they drop: "host:port" or "nodeId@host:port". */
  persistentPeers: string[];
  maxInboundPeers: number;
  maxOutboundPeers: number;
  /** Inbound connections still in their handshake; more are refused before any work is done. */
  maxPendingHandshakes: number;
  /** Largest WebSocket message (the ws maxPayload); channels may set a smaller bound of their own. */
  maxFrameBytes: number;
  handshakeTimeoutMs: number;
  pingIntervalMs: number;
  /** A peer that does not answer a ping within this time is dropped. */
  pongTimeoutMs: number;
  /** Bytes waiting to be written to one peer; beyond it the peer is too slow and is dropped. */
  sendQueueMaxBytes: number;
  /** Messages waiting to be written to one peer; beyond it the peer is dropped. */
  sendQueueMaxMessages: number;
  /** Inbound messages per second per peer; a message beyond the bucket is dropped and scored. */
  rateMessagesPerSec: number;
  rateMessagesBurst: number;
  /** Inbound bytes per second per peer; beyond the bucket the socket is paused (TCP backpressure), not scored. */
  rateBytesPerSec: number;
  rateBytesBurst: number;
  /** Score at or below which a peer is dropped and banned (scores start at 0 and fall with each offence). */
  banThreshold: number;
  banDurationMs: number;
  /** Points per second a peer's score heals back toward 0, so rare faults of an honest peer never add up to a ban. */
  scoreRecoveryPerSec: number;
  /** Ban the IP address too when it is loopback. Off by default: a devnet on one host shares 127.0.0.1. */
  banLoopbackAddresses: boolean;
  /** Message hashes remembered for gossip dedupe (frames, and txs in the tx channel's own cache). */
  seenCacheSize: number;
  /**
   * How long txs queued for a peer wait for more before they go out as one
   * batch frame (tx-gossip.ts); a full batch goes at once. 0: no wait, the
   * txs queued in the same event-loop turn go together.
   */
  txFlushDelayMs: number;
  /**
   * Tx gossip budgets per peer (tx-gossip.ts): txs and tx bytes received
   * per second, and txs sent on to admission per second (each may cost a
   * signature check). A tx beyond a budget is dropped, never queued; a peer
   * that keeps overrunning is penalised and, repeated, banned.
   */
  txBudgetTxsPerSec: number;
  txBudgetBytesPerSec: number;
  txBudgetSigChecksPerSec: number;
  /** Txs of one peer waiting for admission; beyond it a batch is dropped (an overrun). */
  txInboundQueueMax: number;
  /** Gossiped txs in admission at once, over all peers: bounds the memory and the work tx gossip can hold. */
  txAdmissionsInFlight: number;
  /**
   * Messages per second per peer on each channel (the inbound message
   * budget of consensus, evidence and block sync), beyond the connection's
   * overall rate: a message beyond its channel's budget is dropped and scored.
   */
  channelRatePerSec: { consensus: number; evidence: number; blockSync: number; tx: number; snapshot: number };
  /** First redial delay of a persistent peer; doubles per failure up to redialMaxMs. */
  redialBaseMs: number;
  redialMaxMs: number;
}

/**
 * Defaults. The frame bound follows the brief for block sync (4 MiB); a
 * chain whose consensus params allow larger blocks needs a larger
 * maxFrameBytes, since a block travels in one frame.
 */
export const defaultP2pOptions: Readonly<P2pOptions> = Object.freeze({
  host: "127.0.0.1",
  port: 8661,
  persistentPeers: [],
  maxInboundPeers: 40,
  maxOutboundPeers: 10,
  maxPendingHandshakes: 16,
  maxFrameBytes: 4 * MiB,
  handshakeTimeoutMs: 5_000,
  pingIntervalMs: 15_000,
  pongTimeoutMs: 30_000,
  sendQueueMaxBytes: 16 * MiB,
  sendQueueMaxMessages: 4_096,
  rateMessagesPerSec: 1_000,
  rateMessagesBurst: 2_000,
  rateBytesPerSec: 16 * MiB,
  rateBytesBurst: 16 * MiB,
  banThreshold: -100,
  banDurationMs: 10 * 60_000,
  scoreRecoveryPerSec: 1,
  banLoopbackAddresses: false,
  seenCacheSize: 50_000,
  // A few ms add little to a tx's path to a block (blocks take hundreds of ms) and let a node under load send tens of txs per frame.
  txFlushDelayMs: 5,
  // Above what the chain can carry (a few thousand txs/s at most on one machine), so an honest relay never meets them;
  // a stranger gets at most one core's tenth of signature checks (native verify does about 15,000/s).
  txBudgetTxsPerSec: 2_000,
  txBudgetBytesPerSec: 4 * MiB,
  txBudgetSigChecksPerSec: 1_000,
  txInboundQueueMax: 2_048,
  txAdmissionsInFlight: 512,
  // A height carries a proposal and a few votes per validator and round; blocks and statuses come at block rate;
  // evidence is rare. Tx batches are budgeted per tx above; their frame budget is well above an honest relay's (a flush every 5 ms, plus full batches).
  channelRatePerSec: { consensus: 500, evidence: 20, blockSync: 200, tx: 1_000, snapshot: 200 },
  redialBaseMs: 1_000,
  redialMaxMs: 60_000,
});

function badOption(name: string, fault: string, got: unknown): P2pError {
  return new P2pError(P2pErrorCode.BAD_OPTION, `p2p option ${name}: ${fault}, got ${show(got)}`);
}

function checkInteger(name: string, v: unknown, min: number, max: number): void {
  const fault = intSettingFault(name, v, min, max);
  if (fault !== undefined) throw new P2pError(P2pErrorCode.BAD_OPTION, `p2p option ${fault}`);
}

/** Defaults overlaid with the given options (undefined members keep the default), every member checked. */
export function resolveP2pOptions(opts: Partial<P2pOptions> = {}): P2pOptions {
  const out = { ...defaultP2pOptions } as P2pOptions;
  for (const key of Object.keys(defaultP2pOptions) as (keyof P2pOptions)[]) {
    if (opts[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = opts[key];
  }
  const hostFault = nonEmptyStringFault(out.host, Number.MAX_SAFE_INTEGER);
  if (hostFault !== undefined) throw badOption("host", hostFault, out.host);
  checkInteger("port", out.port, 0, 65535);
  if (!Array.isArray(out.persistentPeers)) throw badOption("persistentPeers", reason.type("an array of peer addresses"), out.persistentPeers);
  out.persistentPeers = [...out.persistentPeers];
  for (const p of out.persistentPeers) parsePeerAddress(p);
  checkInteger("maxInboundPeers", out.maxInboundPeers, 0, 10_000);
  checkInteger("maxOutboundPeers", out.maxOutboundPeers, 0, 10_000);
  checkInteger("maxPendingHandshakes", out.maxPendingHandshakes, 1, 10_000);
  checkInteger("maxFrameBytes", out.maxFrameBytes, 1024, 256 * MiB);
  checkInteger("handshakeTimeoutMs", out.handshakeTimeoutMs, 1, 600_000);
  checkInteger("pingIntervalMs", out.pingIntervalMs, 1, 3_600_000);
  checkInteger("pongTimeoutMs", out.pongTimeoutMs, 1, 3_600_000);
  checkInteger("sendQueueMaxBytes", out.sendQueueMaxBytes, out.maxFrameBytes, 4096 * MiB);
  checkInteger("sendQueueMaxMessages", out.sendQueueMaxMessages, 1, 10_000_000);
  checkInteger("rateMessagesPerSec", out.rateMessagesPerSec, 1, 10_000_000);
  checkInteger("rateMessagesBurst", out.rateMessagesBurst, 1, 10_000_000);
  checkInteger("rateBytesPerSec", out.rateBytesPerSec, 1, 4096 * MiB);
  // A frame of the largest allowed size must fit in a full bucket, or it could never pass.
  checkInteger("rateBytesBurst", out.rateBytesBurst, out.maxFrameBytes, 4096 * MiB);
  checkInteger("banThreshold", out.banThreshold, -1_000_000, -1);
  checkInteger("banDurationMs", out.banDurationMs, 0, 365 * 24 * 3_600_000);
  checkInteger("scoreRecoveryPerSec", out.scoreRecoveryPerSec, 0, 1_000_000);
  const loopbackFault = booleanFault(out.banLoopbackAddresses);
  if (loopbackFault !== undefined) throw badOption("banLoopbackAddresses", loopbackFault, out.banLoopbackAddresses);
  checkInteger("seenCacheSize", out.seenCacheSize, 1, 10_000_000);
  checkInteger("txFlushDelayMs", out.txFlushDelayMs, 0, 10_000);
  checkInteger("txBudgetTxsPerSec", out.txBudgetTxsPerSec, 1, 10_000_000);
  checkInteger("txBudgetBytesPerSec", out.txBudgetBytesPerSec, 1024, 4096 * MiB);
  checkInteger("txBudgetSigChecksPerSec", out.txBudgetSigChecksPerSec, 1, 10_000_000);
  checkInteger("txInboundQueueMax", out.txInboundQueueMax, 256, 10_000_000);
  checkInteger("txAdmissionsInFlight", out.txAdmissionsInFlight, 1, 1_000_000);
  const rates = out.channelRatePerSec as unknown;
  if (!isPlainObject(rates)) throw badOption("channelRatePerSec", reason.type("object"), rates);
  out.channelRatePerSec = { ...defaultP2pOptions.channelRatePerSec, ...(rates as Partial<P2pOptions["channelRatePerSec"]>) };
  for (const [k, v] of Object.entries(out.channelRatePerSec)) {
    if (!(k in defaultP2pOptions.channelRatePerSec)) throw badOption(`channelRatePerSec.${k}`, reason.oneOf(Object.keys(defaultP2pOptions.channelRatePerSec)), k);
    checkInteger(`channelRatePerSec.${k}`, v, 1, 10_000_000);
  }
  checkInteger("redialBaseMs", out.redialBaseMs, 1, 3_600_000);
  checkInteger("redialMaxMs", out.redialMaxMs, out.redialBaseMs, 24 * 3_600_000);
  return out;
}
