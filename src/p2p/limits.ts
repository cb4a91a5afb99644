/** Per-peer bounds: token buckets for inbound rates, and the misbehaviour score. */

/**
 * A token bucket: `capacity` tokens, refilled at `ratePerSec`. Time comes
 * from the injected clock (milliseconds), so tests can drive it.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly capacity: number,
    private readonly now: () => number,
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) * this.ratePerSec) / 1000);
    this.last = t;
  }

  /** Whether the bucket holds `n` tokens now (nothing taken). */
  holds(n: number): boolean {
    this.refill();
    return this.tokens >= n;
  }

  /** Take `n` tokens if the bucket holds them; false (and nothing taken) otherwise. */
  tryTake(n: number): boolean {
    this.refill();
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Take `n` tokens even into debt; the milliseconds until the debt is repaid (0 if none). */
  takeWithDebt(n: number): number {
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.ratePerSec);
  }
}

/**
 * Penalty points per offence. A peer starts at 0; at the ban threshold
 * (-100 by default) it is dropped and banned. Offences an honest peer of the
 * same version never commits (undecodable frames, oversized frames, a block
 * with a bad commit) cost the whole budget at once; offences a peer of a
 * newer version or with a different view might commit cost less.
 */
export const Penalty = Object.freeze({
  /** Non-binary, non-CBOR, non-canonical or wrongly shaped frame; handshake frame after the handshake. */
  MALFORMED_FRAME: 100,
  /** Frame larger than maxFrameBytes or than its channel's bound. */
  FRAME_TOO_LARGE: 100,
  /** A channel this node does not speak (a newer peer might). */
  UNKNOWN_CHANNEL: 20,
  /** A message its channel's decoder refused (validateBasic). */
  INVALID_MESSAGE: 25,
  /** A message beyond the per-peer message rate. */
  RATE_LIMITED: 5,
  /** Default for reportBad: a message that failed a check only its handler could make. */
  REPORTED: 25,
  /** A signature that does not verify, reported by a handler. */
  BAD_SIGNATURE: 50,
  /** A synced block or commit that does not verify. */
  BAD_BLOCK: 100,
  /** A snapshot manifest or chunk that does not check against the verified header (snapshots are deterministic: no honest peer serves one). */
  BAD_SNAPSHOT: 100,
  /** A request that went unanswered in time (a slow or overloaded peer, not proof of malice). */
  TIMEOUT: 5,
  /** Tx gossip beyond the peer's budget (txs, bytes, signature checks or queued txs): the txs are dropped. */
  TX_BUDGET_OVERRUN: 10,
  /** A gossiped tx whose signature fails where no race can explain it (docs/p2p.md, "forged txs"). */
  FORGED_TX: 50,
});

/** Which budget a batch of gossiped txs overran. */
export type TxBudgetOverrun = "txs" | "bytes" | "signature checks" | "queue";

/**
 * One peer's tx gossip budgets: txs and bytes received per second, and
 * txs sent on to admission (each may cost a signature check) per second.
 * Each bucket holds two seconds' worth, so an honest burst passes.
 */
export class TxBudget {
  private readonly txs: TokenBucket;
  private readonly bytes: TokenBucket;
  private readonly sigChecks: TokenBucket;

  constructor(limits: { txsPerSec: number; bytesPerSec: number; sigChecksPerSec: number }, now: () => number) {
    this.txs = new TokenBucket(limits.txsPerSec, 2 * limits.txsPerSec, now);
    this.bytes = new TokenBucket(limits.bytesPerSec, 2 * limits.bytesPerSec, now);
    this.sigChecks = new TokenBucket(limits.sigChecksPerSec, 2 * limits.sigChecksPerSec, now);
  }

  /** Charge a received batch of `count` txs and `bytes` bytes; the budget it overran (the batch is then dropped whole), or undefined. */
  receive(count: number, bytes: number): TxBudgetOverrun | undefined {
    if (!this.txs.holds(count)) return "txs";
    if (!this.bytes.holds(bytes)) return "bytes";
    this.txs.tryTake(count);
    this.bytes.tryTake(bytes);
    return undefined;
  }

  /** Charge one tx sent on to admission; false when the signature-check budget is spent (the tx is dropped). */
  admit(): boolean {
    return this.sigChecks.tryTake(1);
  }
}

/** A score that heals toward 0 over time, read lazily. */
export class PeerScore {
  private score = 0;
  private last: number;

  constructor(
    private readonly recoveryPerSec: number,
    private readonly now: () => number,
  ) {
    this.last = now();
  }

  get value(): number {
    const t = this.now();
    if (this.score < 0) this.score = Math.min(0, this.score + ((t - this.last) * this.recoveryPerSec) / 1000);
    this.last = t;
    return this.score;
  }

  /** Lower the score by `points`; the new score. */
  penalize(points: number): number {
    const v = this.value - points;
    this.score = v;
    return v;
  }
}

/**
 * Bans by key ("node:<id>", "ip:<addr>", "addr:<host:port>") with an expiry.
 * Bounded: an attacker can mint node ids for free, so the oldest bans go
 * first when the list is full (IP bans are the ones that hold anyway).
 */
export class BanList {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  ban(key: string, durationMs: number): void {
    this.until.delete(key); // re-insert at the end: Map order is age order
    this.until.set(key, this.now() + durationMs);
    if (this.until.size > this.maxEntries) {
      this.sweep();
      for (const k of this.until.keys()) {
        if (this.until.size <= this.maxEntries) break;
        this.until.delete(k);
      }
    }
  }

  isBanned(key: string): boolean {
    const t = this.until.get(key);
    if (t === undefined) return false;
    if (t > this.now()) return true;
    this.until.delete(key);
    return false;
  }

  /** Milliseconds until `key`'s ban ends, 0 when not banned. */
  remainingMs(key: string): number {
    return this.isBanned(key) ? this.until.get(key)! - this.now() : 0;
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, u] of this.until) if (u <= t) this.until.delete(k);
  }
}
