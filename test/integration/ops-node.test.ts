/**
 * A validator and a full node made by `sid init`: the full node's home has
 * no key; net_peers, node_status and `sid status` show the peer; /health
 * answers 503 no-peers when the peer is gone; SIGTERM ends the process; a
 * store that does not open is named with its cause.
 */
import { expect } from "chai";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import WebSocket from "ws";
import { DevnetNode, waitFor } from "../helpers/devnet.js";
import { freePort, removeHome, runCli, tempHome } from "../helpers/node-process.js";

interface Health {
  status: string;
  height: number;
  syncing: boolean;
  reason?: string;
}

async function health(node: DevnetNode): Promise<{ code: number; body: Health }> {
  const r = await fetch(`${node.rpcUrl}/health`);
  return { code: r.status, body: (await r.json()) as Health };
}

describe("integration: sid init for each role, peers and health", function () {
  this.timeout(120_000);
  let root: string;
  let validator: DevnetNode | undefined;
  let full: DevnetNode | undefined;

  before(() => (root = tempHome("sid-ops-node-")));
  after(async () => {
    await full?.stop();
    await validator?.stop();
    removeHome(root);
  });

  it("sid init --full-node --genesis --peers makes a home without a validator key; the node lists its peer in net_peers, node_status and sid status", async () => {
    const vHome = join(root, "validator");
    const [vRpc, vP2p, fRpc, fP2p] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const initV = await runCli(["init", "--home", vHome, "--json"]);
    expect(initV.code, initV.stderr).to.equal(0);
    const v = JSON.parse(initV.stdout) as { role: string; validatorPublicKey: string; validatorAddress: string };
    expect(v.role).to.equal("validator");
    expect(v.validatorPublicKey).to.match(/^0[23][0-9a-f]{64}$/);
    writeFileSync(join(vHome, "config", "node.json"), JSON.stringify({ rpc: { port: vRpc }, p2p: { port: vP2p } }));

    const fHome = join(root, "full");
    const initF = await runCli(["init", "--home", fHome, "--full-node", "--genesis", join(vHome, "config", "genesis.json"), "--peers", `127.0.0.1:${vP2p}`, "--p2p-port", String(fP2p), "--rpc-port", String(fRpc)]);
    expect(initF.code, initF.stderr).to.equal(0);
    expect(initF.stdout).to.contain("(full node)");
    expect(existsSync(join(fHome, "config", "validator_key.json"))).to.equal(false);
    expect(readFileSync(join(fHome, "config", "genesis.json"), "utf8")).to.equal(readFileSync(join(vHome, "config", "genesis.json"), "utf8"));
    expect(JSON.parse(readFileSync(join(fHome, "config", "node.json"), "utf8"))).to.deep.equal({ p2p: { port: fP2p, persistentPeers: [`127.0.0.1:${vP2p}`] }, rpc: { port: fRpc } });

    validator = new DevnetNode({ name: "validator", home: vHome, role: "validator", rpcPort: vRpc, p2pPort: vP2p, p2pHost: "127.0.0.1" });
    full = new DevnetNode({ name: "full", home: fHome, role: "full", rpcPort: fRpc, p2pPort: fP2p, p2pHost: "127.0.0.1" });
    await validator.start(60_000);
    await full.start(60_000);
    await waitFor("the full node to connect and follow", async () => (await full!.rpc<{ count: number }>("net_peers")).count === 1 && (await full!.height()) >= 2, 60_000).catch((e: Error) => {
      // Say what the two processes said: a node that stopped after its RPC came up shows why here.
      throw new Error(`${e.message}\nfull node (running: ${full!.running}):\n${full!.output().slice(-3000)}\nvalidator (running: ${validator!.running}):\n${validator!.output().slice(-2000)}`);
    });

    const peers = await full.rpc<{ count: number; peers: { id: string; address: string; direction: string; height: number | null; score: number; connectedAt: string }[] }>("net_peers");
    expect(peers.peers).to.have.length(1);
    const p = peers.peers[0]!;
    expect(p.id).to.match(/^[0-9a-f]{40}$/);
    expect(p.address).to.equal(`127.0.0.1:${vP2p}`);
    expect(p.direction).to.equal("outbound");
    expect(p.height).to.be.a("number");
    expect(p.score).to.be.a("number");
    expect(Number.isNaN(Date.parse(p.connectedAt))).to.equal(false);
    const vPeers = await validator.rpc<{ peers: { id: string; direction: string }[] }>("net_peers");
    expect(vPeers.peers.map((q) => q.direction)).to.deep.equal(["inbound"]);

    const status = await full.rpc<{ peers: number; catchingUp: boolean; validator: string | null }>("node_status");
    expect(status.peers).to.equal(1);
    expect(status.catchingUp).to.be.a("boolean");
    expect(status.validator).to.equal(null);
    await waitFor("the full node to be healthy", async () => (await health(full!)).code === 200, 30_000);

    const cli = await runCli(["status", "--rpc", full.rpcUrl]);
    expect(cli.code, cli.stderr).to.equal(0);
    expect(cli.stdout).to.match(/peers: +1\n/);
    expect(cli.stdout).to.contain(p.id).and.contain("outbound");
    expect(cli.stdout).to.match(/catching up: +(no|yes)/);
    const cliJson = JSON.parse((await runCli(["status", "--rpc", full.rpcUrl, "--json"])).stdout) as { peers: number; peerList: { id: string }[] };
    expect(cliJson.peers).to.equal(1);
    expect(cliJson.peerList.map((q) => q.id)).to.deep.equal([p.id]);
  });

  it("a node meant to have peers and left with none answers /health 503 no-peers with the reason", async () => {
    expect(await validator!.stop()).to.equal(0);
    await waitFor("the full node to notice", async () => (await health(full!)).code === 503, 30_000);
    const h = await health(full!);
    expect(h.body.status).to.equal("no-peers");
    expect(h.body.reason).to.contain("no p2p peer connected");
    expect((await full!.rpc<{ peers: number }>("node_status")).peers).to.equal(0);
  });

  it("SIGTERM ends the node process cleanly (exit code 0) even while a client holds a half-sent request and a WebSocket it does not read", async () => {
    // The bound (10 s, then exit 1) is for a stop that hangs on the disk; clients must not hold the stop until their timeouts.
    const url = new URL(full!.rpcUrl);
    const slow = connect(Number(url.port), url.hostname);
    await new Promise<void>((r) => slow.once("connect", () => r()));
    slow.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
    slow.on("error", () => {});
    const ws = new WebSocket(`ws://${url.host}/ws`);
    ws.on("error", () => {});
    await new Promise<void>((r) => ws.once("open", () => r()));
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "subscribe", params: ["newBlocks"] }));
    ws.pause();
    try {
      expect(await full!.stop()).to.equal(0);
    } finally {
      slow.destroy();
      ws.terminate();
    }
    expect(full!.output()).to.contain("stopping sid node").and.contain("sid node stopped").and.not.contain("did not stop within");
  });

  it("a store that does not open is named with its path and LevelDB's cause, exit code 1", async () => {
    const fHome = join(root, "full");
    writeFileSync(join(fHome, "data", "chain", "CURRENT"), "garbage");
    const r = await runCli(["start", "--home", fHome]);
    expect(r.code).to.equal(1);
    const line = r.stderr.split("\n").find((l) => l.startsWith("error: "));
    expect(line).to.contain(`error: cannot open the chain store ${join(fHome, "data", "chain")}: `);
    expect(line).to.match(/CURRENT|Corruption/);
    expect(r.stderr).to.not.match(/^error: Database failed to open$/m);
  });
});
