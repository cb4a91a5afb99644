/**
 * KYC credentials off chain: one-time copies (SD-JWT VC and JWT VC),
 * presentations and verification against an in-memory chain (DID versions
 * resolved with the real resolution rules, status lists as signed tokens).
 * The node-backed flow runs in test/integration/kyc.test.ts.
 */
import { expect } from "chai";
import * as bip39 from "bip39";
import { HDKey } from "@scure/bip32";
import { createPrivateKey, sign as nodeSign } from "node:crypto";
import { base64urlDecode, base64urlEncode, publicKeyToJwk } from "../../../src/crypto/encoding.js";
import { isHighS } from "../../../src/crypto/secp256k1.js";
import { buildInitialDocument, type DidDocument } from "../../../src/did/document.js";
import { resolveFromVersions, type VersionInfo } from "../../../src/did/resolution.js";
import {
  CredentialError,
  CredentialErrorCode,
  DEFAULT_SD_DIGESTS,
  HolderKeys,
  StatusValue,
  holderKeyPath,
  VerdictReason,
  buildStatusListToken,
  issueCopies,
  presentSdJwtVc,
  setStatus,
  statusListUri,
  unissuedList,
  verifyCredentialPresentation,
  type CredentialVerificationDeps,
  type JsonValue,
  type StatusListSnapshot,
  type VerificationExpectation,
} from "../../../src/client/index.js";
import { decodeJws, decodeJsonSegment, es256kVerify } from "../../../src/client/credentials/jose.js";
import { TEST_MNEMONIC, fixedKey } from "../../helpers/fixtures.js";
import type { KeyPair } from "../../../src/crypto/hd.js";
import { deriveKey } from "../../../src/crypto/hd.js";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 5, 15, 13, 47, 12);
const AUDIENCE = "https://verifier.example/kyc";
const NONCE = "n-0S6_WzA2Mj";
const BASE = "http://127.0.0.1:8660";
const SIZE = 131_072;

const issuerKey = fixedKey(0x11);
const strangerKey = fixedKey(0x33);
const issuerDoc = buildInitialDocument(issuerKey.publicKey);
const ISSUER = issuerDoc.id;
const KID = `${ISSUER}#key-1`;
const LIST_URI = statusListUri(BASE, ISSUER, "kyc-1");

const CLAIMS: Record<string, JsonValue> = {
  given_name: "Annelie",
  family_name: "Vandermeulen-Okafor",
  birthdate: "1987-03-14",
  document_number: "P-CHE-4471902",
  age_over_18: true,
};
const HIDDEN_VALUES = ["Vandermeulen-Okafor", "1987-03-14", "P-CHE-4471902"];

const holder = new HolderKeys(TEST_MNEMONIC);

/** The chain as verification reads it: DID versions and status lists. */
class FakeChain implements CredentialVerificationDeps {
  readonly versions = new Map<string, VersionInfo[]>();
  readonly lists = new Map<string, StatusListSnapshot>();
  readonly listReads: string[] = [];

  addVersion(doc: DidDocument, time: number): void {
    const list = this.versions.get(doc.id) ?? [];
    list.push({ versionId: list.length + 1, time, deactivated: false, document: doc });
    this.versions.set(doc.id, list);
  }

  async resolveDid(did: string, options?: { versionTime?: string }) {
    return resolveFromVersions(did, this.versions.get(did) ?? [], options ?? {}, Number.MAX_SAFE_INTEGER);
  }

  async statusList(uri: string): Promise<StatusListSnapshot | undefined> {
    this.listReads.push(uri);
    return this.lists.get(uri);
  }

  /** Publish `bytes` as the list at `uri`, signed by `key` (the issuer's key-1 by default). */
  publish(bytes: Uint8Array, opts: { uri?: string; key?: KeyPair; kid?: string; types?: string[]; sub?: string } = {}): void {
    const uri = opts.uri ?? LIST_URI;
    const token = buildStatusListToken({ uri: opts.sub ?? uri, kid: opts.kid ?? KID, secretKey: (opts.key ?? issuerKey).secretKey, bytes, iat: Math.floor(T0 / 1000), ttl: 300 });
    this.lists.set(uri, { uri, token, types: opts.types ?? ["KYCBasic"], time: T0 });
  }
}

