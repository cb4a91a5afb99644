/**
 * Builds the explorer's browser assets into dist/explorer/: one minified
 * ES module (app.js) bundled by esbuild from src/explorer/web/, with the
 * proof checker of the SDK inside, and the page and stylesheet beside it.
 * Run by `npm run build` after tsc; the node serves the files it writes.
 */
import { build, type Plugin } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const web = join(root, "src/explorer/web");
const out = join(root, "dist/explorer");

/** node: imports of the shared code, answered by small browser shims (sha256, utf-8 check, no addon, no files); bip39 likewise. */
const shims: Record<string, string> = {
  "node:crypto": join(web, "shims/node-crypto.ts"),
  "node:buffer": join(web, "shims/node-buffer.ts"),
  "node:module": join(web, "shims/node-module.ts"),
  "node:fs": join(web, "shims/node-fs.ts"),
  "node:zlib": join(web, "shims/node-zlib.ts"),
};

const nodeShims: Plugin = {
  name: "node-shims",
  setup(b) {
    b.onResolve({ filter: /^bip39$/ }, () => ({ path: join(web, "shims/bip39.ts") }));
    b.onResolve({ filter: /^node:/ }, (args) => {
      const path = shims[args.path];
      if (!path) return { errors: [{ text: `${args.path} has no browser shim (imported by ${args.importer})` }] };
      return { path };
    });
  },
};

mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: [join(web, "main.ts")],
  outfile: join(out, "app.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  inject: [join(web, "shims/buffer-global.ts")],
  // The shared code reads these from the environment in Node; a page has no environment.
  define: { "process.env.SID_SECP256K1_BACKEND": "undefined", "process.browser": "true" },
  plugins: [nodeShims],
  metafile: true,
  logLevel: "warning",
});
for (const f of ["index.html", "app.css"]) copyFileSync(join(web, f), join(out, f));
const bytes = Object.values(result.metafile.outputs).reduce((s, o) => s + o.bytes, 0);
process.stderr.write(`explorer: dist/explorer/app.js ${Math.round(bytes / 1024)} KiB\n`);
