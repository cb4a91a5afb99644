/**
 * The block rule for evidence: each item proves equivocation by the set of
 * its height, lies below the block and within maxAgeBlocks, appears once
 * and was not committed before; refusals carry the item's index, and
 * `forged` only when the item is wrong whoever judges it.
 */
import { expect } from "chai";
import { MAX_BLOCK_EVIDENCE } from "../../../src/chain/block.js";
import { ChainError, EvidenceErrorCode } from "../../../src/chain/errors.js";
import { toHex } from "../../../src/crypto/bytes.js";
import { type EvidenceContext, checkBlockEvidence, evidenceToJson, includableEvidence, validateBlockEvidence } from "../../../src/consensus/evidence-rules.js";
import { duplicateVoteEvidence, encodeEvidence, evidenceHash } from "../../../src/consensus/evidence.js";
import { NIL } from "../../../src/consensus/messages.js";
import type { ValidatorSet } from "../../../src/chain/validator-set.js";
import { blockHash, prevote, validatorSet } from "../../helpers/consensus.js";
import { CHAIN_ID } from "../../helpers/fixtures.js";

const SET = validatorSet([10, 10, 10, 10]);
const A = blockHash("a");
const B = blockHash("b");

/** Encoded evidence of validator i equivocating at height h. */
const item = (i: number, h: number, round = 0) => encodeEvidence(duplicateVoteEvidence(prevote(i, h, round, A), prevote(i, h, round, B)));

const ctx = (over: Partial<EvidenceContext> = {}): EvidenceContext => ({
  chainId: CHAIN_ID,
  height: 20,
  maxAgeBlocks: 10,
  setAt: () => SET,
  committedAt: () => undefined,
  ...over,
});

function refusal(fn: () => unknown): ChainError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ChainError);
    return e as ChainError;
  }
  expect.fail("expected a ChainError");
}

async function refusalAsync(p: Promise<unknown>): Promise<ChainError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(ChainError);
    return e as ChainError;
  }
  expect.fail("expected a ChainError");
}

