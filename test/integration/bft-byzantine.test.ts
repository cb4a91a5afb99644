/**
 * Faults and governance on the multi-validator path, with real node
 * processes on loopback (evidence and validator-set changes): a Byzantine validator
 * whose key runs in two processes at once, and validator-set changes by the
 * trustees (removal: the node follows; addition: a fresh node signs).
 * Every test ends with the no-fork invariant over the honest nodes.
 */
import { expect } from "chai";
import { copyFileSync } from "node:fs";
import { RegistryClient } from "../../src/client/registry-client.js";
import { readTrusteeKeyFile } from "../../src/cli/gov.js";
import { homePaths } from "../../src/node/home.js";
import { runCli } from "../helpers/node-process.js";
import { type DevnetNode, checkNoFork, createDevnet, waitFor, waitForHeight } from "../helpers/devnet.js";

interface ValidatorsJson {
  height: number;
  validators: { address: string; publicKey: string; power: number }[];
  hash: string;
}
interface BlockJson {
  header: { validatorsHash: string; height: number };
  lastCommit: { sigs: { validator: string }[] } | null;
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

/** Addresses that signed the commit of `height` (carried by block height + 1). */
async function signersOf(node: DevnetNode, height: number): Promise<string[]> {
  const b = await node.rpc<BlockJson>("block_get", { height: height + 1 });
  return b.lastCommit!.sigs.map((s) => s.validator);
}

describe("integration: a Byzantine double-signer and validator-set changes on the BFT path", function () {
  this.timeout(180_000);

  it("a second process with validator 0's key double-signs: honest nodes never fork, evidence against validator 0 lands on chain everywhere; removed by the trustees, the chain goes on without it", async () => {
    // Node 4 is a full-node home: it gets validator 0's key and its own, empty sign state.
    const net = await createDevnet({ validators: 4, fullNodes: 1, startOnly: [0, 1, 2, 3] });
    try {
      const [v0, v1, v2, v3] = net.validators as [DevnetNode, DevnetNode, DevnetNode, DevnetNode];
      const twin = net.fullNodes[0]!;
      const honest = [v1, v2, v3];
      copyFileSync(homePaths(v0.home).validatorKeyFile, homePaths(twin.home).validatorKeyFile);
      await waitForHeight(net.validators, 2);
      await twin.start();

      // Whenever validator 0 proposes, both processes build and prevote their own block: equivocation every honest node sees.
      const accused = v0.info.address!;
      await waitFor(
        "evidence against validator 0 on every node",
        async () => (await Promise.all([...honest, v0].map((n) => n.rpc<{ evidence: unknown[] }>("evidence_list", { validator: accused })))).every((r) => r.evidence.length > 0),
        60_000,
      );
      const listed = await v1.rpc<{ evidence: { validator: string; voteA: { blockHash: string | null }; voteB: { blockHash: string | null } }[] }>("evidence_list", { validator: accused });
      for (const e of listed.evidence) {
        expect(e.validator).to.equal(accused);
        expect(e.voteA.blockHash).not.to.equal(e.voteB.blockHash);
      }
      // Some node saw both votes of a pair itself; the others may have learnt the evidence by gossip or from the block.
      expect([...honest, v0, twin].some((n) => /equivocation detected/.test(n.output()))).to.equal(true);
      // Nobody but validator 0 is accused.
      const all = await v1.rpc<{ evidence: { validator: string }[] }>("evidence_list", {});
      expect(new Set(all.evidence.map((e) => e.validator))).to.deep.equal(new Set([accused]));
      await checkNoFork(honest);

      // The trustees remove validator 0: from H+2 the three honest validators sign alone.
      const h = await changeValidator(v1, v0.home, { publicKey: await publicKeyOf(v0), name: "", power: 0 });
      await waitForHeight(honest, h + 4, 30_000);
      const three = await v1.rpc<ValidatorsJson>("validators_get", { height: h + 2 });
      expect(three.validators.map((v) => v.address)).to.deep.equal(honest.map((n) => n.info.address));
      expect((await v1.rpc<BlockJson>("block_get", { height: h + 2 })).header.validatorsHash).to.equal(three.hash);
      expect(await signersOf(v1, h + 2)).not.to.include(accused);
      // Both processes with the removed key can go; the chain does not need them.
      await v0.kill9();
      await twin.kill9();
      const top = Math.max(...(await Promise.all(honest.map((n) => n.height()))));
      await waitForHeight(honest, top + 3, 30_000);
      expect(await checkNoFork(honest)).to.be.at.least(top + 3);
    } finally {
      await net.cleanup();
    }
  });

  it("the trustees remove a validator (its process follows) and add a fresh one (it signs once the set holds it)", async () => {
    const net = await createDevnet({ validators: 4, fullNodes: 1, startOnly: [0, 1, 2, 3] });
    try {
      const [v0, v1, v2, v3] = net.validators as [DevnetNode, DevnetNode, DevnetNode, DevnetNode];
      const fresh = net.fullNodes[0]!;
      await waitForHeight(net.validators, 2);

      const removedAt = await changeValidator(v0, v0.home, { publicKey: await publicKeyOf(v3), name: "", power: 0 });
      await waitForHeight(net.validators, removedAt + 4, 30_000);
      const three = await v0.rpc<ValidatorsJson>("validators_get", { height: removedAt + 2 });
      expect(three.validators.map((v) => v.address)).to.deep.equal([v0, v1, v2].map((n) => n.info.address));
      for (let height = removedAt + 2; height <= removedAt + 3; height++) {
        expect((await v0.rpc<BlockJson>("block_get", { height })).header.validatorsHash, `header ${height}`).to.equal(three.hash);
        expect(await signersOf(v0, height)).not.to.include(v3.info.address);
      }
      // The removed node's process still runs and follows the chain.
      expect(v3.running).to.equal(true);
      expect(v3.output()).to.match(/not in the validator set: following/);

      // A fresh node: `sid validator init` makes its key, the trustees add it, it syncs and signs.
      const init = await runCli(["validator", "init", "--home", fresh.home, "--json"]);
      expect(init.code, init.stderr).to.equal(0);
      const created = JSON.parse(init.stdout) as { publicKey: string; address: string };
      const addedAt = await changeValidator(v0, v0.home, { publicKey: created.publicKey, name: "validator-new", power: 10 });
      await fresh.start();
      await waitFor(
        "the new validator in a commit",
        async () => {
          const head = await v0.height();
          for (let height = Math.max(addedAt + 2, head - 3); height < head; height++) if ((await signersOf(v0, height)).includes(created.address)) return true;
          return false;
        },
        45_000,
      );
      expect(fresh.output()).to.match(/in the validator set: signing/);
      const four = await v0.rpc<ValidatorsJson>("validators_get", { height: addedAt + 2 });
      expect(four.validators.map((v) => v.address)).to.deep.equal([v0, v1, v2].map((n) => n.info.address!).concat(created.address));
      await waitForHeight([v0, v1, v2, v3, fresh], addedAt + 4, 30_000);
      await checkNoFork([v0, v1, v2, v3, fresh]);
    } finally {
      await net.cleanup();
    }
  });
});
