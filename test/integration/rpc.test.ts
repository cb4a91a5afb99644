/**
 * A real node process, driven over JSON-RPC: the DID lifecycle, and every
 * kind of bad input answered with a typed error while the state root stays
 * where it was.
 */
import { expect } from "chai";
import { connect } from "node:net";
import { toBase64 } from "../../src/crypto/bytes.js";
import { deriveKey, generateMnemonic, type KeyPair } from "../../src/crypto/hd.js";
import { malleate } from "../../src/crypto/secp256k1.js";
import { buildInitialDocument, type DidDocument } from "../../src/did/document.js";
import { addService, addVerificationMethod, removeVerificationMethod } from "../../src/did/document-edit.js";
import { encodeTx } from "../../src/chain/tx.js";
import { SidClient, RpcError, createDidTx, updateDidTx, deactivateDidTx, sealTx } from "../../src/client/index.js";
import { type NodeProcess, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";

async function post(url: string, body: string, contentType = "application/json"): Promise<{ status: number; json: any }> {
  const r = await fetch(url, { method: "POST", headers: { "content-type": contentType }, body });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
}

/**
 * A POST that declares a body of `declared` bytes and sends only `first` of
 * it, then reads the answer: one sent by the headers alone.
 */
async function postDeclared(url: string, declared: number, first: string): Promise<{ status: number; json: any }> {
  const u = new URL(url);
  const sock = connect(Number(u.port), u.hostname);
  return new Promise((resolve, reject) => {
    let got = "";
    const fail = (why: string) => {
      clearTimeout(timer);
      sock.destroy();
      reject(new Error(`${why}; received ${JSON.stringify(got.slice(0, 300))}`));
    };
    const timer = setTimeout(() => fail(`no whole answer within 10 s to a body declared as ${declared} bytes`), 10_000);
    const answered = (): boolean => {
      const end = got.indexOf("\r\n\r\n");
      const length = end < 0 ? undefined : /\r\ncontent-length: *(\d+)/i.exec(got.slice(0, end))?.[1];
      if (length === undefined || got.length < end + 4 + Number(length)) return false;
      clearTimeout(timer);
      sock.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(got)?.[1]), json: JSON.parse(got.slice(end + 4, end + 4 + Number(length))) });
      return true;
    };
    sock.on("connect", () => sock.write(`POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n${first}`));
    sock.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      answered();
    });
    sock.on("end", () => answered() || fail("the connection ended before a whole answer"));
    sock.on("error", (e) => fail(`socket error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
  });
}

async function rpcError(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RpcError) return e;
    throw e;
  }
  throw new Error("expected an RPC error");
}

describe("integration: node over JSON-RPC", function () {
  this.timeout(60_000);
  let node: NodeProcess;
  let home: string;
  let client: SidClient;
  let chainId: string;
  const mnemonic = generateMnemonic();
  const k0 = deriveKey(mnemonic, 0);
  const k1 = deriveKey(mnemonic, 1);
  let did: string;

  before(async () => {
    home = tempHome();
    node = await startNodeProcess(home, { heartbeatMs: 60_000 });
    client = new SidClient(node.rpcUrl);
    chainId = await client.chainId();
  });

  after(async () => {
    await node?.stop();
    removeHome(home);
  });

  const stateRoot = async () => (await client.status()).stateRoot;

  it("registers a DID, rotates its key, resolves every version, deactivates it", async () => {
    const created = await client.createDid(k0);
    did = created.did;
    expect(created.height).to.be.greaterThan(0);
    const res1 = await client.resolve(did);
    expect(res1.didDocument?.id).to.equal(did);
    expect(res1.didDocumentMetadata.versionId).to.equal("1");

    await client.updateDid(did, k0, (d) => addVerificationMethod(d, k1.publicKey, "key-2", ["authentication"]));
    await client.updateDid(did, k1, (d) => removeVerificationMethod(d, `${did}#key-1`));
    const cur = await client.resolve(did);
    expect(cur.didDocumentMetadata.versionId).to.equal("3");
    expect(JSON.stringify(cur.didDocument)).to.not.include("#key-1");

    const v1 = await client.resolve(did, { versionId: "1" });
    expect(v1.didDocumentMetadata.nextVersionId).to.equal("2");
    expect(JSON.stringify(v1.didDocument)).to.include("#key-1");
    const hist = await client.history(did);
    expect(hist.map((h) => h.operation)).to.deep.equal(["create", "update", "update"]);
    const atCreate = await client.resolve(did, { versionTime: hist[0]!.time });
    expect(atCreate.didDocumentMetadata.versionId).to.equal("1");
  });

  it("rejects a tx signed by a rotated-out key", async () => {
    const seq = await client.nextSequence(did);
    const tx = updateDidTx({ chainId, did, prevVersionId: "3", signer: did, seq, vm: `${did}#key-1`, secretKey: k0.secretKey }, buildInitialDocument(k0.publicKey));
    const before = await stateRoot();
    const e = await rpcError(client.submit(tx));
    expect(e.reason).to.equal("TX_UNAUTHORIZED");
    expect(await stateRoot()).to.equal(before);
  });

  it("rejects stale versions, replays, bad sequences, bad signatures and high-S signatures", async () => {
    const before = await stateRoot();
    const { document } = await client.current(did);
    const seq = await client.nextSequence(did);
    const base = { chainId, did, signer: did, vm: `${did}#key-2`, secretKey: k1.secretKey };
    expect((await rpcError(client.submit(updateDidTx({ ...base, prevVersionId: "2", seq }, document)))).reason).to.equal("DID_STALE_VERSION");
    expect((await rpcError(client.submit(updateDidTx({ ...base, prevVersionId: "3", seq: seq + 5 }, document)))).reason).to.equal("TX_BAD_SEQUENCE");
    const good = updateDidTx({ ...base, prevVersionId: "3", seq }, document);
    const forged = sealTx({ ...good.tx }, deriveKey(generateMnemonic(), 0).secretKey);
    expect((await rpcError(client.submit(forged)))).to.have.property("reason", "TX_BAD_SIGNATURE");
    const high = { ...good.tx, sig: malleate(good.tx.sig) };
    const highBytes = encodeTx(high);
    const e = await rpcError(client.rpc.call("tx_submit", { tx: toBase64(highBytes) }));
    expect(e.reason).to.equal("TX_HIGH_S_SIGNATURE");
    const wrongChain = updateDidTx({ ...base, chainId: "other-chain", prevVersionId: "3", seq }, document);
    expect((await rpcError(client.submit(wrongChain))).reason).to.equal("TX_WRONG_CHAIN");
    expect(await stateRoot()).to.equal(before);
    // the good one goes through once; its replay is refused
    const first = await client.submit(good);
    const replay = await rpcError(client.rpc.call("tx_submit", { tx: good.base64, wait: true }));
    expect(["TX_ALREADY_COMMITTED", "TX_DUPLICATE"]).to.include(replay.reason);
    // The SDK takes a resend of the same tx (as after a connection lost mid-request) for the one already sent.
    expect(await client.submit(good)).to.deep.equal(first);
  });

  it("refuses creating an existing DID, and an id that does not derive from the key", async () => {
    // the same DID with another document: a distinct tx, refused by state
    const doc0 = addService(buildInitialDocument(k0.publicKey), { id: `${did}#home`, type: "LinkedDomains", serviceEndpoint: "https://example.com" });
    const again = await rpcError(client.submit(createDidTx(chainId, k0, doc0)));
    expect(again.reason).to.equal("DID_ALREADY_EXISTS");
    const other = deriveKey(generateMnemonic(), 0);
    // a document for k0's DID carrying another key, signed by that other key
    const doc: DidDocument = addVerificationMethod(buildInitialDocument(k0.publicKey), other.publicKey, "key-9", ["authentication"]);
    const tx = createDidTx(chainId, other, doc);
    const e = await rpcError(client.submit(tx));
    expect(["DID_ID_MISMATCH", "DID_ALREADY_EXISTS"]).to.include(e.reason);
    const fresh = deriveKey(generateMnemonic(), 0);
    const doc2 = addVerificationMethod(buildInitialDocument(fresh.publicKey), other.publicKey, "key-9", ["authentication"]);
    const e2 = await rpcError(client.submit(createDidTx(chainId, other, doc2)));
    expect(e2.reason).to.equal("DID_ID_MISMATCH");
  });

  it("refuses invalid documents with DID_INVALID_DOCUMENT", async () => {
    const key: KeyPair = deriveKey(generateMnemonic(), 0);
    const doc = buildInitialDocument(key.publicKey) as any;
    doc.verificationMethod.push({ ...doc.verificationMethod[0] }); // duplicate id
    const e = await rpcError(client.submit(createDidTxUnchecked(chainId, key, doc)));
    expect(e.reason).to.equal("DID_INVALID_DOCUMENT");
    const tooMany = buildInitialDocument(key.publicKey) as any;
    for (let i = 0; i < 20; i++) tooMany.verificationMethod.push({ ...tooMany.verificationMethod[0], id: `${tooMany.id}#k${i}` });
    expect((await rpcError(client.submit(createDidTxUnchecked(chainId, key, tooMany)))).reason).to.equal("DID_INVALID_DOCUMENT");
    const badKey = buildInitialDocument(key.publicKey) as any;
    badKey.verificationMethod[0].publicKeyJwk.x = "AAAA";
    expect((await rpcError(client.submit(createDidTxUnchecked(chainId, key, badKey)))).reason).to.equal("DID_INVALID_DOCUMENT");
    const dangling = buildInitialDocument(key.publicKey) as any;
    dangling.assertionMethod = [`${dangling.id}#nope`];
    expect((await rpcError(client.submit(createDidTxUnchecked(chainId, key, dangling)))).reason).to.equal("DID_INVALID_DOCUMENT");
  });

  it("answers DID errors in resolution metadata: invalidDid, notFound", async () => {
    const bad = await client.resolve("did:sid:0OIl");
    expect(bad.didResolutionMetadata.error).to.equal("invalidDid");
    const missing = await client.resolve(deriveDid());
    expect(missing.didResolutionMetadata.error).to.equal("notFound");
    expect(missing.didDocument).to.equal(null);
    const both = await client.resolve(did, { versionId: "1", versionTime: "2026-01-01T00:00:00Z" });
    expect(both.didResolutionMetadata.error).to.equal("invalidOptions");
    const hist = await rpcError(client.history(deriveDid()));
    expect(hist.reason).to.equal("DID_NOT_FOUND");
  });

  it("answers malformed JSON, wrong types, unknown methods and oversized bodies with JSON-RPC errors", async () => {
    const before = await stateRoot();
    expect((await post(node.rpcUrl, "{not json")).json.error.code).to.equal(-32700);
    expect((await post(node.rpcUrl, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "nope" }))).json.error.code).to.equal(-32601);
    const wrongType = await post(node.rpcUrl, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "did_resolve", params: { did: 42 } }));
    expect(wrongType.json.error.code).to.equal(-32602);
    expect(wrongType.json.error.data.param).to.equal("did");
    const notBase64 = await post(node.rpcUrl, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tx_submit", params: { tx: "!!!" } }));
    expect(notBase64.json.error.code).to.equal(-32602);
    const garbage = await post(node.rpcUrl, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tx_submit", params: { tx: toBase64(new Uint8Array([1, 2, 3])) } }));
    expect(garbage.json.error.data.reason).to.equal("TX_DECODE");
    // The node answers 413 from the Content-Length, without waiting for the body: a client sending all of it could
    // see its write fail (EPIPE) before it reads the answer, so this one sends the headers and the body's first bytes.
    const huge = await postDeclared(node.rpcUrl, 2 * 1024 * 1024 + 64, '{"jsonrpc":"2.0","id":1,"method":"tx_submit","params":{"tx":"AAAA');
    expect(huge.status).to.equal(413);
    expect(huge.json.error.code).to.equal(-32600);
    // a tx over the largest any tx may be (a status list publish, 512 KiB) inside a body the server accepts
    const bigTx = await post(node.rpcUrl, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tx_submit", params: { tx: toBase64(new Uint8Array(513 * 1024)) } }));
    expect(bigTx.json.error.data.reason).to.equal("TX_TOO_LARGE");
    const batch = await post(node.rpcUrl, JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "node_status" }, { jsonrpc: "2.0", id: 2, method: "nope" }]));
    expect(batch.json).to.have.length(2);
    expect(batch.json[0].result.chainId).to.equal(chainId);
    expect(batch.json[1].error.code).to.equal(-32601);
    expect(await stateRoot()).to.equal(before);
  });

  it("reports tx status: committed with height, rejected with reason, unknown", async () => {
    const hist = await client.history(did);
    const last = hist[hist.length - 1]!;
    const got = await client.rpc.call<any>("tx_get", { hash: last.txHash });
    expect(got.status).to.equal("committed");
    expect(got.height).to.equal(last.height);
    const unknown = await client.rpc.call<any>("tx_get", { hash: "00".repeat(32) });
    expect(unknown.status).to.equal("unknown");
    const key = deriveKey(generateMnemonic(), 0);
    const bad = sealTx({ ...createDidTx(chainId, key).tx, seq: 3 }, key.secretKey);
    await rpcError(client.submit(bad));
    const rej = await client.rpc.call<any>("tx_get", { hash: bad.hash });
    expect(rej.status).to.equal("rejected");
    expect(rej.error.code).to.equal("TX_BAD_SEQUENCE");
    const block = await client.rpc.call<any>("block_get", { height: last.height });
    expect(block.txs).to.include(last.txHash);
    const byHash = await client.rpc.call<any>("block_get", { hash: block.hash });
    expect(byHash.header.height).to.equal(last.height);
    expect((await rpcError(client.rpc.call("block_get", { height: 10_000_000 }))).reason).to.equal("BLOCK_NOT_FOUND");
  });

  it("deactivates, after which every write is rejected", async () => {
    await client.deactivateDid(did, k1);
    const res = await client.resolve(did);
    expect(res.didDocumentMetadata.deactivated).to.equal(true);
    const seq = await client.nextSequence(did);
    const hist = await client.history(did);
    const prev = hist[hist.length - 1]!.versionId;
    const tx = deactivateDidTx({ chainId, did, prevVersionId: prev, signer: did, seq, vm: `${did}#key-2`, secretKey: k1.secretKey });
    expect((await rpcError(client.submit(tx))).reason).to.equal("DID_DEACTIVATED");
    const upd = updateDidTx({ chainId, did, prevVersionId: prev, signer: did, seq, vm: `${did}#key-2`, secretKey: k1.secretKey }, buildInitialDocument(k1.publicKey));
    expect((await rpcError(client.submit(upd))).reason).to.be.oneOf(["DID_DEACTIVATED", "DID_INVALID_DOCUMENT"]);
  });

  it("keeps everything across a restart", async () => {
    const before = await client.status();
    const res = await client.resolve(did, { versionId: "2" });
    await node.stop();
    node = await startNodeProcess(home, { heartbeatMs: 60_000, port: Number(new URL(node.rpcUrl).port) });
    const after = await client.status();
    expect(after.height).to.be.at.least(before.height);
    expect(after.stateRoot).to.equal(before.stateRoot);
    expect(await client.resolve(did, { versionId: "2" })).to.deep.equal(res);
  });

  function deriveDid(): string {
    return createDidTx(chainId, deriveKey(generateMnemonic(), 0)).tx.signer;
  }
});

/** Sign a create tx around a document without the SDK's local checks. */
function createDidTxUnchecked(chainId: string, key: KeyPair, doc: DidDocument) {
  return sealTx({ v: 1, type: "did/create" as never, chainId, signer: doc.id, vm: `${doc.id}#key-1`, seq: 0, payload: { document: doc } } as never, key.secretKey);
}


describe("integration: heartbeat blocks", function () {
  this.timeout(30_000);
  it("makes empty blocks at the configured interval when no tx arrives", async () => {
    const home = tempHome();
    const n = await startNodeProcess(home, { heartbeatMs: 200 });
    try {
      const c = new SidClient(n.rpcUrl);
      const h0 = (await c.status()).height;
      await new Promise((r) => setTimeout(r, 1500));
      const s = await c.status();
      expect(s.height - h0).to.be.within(3, 9);
      const b = await c.rpc.call<{ txs: string[] }>("block_latest");
      expect(b.txs).to.deep.equal([]);
    } finally {
      await n.stop();
      removeHome(home);
    }
  });
});
