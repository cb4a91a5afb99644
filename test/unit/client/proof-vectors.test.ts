/**
 * Known-answer vectors for sid-proof/v1 (test/vectors/proof-v1.json, the
 * worked example in docs/proofs.md): a fixed chain (genesis hash 32 x 0x47,
 * genesis time 2026-01-01, validator secret 32 x 0x42, block 1 creating the
 * DIDs of secrets 32 x 0x01, 0x02, 0x03) must give these exact answers, and
 * they must verify. SID_WRITE_VECTORS=1 rewrites the file after a deliberate
 * format change.
 */
import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sha256, sha256Parts } from "../../../src/crypto/hash.js";
import { fromBase64 } from "../../../src/crypto/bytes.js";
import { headerHash } from "../../../src/chain/block.js";
import { encodeCanonical } from "../../../src/chain/codec.js";
import { didStateKey } from "../../../src/chain/state.js";
import { VoteStep, voteSigningDigest } from "../../../src/chain/vote.js";
import { ValidatorSetTracker } from "../../../src/client/trust.js";
import { verifyResolutionProof } from "../../../src/client/verify-proof.js";
import { VALIDATORS } from "../../helpers/chain.js";
import { CHAIN_ID, createTx, fixedKey, hex, testDid, unhex } from "../../helpers/fixtures.js";
import { type ProvenResult, headerOf, provingChain } from "../../helpers/proofs.js";

const VECTOR_FILE = fileURLToPath(new URL("../../../../test/vectors/proof-v1.json", import.meta.url));

interface Vector {
  did: string;
  stateKey: string;
  valueHash: string | null;
  headerEncoding: string;
  blockHash: string;
  precommitDigest: string;
  /** The hashes met folding the Merkle proof from the leaf (or EMPTY) up to the state root. */
  smtPath: string[];
  result: ProvenResult;
}

/** Leaf (or EMPTY) hash, then each internal node up to the root, as a verifier computes them. */
function foldPath(did: string, result: ProvenResult): string[] {
  const { siblings, leaf } = result.proof.smtProof;
  const key = didStateKey(did);
  const bit = (depth: number) => (key[depth >> 3]! >> (7 - (depth & 7))) & 1;
  let h = leaf === null ? new Uint8Array(32) : sha256Parts(Uint8Array.of(0), unhex(leaf.key), unhex(leaf.valueHash));
  const path = [hex(h)];
  for (let depth = siblings.length - 1; depth >= 0; depth--) {
    const s = unhex(siblings[depth]!);
    h = bit(depth) === 0 ? sha256Parts(Uint8Array.of(1), h, s) : sha256Parts(Uint8Array.of(1), s, h);
    path.push(hex(h));
  }
  return path;
}

function vectorOf(did: string, result: ProvenResult): Vector {
  const header = headerOf(result.proof);
  const blockHash = headerHash(header);
  return {
    did,
    stateKey: hex(didStateKey(did)),
    valueHash: result.proof.record === null ? null : hex(sha256(fromBase64(result.proof.record))),
    headerEncoding: hex(encodeCanonical(header as never)),
    blockHash: hex(blockHash),
    precommitDigest: hex(voteSigningDigest({ chainId: CHAIN_ID, height: header.height, round: 0, step: VoteStep.Precommit, blockHash })),
    smtPath: foldPath(did, result),
    result,
  };
}

describe("client/verify-proof: known-answer vectors (test/vectors/proof-v1.json)", function () {
  this.timeout(20_000);

  it("a fixed chain gives exactly the recorded proofs, and they verify", async () => {
    const chain = await provingChain();
    let file: { chainId: string; validators: Array<{ name: string; publicKey: string; power: number }>; validatorsEncoding: string; validatorsHash: string; registered: Vector; unregistered: Vector };
    try {
      const [a, b, c, absent] = [1, 2, 3, 4].map((n) => testDid(fixedKey(n)));
      await chain.commit([createTx(a!), createTx(b!), createTx(c!)]);
      const generated = {
        chainId: CHAIN_ID,
        validators: VALIDATORS.validators.map((v) => ({ name: v.name, publicKey: hex(v.publicKey), power: v.power })),
        validatorsEncoding: hex(encodeCanonical(VALIDATORS.validators.map((v) => ({ address: v.address, publicKey: v.publicKey, power: v.power })))),
        validatorsHash: hex(VALIDATORS.hash),
        registered: vectorOf(a!.did, await chain.resolve({ did: a!.did, proof: true })),
        unregistered: vectorOf(absent!.did, await chain.resolve({ did: absent!.did, proof: true })),
      };
      if (process.env.SID_WRITE_VECTORS === "1") writeFileSync(VECTOR_FILE, JSON.stringify(generated, null, 2) + "\n");
      file = JSON.parse(readFileSync(VECTOR_FILE, "utf8"));
      expect(generated).to.deep.equal(file);
    } finally {
      await chain.close();
    }

    // The file alone is enough for a light client: genesis validators in, verified answers out.
    const trusted = ValidatorSetTracker.fromGenesis({ chainId: file.chainId, genesisTime: "2026-01-01T00:00:00Z", validators: file.validators });
    expect(hex(trusted.setFor(1)!.hash)).to.equal(file.validatorsHash);
    expect(hex(sha256(unhex(file.validatorsEncoding)))).to.equal(file.validatorsHash);
    for (const v of [file.registered, file.unregistered]) {
      expect(v.smtPath[v.smtPath.length - 1], "the fold ends at the state root").to.equal(v.result.proof.header.stateRoot);
      expect(hex(sha256(unhex(v.headerEncoding)))).to.equal(v.blockHash);
    }
    const reg = verifyResolutionProof(file.registered.result, { did: file.registered.did, chainId: file.chainId, trusted });
    expect(reg).to.deep.include({ height: 1, blockHash: file.registered.blockHash });
    expect(reg.record?.versionId).to.equal(1);
    const unreg = verifyResolutionProof(file.unregistered.result, { did: file.unregistered.did, chainId: file.chainId, trusted });
    expect(unreg).to.deep.include({ height: 1, record: null });
    expect(file.registered.result.proof.smtProof.siblings.length).to.be.greaterThan(0);
  });
});
