/**
 * The local state of KYC issuers and holders, in their home directory (never
 * on chain):
 *
 *   <home>/kyc/issuer/<issuer id>/lists/<listId>.json   a list: its entries as published and the indices ever handed out
 *   <home>/kyc/issuer/<issuer id>/credentials.json      credential id -> type, list, indices, status
 *   <home>/kyc/issuer/<issuer id>/lock                  held while a command changes the issuer's state
 *   <home>/kyc/holder/<key name>/state.json             the next credential number (holder key derivation)
 *   <home>/kyc/holder/<key name>/requests/<id>.json     a request sent to an issuer, awaiting its copies
 *   <home>/kyc/holder/<key name>/credentials/<id>.json  a credential's copies and which were used
 *
 * `<issuer id>` is the method-specific id of the issuer DID. Directories
 * are 0700 and files 0600 (they hold personal data); every file is written
 * to a temporary name, synced, then renamed, so a crash leaves the old or
 * the new content, never half of one. Every file read is bounded and
 * checked: a home is input like any other.
 */
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { CodedError } from "../errors.js";
import { isCredentialId } from "./credentials/contract.js";
import { LIST_ID_RE, STATUS_LIST_LIMITS, StatusValue, getStatus, setStatus, statusBytesLength, unissuedList } from "./credentials/status-token.js";
import type { CredentialFormat } from "./credentials/types.js";

export enum KycStoreErrorCode {
  /** A file of the store is unreadable, too large or not of the expected shape. */
  STORE_CORRUPT = "KYC_STORE_CORRUPT",
  /** Another command holds the issuer's lock. */
  STORE_LOCKED = "KYC_STORE_LOCKED",
  LIST_EXISTS = "KYC_LIST_EXISTS",
  LIST_NOT_FOUND = "KYC_LIST_NOT_FOUND",
  /** The list has fewer free indices than the copies asked for. */
  LIST_FULL = "KYC_LIST_FULL",
  CREDENTIAL_NOT_FOUND = "KYC_CREDENTIAL_NOT_FOUND",
  REQUEST_NOT_FOUND = "KYC_REQUEST_NOT_FOUND",
  /** The holder has no unused copy of the credential left. */
  NO_UNUSED_COPY = "KYC_NO_UNUSED_COPY",
}

export class KycStoreError extends CodedError<KycStoreErrorCode> {}

/** A list file is 1.5 x (packed bytes + allocation bitmap) in base64 plus a few fields. */
const MAX_LIST_FILE_BYTES = 4 * statusBytesLength(STATUS_LIST_LIMITS.maxSize) + 4096;
/** Credential index files grow with the issuer; 256 MiB is far above any honest one. */
const MAX_INDEX_FILE_BYTES = 256 * 1024 * 1024;
/** A holder's credential file holds at most MAX_COPIES copies of at most 64 KiB. */
const MAX_HOLDER_FILE_BYTES = 80 * 1024 * 1024;
const MAX_SMALL_FILE_BYTES = 1024 * 1024;

const corrupt = (file: string, why: string): never => {
  throw new KycStoreError(KycStoreErrorCode.STORE_CORRUPT, `${file}: ${why}`, { file });
};

