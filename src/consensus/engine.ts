/**
 * Block production for a validator set of one: the n = 1 case of the BFT
 * design. The validator proposes, and its own vote is more than 2/3 of the
 * power, so it precommits and commits at once. Blocks are made as soon as
 * txs are pending, bounded by the consensus params, and an empty heartbeat
 * block is made when nothing happened for `heartbeatMs`.
 */
import { EventEmitter } from "node:events";
import { toHex } from "../crypto/bytes.js";
import { type Block, type BlockHeader, type Commit, ZERO_HASH, commitHash, headerHash, txMerkleRoot } from "../chain/block.js";
import { ChainError } from "../chain/errors.js";
import { type CheckedTx, type CredentialEvent, type SignatureVerifier, applyBlockTxs, touchedKeys } from "../chain/execute.js";
import type { ConsensusParams } from "../chain/genesis.js";
import type { Mempool } from "../chain/mempool.js";
import type { DidVersion } from "../chain/state.js";
import { ChainStore } from "../chain/store.js";
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
    const { store, mempool, params } = this.deps;
    const head = store.head();
    const height = head.height + 1;
    const time = Math.max(this.deps.clock(), head.time + 1);
    const ctx = { chainId: this.deps.chainId, height, time, verifier: this.deps.verifier };
    let txs = mempool.reap(params.maxBlockTxs, params.maxBlockBytes);
    let effects;
    for (;;) {
      const dids = new Set<string>();
      for (const c of txs) for (const d of touchedKeys(c)) dids.add(d);
      const loaded = await store.loadState(dids);
      try {
        effects = applyBlockTxs(ChainStore.viewOf(loaded), txs, ctx);
        break;
      } catch (e) {
        // The pool admitted this tx against a state that has since changed:
        // leave it out, with its reason, and build again.
        if (!(e instanceof ChainError) || typeof e.data?.index !== "number") throw e;
        const bad = txs[e.data.index]!;
        const why = { code: e.code, message: e.message };
        mempool.drop(bad.hash, why);
        this.emit("txRejected", { hash: bad.hash, why });
        txs = txs.filter((c) => c !== bad);
      }
    }
    const { root, nodes, encoded } = await store.computeStateRoot(effects.writes);
    const lastCommit = height > 1 ? ((await store.getCommit(head.height)) ?? null) : null;
    const header: BlockHeader = {
      chainId: this.deps.chainId,
      height,
      time,
      prevHash: head.hash,
      txRoot: txMerkleRoot(txs.map((c) => c.hash)),
      stateRoot: root,
      validatorsHash: this.deps.validators.hash,
      proposer: this.deps.signer.address,
      lastCommitHash: lastCommit ? commitHash(lastCommit) : ZERO_HASH,
    };
    const hash = headerHash(header);
    const block: Block = { header, txs: txs.map((c) => c.encoded), lastCommit };
    const { sig, state } = this.deps.signer.sign({ chainId: this.deps.chainId, height, round: 0, step: VoteStep.Precommit, blockHash: hash });
    const commit: Commit = { height, round: 0, blockHash: hash, sigs: [{ validator: this.deps.signer.address, sig }] };
    await store.commitBlock({
      block,
      blockHash: hash,
      commit,
      txHashes: txs.map((c) => c.hash),
      writes: effects.writes,
      encodedWrites: encoded,
      versions: effects.versions,
      credentials: effects.credentials,
      smtNodes: nodes,
      signState: state,
    });
    const dropped = await mempool.onBlockCommitted(txs.map((c) => c.hash));
    const event: CommittedBlockEvent = { block, hash, txs, versions: effects.versions, credentials: effects.credentials };
    this.emit("block", event);
    for (const d of dropped) this.emit("txRejected", d);
    if (txs.length > 0) this.deps.log("committed block", { height, txs: txs.length, hash: toHex(hash).slice(0, 16) });
    return event;
  }
}
