/**
 * KYC credentials off chain: issue, present and verify SD-JWT VC and JWT VC
 * against an in-memory chain (DID versions resolved with the real resolution
 * rules, anchors, an issuer registry with history). No node: the lead's
 * integration test runs the same verifier against a real one.
 */
import { expect } from "chai";
import { verifyCredential as didJwtVcVerifyCredential } from "did-jwt-vc";
import { Resolver } from "did-resolver";
import { base64urlDecode, base64urlEncode } from "../../../src/crypto/encoding.js";
import { utf8 } from "../../../src/crypto/bytes.js";
import { addVerificationMethod, buildInitialDocument, removeVerificationMethod, type DidDocument } from "../../../src/did/document.js";
import { resolveFromVersions, type VersionInfo } from "../../../src/did/resolution.js";
import {
  CredentialError,
  CredentialErrorCode,
  VerdictReason,
  credentialDigest,
  credentialIdFromJti,
  issueJwtVc,
  issueSdJwtVc,
  newCredentialId,
  presentSdJwtVc,
  verifyCredentialPresentation,
  type AnchorStatus,
  type AnchoredCredential,
  type CredentialVerificationDeps,
  type IssueSdJwtVcInput,
  type IssuedCredential,
  type IssuerAccreditation,
  type JsonValue,
  type Verdict,
  type VerificationExpectation,
} from "../../../src/client/index.js";
import { es256kSign, sdDigest } from "../../../src/client/credentials/jose.js";
import { fixedKey } from "../../helpers/fixtures.js";

const DAY = 86_400_000;
/** Issuance moment; a whole second so validFrom survives the trip to JWT seconds unchanged. */
const T0 = 1_750_000_000_000;
const AUDIENCE = "https://verifier.example/kyc";
const NONCE = "n-0S6_WzA2Mj";

const issuerKey = fixedKey(0x11);
const holderKey = fixedKey(0x22);
const strangerKey = fixedKey(0x33);
const issuerAuthOnlyKey = fixedKey(0x44);
const issuerNewKey = fixedKey(0x55);

const CLAIMS: Record<string, JsonValue> = {
  given_name: "Annelie",
  family_name: "Vandermeulen-Okafor",
  birthdate: "1987-03-14",
  document_number: "P-CHE-4471902",
  age_over_18: true,
};
/** The values a presentation of given_name and age_over_18 must not leak. */
const HIDDEN_VALUES = ["Vandermeulen-Okafor", "1987-03-14", "P-CHE-4471902"];

/** The chain as verification reads it: DID versions, anchors, and an issuer registry with history. */
class FakeChain implements CredentialVerificationDeps {
  readonly versions = new Map<string, VersionInfo[]>();
  readonly anchors = new Map<string, AnchoredCredential>();
  /** Per issuer: registry entries from a height on, ascending. */
  readonly registry = new Map<string, Array<{ fromHeight: number; entry: IssuerAccreditation }>>();
  readonly resolutions: Array<{ did: string; versionTime?: string }> = [];
  statusAtOverride: ((id: string, timeMs: number) => Promise<AnchorStatus | undefined>) | undefined;

  addVersion(doc: DidDocument, time: number, deactivated = false): void {
    const list = this.versions.get(doc.id) ?? [];
    list.push({ versionId: list.length + 1, time, deactivated, document: doc });
    this.versions.set(doc.id, list);
  }

  async resolveDid(did: string, options?: { versionTime?: string }) {
    this.resolutions.push({ did, ...(options?.versionTime ? { versionTime: options.versionTime } : {}) });
    return resolveFromVersions(did, this.versions.get(did) ?? [], options ?? {}, Number.MAX_SAFE_INTEGER);
  }

  anchor(c: IssuedCredential, at: { height: number; time: number }, overrides: Partial<AnchoredCredential> = {}): AnchoredCredential {
    const a: AnchoredCredential = {
      id: c.credentialId,
      issuer: c.issuer,
      subject: c.subject,
      types: c.types,
      digest: c.digest,
      validFrom: c.validFrom,
      validUntil: c.validUntil,
      anchoredHeight: at.height,
      anchoredTime: at.time,
      status: "active",
      ...overrides,
    };
    this.anchors.set(a.id, a);
    return a;
  }

  async getAnchor(id: string) {
    return this.anchors.get(id);
  }

  setIssuer(fromHeight: number, entry: IssuerAccreditation): void {
    const list = this.registry.get(entry.did) ?? [];
    list.push({ fromHeight, entry });
    this.registry.set(entry.did, list);
  }

  async issuerAt(did: string, height: number) {
    let found: IssuerAccreditation | undefined;
    for (const { fromHeight, entry } of this.registry.get(did) ?? []) if (fromHeight <= height) found = entry;
    return found;
  }
}

