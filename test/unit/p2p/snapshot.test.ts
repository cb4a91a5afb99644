import { expect } from "chai";
import { type Block, type Commit, headerHash } from "../../../src/chain/block.js";
import { SnapshotErrorCode } from "../../../src/chain/snapshot.js";
import { ValidatorSetTracker } from "../../../src/client/trust.js";
import { type WireValidator, decodeSnapshotMessage } from "../../../src/p2p/snapshot-messages.js";
import { ValidatorSet } from "../../../src/chain/validator-set.js";
import { verifySnapshotHeader } from "../../../src/p2p/snapshot-sync.js";
import { P2pErrorCode } from "../../../src/p2p/errors.js";
import { CHAIN_ID } from "../../helpers/fixtures.js";
import { precommit, validatorSet } from "../../helpers/consensus.js";

const set = validatorSet([10, 10, 10, 10]);

function blockAt(height: number, chainId = CHAIN_ID, own: ValidatorSet = set): Block {
  const z = new Uint8Array(32);
  return {
    header: { chainId, height, time: 1000 + height, prevHash: z, txRoot: z, evidenceHash: z, stateRoot: new Uint8Array(32).fill(7), validatorsHash: own.hash, nextValidatorsHash: own.hash, proposer: own.validators[0]!.address, lastCommitHash: z },
    txs: [],
    evidence: [],
    lastCommit: null,
  };
}

function commitBy(block: Block, signers: number[]): Commit {
  const hash = headerHash(block.header);
  return {
    height: block.header.height,
    round: 0,
    blockHash: hash,
    sigs: signers.map((i) => {
      const v = precommit(i, block.header.height, 0, hash);
      return { validator: v.validator, sig: v.sig };
    }),
  };
}

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return "accepted";
};

