/**
 * A property over random workloads: DIDs are created, updated, rotated and
 * deactivated (with stale and unauthorised writes mixed in) through the
 * mempool and the engine. Whatever the sequence, the chain agrees with a
 * simple model of the rules, every submitted tx ends committed or refused
 * with a typed reason, and a fresh store replaying the blocks reaches the
 * same state root at every height (invariant 1).
 */
import { expect } from "chai";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addService, addVerificationMethod, removeVerificationMethod } from "../../../src/did/document-edit.js";
import { ChainError } from "../../../src/chain/errors.js";
import type { CheckedTx } from "../../../src/chain/execute.js";
import { ChainStore } from "../../../src/chain/store.js";
import { createDidTx } from "../../../src/client/txs.js";
import { poolAndEngine, replayInto } from "../../helpers/chain.js";
import { CHAIN_ID, checked, createTx, deactivateTx, fixedKey, hex, testDid, updateTx, writeParams, type TestDid } from "../../helpers/fixtures.js";

type Op =
  | { kind: "create"; who: number }
  | { kind: "service"; who: number; stale: boolean }
  | { kind: "rotate"; who: number }
  | { kind: "deactivate"; who: number }
  | { kind: "foreign"; who: number; by: number }
  | { kind: "block" };

const PEOPLE = 4;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("create" as const), who: fc.nat(PEOPLE - 1) }),
  fc.record({ kind: fc.constant("service" as const), who: fc.nat(PEOPLE - 1), stale: fc.boolean() }),
  fc.record({ kind: fc.constant("rotate" as const), who: fc.nat(PEOPLE - 1) }),
  fc.record({ kind: fc.constant("deactivate" as const), who: fc.nat(PEOPLE - 1) }),
  fc.record({ kind: fc.constant("foreign" as const), who: fc.nat(PEOPLE - 1), by: fc.nat(PEOPLE - 1) }),
  fc.constant({ kind: "block" as const }),
);

/** What the rules say a DID looks like. */
interface ModelDid {
  exists: boolean;
  version: number;
  nonce: number;
  deactivated: boolean;
  /** index of the fixed key that signs now, and the next one to rotate to */
  keyIndex: number;
  doc: TestDid["doc"];
}

describe("consensus: random workloads agree with the model and replay to the same roots", function () {
  this.timeout(120_000);
  let root: string;
  before(() => (root = mkdtempSync(join(tmpdir(), "sid-model-"))));
  after(() => rmSync(root, { recursive: true, force: true }));

  it("holds for random op sequences", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), async (ops) => {
        const dir = join(root, String(run++));
        const store = await ChainStore.open(join(dir, "a"));
        await store.initGenesis(new Uint8Array(32), 0);
        const { mempool, engine } = await poolAndEngine(store, 7);
        const people: TestDid[] = Array.from({ length: PEOPLE }, (_, i) => testDid(fixedKey(0x10 + i * 8)));
        const model: ModelDid[] = people.map((p) => ({ exists: false, version: 0, nonce: 0, deactivated: false, keyIndex: 0, doc: p.doc }));
        const keyOf = (who: number, idx: number) => fixedKey(0x10 + who * 8 + idx);
        const signerOf = (who: number) => ({ did: people[who]!.did, keyId: `${people[who]!.did}#k${model[who]!.keyIndex}`.replace("#k0", "#key-1"), secretKey: keyOf(who, model[who]!.keyIndex).secretKey });
        const submitted: Uint8Array[] = [];
        const submit = async (c: CheckedTx, expectOk: boolean) => {
          try {
            await mempool.add(c.encoded);
            submitted.push(c.hash);
            expect(expectOk, "admitted a tx the rules refuse").to.equal(true);
            return true;
          } catch (e) {
            expect(e).to.be.instanceOf(ChainError);
            expect(expectOk, `refused a valid tx: ${(e as Error).message}`).to.equal(false);
            return false;
          }
        };
        for (const op of ops) {
          if (op.kind === "block") {
            await engine.produceBlock();
            continue;
          }
          const m = model[op.who]!;
          const live = m.exists && !m.deactivated;
          const p = writeParams(people[op.who]!, m.version, m.nonce, signerOf(op.who));
          if (op.kind === "create") {
            // a second create carries another document, so only the existence rule can refuse it
            const person = people[op.who]!;
            const c = m.exists ? checked(createDidTx(CHAIN_ID, person.key, addService(person.doc, { id: `${person.did}#again`, type: "T", serviceEndpoint: "https://again.example" }))) : createTx(person);
            if (await submit(c, !m.exists)) Object.assign(m, { exists: true, version: 1, nonce: 1 });
          } else if (op.kind === "service") {
            const next = addService(m.doc, { id: `${people[op.who]!.did}#s${m.version}`, type: "LinkedDomains", serviceEndpoint: "https://x.example" });
            const params = op.stale && m.version > 1 ? { ...p, prevVersionId: String(m.version - 1) } : p;
            const ok = live && !(op.stale && m.version > 1);
            if (await submit(updateTx(params, next), ok)) Object.assign(m, { version: m.version + 1, nonce: m.nonce + 1, doc: next });
          } else if (op.kind === "rotate") {
            if (m.keyIndex >= 6) continue;
            const nextIdx = m.keyIndex + 1;
            const oldId = m.keyIndex === 0 ? `${people[op.who]!.did}#key-1` : `${people[op.who]!.did}#k${m.keyIndex}`;
            const next = removeVerificationMethod(addVerificationMethod(m.doc, keyOf(op.who, nextIdx).publicKey, `k${nextIdx}`, ["authentication"]), oldId);
            if (await submit(updateTx(p, next), live)) Object.assign(m, { version: m.version + 1, nonce: m.nonce + 1, doc: next, keyIndex: nextIdx });
          } else if (op.kind === "deactivate") {
            if (await submit(deactivateTx(p), live)) Object.assign(m, { version: m.version + 1, nonce: m.nonce + 1, deactivated: true });
          } else {
            // someone else's key (not a controller) signs a write: never allowed
            if (op.by === op.who) continue;
            const by = model[op.by]!;
            const forged = writeParams(people[op.who]!, m.version, by.nonce, signerOf(op.by));
            await submit(updateTx(forged, m.doc), false);
          }
        }
        while (mempool.size > 0) await engine.produceBlock();

        // the chain agrees with the model
        for (let i = 0; i < PEOPLE; i++) {
          const rec = await store.getDid(people[i]!.did);
          const m = model[i]!;
          if (!m.exists) {
            expect(rec).to.equal(undefined);
            continue;
          }
          expect(rec).to.deep.include({ versionId: m.version, nonce: m.nonce, deactivated: m.deactivated });
          expect(rec!.document).to.deep.equal(m.doc);
          expect((await store.getDidVersions(people[i]!.did)).map((v) => v.versionId)).to.deep.equal(Array.from({ length: m.version }, (_, k) => k + 1));
        }
        for (const h of submitted) expect(await store.getTxLocation(h), hex(h)).to.not.equal(undefined);

        // a fresh store replaying the blocks reaches the same roots
        const replica = await ChainStore.open(join(dir, "b"));
        await replica.initGenesis(new Uint8Array(32), 0);
        await replayInto(store, replica);
        await replica.close();
        await store.close();
      }),
      { numRuns: 25 },
    );
  });
});
