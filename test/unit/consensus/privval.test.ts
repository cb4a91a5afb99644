import { expect } from "chai";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConsensusError, ConsensusErrorCode } from "../../../src/consensus/errors.js";
import { NIL, verifyProposal, verifyVote } from "../../../src/consensus/messages.js";
import { FilePrivValidator, PRIV_VALIDATOR_STATE_FILE } from "../../../src/consensus/privval.js";
import { DoubleSignError } from "../../../src/consensus/signer.js";
import { VoteStep } from "../../../src/chain/vote.js";
import { CHAIN_ID, fixedKey, hex } from "../../helpers/fixtures.js";
import { blockHash, validatorFill, validatorSet } from "../../helpers/consensus.js";

const set = validatorSet([1, 1, 1, 1]);
const key = fixedKey(validatorFill(0)).secretKey;
const me = set.validators[0]!.address;
const V = blockHash("v");
const W = blockHash("w");

const unsignedVote = (height: number, round: number, type: VoteStep.Prevote | VoteStep.Precommit, hash: Uint8Array = V) => ({ type, height, round, blockHash: hash, validator: me });
const unsignedProposal = (height: number, round: number, hash: Uint8Array = V, polRound = -1) => ({ height, round, polRound, blockHash: hash, proposer: me });

async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  expect.fail("expected a rejection");
}

