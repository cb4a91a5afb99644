/**
 * The consensus data kept in the chain store's key-value store: the
 * validator's double-sign guard state and the proposer priorities of each
 * height. Both are written in the batch of the block they go with (so a
 * restart finds the guard state of the last block signed, and agrees on
 * the proposers of the next height); this repository reads them typed and
 * adds them to such a batch. Keys are the Meta ones of chain/buckets.ts.
 */
import { proposerPrioritiesKey, signStateKey } from "../chain/buckets.js";
import { decodeCanonical, encodeCanonical } from "../chain/codec.js";
import type { KvBatch, KvStore } from "../chain/db/kv.js";
import { ProposerPriorities } from "./proposer.js";
import type { SignState } from "./signer.js";

/** The consensus data written with one block. */
export interface ConsensusBlockData {
  /** The guard state after the signatures given for the block. */
  signState?: SignState;
  /** Proposer priorities of the height after the block. */
  nextProposerPriorities?: ProposerPriorities;
}

export class ConsensusStore {
  constructor(private readonly kv: KvStore) {}

  /** The guard state stored with the last block the validator signed, or undefined. */
  async signState(): Promise<SignState | undefined> {
    const raw = await this.kv.get(signStateKey());
    return raw ? (decodeCanonical(raw) as unknown as SignState) : undefined;
  }

  /** The encoded proposer priorities stored for `height` (written with block height-1), or undefined. */
  proposerPrioritiesBytes(height: number): Promise<Uint8Array | undefined> {
    return this.kv.get(proposerPrioritiesKey(height));
  }

  /** The proposer priorities stored for `height`, decoded (ConsensusError BAD_MESSAGE when damaged), or undefined. */
  async proposerPriorities(height: number): Promise<ProposerPriorities | undefined> {
    const raw = await this.proposerPrioritiesBytes(height);
    return raw ? ProposerPriorities.decode(raw) : undefined;
  }

  /** Adds the consensus data of the block at `height` to the block's `batch`. */
  putWithBlock(batch: KvBatch, height: number, data: ConsensusBlockData): void {
    putConsensusWithBlock(batch, height, data);
  }
}

/** Adds the consensus data of the block at `height` to the block's `batch` (the one writer of these keys). */
export function putConsensusWithBlock(batch: KvBatch, height: number, data: ConsensusBlockData): void {
  if (data.signState !== undefined) batch.put(signStateKey(), encodeCanonical(data.signState as never));
  if (data.nextProposerPriorities !== undefined) batch.put(proposerPrioritiesKey(height + 1), data.nextProposerPriorities.encode());
}