async function readJson(file: string, maxBytes: number): Promise<unknown | undefined> {
  let text: string;
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) corrupt(file, "not a regular file");
    if (st.size > maxBytes) corrupt(file, `${st.size} bytes, more than ${maxBytes}`);
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    return corrupt(file, `not JSON: ${(err as Error).message}`);
  }
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  const handle = await fs.open(tmp, "wx", 0o600);
  try {
    await handle.writeFile(JSON.stringify(value) + "\n", "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function issuerDir(home: string, issuerDid: string): string {
  const id = issuerDid.slice(issuerDid.lastIndexOf(":") + 1);
  if (!/^[1-9A-HJ-NP-Za-km-z]{1,64}$/.test(id)) throw new KycStoreError(KycStoreErrorCode.STORE_CORRUPT, `not a did:sid issuer: ${issuerDid}`);
  return path.join(home, "kyc", "issuer", id);
}

// ---------------------------------------------------------------------------
// issuer

/** One of the issuer's status lists: the entries as the issuer last published (or is about to publish) them. */
export class IssuerList {
  constructor(
    readonly listId: string,
    readonly uri: string,
    readonly size: number,
    /** Packed 2-bit entries. */
    readonly statuses: Uint8Array,
    /** One bit per index: set once the index was handed to a copy (or reserved for one), never cleared. */
    readonly allocated: Uint8Array,
    /** Height of the last publish the chain committed, or null before the first. */
    public publishedHeight: number | null,
  ) {}

  static fresh(listId: string, uri: string, size: number): IssuerList {
    return new IssuerList(listId, uri, size, unissuedList(size), new Uint8Array(Math.ceil(size / 8)), null);
  }

  isAllocated(i: number): boolean {
    return (this.allocated[i >> 3]! & (1 << (i & 7))) !== 0;
  }

  freeCount(): number {
    let used = 0;
    for (const b of this.allocated) {
      let x = b;
      while (x) {
        used += x & 1;
        x >>= 1;
      }
    }
    return this.size - used;
  }

  /**
   * Rule (index allocation): `count` distinct indices drawn uniformly at
   * random among those never handed out, so an index says nothing about
   * when or to whom a copy was issued, and no index is ever reused (not
   * even one whose publish failed).
   */
  allocate(count: number): number[] {
    if (this.freeCount() < count) {
      throw new KycStoreError(KycStoreErrorCode.LIST_FULL, `list ${this.listId} has ${this.freeCount()} free indices, ${count} asked; create another list`);
    }
    const out: number[] = [];
    const buf = new Uint32Array(1);
    while (out.length < count) {
      crypto.getRandomValues(buf);
      // Rejection sampling: no modulo bias.
      const limit = Math.floor(0x1_0000_0000 / this.size) * this.size;
      if (buf[0]! >= limit) continue;
      const i = buf[0]! % this.size;
      if (this.isAllocated(i)) continue;
      this.allocated[i >> 3] = this.allocated[i >> 3]! | (1 << (i & 7));
      out.push(i);
    }
    return out;
  }

  get(i: number): StatusValue {
    return getStatus(this.statuses, i);
  }

  set(i: number, v: StatusValue): void {
    setStatus(this.statuses, i, v);
  }

  toJson(issuer: string): Record<string, unknown> {
    return {
      version: 1,
      issuer,
      listId: this.listId,
      uri: this.uri,
      size: this.size,
      publishedHeight: this.publishedHeight,
      statuses: Buffer.from(this.statuses).toString("base64"),
      allocated: Buffer.from(this.allocated).toString("base64"),
    };
  }

  static fromJson(v: unknown, file: string): IssuerList {
    if (!isObject(v) || v.version !== 1) return corrupt(file, "not a list file of version 1");
    const { listId, uri, size, publishedHeight, statuses, allocated } = v;
    if (typeof listId !== "string" || !LIST_ID_RE.test(listId) || typeof uri !== "string") return corrupt(file, "bad listId or uri");
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 1 || size > STATUS_LIST_LIMITS.maxSize) return corrupt(file, "bad size");
    if (publishedHeight !== null && !(typeof publishedHeight === "number" && Number.isSafeInteger(publishedHeight))) return corrupt(file, "bad publishedHeight");
    if (typeof statuses !== "string" || typeof allocated !== "string") return corrupt(file, "bad statuses or allocated");
    const s = new Uint8Array(Buffer.from(statuses, "base64"));
    const a = new Uint8Array(Buffer.from(allocated, "base64"));
    if (s.length !== statusBytesLength(size) || a.length !== Math.ceil(size / 8)) return corrupt(file, "statuses or allocated of the wrong length");
    return new IssuerList(listId, uri, size, s, a, publishedHeight);
  }
}

export type IssuedStatus = "valid" | "suspended" | "revoked";

/** What the issuer remembers of one credential: enough to flip every copy, nothing of the holder. */
export interface IssuedCredentialRecord {
  id: string;
  type: string;
  format: CredentialFormat;
  listId: string;
  /** The index of every copy. */
  indices: number[];
  status: IssuedStatus;
  /** RFC 3339 time of issuance (local clock). */
  issued: string;
  /** The issuer's own note (e.g. its case number); never leaves the issuer's home. */
  label?: string;
}

