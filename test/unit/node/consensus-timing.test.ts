/** The node runs the chain's timing from genesis; node.json may override it only with a warning. Homes made for a network carry the timing in genesis. */
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseGenesis } from "../../../src/chain/genesis.js";
import { consensusOptionsOf } from "../../../src/node/node.js";
import { initNetworkHomes } from "../../../src/node/network-homes.js";

const G = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
const genesis = parseGenesis({
  chainId: "sid-t",
  genesisTime: "2026-01-01T00:00:00.000Z",
  validators: [{ name: "v0", publicKey: G, power: 10 }],
  params: { timing: { proposeMs: 400, prevoteMs: 200, precommitMs: 200, deltaMs: 100, commitMs: 150 } },
});

function recorder() {
  const warnings: { msg: string; fields?: Record<string, unknown> }[] = [];
  return { warnings, log: { warn: (msg: string, fields?: Record<string, unknown>) => warnings.push({ msg, fields }) } };
}

describe("node: consensus timing from genesis", function () {
  this.timeout(20_000);

  it("without a consensus section the engine gets the genesis timing, and nothing is warned", () => {
    const r = recorder();
    const o = consensusOptionsOf(genesis, undefined, "node.json", r.log);
    expect(o.timeoutCommitMs).to.equal(150);
    expect(o.tendermint).to.deep.equal({ proposeMs: 400, prevoteMs: 200, precommitMs: 200, deltaMs: 100 });
    expect(r.warnings).to.have.length(0);
  });

  it("node-local options pass through; values equal to genesis are not warned", () => {
    const r = recorder();
    const o = consensusOptionsOf(genesis, { catchUpAfterMs: 3000, initialSyncWaitMs: 500, timeoutCommitMs: 150, tendermint: { proposeMs: 400, maxFutureRoundsPerValidator: 8 } }, "node.json", r.log);
    expect(o.catchUpAfterMs).to.equal(3000);
    expect(o).to.not.have.property("initialSyncWaitMs");
    expect(o.tendermint).to.deep.equal({ proposeMs: 400, prevoteMs: 200, precommitMs: 200, deltaMs: 100, maxFutureRoundsPerValidator: 8 });
    expect(r.warnings).to.have.length(0);
  });

  it("a node.json timing that differs from genesis wins, with a warning naming each override", () => {
    const r = recorder();
    const o = consensusOptionsOf(genesis, { timeoutCommitMs: 1000, tendermint: { precommitMs: 900 } }, "/h/config/node.json", r.log);
    expect(o.timeoutCommitMs).to.equal(1000);
    expect(o.tendermint?.precommitMs).to.equal(900);
    expect(o.tendermint?.proposeMs).to.equal(400);
    expect(r.warnings).to.have.length(1);
    expect(String(r.warnings[0]!.fields?.overrides)).to.contain("timeoutCommitMs=1000 (genesis 150)").and.contain("tendermint.precommitMs=900 (genesis 200)");
    expect(r.warnings[0]!.fields?.file).to.equal("/h/config/node.json");
  });

  it("initNetworkHomes writes the timing into the shared genesis and only node-local options into node.json", async () => {
    const root = mkdtempSync(join(tmpdir(), "sid-timing-"));
    try {
      const homes = await initNetworkHomes(root, {
        validators: 2,
        fullNodes: 1,
        chainId: "sid-timing",
        ports: [20001, 20002, 20003, 20004, 20005, 20006],
        consensus: { tendermint: { proposeMs: 400, prevoteMs: 200, precommitMs: 200, deltaMs: 100 }, timeoutCommitMs: 150, catchUpAfterMs: 1000, initialSyncWaitMs: 1000 },
      });
      for (const h of homes) {
        const g = parseGenesis(JSON.parse(readFileSync(join(h.home, "config", "genesis.json"), "utf8")));
        expect(g.params.timing).to.deep.equal({ proposeMs: 400, prevoteMs: 200, precommitMs: 200, deltaMs: 100, commitMs: 150 });
        const cfg = JSON.parse(readFileSync(join(h.home, "config", "node.json"), "utf8")) as { consensus?: Record<string, unknown> };
        expect(cfg.consensus).to.deep.equal({ catchUpAfterMs: 1000, initialSyncWaitMs: 1000 });
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
