/**
 * The runtime flags a node starts with (src/cli/runtime-flags.ts) are on
 * the `sid` command's first line, which runs it as a program, and in
 * `npm start`: V8 takes them only as the process starts.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { NODE_RUNTIME_FLAGS } from "../../../src/cli/runtime-flags.js";
import { CLI } from "../../helpers/node-process.js";

const ROOT = resolve(fileURLToPath(import.meta.url), "../../../../..");

describe("cli: the node's runtime flags", () => {
  it("are on the command's first line, for `env -S` to pass to node", () => {
    const first = readFileSync(CLI, "utf8").split("\n")[0]!;
    expect(first).to.equal(`#!/usr/bin/env -S node ${NODE_RUNTIME_FLAGS.join(" ")}`);
  });

  it("are in `npm start`, before the script", () => {
    const pkg = JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).to.equal(`node ${NODE_RUNTIME_FLAGS.join(" ")} dist/src/cli/main.js start --dev`);
  });

  it("are ones this node accepts", () => {
    for (const f of NODE_RUNTIME_FLAGS) expect(process.allowedNodeEnvironmentFlags.has(f.split("=")[0]!), f).to.equal(true);
  });
});
