/**
 * Validating a proposed block reuses the txs this node already decoded
 * (BlockExecDeps.knownTx) and reaches the same header as decoding them.
 * Building leaves out a tx that no longer applies without its writes and
 * makes the block the kept txs alone make.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { headerHash } from "../../../src/chain/block.js";
import { type CheckedTx, SignatureVerifier } from "../../../src/chain/execute.js";
import type { Mempool, Rejection } from "../../../src/chain/mempool.js";
import { ChainStore } from "../../../src/chain/store.js";
import { type BlockExecDeps, BlockValidationError, buildBlock, validateBlock } from "../../../src/consensus/block-exec.js";
import { commitExecuted } from "../../../src/consensus/commit.js";
import { ValidatorSet } from "../../../src/chain/validator-set.js";
import { VALIDATORS, poolAndEngine } from "../../helpers/chain.js";
import { CHAIN_ID, createTx, fixedKey, hex, testDid, updateTx, writeParams } from "../../helpers/fixtures.js";

const GENESIS_HASH = new Uint8Array(32).fill(0x22);
const GENESIS_TIME = Date.parse("2026-01-01T00:00:00Z");
const PARAMS = { maxBlockTxs: 100, maxBlockBytes: 1 << 20 };
const PROPOSER = VALIDATORS.validators[0]!.address;

describe("consensus/block-exec: validating a proposal", function () {
  this.timeout(20_000);
  let dir: string;
  let n = 0;
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-block-exec-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function chain() {
    const store = await ChainStore.open(join(dir, `s${n++}`));
    await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
    const { mempool } = await poolAndEngine(store, PARAMS.maxBlockTxs);
    return { store, mempool };
  }

  const rules = { validators: VALIDATORS, nextValidators: VALIDATORS, lastValidators: undefined, proposer: PROPOSER, maxTime: undefined, setAt: async () => VALIDATORS };

  it("reuses the pool's decoded txs where it has them and reaches the proposer's header either way", async () => {
    const txs = [1, 2, 3, 4].map((i) => createTx(testDid(fixedKey(0x60 + i))));
    const proposer = await chain();
    for (const c of txs) await proposer.mempool.add(c.encoded);
    const deps = (store: ChainStore): BlockExecDeps => ({ chainId: CHAIN_ID, store, verifier: new SignatureVerifier(), params: PARAMS });
    const built = await buildBlock(deps(proposer.store), proposer.mempool, {
      height: 1,
      time: GENESIS_TIME + 1000,
      proposer: PROPOSER,
      validators: VALIDATORS,
      nextValidators: VALIDATORS,
      lastCommit: null,
      onRejected: () => expect.fail("no tx is rejected"),
    });
    expect(built.txs).to.have.length(4);

    // A validator whose pool holds the first two txs only.
    const v = await chain();
    for (const c of txs.slice(0, 2)) await v.mempool.add(c.encoded);
    let asked = 0;
    const ex = await validateBlock({ ...deps(v.store), knownTx: (h) => (asked++, v.mempool.get(h)) }, built.block, rules);
    expect(asked).to.equal(4);
    expect(hex(ex.hash)).to.equal(hex(built.hash));
    expect(hex(ex.block.header.stateRoot)).to.equal(hex(built.block.header.stateRoot));
    // The two the pool had are its very objects; the other two were decoded here, to equal values.
    expect(ex.txs[0]!.tx).to.equal(v.mempool.get(txs[0]!.hash)!.tx);
    expect(ex.txs[1]!.tx).to.equal(v.mempool.get(txs[1]!.hash)!.tx);
    expect(ex.txs[2]!.tx).to.deep.equal(txs[2]!.tx);
    expect(ex.txs[3]!.tx).to.deep.equal(txs[3]!.tx);

    // Committed with the documents' encodings taken from the txs: state records and versions read back as the documents.
    await commitExecuted(v.store, ex, { height: 1, round: 0, blockHash: ex.hash, sigs: [] }, { signState: undefined, nextPriorities: undefined });
    expect(ex.effects.documents.size).to.equal(4);
    for (const c of txs) {
      const did = c.tx.signer;
      const document = (c.tx.payload as { document: unknown }).document;
      expect((await v.store.getDid(did))?.document).to.deep.equal(document);
      expect((await v.store.getDidVersions(did)).map((x) => x.document)).to.deep.equal([document]);
    }

    // Without a pool: the same header from decoding every tx.
    const w = await chain();
    const fresh = await validateBlock(deps(w.store), built.block, rules);
    expect(hex(headerHash(fresh.block.header))).to.equal(hex(built.hash));
    for (const s of [proposer, v, w]) await s.store.close();
  });

  it("refuses a block whose nextValidatorsHash does not name the next height's set, and builds one that does", async () => {
    const proposer = await chain();
    const deps = (store: ChainStore): BlockExecDeps => ({ chainId: CHAIN_ID, store, verifier: new SignatureVerifier(), params: PARAMS });
    const built = await buildBlock(deps(proposer.store), proposer.mempool, { height: 1, time: GENESIS_TIME + 1000, proposer: PROPOSER, validators: VALIDATORS, nextValidators: VALIDATORS, lastCommit: null, onRejected: () => {} });
    expect(hex(built.block.header.nextValidatorsHash)).to.equal(hex(VALIDATORS.hash));
    const v = await chain();
    const other = ValidatorSet.fromGenesis([{ name: "x", publicKey: hex(fixedKey(0x7a).publicKey), power: 5 }]);
    for (const [label, block, r] of [
      ["a forged hash", { ...built.block, header: { ...built.block.header, nextValidatorsHash: new Uint8Array(32).fill(7) } }, rules],
      ["a header naming this set where the next height has another", built.block, { ...rules, nextValidators: other }],
    ] as const) {
      let err: unknown;
      try {
        await validateBlock(deps(v.store), block, r);
      } catch (e) {
        err = e;
      }
      expect(err, label).to.be.instanceOf(BlockValidationError);
      expect((err as Error).message, label).to.match(/nextValidatorsHash/);
    }
    expect(hex((await validateBlock(deps(v.store), built.block, rules)).hash)).to.equal(hex(built.hash));
    for (const s of [proposer, v]) await s.store.close();
  });

  it("still refuses a block whose txs do not give its state root when the pool knows them", async () => {
    const txs = [5, 6].map((i) => createTx(testDid(fixedKey(0x60 + i))));
    const proposer = await chain();
    for (const c of txs) await proposer.mempool.add(c.encoded);
    const deps = (store: ChainStore): BlockExecDeps => ({ chainId: CHAIN_ID, store, verifier: new SignatureVerifier(), params: PARAMS });
    const built = await buildBlock(deps(proposer.store), proposer.mempool, { height: 1, time: GENESIS_TIME + 1000, proposer: PROPOSER, validators: VALIDATORS, nextValidators: VALIDATORS, lastCommit: null, onRejected: () => {} });
    const v = await chain();
    for (const c of txs) await v.mempool.add(c.encoded);
    const forged = { ...built.block, header: { ...built.block.header, stateRoot: new Uint8Array(32).fill(9) } };
    let err: unknown;
    try {
      await validateBlock({ ...deps(v.store), knownTx: (h) => v.mempool.get(h) }, forged, rules);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(BlockValidationError);
    expect((err as Error).message).to.match(/stateRoot/);
    for (const s of [proposer, v]) await s.store.close();
  });

  describe("building with a tx that no longer applies", () => {
    /** A pool that hands out the given txs in order, as a pool whose state moved on would, and records what it drops. */
    function poolOf(txs: CheckedTx[]) {
      const dropped: { hash: string; why: Rejection }[] = [];
      const pool = { reap: () => txs.slice(), drop: (hash: Uint8Array, why: Rejection) => dropped.push({ hash: hex(hash), why }) } as unknown as Mempool;
      return { pool, dropped };
    }

    it("leaves out only that tx: same block, state root and events as the block of the good txs alone", async () => {
      const a = testDid(fixedKey(0x70));
      const c = testDid(fixedKey(0x71));
      const doc2 = { ...a.doc, service: [{ id: `${a.did}#hub`, type: "DIDCommMessaging", serviceEndpoint: "https://hub.example.com" }] };
      const doc3 = { ...a.doc, service: [{ id: `${a.did}#other`, type: "LinkedDomains", serviceEndpoint: "https://other.example.com" }] };
      const good = [createTx(a), updateTx(writeParams(a, 1, 1), doc2), createTx(c)];
      // Names version 1 after the update above moved `a` to version 2: it reads the block's own writes, then fails.
      const stale = updateTx(writeParams(a, 1, 1), doc3);
      const withBad = [good[0]!, good[1]!, stale, good[2]!];
      const input = { height: 1, time: GENESIS_TIME + 1000, proposer: PROPOSER, validators: VALIDATORS, nextValidators: VALIDATORS, lastCommit: null };
      const deps = (store: ChainStore): BlockExecDeps => ({ chainId: CHAIN_ID, store, verifier: new SignatureVerifier(), params: PARAMS });

      const x = await chain();
      const bad = poolOf(withBad);
      const rejected: string[] = [];
      const built = await buildBlock(deps(x.store), bad.pool, { ...input, onRejected: (h) => rejected.push(hex(h)) });
      const y = await chain();
      const clean = poolOf(good);
      const reference = await buildBlock(deps(y.store), clean.pool, { ...input, onRejected: () => expect.fail("no good tx is rejected") });

      expect(rejected).to.deep.equal([hex(stale.hash)]);
      expect(bad.dropped.map((d) => d.hash)).to.deep.equal([hex(stale.hash)]);
      expect(bad.dropped[0]!.why.code).to.equal("DID_STALE_VERSION");
      // The error names the index the tx would have had in the block: two good txs before it.
      expect(bad.dropped[0]!.why.message).to.match(/^tx 2 \(/);
      expect(clean.dropped).to.deep.equal([]);

      expect(built.txs.map((t) => hex(t.hash))).to.deep.equal(good.map((t) => hex(t.hash)));
      expect(hex(built.block.header.stateRoot)).to.equal(hex(reference.block.header.stateRoot));
      expect(hex(built.hash)).to.equal(hex(reference.hash));
      expect(built.effects.versions.map((v) => [v.did, v.versionId, v.operation])).to.deep.equal([
        [a.did, 1, "create"],
        [a.did, 2, "update"],
        [c.did, 1, "create"],
      ]);
      expect(built.effects.versions).to.deep.equal(reference.effects.versions);
      expect([...built.effects.writes.keys()]).to.deep.equal([...reference.effects.writes.keys()]);
      expect(built.effects.writes.get(a.did)).to.deep.equal(reference.effects.writes.get(a.did));
      expect((built.effects.writes.get(a.did) as { document: unknown }).document).to.deep.equal(doc2);
      expect([...built.encodedWrites].map(([k, v]) => [k, hex(v)])).to.deep.equal([...reference.encodedWrites].map(([k, v]) => [k, hex(v)]));

      // A validator re-executing the built block reaches the same header.
      const v = await chain();
      expect(hex((await validateBlock(deps(v.store), built.block, rules)).hash)).to.equal(hex(built.hash));
      for (const s of [x, y, v]) await s.store.close();
    });
  });
});
