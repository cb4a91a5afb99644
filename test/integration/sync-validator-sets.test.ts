/**
 * Block sync through validator-set changes, with real node processes on
 * loopback: the trustees add a validator, change a power and remove one;
 * then a full node started from genesis checks every commit and vote
 * against the set of its own height, reaches the head, follows it for 50
 * blocks, and bans no honest peer (their current votes, replayed on
 * connect, are for heights whose set it cannot know yet). Then two more
 * genesis validators leave, so the genesis set holds 10 of its 40 among the
 * signers: a new node state-syncs, trusting the snapshot header by the light
 * client's bisection over its peers' headers, while its RPC port answers
 * /health 503 "state-sync", and ends with the validators' state root and
 * documents.
 */
import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { SnapshotDir } from "../../src/chain/snapshot-store.js";
import { generateMnemonic } from "../../src/crypto/hd.js";
import { SidClient, createDidTx } from "../../src/client/index.js";
import { RegistryClient } from "../../src/client/registry-client.js";
import { readTrusteeKeyFile } from "../../src/cli/gov.js";
import { homePaths } from "../../src/node/home.js";
import { runCli } from "../helpers/node-process.js";
import { didKeyOf } from "../helpers/hd-fast.js";
import { type DevnetNode, createDevnet, waitFor, waitForHeight } from "../helpers/devnet.js";
import { type CommittedTx, checkInvariants } from "../helpers/invariants.js";

interface ValidatorsJson {
  validators: { address: string; publicKey: string; power: number }[];
  hash: string;
}

async function publicKeyOf(node: DevnetNode): Promise<string> {
  const set = await node.rpc<ValidatorsJson>("validators_get", { height: 1 });
  return set.validators.find((v) => v.address === node.info.address)!.publicKey;
}

/** The trustee (the first home's key, threshold 1) changes the set; returns the height the change executed at. */
async function changeValidator(via: DevnetNode, trusteeHome: string, action: { publicKey: string; name: string; power: number }): Promise<number> {
  const key = await readTrusteeKeyFile(homePaths(trusteeHome).trusteeKeyFile);
  const r = await RegistryClient.at(via.rpcUrl).propose({ kind: "validator/set", ...action }, key);
  expect(r.executed, "threshold 1: the proposal runs at once").to.equal(true);
  return r.height;
}

async function powersAt(node: DevnetNode, height: number): Promise<Record<string, number>> {
  const set = await node.rpc<ValidatorsJson>("validators_get", { height });
  return Object.fromEntries(set.validators.map((v) => [v.address, v.power]));
}

function editNodeJson(home: string, edit: (cfg: Record<string, unknown>) => void): void {
  const file = join(home, "config", "node.json");
  const cfg = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  edit(cfg);
  writeFileSync(file, JSON.stringify(cfg, null, 2) + "\n");
}

async function createDids(node: DevnetNode, chainId: string, count: number): Promise<CommittedTx[]> {
  const m = generateMnemonic();
  const client = new SidClient(node.rpcUrl);
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const r = await client.submitAndCommit(createDidTx(chainId, didKeyOf(m, i)), 30_000);
      return { hash: r.hash, height: r.height };
    }),
  );
}

