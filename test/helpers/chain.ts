/**
 * A mempool and single-validator engine over a store, and a replay of one
 * store's blocks into another, for consensus tests.
 */
import { expect } from "chai";
import { headerHash } from "../../src/chain/block.js";
import { SignatureVerifier, applyBlockTxs, touchedKeys } from "../../src/chain/execute.js";
import { Mempool, defaultMempoolOptions } from "../../src/chain/mempool.js";
import { ChainStore } from "../../src/chain/store.js";
import { decodeTx, txHash } from "../../src/chain/tx.js";
import { type EngineDeps, SingleValidatorEngine } from "../../src/consensus/engine.js";
import { ValidatorSigner } from "../../src/consensus/signer.js";
import { ConsensusStore } from "../../src/consensus/consensus-store.js";
import { ValidatorSet } from "../../src/chain/validator-set.js";
import { decodeEvidence, evidenceHash } from "../../src/consensus/evidence.js";
import { CHAIN_ID, fixedKey, hex } from "./fixtures.js";
import { silentLogger } from "../../src/log/logger.js";

export const VALIDATOR_KEY = fixedKey(0x42);
export const VALIDATORS = ValidatorSet.fromGenesis([{ name: "v0", publicKey: hex(VALIDATOR_KEY.publicKey), power: 10 }]);

/** A pool and an engine writing to `store`; block times are the head's plus one second. `over` replaces engine deps (genesis set, params, pending evidence). */
export async function poolAndEngine(store: ChainStore, maxBlockTxs: number, over: Partial<Pick<EngineDeps, "validators" | "params" | "pendingEvidence">> = {}) {
  const verifier = new SignatureVerifier();
  const nextTime = () => store.head().time + 1000;
  const mempool = new Mempool(defaultMempoolOptions, {
    chainId: CHAIN_ID,
    verifier,
    loadState: (d) => store.loadState(d),
    isCommitted: async (h) => (await store.getTxLocation(h)) !== undefined,
    nextBlock: () => ({ height: store.head().height + 1, time: nextTime() }),
  });
  const signer = new ValidatorSigner(VALIDATOR_KEY.secretKey, await new ConsensusStore(store.kv).signState());
  const engine = new SingleValidatorEngine(
    { heartbeatMs: 1e9 },
    { chainId: CHAIN_ID, store, mempool, validators: VALIDATORS, signer, params: { maxBlockTxs, maxBlockBytes: 1 << 20 }, verifier, clock: nextTime, log: silentLogger, ...over },
  );
  return { mempool, engine };
}

/** Re-execute every block of `source` into the empty `replica`, checking the state root at each height. */
export async function replayInto(source: ChainStore, replica: ChainStore): Promise<void> {
  const verifier = new SignatureVerifier();
  for (let height = 1; height <= source.head().height; height++) {
    const b = (await source.getBlock(height))!;
    const txs = b.txs.map((e) => ({ tx: decodeTx(e, CHAIN_ID), encoded: e, hash: txHash(e) }));
    const dids = new Set<string>();
    for (const c of txs) for (const d of touchedKeys(c)) dids.add(d);
    const eff = applyBlockTxs(ChainStore.viewOf(await replica.loadState(dids)), txs, { chainId: CHAIN_ID, height, time: b.header.time, verifier });
    const { root, nodes, encoded } = await replica.computeStateRoot(eff.writes);
    expect(hex(root), `state root at height ${height}`).to.equal(hex(b.header.stateRoot));
    await replica.commitBlock({
      block: b,
      blockHash: headerHash(b.header),
      commit: (await source.getCommit(height))!,
      txHashes: txs.map((c) => c.hash),
      writes: eff.writes,
      encodedWrites: encoded,
      versions: eff.versions,
      smtNodes: nodes,
      evidence: b.evidence.map((e) => {
        const ev = decodeEvidence(e);
        return { hash: evidenceHash(ev), validator: ev.voteA.validator };
      }),
    });
  }
}
