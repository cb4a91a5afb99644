/**
 * Export pages (registry_export's reader) over a real store, and the
 * mirror's verifier (scripts/mirror.ts) over those pages: pages bounded by
 * bytes follow each other with no gap or repeat; the verifier accepts them
 * all and refuses each kind of tampering with the code of the check.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChainStore } from "../../../src/chain/store.js";
import { ValidatorSetTracker } from "../../../src/client/trust.js";
import { decodeCommit, encodeCommit } from "../../../src/chain/block.js";
import { fromBase64, toBase64 } from "../../../src/crypto/bytes.js";
import { ExportPageReader, ExportStream, type ExportPage } from "../../../src/rpc/export-methods.js";
import { ExportVerifier, type MirroredDid, MirrorError, MirrorErrorCode } from "../../../scripts/mirror.js";
import { VALIDATORS } from "../../helpers/chain.js";
import { OTHER, SUBJECT, buildExportChain } from "../../helpers/export-chain.js";
import { CHAIN_ID } from "../../helpers/fixtures.js";

function readerOf(store: ChainStore): ExportPageReader {
  return new ExportPageReader({
    chainId: CHAIN_ID,
    lastExportSeq: () => store.lastExportSeq(),
    exportEntries: (a, l) => store.exportEntries(a, l),
    getBlock: (h) => store.getBlock(h),
    getCommit: (h) => store.getCommit(h),
  });
}

function verifierOf(dids = new Map<string, MirroredDid>(), last = 0): ExportVerifier {
  return new ExportVerifier(CHAIN_ID, new ValidatorSetTracker(CHAIN_ID, VALIDATORS), { getDid: async (d) => dids.get(d) }, async () => [], last);
}

async function refusal(v: ExportVerifier, page: ExportPage): Promise<MirrorError> {
  let thrown: unknown;
  await v.verifyPage(page).catch((e: unknown) => (thrown = e));
  expect(thrown, "the verifier accepted a tampered page").to.be.instanceOf(MirrorError);
  return thrown as MirrorError;
}

const copy = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe("rpc/export: pages and the mirror's checks", function () {
  this.timeout(30_000);
  let dir: string;
  let store: ChainStore;
  let total: number;
  let reader: ExportPageReader;
  /** The whole log in one page, with blocks. */
  let full: ExportPage;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sid-export-rpc-"));
    store = await ChainStore.open(join(dir, "db"));
    total = await buildExportChain(store);
    reader = readerOf(store);
    full = await reader.readPage({ after: 0, limit: 1000, blocks: true, maxBytes: 1 << 24 });
  });
  after(async () => {
    await store?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it("pages by bytes: every entry once, in order, each page within the bound (one entry at least), next null on the last", async () => {
    expect(full.entries.length).to.equal(total);
    expect(full.next).to.equal(null);
    expect(full.last).to.equal(total);
    for (const maxBytes of [1, 1500, 4000]) {
      const seen: number[] = [];
      let after = 0;
      let pages = 0;
      for (;;) {
        const p = await reader.readPage({ after, limit: 1000, blocks: false, maxBytes });
        pages++;
        const bytes = p.entries.reduce((s, e) => s + Buffer.byteLength(JSON.stringify(e)) + 1, 0);
        if (p.entries.length > 1) expect(bytes).to.be.at.most(maxBytes);
        seen.push(...p.entries.map((e) => e.seq));
        if (p.next === null) break;
        expect(p.next).to.equal(p.entries[p.entries.length - 1]!.seq);
        after = p.next;
      }
      expect(seen).to.deep.equal(Array.from({ length: total }, (_, i) => i + 1));
      if (maxBytes === 1) expect(pages).to.equal(total);
    }
    const byCount = await reader.readPage({ after: 2, limit: 3, blocks: false, maxBytes: 1 << 20 });
    expect(byCount.entries.map((e) => e.seq)).to.deep.equal([3, 4, 5]);
    expect(byCount.next).to.equal(5);
    expect(byCount.blocks).to.equal(undefined);
    expect((await reader.readPage({ after: total, limit: 10, blocks: true, maxBytes: 1 << 20 })).entries).to.deep.equal([]);
    // A block the client holds from its previous page is left out; the others come.
    const known = await reader.readPage({ after: 0, limit: 1000, blocks: true, knownBlock: 1, maxBytes: 1 << 20 });
    expect(Object.keys(known.blocks!).sort()).to.deep.equal(Object.keys(full.blocks!).filter((h) => h !== "1").sort());
    expect(known.entries).to.deep.equal(full.entries);
  });

  it("the mirror's verifier accepts the pages, in any page size, and ends at the last seq", async () => {
    const dids = new Map<string, MirroredDid>();
    const v = verifierOf(dids);
    let after = 0;
    for (;;) {
      const p = await reader.readPage({ after, limit: 2, blocks: true, maxBytes: 1 << 20 });
      const out = await v.verifyPage(p);
      expect(out.ops.length).to.equal(p.entries.length);
      // What a page wrote is the mirror's state for the next (Mirror.apply keeps it in its LevelDB).
      for (const [did, d] of out.dids) dids.set(did, d);
      if (p.next === null) break;
      after = p.next;
    }
    expect(v.last).to.equal(total);
    expect(dids.get(SUBJECT.did)?.deactivated).to.equal(true);
  });

  it("refuses a gap, a repeat and a page without its blocks", async () => {
    const skipped = copy(full);
    skipped.entries.splice(3, 1);
    expect((await refusal(verifierOf(), skipped)).code).to.equal(MirrorErrorCode.GAP);
    const repeated = copy(full);
    repeated.entries.splice(3, 0, repeated.entries[2]!);
    expect((await refusal(verifierOf(), repeated)).code).to.equal(MirrorErrorCode.GAP);
    // Resuming at a cursor: the first entry must be the one after it.
    expect((await refusal(verifierOf(new Map(), 1), full)).code).to.equal(MirrorErrorCode.GAP);
    const bare = await reader.readPage({ after: 0, limit: 5, blocks: false, maxBytes: 1 << 20 });
    expect((await refusal(verifierOf(), bare)).code).to.equal(MirrorErrorCode.MALFORMED);
  });

  it("refuses a tx that is not the block's, a tampered block, a commit the validators did not sign", async () => {
    const swapped = copy(full);
    swapped.entries[1]!.tx = swapped.entries[2]!.tx;
    expect((await refusal(verifierOf(), swapped)).code).to.equal(MirrorErrorCode.NOT_IN_BLOCK);

    const rehashed = copy(full);
    // The entry's own hash made to match the swapped tx: the block's list still names the real one.
    rehashed.entries[1]!.tx = rehashed.entries[2]!.tx;
    rehashed.entries[1]!.txHash = rehashed.entries[2]!.txHash;
    expect((await refusal(verifierOf(), rehashed)).code).to.equal(MirrorErrorCode.NOT_IN_BLOCK);

    const listEdited = copy(full);
    const b1 = listEdited.blocks!["1"]!;
    b1.txHashes[1] = listEdited.entries[2]!.txHash;
    listEdited.entries[1]!.tx = listEdited.entries[2]!.tx;
    listEdited.entries[1]!.txHash = listEdited.entries[2]!.txHash;
    expect((await refusal(verifierOf(), listEdited)).code).to.equal(MirrorErrorCode.NOT_IN_BLOCK);

    const badSig = copy(full);
    const commit = decodeCommit(fromBase64(badSig.blocks!["1"]!.commit));
    const sig = new Uint8Array(commit.sigs[0]!.sig);
    sig[10]! ^= 0x01;
    badSig.blocks!["1"]!.commit = toBase64(encodeCommit({ ...commit, sigs: [{ validator: commit.sigs[0]!.validator, sig }] }));
    const e = await refusal(verifierOf(), badSig);
    expect(e.code).to.equal(MirrorErrorCode.UNCOMMITTED);
    expect(e.message).to.match(/signed 0 of 10 power/);

    const otherHeader = copy(full);
    otherHeader.blocks!["1"]!.header = otherHeader.blocks!["2"]!.header;
    expect((await refusal(verifierOf(), otherHeader)).code).to.equal(MirrorErrorCode.UNCOMMITTED);

    const otherChain = new ExportVerifier("sid-other", new ValidatorSetTracker("sid-other", VALIDATORS), { getDid: async () => undefined }, async () => [], 0);
    expect((await refusal(otherChain, full)).code).to.equal(MirrorErrorCode.UNCOMMITTED);
  });

  it("refuses an op named other than its tx says", async () => {
    const renamed = copy(full);
    renamed.entries[0]!.subject = OTHER.did;
    expect((await refusal(verifierOf(), renamed)).code).to.equal(MirrorErrorCode.WRONG_OP);
    const rekind = copy(full);
    rekind.entries[0]!.kind = "did/update";
    expect((await refusal(verifierOf(), rekind)).code).to.equal(MirrorErrorCode.WRONG_OP);
  });

  it("checks each signature against the signer's document as the mirror holds it", async () => {
    const upd = full.entries.find((e) => e.kind === "did/update")!;
    const page: ExportPage = { ...copy(full), entries: [copy(upd)] };
    // A mirror that holds no document for the signer cannot accept its op.
    expect((await refusal(verifierOf(new Map(), upd.seq - 1), page)).code).to.equal(MirrorErrorCode.BAD_SIGNATURE);
    // Nor one whose document for the signer has another key.
    const wrong = new Map<string, MirroredDid>([[SUBJECT.did, { document: { ...OTHER.doc, id: SUBJECT.did }, deactivated: false }]]);
    expect((await refusal(verifierOf(wrong, upd.seq - 1), page)).code).to.equal(MirrorErrorCode.BAD_SIGNATURE);
    // With the signer's real document it verifies.
    const right = new Map<string, MirroredDid>([[SUBJECT.did, { document: SUBJECT.doc, deactivated: false }]]);
    expect((await verifierOf(right, upd.seq - 1).verifyPage(page)).ops.length).to.equal(1);
  });

  it("streams pages one at a time, the next only once the connection drained the last: a slow client is paged, not buffered for", async () => {
    const sent: ExportPage[] = [];
    let release: (() => void) | undefined;
    let ended = false;
    const stream = new ExportStream(
      reader,
      {
        notify: (json) => sent.push(JSON.parse(json) as ExportPage),
        // Queue empty before the first page; after each page, drained only when the test says so.
        drained: () => (sent.length === 0 ? Promise.resolve() : new Promise<void>((r) => (release = r))),
        ended: () => ended,
      },
      { after: 0, blocks: false, maxBytes: 2000 },
    );
    const settle = () => new Promise((r) => setTimeout(r, 30));
    const entriesSent = () => sent.reduce((n, p) => n + p.entries.length, 0);
    /** Until the stream waits for the client (a page out, the queue not drained) or has sent everything. */
    const waiting = async () => {
      for (let i = 0; i < 500 && release === undefined && entriesSent() < total; i++) await settle();
    };
    stream.poke();
    await settle();
    expect(sent.length, "nothing before start").to.equal(0);
    stream.start();
    await waiting();
    expect(sent.length).to.equal(1);
    // New blocks arrive while the client has not taken its page: still one page queued.
    stream.poke();
    stream.poke();
    await settle();
    expect(sent.length).to.equal(1);
    while (release) {
      const r = release;
      release = undefined;
      const before = sent.length;
      // Once everything is out, the pokes made meanwhile only find nothing new: no page.
      const allOut = entriesSent() === total;
      r();
      await waiting();
      expect(sent.length).to.equal(allOut ? before : before + 1);
    }
    const seqs = sent.flatMap((p) => p.entries.map((e) => e.seq));
    expect(seqs).to.deep.equal(Array.from({ length: total }, (_, i) => i + 1));
    expect(sent.length).to.be.greaterThan(1);
    expect(stream.position).to.equal(total);
    // An ended subscription sends nothing more.
    ended = true;
    stream.poke();
    await settle();
    expect(sent.flatMap((p) => p.entries).length).to.equal(total);
  });
});
