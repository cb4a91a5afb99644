// `npm install`, `npm ci`, `npm pack` and a first `npx sid` (which installs
// this folder into npx's cache) all run "prepare". Compiling takes 10-20 s,
// so it runs only when dist/ is missing or older than a source, and says so.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeBinExecutable } from "./bin-mode.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = join(root, "dist", "src", "cli", "main.js");

function newest(path) {
  let t = 0;
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return /\.(ts|json|html|css)$/.test(path) ? st.mtimeMs : 0;
  for (const name of readdirSync(path)) t = Math.max(t, newest(join(path, name)));
  return t;
}

let builtAt = 0;
try {
  builtAt = statSync(built).mtimeMs;
} catch {
  // not built yet
}
const sourcesAt = Math.max(...["src", "test", "scripts", "tsconfig.json"].map((p) => newest(join(root, p))));
if (builtAt > sourcesAt) {
  process.stderr.write("sid: dist/ is up to date\n");
  makeBinExecutable(); // a dist/ built before the command was made executable
} else {
  process.stderr.write("sid: compiling TypeScript into dist/ (10-20 s)...\n");
  const r = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.json")], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
  // The explorer's browser assets (esbuild), as `npm run build` makes them.
  const e = spawnSync(process.execPath, [join(root, "dist", "scripts", "build-explorer.js")], { stdio: "inherit" });
  if (e.status === 0) makeBinExecutable();
  process.exit(e.status ?? 1);
}