function newChain(): FakeChain {
  const chain = new FakeChain();
  chain.addVersion(issuerDoc, T0 - DAY);
  return chain;
}

const expectation = (over: Partial<VerificationExpectation> = {}): VerificationExpectation => ({ audience: AUDIENCE, nonce: NONCE, now: T0 + 1000, ...over });

async function issue(n: number, opts: { claims?: Record<string, JsonValue>; firstIdx?: number; credentialN?: number; validUntil?: number } = {}): Promise<string[]> {
  return issueCopies({
    format: "sd-jwt-vc",
    issuerDid: ISSUER,
    issuerKid: KID,
    issuerSecretKey: issuerKey.secretKey,
    type: "KYCBasic",
    claims: opts.claims ?? CLAIMS,
    issuedAt: T0,
    validUntil: opts.validUntil ?? T0 + 365 * DAY,
    copies: Array.from({ length: n }, (_, i) => ({ holderPublicKey: holder.copyKey(opts.credentialN ?? 0, i).publicKey, status: { uri: LIST_URI, idx: (opts.firstIdx ?? 1000) + i * 7919 } })),
  });
}

/** A list where the given indices are VALID and all others UNISSUED. */
function listWith(entries: Array<[number, StatusValue]>): Uint8Array {
  const bytes = unissuedList(SIZE);
  for (const [i, v] of entries) setStatus(bytes, i, v);
  return bytes;
}

function payloadOf(credential: string): Record<string, unknown> {
  return decodeJws(credential.split("~")[0]!)!.payload;
}

const present = (credential: string, copyN = 0, disclose = ["given_name", "age_over_18"], over: { audience?: string; nonce?: string; now?: number } = {}) =>
  presentSdJwtVc({ credential, disclose, holderSecretKey: holder.copyKey(0, copyN).secretKey, audience: over.audience ?? AUDIENCE, nonce: over.nonce ?? NONCE, now: over.now ?? T0 + 1000 });

/** Re-sign a compact JWS with node:crypto (OpenSSL, IEEE P1363 r||s, not normalized) until s is high. */
function resignHighS(jwt: string, key: KeyPair): string {
  const [h, p] = jwt.split(".");
  const jwk = { ...publicKeyToJwk(key.publicKey), d: base64urlEncode(key.secretKey) };
  const pk = createPrivateKey({ key: jwk, format: "jwk" });
  for (let i = 0; i < 200; i++) {
    const sig = nodeSign("sha256", Buffer.from(`${h}.${p}`), { key: pk, dsaEncoding: "ieee-p1363" });
    if (isHighS(sig)) return `${h}.${p}.${base64urlEncode(sig)}`;
  }
  throw new Error("no high-S signature in 200 tries");
}

