/**
 * The light client on a real devnet whose validator set changes by more
 * than 1/3 of the power: the trustees add a validator, re-weigh one and
 * remove one; every header names the set of its height and of the next;
 * and a client that trusts nothing but its copy of the genesis file
 * verifies a proven did_resolve at the head, by skipping (directly, and
 * with a trust level that forces bisection) and sequentially, fetching
 * headers, commits and sets over the node's RPC.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Mirror } from "../../scripts/mirror.js";
import { deriveKey, generateMnemonic } from "../../src/crypto/hd.js";
import { LightClient, ProofError, ProofErrorCode, RpcClient, RpcLightBlockSource, SidClient, ValidatorSetTracker, createDidTx, didFromPublicKey, verifyResolutionProof } from "../../src/client/index.js";
import { RegistryClient } from "../../src/client/registry-client.js";
import { readTrusteeKeyFile } from "../../src/cli/gov.js";
import { homePaths } from "../../src/node/home.js";
import { runCli } from "../helpers/node-process.js";
import { type DevnetNode, createDevnet, waitForHeight } from "../helpers/devnet.js";

interface ValidatorsJson {
  validators: { address: string; publicKey: string; power: number }[];
  hash: string;
}
interface BlockJson {
  header: { height: number; validatorsHash: string; nextValidatorsHash: string };
}

async function setAt(node: DevnetNode, height: number): Promise<ValidatorsJson> {
  return node.rpc<ValidatorsJson>("validators_get", { height });
}

/** The trustee (the first home's key, threshold 1) changes the set; returns the height the change executed at. */
async function changeValidator(via: DevnetNode, action: { publicKey: string; name: string; power: number }): Promise<number> {
  const key = await readTrusteeKeyFile(homePaths(via.home).trusteeKeyFile);
  const r = await RegistryClient.at(via.rpcUrl).propose({ kind: "validator/set", ...action }, key);
  expect(r.executed, "threshold 1: the proposal runs at once").to.equal(true);
  return r.height;
}

