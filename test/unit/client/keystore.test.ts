import { expect } from "chai";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  DEFAULT_SCRYPT_PARAMS,
  KeystoreError,
  KeystoreErrorCode,
  type ScryptParams,
  createKeyFile,
  keyFilePath,
  listKeys,
  loadMnemonic,
  readKeyFile,
} from "../../../src/client/keystore.js";
import { CryptoError } from "../../../src/crypto/errors.js";
import { generateMnemonic } from "../../../src/crypto/hd.js";
import { didFromPublicKey } from "../../../src/did/syntax.js";
import { TEST_MNEMONIC, testKey } from "../../helpers/fixtures.js";

/** Cheap scrypt for tests (the minimum the keystore accepts); the default cost is tested once. */
const FAST: ScryptParams = { N: 2 ** 10, r: 8, p: 1 };
const PASS = "correct horse battery staple";

async function expectKeystoreError(p: Promise<unknown>, code: KeystoreErrorCode): Promise<KeystoreError> {
  try {
    await p;
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(KeystoreError);
    expect((err as KeystoreError).code).to.equal(code);
    return err as KeystoreError;
  }
  expect.fail(`expected KeystoreError ${code}`);
}

describe("client/keystore", () => {
  let home: string;

  beforeEach(async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), "sid-keystore-"));
  });
  afterEach(async () => {
    await fs.rm(home, { recursive: true, force: true });
  });

  async function mutate(name: string, edit: (kf: Record<string, any>) => void): Promise<void> {
    const file = keyFilePath(home, name);
    const kf = JSON.parse(await fs.readFile(file, "utf8"));
    edit(kf);
    await fs.writeFile(file, JSON.stringify(kf));
  }

  function flipHex(h: string, at = 0): string {
    const i = at * 2;
    const b = (parseInt(h.slice(i, i + 2), 16) ^ 0x01).toString(16).padStart(2, "0");
    return h.slice(0, i) + b + h.slice(i + 2);
  }

  it("keeps the default scrypt cost at N=2^15, r=8, p=1", () => {
    expect(DEFAULT_SCRYPT_PARAMS).to.deep.equal({ N: 32768, r: 8, p: 1 });
    expect(Object.isFrozen(DEFAULT_SCRYPT_PARAMS)).to.equal(true);
  });

  it("round-trips a mnemonic with the default cost and writes the documented format", async () => {
    const mnemonic = generateMnemonic();
    const info = await createKeyFile(home, "alice", mnemonic, PASS);
    expect(await loadMnemonic(home, "alice", PASS)).to.equal(mnemonic);
    const kf = JSON.parse(await fs.readFile(info.file, "utf8"));
    expect(Object.keys(kf).sort()).to.deep.equal(["cipher", "ciphertext", "createdAt", "did", "kdf", "name", "publicKey", "version"]);
    expect(kf.version).to.equal(1);
    expect(kf.name).to.equal("alice");
    expect(kf.kdf).to.include({ name: "scrypt", N: 32768, r: 8, p: 1 });
    expect(kf.kdf.salt).to.match(/^[0-9a-f]{32}$/);
    expect(kf.cipher.name).to.equal("aes-256-gcm");
    expect(kf.cipher.nonce).to.match(/^[0-9a-f]{24}$/);
    expect(kf.cipher.tag).to.match(/^[0-9a-f]{32}$/);
    expect(kf.ciphertext).to.match(/^[0-9a-f]+$/);
    expect(Number.isNaN(Date.parse(kf.createdAt))).to.equal(false);
  });

  it("stores the DID and public key of index 0 in clear", async () => {
    const info = await createKeyFile(home, "k", TEST_MNEMONIC, PASS, { scrypt: FAST });
    const pub = testKey(0).publicKey;
    expect(info.publicKey).to.equal(Buffer.from(pub).toString("hex"));
    expect(info.did).to.equal(didFromPublicKey(pub));
    const kf = await readKeyFile(home, "k");
    expect(kf.did).to.equal(info.did);
    expect(kf.publicKey).to.equal(info.publicKey);
  });

  it("normalizes whitespace of the stored mnemonic", async () => {
    await createKeyFile(home, "k", `  ${TEST_MNEMONIC.split(" ").join("   ")}\n`, PASS, { scrypt: FAST });
    expect(await loadMnemonic(home, "k", PASS)).to.equal(TEST_MNEMONIC);
  });

  it("uses a fresh salt and nonce for every file", async () => {
    await createKeyFile(home, "a", TEST_MNEMONIC, PASS, { scrypt: FAST });
    await createKeyFile(home, "b", TEST_MNEMONIC, PASS, { scrypt: FAST });
    const a = await readKeyFile(home, "a");
    const b = await readKeyFile(home, "b");
    expect(a.kdf.salt).to.not.equal(b.kdf.salt);
    expect(a.cipher.nonce).to.not.equal(b.cipher.nonce);
    expect(a.ciphertext).to.not.equal(b.ciphertext);
  });

  it("writes the file with mode 0600", async function () {
    if (process.platform === "win32") this.skip();
    const info = await createKeyFile(home, "k", TEST_MNEMONIC, PASS, { scrypt: FAST });
    expect((await fs.stat(info.file)).mode & 0o777).to.equal(0o600);
  });

  it("never writes the mnemonic or any of its words in clear", async () => {
    const mnemonic = generateMnemonic();
    const info = await createKeyFile(home, "k", mnemonic, PASS, { scrypt: FAST });
    const text = await fs.readFile(info.file, "utf8");
    expect(text).to.not.include(mnemonic);
    // Single words may occur by chance ("salt" is a BIP39 word); two in a row may not.
    const words = mnemonic.split(" ");
    for (let i = 0; i + 1 < words.length; i++) expect(text).to.not.include(`${words[i]} ${words[i + 1]}`);
    expect(text).to.not.include(PASS);
  });

  it("refuses a wrong passphrase with BAD_PASSPHRASE", async () => {
    await createKeyFile(home, "k", TEST_MNEMONIC, PASS, { scrypt: FAST });
    await expectKeystoreError(loadMnemonic(home, "k", "wrong"), KeystoreErrorCode.BAD_PASSPHRASE);
    await expectKeystoreError(loadMnemonic(home, "k", ""), KeystoreErrorCode.BAD_PASSPHRASE);
  });

  for (const [what, edit] of [
    ["ciphertext", (kf: Record<string, any>) => (kf.ciphertext = flipHex(kf.ciphertext, 3))],
    ["tag", (kf: Record<string, any>) => (kf.cipher.tag = flipHex(kf.cipher.tag))],
    ["nonce", (kf: Record<string, any>) => (kf.cipher.nonce = flipHex(kf.cipher.nonce))],
    ["salt", (kf: Record<string, any>) => (kf.kdf.salt = flipHex(kf.kdf.salt))],
    ["truncated ciphertext", (kf: Record<string, any>) => (kf.ciphertext = kf.ciphertext.slice(0, -2))],
  ] as const) {
    it(`treats an altered ${what} as BAD_PASSPHRASE (GCM authentication), not a crash`, async () => {
      await createKeyFile(home, "k", TEST_MNEMONIC, PASS, { scrypt: FAST });
      await mutate("k", edit);
      await expectKeystoreError(loadMnemonic(home, "k", PASS), KeystoreErrorCode.BAD_PASSPHRASE);
    });
  }

  it("binds the clear DID and public key: swapping in another key's makes the file corrupt", async () => {
    await createKeyFile(home, "k", TEST_MNEMONIC, PASS, { scrypt: FAST });
    const other = testKey(1).publicKey;
    await mutate("k", (kf) => {
      kf.publicKey = Buffer.from(other).toString("hex");
      kf.did = didFromPublicKey(other);
    });
    // The pair is consistent, so the file parses; the associated data no longer matches.
    await expectKeystoreError(loadMnemonic(home, "k", PASS), KeystoreErrorCode.BAD_PASSPHRASE);
    await mutate("k", (kf) => (kf.did = didFromPublicKey(testKey(0).publicKey)));
    await expectKeystoreError(loadMnemonic(home, "k", PASS), KeystoreErrorCode.KEY_FILE_CORRUPT);
  });

  it("reports a missing key as KEY_NOT_FOUND", async () => {
    await expectKeystoreError(loadMnemonic(home, "nobody", PASS), KeystoreErrorCode.KEY_NOT_FOUND);
  });

  it("reports corrupt files as KEY_FILE_CORRUPT", async () => {
    await createKeyFile(home, "k", TEST_MNEMONIC, PASS, { scrypt: FAST });
    const file = keyFilePath(home, "k");
    const good = await fs.readFile(file, "utf8");
    const cases: [string, string][] = [
      ["not JSON", "{nope"],
      ["empty", ""],
      ["an array", "[]"],
      ["null", "null"],
      ["other version", good.replace('"version": 1', '"version": 2')],
      ["other kdf", good.replace('"name": "scrypt"', '"name": "pbkdf2"')],
      ["other cipher", good.replace('"aes-256-gcm"', '"aes-128-cbc"')],
      ["huge scrypt cost", good.replace(/"N": \d+/, '"N": 4294967296')],
      ["N not a power of two", good.replace(/"N": \d+/, '"N": 30000')],
      ["non-hex salt", good.replace(/"salt": "[0-9a-f]+"/, '"salt": "zz"')],
      ["short nonce", good.replace(/"nonce": "[0-9a-f]+"/, '"nonce": "00"')],
      ["missing ciphertext", good.replace(/"ciphertext": "[0-9a-f]+",/, "")],
      ["bad public key", good.replace(/"publicKey": "[0-9a-f]+"/, `"publicKey": "${"00".repeat(33)}"`)],
      ["did not of the key", good.replace(/"did": "[^"]+"/, `"did": "${didFromPublicKey(testKey(1).publicKey)}"`)],
    ];
    for (const [what, text] of cases) {
      expect(text, what).to.not.equal(good);
      await fs.writeFile(file, text);
      const err = await expectKeystoreError(loadMnemonic(home, "k", PASS), KeystoreErrorCode.KEY_FILE_CORRUPT);
      expect(err.message, what).to.include(file);
    }
  });

  it("refuses a key file asking for a costlier scrypt than the keystore writes, naming the bound", async () => {
    await createKeyFile(home, "k", TEST_MNEMONIC, PASS, { scrypt: FAST });
    const file = keyFilePath(home, "k");
    const good = await fs.readFile(file, "utf8");
    const kdf = (N: number, r: number, p: number) => good.replace(/"N": \d+/, `"N": ${N}`).replace(/"r": \d+/, `"r": ${r}`).replace(/"p": \d+/, `"p": ${p}`);
    for (const [N, r, p] of [[2 ** 20, 16, 1], [2 ** 16, 8, 1], [2 ** 15, 9, 1], [2 ** 15, 8, 2], [2 ** 10, 8, 4]] as const) {
      await fs.writeFile(file, kdf(N, r, p));
      const err = await expectKeystoreError(loadMnemonic(home, "k", PASS), KeystoreErrorCode.KEY_FILE_CORRUPT);
      expect(err.message).to.include(`N=${N}, r=${r}, p=${p} refused before deriving anything`);
      expect(err.message).to.include("writes N=2^15, r=8, p=1");
    }
    // The parameters it writes are read; the salt and tag no longer match, so the key fails to authenticate, not to parse.
    await fs.writeFile(file, kdf(2 ** 15, 8, 1));
    await expectKeystoreError(loadMnemonic(home, "k", PASS), KeystoreErrorCode.BAD_PASSPHRASE);
  });

  it("refuses an oversized key file before parsing it", async () => {
    await fs.mkdir(path.join(home, "keys"), { recursive: true });
    await fs.writeFile(keyFilePath(home, "big"), " ".repeat(100_000));
    await expectKeystoreError(loadMnemonic(home, "big", PASS), KeystoreErrorCode.KEY_FILE_CORRUPT);
  });

  it("validates names: ^[A-Za-z0-9_-]{1,64}$", async () => {
    for (const good of ["a", "Alice_01", "x-y", "z".repeat(64)]) {
      await createKeyFile(home, good, TEST_MNEMONIC, PASS, { scrypt: FAST });
    }
    for (const bad of ["", "a b", "../evil", "a/b", "a.json", "é", "z".repeat(65), ".hidden"]) {
      await expectKeystoreError(createKeyFile(home, bad, TEST_MNEMONIC, PASS, { scrypt: FAST }), KeystoreErrorCode.BAD_NAME);
      await expectKeystoreError(loadMnemonic(home, bad, PASS), KeystoreErrorCode.BAD_NAME);
    }
    const files = await fs.readdir(path.join(home, "keys"));
    expect(files).to.have.length(4);
  });

  it("refuses an existing name and leaves the first file intact", async () => {
    await createKeyFile(home, "k", TEST_MNEMONIC, PASS, { scrypt: FAST });
    const before = await fs.readFile(keyFilePath(home, "k"), "utf8");
    await expectKeystoreError(createKeyFile(home, "k", generateMnemonic(), "other", { scrypt: FAST }), KeystoreErrorCode.KEY_EXISTS);
    expect(await fs.readFile(keyFilePath(home, "k"), "utf8")).to.equal(before);
    expect(await loadMnemonic(home, "k", PASS)).to.equal(TEST_MNEMONIC);
  });

  it("refuses an empty passphrase", async () => {
    await expectKeystoreError(createKeyFile(home, "k", TEST_MNEMONIC, "", { scrypt: FAST }), KeystoreErrorCode.EMPTY_PASSPHRASE);
    expect(await listKeys(home)).to.deep.equal([]);
  });

  it("refuses an invalid mnemonic with the crypto room's error", async () => {
    try {
      await createKeyFile(home, "k", "abandon abandon abandon", PASS, { scrypt: FAST });
      expect.fail("expected an error");
    } catch (err) {
      expect(err).to.be.instanceOf(CryptoError);
    }
    expect(await listKeys(home)).to.deep.equal([]);
  });

  it("refuses scrypt parameters outside the accepted range", async () => {
    for (const scrypt of [{ N: 2 ** 9, r: 8, p: 1 }, { N: 3000, r: 8, p: 1 }, { N: 2 ** 10, r: 0, p: 1 }, { N: 2 ** 21, r: 8, p: 1 }]) {
      await expectKeystoreError(createKeyFile(home, "k", TEST_MNEMONIC, PASS, { scrypt }), KeystoreErrorCode.KEY_FILE_CORRUPT);
    }
  });

  it("lists keys without a passphrase, sorted, skipping files that are not key files", async () => {
    expect(await listKeys(home)).to.deep.equal([]);
    await createKeyFile(home, "zed", TEST_MNEMONIC, PASS, { scrypt: FAST });
    await createKeyFile(home, "amy", generateMnemonic(), "other", { scrypt: FAST });
    await fs.writeFile(path.join(home, "keys", "junk.json"), "{nope");
    await fs.writeFile(path.join(home, "keys", "notes.txt"), "hello");
    const list = await listKeys(home);
    expect(list.map((k) => k.name)).to.deep.equal(["amy", "zed"]);
    expect(list[1]!.did).to.equal(didFromPublicKey(testKey(0).publicKey));
    expect(list[1]!.file).to.equal(keyFilePath(home, "zed"));
    for (const k of list) expect(k).to.not.have.property("mnemonic");
  });
});
