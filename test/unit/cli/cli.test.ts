/**
 * The built `sid` command run as a child process, for everything that needs
 * no running node. (The full DID lifecycle through the CLI is an integration test.)
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { didFromPublicKey } from "../../../src/did/syntax.js";
import { TEST_MNEMONIC, testKey } from "../../helpers/fixtures.js";

/** dist/test/unit/cli -> dist/src/cli/main.js */
const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../src/cli/main.js");
const UNREACHABLE = "http://127.0.0.1:1";
const TEST_DID = didFromPublicKey(testKey(0).publicKey);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run the CLI to completion. Asynchronous, so a test can run independent
 * commands side by side (each is a fresh node process, most of whose time is
 * start-up) and the mocha process stays responsive meanwhile.
 */
function sid(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("SID_")) env[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...env, ...opts.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on("error", () => {}); // a command that exits before reading its input
    child.stdin.end(opts.input ?? "");
  });
}

/** A failure: the given exit code, exactly one line on stderr starting with "error:", no stack trace. */
function expectOneLineError(r: Run, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).to.equal(code);
  const lines = r.stderr.split("\n").filter((l) => l.length > 0);
  expect(lines, r.stderr).to.have.length(1);
  expect(lines[0]).to.match(/^error: /);
  expect(lines[0]).to.match(pattern);
  expect(r.stderr).to.not.match(/\n\s+at /);
}

function parseOneJson(stdout: string): Record<string, unknown> {
  const lines = stdout.split("\n").filter((l) => l.length > 0);
  expect(lines, stdout).to.have.length(1);
  const v = JSON.parse(lines[0]!);
  expect(v).to.be.an("object");
  return v;
}

