import { expect } from "chai";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { encodeCanonical } from "../../../src/chain/codec.js";
import { verifyDigest } from "../../../src/crypto/secp256k1.js";
import { ConsensusError, ConsensusErrorCode } from "../../../src/consensus/errors.js";
import {
  MAX_MESSAGE_BYTES,
  MAX_ROUND,
  NIL,
  type Proposal,
  type Vote,
  commitFromPrecommits,
  decodeConsensusMessage,
  decodeProposal,
  decodeVote,
  encodeConsensusMessage,
  encodeProposal,
  encodeVote,
  proposalSigningDigest,
  signProposal,
  signVote,
  validateProposalBasic,
  validateVoteBasic,
  verifyProposal,
  verifyVote,
} from "../../../src/consensus/messages.js";
import { DoubleSignError } from "../../../src/consensus/signer.js";
import { VoteStep, verifyCommit, voteSigningDigest } from "../../../src/chain/vote.js";
import { CHAIN_ID, hex, unhex } from "../../helpers/fixtures.js";
import { blockHash, precommit, prevote, proposal, signerOf, validatorSet, expectConsensusError } from "../../helpers/consensus.js";


/** sha256 through node:crypto directly, independent of src/crypto/hash.ts. */
function H(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

const set = validatorSet([1, 1, 1, 1]);
const X = blockHash("x");

const voteArb: fc.Arbitrary<Vote> = fc.record({
  type: fc.constantFrom(VoteStep.Prevote as const, VoteStep.Precommit as const),
  height: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  round: fc.integer({ min: 0, max: MAX_ROUND }),
  blockHash: fc.oneof(fc.constant(NIL), fc.uint8Array({ minLength: 32, maxLength: 32 })),
  validator: fc.uint8Array({ minLength: 20, maxLength: 20 }),
  sig: fc.uint8Array({ minLength: 64, maxLength: 64 }),
});

const proposalArb: fc.Arbitrary<Proposal> = fc
  .record({
    height: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    round: fc.integer({ min: 0, max: MAX_ROUND }),
    pol: fc.double({ min: 0, max: 1, noNaN: true }),
    blockHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    proposer: fc.uint8Array({ minLength: 20, maxLength: 20 }),
    sig: fc.uint8Array({ minLength: 64, maxLength: 64 }),
  })
  .map(({ pol, ...p }) => ({ ...p, polRound: Math.min(Math.floor(pol * (p.round + 1)), p.round) - 1 }));

describe("consensus/messages: encoding", () => {
  it("decode(encode(vote)) is the vote, for any valid vote", () => {
    fc.assert(
      fc.property(voteArb, (v) => {
        expect(decodeVote(encodeVote(v))).to.deep.equal(v);
        expect(decodeConsensusMessage(encodeConsensusMessage({ kind: "vote", vote: v }))).to.deep.equal({ kind: "vote", vote: v });
      }),
      { numRuns: 300 },
    );
  });

  it("decode(encode(proposal)) is the proposal, for any valid proposal", () => {
    fc.assert(
      fc.property(proposalArb, (p) => {
        expect(decodeProposal(encodeProposal(p))).to.deep.equal(p);
        expect(decodeConsensusMessage(encodeConsensusMessage({ kind: "proposal", proposal: p }))).to.deep.equal({ kind: "proposal", proposal: p });
      }),
      { numRuns: 300 },
    );
  });

  it("encodes a vote as the canonical map of its six fields (known answer)", () => {
    const v: Vote = { type: VoteStep.Precommit, height: 7, round: 1, blockHash: new Uint8Array(32).fill(0xab), validator: new Uint8Array(20).fill(0x11), sig: new Uint8Array(64).fill(0x22) };
    // Keys sort length-first: sig, type, round, height, blockHash, validator.
    const expected =
      "a6" +
      "63736967" + "5840" + "22".repeat(64) +
      "6474797065" + "02" +
      "65726f756e64" + "01" +
      "66686569676874" + "07" +
      "69626c6f636b48617368" + "5820" + "ab".repeat(32) +
      "6976616c696461746f72" + "54" + "11".repeat(20);
    expect(hex(encodeVote(v))).to.equal(expected);
    expect(decodeVote(unhex(expected))).to.deep.equal(v);
  });

  it("decoding random bytes never throws anything but ConsensusError BAD_MESSAGE", () => {
    const decoders = [decodeVote, decodeProposal, decodeConsensusMessage];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const decode of decoders) {
          try {
            decode(bytes);
          } catch (e) {
            expect(e).to.be.instanceOf(ConsensusError);
            expect((e as ConsensusError).code).to.equal(ConsensusErrorCode.BAD_MESSAGE);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("decoding mutated encodings never throws anything but ConsensusError BAD_MESSAGE", () => {
    const good = [encodeVote(prevote(0, 3, 1, X)), encodeProposal(proposal(1, 3, 2, X, 0)), encodeConsensusMessage({ kind: "vote", vote: precommit(2, 3, 0) })];
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.array(fc.tuple(fc.nat(400), fc.nat(255)), { minLength: 1, maxLength: 4 }), (which, edits) => {
        const bytes = good[which]!.slice();
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        for (const decode of [decodeVote, decodeProposal, decodeConsensusMessage]) {
          try {
            decode(bytes);
          } catch (e) {
            expect(e).to.be.instanceOf(ConsensusError);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("refuses extra or missing keys, other kinds, non-canonical bytes and oversized input", () => {
    const v = prevote(0, 3, 1, X);
    const value = { type: v.type, height: v.height, round: v.round, blockHash: v.blockHash, validator: v.validator, sig: v.sig };
    expectConsensusError(() => decodeVote(encodeCanonical({ ...value, extra: 1 })), ConsensusErrorCode.BAD_MESSAGE, /exactly the keys/);
    const { sig: _sig, ...noSig } = value;
    expectConsensusError(() => decodeVote(encodeCanonical(noSig)), ConsensusErrorCode.BAD_MESSAGE, /exactly the keys/);
    expectConsensusError(() => decodeVote(encodeCanonical([1, 2, 3])), ConsensusErrorCode.BAD_MESSAGE, /map/);
    expectConsensusError(() => decodeConsensusMessage(encodeCanonical({ kind: "block", body: value })), ConsensusErrorCode.BAD_MESSAGE, /unknown consensus message kind/);
    // A vote body with a type no vote has.
    expectConsensusError(() => decodeConsensusMessage(encodeCanonical({ kind: "vote", body: { ...value, type: 9 } })), ConsensusErrorCode.BAD_MESSAGE, /vote.type/);
    // The height 3 written in two bytes (0x1803) instead of one: not the canonical form.
    const bytes = encodeVote(v);
    const i = hex(bytes).indexOf("66686569676874" + "03") / 2 + 7;
    const longForm = new Uint8Array([...bytes.subarray(0, i), 0x18, 0x03, ...bytes.subarray(i + 1)]);
    expectConsensusError(() => decodeVote(longForm), ConsensusErrorCode.BAD_MESSAGE, /undecodable|non-canonical/);
    expectConsensusError(() => decodeVote(new Uint8Array(MAX_MESSAGE_BYTES + 1)), ConsensusErrorCode.BAD_MESSAGE, /exceeds/);
  });
});

describe("consensus/messages: validateBasic", () => {
  const good: Vote = prevote(0, 5, 2, X);
  const badVotes: Array<[string, Partial<Record<keyof Vote, unknown>>, RegExp]> = [
    ["a Propose step", { type: VoteStep.Propose }, /vote.type/],
    ["an unknown type", { type: 3 }, /vote.type/],
    ["height 0", { height: 0 }, /height/],
    ["a negative height", { height: -1 }, /height/],
    ["a fractional height", { height: 1.5 }, /height/],
    ["an unsafe height", { height: 2 ** 53 }, /height/],
    ["a negative round", { round: -1 }, /round/],
    ["round 2^31", { round: 2 ** 31 }, /round/],
    ["a string round", { round: "1" }, /round/],
    ["a 31-byte block hash", { blockHash: new Uint8Array(31) }, /32-byte vote.blockHash/],
    ["a 33-byte block hash", { blockHash: new Uint8Array(33) }, /blockHash/],
    ["a block hash that is not bytes", { blockHash: "00" }, /bytes/],
    ["a 19-byte validator", { validator: new Uint8Array(19) }, /20-byte vote.validator, got 19/],
    ["a 63-byte signature", { sig: new Uint8Array(63) }, /64-byte vote.sig/],
  ];
  for (const [name, change, message] of badVotes) {
    it(`refuses a vote with ${name}`, () => {
      expectConsensusError(() => validateVoteBasic({ ...good, ...change } as Vote), ConsensusErrorCode.BAD_MESSAGE, message);
    });
  }

  it("accepts the largest round and nil and 32-byte hashes", () => {
    expect(() => validateVoteBasic({ ...good, round: MAX_ROUND })).to.not.throw();
    expect(() => validateVoteBasic({ ...good, blockHash: NIL })).to.not.throw();
  });

  const goodP: Proposal = proposal(1, 5, 2, X, 1);
  const badProposals: Array<[string, Partial<Record<keyof Proposal, unknown>>, RegExp]> = [
    ["a polRound equal to its round", { polRound: 2 }, /polRound/],
    ["a polRound after its round", { polRound: 3 }, /polRound/],
    ["a polRound below -1", { polRound: -2 }, /polRound/],
    ["a nil block hash", { blockHash: NIL }, /32-byte proposal.blockHash/],
    ["height 0", { height: 0 }, /height/],
    ["round 2^31", { round: 2 ** 31, polRound: -1 }, /round/],
    ["a 21-byte proposer", { proposer: new Uint8Array(21) }, /proposer/],
    ["a missing signature", { sig: undefined }, /sig/],
  ];
  for (const [name, change, message] of badProposals) {
    it(`refuses a proposal with ${name}`, () => {
      expectConsensusError(() => validateProposalBasic({ ...goodP, ...change } as Proposal), ConsensusErrorCode.BAD_MESSAGE, message);
    });
  }

  it("accepts polRound -1 in round 0 and any earlier round as polRound", () => {
    expect(() => validateProposalBasic({ ...goodP, round: 0, polRound: -1 })).to.not.throw();
    expect(() => validateProposalBasic({ ...goodP, round: 9, polRound: 8 })).to.not.throw();
  });
});

describe("consensus/messages: signatures (invariant 2)", () => {
  it("a vote signature is the vote digest signed by the validator, and verifies only on its chain", () => {
    const v = precommit(2, 4, 1, X);
    expect(verifyDigest(v.sig, voteSigningDigest({ chainId: CHAIN_ID, height: 4, round: 1, step: VoteStep.Precommit, blockHash: X }), signerOf(2).publicKey)).to.equal(true);
    expect(verifyVote(CHAIN_ID, v, set)).to.equal(true);
    expect(verifyVote("other-chain", v, set)).to.equal(false);
    expect(verifyVote(CHAIN_ID, { ...v, type: VoteStep.Prevote }, set)).to.equal(false);
    expect(verifyVote(CHAIN_ID, { ...v, blockHash: NIL }, set)).to.equal(false);
    expect(verifyVote(CHAIN_ID, { ...v, validator: signerOf(1).address }, set)).to.equal(false);
    expect(verifyVote(CHAIN_ID, v, validatorSet([1, 1]))).to.equal(false); // validator 2 is not in a set of two
  });

  it("the proposal digest is sha256 of [domain, chainId, height, round, polRound, blockHash] (known answer)", () => {
    const hash = new Uint8Array(32).fill(0xcd);
    const cbor =
      "86" +
      "6f" + Buffer.from("sid/proposal/v1").toString("hex") +
      "68" + Buffer.from("sid-test").toString("hex") +
      "05" + "02" + "01" +
      "5820" + "cd".repeat(32);
    expect(hex(proposalSigningDigest(CHAIN_ID, { height: 5, round: 2, polRound: 1, blockHash: hash, proposer: new Uint8Array(20) }))).to.equal(H(unhex(cbor)));
    // polRound -1 is CBOR negative integer 0x20.
    const nilPol = cbor.replace("05020158", "05022058");
    expect(hex(proposalSigningDigest(CHAIN_ID, { height: 5, round: 2, polRound: -1, blockHash: hash, proposer: new Uint8Array(20) }))).to.equal(H(unhex(nilPol)));
    // The values listed in docs/consensus.md.
    expect(H(unhex(cbor))).to.equal("0b3e430948775765950cb44ae986ade1be70250ca92309a54e3edd8a61a56a5b");
    expect(H(unhex(nilPol))).to.equal("32ee76aa687a72c58ae6d58610bf89d64902a015bab4452de3f45257ea42869c");
  });

  it("a proposal signature covers polRound, is valid for its proposer only, and is never a valid vote", () => {
    const p = proposal(1, 4, 2, X, 1);
    expect(verifyProposal(CHAIN_ID, p, set)).to.equal(true);
    expect(verifyProposal(CHAIN_ID, { ...p, polRound: 0 }, set)).to.equal(false);
    expect(verifyProposal(CHAIN_ID, { ...p, polRound: -1 }, set)).to.equal(false);
    expect(verifyProposal("other-chain", p, set)).to.equal(false);
    expect(verifyProposal(CHAIN_ID, { ...p, proposer: signerOf(0).address }, set)).to.equal(false);
    // The same key's signature, read as a vote for the same block at any step, does not verify.
    for (const step of [VoteStep.Propose, VoteStep.Prevote, VoteStep.Precommit]) {
      const digest = voteSigningDigest({ chainId: CHAIN_ID, height: 4, round: 2, step, blockHash: X });
      expect(verifyDigest(p.sig, digest, signerOf(1).publicKey)).to.equal(false);
    }
  });

  it("proposals go through the double-sign guard at step Propose, before the prevote", () => {
    const s = signerOf(0);
    const unsigned = { height: 3, round: 1, polRound: -1, blockHash: X, proposer: s.address };
    const a = signProposal(CHAIN_ID, unsigned, s);
    expect(hex(signProposal(CHAIN_ID, unsigned, s).proposal.sig)).to.equal(hex(a.proposal.sig));
    expect(a.state.step).to.equal(VoteStep.Propose);
    expect(() => signProposal(CHAIN_ID, { ...unsigned, blockHash: blockHash("y") }, s)).to.throw(DoubleSignError);
    expect(() => signProposal(CHAIN_ID, { ...unsigned, polRound: 0 }, s)).to.throw(DoubleSignError);
    signVote(CHAIN_ID, { type: VoteStep.Prevote, height: 3, round: 1, blockHash: X, validator: s.address }, s);
    // After the prevote of round 1, a proposal for round 1 is below what was signed.
    expect(() => signProposal(CHAIN_ID, { ...unsigned, blockHash: blockHash("z") }, s)).to.throw(DoubleSignError);
  });

  it("refuses to sign for another address or a malformed message", () => {
    const s = signerOf(0);
    expectConsensusError(() => signVote(CHAIN_ID, { type: VoteStep.Prevote, height: 1, round: 0, blockHash: X, validator: signerOf(1).address }, s), ConsensusErrorCode.BAD_MESSAGE, /signer's address/);
    expectConsensusError(() => signVote(CHAIN_ID, { type: VoteStep.Prevote, height: 0, round: 0, blockHash: X, validator: s.address }, s), ConsensusErrorCode.BAD_MESSAGE, /height/);
    expectConsensusError(() => signProposal(CHAIN_ID, { height: 1, round: 0, polRound: 0, blockHash: X, proposer: s.address }, s), ConsensusErrorCode.BAD_MESSAGE, /polRound/);
  });
});

describe("consensus/messages: commitFromPrecommits", () => {
  it("builds a commit ordered by validator address that verifyCommit accepts", () => {
    const votes = [precommit(3, 8, 2, X), precommit(0, 8, 2, X), precommit(2, 8, 2, X)];
    const c = commitFromPrecommits(votes);
    expect(c.height).to.equal(8);
    expect(c.round).to.equal(2);
    expect(hex(c.blockHash)).to.equal(hex(X));
    const addrs = c.sigs.map((s) => hex(s.validator));
    expect(addrs).to.deep.equal([...addrs].sort());
    expect(addrs).to.have.members(votes.map((v) => hex(v.validator)));
    expect(verifyCommit(CHAIN_ID, c, set)).to.equal(true);
    // The order of the input does not change the commit.
    expect(commitFromPrecommits([...votes].reverse())).to.deep.equal(c);
  });

  it("refuses nil, prevotes, mixed targets, repeated validators and no votes", () => {
    expectConsensusError(() => commitFromPrecommits([]), ConsensusErrorCode.BAD_COMMIT);
    expectConsensusError(() => commitFromPrecommits([precommit(0, 8, 2)]), ConsensusErrorCode.BAD_COMMIT, /nil/);
    expectConsensusError(() => commitFromPrecommits([precommit(0, 8, 2, X), prevote(1, 8, 2, X)]), ConsensusErrorCode.BAD_COMMIT, /precommits only/);
    expectConsensusError(() => commitFromPrecommits([precommit(0, 8, 2, X), precommit(1, 8, 3, X)]), ConsensusErrorCode.BAD_COMMIT, /share/);
    expectConsensusError(() => commitFromPrecommits([precommit(0, 8, 2, X), precommit(1, 9, 2, X)]), ConsensusErrorCode.BAD_COMMIT, /share/);
    expectConsensusError(() => commitFromPrecommits([precommit(0, 8, 2, X), precommit(1, 8, 2, blockHash("y"))]), ConsensusErrorCode.BAD_COMMIT, /share/);
    expectConsensusError(() => commitFromPrecommits([precommit(0, 8, 2, X), precommit(0, 8, 2, X)]), ConsensusErrorCode.BAD_COMMIT, /twice/);
  });
});