describe("integration: a full node syncs from genesis through validator-set changes", function () {
  this.timeout(240_000);

  it("after an addition, a power change and a removal, a new full node reaches the head, follows 50 blocks and bans no honest peer", async () => {
    const net = await createDevnet({ validators: 4, fullNodes: 3, startOnly: [] });
    try {
      const [v0, v1, v2, v3] = net.validators as [DevnetNode, DevnetNode, DevnetNode, DevnetNode];
      const [added, follower, joiner] = net.fullNodes as [DevnetNode, DevnetNode, DevnetNode];
      // Every node takes a snapshot every 10 blocks: the same heights, the same manifests.
      for (const n of net.nodes) editNodeJson(n.home, (cfg) => (cfg.snapshots = { interval: 10, keep: 2, chunkBits: 4, busyShare: 1 }));
      await Promise.all([v0, v1, v2, v3].map((n) => n.start()));
      await waitForHeight(net.validators, 2);
      const committed = await createDids(v0, net.chainId, 4);

      // Addition: a fresh key, made by `sid validator init`, signs from H+2.
      const init = await runCli(["validator", "init", "--home", added.home, "--json"]);
      expect(init.code, init.stderr).to.equal(0);
      const fresh = JSON.parse(init.stdout) as { publicKey: string; address: string };
      const addedAt = await changeValidator(v0, v0.home, { publicKey: fresh.publicKey, name: "validator-new", power: 10 });
      await added.start();
      const five = [v0, v1, v2, v3, added];
      await waitForHeight(five, addedAt + 4, 45_000).catch(async (e) => {
        console.log(addedAt, await Promise.all(five.map((n) => n.height().catch(() => -1))));
        console.log(added.output().split("\n").slice(-40).join("\n"));
        throw e;
      });
      expect(Object.keys(await powersAt(v0, addedAt + 2))).to.include(fresh.address);

      // Power change: validator 1 weighs 20.
      const changedAt = await changeValidator(v0, v0.home, { publicKey: await publicKeyOf(v1), name: "validator-1", power: 20 });
      await waitForHeight(five, changedAt + 3, 30_000);
      expect((await powersAt(v0, changedAt + 2))[v1.info.address!]).to.equal(20);
      expect((await powersAt(v0, changedAt + 1))[v1.info.address!]).to.equal(10);
      committed.push(...(await createDids(v1, net.chainId, 4)));

      // Removal: validator 3 leaves the set (its process follows).
      const removedAt = await changeValidator(v0, v0.home, { publicKey: await publicKeyOf(v3), name: "", power: 0 });
      await waitForHeight(five, removedAt + 3, 30_000);
      expect(Object.keys(await powersAt(v0, removedAt + 2))).not.to.include(v3.info.address);
      committed.push(...(await createDids(added, net.chainId, 4)));

      // A full node from genesis: every height's commit checked against that height's set.
      await follower.start();
      const head = Math.max(...(await Promise.all(five.map((n) => n.height()))));
      await waitForHeight([follower], head, 60_000);
      await waitForHeight([follower], head + 50, 120_000);
      const everyone = [...five, follower];
      for (const n of everyone) expect(n.output(), `${n.name} banned a peer`).not.to.match(/peer banned/);
      expect(follower.output()).not.to.match(/vote with a bad signature or from a non-validator|proposal with a bad signature/);
      await checkInvariants(everyone, committed);

      // Two more genesis validators leave: from here the genesis set holds 10 of its 40 among the signers (v0), not more than 1/3.
      const signers = [v0, added];
      const dids = Array.from({ length: 3 }, () => createDidTx(net.chainId, randomKeyPair()));
      const client = new SidClient(v0.rpcUrl);
      for (const t of dids) await client.submitAndCommit(t, 30_000);
      await changeValidator(v0, v0.home, { publicKey: await publicKeyOf(v1), name: "", power: 0 });
      const movedAt = await changeValidator(v0, v0.home, { publicKey: await publicKeyOf(v2), name: "", power: 0 });
      await waitForHeight(signers, movedAt + 3, 30_000);
      expect(Object.keys(await powersAt(v0, movedAt + 2)).sort()).to.deep.equal([v0.info.address, fresh.address].sort());
      const snaps = new SnapshotDir(join(v0.home, "data", "snapshots"));
      await waitFor("a snapshot after the set moved", async () => (snaps.heights()[0] ?? 0) >= movedAt + 2, 40_000);

      // A new node state-syncs; its RPC port says so until it serves.
      editNodeJson(joiner.home, (cfg) => (cfg.stateSync = { enabled: true, offerWaitMs: 500 }));
      await joiner.start(60_000);
      const seen: Array<{ code: number; status: string; reason?: string }> = [];
      await waitFor(
        "the joining node serving",
        async () => {
          const r = await fetch(`${joiner.rpcUrl}/health`).catch(() => undefined);
          if (r) seen.push({ code: r.status, ...((await r.json()) as { status: string; reason?: string }) });
          return /sid node running/.test(joiner.output());
        },
        60_000,
        100,
      );
      const during = seen.find((b) => b.status === "state-sync");
      expect(during, `health answers: ${JSON.stringify(seen.slice(0, 3))}`).to.not.equal(undefined);
      expect(during!.code).to.equal(503);
      expect(during!.reason).to.match(/^state sync: /);
      const out = joiner.output();
      expect(out).to.include("state sync done");
      const trusted = /snapshot header trusted height=(\d+) intermediateHeaders=(\d+)/.exec(out);
      expect(trusted, out.slice(-3000)).to.not.equal(null);
      expect(Number(trusted![1])).to.be.at.least(movedAt + 2);
      expect(Number(trusted![2]), "bisection trusted headers between genesis and the snapshot").to.be.greaterThan(0);
      expect(out).not.to.match(/peer refused|peer banned/);

      // The same state as the validators, and it follows.
      const target = (await v0.height()) + 2;
      await waitForHeight([joiner, v0], target, 30_000);
      const rootAt = async (n: DevnetNode) => (await n.rpc<{ header: { stateRoot: string } }>("block_get", { height: target })).header.stateRoot;
      expect(await rootAt(joiner)).to.equal(await rootAt(v0));
      const joinerClient = new SidClient(joiner.rpcUrl);
      for (const t of dids) expect((await joinerClient.resolve(t.tx.signer)).didDocument).to.deep.equal((await client.resolve(t.tx.signer)).didDocument);
    } finally {
      await net.cleanup();
    }
  });
});