describe("cli (child process)", function () {
  this.timeout(60_000);
  let home: string;
  const PASS = { SID_PASSPHRASE: "test passphrase" };

  before(async () => {
    await fs.access(MAIN); // built by tsc before the tests run
  });
  beforeEach(async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), "sid-cli-"));
  });
  afterEach(async () => {
    await fs.rm(home, { recursive: true, force: true });
  });

  describe("help and usage", () => {
    it("--help lists the commands", async () => {
      const [r, did, keys] = await Promise.all([sid(["--help"]), sid(["did", "--help"]), sid(["keys", "--help"])]);
      expect(r.code).to.equal(0);
      for (const c of ["init", "start", "status", "keys", "did"]) expect(r.stdout).to.match(new RegExp(`^\\s+${c}\\b`, "m"));
      expect(did.code).to.equal(0);
      for (const c of ["create", "add-key", "remove-key", "add-service", "update", "deactivate", "resolve", "history"]) {
        expect(did.stdout).to.match(new RegExp(`^\\s+${c}\\b`, "m"));
      }
      for (const c of ["new", "import", "list"]) expect(keys.stdout).to.match(new RegExp(`^\\s+${c}\\b`, "m"));
    });

    it("every command takes --home, --rpc and --json", async () => {
      const cmds = [["status"], ["keys", "list"], ["did", "resolve"], ["did", "add-key"], ["init"], ["start"]];
      const runs = await Promise.all(cmds.map((cmd) => sid([...cmd, "--help"])));
      for (const [i, r] of runs.entries()) {
        expect(r.code).to.equal(0);
        for (const o of ["--home", "--rpc", "--json"]) expect(r.stdout, cmds[i]!.join(" ")).to.include(o);
      }
    });

    it("an unknown command exits 2", async () => {
      const [top, sub] = await Promise.all([sid(["frobnicate"]), sid(["did", "frobnicate"])]);
      expectOneLineError(top, 2, /unknown command/);
      expectOneLineError(sub, 2, /unknown command/);
    });

    it("bad options exit 2", async () => {
      const cases: [string[], RegExp][] = [
        [["keys", "list", "--bogus"], /unknown option/],
        [["keys", "new"], /--name/],
        [["did", "add-key", "--key", "a", "--index", "-3"], /--index/],
        [["did", "add-key", "--key", "a", "--relationships", "owner"], /owner/],
        [["status", "--rpc", "not a url"], /--rpc/],
      ];
      const runs = await Promise.all(cases.map(([args]) => sid(args)));
      for (const [i, r] of runs.entries()) expectOneLineError(r, 2, cases[i]![1]);
    });
  });

  describe("keys", () => {
    it("keys new stores a key and prints its mnemonic once, with a warning and the DID", async () => {
      const r = await sid(["keys", "new", "--name", "alice", "--home", home], { env: PASS });
      expect(r.code, r.stderr).to.equal(0);
      const words = r.stdout.match(/^\s+((?:[a-z]+ ){23}[a-z]+)$/m);
      expect(words, r.stdout).to.not.equal(null);
      expect(r.stdout).to.match(/WARNING: Write these 24 words down/);
      expect(r.stdout).to.match(/did:sid:[1-9A-HJ-NP-Za-km-z]+/);
      const st = await fs.stat(path.join(home, "keys", "alice.json"));
      expect(st.mode & 0o777).to.equal(0o600);
      const file = await fs.readFile(path.join(home, "keys", "alice.json"), "utf8");
      expect(file).to.not.include(words![1]!);
    });

    it("keys new --json prints one object with the mnemonic and DID", async () => {
      const r = await sid(["keys", "new", "--name", "bob", "--home", home, "--json"], { env: PASS });
      expect(r.code, r.stderr).to.equal(0);
      const out = parseOneJson(r.stdout);
      expect(String(out.mnemonic).split(" ")).to.have.length(24);
      expect(out.did).to.match(/^did:sid:/);
      expect(out.name).to.equal("bob");
      expect(out.publicKey).to.match(/^0[23][0-9a-f]{64}$/);
    });

    it("keys new refuses an existing name and a bad name", async () => {
      // The bad name is refused whatever the home holds, so it runs beside the first key's creation.
      const [first, badName] = await Promise.all([sid(["keys", "new", "--name", "a", "--home", home], { env: PASS }), sid(["keys", "new", "--name", "../x", "--home", home], { env: PASS })]);
      expect(first.code).to.equal(0);
      expectOneLineError(badName, 1, /key name/);
      expectOneLineError(await sid(["keys", "new", "--name", "a", "--home", home], { env: PASS }), 1, /already exists/);
    });

    it("fails with one line when no passphrase can be had (no TTY, no SID_PASSPHRASE)", async () => {
      expectOneLineError(await sid(["keys", "new", "--name", "a", "--home", home]), 1, /SID_PASSPHRASE/);
    });

    it("keys import reads the mnemonic from stdin, or from SID_MNEMONIC", async () => {
      const [r, e] = await Promise.all([
        sid(["keys", "import", "--name", "imp", "--home", home, "--json"], { env: PASS, input: TEST_MNEMONIC + "\n" }),
        sid(["keys", "import", "--name", "imp2", "--home", home], { env: { ...PASS, SID_MNEMONIC: TEST_MNEMONIC } }),
      ]);
      expect(r.code, r.stderr).to.equal(0);
      expect(parseOneJson(r.stdout)).to.include({ name: "imp", did: TEST_DID });
      expect(e.code, e.stderr).to.equal(0);
      expect(e.stdout).to.include(TEST_DID);
      expect(e.stdout).to.not.include("abandon");
    });

    it("keys import refuses a bad mnemonic with one line and exit 1", async () => {
      const bad = TEST_MNEMONIC.replace(/about$/, "abandon"); // checksum fails
      const [wrong, empty] = await Promise.all([
        sid(["keys", "import", "--name", "x", "--home", home], { env: PASS, input: bad + "\n" }),
        sid(["keys", "import", "--name", "x", "--home", home], { env: PASS, input: "" }),
      ]);
      expectOneLineError(wrong, 1, /mnemonic/);
      expectOneLineError(empty, 1, /mnemonic/);
      await fs.access(path.join(home, "keys", "x.json")).then(
        () => expect.fail("no key file may be written"),
        () => undefined,
      );
    });

    it("keys list shows name, DID and public key without a passphrase; SID_HOME works", async () => {
      await sid(["keys", "import", "--name", "imp", "--home", home], { env: PASS, input: TEST_MNEMONIC });
      const [r, j] = await Promise.all([sid(["keys", "list", "--home", home]), sid(["keys", "list", "--json"], { env: { SID_HOME: home } })]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/NAME\s+DID\s+PUBLIC KEY/);
      expect(r.stdout).to.match(new RegExp(`imp\\s+${TEST_DID}\\s+03aaeb52dd7494c3`));
      expect(parseOneJson(j.stdout)).to.deep.nested.include({ "keys[0].name": "imp", "keys[0].did": TEST_DID });
    });

    it("keys list on an empty home says so", async () => {
      const r = await sid(["keys", "list", "--home", home, "--json"]);
      expect(r.code).to.equal(0);
      expect(parseOneJson(r.stdout)).to.deep.equal({ keys: [] });
    });
  });

  describe("did (no node needed)", () => {
    it("did resolve of an invalid DID fails with one clear line", async () => {
      expectOneLineError(await sid(["did", "resolve", "not-a-did", "--rpc", UNREACHABLE]), 1, /invalidDid/);
    });

    it("did resolve against an unreachable node fails with one clear line", async () => {
      const r = await sid(["did", "resolve", TEST_DID, "--rpc", UNREACHABLE, "--json"]);
      expectOneLineError(r, 1, /cannot reach node at http:\/\/127\.0\.0\.1:1/);
      expect(r.stdout).to.equal("");
    });

    it("SID_DEBUG=1 adds the stack trace", async () => {
      const r = await sid(["did", "resolve", TEST_DID, "--rpc", UNREACHABLE], { env: { SID_DEBUG: "1" } });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/\n\s+at /);
    });

    it("did create with a wrong passphrase or unknown key fails before any network call", async () => {
      await sid(["keys", "import", "--name", "imp", "--home", home], { env: PASS, input: TEST_MNEMONIC });
      const [wrongPass, unknownKey] = await Promise.all([
        sid(["did", "create", "--key", "imp", "--home", home, "--rpc", UNREACHABLE], { env: { SID_PASSPHRASE: "nope" } }),
        sid(["did", "create", "--key", "nobody", "--home", home, "--rpc", UNREACHABLE], { env: PASS }),
      ]);
      expectOneLineError(wrongPass, 1, /wrong passphrase/);
      expectOneLineError(unknownKey, 1, /no key named "nobody"/);
    });

    it("did deactivate requires --yes", async () => {
      expectOneLineError(await sid(["did", "deactivate", "--key", "imp", "--home", home, "--rpc", UNREACHABLE], { env: PASS }), 1, /--yes/);
    });

    it("did update reports unreadable, non-JSON and invalid documents in one line", async () => {
      await sid(["keys", "import", "--name", "imp", "--home", home], { env: PASS, input: TEST_MNEMONIC });
      const base = ["did", "update", "--key", "imp", "--home", home, "--rpc", UNREACHABLE, "--doc"];
      await fs.writeFile(path.join(home, "bad.json"), "{not json");
      await fs.writeFile(path.join(home, "wrong.json"), JSON.stringify({ "@context": "https://www.w3.org/ns/did/v1", id: TEST_DID }));
      const [missing, bad, wrong] = await Promise.all(["missing.json", "bad.json", "wrong.json"].map((f) => sid([...base, path.join(home, f)], { env: PASS })));
      expectOneLineError(missing!, 1, /cannot read .*missing\.json/);
      expectOneLineError(bad!, 1, /bad\.json is not valid JSON/);
      expectOneLineError(wrong!, 1, /DID_INVALID_DOCUMENT: authentication/);
    });

    it("did history and status against an unreachable node fail with one line", async () => {
      const [history, invalid, status] = await Promise.all([
        sid(["did", "history", TEST_DID, "--rpc", UNREACHABLE]),
        sid(["did", "history", "did:sid:0OIl", "--rpc", UNREACHABLE]),
        sid(["status"], { env: { SID_RPC: UNREACHABLE } }),
      ]);
      expectOneLineError(history, 1, /cannot reach node/);
      expectOneLineError(invalid, 1, /invalidDid/);
      expectOneLineError(status, 1, /cannot reach node at http:\/\/127\.0\.0\.1:1/);
    });
  });
});