describe("client/credentials: one-time copies", () => {
  it("issues copies with their own key, index and salts, no sub or jti, fixed _sd length and day-rounded times", async () => {
    const copies = await issue(5);
    expect(copies).to.have.length(5);
    const payloads = copies.map(payloadOf);
    for (const [i, p] of payloads.entries()) {
      expect(p).to.not.have.any.keys("sub", "jti");
      expect(p.iss).to.equal(ISSUER);
      expect(p.vct).to.equal("urn:sid:type:KYCBasic");
      expect(p._sd).to.have.length(DEFAULT_SD_DIGESTS);
      expect((p.iat as number) % 86_400).to.equal(0);
      expect((p.nbf as number) % 86_400).to.equal(0);
      expect((p.exp as number) % 86_400).to.equal(0);
      expect(p.iat).to.equal(Date.UTC(2026, 5, 15) / 1000);
      expect(p.status).to.deep.equal({ status_list: { idx: 1000 + i * 7919, uri: LIST_URI } });
      expect((p.cnf as { jwk: unknown }).jwk).to.deep.equal(publicKeyToJwk(holder.copyKey(0, i).publicKey));
      for (const v of HIDDEN_VALUES.concat(["Annelie"])) expect(copies[i]!.split("~")[0]).to.not.include(v);
    }
    const digests = payloads.flatMap((p) => p._sd as string[]);
    expect(new Set(digests).size).to.equal(digests.length, "no digest is shared between copies (own salts, own decoys)");
    expect(new Set(payloads.map((p) => JSON.stringify(p.cnf))).size).to.equal(5);
  });

  it("keeps _sd at the type's length whatever the number of claims, and refuses more claims than it holds", async () => {
    const few = payloadOf((await issue(1, { claims: { age_over_18: true } }))[0]!);
    expect(few._sd).to.have.length(DEFAULT_SD_DIGESTS);
    const many = Object.fromEntries(Array.from({ length: DEFAULT_SD_DIGESTS + 1 }, (_, i) => [`c${i}`, i]));
    try {
      await issue(1, { claims: many });
      expect.fail("issued more claims than _sd holds");
    } catch (err) {
      expect(err).to.be.instanceOf(CredentialError);
      expect((err as CredentialError).code).to.equal(CredentialErrorCode.INVALID_INPUT);
    }
  });

  it("refuses a copy without a valid status reference or holder key", async () => {
    const base = { format: "sd-jwt-vc" as const, issuerDid: ISSUER, issuerKid: KID, issuerSecretKey: issuerKey.secretKey, type: "KYCBasic", claims: CLAIMS };
    for (const copy of [
      { holderPublicKey: holder.copyKey(0, 0).publicKey, status: { uri: "https://elsewhere.example/x", idx: 1 } },
      { holderPublicKey: holder.copyKey(0, 0).publicKey, status: { uri: LIST_URI, idx: -1 } },
      { holderPublicKey: new Uint8Array(33), status: { uri: LIST_URI, idx: 1 } },
    ]) {
      try {
        await issueCopies({ ...base, copies: [copy] });
        expect.fail("accepted a bad copy");
      } catch (err) {
        expect((err as CredentialError).code).to.equal(CredentialErrorCode.INVALID_INPUT);
      }
    }
  });

  it("derives holder copy keys exactly as BIP32 (@scure/bip32) and BIP39 (bip39) do at m/44'/0'/1'/<n>'/<c>'", () => {
    const root = HDKey.fromMasterSeed(new Uint8Array(bip39.mnemonicToSeedSync(TEST_MNEMONIC)));
    for (const [n, c] of [[0, 0], [0, 19], [7, 3], [2_000_000_000, 2_147_483_647]] as const) {
      const expected = root.derive(holderKeyPath(n, c)).privateKey!;
      expect(Buffer.from(holder.copyKey(n, c).secretKey).toString("hex")).to.equal(Buffer.from(expected).toString("hex"));
    }
    expect(holderKeyPath(3, 4)).to.equal("m/44'/0'/1'/3'/4'");
  });

  it("derives holder copy keys at m/44'/0'/1'/<n>'/<c>': deterministic, distinct, none a DID key", () => {
    const again = new HolderKeys(TEST_MNEMONIC);
    expect(Buffer.from(again.copyKey(3, 4).publicKey)).to.deep.equal(Buffer.from(holder.copyKey(3, 4).publicKey));
    const keys = new Set<string>();
    for (let n = 0; n < 3; n++) for (let c = 0; c < 5; c++) keys.add(Buffer.from(holder.copyKey(n, c).publicKey).toString("hex"));
    expect(keys.size).to.equal(15);
    for (let i = 0; i < 3; i++) expect(keys.has(Buffer.from(deriveKey(TEST_MNEMONIC, i).publicKey).toString("hex"))).to.equal(false);
  });
});

