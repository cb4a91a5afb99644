/**
 * The built `sid` command run as a child process, for everything that needs
 * no running node. (The full DID lifecycle through the CLI is an integration test.)
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
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

function sid(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Run {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("SID_")) env[k] = v;
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    env: { ...env, ...opts.env },
    input: opts.input ?? "",
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
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
    it("--help lists the commands", () => {
      const r = sid(["--help"]);
      expect(r.code).to.equal(0);
      for (const c of ["init", "start", "status", "keys", "did"]) expect(r.stdout).to.match(new RegExp(`^\\s+${c}\\b`, "m"));
      const did = sid(["did", "--help"]);
      expect(did.code).to.equal(0);
      for (const c of ["create", "add-key", "remove-key", "add-service", "update", "deactivate", "resolve", "history"]) {
        expect(did.stdout).to.match(new RegExp(`^\\s+${c}\\b`, "m"));
      }
      const keys = sid(["keys", "--help"]);
      for (const c of ["new", "import", "list"]) expect(keys.stdout).to.match(new RegExp(`^\\s+${c}\\b`, "m"));
    });

    it("every command takes --home, --rpc and --json", () => {
      for (const cmd of [["status"], ["keys", "list"], ["did", "resolve"], ["did", "add-key"], ["init"], ["start"]]) {
        const r = sid([...cmd, "--help"]);
        expect(r.code).to.equal(0);
        for (const o of ["--home", "--rpc", "--json"]) expect(r.stdout, cmd.join(" ")).to.include(o);
      }
    });

    it("an unknown command exits 2", () => {
      expectOneLineError(sid(["frobnicate"]), 2, /unknown command/);
      expectOneLineError(sid(["did", "frobnicate"]), 2, /unknown command/);
    });

    it("bad options exit 2", () => {
      expectOneLineError(sid(["keys", "list", "--bogus"]), 2, /unknown option/);
      expectOneLineError(sid(["keys", "new"]), 2, /--name/);
      expectOneLineError(sid(["did", "add-key", "--key", "a", "--index", "-3"]), 2, /--index/);
      expectOneLineError(sid(["did", "add-key", "--key", "a", "--relationships", "owner"]), 2, /owner/);
      expectOneLineError(sid(["status", "--rpc", "not a url"]), 2, /--rpc/);
    });
  });

  describe("keys", () => {
    it("keys new stores a key and prints its mnemonic once, with a warning and the DID", async () => {
      const r = sid(["keys", "new", "--name", "alice", "--home", home], { env: PASS });
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

    it("keys new --json prints one object with the mnemonic and DID", () => {
      const r = sid(["keys", "new", "--name", "bob", "--home", home, "--json"], { env: PASS });
      expect(r.code, r.stderr).to.equal(0);
      const out = parseOneJson(r.stdout);
      expect(String(out.mnemonic).split(" ")).to.have.length(24);
      expect(out.did).to.match(/^did:sid:/);
      expect(out.name).to.equal("bob");
      expect(out.publicKey).to.match(/^0[23][0-9a-f]{64}$/);
    });

    it("keys new refuses an existing name and a bad name", () => {
      expect(sid(["keys", "new", "--name", "a", "--home", home], { env: PASS }).code).to.equal(0);
      expectOneLineError(sid(["keys", "new", "--name", "a", "--home", home], { env: PASS }), 1, /already exists/);
      expectOneLineError(sid(["keys", "new", "--name", "../x", "--home", home], { env: PASS }), 1, /key name/);
    });

    it("fails with one line when no passphrase can be had (no TTY, no SID_PASSPHRASE)", () => {
      expectOneLineError(sid(["keys", "new", "--name", "a", "--home", home]), 1, /SID_PASSPHRASE/);
    });

    it("keys import reads the mnemonic from stdin, or from SID_MNEMONIC", () => {
      const r = sid(["keys", "import", "--name", "imp", "--home", home, "--json"], { env: PASS, input: TEST_MNEMONIC + "\n" });
      expect(r.code, r.stderr).to.equal(0);
      expect(parseOneJson(r.stdout)).to.include({ name: "imp", did: TEST_DID });
      const e = sid(["keys", "import", "--name", "imp2", "--home", home], { env: { ...PASS, SID_MNEMONIC: TEST_MNEMONIC } });
      expect(e.code, e.stderr).to.equal(0);
      expect(e.stdout).to.include(TEST_DID);
      expect(e.stdout).to.not.include("abandon");
    });

    it("keys import refuses a bad mnemonic with one line and exit 1", async () => {
      const bad = TEST_MNEMONIC.replace(/about$/, "abandon"); // checksum fails
      expectOneLineError(sid(["keys", "import", "--name", "x", "--home", home], { env: PASS, input: bad + "\n" }), 1, /mnemonic/);
      expectOneLineError(sid(["keys", "import", "--name", "x", "--home", home], { env: PASS, input: "" }), 1, /mnemonic/);
      await fs.access(path.join(home, "keys", "x.json")).then(
        () => expect.fail("no key file may be written"),
        () => undefined,
      );
    });

    it("keys list shows name, DID and public key without a passphrase; SID_HOME works", () => {
      sid(["keys", "import", "--name", "imp", "--home", home], { env: PASS, input: TEST_MNEMONIC });
      const r = sid(["keys", "list", "--home", home]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/NAME\s+DID\s+PUBLIC KEY/);
      expect(r.stdout).to.match(new RegExp(`imp\\s+${TEST_DID}\\s+03aaeb52dd7494c3`));
      const j = sid(["keys", "list", "--json"], { env: { SID_HOME: home } });
      expect(parseOneJson(j.stdout)).to.deep.nested.include({ "keys[0].name": "imp", "keys[0].did": TEST_DID });
    });

    it("keys list on an empty home says so", () => {
      const r = sid(["keys", "list", "--home", home, "--json"]);
      expect(r.code).to.equal(0);
      expect(parseOneJson(r.stdout)).to.deep.equal({ keys: [] });
    });
  });

  describe("did (no node needed)", () => {
    it("did resolve of an invalid DID fails with one clear line", () => {
      expectOneLineError(sid(["did", "resolve", "not-a-did", "--rpc", UNREACHABLE]), 1, /invalidDid/);
    });

    it("did resolve against an unreachable node fails with one clear line", () => {
      const r = sid(["did", "resolve", TEST_DID, "--rpc", UNREACHABLE, "--json"]);
      expectOneLineError(r, 1, /cannot reach node at http:\/\/127\.0\.0\.1:1/);
      expect(r.stdout).to.equal("");
    });

    it("SID_DEBUG=1 adds the stack trace", () => {
      const r = sid(["did", "resolve", TEST_DID, "--rpc", UNREACHABLE], { env: { SID_DEBUG: "1" } });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/\n\s+at /);
    });

    it("did create with a wrong passphrase or unknown key fails before any network call", () => {
      sid(["keys", "import", "--name", "imp", "--home", home], { env: PASS, input: TEST_MNEMONIC });
      expectOneLineError(sid(["did", "create", "--key", "imp", "--home", home, "--rpc", UNREACHABLE], { env: { SID_PASSPHRASE: "nope" } }), 1, /wrong passphrase/);
      expectOneLineError(sid(["did", "create", "--key", "nobody", "--home", home, "--rpc", UNREACHABLE], { env: PASS }), 1, /no key named "nobody"/);
    });

    it("did deactivate requires --yes", () => {
      expectOneLineError(sid(["did", "deactivate", "--key", "imp", "--home", home, "--rpc", UNREACHABLE], { env: PASS }), 1, /--yes/);
    });

    it("did update reports unreadable, non-JSON and invalid documents in one line", async () => {
      sid(["keys", "import", "--name", "imp", "--home", home], { env: PASS, input: TEST_MNEMONIC });
      const base = ["did", "update", "--key", "imp", "--home", home, "--rpc", UNREACHABLE, "--doc"];
      expectOneLineError(sid([...base, path.join(home, "missing.json")], { env: PASS }), 1, /cannot read .*missing\.json/);
      await fs.writeFile(path.join(home, "bad.json"), "{not json");
      expectOneLineError(sid([...base, path.join(home, "bad.json")], { env: PASS }), 1, /bad\.json is not valid JSON/);
      await fs.writeFile(path.join(home, "wrong.json"), JSON.stringify({ "@context": "https://www.w3.org/ns/did/v1", id: TEST_DID }));
      expectOneLineError(sid([...base, path.join(home, "wrong.json")], { env: PASS }), 1, /DID_INVALID_DOCUMENT: authentication/);
    });

    it("did history and status against an unreachable node fail with one line", () => {
      expectOneLineError(sid(["did", "history", TEST_DID, "--rpc", UNREACHABLE]), 1, /cannot reach node/);
      expectOneLineError(sid(["did", "history", "did:sid:0OIl", "--rpc", UNREACHABLE]), 1, /invalidDid/);
      expectOneLineError(sid(["status"], { env: { SID_RPC: UNREACHABLE } }), 1, /cannot reach node at http:\/\/127\.0\.0\.1:1/);
    });
  });
});
