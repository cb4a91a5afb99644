/**
 * Fixtures for the consensus unit tests: validator keys from fixed secrets,
 * validator sets with chosen powers, and signed votes and proposals.
 */
import { sha256 } from "../../src/crypto/hash.js";
import { utf8 } from "../../src/crypto/bytes.js";
import { ValidatorSigner } from "../../src/consensus/signer.js";
import { ValidatorSet } from "../../src/chain/validator-set.js";
import { NIL, type Proposal, type Vote, type VoteType, signProposal, signVote } from "../../src/consensus/messages.js";
import { VoteStep } from "../../src/chain/vote.js";
import { type Block, type Commit, headerHash } from "../../src/chain/block.js";
import { expect } from "chai";
import { ConsensusError, type ConsensusErrorCode } from "../../src/consensus/errors.js";
import { CHAIN_ID, fixedKey } from "./fixtures.js";

/** Secret key fill bytes of test validator i (0x41, 0x42, ...). */
export function validatorFill(i: number): number {
  return 0x41 + i;
}

/** A validator set of `powers.length` validators, validator i with key fixedKey(validatorFill(i)). */
export function validatorSet(powers: readonly number[]): ValidatorSet {
  return new ValidatorSet(
    powers.map((power, i) => {
      const s = new ValidatorSigner(fixedKey(validatorFill(i)).secretKey, undefined);
      return { name: `v${i}`, address: s.address, publicKey: s.publicKey, power };
    }),
  );
}

/** A signer for validator i with no guard state. */
export function signerOf(i: number): ValidatorSigner {
  return new ValidatorSigner(fixedKey(validatorFill(i)).secretKey, undefined);
}

/** A deterministic 32-byte block hash named by a label. */
export function blockHash(label: string): Uint8Array {
  return sha256(utf8(`block:${label}`));
}

/**
 * A vote of validator i, signed with a fresh signer (no guard across calls:
 * tests build equivocations on purpose).
 */
export function vote(i: number, type: VoteType, height: number, round: number, hash: Uint8Array = NIL, chainId = CHAIN_ID): Vote {
  const s = signerOf(i);
  return signVote(chainId, { type, height, round, blockHash: hash, validator: s.address }, s).vote;
}

export const prevote = (i: number, height: number, round: number, hash: Uint8Array = NIL): Vote => vote(i, VoteStep.Prevote, height, round, hash);
export const precommit = (i: number, height: number, round: number, hash: Uint8Array = NIL): Vote => vote(i, VoteStep.Precommit, height, round, hash);

/** A round-0 commit of `block` signed by the fixed keys `signers` (indexes as for precommit). */
export function commitBy(block: Block, signers: number[]): Commit {
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

/** A proposal by validator i, signed with a fresh signer. */
export function proposal(i: number, height: number, round: number, hash: Uint8Array, polRound = -1, chainId = CHAIN_ID): Proposal {
  const s = signerOf(i);
  return signProposal(chainId, { height, round, polRound, blockHash: hash, proposer: s.address }, s).proposal;
}

/** Runs (or awaits) `p`, expects a ConsensusError with `code` (and a message matching `message`), returns it. */
export async function expectConsensusErrorAsync(p: Promise<unknown> | (() => unknown), code: ConsensusErrorCode, message?: RegExp): Promise<ConsensusError> {
  let thrown: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    thrown = e;
  }
  return checkConsensusError(thrown, code, message);
}

/** Runs `fn`, expects a ConsensusError with `code` (and a message matching `message`), returns it. */
export function expectConsensusError(fn: () => unknown, code: ConsensusErrorCode, message?: RegExp): ConsensusError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  return checkConsensusError(thrown, code, message);
}

function checkConsensusError(thrown: unknown, code: ConsensusErrorCode, message?: RegExp): ConsensusError {
  expect(thrown, "expected a ConsensusError").to.be.instanceOf(ConsensusError);
  expect((thrown as ConsensusError).code).to.equal(code);
  if (message) expect((thrown as Error).message).to.match(message);
  return thrown as ConsensusError;
}