describe("client/credentials: verification against the status list", () => {
  it("accepts a fresh presentation of a VALID copy and reveals only the chosen claims", async () => {
    const chain = newChain();
    const [copy] = await issue(1);
    chain.publish(listWith([[1000, StatusValue.VALID]]));
    const p = await present(copy!);
    for (const v of HIDDEN_VALUES) expect(p).to.not.include(v);
    const verdict = await verifyCredentialPresentation(p, chain, expectation());
    expect(verdict.reason, verdict.message).to.equal(undefined);
    expect(verdict.valid).to.equal(true);
    expect(verdict.status).to.equal("valid");
    expect(verdict.disclosed).to.deep.equal({ given_name: "Annelie", age_over_18: true });
    expect(chain.listReads).to.deep.equal([LIST_URI], "the whole list is read by its URI, never an index");
  });

  for (const [value, reason, status] of [
    [StatusValue.INVALID, VerdictReason.REVOKED, "revoked"],
    [StatusValue.SUSPENDED, VerdictReason.SUSPENDED, "suspended"],
    [StatusValue.UNISSUED, VerdictReason.NOT_ISSUED, "unissued"],
  ] as const) {
    it(`refuses a copy whose entry is ${status} (${reason})`, async () => {
      const chain = newChain();
      const [copy] = await issue(1);
      chain.publish(listWith([[1000, value]]));
      const v = await verifyCredentialPresentation(await present(copy!), chain, expectation());
      expect(v.valid).to.equal(false);
      expect(v.reason).to.equal(reason);
      expect(v.status).to.equal(status);
      expect(v.disclosed).to.deep.equal({});
    });
  }

  it("refuses when the list's types do not cover the credential's type (not accredited for it when the list was made)", async () => {
    const chain = newChain();
    const [copy] = await issue(1);
    chain.publish(listWith([[1000, StatusValue.VALID]]), { types: ["AgeOver18"] });
    expect((await verifyCredentialPresentation(await present(copy!), chain, expectation())).reason).to.equal(VerdictReason.TYPE_NOT_ACCREDITED);
  });

  it("refuses a missing list, a list signed by another key, and a token for another URI", async () => {
    const [copy] = await issue(1);
    const p = await present(copy!);
    const none = newChain();
    expect((await verifyCredentialPresentation(p, none, expectation())).reason).to.equal(VerdictReason.STATUS_LIST_NOT_FOUND);
    const forged = newChain();
    forged.publish(listWith([[1000, StatusValue.VALID]]), { key: strangerKey });
    expect((await verifyCredentialPresentation(p, forged, expectation())).reason).to.equal(VerdictReason.STATUS_LIST_INVALID);
    const moved = newChain();
    moved.publish(listWith([[1000, StatusValue.VALID]]), { sub: statusListUri(BASE, ISSUER, "other") });
    expect((await verifyCredentialPresentation(p, moved, expectation())).reason).to.equal(VerdictReason.STATUS_LIST_INVALID);
  });

  it("refuses a copy naming another issuer's list", async () => {
    const chain = newChain();
    const stranger = buildInitialDocument(strangerKey.publicKey);
    chain.addVersion(stranger, T0 - DAY);
    const foreignUri = statusListUri(BASE, stranger.id, "kyc-1");
    const [copy] = await issueCopies({
      format: "sd-jwt-vc", issuerDid: ISSUER, issuerKid: KID, issuerSecretKey: issuerKey.secretKey, type: "KYCBasic", claims: CLAIMS, issuedAt: T0,
      copies: [{ holderPublicKey: holder.copyKey(0, 0).publicKey, status: { uri: foreignUri, idx: 1000 } }],
    });
    chain.publish(listWith([[1000, StatusValue.VALID]]), { uri: foreignUri, key: strangerKey, kid: `${stranger.id}#key-1` });
    expect((await verifyCredentialPresentation(await present(copy!), chain, expectation())).reason).to.equal(VerdictReason.STATUS_LIST_INVALID);
  });

  it("binds presentations to audience and nonce, and requires the KB-JWT", async () => {
    const chain = newChain();
    const [copy] = await issue(1);
    chain.publish(listWith([[1000, StatusValue.VALID]]));
    const p = await present(copy!);
    expect((await verifyCredentialPresentation(p, chain, expectation({ audience: "https://other.example" }))).reason).to.equal(VerdictReason.AUDIENCE_MISMATCH);
    expect((await verifyCredentialPresentation(p, chain, expectation({ nonce: "other" }))).reason).to.equal(VerdictReason.NONCE_MISMATCH);
    expect((await verifyCredentialPresentation(copy!, chain, expectation())).reason).to.equal(VerdictReason.KEY_BINDING_MISSING);
    // A KB-JWT by another copy's key does not bind this copy.
    const wrong = await presentSdJwtVc({ credential: copy!, disclose: [], holderSecretKey: holder.copyKey(0, 0).secretKey, audience: AUDIENCE, nonce: NONCE, now: T0 });
    const kb = wrong.split("~").pop()!;
    const [h, pl] = kb.split(".");
    const forged = `${wrong.slice(0, wrong.length - kb.length)}${h}.${pl}.${base64urlEncode(new Uint8Array(64).fill(1))}`;
    expect((await verifyCredentialPresentation(forged, chain, expectation())).reason).to.equal(VerdictReason.BAD_KEY_BINDING);
  });

  it("refuses an expired copy and one not yet valid", async () => {
    const chain = newChain();
    const [copy] = await issue(1, { validUntil: T0 + 2 * DAY });
    chain.publish(listWith([[1000, StatusValue.VALID]]));
    const p = await present(copy!);
    expect((await verifyCredentialPresentation(p, chain, expectation({ now: T0 + 3 * DAY }))).reason).to.equal(VerdictReason.EXPIRED);
    expect((await verifyCredentialPresentation(p, chain, expectation({ now: T0 - 2 * DAY }))).reason).to.equal(VerdictReason.NOT_YET_VALID);
  });

  it("refuses a tampered disclosure and a copy with a claim in clear", async () => {
    const chain = newChain();
    const [copy] = await issue(1);
    chain.publish(listWith([[1000, StatusValue.VALID]]));
    const parts = copy!.split("~");
    const fake = base64urlEncode(Buffer.from(JSON.stringify(["c2FsdA", "given_name", "Mallory"])));
    const tampered = [parts[0], fake, ""].join("~");
    expect((await verifyCredentialPresentation(tampered, chain, expectation({ requireKeyBinding: false }))).reason).to.equal(VerdictReason.DISCLOSURE_MISMATCH);
    const jws = decodeJws(parts[0]!)!;
    const withSub = `${jws.signingInput.split(".")[0]}.${base64urlEncode(Buffer.from(JSON.stringify({ ...jws.payload, sub: "did:sid:2ePAhj1KMfDWmVniUhBsPV5PSHps" })))}.${jws.signature}~`;
    expect((await verifyCredentialPresentation(withSub, chain, expectation({ requireKeyBinding: false }))).reason).to.equal(VerdictReason.MALFORMED);
  });
});

