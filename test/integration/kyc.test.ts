/**
 * KYC end to end on a real dev node process, through the SDK: governance
 * accredits an issuer, the issuer creates a status list and issues one-time
 * copies, holders present them, verifiers judge against the node's whole
 * list (cached by ETag); suspend, reinstate and revoke reach the verdict;
 * the node's Status List Token verifies with an independent JOSE library
 * (jose); a high-S copy signed by node:crypto verifies. Last, the privacy
 * scan: 1,000 credentials to 100 holders, then every block, tx, state
 * record, log line and RPC/WebSocket answer is searched for any holder DID,
 * holder key, credential id or claim value (DESIGN.md invariant 5).
 */
import { expect } from "chai";
import { createPrivateKey, sign as nodeSign } from "node:crypto";
import { readFileSync } from "node:fs";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { join } from "node:path";
import { Level } from "level";
import { importJWK, jwtVerify, decodeProtectedHeader, type JWK } from "jose";
import { fromHex, toHex, utf8 } from "../../src/crypto/bytes.js";
import { base64urlEncode, publicKeyToJwk } from "../../src/crypto/encoding.js";
import { type KeyPair, generateMnemonic, randomKeyPair, deriveKey } from "../../src/crypto/hd.js";
import { isHighS, publicKeyOf } from "../../src/crypto/secp256k1.js";
import {
  HolderKeys,
  HolderStore,
  type IssuerContext,
  KycError,
  KycErrorCode,
  RegistryClient,
  SidClient,
  StatusListCache,
  VerdictReason,
  changeCredentialStatus,
  createStatusList,
  issueCredentials,
  issuerContext,
  makeRequest,
  presentCopy,
  presentSdJwtVc,
  readRequest,
  receiveIssuance,
  verifyWithNode,
  ISSUANCE_KIND,
  type JsonValue,
} from "../../src/client/index.js";
import { type NodeProcess, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";
import { type Json, WsTestClient } from "../helpers/ws-client.js";
import { NeedleSet } from "../helpers/needles.js";
import { didKeyOf } from "../helpers/hd-fast.js";
import { didFromPublicKey } from "../../src/did/syntax.js";

const TYPE = "KYCBasic";
const AUDIENCE = "https://shop.example/checkout";
const NONCE = "nonce-7d1c2e";

/** Re-sign a compact JWS with node:crypto (OpenSSL, IEEE P1363 r||s, not normalized) until s is high. */
function resignHighS(jwt: string, key: KeyPair): string {
  const [h, p] = jwt.split(".");
  const pk = createPrivateKey({ key: { ...publicKeyToJwk(key.publicKey), d: base64urlEncode(key.secretKey) }, format: "jwk" });
  for (let i = 0; i < 200; i++) {
    const sig = nodeSign("sha256", Buffer.from(`${h}.${p}`), { key: pk, dsaEncoding: "ieee-p1363" });
    if (isHighS(sig)) return `${h}.${p}.${base64urlEncode(sig)}`;
  }
  throw new Error("no high-S signature in 200 tries");
}

interface Holder {
  mnemonic: string;
  keys: HolderKeys;
  store: HolderStore;
  did: string;
  claims: Record<string, JsonValue>;
}

describe("integration: KYC status lists and one-time copies on a real node", function () {
  this.timeout(300_000);
  let node: NodeProcess;
  let home: string;
  let userHome: string;
  let client: SidClient;
  let registry: RegistryClient;
  let trustee: KeyPair;
  const issuerKey = randomKeyPair();
  let issuerDid: string;
  let ctx: IssuerContext;
  let listUri: string;
  /** Every WebSocket message seen on the statusLists topic. */
  let ws: WsTestClient;
  let wsOpenedAt = 0;
  const rpcAnswers: string[] = [];
  const holders: Holder[] = [];
  const credentialIds: string[] = [];

  const newHolder = async (i: number): Promise<Holder> => {
    const mnemonic = generateMnemonic();
    const claims = { given_name: `Given${i}x${toHex(randomKeyPair().publicKey).slice(2, 12)}`, family_name: `Family${i}q${toHex(randomKeyPair().publicKey).slice(2, 12)}`, birthdate: `19${50 + (i % 50)}-0${1 + (i % 9)}-1${i % 10}`, age_over_18: true };
    return { mnemonic, keys: new HolderKeys(mnemonic), store: HolderStore.open(userHome, `holder${i}`), did: didFromPublicKey(didKeyOf(mnemonic).publicKey), claims };
  };

  /** Request, issue and receive one credential of `copies` copies for `h`. */
  const issueTo = async (h: Holder, copies: number) => {
    const req = await makeRequest(h.store, h.keys, copies);
    const r = await issueCredentials(ctx, "main", [{ type: TYPE, claims: h.claims, format: "sd-jwt-vc", holderKeys: readRequest(req).keys, validUntil: Date.now() + 30 * 86_400_000 }]);
    const c = r.credentials[0]!;
    credentialIds.push(c.credentialId);
    await receiveIssuance(h.store, h.keys, { kind: ISSUANCE_KIND, version: 1, requestId: req.requestId, credentialId: c.credentialId, issuer: issuerDid, credentialType: TYPE, format: "sd-jwt-vc", copies: c.copies });
    return { ...r, credentialId: c.credentialId, copies: c.copies };
  };

  before(async () => {
    home = tempHome("sid-kyc-node-");
    userHome = tempHome("sid-kyc-user-");
    node = await startNodeProcess(home, { heartbeatMs: 60_000 });
    client = new SidClient(node.rpcUrl);
    registry = new RegistryClient(client);
    const file = JSON.parse(readFileSync(join(home, "config", "trustee_key.json"), "utf8")) as { secretKey: string };
    const sk = fromHex(file.secretKey, 32);
    trustee = { secretKey: sk, publicKey: publicKeyOf(sk) };
    issuerDid = await registry.ensureDid(issuerKey);
    const added = await registry.propose({ kind: "issuer/add", did: issuerDid, name: "Acme KYC", types: [TYPE] }, trustee);
    expect(added.executed).to.equal(true);
    ctx = await issuerContext(client, userHome, issuerDid, issuerKey);
    ws = await WsTestClient.open(node.rpcUrl.replace("http://", "ws://") + "/ws");
    wsOpenedAt = Date.now();
    await ws.result("subscribe", ["statusLists", {}]);
  });
  after(async () => {
    await ws?.close();
    await node?.stop();
    removeHome(home);
    removeHome(userHome);
  });

  it("an accredited issuer creates a list of 131,072 UNISSUED entries; the node serves its token", async () => {
    const r = await createStatusList(ctx, { listId: "main" });
    listUri = r.uri;
    expect(r.size).to.equal(131_072);
    const got = await registry.statusList(issuerDid, "main");
    rpcAnswers.push(JSON.stringify(got));
    expect(got.uri).to.equal(listUri);
    expect(got.types).to.deep.equal([TYPE]);
    expect(got.size).to.equal(131_072);
    // The local store and the chain agree, and the id is refused a second time.
    try {
      await createStatusList(ctx, { listId: "main" });
      expect.fail("created a list twice");
    } catch (err) {
      expect((err as { code?: string }).code).to.equal("KYC_LIST_EXISTS");
    }
  });

  it("holders get copies, present each once, and verifiers accept; suspend, reinstate and revoke flip every copy", async () => {
    const h = await newHolder(0);
    holders.push(h);
    const issued = await issueTo(h, 4);
    expect(issued.copies).to.have.length(4);
    const lists = new StatusListCache(client);
    const verify = (p: string, nonce = NONCE) => verifyWithNode(client, p, { audience: AUDIENCE, nonce }, lists);

    const p1 = await presentCopy(h.store, h.keys, issued.credentialId, { disclose: ["given_name", "age_over_18"], audience: AUDIENCE, nonce: NONCE });
    expect(p1.remaining).to.equal(3);
    const v1 = await verify(p1.presentation);
    expect(v1.reason, v1.message).to.equal(undefined);
    expect(v1).to.include({ valid: true, status: "valid", issuer: issuerDid, statusListUri: listUri });
    expect(v1.disclosed).to.deep.equal({ given_name: h.claims.given_name, age_over_18: true });
    // The second look at an unchanged list is a 304.
    expect((await verify(p1.presentation)).valid).to.equal(true);
    expect(lists.stats.fetched).to.equal(1);
    expect(lists.stats.notModified).to.equal(1);

    const p2 = await presentCopy(h.store, h.keys, issued.credentialId, { disclose: ["age_over_18"], audience: AUDIENCE, nonce: NONCE });
    expect(p2.presentation.split("~")[0]).to.not.equal(p1.presentation.split("~")[0]);

    await changeCredentialStatus(ctx, [{ credentialId: issued.credentialId, status: "suspended" }]);
    for (const p of [p1.presentation, p2.presentation]) expect(await verify(p)).to.include({ valid: false, reason: VerdictReason.SUSPENDED, status: "suspended" });
    expect(lists.stats.fetched).to.equal(2, "a changed list is fetched again");

    await changeCredentialStatus(ctx, [{ credentialId: issued.credentialId, status: "valid" }]);
    expect((await verify(p2.presentation)).valid).to.equal(true);

    await changeCredentialStatus(ctx, [{ credentialId: issued.credentialId, status: "revoked" }]);
    for (const p of [p1.presentation, p2.presentation]) expect(await verify(p)).to.include({ valid: false, reason: VerdictReason.REVOKED, status: "revoked" });
    try {
      await changeCredentialStatus(ctx, [{ credentialId: issued.credentialId, status: "valid" }]);
      expect.fail("reinstated a revoked credential");
    } catch (err) {
      expect((err as KycError).code).to.equal(KycErrorCode.BAD_STATUS_CHANGE);
    }
    rpcAnswers.push(JSON.stringify(await registry.statusList(issuerDid, "main")));
  });

  it("interop: the node's token verifies with jose; GET answers with ETag, Cache-Control and 304; a high-S copy verifies", async () => {
    const path = new URL(listUri).pathname;
    const res = await fetch(`${node.rpcUrl}${path}`);
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.match(/^application\/statuslist\+jwt/);
    const etag = res.headers.get("etag");
    expect(etag).to.match(/^"[^"]+"$/, "a strong ETag");
    expect(res.headers.get("cache-control")).to.match(/max-age=\d+/);
    const token = (await res.text()).trim();
    rpcAnswers.push(token);
    expect(token).to.equal((await registry.statusList(issuerDid, "main")).token, "served unmodified");
    const again = await fetch(`${node.rpcUrl}${path}`, { headers: { "if-none-match": etag! } });
    expect(again.status).to.equal(304);

    const header = decodeProtectedHeader(token);
    expect(header).to.include({ alg: "ES256K", typ: "statuslist+jwt", kid: `${issuerDid}#key-1` });
    const key = await importJWK({ ...publicKeyToJwk(issuerKey.publicKey) } as JWK, "ES256K");
    const { payload, protectedHeader } = await jwtVerify(token, key, { typ: "statuslist+jwt", subject: listUri, algorithms: ["ES256K"] });
    expect(protectedHeader.alg).to.equal("ES256K");
    expect(payload.status_list).to.have.property("bits", 2);
    // And a foreign key does not verify it.
    try {
      await jwtVerify(token, await importJWK({ ...publicKeyToJwk(randomKeyPair().publicKey) } as JWK, "ES256K"));
      expect.fail("verified with another key");
    } catch (err) {
      expect((err as { code?: string }).code).to.equal("ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    }

    // A copy re-signed high-S by node:crypto (OpenSSL) verifies on the node's list.
    const h = await newHolder(1);
    holders.push(h);
    const issued = await issueTo(h, 1);
    const [jwt, ...rest] = issued.copies[0]!.split("~");
    const held = await h.store.credential(issued.credentialId);
    held.copies[0]!.credential = [resignHighS(jwt!, issuerKey), ...rest].join("~");
    await h.store.saveCredential(held);
    const p = await presentCopy(h.store, h.keys, issued.credentialId, { disclose: ["age_over_18"], audience: AUDIENCE, nonce: NONCE });
    const v = await verifyWithNode(client, p.presentation, { audience: AUDIENCE, nonce: NONCE });
    expect(v.reason, v.message).to.equal(undefined);
    expect(v.valid).to.equal(true);
  });

  // Last: it stops the node to read its database.
  it("privacy scan: 1,000 credentials to 100 holders; no holder DID, holder key, credential id or claim value anywhere on the node", async () => {
    const HOLDERS = 100;
    const PER_HOLDER = 10;
    const COPIES = 2;
    // The DID key of the first holder, by the SDK's own derivation: the fast one used for the others agrees.
    expect(didFromPublicKey(deriveKey(holders[0]!.mnemonic, 0).publicKey)).to.equal(holders[0]!.did);
    // Each holder costs CPU in this process; yielding between them lets the WebSocket answer the node's pings meanwhile.
    while (holders.length < HOLDERS) {
      holders.push(await newHolder(holders.length));
      await yieldToEventLoop();
    }
    // One publish per 100 credentials: a batch across holders. The holders' copy keys come straight from
    // their seeds (credential numbers 100+), without a request file each: the chain sees the same either way.
    const bulk: Array<{ h: Holder; credentialN: number }> = [];
    const bulkCopies = new Map<string, { h: Holder; credentialN: number; copies: string[] }>();
    const flush = async () => {
      const r = await issueCredentials(ctx, "main", bulk.map(({ h, credentialN }) => ({
        type: TYPE, claims: h.claims, format: "sd-jwt-vc" as const, label: h.did,
        holderKeys: Array.from({ length: COPIES }, (_, c) => h.keys.copyKey(credentialN, c).publicKey),
      })));
      for (const [i, b] of bulk.entries()) {
        const c = r.credentials[i]!;
        credentialIds.push(c.credentialId);
        bulkCopies.set(c.credentialId, { ...b, copies: c.copies });
      }
      bulk.length = 0;
    };
    for (let k = 0; k < PER_HOLDER; k++) {
      for (const h of holders.slice(0, HOLDERS)) {
        bulk.push({ h, credentialN: 100 + k });
        if (bulk.length === 100) await flush();
      }
    }
    if (bulk.length > 0) await flush();
    expect(bulkCopies.size).to.equal(HOLDERS * PER_HOLDER);

    // Present some, then suspend 20, reinstate 10 of them, revoke 10 others (one publish each).
    const lists = new StatusListCache(client);
    const bulkIds = [...bulkCopies.keys()];
    for (const id of bulkIds.slice(0, 20)) {
      const { h, credentialN, copies } = bulkCopies.get(id)!;
      const presentation = await presentSdJwtVc({ credential: copies[0]!, disclose: ["given_name", "age_over_18"], holderSecretKey: h.keys.copyKey(credentialN, 0).secretKey, audience: AUDIENCE, nonce: NONCE });
      const v = await verifyWithNode(client, presentation, { audience: AUDIENCE, nonce: NONCE }, lists);
      expect(v.valid, v.message).to.equal(true);
    }
    const scanIds = bulkIds.slice(20);
    await changeCredentialStatus(ctx, scanIds.slice(0, 20).map((credentialId) => ({ credentialId, status: "suspended" as const })));
    await changeCredentialStatus(ctx, scanIds.slice(0, 10).map((credentialId) => ({ credentialId, status: "valid" as const })));
    await changeCredentialStatus(ctx, scanIds.slice(20, 30).map((credentialId) => ({ credentialId, status: "revoked" as const })));

    // Needles: every holder DID, every copy's holder key (raw bytes, hex, JWK x), every credential id, every claim value.
    const needles = new Map<string, Uint8Array>();
    const add = (name: string, text: string) => needles.set(name, utf8(text));
    for (const [i, h] of holders.entries()) {
      add(`holder ${i} DID`, h.did);
      for (const [name, v] of Object.entries(h.claims)) if (typeof v === "string") add(`holder ${i} ${name}`, v);
      for (const id of await h.store.credentialIds()) {
        const c = await h.store.credential(id);
        for (const copy of c.copies) {
          const pub = h.keys.copyKey(c.credentialN!, copy.copyN).publicKey;
          needles.set(`holder ${i} copy key ${copy.copyN}`, pub);
          add(`holder ${i} copy key hex`, toHex(pub));
          add(`holder ${i} copy key jwk.x`, publicKeyToJwk(pub).x);
        }
      }
    }
    for (const [n, [id, { h, credentialN }]] of [...bulkCopies].entries()) {
      if (n % 100 === 99) await yieldToEventLoop();
      for (let c = 0; c < COPIES; c++) {
        const pub = h.keys.copyKey(credentialN, c).publicKey;
        needles.set(`copy key ${id}/${c}`, pub);
        add(`copy key hex ${id}/${c}`, toHex(pub));
        add(`copy key jwk.x ${id}/${c}`, publicKeyToJwk(pub).x);
      }
    }
    for (const id of credentialIds) add(`credential id ${id}`, id);
    expect(needles.size).to.be.greaterThan(HOLDERS * (1 + 3) + credentialIds.length);
    const scanner = new NeedleSet();
    for (const [name, n] of needles) scanner.add(name, n);
    // The scanner finds a needle wherever it stands: planted between other bytes, at the start, at the end.
    const [firstName, first] = [...needles][0]!;
    const anyNeedle = [...needles].find(([, n]) => n.length === 33)!;
    expect(scanner.find(new Uint8Array([0x22, ...first, 0x22]))).to.include(firstName);
    expect(scanner.find(new Uint8Array([...anyNeedle[1], 0x01]))).to.include(anyNeedle[0]);
    expect(scanner.find(new Uint8Array([0x01, ...anyNeedle[1]]))).to.include(anyNeedle[0]);
    expect(scanner.find(utf8("nothing of anyone here"))).to.deep.equal([]);
    const found: string[] = [];
    const leaks = (where: string, bytes: Uint8Array) => {
      for (const name of scanner.find(bytes)) found.push(`${name} in ${where}`);
    };

    // Blocks and txs.
    const head = (await client.status()).height;
    let txCount = 0;
    let publishes = 0;
    for (let h = 1; h <= head; h++) {
      const block = await client.rpc.call<{ txs: string[] }>("block_get", { height: h });
      leaks(`block ${h}`, utf8(JSON.stringify(block)));
      for (const hash of block.txs) {
        const tx = JSON.stringify(await client.rpc.call("tx_get", { hash }));
        leaks(`tx ${hash}`, utf8(tx));
        txCount++;
        if (tx.includes('"statuslist/publish"')) publishes++;
      }
    }
    expect(txCount, "the scan saw every publish").to.be.at.least(13);
    // RPC answers (issuer-level reads) and the WebSocket stream.
    rpcAnswers.push(JSON.stringify(await registry.statusList(issuerDid, "main")));
    rpcAnswers.push(JSON.stringify(await registry.statusLists(issuerDid)));
    rpcAnswers.push(JSON.stringify(await registry.issuer(issuerDid)));
    rpcAnswers.push(JSON.stringify(await registry.issuers()));
    for (const [i, a] of rpcAnswers.entries()) leaks(`rpc answer ${i}`, utf8(a));
    // The stream is scanned too, and it carried every publish committed since the subscription, one notification each.
    // (A mocha loop blocked past the node's 30 s WebSocket ping once lost the connection here: the holder and needle
    // loops above yield, and the count is printed with the connection's state and the pings seen if it differs.)
    await ws.until(() => ws.received.filter((m: Json) => m.method !== undefined || m.params !== undefined).length >= publishes, 10_000, `${publishes} statusLists notifications`).catch(() => undefined);
    const events = ws.received.filter((m: Json) => m.method !== undefined || m.params !== undefined);
    if (events.length !== publishes) {
      const state = ws.socket.readyState === ws.socket.OPEN ? "open" : `closed ${JSON.stringify(await Promise.race([ws.closed, Promise.resolve("not yet")]))}`;
      const opened = wsOpenedAt;
      console.log(`      statusLists stream: ${events.length} notifications for ${publishes} committed publishes; connection ${state}; pings at ${JSON.stringify(ws.pings.map((t) => t - opened))} ms after open, now ${Date.now() - opened}`);
    }
    expect(publishes, "publishes in the chain").to.be.at.least(1);
    expect(events.length, "one statusLists notification per committed publish").to.equal(publishes);
    leaks("websocket", utf8(JSON.stringify(ws.received)));

    // The node's log, then every key and value of its database.
    await node.stop();
    leaks("node log", utf8(node.output()));
    const db = new Level<Uint8Array, Uint8Array>(join(home, "data", "chain"), { keyEncoding: "view", valueEncoding: "view" });
    let entries = 0;
    let sawIssuer = false;
    const issuerBytes = utf8(issuerDid);
    try {
      for await (const [k, v] of db.iterator()) {
        entries++;
        leaks(`db key ${Buffer.from(k).toString("hex").slice(0, 24)}`, k);
        leaks(`db value of ${Buffer.from(k).toString("hex").slice(0, 24)}`, v);
        if (Buffer.from(v).indexOf(issuerBytes) >= 0) sawIssuer = true;
      }
    } finally {
      await db.close();
    }
    // Not vacuous: the scan reads the whole store and finds what the chain does hold (the issuer).
    expect(entries).to.be.greaterThan(100);
    expect(sawIssuer, "the scan finds the issuer DID").to.equal(true);
    expect(found.slice(0, 20)).to.deep.equal([]);
  });
});
