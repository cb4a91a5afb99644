/**
 * The export stream to a verifying mirror, for `npm run bench -- --section
 * export` (or `node dist/scripts/bench/export.js` alone, which starts its
 * own dev node):
 *  - a state of `ops` committed ops (9 creates to 1 update), submitted in
 *    batches without waiting (txs signed before, off the measured path);
 *  - the raw secp256k1 verification rate of this machine in the same run,
 *    one core: what verifying one op costs at least;
 *  - the mirror (scripts/mirror.ts) following the node from op 0 to the
 *    last: every op's sequence, block commit, tx inclusion and signature
 *    checked, and kept in its LevelDB: ops/s, and as a ratio of the raw
 *    verification rate;
 *  - the same pages fetched without verifying (the node and transport
 *    ceiling), and the `export` WebSocket topic streamed from op 0 (entries
 *    delivered per second, no verification).
 */
import { cpus } from "node:os";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { SidClient, createDidTx, updateDidTx, type SignedTx } from "../../src/client/index.js";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { secp } from "../../src/crypto/secp256k1.js";
import { addService } from "../../src/did/document-edit.js";
import type { ExportPage } from "../../src/rpc/export-methods.js";
import { removeHome, startNodeProcess, tempHome } from "../../test/helpers/node-process.js";
import { Mirror } from "../mirror.js";
import { leanCaller, round, runIfMain, verifyRate } from "./measure.js";

export interface ExportBenchOptions {
  rpcUrl: string;
  /** The node's home: the mirror trusts the validators of its genesis file. */
  home: string;
  ops: number;
  progress: (msg: string) => void;
}

const SUBMIT_BATCH = 100;
const PAGE = 1000;

/** Signed txs for `ops` ops: creates, and an update of every ninth DID created, after its create. */
function makeOps(chainId: string, ops: number): SignedTx[][] {
  const creates: SignedTx[] = [];
  const updates: SignedTx[] = [];
  while (creates.length + updates.length < ops) {
    const key = randomKeyPair();
    const c = createDidTx(chainId, key);
    creates.push(c);
    if (creates.length % 9 === 0 && creates.length + updates.length < ops) {
      const did = c.tx.signer;
      const doc = addService((c.tx.payload as { document: Parameters<typeof addService>[0] }).document, { id: `${did}#hub`, type: "LinkedDomains", serviceEndpoint: "https://hub.example" });
      updates.push(updateDidTx({ chainId, did, prevVersionId: "1", signer: did, seq: 1, vm: `${did}#key-1`, secretKey: key.secretKey }, doc));
    }
  }
  return [creates, updates];
}

/** Submit in batches without waiting, keeping the mempool bounded; resolve once it is empty. */
async function submitAll(client: SidClient, rpcUrl: string, txs: SignedTx[], progress: (m: string) => void): Promise<void> {
  const call = leanCaller(rpcUrl, 4);
  try {
    for (let i = 0; i < txs.length; i += SUBMIT_BATCH) {
      const body = txs.slice(i, i + SUBMIT_BATCH).map((t, j) => ({ jsonrpc: "2.0", id: j, method: "tx_submit", params: { tx: t.base64 } }));
      const res = (await call(JSON.stringify(body))) as Array<{ error?: { message: string } }>;
      const err = res.find((r) => r.error);
      if (err) throw new Error(`submit failed: ${err.error!.message}`);
      while ((await client.status()).mempool.size > 5_000) await new Promise((r) => setTimeout(r, 20));
      if ((i / SUBMIT_BATCH) % 50 === 0) progress(`submitted ${Math.min(i + SUBMIT_BATCH, txs.length)} / ${txs.length}`);
    }
    while ((await client.status()).mempool.size > 0) await new Promise((r) => setTimeout(r, 50));
  } finally {
    call.close();
  }
}

