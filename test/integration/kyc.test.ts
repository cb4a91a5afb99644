/**
 * KYC end to end on a real dev node process, through the SDK: governance
 * accredits an issuer, the issuer issues and anchors, the holder presents
 * two of five claims, the verifier judges against the node; status changes
 * and expiry reach the verdict; every abuse is refused with a typed error
 * and changes nothing; and no claim value ever reaches a block, a tx or a
 * state record (DESIGN.md invariant 5).
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Level } from "level";
import { toBase64, fromHex, utf8 } from "../../src/crypto/bytes.js";
import { base64urlDecode, base64urlEncode } from "../../src/crypto/encoding.js";
import { sha256 } from "../../src/crypto/hash.js";
import { type KeyPair, randomKeyPair } from "../../src/crypto/hd.js";
import { publicKeyOf, signDigest } from "../../src/crypto/secp256k1.js";
import { addVerificationMethod } from "../../src/did/document.js";
import { encodeCanonical } from "../../src/chain/codec.js";
import { TX_SIGN_DOMAIN, TX_VERSION, TxType } from "../../src/chain/tx.js";
import {
  RegistryClient,
  RpcError,
  SidClient,
  SidClientError,
  VerdictReason,
  anchorCredentialTx,
  issueAndAnchor,
  newCredentialId,
  presentSdJwtVc,
  verifyWithNode,
  type AnchorParams,
  type IssueAndAnchorResult,
  type JsonValue,
} from "../../src/client/index.js";
import { es256kSign, sdDigest } from "../../src/client/credentials/jose.js";
import { type NodeProcess, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";
import { type Json, WsTestClient } from "../helpers/ws-client.js";
import { ValidatorSetTracker } from "../../src/client/trust.js";
import { verifyCredentialStatusProof } from "../../src/client/verify-proof.js";
import { ProofError } from "../../src/chain/proof.js";

const CLAIMS: Record<string, JsonValue> = {
  given_name: "Wilhelmina",
  family_name: "Quispe-Achterberg",
  birthdate: "1990-07-23",
  document_number: "X-NLD-90318276",
  age_over_18: true,
};
/** What must never reach the chain: every personal claim value, as UTF-8. */
const PERSONAL_VALUES = ["Wilhelmina", "Quispe-Achterberg", "1990-07-23", "X-NLD-90318276"];
const AUDIENCE = "https://shop.example/checkout";
const NONCE = "nonce-7d1c2e";
const TYPE = "KYCBasic";

