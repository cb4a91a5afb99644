/**
 * Terminal input and output of the CLI: results on stdout (text lines or
 * one JSON object), notes on stderr, columns, and secrets from the
 * environment or one line of piped stdin, bounded, with clear errors.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CliError } from "../../../src/cli/errors.js";
import { MNEMONIC_ENV, PASSPHRASE_ENV, getMnemonicInput, getPassphrase, note, printResult, table } from "../../../src/cli/io.js";

const IO_MODULE = fileURLToPath(new URL("../../../src/cli/io.js", import.meta.url));

/** Capture what `fn` writes to stdout and stderr. */
function capture(fn: () => void): { out: string; err: string } {
  const out: string[] = [];
  const err: string[] = [];
  const [o, e] = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((c: string) => out.push(String(c)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((c: string) => err.push(String(c)) > 0) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
  return { out: out.join(""), err: err.join("") };
}

/** readStdinLine in a child process fed `input` on a pipe: what it resolved to, or the error it threw. */
function readLineFrom(input: string): Promise<{ line?: string; error?: string }> {
  const script = `import { readStdinLine } from ${JSON.stringify(IO_MODULE)};
readStdinLine().then((line) => console.log(JSON.stringify({ line })), (e) => console.log(JSON.stringify({ error: e.constructor.name + ": " + e.message })));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.once("error", reject);
    child.once("close", () => resolve(JSON.parse(out)));
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}

describe("cli/io", function () {
  this.timeout(30_000);

  it("printResult prints exactly one JSON line with --json, else the text lines", () => {
    expect(capture(() => printResult({ json: true }, { a: 1, b: ["x"] }, "ignored")).out).to.equal('{"a":1,"b":["x"]}\n');
    expect(capture(() => printResult({}, { a: 1 }, ["one", "two"])).out).to.equal("one\ntwo\n");
    expect(capture(() => printResult({ json: false }, null, "single")).out).to.equal("single\n");
  });

  it("note goes to stderr, leaving stdout parseable", () => {
    const c = capture(() => note("working..."));
    expect(c).to.deep.equal({ out: "", err: "working...\n" });
  });

  it("table pads every column but the last to its widest cell and trims the line end", () => {
    expect(table(["NAME", "DID", "KEY"], [["alice", "did:sid:abc", "02ff"], ["bo", "d", ""]])).to.deep.equal(["NAME   DID          KEY", "alice  did:sid:abc  02ff", "bo     d"]);
    expect(table(["A"], [])).to.deep.equal(["A"]);
  });

  describe("secrets", () => {
    const saved: Record<string, string | undefined> = {};
    beforeEach(() => {
      for (const k of [PASSPHRASE_ENV, MNEMONIC_ENV]) saved[k] = process.env[k];
    });
    afterEach(() => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });

    it("the passphrase and mnemonic come from their variables, even empty", async () => {
      process.env[PASSPHRASE_ENV] = "s3cret";
      expect(await getPassphrase("for alice", true)).to.equal("s3cret");
      process.env[PASSPHRASE_ENV] = "";
      expect(await getPassphrase("for alice", false)).to.equal("");
      process.env[MNEMONIC_ENV] = "abandon about";
      expect(await getMnemonicInput()).to.equal("abandon about");
    });

    it("without the variable and without a terminal, the passphrase is a clear error, not a hang", async function () {
      if (process.stdin.isTTY) this.skip();
      delete process.env[PASSPHRASE_ENV];
      try {
        await getPassphrase("to unlock alice", false);
        expect.fail("expected a CliError");
      } catch (e) {
        expect(e).to.be.instanceOf(CliError);
        expect((e as Error).message).to.equal(`a passphrase is needed to unlock alice: set ${PASSPHRASE_ENV} or run in a terminal`);
      }
    });

    it("readStdinLine: the first line of a pipe (LF or CRLF), all of it at EOF, an error past 4096 characters", async () => {
      const [lf, crlf, eof, empty, long] = await Promise.all([
        readLineFrom("first words\nsecond\n"),
        readLineFrom("windows line\r\nnext"),
        readLineFrom("no newline at all"),
        readLineFrom(""),
        readLineFrom("x".repeat(5_000)),
      ]);
      expect(lf).to.deep.equal({ line: "first words" });
      expect(crlf).to.deep.equal({ line: "windows line" });
      expect(eof).to.deep.equal({ line: "no newline at all" });
      expect(empty).to.deep.equal({ line: "" });
      expect(long).to.deep.equal({ error: "CliError: stdin line is longer than 4096 characters" });
    });
  });
});
