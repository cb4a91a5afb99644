/**
 * Interop against a real node process: the unmodified DIF did-resolver with
 * our getResolver, did-jwt and did-jwt-vc verifying what a did:sid key
 * signed (and refusing it once the key is rotated out or the DID is
 * deactivated), and the Universal Resolver route over HTTP.
 */
import { expect } from "chai";
import { ES256KSigner, createJWT, verifyJWT } from "did-jwt";
import { createVerifiableCredentialJwt, verifyCredential, type JwtCredentialPayload } from "did-jwt-vc";
import { Resolver } from "did-resolver";
import { SidClient, getResolver } from "../../src/client/index.js";
import { deriveKey, generateMnemonic } from "../../src/crypto/hd.js";
import { buildInitialDocument } from "../../src/did/document.js";
import { addService, addVerificationMethod, removeVerificationMethod } from "../../src/did/document-edit.js";
import { type NodeProcess, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("integration: resolvers (did-resolver, did-jwt, did-jwt-vc, Universal Resolver binding)", function () {
  this.timeout(60_000);
  let node: NodeProcess;
  let home: string;
  let client: SidClient;
  let resolver: Resolver;
  const mnemonic = generateMnemonic();
  const k0 = deriveKey(mnemonic, 0);
  const k1 = deriveKey(mnemonic, 1);
  const k2 = deriveKey(mnemonic, 2);
  const stranger = deriveKey(generateMnemonic(), 0);
  let did: string;
  let withHub: string;
  let jwtKey1: string;
  let vcJwt: string;

  before(async () => {
    home = tempHome();
    node = await startNodeProcess(home, { heartbeatMs: 60_000 });
    client = new SidClient(node.rpcUrl);
    did = (await client.createDid(k0)).did;
    const hubDoc = addService(buildInitialDocument(k2.publicKey), { id: `${buildInitialDocument(k2.publicKey).id}#hub`, type: "DIDCommMessaging", serviceEndpoint: "https://hub.example/base/" });
    withHub = (await client.createDid(k2, hubDoc)).did;
    resolver = new Resolver(getResolver({ rpcUrl: node.rpcUrl }));
  });

  after(async () => {
    await node?.stop();
    if (home) removeHome(home);
  });

  const ur = (identifier: string, accept?: string) =>
    fetch(`${node.rpcUrl}/1.0/identifiers/${identifier}`, { headers: accept === undefined ? {} : { accept }, redirect: "manual" });

  it("did-resolver resolves a DID created on the node to the node's own result", async () => {
    const r = await resolver.resolve(did);
    expect(r).to.deep.equal(await client.resolve(did));
    expect(r.didDocument?.id).to.equal(did);
    expect(r.didDocumentMetadata.versionId).to.equal("1");
    expect(r.didDocument?.verificationMethod?.[0]).to.include({ id: `${did}#key-1`, type: "EcdsaSecp256k1VerificationKey2019" });
    expect(r.didDocument?.verificationMethod?.[0]?.publicKeyJwk).to.include({ kty: "EC", crv: "secp256k1" });
    expect((await resolver.resolve("did:sid:abc")).didResolutionMetadata.error).to.equal("invalidDid");
    const unknown = await resolver.resolve(buildInitialDocument(stranger.publicKey).id);
    expect(unknown.didResolutionMetadata.error).to.equal("notFound");
  });

  it("did-jwt verifies an ES256K JWT issued by the DID with kid = its key's DID URL, and refuses one signed by another key", async () => {
    jwtKey1 = await createJWT({ claim: "hello" }, { issuer: did, signer: ES256KSigner(k0.secretKey) }, { alg: "ES256K", kid: `${did}#key-1` });
    const v = await verifyJWT(jwtKey1, { resolver });
    expect(v.verified).to.equal(true);
    expect(v.issuer).to.equal(did);
    expect(v.signer.id).to.equal(`${did}#key-1`);
    expect((await verifyJWT(jwtKey1, { resolver, proofPurpose: "assertionMethod" })).verified).to.equal(true);
    expect((await verifyJWT(jwtKey1, { resolver, proofPurpose: "authentication" })).verified).to.equal(true);

    const forged = await createJWT({ claim: "hello" }, { issuer: did, signer: ES256KSigner(stranger.secretKey) }, { alg: "ES256K", kid: `${did}#key-1` });
    expect((await rejection(verifyJWT(forged, { resolver }))).message).to.match(/invalid_signature/);
  });

  it("did-jwt-vc verifies a credential JWT issued by the DID", async () => {
    const payload: JwtCredentialPayload = {
      sub: withHub,
      nbf: Math.floor(Date.now() / 1000) - 60,
      vc: {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        type: ["VerifiableCredential", "KycCredential"],
        credentialSubject: { kycLevel: "basic" },
      },
    };
    vcJwt = await createVerifiableCredentialJwt(payload, { did, signer: ES256KSigner(k0.secretKey), alg: "ES256K" }, { header: { kid: `${did}#key-1` } });
    const verified = await verifyCredential(vcJwt, resolver);
    expect(verified.verified).to.equal(true);
    expect(verified.issuer).to.equal(did);
    expect(verified.verifiableCredential.credentialSubject).to.deep.include({ id: withHub, kycLevel: "basic" });
  });

  it("after key-1 is rotated out, its JWT no longer verifies at the latest version but still does at version 1", async () => {
    await client.updateDid(did, k0, (d) => addVerificationMethod(d, k1.publicKey, "key-2", ["authentication", "assertionMethod"]));
    await client.updateDid(did, k1, (d) => removeVerificationMethod(d, `${did}#key-1`));
    expect((await resolver.resolve(did)).didDocumentMetadata.versionId).to.equal("3");
    // did-jwt tries every ES256K key of the current document: key-2 does not match the signature
    expect((await rejection(verifyJWT(jwtKey1, { resolver }))).message).to.match(/invalid_signature/);
    expect((await rejection(verifyCredential(vcJwt, resolver))).message).to.match(/invalid_signature/);

    // the DID URL's versionId reaches the node: version 1 still holds key-1
    const v1 = await resolver.resolve(`${did}?versionId=1`);
    expect(v1.didDocument?.verificationMethod?.map((m) => m.id)).to.deep.equal([`${did}#key-1`]);
    const atVersion1 = { resolve: (didUrl: string) => resolver.resolve(`${didUrl}?versionId=1`) };
    expect((await verifyJWT(jwtKey1, { resolver: atVersion1 })).verified).to.equal(true);

    const jwtKey2 = await createJWT({ claim: "rotated" }, { issuer: did, signer: ES256KSigner(k1.secretKey) }, { alg: "ES256K", kid: `${did}#key-2` });
    expect((await verifyJWT(jwtKey2, { resolver })).signer.id).to.equal(`${did}#key-2`);
  });

  it("the Universal Resolver route answers as did_resolve does, in every representation, and dereferences", async () => {
    const res = await ur(did);
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.equal("application/did-resolution");
    const body = (await res.json()) as any;
    // resolveRepresentation: resolve's result plus the contentType of the document it carries
    const resolved = await client.resolve(did);
    expect(resolved.didResolutionMetadata).to.not.have.property("contentType");
    expect(body).to.deep.equal({ ...resolved, didResolutionMetadata: { contentType: "application/did+ld+json" } });

    const encoded = await ur(encodeURIComponent(did), "application/did+ld+json");
    expect([encoded.status, encoded.headers.get("content-type")]).to.deep.equal([200, "application/did+ld+json"]);
    expect(await encoded.json()).to.deep.equal(body.didDocument);
    const plain = await ur(did, "application/did+json");
    expect(plain.headers.get("content-type")).to.equal("application/did+json");
    expect(await plain.json()).to.not.have.property("@context");
    const legacy = 'application/ld+json;profile="https://w3id.org/did-resolution"';
    expect((await ur(did, legacy)).headers.get("content-type")).to.equal(legacy);

    // A browser is sent to the explorer's page of the DID; a type the route cannot give is still 406.
    const browser = await ur(did, "text/html");
    expect([browser.status, browser.headers.get("location")]).to.deep.equal([303, `/#/did/${did}`]);
    const notAcceptable = await ur(did, "image/png");
    expect(notAcceptable.status).to.equal(406);
    expect(((await notAcceptable.json()) as any).didResolutionMetadata.error).to.equal("representationNotSupported");

    // versions: the millisecond time did_history gives is exactly version 1
    const v1 = (await (await ur(`${did}?versionId=1`)).json()) as any;
    expect(v1.didDocumentMetadata).to.include({ versionId: "1", nextVersionId: "2" });
    const history = await client.history(did);
    const atCreate = (await (await ur(`${did}?versionTime=${encodeURIComponent(history[0]!.time)}`)).json()) as any;
    expect(atCreate.didDocumentMetadata.versionId).to.equal("1");
    // `created` (whole seconds) stands for all of its second: the last version made in it
    const atCreated = (await (await ur(`${did}?versionTime=${encodeURIComponent(v1.didDocumentMetadata.created)}`)).json()) as any;
    const sameSecond = history.filter((h) => h.time.slice(0, 19) === v1.didDocumentMetadata.created.slice(0, 19));
    expect(atCreated.didDocumentMetadata.versionId).to.equal(sameSecond[sameSecond.length - 1]!.versionId);
    for (const bad of [`${did}?versionId=1&versionTime=${encodeURIComponent(v1.didDocumentMetadata.created)}`, `${did}?versionTime=2999-01-01T00:00:00Z`, `${did}?versionTime=soon`]) {
      const r = await ur(bad);
      expect(r.status, bad).to.equal(400);
      expect(((await r.json()) as any).didResolutionMetadata.error).to.equal("invalidOptions");
    }

    const key2 = await ur(encodeURIComponent(`${did}#key-2`), "application/did+json");
    expect(key2.status).to.equal(200);
    expect(await key2.json()).to.deep.include({ id: `${did}#key-2`, type: "EcdsaSecp256k1VerificationKey2019", controller: did });
    expect((await ur(encodeURIComponent(`${did}#key-1`))).status).to.equal(404);
    expect((await ur(encodeURIComponent(`${did}?versionId=1#key-1`))).status).to.equal(200);

    const hub = await ur(`${withHub}?service=hub&relativeRef=${encodeURIComponent("/inbox")}`);
    expect(hub.status).to.equal(303);
    expect(hub.headers.get("location")).to.equal("https://hub.example/inbox");
    const hubEncoded = await ur(encodeURIComponent(`${withHub}?service=hub`));
    expect([hubEncoded.status, hubEncoded.headers.get("location")]).to.deep.equal([303, "https://hub.example/base/"]);

    const unknown = await ur(buildInitialDocument(stranger.publicKey).id);
    expect(unknown.status).to.equal(404);
    expect(((await unknown.json()) as any).didResolutionMetadata.error).to.equal("notFound");
    const invalid = await ur("did:sid:abc");
    expect(invalid.status).to.equal(400);
    expect(((await invalid.json()) as any).didResolutionMetadata.error).to.equal("invalidDid");
    // an unknown DID parameter is ignored (DID Resolution); a known one given twice is refused
    const ignored = await ur(encodeURIComponent(`${did}?nope=1`));
    expect(ignored.status).to.equal(200);
    const badUrl = await ur(encodeURIComponent(`${did}?service=a&service=b`));
    expect(badUrl.status).to.equal(400);
    expect(((await badUrl.json()) as any).dereferencingMetadata.error).to.equal("invalidDidUrl");
  });

  it("after deactivation nothing the DID signed verifies, and the route answers 410", async () => {
    const jwtKey2 = await createJWT({ claim: "last words" }, { issuer: did, signer: ES256KSigner(k1.secretKey) }, { alg: "ES256K", kid: `${did}#key-2` });
    expect((await verifyJWT(jwtKey2, { resolver })).verified).to.equal(true);
    await client.deactivateDid(did, k1);

    const r = await resolver.resolve(did);
    expect(r.didDocumentMetadata.deactivated).to.equal(true);
    expect(r.didDocument).to.deep.equal({ "@context": r.didDocument!["@context"], id: did, verificationMethod: [] });
    // did-jwt finds no key in a deactivated DID's document
    expect((await rejection(verifyJWT(jwtKey2, { resolver }))).message).to.match(/no_suitable_keys/);

    const res = await ur(did);
    expect(res.status).to.equal(410);
    expect(res.headers.get("content-type")).to.equal("application/did-resolution");
    const body = (await res.json()) as any;
    expect(body).to.deep.equal({ ...(await client.resolve(did)), didResolutionMetadata: { contentType: "application/did+ld+json" } });
    expect(body.didDocumentMetadata.deactivated).to.equal(true);
    expect((await ur(encodeURIComponent(`${did}#key-2`))).status).to.equal(410);
  });
});