/** The issuer's home state for one issuer DID. Open it with `IssuerStore.open`, change it under `withLock`. */
export class IssuerStore {
  private constructor(
    readonly dir: string,
    readonly issuerDid: string,
  ) {}

  static open(home: string, issuerDid: string): IssuerStore {
    return new IssuerStore(issuerDir(home, issuerDid), issuerDid);
  }

  private listFile(listId: string): string {
    if (!LIST_ID_RE.test(listId)) throw new KycStoreError(KycStoreErrorCode.LIST_NOT_FOUND, `not a list id: ${JSON.stringify(listId.slice(0, 80))}`);
    return path.join(this.dir, "lists", `${listId}.json`);
  }

  /**
   * Run `fn` holding the issuer's lock, so two commands never allocate the
   * same index or publish over each other. A lock left by a crashed command
   * is reported, not broken: the operator checks and removes it.
   */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const lock = path.join(this.dir, "lock");
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(lock, "wx", 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") {
        throw new KycStoreError(KycStoreErrorCode.STORE_LOCKED, `${lock} exists: another command is changing this issuer's state (if none is, remove the file)`);
      }
      throw err;
    }
    await handle.writeFile(`${process.pid}\n`);
    await handle.close();
    try {
      return await fn();
    } finally {
      await fs.rm(lock, { force: true });
    }
  }

  async hasList(listId: string): Promise<boolean> {
    return (await readJson(this.listFile(listId), MAX_LIST_FILE_BYTES)) !== undefined;
  }

  async list(listId: string): Promise<IssuerList> {
    const file = this.listFile(listId);
    const v = await readJson(file, MAX_LIST_FILE_BYTES);
    if (v === undefined) throw new KycStoreError(KycStoreErrorCode.LIST_NOT_FOUND, `no list ${listId} in ${path.dirname(file)} (create one: sid kyc list-create)`);
    return IssuerList.fromJson(v, file);
  }

  async saveList(list: IssuerList): Promise<void> {
    await writeJsonAtomic(this.listFile(list.listId), list.toJson(this.issuerDid));
  }

  async listIds(): Promise<string[]> {
    try {
      return (await fs.readdir(path.join(this.dir, "lists")))
        .filter((f) => f.endsWith(".json"))
        .map((f) => f.slice(0, -5))
        .filter((id) => LIST_ID_RE.test(id))
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
  }

  async credentials(): Promise<Map<string, IssuedCredentialRecord>> {
    const file = path.join(this.dir, "credentials.json");
    const v = await readJson(file, MAX_INDEX_FILE_BYTES);
    const out = new Map<string, IssuedCredentialRecord>();
    if (v === undefined) return out;
    if (!isObject(v) || v.version !== 1 || !isObject(v.credentials)) return corrupt(file, "not a credentials file of version 1");
    for (const [id, r] of Object.entries(v.credentials)) {
      if (!isCredentialId(id) || !isObject(r) || !Array.isArray(r.indices) || typeof r.listId !== "string" || typeof r.type !== "string") {
        return corrupt(file, `bad record ${id.slice(0, 40)}`);
      }
      out.set(id, r as unknown as IssuedCredentialRecord);
    }
    return out;
  }

  async saveCredentials(records: Map<string, IssuedCredentialRecord>): Promise<void> {
    await writeJsonAtomic(path.join(this.dir, "credentials.json"), { version: 1, credentials: Object.fromEntries(records) });
  }

  async credential(id: string): Promise<IssuedCredentialRecord> {
    const r = (await this.credentials()).get(id);
    if (!r) throw new KycStoreError(KycStoreErrorCode.CREDENTIAL_NOT_FOUND, `this issuer's home has no credential ${id}`);
    return r;
  }
}

// ---------------------------------------------------------------------------
// holder

export interface HolderCopy {
  /** Place in the batch: the copy key is at holderKeyPath(credentialN, copyN). */
  copyN: number;
  credential: string;
  used: boolean;
}

export interface HolderCredential {
  id: string;
  issuer: string;
  type: string;
  format: CredentialFormat;
  /** The holder's derivation number for this credential's copy keys (SD-JWT VC). */
  credentialN: number | null;
  received: string;
  copies: HolderCopy[];
}

export interface HolderRequest {
  requestId: string;
  credentialN: number;
  copies: number;
  created: string;
}

