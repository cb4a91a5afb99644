/**
 * A node whose snapshot directory cannot be written: snapshots are optional,
 * so the chain goes on committing, nothing half written is left or served,
 * and the failure is visible (logged once each with path and errno, counted
 * in /metrics, a `snapshots` warning on /health, which stays 200); once the
 * fault is gone the next snapshot is written and the warning clears.
 *
 * The fault: the directory made read-only (mode 0500), or, as root (whom
 * modes do not stop), a regular file where the directory should be; and,
 * where this process may mount file systems (root), a real full disk: a
 * small tmpfs on the snapshot directory, filled but for a page. The dev node
 * runs in this process on a loopback port.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SnapshotDir } from "../../src/chain/snapshot-store.js";
import { type LogFields, loggerOf } from "../../src/log/logger.js";
import { homePaths, initHome } from "../../src/node/home.js";
import { SidNode } from "../../src/node/node.js";
import { waitFor } from "../helpers/devnet.js";
import { removeHome, tempHome } from "../helpers/node-process.js";

const INTERVAL = 3;
const asRoot = process.getuid?.() === 0;

/** A dev home with `snapshots` in its node.json. */
async function devHome(home: string, snapshots: Record<string, number>): Promise<ReturnType<typeof homePaths>> {
  await initHome(home, { dev: true });
  const paths = homePaths(home);
  const cfg = (existsSync(paths.configFile) ? JSON.parse(readFileSync(paths.configFile, "utf8")) : {}) as Record<string, unknown>;
  cfg.snapshots = snapshots;
  writeFileSync(paths.configFile, JSON.stringify(cfg, null, 2));
  mkdirSync(paths.dataDir, { recursive: true });
  return paths;
}

