import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { govProposeTx, type SignerParams } from "../../../src/client/txs.js";
import { genesisRecords, parseGenesis } from "../../../src/chain/genesis.js";
import { EvidenceErrorCode, GovErrorCode, TxErrorCode } from "../../../src/chain/errors.js";
import { ChainStore } from "../../../src/chain/store.js";
import { decodeTx, encodeTx } from "../../../src/chain/tx.js";
import { decodeCanonical, encodeCanonical } from "../../../src/chain/codec.js";
import {
  MAX_VALIDATORS,
  VALIDATORS_ID,
  type ValidatorEntry,
  type ValidatorsRecord,
  applyValidatorChange,
  genesisValidatorsRecord,
  validatorSetAt,
} from "../../../src/chain/validators.js";
import { ZERO_HASH, evidenceMerkleRoot } from "../../../src/chain/block.js";
import { duplicateVoteEvidence, encodeEvidence, evidenceHash } from "../../../src/consensus/evidence.js";
import { checkBlockEvidence, validateBlockEvidence } from "../../../src/consensus/evidence-rules.js";
import { ValidatorSet } from "../../../src/chain/validator-set.js";
import { validatorMethods } from "../../../src/rpc/validator-methods.js";
import { CHAIN_ID, createTx, expectChainError, expectChainErrorAsync, fixedKey, hex, testDid, type TestDid } from "../../helpers/fixtures.js";
import { VALIDATOR_KEY, poolAndEngine, replayInto } from "../../helpers/chain.js";
import { blockHash, prevote, signerOf } from "../../helpers/consensus.js";

const T1 = testDid(fixedKey(0x11));
const NOW = 1_700_000_000_000;
const key = (fill: number) => hex(fixedKey(fill).publicKey);
const entry = (fill: number, power: number, name = `n${fill}`): ValidatorEntry => ({ name, publicKey: key(fill), power });

function as(d: TestDid, seq: number): SignerParams {
  return { chainId: CHAIN_ID, signer: d.did, vm: d.keyId, seq, secretKey: d.key.secretKey };
}

