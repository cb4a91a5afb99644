/**
 * Status lists on a real node process: an accredited issuer creates a list
 * and publishes changes; the node serves the token unmodified at
 * GET /status-lists/<id>/<listId> (ETag, 304, Cache-Control, content type),
 * answers statuslist_get (with a proof the SDK verifies against the genesis
 * validators alone) and statuslist_list, and refuses a publish that would
 * undo a revocation.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fromHex } from "../../src/crypto/bytes.js";
import { type KeyPair, randomKeyPair } from "../../src/crypto/hd.js";
import { publicKeyOf } from "../../src/crypto/secp256k1.js";
import { ProofError, RegistryClient, RpcError, SidClient, ValidatorSetTracker, verifyStatusListProof } from "../../src/client/index.js";
import { DEFAULT_STATUS_LIST_BASE_URI } from "../../src/chain/genesis.js";
import {
  STATUS_LIST_LIMITS,
  StatusValue,
  buildStatusListPayload,
  getStatus,
  newStatusList,
  parseStatusListToken,
  setStatus,
  signStatusListToken,
  statusListUri,
  tokenList,
  verifyEs256k,
} from "../../src/did/status-list.js";
import { type NodeProcess, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";

const LIST = "kyc-2026";
const SIZE = STATUS_LIST_LIMITS.minSize;

describe("integration: status lists", function () {
  this.timeout(120_000);
  let node: NodeProcess;
  let home: string;
  let client: SidClient;
  let registry: RegistryClient;
  let issuer: { key: KeyPair; did: string };
  let iat = Math.floor(Date.now() / 1000);
  const list = newStatusList(SIZE);

  const token = (packed: Uint8Array, ttl?: number) =>
    signStatusListToken(
      `${issuer.did}#key-1`,
      buildStatusListPayload({ issuer: issuer.did, uri: statusListUri(DEFAULT_STATUS_LIST_BASE_URI, issuer.did, LIST), iat: iat++, packed, ...(ttl !== undefined ? { ttl } : {}) }),
      issuer.key.secretKey,
    );
  const url = () => `${node.rpcUrl}/status-lists/${issuer.did.slice("did:sid:".length)}/${LIST}`;

  before(async () => {
    home = tempHome("sid-status-lists-");
    node = await startNodeProcess(home, { heartbeatMs: 60_000 });
    client = new SidClient(node.rpcUrl);
    registry = new RegistryClient(client);
    const file = JSON.parse(readFileSync(join(home, "config", "trustee_key.json"), "utf8")) as { secretKey: string };
    const trusteeSecret = fromHex(file.secretKey, 32);
    const trustee = { secretKey: trusteeSecret, publicKey: publicKeyOf(trusteeSecret) };
    await registry.ensureDid(trustee);
    const key = randomKeyPair();
    issuer = { key, did: await registry.ensureDid(key) };
    const r = await registry.propose({ kind: "issuer/add", did: issuer.did, name: "Acme KYC", types: ["KYCBasic"] }, trustee);
    expect(r.executed).to.equal(true);
  });

  after(async () => {
    await node?.stop();
    removeHome(home);
  });

  it("404 before the list exists; then a first publish creates it", async () => {
    const missing = await fetch(url());
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { error: string }).error).to.equal("notFound");
    await registry.publishStatusList(issuer.did, issuer.key, LIST, token(list));
    expect((await fetch(url())).status).to.equal(200);
  });

  it("serves the latest token unmodified, with its media type, a strong ETag, max-age from ttl, and 304 on If-None-Match", async () => {
    setStatus(list, 42, StatusValue.VALID);
    setStatus(list, 4242, StatusValue.VALID);
    const published = token(list, 120);
    await registry.publishStatusList(issuer.did, issuer.key, LIST, published);
    const res = await fetch(url());
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.match(/^application\/statuslist\+jwt/);
    expect(res.headers.get("cache-control")).to.equal("max-age=120");
    const etag = res.headers.get("etag")!;
    expect(etag).to.match(/^"[0-9a-f]{64}"$/);
    const body = await res.text();
    expect(body).to.equal(published);
    // What a standard verifier does with it: the signature against the issuer's key, then the entry.
    const t = parseStatusListToken(body);
    expect(verifyEs256k(t.signingInput, t.signature, issuer.key.publicKey)).to.equal(true);
    expect(getStatus(tokenList(t), 42)).to.equal(StatusValue.VALID);
    expect(getStatus(tokenList(t), 43)).to.equal(StatusValue.UNISSUED);
    const again = await fetch(url(), { headers: { "if-none-match": etag } });
    expect(again.status).to.equal(304);
    expect(await again.text()).to.equal("");
    const stale = await fetch(url(), { headers: { "if-none-match": '"' + "0".repeat(64) + '"' } });
    expect(stale.status).to.equal(200);
  });

  it("refuses malformed paths with 400", async () => {
    expect((await fetch(`${node.rpcUrl}/status-lists/not-base58-0OIl/${LIST}`)).status).to.equal(400);
    expect((await fetch(`${node.rpcUrl}/status-lists/${issuer.did.slice(8)}/bad%20id`)).status).to.equal(400);
  });

  it("statuslist_get proves the record against a committed header; statuslist_list lists the issuer's lists", async () => {
    const trusted = ValidatorSetTracker.fromGenesisFile(join(home, "config", "genesis.json"));
    const answer = await client.rpc.call<Record<string, unknown>>("statuslist_get", { issuer: issuer.did, listId: LIST, proof: true });
    const v = verifyStatusListProof(answer, { issuer: issuer.did, listId: LIST, chainId: await client.chainId(), trusted });
    expect(v.record?.token).to.equal(await (await fetch(url())).text());
    expect(v.record?.types).to.deep.equal(["KYCBasic"]);
    expect(v.record?.size).to.equal(SIZE);
    // A changed token in the answer no longer matches the proven record.
    const chainId = await client.chainId();
    expect(() => verifyStatusListProof({ ...answer, token: token(list) }, { issuer: issuer.did, listId: LIST, chainId, trusted })).to.throw(ProofError, /token differs/);
    const absent = await client.rpc.call<Record<string, unknown>>("statuslist_get", { issuer: issuer.did, listId: "nope", proof: true });
    expect(verifyStatusListProof(absent, { issuer: issuer.did, listId: "nope", chainId: await client.chainId(), trusted }).record).to.equal(null);
    const plain = await registry.statusList(issuer.did, LIST);
    expect(plain.uri).to.equal(statusListUri(DEFAULT_STATUS_LIST_BASE_URI, issuer.did, LIST));
    const lists = await registry.statusLists(issuer.did);
    expect(lists.lists.map((l) => l.listId)).to.deep.equal([LIST]);
    expect(lists.lists[0]).to.not.have.property("token");
    let err: unknown;
    try {
      await registry.statusList(issuer.did, "nope");
    } catch (e) {
      err = e;
    }
    expect((err as RpcError).reason).to.equal("STATUSLIST_NOT_FOUND");
  });

  it("revocation is final on the node: a publish turning INVALID back to VALID is rejected with its code", async () => {
    setStatus(list, 42, StatusValue.INVALID);
    await registry.publishStatusList(issuer.did, issuer.key, LIST, token(list));
    const undo = list.slice();
    setStatus(undo, 42, StatusValue.VALID);
    let err: unknown;
    try {
      await registry.publishStatusList(issuer.did, issuer.key, LIST, token(undo));
    } catch (e) {
      err = e;
    }
    // Refused at admission (the same checkTx blocks run), so tx_submit answers with the typed error.
    expect(err).to.be.instanceOf(RpcError);
    expect((err as RpcError).reason).to.equal("STATUSLIST_REVOCATION_FINAL");
    expect((err as RpcError).code).to.equal(1560);
    const served = parseStatusListToken(await (await fetch(url())).text());
    expect(getStatus(tokenList(served), 42)).to.equal(StatusValue.INVALID);
  });
});
