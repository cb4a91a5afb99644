/**
 * DID resolution over the node's state: the one path both bindings take,
 * JSON-RPC `did_resolve` and the Universal Resolver route, so they give the
 * same answer for the same question.
 */
import type { DidRecord, DidVersion } from "../chain/state.js";
import type { DidVersionEntry } from "../chain/store.js";
import {
  type DidResolutionResult,
  type ResolutionOptions,
  checkResolutionRequest,
  resolutionError,
  resolveCurrent,
  resolveVersion,
  versionTimeBound,
} from "../did/resolution.js";

/** What resolution reads of a node: the current record and the version indexes, never a whole history. */
export interface DidReadApi {
  /** Time (ms since the Unix epoch) of the latest committed block. */
  head(): { time: number };
  getDid(did: string): Promise<DidRecord | undefined>;
  /** One version with its document. */
  getDidVersion(did: string, versionId: number): Promise<DidVersion | undefined>;
  /** One version without its document. */
  getDidVersionEntry(did: string, versionId: number): Promise<DidVersionEntry | undefined>;
  /** The number of the latest version whose block time is not after `time` (ms), or undefined. */
  didVersionAt(did: string, time: number): Promise<number | undefined>;
}

export type ResolveDid = (did: string, opts: ResolutionOptions) => Promise<DidResolutionResult>;

/**
 * Resolve against `api`. The current version comes from the current record
 * alone; an earlier one costs the current record (usually cached), that
 * version (one get) and the next version's entry (one small get), and a
 * versionTime one reverse seek in the time index before that. "Now", the
 * bound of versionTime, is the later of this machine's clock and the
 * latest block time: every block still to come will carry a later time
 * than either.
 */
export function createResolveDid(api: DidReadApi, clock: () => number = Date.now): ResolveDid {
  // Records are immutable values (a write replaces the object), so the
  // result built from one can be kept as long as the record itself is.
  const currentResults = new WeakMap<DidRecord, DidResolutionResult>();
  const current = (rec: DidRecord): DidResolutionResult => {
    let r = currentResults.get(rec);
    if (!r) currentResults.set(rec, (r = resolveCurrent(rec)));
    return r;
  };

  /** Version `versionId` of `did`, whose current record is `rec` (versionId <= rec.versionId). */
  const resolveNumbered = async (did: string, rec: DidRecord, versionId: number): Promise<DidResolutionResult> => {
    if (versionId === rec.versionId) return current(rec);
    const [v, next] = await Promise.all([api.getDidVersion(did, versionId), api.getDidVersionEntry(did, versionId + 1)]);
    // The record says these versions exist: a store without them is damaged, not a client's mistake.
    if (!v || !next) {
      throw new Error(`the version index of ${did} lacks version ${v ? versionId + 1 : versionId} of ${rec.versionId}; resync this node's data dir`);
    }
    return resolveVersion(
      { versionId: v.versionId, time: v.time, deactivated: v.operation === "deactivate", document: v.document },
      rec.created,
      { versionId: next.versionId, time: next.time },
    );
  };

  return async (did, opts) => {
    const now = Math.max(clock(), api.head().time);
    const bad = checkResolutionRequest(did, opts, now);
    if (bad) return bad;
    const rec = await api.getDid(did);
    if (!rec) return resolutionError("notFound", `${did} is not registered`);
    if (opts.versionId !== undefined) {
      const n = Number(opts.versionId);
      if (n > rec.versionId) return resolutionError("notFound", `${did} has no version ${opts.versionId}`);
      return resolveNumbered(did, rec, n);
    }
    if (opts.versionTime !== undefined) {
      // The record knows the ends of the history: only a time inside it needs the index.
      const bound = versionTimeBound(opts.versionTime);
      if (bound >= rec.updated) return current(rec);
      if (bound < rec.created) return resolutionError("notFound", `${did} did not exist at ${opts.versionTime}`);
      const n = await api.didVersionAt(did, bound);
      if (n === undefined) return resolutionError("notFound", `${did} did not exist at ${opts.versionTime}`);
      // A block committed after the record was read may hold a later version; answer as of the record.
      return resolveNumbered(did, rec, Math.min(n, rec.versionId));
    }
    return current(rec);
  };
}
