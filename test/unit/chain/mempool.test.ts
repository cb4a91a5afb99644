import { expect } from "chai";
import { DidErrorCode, TxErrorCode } from "../../../src/chain/errors.js";
import { type CheckedTx, SignatureVerifier, checkTx } from "../../../src/chain/execute.js";
import { Mempool, type MempoolOptions, defaultMempoolOptions } from "../../../src/chain/mempool.js";
import type { DidRecord } from "../../../src/chain/state.js";
import { validateDocument } from "../../../src/did/document.js";
import { addVerificationMethod } from "../../../src/did/document-edit.js";
import {
  CHAIN_ID,
  MapView,
  createTx,
  deactivateTx,
  execContext,
  expectChainErrorAsync,
  fixedKey,
  hex,
  testDid,
  updateTx,
  writeParams,
} from "../../helpers/fixtures.js";

const A = testDid(fixedKey(1));
const B = testDid(fixedKey(2));
const C = testDid(fixedKey(3));
const D = testDid(fixedKey(5));
const K2 = fixedKey(4);

/** Committed state and tx index behind the pool, Map-backed. */
class Committed {
  readonly records = new Map<string, DidRecord>();
  readonly txs = new Set<string>();
  loads = 0;
  height = 1;

  /** Commit txs as a block would: apply them to the records and index them. */
  commit(...txs: CheckedTx[]): Uint8Array[] {
    const view = new MapView();
    for (const r of this.records.values()) view.put(r);
    for (const c of txs) {
      const effect = checkTx(view, c, execContext({ height: this.height }));
      view.put(...effect.writes);
      for (const w of effect.writes) this.records.set((w as DidRecord).did, w as DidRecord);
      this.txs.add(hex(c.hash));
    }
    this.height++;
    return txs.map((c) => c.hash);
  }
}

function makePool(committed: Committed, opts: Partial<MempoolOptions> = {}): Mempool {
  return new Mempool(
    { ...defaultMempoolOptions, ...opts },
    {
      chainId: CHAIN_ID,
      verifier: new SignatureVerifier(),
      loadState: async (dids) => {
        committed.loads++;
        const out = new Map<string, DidRecord | undefined>();
        for (const d of dids) out.set(d, committed.records.get(d));
        return out;
      },
      isCommitted: async (hash) => committed.txs.has(hex(hash)),
      nextBlock: () => ({ height: committed.height, time: 1_700_000_000_000 + committed.height }),
    },
  );
}

