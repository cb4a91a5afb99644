/**
 * Committing a decided block: the one way in, whoever decided it (the single
 * validator, BFT consensus, block sync). The block reaches it executed
 * against the store's head (block-exec.ts: buildBlock, validateBlock or
 * verifyCommittedBlock); it is written with its commit and the consensus
 * state that must survive with it in one synced batch (invariant 3), its txs
 * leave the mempool (with the pooled txs it made stale), and the listeners
 * hear of it.
 */
import type { Commit } from "../chain/block.js";
import type { Mempool, Rejection } from "../chain/mempool.js";
import type { BlockCommitBatch } from "../chain/store.js";
import type { ExecutedBlock } from "./block-exec.js";
import { putConsensusWithBlock } from "./consensus-store.js";
import type { CommittedBlockEvent } from "./engine.js";
import type { ProposerPriorities } from "./proposer.js";
import type { SignState } from "./signer.js";

/** Where a committed block is written: one atomic, synced batch. ChainStore fits. */
export interface BlockCommitStore {
  commitBlock(b: BlockCommitBatch): Promise<void>;
}

/**
 * The consensus state written with a block. Both engines name both parts,
 * even when they have nothing to write, so a reader sees in one place what
 * survives a crash with the block.
 */
export interface ConsensusCommitState {
  /**
   * The validator's double-sign guard state that is not durable yet: the
   * single validator's precommit, whose signature leaves the node only inside
   * the block's commit, so it is made durable with it. Undefined when there is
   * none: a follower signs nothing, and a BFT validator's guard state is
   * synced (privval) before each vote is broadcast (invariant 4).
   */
  signState: SignState | undefined;
  /** The proposer priorities of the next height, so a restart agrees on proposers. Undefined when the engine keeps none (a single validator always proposes). */
  nextPriorities: ProposerPriorities | undefined;
}

/** What committing a block produced: the event every engine emits, and the pooled txs that no longer apply. */
export interface AppliedBlock {
  event: CommittedBlockEvent;
  dropped: { hash: Uint8Array; why: Rejection }[];
}

/** Where a committed block's effects go besides the store: the mempool, and the listeners of "block" and "txRejected". */
export interface BlockApplyDeps {
  store: BlockCommitStore;
  mempool: Pick<Mempool, "onBlockCommitted">;
  onBlock(ev: CommittedBlockEvent): void;
  onTxRejected(d: { hash: Uint8Array; why: Rejection }): void;
}

/** Write an executed block with its commit and consensus state in one synced batch (invariant 3). The only caller of commitBlock. */
export function commitExecuted(store: BlockCommitStore, ex: ExecutedBlock, commit: Commit, state: ConsensusCommitState): Promise<void> {
  return store.commitBlock({
    block: ex.block,
    blockHash: ex.hash,
    commit,
    txHashes: ex.txs.map((c) => c.hash),
    writes: ex.effects.writes,
    encodedWrites: ex.encodedWrites,
    versions: ex.effects.versions,
    documents: ex.effects.documents,
    smtNodes: ex.smtNodes,
    evidence: ex.evidence.map((e) => ({ hash: e.hash, validator: e.validator })),
    sideWrites: (batch) =>
      putConsensusWithBlock(batch, ex.block.header.height, {
        ...(state.signState !== undefined ? { signState: state.signState } : {}),
        ...(state.nextPriorities !== undefined ? { nextProposerPriorities: state.nextPriorities } : {}),
      }),
  });
}

/**
 * The one way in for a decided block: store it (commitExecuted), take its
 * txs out of the mempool (and the pooled txs it made stale), then tell the
 * listeners: "block" first, then "txRejected" for each stale tx.
 */
export async function commitDecidedBlock(deps: BlockApplyDeps, ex: ExecutedBlock, commit: Commit, state: ConsensusCommitState): Promise<AppliedBlock> {
  await commitExecuted(deps.store, ex, commit, state);
  const dropped = await deps.mempool.onBlockCommitted(ex.txs.map((c) => c.hash));
  const event: CommittedBlockEvent = { block: ex.block, hash: ex.hash, txs: ex.txs, versions: ex.effects.versions, statusLists: ex.effects.statusLists, evidence: ex.evidence, round: commit.round };
  deps.onBlock(event);
  for (const d of dropped) deps.onTxRejected(d);
  return { event, dropped };
}