describe("integration: snapshot write failures", function () {
  this.timeout(60_000);
  let home = "";
  let node: SidNode | undefined;
  let snapDir = "";

  after(async () => {
    await node?.stop().catch(() => undefined);
    if (snapDir && existsSync(snapDir) && statSync(snapDir).isDirectory()) chmodSync(snapDir, 0o755);
    if (home) removeHome(home);
  });

  it("the chain goes on, nothing half written is left, the failure is counted and shown, and a later snapshot succeeds", async () => {
    home = tempHome("sid-snapfault-");
    const paths = await devHome(home, { interval: INTERVAL, keep: 2, busyShare: 1 });
    snapDir = join(paths.dataDir, "snapshots");
    if (asRoot) writeFileSync(snapDir, "not a directory\n");
    else {
      mkdirSync(snapDir, { recursive: true });
      chmodSync(snapDir, 0o500);
    }

    const failed: LogFields[] = [];
    const log = loggerOf((_level, msg, f) => {
      if (msg === "snapshot failed") failed.push(f ?? {});
    });
    node = await SidNode.start({ home, dev: true, rpc: { port: 0 }, heartbeatMs: 100, mempool: {} }, log);
    const n = node;
    const writer = n.snapshots!;
    expect(writer, "snapshots are on").to.not.equal(undefined);

    await waitFor("two snapshot failures", async () => writer.stats().failures >= 2, 30_000, 50);
    await writer.idle();
    const failedAt = n.store.head().height;
    const stats = writer.stats();
    expect(stats.written).to.equal(0);
    // Logged once per failure, with the path and the errno.
    expect(failed.length).to.equal(stats.failures);
    const expectedCodes = asRoot ? ["EEXIST", "ENOTDIR"] : ["EACCES"];
    for (const f of failed) {
      expect(expectedCodes).to.include(f.code);
      expect(String(f.path)).to.contain(snapDir);
      expect(f.height as number % INTERVAL).to.equal(0);
    }

    // Healthy, with the warning; counted in the metrics.
    const health = await fetch(`${n.rpcUrl}/health`);
    expect(health.status).to.equal(200);
    const body = (await health.json()) as { status: string; snapshots?: { status: string; failures: number; lastWritten: number; error: { code: string; path: string; height: number } } };
    expect(body.status).to.equal("ok");
    expect(body.snapshots?.status).to.equal("failing");
    expect(body.snapshots!.failures).to.be.at.least(2);
    expect(body.snapshots!.lastWritten).to.equal(0);
    expect(expectedCodes).to.include(body.snapshots!.error.code);
    const metrics = await (await fetch(`${n.rpcUrl}/metrics`)).text();
    const failures = Number(/^sid_snapshot_failures_total (\d+)/m.exec(metrics)?.[1]);
    expect(failures).to.be.at.least(2);
    expect(metrics).to.match(/^sid_snapshots_written_total 0$/m);

    // Nothing of a failed snapshot is there, so nothing can be served (mode 0500 still lets its owner list it).
    if (!asRoot) expect(readdirSync(snapDir)).to.deep.equal([]);
    expect(new SnapshotDir(snapDir).heights()).to.deep.equal([]);
    const failedHeights = failed.map((f) => f.height as number);

    // The chain went on, with no storage fault.
    await waitFor("the chain commits on", async () => n.store.head().height >= failedAt + 2 * INTERVAL, 30_000, 50);
    expect(n.fault).to.equal(undefined);

    // The fault gone, the next snapshot is written and the warning clears.
    if (asRoot) rmSync(snapDir);
    else chmodSync(snapDir, 0o755);
    await waitFor("a snapshot written", async () => writer.stats().written >= 1, 30_000, 50);
    await writer.idle();
    expect(writer.stats().failing).to.equal(undefined);
    const heights = new SnapshotDir(snapDir).heights();
    expect(heights.length).to.be.at.least(1);
    expect(heights[0]! % INTERVAL).to.equal(0);
    // Of the heights that failed, neither a snapshot nor an unfinished one (the writer may be busy with a later height meanwhile).
    const entries = readdirSync(snapDir);
    for (const h of failedHeights) {
      expect(entries).to.not.include(String(h));
      expect(entries).to.not.include(`${h}.tmp`);
    }
    const after = (await (await fetch(`${n.rpcUrl}/health`)).json()) as { status: string; snapshots?: unknown };
    expect(after.status).to.equal("ok");
    expect(after.snapshots).to.equal(undefined);
    const metricsAfter = await (await fetch(`${n.rpcUrl}/metrics`)).text();
    expect(Number(/^sid_snapshots_written_total (\d+)/m.exec(metricsAfter)?.[1])).to.be.at.least(1);
    expect(Number(/^sid_snapshot_last_height (\d+)/m.exec(metricsAfter)?.[1])).to.be.at.least(heights[heights.length - 1]!);
  });
  describe("on a full disk", () => {
    let fullHome = "";
    let fullNode: SidNode | undefined;
    let mountPoint = "";

    after(async () => {
      await fullNode?.stop().catch(() => undefined);
      if (mountPoint) spawnSync("umount", [mountPoint]);
      if (fullHome) removeHome(fullHome);
    });

    it("a snapshot that meets ENOSPC midway is removed, counted with its errno, and the chain goes on", async function () {
      fullHome = tempHome("sid-snapfull-");
      // No reserve: the snapshot writes until the disk refuses.
      const paths = await devHome(fullHome, { interval: INTERVAL, keep: 2, chunkBits: 4, minFreeBytes: 0, busyShare: 1 });
      const dir = join(paths.dataDir, "snapshots");
      mkdirSync(dir);
      if (!asRoot || spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]).status !== 0) this.skip();
      mountPoint = dir;
      // All but one page taken: the first chunk file fits, the next does not.
      const filler = join(dir, "filler");
      let bytes = 0;
      for (;;) {
        const r = spawnSync("sh", ["-c", `head -c 4096 /dev/zero >> ${filler}`]);
        if (r.status !== 0) break;
        bytes += 4096;
      }
      expect(bytes, "the tmpfs filled").to.be.greaterThan(0);
      rmSync(filler);
      writeFileSync(filler, Buffer.alloc(bytes - 4096));

      const failed: LogFields[] = [];
      fullNode = await SidNode.start({ home: fullHome, dev: true, rpc: { port: 0 }, heartbeatMs: 100, mempool: {} }, loggerOf((_l, msg, f) => msg === "snapshot failed" && failed.push(f ?? {})));
      const n = fullNode;
      const writer = n.snapshots!;
      await waitFor("a snapshot failure", async () => writer.stats().failures >= 1, 30_000, 50);
      await writer.idle();
      expect(failed[0]?.code).to.equal("ENOSPC");
      // The file it was writing: the snapshot was midway.
      expect(String(failed[0]?.path)).to.match(/\/snapshots\/\d+\.tmp\/(chunk-\d+|manifest)\.cbor$/);
      const h = failed[0]!.height as number;
      expect(readdirSync(dir)).to.not.include(`${h}.tmp`);
      expect(readdirSync(dir)).to.not.include(String(h));
      const at = n.store.head().height;
      await waitFor("the chain commits on", async () => n.store.head().height >= at + INTERVAL, 30_000, 50);
      expect(n.fault).to.equal(undefined);

      // Room again: the next snapshot is written.
      rmSync(filler);
      await waitFor("a snapshot written", async () => writer.stats().written >= 1, 30_000, 50);
      await writer.idle();
      expect(new SnapshotDir(dir).heights().length).to.be.at.least(1);
    });
  });
});
