/**
 * The snapshot writer on a disk that fills up: a snapshot that would leave
 * less than snapshots.minFreeBytes is not started, one during which the disk
 * fills is given up with its unfinished directory removed, each is counted
 * and reported, and a snapshot is written again once there is room. Free
 * space is read through the writer's freeBytes, which the test controls;
 * the store and the files are real.
 */
import { expect } from "chai";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StateRecord } from "../../../src/chain/state.js";
import { SnapshotDir, SnapshotWriter, freeBytesOf, resolveSnapshotOptions, snapshotsWarning } from "../../../src/chain/snapshot-store.js";
import { ChainStore } from "../../../src/chain/store.js";
import { loggerOf } from "../../../src/log/logger.js";
import { numberedDidRecord } from "../../helpers/state-records.js";

const H = (s: string) => new Uint8Array(createHash("sha256").update(s).digest());
const MIB = 1024 * 1024;

const didRecord = (i: number): StateRecord => numberedDidRecord(i, "fault");

describe("chain/snapshot-store: a disk that fills up", function () {
  this.timeout(20_000);
  let dir: string;
  let store: ChainStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sid-snapshot-faults-"));
    store = await ChainStore.open(join(dir, "chain"));
    await store.initGenesis(H("genesis"), 1000, Array.from({ length: 300 }, (_, i) => didRecord(i)));
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads the free space of the snapshot directory's disk, or of its nearest existing parent", () => {
    expect(freeBytesOf(join(dir, "not", "made", "yet"))).to.equal(freeBytesOf(dir));
    expect(freeBytesOf(dir)).to.be.greaterThan(0);
  });

  it("does not start a snapshot that would leave less than minFreeBytes, gives up one during which the disk fills, and writes again once there is room", async () => {
    const snaps = new SnapshotDir(join(dir, "snapshots"));
    let free = 100 * MIB;
    let checks = 0;
    const logs: Array<Record<string, unknown>> = [];
    const w = new SnapshotWriter(store, snaps, resolveSnapshotOptions({ interval: 1, keep: 2, chunkBits: 6, minFreeBytes: 50 * MIB, busyShare: 1 }), loggerOf((_l, msg, f) => msg === "snapshot failed" && logs.push(f ?? {})), {
      freeBytes: () => {
        checks++;
        return free;
      },
    });
    const root = store.head().stateRoot;

    // Too little room before it starts: nothing is made.
    free = 40 * MIB;
    w.onCommitted(1, root);
    await w.idle();
    expect(w.stats()).to.include({ written: 0, failures: 1 });
    expect(w.stats().failing?.code).to.equal("SNAPSHOT_LOW_DISK");
    expect(readdirSync(snaps.dir)).to.deep.equal([]);

    // Room at the start, then the disk fills while chunks are written: the unfinished directory goes.
    free = 100 * MIB;
    checks = 0;
    const fillAfter = 5;
    let midway = 0;
    const w2Free = () => (checks > fillAfter ? 10 * MIB : 100 * MIB);
    const w2 = new SnapshotWriter(store, snaps, resolveSnapshotOptions({ interval: 1, keep: 2, chunkBits: 6, minFreeBytes: 50 * MIB, busyShare: 1 }), loggerOf(() => {}), {
      freeBytes: () => {
        checks++;
        if (checks === fillAfter) midway = readdirSync(join(snaps.dir, "2.tmp")).filter((n) => n.startsWith("chunk-")).length;
        return w2Free();
      },
    });
    w2.onCommitted(2, root);
    await w2.idle();
    expect(checks, "the writer checked the room chunk by chunk").to.be.greaterThan(fillAfter);
    expect(midway, "chunks were on disk when it filled").to.be.greaterThan(0);
    expect(w2.stats().failures).to.equal(1);
    expect(w2.stats().failing).to.include({ height: 2, code: "SNAPSHOT_LOW_DISK" });
    expect(readdirSync(snaps.dir)).to.deep.equal([]);
    expect(snaps.heights()).to.deep.equal([]);

    // Room again: written, and the failure no longer stands.
    w.onCommitted(3, root);
    await w.idle();
    expect(w.stats()).to.include({ written: 1, failures: 1, lastWritten: 3 });
    expect(w.stats().failing).to.equal(undefined);
    expect(snapshotsWarning(w.stats())).to.equal(undefined);
    expect(snaps.heights()).to.deep.equal([3]);
    expect(readdirSync(snaps.dir)).to.deep.equal(["3"]);

    // The next one needs room for about as much as the last: with less it is not started, and the last stays.
    const lastBytes = snaps.newestBytes();
    expect(lastBytes).to.be.greaterThan(0);
    free = 50 * MIB + lastBytes - 1;
    w.onCommitted(4, root);
    await w.idle();
    expect(w.stats()).to.include({ written: 1, failures: 2 });
    const warning = snapshotsWarning(w.stats());
    expect(warning).to.deep.include({ status: "failing", failures: 2, lastWritten: 3 });
    expect(warning?.error).to.include({ height: 4, code: "SNAPSHOT_LOW_DISK", path: snaps.dir });
    expect(snaps.heights()).to.deep.equal([3]);
    // Each failure logged once, with its path and code.
    expect(logs.map((f) => [f.height, f.code, f.path])).to.deep.equal([
      [1, "SNAPSHOT_LOW_DISK", snaps.dir],
      [4, "SNAPSHOT_LOW_DISK", snaps.dir],
    ]);
  });
});
