/**
 * State sync with real processes: a single validator with a few thousand
 * DIDs takes a snapshot every 10 blocks; a new full node (no validator key)
 * restores the state from its snapshots instead of replaying the chain,
 * then block-syncs and follows. A second peer (in this process, over a copy
 * of the validator's store and snapshots) offers the same snapshot with
 * every chunk tampered (a record changed, or a decompression bomb): the full
 * node refuses and penalises it, and still completes from the honest
 * validator.
 */
import { expect } from "chai";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SidClient, createDidTx } from "../../src/client/index.js";
import { addService } from "../../src/did/document-edit.js";
import { initNetworkHomes } from "../../src/node/network-homes.js";
import { ChainStore } from "../../src/chain/store.js";
import { SnapshotDir } from "../../src/chain/snapshot-store.js";
import { MAX_CHUNK_DATA_BYTES, compressChunk } from "../../src/chain/snapshot.js";
import { decodeCanonical, encodeCanonical } from "../../src/chain/codec.js";
import { genesisHash } from "../../src/chain/genesis.js";
import { homePaths, loadGenesis } from "../../src/node/home.js";
import { P2pNetwork } from "../../src/p2p/network.js";
import { Channel } from "../../src/p2p/frames.js";
import { nodeKeyOf } from "../../src/p2p/node-key.js";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { SnapshotServer, registerSnapshotChannel } from "../../src/p2p/snapshot-sync.js";
import type { CanonicalValue } from "../../src/chain/codec.js";
import { freePort } from "../helpers/node-process.js";
import { DevnetNode, FAST_CONSENSUS, waitFor, waitForHeight } from "../helpers/devnet.js";

const CHAIN_ID = "sid-statesync";
const DIDS = 2_000;

function editNodeJson(home: string, edit: (cfg: Record<string, unknown>) => void): void {
  const file = join(home, "config", "node.json");
  const cfg = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  edit(cfg);
  writeFileSync(file, JSON.stringify(cfg, null, 2) + "\n");
}

async function rpc<T>(url: string, method: string, params: Record<string, unknown>): Promise<{ result?: T; error?: { code: number; message: string; data?: Record<string, unknown> } }> {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  return (await r.json()) as never;
}

