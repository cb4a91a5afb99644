/**
 * The mempool: txs admitted by the same checks that execute them in a block
 * (decodeTx + checkTx), deduplicated by hash, kept in admission order (which
 * is per-signer sequence order, since a tx must carry its signer's next
 * sequence), bounded in count and bytes, and revalidated after each block.
 */
import { toHex } from "../crypto/bytes.js";
import { ChainError, TxErrorCode } from "./errors.js";
import { type CheckedTx, type ExecContext, OverlayView, SignatureVerifier, checkTx, touchedDids } from "./execute.js";
import type { DidRecord, DidStateView } from "./state.js";
import { decodeTx, txHash } from "./tx.js";

export interface MempoolOptions {
  /** Most txs held at once. */
  maxTxs: number;
  /** Most encoded bytes held at once. */
  maxBytes: number;
  /** How many rejection reasons are remembered for tx_get. */
  rejectedMemory: number;
}

export const defaultMempoolOptions: MempoolOptions = { maxTxs: 20_000, maxBytes: 64 * 1024 * 1024, rejectedMemory: 50_000 };

export interface MempoolDeps {
  chainId: string;
  verifier: SignatureVerifier;
  /** Committed records of the given DIDs. */
  loadDids(dids: Iterable<string>): Promise<Map<string, DidRecord | undefined>>;
  /** Where a committed tx is, if it is. */
  isCommitted(hash: Uint8Array): Promise<boolean>;
  /** Height and time the next block will have (for the exec context). */
  nextBlock(): { height: number; time: number };
}

export interface Rejection {
  code: string;
  message: string;
}

export class Mempool {
  private readonly txs = new Map<string, CheckedTx>();
  private bytes = 0;
  /** Effects of every pending tx on top of committed state. */
  private pending = new Map<string, DidRecord>();
  /** Bumped whenever committed state moves, so an admission that awaited a load knows its data may be stale. */
  private epoch = 0;
  private revalidating: Promise<void> | undefined;
  private readonly rejected = new Map<string, Rejection>();
  private waiters: Array<() => void> = [];

  constructor(
    private readonly opts: MempoolOptions,
    private readonly deps: MempoolDeps,
  ) {}

