/**
 * The consensus write-ahead log: every input the state machine handles is
 * appended before it is handled, and every message this validator signs is
 * appended and synced before it leaves the node. After a crash, replaying
 * the records of the height in progress through a fresh machine restores its
 * round state, lock included, so the validator neither forgets a lock nor
 * signs against its own earlier votes.
 *
 * File format: a sequence of frames
 *
 *     [u32 BE length][u32 BE crc32][payload: length bytes]
 *
 * with crc32 (zlib's, the IEEE polynomial) over the length bytes and the
 * payload, so a damaged length is caught too. The payload's first byte is the
 * frame kind: RECORD (the rest is the caller's opaque record) or END_HEIGHT
 * (the rest is the height as u64 BE), written when a height is committed.
 * replay() returns the records after the last END_HEIGHT frame.
 *
 * Damage on open: a crash can tear the last frame (cut short, or its tail
 * never reached the disk and reads as zeros). A bad frame that reaches the
 * end of the file, or is followed by zeros only, is such a torn tail and is
 * cut off; nothing in it was synced, so nothing in it was sent. A bad frame
 * with other data after it is damage in the middle of the log: that is
 * refused with WAL_CORRUPT, because silently dropping records there could
 * forget a lock. (Media damage to a length field that makes a middle frame
 * claim to run past the end of the file cannot be told from a torn write by
 * the frame alone and is treated as one; disks that flip bits are outside
 * the fault model.)
 *
 * Growth: at an end-of-height marker, once the file passes rotateBytes, it is
 * replaced (temp file, fsync, rename, directory fsync) by one holding only
 * that marker, which replays identically.
 */
import { crc32 } from "node:zlib";
import { type FileHandle, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { ConsensusError, ConsensusErrorCode } from "./errors.js";
import { type WalOptions, walOptions } from "./options.js";

const FRAME_HEADER = 8;
/** Frame kinds: the first payload byte. */
const RECORD = 1;
const END_HEIGHT = 2;

export interface WalReplay {
  /** Height of the last end-of-height marker, or null if none was written. */
  lastEndHeight: number | null;
  /** Records appended after that marker, oldest first: the inputs of the height in progress. */
  records: Uint8Array[];
}

interface ScanResult {
  lastEndHeight: number | null;
  records: Uint8Array[];
  /** Length of the valid prefix. */
  validLength: number;
}

function frame(kind: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER + 1 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length + 1);
  out[FRAME_HEADER] = kind;
  out.set(body, FRAME_HEADER + 1);
  view.setUint32(4, frameCrc(out.subarray(0, 4), out.subarray(FRAME_HEADER)));
  return out;
}

function frameCrc(lengthBytes: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(lengthBytes));
}

function heightBody(height: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(height));
  return b;
}