/** statusAt is optional: a chain that offers it is a FakeChain plus this method. */
function withStatusAt(chain: FakeChain, statusAt: (id: string, timeMs: number) => Promise<AnchorStatus | undefined>): CredentialVerificationDeps {
  return {
    resolveDid: (did, o) => chain.resolveDid(did, o),
    getAnchor: (id) => chain.getAnchor(id),
    issuerAt: (did, h) => chain.issuerAt(did, h),
    statusAt,
  };
}

interface World {
  chain: FakeChain;
  issuerDoc: DidDocument;
  holderDoc: DidDocument;
  issuerDid: string;
  holderDid: string;
}

/** Issuer and holder DIDs registered a day before T0; issuer accredited for KYCBasic from height 1. */
function world(): World {
  const chain = new FakeChain();
  const issuerDoc = addVerificationMethod(buildInitialDocument(issuerKey.publicKey), issuerAuthOnlyKey.publicKey, "key-2", ["authentication"]);
  const holderDoc = buildInitialDocument(holderKey.publicKey);
  chain.addVersion(issuerDoc, T0 - DAY);
  chain.addVersion(holderDoc, T0 - DAY);
  chain.setIssuer(1, { did: issuerDoc.id, name: "Example KYC AG", types: ["KYCBasic"], status: "active" });
  return { chain, issuerDoc, holderDoc, issuerDid: issuerDoc.id, holderDid: holderDoc.id };
}

function sdInput(w: World, overrides: Partial<IssueSdJwtVcInput> = {}): IssueSdJwtVcInput {
  return {
    issuerDid: w.issuerDid,
    issuerKid: `${w.issuerDid}#key-1`,
    issuerSecretKey: issuerKey.secretKey,
    subjectDid: w.holderDid,
    holderPublicKey: holderKey.publicKey,
    type: "KYCBasic",
    claims: CLAIMS,
    validFrom: T0,
    validUntil: T0 + 365 * DAY,
    issuedAt: T0,
    ...overrides,
  };
}

const ANCHOR_AT = { height: 10, time: T0 + 5_000 };
const NOW = T0 + DAY;
const EXPECT: VerificationExpectation = { audience: AUDIENCE, nonce: NONCE, now: NOW };

/** Issue the standard credential and anchor it at ANCHOR_AT. */
async function issuedAndAnchored(w: World, overrides: Partial<IssueSdJwtVcInput> = {}): Promise<IssuedCredential> {
  const issued = await issueSdJwtVc(sdInput(w, overrides));
  w.chain.anchor(issued, ANCHOR_AT);
  return issued;
}

function present(credential: string, disclose = ["given_name", "age_over_18"], holderSecretKey = holderKey.secretKey): Promise<string> {
  return presentSdJwtVc({ credential, disclose, holderSecretKey, audience: AUDIENCE, nonce: NONCE, now: NOW - 60_000 });
}

function b64json(v: unknown): string {
  return base64urlEncode(utf8(JSON.stringify(v)));
}

function unb64json(segment: string): unknown {
  return JSON.parse(Buffer.from(base64urlDecode(segment)).toString("utf8"));
}

/** A KB-JWT signed by `secretKey` over `withoutKb` (`jwt~disclosures~`), made by hand so tests can forge one. */
function keyBindingJwt(withoutKb: string, secretKey: Uint8Array, aud = AUDIENCE, nonce = NONCE): string {
  const signingInput = `${b64json({ typ: "kb+jwt", alg: "ES256K" })}.${b64json({ iat: Math.floor(NOW / 1000) - 60, aud, nonce, sd_hash: sdDigest(withoutKb) })}`;
  return `${signingInput}.${es256kSign(signingInput, secretKey)}`;
}

/** The issuer JWT of `jwt` with its payload changed and re-signed by `secretKey`. */
function resign(jwt: string, change: (payload: Record<string, unknown>) => void, secretKey: Uint8Array): string {
  const [h, p] = jwt.split(".");
  const payload = unb64json(p!) as Record<string, unknown>;
  change(payload);
  const signingInput = `${h}.${b64json(payload)}`;
  return `${signingInput}.${es256kSign(signingInput, secretKey)}`;
}

function parts(presentation: string): { jwt: string; disclosures: string[]; kb: string } {
  const all = presentation.split("~");
  return { jwt: all[0]!, disclosures: all.slice(1, -1), kb: all[all.length - 1]! };
}

function expectRefused(v: Verdict, reason: VerdictReason): void {
  expect(v.valid, `expected ${reason}, got ${JSON.stringify(v)}`).to.equal(false);
  expect(v.reason, v.message).to.equal(reason);
  expect(v.message).to.be.a("string").and.not.equal("");
  expect(v.disclosed).to.deep.equal({});
}

