/**
 * Tx preverification on a worker thread. Admission's stateless work
 * (decoding with every check of decodeTx, hashing, and verifying a create's
 * signature against the key in its own document) runs beside the main
 * thread, which keeps the stateful checks. Results only save work: the
 * signature cache it fills is keyed by tx hash and public key, and checkTx
 * still decides every tx against state. Requests of one event-loop turn
 * travel as one message.
 */
import { Worker } from "node:worker_threads";
import { ChainError, type ChainErrorCode } from "./errors.js";
import type { Tx } from "./tx.js";

export interface PreverifyRequest {
  id: number;
  bytes: Uint8Array;
}

export type PreverifyReply =
  | { id: number; ok: true; tx: Tx; hash: Uint8Array; verifiedKey: string | undefined; keyDid: string | undefined }
  | { id: number; ok: false; code: string; message: string; data: Record<string, unknown> | undefined };

export interface Preverified {
  tx: Tx;
  hash: Uint8Array;
  /** Hex public key a create's signature was verified against, if it was. */
  verifiedKey: string | undefined;
  /** With verifiedKey: the DID that key derives (didFromPublicKey). */
  keyDid: string | undefined;
}

type Pending = { resolve: (p: Preverified) => void; reject: (e: Error) => void };

export class TxPreverifier {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private queue: PreverifyRequest[] = [];
  private nextId = 1;
  private failed: Error | undefined;

  constructor(chainId: string) {
    this.worker = new Worker(new URL("./preverify-worker.js", import.meta.url), { workerData: { chainId } });
    this.worker.on("message", (replies: PreverifyReply[]) => {
      for (const r of replies) {
        const p = this.pending.get(r.id);
        if (!p) continue;
        this.pending.delete(r.id);
        if (r.ok) p.resolve({ tx: r.tx, hash: r.hash, verifiedKey: r.verifiedKey, keyDid: r.keyDid });
        else p.reject(new ChainError(r.code as ChainErrorCode, r.message, r.data));
      }
    });
    this.worker.on("error", (e) => this.fail(e));
    this.worker.on("exit", () => this.fail(new Error("preverifier worker exited")));
    this.worker.unref();
  }

  /** True while the worker can take work; callers fall back to inline checks otherwise. */
  get available(): boolean {
    return this.failed === undefined;
  }

  preverify(bytes: Uint8Array): Promise<Preverified> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ id, bytes });
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    if (batch.length > 0 && !this.failed) this.worker.postMessage(batch);
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  async close(): Promise<void> {
    this.failed ??= new Error("preverifier closed");
    await this.worker.terminate();
  }
}
