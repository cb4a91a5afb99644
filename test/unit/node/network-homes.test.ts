/** initNetworkHomes: the p2p address of each node goes into its node.json and into its peers' lists. */
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initNetworkHomes } from "../../../src/node/network-homes.js";
import { NodeConfigError } from "../../../src/node/home.js";

interface P2pCfg {
  host?: string;
  port: number;
  persistentPeers: string[];
}

function p2pOf(home: string): P2pCfg {
  return (JSON.parse(readFileSync(join(home, "config", "node.json"), "utf8")) as { p2p: P2pCfg }).p2p;
}

describe("node: initNetworkHomes p2p hosts", function () {
  this.timeout(20_000);
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), "sid-homes-"))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("each node listens on its own host and dials its peers at theirs", async () => {
    const hosts = ["10.233.0.1", "10.233.0.2", "10.233.0.3"];
    const homes = await initNetworkHomes(root, { validators: 2, fullNodes: 1, chainId: "sid-hosts", ports: [8660, 8661, 8660, 8661, 8660, 8661], p2pHosts: hosts });
    expect(homes.map((h) => h.p2pHost)).to.deep.equal(hosts);
    for (const [i, h] of homes.entries()) {
      const p2p = p2pOf(h.home);
      expect(p2p.host).to.equal(hosts[i]);
      expect(p2p.port).to.equal(8661);
      expect(p2p.persistentPeers).to.deep.equal(hosts.filter((_, j) => j !== i).map((x) => `${x}:8661`));
    }
  });

  it("without hosts every node stays on loopback and node.json names no host", async () => {
    const homes = await initNetworkHomes(root, { validators: 2, fullNodes: 0, chainId: "sid-hosts", ports: [20001, 20002, 20003, 20004] });
    expect(homes.map((h) => h.p2pHost)).to.deep.equal(["127.0.0.1", "127.0.0.1"]);
    expect(p2pOf(homes[0]!.home).host).to.equal(undefined);
    expect(p2pOf(homes[0]!.home).persistentPeers).to.deep.equal(["127.0.0.1:20004"]);
  });

  it("refuses a host list that does not match the nodes", async () => {
    let err: unknown;
    try {
      await initNetworkHomes(root, { validators: 2, fullNodes: 0, chainId: "sid-hosts", ports: [1, 2, 3, 4], p2pHosts: ["10.233.0.1"] });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(NodeConfigError);
    expect((err as Error).message).to.match(/p2pHosts/);
  });
});
