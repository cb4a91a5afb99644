import { expect } from "chai";
import { ChainError, DidErrorCode, TxErrorCode } from "../../../src/chain/errors.js";
import { type CheckedTx, type ExecContext, OverlayView, SignatureVerifier, applyBlockTxs, applyTxsLeavingOutFailures, checkTx, touchedKeys } from "../../../src/chain/execute.js";
import type { DidRecord } from "../../../src/chain/state.js";
import { TX_VERSION, TxType, type Tx, type UnsignedTx } from "../../../src/chain/tx.js";
import { createDidTx, sealTx } from "../../../src/client/txs.js";
import { publicKeyToJwk } from "../../../src/crypto/encoding.js";
import { buildInitialDocument, validateDocument, type DidDocument } from "../../../src/did/document.js";
import { addVerificationMethod, removeVerificationMethod } from "../../../src/did/document-edit.js";
import {
  CHAIN_ID,
  MapView,
  type TestDid,
  checked,
  createTx,
  deactivateTx,
  execContext,
  expectChainError,
  fixedKey,
  hex,
  testDid,
  testKey,
  updateTx,
  writeParams,
} from "../../helpers/fixtures.js";

const A = testDid(testKey(0));
const B = testDid(testKey(1));
const C = testDid(fixedKey(3));
const K2 = fixedKey(4); // a second key for A

function apply(view: MapView, c: CheckedTx, ctx: ExecContext = execContext()) {
  const effect = checkTx(view, c, ctx);
  view.put(...effect.writes);
  return effect;
}

function signerOf(d: TestDid) {
  return { did: d.did, keyId: d.keyId, secretKey: d.key.secretKey };
}

/** A with `controller: <dids>` in its document. */
function withController(d: TestDid, controller: string | string[]): TestDid {
  const doc = validateDocument({ ...buildInitialDocument(d.key.publicKey), controller }, d.did);
  return { ...d, doc };
}

function snapshot(view: MapView): unknown {
  return structuredClone([...view.records.entries()]);
}

