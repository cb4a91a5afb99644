#!/usr/bin/env node
/**
 * Builds classic-level's LevelDB from its bundled source with two changes,
 * into node_modules/classic-level/build/Release, which classic-level loads
 * before its prebuilt binary. Run by `npm ci` and `npm install`
 * (postinstall); `node scripts/build-leveldb.mjs` runs it again.
 *
 * 1. No compactions triggered by reads ("seek compactions"). LevelDB 1.20
 *    gives every table a budget of reads that look into it without finding
 *    their key (one per 16 KiB of the table, at least 100) and, when it is
 *    spent, merges the table into the level below. Under the node's random
 *    reads (Merkle nodes, DID records, the checks of a create) a new table
 *    spends it within seconds, so tables are pushed to the deepest level
 *    almost as soon as they are written, each merge rewriting hundreds of
 *    megabytes there for a few megabytes of new records (docs/storage.md,
 *    "Compactions triggered by reads"). Later engines of the same design
 *    dropped the rule; here the budget is set out of reach.
 * 2. Tables read with pread, not mapped into the process. LevelDB 1.20
 *    maps up to 1,000 table files of a 64-bit process whole; every page a
 *    read touched then counts in the node's resident memory (2.8 of 3.9 GB
 *    at 5,000,000 DIDs), which says nothing of what the node holds and is
 *    what a supervisor's memory limit sees. Read with pread, the same pages
 *    stay in the kernel's page cache, and the blocks the node reads often
 *    in LevelDB's block cache, whose size the node sets
 *    (docs/operations.md, "LevelDB as built for the node").
 *
 * Building needs python3, make and a C++ compiler (node-gyp, with npm);
 * where it fails the prebuilt binary stays in use, the reason is printed,
 * and the install does not fail: the node works either way, and says at
 * start which it runs. SID_LEVELDB_PREBUILT=1 skips the build.
 */
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
/**
 * Written next to the binary once built from the changed sources: their
 * sha256 (so a changed source builds again), then the changes' names, a
 * line each (src/chain/db/level-build.ts reads them).
 */
const MARKER = "sid-leveldb-build";
const LEVELDB = "deps/leveldb/leveldb-1.20";
const CHANGES = [
  {
    name: "no-seek-compaction",
    file: `${LEVELDB}/db/version_set.cc`,
    original: "      f->allowed_seeks = (f->file_size / 16384);\n      if (f->allowed_seeks < 100) f->allowed_seeks = 100;\n",
    changed: "      // sid: no compaction triggered by reads (scripts/build-leveldb.mjs).\n      f->allowed_seeks = 1 << 30;\n",
  },
  {
    name: "no-mmap-reads",
    file: `${LEVELDB}/util/env_posix.cc`,
    original: "static int mmap_limit = -1;\n",
    changed: "// sid: tables are read with pread, none mapped (scripts/build-leveldb.mjs).\nstatic int mmap_limit = 0;\n",
  },
];

function warn(msg) {
  process.stderr.write(`[build-leveldb] ${msg}\n[build-leveldb] the prebuilt LevelDB stays in use: it works, with compactions triggered by reads and tables mapped into memory (docs/operations.md)\n`);
}

function main() {
  if (process.env.SID_LEVELDB_PREBUILT === "1") {
    process.stderr.write("[build-leveldb] SID_LEVELDB_PREBUILT=1: keeping the prebuilt LevelDB\n");
    return;
  }
  let dir;
  try {
    dir = dirname(createRequire(join(root, "package.json")).resolve("classic-level/package.json"));
  } catch (e) {
    return warn(`classic-level is not installed (${e.message})`);
  }
  const hash = createHash("sha256");
  for (const c of CHANGES) {
    const source = join(dir, c.file);
    if (!existsSync(source)) return warn(`${source} is not there: not the classic-level this script knows`);
    let text = readFileSync(source, "utf8");
    if (!text.includes(c.changed)) {
      if (!text.includes(c.original)) return warn(`${source} does not hold the lines this script changes: not the LevelDB it knows`);
      text = text.replace(c.original, c.changed);
      writeFileSync(source, text);
    }
    hash.update(text);
  }
  const release = join(dir, "build", "Release");
  const marker = join(release, MARKER);
  const content = [hash.digest("hex"), ...CHANGES.map((c) => c.name)].join("\n");
  if (existsSync(join(release, "classic_level.node")) && existsSync(marker) && readFileSync(marker, "utf8").trim() === content) {
    process.stderr.write("[build-leveldb] LevelDB as changed for the node: already built\n");
    return;
  }
  // node-gyp as npm names it to install scripts, else the one in the npm of this node's installation.
  const prefix = dirname(dirname(process.execPath));
  const npmDir = process.env.npm_execpath ? dirname(dirname(process.env.npm_execpath)) : join(prefix, "lib/node_modules/npm");
  const gyp = [process.env.npm_config_node_gyp, join(npmDir, "node_modules/node-gyp/bin/node-gyp.js")].find((p) => p && existsSync(p));
  if (!gyp) return warn("node-gyp was not found (run it through npm: `npm run build:leveldb`)");
  process.stderr.write(`[build-leveldb] building LevelDB with ${CHANGES.map((c) => c.name).join(", ")} (about a minute)\n`);
  const args = [gyp, "rebuild", "--jobs", "max"];
  // Node's headers where this node is installed, unless npm names them (node-gyp would otherwise download them).
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, "include/node/node_api.h"))) args.push(`--nodedir=${prefix}`);
  const r = spawnSync(process.execPath, args, { cwd: dir, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    // Nothing half built is loaded in place of the prebuilt binary.
    rmSync(join(dir, "build"), { recursive: true, force: true });
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n").slice(-15).join("\n");
    return warn(`node-gyp failed (${r.error?.message ?? `exit ${r.status}`}):\n${out}`);
  }
  writeFileSync(marker, `${content}\n`);
  process.stderr.write("[build-leveldb] built\n");
}

main();
