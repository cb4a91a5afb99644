/**
 * State sync's bound on light blocks (node.json stateSync.maxLightBlocks):
 * a snapshot height whose header needs more light blocks from genesis than
 * the bound fails with SNAPSHOT_UNTRUSTED_SET naming the option, asks no
 * more than the bound, and charges no peer; the option is checked at start.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Block, headerHash } from "../../../src/chain/block.js";
import { SnapshotErrorCode } from "../../../src/chain/snapshot.js";
import { ValidatorSet } from "../../../src/chain/validator-set.js";
import { ValidatorSetTracker } from "../../../src/client/trust.js";
import { DEFAULT_MAX_LIGHT_BLOCKS, lightClientTrust, resolveStateSyncConfig } from "../../../src/node/state-sync.js";
import type { SnapshotMessage, WireValidator } from "../../../src/p2p/snapshot-messages.js";
import { type LightBlockRequest, P2pLightBlockSource, StateSyncClient, defaultStateSyncOptions, verifySnapshotHeight } from "../../../src/p2p/snapshot-sync.js";
import { initHome, homePaths } from "../../../src/node/home.js";
import { SidNode } from "../../../src/node/node.js";
import { createLogger } from "../../../src/log/logger.js";
import { CHAIN_ID } from "../../helpers/fixtures.js";
import { commitBy, validatorSet } from "../../helpers/consensus.js";

type LightAnswer = Extract<SnapshotMessage, { type: "lightBlock" }>;

/** Twelve validators; four groups of three take turns, the whole set changing every ERA blocks: no skip crosses a change. */
const POOL = validatorSet(Array.from({ length: 12 }, () => 10));
const ERA = 10;
const HEIGHT = 120;
const groupAt = (h: number) => new ValidatorSet(POOL.validators.slice(3 * (Math.floor((h - 1) / ERA) % 4), 3 * (Math.floor((h - 1) / ERA) % 4) + 3));
const GENESIS = groupAt(1);
const wire = (s: ValidatorSet): WireValidator[] => s.validators.map((v) => ({ publicKey: v.publicKey, power: v.power }));
const indexOf = (s: ValidatorSet) => s.validators.map((v) => POOL.validators.findIndex((p) => p.publicKey === v.publicKey));

/** Blocks 1..n linked by prevHash, each signed by all of its set, with both sets it names. */
function chain(n: number): LightAnswer[] {
  const out: LightAnswer[] = [];
  const z = new Uint8Array(32);
  let prevHash: Uint8Array = z;
  for (let h = 1; h <= n; h++) {
    const own = groupAt(h);
    const next = groupAt(h + 1);
    const block: Block = {
      header: { chainId: CHAIN_ID, height: h, time: 1000 + h, prevHash, txRoot: z, evidenceHash: z, stateRoot: new Uint8Array(32).fill(h), validatorsHash: own.hash, nextValidatorsHash: next.hash, proposer: own.validators[0]!.address, lastCommitHash: z },
      txs: [],
      evidence: [],
      lastCommit: null,
    };
    out.push({ type: "lightBlock", height: h, block, commit: commitBy(block, indexOf(own)), validators: wire(own), nextValidators: wire(next) });
    prevHash = headerHash(block.header);
  }
  return out;
}
const CHAIN = chain(HEIGHT);

/** Two honest peers serving the whole chain; every request recorded, every charge too. */
function honestPeers() {
  const asked: string[] = [];
  const refused: string[] = [];
  const request: LightBlockRequest = async (peer, h) => {
    asked.push(`${peer}@${h}`);
    return CHAIN[h - 1] ?? { type: "lightBlock", height: h, block: null, commit: null };
  };
  const source = new P2pLightBlockSource(request, () => ["a", "b"].filter((p) => !refused.includes(p)), GENESIS, (p) => refused.push(p), HEIGHT);
  return { asked, refused, source };
}

