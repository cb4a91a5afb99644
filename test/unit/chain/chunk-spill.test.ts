import { expect } from "chai";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChunkSpill } from "../../../src/chain/snapshot-store.js";
import { chunkIndexOf } from "../../../src/chain/snapshot.js";
import { stateKeyOf } from "../../../src/chain/state.js";
import { compareBytes, toHex } from "../../../src/crypto/bytes.js";

describe("ChunkSpill (records grouped by chunk while a snapshot is cut)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "sid-spill-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const BITS = 12;
  const records = Array.from({ length: 3000 }, (_, n) => ({ id: `did:sid:spill${n}`, bytes: Uint8Array.from({ length: 20 + (n % 50) }, (_, k) => (n + k) & 255) }));
  const show = (items: { id: string; bytes: Uint8Array }[]) => items.map((r) => `${r.id}=${toHex(r.bytes)}`);

  /** Add all records, spilling whenever the spill says it is full; the number of spill rounds. */
  async function fill(spill: ChunkSpill): Promise<number> {
    let rounds = 0;
    for (const r of records) {
      spill.add(r.id, r.bytes);
      if (spill.full) {
        await spill.spill(() => undefined);
        rounds++;
      }
    }
    return rounds;
  }

  const byGroup = new Map<number, typeof records>();
  for (const r of [...records].sort((a, b) => compareBytes(stateKeyOf(a.id), stateKeyOf(b.id)))) {
    const i = chunkIndexOf(stateKeyOf(r.id), BITS);
    byGroup.set(i, [...(byGroup.get(i) ?? []), r]);
  }
  const expected = (i: number) => byGroup.get(i) ?? [];

  it("gives every group its records with their tree keys, sorted by key, across spill rounds and from memory, in any order of groups; its files go as they are read", async () => {
    const spill = new ChunkSpill(BITS, dir, 8 * 1024);
    const rounds = await fill(spill);
    expect(rounds).to.be.greaterThan(5);
    // One file per run of 16 groups at most (256 for 4,096 groups), however many rounds.
    expect(readdirSync(dir).length).to.be.within(2, 256);
    expect(spill.files).to.equal(readdirSync(dir).length);
    // Groups taken from the last to the first: a file is read at the first of its groups asked for, and each group still gets all of its own.
    let seen = 0;
    for (let i = (1 << BITS) - 1; i >= 0; i--) {
      const got = await spill.take(i);
      expect(show(got), `group ${i}`).to.deep.equal(show(expected(i)));
      for (const r of got) expect(toHex(r.key), r.id).to.equal(toHex(stateKeyOf(r.id)));
      seen += got.length;
    }
    expect(seen).to.equal(records.length);
    expect(readdirSync(dir)).to.deep.equal([]);
    expect(spill.files).to.equal(0);
  });

  it("refuses a spill file cut short or holding another file's group, naming it", async () => {
    const spill = new ChunkSpill(BITS, dir, 8 * 1024);
    await fill(spill);
    const [first, second] = readdirSync(dir).sort();
    writeFileSync(join(dir, first!), Uint8Array.of(0, 0, 0));
    const f = Number(first!.slice("spill-".length));
    await spill.take(f << 4).then(
      () => expect.fail("a short file was read"),
      (e: Error) => expect(e.message).to.contain(first).and.match(/cut short/),
    );
    // Group 0xffff is no group of any file.
    writeFileSync(join(dir, second!), Uint8Array.of(0, 0, 0xff, 0xff, 0, 0, 0, 0));
    const g = Number(second!.slice("spill-".length));
    await spill.take(g << 4).then(
      () => expect.fail("a foreign section was read"),
      (e: Error) => expect(e.message).to.contain(second).and.match(/bad section/),
    );
  });
});
