/**
 * The scale benchmark: grow a dev node's state to N DIDs through the real
 * RPC and block path and, at every tenth of N, measure
 *   - write ops/s over the last tenth (submit to committed, mempool drained),
 *   - `did_resolve` p50/p99 and req/s on random existing DIDs, 64 connections,
 *     and against it the same load on `debug_fixedResolution` (the same
 *     answer shape, no state read): the ceiling of this machine then;
 *     the load runs in a process of its own (resolve-load.ts), so the
 *     bench's own garbage collection is not in the latencies,
 *   - node RSS, bytes on disk per DID (du of the data dir),
 *   - the Merkle node cache hit rate over the tenth (node metrics counters).
 * After the last tenth the node is stopped and its LevelDB is read once: a
 * census of key+value bytes per bucket, per DID.
 *
 * Every tenth's signed creates are generated before its window opens, on
 * every core (sign-creates.ts), so signing is not measured. `npm run
 * bench -- --scale N [--seconds S] [--out FILE]` (scripts/bench.ts); run
 * alone:
 *   node dist/scripts/bench/scale.js --scale N [--seconds S] [--out FILE] [--keep]
 *     [--home DIR [--stop-after MINUTES]]
 * (`--keep` leaves the node's home in place and prints where). A long run
 * (10,000,000 DIDs: hours) can go in pieces: with `--home DIR` the node's
 * store and the run's progress stay in DIR; the run stops after MINUTES or
 * at the first Ctrl-C, once its last batch is committed, and the same
 * command goes on from there.
 */
import { Level } from "level";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Bucket } from "../../src/chain/buckets.js";
import { LEVEL_BLOCK_BYTES, LEVEL_TABLE_FILE_BYTES } from "../../src/chain/db/level-kv.js";
import { SidClient } from "../../src/client/index.js";
import { removeHome, startNodeProcess, tempHome } from "../../test/helpers/node-process.js";
import { fetchAgain, round, runIfMain, submitTxs } from "./measure.js";
import { type ResolveLoadResult, resolveLoadApart } from "./resolve-load.js";
import { type SignedCreate, signCreates } from "./sign-creates.js";

export interface ScaleOptions {
  /** DIDs to grow to. */
  dids: number;
  /** Length of each resolve window. */
  seconds: number;
  /** RPC port of the node (the bench's own range), or a free one. */
  port?: number;
  progress: (msg: string) => void;
  /** Leave the node's home (its store and snapshots) in place after the run, for a look at the store. */
  keepHome?: boolean;
  /**
   * The run's own home, kept: the node's store and the run's progress. A
   * run given the home of a stopped run goes on where it stopped.
   */
  home?: string;
  /** Asked before each batch of creates: true stops the run there (with `home`, to go on later). */
  shouldStop?: () => boolean;
}

export interface ScaleRow {
  dids: number;
  height: number;
  /** Creates per second over this tenth: first submit to mempool drained. */
  writeOpsPerSec: number;
  resolve: { reqPerSec: number; p50Ms: number; p99Ms: number };
  /** The same load on debug_fixedResolution (no state read), right after: what the transport allows on this machine now. */
  ceiling: { reqPerSec: number; p50Ms: number; p99Ms: number };
  resolveOverCeiling: number;
  rssMiB: number;
  /**
   * Of the RSS, the anonymous memory (RssAnon): the rest is file pages
   * mapped (LevelDB maps its table files to read them; the kernel can drop
   * those pages when memory is short).
   */
  anonMiB: number;
  /** Of the RSS: the main thread's V8 heap, and the buffers V8 accounts outside it (node metrics). */
  heapMiB: number;
  externalMiB: number;
  /** du of <home>/data over DIDs. */
  diskBytesPerDid: number;
  /**
   * Bytes the node had written to disk while this tenth's creates went in,
   * over those creates: the log, LevelDB's flushes and compactions, and
   * snapshots, all as the kernel counted them (write amplification).
   */
  writtenBytesPerCreate: number;
  /** LevelDB table files in the store (`.ldb`): past about a thousand, reads reopen tables (LEVEL_TABLE_FILE_BYTES). */
  tables: number;
  /** Merkle node cache hits / lookups during this tenth (writes and resolves). */
  smtCacheHitRate: number;
  /** Seconds spent signing this tenth's txs, before its window (not measured in writeOpsPerSec). */
  genSeconds: number;
  /** Node runs this tenth spanned: 1, or more where the run was stopped and went on (`--home`); the rates then add the timed pieces. */
  pieces: number;
  /** Creates of this tenth no piece timed (a run killed before it recorded its piece): in the state, not in writeOpsPerSec. */
  unmeasured: number;
}

