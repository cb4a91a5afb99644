/**
 * Building, validating and committing a block: the steps every engine
 * shares. A proposer builds a block from the mempool and executes it before
 * proposing (the header carries the state root after its txs); every other
 * validator, and a node applying a synced block, re-executes the same txs and
 * must reach the same header.
 */
import { bytesEqual, toHex } from "../crypto/bytes.js";
import { type Block, type BlockHeader, type Commit, MAX_BLOCK_EVIDENCE, ZERO_HASH, commitHash, evidenceMerkleRoot, headerHash, txMerkleRoot } from "../chain/block.js";
import { BlockErrorCode, ChainError } from "../chain/errors.js";
import { type BlockEffects, type CheckedTx, type SignatureVerifier, applyBlockTxs, touchedKeys } from "../chain/execute.js";
import { type ConsensusParams, maxEvidenceAge } from "../chain/genesis.js";
import type { Mempool, Rejection } from "../chain/mempool.js";
import { ChainStore } from "../chain/store.js";
import { decodeTx, txHash } from "../chain/tx.js";
import { CodedError, type NoData, REJECT_INVALID } from "../errors.js";
import type { CommittedBlockEvent } from "./engine.js";
import type { ValidatorSet } from "./validators.js";
import { type VerifiedEvidence, checkBlockEvidence } from "./evidence-rules.js";
import { verifyCommit } from "./vote.js";

/** Why a proposed or synced block was refused: its header does not match what re-execution gives, or a rule of the chain fails. Its sender is to blame. */
export class BlockValidationError extends CodedError<BlockErrorCode.INVALID_BLOCK, NoData> {
  constructor(message: string) {
    super(BlockErrorCode.INVALID_BLOCK, message, undefined, REJECT_INVALID);
  }
}

/** A block together with what executing it produced, ready for store.commitBlock. */
export interface ExecutedBlock {
  block: Block;
  hash: Uint8Array;
  txs: CheckedTx[];
  effects: BlockEffects;
  smtNodes: Map<string, Uint8Array>;
  encodedWrites: Map<string, Uint8Array>;
  /** The block's evidence, checked against the sets of its heights. */
  evidence: VerifiedEvidence[];
}

export interface BlockExecDeps {
  chainId: string;
  store: ChainStore;
  verifier: SignatureVerifier;
  params: ConsensusParams;
  /**
   * A tx this node already decoded and admitted (its mempool), by hash. A
   * block's txs are mostly those: reusing them skips a second decodeTx of
   * each, the costliest step of re-execution. The hash is sha256 of the
   * exact bytes and decodeTx is a pure function of them (and the chain id,
   * the same here), so the reused tx is the one decoding would give.
   */
  knownTx?(hash: Uint8Array): CheckedTx | undefined;
}

async function execute(deps: BlockExecDeps, txs: readonly CheckedTx[], height: number, time: number): Promise<BlockEffects> {
  const dids = new Set<string>();
  for (const c of txs) for (const d of touchedKeys(c)) dids.add(d);
  const loaded = await deps.store.loadState(dids);
  return applyBlockTxs(ChainStore.viewOf(loaded), txs, { chainId: deps.chainId, height, time, verifier: deps.verifier });
}

export interface BuildBlockInput {
  height: number;
  time: number;
  proposer: Uint8Array;
  validators: ValidatorSet;
  /** The set that signs height+1 (header nextValidatorsHash): known, since changes made at H start at H + 2. */
  nextValidators: ValidatorSet;
  /** The commit of height-1 (null at height 1). */
  lastCommit: Commit | null;
  /** Evidence to include, already checked with checkBlockEvidence for this height. */
  evidence?: VerifiedEvidence[];
  /** A pooled tx that no longer applies to the state: it is left out and dropped from the pool. */
  onRejected(hash: Uint8Array, why: Rejection): void;
}

/**
 * Reap the mempool (bounded by the consensus params), execute, and make the
 * block on the store's head. Txs the pool admitted against a state that has
 * since changed are left out, with their reason, and the block built again.
 */
