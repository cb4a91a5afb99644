/**
 * Pages bounded by count and by bytes: a client that follows `next` sees
 * every item once, in order, whatever the sizes, and every page holds at
 * least one item.
 */
import { expect } from "chai";
import fc from "fast-check";
import { pageByBytes } from "../../../src/rpc/paging.js";
import { DEFAULT_ANSWER_LIMITS } from "../../../src/rpc/jsonrpc.js";

interface Rec {
  id: string;
  body: string;
}

const rec = (i: number, size: number): Rec => ({ id: `k${String(i).padStart(4, "0")}`, body: "x".repeat(size) });
const bytesOf = (r: Rec) => Buffer.byteLength(JSON.stringify(r)) + 1;

/** Follow `next` through a sorted store the way a client would; the pages seen. */
function walk(store: Rec[], limit: number, maxPageBytes: number): Rec[][] {
  const pages: Rec[][] = [];
  let after: string | null = null;
  for (let guard = 0; guard < store.length + 2; guard++) {
    const from: number = after === null ? 0 : store.findIndex((r) => r.id > after!);
    // The store returns up to `limit` records after the cursor.
    const records = from < 0 ? [] : store.slice(from, from + limit);
    const page = pageByBytes(records, limit, { maxPageBytes }, (r) => r, (r) => r.id);
    pages.push(page.items as Rec[]);
    if (page.next === null) return pages;
    after = page.next;
  }
  throw new Error("paging did not end");
}

describe("rpc/paging", () => {
  it("a page that fits ends at the limit, with next set to the last item (there may be more)", () => {
    const store = Array.from({ length: 5 }, (_, i) => rec(i, 10));
    const p = pageByBytes(store.slice(0, 3), 3, { maxPageBytes: 10_000 }, (r) => r, (r) => r.id);
    expect(p.items).to.deep.equal(store.slice(0, 3));
    expect(p.next).to.equal("k0002");
  });

  it("a short page (the store had fewer than the limit) has next null", () => {
    const store = Array.from({ length: 2 }, (_, i) => rec(i, 10));
    expect(pageByBytes(store, 3, { maxPageBytes: 10_000 }, (r) => r, (r) => r.id)).to.deep.equal({ items: store, next: null });
    expect(pageByBytes<Rec>([], 3, { maxPageBytes: 10_000 }, (r) => r, (r) => r.id)).to.deep.equal({ items: [], next: null });
  });

  it("stops before the item that would take the page past maxPageBytes, counting each item's JSON and a comma", () => {
    const store = Array.from({ length: 4 }, (_, i) => rec(i, 100));
    const two = bytesOf(store[0]!) * 2;
    const exact = pageByBytes(store, 10, { maxPageBytes: two }, (r) => r, (r) => r.id);
    expect(exact.items).to.have.length(2);
    expect(exact.next).to.equal("k0001");
    const oneShort = pageByBytes(store, 10, { maxPageBytes: two - 1 }, (r) => r, (r) => r.id);
    expect(oneShort.items).to.have.length(1);
    expect(oneShort.next).to.equal("k0000");
  });

  it("holds one item even when that item alone is over the bound, so paging advances", () => {
    const store = [rec(0, 5_000), rec(1, 5)];
    const p = pageByBytes(store, 10, { maxPageBytes: 100 }, (r) => r, (r) => r.id);
    expect(p.items).to.deep.equal([store[0]]);
    expect(p.next).to.equal("k0000");
  });

  it("counts what toJson gives (UTF-8 bytes), not the stored record", () => {
    const store = [rec(0, 1), rec(1, 1), rec(2, 1)];
    // Each item's JSON is "\"é…\"" of 40 two-byte chars: 82 bytes + comma.
    const toJson = () => "é".repeat(40);
    expect(pageByBytes(store, 10, { maxPageBytes: 166 }, toJson, (r) => r.id).items).to.have.length(2);
    expect(pageByBytes(store, 10, { maxPageBytes: 165 }, toJson, (r) => r.id).items).to.have.length(1);
  });

  it("without a context the default page bound applies", () => {
    const big = Math.ceil(DEFAULT_ANSWER_LIMITS.maxPageBytes / 3);
    const store = Array.from({ length: 4 }, (_, i) => rec(i, big));
    expect(pageByBytes(store, 10, undefined, (r) => r, (r) => r.id).items).to.have.length(2);
  });

  it("following next visits every item once, in order, for any sizes, limit and bound", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 40 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 1_000 }), (sizes, limit, maxPageBytes) => {
        const store = sizes.map((s, i) => rec(i, s));
        const pages = walk(store, limit, maxPageBytes);
        expect(pages.flat().map((r) => r.id)).to.deep.equal(store.map((r) => r.id));
        for (const [i, p] of pages.entries()) {
          expect(p.length).to.be.at.most(limit);
          // Every page but a final empty one holds an item; a page of two or more keeps to the bound.
          if (i < pages.length - 1) expect(p.length).to.be.greaterThan(0);
          if (p.length > 1) expect(p.reduce((n, r) => n + bytesOf(r), 0)).to.be.at.most(maxPageBytes);
        }
      }),
      { numRuns: 200 },
    );
  });
});