  get size(): number {
    return this.txs.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  has(hash: Uint8Array): boolean {
    return this.txs.has(toHex(hash));
  }

  get(hash: Uint8Array): CheckedTx | undefined {
    return this.txs.get(toHex(hash));
  }

  rejection(hash: Uint8Array): Rejection | undefined {
    return this.rejected.get(toHex(hash));
  }

  /** Next sequence of a signer counting its pending txs, or undefined when it is not in the pool. */
  pendingNonce(did: string): number | undefined {
    return this.pending.get(did)?.nonce;
  }

  /** The record of a DID as the pending txs leave it. */
  pendingRecord(did: string): DidRecord | undefined {
    return this.pending.get(did);
  }

  private ctx(): ExecContext {
    const next = this.deps.nextBlock();
    return { chainId: this.deps.chainId, height: next.height, time: next.time, verifier: this.deps.verifier };
  }

  /**
   * Admit an encoded tx or throw the precise ChainError. The checks are those
   * of block execution, against committed state plus the pending txs.
   */
  async add(encoded: Uint8Array): Promise<CheckedTx> {
    const tx = decodeTx(encoded, this.deps.chainId);
    const hash = txHash(encoded);
    const key = toHex(hash);
    try {
      if (this.txs.has(key)) throw new ChainError(TxErrorCode.DUPLICATE, "tx is already in the mempool");
      if (await this.deps.isCommitted(hash)) throw new ChainError(TxErrorCode.ALREADY_COMMITTED, "tx is already committed");
      const c: CheckedTx = { tx, hash, encoded };
      const dids = touchedDids(tx);
      for (;;) {
        if (this.revalidating) await this.revalidating;
        const epoch = this.epoch;
        const loaded = await this.deps.loadDids(dids.filter((d) => !this.pending.has(d)));
        if (epoch !== this.epoch || this.revalidating) continue; // a block landed meanwhile: load again
        // From here to the end nothing awaits, so the pool cannot change under us.
        if (this.txs.has(key)) throw new ChainError(TxErrorCode.DUPLICATE, "tx is already in the mempool");
        if (this.txs.size >= this.opts.maxTxs || this.bytes + encoded.length > this.opts.maxBytes) {
          throw new ChainError(TxErrorCode.MEMPOOL_FULL, `mempool full (${this.txs.size} txs, ${this.bytes} bytes); retry later`);
        }
        const view: DidStateView = { getDid: (d) => this.pending.get(d) ?? loaded.get(d) };
        const effect = checkTx(view, c, this.ctx());
        for (const r of effect.writes) this.pending.set(r.did, r);
        this.txs.set(key, c);
        this.bytes += encoded.length;
        this.rejected.delete(key);
        this.wake();
        return c;
      }
    } catch (e) {
      if (e instanceof ChainError && e.code !== TxErrorCode.DUPLICATE && e.code !== TxErrorCode.ALREADY_COMMITTED) {
        this.remember(key, { code: e.code, message: e.message });
      }
      throw e;
    }
  }

  /** The oldest pending txs, within the block bounds, in admission order. */
  reap(maxTxs: number, maxBytes: number): CheckedTx[] {
    const out: CheckedTx[] = [];
    let bytes = 0;
    for (const c of this.txs.values()) {
      if (out.length >= maxTxs || bytes + c.encoded.length > maxBytes) break;
      out.push(c);
      bytes += c.encoded.length;
    }
    return out;
  }

  /** Drop a tx the block builder found invalid, with its reason. */
  drop(hash: Uint8Array, why: Rejection): void {
    const key = toHex(hash);
    const c = this.txs.get(key);
    if (!c) return;
    this.txs.delete(key);
    this.bytes -= c.encoded.length;
    this.remember(key, why);
  }

  /**
   * After a block: remove its txs and re-check every remaining one against
   * the new committed state, in order; those that fail now are dropped with
   * their reason. Admissions wait until this is done.
   */
  async onBlockCommitted(committed: readonly Uint8Array[]): Promise<Array<{ hash: Uint8Array; why: Rejection }>> {
    this.epoch++;
    for (const h of committed) {
      const key = toHex(h);
      const c = this.txs.get(key);
      if (c) {
        this.txs.delete(key);
        this.bytes -= c.encoded.length;
      }
    }
    const dropped: Array<{ hash: Uint8Array; why: Rejection }> = [];
    let done!: () => void;
    this.revalidating = new Promise<void>((r) => (done = r));
    try {
      const remaining = [...this.txs.values()];
      const dids = new Set<string>();
      for (const c of remaining) for (const d of touchedDids(c.tx)) dids.add(d);
      const loaded = await this.deps.loadDids(dids);
      const overlay = new OverlayView({ getDid: (d) => loaded.get(d) });
      const ctx = this.ctx();
      for (const c of remaining) {
        try {
          overlay.apply(checkTx(overlay, c, ctx));
        } catch (e) {
          const why = e instanceof ChainError ? { code: e.code, message: e.message } : { code: "INTERNAL", message: String(e) };
          this.drop(c.hash, why);
          dropped.push({ hash: c.hash, why });
        }
      }
      this.pending = overlay.writes;
    } finally {
      this.revalidating = undefined;
      done();
    }
    return dropped;
  }

  /** Resolves when the pool holds at least one tx, or after `timeoutMs`. */
  waitForTxs(timeoutMs: number): Promise<void> {
    if (this.txs.size > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve();
      }, timeoutMs);
      const wake = () => {
        clearTimeout(t);
        resolve();
      };
      this.waiters.push(wake);
    });
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  private remember(key: string, why: Rejection): void {
    if (this.rejected.size >= this.opts.rejectedMemory) {
      const first = this.rejected.keys().next().value as string;
      this.rejected.delete(first);
    }
    this.rejected.set(key, why);
  }
}