describe("chain/validators: the validator set in state", () => {
  const genesis = genesisValidatorsRecord([entry(1, 10), entry(2, 5)]);

  it("a change executed in block H is in force from H+2, not before", () => {
    const r = applyValidatorChange(genesis, { kind: "validator/set", publicKey: key(3), name: "n3", power: 7 }, 10);
    expect(r.pending).to.deep.equal([{ effectiveHeight: 12, set: [entry(1, 10), entry(2, 5), entry(3, 7)] }]);
    expect(validatorSetAt(r, 10)).to.deep.equal(genesis.current);
    expect(validatorSetAt(r, 11)).to.deep.equal(genesis.current);
    expect(validatorSetAt(r, 12).map((v) => v.publicKey)).to.deep.equal([key(1), key(2), key(3)]);
    expect(r.updatedHeight).to.equal(10);
  });

  it("re-weighs in place, removes with power 0, composes changes in one block, folds what is in force", () => {
    let r = applyValidatorChange(genesis, { kind: "validator/set", publicKey: key(2), name: "renamed", power: 9 }, 4);
    r = applyValidatorChange(r, { kind: "validator/set", publicKey: key(1), name: "", power: 0 }, 4);
    expect(r.pending).to.have.length(1);
    expect(validatorSetAt(r, 6)).to.deep.equal([{ name: "renamed", publicKey: key(2), power: 9 }]);
    // Block 5 schedules for 7; the height-6 set is still pending, the current set still genesis.
    r = applyValidatorChange(r, { kind: "validator/set", publicKey: key(3), name: "n3", power: 1 }, 5);
    expect(r.pending.map((p) => p.effectiveHeight)).to.deep.equal([6, 7]);
    expect(validatorSetAt(r, 7)).to.deep.equal([{ name: "renamed", publicKey: key(2), power: 9 }, entry(3, 1)]);
    // At block 9 both have been reached: folded into current, nothing left but the new change.
    r = applyValidatorChange(r, { kind: "validator/set", publicKey: key(3), name: "n3", power: 2 }, 9);
    expect(r.current).to.deep.equal([{ name: "renamed", publicKey: key(2), power: 9 }, entry(3, 1)]);
    expect(r.pending.map((p) => p.effectiveHeight)).to.deep.equal([11]);
  });

  it("refuses removing a non-validator, the last validator, and growing past the bound", () => {
    expectChainError(() => applyValidatorChange(genesis, { kind: "validator/set", publicKey: key(9), name: "", power: 0 }, 1), GovErrorCode.VALIDATOR_NOT_FOUND);
    const one = applyValidatorChange(genesis, { kind: "validator/set", publicKey: key(2), name: "", power: 0 }, 1);
    expectChainError(() => applyValidatorChange(one, { kind: "validator/set", publicKey: key(1), name: "", power: 0 }, 1), GovErrorCode.VALIDATOR_SET_EMPTY);
    // Removal is judged against the H+2 set: a validator already scheduled out cannot be removed again.
    expectChainError(() => applyValidatorChange(one, { kind: "validator/set", publicKey: key(2), name: "", power: 0 }, 2), GovErrorCode.VALIDATOR_NOT_FOUND);
    const full = genesisValidatorsRecord(Array.from({ length: MAX_VALIDATORS }, (_, i) => ({ name: `v${i}`, publicKey: `02${i.toString(16).padStart(64, "0")}`, power: 1 })));
    expectChainError(() => applyValidatorChange(full, { kind: "validator/set", publicKey: key(1), name: "x", power: 1 }, 1), GovErrorCode.VALIDATOR_SET_FULL);
    // Re-weighing a member of a full set is not growth.
    applyValidatorChange(full, { kind: "validator/set", publicKey: full.current[0]!.publicKey, name: "x", power: 3 }, 1);
  });

  it("validateBasic refuses malformed validator/set actions", () => {
    const base = govProposeTx(as(T1, 1), { kind: "validator/set", publicKey: key(3), name: "n3", power: 1 });
    expect(decodeTx(base.encoded, CHAIN_ID).payload).to.deep.equal({ action: { kind: "validator/set", publicKey: key(3), name: "n3", power: 1 } });
    const raw = decodeCanonical(base.encoded) as Record<string, unknown>;
    const bad: unknown[] = [
      { kind: "validator/set", publicKey: key(3).toUpperCase(), name: "n", power: 1 },
      { kind: "validator/set", publicKey: `04${key(3).slice(2)}`, name: "n", power: 1 },
      { kind: "validator/set", publicKey: `02${"ff".repeat(32)}`, name: "n", power: 1 },
      { kind: "validator/set", publicKey: key(3), name: "", power: 1 },
      { kind: "validator/set", publicKey: key(3), name: "n", power: -1 },
      { kind: "validator/set", publicKey: key(3), name: "n", power: 1_000_001 },
      { kind: "validator/set", publicKey: key(3), name: "n" },
      { kind: "validator/set", publicKey: key(3), name: "n", power: 1, extra: 0 },
    ];
    for (const action of bad) {
      const tx = { ...raw, payload: { action } };
      expectChainError(() => decodeTx(encodeCanonical(tx as never), CHAIN_ID), TxErrorCode.BAD_FIELD);
    }
    // A removal may leave the name empty.
    const removal = govProposeTx(as(T1, 1), { kind: "validator/set", publicKey: key(3), name: "", power: 0 });
    expect(decodeTx(encodeTx(removal.tx), CHAIN_ID).payload).to.deep.include({ action: { kind: "validator/set", publicKey: key(3), name: "", power: 0 } });
  });
});

