/**
 * Benchmark of verifiable reads, for `npm run bench` to call:
 *  - servedPerSec: did_resolve with proof: true answered by a node, from a
 *    few concurrent keep-alive clients (the answer parsed, not verified);
 *  - verifiedPerSec: those answers checked by the SDK
 *    (verifyResolutionProof), one core, on answers collected while serving.
 * Each phase runs `seconds`. Every collected answer is verified, so a node
 * serving a bad proof fails the benchmark instead of inflating it.
 */
import { leanCaller } from "./measure.js";
import type { TrustedValidators } from "../../src/chain/light-block.js";
import { verifyResolutionProof } from "../../src/client/verify-proof.js";

export interface ProofBenchOptions {
  rpcUrl: string;
  /** Registered DIDs to ask for, in turn (unregistered ones give proofs of absence). */
  dids: string[];
  seconds: number;
  trusted: TrustedValidators;
  /** Concurrent clients of the serving phase; a few, as resolvers would be. */
  clients?: number;
}

export interface ProofBenchResult {
  servedPerSec: number;
  verifiedPerSec: number;
}

const DEFAULT_CLIENTS = 8;
/** Answers kept for the verifying phase: enough to cycle through, small in memory (~3 KB each). */
const MAX_SAMPLES = 512;

export async function benchProofResolves(opts: ProofBenchOptions): Promise<ProofBenchResult> {
  const url = new URL(opts.rpcUrl);
  if (url.protocol !== "http:") throw new Error(`expected an http: rpcUrl, got ${url.protocol}`);
  if (!Array.isArray(opts.dids) || opts.dids.length === 0) throw new Error("expected at least one DID");
  if (!(Number.isFinite(opts.seconds) && opts.seconds > 0)) throw new Error(`expected seconds > 0, got ${opts.seconds}`);
  const clients = opts.clients ?? DEFAULT_CLIENTS;
  if (!Number.isSafeInteger(clients) || clients < 1) throw new Error(`expected clients >= 1, got ${clients}`);

  const post = leanCaller(opts.rpcUrl, clients);
  const samples: Array<{ did: string; answer: unknown }> = [];
  let served = 0;
  let next = 0;
  try {
    const t0 = performance.now();
    const end = t0 + opts.seconds * 1000;
    const client = async () => {
      while (performance.now() < end) {
        const did = opts.dids[next++ % opts.dids.length]!;
        const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "did_resolve", params: { did, proof: true } });
        const res = (await post(body)) as { result?: unknown; error?: { message: string } };
        if (res.error || res.result === undefined) throw new Error(`did_resolve ${did} with proof failed: ${res.error?.message ?? "no result"}`);
        served++;
        if (samples.length < MAX_SAMPLES) samples.push({ did, answer: res.result });
      }
    };
    await Promise.all(Array.from({ length: clients }, client));
    const servedPerSec = served / ((performance.now() - t0) / 1000);
    if (samples.length === 0) throw new Error("no answer was served within the time given");

    let verified = 0;
    const v0 = performance.now();
    const vEnd = v0 + opts.seconds * 1000;
    for (let i = 0; performance.now() < vEnd || i < samples.length; i++) {
      const s = samples[i % samples.length]!;
      verifyResolutionProof(s.answer, { did: s.did, chainId: opts.trusted.chainId, trusted: opts.trusted });
      verified++;
    }
    const verifiedPerSec = verified / ((performance.now() - v0) / 1000);
    return { servedPerSec: Math.round(servedPerSec), verifiedPerSec: Math.round(verifiedPerSec) };
  } finally {
    post.close();
  }
}

/** One JSON-RPC POST over a keep-alive agent: cheaper per call than fetch on a machine shared with the node. */
