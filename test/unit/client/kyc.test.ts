/**
 * The KYC glue without a node: the issuer's index allocation and lock, the
 * holder's request / receive / present cycle over its home, and the CLI's
 * trustee key file checks. The node-backed parts run in
 * test/integration/kyc.test.ts.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  HolderKeys,
  HolderStore,
  ISSUANCE_KIND,
  IssuerList,
  IssuerStore,
  KycError,
  KycErrorCode,
  KycStoreError,
  KycStoreErrorCode,
  StatusValue,
  issueCopies,
  makeRequest,
  presentCopy,
  readRequest,
  receiveIssuance,
  statusListUri,
} from "../../../src/client/index.js";
import { publicKeyToJwk } from "../../../src/crypto/encoding.js";
import { toHex } from "../../../src/crypto/bytes.js";
import { didFromPublicKey } from "../../../src/did/syntax.js";
import { readTrusteeKeyFile } from "../../../src/cli/gov.js";
import { CliError } from "../../../src/cli/errors.js";
import { TEST_MNEMONIC, fixedKey } from "../../helpers/fixtures.js";
import type { KeyPair } from "../../../src/crypto/hd.js";

const ISSUER_OF = (k: KeyPair) => didFromPublicKey(k.publicKey);
const ISSUER = "did:sid:2ePAhj1KMfDWmVniUhBsPV5PSHps";

describe("client/kyc-store: the issuer's index allocation", () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), "sid-kyc-store-"));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it("hands out random, distinct indices, never the same one twice, even across saves", async () => {
    const store = IssuerStore.open(home, ISSUER);
    const list = IssuerList.fresh("l1", "http://127.0.0.1:8660/status-lists/x/l1", 131_072);
    const first = list.allocate(500);
    await store.saveList(list);
    const again = await store.list("l1");
    const second = again.allocate(500);
    const all = new Set([...first, ...second]);
    expect(all.size).to.equal(1000);
    expect(again.freeCount()).to.equal(131_072 - 1000);
    for (const i of all) expect(i).to.be.within(0, 131_071);
    // Random, not sequential: the spread covers most of the list.
    expect(Math.max(...all) - Math.min(...all)).to.be.greaterThan(100_000);
    expect(again.get(first[0]!)).to.equal(StatusValue.UNISSUED, "allocation alone turns nothing VALID");
  });

  it("refuses to allocate more than the free indices (LIST_FULL) and changes nothing", () => {
    const list = IssuerList.fresh("l2", "http://127.0.0.1:8660/status-lists/x/l2", 16);
    list.allocate(10);
    expect(() => list.allocate(7)).to.throw(KycStoreError).with.property("code", KycStoreErrorCode.LIST_FULL);
    expect(list.freeCount()).to.equal(6);
  });

  it("holds one lock per issuer: a second command is refused while the first runs", async () => {
    const store = IssuerStore.open(home, ISSUER);
    await store.withLock(async () => {
      try {
        await store.withLock(async () => undefined);
        expect.fail("took the lock twice");
      } catch (err) {
        expect((err as KycStoreError).code).to.equal(KycStoreErrorCode.STORE_LOCKED);
      }
    });
    await store.withLock(async () => undefined);
  });

  it("refuses a damaged list file with STORE_CORRUPT", async () => {
    const store = IssuerStore.open(home, ISSUER);
    const list = IssuerList.fresh("l3", "u", 131_072);
    await store.saveList(list);
    const file = join(home, "kyc", "issuer", ISSUER.slice(8), "lists", "l3.json");
    writeFileSync(file, JSON.stringify({ version: 1, listId: "l3", uri: "u", size: 131_072, publishedHeight: null, statuses: "AAAA", allocated: "" }));
    try {
      await store.list("l3");
      expect.fail("read a damaged list");
    } catch (err) {
      expect((err as KycStoreError).code).to.equal(KycStoreErrorCode.STORE_CORRUPT);
    }
  });
});

describe("client/kyc: holder request and receipt", () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), "sid-kyc-holder-"));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it("a request carries one fresh key per copy; received copies must be bound to them; copies are used once", async () => {
    const keys = new HolderKeys(TEST_MNEMONIC);
    const store = HolderStore.open(home, "alice");
    const req = await makeRequest(store, keys, 3);
    const second = await makeRequest(store, keys, 1);
    const { keys: pubs } = readRequest(JSON.parse(JSON.stringify(req)));
    expect(pubs).to.have.length(3);
    expect(Buffer.from(pubs[0]!)).to.deep.equal(Buffer.from(keys.copyKey(0, 0).publicKey));
    expect(Buffer.from(readRequest(second).keys[0]!)).to.deep.equal(Buffer.from(keys.copyKey(1, 0).publicKey), "each request takes a fresh credential number");

    const issuerKey = fixedKey(0x11);
    const uri = statusListUri("http://127.0.0.1:8660", ISSUER_OF(issuerKey), "l");
    const copies = await issueCopies({
      format: "sd-jwt-vc", issuerDid: ISSUER_OF(issuerKey), issuerKid: `${ISSUER_OF(issuerKey)}#key-1`, issuerSecretKey: issuerKey.secretKey, type: "KYCBasic", claims: { age_over_18: true },
      copies: pubs.map((holderPublicKey, idx) => ({ holderPublicKey, status: { uri, idx } })),
    });
    const issuance = { kind: ISSUANCE_KIND, version: 1, requestId: req.requestId, credentialId: "ab".repeat(16), issuer: ISSUER_OF(issuerKey), credentialType: "KYCBasic", format: "sd-jwt-vc", copies };
    // Copies swapped: bound to keys, but not the ones derived for their place.
    try {
      await receiveIssuance(store, keys, { ...issuance, copies: [copies[1], copies[0], copies[2]] });
      expect.fail("accepted copies bound to the wrong keys");
    } catch (err) {
      expect((err as KycError).code).to.equal(KycErrorCode.COPY_KEY_MISMATCH);
    }
    const held = await receiveIssuance(store, keys, issuance);
    expect(held.copies).to.have.length(3);
    const seen = new Set<string>();
    for (let i = 3; i > 0; i--) {
      const r = await presentCopy(store, keys, held.id, { disclose: ["age_over_18"], audience: "a", nonce: "n" });
      expect(r.remaining).to.equal(i - 1);
      seen.add(r.presentation.split("~")[0]!);
    }
    expect(seen.size).to.equal(3, "every presentation uses another copy");
    try {
      await presentCopy(store, keys, held.id, { disclose: [], audience: "a", nonce: "n" });
      expect.fail("presented a used copy");
    } catch (err) {
      expect((err as KycStoreError).code).to.equal(KycStoreErrorCode.NO_UNUSED_COPY);
    }
  });

  it("refuses a request file with repeated or bad keys", () => {
    const jwk = publicKeyToJwk(fixedKey(0x22).publicKey);
    expect(() => readRequest({ kind: "sid-kyc-request", version: 1, requestId: "ab".repeat(16), keys: [jwk, jwk] })).to.throw(KycError);
    expect(() => readRequest({ kind: "sid-kyc-request", version: 1, requestId: "ab".repeat(16), keys: [{ kty: "EC" }] })).to.throw(KycError);
    expect(() => readRequest({ kind: "other", version: 1, requestId: "ab".repeat(16), keys: [jwk] })).to.throw(KycError);
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
