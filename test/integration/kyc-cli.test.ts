/**
 * The KYC flow through the `sid` command against a real dev node process:
 * the home's trustee accredits an issuer, the issuer issues and anchors a
 * credential, the holder presents two claims, the verifier's verdict and
 * exit code follow the credential's status.
 */
import { expect } from "chai";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type NodeProcess, removeHome, runCli, startNodeProcess, tempHome } from "../helpers/node-process.js";

describe("integration: KYC through the CLI", function () {
  this.timeout(180_000);
  let node: NodeProcess;
  let nodeHome: string;
  let userHome: string;
  const env = { SID_PASSPHRASE: "kyc cli test passphrase" };

  const sid = async (...args: string[]) => {
    const r = await runCli([...args, "--home", userHome, "--rpc", node.rpcUrl, "--json"], env);
    let json: any;
    try {
      json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
    } catch {
      json = undefined;
    }
    return { ...r, json };
  };
  const ok = async (...args: string[]) => {
    const r = await sid(...args);
    expect(r.code, `${args.join(" ")}: ${r.stderr}`).to.equal(0);
    return r.json;
  };

  before(async () => {
    nodeHome = tempHome("sid-kyc-cli-node-");
    userHome = tempHome("sid-kyc-cli-user-");
    node = await startNodeProcess(nodeHome, { heartbeatMs: 60_000 });
  });
  after(async () => {
    await node?.stop();
    removeHome(nodeHome);
    removeHome(userHome);
  });

  it("issues, presents and verifies; verify exits 1 with the reason once the credential is revoked", async () => {
    const issuer = await ok("keys", "new", "--name", "acme");
    const holder = await ok("keys", "new", "--name", "alice");
    await ok("did", "create", "--key", "acme");
    await ok("did", "create", "--key", "alice");

    const trusteeKey = join(nodeHome, "config", "trustee_key.json");
    const added = await ok("issuer", "add", issuer.did, "--name", "Acme KYC", "--types", "KYCBasic", "--trustee-key", trusteeKey);
    expect(added.executed).to.equal(true);
    expect((await ok("issuer", "get", issuer.did)).status).to.equal("active");

    const claims = join(userHome, "claims.json");
    writeFileSync(claims, JSON.stringify({ given_name: "Alice", family_name: "Liddell", birthdate: "1852-05-04", age_over_18: true }));
    const credFile = join(userHome, "alice.cred");
    const issued = await ok("kyc", "issue", "--issuer-key", "acme", "--subject", holder.did, "--claims", claims, "--type", "KYCBasic", "--out", credFile);
    expect(issued.credentialId).to.match(/^[0-9a-f]{32}$/);
    expect(statSync(credFile).mode & 0o777).to.equal(0o600);
    // a second issue may not overwrite the first credential
    const clobber = await sid("kyc", "issue", "--issuer-key", "acme", "--subject", holder.did, "--claims", claims, "--type", "KYCBasic", "--out", credFile);
    expect(clobber.code).to.equal(1);
    expect(clobber.stderr).to.match(/exists/);

    const presFile = join(userHome, "alice.pres");
    await ok("kyc", "present", credFile, "--disclose", "given_name,age_over_18", "--key", "alice", "--audience", "https://bar.example", "--nonce", "n-1", "--out", presFile);

    const verdict = await ok("kyc", "verify", presFile, "--audience", "https://bar.example", "--nonce", "n-1");
    expect(verdict.valid).to.equal(true);
    expect(verdict.disclosed).to.deep.equal({ given_name: "Alice", age_over_18: true });
    expect(verdict.issuer).to.equal(issuer.did);

    const replay = await sid("kyc", "verify", presFile, "--audience", "https://bar.example", "--nonce", "n-2");
    expect(replay.code).to.equal(1);
    expect(replay.json.reason).to.equal("NONCE_MISMATCH");

    await ok("kyc", "revoke", issued.credentialId, "--issuer-key", "acme");
    const revoked = await sid("kyc", "verify", presFile, "--audience", "https://bar.example", "--nonce", "n-1");
    expect(revoked.code).to.equal(1);
    expect(revoked.json).to.include({ valid: false, reason: "REVOKED", status: "revoked" });
    expect(revoked.stderr).to.match(/REVOKED/);
    const text = await runCli(["kyc", "verify", presFile, "--rpc", node.rpcUrl], env);
    expect(text.code).to.equal(1);
    expect(text.stdout).to.match(/^INVALID: REVOKED/);

    expect((await ok("kyc", "status", issued.credentialId)).status).to.equal("revoked");
    expect((await ok("kyc", "status", issued.credentialId, "--height", String(issued.height))).status).to.equal("active");
  });
});
