/**
 * Block production for a validator set of one: the n = 1 case of the BFT
 * design. The validator proposes, and its own vote is more than 2/3 of the
 * power, so it precommits and commits at once. Blocks are made as soon as
 * txs are pending, bounded by the consensus params, and an empty heartbeat
 * block is made when nothing happened for `heartbeatMs`.
 */
import { EventEmitter } from "node:events";
import { toHex } from "../crypto/bytes.js";
import type { Block, Commit } from "../chain/block.js";
import type { CheckedTx, CredentialEvent, SignatureVerifier } from "../chain/execute.js";
import type { ConsensusParams } from "../chain/genesis.js";
import type { Mempool } from "../chain/mempool.js";
import type { DidVersion } from "../chain/state.js";
import type { ChainStore } from "../chain/store.js";
import { buildBlock, commitExecuted } from "./block-exec.js";
import type { ValidatorSigner } from "./signer.js";
import type { ValidatorSet } from "./validators.js";
import { VoteStep } from "./vote.js";

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
  /** Credential anchors and status changes, in commit order. */
  credentials: CredentialEvent[];
  /** Round of the decision (0 when absent: a single validator always commits in round 0). */
  round?: number;
}

export interface EngineDeps {
  chainId: string;
  store: ChainStore;
  mempool: Mempool;
  validators: ValidatorSet;
  signer: ValidatorSigner;
  params: ConsensusParams;
  verifier: SignatureVerifier;
  clock: () => number;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

export class SingleValidatorEngine extends EventEmitter {
  private running = false;
  private loopDone: Promise<void> | undefined;

  constructor(
    private readonly opts: EngineOptions,
    private readonly deps: EngineDeps,
  ) {
    super();
    if (deps.validators.validators.length !== 1 || !deps.validators.byAddress(deps.signer.address)) {
      throw new Error("this node's validator key is not the single validator named in genesis");
    }
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
        this.deps.log("block production failed", { error: (e as Error).message });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Build, execute, sign and commit one block from the pending txs. */
  async produceBlock(): Promise<CommittedBlockEvent> {
    const { store, mempool } = this.deps;
    const head = store.head();
    const height = head.height + 1;
    const time = Math.max(this.deps.clock(), head.time + 1);
    const lastCommit = height > 1 ? ((await store.getCommit(head.height)) ?? null) : null;
    const ex = await buildBlock(this.deps, mempool, {
      height,
      time,
      proposer: this.deps.signer.address,
      validators: this.deps.validators,
      lastCommit,
      onRejected: (hash, why) => this.emit("txRejected", { hash, why }),
    });
    const { block, hash, txs, effects } = ex;
    const { sig, state } = this.deps.signer.sign({ chainId: this.deps.chainId, height, round: 0, step: VoteStep.Precommit, blockHash: hash });
    const commit: Commit = { height, round: 0, blockHash: hash, sigs: [{ validator: this.deps.signer.address, sig }] };
    await commitExecuted(store, ex, commit, { signState: state });
    const dropped = await mempool.onBlockCommitted(txs.map((c) => c.hash));
    const event: CommittedBlockEvent = { block, hash, txs, versions: effects.versions, credentials: effects.credentials };
    this.emit("block", event);
    for (const d of dropped) this.emit("txRejected", d);
    if (txs.length > 0) this.deps.log("committed block", { height, txs: txs.length, hash: toHex(hash).slice(0, 16) });
    return event;
  }
}