describe("chain/execute", () => {
  describe("create", () => {
    it("creates the record at version 1, nonce 1", () => {
      const view = new MapView();
      const ctx = execContext({ height: 12, time: 1_700_000_123_000 });
      const c = createTx(A);
      const effect = apply(view, c, ctx);
      expect(effect.writes).to.have.length(1);
      const r = view.getDid(A.did)!;
      expect(r).to.deep.equal({
        did: A.did,
        document: A.doc,
        versionId: 1,
        nonce: 1,
        created: 1_700_000_123_000,
        updated: 1_700_000_123_000,
        createdHeight: 12,
        updatedHeight: 12,
        deactivated: false,
      });
      expect(effect.version).to.deep.equal({
        did: A.did,
        versionId: 1,
        operation: "create",
        height: 12,
        time: 1_700_000_123_000,
        txHash: c.hash,
        document: A.doc,
      });
    });

    it("refuses a create signed by a key the id does not derive from (DID_ID_MISMATCH)", () => {
      // A's id, but signed by K2 which is listed in authentication.
      const doc = addVerificationMethod(A.doc, K2.publicKey, "key-2", ["authentication"]);
      const s = createDidTx(CHAIN_ID, K2, doc);
      expect(s.tx.signer).to.equal(A.did);
      expect(s.tx.vm).to.equal(`${A.did}#key-2`);
      expectChainError(() => checkTx(new MapView(), checked(s), execContext()), DidErrorCode.ID_MISMATCH);
    });

    it("refuses a create whose signer is not the DID created (DID_ID_MISMATCH)", () => {
      const unsigned: UnsignedTx = {
        v: TX_VERSION,
        type: TxType.DidCreate,
        chainId: CHAIN_ID,
        signer: B.did,
        vm: B.keyId,
        seq: 0,
        payload: { document: A.doc },
      };
      expectChainError(() => checkTx(new MapView(), checked(sealTx(unsigned, B.key.secretKey)), execContext()), DidErrorCode.ID_MISMATCH);
    });

    it("refuses a create signed with a key not in authentication (TX_UNAUTHORIZED)", () => {
      const doc = addVerificationMethod(A.doc, K2.publicKey, "key-2", ["assertionMethod"]);
      const unsigned: UnsignedTx = {
        v: TX_VERSION,
        type: TxType.DidCreate,
        chainId: CHAIN_ID,
        signer: A.did,
        vm: `${A.did}#key-2`,
        seq: 0,
        payload: { document: doc },
      };
      expectChainError(() => checkTx(new MapView(), checked(sealTx(unsigned, K2.secretKey)), execContext()), TxErrorCode.UNAUTHORIZED);
    });

    it("refuses to create an existing DID (DID_ALREADY_EXISTS)", () => {
      const view = new MapView();
      apply(view, createTx(A));
      expectChainError(() => checkTx(view, createTx(A), execContext()), DidErrorCode.ALREADY_EXISTS);
    });

    it("refuses a create with seq != 0 (TX_BAD_SEQUENCE)", () => {
      const s = createDidTx(CHAIN_ID, A.key, A.doc);
      const { sig: _sig, ...unsigned } = s.tx;
      const c = checked(sealTx({ ...unsigned, seq: 1 } as UnsignedTx, A.key.secretKey));
      const e = expectChainError(() => checkTx(new MapView(), c, execContext()), TxErrorCode.BAD_SEQUENCE);
      expect(e.data).to.deep.include({ expected: 0, got: 1 });
    });

    it("refuses a create signed with another key (TX_BAD_SIGNATURE)", () => {
      const { sig: _sig, ...unsigned } = createDidTx(CHAIN_ID, A.key, A.doc).tx;
      const c = checked(sealTx(unsigned, B.key.secretKey));
      expectChainError(() => checkTx(new MapView(), c, execContext()), TxErrorCode.BAD_SIGNATURE);
    });
  });

  describe("update", () => {
    let view: MapView;
    beforeEach(() => {
      view = new MapView();
      apply(view, createTx(A), execContext({ height: 1, time: 1000 }));
    });

    it("replaces the document, version + 1, nonce + 1", () => {
      const doc2 = addVerificationMethod(A.doc, K2.publicKey, "key-2", ["authentication"]);
      const c = updateTx(writeParams(A, 1, 1), doc2);
      const effect = apply(view, c, execContext({ height: 2, time: 2000 }));
      expect(effect.writes).to.have.length(1);
      const r = view.getDid(A.did)!;
      expect(r.document).to.deep.equal(doc2);
      expect(r.versionId).to.equal(2);
      expect(r.nonce).to.equal(2);
      expect([r.created, r.createdHeight, r.updated, r.updatedHeight]).to.deep.equal([1000, 1, 2000, 2]);
      expect(r.deactivated).to.equal(false);
      expect(effect.version).to.deep.include({ did: A.did, versionId: 2, operation: "update", height: 2, time: 2000, document: doc2 });
      expect(effect.version!.txHash).to.deep.equal(c.hash);
    });

    it("refuses an update naming a stale version (DID_STALE_VERSION)", () => {
      apply(view, updateTx(writeParams(A, 1, 1), A.doc));
      const e = expectChainError(() => checkTx(view, updateTx(writeParams(A, 1, 2), A.doc), execContext()), DidErrorCode.STALE_VERSION);
      expect(e.data?.current).to.equal("2");
      // A version from the future is stale as well.
      expectChainError(() => checkTx(view, updateTx(writeParams(A, 3, 2), A.doc), execContext()), DidErrorCode.STALE_VERSION);
    });

    it("refuses to replay an update that already applied", () => {
      const c = updateTx(writeParams(A, 1, 1), A.doc);
      apply(view, c);
      let thrown: unknown;
      try {
        checkTx(view, c, execContext());
      } catch (e) {
        thrown = e;
      }
      expect(thrown).to.be.instanceOf(ChainError);
      expect([DidErrorCode.STALE_VERSION, TxErrorCode.BAD_SEQUENCE]).to.include((thrown as ChainError).code);
    });

    it("refuses an update with the wrong sequence (TX_BAD_SEQUENCE)", () => {
      for (const seq of [0, 2]) {
        const e = expectChainError(() => checkTx(view, updateTx(writeParams(A, 1, seq), A.doc), execContext()), TxErrorCode.BAD_SEQUENCE);
        expect(e.data).to.deep.include({ expected: 1, got: seq });
      }
    });

    it("refuses an update signed by a key not in authentication (TX_UNAUTHORIZED)", () => {
      const doc2 = addVerificationMethod(A.doc, K2.publicKey, "key-2", ["assertionMethod", "capabilityInvocation"]);
      apply(view, updateTx(writeParams(A, 1, 1), doc2));
      const byKey2 = writeParams(A, 2, 2, { did: A.did, keyId: `${A.did}#key-2`, secretKey: K2.secretKey });
      expectChainError(() => checkTx(view, updateTx(byKey2, doc2), execContext()), TxErrorCode.UNAUTHORIZED);
      // A verification method that does not exist at all.
      const byKey9 = writeParams(A, 2, 2, { did: A.did, keyId: `${A.did}#key-9`, secretKey: K2.secretKey });
      expectChainError(() => checkTx(view, updateTx(byKey9, doc2), execContext()), TxErrorCode.UNAUTHORIZED);
    });

    it("refuses an update signed with another key than the vm's (TX_BAD_SIGNATURE)", () => {
      const p = { ...writeParams(A, 1, 1), secretKey: K2.secretKey };
      expectChainError(() => checkTx(view, updateTx(p, A.doc), execContext()), TxErrorCode.BAD_SIGNATURE);
    });

    it("key rotation: after key-1 is removed, key-1 signs nothing (TX_UNAUTHORIZED)", () => {
      const key2 = { did: A.did, keyId: `${A.did}#key-2`, secretKey: K2.secretKey };
      const doc2 = addVerificationMethod(A.doc, K2.publicKey, "key-2", ["authentication"]);
      apply(view, updateTx(writeParams(A, 1, 1), doc2));
      const doc3 = removeVerificationMethod(doc2, A.keyId);
      apply(view, updateTx(writeParams(A, 2, 2, key2), doc3));
      expect(view.getDid(A.did)!.versionId).to.equal(3);
      expectChainError(() => checkTx(view, updateTx(writeParams(A, 3, 3), doc3), execContext()), TxErrorCode.UNAUTHORIZED);
      expectChainError(() => checkTx(view, deactivateTx(writeParams(A, 3, 3)), execContext()), TxErrorCode.UNAUTHORIZED);
      // key-2 still works.
      apply(view, updateTx(writeParams(A, 3, 3, key2), doc3));
      expect(view.getDid(A.did)!.versionId).to.equal(4);
    });

    it("refuses an update of an unknown DID (DID_NOT_FOUND)", () => {
      expectChainError(() => checkTx(view, updateTx(writeParams(C, 1, 1), C.doc), execContext()), DidErrorCode.NOT_FOUND);
      expectChainError(() => checkTx(view, deactivateTx(writeParams(C, 1, 1)), execContext()), DidErrorCode.NOT_FOUND);
    });

    it("refuses a tx of another chain (TX_WRONG_CHAIN)", () => {
      const c = updateTx(writeParams(A, 1, 1), A.doc);
      expectChainError(() => checkTx(view, c, execContext({ chainId: "sid-other" })), TxErrorCode.WRONG_CHAIN);
      const other = updateTx(writeParams(A, 1, 1, undefined, "sid-other"), A.doc);
      expectChainError(() => checkTx(view, other, execContext()), TxErrorCode.WRONG_CHAIN);
    });
  });

  describe("controllers", () => {
    let view: MapView;
    const Actl = withController(A, B.did);
    beforeEach(() => {
      view = new MapView();
      apply(view, createTx(B));
      apply(view, createTx(C));
      apply(view, createTx(Actl));
    });

    it("a listed controller updates with its own key: its nonce moves, the target's does not", () => {
      const doc2 = validateDocument({ ...Actl.doc, service: [{ id: `${A.did}#hub`, type: "Hub", serviceEndpoint: "https://hub.example" }] }, A.did);
      const c = updateTx(writeParams(Actl, 1, 1, signerOf(B)), doc2);
      const effect = apply(view, c);
      expect(effect.writes.map((r) => (r as DidRecord).did)).to.have.members([A.did, B.did]);
      const a = view.getDid(A.did)!;
      expect(a.versionId).to.equal(2);
      expect(a.nonce).to.equal(1);
      expect(a.document).to.deep.equal(doc2);
      const b = view.getDid(B.did)!;
      expect(b.nonce).to.equal(2);
      expect(b.versionId).to.equal(1);
      expect(b.document).to.deep.equal(B.doc);
      // The controller's next tx uses its own sequence.
      expectChainError(() => checkTx(view, updateTx(writeParams(Actl, 2, 1, signerOf(B)), doc2), execContext()), TxErrorCode.BAD_SEQUENCE);
      apply(view, updateTx(writeParams(Actl, 2, 2, signerOf(B)), Actl.doc));
      // And A's own key still uses A's sequence, which did not move.
      apply(view, updateTx(writeParams(Actl, 3, 1), Actl.doc));
      expect(view.getDid(A.did)!.versionId).to.equal(4);
    });

    it("a controller may deactivate", () => {
      apply(view, deactivateTx(writeParams(Actl, 1, 1, signerOf(B))));
      expect(view.getDid(A.did)!.deactivated).to.equal(true);
    });

    it("a DID not listed as controller may not (TX_UNAUTHORIZED)", () => {
      expectChainError(() => checkTx(view, updateTx(writeParams(Actl, 1, 1, signerOf(C)), Actl.doc), execContext()), TxErrorCode.UNAUTHORIZED);
      expectChainError(() => checkTx(view, deactivateTx(writeParams(Actl, 1, 1, signerOf(C))), execContext()), TxErrorCode.UNAUTHORIZED);
    });

    it("a controller's non-authentication key may not (TX_UNAUTHORIZED)", () => {
      const bDoc2 = addVerificationMethod(B.doc, K2.publicKey, "key-2", ["assertionMethod"]);
      apply(view, updateTx(writeParams(B, 1, 1), bDoc2));
      const bKey2 = { did: B.did, keyId: `${B.did}#key-2`, secretKey: K2.secretKey };
      expectChainError(() => checkTx(view, updateTx(writeParams(Actl, 1, 2, bKey2), Actl.doc), execContext()), TxErrorCode.UNAUTHORIZED);
    });

    it("a deactivated controller may not (DID_DEACTIVATED)", () => {
      apply(view, deactivateTx(writeParams(B, 1, 1)));
      expectChainError(() => checkTx(view, updateTx(writeParams(Actl, 1, 2, signerOf(B)), Actl.doc), execContext()), DidErrorCode.DEACTIVATED);
    });

    it("an unregistered controller may not (TX_UNKNOWN_SIGNER)", () => {
      const D = testDid(fixedKey(5));
      const view2 = new MapView();
      const Ad = withController(A, D.did);
      apply(view2, createTx(Ad));
      expectChainError(() => checkTx(view2, updateTx(writeParams(Ad, 1, 1, signerOf(D)), Ad.doc), execContext()), TxErrorCode.UNKNOWN_SIGNER);
    });

    it("touchedKeys lists the target and a foreign signer", () => {
      expect(touchedKeys(createTx(A))).to.deep.equal([A.did]);
      expect(touchedKeys(updateTx(writeParams(A, 1, 1), A.doc))).to.deep.equal([A.did]);
      expect(touchedKeys(updateTx(writeParams(Actl, 1, 1, signerOf(B)), Actl.doc))).to.deep.equal([A.did, B.did]);
    });
  });

  describe("deactivate", () => {
    it("deactivates, keeps the document, then refuses any write (DID_DEACTIVATED)", () => {
      const view = new MapView();
      apply(view, createTx(A));
      const effect = apply(view, deactivateTx(writeParams(A, 1, 1)), execContext({ height: 9, time: 9000 }));
      const r = view.getDid(A.did)!;
      expect(r.deactivated).to.equal(true);
      expect(r.versionId).to.equal(2);
      expect(r.nonce).to.equal(2);
      expect(r.document).to.deep.equal(A.doc);
      expect(r.updated).to.equal(9000);
      expect(effect.version!.operation).to.equal("deactivate");
      expectChainError(() => checkTx(view, updateTx(writeParams(A, 2, 2), A.doc), execContext()), DidErrorCode.DEACTIVATED);
      expectChainError(() => checkTx(view, deactivateTx(writeParams(A, 2, 2)), execContext()), DidErrorCode.DEACTIVATED);
      // Nor can it be created again.
      expectChainError(() => checkTx(view, createTx(A), execContext()), DidErrorCode.ALREADY_EXISTS);
    });
  });

  describe("applyBlockTxs", () => {
    it("applies txs that depend on earlier txs of the same block", () => {
      const base = new MapView();
      const before = snapshot(base);
      const doc2 = addVerificationMethod(A.doc, K2.publicKey, "key-2", ["authentication"]);
      const txs = [createTx(A), updateTx(writeParams(A, 1, 1), doc2), createTx(B), deactivateTx(writeParams(A, 2, 2))];
      const { writes, versions } = applyBlockTxs(base, txs, execContext());
      expect(versions.map((v) => [v.did, v.versionId, v.operation])).to.deep.equal([
        [A.did, 1, "create"],
        [A.did, 2, "update"],
        [B.did, 1, "create"],
        [A.did, 3, "deactivate"],
      ]);
      expect([...writes.keys()]).to.have.members([A.did, B.did]);
      expect(writes.get(A.did)).to.deep.include({ versionId: 3, nonce: 3, deactivated: true, document: doc2 });
      expect(snapshot(base), "the base view is not written").to.deep.equal(before);
    });

    it("throws the first bad tx's error with data.index", () => {
      const txs = [
        createTx(A),
        updateTx(writeParams(A, 1, 1), A.doc),
        updateTx(writeParams(A, 1, 2), A.doc), // stale: A is at version 2 now
        updateTx(writeParams(C, 1, 1), C.doc), // also bad, later
      ];
      const e = expectChainError(() => applyBlockTxs(new MapView(), txs, execContext()), DidErrorCode.STALE_VERSION);
      expect(e.data?.index).to.equal(2);
      expect(e.data?.current).to.equal("2");
      expect(e.message).to.match(/^tx 2 /);
      const e0 = expectChainError(() => applyBlockTxs(new MapView(), [txs[3]!, txs[0]!], execContext()), DidErrorCode.NOT_FOUND);
      expect(e0.data?.index).to.equal(0);
    });

    it("refuses the same tx twice in a block", () => {
      const c = createTx(A);
      const e = expectChainError(() => applyBlockTxs(new MapView(), [c, c], execContext()), DidErrorCode.ALREADY_EXISTS);
      expect(e.data?.index).to.equal(1);
    });

    it("an empty block writes nothing", () => {
      const { writes, versions } = applyBlockTxs(new MapView(), [], execContext());
      expect(writes.size).to.equal(0);
      expect(versions).to.deep.equal([]);
    });

    it("OverlayView reads through to its base until written", () => {
      const base = new MapView();
      apply(base, createTx(A));
      const overlay = new OverlayView(base);
      expect(overlay.getDid(A.did)).to.equal(base.getDid(A.did));
      overlay.apply(checkTx(overlay, updateTx(writeParams(A, 1, 1), A.doc), execContext()));
      expect(overlay.getDid(A.did)!.versionId).to.equal(2);
      expect(base.getDid(A.did)!.versionId).to.equal(1);
    });

    it("a child overlay's writes reach its parent only when merged", () => {
      const base = new MapView();
      apply(base, createTx(A));
      const parent = new OverlayView(base);
      const child = parent.child();
      child.apply(checkTx(child, updateTx(writeParams(A, 1, 1), A.doc), execContext()));
      expect(child.getDid(A.did)!.versionId).to.equal(2);
      expect(parent.getDid(A.did)!.versionId, "not merged yet").to.equal(1);
      expect(parent.writes.size).to.equal(0);
      child.mergeInto(parent);
      expect(parent.getDid(A.did)!.versionId).to.equal(2);
      expect(base.getDid(A.did)!.versionId).to.equal(1);
    });
  });

  describe("applyTxsLeavingOutFailures", () => {
    it("leaves out each failing tx with its error and gives what applyBlockTxs gives for the others alone", () => {
      const good = [createTx(A), updateTx(writeParams(A, 1, 1), A.doc), createTx(B), deactivateTx(writeParams(A, 2, 2))];
      const stale = updateTx(writeParams(A, 1, 2), A.doc); // A is at version 2 by then
      const unknown = updateTx(writeParams(C, 1, 1), C.doc); // C was never created
      const candidates = [good[0]!, good[1]!, stale, good[2]!, unknown, good[3]!];
      const failed: [string, string, string][] = [];
      const out = applyTxsLeavingOutFailures(new MapView(), candidates, execContext(), (c, e) => failed.push([hex(c.hash), e.code, e.message.slice(0, 5)]));
      expect(failed).to.deep.equal([
        [hex(stale.hash), DidErrorCode.STALE_VERSION, "tx 2 "],
        [hex(unknown.hash), DidErrorCode.NOT_FOUND, "tx 3 "],
      ]);
      expect(out.txs).to.deep.equal(good);
      const alone = applyBlockTxs(new MapView(), good, execContext());
      expect(out.effects.versions).to.deep.equal(alone.versions);
      expect([...out.effects.writes]).to.deep.equal([...alone.writes]);
      expect([...out.effects.documents.values()].map(hex)).to.deep.equal([...alone.documents.values()].map(hex));
    });

    it("lets an error that is not a rule's through", () => {
      const view = new MapView();
      const broken = { ...createTx(A), tx: { ...createTx(A).tx, payload: null } } as unknown as CheckedTx;
      expect(() => applyTxsLeavingOutFailures(view, [broken], execContext(), () => expect.fail("not a ChainError"))).to.throw(TypeError);
    });
  });

  describe("SignatureVerifier", () => {
    /** A's record with its key-1 replaced by K2's public key: same tx, other expected key. */
    function viewWithSwappedKey(view: MapView): MapView {
      const r = view.getDid(A.did)!;
      const doc = structuredClone(r.document) as DidDocument;
      doc.verificationMethod![0]!.publicKeyJwk = publicKeyToJwk(K2.publicKey);
      return new MapView().put({ ...r, document: validateDocument(doc, A.did) });
    }

    it("re-checks a verified tx against a different key (TX_BAD_SIGNATURE)", () => {
      const verifier = new SignatureVerifier();
      const view = new MapView();
      apply(view, createTx(A), execContext({ verifier }));
      const c = updateTx(writeParams(A, 1, 1), A.doc);
      checkTx(view, c, execContext({ verifier }));
      expectChainError(() => checkTx(viewWithSwappedKey(view), c, execContext({ verifier })), TxErrorCode.BAD_SIGNATURE);
      // And the original key still verifies afterwards.
      checkTx(view, c, execContext({ verifier }));
    });

    it("does not verify again a tx hash it verified for the same key", () => {
      const verifier = new SignatureVerifier();
      const c = createTx(A);
      expect(verifier.verify(c.hash, c.tx, A.key.publicKey)).to.equal(true);
      // Same hash and key, a corrupted signature: answered from the cache.
      const corrupted = { ...c.tx, sig: new Uint8Array(64).fill(1) } as Tx;
      expect(verifier.verify(c.hash, corrupted, A.key.publicKey)).to.equal(true);
      // Another key: verified again, and the corrupted signature fails.
      expect(verifier.verify(c.hash, corrupted, B.key.publicKey)).to.equal(false);
      expect(verifier.verify(c.hash, c.tx, B.key.publicKey)).to.equal(false);
      // forget() drops the entry.
      verifier.forget(c.hash);
      expect(verifier.verify(c.hash, corrupted, A.key.publicKey)).to.equal(false);
    });

    it("does not cache failures", () => {
      const verifier = new SignatureVerifier();
      const c = createTx(A);
      const corrupted = { ...c.tx, sig: new Uint8Array(64).fill(1) } as Tx;
      expect(verifier.verify(c.hash, corrupted, A.key.publicKey)).to.equal(false);
      expect(verifier.verify(c.hash, c.tx, A.key.publicKey)).to.equal(true);
    });

    it("is bounded: the oldest entry is evicted at capacity", () => {
      const verifier = new SignatureVerifier(1);
      const a = createTx(A);
      const b = createTx(B);
      expect(verifier.verify(a.hash, a.tx, A.key.publicKey)).to.equal(true);
      expect(verifier.verify(b.hash, b.tx, B.key.publicKey)).to.equal(true);
      const corrupted = { ...a.tx, sig: new Uint8Array(64).fill(1) } as Tx;
      expect(verifier.verify(a.hash, corrupted, A.key.publicKey), "evicted, so verified again").to.equal(false);
    });
  });

  it("checkTx never mutates the view, whether it accepts or rejects", () => {
    const view = new MapView();
    const Actl = withController(A, B.did);
    apply(view, createTx(B));
    apply(view, createTx(Actl));
    apply(view, createTx(C));
    const before = snapshot(view);
    const doc2 = addVerificationMethod(Actl.doc, K2.publicKey, "key-2", ["authentication"]);
    const attempts: CheckedTx[] = [
      updateTx(writeParams(Actl, 1, 1), doc2), // ok
      updateTx(writeParams(Actl, 1, 1, signerOf(B)), doc2), // ok, writes B too
      deactivateTx(writeParams(Actl, 1, 1)), // ok
      deactivateTx(writeParams(B, 1, 1)), // ok
      createTx(testDid(fixedKey(6))), // ok
      createTx(A), // exists
      updateTx(writeParams(Actl, 2, 1), doc2), // stale
      updateTx(writeParams(Actl, 1, 1, signerOf(C)), doc2), // unauthorized
      updateTx(writeParams(Actl, 1, 5), doc2), // bad sequence
    ];
    for (const c of attempts) {
      try {
        const effect = checkTx(view, c, execContext());
        // Mutating what checkTx returned must not reach the view either.
        for (const w of effect.writes as DidRecord[]) {
          w.nonce = 999;
          w.versionId = 999;
        }
      } catch (e) {
        expect(e).to.be.instanceOf(ChainError);
      }
    }
    expect(snapshot(view)).to.deep.equal(before);
    const r: DidRecord = view.getDid(A.did)!;
    expect(r.versionId).to.equal(1);
  });
});