describe("client/credentials: ES256K with high or low S (RFC 8812)", () => {
  it("verifies a copy, a KB-JWT and a status list token signed high-S by node:crypto", async () => {
    const chain = newChain();
    const [copy] = await issue(1);
    const [jwt, ...rest] = copy!.split("~");
    const highCopy = [resignHighS(jwt!, issuerKey), ...rest].join("~");
    expect(isHighS(base64urlDecode(highCopy.split("~")[0]!.split(".")[2]!))).to.equal(true);
    // The status list token, re-signed high-S too.
    chain.publish(listWith([[1000, StatusValue.VALID]]));
    const snap = chain.lists.get(LIST_URI)!;
    chain.lists.set(LIST_URI, { ...snap, token: resignHighS(snap.token, issuerKey) });
    const p = await present(highCopy);
    const kb = p.split("~").pop()!;
    const highP = p.slice(0, p.length - kb.length) + resignHighS(kb, holder.copyKey(0, 0));
    const v = await verifyCredentialPresentation(highP, chain, expectation());
    expect(v.reason, v.message).to.equal(undefined);
    expect(v.valid).to.equal(true);
  });

  it("still refuses a high-S signature by the wrong key and an s at or above n", () => {
    const [h, p] = ["eyJhbGciOiJFUzI1NksifQ", "e30"];
    const good = resignHighS(`${h}.${p}.x`, issuerKey).split(".")[2]!;
    expect(es256kVerify(`${h}.${p}`, good, issuerKey.publicKey)).to.equal(true);
    expect(es256kVerify(`${h}.${p}`, good, strangerKey.publicKey)).to.equal(false);
    const sig = base64urlDecode(good);
    sig.fill(0xff, 32);
    expect(es256kVerify(`${h}.${p}`, base64urlEncode(sig), issuerKey.publicKey)).to.equal(false);
  });
});

describe("client/credentials: JWT VC copies", () => {
  it("issue all claims in clear, no sub, jti or holder key, and verify against the same list", async () => {
    const chain = newChain();
    const copies = await issueCopies({
      format: "jwt-vc", issuerDid: ISSUER, issuerKid: KID, issuerSecretKey: issuerKey.secretKey, type: "KYCBasic", claims: CLAIMS, issuedAt: T0,
      copies: [{ status: { uri: LIST_URI, idx: 5 } }, { status: { uri: LIST_URI, idx: 6 } }],
    });
    chain.publish(listWith([[5, StatusValue.VALID], [6, StatusValue.INVALID]]));
    const p = payloadOf(copies[0]!);
    expect(p).to.not.have.any.keys("sub", "jti");
    expect((p.vc as { credentialSubject: unknown }).credentialSubject).to.deep.equal(CLAIMS);
    const ok = await verifyCredentialPresentation(copies[0]!, chain, expectation());
    expect(ok.valid, ok.message).to.equal(true);
    expect(ok.disclosed).to.deep.equal(CLAIMS);
    expect((await verifyCredentialPresentation(copies[1]!, chain, expectation())).reason).to.equal(VerdictReason.REVOKED);
  });
});

