/**
 * The SDK as a package, as another project uses it: `npm pack` this
 * repository, install the tarball into a fresh project, type-check a
 * consumer that imports "sid" by name with `tsc`, then run it against a
 * real dev node: it makes a key from a new mnemonic, creates a DID and
 * resolves it (SidClient and the did-resolver plugin).
 *
 * The install is offline (`npm install --offline`, from the npm cache).
 * Where the cache cannot supply every dependency, the tarball is unpacked
 * into the project's node_modules/sid and its own node_modules is a link to
 * this repository's: what is tested is then the packed files, exports and
 * declarations, with the same dependency versions.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect } from "chai";
import { type NodeProcess, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";

const run = promisify(execFile);
const ROOT = resolve(fileURLToPath(import.meta.url), "../../../..");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

const CONSUMER = `import { SidClient, getResolver, generateMnemonic, deriveKey, type DidResolutionResult } from "sid";

// The consumer has no @types/node: the two Node globals it uses, declared.
declare const process: { argv: string[]; stdout: { write(text: string): boolean } };

const rpcUrl: string = process.argv[2]!;
const mnemonic: string = generateMnemonic();
const key = deriveKey(mnemonic, 0);
const client = new SidClient(rpcUrl);
const created = await client.createDid(key);
const viaClient: DidResolutionResult = await client.resolve(created.did);
const { sid } = getResolver({ rpcUrl });
const viaPlugin = await sid(created.did, { did: created.did, didUrl: created.did, method: "sid", id: created.did.slice(8) }, undefined as never, {});
process.stdout.write(JSON.stringify({ did: created.did, height: created.height, viaClient, viaPlugin }));
`;

describe("package: the SDK imported by name from another project", function () {
  this.timeout(240_000);
  let work: string;
  let home: string;
  let node: NodeProcess | undefined;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "sid-pack-"));
    home = tempHome();
    node = await startNodeProcess(home, { heartbeatMs: 100 });
  });
  after(async () => {
    await node?.stop();
    removeHome(home);
    rmSync(work, { recursive: true, force: true });
  });

  it("packs, installs, type-checks a consumer and creates and resolves a DID through it", async () => {
    // dist/ is built (the tests run from it): pack without running prepare again.
    const packed = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: ROOT, maxBuffer: 16 << 20 });
    const info = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const tarball = join(work, info[0]!.filename);
    const files = info[0]!.files.map((f) => f.path);
    for (const f of ["dist/src/client/index.js", "dist/src/client/index.d.ts", "dist/src/cli/main.js", "contexts/sid-v1.jsonld", "genesis/dev.json"]) {
      expect(files, f).to.include(f);
    }
    expect(files.some((f) => f.startsWith("dist/test/")), "tests are not shipped").to.equal(false);

    const project = join(work, "consumer");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }));
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, outDir: "out", skipLibCheck: true, types: [] } }),
    );
    writeFileSync(join(project, "index.ts"), CONSUMER);
    try {
      await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], { cwd: project, maxBuffer: 16 << 20 });
    } catch {
      // The cache lacks a dependency: unpack the tarball and lend it this repository's node_modules.
      const pkg = join(project, "node_modules", "sid");
      mkdirSync(pkg, { recursive: true });
      await run("tar", ["-xzf", tarball, "-C", pkg, "--strip-components=1"]);
      symlinkSync(join(ROOT, "node_modules"), join(pkg, "node_modules"), "dir");
    }
    expect(readdirSync(join(project, "node_modules", "sid", "dist", "src", "client"))).to.include("index.d.ts");

    // tsc type-checks the consumer against the emitted declarations (an error fails the test with its output).
    await run(process.execPath, [TSC, "-p", "tsconfig.json"], { cwd: project }).catch((e: { stdout?: string; stderr?: string }) => {
      throw new Error(`tsc failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    });
    const out = await run(process.execPath, [join(project, "out", "index.js"), node!.rpcUrl], { cwd: project });
    const r = JSON.parse(out.stdout) as { did: string; height: number; viaClient: any; viaPlugin: any };
    expect(r.did).to.match(/^did:sid:/);
    expect(r.height).to.be.a("number");
    expect(r.viaClient.didDocument.id).to.equal(r.did);
    expect(r.viaClient.didDocumentMetadata.versionId).to.equal("1");
    expect(r.viaPlugin.didDocument).to.deep.equal(r.viaClient.didDocument);
  });

  it("a type error in the consumer fails tsc (the check above is real)", async () => {
    const project = join(work, "consumer");
    writeFileSync(join(project, "bad.ts"), `import { deriveKey } from "sid";\nconst k: number = deriveKey("words", 0);\nexport { k };\n`);
    let failed = false;
    try {
      await run(process.execPath, [TSC, "-p", "tsconfig.json", "--noEmit"], { cwd: project });
    } catch (e) {
      failed = true;
      expect(String((e as { stdout?: string }).stdout)).to.match(/bad\.ts.*TS2322/s);
    }
    expect(failed).to.equal(true);
    rmSync(join(project, "bad.ts"));
  });
});
