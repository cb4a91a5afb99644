/**
 * Block production for a validator set of one: the n = 1 case of the BFT
 * design. The validator proposes, and its own vote is more than 2/3 of the
 * power, so it precommits and commits at once. Governance may change the
 * set (validator/set, from H+2): the engine takes the set of each height from
 * the store and produces only while its own power is a quorum of it. Blocks are made as soon as
 * txs are pending, bounded by the consensus params, and an empty heartbeat
 * block is made when nothing happened for `heartbeatMs`.
 */
import type { Logger } from "../log/logger.js";
import { EventEmitter } from "node:events";
import { toHex } from "../crypto/bytes.js";
import type { Block, Commit, EncodedEvidence } from "../chain/block.js";
import type { CheckedTx, StatusListEvent, SignatureVerifier } from "../chain/execute.js";
import type { ConsensusParams } from "../chain/genesis.js";
import type { Mempool } from "../chain/mempool.js";
import type { DidVersion } from "../chain/state.js";
import type { ChainStore } from "../chain/store.js";
import { buildNextBlock } from "./block-exec.js";
import { commitDecidedBlock } from "./commit.js";
import type { ValidatorSigner } from "./signer.js";
import { type ValidatorSet, ValidatorSetsByHeight } from "../chain/validator-set.js";
import { VoteStep } from "../chain/vote.js";
import type { VerifiedEvidence } from "./evidence-rules.js";
import { ConsensusError, ConsensusErrorCode } from "./errors.js";

export interface EngineOptions {
  /** Longest time without a block when no txs arrive. */
  heartbeatMs: number;
}

export const defaultEngineOptions: EngineOptions = { heartbeatMs: 5_000 };

export interface CommittedBlockEvent {
  block: Block;
  hash: Uint8Array;
  txs: CheckedTx[];
  versions: DidVersion[];
  /** Status lists published, in commit order. */
  statusLists: StatusListEvent[];
  /** Evidence of misbehaviour the block committed. */
  evidence: VerifiedEvidence[];
  /** Round of the decision (0 when absent: a single validator always commits in round 0). */
  round?: number;
}

export interface EngineDeps {
  chainId: string;
  store: ChainStore;
  mempool: Mempool;
  /** The genesis set: it signs every height of a chain that keeps no validator set in state. */
  validators: ValidatorSet;
  /** Evidence received from peers, not yet committed; the engine includes what passes the block rule. Default: none. */
  pendingEvidence?: () => EncodedEvidence[];
  signer: ValidatorSigner;
  params: ConsensusParams;
  verifier: SignatureVerifier;
  clock: () => number;
  log: Logger;
}

export class SingleValidatorEngine extends EventEmitter {
  private running = false;
  private loopDone: Promise<void> | undefined;
  private readonly sets: ValidatorSetsByHeight;

  constructor(
    private readonly opts: EngineOptions,
    private readonly deps: EngineDeps,
  ) {
    super();
    const own = deps.validators.byAddress(deps.signer.address);
    if (!own || own.power < deps.validators.quorum()) {
      throw new Error("this node's validator key is not the single validator named in genesis (its power alone must be more than 2/3)");
    }
    this.sets = new ValidatorSetsByHeight(deps.store, deps.validators);
  }

  /** The validator set that signs `height` (1 to head + 2). */
  validatorsAt(height: number): Promise<ValidatorSet> {
    return this.sets.at(height);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loopDone;
  }

  private async loop(): Promise<void> {
    let lastBlockAt = this.deps.clock();
    while (this.running) {
      const wait = Math.max(0, lastBlockAt + this.opts.heartbeatMs - this.deps.clock());
      await this.deps.mempool.waitForTxs(Math.min(wait, 250));
      if (!this.running) break;
      const due = this.deps.clock() - lastBlockAt >= this.opts.heartbeatMs;
      if (this.deps.mempool.size === 0 && !due) continue;
      try {
        await this.produceBlock();
        lastBlockAt = this.deps.clock();
      } catch (e) {
        this.deps.log.info("block production failed", { error: (e as Error).message });
        // Out of the set is not transient: wait a heartbeat, not a moment, before looking again.
        const pause = e instanceof ConsensusError && e.code === ConsensusErrorCode.NOT_VALIDATOR ? this.opts.heartbeatMs : 100;
        await new Promise((r) => setTimeout(r, Math.min(pause, 5_000)));
        if (pause > 100) lastBlockAt = this.deps.clock();
      }
    }
  }

  /** Build, execute, sign and commit one block from the pending txs. */
  async produceBlock(): Promise<CommittedBlockEvent> {
    const { store, mempool } = this.deps;
    const head = store.head();
    const height = head.height + 1;
    const now = this.deps.clock();
    const set = await this.sets.at(height);
    const own = set.byAddress(this.deps.signer.address);
    if (!own || own.power < set.quorum()) {
      throw new ConsensusError(
        ConsensusErrorCode.NOT_VALIDATOR,
        own ? `this validator's power ${own.power} is not a quorum of the set at height ${height} (needs ${set.quorum()})` : `this validator is not in the set at height ${height}`,
      );
    }
    const ex = await buildNextBlock(this.deps, mempool, {
      height,
      now,
      proposer: this.deps.signer.address,
      setAt: (h) => this.sets.at(h),
      pendingEvidence: this.deps.pendingEvidence?.() ?? [],
      onEvidenceLeftOut: (e) => this.deps.log.info("pending evidence left out", { code: e.code, error: e.message }),
      onRejected: (hash, why) => this.emit("txRejected", { hash, why }),
    });
    const { sig, state } = this.deps.signer.sign({ chainId: this.deps.chainId, height, round: 0, step: VoteStep.Precommit, blockHash: ex.hash });
    const commit: Commit = { height, round: 0, blockHash: ex.hash, sigs: [{ validator: this.deps.signer.address, sig }] };
    // The precommit's signature leaves the node only inside this commit: its guard state is made durable with the block.
    const { event } = await commitDecidedBlock({ store, mempool, onBlock: (ev) => this.emit("block", ev), onTxRejected: (d) => this.emit("txRejected", d) }, ex, commit, { signState: state, nextPriorities: undefined });
    if (ex.txs.length > 0 || ex.evidence.length > 0) this.deps.log.info("committed block", { height, txs: ex.txs.length, evidence: ex.evidence.length, hash: toHex(ex.hash).slice(0, 16) });
    return event;
  }
}
