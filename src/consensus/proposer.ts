/**
 * Who proposes: weighted round robin by proposer priority, so that over time
 * each validator proposes in proportion to its voting power.
 *
 * One step: every validator's priority grows by its power; the validator with
 * the highest priority (ties: the lowest address) is the proposer and its
 * priority drops by the total power. The sum of priorities is unchanged by a
 * step, so they stay centred on zero. Before each step the priorities are
 * scaled down when their spread exceeds twice the total power and then
 * centred on their mean, which keeps every priority within three times the
 * total power: a bound that keeps the arithmetic exact in doubles and stops a
 * validator from banking priority without limit (the scheme CometBFT uses).
 *
 * Values are immutable: advance returns a new value. A driver keeps one per
 * height: P(1) = initial(set), the proposer of round r at height h is
 * P(h).advance(r).proposer(), and P(h+1) = P(h).advance(1).
 */
import { compareBytes, toHex } from "../crypto/bytes.js";
import { type CanonicalValue, decodeCanonical, encodeCanonical } from "../chain/codec.js";
import { CodecError } from "../chain/errors.js";
import { ConsensusError, ConsensusErrorCode } from "./errors.js";
import { ADDRESS_LENGTH } from "./messages.js";
import type { ValidatorSet } from "../chain/validator-set.js";

/** Bound on total power: priorities stay within 3x of it, far inside 2^53. */
export const MAX_TOTAL_POWER = 2 ** 48;
/** Spread allowed before scaling, as a multiple of total power (CometBFT's PriorityWindowSizeFactor). */
const PRIORITY_WINDOW_FACTOR = 2;
/** Bound on a stored priority: 4x the largest total power (the reachable bound is 3x). */
const MAX_PRIORITY = 4 * MAX_TOTAL_POWER;
/** Bound on steps in one advance call: a round number is below 2^31, but nobody walks that far in one go. */
export const MAX_ADVANCE = 1_000_000;

export interface ProposerEntry {
  readonly address: Uint8Array;
  readonly power: number;
  readonly priority: number;
}

/** a / b rounded toward zero, exact for safe integers (b > 0). */
function truncDiv(a: number, b: number): number {
  let q = Math.trunc(a / b);
  // Float division can land on the neighbouring integer for large |a|.
  if (a >= 0) {
    if (q * b > a) q -= 1;
    else if ((q + 1) * b <= a) q += 1;
  } else {
    if (q * b < a) q += 1;
    else if ((q - 1) * b >= a) q -= 1;
  }
  return q;
}

function bad(message: string): ConsensusError {
  return new ConsensusError(ConsensusErrorCode.BAD_MESSAGE, `proposer priorities: ${message}`);
}

export class ProposerPriorities {
  private constructor(
    private readonly entries: readonly ProposerEntry[],
    private readonly proposerIndex: number,
    readonly totalPower: number,
  ) {}

  /** All priorities zero, then one step: the proposer of round 0 at the first height. */
  static initial(set: ValidatorSet): ProposerPriorities {
    const vs = set.validators;
    if (vs.length === 0) throw new ConsensusError(ConsensusErrorCode.BAD_INPUT, "an empty validator set has no proposer");
    const seen = new Set<string>();
    for (const v of vs) {
      if (!Number.isSafeInteger(v.power) || v.power < 1) throw new ConsensusError(ConsensusErrorCode.BAD_INPUT, `validator power must be a positive integer, got ${v.power}`);
      const key = toHex(v.address);
      if (seen.has(key)) throw new ConsensusError(ConsensusErrorCode.BAD_INPUT, `validator ${key} appears twice`);
      seen.add(key);
    }
    const total = vs.reduce((s, v) => s + v.power, 0);
    if (total > MAX_TOTAL_POWER) throw new ConsensusError(ConsensusErrorCode.BAD_INPUT, `total power ${total} exceeds ${MAX_TOTAL_POWER}`);
    const zero = vs.map((v) => ({ address: v.address, power: v.power, priority: 0 }));
    return new ProposerPriorities(zero, -1, total).advance(1);
  }