describe("node/state-sync: the bound on light blocks for one snapshot height", function () {
  this.timeout(30_000);

  /** Light blocks the light client needs to trust HEIGHT from genesis on this chain (measured with the default bound). */
  let needed = 0;

  before(async () => {
    const { asked, refused, source } = honestPeers();
    const got = await verifySnapshotHeight(lightClientTrust(new ValidatorSetTracker(CHAIN_ID, GENESIS)), source, HEIGHT);
    expect(headerHash(got.block.header)).to.deep.equal(headerHash(CHAIN[HEIGHT - 1]!.block!.header));
    expect(refused).to.deep.equal([]);
    needed = asked.length;
  });

  it("the fixture: the set moves wholly every 10 blocks, so trusting height 120 takes many light blocks", () => {
    // At least both sides of each of the 11 changes below 120, and the target.
    expect(needed).to.be.at.least(2 * Math.floor((HEIGHT - 1) / ERA) + 1);
    expect(needed).to.be.below(DEFAULT_MAX_LIGHT_BLOCKS);
  });

  it("one light block short: SNAPSHOT_UNTRUSTED_SET naming stateSync.maxLightBlocks, no more asked than the bound, nobody charged", async () => {
    const bound = needed - 1;
    const { asked, refused, source } = honestPeers();
    const err = await verifySnapshotHeight(lightClientTrust(new ValidatorSetTracker(CHAIN_ID, GENESIS), bound), source, HEIGHT).then(
      () => undefined,
      (e: { code: string; message: string; data?: Record<string, unknown> }) => e,
    );
    expect(err?.code).to.equal(SnapshotErrorCode.UNTRUSTED_SET);
    expect(err?.message).to.match(new RegExp(`the header at ${HEIGHT} is not reached from the genesis validators within stateSync.maxLightBlocks \\(${bound}\\) light blocks`));
    expect(err?.message).to.match(/raise stateSync.maxLightBlocks in node.json/);
    expect(err?.data).to.include({ height: HEIGHT, maxLightBlocks: bound });
    expect(asked.length).to.equal(bound);
    expect(refused).to.deep.equal([]);
  });

  it("exactly the light blocks needed: trusted", async () => {
    const { asked, refused, source } = honestPeers();
    const tracker = new ValidatorSetTracker(CHAIN_ID, GENESIS);
    const got = await verifySnapshotHeight(lightClientTrust(tracker, needed), source, HEIGHT);
    expect(got.block.header.height).to.equal(HEIGHT);
    expect(asked.length).to.equal(needed);
    expect(refused).to.deep.equal([]);
    expect(tracker.trustedAt(HEIGHT)).to.not.equal(undefined);
  });

  it("a whole state sync that runs out ends STATE_SYNC_FAILED naming the option, and penalises no peer", async () => {
    const charged: string[] = [];
    const offer = { height: HEIGHT, hash: new Uint8Array(32).fill(9), chunks: 16, bytes: 1000 };
    let client!: StateSyncClient;
    const network = {
      peers: () => [{ id: "a" }, { id: "b" }],
      peer: (id: string) => (id === "a" || id === "b" ? {} : undefined),
      reportBad: (peer: string) => charged.push(peer),
      send: (peer: string, _channel: number, msg: SnapshotMessage) => {
        let answer: SnapshotMessage | undefined;
        if (msg.type === "listSnapshots") answer = { type: "snapshots", items: [offer] };
        else if (msg.type === "getLightBlock") answer = CHAIN[msg.height - 1] ?? { type: "lightBlock", height: msg.height, block: null, commit: null };
        if (answer) setImmediate(() => client.onAnswer(peer, answer as never));
        return true;
      },
    };
    let restorerAsked = false;
    client = new StateSyncClient(
      network as never,
      {
        genesisSet: GENESIS,
        trustHeader: lightClientTrust(new ValidatorSetTracker(CHAIN_ID, GENESIS), 5),
        restorer: () => {
          restorerAsked = true;
          throw new Error("no manifest is to be asked for");
        },
      },
      { ...defaultStateSyncOptions, discoveryTimeoutMs: 2_000, offerWaitMs: 0, requestTimeoutMs: 2_000 },
    );
    const err = await client.run().then(
      () => undefined,
      (e: { code: string; message: string }) => e,
    );
    expect(err?.code).to.equal(SnapshotErrorCode.SYNC_FAILED);
    expect(err?.message).to.match(/within stateSync.maxLightBlocks \(5\) light blocks/);
    expect(charged).to.deep.equal([]);
    expect(restorerAsked).to.equal(false);
  });
});

describe("node/state-sync: node.json stateSync", () => {
  it("defaults, and splits the node's keys from the client's", () => {
    expect(resolveStateSyncConfig()).to.deep.equal({ enabled: false, maxLightBlocks: DEFAULT_MAX_LIGHT_BLOCKS, client: {} });
    expect(DEFAULT_MAX_LIGHT_BLOCKS).to.equal(10_000);
    expect(resolveStateSyncConfig({ enabled: true, maxLightBlocks: 50_000, offerWaitMs: 0, timeoutMs: 60_000 })).to.deep.equal({
      enabled: true,
      maxLightBlocks: 50_000,
      client: { offerWaitMs: 0, timeoutMs: 60_000 },
    });
  });

  it("refuses a bad value with the key's name", () => {
    const refusal = (cfg: unknown) => {
      try {
        resolveStateSyncConfig(cfg as never);
      } catch (e) {
        return (e as Error).message;
      }
      return "accepted";
    };
    expect(refusal({ maxLightBlocks: 0 })).to.equal("stateSync.maxLightBlocks: less than minimum 1 (an integer in [1, 9007199254740991]), got 0");
    expect(refusal({ maxLightBlocks: 2.5 })).to.match(/^stateSync.maxLightBlocks: expected integer/);
    expect(refusal({ maxLightBlocks: "1000" })).to.match(/^stateSync.maxLightBlocks: expected integer .*got "1000"/);
    expect(refusal({ maxLightBlocks: null })).to.match(/^stateSync.maxLightBlocks: expected integer/);
    expect(refusal({ chunksInFlightPerPeer: 0 })).to.match(/^stateSync.chunksInFlightPerPeer: less than minimum 1/);
    expect(refusal({ requestTimeoutMs: -5 })).to.match(/^stateSync.requestTimeoutMs: less than minimum 1/);
    expect(refusal({ enabled: "yes" })).to.equal('stateSync.enabled: expected true or false, got "yes"');
    expect(refusal([])).to.match(/^stateSync: expected an object/);
    expect(refusal({ offerWaitMs: 0, progressIntervalMs: 0 })).to.equal("accepted");
  });

  it("a node does not start on a bad stateSync value: NODE_CONFIG naming node.json and the key, before any port is bound", async () => {
    const home = mkdtempSync(join(tmpdir(), "sid-statesync-cfg-"));
    try {
      await initHome(home, { dev: true });
      writeFileSync(homePaths(home).configFile, JSON.stringify({ stateSync: { enabled: false, maxLightBlocks: 0 } }));
      const err = await SidNode.start({ home, dev: true, rpc: { port: 19402 }, mempool: {} }, createLogger(() => {})).then(
        async (n) => {
          await n.stop();
          return undefined;
        },
        (e: { code?: string; message: string }) => e,
      );
      expect(err?.code).to.equal("NODE_CONFIG");
      expect(err?.message).to.contain(homePaths(home).configFile);
      expect(err?.message).to.match(/stateSync.maxLightBlocks: less than minimum 1/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
