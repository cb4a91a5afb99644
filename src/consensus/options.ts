/**
 * Options of the consensus room, each a type plus its defaults. The node
 * merges them into its own options.
 */
import { intSettingFault } from "../check/faults.js";
import { ConsensusError, ConsensusErrorCode } from "./errors.js";

function checkInteger(name: string, v: unknown, min: number, max: number): void {
  const fault = intSettingFault(name, v, min, max);
  if (fault !== undefined) throw new ConsensusError(ConsensusErrorCode.BAD_OPTIONS, fault);
}

export interface TendermintOptions {
  /** timeoutPropose(0): how long to wait for the round's proposal. */
  proposeMs: number;
  /** timeoutPrevote(0): how long to wait for more prevotes after 2f+1 of any kind. */
  prevoteMs: number;
  /** timeoutPrecommit(0): how long to wait for more precommits after 2f+1 of any kind. */
  precommitMs: number;
  /**
   * Added to each timeout per round: timeout(r) = base + r * deltaMs. Growing
   * timeouts are what makes the algorithm live under partial synchrony: after
   * the unknown stabilisation time, some round's timeouts exceed the real
   * message delay.
   */
  deltaMs: number;
  /**
   * How many distinct rounds above the current one a validator's votes and
   * proposals are kept for. Messages for future rounds must be kept (round
   * skipping counts them), but a faulty validator could otherwise send one
   * for every round up to 2^31 and fill memory; gossip sends a correct
   * validator's messages again once the node has caught up.
   */
  maxFutureRoundsPerValidator: number;
}

export const defaultTendermintOptions: Readonly<TendermintOptions> = Object.freeze({
  proposeMs: 1000,
  prevoteMs: 500,
  precommitMs: 500,
  deltaMs: 250,
  maxFutureRoundsPerValidator: 16,
});

/** Defaults overridden by `over`, each value checked. */
export function tendermintOptions(over: Partial<TendermintOptions> = {}): TendermintOptions {
  const o = { ...defaultTendermintOptions, ...over };
  // Timeouts in ms, at most an hour.
  for (const k of ["proposeMs", "prevoteMs", "precommitMs", "deltaMs"] as const) checkInteger(k, o[k], 0, 3_600_000);
  checkInteger("maxFutureRoundsPerValidator", o.maxFutureRoundsPerValidator, 1, 1024);
  return o;
}

export interface WalOptions {
  /**
   * When the log passes this size at an end-of-height marker, it is replaced
   * by a file holding only that marker: replay never needs earlier heights.
   */
  rotateBytes: number;
  /** Largest record accepted; bigger lengths in a frame mean damage. */
  maxRecordBytes: number;
}

export const defaultWalOptions: Readonly<WalOptions> = Object.freeze({
  rotateBytes: 4 * 1024 * 1024,
  maxRecordBytes: 8 * 1024 * 1024,
});

export function walOptions(over: Partial<WalOptions> = {}): WalOptions {
  const o = { ...defaultWalOptions, ...over };
  checkInteger("rotateBytes", o.rotateBytes, 0, Number.MAX_SAFE_INTEGER);
  // The frame's length field is a u32.
  checkInteger("maxRecordBytes", o.maxRecordBytes, 16, 0xffff_ffff - 1);
  return o;
}
