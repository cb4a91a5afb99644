/**
 * Verifiable reads from a real node process: did_resolve with proof: true
 * verifies in the SDK with nothing but the genesis file from the node's
 * home, for registered and unregistered DIDs, and stops verifying when any
 * part of the answer is changed.
 */
import { expect } from "chai";
import { join } from "node:path";
import { fromBase64, toBase64 } from "../../src/crypto/bytes.js";
import { deriveKey, generateMnemonic, randomKeyPair } from "../../src/crypto/hd.js";
import { addVerificationMethod } from "../../src/did/document-edit.js";
import { didFromPublicKey } from "../../src/did/syntax.js";
import { ValidatorSet } from "../../src/chain/validator-set.js";
import { ProofError, ProofErrorCode, RpcError, SidClient, ValidatorSetTracker, verifyResolutionProof } from "../../src/client/index.js";
import { type NodeProcess, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e, (e as Error).message).to.be.instanceOf(ProofError);
    return (e as ProofError).code;
  }
  return "accepted";
}

function flipHex(h: string, at: number): string {
  const b = Buffer.from(h, "hex");
  b[at]! ^= 0x01;
  return b.toString("hex");
}

describe("integration: verifiable reads (did_resolve with proof)", function () {
  this.timeout(60_000);
  let node: NodeProcess;
  let home: string;
  let client: SidClient;
  let trusted: ValidatorSetTracker;
  const mnemonic = generateMnemonic();
  const k0 = deriveKey(mnemonic, 0);
  let did: string;

  before(async () => {
    home = tempHome("sid-proofs-");
    node = await startNodeProcess(home, { heartbeatMs: 60_000 });
    client = new SidClient(node.rpcUrl);
    // The light client's trust comes from the genesis file, not from the node's answers.
    trusted = ValidatorSetTracker.fromGenesisFile(join(home, "config", "genesis.json"));
  });

  after(async () => {
    await node?.stop();
    removeHome(home);
  });

  it("has no proof to give before the first block", async () => {
    let err: unknown;
    try {
      await client.resolveWithProof(didFromPublicKey(k0.publicKey));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(RpcError);
    expect((err as RpcError).reason).to.equal("BLOCK_NOT_FOUND");
  });

  it("proves a registered DID: the verified result is the usual one, at the node's head", async () => {
    did = (await client.createDid(k0)).did;
    const { resolution, proof } = await client.resolveVerified(did, trusted);
    const status = await client.status();
    expect(resolution).to.deep.equal(await client.resolve(did));
    expect(proof).to.deep.include({ did, height: status.height, stateRoot: status.stateRoot, blockHash: status.latestBlockHash });
    expect(proof.record?.versionId).to.equal(1);
    expect(trusted.chainId).to.equal(status.chainId);
  });

  it("follows updates: the newest version at a newer height", async () => {
    const before = await client.resolveVerified(did, trusted);
    await client.updateDid(did, k0, (d) => addVerificationMethod(d, deriveKey(mnemonic, 1).publicKey, "key-2", ["authentication"]));
    const after = await client.resolveVerified(did, trusted);
    expect(after.proof.height).to.be.greaterThan(before.proof.height);
    expect(after.resolution.didDocumentMetadata.versionId).to.equal("2");
    expect(JSON.stringify(after.resolution.didDocument)).to.include("#key-2");
  });

  it("proves an unregistered DID absent", async () => {
    const nobody = didFromPublicKey(randomKeyPair().publicKey);
    const { resolution, proof } = await client.resolveVerified(nobody, trusted);
    expect(resolution.didResolutionMetadata.error).to.equal("notFound");
    expect(resolution.didDocument).to.equal(null);
    expect(proof.record).to.equal(null);
  });

  it("stops verifying when any part of the answer is changed", async () => {
    const answer = await client.resolveWithProof(did);
    const check = (edit: (a: any) => void) => {
      const a = JSON.parse(JSON.stringify(answer));
      edit(a);
      return refusal(() => verifyResolutionProof(a, { did, chainId: trusted.chainId, trusted }));
    };
    expect(check(() => undefined)).to.equal("accepted");
    expect(check((a) => (a.didDocument.verificationMethod[0].publicKeyJwk.x = a.didDocument.verificationMethod[1].publicKeyJwk.x))).to.equal(ProofErrorCode.DOCUMENT_MISMATCH);
    expect(check((a) => (a.didDocumentMetadata.versionId = "1"))).to.equal(ProofErrorCode.METADATA_MISMATCH);
    const record = fromBase64(answer.proof.record!);
    for (const at of [0, Math.floor(record.length / 2), record.length - 1]) {
      const flipped = record.slice();
      flipped[at]! ^= 0x01;
      expect(check((a) => (a.proof.record = toBase64(flipped))), `record byte ${at}`).to.be.oneOf([ProofErrorCode.BAD_RECORD, ProofErrorCode.RECORD_HASH_MISMATCH]);
    }
    for (let i = 0; i < answer.proof.smtProof.siblings.length; i++) {
      expect(check((a) => (a.proof.smtProof.siblings[i] = flipHex(a.proof.smtProof.siblings[i], 31))), `sibling ${i}`).to.equal(ProofErrorCode.BAD_STATE_PROOF);
    }
    expect(check((a) => (a.proof.header.stateRoot = flipHex(a.proof.header.stateRoot, 0)))).to.equal(ProofErrorCode.HEADER_MISMATCH);
    expect(check((a) => (a.proof.header.validatorsHash = flipHex(a.proof.header.validatorsHash, 5)))).to.equal(ProofErrorCode.HEADER_MISMATCH);
    expect(check((a) => (a.proof.header.height += 1))).to.equal(ProofErrorCode.HEADER_MISMATCH);
    expect(check((a) => (a.proof.commit.sigs[0].sig = flipHex(a.proof.commit.sigs[0].sig, 40)))).to.equal(ProofErrorCode.BAD_COMMIT);
    expect(check((a) => (a.proof.validators[0].publicKey = flipHex(a.proof.validators[0].publicKey, 10)))).to.equal(ProofErrorCode.VALIDATORS_MISMATCH);
  });

  it("is not trusted under another chain's validators", async () => {
    const stranger = ValidatorSet.fromGenesis([{ name: "x", publicKey: Buffer.from(randomKeyPair().publicKey).toString("hex"), power: 10 }]);
    const other = new ValidatorSetTracker(trusted.chainId, stranger);
    let code: string | undefined;
    try {
      await client.resolveVerified(did, other);
    } catch (e) {
      code = (e as ProofError).code;
    }
    expect(code).to.equal(ProofErrorCode.UNTRUSTED_VALIDATORS);
  });

  it("refuses proof together with versionId or versionTime", async () => {
    for (const extra of [{ versionId: "1" }, { versionTime: "2026-01-01T00:00:00Z" }]) {
      let err: unknown;
      try {
        await client.rpc.call("did_resolve", { did, proof: true, ...extra });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(RpcError);
      expect((err as RpcError).code).to.equal(-32602);
      expect((err as RpcError).data).to.deep.include({ param: "proof" });
    }
    // Without proof, history resolution is unchanged.
    expect((await client.resolve(did, { versionId: "1" })).didDocumentMetadata.versionId).to.equal("1");
  });
});
