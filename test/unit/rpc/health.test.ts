import { expect } from "chai";
import { type HealthFacts, healthProblemOf, healthReport } from "../../../src/rpc/health.js";

/** A healthy BFT node at height 10, its head 1 s old, two peers at its height. */
function facts(over: Partial<HealthFacts> = {}): HealthFacts {
  const now = 1_000_000;
  return { expectsPeers: true, peerCount: 2, syncing: false, bft: true, head: { height: 10, time: now - 1_000 }, bestPeerHeight: 10, staleAfterMs: 5_000, now, ...over };
}

describe("rpc: health", () => {
  it("a current node with peers has no problem", () => {
    expect(healthProblemOf(facts())).to.equal(undefined);
    expect(healthReport({ height: () => 10, isSyncing: () => false, problem: () => healthProblemOf(facts()) })).to.deep.include({ status: "ok", height: 10 });
  });

  it("a storage fault comes first, with its remedy", () => {
    const p = healthProblemOf(facts({ fault: { message: "chain store /x: ENOSPC", remedy: "free space and restart" }, peerCount: 0, syncing: true }));
    expect(p).to.deep.equal({ status: "faulted", reason: "chain store /x: ENOSPC; free space and restart" });
  });

  it("a node meant to have peers and having none is no-peers; a node not meant to have any is fine alone", () => {
    expect(healthProblemOf(facts({ peerCount: 0 }))?.status).to.equal("no-peers");
    expect(healthProblemOf(facts({ peerCount: 0, expectsPeers: false, bestPeerHeight: undefined }))).to.equal(undefined);
  });

  it("catching up is syncing, naming the peers' height", () => {
    expect(healthProblemOf(facts({ syncing: true, bestPeerHeight: 40 }))).to.deep.equal({ status: "syncing", reason: "catching up: height 10, peers at 40" });
  });

  it("a head older than the bound while a peer is ahead is stale; the same age with no peer ahead is not", () => {
    const old = { height: 10, time: 1_000_000 - 6_000 };
    expect(healthProblemOf(facts({ head: old, bestPeerHeight: 12 }))).to.deep.equal({ status: "stale", reason: "head 10 is 6 s old while peers are at 12" });
    // A halted chain (no peer ahead) is not this node's lag.
    expect(healthProblemOf(facts({ head: old, bestPeerHeight: 10 }))).to.equal(undefined);
    // Within the bound a peer ahead by a block is ordinary.
    expect(healthProblemOf(facts({ bestPeerHeight: 11 }))).to.equal(undefined);
    // A single-validator chain has no peers to lag behind.
    expect(healthProblemOf(facts({ head: old, bestPeerHeight: 12, bft: false }))).to.equal(undefined);
  });

  it("a report carries the problem's status and reason; syncing alone is reported without a problem source", () => {
    const r = healthReport({ height: () => 10, isSyncing: () => false, problem: () => healthProblemOf(facts({ peerCount: 0 })) });
    expect(r.status).to.equal("no-peers");
    expect(r.reason).to.match(/no p2p peer connected \(height 10\)/);
    expect(healthReport({ height: () => 3, isSyncing: () => true }).status).to.equal("syncing");
  });
});
