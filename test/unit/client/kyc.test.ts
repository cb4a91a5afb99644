/**
 * The KYC glue's pure parts: RPC answers turned into what verification reads
 * (ms times, the accreditation period at a height), the subject's default
 * holder key, and the CLI's trustee key file checks. The node-backed parts
 * run in test/integration/kyc.test.ts.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "../../../src/crypto/bytes.js";
import { addVerificationMethod, buildInitialDocument } from "../../../src/did/document.js";
import { didFromPublicKey } from "../../../src/did/syntax.js";
import {
  credentialHolderKey,
  firstAuthenticationKey,
  issueSdJwtVc,
  issuerAccreditationAt,
  type IssuerJson,
} from "../../../src/client/index.js";
import { readTrusteeKeyFile } from "../../../src/cli/kyc.js";
import { CliError } from "../../../src/cli/errors.js";
import { fixedKey } from "../../helpers/fixtures.js";

const ISSUER = "did:sid:2ePAhj1KMfDWmVniUhBsPV5PSHps";

describe("client/kyc glue", () => {
  it("reads the accreditation period in force at a height, none before the first", () => {
    const issuer: IssuerJson = {
      did: ISSUER,
      name: "Acme",
      types: ["KYCBasic", "AgeOver18"],
      status: "removed",
      updatedHeight: 30,
      updated: "2026-01-03T00:00:00.000Z",
      history: [
        { status: "active", name: "Acme", types: ["KYCBasic"], height: 10, time: "2026-01-01T00:00:00.000Z" },
        { status: "suspended", name: "Acme", types: ["KYCBasic"], height: 20, time: "2026-01-02T00:00:00.000Z" },
        { status: "removed", name: "Acme", types: ["KYCBasic", "AgeOver18"], height: 30, time: "2026-01-03T00:00:00.000Z" },
      ],
    };
    expect(issuerAccreditationAt(issuer, 9)).to.equal(undefined);
    expect(issuerAccreditationAt(issuer, 10)).to.deep.equal({ did: ISSUER, name: "Acme", types: ["KYCBasic"], status: "active" });
    expect(issuerAccreditationAt(issuer, 19)?.status).to.equal("active");
    expect(issuerAccreditationAt(issuer, 20)?.status).to.equal("suspended");
    expect(issuerAccreditationAt(issuer, 1000)).to.deep.equal({ did: ISSUER, name: "Acme", types: ["KYCBasic", "AgeOver18"], status: "removed" });
  });

  it("takes the subject's first authentication key as the default holder key", () => {
    const k1 = fixedKey(0x21);
    const k2 = fixedKey(0x22);
    const doc = addVerificationMethod(buildInitialDocument(k1.publicKey), k2.publicKey, "key-2", ["authentication"]);
    expect(toHex(firstAuthenticationKey(doc)!)).to.equal(toHex(k1.publicKey));
    expect(firstAuthenticationKey({ ...doc, authentication: [] })).to.equal(undefined);
  });

  it("reads the holder key of an SD-JWT VC, and none of anything else", async () => {
    const issuer = fixedKey(0x31);
    const holder = fixedKey(0x32);
    const did = didFromPublicKey(issuer.publicKey);
    const c = await issueSdJwtVc({
      issuerDid: did,
      issuerKid: `${did}#key-1`,
      issuerSecretKey: issuer.secretKey,
      subjectDid: didFromPublicKey(holder.publicKey),
      holderPublicKey: holder.publicKey,
      type: "KYCBasic",
      claims: { age_over_18: true },
      validFrom: 1_750_000_000_000,
    });
    expect(toHex(credentialHolderKey(c.credential)!)).to.equal(toHex(holder.publicKey));
    expect(credentialHolderKey("not a credential")).to.equal(undefined);
  });
});

describe("cli/kyc trustee key file", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-trustee-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, body: string) => {
    const f = join(dir, name);
    writeFileSync(f, body);
    return f;
  };
  const key = fixedKey(0x41);

  it("reads the file sid init writes", async () => {
    const f = write("ok.json", JSON.stringify({ did: didFromPublicKey(key.publicKey), publicKey: toHex(key.publicKey), secretKey: toHex(key.secretKey) }));
    const k = await readTrusteeKeyFile(f);
    expect(toHex(k.publicKey)).to.equal(toHex(key.publicKey));
  });

  it("refuses a missing, oversized, non-JSON or inconsistent file with one clear error", async () => {
    const other = fixedKey(0x42);
    const cases: Array<[string, RegExp]> = [
      [join(dir, "absent.json"), /no such file/],
      [write("big.json", " ".repeat(5000)), /more than 4096/],
      [write("bad.json", "{ nope"), /not valid JSON/],
      [write("nokey.json", JSON.stringify({ did: ISSUER })), /secretKey/],
      [write("wrongdid.json", JSON.stringify({ did: didFromPublicKey(other.publicKey), secretKey: toHex(key.secretKey) })), /"did" is not the DID/],
      [write("wrongpub.json", JSON.stringify({ publicKey: toHex(other.publicKey), secretKey: toHex(key.secretKey) })), /"publicKey" is not/],
    ];
    for (const [file, message] of cases) {
      let err: unknown;
      try {
        await readTrusteeKeyFile(file);
      } catch (e) {
        err = e;
      }
      expect(err, file).to.be.instanceOf(CliError);
      expect((err as Error).message, file).to.match(message);
    }
  });
});
