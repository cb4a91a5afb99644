/**
 * Which LevelDB binary the node runs. `npm ci` builds classic-level's
 * LevelDB from source without compactions triggered by reads
 * (scripts/build-leveldb.mjs) into its build/Release, which classic-level
 * loads before its prebuilt binary; where that build failed or was skipped
 * the prebuilt one runs, with them.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The file scripts/build-leveldb.mjs writes next to the binary it built (the same name there). */
export const NO_SEEK_MARKER = "sid-no-seek-compaction";

export interface LevelDbBuild {
  /** The binary classic-level loads. */
  binary: string;
  /** Whether tables are compacted when reads pass through them without a hit (LevelDB's rule; off in the node's own build). */
  seekCompactions: boolean;
}

export function levelDbBuild(): LevelDbBuild {
  // classic-level is what `level` runs on in Node; resolved from `level`, as it resolves it.
  const req = createRequire(createRequire(import.meta.url).resolve("level"));
  const dir = dirname(req.resolve("classic-level/package.json"));
  const release = join(dir, "build", "Release");
  const built = join(release, "classic_level.node");
  if (!existsSync(built)) return { binary: join(dir, "prebuilds"), seekCompactions: true };
  const marker = join(release, NO_SEEK_MARKER);
  const off = existsSync(marker) && readFileSync(marker, "utf8").trim().length === 64;
  return { binary: built, seekCompactions: !off };
}
