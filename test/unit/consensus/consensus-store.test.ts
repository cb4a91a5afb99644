/** The consensus repository: the sign state and proposer priorities written with a block, read typed, over the chain store's keys. */
import { expect } from "chai";
import { signStateKey, proposerPrioritiesKey } from "../../../src/chain/buckets.js";
import { encodeCanonical } from "../../../src/chain/codec.js";
import { MemoryKv } from "../../../src/chain/db/memory-kv.js";
import { ChainStore } from "../../../src/chain/store.js";
import { ConsensusStore, putConsensusWithBlock } from "../../../src/consensus/consensus-store.js";
import { ConsensusError, ConsensusErrorCode } from "../../../src/consensus/errors.js";
import { ProposerPriorities } from "../../../src/consensus/proposer.js";
import type { SignState } from "../../../src/consensus/signer.js";
import { ValidatorSet } from "../../../src/chain/validator-set.js";
import { hex } from "../../helpers/fixtures.js";

function setOf(powers: readonly number[]): ValidatorSet {
  return new ValidatorSet(powers.map((power, i) => ({ name: String.fromCharCode(65 + i), address: new Uint8Array(20).fill(i + 1), publicKey: new Uint8Array(33), power })));
}

const STATE: SignState = { height: 7, round: 1, step: 2, digest: "ab".repeat(32), sig: "cd".repeat(64) };

describe("consensus/consensus-store", () => {
  it("an empty store has no sign state and no priorities", async () => {
    const cs = new ConsensusStore(new MemoryKv());
    expect(await cs.signState()).to.equal(undefined);
    expect(await cs.proposerPriorities(1)).to.equal(undefined);
    expect(await cs.proposerPrioritiesBytes(1)).to.equal(undefined);
  });

  it("writes into a block's batch under the chain store's keys, and reads them back typed", async () => {
    const kv = new MemoryKv();
    const cs = new ConsensusStore(kv);
    const priorities = ProposerPriorities.initial(setOf([1, 2, 3]));
    const batch = kv.batch();
    cs.putWithBlock(batch, 7, { signState: STATE, nextProposerPriorities: priorities });
    expect(await cs.signState(), "nothing before the batch is written").to.equal(undefined);
    await batch.write({ sync: true });
    expect(await cs.signState()).to.deep.equal(STATE);
    expect(hex((await cs.proposerPriorities(8))!.encode())).to.equal(hex(priorities.encode()));
    expect(await cs.proposerPriorities(7)).to.equal(undefined);
    // The keys and bytes are the ones the chain store has always used.
    expect(hex((await kv.get(signStateKey()))!)).to.equal(hex(encodeCanonical(STATE as never)));
    expect(hex(signStateKey())).to.equal(hex(Buffer.from("MsignState")));
    expect(hex(proposerPrioritiesKey(8))).to.equal(hex(Buffer.from("MproposerPriorities/8")));
    // Only what is given is written.
    const second = kv.batch();
    cs.putWithBlock(second, 8, {});
    expect(second.length).to.equal(0);
  });

  it("reads what the chain store's commitBlock wrote with a block", async () => {
    const kv = new MemoryKv();
    const store = await ChainStore.openKv(kv);
    await store.initGenesis(new Uint8Array(32).fill(0x47), 1_700_000_000_000);
    const priorities = ProposerPriorities.initial(setOf([5, 5]));
    const { root, nodes, encoded } = await store.computeStateRoot(new Map());
    const header = { chainId: "c", height: 1, time: 1_700_000_001_000, prevHash: store.head().hash, txRoot: new Uint8Array(32), evidenceHash: new Uint8Array(32), stateRoot: root, validatorsHash: new Uint8Array(32), nextValidatorsHash: new Uint8Array(32), proposer: new Uint8Array(20), lastCommitHash: new Uint8Array(32) };
    await store.commitBlock({
      block: { header, txs: [], evidence: [], lastCommit: null },
      blockHash: new Uint8Array(32).fill(1),
      commit: { height: 1, round: 0, blockHash: new Uint8Array(32).fill(1), sigs: [] },
      txHashes: [],
      writes: new Map(),
      encodedWrites: encoded,
      versions: [],
      smtNodes: nodes,
      sideWrites: (batch) => putConsensusWithBlock(batch, 1, { signState: STATE, nextProposerPriorities: priorities }),
    });
    const cs = new ConsensusStore(store.kv);
    expect(await cs.signState()).to.deep.equal(STATE);
    expect((await cs.proposerPriorities(2))!.matches(setOf([5, 5]))).to.equal(true);
    expect(hex((await store.getProposerPriorities(2))!)).to.equal(hex((await cs.proposerPrioritiesBytes(2))!));

    // The same data given as the repository's own writes in the block's batch.
    const next = ProposerPriorities.initial(setOf([1, 9]));
    const state2: SignState = { ...STATE, height: 2 };
    const root2 = await store.computeStateRoot(new Map());
    await store.commitBlock({
      block: { header: { ...header, height: 2, time: header.time + 1000, prevHash: new Uint8Array(32).fill(1) }, txs: [], evidence: [], lastCommit: null },
      blockHash: new Uint8Array(32).fill(2),
      commit: { height: 2, round: 0, blockHash: new Uint8Array(32).fill(2), sigs: [] },
      txHashes: [],
      writes: new Map(),
      encodedWrites: root2.encoded,
      versions: [],
      smtNodes: root2.nodes,
      sideWrites: (batch) => cs.putWithBlock(batch, 2, { signState: state2, nextProposerPriorities: next }),
    });
    expect(await cs.signState()).to.deep.equal(state2);
    expect((await cs.proposerPriorities(3))!.matches(setOf([1, 9]))).to.equal(true);
    expect(store.head().height).to.equal(2);
  });

  it("damaged priorities are refused with the consensus's own error (BAD_MESSAGE)", async () => {
    const kv = new MemoryKv();
    const batch = kv.batch();
    batch.put(proposerPrioritiesKey(3), Uint8Array.of(0xa1, 0x01));
    await batch.write();
    let err: unknown;
    await new ConsensusStore(kv).proposerPriorities(3).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(ConsensusError);
    expect((err as ConsensusError).code).to.equal(ConsensusErrorCode.BAD_MESSAGE);
  });
});
