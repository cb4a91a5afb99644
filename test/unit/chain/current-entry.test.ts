/**
 * A DID's current version has no entry under DidVersionEntry while its
 * record refers to the create or update tx that made it: the record and the
 * tx give the entry. Every reader of the version index answers as if all
 * entries were stored, through updates (the entry is stored then), a
 * controller's write that moves only a nonce (the record is rewritten
 * without a version), a create and update in one block, a deactivation,
 * and a reopen with no cache.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { didKey, didVersionEntryKey, metaKey } from "../../../src/chain/buckets.js";
import type { CheckedTx } from "../../../src/chain/execute.js";
import type { DidVersion } from "../../../src/chain/state.js";
import { ChainStore, type DidVersionEntry } from "../../../src/chain/store.js";
import { addService } from "../../../src/did/document-edit.js";
import { validateDocument } from "../../../src/did/document.js";
import { createTx, deactivateTx, fixedKey, testDid, updateTx, writeParams } from "../../helpers/fixtures.js";
import { commitTxsAsNextBlock } from "../../helpers/store-blocks.js";

const A = testDid(fixedKey(31));
const D = testDid(fixedKey(33));
const C0 = testDid(fixedKey(32));
/** C names A as a controller: A's writes to C move A's nonce and no version of A. */
const C = { ...C0, doc: validateDocument({ ...C0.doc, controller: [C0.did, A.did] }, C0.did) };
const GENESIS_HASH = new Uint8Array(32).fill(0x47);
const GENESIS_TIME = 1_700_000_000_000;

const entryOf = (v: DidVersion): DidVersionEntry => ({ versionId: v.versionId, operation: v.operation, height: v.height, time: v.time, txHash: v.txHash });
const service = (did: string, n: number) => ({ id: `${did}#s${n}`, type: "LinkedDomains", serviceEndpoint: `https://s${n}.example` });

describe("chain/store: the current version's entry is read from its record", function () {
  this.timeout(30_000);
  let dir: string;
  let store: ChainStore;
  const committed: DidVersion[] = [];
  const next = async (txs: CheckedTx[]) => committed.push(...(await commitTxsAsNextBlock(store, txs, { sigs: [] })).effects.versions);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sid-current-entry-test-"));
    store = await ChainStore.open(join(dir, "db"));
    await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
  });
  after(async () => {
    await store?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Whether the entry of `did`'s version `n` is stored. */
  const stored = async (did: string, n: number) => (await store.db.get(didVersionEntryKey(did, n))) !== undefined;

  /** Every reader of the version index against the versions as committed. */
  const answersAsCommitted = async (s: ChainStore) => {
    for (const did of [A.did, C.did, D.did]) {
      const mine = committed.filter((v) => v.did === did);
      const entries = mine.map(entryOf);
      expect(await s.getDidVersions(did), `${did} versions`).to.deep.equal(mine);
      expect(await s.didVersionPage(did, { limit: 100, maxBytes: 1 << 20 }), `${did} page`).to.deep.equal({ entries, more: false });
      // One at a time: each page says whether more follow, the current version included.
      const walked: DidVersionEntry[] = [];
      for (let after = 0, more = true; more; ) {
        const p = await s.didVersionPage(did, { after, limit: 1, maxBytes: 1 << 20 });
        walked.push(...p.entries);
        more = p.more;
        after = p.entries.at(-1)?.versionId ?? after;
        expect(walked.length, `${did} walk`).to.be.at.most(entries.length);
      }
      expect(walked, `${did} walked`).to.deep.equal(entries);
      for (const e of entries) {
        expect(await s.getDidVersionEntry(did, e.versionId), `${did} v${e.versionId}`).to.deep.equal(e);
        // Versions of one block share its time: the last of them is valid then.
        const valid = entries.filter((x) => x.time <= e.time).at(-1)!.versionId;
        expect(await s.didVersionAt(did, e.time), `${did} at v${e.versionId}`).to.equal(valid);
      }
      expect(await s.getDidVersionEntry(did, entries.length + 1)).to.equal(undefined);
      expect(await s.getDidVersion(did, entries.length + 1)).to.equal(undefined);
      expect(await s.didVersionAt(did, entries[0]!.time - 1)).to.equal(undefined);
    }
  };

  it("stores no entry for a created DID, and reads it from the record", async () => {
    await next([createTx(A), createTx(C), createTx(D), updateTx(writeParams(D, 1, 1), addService(D.doc, service(D.did, 1)))]);
    expect((await store.db.get(didKey(A.did)))![0]).to.equal(0x01);
    // A new store marks its tx index as having 12-byte keys only.
    expect((await store.db.get(metaKey("txIndex")))?.[0]).to.equal(2);
    expect(await stored(A.did, 1)).to.equal(false);
    expect(await stored(C.did, 1)).to.equal(false);
    // Created and updated in one block: the first version is not current, so its entry is stored.
    expect(await stored(D.did, 1)).to.equal(true);
    expect(await stored(D.did, 2)).to.equal(false);
    await answersAsCommitted(store);
  });

  it("stores the entry when the DID is updated, and not the new one", async () => {
    await next([updateTx(writeParams(A, 1, 1), addService(A.doc, service(A.did, 1)))]);
    expect(await stored(A.did, 1)).to.equal(true);
    expect(await stored(A.did, 2)).to.equal(false);
    await answersAsCommitted(store);
  });

  it("stores the entry when a controller's write rewrites the record without a version", async () => {
    await next([updateTx(writeParams(C, 1, 2, { did: A.did, keyId: A.keyId, secretKey: A.key.secretKey }), addService(C.doc, service(C.did, 1)))]);
    // A signed, so its nonce moved: its record is rewritten whole, at version 2 still.
    expect((await store.db.get(didKey(A.did)))![0]).to.be.within(0xa0, 0xbb);
    expect(await stored(A.did, 2)).to.equal(true);
    expect(await stored(C.did, 1)).to.equal(true);
    expect(await stored(C.did, 2)).to.equal(false);
    await answersAsCommitted(store);
  });

  it("stores every entry of a deactivated DID, and reads the same after a reopen", async () => {
    await next([deactivateTx(writeParams(A, 2, 3)), updateTx(writeParams(D, 2, 2), addService(D.doc, service(D.did, 2)))]);
    for (const n of [1, 2, 3]) expect(await stored(A.did, n), `A v${n}`).to.equal(true);
    expect(await stored(D.did, 2)).to.equal(true);
    expect(await stored(D.did, 3)).to.equal(false);
    await answersAsCommitted(store);
    const path = join(dir, "db");
    await store.close();
    store = await ChainStore.open(path);
    await answersAsCommitted(store);
  });
});