function expectValid(v: Verdict): void {
  expect(v.valid, `expected valid, got ${v.reason}: ${v.message}`).to.equal(true);
  expect(v.reason).to.equal(undefined);
}

async function expectCredentialError(p: Promise<unknown>, code: CredentialErrorCode): Promise<CredentialError> {
  try {
    await p;
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(CredentialError);
    expect((err as CredentialError).code).to.equal(code);
    return err as CredentialError;
  }
  expect.fail(`expected CredentialError ${code}`);
}

describe("client/credentials", function () {
  describe("contract", function () {
    it("credential ids are 32 lowercase hex and round-trip through the jti URN", function () {
      const id = newCredentialId();
      expect(id).to.match(/^[0-9a-f]{32}$/);
      expect(newCredentialId()).to.not.equal(id);
      expect(credentialIdFromJti(`urn:sid:credential:${id}`)).to.equal(id);
      expect(credentialIdFromJti(`urn:sid:credential:${id.toUpperCase()}`)).to.equal(undefined);
      expect(credentialIdFromJti(`urn:sid:credential:${id}0`)).to.equal(undefined);
      expect(credentialIdFromJti(id)).to.equal(undefined);
      expect(credentialIdFromJti(7)).to.equal(undefined);
    });

    it("the anchored digest is sha256 hex of the issuer-signed JWT only (known answer)", function () {
      // sha256("abc"), FIPS 180-2 appendix B.1
      const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
      expect(credentialDigest("abc")).to.equal(abc);
      expect(credentialDigest("abc~WyJzIiwibiIsInYiXQ~")).to.equal(abc);
      expect(credentialDigest("abc~d1~d2~kb.jwt.sig")).to.equal(abc);
    });
  });

  describe("SD-JWT VC", function () {
    it("issues every claim as a salted disclosure under a dc+sd-jwt ES256K header with the issuer kid", async function () {
      const w = world();
      const issued = await issueSdJwtVc(sdInput(w));
      const { jwt, disclosures, kb } = parts(issued.credential);
      expect(kb).to.equal("");
      expect(disclosures).to.have.length(5);
      const [h, p] = jwt.split(".");
      expect(unb64json(h!)).to.deep.equal({ typ: "dc+sd-jwt", kid: `${w.issuerDid}#key-1`, alg: "ES256K" });
      const payload = unb64json(p!) as Record<string, unknown>;
      expect(payload).to.include({ iss: w.issuerDid, sub: w.holderDid, iat: T0 / 1000, nbf: T0 / 1000, exp: (T0 + 365 * DAY) / 1000 });
      expect(payload.vct).to.equal("urn:sid:type:KYCBasic");
      expect(payload.jti).to.equal(`urn:sid:credential:${issued.credentialId}`);
      expect(payload._sd_alg).to.equal("sha-256");
      expect((payload.cnf as { jwk: unknown }).jwk).to.deep.equal(w.holderDoc.verificationMethod![0]!.publicKeyJwk);
      for (const name of Object.keys(CLAIMS)) expect(payload).to.not.have.property(name);
      const sd = payload._sd as string[];
      expect(sd).to.have.length(5);
      expect(disclosures.map(sdDigest).sort()).to.deep.equal([...sd].sort());
      const decoded = disclosures.map((d) => unb64json(d) as [string, string, JsonValue]);
      expect(Object.fromEntries(decoded.map(([, n, v]) => [n, v]))).to.deep.equal(CLAIMS);
      expect(new Set(decoded.map(([salt]) => salt)).size).to.equal(5);
      expect(issued).to.include({ format: "sd-jwt-vc", issuer: w.issuerDid, subject: w.holderDid, validFrom: T0, validUntil: T0 + 365 * DAY });
      expect(issued.types).to.deep.equal(["KYCBasic"]);
      expect(issued.digest).to.equal(credentialDigest(jwt));
    });

    it("presents two of five claims and the verifier accepts exactly those two", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w);
      const presentation = await present(issued.credential);
      const v = await verifyCredentialPresentation(presentation, w.chain, EXPECT);
      expectValid(v);
      expect(v.disclosed).to.deep.equal({ given_name: "Annelie", age_over_18: true });
      expect(v).to.include({ format: "sd-jwt-vc", credentialId: issued.credentialId, issuer: w.issuerDid, subject: w.holderDid, status: "active" });
      expect(v.types).to.deep.equal(["KYCBasic"]);
      // The issuer key was looked up as of anchoring time; the holder's document as of now.
      expect(w.chain.resolutions).to.deep.include({ did: w.issuerDid, versionTime: new Date(ANCHOR_AT.time).toISOString() });
      expect(w.chain.resolutions).to.deep.include({ did: w.holderDid });
    });

    it("the presentation text holds none of the undisclosed claim values, raw or base64url-decoded", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w);
      const presentation = await present(issued.credential);
      const segments = presentation.split(/[~.]/).filter((s) => s !== "");
      const decoded = segments.map((s) => Buffer.from(base64urlDecode(s)).toString("latin1"));
      // Control: the disclosed values are there once decoded, so the search does look in the right place.
      expect(decoded.join("\n")).to.include("Annelie");
      for (const secret of HIDDEN_VALUES) {
        expect(presentation).to.not.include(secret);
        for (const text of decoded) expect(text).to.not.include(secret);
      }
      // ... while the full credential does carry them (the check above is not vacuous).
      const full = issued.credential.split(/[~.]/).filter((s) => s !== "").map((s) => Buffer.from(base64urlDecode(s)).toString("latin1"));
      for (const secret of HIDDEN_VALUES) expect(full.join("\n")).to.include(secret);
    });

    it("refuses a tampered disclosure even under a fresh, valid key binding (DISCLOSURE_MISMATCH)", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w);
      const { jwt, disclosures } = parts(await present(issued.credential));
      const [salt, name] = unb64json(disclosures[0]!) as [string, string, JsonValue];
      expect(name).to.equal("given_name");
      const tampered = [b64json([salt, name, "Mallory"]), disclosures[1]!];
      const withoutKb = `${jwt}~${tampered.join("~")}~`;
      const v = await verifyCredentialPresentation(withoutKb + keyBindingJwt(withoutKb, holderKey.secretKey), w.chain, EXPECT);
      expectRefused(v, VerdictReason.DISCLOSURE_MISMATCH);
    });

    it("refuses a disclosure with the right name and value under another salt (DISCLOSURE_MISMATCH)", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w);
      const { jwt } = parts(issued.credential);
      const foreign = b64json([base64urlEncode(new Uint8Array(16).fill(9)), "family_name", "Vandermeulen-Okafor"]);
      const withoutKb = `${jwt}~${foreign}~`;
      const v = await verifyCredentialPresentation(withoutKb + keyBindingJwt(withoutKb, holderKey.secretKey), w.chain, EXPECT);
      expectRefused(v, VerdictReason.DISCLOSURE_MISMATCH);
    });

    it("refuses signed disclosures holding nested SD-JWT keys or nesting too deep (DISCLOSURE_MISMATCH)", async function () {
      let deep: JsonValue = "bottom";
      for (let i = 0; i < 20; i++) deep = { inner: deep };
      for (const value of [{ street: "Hauptstrasse 1", _sd: ["x"] }, deep]) {
        const w = world();
        const issued = await issueSdJwtVc(sdInput(w));
        const disclosure = b64json([base64urlEncode(new Uint8Array(16).fill(7)), "address", value]);
        // The issuer itself signs the odd disclosure, so only the value check can refuse it.
        const jwt = resign(parts(issued.credential).jwt, (p) => (p._sd = [...(p._sd as string[]), sdDigest(disclosure)].sort()), issuerKey.secretKey);
        w.chain.anchor({ ...issued, digest: credentialDigest(jwt) }, ANCHOR_AT);
        const withoutKb = `${jwt}~${disclosure}~`;
        const v = await verifyCredentialPresentation(withoutKb + keyBindingJwt(withoutKb, holderKey.secretKey), w.chain, EXPECT);
        expectRefused(v, VerdictReason.DISCLOSURE_MISMATCH);
      }
    });

    it("refuses a key binding signed by a key other than cnf (BAD_KEY_BINDING)", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w);
      const { jwt, disclosures } = parts(await present(issued.credential));
      const withoutKb = `${jwt}~${disclosures.join("~")}~`;
      const v = await verifyCredentialPresentation(withoutKb + keyBindingJwt(withoutKb, strangerKey.secretKey), w.chain, EXPECT);
      expectRefused(v, VerdictReason.BAD_KEY_BINDING);
    });

    it("refuses a presentation made for another audience (AUDIENCE_MISMATCH)", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w);
      const presentation = await present(issued.credential);
      const v = await verifyCredentialPresentation(presentation, w.chain, { ...EXPECT, audience: "https://other-verifier.example" });
      expectRefused(v, VerdictReason.AUDIENCE_MISMATCH);
    });

    it("refuses a replayed presentation: same text, the verifier's new nonce (NONCE_MISMATCH)", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w);
      const presentation = await present(issued.credential);
      expectValid(await verifyCredentialPresentation(presentation, w.chain, EXPECT));
      const v = await verifyCredentialPresentation(presentation, w.chain, { ...EXPECT, nonce: "a-fresh-nonce" });
      expectRefused(v, VerdictReason.NONCE_MISMATCH);
    });

    it("refuses a key binding whose sd_hash does not cover the presented disclosures (SD_HASH_MISMATCH)", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w);
      const { jwt, disclosures, kb } = parts(await present(issued.credential));
      // Drop a disclosure but keep the holder's KB-JWT: each part alone is genuine.
      const v = await verifyCredentialPresentation(`${jwt}~${disclosures[0]}~${kb}`, w.chain, EXPECT);
      expectRefused(v, VerdictReason.SD_HASH_MISMATCH);
    });

    it("refuses a credential whose cnf key is not a key of the subject DID (HOLDER_KEY_MISMATCH)", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w, { holderPublicKey: strangerKey.publicKey });
      const presentation = await present(issued.credential, ["given_name"], strangerKey.secretKey);
      expectRefused(await verifyCredentialPresentation(presentation, w.chain, EXPECT), VerdictReason.HOLDER_KEY_MISMATCH);
    });

    it("refuses a presentation once the holder has deactivated the subject DID (SUBJECT_DID_UNRESOLVED)", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w);
      const presentation = await present(issued.credential);
      expectValid(await verifyCredentialPresentation(presentation, w.chain, EXPECT));
      w.chain.addVersion(w.holderDoc, T0 + DAY / 2, true);
      expectRefused(await verifyCredentialPresentation(presentation, w.chain, EXPECT), VerdictReason.SUBJECT_DID_UNRESOLVED);
    });

    it("refuses a credential whose issuer DID did not exist when it was anchored (ISSUER_DID_UNRESOLVED)", async function () {
      const w = world();
      const issued = await issueSdJwtVc(sdInput(w));
      w.chain.anchor(issued, { height: 10, time: T0 - 2 * DAY });
      expectRefused(await verifyCredentialPresentation(await present(issued.credential), w.chain, EXPECT), VerdictReason.ISSUER_DID_UNRESOLVED);
    });

    it("requires key binding by default: a bare credential is refused, accepted whole only when binding is waived", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w);
      expectRefused(await verifyCredentialPresentation(issued.credential, w.chain, EXPECT), VerdictReason.KEY_BINDING_MISSING);
      const v = await verifyCredentialPresentation(issued.credential, w.chain, { now: NOW, requireKeyBinding: false });
      expectValid(v);
      expect(v.disclosed).to.deep.equal(CLAIMS);
    });

    it("refuses a kid that is only an authentication key of the issuer (KEY_NOT_ASSERTION_METHOD)", async function () {
      const w = world();
      await issuedAndAnchored(w); // the regular one, so the registry is populated alike
      const issued = await issuedAndAnchored(w, { issuerKid: `${w.issuerDid}#key-2`, issuerSecretKey: issuerAuthOnlyKey.secretKey });
      const v = await verifyCredentialPresentation(await present(issued.credential), w.chain, EXPECT);
      expectRefused(v, VerdictReason.KEY_NOT_ASSERTION_METHOD);
    });

    it("refuses a signature by another key under the issuer's kid (BAD_SIGNATURE)", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w, { issuerSecretKey: strangerKey.secretKey });
      const v = await verifyCredentialPresentation(await present(issued.credential), w.chain, EXPECT);
      expectRefused(v, VerdictReason.BAD_SIGNATURE);
    });

    it("refuses a credential whose issuer JWT does not hash to the anchored digest (DIGEST_MISMATCH)", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w);
      const other = await issueSdJwtVc(sdInput(w, { credentialId: issued.credentialId, claims: { given_name: "Annelie", age_over_18: false } }));
      // The same id, a different credential: what an issuer would try to swap in after anchoring.
      const v = await verifyCredentialPresentation(await present(other.credential), w.chain, EXPECT);
      expectRefused(v, VerdictReason.DIGEST_MISMATCH);
      expect(v.credentialId).to.equal(issued.credentialId);
    });

    it("refuses a credential that was never anchored (NOT_ANCHORED)", async function () {
      const w = world();
      const issued = await issueSdJwtVc(sdInput(w));
      const v = await verifyCredentialPresentation(await present(issued.credential), w.chain, EXPECT);
      expectRefused(v, VerdictReason.NOT_ANCHORED);
      expect(v.status).to.equal(null);
    });

    it("refuses an anchor that names another subject (ANCHOR_MISMATCH)", async function () {
      const w = world();
      const issued = await issueSdJwtVc(sdInput(w));
      w.chain.anchor(issued, ANCHOR_AT, { subject: w.issuerDid });
      expectRefused(await verifyCredentialPresentation(await present(issued.credential), w.chain, EXPECT), VerdictReason.ANCHOR_MISMATCH);
    });

    it("refuses a jti that is not urn:sid:credential:<32 hex> (MISSING_CREDENTIAL_ID)", async function () {
      const w = world();
      const issued = await issueSdJwtVc(sdInput(w));
      const { jwt, disclosures } = parts(issued.credential);
      const forged = resign(jwt, (p) => (p.jti = "urn:uuid:1234"), issuerKey.secretKey);
      const v = await verifyCredentialPresentation(`${forged}~${disclosures.join("~")}~`, w.chain, { now: NOW, requireKeyBinding: false });
      expectRefused(v, VerdictReason.MISSING_CREDENTIAL_ID);
    });

    it("refuses revoked and suspended credentials with their status", async function () {
      for (const status of ["revoked", "suspended"] as const) {
        const w = world();
        const issued = await issueSdJwtVc(sdInput(w));
        w.chain.anchor(issued, ANCHOR_AT, { status, statusHeight: 20 });
        const v = await verifyCredentialPresentation(await present(issued.credential), w.chain, EXPECT);
        expectRefused(v, status === "revoked" ? VerdictReason.REVOKED : VerdictReason.SUSPENDED);
        expect(v.status).to.equal(status);
      }
    });

    it("asks statusAt for the status at `now` when the chain offers it", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w);
      const asked: number[] = [];
      const deps = withStatusAt(w.chain, async (_id, t) => {
        asked.push(t);
        return t < T0 + 2 * DAY ? "active" : "revoked";
      });
      const presentation = await present(issued.credential);
      expectValid(await verifyCredentialPresentation(presentation, deps, EXPECT));
      expectRefused(await verifyCredentialPresentation(presentation, deps, { ...EXPECT, now: T0 + 3 * DAY }), VerdictReason.REVOKED);
      expect(asked).to.deep.equal([NOW, T0 + 3 * DAY]);
    });

    it("refuses on and after validUntil (EXPIRED), accepts a millisecond before", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w, { validUntil: T0 + 30 * DAY });
      const presentation = await present(issued.credential);
      expectValid(await verifyCredentialPresentation(presentation, w.chain, { ...EXPECT, now: T0 + 30 * DAY - 1 }));
      const v = await verifyCredentialPresentation(presentation, w.chain, { ...EXPECT, now: T0 + 30 * DAY });
      expectRefused(v, VerdictReason.EXPIRED);
      expect(v.status).to.equal("expired");
    });

    it("refuses before validFrom (NOT_YET_VALID)", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w, { validFrom: T0 + 7 * DAY });
      const presentation = await present(issued.credential);
      expectRefused(await verifyCredentialPresentation(presentation, w.chain, EXPECT), VerdictReason.NOT_YET_VALID);
      expectValid(await verifyCredentialPresentation(presentation, w.chain, { ...EXPECT, now: T0 + 7 * DAY }));
    });

    it("judges accreditation at the anchoring height: a later suspension spares older credentials", async function () {
      const w = world();
      w.chain.setIssuer(50, { did: w.issuerDid, name: "Example KYC AG", types: ["KYCBasic"], status: "suspended" });
      const before = await issueSdJwtVc(sdInput(w));
      w.chain.anchor(before, { height: 40, time: T0 + 5_000 });
      const after = await issueSdJwtVc(sdInput(w));
      w.chain.anchor(after, { height: 60, time: T0 + 9_000 });
      expectValid(await verifyCredentialPresentation(await present(before.credential), w.chain, EXPECT));
      expectRefused(await verifyCredentialPresentation(await present(after.credential), w.chain, EXPECT), VerdictReason.ISSUER_NOT_ACCREDITED);
    });

    it("refuses an issuer that is not in the registry at all (ISSUER_NOT_ACCREDITED)", async function () {
      const w = world();
      w.chain.registry.clear();
      const issued = await issuedAndAnchored(w);
      expectRefused(await verifyCredentialPresentation(await present(issued.credential), w.chain, EXPECT), VerdictReason.ISSUER_NOT_ACCREDITED);
    });

    it("refuses a type the issuer is not accredited for (TYPE_NOT_ACCREDITED)", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w, { type: "AgeOver18", claims: { age_over_18: true } });
      const v = await verifyCredentialPresentation(await present(issued.credential, ["age_over_18"]), w.chain, EXPECT);
      expectRefused(v, VerdictReason.TYPE_NOT_ACCREDITED);
      expect(v.types).to.deep.equal(["AgeOver18"]);
    });

    it("checks the issuer key as of anchoring: a later rotation keeps old credentials, a rotated-out key signs no new ones", async function () {
      const w = world();
      const old = await issuedAndAnchored(w);
      // Day 2: the issuer adds key-3 and removes key-1.
      const rotated = removeVerificationMethod(addVerificationMethod(w.issuerDoc, issuerNewKey.publicKey, "key-3", ["assertionMethod"]), "#key-1");
      w.chain.addVersion(rotated, T0 + 2 * DAY);
      const later = { height: 90, time: T0 + 3 * DAY };
      const now = T0 + 4 * DAY;
      expectValid(await verifyCredentialPresentation(await present(old.credential), w.chain, { ...EXPECT, now }));

      const byOldKey = await issueSdJwtVc(sdInput(w));
      w.chain.anchor(byOldKey, later);
      expectRefused(await verifyCredentialPresentation(await present(byOldKey.credential), w.chain, { ...EXPECT, now }), VerdictReason.KEY_NOT_ASSERTION_METHOD);

      const byNewKey = await issueSdJwtVc(sdInput(w, { issuerKid: `${w.issuerDid}#key-3`, issuerSecretKey: issuerNewKey.secretKey }));
      w.chain.anchor(byNewKey, later);
      expectValid(await verifyCredentialPresentation(await present(byNewKey.credential), w.chain, { ...EXPECT, now }));
    });

    it("refuses what is not a credential of ours (MALFORMED) without throwing", async function () {
      const w = world();
      const issued = await issuedAndAnchored(w);
      const { jwt, disclosures } = parts(issued.credential);
      const withClearClaim = resign(jwt, (p) => (p.family_name = "Vandermeulen-Okafor"), issuerKey.secretKey);
      for (const bad of [
        "",
        "not a credential",
        "a.b.c",
        `${jwt}~~`,
        `${withClearClaim}~${disclosures.join("~")}~`,
        `${jwt}~${disclosures.join("~")}~not-a-jwt`,
        "x".repeat(70_000),
        42 as unknown as string,
      ]) {
        const v = await verifyCredentialPresentation(bad, w.chain, EXPECT);
        expectRefused(v, VerdictReason.MALFORMED);
      }
    });
  });

  describe("presentSdJwtVc input", function () {
    it("names the available claims when asked for one the credential lacks (UNKNOWN_CLAIM)", async function () {
      const w = world();
      const issued = await issueSdJwtVc(sdInput(w));
      const err = await expectCredentialError(present(issued.credential, ["given_name", "nationality"]), CredentialErrorCode.UNKNOWN_CLAIM);
      expect(err.data).to.deep.equal({ unknown: ["nationality"], available: Object.keys(CLAIMS).sort() });
      expect(err.message).to.include("nationality").and.include("document_number");
    });

    it("refuses a holder key that is not the credential's cnf key (HOLDER_KEY_MISMATCH)", async function () {
      const w = world();
      const issued = await issueSdJwtVc(sdInput(w));
      await expectCredentialError(present(issued.credential, ["given_name"], strangerKey.secretKey), CredentialErrorCode.HOLDER_KEY_MISMATCH);
    });

    it("refuses a presentation as input and a JWT VC (MALFORMED)", async function () {
      const w = world();
      const issued = await issueSdJwtVc(sdInput(w));
      await expectCredentialError(present(await present(issued.credential)), CredentialErrorCode.MALFORMED);
      const { holderPublicKey: _unused, ...jwtInput } = sdInput(w);
      const jwtVc = await issueJwtVc(jwtInput);
      await expectCredentialError(present(jwtVc.credential), CredentialErrorCode.MALFORMED);
    });
  });

  describe("issue input", function () {
    it("refuses reserved or malformed claim names, bad types, foreign kids, bad keys and inverted validity (INVALID_INPUT)", async function () {
      const w = world();
      const bad: Array<[string, Partial<IssueSdJwtVcInput>]> = [
        ["reserved claim", { claims: { sub: "x" } }],
        ["SD-JWT key in a claim name", { claims: { _sd: ["x"] } }],
        ["SD-JWT key nested in a value", { claims: { address: { _sd: ["x"] } } }],
        ["undefined value", { claims: { a: undefined as unknown as JsonValue } }],
        ["non-finite number", { claims: { a: Number.NaN } }],
        ["type name", { type: "KYC Basic" }],
        ["kid of another DID", { issuerKid: `${w.holderDid}#key-1` }],
        ["kid without fragment", { issuerKid: w.issuerDid }],
        ["issuer DID", { issuerDid: "did:example:123" }],
        ["holder key", { holderPublicKey: new Uint8Array(33) }],
        ["validUntil before validFrom", { validUntil: T0 - 1 }],
        ["credential id", { credentialId: "ABC" }],
      ];
      for (const [what, overrides] of bad) {
        const err = await expectCredentialError(issueSdJwtVc(sdInput(w, overrides)), CredentialErrorCode.INVALID_INPUT);
        expect(err.message, what).to.be.a("string").and.not.equal("");
      }
    });

    it("rounds validity inward to whole seconds and reports the rounded values for the anchor", async function () {
      const w = world();
      const issued = await issueSdJwtVc(sdInput(w, { validFrom: T0 + 1, validUntil: T0 + DAY + 999 }));
      expect(issued.validFrom).to.equal(T0 + 1000);
      expect(issued.validUntil).to.equal(T0 + DAY);
      const payload = unb64json(issued.credential.split(".")[1]!) as Record<string, number>;
      expect(payload.nbf).to.equal((T0 + 1000) / 1000);
      expect(payload.exp).to.equal((T0 + DAY) / 1000);
    });
  });

  describe("JWT VC", function () {
    async function issuedJwtVc(w: World) {
      const { holderPublicKey: _unused, ...input } = sdInput(w);
      const issued = await issueJwtVc(input);
      w.chain.anchor(issued, ANCHOR_AT);
      return issued;
    }

    it("issues a VC 1.1 JWT with kid and verifies it: all claims disclosed, no key binding", async function () {
      const w = world();
      const issued = await issuedJwtVc(w);
      expect(issued.credential).to.not.include("~");
      const [h, p] = issued.credential.split(".");
      expect(unb64json(h!)).to.include({ alg: "ES256K", kid: `${w.issuerDid}#key-1`, typ: "JWT" });
      const payload = unb64json(p!) as Record<string, unknown>;
      expect(payload).to.include({ iss: w.issuerDid, sub: w.holderDid, nbf: T0 / 1000, jti: `urn:sid:credential:${issued.credentialId}` });
      expect(payload.vc).to.deep.equal({
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        type: ["VerifiableCredential", "KYCBasic"],
        credentialSubject: { id: w.holderDid, ...CLAIMS },
      });
      expect(issued.digest).to.equal(credentialDigest(issued.credential));

      const v = await verifyCredentialPresentation(issued.credential, w.chain, { now: NOW });
      expectValid(v);
      expect(v.disclosed).to.deep.equal(CLAIMS);
      expect(v).to.include({ format: "jwt-vc", credentialId: issued.credentialId, issuer: w.issuerDid, subject: w.holderDid, status: "active" });
      expectRefused(await verifyCredentialPresentation(issued.credential, w.chain, { now: NOW, requireKeyBinding: true }), VerdictReason.KEY_BINDING_MISSING);
    });

    it("is accepted by did-jwt-vc through a did-resolver over the same DID documents", async function () {
      const w = world();
      const issued = await issuedJwtVc(w);
      const resolver = new Resolver({ sid: async (did) => (await w.chain.resolveDid(did)) as never });
      const result = await didJwtVcVerifyCredential(issued.credential, resolver, { policies: { now: NOW / 1000 } });
      expect(result.verified).to.equal(true);
      expect(result.signer.id).to.equal(`${w.issuerDid}#key-1`);
      expect(result.verifiableCredential.credentialSubject).to.include({ id: w.holderDid, family_name: "Vandermeulen-Okafor" });
    });

    it("shares the issuer-key rules: a forged signature and a non-assertion kid are refused", async function () {
      const w = world();
      const issued = await issuedJwtVc(w);
      const forged = resign(issued.credential, () => undefined, strangerKey.secretKey);
      w.chain.anchor({ ...issued, digest: credentialDigest(forged) }, ANCHOR_AT);
      expectRefused(await verifyCredentialPresentation(forged, w.chain, { now: NOW }), VerdictReason.BAD_SIGNATURE);

      const { holderPublicKey: _unused, ...input } = sdInput(w, { issuerKid: `${w.issuerDid}#key-2`, issuerSecretKey: issuerAuthOnlyKey.secretKey });
      const byAuthKey = await issueJwtVc(input);
      w.chain.anchor(byAuthKey, ANCHOR_AT);
      expectRefused(await verifyCredentialPresentation(byAuthKey.credential, w.chain, { now: NOW }), VerdictReason.KEY_NOT_ASSERTION_METHOD);
    });

    it("refuses a JWT VC with a revoked anchor and one never anchored", async function () {
      const w = world();
      const issued = await issuedJwtVc(w);
      w.chain.anchor(issued, ANCHOR_AT, { status: "revoked" });
      expectRefused(await verifyCredentialPresentation(issued.credential, w.chain, { now: NOW }), VerdictReason.REVOKED);
      w.chain.anchors.clear();
      expectRefused(await verifyCredentialPresentation(issued.credential, w.chain, { now: NOW }), VerdictReason.NOT_ANCHORED);
    });
  });

  describe("verify input", function () {
    it("throws INVALID_INPUT for a bad expectation rather than judging the credential", async function () {
      const w = world();
      await expectCredentialError(verifyCredentialPresentation("x", w.chain, { now: Number.NaN }), CredentialErrorCode.INVALID_INPUT);
      await expectCredentialError(verifyCredentialPresentation("x", w.chain, { now: 1.5 }), CredentialErrorCode.INVALID_INPUT);
    });
  });
});