describe("consensus/privval: FilePrivValidator", () => {
  let dir: string;
  let n = 0;
  const fresh = () => join(dir, `home-${n++}`, "data", PRIV_VALIDATOR_STATE_FILE);
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-privval-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("starts without a state file, signs, and writes the state (mode 0600) before returning", async () => {
    const path = fresh();
    const pv = await FilePrivValidator.open(path, key);
    expect(hex(pv.address)).to.equal(hex(me));
    expect(pv.lastSigned).to.equal(undefined);
    expect(existsSync(path)).to.equal(false);
    const vote = await pv.signVote(CHAIN_ID, unsignedVote(3, 0, VoteStep.Prevote));
    expect(verifyVote(CHAIN_ID, vote, set)).to.equal(true);
    const stored = JSON.parse(readFileSync(path, "utf8"));
    expect(stored).to.deep.equal({ address: hex(me), height: 3, round: 0, step: VoteStep.Prevote, digest: pv.lastSigned!.digest, sig: hex(vote.sig) });
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    expect(existsSync(`${path}.tmp`)).to.equal(false);
  });

  it("returns the same signature for an identical re-sign, also after a restart", async () => {
    const path = fresh();
    const a = await FilePrivValidator.open(path, key);
    const first = await a.signVote(CHAIN_ID, unsignedVote(4, 1, VoteStep.Precommit));
    expect(hex((await a.signVote(CHAIN_ID, unsignedVote(4, 1, VoteStep.Precommit))).sig)).to.equal(hex(first.sig));
    const b = await FilePrivValidator.open(path, key);
    expect(b.lastSigned).to.deep.equal(a.lastSigned);
    expect(hex((await b.signVote(CHAIN_ID, unsignedVote(4, 1, VoteStep.Precommit))).sig)).to.equal(hex(first.sig));
  });

  it("refuses a conflicting re-sign and anything below what it signed, also after a restart (crash safety)", async () => {
    const path = fresh();
    const a = await FilePrivValidator.open(path, key);
    await a.signVote(CHAIN_ID, unsignedVote(6, 2, VoteStep.Prevote, V));
    expect(await rejects(a.signVote(CHAIN_ID, unsignedVote(6, 2, VoteStep.Prevote, W)))).to.be.instanceOf(DoubleSignError);
    expect(await rejects(a.signVote(CHAIN_ID, unsignedVote(6, 2, VoteStep.Prevote, NIL)))).to.be.instanceOf(DoubleSignError);
    // A restarted process reads the same guard from the file.
    const b = await FilePrivValidator.open(path, key);
    expect(await rejects(b.signVote(CHAIN_ID, unsignedVote(6, 2, VoteStep.Prevote, W)))).to.be.instanceOf(DoubleSignError);
    expect(await rejects(b.signVote(CHAIN_ID, unsignedVote(6, 1, VoteStep.Precommit, W)))).to.be.instanceOf(DoubleSignError);
    expect(await rejects(b.signVote(CHAIN_ID, unsignedVote(5, 9, VoteStep.Precommit, W)))).to.be.instanceOf(DoubleSignError);
    // Moving forward is fine.
    const next = await b.signVote(CHAIN_ID, unsignedVote(6, 2, VoteStep.Precommit, V));
    expect(verifyVote(CHAIN_ID, next, set)).to.equal(true);
  });

  it("signs proposals at step Propose of their round, under the same guard", async () => {
    const path = fresh();
    const pv = await FilePrivValidator.open(path, key);
    const p = await pv.signProposal(CHAIN_ID, unsignedProposal(8, 1, V, 0));
    expect(verifyProposal(CHAIN_ID, p, set)).to.equal(true);
    expect(pv.lastSigned).to.include({ height: 8, round: 1, step: VoteStep.Propose });
    expect(hex((await pv.signProposal(CHAIN_ID, unsignedProposal(8, 1, V, 0))).sig)).to.equal(hex(p.sig));
    expect(await rejects(pv.signProposal(CHAIN_ID, unsignedProposal(8, 1, W, 0)))).to.be.instanceOf(DoubleSignError);
    expect(await rejects(pv.signProposal(CHAIN_ID, unsignedProposal(8, 1, V, -1)))).to.be.instanceOf(DoubleSignError);
    // Its own prevote of the round comes after the proposal.
    await pv.signVote(CHAIN_ID, unsignedVote(8, 1, VoteStep.Prevote, V));
    const restarted = await FilePrivValidator.open(path, key);
    expect(await rejects(restarted.signProposal(CHAIN_ID, unsignedProposal(8, 1, V, 0)))).to.be.instanceOf(DoubleSignError);
  });

  it("fsyncs the temp file and the directory for each new signature, and nothing for an identical re-sign", async () => {
    const path = fresh();
    const pv = await FilePrivValidator.open(path, key);
    const probe = await open(tmpdir(), "r");
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const original = proto.sync;
    let syncs = 0;
    proto.sync = function (this: unknown) {
      syncs++;
      return original.call(this);
    };
    try {
      await pv.signVote(CHAIN_ID, unsignedVote(9, 0, VoteStep.Prevote));
      expect(syncs).to.equal(2);
      await pv.signVote(CHAIN_ID, unsignedVote(9, 0, VoteStep.Prevote));
      expect(syncs).to.equal(2);
      await pv.signProposal(CHAIN_ID, unsignedProposal(9, 1));
      expect(syncs).to.equal(4);
    } finally {
      proto.sync = original;
    }
  });

  it("lets only one of two concurrent conflicting signs through, and the file holds that one", async () => {
    const path = fresh();
    const pv = await FilePrivValidator.open(path, key);
    const results = await Promise.allSettled([pv.signVote(CHAIN_ID, unsignedVote(2, 0, VoteStep.Prevote, V)), pv.signVote(CHAIN_ID, unsignedVote(2, 0, VoteStep.Prevote, W))]);
    const ok = results.filter((r) => r.status === "fulfilled");
    expect(ok).to.have.length(1);
    expect((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason).to.be.instanceOf(DoubleSignError);
    const signed = (ok[0] as PromiseFulfilledResult<{ sig: Uint8Array }>).value;
    expect(JSON.parse(readFileSync(path, "utf8")).sig).to.equal(hex(signed.sig));
  });

  it("returns no signature when its state cannot be written, and writes it on an identical retry", async () => {
    const path = fresh();
    const pv = await FilePrivValidator.open(path, key);
    await pv.signVote(CHAIN_ID, unsignedVote(1, 0, VoteStep.Prevote));
    // Block the temp file's name with a directory: the write fails.
    mkdirSync(`${path}.tmp`);
    writeFileSync(join(`${path}.tmp`, "x"), "");
    const err = await rejects(pv.signVote(CHAIN_ID, unsignedVote(1, 0, VoteStep.Precommit)));
    expect(err).to.not.be.instanceOf(DoubleSignError);
    expect(JSON.parse(readFileSync(path, "utf8")).step).to.equal(VoteStep.Prevote);
    // A different message for that position is still refused: the guard moved on in memory.
    expect(await rejects(pv.signVote(CHAIN_ID, unsignedVote(1, 0, VoteStep.Precommit, W)))).to.be.instanceOf(DoubleSignError);
    rmSync(`${path}.tmp`, { recursive: true });
    const vote = await pv.signVote(CHAIN_ID, unsignedVote(1, 0, VoteStep.Precommit));
    expect(JSON.parse(readFileSync(path, "utf8"))).to.include({ step: VoteStep.Precommit, sig: hex(vote.sig) });
  });

  it("replaces a temp file left by a crash, whatever its permissions", async () => {
    const path = fresh();
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(`${path}.tmp`, "half-written", { mode: 0o644 });
    chmodSync(`${path}.tmp`, 0o644);
    const pv = await FilePrivValidator.open(path, key);
    await pv.signVote(CHAIN_ID, unsignedVote(1, 0, VoteStep.Prevote));
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    expect(existsSync(`${path}.tmp`)).to.equal(false);
  });

  it("refuses a state file it cannot trust with PRIVVAL_BAD_STATE", async () => {
    const other = await FilePrivValidator.open(fresh(), fixedKey(validatorFill(1)).secretKey);
    await other.signVote(CHAIN_ID, { ...unsignedVote(1, 0, VoteStep.Prevote), validator: other.address });
    const good = readFileSync(other.path, "utf8");
    const cases: Array<[string, string, RegExp]> = [
      ["another validator's state", good, /belongs to validator/],
      ["not JSON", "{", /not valid JSON/],
      ["an array", "[]", /JSON object/],
      ["a missing key", JSON.stringify({ ...JSON.parse(good), address: hex(me), sig: undefined }), /exactly the keys/],
      ["a bad step", JSON.stringify({ ...JSON.parse(good), address: hex(me), step: 3 }), /step/],
      ["a short digest", JSON.stringify({ ...JSON.parse(good), address: hex(me), digest: "00" }), /digest/],
      ["a negative height", JSON.stringify({ ...JSON.parse(good), address: hex(me), height: -1 }), /height/],
    ];
    for (const [name, text, message] of cases) {
      const path = fresh();
      mkdirSync(join(path, ".."), { recursive: true });
      writeFileSync(path, text);
      const e = await rejects(FilePrivValidator.open(path, key));
      expect(e, name).to.be.instanceOf(ConsensusError);
      expect((e as ConsensusError).code, name).to.equal(ConsensusErrorCode.PRIVVAL_STATE);
      expect((e as Error).message, name).to.match(message);
    }
  });
});
