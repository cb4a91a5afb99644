import { expect } from "chai";
import { BlockErrorCode, ChainError, CodecError, DidErrorCode, EvidenceErrorCode, TxErrorCode } from "../../src/chain/errors.js";
import { ConsensusError, ConsensusErrorCode } from "../../src/consensus/errors.js";
import { BlockValidationError } from "../../src/consensus/block-exec.js";
import { DidError } from "../../src/did/errors.js";
import { CodedError, IGNORE, REJECT_FORGED, REJECT_INVALID, verdictOf } from "../../src/errors.js";
import { P2pError, P2pErrorCode, Penalty, penaltyOf } from "../../src/p2p/index.js";

describe("errors: the verdict each error carries", () => {
  it("a chain refusal no state can explain rejects its sender; one that may be a race blames nobody", () => {
    for (const code of [TxErrorCode.DECODE, TxErrorCode.TOO_LARGE, TxErrorCode.UNKNOWN_TYPE, TxErrorCode.BAD_FIELD, TxErrorCode.WRONG_CHAIN, TxErrorCode.HIGH_S_SIGNATURE, DidErrorCode.INVALID_DID, DidErrorCode.INVALID_DOCUMENT, DidErrorCode.ID_MISMATCH]) {
      expect(new ChainError(code, "x").verdict, code).to.deep.equal(REJECT_INVALID);
    }
    for (const code of [TxErrorCode.BAD_SIGNATURE, TxErrorCode.BAD_SEQUENCE, TxErrorCode.DUPLICATE, TxErrorCode.MEMPOOL_FULL, DidErrorCode.STALE_VERSION, DidErrorCode.NOT_FOUND, EvidenceErrorCode.INVALID, BlockErrorCode.NOT_FOUND]) {
      expect(new ChainError(code, "x").verdict, code).to.deep.equal(IGNORE);
    }
  });

  it("the thrower's verdict wins over the code's", () => {
    const forged = new ChainError(EvidenceErrorCode.INVALID, "votes prove nothing", { index: 0, forged: true }, REJECT_INVALID);
    expect(forged.verdict).to.deep.equal(REJECT_INVALID);
    expect(new ChainError(TxErrorCode.DECODE, "x", undefined, IGNORE).verdict).to.deep.equal(IGNORE);
    // Payload and verdict are separate: the data a client sees is the data given.
    expect(forged.data).to.deep.equal({ index: 0, forged: true });
  });

  it("undecodable input, a bad consensus message and a peer's malformed frame reject the sender", () => {
    expect(new CodecError("truncated").verdict).to.deep.equal(REJECT_INVALID);
    expect(new CodecError("truncated").code).to.equal(TxErrorCode.DECODE);
    expect(new ConsensusError(ConsensusErrorCode.BAD_MESSAGE, "x").verdict).to.deep.equal(REJECT_INVALID);
    expect(new BlockValidationError("bad header").verdict).to.deep.equal(REJECT_INVALID);
    expect(new BlockValidationError("bad header").code).to.equal(BlockErrorCode.INVALID_BLOCK);
    expect(new P2pError(P2pErrorCode.INVALID_MESSAGE, "x").verdict).to.deep.equal(REJECT_INVALID);
    expect(new P2pError(P2pErrorCode.MALFORMED_FRAME, "x").verdict).to.deep.equal(REJECT_INVALID);
    expect(new DidError(DidErrorCode.INVALID_DOCUMENT, "x").verdict).to.deep.equal(REJECT_INVALID);
  });

  it("this node's own conditions blame nobody", () => {
    for (const code of [ConsensusErrorCode.WAL_CORRUPT, ConsensusErrorCode.BAD_OPTIONS, ConsensusErrorCode.NOT_VALIDATOR, ConsensusErrorCode.WRONG_HEIGHT]) {
      expect(new ConsensusError(code, "x").verdict, code).to.deep.equal(IGNORE);
    }
    for (const code of [P2pErrorCode.SEND_QUEUE_FULL, P2pErrorCode.BAD_OPTION, P2pErrorCode.SHUTTING_DOWN, P2pErrorCode.TOO_MANY_PEERS]) {
      expect(new P2pError(code, "x").verdict, code).to.deep.equal(IGNORE);
    }
    expect(new CodedError("SOMETHING", "x").verdict).to.deep.equal(IGNORE);
  });

  it("verdictOf reads a typed error's verdict, and rejects anything else a decoder throws", () => {
    expect(verdictOf(new ChainError(TxErrorCode.BAD_SEQUENCE, "x"))).to.deep.equal(IGNORE);
    expect(verdictOf(new ConsensusError(ConsensusErrorCode.BAD_MESSAGE, "x"))).to.deep.equal(REJECT_INVALID);
    expect(verdictOf(new TypeError("not a map"))).to.deep.equal(REJECT_INVALID);
    expect(verdictOf("a string")).to.deep.equal(REJECT_INVALID);
  });

  it("the p2p side turns a verdict into penalty points", () => {
    expect(penaltyOf(IGNORE)).to.equal(0);
    expect(penaltyOf(REJECT_INVALID)).to.equal(Penalty.INVALID_MESSAGE);
    expect(penaltyOf(REJECT_FORGED)).to.equal(Penalty.FORGED_TX);
  });
});