describe("p2p: snapshot channel", () => {
  it("decodes every message kind and refuses malformed ones as INVALID_MESSAGE", () => {
    expect(decodeSnapshotMessage({ type: "listSnapshots" })).to.deep.equal({ type: "listSnapshots" });
    expect(decodeSnapshotMessage({ type: "getChunk", height: 5, index: 3 })).to.deep.equal({ type: "getChunk", height: 5, index: 3 });
    expect(decodeSnapshotMessage({ type: "chunk", height: 5, index: 3, data: null })).to.deep.equal({ type: "chunk", height: 5, index: 3, data: null });
    const bad: unknown[] = [
      { type: "nope" },
      { type: "listSnapshots", extra: 1 },
      { type: "getChunk", height: 5, index: 4096 },
      { type: "getChunk", height: 0, index: 1 },
      { type: "manifest", height: 5, data: "text" },
      { type: "snapshots", items: Array.from({ length: 17 }, () => ({ height: 1, hash: new Uint8Array(32), chunks: 1, bytes: 1 })) },
      { type: "snapshots", items: [{ height: 1, hash: new Uint8Array(31), chunks: 1, bytes: 1 }] },
      { type: "lightBlock", height: 5, block: null, commit: commitBy(blockAt(5), [0]) },
    ];
    for (const m of bad) expect(codeOf(() => decodeSnapshotMessage(m as never)), JSON.stringify(m)).to.equal(P2pErrorCode.INVALID_MESSAGE);
  });

  describe("verifySnapshotHeader (the light-client check of the snapshot height)", () => {
    const trust = new ValidatorSetTracker(CHAIN_ID, set);

    it("accepts a block committed by more than 2/3 of the trusted set", () => {
      const b = blockAt(40);
      verifySnapshotHeader(trust, b, commitBy(b, [0, 1, 2]));
    });

    it("refuses 2/3 or less, another chain, a commit of another block or height", () => {
      const b = blockAt(40);
      // Too little trusted power is not charged to the peer: a set changed since genesis looks the same.
      expect(codeOf(() => verifySnapshotHeader(trust, b, commitBy(b, [0, 1])))).to.equal(SnapshotErrorCode.UNTRUSTED_SET);
      const other = blockAt(40, "another-chain");
      expect(codeOf(() => verifySnapshotHeader(trust, other, commitBy(other, [0, 1, 2])))).to.equal(SnapshotErrorCode.BAD_HEADER);
      expect(codeOf(() => verifySnapshotHeader(trust, b, commitBy(blockAt(41), [0, 1, 2])))).to.equal(SnapshotErrorCode.BAD_HEADER);
      // The same signatures on a header with another state root: the commit does not name it.
      const forged: Block = { ...b, header: { ...b.header, stateRoot: new Uint8Array(32).fill(9) } };
      expect(codeOf(() => verifySnapshotHeader(trust, forged, commitBy(b, [0, 1, 2])))).to.equal(SnapshotErrorCode.BAD_HEADER);
    });

    describe("with the sets the header names (the skipping rule from genesis)", () => {
      const six = validatorSet([10, 10, 10, 10, 10, 10]);
      const members = (idx: number[]) => new ValidatorSet(idx.map((i) => six.validators[i]!));
      const wire = (s: ValidatorSet): WireValidator[] => s.validators.map((v) => ({ publicKey: v.publicKey, power: v.power }));
      const sets = (own: ValidatorSet, next = own) => ({ validators: wire(own), nextValidators: wire(next), genesisTime: 500 });

      it("follows a set changed since genesis while more than 1/3 of the genesis power still signs", () => {
        // Two of the four genesis validators replaced: the genesis set signs 20 of 40 (> 1/3), the new set all of its 40.
        const changed = members([0, 1, 4, 5]);
        const b = blockAt(40, CHAIN_ID, changed);
        expect(codeOf(() => verifySnapshotHeader(trust, b, commitBy(b, [0, 1, 4, 5]), sets(changed)))).to.equal("accepted");
        // Without the sets, the genesis-only check cannot vouch for it, and does not blame the peer.
        expect(codeOf(() => verifySnapshotHeader(trust, b, commitBy(b, [0, 1, 4, 5])))).to.equal(SnapshotErrorCode.UNTRUSTED_SET);
      });

      it("a set the genesis validators no longer sign for is not trusted, and not charged", () => {
        const moved = members([3, 4, 5]);
        const b = blockAt(40, CHAIN_ID, moved);
        // The genesis set signs 10 of 40: not more than 1/3.
        expect(codeOf(() => verifySnapshotHeader(trust, b, commitBy(b, [3, 4, 5]), sets(moved)))).to.equal(SnapshotErrorCode.UNTRUSTED_SET);
      });

      it("sets the header does not name, or a commit its own set did not give, are the peer's lie", () => {
        const changed = members([0, 1, 4, 5]);
        const b = blockAt(40, CHAIN_ID, changed);
        // Sets offered that are not the ones the header hashes name.
        expect(codeOf(() => verifySnapshotHeader(trust, b, commitBy(b, [0, 1, 4, 5]), sets(members([0, 1, 4]))))).to.equal(SnapshotErrorCode.BAD_HEADER);
        expect(codeOf(() => verifySnapshotHeader(trust, b, commitBy(b, [0, 1, 4, 5]), sets(changed, members([0, 1]))))).to.equal(SnapshotErrorCode.BAD_HEADER);
        // Enough genesis power to skip, but only half of its own set: refused as a bad commit.
        expect(codeOf(() => verifySnapshotHeader(trust, b, commitBy(b, [0, 1]), sets(changed)))).to.equal(SnapshotErrorCode.BAD_HEADER);
      });

      it("the lightBlock message carries the sets together, bounded, with 33-byte keys", () => {
        const b = blockAt(40);
        const c = commitBy(b, [0, 1, 2]);
        const w = wire(set);
        const m = decodeSnapshotMessage({ type: "lightBlock", height: 40, block: b, commit: c, validators: w, nextValidators: w } as never);
        expect(m).to.deep.include({ type: "lightBlock", height: 40 });
        expect((m as { validators?: WireValidator[] }).validators).to.deep.equal(w);
        const bad: unknown[] = [
          { type: "lightBlock", height: 40, block: b, commit: c, validators: w },
          { type: "lightBlock", height: 40, block: b, commit: c, validators: [{ publicKey: new Uint8Array(32), power: 1 }], nextValidators: w },
          { type: "lightBlock", height: 40, block: b, commit: c, validators: w, nextValidators: [{ publicKey: w[0]!.publicKey, power: 0 }] },
        ];
        for (const x of bad) expect(codeOf(() => decodeSnapshotMessage(x as never))).to.equal(P2pErrorCode.INVALID_MESSAGE);
      });
    });

    it("counts only the trusted set's signatures", () => {
      const strangers = validatorSet([10, 10, 10, 10, 10, 10, 10]);
      const b = blockAt(40);
      // Validators 4-6 are not in the trusted set: with one trusted signer the commit is refused.
      expect(strangers.validators.length).to.equal(7);
      expect(codeOf(() => verifySnapshotHeader(trust, b, commitBy(b, [0, 4, 5, 6])))).to.equal(SnapshotErrorCode.UNTRUSTED_SET);
    });
  });
});
