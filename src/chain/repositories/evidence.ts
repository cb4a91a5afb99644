/**
 * Committed evidence of misbehaviour, under Evidence: where each piece was
 * committed by its hash, all of it in commit order, and each validator's.
 * The evidence bytes stay in their block.
 */
import { evidenceByHashKey, evidenceByValidatorKey, evidenceByValidatorPrefix, evidenceOrderKey, evidenceOrderPrefix } from "../buckets.js";
import { decodeCanonical, encodeCanonical } from "../codec.js";
import { type KvBatch, type KvStore, prefixEnd } from "../db/kv.js";

/** What the store indexes of one piece of evidence in a block. */
export interface CommittedEvidenceIndex {
  /** sha256 of the evidence encoding. */
  hash: Uint8Array;
  /** Address (20 bytes) of the validator it convicts. */
  validator: Uint8Array;
}

/** Where committed evidence is: block height, index in the block's evidence list, the convicted validator. */
export interface EvidenceLocation {
  height: number;
  index: number;
  validator: Uint8Array;
}

export class EvidenceRepository {
  constructor(private readonly kv: KvStore) {}

  /** Where evidence with this hash was committed, or undefined. */
  async location(hash: Uint8Array): Promise<EvidenceLocation | undefined> {
    const raw = await this.kv.get(evidenceByHashKey(hash));
    return raw ? (decodeCanonical(raw) as unknown as EvidenceLocation) : undefined;
  }

  /**
   * Hashes of committed evidence in commit order (height, then position in
   * the block), all or one validator's, at most `limit`, after the piece at
   * `after` (its location) when given.
   */
  async hashes(opts: { validator?: Uint8Array; after?: EvidenceLocation; limit: number }): Promise<Uint8Array[]> {
    const prefix = opts.validator ? evidenceByValidatorPrefix(opts.validator) : evidenceOrderPrefix();
    const after = opts.after;
    const gt = after ? (opts.validator ? evidenceByValidatorKey(opts.validator, after.height, after.index) : evidenceOrderKey(after.height, after.index)) : undefined;
    const out: Uint8Array[] = [];
    for await (const hash of this.kv.values({ ...(gt ? { gt } : { gte: prefix }), lt: prefixEnd(prefix), limit: opts.limit })) out.push(hash);
    return out;
  }

  /** Adds the indexes of a block's evidence (in block order) to `batch`. */
  putBlock(batch: KvBatch, height: number, evidence: readonly CommittedEvidenceIndex[]): void {
    evidence.forEach((ev, index) => {
      batch.put(evidenceByHashKey(ev.hash), encodeCanonical({ height, index, validator: ev.validator }));
      batch.put(evidenceOrderKey(height, index), ev.hash);
      batch.put(evidenceByValidatorKey(ev.validator, height, index), ev.hash);
    });
  }
}