export interface ScaleResult {
  machine: { cpus: number; cpuModel: string | undefined; node: string };
  dids: number;
  rows: ScaleRow[];
  /**
   * Per bucket: keys, key+value bytes (logical, before LevelDB compression)
   * and, once LevelDB has compacted the store whole, the bytes its key range
   * takes in the files (LevelDB's estimate), all over DIDs.
   */
  census: { totalBytesPerDid: number; buckets: Record<string, { keys: number; bytes: number; bytesPerDid: number; compactedBytesPerDid: number }> };
  /**
   * du per DID after the run, the node stopped: the LevelDB store as left,
   * the same store after LevelDB compacts it whole (what it holds live), and
   * the snapshots kept for state sync.
   */
  disk: { chainBytesPerDid: number; chainCompactedBytesPerDid: number; snapshotsBytesPerDid: number };
  ratios: {
    /** Write ops/s of the last tenth over the first (the near-empty state). */
    lastWriteOverFirst: number;
    /** did_resolve req/s of the last tenth over the first. */
    lastResolveOverFirst: number;
  };
}

/** Txs per JSON-RPC batch (the RPC default maxBatch); the mempool is kept under MEMPOOL_HIGH so it never refuses. */
const BATCH = 100;
const MEMPOOL_HIGH = 8_000;

async function nodeStatus(url: string): Promise<{ height: number; mempool: { size: number } }> {
  const r = await rpc(url, { jsonrpc: "2.0", id: 1, method: "node_status", params: {} });
  if (!r.result) throw new Error(`node_status: ${JSON.stringify(r.error)}`);
  return r.result;
}

