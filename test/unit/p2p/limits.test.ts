/**
 * Per-peer bounds driven by an injected clock: token buckets (including
 * debt), the tx gossip budget's order of checks, a healing score, and a
 * bounded ban list that drops expired bans before live ones.
 */
import { expect } from "chai";
import { BanList, PeerScore, Penalty, TokenBucket, TxBudget } from "../../../src/p2p/limits.js";

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("p2p/limits", () => {
  describe("TokenBucket", () => {
    it("starts full; tryTake takes nothing when short; holds() takes nothing", () => {
      const c = clock();
      const b = new TokenBucket(10, 20, c.now);
      expect(b.holds(20)).to.equal(true);
      expect(b.holds(21)).to.equal(false);
      expect(b.tryTake(15)).to.equal(true);
      expect(b.tryTake(6)).to.equal(false);
      expect(b.tryTake(5)).to.equal(true);
      expect(b.tryTake(1)).to.equal(false);
      c.advance(100); // 10/s: one token per 100 ms
      expect(b.tryTake(1)).to.equal(true);
      c.advance(60_000);
      expect(b.holds(21)).to.equal(false, "refill stops at capacity");
    });

    it("takeWithDebt goes below zero and says how long the debt takes to repay", () => {
      const c = clock();
      const b = new TokenBucket(100, 100, c.now);
      expect(b.takeWithDebt(60)).to.equal(0);
      expect(b.takeWithDebt(90)).to.equal(500); // 50 tokens short at 100/s
      expect(b.tryTake(1)).to.equal(false);
      c.advance(499);
      expect(b.holds(1)).to.equal(false);
      c.advance(21); // debt repaid, and one token more
      expect(b.holds(1)).to.equal(true);
    });
  });

  describe("TxBudget", () => {
    it("checks the tx count before the bytes, and charges neither when either is over", () => {
      const c = clock();
      const b = new TxBudget({ txsPerSec: 5, bytesPerSec: 1_000, sigChecksPerSec: 2 }, c.now);
      expect(b.receive(11, 10)).to.equal("txs");
      expect(b.receive(11, 5_000)).to.equal("txs");
      expect(b.receive(1, 2_001)).to.equal("bytes");
      // Nothing was taken by the refusals: the whole two-second burst is still there.
      expect(b.receive(10, 2_000)).to.equal(undefined);
      expect(b.receive(1, 1)).to.equal("txs");
      c.advance(200);
      expect(b.receive(1, 200)).to.equal(undefined);
    });
  });

  describe("PeerScore", () => {
    it("falls by the penalty, heals toward 0 at its rate, never above 0", () => {
      const c = clock();
      const s = new PeerScore(10, c.now);
      expect(s.penalize(Penalty.INVALID_MESSAGE)).to.equal(-25);
      c.advance(1_000);
      expect(s.value).to.equal(-15);
      expect(s.penalize(Penalty.TIMEOUT)).to.equal(-20);
      c.advance(10_000);
      expect(s.value).to.equal(0);
      // Time spent at 0 is no credit against the next offence.
      c.advance(60_000);
      expect(s.penalize(Penalty.MALFORMED_FRAME)).to.equal(-100);
    });
  });

  describe("BanList", () => {
    it("bans until the expiry; remainingMs counts down and is 0 once over", () => {
      const c = clock();
      const bans = new BanList(10, c.now);
      bans.ban("node:a", 5_000);
      expect(bans.isBanned("node:a")).to.equal(true);
      expect(bans.remainingMs("node:a")).to.equal(5_000);
      c.advance(4_000);
      expect(bans.remainingMs("node:a")).to.equal(1_000);
      c.advance(1_000);
      expect(bans.isBanned("node:a")).to.equal(false);
      expect(bans.remainingMs("node:a")).to.equal(0);
      expect(bans.isBanned("ip:never")).to.equal(false);
    });

    it("a new ban of a banned key sets its new expiry and makes it the youngest", () => {
      const c = clock();
      const bans = new BanList(2, c.now);
      bans.ban("node:a", 10_000);
      bans.ban("node:b", 10_000);
      bans.ban("node:a", 1_000); // re-ban: shorter, and now younger than b
      expect(bans.remainingMs("node:a")).to.equal(1_000);
      bans.ban("node:c", 10_000); // full: the oldest (b) goes
      expect(bans.isBanned("node:b")).to.equal(false);
      expect(bans.isBanned("node:a")).to.equal(true);
      expect(bans.isBanned("node:c")).to.equal(true);
    });

    it("when full, expired bans are dropped first, so live ones stay", () => {
      const c = clock();
      const bans = new BanList(3, c.now);
      bans.ban("node:old-live", 60_000);
      bans.ban("node:short1", 100);
      bans.ban("node:short2", 100);
      c.advance(200);
      bans.ban("node:new", 60_000);
      expect(bans.isBanned("node:old-live")).to.equal(true, "an expired ban made room, not the oldest live one");
      expect(bans.isBanned("node:new")).to.equal(true);
    });
  });
});