describe("consensus/evidence-rules", () => {
  describe("validateBlockEvidence", () => {
    it("returns each item verified, in block order, with its hash, validator and height", () => {
      const items = [item(2, 15), item(0, 10)];
      const out = validateBlockEvidence(items, ctx());
      expect(out.map((v) => v.height)).to.deep.equal([15, 10]);
      expect(out[0]!.validator).to.deep.equal(SET.validators[2]!.address);
      expect(out[1]!.hash).to.deep.equal(evidenceHash(out[1]!.evidence));
      expect(out[0]!.encoded).to.equal(items[0]);
      expect(validateBlockEvidence([], ctx())).to.deep.equal([]);
    });

    it("refuses evidence from the block's height or later (INVALID), and older than maxAgeBlocks (TOO_OLD); the bound is inclusive", () => {
      let e = refusal(() => validateBlockEvidence([item(1, 20)], ctx()));
      expect(e.code).to.equal(EvidenceErrorCode.INVALID);
      expect(e.data).to.deep.equal({ index: 0 });
      e = refusal(() => validateBlockEvidence([item(1, 15), item(1, 9)], ctx()));
      expect(e.code).to.equal(EvidenceErrorCode.TOO_OLD);
      expect(e.data).to.deep.equal({ index: 1 });
      expect(validateBlockEvidence([item(1, 10)], ctx())).to.have.length(1);
    });

    it("refuses an item listed twice and one committed earlier (DUPLICATE), not charged as forged", () => {
      const x = item(1, 15);
      let e = refusal(() => validateBlockEvidence([x, item(2, 15), x], ctx()));
      expect(e.code).to.equal(EvidenceErrorCode.DUPLICATE);
      expect(e.data).to.deep.equal({ index: 2 });
      const hex = toHex(evidenceHash(duplicateVoteEvidence(prevote(1, 15, 0, A), prevote(1, 15, 0, B))));
      e = refusal(() => validateBlockEvidence([x], ctx({ committedAt: (h) => (h === hex ? 16 : undefined) })));
      expect(e.code).to.equal(EvidenceErrorCode.DUPLICATE);
      expect(e.message).to.match(/committed at height 16/);
    });

    it("an undecodable item, or votes that prove nothing, are forged; an unknown set is not", () => {
      let e = refusal(() => validateBlockEvidence([Uint8Array.of(1, 2, 3)], ctx()));
      expect(e.code).to.equal(EvidenceErrorCode.INVALID);
      expect(e.data).to.deep.equal({ index: 0, forged: true });
      // A validator outside the set of the votes' height.
      e = refusal(() => validateBlockEvidence([item(0, 15)], ctx({ setAt: () => undefined })));
      expect(e.data).to.deep.equal({ index: 0 });
      expect(e.message).to.match(/no validator set is known/);
      const without0 = { ...SET, byAddress: (a: Uint8Array) => (toHex(a) === toHex(SET.validators[0]!.address) ? undefined : SET.byAddress(a)) } as unknown as ValidatorSet;
      e = refusal(() => validateBlockEvidence([item(1, 15), item(0, 15)], ctx({ setAt: () => without0 })));
      expect(e.code).to.equal(EvidenceErrorCode.INVALID);
      expect(e.data).to.deep.equal({ index: 1, forged: true });
      // Votes for the same block: no equivocation.
      const same = encodeEvidence({ voteA: prevote(1, 15, 0, A), voteB: prevote(1, 15, 0, A) });
      expect(refusal(() => validateBlockEvidence([same], ctx())).data).to.deep.equal({ index: 0, forged: true });
    });

    it(`holds at most ${MAX_BLOCK_EVIDENCE} items`, () => {
      const many = Array.from({ length: MAX_BLOCK_EVIDENCE + 1 }, () => item(1, 15));
      expect(refusal(() => validateBlockEvidence(many, ctx())).code).to.equal(EvidenceErrorCode.INVALID);
    });
  });

  describe("checkBlockEvidence and includableEvidence (context loaded from a store)", () => {
    const store = (committed: Map<string, number> = new Map()) => ({
      getEvidenceLocation: async (hash: Uint8Array) => (committed.has(toHex(hash)) ? { height: committed.get(toHex(hash))! } : undefined),
    });
    const opts = { chainId: CHAIN_ID, height: 20, maxAgeBlocks: 10 };

    it("loads the set of each evidence height and the committed index, then applies the rule", async () => {
      const asked: number[] = [];
      const out = await checkBlockEvidence([item(1, 12), item(3, 18)], opts, store(), async (h) => {
        asked.push(h);
        return SET;
      });
      expect(out.map((v) => v.height)).to.deep.equal([12, 18]);
      expect(asked).to.deep.equal([12, 18]);
      const hash = toHex(evidenceHash(duplicateVoteEvidence(prevote(1, 12, 0, A), prevote(1, 12, 0, B))));
      const e = await refusalAsync(checkBlockEvidence([item(1, 12)], opts, store(new Map([[hash, 13]])), async () => SET));
      expect(e.code).to.equal(EvidenceErrorCode.DUPLICATE);
    });

    it("a height the store cannot give a set for is refused as INVALID (not forged)", async () => {
      const e = await refusalAsync(
        checkBlockEvidence([item(1, 12)], opts, store(), async () => {
          throw new ChainError(EvidenceErrorCode.NOT_FOUND, "pruned");
        }),
      );
      expect(e.code).to.equal(EvidenceErrorCode.INVALID);
      expect(e.data).to.deep.equal({ index: 0 });
    });

    it("includable: each pending item alone; bad ones are left out (and reported), duplicates collapse", async () => {
      const left: string[] = [];
      const good = item(1, 15);
      const out = await includableEvidence([item(2, 3), good, Uint8Array.of(9), good, item(3, 19, 1)], opts, store(), async () => SET, (e) => left.push(e.code));
      expect(out.map((v) => [v.height, toHex(v.validator)])).to.deep.equal([
        [15, toHex(SET.validators[1]!.address)],
        [19, toHex(SET.validators[3]!.address)],
      ]);
      expect(left).to.deep.equal([EvidenceErrorCode.TOO_OLD, EvidenceErrorCode.INVALID]);
    });
  });

  it("evidenceToJson: hex bytes, nil as null, the two votes side by side", () => {
    const ev = duplicateVoteEvidence(prevote(1, 15, 2, A), prevote(1, 15, 2, NIL));
    const j = evidenceToJson(ev) as { kind: string; height: number; validator: string; voteA: Record<string, unknown>; voteB: Record<string, unknown> };
    expect(j).to.include({ kind: "duplicateVote", height: 15, validator: toHex(SET.validators[1]!.address) });
    const hashes = [j.voteA.blockHash, j.voteB.blockHash];
    expect(hashes).to.have.deep.members([toHex(A), null]);
    expect(j.voteA).to.include({ height: 15, round: 2, sig: toHex(ev.voteA.sig) });
  });
});
