/**
 * The validator sets and proposer priorities a BFT engine reads by height.
 * Sets come from the chain's state (governance, effective at H+2) and are
 * read asynchronously, while the machine and the p2p checks need them
 * synchronously: the sets near the height in progress are kept at hand.
 */
import { BlockValidationError } from "./block-exec.js";
import { ProposerPriorities } from "./proposer.js";
import type { ValidatorSet } from "../chain/validator-set.js";

/** Sets kept at hand; h-1 to h+1 are what consensus needs, a few more serve evidence and early messages. */
const MAX_CACHED_SETS = 16;

export class HeightSets {
  private readonly sets = new Map<number, ValidatorSet>();

  constructor(
    /** The set that signs `height`, from the chain's state (1 to head + 2; throws beyond). */
    private readonly fetch: (height: number) => Promise<ValidatorSet>,
    /** The stored proposer priorities of `height`, if any. */
    private readonly storedPriorities: (height: number) => Promise<Uint8Array | undefined>,
    /** The height in progress: the sets around it are the last evicted. */
    private readonly current: () => number,
  ) {}

  /** The set of `height` if it is at hand. */
  cached(height: number): ValidatorSet | undefined {
    return this.sets.get(height);
  }

  /** The set that signs `height`: from the cache, else the store (and cached). */
  async at(height: number): Promise<ValidatorSet> {
    const cached = this.sets.get(height);
    if (cached) return cached;
    const set = await this.fetch(height);
    this.keep(height, set);
    return set;
  }

  /** Keep sets near the current height only. */
  keep(height: number, set: ValidatorSet): void {
    this.sets.set(height, set);
    if (this.sets.size <= MAX_CACHED_SETS) return;
    const current = this.current();
    for (const h of [...this.sets.keys()].sort((a, b) => a - b)) {
      if (this.sets.size <= MAX_CACHED_SETS) break;
      if (h < current - 1 || h > current + 1) this.sets.delete(h);
    }
  }

  /** Forget the sets of heights below `height`. */
  dropBelow(height: number): void {
    for (const h of [...this.sets.keys()]) if (h < height) this.sets.delete(h);
  }

  /**
   * The priorities of `height`, for its set. Stored ones were computed for
   * that set when the previous block was committed (nextFor); a store
   * written before sets changed may hold the previous set's, which are
   * carried over by the same rule.
   */
  async prioritiesAt(height: number, set: ValidatorSet): Promise<ProposerPriorities> {
    const stored = await this.storedPriorities(height);
    if (stored) {
      const pr = ProposerPriorities.decode(stored);
      // nextFor steps once more; a stored value already belongs to its height, so only a mismatch is carried over.
      return pr.matches(set) ? pr : pr.nextFor(set);
    }
    if (height === 1) return ProposerPriorities.initial(set);
    throw new BlockValidationError(`no proposer priorities stored for height ${height}`);
  }
}
