/**
 * The KYC flow through the `sid` command against a real dev node process:
 * the home's trustee accredits an issuer, the issuer creates a status list,
 * the holder requests copies (one key each), the issuer issues into the
 * list, the holder receives and presents one copy at a time, the verifier's
 * verdict and exit code follow suspend, reinstate and revoke.
 */
import { expect } from "chai";
import { readFileSync, statSync, writeFileSync } from "node:fs";
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

  it("list-create, request, issue, receive, present (warning when few copies remain), verify, suspend/reinstate/revoke, status", async () => {
    const issuer = await ok("keys", "new", "--name", "acme");
    await ok("keys", "new", "--name", "alice");
    await ok("did", "create", "--key", "acme");

    const trusteeKey = join(nodeHome, "config", "trustee_key.json");
    const added = await ok("issuer", "add", issuer.did, "--name", "Acme KYC", "--types", "KYCBasic", "--trustee-key", trusteeKey);
    expect(added.executed).to.equal(true);

    const list = await ok("kyc", "list-create", "kyc-1", "--issuer-key", "acme");
    expect(list.size).to.equal(131072);
    expect(list.uri).to.match(/\/status-lists\/[1-9A-HJ-NP-Za-km-z]+\/kyc-1$/);

    // The holder asks for 4 copies: one fresh public key each, no DID.
    const reqFile = join(userHome, "req.json");
    const req = await ok("kyc", "request", "--key", "alice", "--copies", "3", "--out", reqFile);
    expect(req.copies).to.equal(3);
    expect(readFileSync(reqFile, "utf8")).to.not.include("did:sid");

    const claims = join(userHome, "claims.json");
    writeFileSync(claims, JSON.stringify({ given_name: "Alice", family_name: "Liddell", birthdate: "1852-05-04", age_over_18: true }));
    const issuedFile = join(userHome, "issued.json");
    const issued = await ok("kyc", "issue", "--issuer-key", "acme", "--list", "kyc-1", "--type", "KYCBasic", "--claims", claims, "--request", reqFile, "--out", issuedFile);
    expect(issued.credentialId).to.match(/^[0-9a-f]{32}$/);
    expect(issued.copies).to.equal(3);
    expect(statSync(issuedFile).mode & 0o777).to.equal(0o600);

    const got = await ok("kyc", "receive", issuedFile, "--key", "alice");
    expect(got).to.include({ credentialId: issued.credentialId, copies: 3, issuer: issuer.did });

    const present = async (n: number, nonce: string) => {
      const file = join(userHome, `p${n}.txt`);
      const r = await sid("kyc", "present", issued.credentialId, "--disclose", "given_name,age_over_18", "--key", "alice", "--audience", "https://bar.example", "--nonce", nonce, "--out", file);
      expect(r.code, r.stderr).to.equal(0);
      return { file, remaining: r.json.remaining as number, stderr: r.stderr };
    };
    const p1 = await present(1, "n-1");
    expect(p1.remaining).to.equal(2);
    expect(p1.stderr).to.match(/only 2 unused copies/);

    const verdict = await ok("kyc", "verify", p1.file, "--audience", "https://bar.example", "--nonce", "n-1");
    expect(verdict).to.include({ valid: true, status: "valid", issuer: issuer.did });
    expect(verdict.disclosed).to.deep.equal({ given_name: "Alice", age_over_18: true });
    expect(verdict).to.not.have.any.keys("subject", "credentialId");
    expect(verdict.replayChecksSkipped).to.deep.equal([]);
    expect(verdict.issuerName).to.be.a("string").and.not.equal("");
    // Without the verifier's audience and nonce the signature still checks, and the answer says the replay checks were skipped.
    const unbound = await ok("kyc", "verify", p1.file);
    expect(unbound).to.include({ valid: true });
    expect(unbound.replayChecksSkipped).to.deep.equal(["--audience", "--nonce"]);

    await ok("kyc", "suspend", issued.credentialId, "--issuer-key", "acme");
    const p2 = await present(2, "n-3");
    const suspended = await sid("kyc", "verify", p2.file, "--audience", "https://bar.example", "--nonce", "n-3");
    expect(suspended.code).to.equal(1);
    expect(suspended.json).to.include({ valid: false, reason: "SUSPENDED", status: "suspended" });
    await ok("kyc", "reinstate", issued.credentialId, "--issuer-key", "acme");
    expect((await ok("kyc", "verify", p2.file, "--audience", "https://bar.example", "--nonce", "n-3")).valid).to.equal(true);

    await ok("kyc", "revoke", issued.credentialId, "--issuer-key", "acme");
    const revoked = await sid("kyc", "verify", p1.file, "--audience", "https://bar.example", "--nonce", "n-1");
    expect(revoked.code).to.equal(1);
    expect(revoked.json).to.include({ valid: false, reason: "REVOKED", status: "revoked" });
    const again = await sid("kyc", "reinstate", issued.credentialId, "--issuer-key", "acme");
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/revoked, which is final/);

    const status = await ok("kyc", "status", "--issuer-key", "acme");
    expect(status.credentials.map((c: { id: string; status: string }) => [c.id, c.status])).to.deep.equal([[issued.credentialId, "revoked"]]);
    expect(status.lists[0]).to.include({ listId: "kyc-1", size: 131072, free: 131072 - 3 });

    // The last copies: the warning says none is left, then present fails.
    const p3 = await present(3, "n-4");
    expect(p3.stderr).to.match(/no unused copies/);
    const none = await sid("kyc", "present", issued.credentialId, "--key", "alice", "--audience", "a", "--nonce", "n", "--out", join(userHome, "p5.txt"));
    expect(none.code).to.equal(1);
    expect(none.stderr).to.match(/every copy/);
  });
});
