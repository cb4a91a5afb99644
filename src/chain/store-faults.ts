/**
 * Storage faults: errors of the disk under a store (LevelDB's IO errors and
 * corruption, a full disk, a read-only file system) as opposed to errors of
 * the caller. A node cannot go on after one: a commit that failed left the
 * chain where it was, and later writes would fail the same way. The store
 * flags the first fault and tells its listeners (the node), which stop
 * (invariant 8: a fault ends in a clear state).
 */
import { CodedError } from "../errors.js";

/** errno codes of a disk that cannot take writes (or reads). */
const FS_FAULT_CODES: ReadonlySet<string> = new Set(["ENOSPC", "EROFS", "EIO", "EDQUOT", "EFBIG", "ENXIO", "EUCLEAN"]);

/** LevelDB's codes for a failed read or write of its files (abstract-level). */
const LEVEL_FAULT_CODES: ReadonlySet<string> = new Set(["LEVEL_IO_ERROR", "LEVEL_CORRUPTION"]);

/** Texts LevelDB puts in an IO error's message (it has no errno of its own). */
const FAULT_TEXT = /No space left on device|Read-only file system|Input\/output error|Disk quota exceeded|Corruption:|IO error:/i;

export class StorageFaultError extends CodedError<"STORAGE_FAULT"> {
  constructor(
    /** What failed: "chain store", "consensus WAL", "guard state". */
    readonly source: string,
    /** The path of the store or file. */
    readonly path: string,
    /** The underlying error's code (LEVEL_IO_ERROR, ENOSPC, ...). */
    readonly causeCode: string,
    /** The underlying error's message, one line. */
    readonly causeMessage: string,
  ) {
    super("STORAGE_FAULT", `${source} ${path}: ${causeCode}: ${causeMessage}`, { source, path, cause: causeCode });
  }

  /** What the operator should do, by the kind of fault. */
  get remedy(): string {
    const m = `${this.causeCode} ${this.causeMessage}`;
    if (/ENOSPC|No space left|EDQUOT|quota/i.test(m)) return "free disk space, then restart the node (a supervisor restarts it on its own)";
    if (/EROFS|Read-only/i.test(m)) return "make the file system writable again (check the kernel log for disk errors), then restart the node";
    // A table, MANIFEST or CURRENT that LevelDB cannot read (cut short, bad checksum) is damage, whatever code it came with.
    if (/CORRUPTION|Corruption|\.ldb|\.sst|MANIFEST|CURRENT/i.test(m)) return "the data is damaged: restore it from a backup, or remove data/chain and let the node sync again (keep data/priv_validator_state.json)";
    return "check the disk (kernel log, free space, permissions), then restart the node";
  }
}

/**
 * An error for data the store holds wrong or lacks though it promised to
 * keep it (a Merkle node of a kept tree, the tx a record refers to): damage
 * to the store, which LevelDB's own code for it makes a storage fault with
 * the damaged-data remedy (StorageFaultError.remedy, so the message need
 * not say it). `cause` is the error that found it.
 */
export function damagedStoreError(message: string, cause?: unknown): Error & { code: "LEVEL_CORRUPTION" } {
  const e = new Error(message, cause === undefined ? undefined : { cause });
  return Object.assign(e, { code: "LEVEL_CORRUPTION" as const });
}

function codeOf(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : undefined;
}

/** The storage fault `e` is, or undefined for an error that is not the disk's (a missing key, a closed store, a bad argument). */
export function asStorageFault(e: unknown, source: string, path: string): StorageFaultError | undefined {
  if (e instanceof StorageFaultError) return e;
  if (!(e instanceof Error)) return undefined;
  const causes: Error[] = [e];
  const cause = (e as { cause?: unknown }).cause;
  if (cause instanceof Error) causes.push(cause);
  for (const c of causes) {
    const code = codeOf(c);
    const message = c.message.replace(/\s*[\r\n]+\s*/g, " ").trim();
    if (code !== undefined && (FS_FAULT_CODES.has(code) || LEVEL_FAULT_CODES.has(code))) return new StorageFaultError(source, path, code, message);
    if (FAULT_TEXT.test(message)) return new StorageFaultError(source, path, code ?? "IO_ERROR", message);
  }
  return undefined;
}

/** Calls listeners once, with the first fault reported; later reports are dropped (the first is the cause). */
export class FaultLatch {
  private first: StorageFaultError | undefined;
  private readonly listeners: ((f: StorageFaultError) => void)[] = [];

  get fault(): StorageFaultError | undefined {
    return this.first;
  }

  onFault(fn: (f: StorageFaultError) => void): void {
    if (this.first) fn(this.first);
    else this.listeners.push(fn);
  }

  /** Report `e` if it is a storage fault; returns it (for rethrowing) either way. */
  report(e: unknown, source: string, path: string): unknown {
    const f = asStorageFault(e, source, path);
    if (f && !this.first) {
      this.first = f;
      for (const l of this.listeners.splice(0)) l(f);
    }
    return e;
  }
}

/**
 * Wrap a LevelDB handle's reads, writes and iterators so that a storage
 * fault is reported to `latch`; the error still reaches the caller unchanged.
 */
export function guardLevel<D extends object>(db: D, latch: FaultLatch, path: string): D {
  const report = (e: unknown) => latch.report(e, "chain store", path);
  const target = db as unknown as Record<string, unknown>;
  for (const name of ["get", "getMany", "put", "del"] as const) {
    const fn = target[name];
    if (typeof fn !== "function") continue;
    const bound = (fn as (...a: unknown[]) => Promise<unknown>).bind(db);
    target[name] = (...args: unknown[]) => bound(...args).catch((e: unknown) => Promise.reject(report(e)));
  }
  for (const name of ["iterator", "keys", "values"] as const) {
    const fn = target[name];
    if (typeof fn !== "function") continue;
    const bound = (fn as (...a: unknown[]) => Record<string, unknown>).bind(db);
    target[name] = (...args: unknown[]) => guardIterator(bound(...args), report);
  }
  const batch = target.batch;
  if (typeof batch === "function") {
    const bound = (batch as (...a: unknown[]) => unknown).bind(db);
    target.batch = (...args: unknown[]) => {
      // batch(ops) writes at once and returns a promise; batch() returns a chained batch whose write() does.
      if (args.length > 0) return (bound(...args) as Promise<unknown>).catch((e: unknown) => Promise.reject(report(e)));
      const chained = bound() as Record<string, unknown>;
      const write = (chained.write as (...a: unknown[]) => Promise<unknown>).bind(chained);
      chained.write = (...a: unknown[]) => write(...a).catch((e: unknown) => Promise.reject(report(e)));
      return chained;
    };
  }
  return db;
}

/** An iterator whose reads (next, nextv, all; for-await reads through next) report a storage fault. */
function guardIterator<I extends Record<string, unknown>>(it: I, report: (e: unknown) => unknown): I {
  for (const name of ["next", "nextv", "all"] as const) {
    const fn = it[name];
    if (typeof fn !== "function") continue;
    const bound = (fn as (...a: unknown[]) => Promise<unknown>).bind(it);
    (it as Record<string, unknown>)[name] = (...args: unknown[]) => bound(...args).catch((e: unknown) => Promise.reject(report(e)));
  }
  return it;
}