describe("integration: a light client anchored at genesis follows validator-set changes of any size", function () {
  this.timeout(120_000);

  it("after an addition, a power change and a removal moving more than 1/3 of the power, verifies a proof at the head by skipping and sequentially", async () => {
    const net = await createDevnet({ validators: 4, fullNodes: 1, startOnly: [0, 1, 2, 3] });
    try {
      const [v0, v1, v2, v3] = net.validators as [DevnetNode, DevnetNode, DevnetNode, DevnetNode];
      const [added] = net.fullNodes as [DevnetNode];
      await waitForHeight(net.validators, 2);
      const genesisSet = await setAt(v0, 1);
      const keyOf = (n: DevnetNode) => genesisSet.validators.find((v) => v.address === n.info.address)!.publicKey;

      const init = await runCli(["validator", "init", "--home", added.home, "--json"]);
      expect(init.code, init.stderr).to.equal(0);
      const fresh = JSON.parse(init.stdout) as { publicKey: string };
      const addedAt = await changeValidator(v0, { publicKey: fresh.publicKey, name: "validator-new", power: 10 });
      await added.start();
      // Each change runs in its own block and is in force two heights later; no need to wait between them.
      const changedAt = await changeValidator(v0, { publicKey: keyOf(v1), name: "validator-1", power: 30 });
      const removedAt = await changeValidator(v0, { publicKey: keyOf(v3), name: "", power: 0 });
      expect(addedAt).to.be.lessThan(changedAt);
      expect(changedAt).to.be.lessThan(removedAt);
      const five = [v0, v1, v2, v3, added];
      await waitForHeight(five, removedAt + 3, 45_000).catch(async (e) => {
        console.log(addedAt, changedAt, removedAt, await Promise.all(five.map((n) => n.height().catch(() => -1))));
        for (const n of five) console.log(n.name, n.output().split("\n").slice(-25).join("\n"));
        throw e;
      });

      const key = deriveKey(generateMnemonic(), 0);
      const did = { did: didFromPublicKey(key.publicKey) };
      await new SidClient(v2.rpcUrl).submitAndCommit(createDidTx(net.chainId, key), 30_000);

      // The power moved, as the node's sets say: more than 1/3 of the genesis total.
      const head = await v2.height();
      const last = await setAt(v2, head);
      const before = new Map(genesisSet.validators.map((v) => [v.address, v.power]));
      const after = new Map(last.validators.map((v) => [v.address, v.power]));
      let moved = 0;
      for (const a of new Set([...before.keys(), ...after.keys()])) moved += Math.abs((after.get(a) ?? 0) - (before.get(a) ?? 0));
      const genesisTotal = genesisSet.validators.reduce((s, v) => s + v.power, 0);
      expect(moved * 3).to.be.greaterThan(genesisTotal);

      // Every header names its own set and the next height's, as the node schedules them.
      let changes = 0;
      for (let h = 1; h <= head; h++) {
        const { header } = await v2.rpc<BlockJson>("block_get", { height: h });
        expect(header.validatorsHash, `header ${h}`).to.equal((await setAt(v2, h)).hash);
        expect(header.nextValidatorsHash, `header ${h} next`).to.equal((await setAt(v2, h + 1)).hash);
        if (header.nextValidatorsHash !== header.validatorsHash) changes++;
      }
      expect(changes, "three changes, each named one height ahead").to.equal(3);

      const genesisFile = join(v0.home, "config", "genesis.json");
      const rpc = new RpcClient(v2.rpcUrl);
      const answer = await rpc.call<unknown>("did_resolve", { did: did.did, proof: true });
      // The genesis set alone no longer commits the head.
      expect(() => verifyResolutionProof(answer, { did: did.did, chainId: net.chainId, trusted: ValidatorSetTracker.fromGenesisFile(genesisFile) }))
        .to.throw(ProofError)
        .with.property("code", ProofErrorCode.UNTRUSTED_VALIDATORS);

      const skipping = new LightClient(ValidatorSetTracker.fromGenesisFile(genesisFile), new RpcLightBlockSource(rpc));
      const bySkip = await skipping.verifyResolution(answer, did.did, "skipping");
      expect(bySkip.record?.versionId).to.equal(1);
      expect(bySkip.light.rule).to.equal("skipping");

      // At a trust level of 3/4 the genesis members (30 of 40 at most) cannot vouch for the head: bisection.
      const strict = new LightClient(ValidatorSetTracker.fromGenesisFile(genesisFile, { trustLevel: { numerator: 3, denominator: 4 } }), new RpcLightBlockSource(rpc));
      const bisected = await strict.verifyResolution(answer, did.did, "skipping");
      expect(bisected.light.intermediate).to.be.greaterThan(0);
      expect(bisected.light.intermediate).to.be.lessThan(bisected.height - 1);
      expect(bisected.blockHash).to.equal(bySkip.blockHash);

      const source = new RpcLightBlockSource(rpc);
      const sequential = new LightClient(ValidatorSetTracker.fromGenesisFile(genesisFile), source);
      const bySeq = await sequential.verifyResolution(answer, did.did, "sequential");
      expect(bySeq.light).to.deep.equal({ height: bySeq.height, rule: "sequential", intermediate: bySeq.height - 1 });
      expect(bySeq.blockHash).to.equal(bySkip.blockHash);
      expect(sequential.tracker.setFor(bySeq.height)!.totalPower).to.equal(last.validators.reduce((s, v) => s + v.power, 0));

      // A later answer verifies from the headers already trusted.
      const again = await skipping.resolveVerified(new RpcClient(v0.rpcUrl), did.did);
      expect(again.record?.did).to.equal(did.did);
      // The mirror (scripts/mirror.ts) follows this chain's export stream from op 1 through the light client, across the three changes.
      const mdir = mkdtempSync(join(tmpdir(), "sid-lc-mirror-"));
      const mirror = await Mirror.open({ dir: mdir, rpcUrl: v2.rpcUrl, genesisFile });
      try {
        const done = await mirror.run({ limit: 1 });
        expect(done.seq, "every op verified").to.equal(done.last);
        expect(done.seq).to.be.at.least(4);
        expect((await mirror.getDid(did.did))?.deactivated).to.equal(false);
      } finally {
        await mirror.close();
        rmSync(mdir, { recursive: true, force: true });
      }
      console.log(
        `      light client: head ${bySeq.height}, skipping ${bySkip.light.intermediate} intermediate, trust 3/4 bisection ${bisected.light.intermediate}, sequential ${bySeq.light.intermediate} (${source.calls} RPC calls)`,
      );
    } finally {
      await net.cleanup();
    }
  });
});
