/**
 * The mempool: txs admitted by the same checks that execute them in a block
 * (decodeTx + checkTx), deduplicated by hash, kept in admission order (which
 * is per-signer sequence order, since a tx must carry its signer's next
 * sequence), bounded in count and bytes, and revalidated after each block.
 */
import { fromHex, toHex } from "../crypto/bytes.js";
import { ChainError, type ChainErrorCode, TxErrorCode } from "./errors.js";
import { type CheckedTx, type ExecContext, OverlayView, SignatureVerifier, checkTx, rememberCreateKey, touchedKeys } from "./execute.js";
import { type DidRecord, type StateRecord, type StateView, stateIdOf, viewOfRecords } from "./state.js";
import { decodeTx, txHash, type Tx } from "./tx.js";
import type { TxPreverifier } from "./preverify.js";

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
  /** Records by state id (DIDs and registry records), undefined when absent. */
  loadState(ids: Iterable<string>): Promise<Map<string, StateRecord | undefined>>;
  /** Where a committed tx is, if it is. */
  isCommitted(hash: Uint8Array): Promise<boolean>;
  /** Height and time the next block will have (for the exec context). */
  nextBlock(): { height: number; time: number };
  /** Stateless checks on a worker thread, when there is one. */
  preverifier?: TxPreverifier;
}

/** Why a tx was dropped: the code of its ChainError, or INTERNAL for anything else (a bug, never the tx's fault). */
export interface Rejection {
  code: ChainErrorCode | "INTERNAL";
  message: string;
}