/** The holder's home state for one stored key (its mnemonic derives the copy keys). */
export class HolderStore {
  private constructor(readonly dir: string) {}

  static open(home: string, keyName: string): HolderStore {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(keyName)) throw new KycStoreError(KycStoreErrorCode.STORE_CORRUPT, `not a key name: ${JSON.stringify(String(keyName).slice(0, 80))}`);
    return new HolderStore(path.join(home, "kyc", "holder", keyName));
  }

  /** A fresh credential number (never handed out twice, so no two credentials share a copy key). */
  async nextCredentialN(): Promise<number> {
    const file = path.join(this.dir, "state.json");
    const v = await readJson(file, MAX_SMALL_FILE_BYTES);
    let next = 0;
    if (v !== undefined) {
      if (!isObject(v) || typeof v.nextCredential !== "number" || !Number.isSafeInteger(v.nextCredential) || v.nextCredential < 0) {
        return corrupt(file, "bad nextCredential");
      }
      next = v.nextCredential;
    }
    await writeJsonAtomic(file, { version: 1, nextCredential: next + 1 });
    return next;
  }

  async saveRequest(r: HolderRequest): Promise<void> {
    await writeJsonAtomic(path.join(this.dir, "requests", `${r.requestId}.json`), r);
  }

  async request(requestId: string): Promise<HolderRequest> {
    if (!/^[0-9a-f]{32}$/.test(requestId)) throw new KycStoreError(KycStoreErrorCode.REQUEST_NOT_FOUND, "not a request id");
    const file = path.join(this.dir, "requests", `${requestId}.json`);
    const v = await readJson(file, MAX_SMALL_FILE_BYTES);
    if (v === undefined) throw new KycStoreError(KycStoreErrorCode.REQUEST_NOT_FOUND, `no pending request ${requestId} for this key`);
    if (!isObject(v) || typeof v.credentialN !== "number" || typeof v.copies !== "number") return corrupt(file, "bad request");
    return v as unknown as HolderRequest;
  }

  async dropRequest(requestId: string): Promise<void> {
    await fs.rm(path.join(this.dir, "requests", `${requestId}.json`), { force: true });
  }

  private credentialFile(id: string): string {
    if (!isCredentialId(id)) throw new KycStoreError(KycStoreErrorCode.CREDENTIAL_NOT_FOUND, `not a credential id: ${JSON.stringify(String(id).slice(0, 80))}`);
    return path.join(this.dir, "credentials", `${id}.json`);
  }

  async saveCredential(c: HolderCredential): Promise<void> {
    await writeJsonAtomic(this.credentialFile(c.id), c);
  }

  async credential(id: string): Promise<HolderCredential> {
    const file = this.credentialFile(id);
    const v = await readJson(file, MAX_HOLDER_FILE_BYTES);
    if (v === undefined) throw new KycStoreError(KycStoreErrorCode.CREDENTIAL_NOT_FOUND, `no credential ${id} for this key (see: sid kyc credentials)`);
    if (!isObject(v) || !Array.isArray(v.copies) || typeof v.type !== "string" || typeof v.issuer !== "string") return corrupt(file, "bad credential file");
    return v as unknown as HolderCredential;
  }

  async credentialIds(): Promise<string[]> {
    try {
      return (await fs.readdir(path.join(this.dir, "credentials")))
        .filter((f) => f.endsWith(".json"))
        .map((f) => f.slice(0, -5))
        .filter(isCredentialId)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
  }

  /**
   * Take an unused copy of credential `id` and mark it used before it is
   * shown (a copy is shown at most once, even if the presentation then
   * fails). Returns the copy and how many unused copies remain.
   */
  async takeUnusedCopy(id: string): Promise<{ credential: HolderCredential; copy: HolderCopy; remaining: number }> {
    const c = await this.credential(id);
    const copy = c.copies.find((x) => !x.used);
    if (!copy) throw new KycStoreError(KycStoreErrorCode.NO_UNUSED_COPY, `every copy of credential ${id} was used; ask the issuer for new copies (sid kyc request)`);
    copy.used = true;
    await this.saveCredential(c);
    return { credential: c, copy, remaining: c.copies.filter((x) => !x.used).length };
  }
}
