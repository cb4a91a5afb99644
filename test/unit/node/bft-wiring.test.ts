/**
 * The node's network wiring: built before the BFT engine, it hands the
 * engine a consensus port and delivers consensus frames to the engine
 * attached to it. Two real networks on loopback, real stores.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignatureVerifier } from "../../../src/chain/execute.js";
import { Mempool, defaultMempoolOptions } from "../../../src/chain/mempool.js";
import { ChainStore } from "../../../src/chain/store.js";
import type { WireConsensusMessage } from "../../../src/consensus/bft-engine.js";
import { ConsensusError, ConsensusErrorCode } from "../../../src/consensus/errors.js";
import { type ConsensusDriver, type NodeNetwork, wireNetwork } from "../../../src/node/bft-wiring.js";
import { createLogger } from "../../../src/log/logger.js";
import { CHAIN_ID } from "../../helpers/fixtures.js";
import { blockHash, prevote } from "../../helpers/consensus.js";

const GENESIS = new Uint8Array(32).fill(0x5a);

/** An engine that only records what the network hands it. */
function recordingEngine(): ConsensusDriver & { admitted: { msg: WireConsensusMessage; from: string }[] } {
  const admitted: { msg: WireConsensusMessage; from: string }[] = [];
  return {
    admitted,
    admit: (msg, from) => (admitted.push({ msg, from }), true),
    currentMessages: () => [],
    applySyncedBlock: async () => {},
    verifyCommitOf: async () => undefined,
    start: () => {},
    startConsensus: () => {},
  };
}

describe("node: network wiring (bft-wiring.ts)", function () {
  this.timeout(20_000);
  let root: string;
  const stores: ChainStore[] = [];
  const nets: NodeNetwork[] = [];

  beforeEach(() => (root = mkdtempSync(join(tmpdir(), "sid-wiring-"))));
  afterEach(async () => {
    for (const n of nets.splice(0)) await n.stop();
    for (const s of stores.splice(0)) await s.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function build(name: string, bft: boolean, peers: string[] = []): Promise<NodeNetwork> {
    const store = await ChainStore.open(join(root, name, "db"));
    stores.push(store);
    await store.initGenesis(GENESIS, 1_700_000_000_000);
    const mempool = new Mempool(defaultMempoolOptions, {
      chainId: CHAIN_ID,
      verifier: new SignatureVerifier(),
      loadState: (d) => store.loadState(d),
      isCommitted: async (h) => (await store.getTxLocation(h)) !== undefined,
      nextBlock: () => ({ height: store.head().height + 1, time: store.head().time + 1 }),
    });
    const net = wireNetwork({ host: "127.0.0.1", port: 0, persistentPeers: peers }, { home: join(root, name), chainId: CHAIN_ID, genesisHash: GENESIS, store, mempool, bft, log: createLogger(() => {}) });
    nets.push(net);
    return net;
  }

  it("takes one engine, before start, and only when built for one", async () => {
    const single = await build("single", false);
    expect(() => single.attachEngine(recordingEngine())).to.throw(ConsensusError).with.property("code", ConsensusErrorCode.BAD_INPUT);
    const net = await build("bft", true);
    net.attachEngine(recordingEngine());
    expect(() => net.attachEngine(recordingEngine())).to.throw(ConsensusError).with.property("code", ConsensusErrorCode.BAD_INPUT);
    const late = await build("late", true);
    await late.start({ initialSyncWaitMs: 10 });
    expect(() => late.attachEngine(recordingEngine())).to.throw(ConsensusError).with.property("code", ConsensusErrorCode.BAD_INPUT);
  });

  it("a vote broadcast through one node's consensus port reaches the engine attached to its peer", async () => {
    const a = await build("a", true);
    const engineA = recordingEngine();
    a.attachEngine(engineA);
    await a.start({ initialSyncWaitMs: 10 });
    const b = await build("b", true, [`127.0.0.1:${a.network.listenPort}`]);
    b.attachEngine(recordingEngine());
    await b.start({ initialSyncWaitMs: 10 });
    const deadline = Date.now() + 10_000;
    while (a.network.peers().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(a.network.peers().map((p) => p.id)).to.deep.equal([b.network.nodeId]);

    const vote = prevote(0, 1, 0, blockHash("x"));
    b.consensusPort.broadcast({ kind: "vote", vote });
    while (engineA.admitted.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(engineA.admitted).to.have.length(1);
    expect(engineA.admitted[0]!.from).to.equal(b.network.nodeId);
    expect(engineA.admitted[0]!.msg).to.deep.equal({ kind: "vote", vote });
    // Neither node has announced a height above genesis: nothing to catch up to.
    expect(b.consensusPort.provenPeersHeight()).to.equal(undefined);
  });
});
