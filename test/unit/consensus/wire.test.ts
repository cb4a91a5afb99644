import { expect } from "chai";
import fc from "fast-check";
import { decodeCanonical, encodeCanonical } from "../../../src/chain/codec.js";
import { ConsensusErrorCode } from "../../../src/consensus/errors.js";
import { decodeConsensusMessage, encodeConsensusMessage } from "../../../src/consensus/messages.js";
import { MAX_EVIDENCE_FRAME_BYTES, decodeWireConsensus, decodeWireEvidence, encodeWireConsensus, proposalTxBytesFor } from "../../../src/consensus/wire.js";
import { blockHash, expectConsensusError, prevote, proposal } from "../../helpers/consensus.js";

describe("consensus wire frames (consensus/wire.ts)", () => {
  const p = proposal(0, 5, 1, blockHash("b"));
  const v = prevote(1, 5, 1, blockHash("b"));
  const block = new Uint8Array([0xa0, 1, 2, 3]);

  it("a proposal frame is {m: the encoded proposal, block: the block bytes}, and decodes back", () => {
    const frame = encodeWireConsensus({ kind: "proposal", proposal: p, block });
    // The frame's bytes, built from the message codec directly: the wire form is these keys and nothing else.
    const expected = encodeCanonical({ m: encodeConsensusMessage({ kind: "proposal", proposal: p }), block });
    expect(Buffer.from(encodeCanonical(frame)).toString("hex")).to.equal(Buffer.from(expected).toString("hex"));
    const back = decodeWireConsensus(decodeCanonical(encodeCanonical(frame)));
    expect(back).to.deep.equal({ kind: "proposal", proposal: p, block });
  });

  it("a vote frame carries block null, and decodes back", () => {
    const frame = encodeWireConsensus({ kind: "vote", vote: v });
    expect(frame).to.deep.equal({ m: encodeConsensusMessage({ kind: "vote", vote: v }), block: null });
    expect(decodeWireConsensus(frame)).to.deep.equal(decodeConsensusMessage(encodeConsensusMessage({ kind: "vote", vote: v })));
  });

  it("refuses frames of another shape with BAD_MESSAGE", () => {
    const m = encodeConsensusMessage({ kind: "vote", vote: v });
    const pm = encodeConsensusMessage({ kind: "proposal", proposal: p });
    expectConsensusError(() => decodeWireConsensus([m]), ConsensusErrorCode.BAD_MESSAGE, /must be a map/);
    expectConsensusError(() => decodeWireConsensus({ m }), ConsensusErrorCode.BAD_MESSAGE, /exactly the keys/);
    expectConsensusError(() => decodeWireConsensus({ m, block: null, x: 1 }), ConsensusErrorCode.BAD_MESSAGE, /exactly the keys/);
    expectConsensusError(() => decodeWireConsensus({ m: "x", block: null }), ConsensusErrorCode.BAD_MESSAGE, /must be bytes/);
    expectConsensusError(() => decodeWireConsensus({ m, block }), ConsensusErrorCode.BAD_MESSAGE, /no block/);
    expectConsensusError(() => decodeWireConsensus({ m: pm, block: null }), ConsensusErrorCode.BAD_MESSAGE, /block as bytes/);
    expectConsensusError(() => decodeWireConsensus({ m: new Uint8Array([1, 2]), block: null }), ConsensusErrorCode.BAD_MESSAGE);
  });

  it("decoding any value returns a message or throws BAD_MESSAGE, nothing else", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.record({ m: fc.uint8Array({ maxLength: 40 }), block: fc.constant(null) })), (value) => {
        try {
          decodeWireConsensus(value);
        } catch (e) {
          expect((e as { code?: unknown }).code).to.equal(ConsensusErrorCode.BAD_MESSAGE);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("an evidence frame is one non-empty encoded evidence within its bound", () => {
    const ev = new Uint8Array([1, 2, 3]);
    expect(decodeWireEvidence(ev)).to.equal(ev);
    expectConsensusError(() => decodeWireEvidence(new Uint8Array(0)), ConsensusErrorCode.BAD_MESSAGE);
    expectConsensusError(() => decodeWireEvidence("ev"), ConsensusErrorCode.BAD_MESSAGE);
    expectConsensusError(() => decodeWireEvidence(new Uint8Array(MAX_EVIDENCE_FRAME_BYTES)), ConsensusErrorCode.BAD_MESSAGE);
  });

  it("proposal tx bytes leave room for the frame's overhead, and never go below 0", () => {
    const frame = 4 * 1024 * 1024;
    const txBytes = proposalTxBytesFor(frame);
    expect(txBytes).to.be.greaterThan(0).and.lessThan(frame - 256 * 1024);
    expect(proposalTxBytesFor(1024)).to.equal(0);
  });
});
