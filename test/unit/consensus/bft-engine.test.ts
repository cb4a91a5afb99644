/**
 * The BFT engine's hand-over to block sync and back, on a real store: a
 * sync that finds nothing resumes the same height with its round state and
 * lock; a sync that moves the head resumes at the next height. A claim no
 * peer proved never pauses consensus.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Commit } from "../../../src/chain/block.js";
import { SignatureVerifier } from "../../../src/chain/execute.js";
import { Mempool, defaultMempoolOptions } from "../../../src/chain/mempool.js";
import { ChainStore } from "../../../src/chain/store.js";
import { BftEngine, type BftEngineDeps, type WireConsensusMessage } from "../../../src/consensus/bft-engine.js";
import { buildBlock } from "../../../src/consensus/block-exec.js";
import { signVote } from "../../../src/consensus/messages.js";
import { FilePrivValidator } from "../../../src/consensus/privval.js";
import { ValidatorSigner } from "../../../src/consensus/signer.js";
import { ProposerPriorities } from "../../../src/consensus/proposer.js";
import { VoteStep } from "../../../src/chain/vote.js";
import { precommit, prevote, validatorSet } from "../../helpers/consensus.js";
import { CHAIN_ID, fixedKey, hex } from "../../helpers/fixtures.js";
import { signCommit } from "../../helpers/p2p.js";
import { loggerOf } from "../../../src/log/logger.js";

const GENESIS_HASH = new Uint8Array(32).fill(0x33);
const GENESIS_TIME = Date.parse("2026-01-01T00:00:00Z");
const PARAMS = { maxBlockTxs: 100, maxBlockBytes: 1 << 20 };
const SET = validatorSet([10, 10, 10, 10]);
const KEYS = [0, 1, 2, 3].map((i) => fixedKey(0x41 + i));
/** The proposer of height 1, round 0: the engine under test runs its key, so it proposes and can lock. */
const PROPOSER = ProposerPriorities.initial(SET).proposer();
const SELF = SET.validators.findIndex((v) => hex(v.address) === hex(PROPOSER));
const OTHERS = [0, 1, 2, 3].filter((i) => i !== SELF);

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("consensus/bft-engine: hand-over to block sync and back", function () {
  this.timeout(30_000);
  let dir: string;
  let n = 0;
  const engines: BftEngine[] = [];
  const stores: ChainStore[] = [];
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-bft-engine-"))));
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.stop();
    for (const s of stores.splice(0)) await s.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function openStore(): Promise<{ store: ChainStore; mempool: Mempool }> {
    const store = await ChainStore.open(join(dir, `s${n++}`));
    await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
    stores.push(store);
    const mempool = new Mempool(defaultMempoolOptions, {
      chainId: CHAIN_ID,
      verifier: new SignatureVerifier(),
      loadState: (d) => store.loadState(d),
      isCommitted: async (h) => (await store.getTxLocation(h)) !== undefined,
      nextBlock: () => ({ height: store.head().height + 1, time: Date.now() }),
    });
    return { store, mempool };
  }

  /** An engine of validator SELF; `sync` stands in for block sync, `proven` for the peers' proven height. */
  async function engine(over: Partial<BftEngineDeps> & { proven: () => number | undefined; sync: (target: number) => Promise<void> }) {
    const { store, mempool } = await openStore();
    const privval = await FilePrivValidator.open(join(dir, `pv${n++}.json`), KEYS[SELF]!.secretKey);
    const logs: { msg: string; fields?: Record<string, unknown> }[] = [];
    const sent: WireConsensusMessage[] = [];
    const proofsAsked: number[] = [];
    const e = new BftEngine(
      { catchUpAfterMs: 0, timeoutCommitMs: 50, tendermint: { proposeMs: 60_000, prevoteMs: 60_000, precommitMs: 60_000, deltaMs: 0 } },
      {
        chainId: CHAIN_ID,
        store,
        mempool,
        verifier: new SignatureVerifier(),
        params: PARAMS,
        validatorSetAt: async () => SET,
        privval,
        wal: null,
        broadcast: (m) => sent.push(m),
        peersHeight: () => store.head().height + 1_000_000_000,
        provenPeersHeight: over.proven,
        requestProof: (h) => proofsAsked.push(h),
        catchUp: over.sync,
        clock: Date.now,
        log: loggerOf((_level, msg, fields) => logs.push({ msg, ...(fields ? { fields } : {}) })),
        ...over,
      },
    );
    engines.push(e);
    e.start();
    e.startConsensus();
    return { e, store, mempool, logs, sent, proofsAsked };
  }

  /** Height 1 round 0: the engine proposed; prevotes of the others for its block lock it. Returns the block hash. */
  async function lockOnOwnProposal(t: Awaited<ReturnType<typeof engine>>): Promise<Uint8Array> {
    await until("own proposal", () => t.sent.some((m) => m.kind === "proposal"));
    const p = t.sent.find((m) => m.kind === "proposal")!;
    const hash = (p as Extract<WireConsensusMessage, { kind: "proposal" }>).proposal.blockHash;
    for (const i of OTHERS) t.e.admit({ kind: "vote", vote: prevote(i, 1, 0, hash) }, `peer${i}`);
    await until("locked", () => t.e.roundState().lockedRound === 0);
    return hash;
  }

  it("a claim alone asks for a proof and never pauses consensus", async () => {
    let synced = 0;
    const t = await engine({ proven: () => undefined, sync: async () => void synced++ });
    await lockOnOwnProposal(t);
    await until("a proof asked for height 1", () => t.proofsAsked.includes(1));
    await new Promise((r) => setTimeout(r, 300));
    expect(synced).to.equal(0);
    expect(t.e.isSyncing()).to.equal(false);
  });

  it("a sync that finds no block resumes the same height with its round state and lock, and the height is decided after", async () => {
    let proven: number | undefined;
    let syncs = 0;
    const t = await engine({
      proven: () => proven,
      sync: async (target) => {
        expect(target).to.equal(1);
        syncs++;
        proven = undefined; // the peer that proved it is gone; nothing was fetched
      },
    });
    const hash = await lockOnOwnProposal(t);
    const before = t.e.roundState();
    expect(hex(before.lockedValue!)).to.equal(hex(hash));
    proven = 1;
    await until("a sync ran", () => syncs === 1 && !t.e.isSyncing());
    await until("resumed", () => t.logs.some((l) => l.msg.startsWith("block sync found no block of this height")));
    const after = t.e.roundState();
    expect(after).to.deep.equal(before);
    expect(t.store.head().height).to.equal(0);
    expect(t.logs.some((l) => /started already/.test(String(l.fields?.error)))).to.equal(false);
    // The height goes on: the others' precommits decide the locked block.
    for (const i of OTHERS) t.e.admit({ kind: "vote", vote: precommit(i, 1, 0, hash) }, `peer${i}`);
    await until("block 1 committed", () => t.store.head().height === 1);
    expect(hex(t.store.head().hash)).to.equal(hex(hash));
    await until("height 2 started", () => t.e.currentHeight() === 2);
    // Its precommits at height 1 round 0, before and after the pause alike, are for the locked block only.
    const own = t.sent.filter((m) => m.kind === "vote" && m.vote.height === 1 && m.vote.type === VoteStep.Precommit);
    expect(own.length).to.be.greaterThan(0);
    expect([...new Set(own.map((m) => hex((m as Extract<WireConsensusMessage, { kind: "vote" }>).vote.blockHash)))]).to.deep.equal([hex(hash)]);
  });

  it("a sync that moves the head resumes at the next height", async () => {
    let proven: number | undefined;
    // Block 1 as the other validators decided it (a different block: built on another store, committed by 3 of 4).
    const other = await openStore();
    const decided = await buildBlock({ chainId: CHAIN_ID, store: other.store, verifier: new SignatureVerifier(), params: PARAMS }, other.mempool, {
      height: 1,
      time: GENESIS_TIME + 5_000,
      proposer: PROPOSER,
      validators: SET,
      nextValidators: SET,
      lastCommit: null,
      onRejected: () => {},
    });
    const commit: Commit = signCommit(CHAIN_ID, 1, decided.hash, OTHERS.map((i) => KEYS[i]!), SET);
    const holder: { e?: BftEngine } = {};
    const t = await engine({
      proven: () => proven,
      sync: async () => {
        await holder.e!.applySyncedBlock(decided.block, commit);
        proven = undefined;
      },
    });
    holder.e = t.e;
    const mine = await lockOnOwnProposal(t);
    expect(hex(mine)).not.to.equal(hex(decided.hash));
    proven = 1;
    await until("height 2", () => t.e.roundState().height === 2 && !t.e.isSyncing());
    expect(t.store.head().height).to.equal(1);
    expect(hex(t.store.head().hash)).to.equal(hex(decided.hash));
    expect(t.e.roundState().height).to.equal(2);
    expect(t.e.roundState().lockedRound).to.equal(-1);
    expect(t.logs.some((l) => l.msg.startsWith("block sync moved the head"))).to.equal(true);
    expect(t.logs.some((l) => /started already/.test(String(l.fields?.error)))).to.equal(false);
  });

  it("a vote for a height whose set is not known yet costs its sender nothing; checked when its height starts, a bad one does", async () => {
    const reported: { peer: string; reason: string }[] = [];
    const t = await engine({ proven: () => undefined, sync: async () => {}, reportPeer: (peer, reason) => reported.push({ peer, reason }) });
    await until("height 1", () => t.e.currentHeight() === 1);
    // Height 5 is beyond head + 2: a vote signed by a key of no set this node knows is kept, not judged.
    const s = () => new ValidatorSigner(fixedKey(0x7e).secretKey, undefined);
    const far = signVote(CHAIN_ID, { type: VoteStep.Prevote, height: 5, round: 0, blockHash: new Uint8Array(32), validator: s().address }, s()).vote;
    expect(t.e.admit({ kind: "vote", vote: far }, "peerX")).to.equal(false);
    // Height 2 is within head + 2: the same kind of vote is judged against height 2's set, and costs its sender.
    const near = signVote(CHAIN_ID, { type: VoteStep.Prevote, height: 2, round: 0, blockHash: new Uint8Array(32), validator: s().address }, s()).vote;
    t.e.admit({ kind: "vote", vote: near }, "peerY");
    await until("peerY reported", () => reported.some((r) => r.peer === "peerY"));
    await new Promise((r) => setTimeout(r, 100));
    expect(reported.filter((r) => r.peer === "peerX")).to.deep.equal([]);
  });
});
