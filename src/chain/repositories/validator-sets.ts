/** Validator sets, under ValidatorSet: every set by the height it starts at (genesis at 1). */
import { validatorSetKey } from "../buckets.js";
import { decodeCanonical, encodeCanonical } from "../codec.js";
import type { KvBatch, KvStore } from "../db/kv.js";
import type { ValidatorEntry, ValidatorsRecord } from "../validators.js";

export class ValidatorSetRepository {
  constructor(private readonly kv: KvStore) {}

  /** The set that starts at the highest height not above `height`, or undefined when none does. */
  async inForceAt(height: number): Promise<ValidatorEntry[] | undefined> {
    for await (const value of this.kv.values({ gte: validatorSetKey(0), lte: validatorSetKey(height), reverse: true, limit: 1 })) {
      return decodeCanonical(value) as unknown as ValidatorEntry[];
    }
    return undefined;
  }

  /** Adds the set starting at `effectiveHeight` to `batch` (rewriting one already stored is a no-op). */
  put(batch: KvBatch, effectiveHeight: number, set: readonly ValidatorEntry[]): void {
    batch.put(validatorSetKey(effectiveHeight), encodeCanonical(set as never));
  }

  /** Adds the sets a validator record schedules (its pending changes) to `batch`. */
  putScheduled(batch: KvBatch, record: ValidatorsRecord | undefined): void {
    for (const p of record?.pending ?? []) this.put(batch, p.effectiveHeight, p.set);
  }
}
