/**
 * The consensus channels' wire form, beside the messages it carries
 * (messages.ts): a consensus frame is `{m: encoded proposal or vote, block:
 * encoded block | null}` (a proposal carries its whole block, a vote none),
 * and an evidence frame is one encoded evidence. Decoding refuses anything
 * else with ConsensusError BAD_MESSAGE, which the p2p side holds against the
 * sender; the bytes are those the network has always carried.
 */
import type { CanonicalValue } from "../chain/codec.js";
import type { WireConsensusMessage } from "./bft-engine.js";
import { ConsensusError, ConsensusErrorCode } from "./errors.js";
import { MAX_MESSAGE_BYTES, decodeConsensusMessage, encodeConsensusMessage } from "./messages.js";

/** Bytes of a consensus frame beyond the block it may carry: the envelope, the proposal, the frame header. */
const CONSENSUS_FRAME_OVERHEAD = MAX_MESSAGE_BYTES + 1024;

/** Largest evidence frame: two signed votes and the envelope. */
export const MAX_EVIDENCE_FRAME_BYTES = 2 * MAX_MESSAGE_BYTES + 1024;

/** Largest encoded evidence an evidence frame may carry. */
const MAX_EVIDENCE_BYTES = 2 * MAX_MESSAGE_BYTES + 64;

/** Tx bytes a proposer may put in a block so that the proposal frame stays within `maxFrameBytes` (txs, lastCommit and header included). */
export function proposalTxBytesFor(maxFrameBytes: number): number {
  return Math.max(0, maxFrameBytes - CONSENSUS_FRAME_OVERHEAD - 256 * 1024);
}

function badConsensusFrame(message: string): ConsensusError {
  return new ConsensusError(ConsensusErrorCode.BAD_MESSAGE, message);
}

/** Decode a consensus frame from a peer; any failure is ConsensusError BAD_MESSAGE. The proposal's block stays encoded. */
export function decodeWireConsensus(value: CanonicalValue): WireConsensusMessage {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) throw badConsensusFrame("consensus frame must be a map");
  const r = value as Record<string, unknown>;
  if (Object.keys(r).sort().join(",") !== "block,m") throw badConsensusFrame("consensus frame must have exactly the keys m, block");
  if (!(r.m instanceof Uint8Array)) throw badConsensusFrame("consensus frame m must be bytes");
  const msg = decodeConsensusMessage(r.m);
  if (msg.kind === "vote") {
    if (r.block !== null) throw badConsensusFrame("a vote carries no block");
    return msg;
  }
  if (!(r.block instanceof Uint8Array)) throw badConsensusFrame("a proposal carries its block as bytes");
  return { kind: "proposal", proposal: msg.proposal, block: r.block };
}

export function encodeWireConsensus(msg: WireConsensusMessage): CanonicalValue {
  const m = encodeConsensusMessage(msg.kind === "vote" ? msg : { kind: "proposal", proposal: msg.proposal });
  return { m, block: msg.kind === "proposal" ? msg.block : null };
}

/** Decode an evidence frame: one encoded evidence, checked by the evidence pool (not here). */
export function decodeWireEvidence(value: CanonicalValue): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length === 0 || value.length > MAX_EVIDENCE_BYTES) throw badConsensusFrame("an evidence frame carries one encoded evidence");
  return value;
}
