/**
 * Which LevelDB binary the node runs. `npm ci` builds classic-level's
 * LevelDB from source with the node's changes (scripts/build-leveldb.mjs)
 * into its build/Release, which classic-level loads before its prebuilt
 * binary; where that build failed or was skipped the prebuilt one runs,
 * without them.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The file scripts/build-leveldb.mjs writes next to the binary it built (the same name there): a sha256, then the changes' names. */
export const BUILD_MARKER = "sid-leveldb-build";

/** The marker of the script's first version, whose build had the first change alone: a sha256. */
const FIRST_MARKER = "sid-no-seek-compaction";

/** The node's changes to LevelDB, as the marker names them, with what a binary without each does. */
export const LEVELDB_CHANGES = {
  "no-seek-compaction": "compacts tables that reads pass through (2.3 times the bytes written per create at 4.4 million DIDs)",
  "no-mmap-reads": "maps up to 1,000 tables into the node's memory, every page read counting in its RSS",
} as const;

export type LevelDbChange = keyof typeof LEVELDB_CHANGES;

export interface LevelDbBuild {
  /** The binary classic-level loads. */
  binary: string;
  /** The node's changes this binary lacks (all of them for the prebuilt one). */
  missing: LevelDbChange[];
}

export function levelDbBuild(): LevelDbBuild {
  // classic-level is what `level` runs on in Node; resolved from `level`, as it resolves it.
  const req = createRequire(createRequire(import.meta.url).resolve("level"));
  return levelDbBuildIn(dirname(req.resolve("classic-level/package.json")));
}

/** What levelDbBuild says of the classic-level package in `dir`. */
export function levelDbBuildIn(dir: string): LevelDbBuild {
  const release = join(dir, "build", "Release");
  const built = join(release, "classic_level.node");
  const all = Object.keys(LEVELDB_CHANGES) as LevelDbChange[];
  if (!existsSync(built)) return { binary: join(dir, "prebuilds"), missing: all };
  const has = new Set(markerChanges(join(release, BUILD_MARKER)) ?? (markerChanges(join(release, FIRST_MARKER)) ? ["no-seek-compaction"] : []));
  return { binary: built, missing: all.filter((c) => !has.has(c)) };
}

/** The changes a marker names (none for a bare sha256), or undefined when there is no valid marker. */
function markerChanges(file: string): string[] | undefined {
  if (!existsSync(file)) return undefined;
  const [digest, ...names] = readFileSync(file, "utf8").trim().split("\n");
  return /^[0-9a-f]{64}$/.test(digest ?? "") ? names : undefined;
}