/** Pages from op 0 to `last`, not verified: ops/s the node and transport give. */
async function fetchOnly(rpcUrl: string, last: number): Promise<number> {
  const call = leanCaller(rpcUrl, 1);
  try {
    const t0 = performance.now();
    let after = 0;
    while (after < last) {
      const r = await call(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "registry_export", params: { after, limit: PAGE, blocks: true } }));
      if (r.error) throw new Error(`registry_export: ${r.error.message}`);
      const p = r.result as ExportPage;
      after = p.entries[p.entries.length - 1]!.seq;
    }
    return last / ((performance.now() - t0) / 1000);
  } finally {
    call.close();
  }
}

/** The export topic from op 0 until `last` has arrived: entries delivered per second. */
async function wsStream(rpcUrl: string, last: number): Promise<number> {
  const ws = new WebSocket(rpcUrl.replace("http://", "ws://") + "/ws");
  await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
  try {
    const t0 = performance.now();
    let seen = 0;
    await new Promise<void>((resolve, reject) => {
      ws.on("message", (data) => {
        const m = JSON.parse(String(data));
        if (m.error) return reject(new Error(`subscribe: ${m.error.message}`));
        if (m.method !== "subscription") return;
        const p = m.params.result as ExportPage;
        for (const e of p.entries) {
          if (e.seq !== seen + 1) return reject(new Error(`export topic gave op ${e.seq} after ${seen}`));
          seen = e.seq;
        }
        if (seen >= last) resolve();
      });
      ws.once("close", () => reject(new Error(`the export topic closed after op ${seen}`)));
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "subscribe", params: ["export", { after: 0, blocks: true }] }));
    });
    return last / ((performance.now() - t0) / 1000);
  } finally {
    ws.removeAllListeners("close");
    ws.close();
  }
}

export async function benchExport(o: ExportBenchOptions) {
  const client = new SidClient(o.rpcUrl);
  const chainId = await client.chainId();
  o.progress(`export: signing ${o.ops} ops`);
  const [creates, updates] = makeOps(chainId, o.ops);
  await submitAll(client, o.rpcUrl, creates!, o.progress);
  await submitAll(client, o.rpcUrl, updates!, o.progress);
  const first = (await client.rpc.call<ExportPage>("registry_export", { after: 0, limit: 1 })).last;
  o.progress(`export: ${first} ops committed; raw verification rate`);
  const verifyPerSec = verifyRate(secp, 3);
  const dir = mkdtempSync(join(tmpdir(), "sid-bench-mirror-"));
  try {
    o.progress("export: the mirror follows the node from op 0");
    const mirror = await Mirror.open({ dir, rpcUrl: o.rpcUrl, genesisFile: join(o.home, "config", "genesis.json") });
    let mirrored;
    try {
      mirrored = await mirror.run({ limit: PAGE });
    } finally {
      await mirror.close();
    }
    if (mirrored.seq !== first) throw new Error(`the mirror stopped at op ${mirrored.seq}, the node has ${first}`);
    const mirrorPerSec = mirrored.ops / mirrored.seconds;
    o.progress("export: the same pages fetched without verifying");
    const fetchPerSec = await fetchOnly(o.rpcUrl, first);
    o.progress("export: the export topic from op 0");
    const wsPerSec = await wsStream(o.rpcUrl, first);
    return {
      ops: first,
      pageLimit: PAGE,
      verify: { backend: secp.name, opsPerSec: round(verifyPerSec) },
      mirror: { opsPerSec: round(mirrorPerSec), seconds: round(mirrored.seconds, 2) },
      fetchOnly: { opsPerSec: round(fetchPerSec) },
      wsTopic: { opsPerSec: round(wsPerSec) },
      ratios: {
        mirrorOverVerify: round(mirrorPerSec / verifyPerSec, 3),
        mirrorOverFetchOnly: round(mirrorPerSec / fetchPerSec, 3),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, async () => {
  const ops = Number(process.argv[2] ?? "20000");
  const home = tempHome("sid-bench-export-");
  const node = await startNodeProcess(home, { heartbeatMs: 1_000, env: { SID_BENCH: "1", SID_LOG_LEVEL: "warn" } });
  try {
    const progress = (m: string) => process.stderr.write(`[bench] ${m}\n`);
    const out = { machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version }, export: await benchExport({ rpcUrl: node.rpcUrl, home, ops, progress }) };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
  } finally {
    await node.stop();
    removeHome(home);
  }
});