/**
 * Every value of a decoded presentation, by path: the JWT header and
 * payload, each disclosure's salt, name and value, and the KB-JWT header
 * and payload; the signatures too.
 */
function fieldsOf(presentation: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (path: string, v: unknown) => {
    if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) walk(`${path}.${k}`, x);
    } else {
      out.set(path, JSON.stringify(v));
    }
  };
  const parts = presentation.split("~");
  const jwt = decodeJws(parts[0]!)!;
  walk("header", jwt.header);
  walk("payload", jwt.payload);
  out.set("signature", jwt.signature);
  const disclosures = parts.slice(1, -1).map((d) => decodeJsonSegment(d) as [string, string, unknown]).sort((a, b) => a[1].localeCompare(b[1]));
  for (const [salt, name, value] of disclosures) {
    out.set(`disclosure.${name}.salt`, JSON.stringify(salt));
    walk(`disclosure.${name}.value`, value);
  }
  const kb = decodeJws(parts[parts.length - 1]!)!;
  walk("kb.header", kb.header);
  walk("kb.payload", kb.payload);
  out.set("kb.signature", kb.signature);
  return out;
}

describe("client/credentials: unlinkability of two presentations", () => {
  it("two presentations of one credential to two verifiers share only issuer-level values and the disclosed claim", async () => {
    const chain = newChain();
    const copies = await issue(2);
    chain.publish(listWith([[1000, StatusValue.VALID], [1000 + 7919, StatusValue.VALID]]));
    const a = await present(copies[0]!, 0, ["age_over_18"], { audience: "https://bank.example", nonce: "nonce-a", now: T0 + 1000 });
    const b = await present(copies[1]!, 1, ["age_over_18"], { audience: "https://shop.example", nonce: "nonce-b", now: T0 + 61_000 });
    for (const [p, aud, nonce] of [[a, "https://bank.example", "nonce-a"], [b, "https://shop.example", "nonce-b"]] as const) {
      expect((await verifyCredentialPresentation(p, chain, expectation({ audience: aud, nonce }))).valid).to.equal(true);
    }
    const fa = fieldsOf(a);
    const fb = fieldsOf(b);
    expect([...fa.keys()].sort()).to.deep.equal([...fb.keys()].sort(), "the same shape, field for field");
    // Issuer-level (the same for every copy the issuer makes of the type that day) or chosen by the holder.
    const allowed = new Set([
      "header.alg", "header.typ", "header.kid",
      "payload.iss", "payload.vct", "payload.iat", "payload.nbf", "payload.exp", "payload._sd_alg",
      "payload.status.status_list.uri",
      "payload.cnf.jwk.kty", "payload.cnf.jwk.crv",
      "disclosure.age_over_18.value",
      "kb.header.alg", "kb.header.typ",
    ]);
    const shared: string[] = [];
    for (const [path, va] of fa) if (fb.get(path) === va && !allowed.has(path)) shared.push(path);
    expect(shared, "values shared beyond issuer-level ones").to.deep.equal([]);
    // Values shared under different paths would link them too (e.g. one digest in both _sd lists).
    const valuesA = new Set([...fa].filter(([p]) => !allowed.has(p)).map(([, v]) => v));
    const crossShared = [...fb].filter(([p, v]) => !allowed.has(p) && valuesA.has(v) && v !== "true" && v !== "false");
    expect(crossShared).to.deep.equal([]);
    expect((JSON.parse(fa.get("payload._sd.0")!) as string).length).to.equal(43);
    expect([...fa.keys()].filter((k) => k.startsWith("payload._sd.")).length).to.equal([...fb.keys()].filter((k) => k.startsWith("payload._sd.")).length);
  });
});
