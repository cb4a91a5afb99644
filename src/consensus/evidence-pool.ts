/**
 * Evidence of equivocation that is known to this node and not yet committed
 * (equivocation): what the BFT engine detected itself and what peers
 * gossiped. A proposer draws from it (includableEvidence); a committed block
 * removes what it carried; items too old for any future block expire.
 *
 * Every item passes the block rule before it is pooled (checkBlockEvidence,
 * judged as if for the block after the next one, the highest height whose
 * set the store knows), so gossip and blocks apply one rule and the pool
 * holds nothing a block would refuse for its own sake. The pool is bounded:
 * when full, the oldest entry leaves (equivocation needs a validator's
 * signatures, so a flood of valid evidence is itself evidence).
 */
import { toHex } from "../crypto/bytes.js";
import type { EncodedEvidence } from "../chain/block.js";
import { ChainError, EvidenceErrorCode } from "../chain/errors.js";
import type { ChainHead } from "../chain/store.js";
import { ConsensusError } from "./errors.js";
import { REJECT_INVALID } from "../errors.js";
import { type DuplicateVoteEvidence, decodeEvidence, encodeEvidence, evidenceHash } from "./evidence.js";
import { type EvidenceStore, type VerifiedEvidence, checkBlockEvidence } from "./evidence-rules.js";
import type { ValidatorSet } from "../chain/validator-set.js";

export interface EvidencePoolOptions {
  /** Most items held; the oldest leaves when a new one comes. */
  maxItems: number;
}

export const defaultEvidencePoolOptions: Readonly<EvidencePoolOptions> = Object.freeze({ maxItems: 1_000 });

export interface EvidencePoolDeps {
  chainId: string;
  store: EvidenceStore & { head(): ChainHead };
  /** The validator set of a height (ValidatorSetsByHeight.at): 1 to head + 2. */
  setAt(height: number): Promise<ValidatorSet>;
  /** The chain's evidence age limit in blocks (maxEvidenceAge of the consensus params). */
  maxAgeBlocks: number;
}

interface PooledEvidence {
  encoded: EncodedEvidence;
  /** Height of the conflicting votes. */
  height: number;
}

export class EvidencePool {
  readonly opts: EvidencePoolOptions;
  /** By evidence hash (hex), in insertion order. */
  private readonly items = new Map<string, PooledEvidence>();
  /** Hashes being checked, so a copy that arrives meanwhile is not checked (and relayed) twice. */
  private readonly checking = new Set<string>();

  constructor(
    opts: Partial<EvidencePoolOptions>,
    private readonly deps: EvidencePoolDeps,
  ) {
    this.opts = { ...defaultEvidencePoolOptions, ...opts };
    if (!Number.isSafeInteger(this.opts.maxItems) || this.opts.maxItems < 1) {
      throw new ChainError(EvidenceErrorCode.INVALID, `evidence pool maxItems must be a positive integer, got ${String(this.opts.maxItems)}`);
    }
  }

  get size(): number {
    return this.items.size;
  }

  has(hash: Uint8Array): boolean {
    return this.items.has(toHex(hash));
  }

  /**
   * Pool evidence found here or received from a peer (encoded bytes or the
   * decoded pair). Returns the verified evidence when it is new, undefined
   * when it is already pooled or being checked; throws ChainError
   * (EVIDENCE_INVALID, EVIDENCE_TOO_OLD, EVIDENCE_DUPLICATE for evidence
   * already committed) when it fails the block rule, with `data.forged` and
   * a "reject" verdict when the item is wrong whoever judges it (see
   * evidence-rules).
   */
  async add(evidence: EncodedEvidence | DuplicateVoteEvidence): Promise<VerifiedEvidence | undefined> {
    let decoded: DuplicateVoteEvidence;
    try {
      decoded = evidence instanceof Uint8Array ? decodeEvidence(evidence) : evidence;
    } catch (e) {
      if (e instanceof ConsensusError) throw new ChainError(EvidenceErrorCode.INVALID, `evidence: ${e.message}`, { forged: true }, REJECT_INVALID);
      throw e;
    }
    // Pool the canonical encoding: one equivocation, one hash, whoever sent which bytes.
    const encoded = encodeEvidence(decoded);
    const hex = toHex(evidenceHash(decoded));
    if (this.items.has(hex) || this.checking.has(hex)) return undefined;
    this.checking.add(hex);
    try {
      const head = this.deps.store.head().height;
      const [verified] = await checkBlockEvidence([encoded], { chainId: this.deps.chainId, height: head + 2, maxAgeBlocks: this.deps.maxAgeBlocks }, this.deps.store, this.deps.setAt);
      if (this.items.size >= this.opts.maxItems) this.items.delete(this.items.keys().next().value!);
      this.items.set(hex, { encoded, height: verified!.height });
      return verified;
    } finally {
      this.checking.delete(hex);
    }
  }

  /** The pooled evidence, oldest first (the proposer filters it with includableEvidence). */
  pending(): EncodedEvidence[] {
    return [...this.items.values()].map((i) => i.encoded);
  }

  /**
   * A block was committed at `height` with `committed` evidence: that leaves
   * the pool, and so does evidence no later block may carry (more than
   * maxAgeBlocks below the next height).
   */
  onBlockCommitted(height: number, committed: readonly Uint8Array[]): void {
    for (const h of committed) this.items.delete(toHex(h));
    const oldest = height + 1 - this.deps.maxAgeBlocks;
    for (const [hex, item] of this.items) if (item.height < oldest) this.items.delete(hex);
  }
}