describe("integration: state sync from snapshots", function () {
  this.timeout(120_000);
  let root = "";
  let validator: DevnetNode;
  let full: DevnetNode;
  let liar: { network: P2pNetwork; store: ChainStore } | undefined;

  afterEach(function () {
    if (this.currentTest?.state !== "failed") return;
    if (process.env.SID_TEST_DUMP) writeFileSync(process.env.SID_TEST_DUMP, `--- validator output ---\n${validator?.output()}\n--- full node output ---\n${full?.output()}`);
    console.log(`--- validator output ---\n${validator?.output().slice(-3000)}\n--- full node output ---\n${full?.output().slice(-3000)}`);
  });

  after(async () => {
    await full?.stop();
    await validator?.stop();
    await liar?.network.stop();
    await liar?.store.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("restores a new full node from snapshots, refuses a lying peer's chunks, then follows the chain", async () => {
    root = mkdtempSync(join(tmpdir(), "sid-statesync-"));
    const ports: number[] = [];
    while (ports.length < 5) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    const [v, f] = await initNetworkHomes(root, { validators: 1, fullNodes: 1, chainId: CHAIN_ID, ports: ports.slice(0, 4), consensus: FAST_CONSENSUS });
    editNodeJson(v!.home, (cfg) => {
      cfg.heartbeatMs = 100;
      cfg.snapshots = { interval: 10, keep: 50, chunkBits: 6, busyShare: 1 };
    });
    validator = new DevnetNode(v!);
    full = new DevnetNode(f!);
    await validator.start();

    // A few thousand DIDs through the real RPC path.
    const client = new SidClient(validator.rpcUrl);
    // Signed before submitting, so the node sees them as fast as it takes them.
    const keys = Array.from({ length: DIDS }, () => randomKeyPair());
    const txs = keys.map((k) => createDidTx(CHAIN_ID, k));
    const dids = txs.map((t) => t.tx.signer);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < DIDS) await client.submit(txs[next++]!, false);
      }),
    );
    await waitFor("every create committed", async () => {
      for (let i = 0; i < dids.length; i += 97) if (!(await client.resolve(dids[i]!)).didDocument) return false;
      return (await client.resolve(dids[dids.length - 1]!)).didDocument !== null;
    }, 60_000, 300);
    const createdBy = await validator.height();
    const snaps = new SnapshotDir(join(v!.home, "data", "snapshots"));
    await waitFor("a snapshot after the creates", async () => (snaps.heights()[0] ?? 0) > createdBy, 30_000);

    // The lying peer: a copy of the validator's store and snapshots, every chunk with one record changed or, for odd
    // indexes, a small file that decompresses past the bound on a chunk's data.
    await validator.stop();
    const liarHome = join(root, "liar");
    cpSync(join(v!.home, "data", "chain"), join(liarHome, "chain"), { recursive: true });
    cpSync(join(v!.home, "data", "snapshots"), join(liarHome, "snapshots"), { recursive: true });
    const liarSnaps = new SnapshotDir(join(liarHome, "snapshots"));
    const shared = liarSnaps.heights()[0]!;
    let tampered = 0;
    const bomb = brotliCompressSync(Buffer.alloc(MAX_CHUNK_DATA_BYTES + (1 << 20)), { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } });
    for (const h of liarSnaps.heights()) {
      const dir = join(liarHome, "snapshots", String(h));
      for (const name of readdirSync(dir).filter((n) => n.startsWith("chunk-"))) {
        const c = decodeCanonical(brotliDecompressSync(readFileSync(join(dir, name)))) as { index: number; items: [string, Uint8Array][] };
        if (c.index % 2 === 1) {
          writeFileSync(join(dir, name), bomb);
        } else {
          const bytes = new Uint8Array(c.items[0]![1]);
          bytes[bytes.length - 1] ^= 1;
          c.items[0]![1] = bytes;
          writeFileSync(join(dir, name), await compressChunk(encodeCanonical(c as unknown as CanonicalValue)));
        }
        tampered++;
      }
    }
    expect(tampered).to.be.greaterThan(10);
    // Slow blocks from here on: the shared snapshot stays the newest one both peers offer.
    editNodeJson(v!.home, (cfg) => (cfg.heartbeatMs = 1_000));
    await validator.start();

    const store = await ChainStore.open(join(liarHome, "chain"));
    const genesis = loadGenesis(homePaths(v!.home));
    const network = new P2pNetwork({ port: ports[4]!, host: "127.0.0.1" }, { chainId: CHAIN_ID, genesisHash: genesisHash(genesis), nodeKey: nodeKeyOf(randomKeyPair().secretKey) });
    for (const ch of [Channel.Tx, Channel.Consensus, Channel.Evidence, Channel.BlockSync]) network.registerChannel<CanonicalValue>(ch, { decode: (x) => x, onMessage: () => {} });
    registerSnapshotChannel(network, new SnapshotServer(network, { dir: liarSnaps, getBlock: (h) => store.getBlock(h), getCommit: (h) => store.getCommit(h) }));
    await network.start();
    liar = { network, store };

    editNodeJson(f!.home, (cfg) => {
      const p2p = cfg.p2p as { persistentPeers: string[] };
      p2p.persistentPeers = [...p2p.persistentPeers, `127.0.0.1:${ports[4]}`];
      cfg.stateSync = { enabled: true, offerWaitMs: 1_000 };
    });
    await full.start(60_000);
    // The RPC port answers at once: /health 503 "state-sync" until the restored node takes the port over.
    const seen: Array<{ code: number; status: string }> = [];
    await waitFor(
      "the restored node serving",
      async () => {
        const h = await fetch(`${full.rpcUrl}/health`).catch(() => undefined);
        if (h) seen.push({ code: h.status, ...((await h.json()) as { status: string }) });
        return /sid node running/.test(full.output());
      },
      60_000,
      100,
    );
    expect(seen.find((b) => b.status === "state-sync")?.code, JSON.stringify(seen.slice(0, 3))).to.equal(503);
    const out = full.output();
    expect(out, "progress lines").to.match(/state sync: chunks \d+\/\d+, [\d.]+ MB, [\d.]+ MB\/s, .* left/);
    expect(out, "the lying peer refused").to.match(new RegExp(`peer refused.*${network.nodeId}|${network.nodeId}.*peer refused`));
    expect(out, "for a changed record or a decompression bomb").to.match(/peer refused.*(subtree root|decompresses past \d+ bytes)/);
    expect(out).to.include("state sync done");
    const status = await full.rpc<{ height: number }>("node_status");
    expect(status.height).to.be.at.least(shared);

    // DIDs created before the snapshot height resolve on the new node, with the validator's documents.
    const fullClient = new SidClient(full.rpcUrl);
    for (const did of [dids[0]!, dids[777]!, dids[DIDS - 1]!]) {
      const a = await fullClient.resolve(did);
      const b = await client.resolve(did);
      expect(a.didDocument).to.deep.equal(b.didDocument);
    }
    // It follows the chain: a DID created now reaches it.
    const later = createDidTx(CHAIN_ID, randomKeyPair());
    const r = await client.submitAndCommit(later, 30_000);
    await waitForHeight([full], r.height, 30_000);
    expect((await fullClient.resolve(later.tx.signer)).didDocument?.id).to.equal(later.tx.signer);

    // A DID created before the snapshot height and updated after it: its current version resolves, its first is not here.
    const updated = await client.updateDid(dids[0]!, keys[0]!, (doc) => addService(doc, { id: `${dids[0]}#home`, type: "LinkedDomains", serviceEndpoint: "https://example.com/" }));
    await waitForHeight([full], updated.height, 30_000);
    expect((await fullClient.resolve(dids[0]!)).didDocument?.service?.length).to.equal(1);
    const v1 = await rpc(full.rpcUrl, "did_resolve", { did: dids[0]!, versionId: "1" });
    expect(v1.error?.code).to.equal(1203);
    const http = await fetch(`${full.rpcUrl}/1.0/identifiers/${encodeURIComponent(dids[0]!)}?versionId=1`);
    expect(http.status).to.equal(404);
    expect(await http.text()).to.match(/archive node/);

    // History before its first height is not there: a typed error naming that height.
    for (const [method, params] of [
      ["block_get", { height: 1 }],
      ["did_history", { did: dids[0]! }],
    ] as const) {
      const r = await rpc(full.rpcUrl, method, params);
      expect(r.error?.code, method).to.equal(1203);
      expect(r.error?.data?.firstHeight, method).to.equal(shared);
      expect(r.error?.message, method).to.match(/archive node/);
    }
    // The block at its first height is there, and every block after it.
    expect((await rpc(full.rpcUrl, "block_get", { height: shared })).result).to.not.equal(undefined);
  });
});
