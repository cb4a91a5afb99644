/**
 * Building and validating a block: the steps every engine shares before a
 * block is committed (commit.ts). A proposer builds a block from the mempool
 * and executes it before proposing (the header carries the state root after
 * its txs); every other validator, and a node applying a synced block,
 * re-executes the same txs and must reach the same header.
 */
import { bytesEqual, toHex } from "../crypto/bytes.js";
import { type Block, type BlockHeader, type Commit, type EncodedEvidence, MAX_BLOCK_EVIDENCE, ZERO_HASH, commitHash, evidenceMerkleRoot, headerHash, txMerkleRoot } from "../chain/block.js";
import { BlockErrorCode, ChainError } from "../chain/errors.js";
import { type BlockEffects, type CheckedTx, type SignatureVerifier, applyBlockTxs, applyTxsLeavingOutFailures, touchedKeys } from "../chain/execute.js";
import { type ConsensusParams, maxEvidenceAge } from "../chain/genesis.js";
import type { Mempool, Rejection } from "../chain/mempool.js";
import type { DidDocument } from "../did/document.js";
import { type StateRecord, type StateView, viewOfRecords } from "../chain/state.js";
import type { ChainHead } from "../chain/store.js";
import { decodeTx, txHash } from "../chain/tx.js";
import { CodedError, type NoData, REJECT_INVALID } from "../errors.js";
import type { ValidatorSet } from "../chain/validator-set.js";
import { type EvidenceStore, type VerifiedEvidence, checkBlockEvidence, includableEvidence } from "./evidence-rules.js";
import { verifyCommit } from "../chain/vote.js";

/** Why a proposed or synced block was refused: its header does not match what re-execution gives, or a rule of the chain fails. Its sender is to blame. */
export class BlockValidationError extends CodedError<BlockErrorCode.INVALID_BLOCK, NoData> {
  constructor(message: string) {
    super(BlockErrorCode.INVALID_BLOCK, message, undefined, REJECT_INVALID);
  }
}

/** A block together with what executing it produced, ready to commit (commit.ts). */
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

/**
 * What building and validating a block read of the chain: its head, the
 * state records a block's txs touch, the state root after a block's writes,
 * and where evidence was committed. ChainStore fits.
 */
export interface BlockExecStore extends EvidenceStore {
  head(): ChainHead;
  /** The commit of a stored block (the next block's lastCommit). */
  getCommit(height: number): Promise<Commit | undefined>;
  loadState(ids: Iterable<string>): Promise<Map<string, StateRecord | undefined>>;
  /** The state root after `writes` on the head's state, with the tree nodes and record encodings it wrote. */
  computeStateRoot(
    writes: Map<string, StateRecord>,
    documents?: ReadonlyMap<DidDocument, Uint8Array>,
  ): Promise<{ root: Uint8Array; nodes: Map<string, Uint8Array>; encoded: Map<string, Uint8Array> }>;
}

export interface BlockExecDeps {
  chainId: string;
  store: BlockExecStore;
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

/** The head's state, loaded for every record `txs` touch. */
async function stateFor(deps: BlockExecDeps, txs: readonly CheckedTx[]): Promise<StateView> {
  const ids = new Set<string>();
  for (const c of txs) for (const d of touchedKeys(c)) ids.add(d);
  return viewOfRecords(await deps.store.loadState(ids));
}

async function execute(deps: BlockExecDeps, txs: readonly CheckedTx[], height: number, time: number): Promise<BlockEffects> {
  return applyBlockTxs(await stateFor(deps, txs), txs, { chainId: deps.chainId, height, time, verifier: deps.verifier });
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
 * since changed are left out, with their reason: each tx runs on its own
 * overlay of the block's state, so a failing one leaves no write behind and
 * the others are not executed again.
 */
export async function buildBlock(deps: BlockExecDeps, mempool: Mempool, input: BuildBlockInput): Promise<ExecutedBlock> {
  const head = deps.store.head();
  const evidence = (input.evidence ?? []).slice(0, MAX_BLOCK_EVIDENCE);
  const reaped = mempool.reap(deps.params.maxBlockTxs, deps.params.maxBlockBytes);
  const ctx = { chainId: deps.chainId, height: input.height, time: input.time, verifier: deps.verifier };
  const { txs, effects } = applyTxsLeavingOutFailures(await stateFor(deps, reaped), reaped, ctx, (bad, e) => {
    const why = { code: e.code, message: e.message };
    mempool.drop(bad.hash, why);
    input.onRejected(bad.hash, why);
  });
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

export interface NextBlockInput {
  height: number;
  /** This node's clock: the block's time, unless the head's is not before it. */
  now: number;
  /** This node's validator address. */
  proposer: Uint8Array;
  /** The set that signs a height (the block's, the next one's, and those of its evidence). */
  setAt(height: number): Promise<ValidatorSet>;
  /** Evidence not yet committed: what passes the block rule at this height goes in. */
  pendingEvidence: readonly EncodedEvidence[];
  /** A pending evidence that does not pass the block rule here. */
  onEvidenceLeftOut(e: ChainError): void;
  onRejected: BuildBlockInput["onRejected"];
}

/**
 * The block this node proposes on the store's head, whichever engine runs:
 * the head's commit as lastCommit, the pending evidence that passes the block
 * rule, the sets of its height and the next, and the pool's txs (buildBlock).
 */
export async function buildNextBlock(deps: BlockExecDeps, mempool: Mempool, input: NextBlockInput): Promise<ExecutedBlock> {
  const { height } = input;
  const head = deps.store.head();
  const lastCommit = height > 1 ? ((await deps.store.getCommit(head.height)) ?? null) : null;
  const evidence = await includableEvidence(
    input.pendingEvidence,
    { chainId: deps.chainId, height, maxAgeBlocks: maxEvidenceAge(deps.params) },
    deps.store,
    input.setAt,
    input.onEvidenceLeftOut,
  );
  return buildBlock(deps, mempool, {
    height,
    time: Math.max(input.now, head.time + 1),
    proposer: input.proposer,
    validators: await input.setAt(height),
    nextValidators: await input.setAt(height + 1),
    lastCommit,
    evidence,
    onRejected: input.onRejected,
  });
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

export interface CommittedBlockRules extends Omit<ValidateBlockRules, "maxTime" | "proposer"> {
  /** The proposer of a round of this height (priorities advanced by the commit's round). */
  proposerOf(round: number): Uint8Array;
}

/**
 * A block decided elsewhere (block sync, a peer's commit): its commit must
 * name it and carry more than 2/3 of the power of the set of its own height;
 * then the block must be valid on the store's head. Returns it executed, for
 * commitDecidedBlock (commit.ts). Throws BlockValidationError.
 */
export async function verifyCommittedBlock(deps: BlockExecDeps, block: Block, commit: Commit, rules: CommittedBlockRules): Promise<ExecutedBlock> {
  const h = block.header.height;
  const hash = headerHash(block.header);
  if (commit.height !== h || !bytesEqual(commit.blockHash, hash)) throw new BlockValidationError(`commit is not for block ${h}`);
  if (!verifyCommit(deps.chainId, commit, rules.validators)) throw new BlockValidationError(`commit of block ${h} does not verify against the validator set of height ${h}`);
  return validateBlock(deps, block, { ...rules, proposer: rules.proposerOf(commit.round), maxTime: undefined });
}
