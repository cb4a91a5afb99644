/**
 * The snapshot channel's messages through the real frame codec: every kind
 * survives encode, frame, decode unchanged (a block and its commit with real
 * signatures included), and the channel's validateBasic holds its bounds
 * exactly at the edges.
 */
import { expect } from "chai";
import { type Block, type Commit, headerHash } from "../../../src/chain/block.js";
import type { CanonicalValue } from "../../../src/chain/codec.js";
import { MAX_CHUNK_BITS } from "../../../src/chain/snapshot.js";
import { P2pError, P2pErrorCode } from "../../../src/p2p/errors.js";
import { Channel, decodeFrame, encodeFrame } from "../../../src/p2p/frames.js";
import { MAX_LISTED, MAX_WIRE_VALIDATORS, type SnapshotMessage, decodeSnapshotMessage } from "../../../src/p2p/snapshot-messages.js";
import { precommit, validatorSet } from "../../helpers/consensus.js";
import { CHAIN_ID } from "../../helpers/fixtures.js";

const set = validatorSet([10, 10, 10]);
const block: Block = {
  header: { chainId: CHAIN_ID, height: 9, time: 1_009, prevHash: new Uint8Array(32).fill(1), txRoot: new Uint8Array(32), evidenceHash: new Uint8Array(32), stateRoot: new Uint8Array(32).fill(7), validatorsHash: set.hash, nextValidatorsHash: set.hash, proposer: set.validators[0]!.address, lastCommitHash: new Uint8Array(32) },
  txs: [],
  evidence: [],
  lastCommit: null,
};
const hash = headerHash(block.header);
const commit: Commit = {
  height: 9,
  round: 0,
  blockHash: hash,
  sigs: [0, 1, 2].map((i) => {
    const v = precommit(i, 9, 0, hash);
    return { validator: v.validator, sig: v.sig };
  }),
};
const wireSet = set.validators.map((v) => ({ publicKey: v.publicKey, power: v.power }));
const MAX_INDEX = (1 << MAX_CHUNK_BITS) - 1;

/** What the peer at the other end decodes. */
const viaFrame = (m: SnapshotMessage | Record<string, unknown>): SnapshotMessage => {
  const f = decodeFrame(encodeFrame(Channel.Snapshot, m as unknown as CanonicalValue));
  expect(f.ch).to.equal(Channel.Snapshot);
  return decodeSnapshotMessage(f.m);
};

function refused(m: Record<string, unknown>): string {
  try {
    viaFrame(m);
  } catch (e) {
    expect(e).to.be.instanceOf(P2pError);
    expect((e as P2pError).code).to.equal(P2pErrorCode.INVALID_MESSAGE);
    return (e as P2pError).message;
  }
  expect.fail(`accepted ${JSON.stringify(m).slice(0, 80)}`);
}

describe("p2p/snapshot-messages", () => {
  it("every kind crosses the frame codec unchanged", () => {
    const messages: SnapshotMessage[] = [
      { type: "listSnapshots" },
      { type: "snapshots", items: [{ height: 200, hash: new Uint8Array(32).fill(3), chunks: 12, bytes: 123_456 }, { height: 100, hash: new Uint8Array(32).fill(4), chunks: 0, bytes: 0 }] },
      { type: "snapshots", items: [] },
      { type: "getManifest", height: 200 },
      { type: "manifest", height: 200, data: Uint8Array.of(1, 2, 3) },
      { type: "manifest", height: 200, data: null },
      { type: "getChunk", height: 200, index: MAX_INDEX },
      { type: "chunk", height: 200, index: 0, data: new Uint8Array(1_000).fill(9) },
      { type: "chunk", height: 200, index: 1, data: null },
      { type: "getLightBlock", height: 9 },
      { type: "lightBlock", height: 9, block, commit },
      { type: "lightBlock", height: 9, block, commit, validators: wireSet, nextValidators: wireSet },
      { type: "lightBlock", height: 9, block: null, commit: null },
    ];
    for (const m of messages) expect(viaFrame(m), m.type).to.deep.equal(m);
  });

  it(`lists at most ${MAX_LISTED} snapshots, heights from 1, chunk indexes up to 2^${MAX_CHUNK_BITS} - 1`, () => {
    const item = { height: 1, hash: new Uint8Array(32), chunks: MAX_INDEX + 1, bytes: 0 };
    expect((viaFrame({ type: "snapshots", items: Array.from({ length: MAX_LISTED }, () => item) }) as { items: unknown[] }).items).to.have.length(MAX_LISTED);
    expect(refused({ type: "snapshots", items: Array.from({ length: MAX_LISTED + 1 }, () => item) })).to.match(/more than 16 items/);
    expect(refused({ type: "snapshots", items: [{ ...item, chunks: MAX_INDEX + 2 }] })).to.match(/chunks/);
    expect(refused({ type: "getManifest", height: 0 })).to.match(/getManifest.height/);
    expect(refused({ type: "getChunk", height: 1, index: MAX_INDEX + 1 })).to.match(/getChunk.index/);
    expect(refused({ type: "chunk", height: 1, index: -1, data: null })).to.match(/chunk.index/);
  });

  it("a light block's sets come together, bounded, with 33-byte keys and positive powers; block and commit come together", () => {
    expect(refused({ type: "lightBlock", height: 9, block, commit, validators: wireSet })).to.match(/together/);
    expect(refused({ type: "lightBlock", height: 9, block, commit: null })).to.match(/together/);
    expect(refused({ type: "lightBlock", height: 9, block, commit, validators: [{ ...wireSet[0]!, power: 0 }], nextValidators: wireSet })).to.match(/power/);
    expect(refused({ type: "lightBlock", height: 9, block, commit, validators: wireSet, nextValidators: [{ publicKey: new Uint8Array(65), power: 1 }] })).to.match(/publicKey/);
    const many = Array.from({ length: MAX_WIRE_VALIDATORS + 1 }, () => wireSet[0]!);
    expect(refused({ type: "lightBlock", height: 9, block, commit, validators: many, nextValidators: wireSet })).to.match(/more than 1024 items/);
  });

  it("unknown kinds and extra fields are refused, naming the field", () => {
    expect(refused({ type: "getSnapshot", height: 1 })).to.match(/unknown type/);
    expect(refused({ type: "getManifest", height: 1, index: 2 })).to.match(/unexpected field "index"/);
    expect(refused({ type: "manifest", height: 1, data: "text" })).to.match(/manifest.data: expected bytes/);
  });
});
