/**
 * DID resolution over the node's state: the one path both bindings take,
 * JSON-RPC `did_resolve` and the Universal Resolver route, so they give the
 * same answer for the same question.
 */
import type { DidRecord, DidVersion } from "../chain/state.js";
import {
  type DidResolutionResult,
  type ResolutionOptions,
  checkResolutionRequest,
  resolutionError,
  resolveCurrent,
  resolveFromVersions,
} from "../did/resolution.js";

/** What resolution reads of a node. */
export interface DidReadApi {
  /** Time (ms since the Unix epoch) of the latest committed block. */
  head(): { time: number };
  getDid(did: string): Promise<DidRecord | undefined>;
  getDidVersions(did: string): Promise<DidVersion[]>;
}

export type ResolveDid = (did: string, opts: ResolutionOptions) => Promise<DidResolutionResult>;

/**
 * Resolve against `api`. The current version comes from the current record
 * alone; versionId and versionTime read the history. "Now", the bound of
 * versionTime, is the later of this machine's clock and the latest block
 * time: every block still to come will carry a later time than either.
 */
export function createResolveDid(api: DidReadApi, clock: () => number = Date.now): ResolveDid {
  // Records are immutable values (a write replaces the object), so the
  // result built from one can be kept as long as the record itself is.
  const currentResults = new WeakMap<DidRecord, DidResolutionResult>();
  return async (did, opts) => {
    const now = Math.max(clock(), api.head().time);
    const bad = checkResolutionRequest(did, opts, now);
    if (bad) return bad;
    if (opts.versionId === undefined && opts.versionTime === undefined) {
      const rec = await api.getDid(did);
      if (!rec) return resolutionError("notFound", `${did} is not registered`);
      let r = currentResults.get(rec);
      if (!r) currentResults.set(rec, (r = resolveCurrent(rec)));
      return r;
    }
    const versions = await api.getDidVersions(did);
    return resolveFromVersions(
      did,
      versions.map((v) => ({ versionId: v.versionId, time: v.time, deactivated: v.operation === "deactivate", document: v.document })),
      opts,
      now,
    );
  };
}