describe("chain/mempool", () => {
  let committed: Committed;
  let pool: Mempool;
  beforeEach(() => {
    committed = new Committed();
    pool = makePool(committed);
  });

  it("admits a valid tx", async () => {
    const c = createTx(A);
    const got = await pool.add(c.encoded);
    expect(hex(got.hash)).to.equal(hex(c.hash));
    expect(got.tx).to.deep.equal(c.tx);
    expect(pool.size).to.equal(1);
    expect(pool.byteSize).to.equal(c.encoded.length);
    expect(pool.has(c.hash)).to.equal(true);
    expect(pool.get(c.hash)?.tx.signer).to.equal(A.did);
    expect(pool.pendingNonce(A.did)).to.equal(1);
    expect(pool.pendingRecord(A.did)?.versionId).to.equal(1);
    expect(pool.pendingNonce(B.did)).to.equal(undefined);
  });

  it("refuses a tx it already holds (TX_DUPLICATE), without recording a rejection", async () => {
    const c = createTx(A);
    await pool.add(c.encoded);
    await expectChainErrorAsync(pool.add(c.encoded), TxErrorCode.DUPLICATE);
    expect(pool.size).to.equal(1);
    expect(pool.rejection(c.hash)).to.equal(undefined);
  });

  it("refuses two concurrent submissions of the same tx: one wins", async () => {
    const c = createTx(A);
    const results = await Promise.allSettled([pool.add(c.encoded), pool.add(c.encoded)]);
    expect(results.map((r) => r.status).sort()).to.deep.equal(["fulfilled", "rejected"]);
    expect(pool.size).to.equal(1);
  });

  it("refuses a committed tx (TX_ALREADY_COMMITTED)", async () => {
    const c = createTx(A);
    committed.commit(c);
    await expectChainErrorAsync(pool.add(c.encoded), TxErrorCode.ALREADY_COMMITTED);
    expect(pool.size).to.equal(0);
  });

  it("refuses a tx that fails decoding with its code", async () => {
    const c = updateTx(writeParams(A, 1, 1, undefined, "sid-other"), A.doc);
    await expectChainErrorAsync(pool.add(c.encoded), TxErrorCode.WRONG_CHAIN);
    await expectChainErrorAsync(pool.add(Uint8Array.of(0xff)), TxErrorCode.DECODE);
  });

  it("is full by count (MEMPOOL_FULL)", async () => {
    pool = makePool(committed, { maxTxs: 2 });
    await pool.add(createTx(A).encoded);
    await pool.add(createTx(B).encoded);
    const c = createTx(C);
    await expectChainErrorAsync(pool.add(c.encoded), TxErrorCode.MEMPOOL_FULL);
    expect(pool.size).to.equal(2);
  });

  it("is full by bytes (MEMPOOL_FULL)", async () => {
    const a = createTx(A);
    const b = createTx(B);
    pool = makePool(committed, { maxBytes: a.encoded.length + b.encoded.length - 1 });
    await pool.add(a.encoded);
    await expectChainErrorAsync(pool.add(b.encoded), TxErrorCode.MEMPOOL_FULL);
    expect(pool.byteSize).to.equal(a.encoded.length);
    // Exactly at the limit is fine.
    pool = makePool(committed, { maxBytes: a.encoded.length + b.encoded.length });
    await pool.add(a.encoded);
    await pool.add(b.encoded);
    expect(pool.byteSize).to.equal(a.encoded.length + b.encoded.length);
  });

  it("admits a signer's txs in sequence on top of its pending txs, and reaps them in order", async () => {
    const doc2 = addVerificationMethod(A.doc, K2.publicKey, "key-2", ["authentication"]);
    const txs = [
      createTx(A),
      createTx(B),
      updateTx(writeParams(A, 1, 1), doc2),
      updateTx(writeParams(B, 1, 1), B.doc),
      deactivateTx(writeParams(A, 2, 2)),
    ];
    for (const c of txs) await pool.add(c.encoded);
    expect(pool.pendingNonce(A.did)).to.equal(3);
    expect(pool.pendingRecord(A.did)?.deactivated).to.equal(true);
    expect(pool.pendingNonce(B.did)).to.equal(2);
    expect(pool.reap(100, 1 << 20).map((c) => hex(c.hash))).to.deep.equal(txs.map((c) => hex(c.hash)));
    // A block of exactly these txs, in this order, is valid.
    committed.commit(...pool.reap(100, 1 << 20));
  });

  it("refuses an update whose seq skips ahead (TX_BAD_SEQUENCE) and remembers why", async () => {
    await pool.add(createTx(A).encoded);
    const skip = updateTx(writeParams(A, 1, 2), A.doc);
    const e = await expectChainErrorAsync(pool.add(skip.encoded), TxErrorCode.BAD_SEQUENCE);
    expect(pool.rejection(skip.hash)).to.deep.equal({ code: TxErrorCode.BAD_SEQUENCE, message: e.message });
    expect(pool.has(skip.hash)).to.equal(false);
    // The right one is admitted, and a later success clears nothing else.
    await pool.add(updateTx(writeParams(A, 1, 1), A.doc).encoded);
    expect(pool.size).to.equal(2);
  });

  it("forgets a rejection when the tx is later admitted", async () => {
    const upd = updateTx(writeParams(A, 1, 1), A.doc);
    await expectChainErrorAsync(pool.add(upd.encoded), DidErrorCode.NOT_FOUND);
    expect(pool.rejection(upd.hash)?.code).to.equal(DidErrorCode.NOT_FOUND);
    await pool.add(createTx(A).encoded);
    await pool.add(upd.encoded);
    expect(pool.rejection(upd.hash)).to.equal(undefined);
  });

  it("bounds the memory of rejections", async () => {
    pool = makePool(committed, { rejectedMemory: 1 });
    const u1 = updateTx(writeParams(A, 1, 1), A.doc);
    const u2 = updateTx(writeParams(B, 1, 1), B.doc);
    await expectChainErrorAsync(pool.add(u1.encoded), DidErrorCode.NOT_FOUND);
    await expectChainErrorAsync(pool.add(u2.encoded), DidErrorCode.NOT_FOUND);
    expect(pool.rejection(u1.hash)).to.equal(undefined);
    expect(pool.rejection(u2.hash)?.code).to.equal(DidErrorCode.NOT_FOUND);
  });

  it("checks admissions against committed state", async () => {
    committed.commit(createTx(A));
    await expectChainErrorAsync(pool.add(createTx(A).encoded), TxErrorCode.ALREADY_COMMITTED);
    await expectChainErrorAsync(pool.add(updateTx(writeParams(A, 2, 1), A.doc).encoded), DidErrorCode.STALE_VERSION);
    await pool.add(updateTx(writeParams(A, 1, 1), A.doc).encoded);
    expect(pool.pendingRecord(A.did)?.versionId).to.equal(2);
  });

  describe("onBlockCommitted", () => {
    it("removes committed txs and drops pending txs the block made invalid", async () => {
      committed.commit(createTx(A));
      const createB = createTx(B);
      const createC = createTx(C);
      const mine = updateTx(writeParams(A, 1, 1), addVerificationMethod(A.doc, K2.publicKey, "key-2", ["authentication"]));
      // Depends on `mine`: signed by the key-2 that `mine` adds.
      const mineNext = deactivateTx(writeParams(A, 2, 2, { did: A.did, keyId: `${A.did}#key-2`, secretKey: K2.secretKey }));
      for (const c of [createB, mine, mineNext, createC]) await pool.add(c.encoded);
      expect(pool.size).to.equal(4);

      // Another proposer's block: B's create (from our pool) and a conflicting update of A.
      const conflicting = updateTx(writeParams(A, 1, 1), A.doc);
      const hashes = committed.commit(createB, conflicting);
      const dropped = await pool.onBlockCommitted(hashes);

      expect(dropped.map((d) => hex(d.hash))).to.deep.equal([hex(mine.hash), hex(mineNext.hash)]);
      expect(dropped[0]!.why.code).to.equal(DidErrorCode.STALE_VERSION);
      expect(dropped[1]!.why.code).to.equal(TxErrorCode.UNAUTHORIZED);
      expect(pool.rejection(mine.hash)?.code).to.equal(DidErrorCode.STALE_VERSION);
      expect(pool.has(createB.hash)).to.equal(false);
      expect(pool.rejection(createB.hash), "a committed tx is not a rejection").to.equal(undefined);
      expect(pool.has(createC.hash)).to.equal(true);
      expect(pool.size).to.equal(1);
      expect(pool.byteSize).to.equal(createC.encoded.length);

      // Pending state now starts from the new committed state.
      expect(pool.pendingNonce(A.did)).to.equal(undefined);
      expect(pool.pendingNonce(C.did)).to.equal(1);
      await pool.add(updateTx(writeParams(A, 2, 2), A.doc).encoded);
      await pool.add(updateTx(writeParams(B, 1, 1), B.doc).encoded);
      expect(pool.size).to.equal(3);
    });

    it("keeps every pending tx when the block conflicts with none", async () => {
      const a = createTx(A);
      const b = createTx(B);
      await pool.add(a.encoded);
      await pool.add(b.encoded);
      const dropped = await pool.onBlockCommitted(committed.commit(a));
      expect(dropped).to.deep.equal([]);
      expect(pool.reap(10, 1 << 20).map((c) => hex(c.hash))).to.deep.equal([hex(b.hash)]);
    });

    it("rebases pending effects on the new committed state", async () => {
      // B controls A, A controls D.
      const Actl = { ...A, doc: validateDocument({ ...A.doc, controller: B.did }, A.did) };
      const Dctl = { ...D, doc: validateDocument({ ...D.doc, controller: A.did }, D.did) };
      committed.commit(createTx(B), createTx(Actl), createTx(Dctl));
      const signedByB = { did: B.did, keyId: B.keyId, secretKey: B.key.secretKey };
      const byController = updateTx(writeParams(Actl, 1, 1, signedByB), Actl.doc);
      await pool.add(byController.encoded);
      expect(pool.pendingNonce(A.did)).to.equal(1);

      // Elsewhere, A (as D's controller) signs a tx: A's nonce moves, A's version does not.
      const signedByA = { did: A.did, keyId: A.keyId, secretKey: A.key.secretKey };
      const dropped = await pool.onBlockCommitted(committed.commit(updateTx(writeParams(Dctl, 1, 1, signedByA), Dctl.doc)));
      expect(dropped).to.deep.equal([]);
      expect(pool.has(byController.hash)).to.equal(true);
      // A's pending record: version 2 from the pooled tx, nonce 2 from the block.
      expect(pool.pendingRecord(A.did)).to.deep.include({ versionId: 2, nonce: 2 });
      await pool.add(updateTx(writeParams(Actl, 2, 2), Actl.doc).encoded);
      expect(pool.size).to.equal(2);
    });

    it("after drop(), a tx that depended on the dropped one goes at the next block", async () => {
      const a = createTx(A);
      const u1 = updateTx(writeParams(A, 1, 1), A.doc);
      const u2 = updateTx(writeParams(A, 2, 2), A.doc);
      for (const c of [a, u1, u2]) await pool.add(c.encoded);
      pool.drop(u1.hash, { code: TxErrorCode.BAD_FIELD, message: "left out by the block builder" });
      const dropped = await pool.onBlockCommitted(committed.commit(a));
      expect(dropped.map((d) => [hex(d.hash), d.why.code])).to.deep.equal([[hex(u2.hash), DidErrorCode.STALE_VERSION]]);
      expect(pool.size).to.equal(0);
      expect(pool.rejection(u1.hash)?.code).to.equal(TxErrorCode.BAD_FIELD);
    });
  });

  describe("concurrency", () => {
    /** A pool whose loadState waits for `release()` once `hold()` was called. */
    function gatedPool() {
      let gate: Promise<void> | undefined;
      let open: () => void = () => undefined;
      let entered: () => void = () => undefined;
      let waiting = new Promise<void>((r) => (entered = r));
      const p = new Mempool(defaultMempoolOptions, {
        chainId: CHAIN_ID,
        verifier: new SignatureVerifier(),
        loadState: async (dids) => {
          if (gate) {
            entered();
            await gate;
          }
          const out = new Map<string, DidRecord | undefined>();
          for (const d of dids) out.set(d, committed.records.get(d));
          return out;
        },
        isCommitted: async (hash) => committed.txs.has(hex(hash)),
        nextBlock: () => ({ height: committed.height, time: 1_700_000_000_000 + committed.height }),
      });
      return {
        pool: p,
        hold: () => {
          gate = new Promise<void>((r) => (open = r));
          waiting = new Promise<void>((r) => (entered = r));
        },
        /** Resolves once an admission is parked in loadState. */
        parked: () => waiting,
        release: () => {
          gate = undefined;
          open();
        },
      };
    }

    // remove() deletes a DID's pending record when its last pooled tx leaves; an
    // admission parked in loadState that skipped the DID because it was pending must
    // load it again rather than see the DID as unregistered.
    it("an admission in flight while drop() empties a DID's pending entry still sees the committed record", async () => {
      const g = gatedPool();
      committed.commit(createTx(A));
      const update = updateTx(writeParams(A, 1, 1), A.doc);
      await g.pool.add(update.encoded);
      // Another create of A (a different document, so a different tx).
      const recreate = createTx({ ...A, doc: validateDocument({ ...A.doc, alsoKnownAs: ["https://a.example"] }, A.did) });
      g.hold();
      const adding = g.pool.add(recreate.encoded);
      await g.parked();
      g.pool.drop(update.hash, { code: TxErrorCode.BAD_FIELD, message: "left out by the block builder" });
      g.release();
      await expectChainErrorAsync(adding, DidErrorCode.ALREADY_EXISTS);
      expect(g.pool.has(recreate.hash)).to.equal(false);
    });

    it("an admission in flight while a block lands is checked against the new state", async () => {
      const g = gatedPool();
      committed.commit(createTx(A));
      g.hold();
      const mine = updateTx(writeParams(A, 1, 1), addVerificationMethod(A.doc, K2.publicKey, "key-2", ["authentication"]));
      const adding = g.pool.add(mine.encoded);
      await g.parked();
      const hashes = committed.commit(updateTx(writeParams(A, 1, 1), A.doc));
      const landed = g.pool.onBlockCommitted(hashes);
      g.release();
      await landed;
      await expectChainErrorAsync(adding, DidErrorCode.STALE_VERSION);
      expect(g.pool.size).to.equal(0);
    });
  });

  describe("reap", () => {
    it("honours maxTxs and maxBytes, oldest first", async () => {
      const txs = [createTx(A), createTx(B), createTx(C)];
      for (const c of txs) await pool.add(c.encoded);
      const len = txs.map((c) => c.encoded.length);
      const hashes = (cs: CheckedTx[]) => cs.map((c) => hex(c.hash));
      expect(hashes(pool.reap(2, 1 << 20))).to.deep.equal(hashes(txs.slice(0, 2)));
      expect(hashes(pool.reap(0, 1 << 20))).to.deep.equal([]);
      expect(hashes(pool.reap(10, len[0]! + len[1]!))).to.deep.equal(hashes(txs.slice(0, 2)));
      expect(hashes(pool.reap(10, len[0]! + len[1]! - 1))).to.deep.equal(hashes(txs.slice(0, 1)));
      expect(hashes(pool.reap(10, len[0]! - 1))).to.deep.equal([]);
      expect(pool.size, "reap does not remove").to.equal(3);
    });

    it("drop removes a tx and records why", async () => {
      const a = createTx(A);
      await pool.add(a.encoded);
      pool.drop(a.hash, { code: TxErrorCode.BAD_FIELD, message: "dropped by the block builder" });
      expect(pool.size).to.equal(0);
      expect(pool.byteSize).to.equal(0);
      expect(pool.rejection(a.hash)).to.deep.equal({ code: TxErrorCode.BAD_FIELD, message: "dropped by the block builder" });
    });
  });

  describe("waitForTxs", () => {
    it("resolves when a tx arrives", async () => {
      let resolved = false;
      // Far longer than the test's own timeout: only an arrival can resolve it in time.
      const waiting = pool.waitForTxs(10 * 60_000).then(() => (resolved = true));
      await new Promise((r) => setImmediate(r));
      expect(resolved).to.equal(false);
      await pool.add(createTx(A).encoded);
      await waiting;
      expect(resolved).to.equal(true);
    });

    it("resolves at once when the pool holds a tx", async () => {
      await pool.add(createTx(A).encoded);
      let resolved = false;
      const waiting = pool.waitForTxs(10 * 60_000).then(() => (resolved = true));
      await new Promise((r) => setImmediate(r));
      expect(resolved).to.equal(true);
      await waiting;
    });

    it("resolves after its timeout when nothing arrives", async () => {
      await pool.waitForTxs(1);
      expect(pool.size).to.equal(0);
    });
  });
});
