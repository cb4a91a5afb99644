/**
 * Trusted validator sets: the genesis-only light client, and following a
 * validator-set change only when more than 2/3 of the old set's power
 * committed the block that names the new set.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BlockHeader, type Commit, ZERO_HASH, headerHash } from "../../../src/chain/block.js";
import { GenesisError } from "../../../src/chain/genesis.js";
import { ProofError, ProofErrorCode } from "../../../src/chain/proof.js";
import type { KeyPair } from "../../../src/crypto/hd.js";
import { signDigest } from "../../../src/crypto/secp256k1.js";
import { ValidatorSet, validatorAddress } from "../../../src/chain/validator-set.js";
import { VoteStep, voteSigningDigest } from "../../../src/chain/vote.js";
import { ValidatorSetTracker } from "../../../src/client/trust.js";
import { powerSigned } from "../../../src/chain/vote.js";
import { verifyResolutionProof } from "../../../src/client/verify-proof.js";
import { VALIDATORS, VALIDATOR_KEY } from "../../helpers/chain.js";
import { CHAIN_ID, createTx, fixedKey, hex, testDid } from "../../helpers/fixtures.js";
import { provingChain, reanchor } from "../../helpers/proofs.js";

const OLD = [fixedKey(0x51), fixedKey(0x52), fixedKey(0x53), fixedKey(0x54)];
const NEW = [fixedKey(0x61), fixedKey(0x62)];
const setOf = (keys: KeyPair[]) => ValidatorSet.fromGenesis(keys.map((k, i) => ({ name: `v${i}`, publicKey: hex(k.publicKey), power: 10 })));
const OLD_SET = setOf(OLD);
const NEW_SET = setOf(NEW);

function header(height: number, set: ValidatorSet, chainId = CHAIN_ID): BlockHeader {
  return {
    chainId,
    height,
    time: 1_700_000_000_000 + height,
    prevHash: new Uint8Array(32).fill(height),
    txRoot: ZERO_HASH,
    evidenceHash: ZERO_HASH,
    stateRoot: ZERO_HASH,
    validatorsHash: set.hash,
    nextValidatorsHash: set.hash,
    proposer: validatorAddress(NEW[0]!.publicKey),
    lastCommitHash: ZERO_HASH,
  };
}

function commitOf(h: BlockHeader, signers: KeyPair[], chainId = h.chainId): Commit {
  const blockHash = headerHash(h);
  const digest = voteSigningDigest({ chainId, height: h.height, round: 0, step: VoteStep.Precommit, blockHash });
  return { height: h.height, round: 0, blockHash, sigs: signers.map((k) => ({ validator: validatorAddress(k.publicKey), sig: signDigest(digest, k.secretKey) })) };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ProofError);
    return (e as ProofError).code;
  }
  return undefined;
}

describe("client/trust: validator sets a light client trusts", () => {
  it("genesis only: the genesis set for every height from 1, read from a genesis file", () => {
    const dir = mkdtempSync(join(tmpdir(), "sid-trust-"));
    try {
      const file = join(dir, "genesis.json");
      const genesis = {
        chainId: "sid-dev",
        genesisTime: "2026-01-01T00:00:00.000Z",
        validators: OLD.map((k, i) => ({ name: `v${i}`, publicKey: hex(k.publicKey), power: 10 })),
        params: { maxBlockTxs: 10, maxBlockBytes: 1000 },
      };
      writeFileSync(file, JSON.stringify(genesis));
      const t = ValidatorSetTracker.fromGenesisFile(file);
      expect(t.chainId).to.equal("sid-dev");
      expect(hex(t.setFor(1)!.hash)).to.equal(hex(OLD_SET.hash));
      expect(t.setFor(Number.MAX_SAFE_INTEGER)).to.equal(t.setFor(1));
      expect(t.setFor(0)).to.equal(undefined);
      expect(t.setFor(1.5)).to.equal(undefined);
      expect(t.latestHeight).to.equal(1);
      expect(() => ValidatorSetTracker.fromGenesis({ ...genesis, validators: [] })).to.throw(GenesisError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("counts each trusted member's valid signature once", () => {
    const h = header(5, NEW_SET);
    expect(powerSigned(CHAIN_ID, commitOf(h, [OLD[0]!, OLD[1]!, NEW[0]!]), OLD_SET)).to.equal(20);
    const c = commitOf(h, [OLD[0]!, OLD[0]!]);
    expect(powerSigned(CHAIN_ID, c, OLD_SET)).to.equal(10);
    expect(powerSigned("sid-other", commitOf(h, OLD), OLD_SET)).to.equal(0);
  });

  it("follows a new set only when more than 2/3 of the old set's power committed it", () => {
    const t = new ValidatorSetTracker(CHAIN_ID, OLD_SET);
    const h5 = header(5, NEW_SET);
    // 20 of 40 is not more than 2/3; the new set's own signatures do not count for the old.
    expect(code(() => t.acceptTransition({ header: h5, commit: commitOf(h5, [OLD[0]!, OLD[1]!, ...NEW]), validators: NEW_SET }))).to.equal(ProofErrorCode.BAD_TRANSITION);
    expect(code(() => t.acceptTransition({ header: h5, commit: commitOf(h5, NEW), validators: NEW_SET }))).to.equal(ProofErrorCode.BAD_TRANSITION);
    // Old signatures alone do not make a commit valid under the new set.
    expect(code(() => t.acceptTransition({ header: h5, commit: commitOf(h5, OLD), validators: NEW_SET }))).to.equal(ProofErrorCode.BAD_COMMIT);
    // Another chain's header, a header the commit does not sign, a set the header does not name.
    const other = header(5, NEW_SET, "sid-other");
    expect(code(() => t.acceptTransition({ header: other, commit: commitOf(other, [...OLD, ...NEW]), validators: NEW_SET }))).to.equal(ProofErrorCode.WRONG_CHAIN);
    expect(code(() => t.acceptTransition({ header: { ...h5, time: h5.time + 1 }, commit: commitOf(h5, [...OLD, ...NEW]), validators: NEW_SET }))).to.equal(ProofErrorCode.HEADER_MISMATCH);
    expect(code(() => t.acceptTransition({ header: h5, commit: commitOf(h5, [...OLD, ...NEW]), validators: VALIDATORS }))).to.equal(ProofErrorCode.VALIDATORS_MISMATCH);
    expect(t.latestHeight).to.equal(1);
    expect(t.setFor(5)).to.equal(OLD_SET);

    // 30 of 40 old power, and the whole new set.
    expect(t.acceptTransition({ header: h5, commit: commitOf(h5, [OLD[0]!, OLD[2]!, OLD[3]!, ...NEW]), validators: NEW_SET })).to.equal(true);
    expect(t.setFor(4)).to.equal(OLD_SET);
    expect(t.setFor(5)).to.equal(NEW_SET);
    expect(t.setFor(1_000)).to.equal(NEW_SET);
    expect(t.latestHeight).to.equal(5);
    // Naming the set already trusted there is nothing to follow; going backwards is refused.
    const h9 = header(9, NEW_SET);
    expect(t.acceptTransition({ header: h9, commit: commitOf(h9, NEW), validators: NEW_SET })).to.equal(false);
    const h3 = header(3, NEW_SET);
    expect(code(() => t.acceptTransition({ header: h3, commit: commitOf(h3, [...OLD, ...NEW]), validators: NEW_SET }))).to.equal(ProofErrorCode.BAD_TRANSITION);
  });

  it("a proof signed by a followed set verifies; without the transition it is untrusted", async function () {
    this.timeout(20_000);
    const chain = await provingChain();
    try {
      const A = testDid(fixedKey(1));
      await chain.commit([createTx(A)]);
      const found = await chain.resolve({ did: A.did, proof: true });
      const validator = { key: VALIDATOR_KEY, address: VALIDATORS.validators[0]!.address };
      // Block 2 names NEW_SET, committed by the genesis validator and the new set.
      const h2 = header(2, NEW_SET);
      const tracker = new ValidatorSetTracker(CHAIN_ID, VALIDATORS);
      const genesisOnly = new ValidatorSetTracker(CHAIN_ID, VALIDATORS);
      expect(tracker.acceptTransition({ header: h2, commit: commitOf(h2, [VALIDATOR_KEY, ...NEW]), validators: NEW_SET })).to.equal(true);
      // The state at height 3 as the new set commits it.
      const at3 = reanchor(found.proof, {
        edit: (h) => ((h.height = 3), (h.validatorsHash = NEW_SET.hash)),
        signers: NEW.map((key) => ({ key, address: validatorAddress(key.publicKey) })),
        listed: NEW_SET,
      });
      const result = { ...found, proof: at3 };
      expect(verifyResolutionProof(result, { did: A.did, chainId: CHAIN_ID, trusted: tracker }).height).to.equal(3);
      expect(code(() => verifyResolutionProof(result, { did: A.did, chainId: CHAIN_ID, trusted: genesisOnly }))).to.equal(ProofErrorCode.UNTRUSTED_VALIDATORS);
      // The genesis validator alone no longer commits blocks from height 2 on.
      const oldSigned = reanchor(found.proof, { edit: (h) => (h.height = 3), signers: [validator] });
      expect(code(() => verifyResolutionProof({ ...found, proof: oldSigned }, { did: A.did, chainId: CHAIN_ID, trusted: tracker }))).to.equal(ProofErrorCode.UNTRUSTED_VALIDATORS);
    } finally {
      await chain.close();
    }
  });
});
