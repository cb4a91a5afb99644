/**
 * Block sync through validator-set changes, with real node processes on
 * loopback: the trustees add a validator, change a power and remove one;
 * then a full node started from genesis checks every commit and vote
 * against the set of its own height, reaches the head, follows it for 50
 * blocks, and bans no honest peer (their current votes, replayed on
 * connect, are for heights whose set it cannot know yet).
 */
import { expect } from "chai";
import { generateMnemonic } from "../../src/crypto/hd.js";
import { SidClient, createDidTx } from "../../src/client/index.js";
import { RegistryClient } from "../../src/client/registry-client.js";
import { readTrusteeKeyFile } from "../../src/cli/gov.js";
import { homePaths } from "../../src/node/home.js";
import { runCli } from "../helpers/node-process.js";
import { didKeyOf } from "../helpers/hd-fast.js";
import { type DevnetNode, createDevnet, waitForHeight } from "../helpers/devnet.js";
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
    const net = await createDevnet({ validators: 4, fullNodes: 2, startOnly: [0, 1, 2, 3] });
    try {
      const [v0, v1, v2, v3] = net.validators as [DevnetNode, DevnetNode, DevnetNode, DevnetNode];
      const [added, follower] = net.fullNodes as [DevnetNode, DevnetNode];
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
    } finally {
      await net.cleanup();
    }
  });
});
