/**
 * The encrypted keystore: one file per key, `<home>/keys/<name>.json`, mode
 * 0600, holding a BIP39 mnemonic encrypted at rest.
 *
 *   key   = scrypt(passphrase, salt, N, r, p) -> 32 bytes   (random 16-byte salt)
 *   box   = AES-256-GCM(key, nonce, mnemonic, aad)          (random 12-byte nonce)
 *   aad   = "sid-keystore-v1|" + did + "|" + publicKey
 *
 * The DID and public key of index 0 stay in clear so listing keys needs no
 * passphrase; binding them as GCM associated data means a file whose clear
 * DID was altered no longer decrypts, so `keys list` cannot be made to lie
 * about which DID a key signs for without `loadMnemonic` noticing.
 *
 * A key file is untrusted input (DESIGN.md invariant 6): its size, its shape
 * and its scrypt cost are bounded before any work is done.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from "node:crypto";
import { promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { bytesEqual, fromHex, toHex } from "../crypto/bytes.js";
import { deriveKey, validateMnemonic } from "../crypto/hd.js";
import { didFromPublicKey } from "../did/syntax.js";
import { CodedError } from "../errors.js";

export enum KeystoreErrorCode {
  BAD_NAME = "BAD_NAME",
  EMPTY_PASSPHRASE = "EMPTY_PASSPHRASE",
  KEY_EXISTS = "KEY_EXISTS",
  KEY_NOT_FOUND = "KEY_NOT_FOUND",
  KEY_FILE_CORRUPT = "KEY_FILE_CORRUPT",
  BAD_PASSPHRASE = "BAD_PASSPHRASE",
}

export class KeystoreError extends CodedError<KeystoreErrorCode> {}

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/**
 * N=2^15, r=8, p=1: the interactive-login cost of the scrypt paper and of
 * OWASP's scrypt guidance (32 MiB, ~0.1 s), paid once per command that signs.
 */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

/**
 * Bounds on the cost a key file may ask for. The upper bounds are the
 * parameters this keystore writes: a file asking for more was not written
 * by us, and reading it must not cost more than reading one of ours (a
 * tampered file could otherwise demand N=2^20, r=16: seconds of CPU and
 * 2 GiB). The lower bound keeps a file from being made cheap to attack.
 */
const SCRYPT_LIMITS = Object.freeze({ minLogN: 10, maxLogN: Math.log2(DEFAULT_SCRYPT_PARAMS.N), maxR: DEFAULT_SCRYPT_PARAMS.r, maxP: DEFAULT_SCRYPT_PARAMS.p });

export const KEYSTORE_VERSION = 1;
export const KEY_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** A key file is under 1 KiB; anything much bigger is not one of ours. */
const MAX_KEY_FILE_BYTES = 64 * 1024;
const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export interface KeyFile {
  version: 1;
  name: string;
  kdf: { name: "scrypt"; N: number; r: number; p: number; salt: string };
  cipher: { name: "aes-256-gcm"; nonce: string; tag: string };
  ciphertext: string;
  did: string;
  publicKey: string;
  createdAt: string;
}

/** What `listKeys` shows: no secrets. */
export interface KeyInfo {
  name: string;
  did: string;
  publicKey: string;
  createdAt: string;
  file: string;
}

export interface CreateKeyOptions {
  /** Only for tests: a cheaper scrypt cost. */
  scrypt?: ScryptParams;
}

export function keysDir(home: string): string {
  return path.join(home, "keys");
}

export function keyFilePath(home: string, name: string): string {
  assertKeyName(name);
  return path.join(keysDir(home), `${name}.json`);
}

export function assertKeyName(name: unknown): asserts name is string {
  if (typeof name !== "string" || !KEY_NAME_RE.test(name)) {
    throw new KeystoreError(
      KeystoreErrorCode.BAD_NAME,
      `key name must be 1-64 characters of letters, digits, "_" or "-", got ${JSON.stringify(String(name).slice(0, 80))}`,
    );
  }
}

/** True if a key file of that name exists (the name is validated first). */
export async function keyExists(home: string, name: string): Promise<boolean> {
  try {
    await fs.access(keyFilePath(home, name));
    return true;
  } catch (err) {
    if (err instanceof KeystoreError) throw err;
    return false;
  }
}

/**
 * Encrypt `mnemonic` under `passphrase` into `<home>/keys/<name>.json` (mode 0600).
 * Refuses a bad name, an existing name, an empty passphrase and an invalid mnemonic.
 */
