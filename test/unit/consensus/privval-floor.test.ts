/** A reset guard state: the validator signs nothing below the network's height (read at the first request) plus a margin; a failed state write is reported. */
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConsensusError, ConsensusErrorCode } from "../../../src/consensus/errors.js";
import { verifyProposal, verifyVote } from "../../../src/consensus/messages.js";
import { FilePrivValidator, PRIV_VALIDATOR_STATE_FILE } from "../../../src/consensus/privval.js";
import { VoteStep } from "../../../src/chain/vote.js";
import { CHAIN_ID, fixedKey } from "../../helpers/fixtures.js";
import { blockHash, validatorFill, validatorSet } from "../../helpers/consensus.js";

const set = validatorSet([1, 1, 1, 1]);
const key = fixedKey(validatorFill(0)).secretKey;
const me = set.validators[0]!.address;
const V = blockHash("v");
const vote = (height: number) => ({ type: VoteStep.Prevote as const, height, round: 0, blockHash: V, validator: me });

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return expect.fail("expected a rejection");
}

describe("consensus/privval: signing floor after a guard state reset", () => {
  let dir: string;
  let n = 0;
  const fresh = () => join(dir, `home-${n++}`, "data", PRIV_VALIDATOR_STATE_FILE);
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-floor-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("fixes the floor at the first request from the network's height then, and refuses below it", async () => {
    const pv = await FilePrivValidator.open(fresh(), key);
    let network = 40;
    const fixed: number[] = [];
    pv.requireFloor(10, () => network, (f) => fixed.push(f));
    expect(pv.signFloor).to.equal(undefined);
    const e = await rejection(pv.signVote(CHAIN_ID, vote(45)));
    expect(e).to.be.instanceOf(ConsensusError);
    expect((e as ConsensusError).code).to.equal(ConsensusErrorCode.PRIVVAL_STATE);
    expect((e as Error).message).to.contain("not signing below height 50");
    expect(pv.signFloor).to.equal(50);
    expect(fixed).to.deep.equal([50]);
    // The network moving on does not move the floor: it was fixed once.
    network = 70;
    const p = await rejection(pv.signProposal(CHAIN_ID, { height: 49, round: 0, polRound: -1, blockHash: V, proposer: me }));
    expect((p as ConsensusError).code).to.equal(ConsensusErrorCode.PRIVVAL_STATE);
    expect(pv.lastSigned).to.equal(undefined);
    const ok = await pv.signVote(CHAIN_ID, vote(50));
    expect(verifyVote(CHAIN_ID, ok, set)).to.equal(true);
    const prop = await pv.signProposal(CHAIN_ID, { height: 51, round: 0, polRound: -1, blockHash: V, proposer: me });
    expect(verifyProposal(CHAIN_ID, prop, set)).to.equal(true);
    expect(fixed).to.deep.equal([50]);
  });

  it("without a reset there is no floor", async () => {
    const pv = await FilePrivValidator.open(fresh(), key);
    const v = await pv.signVote(CHAIN_ID, vote(1));
    expect(verifyVote(CHAIN_ID, v, set)).to.equal(true);
    expect(pv.signFloor).to.equal(undefined);
  });

  it("refuses a negative margin", async () => {
    const pv = await FilePrivValidator.open(fresh(), key);
    expect(() => pv.requireFloor(-1, () => 0)).to.throw(ConsensusError, /margin/);
  });

  it("reports a state write that fails, and returns no signature", async () => {
    const path = fresh();
    const pv = await FilePrivValidator.open(path, key);
    // The state file's directory turns out to be a file: every write fails.
    mkdirSync(join(path, "..", ".."), { recursive: true });
    writeFileSync(join(path, ".."), "not a directory");
    const seen: Error[] = [];
    pv.onWriteFailure = (e) => seen.push(e);
    const e = await rejection(pv.signVote(CHAIN_ID, vote(3)));
    expect(seen).to.have.length(1);
    expect(seen[0]).to.equal(e);
  });
});