/** The reason code of a refused write: the node's (RpcError) or the SDK's (SidClientError). */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RpcError) return err.reason ?? `rpc ${err.code}`;
    if (err instanceof SidClientError) return err.code;
    throw err;
  }
  throw new Error("expected the write to be refused");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("integration: KYC credentials on a real node", function () {
  this.timeout(180_000);
  let node: NodeProcess;
  let home: string;
  let client: SidClient;
  let registry: RegistryClient;
  let trustee: KeyPair;
  const issuerKey = randomKeyPair();
  const issuerAuthOnlyKey = randomKeyPair();
  const holderKey = randomKeyPair();
  const strangerKey = randomKeyPair();
  let issuerDid: string;
  let holderDid: string;
  let strangerDid: string;
  /** The flow's credential (SD-JWT VC, five claims) and a presentation of two of them. */
  let main: IssueAndAnchorResult;
  let presentation: string;
  /** Every credential issued here, for the privacy scan. */
  const issued: IssueAndAnchorResult[] = [];

  const stateRoot = async () => (await client.status()).stateRoot;
  const addIssuer = async (did: string, types = [TYPE]) => {
    const r = await registry.propose({ kind: "issuer/add", did, name: `Issuer ${did.slice(-6)}`, types }, trustee);
    expect(r.executed).to.equal(true);
  };
  const anchorParams = (subject: string, over: Partial<AnchorParams> = {}): AnchorParams => {
    const validFrom = Math.floor(Date.now() / 1000) * 1000;
    return { id: newCredentialId(), subject, types: [TYPE], digest: sha256(utf8(newCredentialId())), validFrom, validUntil: validFrom + 86_400_000, ...over };
  };
  const issue = async (over: Partial<Parameters<typeof issueAndAnchor>[0]> = {}) => {
    const r = await issueAndAnchor({ client, issuerDid, issuerKey, subjectDid: holderDid, type: TYPE, claims: CLAIMS, format: "sd-jwt-vc", validUntil: Date.now() + 86_400_000, ...over });
    issued.push(r);
    return r;
  };
  const present = (credential: string, nonce = NONCE, audience = AUDIENCE) =>
    presentSdJwtVc({ credential, disclose: ["given_name", "age_over_18"], holderSecretKey: holderKey.secretKey, audience, nonce });
  const verify = (p: string, now?: number) => verifyWithNode(client, p, { audience: AUDIENCE, nonce: NONCE, ...(now !== undefined ? { now } : {}) });

  before(async () => {
    home = tempHome("sid-kyc-node-");
    node = await startNodeProcess(home, { heartbeatMs: 60_000 });
    client = new SidClient(node.rpcUrl);
    registry = new RegistryClient(client);
    const file = JSON.parse(readFileSync(join(home, "config", "trustee_key.json"), "utf8")) as { secretKey: string };
    const sk = fromHex(file.secretKey, 32);
    trustee = { secretKey: sk, publicKey: publicKeyOf(sk) };
    issuerDid = await registry.ensureDid(issuerKey);
    holderDid = await registry.ensureDid(holderKey);
    strangerDid = await registry.ensureDid(strangerKey);
  });
  after(async () => {
    await node?.stop();
    removeHome(home);
  });

  it("trustees accredit an issuer; the holder presents two of five claims and the verifier accepts", async () => {
    expect((await registry.trustees()).members).to.deep.equal([(await registry.ensureDid(trustee))]);
    await addIssuer(issuerDid);
    const acc = await registry.issuer(issuerDid);
    expect(acc).to.include({ status: "active" });
    expect(acc.types).to.deep.equal([TYPE]);

    main = await issue();
    const anchor = await registry.credential(main.credentialId);
    expect(anchor).to.include({ issuer: issuerDid, subject: holderDid, digest: main.digest, anchoredHeight: main.height, status: "active" });

    presentation = await present(main.credential.credential);
    const v = await verify(presentation);
    expect(v.valid, v.message).to.equal(true);
    expect(v.disclosed).to.deep.equal({ given_name: "Wilhelmina", age_over_18: true });
    expect(v).to.include({ issuer: issuerDid, subject: holderDid, status: "active", credentialId: main.credentialId });
    for (const hidden of ["Quispe-Achterberg", "1990-07-23", "X-NLD-90318276"]) expect(presentation).to.not.include(hidden);

    // a plain JWT VC of the same claims verifies too (no key binding in that format)
    const jwt = await issue({ format: "jwt-vc" });
    const vj = await verifyWithNode(client, jwt.credential.credential, {});
    expect(vj.valid, vj.message).to.equal(true);
    expect(vj.format).to.equal("jwt-vc");
  });

  it("refuses on the verifier side: tampered or foreign disclosure, wrong holder key, replayed presentation", async () => {
    const [jwt, ...rest] = presentation.split("~");
    const kb = rest.pop()!;
    const disclosures = rest;
    // tampered: the same disclosure with another value
    const [salt, name] = JSON.parse(new TextDecoder().decode(base64urlDecode(disclosures[0]!))) as [string, string, JsonValue];
    const tampered = base64urlEncode(utf8(JSON.stringify([salt, name, "Mallory"])));
    expect((await verify([jwt, tampered, ...disclosures.slice(1), kb].join("~"))).reason).to.equal(VerdictReason.DISCLOSURE_MISMATCH);

    // foreign: a disclosure of another credential of the same holder
    const other = await issue();
    const foreign = other.credential.credential.split("~")[1]!;
    expect((await verify([jwt, ...disclosures, foreign, kb].join("~"))).reason).to.equal(VerdictReason.DISCLOSURE_MISMATCH);

    // wrong holder key: a well-formed KB-JWT over the right sd_hash, signed by a stranger
    const covered = [jwt, ...disclosures, ""].join("~");
    const header = base64urlEncode(utf8(JSON.stringify({ typ: "kb+jwt", alg: "ES256K" })));
    const payload = base64urlEncode(utf8(JSON.stringify({ iat: Math.floor(Date.now() / 1000), aud: AUDIENCE, nonce: NONCE, sd_hash: sdDigest(covered) })));
    const forged = `${header}.${payload}.${es256kSign(`${header}.${payload}`, strangerKey.secretKey)}`;
    expect((await verify(covered + forged)).reason).to.equal(VerdictReason.BAD_KEY_BINDING);

    // a credential bound to a key that is not the subject's
    const misbound = await issue({ holderPublicKey: strangerKey.publicKey });
    const misPres = await presentSdJwtVc({ credential: misbound.credential.credential, disclose: ["age_over_18"], holderSecretKey: strangerKey.secretKey, audience: AUDIENCE, nonce: NONCE });
    expect((await verify(misPres)).reason).to.equal(VerdictReason.HOLDER_KEY_MISMATCH);

    // replayed: shown to this verifier under another nonce, or to another verifier
    expect((await verifyWithNode(client, presentation, { audience: AUDIENCE, nonce: "fresh-nonce" })).reason).to.equal(VerdictReason.NONCE_MISMATCH);
    expect((await verifyWithNode(client, presentation, { audience: "https://other.example", nonce: NONCE })).reason).to.equal(VerdictReason.AUDIENCE_MISMATCH);
  });

  it("follows suspend and reinstate, then revocation, and answers status at the anchoring height", async () => {
    const id = main.credentialId;
    const ws = await WsTestClient.open(node.rpcUrl.replace("http://", "ws://") + "/ws");
    const sub = await ws.result("subscribe", ["credentials", { id }]);
    const suspended = await registry.setStatus(issuerDid, issuerKey, id, "suspended");
    const vs = await verify(presentation);
    expect(vs).to.include({ valid: false, reason: VerdictReason.SUSPENDED, status: "suspended" });

    await registry.setStatus(issuerDid, issuerKey, id, "active");
    expect((await verify(presentation)).valid).to.equal(true);

    const beforeRevocation = Date.now();
    await sleep(5); // the revocation's block time is strictly later
    const revoked = await registry.setStatus(issuerDid, issuerKey, id, "revoked");
    const vr = await verify(presentation);
    expect(vr).to.include({ valid: false, reason: VerdictReason.REVOKED, status: "revoked" });
    // "was it valid when it was presented?": the status at an earlier moment
    expect((await verify(presentation, beforeRevocation)).valid).to.equal(true);

    const atAnchor = await registry.credentialStatus(id, { height: main.height });
    expect(atAnchor).to.include({ status: "active", storedStatus: "active" });
    expect((await registry.credentialStatus(id, { height: suspended.height })).status).to.equal("suspended");
    expect((await registry.credentialStatus(id, { height: revoked.height })).status).to.equal("revoked");
    expect((await registry.credentialStatus(id)).status).to.equal("revoked");
    expect((await registry.credential(id)).history.map((h) => h.status)).to.deep.equal(["active", "suspended", "active", "revoked"]);

    // subscribers to the credentials topic saw each change, in order, at its height
    const events = await ws.notificationsAtLeast(sub, 3);
    await ws.close();
    expect(events.map((e: Json) => [e.id, e.kind, e.issuer, e.subject])).to.deep.equal([
      [id, "suspend", issuerDid, holderDid],
      [id, "reinstate", issuerDid, holderDid],
      [id, "revoke", issuerDid, holderDid],
    ]);
    expect(events[0].height).to.equal(suspended.height);
    expect(events[2].height).to.equal(revoked.height);

    // a resolver that trusts only the genesis validators checks the revocation from this one node
    const trusted = ValidatorSetTracker.fromGenesisFile(join(home, "config", "genesis.json"));
    const proven = await client.rpc.call<Record<string, unknown>>("credential_status", { id, proof: true });
    const checked = verifyCredentialStatusProof(proven, { id, chainId: await client.chainId(), trusted, now: Date.now() });
    expect(checked.status).to.equal("revoked");
    expect(() => verifyCredentialStatusProof({ ...proven, storedStatus: "active" }, { id, chainId: trusted.chainId, trusted, now: Date.now() })).to.throw(ProofError);
  });

  it("rejects a credential past validUntil as EXPIRED", async () => {
    const validUntil = Date.now() + 4000;
    const short = await issue({ validUntil });
    const p = await present(short.credential.credential);
    expect((await verify(p)).valid).to.equal(true);
    const end = short.credential.validUntil!;
    expect(end).to.be.at.most(validUntil);
    // Wait until past the end (bounded: the end is at most 4 s ahead).
    for (let i = 0; i < 100 && Date.now() <= end; i++) await sleep(100);
    expect(Date.now()).to.be.greaterThan(end);
    const v = await verify(p);
    expect(v).to.include({ valid: false, reason: VerdictReason.EXPIRED, status: "expired" });
    expect((await registry.credentialStatus(short.credentialId)).status).to.equal("expired");
  });

  describe("abuse: a typed error and nothing changed", () => {
    let suspendedIssuer: KeyPair;
    let suspendedDid: string;
    let removedIssuer: KeyPair;
    let removedDid: string;

    /** The write is refused with `code`, the state root is unchanged, and the credential `id` is not anchored. */
    const refusedAnchor = async (write: () => Promise<unknown>, code: string, id: string) => {
      const root = await stateRoot();
      expect(await refusal(write())).to.equal(code);
      expect(await stateRoot()).to.equal(root);
      expect(await refusal(registry.credential(id))).to.equal("CREDENTIAL_NOT_FOUND");
    };

    before(async () => {
      suspendedIssuer = randomKeyPair();
      suspendedDid = await registry.ensureDid(suspendedIssuer);
      removedIssuer = randomKeyPair();
      removedDid = await registry.ensureDid(removedIssuer);
      await addIssuer(suspendedDid);
      await addIssuer(removedDid);
    });

    it("refuses an anchor by a DID that is not an issuer", async () => {
      const a = anchorParams(holderDid);
      await refusedAnchor(() => registry.anchor(strangerDid, strangerKey, a), "ISSUER_NOT_FOUND", a.id);
    });

    it("refuses an anchor by a suspended issuer, while its earlier credentials stay valid", async () => {
      const before = await issueAndAnchor({ client, issuerDid: suspendedDid, issuerKey: suspendedIssuer, subjectDid: holderDid, type: TYPE, claims: CLAIMS, format: "sd-jwt-vc" });
      issued.push(before);
      expect((await registry.propose({ kind: "issuer/suspend", did: suspendedDid }, trustee)).executed).to.equal(true);
      const acc = await registry.issuer(suspendedDid);
      const a = anchorParams(holderDid);
      await refusedAnchor(() => registry.anchor(suspendedDid, suspendedIssuer, a), "ISSUER_NOT_ACTIVE", a.id);
      expect(await registry.issuer(suspendedDid)).to.deep.equal(acc);
      // judged by its accreditation when it was anchored
      const v = await verify(await present(before.credential.credential));
      expect(v.valid, v.message).to.equal(true);
    });

    it("refuses an anchor by a removed issuer", async () => {
      expect((await registry.propose({ kind: "issuer/remove", did: removedDid }, trustee)).executed).to.equal(true);
      const acc = await registry.issuer(removedDid);
      expect(acc.status).to.equal("removed");
      const a = anchorParams(holderDid);
      await refusedAnchor(() => registry.anchor(removedDid, removedIssuer, a), "ISSUER_NOT_FOUND", a.id);
      expect(await registry.issuer(removedDid)).to.deep.equal(acc);
    });

    it("refuses an anchor for a type the issuer is not accredited for", async () => {
      const a = anchorParams(holderDid, { types: ["AgeOver21"] });
      await refusedAnchor(() => registry.anchor(issuerDid, issuerKey, a), "ISSUER_TYPE_NOT_ACCREDITED", a.id);
    });

    it("refuses an anchor signed by a key outside the issuer's assertionMethod", async () => {
      await client.updateDid(issuerDid, issuerKey, (doc) => addVerificationMethod(doc, issuerAuthOnlyKey.publicKey, "key-2", ["authentication"]));
      const a = anchorParams(holderDid);
      const tx = anchorCredentialTx(
        { chainId: await client.chainId(), signer: issuerDid, vm: `${issuerDid}#key-2`, seq: await client.nextSequence(issuerDid), secretKey: issuerAuthOnlyKey.secretKey },
        a,
      );
      await refusedAnchor(() => client.submitAndCommit(tx), "TX_UNAUTHORIZED", a.id);
      // and the SDK will not even sign with it
      await refusedAnchor(() => registry.anchor(issuerDid, issuerAuthOnlyKey, a), "unauthorized", a.id);
    });

    it("refuses an anchor about an unknown or a deactivated subject", async () => {
      const unknown = anchorParams("did:sid:2ePAhj1KMfDWmVniUhBsPV5PSHps");
      await refusedAnchor(() => registry.anchor(issuerDid, issuerKey, unknown), "DID_NOT_FOUND", unknown.id);
      const goner = randomKeyPair();
      const gonerDid = await registry.ensureDid(goner);
      await client.deactivateDid(gonerDid, goner);
      const dead = anchorParams(gonerDid);
      await refusedAnchor(() => registry.anchor(issuerDid, issuerKey, dead), "DID_DEACTIVATED", dead.id);
    });

    it("refuses a duplicate credential id", async () => {
      const existing = await registry.credential(main.credentialId);
      const root = await stateRoot();
      const a = anchorParams(holderDid, { id: main.credentialId });
      expect(await refusal(registry.anchor(issuerDid, issuerKey, a))).to.equal("CREDENTIAL_EXISTS");
      expect(await stateRoot()).to.equal(root);
      expect(await registry.credential(main.credentialId)).to.deep.equal(existing);
    });

    it("refuses status changes by anyone but the issuer, and reinstating a revoked credential", async () => {
      const live = issued.find((c) => c.credential.format === "jwt-vc")!;
      const before = await registry.credential(live.credentialId);
      const root = await stateRoot();
      expect(await refusal(registry.setStatus(strangerDid, strangerKey, live.credentialId, "revoked"))).to.equal("CREDENTIAL_NOT_ISSUER");
      expect(await refusal(registry.setStatus(strangerDid, strangerKey, live.credentialId, "suspended"))).to.equal("CREDENTIAL_NOT_ISSUER");
      // another accredited issuer is still not this credential's issuer
      expect(await refusal(registry.setStatus(suspendedDid, suspendedIssuer, live.credentialId, "suspended"))).to.equal("CREDENTIAL_NOT_ISSUER");
      expect(await stateRoot()).to.equal(root);
      expect(await registry.credential(live.credentialId)).to.deep.equal(before);

      const revoked = await registry.credential(main.credentialId);
      expect(revoked.status).to.equal("revoked");
      expect(await refusal(registry.setStatus(issuerDid, issuerKey, main.credentialId, "active"))).to.equal("CREDENTIAL_BAD_STATUS_CHANGE");
      expect(await stateRoot()).to.equal(root);
      expect(await registry.credential(main.credentialId)).to.deep.equal(revoked);
    });

    it("refuses an anchor tx carrying an extra field, even when properly signed", async () => {
      const a = anchorParams(holderDid);
      const seq = await client.nextSequence(issuerDid);
      // The envelope and payload by hand, as CBOR, signed as the chain signs: sha256(cbor([domain, unsigned tx])).
      const handMade = (extra: Record<string, string>) => {
        const unsigned = {
          v: TX_VERSION,
          type: TxType.CredentialAnchor,
          chainId,
          signer: issuerDid,
          vm: `${issuerDid}#key-1`,
          seq,
          payload: { id: a.id, subject: a.subject, types: a.types, digest: a.digest, validFrom: a.validFrom, validUntil: a.validUntil, ...extra },
        };
        const sig = signDigest(sha256(encodeCanonical([TX_SIGN_DOMAIN, unsigned] as never)), issuerKey.secretKey);
        return toBase64(encodeCanonical({ ...unsigned, sig } as never));
      };
      const chainId = await client.chainId();
      // the schema has no place for a claim; a smuggled one is refused
      await refusedAnchor(() => client.rpc.call("tx_submit", { tx: handMade({ given_name: "Mallory" }), wait: true }), "TX_BAD_FIELD", a.id);
      // control: the same hand-made tx without the extra field is a valid anchor
      const ok = await client.rpc.call<{ status: string }>("tx_submit", { tx: handMade({}), wait: true });
      expect(ok.status).to.equal("committed");
      expect((await registry.credential(a.id)).issuer).to.equal(issuerDid);
    });
  });


  // Last: it stops the node to read its database.
  describe("privacy", () => {
    it("privacy: no claim value in any block, tx or state record", async () => {
      expect(issued.length).to.be.at.least(5);
      // Needles: every personal value as UTF-8, and every disclosure as issued (base64url of salt, name, value).
      const needles = new Map<string, Uint8Array>(PERSONAL_VALUES.map((v) => [v, utf8(v)]));
      for (const c of issued) {
        if (c.credential.format !== "sd-jwt-vc") continue;
        for (const d of c.credential.credential.split("~").slice(1).filter(Boolean)) needles.set(`disclosure ${d.slice(0, 12)}`, utf8(d));
      }
      const leaks = (where: string, bytes: Uint8Array): string[] => {
        const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        return [...needles].filter(([, n]) => buf.indexOf(n) >= 0).map(([name]) => `${name} in ${where}`);
      };
      const found: string[] = [];

      const head = (await client.status()).height;
      let txCount = 0;
      for (let h = 1; h <= head; h++) {
        const block = await client.rpc.call<{ txs: string[] }>("block_get", { height: h });
        found.push(...leaks(`block ${h}`, utf8(JSON.stringify(block))));
        for (const hash of block.txs) {
          const tx = await client.rpc.call("tx_get", { hash });
          found.push(...leaks(`tx ${hash}`, utf8(JSON.stringify(tx))));
          txCount++;
        }
      }
      expect(txCount, "the scan saw the flow's txs").to.be.at.least(issued.length);
      const issuers = await registry.issuers();
      for (const c of issued) {
        found.push(...leaks(`credential_get ${c.credentialId}`, utf8(JSON.stringify(await registry.credential(c.credentialId)))));
      }
      found.push(...leaks("issuer_list", utf8(JSON.stringify(issuers))));

      // Every key and value of the node's database: blocks (raw tx bytes), indexes, state, tree nodes.
      await node.stop();
      const db = new Level<Uint8Array, Uint8Array>(join(home, "data", "chain"), { keyEncoding: "view", valueEncoding: "view" });
      let entries = 0;
      let sawCredentialId = false;
      const knownId = utf8(main.credentialId);
      try {
        for await (const [k, v] of db.iterator()) {
          entries++;
          found.push(...leaks(`db key ${Buffer.from(k).toString("hex").slice(0, 24)}`, k), ...leaks(`db value of ${Buffer.from(k).toString("hex").slice(0, 24)}`, v));
          if (Buffer.from(k).indexOf(knownId) >= 0 || Buffer.from(v).indexOf(knownId) >= 0) sawCredentialId = true;
        }
      } finally {
        await db.close();
      }
      // The scan is not vacuous: it reads the whole store and finds what the chain does hold.
      expect(entries).to.be.greaterThan(100);
      expect(sawCredentialId, "the scan finds the anchored credential id").to.equal(true);
      expect(found).to.deep.equal([]);
    });
  });
});
