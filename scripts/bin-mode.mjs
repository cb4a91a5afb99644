// The `sid` command (package.json "bin") is run as a program by `npx sid`
// and by npm's links: it needs its execute bits, which tsc does not set.
// Run after every build (`npm run build`, scripts/build-if-stale.mjs).
import { chmodSync, realpathSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));

export function makeBinExecutable() {
  chmodSync(BIN, statSync(BIN).mode | 0o111);
}

/** Run as a script, not imported: the module's URL is its real path, so real paths are compared. */
function runAsScript() {
  try {
    return realpathSync(process.argv[1] ?? "") === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (runAsScript()) makeBinExecutable();