export async function buildBlock(deps: BlockExecDeps, mempool: Mempool, input: BuildBlockInput): Promise<ExecutedBlock> {
  const head = deps.store.head();
  const evidence = (input.evidence ?? []).slice(0, MAX_BLOCK_EVIDENCE);
  let txs = mempool.reap(deps.params.maxBlockTxs, deps.params.maxBlockBytes);
  let effects: BlockEffects;
  for (;;) {
    try {
      effects = await execute(deps, txs, input.height, input.time);
      break;
    } catch (e) {
      if (!(e instanceof ChainError) || typeof e.data?.index !== "number") throw e;
      const bad = txs[e.data.index]!;
      const why = { code: e.code, message: e.message };
      mempool.drop(bad.hash, why);
      input.onRejected(bad.hash, why);
      txs = txs.filter((c) => c !== bad);
    }
  }
  const { root, nodes, encoded } = await deps.store.computeStateRoot(effects.writes, effects.documents);
  const header: BlockHeader = {
    chainId: deps.chainId,
    height: input.height,
    time: input.time,
    prevHash: head.hash,
    txRoot: txMerkleRoot(txs.map((c) => c.hash)),
    evidenceHash: evidenceMerkleRoot(evidence.map((e) => e.encoded)),
    stateRoot: root,
    validatorsHash: input.validators.hash,
    nextValidatorsHash: input.nextValidators.hash,
    proposer: input.proposer,
    lastCommitHash: input.lastCommit ? commitHash(input.lastCommit) : ZERO_HASH,
  };
  const block: Block = { header, txs: txs.map((c) => c.encoded), evidence: evidence.map((e) => e.encoded), lastCommit: input.lastCommit };
  return { block, hash: headerHash(header), txs, effects, smtNodes: nodes, encodedWrites: encoded, evidence };
}

export interface ValidateBlockRules {
  /** The set that signs this height (header validatorsHash). */
  validators: ValidatorSet;
  /** The set that signs height+1 (header nextValidatorsHash). */
  nextValidators: ValidatorSet;
  /** The set that signed height-1 (lastCommit). */
  lastValidators: ValidatorSet | undefined;
  /** The proposer this height and round must have (priorities). */
  proposer: Uint8Array;
  /** Latest acceptable block time (now + allowed clock drift); undefined skips the check (a synced block is already decided). */
  maxTime: number | undefined;
  /** The validator set at any earlier height, for the block's evidence. */
  setAt(height: number): Promise<ValidatorSet>;
}

/**
 * valid(v) for a block on the store's head: the links (chain id, height,
 * prevHash, lastCommit that verifies against the previous set), the sets
 * the header names (this height's and the next one's), the
 * proposer, the time (after the previous block's, not too far ahead), the
 * size bounds, and the header roots equal to what re-executing its txs
 * gives. Throws BlockValidationError; returns the executed block.
 */
export async function validateBlock(deps: BlockExecDeps, block: Block, rules: ValidateBlockRules): Promise<ExecutedBlock> {
  const head = deps.store.head();
  const h = block.header;
  const fail = (m: string) => new BlockValidationError(`block ${h.height}: ${m}`);
  if (h.chainId !== deps.chainId) throw fail(`chain id ${JSON.stringify(h.chainId)}, expected ${JSON.stringify(deps.chainId)}`);
  if (h.height !== head.height + 1) throw fail(`expected height ${head.height + 1}`);
  if (!bytesEqual(h.prevHash, head.hash)) throw fail(`prevHash ${toHex(h.prevHash)} is not the head ${toHex(head.hash)}`);
  if (!(h.time > head.time)) throw fail(`time ${h.time} is not after the previous block's ${head.time}`);
  if (rules.maxTime !== undefined && h.time > rules.maxTime) throw fail(`time ${h.time} is more than the allowed drift ahead of this node's clock`);
  if (!bytesEqual(h.validatorsHash, rules.validators.hash)) throw fail("validatorsHash does not name this height's validator set");
  if (!bytesEqual(h.nextValidatorsHash, rules.nextValidators.hash)) {
    throw fail(`nextValidatorsHash ${toHex(h.nextValidatorsHash)} does not name the validator set of height ${h.height + 1} (${toHex(rules.nextValidators.hash)})`);
  }
  if (!bytesEqual(h.proposer, rules.proposer)) throw fail(`proposer ${toHex(h.proposer)} is not the expected ${toHex(rules.proposer)}`);
  if (h.height === 1) {
    if (block.lastCommit !== null || !bytesEqual(h.lastCommitHash, ZERO_HASH)) throw fail("block 1 carries no lastCommit");
  } else {
    const lc = block.lastCommit;
    if (!lc) throw fail("missing lastCommit");
    if (lc.height !== h.height - 1 || !bytesEqual(lc.blockHash, head.hash)) throw fail("lastCommit is not for the previous block");
    if (!rules.lastValidators || !verifyCommit(deps.chainId, lc, rules.lastValidators)) throw fail("lastCommit does not verify against the previous validator set");
    if (!bytesEqual(h.lastCommitHash, commitHash(lc))) throw fail("lastCommitHash does not match lastCommit");
  }
  if (block.txs.length > deps.params.maxBlockTxs) throw fail(`${block.txs.length} txs exceed maxBlockTxs ${deps.params.maxBlockTxs}`);
  const bytes = block.txs.reduce((s, t) => s + t.length, 0);
  if (bytes > deps.params.maxBlockBytes) throw fail(`${bytes} tx bytes exceed maxBlockBytes ${deps.params.maxBlockBytes}`);
  let txs: CheckedTx[];
  try {
    txs = block.txs.map((encoded) => {
      const hash = txHash(encoded);
      const known = deps.knownTx?.(hash);
      return known ? { tx: known.tx, encoded, hash } : { tx: decodeTx(encoded, deps.chainId), encoded, hash };
    });
  } catch (e) {
    throw fail(`undecodable tx: ${(e as Error).message}`);
  }
  if (!bytesEqual(h.txRoot, txMerkleRoot(txs.map((c) => c.hash)))) throw fail("txRoot does not match the txs");
  if (!bytesEqual(h.evidenceHash, evidenceMerkleRoot(block.evidence))) throw fail("evidenceHash does not match the evidence");
  let evidence: VerifiedEvidence[];
  try {
    evidence = await checkBlockEvidence(block.evidence, { chainId: deps.chainId, height: h.height, maxAgeBlocks: maxEvidenceAge(deps.params) }, deps.store, rules.setAt);
  } catch (e) {
    if (e instanceof ChainError) throw fail(`evidence: ${e.message}`);
    throw e;
  }
  let effects: BlockEffects;
  try {
    effects = await execute(deps, txs, h.height, h.time);
  } catch (e) {
    if (e instanceof ChainError) throw fail(`a tx does not apply: ${e.message}`);
    throw e;
  }
  const { root, nodes, encoded } = await deps.store.computeStateRoot(effects.writes, effects.documents);
  if (!bytesEqual(root, h.stateRoot)) throw fail(`stateRoot ${toHex(h.stateRoot)} differs from the re-executed ${toHex(root)}`);
  return { block, hash: headerHash(h), txs, effects, smtNodes: nodes, encodedWrites: encoded, evidence };
}

