/**
 * Commit txs to a ChainStore as its next block, as the node does (execute on
 * the head's state, compute the root, write block, commit and effects in one
 * batch), without a consensus engine: for the store's own tests.
 */
import { type Block, type BlockHeader, type Commit, type CommitSig, ZERO_HASH, headerHash, txMerkleRoot } from "../../src/chain/block.js";
import type { KvBatch } from "../../src/chain/db/kv.js";
import { type BlockEffects, type CheckedTx, applyBlockTxs, touchedKeys } from "../../src/chain/execute.js";
import type { DidVersion } from "../../src/chain/state.js";
import { ChainStore, type CommittedEvidenceIndex } from "../../src/chain/store.js";
import { CHAIN_ID, execContext } from "./fixtures.js";

/** The one signature of the fixed test proposer (0x50...), as commits of these blocks carry by default. */
export const FIXED_SIGS: CommitSig[] = [{ validator: new Uint8Array(20).fill(0x50), sig: new Uint8Array(64).fill(0x53) }];

export interface NextBlockOptions {
  /** The commit's signatures (default FIXED_SIGS). */
  sigs?: CommitSig[];
  /** Evidence bytes carried by the block, with the index the store keeps of them. */
  evidence?: { encoded: Uint8Array[]; index: CommittedEvidenceIndex[] };
  /** Versions stored beside the txs' own (history entries of other DIDs). */
  extraVersions?: DidVersion[];
  /** Another room's writes in the block's batch. */
  sideWrites?: (batch: KvBatch) => void;
}

export async function commitTxsAsNextBlock(
  store: ChainStore,
  txs: CheckedTx[],
  opts: NextBlockOptions = {},
): Promise<{ block: Block; blockHash: Uint8Array; commit: Commit; effects: BlockEffects }> {
  const head = store.head();
  const height = head.height + 1;
  const time = head.time + 1000;
  const ids = new Set<string>();
  for (const c of txs) for (const d of touchedKeys(c)) ids.add(d);
  const effects = applyBlockTxs(ChainStore.viewOf(await store.loadState(ids)), txs, execContext({ height, time }));
  const { root, nodes, encoded } = await store.computeStateRoot(effects.writes, effects.documents);
  const header: BlockHeader = {
    chainId: CHAIN_ID,
    height,
    time,
    prevHash: head.hash,
    txRoot: txMerkleRoot(txs.map((c) => c.hash)),
    evidenceHash: ZERO_HASH,
    stateRoot: root,
    validatorsHash: new Uint8Array(32).fill(0x56),
    nextValidatorsHash: new Uint8Array(32).fill(0x56),
    proposer: new Uint8Array(20).fill(0x50),
    lastCommitHash: ZERO_HASH,
  };
  const block: Block = { header, txs: txs.map((c) => c.encoded), evidence: opts.evidence?.encoded ?? [], lastCommit: null };
  const blockHash = headerHash(header);
  const commit: Commit = { height, round: 0, blockHash, sigs: opts.sigs ?? FIXED_SIGS };
  await store.commitBlock({
    block,
    blockHash,
    commit,
    txHashes: txs.map((c) => c.hash),
    writes: effects.writes,
    encodedWrites: encoded,
    versions: [...effects.versions, ...(opts.extraVersions ?? [])],
    documents: effects.documents,
    smtNodes: nodes,
    ...(opts.evidence ? { evidence: opts.evidence.index } : {}),
    ...(opts.sideWrites ? { sideWrites: opts.sideWrites } : {}),
  });
  return { block, blockHash, commit, effects };
}
