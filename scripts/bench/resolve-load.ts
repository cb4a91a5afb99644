/**
 * One resolve load of the scale benchmark, run in a process of its own:
 * `method` at 64 connections for `seconds` on DIDs drawn at random from a
 * JSON array in `sampleFile`. The scale bench holds a tenth's signed
 * creates and its DID sample (millions of objects at 10,000,000 DIDs); its
 * garbage collector's pauses would land in the latencies measured if the
 * load ran in that process. Here the client's heap is the sample alone.
 *
 *   node dist/scripts/bench/resolve-load.js URL METHOD SECONDS SAMPLE_FILE
 *
 * Prints one JSON line: { reqPerSec, p50Ms, p99Ms }; exits 1 on any non-2xx
 * answer, error or timeout.
 */
import autocannon from "autocannon";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { round, runIfMain } from "./measure.js";

export type ResolveMethod = "did_resolve" | "debug_fixedResolution";

export interface ResolveLoadResult {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

const CONNECTIONS = 64;

/** The load, in this process. */
async function load(url: string, method: ResolveMethod, seconds: number, sample: readonly string[]): Promise<ResolveLoadResult> {
  if (sample.length === 0) throw new Error("no DIDs to resolve");
  const pick = () => sample[Math.floor(Math.random() * sample.length)]!;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { did: pick() } }) }),
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${method}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  return { reqPerSec: round(result.requests.average), p50Ms: result.latency.p50, p99Ms: result.latency.p99 };
}

/** The load in a child process (see the top of this file); `sampleFile` holds the DIDs as a JSON array. */
export function resolveLoadApart(url: string, method: ResolveMethod, seconds: number, sampleFile: string): Promise<ResolveLoadResult> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [self, url, method, String(seconds), sampleFile], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`the ${method} load failed (exit ${code}): ${err.trim().slice(-2000)}`));
      try {
        resolve(JSON.parse(out) as ResolveLoadResult);
      } catch {
        reject(new Error(`the ${method} load printed no result: ${out.slice(0, 200)}`));
      }
    });
  });
}

runIfMain(import.meta.url, async () => {
  const [url, method, seconds, sampleFile] = process.argv.slice(2);
  if (!url || (method !== "did_resolve" && method !== "debug_fixedResolution") || !(Number(seconds) > 0) || !sampleFile) {
    throw new Error("usage: resolve-load.js URL did_resolve|debug_fixedResolution SECONDS SAMPLE_FILE");
  }
  const sample = JSON.parse(readFileSync(sampleFile, "utf8")) as string[];
  process.stdout.write(JSON.stringify(await load(url, method, Number(seconds), sample)) + "\n");
});