async function rpc(url: string, body: unknown): Promise<any> {
  const res = await fetchAgain(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return res.json();
}

/**
 * Submit the txs (batches, mempool kept under MEMPOOL_HIGH) and wait until
 * all submitted are committed. Once `shouldStop` says so no further batch
 * goes: `committed` is how many of the first txs were submitted (and are now
 * committed), `seconds` the time from the first submit.
 */
async function grow(url: string, txs: SignedCreate[], shouldStop: () => boolean): Promise<{ committed: number; seconds: number }> {
  const t0 = performance.now();
  let submitted = 0;
  for (let i = 0; i < txs.length; i += BATCH) {
    if (shouldStop()) break;
    await submitTxs(url, txs.slice(i, i + BATCH).map((t) => t.base64));
    submitted = Math.min(txs.length, i + BATCH);
    for (let waited = 0; ; waited++) {
      const st = await nodeStatus(url);
      if (st.mempool.size < MEMPOOL_HIGH) break;
      if (waited > 60_000) throw new Error("the mempool did not drain in 20 min");
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  for (let waited = 0; ; waited++) {
    const st = await nodeStatus(url);
    if (st.mempool.size === 0) break;
    if (waited > 60_000) throw new Error("the mempool did not drain in 50 min");
    await new Promise((r) => setTimeout(r, 20));
  }
  // Drained from the pool is not yet committed: the last tx's own status says so.
  const last = txs[submitted - 1];
  for (let waited = 0; last; waited++) {
    const r = await rpc(url, { jsonrpc: "2.0", id: 1, method: "tx_get", params: { hash: last.hash } }).catch(() => undefined);
    const status = r?.result?.status;
    if (status === "committed") break;
    if (status === "rejected" || status === "unknown") throw new Error(`tx ${last.hash} was not committed: ${JSON.stringify(r.result)}`);
    if (waited > 3_000) throw new Error(`tx ${last.hash} still not committed after a minute`);
    await new Promise((res) => setTimeout(res, 20));
  }
  return { committed: submitted, seconds: (performance.now() - t0) / 1000 };
}

/** The node's resident memory, MiB: all of it, and its anonymous part (what the process itself allocated, not file pages it maps). */
function residentMiB(pid: number): { rss: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rss: round(kb("VmRSS") / 1024), anon: round(kb("RssAnon") / 1024) };
}

/** Bytes the process has had written to disk so far (/proc/<pid>/io write_bytes; NaN where the kernel does not count them). */
function writtenBytes(pid: number): number {
  try {
    return Number(/^write_bytes:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** LevelDB's table files in the store at `dir`, the tree store's with them (each LevelDB keeps its own tables open). */
function tableFiles(dir: string): number {
  return storePaths(dir).reduce((n, p) => n + readdirSync(p).filter((f) => f.endsWith(".ldb")).length, 0);
}

/**
 * Bytes allocated on disk under `dir` (what du reports), in bytes. The node
 * is running: a file or folder gone between listing and stat (a snapshot's
 * spill files, a compacted table) counts nothing.
 */
function du(dir: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw e;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += du(p);
    else if (e.isFile()) total += (statSync(p, { throwIfNoEntry: false })?.blocks ?? 0) * 512;
  }
  return total;
}

interface NodeCounters {
  smtHits: number;
  smtMisses: number;
  /** V8 heap (total, of the main thread) and memory outside it that V8 knows of (buffers), MiB. */
  heapMiB: number;
  externalMiB: number;
}

async function nodeCounters(url: string): Promise<NodeCounters> {
  const text = await (await fetchAgain(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  return {
    smtHits: read("sid_smt_cache_hits_total"),
    smtMisses: read("sid_smt_cache_misses_total"),
    heapMiB: round(read("nodejs_heap_size_total_bytes") / 2 ** 20),
    externalMiB: round(read("nodejs_external_memory_bytes") / 2 ** 20),
  };
}

/** Key+value bytes per bucket of the LevelDB at `path` (the node stopped). */
export async function censusOf(path: string): Promise<Map<number, { keys: number; bytes: number }>> {
  const out = new Map<number, { keys: number; bytes: number }>();
  for (const at of storePaths(path)) {
    const db = new Level<Uint8Array, Uint8Array>(at, { keyEncoding: "view", valueEncoding: "view" });
    await db.open();
    try {
      for await (const [k, v] of db.iterator()) {
        const tag = k[0]!;
        let e = out.get(tag);
        if (!e) out.set(tag, (e = { keys: 0, bytes: 0 }));
        e.keys++;
        e.bytes += k.length + v.length;
      }
    } finally {
      await db.close();
    }
  }
  return out;
}

/** The LevelDBs of a chain store: the main one at `path` and the tree store in it (src/chain/db/level-kv.ts), where there is one. */
function storePaths(path: string): string[] {
  return [path, join(path, "tree")].filter((p) => existsSync(p));
}

/** What `level` (classic-level in Node) does that its typings leave out. */
interface ClassicLevelExtras {
  compactRange(start: Uint8Array, end: Uint8Array): Promise<void>;
  approximateSize(start: Uint8Array, end: Uint8Array): Promise<number>;
}

/**
 * Has LevelDB compact the whole store at `path` (the node stopped), then
 * asks it the bytes each bucket's key range takes in its files (LevelDB's
 * estimate, after its own compression).
 */
async function compactWhole(path: string, tags: number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const at of storePaths(path)) {
    // The node's table block and file sizes, or the compaction would rewrite the tables in LevelDB's defaults.
    const db = new Level<Uint8Array, Uint8Array>(at, { keyEncoding: "view", valueEncoding: "view", blockSize: LEVEL_BLOCK_BYTES, maxFileSize: LEVEL_TABLE_FILE_BYTES });
    await db.open();
    const extras = db as unknown as ClassicLevelExtras;
    try {
      await extras.compactRange(Uint8Array.of(0), Uint8Array.of(0xff));
      for (const tag of tags) out.set(tag, (out.get(tag) ?? 0) + (await extras.approximateSize(Uint8Array.of(tag), Uint8Array.of(tag + 1))));
    } finally {
      await db.close();
    }
  }
  return out;
}

/** Where a run stands, kept in its home (`--home`) after every tenth and when it stops, so the same command goes on from there. */
interface ScaleProgress {
  format: 1;
  /** DIDs the run grows to. */
  target: number;
  /** The node's last export seq before the first create (the dev genesis's own registry changes): DIDs in the state = last seq - this. */
  seqBase: number;
  rows: ScaleRow[];
  /** The tenth under way when the run stopped, what its pieces measured so far. */
  partial: TenthSoFar | null;
  /** A uniform sample of the DIDs created (reservoir), for the random resolves; `sampleSeen` DIDs were offered to it. */
  sampleSeen: number;
  sample: string[];
}

interface TenthSoFar {
  /** Creates committed while timed, the seconds they took, the bytes the node wrote meanwhile. */
  measured: number;
  seconds: number;
  written: number;
  /** Creates in the state that no piece timed (a run killed before it could record its piece). */
  unmeasured: number;
  smtHits: number;
  smtMisses: number;
  genSeconds: number;
  /** Node runs the tenth has spanned. */
  pieces: number;
}

/** DIDs kept for random resolves: every DID up to a run of this size, a uniform sample of them beyond. */
const SAMPLE_CAP = 1_000_000;
const PROGRESS_FILE = "scale-progress.json";
/** The DIDs a tenth's resolve loads draw from, written for the load process while it runs. */
const SAMPLE_FILE = "resolve-sample.json";

/** Offer `did` to the reservoir `p.sample` (Algorithm R): each DID seen is in the sample with the same chance. */
function offer(p: ScaleProgress, did: string): void {
  const seen = p.sampleSeen++;
  if (seen < SAMPLE_CAP) p.sample.push(did);
  else {
    const j = Math.floor(Math.random() * (seen + 1));
    if (j < SAMPLE_CAP) p.sample[j] = did;
  }
}

function loadProgress(home: string, target: number): ScaleProgress | undefined {
  const file = join(home, PROGRESS_FILE);
  if (!existsSync(file)) return undefined;
  let p: ScaleProgress;
  try {
    p = JSON.parse(readFileSync(file, "utf8")) as ScaleProgress;
  } catch (e) {
    throw new Error(`${file} cannot be read (${(e as Error).message}): start the run again in a new --home`);
  }
  if (p?.format !== 1 || !Array.isArray(p.rows) || !Array.isArray(p.sample) || !Number.isSafeInteger(p.seqBase)) {
    throw new Error(`${file} is not a progress file of this bench (format 1): start the run again in a new --home`);
  }
  if (p.target !== target) throw new Error(`${file}: this home holds a run to ${p.target} DIDs, not ${target}; give that --scale, or another --home`);
  return p;
}

function saveProgress(home: string, p: ScaleProgress): void {
  const file = join(home, PROGRESS_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify(p));
  renameSync(`${file}.tmp`, file);
}

/** The node's last export sequence number (every create is one). */
async function lastExportSeq(url: string): Promise<number> {
  const r = await rpc(url, { jsonrpc: "2.0", id: 1, method: "registry_export", params: { after: 0, limit: 1 } });
  if (!r.result) throw new Error(`registry_export: ${JSON.stringify(r.error)}`);
  return r.result.last;
}

export interface ScaleStopped {
  stopped: true;
  target: number;
  /** DIDs in the state when the run stopped. */
  dids: number;
  rows: ScaleRow[];
  home: string;
}

/**
 * Grows the state tenth by tenth and measures each (see the top of this
 * file). With `home`, the run keeps its node's home and its progress there:
 * once `shouldStop` says so it stops at the next batch, waits for what it
 * submitted to commit, records the tenth so far and stops the node; the
 * same call goes on from there (a tenth that spans pieces adds their timed
 * creates and seconds; the node restarted, its caches are cold for a while).
 */
export async function benchScale(opts: ScaleOptions): Promise<ScaleResult | ScaleStopped> {
  const n = opts.dids;
  if (!Number.isSafeInteger(n) || n < 10) throw new RangeError(`--scale must be an integer of at least 10, got ${n}`);
  if (opts.home) mkdirSync(opts.home, { recursive: true });
  const home = opts.home ?? tempHome("sid-bench-scale-");
  const shouldStop = opts.shouldStop ?? (() => false);
  let progress = opts.home ? loadProgress(home, n) : undefined;
  if (opts.home && !progress && existsSync(join(home, "data"))) throw new Error(`${home} holds a node's store but no ${PROGRESS_FILE}: give a new or empty --home`);
  if (progress) opts.progress(`going on from ${home}: ${progress.rows.length} tenths done`);
  const node = await startNodeProcess(home, { heartbeatMs: 1_000, startTimeoutMs: 600_000, ownGroup: opts.home !== undefined, ...(opts.port ? { port: opts.port } : {}), env: { SID_BENCH: "1", SID_LOG_LEVEL: "warn" } });
  let stopped = false;
  try {
    const client = new SidClient(node.rpcUrl);
    const chainId = await client.chainId();
    if (!progress) {
      progress = { format: 1, target: n, seqBase: await lastExportSeq(node.rpcUrl), rows: [], partial: null, sampleSeen: 0, sample: [] };
      if (opts.home) saveProgress(home, progress);
    }
    const p = progress;
    // Where the run stops before its end: the progress kept, the node stopped.
    const stopHere = async (): Promise<ScaleStopped> => {
      const dids = (p.rows.at(-1)?.dids ?? 0) + (p.partial ? p.partial.measured + p.partial.unmeasured : 0);
      saveProgress(home, p);
      await node.stop();
      stopped = true;
      return { stopped: true, target: n, dids, rows: p.rows, home };
    };
    for (let tenth = p.rows.length + 1; tenth <= 10; tenth++) {
      const part: TenthSoFar = p.partial ?? { measured: 0, seconds: 0, written: 0, unmeasured: 0, smtHits: 0, smtMisses: 0, genSeconds: 0, pieces: 0 };
      if (shouldStop()) return await stopHere();
      part.pieces++;
      const boundary = Math.floor((n * tenth) / 10);
      const recorded = (p.rows.at(-1)?.dids ?? 0) + part.measured + part.unmeasured;
      const have = (await lastExportSeq(node.rpcUrl)) - p.seqBase;
      if (have < recorded || have > boundary) throw new Error(`the store holds ${have} DIDs, the progress file ${recorded} (tenth ${tenth} ends at ${boundary}): start the run again in a new home`);
      part.unmeasured += have - recorded;
      const count = boundary - have;
      const g0 = performance.now();
      const txs = await signCreates(chainId, count);
      part.genSeconds += (performance.now() - g0) / 1000;
      const c0 = await nodeCounters(node.rpcUrl);
      const w0 = writtenBytes(node.proc.pid!);
      const grown = await grow(node.rpcUrl, txs, shouldStop);
      part.measured += grown.committed;
      part.seconds += grown.seconds;
      part.written += writtenBytes(node.proc.pid!) - w0;
      for (let i = 0; i < grown.committed; i++) offer(p, txs[i]!.did);
      txs.length = 0;
      if (grown.committed < count) {
        const c1 = await nodeCounters(node.rpcUrl);
        part.smtHits += c1.smtHits - c0.smtHits;
        part.smtMisses += c1.smtMisses - c0.smtMisses;
        p.partial = part;
        return await stopHere();
      }
      // The loads run in a process of their own, the DIDs they resolve handed over in a file (resolve-load.ts).
      const sampleFile = join(home, SAMPLE_FILE);
      writeFileSync(sampleFile, JSON.stringify(p.sample));
      let resolve: ResolveLoadResult;
      let ceiling: ResolveLoadResult;
      try {
        resolve = await resolveLoadApart(node.rpcUrl, "did_resolve", opts.seconds, sampleFile);
        ceiling = await resolveLoadApart(node.rpcUrl, "debug_fixedResolution", opts.seconds, sampleFile);
      } finally {
        rmSync(sampleFile, { force: true });
      }
      const c1 = await nodeCounters(node.rpcUrl);
      part.smtHits += c1.smtHits - c0.smtHits;
      part.smtMisses += c1.smtMisses - c0.smtMisses;
      const lookups = part.smtHits + part.smtMisses;
      const st = await nodeStatus(node.rpcUrl);
      const mem = residentMiB(node.proc.pid!);
      const row: ScaleRow = {
        dids: boundary,
        height: st.height,
        // NaN (null in the JSON) where no piece of the tenth was timed.
        writeOpsPerSec: part.measured > 0 ? round(part.measured / part.seconds) : NaN,
        resolve,
        ceiling,
        resolveOverCeiling: round(resolve.reqPerSec / ceiling.reqPerSec, 3),
        rssMiB: mem.rss,
        anonMiB: mem.anon,
        heapMiB: c1.heapMiB,
        externalMiB: c1.externalMiB,
        diskBytesPerDid: round(du(join(home, "data")) / boundary),
        tables: tableFiles(join(home, "data", "chain")),
        writtenBytesPerCreate: part.measured > 0 ? round(part.written / part.measured) : NaN,
        smtCacheHitRate: lookups > 0 ? round(part.smtHits / lookups, 4) : NaN,
        genSeconds: round(part.genSeconds),
        pieces: part.pieces,
        unmeasured: part.unmeasured,
      };
      p.rows.push(row);
      p.partial = null;
      if (opts.home) saveProgress(home, p);
      opts.progress(
        `${row.dids} DIDs h=${row.height}: ${row.writeOpsPerSec} writes/s, resolve ${row.resolve.reqPerSec}/s p50 ${row.resolve.p50Ms} ms p99 ${row.resolve.p99Ms} ms ` +
          `(ceiling ${row.ceiling.reqPerSec}/s p99 ${row.ceiling.p99Ms} ms, ratio ${row.resolveOverCeiling}), ` +
          `RSS ${row.rssMiB} MiB (anonymous ${row.anonMiB}, heap ${row.heapMiB}, external ${row.externalMiB}), ${row.diskBytesPerDid} B/DID on disk (${row.tables} tables), ${row.writtenBytesPerCreate} B written per create, SMT cache hits ${row.smtCacheHitRate}` +
          (row.pieces > 1 ? `, over ${row.pieces} node runs` : ""),
      );
    }
    await node.stop();
    stopped = true;
    return await storeResult(home, n, p.rows, opts.progress);
  } catch (e) {
    opts.progress(`failed; the node's last output:\n${node.output().slice(-4000)}`);
    throw e;
  } finally {
    if (!stopped) await node.stop();
    if (opts.home) opts.progress(`the run's home: ${home}`);
    else if (opts.keepHome) opts.progress(`the node's home is kept: ${home}`);
    else removeHome(home);
  }
}

/** After the last tenth, the node stopped: the census of its store and the run's result. */
async function storeResult(home: string, n: number, rows: ScaleRow[], progress: (msg: string) => void): Promise<ScaleResult> {
  progress("census of the store");
  const chainDir = join(home, "data", "chain");
  const snapshotsDir = join(home, "data", "snapshots");
  const chainBytes = du(chainDir);
  const raw = await censusOf(chainDir);
  const onDisk = await compactWhole(chainDir, [...raw.keys()]);
  const disk = {
    chainBytesPerDid: round(chainBytes / n),
    chainCompactedBytesPerDid: round(du(chainDir) / n),
    snapshotsBytesPerDid: existsSync(snapshotsDir) ? round(du(snapshotsDir) / n) : 0,
  };
  const buckets: ScaleResult["census"]["buckets"] = {};
  let total = 0;
  for (const [tag, e] of [...raw].sort((a, b) => b[1].bytes - a[1].bytes)) {
    const name = Bucket[tag] ?? `0x${tag.toString(16)}`;
    buckets[name] = { keys: e.keys, bytes: e.bytes, bytesPerDid: round(e.bytes / n), compactedBytesPerDid: round((onDisk.get(tag) ?? 0) / n) };
    total += e.bytes;
  }
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  return {
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
    dids: n,
    rows,
    census: { totalBytesPerDid: round(total / n), buckets },
    disk,
    ratios: {
      lastWriteOverFirst: round(last.writeOpsPerSec / first.writeOpsPerSec, 3),
      lastResolveOverFirst: round(last.resolve.reqPerSec / first.resolve.reqPerSec, 3),
    },
  };
}

/** The growth table for people (stderr). */
export function scaleTable(r: ScaleResult): string {
  const head = ["DIDs", "height", "writes/s", "resolve/s", "p50 ms", "p99 ms", "ceiling/s", "resolve/ceiling", "RSS MiB", "anon", "heap", "external", "disk B/DID", "tables", "written B/create", "SMT hit"];
  const lines = r.rows.map((x) => [x.dids, x.height, x.writeOpsPerSec, x.resolve.reqPerSec, x.resolve.p50Ms, x.resolve.p99Ms, x.ceiling.reqPerSec, x.resolveOverCeiling, x.rssMiB, x.anonMiB, x.heapMiB, x.externalMiB, x.diskBytesPerDid, x.tables, x.writtenBytesPerCreate, x.smtCacheHitRate].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => c.padStart(widths[i]!)).join("  ");
  const out = [fmt(head), ...lines.map(fmt), "", `census per DID, ${r.dids} DIDs: ${r.census.totalBytesPerDid} key+value bytes; on disk compacted whole:`];
  for (const [name, b] of Object.entries(r.census.buckets)) out.push(`  ${name.padEnd(16)} ${String(b.bytesPerDid).padStart(9)} ${String(b.compactedBytesPerDid).padStart(9)}  (${b.keys} keys)`);
  out.push(`du per DID after the run: store ${r.disk.chainBytesPerDid}, store compacted whole ${r.disk.chainCompactedBytesPerDid}, snapshots ${r.disk.snapshotsBytesPerDid}`);
  out.push(`writes/s last/first ${r.ratios.lastWriteOverFirst}, resolve/s last/first ${r.ratios.lastResolveOverFirst}`);
  return out.join("\n") + "\n";
}

runIfMain(import.meta.url, async () => {
  const { values } = parseArgs({
    options: {
      scale: { type: "string", default: "100000" },
      seconds: { type: "string", default: "5" },
      port: { type: "string" },
      out: { type: "string" },
      keep: { type: "boolean", default: false },
      home: { type: "string" },
      "stop-after": { type: "string" },
    },
  });
  const stopAfter = values["stop-after"] === undefined ? Infinity : Number(values["stop-after"]);
  if (!(stopAfter > 0)) throw new RangeError(`--stop-after must be a number of minutes above 0, got ${values["stop-after"]}`);
  if (stopAfter !== Infinity && !values.home) throw new Error("--stop-after needs --home, where the run is kept to go on from");
  const stopAt = Date.now() + stopAfter * 60_000;
  let interrupted = false;
  if (values.home) {
    // The first Ctrl-C (or SIGTERM) stops at the next batch and keeps the run. A second one abandons it:
    // process.exit runs the exit handlers, which stop the node (in its own process group, no signal reaches it).
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.on(signal, () => {
        if (interrupted) process.exit(signal === "SIGINT" ? 130 : 143);
        interrupted = true;
        process.stderr.write(`[scale] ${signal}: stopping after this batch (again to abandon)\n`);
      });
    }
  }
  const outcome = await benchScale({
    dids: Number(values.scale),
    seconds: Number(values.seconds),
    ...(values.port ? { port: Number(values.port) } : {}),
    progress: (m) => process.stderr.write(`[scale] ${m}\n`),
    keepHome: values.keep,
    ...(values.home ? { home: values.home, shouldStop: () => interrupted || Date.now() >= stopAt } : {}),
  });
  if ("stopped" in outcome) {
    process.stderr.write(`[scale] stopped at ${outcome.dids} of ${outcome.target} DIDs (${outcome.rows.length} tenths measured); the same command goes on from there\n`);
    return;
  }
  const text = JSON.stringify(outcome, null, 2) + "\n";
  process.stdout.write(text);
  if (values.out) writeFileSync(values.out, text);
  process.stderr.write(`\n${scaleTable(outcome)}`);
});
