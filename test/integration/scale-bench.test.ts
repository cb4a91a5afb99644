/**
 * The scale benchmark run in pieces (scripts/bench/scale.ts, `--home`): a
 * run stopped mid-tenth keeps its progress beside the node's store, and the
 * same call goes on from there to the end, the stopped tenth adding the
 * creates and seconds of both node runs. A tiny run: the point is the
 * bookkeeping across a real node restart, not the figures.
 */
import { expect } from "chai";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { benchScale, type ScaleResult, type ScaleStopped } from "../../scripts/bench/scale.js";
import { removeHome, tempHome } from "../helpers/node-process.js";

describe("scale benchmark in pieces", function () {
  this.timeout(180_000);
  let home: string;

  beforeEach(() => {
    home = tempHome("sid-scale-bench-");
  });
  afterEach(() => removeHome(home));

  it("stops mid-tenth with its progress kept, then goes on to the end on a restarted node", async () => {
    const n = 2_000;
    // Each tenth is 200 creates, two batches of 100; the run asks once before a tenth and once before each batch: the ninth question is before the second batch of the third tenth.
    let asked = 0;
    const first = (await benchScale({ dids: n, seconds: 1, home, progress: () => {}, shouldStop: () => ++asked > 8 })) as ScaleStopped;
    expect(first.stopped).to.equal(true);
    expect(first.dids).to.equal(500);
    expect(first.rows.map((r) => r.dids)).to.deep.equal([200, 400]);
    const saved = JSON.parse(readFileSync(join(home, "scale-progress.json"), "utf8"));
    expect(saved.partial).to.include({ measured: 100, unmeasured: 0, pieces: 1 });
    expect(saved.sample).to.have.length(500);

    // Another target in the same home is refused, the run left as it was.
    let refused: Error | undefined;
    await benchScale({ dids: 4_000, seconds: 1, home, progress: () => {} }).catch((e: Error) => (refused = e));
    expect(refused?.message).to.match(/holds a run to 2000 DIDs/);

    // A damaged progress file is named, not trusted.
    const kept = readFileSync(join(home, "scale-progress.json"), "utf8");
    writeFileSync(join(home, "scale-progress.json"), kept.slice(0, 100));
    let damaged: Error | undefined;
    await benchScale({ dids: n, seconds: 1, home, progress: () => {} }).catch((e: Error) => (damaged = e));
    expect(damaged?.message).to.match(/scale-progress\.json cannot be read/);
    writeFileSync(join(home, "scale-progress.json"), kept);

    const done = (await benchScale({ dids: n, seconds: 1, home, progress: () => {} })) as ScaleResult;
    expect("stopped" in done).to.equal(false);
    expect(done.rows.map((r) => r.dids)).to.deep.equal([200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000]);
    expect(done.rows.map((r) => r.pieces)).to.deep.equal([1, 1, 2, 1, 1, 1, 1, 1, 1, 1]);
    expect(done.rows.every((r) => r.unmeasured === 0 && r.writeOpsPerSec > 0)).to.equal(true);
    // Every create is in the store once: a DID record each.
    expect(done.census.buckets.Did!.keys).to.equal(n);
    expect(existsSync(join(home, "data", "chain"))).to.equal(true);
  });
});
