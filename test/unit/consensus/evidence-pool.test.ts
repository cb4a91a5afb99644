import { expect } from "chai";
import { EvidenceErrorCode } from "../../../src/chain/errors.js";
import { EvidencePool } from "../../../src/consensus/evidence-pool.js";
import { duplicateVoteEvidence, encodeEvidence, evidenceHash } from "../../../src/consensus/evidence.js";
import { CHAIN_ID, expectChainErrorAsync, hex } from "../../helpers/fixtures.js";
import { blockHash, prevote, validatorSet } from "../../helpers/consensus.js";

const SET = validatorSet([10, 10, 10, 10]);
const pair = (height: number, round = 0) => duplicateVoteEvidence(prevote(0, height, round, blockHash("a")), prevote(0, height, round, blockHash("b")));

function poolAt(head: { height: number }, committed = new Map<string, number>(), maxItems = 1_000, maxAgeBlocks = 5) {
  return new EvidencePool(
    { maxItems },
    {
      chainId: CHAIN_ID,
      store: {
        head: () => ({ height: head.height }) as never,
        getEvidenceLocation: async (hash) => (committed.has(hex(hash)) ? { height: committed.get(hex(hash))! } : undefined),
      },
      setAt: async () => SET,
      maxAgeBlocks,
    },
  );
}

describe("consensus/evidence-pool: pending evidence", () => {
  it("pools valid evidence once, in its canonical encoding, from either the decoded pair or bytes", async () => {
    const pool = poolAt({ height: 4 });
    const ev = pair(5);
    const added = await pool.add(ev);
    expect(added?.height).to.equal(5);
    expect(hex(added!.hash)).to.equal(hex(evidenceHash(ev)));
    // The same equivocation again (as bytes, as from a peer): known, not added or relayed twice.
    expect(await pool.add(encodeEvidence(ev))).to.equal(undefined);
    // Concurrent copies: exactly one is reported new.
    const other = pair(4, 1);
    const both = await Promise.all([pool.add(other), pool.add(encodeEvidence(other))]);
    expect(both.filter((x) => x !== undefined)).to.have.length(1);
    expect(pool.pending().map(hex)).to.deep.equal([hex(encodeEvidence(ev)), hex(encodeEvidence(other))]);
  });

  it("refuses what a block would refuse: forged, undecodable, already committed, too old, beyond the known sets", async () => {
    const committed = new Map<string, number>();
    const pool = poolAt({ height: 10 }, committed);
    const a = prevote(0, 9, 0, blockHash("a"));
    const forged = duplicateVoteEvidence(a, { ...prevote(0, 9, 0, blockHash("b")), sig: prevote(0, 9, 0, blockHash("z")).sig });
    // Wrong whoever judges it (the sender sent garbage): marked forged.
    expect((await expectChainErrorAsync(pool.add(forged), EvidenceErrorCode.INVALID)).data?.forged).to.equal(true);
    expect((await expectChainErrorAsync(pool.add(Uint8Array.of(1, 2, 3)), EvidenceErrorCode.INVALID)).data?.forged).to.equal(true);
    // Refused for what this node knows (its head, its commits): not marked.
    committed.set(hex(evidenceHash(pair(9))), 10);
    expect((await expectChainErrorAsync(pool.add(pair(9)), EvidenceErrorCode.DUPLICATE)).data?.forged).to.equal(undefined);
    // Judged for block head + 2 = 12: height 6 is 6 blocks old with a limit of 5.
    expect((await expectChainErrorAsync(pool.add(pair(6)), EvidenceErrorCode.TOO_OLD)).data?.forged).to.equal(undefined);
    expect((await expectChainErrorAsync(pool.add(pair(12)), EvidenceErrorCode.INVALID)).data?.forged).to.equal(undefined);
    expect(pool.size).to.equal(0);
  });

  it("committed evidence leaves, expired evidence leaves, and the pool stays within maxItems", async () => {
    const head = { height: 10 };
    const pool = poolAt(head, new Map(), 3);
    for (const h of [7, 8, 9, 10]) await pool.add(pair(h));
    // Full at 3: the oldest (height 7) left for the newest.
    expect(pool.size).to.equal(3);
    expect(pool.has(evidenceHash(pair(7)))).to.equal(false);
    pool.onBlockCommitted(11, [evidenceHash(pair(9))]);
    expect(pool.has(evidenceHash(pair(9)))).to.equal(false);
    // Block 13 makes height 8 too old for the next block (14 - 5 = 9).
    pool.onBlockCommitted(13, []);
    expect(pool.pending().map(hex)).to.deep.equal([hex(encodeEvidence(pair(10)))]);
  });
});