export async function createKeyFile(
  home: string,
  name: string,
  mnemonic: string,
  passphrase: string,
  opts: CreateKeyOptions = {},
): Promise<KeyInfo> {
  const file = keyFilePath(home, name);
  if (typeof passphrase !== "string" || passphrase.length === 0) {
    throw new KeystoreError(KeystoreErrorCode.EMPTY_PASSPHRASE, "the passphrase must not be empty");
  }
  validateMnemonic(mnemonic);
  const words = normalizeMnemonic(mnemonic);
  const params = opts.scrypt ?? DEFAULT_SCRYPT_PARAMS;
  checkScryptParams(params);

  const publicKey = deriveKey(words, 0).publicKey;
  const did = didFromPublicKey(publicKey);
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const key = await scrypt(passphrase, salt, params);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(did, toHex(publicKey)));
  const ciphertext = Buffer.concat([cipher.update(words, "utf8"), cipher.final()]);
  key.fill(0);

  const content: KeyFile = {
    version: KEYSTORE_VERSION,
    name,
    kdf: { name: "scrypt", N: params.N, r: params.r, p: params.p, salt: salt.toString("hex") },
    cipher: { name: "aes-256-gcm", nonce: nonce.toString("hex"), tag: cipher.getAuthTag().toString("hex") },
    ciphertext: ciphertext.toString("hex"),
    did,
    publicKey: toHex(publicKey),
    createdAt: new Date().toISOString(),
  };

  await fs.mkdir(keysDir(home), { recursive: true, mode: 0o700 });
  let handle: FileHandle;
  try {
    // "wx": fail if the file exists, so two concurrent `keys new` cannot overwrite each other.
    handle = await fs.open(file, "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new KeystoreError(KeystoreErrorCode.KEY_EXISTS, `a key named "${name}" already exists (${file})`);
    }
    throw err;
  }
  try {
    await handle.chmod(0o600); // in case a umask or filesystem widened it
    await handle.writeFile(JSON.stringify(content, null, 2) + "\n", "utf8");
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.rm(file, { force: true });
    throw err;
  }
  await handle.close();
  return { name, did, publicKey: content.publicKey, createdAt: content.createdAt, file };
}

/** Read and check the clear part of a key file (no passphrase needed). */
export async function readKeyFile(home: string, name: string): Promise<KeyFile> {
  const file = keyFilePath(home, name);
  let text: string;
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new KeystoreError(KeystoreErrorCode.KEY_FILE_CORRUPT, `key file ${file} is not a regular file`);
    if (st.size > MAX_KEY_FILE_BYTES) {
      throw new KeystoreError(KeystoreErrorCode.KEY_FILE_CORRUPT, `key file ${file} is ${st.size} bytes, larger than ${MAX_KEY_FILE_BYTES}`);
    }
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if (err instanceof KeystoreError) throw err;
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new KeystoreError(KeystoreErrorCode.KEY_NOT_FOUND, `no key named "${name}" (looked for ${file})`);
    }
    throw new KeystoreError(KeystoreErrorCode.KEY_FILE_CORRUPT, `cannot read key file ${file}: ${(err as Error).message}`);
  }
  return parseKeyFile(text, file);
}

/** Decrypt the mnemonic of key `name`. A wrong passphrase or an altered file gives BAD_PASSPHRASE. */
export async function loadMnemonic(home: string, name: string, passphrase: string): Promise<string> {
  const kf = await readKeyFile(home, name);
  const key = await scrypt(passphrase ?? "", Buffer.from(kf.kdf.salt, "hex"), kf.kdf);
  let words: string;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(kf.cipher.nonce, "hex"), { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(kf.did, kf.publicKey));
    decipher.setAuthTag(Buffer.from(kf.cipher.tag, "hex"));
    words = Buffer.concat([decipher.update(Buffer.from(kf.ciphertext, "hex")), decipher.final()]).toString("utf8");
  } catch {
    // GCM cannot tell a wrong key from altered bytes: both fail authentication.
    throw new KeystoreError(KeystoreErrorCode.BAD_PASSPHRASE, `wrong passphrase for key "${name}" (or its key file was altered)`);
  } finally {
    key.fill(0);
  }
  // Authenticated, so this only fails for a file we did not write; check anyway before signing with it.
  let derived: Uint8Array;
  try {
    derived = deriveKey(words, 0).publicKey;
  } catch {
    throw new KeystoreError(KeystoreErrorCode.KEY_FILE_CORRUPT, `key "${name}" does not hold a valid mnemonic`);
  }
  if (!bytesEqual(derived, fromHex(kf.publicKey))) {
    throw new KeystoreError(KeystoreErrorCode.KEY_FILE_CORRUPT, `key "${name}": the mnemonic does not match the stored public key`);
  }
  return words;
}

