import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Level } from "level";
import { BUILD_MARKER, levelDbBuild, levelDbBuildIn } from "../../../src/chain/db/level-build.js";

/**
 * The LevelDB the node runs is the one `npm ci` builds (scripts/build-leveldb.mjs):
 * tables are read without being mapped into the process, and a table that
 * reads pass through without a hit stays where it is. With the prebuilt
 * binary these tests fail (checked against it).
 */
describe("LevelDB as built for the node", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "sid-leveldb-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("is the binary built with the node's changes", () => {
    const b = levelDbBuild();
    const why = "npm ci builds it (scripts/build-leveldb.mjs; its output says why it did not)";
    expect(b.binary, why).to.match(/build\/Release\/classic_level\.node$/);
    expect(b.missing, why).to.deep.equal([]);
  });

  it("names the changes a binary lacks from the marker beside it", () => {
    const release = join(dir, "build", "Release");
    const digest = "ab".repeat(32);
    const mark = (name: string, text: string) => writeFileSync(join(release, name), text);
    expect(levelDbBuildIn(dir)).to.deep.equal({ binary: join(dir, "prebuilds"), missing: ["no-seek-compaction", "no-mmap-reads"] });
    mkdirSync(release, { recursive: true });
    writeFileSync(join(release, "classic_level.node"), "");
    const binary = join(release, "classic_level.node");
    expect(levelDbBuildIn(dir)).to.deep.equal({ binary, missing: ["no-seek-compaction", "no-mmap-reads"] });
    mark("sid-no-seek-compaction", `${digest}\n`);
    expect(levelDbBuildIn(dir).missing, "the first script's marker").to.deep.equal(["no-mmap-reads"]);
    mark(BUILD_MARKER, `${digest}\nno-mmap-reads\n`);
    expect(levelDbBuildIn(dir).missing).to.deep.equal(["no-seek-compaction"]);
    mark(BUILD_MARKER, `${digest}\nno-seek-compaction\nno-mmap-reads\n`);
    expect(levelDbBuildIn(dir).missing).to.deep.equal([]);
    mark(BUILD_MARKER, "not a digest\nno-seek-compaction\nno-mmap-reads\n");
    expect(levelDbBuildIn(dir).missing, "a marker without its sha256").to.deep.equal(["no-mmap-reads"]);
  });

  it("reads tables without mapping them into the process", async function () {
    if (!existsSync("/proc/self/maps")) this.skip();
    this.timeout(20_000);
    const db = new Level<string, string>(dir, { writeBufferSize: 64 * 1024 });
    await db.open();
    const raw = db as unknown as { compactRange(start: string, end: string): Promise<void> };
    const v = "x".repeat(100);
    try {
      for (let i = 0; i < 3000; i++) await db.put(`k${i}`, v);
      await raw.compactRange("k", "l");
      for (let i = 0; i < 3000; i += 7) expect(await db.get(`k${i}`)).to.equal(v);
      const tables = readdirSync(dir).filter((f) => f.endsWith(".ldb"));
      expect(tables, "the writes made tables").to.not.be.empty;
      const mapped = readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes(dir));
      expect(mapped, "table files mapped into the process").to.deep.equal([]);
    } finally {
      await db.close();
    }
  });

  it("leaves a table where it is however many reads pass through it to the level below", async function () {
    this.timeout(20_000);
    const db = new Level<string, string>(dir, { writeBufferSize: 64 * 1024 });
    await db.open();
    // classic-level's own methods, which the `level` typings leave out.
    const raw = db as unknown as { getProperty(p: string): string; compactRange(start: string, end: string): Promise<void> };
    const files = () => [0, 1, 2, 3].map((l) => Number(raw.getProperty(`leveldb.num-files-at-level${l}`)));
    const v = "x".repeat(100);
    const key = (i: number) => `k${String(i).padStart(4, "0")}`;
    try {
      for (let i = 0; i < 2000; i++) await db.put(key(i), v);
      await raw.compactRange("k", "l");
      // A newer table over the same keys (a flush of keys in between), above the tables compacted down.
      await db.batch(Array.from({ length: 800 }, (_, i) => ({ type: "put" as const, key: `${key(2 * i)}y`, value: v })));
      for (let i = 0; i < 800; i++) await db.put(`m${i}`, v);
      await new Promise((r) => setTimeout(r, 300));
      const before = files();
      const upper = before.findIndex((n) => n > 0);
      expect(upper, `files per level ${before}`).to.be.within(0, 1);
      // Each get looks into the newer table, misses, and finds its key below: LevelDB's prebuilt rule compacts
      // the newer table down after 100 such reads.
      for (let i = 0; i < 1000; i++) expect(await db.get(key((i * 7) % 2000))).to.equal(v);
      await new Promise((r) => setTimeout(r, 500));
      expect(files(), `files per level before the reads: ${before}`).to.deep.equal(before);
    } finally {
      await db.close();
    }
  });
});
