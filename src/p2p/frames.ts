/**
 * The frame: every p2p message is one binary WebSocket message holding one
 * canonical CBOR envelope `{ch, m}`: the channel number and the channel's
 * message. Canonical encoding gives every message one byte form, so its
 * sha256 is a stable id for gossip dedupe.
 */
import { type CanonicalValue, decodeCanonical, encodeCanonical } from "../chain/codec.js";
import { CodecError } from "../chain/errors.js";
import { P2pError, P2pErrorCode } from "./errors.js";
import { WireCheck } from "./validate.js";

/** Channel numbers are part of the wire protocol: never renumbered. */
export enum Channel {
  /** Handshake frames only, and only before the handshake completes. */
  Handshake = 0,
  Tx = 1,
  Consensus = 2,
  Evidence = 3,
  BlockSync = 4,
  /** State snapshots: list, manifest, chunk, and the block of a snapshot height (snapshot-messages.ts). */
  Snapshot = 5,
}

/** Highest channel number a frame may carry (one byte, room for later channels). */
export const MAX_CHANNEL = 255;

export interface Frame {
  ch: number;
  m: CanonicalValue;
}

const check = new WireCheck(P2pErrorCode.MALFORMED_FRAME);

export function encodeFrame(ch: number, m: CanonicalValue): Uint8Array {
  check.int(ch, "frame.ch", 0, MAX_CHANNEL);
  return encodeCanonical({ ch, m });
}

/** Decode one frame; anything that is not a canonical `{ch, m}` envelope is MALFORMED_FRAME. */
export function decodeFrame(bytes: Uint8Array): Frame {
  let value: CanonicalValue;
  try {
    value = decodeCanonical(bytes);
  } catch (e) {
    if (e instanceof CodecError) throw new P2pError(P2pErrorCode.MALFORMED_FRAME, `frame is not canonical CBOR: ${e.message}`);
    throw e;
  }
  const env = check.record(value, "frame", ["ch", "m"]);
  return { ch: check.int(env.ch, "frame.ch", 0, MAX_CHANNEL), m: env.m! };
}
