/**
 * The BFT engine and its WAL, on a real WAL file, store and privval state
 * file: the engine writes what it signs to the WAL (synced before it is
 * sent), and an engine restarted on that WAL answers the machine with those
 * very messages: the same proposal and the same votes, never a new
 * signature, even when a new block built now would differ.
 */
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignatureVerifier } from "../../../src/chain/execute.js";
import { Mempool, defaultMempoolOptions } from "../../../src/chain/mempool.js";
import { ChainStore } from "../../../src/chain/store.js";
import { BftEngine, type WireConsensusMessage } from "../../../src/consensus/bft-engine.js";
import type { Proposal, Vote } from "../../../src/consensus/messages.js";
import { FilePrivValidator } from "../../../src/consensus/privval.js";
import { ProposerPriorities } from "../../../src/consensus/proposer.js";
import { VoteStep } from "../../../src/chain/vote.js";
import { ConsensusWal } from "../../../src/consensus/wal.js";
import { loggerOf } from "../../../src/log/logger.js";
import { type WalRecord, decodeWalRecord } from "../../../src/consensus/wal-records.js";
import { prevote, validatorSet } from "../../helpers/consensus.js";
import { CHAIN_ID, createTx, fixedKey, hex, testDid } from "../../helpers/fixtures.js";

const GENESIS_HASH = new Uint8Array(32).fill(0x34);
const GENESIS_TIME = Date.parse("2026-01-01T00:00:00Z");
const PARAMS = { maxBlockTxs: 100, maxBlockBytes: 1 << 20 };
const SET = validatorSet([10, 10, 10, 10]);
const KEYS = [0, 1, 2, 3].map((i) => fixedKey(0x41 + i));
/** The proposer of height 1, round 0: the engine under test runs its key. */
const PROPOSER = ProposerPriorities.initial(SET).proposer();
const SELF = SET.validators.findIndex((v) => hex(v.address) === hex(PROPOSER));
const OTHERS = [0, 1, 2, 3].filter((i) => i !== SELF);

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** This engine's own votes among what it broadcast (it also relays the others'). */
const votesOf = (sent: WireConsensusMessage[]): Vote[] => sent.flatMap((m) => (m.kind === "vote" && hex(m.vote.validator) === hex(PROPOSER) ? [m.vote] : []));
const proposalsOf = (sent: WireConsensusMessage[]): Proposal[] => sent.flatMap((m) => (m.kind === "proposal" ? [m.proposal] : []));
const voteJson = (v: Vote) => ({ type: v.type, height: v.height, round: v.round, blockHash: hex(v.blockHash), validator: hex(v.validator), sig: hex(v.sig) });

