/**
 * Signed DID creates for the scale benchmark, made on every core: each
 * worker thread signs its share with fresh keys and hands back only what
 * the bench sends and keeps (the tx in base64, its hash, the new DID), so
 * a tenth of 10,000,000 creates takes the cores' time, not one core's, and
 * the bench holds strings rather than decoded txs.
 */
import { cpus } from "node:os";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { createDidTx } from "../../src/client/index.js";
import { randomKeyPair } from "../../src/crypto/hd.js";

/** A signed create as the bench uses it. */
export interface SignedCreate {
  /** The encoded tx in base64, as tx_submit takes it. */
  base64: string;
  /** Hex tx hash. */
  hash: string;
  /** The DID it creates. */
  did: string;
}

interface Job {
  /** Marks the worker data as this module's (another module loading this one in a worker of its own is left alone). */
  job: "sign-creates";
  chainId: string;
  count: number;
}

/** One worker's share: three parallel arrays (cheaper to pass between threads than objects). */
interface Share {
  base64: string[];
  hash: string[];
  did: string[];
}

function sign(job: Job): Share {
  const out: Share = { base64: [], hash: [], did: [] };
  for (let i = 0; i < job.count; i++) {
    const t = createDidTx(job.chainId, randomKeyPair());
    out.base64.push(t.base64);
    out.hash.push(t.hash);
    out.did.push(t.tx.signer);
  }
  return out;
}

/** `n` signed creates on `chainId`, signed by `threads` worker threads (one per core by default), in their order. */
export async function signCreates(chainId: string, n: number, threads = cpus().length): Promise<SignedCreate[]> {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`expected a count of creates, got ${n}`);
  const k = Math.max(1, Math.min(threads, Math.ceil(n / 1000)));
  const counts = Array.from({ length: k }, (_, i) => Math.floor((n * (i + 1)) / k) - Math.floor((n * i) / k));
  const shares = await Promise.all(
    counts.map(
      (count) =>
        new Promise<Share>((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), { workerData: { job: "sign-creates", chainId, count } satisfies Job });
          w.once("message", resolve);
          w.once("error", reject);
          w.once("exit", (code) => code !== 0 && reject(new Error(`a signing worker exited with ${code}`)));
        }),
    ),
  );
  const out: SignedCreate[] = [];
  for (const s of shares) for (let i = 0; i < s.base64.length; i++) out.push({ base64: s.base64[i]!, hash: s.hash[i]!, did: s.did[i]! });
  return out;
}

if (!isMainThread && parentPort && (workerData as Partial<Job> | null)?.job === "sign-creates") parentPort.postMessage(sign(workerData as Job));
