/**
 * The whole DID lifecycle through the `sid` command against a real node
 * process: keys, create, add-key, rotate, add-service, update from a file,
 * resolve every version, history, deactivate, and a restart.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CLI, type NodeProcess, removeHome, runCli, startNodeProcess, tempHome } from "../helpers/node-process.js";

describe("integration: DID lifecycle through the CLI", function () {
  this.timeout(300_000);
  let node: NodeProcess;
  let nodeHome: string;
  let userHome: string;
  let env: Record<string, string>;

  const sid = async (...args: string[]) => {
    const r = await runCli([...args, "--home", userHome, "--rpc", node.rpcUrl, "--json"], env);
    return { ...r, json: r.stdout.trim() ? JSON.parse(r.stdout) : undefined };
  };
  const ok = async (...args: string[]) => {
    const r = await sid(...args);
    expect(r.code, `${args.join(" ")}: ${r.stderr}`).to.equal(0);
    return r.json;
  };

  before(async () => {
    nodeHome = tempHome("sid-cli-node-");
    userHome = tempHome("sid-cli-user-");
    env = { SID_PASSPHRASE: "correct horse battery staple" };
    node = await startNodeProcess(nodeHome, { heartbeatMs: 60_000 });
  });
  after(async () => {
    await node?.stop();
    removeHome(nodeHome);
    removeHome(userHome);
  });

  it("runs create, add-key, rotate, add-service, update, resolve, history, deactivate", async () => {
    const key = await ok("keys", "new", "--name", "alice");
    expect(key.mnemonic.split(" ")).to.have.length(24);
    const did: string = key.did;

    const created = await ok("did", "create", "--key", "alice");
    expect(created).to.include({ did });
    expect(created.height).to.be.a("number");
    expect(created.txHash).to.match(/^[0-9a-f]{64}$/);

    const again = await sid("did", "create", "--key", "alice");
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/^error: .*already registered/im);

    await ok("did", "add-key", "--key", "alice");
    const removed = await ok("did", "remove-key", "--key", "alice", "--id", "key-1");
    expect(removed.versionId).to.equal("3");
    await ok("did", "add-service", "--key", "alice", "--id", "hub", "--type", "LinkedDomains", "--endpoint", "https://alice.example");

    const cur = await ok("did", "resolve", did);
    expect(cur.didDocumentMetadata.versionId).to.equal("4");
    expect(cur.didDocument.service[0].serviceEndpoint).to.equal("https://alice.example");
    expect(JSON.stringify(cur.didDocument.verificationMethod)).to.not.include("#key-1");

    // the file may be a resolution result as `sid did resolve` prints it
    const file = join(userHome, "doc.json");
    writeFileSync(file, JSON.stringify({ ...cur, didDocument: { ...cur.didDocument, alsoKnownAs: ["https://alice.example"] } }));
    await ok("did", "update", "--key", "alice", "--doc", file);
    // the same document again changes nothing: refused, no new version
    const same = await sid("did", "update", "--key", "alice", "--doc", file);
    expect(same.code).to.equal(1);
    expect(same.stderr).to.match(/unchanged: nothing to update/);
    const badFile = join(userHome, "bad.json");
    writeFileSync(badFile, "{ not json");
    const bad = await sid("did", "update", "--key", "alice", "--doc", badFile);
    expect(bad.code).to.equal(1);
    expect(bad.stderr.trim().split("\n")).to.have.length(1);

    expect((await ok("did", "resolve", did)).didDocument.alsoKnownAs).to.deep.equal(["https://alice.example"]);
    const v1 = await ok("did", "resolve", did, "--version-id", "1");
    expect(JSON.stringify(v1.didDocument)).to.include("#key-1");
    expect(v1.didDocumentMetadata.nextVersionId).to.equal("2");

    const hist = await ok("did", "history", did);
    expect(hist.versions.map((v: { operation: string }) => v.operation)).to.deep.equal(["create", "update", "update", "update", "update"]);
    // each change named from the documents (remove-key of #key-1 also drops it from its relationships)
    expect(hist.versions.map((v: { changes: string[] }) => v.changes.join("+"))).to.deep.equal(["create", "add-key", "remove-key", "add-service", "change-also-known-as"]);
    const histText = await sid("did", "history", did);
    expect(histText.stdout).to.match(/add-service/);

    const refused = await sid("did", "deactivate", "--key", "alice");
    expect(refused.code).to.not.equal(0);
    await ok("did", "deactivate", "--key", "alice", "--yes");
    const dead = await ok("did", "resolve", did);
    expect(dead.didDocumentMetadata.deactivated).to.equal(true);
    const after = await sid("did", "add-service", "--key", "alice", "--id", "x", "--type", "T", "--endpoint", "https://x.example");
    expect(after.code).to.equal(1);
    expect(after.stderr).to.match(/deactivated/i);

    // a restart keeps every version
    await node.stop();
    node = await startNodeProcess(nodeHome, { heartbeatMs: 60_000, port: Number(new URL(node.rpcUrl).port) });
    const v2 = await ok("did", "resolve", did, "--version-id", "2");
    expect(v2.didDocumentMetadata.versionId).to.equal("2");
    expect((await ok("did", "history", did)).versions).to.have.length(6);
  });

  it("runs as the README says, `npx sid`: the built command is executable", async () => {
    const root = resolve(fileURLToPath(import.meta.url), "../../../..");
    const r = await new Promise<{ code: number | null; out: string }>((done) => {
      const p = spawn("npm", ["exec", "--offline", "--", "sid", "--version"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      p.stdout.on("data", (d: Buffer) => (out += d.toString()));
      p.stderr.on("data", (d: Buffer) => (out += d.toString()));
      p.on("close", (code) => done({ code, out }));
    });
    expect(r.code, r.out).to.equal(0);
    expect(r.out.trim()).to.equal(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version);
  });

  it("stops quietly when its reader closes the pipe, and says so when the output cannot be written", async () => {
    // The read end closed before the command writes a byte (`sid --help | head -0`): status 141, as SIGPIPE would end it, and no stack trace.
    const piped = await new Promise<{ code: number | null; err: string }>((done) => {
      const p = spawn(process.execPath, [CLI, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
      p.stdout.destroy();
      let err = "";
      p.stderr.on("data", (d: Buffer) => (err += d.toString()));
      p.on("close", (code) => done({ code, err }));
    });
    expect(piped.err).to.equal("");
    expect(piped.code).to.equal(141);
    // A full device under the output: a one-line error, status 1.
    const fd = openSync("/dev/full", "w");
    try {
      const full = await new Promise<{ code: number | null; err: string }>((done) => {
        const p = spawn(process.execPath, [CLI, "--help"], { stdio: ["ignore", fd, "pipe"] });
        let err = "";
        p.stderr!.on("data", (d: Buffer) => (err += d.toString()));
        p.on("close", (code) => done({ code, err }));
      });
      expect(full.err).to.match(/^error: cannot write the output: ENOSPC/);
      expect(full.err.trim().split("\n")).to.have.length(1);
      expect(full.code).to.equal(1);
    } finally {
      closeSync(fd);
    }
  });

  it("answers an unknown and an invalid DID with a clear error", async () => {
    const nf = await sid("did", "resolve", "did:sid:2ePAhj1KMfDWmVniUhBsPV5PSHps");
    expect(nf.code).to.equal(1);
    expect(nf.json.didResolutionMetadata.error).to.equal("notFound");
    const inv = await sid("did", "resolve", "did:sid:0OIl");
    expect(inv.code).to.equal(1);
    expect(inv.stderr).to.match(/invalidDid/);
    const other = await sid("did", "resolve", "did:example:123");
    expect(other.code).to.equal(1);
    expect(other.stderr).to.match(/methodNotSupported/);
  });
});