describe("consensus/bft-engine: signed votes go to the WAL and come back from it", function () {
  this.timeout(30_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-bft-wal-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** One run of validator SELF on the files of `home`: its store, WAL and privval state. */
  async function run(home: string, pooled: Uint8Array[] = []) {
    const store = await ChainStore.open(join(home, "chain"));
    const mempool = new Mempool(defaultMempoolOptions, {
      chainId: CHAIN_ID,
      verifier: new SignatureVerifier(),
      loadState: (d) => store.loadState(d),
      isCommitted: async (h) => (await store.getTxLocation(h)) !== undefined,
      nextBlock: () => ({ height: store.head().height + 1, time: Date.now() }),
    });
    for (const tx of pooled) await mempool.add(tx);
    const privval = await FilePrivValidator.open(join(home, "priv_validator_state.json"), KEYS[SELF]!.secretKey);
    const wal = await ConsensusWal.open(join(home, "cs.wal"));
    const sent: WireConsensusMessage[] = [];
    const logs: { level: string; msg: string }[] = [];
    const e = new BftEngine(
      { timeoutCommitMs: 50, tendermint: { proposeMs: 60_000, prevoteMs: 60_000, precommitMs: 60_000, deltaMs: 0 } },
      {
        chainId: CHAIN_ID,
        store,
        mempool,
        verifier: new SignatureVerifier(),
        params: PARAMS,
        validatorSetAt: async () => SET,
        privval,
        wal,
        broadcast: (m) => sent.push(m),
        clock: Date.now,
        log: loggerOf((level, msg) => logs.push({ level, msg })),
      },
    );
    e.start();
    e.startConsensus();
    const close = async () => {
      await e.stop();
      await wal.close();
      await store.close();
    };
    return { e, store, mempool, privval, wal, sent, logs, close };
  }

  async function walRecords(home: string): Promise<WalRecord[]> {
    const wal = await ConsensusWal.open(join(home, "cs.wal"));
    try {
      return (await wal.replay()).records.map(decodeWalRecord);
    } finally {
      await wal.close();
    }
  }

  it("writes its proposal and votes to the WAL; restarted on it, sends the same ones and signs nothing new", async () => {
    const home = mkdtempSync(join(dir, "home-"));
    {
      const store = await ChainStore.open(join(home, "chain"));
      await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
      await store.close();
    }

    // First run: the engine proposes an empty block, prevotes it, and precommits it once the others' prevotes lock it.
    const first = await run(home);
    await until("own proposal", () => proposalsOf(first.sent).length > 0);
    const hash = proposalsOf(first.sent)[0]!.blockHash;
    for (const i of OTHERS) first.e.admit({ kind: "vote", vote: prevote(i, 1, 0, hash) }, `peer${i}`);
    await until("own precommit", () => votesOf(first.sent).some((v) => v.type === VoteStep.Precommit));
    const signedBefore = votesOf(first.sent).map(voteJson);
    const guardBefore = readFileSync(join(home, "priv_validator_state.json"), "utf8");
    expect(first.e.roundState().lockedRound).to.equal(0);
    expect(first.store.head().height, "undecided: the others never precommitted").to.equal(0);
    await first.close();

    // The WAL holds what was signed, with the inputs that led there.
    const records = await walRecords(home);
    const signedVotes = records.flatMap((r) => (r.kind === "signedVote" ? [r.vote] : []));
    expect(signedVotes.map(voteJson)).to.deep.equal(signedBefore);
    expect(signedVotes.map((v) => [v.type, v.round, hex(v.blockHash)])).to.deep.equal([
      [VoteStep.Prevote, 0, hex(hash)],
      [VoteStep.Precommit, 0, hex(hash)],
    ]);
    const signedProposals = records.flatMap((r) => (r.kind === "signedProposal" ? [r.proposal] : []));
    expect(signedProposals.map((p) => hex(p.blockHash))).to.deep.equal([hex(hash)]);
    expect(records.filter((r) => r.kind === "vote")).to.have.length(OTHERS.length);

    // Second run on the same files, with a tx in the pool: a block built now would differ from the one proposed.
    const second = await run(home, [createTx(testDid(fixedKey(0x90))).encoded]);
    await until("votes sent again", () => votesOf(second.sent).length >= 2);
    await until("WAL replayed", () => second.logs.some((l) => l.msg === "WAL replayed"));
    expect(proposalsOf(second.sent).map((p) => hex(p.blockHash))).to.deep.equal([hex(hash)]);
    expect(votesOf(second.sent).map(voteJson)).to.deep.equal(signedBefore);
    expect(second.e.roundState().lockedRound).to.equal(0);
    // Nothing was signed anew: the guard state file is as the first run left it, and no signature was refused.
    expect(readFileSync(join(home, "priv_validator_state.json"), "utf8")).to.equal(guardBefore);
    expect(second.logs.filter((l) => l.msg === "consensus action failed" || /refusing a vote/.test(l.msg))).to.deep.equal([]);
    const again = (await second.wal.replay()).records.map(decodeWalRecord).filter((r) => r.kind === "signedVote" || r.kind === "signedProposal");
    expect(again, "no second signed record").to.have.length(3);
    await second.close();
  });
});