/** Every key in `<home>/keys`, sorted by name. Files that are not valid key files are skipped. */
export async function listKeys(home: string): Promise<KeyInfo[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(keysDir(home));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const out: KeyInfo[] = [];
  for (const entry of entries.sort()) {
    if (!entry.endsWith(".json")) continue;
    const name = entry.slice(0, -".json".length);
    if (!KEY_NAME_RE.test(name)) continue;
    try {
      const kf = await readKeyFile(home, name);
      out.push({ name, did: kf.did, publicKey: kf.publicKey, createdAt: kf.createdAt, file: keyFilePath(home, name) });
    } catch (err) {
      if (!(err instanceof KeystoreError)) throw err;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------

function normalizeMnemonic(mnemonic: string): string {
  return mnemonic.trim().split(/\s+/).join(" ");
}

function associatedData(did: string, publicKeyHex: string): Buffer {
  return Buffer.from(`sid-keystore-v${KEYSTORE_VERSION}|${did}|${publicKeyHex}`, "utf8");
}

function checkScryptParams(p: ScryptParams): void {
  const logN = Math.log2(p.N);
  const ok =
    Number.isInteger(logN) &&
    logN >= SCRYPT_LIMITS.minLogN &&
    logN <= SCRYPT_LIMITS.maxLogN &&
    Number.isInteger(p.r) &&
    p.r >= 1 &&
    p.r <= SCRYPT_LIMITS.maxR &&
    Number.isInteger(p.p) &&
    p.p >= 1 &&
    p.p <= SCRYPT_LIMITS.maxP;
  if (!ok) {
    throw new KeystoreError(
      KeystoreErrorCode.KEY_FILE_CORRUPT,
      `scrypt parameters N=${p.N}, r=${p.r}, p=${p.p} refused before deriving anything: N must be a power of two from 2^${SCRYPT_LIMITS.minLogN} to 2^${SCRYPT_LIMITS.maxLogN}, r 1..${SCRYPT_LIMITS.maxR}, p 1..${SCRYPT_LIMITS.maxP} (this keystore writes N=2^${SCRYPT_LIMITS.maxLogN}, r=${SCRYPT_LIMITS.maxR}, p=${SCRYPT_LIMITS.maxP} and reads nothing costlier)`,
    );
  }
}

function scrypt(passphrase: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // Node refuses when 128*N*r*p reaches maxmem (32 MiB by default, exactly the default cost): give headroom.
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r * params.p + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCb(passphrase.normalize("NFKC"), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

function parseKeyFile(text: string, file: string): KeyFile {
  const corrupt = (why: string): never => {
    throw new KeystoreError(KeystoreErrorCode.KEY_FILE_CORRUPT, `key file ${file} is corrupt: ${why}`);
  };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return corrupt("not valid JSON");
  }
  const obj = (x: unknown, what: string): Record<string, unknown> =>
    typeof x === "object" && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : corrupt(`${what} is not an object`);
  const hex = (x: unknown, what: string, bytes?: number): string => {
    if (typeof x !== "string" || !HEX_RE.test(x)) return corrupt(`${what} is not lower-case hex`);
    if (bytes !== undefined && x.length !== bytes * 2) return corrupt(`${what} must be ${bytes} bytes`);
    return x;
  };
  const str = (x: unknown, what: string): string => (typeof x === "string" ? x : corrupt(`${what} is not a string`));
  const int = (x: unknown, what: string): number => (Number.isSafeInteger(x) ? (x as number) : corrupt(`${what} is not an integer`));

  const root = obj(v, "the file");
  if (root.version !== KEYSTORE_VERSION) corrupt(`unsupported version ${JSON.stringify(root.version)}`);
  const kdf = obj(root.kdf, "kdf");
  if (kdf.name !== "scrypt") corrupt(`unsupported kdf ${JSON.stringify(kdf.name)}`);
  const cipher = obj(root.cipher, "cipher");
  if (cipher.name !== "aes-256-gcm") corrupt(`unsupported cipher ${JSON.stringify(cipher.name)}`);
  const params = { N: int(kdf.N, "kdf.N"), r: int(kdf.r, "kdf.r"), p: int(kdf.p, "kdf.p") };
  try {
    checkScryptParams(params);
  } catch (err) {
    corrupt((err as Error).message);
  }
  const kf: KeyFile = {
    version: KEYSTORE_VERSION,
    name: str(root.name, "name"),
    kdf: { name: "scrypt", ...params, salt: hex(kdf.salt, "kdf.salt", SALT_BYTES) },
    cipher: { name: "aes-256-gcm", nonce: hex(cipher.nonce, "cipher.nonce", NONCE_BYTES), tag: hex(cipher.tag, "cipher.tag", TAG_BYTES) },
    ciphertext: hex(root.ciphertext, "ciphertext"),
    did: str(root.did, "did"),
    publicKey: hex(root.publicKey, "publicKey", 33),
    createdAt: str(root.createdAt, "createdAt"),
  };
  if (kf.ciphertext.length === 0) corrupt("ciphertext is empty");
  let did: string | undefined;
  try {
    did = didFromPublicKey(fromHex(kf.publicKey));
  } catch {
    corrupt("publicKey is not a compressed secp256k1 key");
  }
  if (did !== kf.did) corrupt("did does not derive from publicKey");
  return kf;
}