export class Mempool {
  private readonly txs = new Map<string, CheckedTx>();
  private bytes = 0;
  /** Effects of every pending tx on top of committed state. */
  private pending = new Map<string, StateRecord>();
  /** How many pooled txs touch each DID; a DID's pending entry goes when none does. */
  private refs = new Map<string, number>();
  /** Set when a tx left the pool out of order, so later txs may rest on a missing effect. */
  private needsRecheck = false;
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
    return (this.pending.get(did) as DidRecord | undefined)?.nonce;
  }

  /** The record of a DID as the pending txs leave it. */
  pendingRecord(did: string): DidRecord | undefined {
    return this.pending.get(did) as DidRecord | undefined;
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
    const { tx, hash } = await this.decode(encoded);
    const key = toHex(hash);
    try {
      if (this.txs.has(key)) throw new ChainError(TxErrorCode.DUPLICATE, "tx is already in the mempool");
      const c: CheckedTx = { tx, hash, encoded };
      const dids = touchedKeys(c);
      for (;;) {
        if (this.revalidating) await this.revalidating;
        const epoch = this.epoch;
        const loaded = await this.deps.loadState(dids.filter((d) => !this.pending.has(d)));
        if (epoch !== this.epoch || this.revalidating) continue; // a block landed meanwhile: load again
        // From here to the end nothing awaits, so the pool cannot change under us.
        if (this.txs.has(key)) throw new ChainError(TxErrorCode.DUPLICATE, "tx is already in the mempool");
        if (this.txs.size >= this.opts.maxTxs || this.bytes + encoded.length > this.opts.maxBytes) {
          throw new ChainError(TxErrorCode.MEMPOOL_FULL, `mempool full (${this.txs.size} txs, ${this.bytes} bytes); retry later`);
        }
        const view: StateView = viewOfRecords({ get: (d: string) => this.pending.get(d) ?? loaded.get(d) } as ReadonlyMap<string, StateRecord | undefined>);
        const effect = checkTx(view, c, this.ctx());
        for (const r of effect.writes) this.pending.set(stateIdOf(r), r);
        this.insert(key, c);
        this.rejected.delete(key);
        this.wake();
        return c;
      }
    } catch (e) {
      if (!(e instanceof ChainError) || e.code === TxErrorCode.DUPLICATE || e.code === TxErrorCode.MEMPOOL_FULL) throw e;
      // A replay of a committed tx fails a state rule (sequence, version, existence);
      // name the real cause. Looked up only on failure, off the hot path.
      if (await this.deps.isCommitted(hash)) throw new ChainError(TxErrorCode.ALREADY_COMMITTED, "tx is already committed");
      this.remember(key, { code: e.code, message: e.message });
      throw e;
    }
  }

  /** decodeTx on the preverifier worker when it is up, else here; the same checks either way. */
  private async decode(encoded: Uint8Array): Promise<{ tx: Tx; hash: Uint8Array }> {
    const pv = this.deps.preverifier;
    if (pv?.available) {
      try {
        const pre = await pv.preverify(encoded);
        if (pre.verifiedKey) {
          this.deps.verifier.remember(pre.hash, pre.verifiedKey);
          if (pre.keyDid !== undefined) rememberCreateKey(pre.tx, fromHex(pre.verifiedKey), pre.keyDid);
        }
        return pre;
      } catch (e) {
        if (e instanceof ChainError) throw e;
        // the worker is gone: check here instead
      }
    }
    return { tx: decodeTx(encoded, this.deps.chainId), hash: txHash(encoded) };
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

  private insert(key: string, c: CheckedTx): void {
    this.txs.set(key, c);
    this.bytes += c.encoded.length;
    for (const d of touchedKeys(c)) this.refs.set(d, (this.refs.get(d) ?? 0) + 1);
  }

  private remove(key: string): CheckedTx | undefined {
    const c = this.txs.get(key);
    if (!c) return undefined;
    this.txs.delete(key);
    this.bytes -= c.encoded.length;
    for (const d of touchedKeys(c)) {
      const n = (this.refs.get(d) ?? 1) - 1;
      if (n > 0) this.refs.set(d, n);
      else {
        this.refs.delete(d);
        this.pending.delete(d);
        // An admission awaiting a load may have skipped this DID because it
        // was pending; make it load again.
        this.epoch++;
      }
    }
    return c;
  }

  /** Drop a tx the block builder found invalid, with its reason. */
  drop(hash: Uint8Array, why: Rejection): void {
    const key = toHex(hash);
    if (!this.remove(key)) return;
    this.needsRecheck = true;
    this.remember(key, why);
  }

  /**
   * After a block: remove its txs and revalidate the rest against the new
   * committed state. When the block is exactly the oldest pooled txs in pool
   * order (what this node's proposer reaps), the pending effects were
   * computed on top of precisely those txs, so every remaining tx is still
   * valid and the recheck is skipped; any other block (a tx dropped, or a
   * block proposed elsewhere) re-checks every remaining tx in order, and those
   * that fail now are dropped with their reason. Admissions wait meanwhile.
   */
  async onBlockCommitted(committed: readonly Uint8Array[]): Promise<Array<{ hash: Uint8Array; why: Rejection }>> {
    this.epoch++;
    const keys = committed.map(toHex);
    let prefix = !this.needsRecheck;
    if (prefix) {
      let i = 0;
      for (const k of this.txs.keys()) {
        if (i >= keys.length) break;
        if (k !== keys[i]) {
          prefix = false;
          break;
        }
        i++;
      }
      if (i < keys.length) prefix = false;
    }
    for (const k of keys) this.remove(k);
    if (prefix) return [];
    return this.recheckAll();
  }

  private async recheckAll(): Promise<Array<{ hash: Uint8Array; why: Rejection }>> {
    const dropped: Array<{ hash: Uint8Array; why: Rejection }> = [];
    let done!: () => void;
    this.revalidating = new Promise<void>((r) => (done = r));
    try {
      const remaining = [...this.txs.values()];
      const dids = new Set<string>();
      for (const c of remaining) for (const d of touchedKeys(c)) dids.add(d);
      const loaded = await this.deps.loadState(dids);
      const overlay = new OverlayView(viewOfRecords(loaded));
      const ctx = this.ctx();
      for (const c of remaining) {
        try {
          overlay.apply(checkTx(overlay, c, ctx));
        } catch (e) {
          const why: Rejection = e instanceof ChainError ? { code: e.code, message: e.message } : { code: "INTERNAL", message: String(e) };
          const key = toHex(c.hash);
          this.remove(key);
          this.remember(key, why);
          dropped.push({ hash: c.hash, why });
        }
      }
      this.pending = overlay.writes;
      this.needsRecheck = false;
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