  /** The priorities after `n` more steps (n = 0 gives this value). */
  advance(n: number): ProposerPriorities {
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ADVANCE) {
      throw new ConsensusError(ConsensusErrorCode.BAD_INPUT, `advance expects an integer in [0, ${MAX_ADVANCE}], got ${n}`);
    }
    if (n === 0) return this;
    const addresses = this.entries.map((e) => e.address);
    const powers = this.entries.map((e) => e.power);
    const p = this.entries.map((e) => e.priority);
    let chosen = -1;
    for (let step = 0; step < n; step++) {
      this.rescaleAndCentre(p);
      chosen = 0;
      for (let i = 0; i < p.length; i++) {
        p[i]! += powers[i]!;
        if (i > 0 && (p[i]! > p[chosen]! || (p[i] === p[chosen] && compareBytes(addresses[i]!, addresses[chosen]!) < 0))) chosen = i;
      }
      p[chosen]! -= this.totalPower;
    }
    return new ProposerPriorities(
      this.entries.map((e, i) => ({ address: e.address, power: e.power, priority: p[i]! })),
      chosen,
      this.totalPower,
    );
  }

  /**
   * The priorities of the next height when its validator set is `set`: one
   * step, as advance(1), after carrying the priorities over to `set` when it
   * differs from this value's. Rule (set change, the one CometBFT uses, so
   * every node computes the same proposer): a validator that stays keeps its
   * priority and takes its new power; a new validator starts at
   * -1.125 x the new total power (rounded toward minus infinity), so it does
   * not propose at once and cannot gain by leaving and rejoining; a removed
   * one is dropped. The step then rescales and centres as usual. Entries
   * follow `set`'s order, so the result `matches(set)`.
   */
  nextFor(set: ValidatorSet): ProposerPriorities {
    if (this.matches(set)) return this.advance(1);
    const fresh = ProposerPriorities.initial(set);
    const total = fresh.totalPower;
    const joinPriority = -(total + Math.ceil(total / 8));
    const old = new Map(this.entries.map((e) => [toHex(e.address), e.priority]));
    const carried = set.validators.map((v) => ({ address: v.address, power: v.power, priority: old.get(toHex(v.address)) ?? joinPriority }));
    // proposerIndex 0 is never read: advance(1) chooses the proposer afresh.
    return new ProposerPriorities(carried, 0, total).advance(1);
  }

  private rescaleAndCentre(p: number[]): void {
    let min = Infinity;
    let max = -Infinity;
    for (const x of p) {
      if (x < min) min = x;
      if (x > max) max = x;
    }
    const window = PRIORITY_WINDOW_FACTOR * this.totalPower;
    if (max - min > window) {
      const ratio = Math.ceil((max - min) / window);
      for (let i = 0; i < p.length; i++) p[i] = truncDiv(p[i]!, ratio);
    }
    // The mean, rounded toward minus infinity; the sum may exceed 2^53 for
    // large sets, so it is taken in bigint.
    let sum = 0n;
    for (const x of p) sum += BigInt(x);
    const n = BigInt(p.length);
    let mean = sum / n;
    if (sum % n !== 0n && sum < 0n) mean -= 1n;
    const shift = Number(mean);
    if (shift !== 0) for (let i = 0; i < p.length; i++) p[i]! -= shift;
  }

  /** Address of the validator chosen by the last step. */
  proposer(): Uint8Array {
    return this.entries[this.proposerIndex]!.address;
  }

  /** Each validator with its power and current priority, in validator-set order. */
  list(): readonly ProposerEntry[] {
    return this.entries;
  }

  /** True iff these priorities belong to `set` (same addresses and powers in the same order). */
  matches(set: ValidatorSet): boolean {
    const vs = set.validators;
    return (
      vs.length === this.entries.length &&
      vs.every((v, i) => compareBytes(v.address, this.entries[i]!.address) === 0 && v.power === this.entries[i]!.power)
    );
  }

  encode(): Uint8Array {
    const value: CanonicalValue = {
      entries: this.entries.map((e) => [e.address, e.power, e.priority]),
      proposer: this.proposerIndex,
    };
    return encodeCanonical(value);
  }

  /** Decode stored priorities; any failure is ConsensusError BAD_MESSAGE. */
  static decode(bytes: Uint8Array): ProposerPriorities {
    let value: unknown;
    try {
      value = decodeCanonical(bytes);
    } catch (e) {
      if (e instanceof CodecError) throw bad(`undecodable: ${e.message}`);
      throw e;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) throw bad("expected a map");
    const r = value as Record<string, unknown>;
    if (Object.keys(r).sort().join(",") !== "entries,proposer") throw bad("expected exactly the keys entries, proposer");
    if (!Array.isArray(r.entries) || r.entries.length === 0) throw bad("entries must be a non-empty array");
    const seen = new Set<string>();
    let total = 0;
    const entries: ProposerEntry[] = r.entries.map((item: unknown, i: number) => {
      if (!Array.isArray(item) || item.length !== 3) throw bad(`entries[${i}] must be [address, power, priority]`);
      const [address, power, priority] = item as unknown[];
      if (!(address instanceof Uint8Array) || address.length !== ADDRESS_LENGTH) throw bad(`entries[${i}]: expected ${ADDRESS_LENGTH}-byte address`);
      if (!Number.isSafeInteger(power) || (power as number) < 1) throw bad(`entries[${i}]: power must be a positive integer`);
      if (!Number.isSafeInteger(priority) || Math.abs(priority as number) > MAX_PRIORITY) throw bad(`entries[${i}]: priority out of range`);
      const key = toHex(address);
      if (seen.has(key)) throw bad(`entries[${i}]: address repeated`);
      seen.add(key);
      total += power as number;
      if (total > MAX_TOTAL_POWER) throw bad(`total power exceeds ${MAX_TOTAL_POWER}`);
      return { address, power: power as number, priority: priority as number };
    });
    const idx = r.proposer;
    if (!Number.isSafeInteger(idx) || (idx as number) < 0 || (idx as number) >= entries.length) throw bad("proposer must index an entry");
    return new ProposerPriorities(entries, idx as number, total);
  }
}