describe("validator set and evidence through the store and the engine", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "sid-valgov-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // v0 is the engine's key (power 10: a quorum alone); v1 is consensus helper validator 0 (power 1), the equivocator.
  const V1 = signerOf(0);
  const NEW = fixedKey(0x77);
  const g = parseGenesis({
    chainId: CHAIN_ID,
    genesisTime: new Date(NOW).toISOString(),
    validators: [
      { name: "v0", publicKey: hex(VALIDATOR_KEY.publicKey), power: 10 },
      { name: "v1", publicKey: hex(V1.publicKey), power: 1 },
    ],
    params: { maxEvidenceAgeBlocks: 5 },
    trustees: { members: [T1.did], threshold: 1 },
  });
  const genesisSet = ValidatorSet.fromGenesis(g.validators);
  const equivocation = (height: number) => encodeEvidence(duplicateVoteEvidence(prevote(0, height, 0, blockHash("a")), prevote(0, height, 0, blockHash("b"))));

  it("governance adds and removes validators from H+2; headers, RPC, evidence and a replica replay follow", async () => {
    const store = await ChainStore.open(join(dir, "a"));
    const replica = await ChainStore.open(join(dir, "b"));
    try {
      await store.initGenesis(new Uint8Array(32).fill(9), NOW, genesisRecords(g));
      await replica.initGenesis(new Uint8Array(32).fill(9), NOW, genesisRecords(g));
      expect(await store.validatorSetAt(1)).to.deep.equal(g.validators);
      let pending: Uint8Array[] = [];
      const { mempool, engine } = await poolAndEngine(store, 100, { validators: genesisSet, params: g.params, pendingEvidence: () => pending });
      const rpc = validatorMethods({ head: () => store.head(), validatorsAt: (h) => engine.validatorsAt(h), getEvidence: (h) => store.getEvidence(h), listEvidence: (o) => store.listEvidence(o) });
      const call = (m: string, p: Record<string, unknown>) => rpc[m]!.handler(p as never, {} as never) as Promise<Record<string, unknown>>;

      await mempool.add(createTx(T1).encoded);
      const b1 = await engine.produceBlock();
      expect(hex(b1.block.header.validatorsHash)).to.equal(hex(genesisSet.hash));
      expect(hex(b1.block.header.evidenceHash)).to.equal(hex(ZERO_HASH));

      // Block 2: equivocation by v1 at height 1 is committed, with a forged copy and a duplicate left out.
      const good = equivocation(1);
      const forged = encodeEvidence(duplicateVoteEvidence(prevote(0, 1, 0, blockHash("c")), { ...prevote(0, 1, 0, blockHash("d")), sig: prevote(0, 1, 0, blockHash("e")).sig }));
      pending = [good, forged, good];
      // Block 2 also adds NEW with power 2: in force from 4.
      await mempool.add(govProposeTx(as(T1, 1), { kind: "validator/set", publicKey: hex(NEW.publicKey), name: "new", power: 2 }).encoded);
      const b2 = await engine.produceBlock();
      expect(b2.block.evidence.map(hex)).to.deep.equal([hex(good)]);
      expect(hex(b2.block.header.evidenceHash)).to.equal(hex(evidenceMerkleRoot([good])));
      const evHash = evidenceHash(duplicateVoteEvidence(prevote(0, 1, 0, blockHash("a")), prevote(0, 1, 0, blockHash("b"))));
      expect(await store.getEvidenceLocation(evHash)).to.deep.equal({ height: 2, index: 0, validator: V1.address });

      // Committed evidence is refused again; the rule names it a duplicate.
      const sets = (h: number) => engine.validatorsAt(h);
      await expectChainErrorAsync(checkBlockEvidence([good], { chainId: CHAIN_ID, height: 3, maxAgeBlocks: 5 }, store, sets), EvidenceErrorCode.DUPLICATE);
      pending = [good];
      const b3 = await engine.produceBlock();
      expect(b3.block.evidence).to.deep.equal([]);
      expect(hex(b3.block.header.validatorsHash)).to.equal(hex(genesisSet.hash));
      // Block 3 names the set that signs block 4: the one block 2's change puts in force there.
      const withNew = ValidatorSet.fromEntries([...g.validators, { name: "new", publicKey: hex(NEW.publicKey), power: 2 }]);
      expect(hex(b3.block.header.nextValidatorsHash)).to.equal(hex(withNew.hash));
      expect(hex(b2.block.header.nextValidatorsHash), "block 2's own change is not in force at 3").to.equal(hex(genesisSet.hash));

      // The trustee removes the equivocator (block 4, in force from 6). Block 4 is the first signed by the 3-validator set.
      await mempool.add(govProposeTx(as(T1, 2), { kind: "validator/set", publicKey: hex(V1.publicKey), name: "", power: 0 }).encoded);
      const b4 = await engine.produceBlock();
      const three = ValidatorSet.fromEntries([...g.validators, { name: "new", publicKey: hex(NEW.publicKey), power: 2 }]);
      expect(hex(b4.block.header.validatorsHash)).to.equal(hex(three.hash));
      const v5 = await call("validators_get", { height: 5 });
      expect(v5).to.deep.include({ height: 5, totalPower: 13, hash: hex(three.hash) });
      const v6 = await call("validators_get", { height: 6 });
      expect((v6.validators as Array<{ name: string }>).map((v) => v.name)).to.deep.equal(["v0", "new"]);
      expect(v6.totalPower).to.equal(12);
      expect((await call("validators_get", {})).height).to.equal(5);
      await call("validators_get", { height: 7 }).then(
        () => expect.fail("height 7 is beyond head + 2"),
        (e: Error) => expect(e.message).to.match(/head \+ 2/),
      );
      expect((await call("validators_get", { height: 1 })).hash).to.equal(hex(genesisSet.hash));

      // Evidence at height 3 against v1 is still valid (v1 is in the set at 3) ...
      expect(await checkBlockEvidence([equivocation(3)], { chainId: CHAIN_ID, height: 5, maxAgeBlocks: 5 }, store, sets)).to.have.length(1);

      const b5 = await engine.produceBlock(); // 5: signed by the three, names the two that sign 6
      const b6 = await engine.produceBlock(); // 6: v1 is gone
      const two = ValidatorSet.fromEntries([g.validators[0]!, { name: "new", publicKey: hex(NEW.publicKey), power: 2 }]);
      expect(hex(b6.block.header.validatorsHash)).to.equal(hex(two.hash));
      expect(hex(b4.block.header.nextValidatorsHash)).to.equal(hex(three.hash));
      expect(hex(b6.block.header.nextValidatorsHash)).to.equal(hex(two.hash));
      expect(hex(b5.block.header.validatorsHash)).to.equal(hex(three.hash));
      expect(hex(b5.block.header.nextValidatorsHash)).to.equal(hex(two.hash));

      // RPC evidence answers.
      const list = await call("evidence_list", {});
      expect((list.evidence as Array<{ hash: string; committedHeight: number; validator: string }>).map((e) => [e.hash, e.committedHeight, e.validator])).to.deep.equal([[hex(evHash), 2, hex(V1.address)]]);
      expect((await call("evidence_list", { validator: hex(signerOf(1).address) })).evidence).to.deep.equal([]);
      expect((await call("evidence_list", { validator: hex(V1.address), after: hex(evHash) })).evidence).to.deep.equal([]);
      const got = await call("evidence_get", { hash: hex(evHash) });
      expect(got).to.deep.include({ hash: hex(evHash), committedHeight: 2, index: 0, height: 1, kind: "duplicateVote", encoded: hex(good) });
      await expectChainErrorAsync(call("evidence_get", { hash: "00".repeat(32) }), EvidenceErrorCode.NOT_FOUND);

      // A replica that replays the blocks reaches the same roots and the same set index.
      await replayInto(store, replica);
      for (let h = 1; h <= 8; h++) expect(await replica.validatorSetAt(h), `set at ${h}`).to.deep.equal(await store.validatorSetAt(h));
      expect(hex(replica.head().stateRoot)).to.equal(hex(store.head().stateRoot));
      expect(((await replica.getRecord(VALIDATORS_ID)) as ValidatorsRecord).pending).to.deep.equal(((await store.getRecord(VALIDATORS_ID)) as ValidatorsRecord).pending);
    } finally {
      await store.close();
      await replica.close();
    }
  });

  it("the block rule: good, forged signature, set at the wrong height, duplicate in a block, too old, from the future", () => {
    const set = genesisSet;
    const ctx = { chainId: CHAIN_ID, height: 10, maxAgeBlocks: 5, setAt: (h: number) => (h >= 5 ? set : ValidatorSet.fromGenesis([g.validators[0]!])), committedAt: () => undefined };
    const ok = validateBlockEvidence([equivocation(6)], ctx);
    expect(ok.map((e) => [e.height, hex(e.validator)])).to.deep.equal([[6, hex(V1.address)]]);
    const a = prevote(0, 6, 0, blockHash("a"));
    const b = prevote(0, 6, 0, blockHash("b"));
    const forged = encodeEvidence(duplicateVoteEvidence(a, { ...b, sig: prevote(0, 6, 0, blockHash("z")).sig }));
    expect(expectChainError(() => validateBlockEvidence([equivocation(6), forged], ctx), EvidenceErrorCode.INVALID).data).to.deep.equal({ index: 1, forged: true });
    // Height 5 uses the set at 5 (with v1); changing the context so v1 is out at that height refuses it.
    expect(validateBlockEvidence([equivocation(5)], ctx)).to.have.length(1);
    expectChainError(() => validateBlockEvidence([equivocation(5)], { ...ctx, setAt: (h) => (h === 5 ? ValidatorSet.fromGenesis([g.validators[0]!]) : set) }), EvidenceErrorCode.INVALID);
    expectChainError(() => validateBlockEvidence([equivocation(6), equivocation(6)], ctx), EvidenceErrorCode.DUPLICATE);
    expectChainError(() => validateBlockEvidence([equivocation(6)], { ...ctx, committedAt: () => 8 }), EvidenceErrorCode.DUPLICATE);
    expectChainError(() => validateBlockEvidence([equivocation(4)], ctx), EvidenceErrorCode.TOO_OLD);
    expectChainError(() => validateBlockEvidence([equivocation(10)], ctx), EvidenceErrorCode.INVALID);
    expectChainError(() => validateBlockEvidence([Uint8Array.of(1, 2, 3)], ctx), EvidenceErrorCode.INVALID);
    expectChainError(() => validateBlockEvidence([equivocation(6)], { ...ctx, chainId: "sid-other" }), EvidenceErrorCode.INVALID);
  });
});