function allZero(buf: Uint8Array, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Walk the frames of `buf`. Returns the records after the last end marker
 * and the length of the valid prefix; throws WAL_CORRUPT for damage that is
 * not a torn tail.
 */
function scan(buf: Uint8Array, maxRecordBytes: number, path: string): ScanResult {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  let lastEndHeight: number | null = null;
  let records: Uint8Array[] = [];
  while (pos < buf.length) {
    const problem = ((): string | null => {
      if (buf.length - pos < FRAME_HEADER) return "truncated frame header";
      const len = view.getUint32(pos);
      if (len === 0 || len > maxRecordBytes + 1) return `frame length ${len} out of range`;
      if (pos + FRAME_HEADER + len > buf.length) return "frame runs past the end of the file";
      const payload = buf.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + len);
      if (frameCrc(buf.subarray(pos, pos + 4), payload) !== view.getUint32(pos + 4)) return "checksum mismatch";
      return null;
    })();
    if (problem !== null) {
      const len = buf.length - pos >= 4 ? view.getUint32(pos) : 0;
      const claimedEnd = pos + FRAME_HEADER + len;
      if (buf.length - pos < FRAME_HEADER || claimedEnd >= buf.length || allZero(buf, pos)) break; // torn tail
      throw new ConsensusError(ConsensusErrorCode.WAL_CORRUPT, `${path}: ${problem} at offset ${pos}, with data after it; refusing to replay`, {
        path,
        offset: pos,
      });
    }
    const len = view.getUint32(pos);
    const kind = buf[pos + FRAME_HEADER];
    const body = buf.subarray(pos + FRAME_HEADER + 1, pos + FRAME_HEADER + len);
    if (kind === RECORD) {
      records.push(body.slice());
    } else if (kind === END_HEIGHT && body.length === 8) {
      const h = new DataView(body.buffer, body.byteOffset, 8).getBigUint64(0);
      if (h > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConsensusError(ConsensusErrorCode.WAL_CORRUPT, `${path}: end-height marker out of range at offset ${pos}`, { path, offset: pos });
      lastEndHeight = Number(h);
      records = [];
    } else {
      // The checksum holds, so this was written as is: by another version, or by a bug.
      throw new ConsensusError(ConsensusErrorCode.WAL_CORRUPT, `${path}: unknown frame kind ${kind} at offset ${pos}`, { path, offset: pos });
    }
    pos += FRAME_HEADER + len;
  }
  return { lastEndHeight, records, validLength: pos };
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

export class ConsensusWal {
  private queue: Promise<unknown> = Promise.resolve();
  private failed: Error | undefined;
  private closed = false;
  /** Told of the first failed write (a full or read-only disk): the log refuses use from then on, so the node must act. */
  onWriteFailure: ((e: Error) => void) | undefined;

  private constructor(
    readonly path: string,
    private readonly options: WalOptions,
    private fh: FileHandle,
    private size: number,
    /** Bytes of torn tail cut off when the log was opened (for the node's log). */
    readonly truncatedBytes: number,
  ) {}

  /** Open (or create) the log, cutting off a torn tail; throws WAL_CORRUPT for damage in the middle. */
  static async open(path: string, over: Partial<WalOptions> = {}): Promise<ConsensusWal> {
    const options = walOptions(over);
    await mkdir(dirname(path), { recursive: true });
    // A rotation that crashed before its rename leaves a temp file; the log itself is intact.
    await rm(rotationTemp(path), { force: true });
    let buf: Uint8Array;
    try {
      buf = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      buf = new Uint8Array(0);
    }
    const { validLength } = scan(buf, options.maxRecordBytes, path);
    const fh = await open(path, "a", 0o600);
    try {
      if (validLength < buf.length) {
        await fh.truncate(validLength);
        await fh.sync();
      }
    } catch (e) {
      await fh.close();
      throw e;
    }
    return new ConsensusWal(path, options, fh, validLength, buf.length - validLength);
  }

  /** Current size of the log in bytes. */
  get bytes(): number {
    return this.size;
  }

  /**
   * Append one opaque record. With `sync`, the promise resolves only after
   * fdatasync: use it for what this validator signed, before it is sent
   * (invariant 4). Appends are written in call order.
   */
  append(record: Uint8Array, opts: { sync?: boolean } = {}): Promise<void> {
    if (!(record instanceof Uint8Array)) return Promise.reject(new ConsensusError(ConsensusErrorCode.WAL_USAGE, "a WAL record must be bytes"));
    if (record.length > this.options.maxRecordBytes) {
      return Promise.reject(new ConsensusError(ConsensusErrorCode.WAL_USAGE, `a WAL record of ${record.length} bytes exceeds ${this.options.maxRecordBytes}`));
    }
    const buf = frame(RECORD, record);
    return this.serial(true, async () => {
      await writeAll(this.fh, buf);
      this.size += buf.length;
      if (opts.sync) await this.fh.datasync();
    });
  }

  /**
   * Close height `height`: its records will not be replayed again. Synced,
   * since the next height's first signature must not be replayed as this
   * height's. Rotates the file when it has grown past rotateBytes.
   */
  endHeight(height: number): Promise<void> {
    if (!Number.isSafeInteger(height) || height < 0) return Promise.reject(new ConsensusError(ConsensusErrorCode.WAL_USAGE, `height must be a non-negative integer, got ${height}`));
    const marker = frame(END_HEIGHT, heightBody(height));
    return this.serial(true, async () => {
      await writeAll(this.fh, marker);
      this.size += marker.length;
      await this.fh.datasync();
      if (this.size > this.options.rotateBytes) await this.rotate(marker);
    });
  }

  /** The last end-of-height marker and the records after it, as on disk now. */
  replay(): Promise<WalReplay> {
    return this.serial(false, async () => {
      const buf = await readFile(this.path);
      const { lastEndHeight, records, validLength } = scan(buf, this.options.maxRecordBytes, this.path);
      if (validLength !== buf.length) throw new ConsensusError(ConsensusErrorCode.WAL_CORRUPT, `${this.path}: damaged tail while open`, { path: this.path, offset: validLength });
      return { lastEndHeight, records };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.catch(() => undefined);
    this.closed = true;
    await this.fh.close();
  }

  private async rotate(marker: Uint8Array): Promise<void> {
    const tmp = rotationTemp(this.path);
    const out = await open(tmp, "w", 0o600);
    try {
      await writeAll(out, marker);
      await out.sync();
    } finally {
      await out.close();
    }
    await this.fh.close();
    await rename(tmp, this.path);
    await syncDir(dirname(this.path));
    this.fh = await open(this.path, "a", 0o600);
    this.size = (await stat(this.path)).size;
  }

  /**
   * Run file operations one at a time, in call order. After a failed write
   * the file may end in a partial frame; later frames would turn that torn
   * tail into damage in the middle, so the log refuses further use and the
   * node must reopen it (which cuts the tail).
   */
  private serial<T>(writes: boolean, op: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closed) throw new ConsensusError(ConsensusErrorCode.WAL_USAGE, `${this.path}: the WAL is closed`);
      if (this.failed) throw new ConsensusError(ConsensusErrorCode.WAL_USAGE, `${this.path}: an earlier write failed (${this.failed.message}); reopen the WAL`);
      try {
        return await op();
      } catch (e) {
        if (writes && !this.failed) {
          this.failed = e as Error;
          this.onWriteFailure?.(e as Error);
        }
        throw e;
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }
}

function rotationTemp(path: string): string {
  return `${path}.rotate`;
}