/** Write an executed block with its commit in one synced batch (invariant 3). */
export function commitExecuted(store: ChainStore, ex: ExecutedBlock, commit: Commit, extra: { signState?: unknown; nextProposerPriorities?: Uint8Array } = {}): Promise<void> {
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
    ...(extra.signState !== undefined ? { signState: extra.signState } : {}),
    ...(extra.nextProposerPriorities !== undefined ? { nextProposerPriorities: extra.nextProposerPriorities } : {}),
  });
}

/** What committing a block produced: the event every engine emits, and the pooled txs that no longer apply. */
export interface AppliedBlock {
  event: CommittedBlockEvent;
  dropped: { hash: Uint8Array; why: Rejection }[];
}

/** Where a committed block's effects go besides the store: the mempool, and the listeners of "block" and "txRejected". */
export interface BlockApplyDeps {
  store: ChainStore;
  mempool: Mempool;
  onBlock(ev: CommittedBlockEvent): void;
  onTxRejected(d: { hash: Uint8Array; why: Rejection }): void;
}

/**
 * The one way in for a decided block, whoever decided it (the single
 * validator, BFT consensus, block sync): write it with its commit in one
 * synced batch (invariant 3), take its txs out of the mempool (and the pooled
 * txs it made stale), then tell the listeners. A block reaches this only
 * executed against the store's head (buildBlock or validateBlock).
 */
export async function applyExecutedBlock(deps: BlockApplyDeps, ex: ExecutedBlock, commit: Commit, extra: { signState?: unknown; nextProposerPriorities?: Uint8Array } = {}): Promise<AppliedBlock> {
  await commitExecuted(deps.store, ex, commit, extra);
  const dropped = await deps.mempool.onBlockCommitted(ex.txs.map((c) => c.hash));
  const event: CommittedBlockEvent = { block: ex.block, hash: ex.hash, txs: ex.txs, versions: ex.effects.versions, statusLists: ex.effects.statusLists, evidence: ex.evidence, round: commit.round };
  deps.onBlock(event);
  for (const d of dropped) deps.onTxRejected(d);
  return { event, dropped };
}

export interface CommittedBlockRules extends Omit<ValidateBlockRules, "maxTime" | "proposer"> {
  /** The proposer of a round of this height (priorities advanced by the commit's round). */
  proposerOf(round: number): Uint8Array;
}

/**
 * A block decided elsewhere (block sync, a peer's commit): its commit must
 * name it and carry more than 2/3 of the power of the set of its own height;
 * then the block must be valid on the store's head. Returns it executed, for
 * applyExecutedBlock. Throws BlockValidationError.
 */
export async function verifyCommittedBlock(deps: BlockExecDeps, block: Block, commit: Commit, rules: CommittedBlockRules): Promise<ExecutedBlock> {
  const h = block.header.height;
  const hash = headerHash(block.header);
  if (commit.height !== h || !bytesEqual(commit.blockHash, hash)) throw new BlockValidationError(`commit is not for block ${h}`);
  if (!verifyCommit(deps.chainId, commit, rules.validators)) throw new BlockValidationError(`commit of block ${h} does not verify against the validator set of height ${h}`);
  return validateBlock(deps, block, { ...rules, proposer: rules.proposerOf(commit.round), maxTime: undefined });
}
