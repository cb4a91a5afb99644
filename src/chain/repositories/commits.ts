/** Commits: the commit of the block at each height (the "seen commit"), under Commit. */
import { commitKey } from "../buckets.js";
import { type Commit, decodeCommit, encodeCommit } from "../block.js";
import type { KvBatch, KvStore } from "../db/kv.js";

export class CommitRepository {
  constructor(private readonly kv: KvStore) {}

  async get(height: number): Promise<Commit | undefined> {
    const raw = await this.kv.get(commitKey(height));
    return raw ? decodeCommit(raw) : undefined;
  }

  put(batch: KvBatch, height: number, commit: Commit): void {
    batch.put(commitKey(height), encodeCommit(commit));
  }
}
