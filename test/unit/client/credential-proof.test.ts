import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChainStore } from "../../../src/chain/store.js";
import { genesisRecords, parseGenesis } from "../../../src/chain/genesis.js";
import { ProofError, ProofErrorCode, type AnchoredStateProof } from "../../../src/chain/proof.js";
import { anchorCredentialTx, credentialStatusTx } from "../../../src/client/txs.js";
import { ValidatorSetTracker } from "../../../src/client/trust.js";
import { verifyCredentialStatusProof } from "../../../src/client/verify-proof.js";
import { registryMethods } from "../../../src/rpc/registry-methods.js";
import { CHAIN_ID, createTx, fixedKey, hex, testDid } from "../../helpers/fixtures.js";
import { VALIDATORS, poolAndEngine } from "../../helpers/chain.js";
import { ValidatorSet } from "../../../src/consensus/validators.js";

const ISSUER = testDid(fixedKey(0x21));
const SUBJECT = testDid(fixedKey(0x31));
const ID = "00112233445566778899aabbccddeeff";
const TRUSTED = new ValidatorSetTracker(CHAIN_ID, VALIDATORS);

describe("credential_status with proof", () => {
  let dir: string;
  let store: ChainStore;
  let call: (params: Record<string, unknown>) => Promise<Record<string, unknown>>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sid-credproof-"));
    store = await ChainStore.open(dir);
    const now = Date.now();
    const g = parseGenesis({
      chainId: CHAIN_ID,
      genesisTime: new Date(now - 60_000).toISOString(),
      validators: [{ name: "v0", publicKey: hex(VALIDATORS.validators[0]!.publicKey), power: 10 }],
      issuers: [{ did: ISSUER.did, name: "Acme KYC", types: ["KYCBasic"] }],
    });
    await store.initGenesis(new Uint8Array(32).fill(1), now - 60_000, genesisRecords(g));
    const { mempool, engine } = await poolAndEngine(store, 100);
    await mempool.add(createTx(ISSUER).encoded);
    await mempool.add(createTx(SUBJECT).encoded);
    await engine.produceBlock();
    const signer = { chainId: CHAIN_ID, signer: ISSUER.did, vm: ISSUER.keyId, secretKey: ISSUER.key.secretKey };
    const anchor = { id: ID, subject: SUBJECT.did, types: ["KYCBasic"], digest: new Uint8Array(32).fill(5), validFrom: now - 1000, validUntil: now + 3_600_000 };
    await mempool.add(anchorCredentialTx({ ...signer, seq: 1 }, anchor).encoded);
    await mempool.add(credentialStatusTx({ ...signer, seq: 2 }, ID, "suspended").encoded);
    await engine.produceBlock();
    const methods = registryMethods({
      head: () => store.head(),
      getRecord: (id) => store.getRecord(id),
      listRecords: (k, o) => store.listRecords(k, o),
      listCredentials: (by, d, o) => store.listCredentials(by, d, o),
      now: Date.now,
      proveRecord: async (id): Promise<AnchoredStateProof> => ({
        ...(await store.proveRecord(id)),
        validators: VALIDATORS.validators.map((v) => ({ publicKey: v.publicKey, power: v.power })),
      }),
    });
    call = async (params) => (await methods.credential_status!.handler(params as never, {})) as Record<string, unknown>;
  });

  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const verify = (result: unknown, id = ID, trusted = TRUSTED) => verifyCredentialStatusProof(result, { id, chainId: CHAIN_ID, trusted, now: Date.now() });

  function codeOf(fn: () => unknown): string | undefined {
    try {
      fn();
    } catch (e) {
      expect(e).to.be.instanceOf(ProofError);
      return (e as ProofError).code;
    }
    return undefined;
  }

  it("proves the anchor and its stored status against a committed header", async () => {
    const r = await call({ id: ID, proof: true });
    expect(r.status).to.equal("suspended");
    const v = verify(r);
    expect(v.status).to.equal("suspended");
    expect(v.record!.issuer).to.equal(ISSUER.did);
    expect(v.height).to.equal(store.head().height);
  });

  it("proves a credential that is not anchored", async () => {
    const other = "ffeeddccbbaa99887766554433221100";
    const r = await call({ id: other, proof: true });
    expect(r.status).to.equal("notAnchored");
    expect(verify(r, other).record).to.equal(null);
    // The same proof does not pass as the proof of another id.
    expect(codeOf(() => verify(r, ID))).to.be.a("string");
  });

  it("refuses a changed status, a flipped record byte, and an untrusted validator set", async () => {
    const r = await call({ id: ID, proof: true });
    expect(codeOf(() => verify({ ...r, storedStatus: "active" }))).to.equal(ProofErrorCode.METADATA_MISMATCH);
    expect(codeOf(() => verify({ ...r, status: "notAnchored", storedStatus: null }))).to.equal(ProofErrorCode.METADATA_MISMATCH);
    const proof = r.proof as Record<string, unknown>;
    const rec = Buffer.from(proof.record as string, "base64");
    rec[rec.length - 1] ^= 1;
    expect(codeOf(() => verify({ ...r, proof: { ...proof, record: rec.toString("base64") } }))).to.be.oneOf([ProofErrorCode.BAD_RECORD, ProofErrorCode.RECORD_HASH_MISMATCH]);
    const stranger = new ValidatorSetTracker(CHAIN_ID, new ValidatorSet([{ name: "x", publicKey: fixedKey(9).publicKey, address: new Uint8Array(20).fill(9), power: 1 }]));
    expect(codeOf(() => verify(r, ID, stranger))).to.equal(ProofErrorCode.UNTRUSTED_VALIDATORS);
  });

  it("refuses an impossible or zone-less time, and a time in the future", async () => {
    for (const time of ["2026-02-30T00:00:00Z", "2026-01-01T00:00:00", "yesterday", "2999-01-01T00:00:00Z"]) {
      let err: unknown;
      try {
        await call({ id: ID, time });
      } catch (e) {
        err = e;
      }
      expect((err as { param?: string }).param, time).to.equal("time");
    }
    expect((await call({ id: ID, time: new Date().toISOString() })).storedStatus).to.equal("suspended");
  });

  it("refuses proof together with a height or time", async () => {
    let err: unknown;
    try {
      await call({ id: ID, proof: true, height: 1 });
    } catch (e) {
      err = e;
    }
    expect((err as { param?: string }).param).to.equal("proof");
  });
});
