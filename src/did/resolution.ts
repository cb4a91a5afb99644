/**
 * W3C DID Resolution results: {didDocument, didResolutionMetadata,
 * didDocumentMetadata}, for the current version or one picked by versionId
 * or versionTime. Pure: the caller supplies the versions it has read.
 */
import type { DidDocument } from "./document.js";
import { parseDid } from "./syntax.js";

export type ResolutionError = "invalidDid" | "notFound" | "invalidOptions" | "internalError";

export interface ResolutionOptions {
  versionId?: string;
  versionTime?: string;
}

export interface DidDocumentMetadata {
  created?: string;
  updated?: string;
  versionId?: string;
  deactivated?: boolean;
  nextVersionId?: string;
  nextUpdate?: string;
}

export interface DidResolutionResult {
  "@context": "https://w3id.org/did-resolution/v1";
  didDocument: DidDocument | null;
  didResolutionMetadata: { contentType?: string; error?: ResolutionError; errorMessage?: string };
  didDocumentMetadata: DidDocumentMetadata;
}

/** What resolution needs to know of one version. */
export interface VersionInfo {
  versionId: number;
  /** Block time, ms since the Unix epoch. */
  time: number;
  deactivated: boolean;
  document: DidDocument;
}

export const DID_LD_JSON = "application/did+ld+json";

export function resolutionError(error: ResolutionError, errorMessage: string): DidResolutionResult {
  return {
    "@context": "https://w3id.org/did-resolution/v1",
    didDocument: null,
    didResolutionMetadata: { error, errorMessage },
    didDocumentMetadata: {},
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Check a DID and resolution options before any state is read; returns an
 * error result, or undefined when they are acceptable.
 */
export function checkResolutionRequest(did: unknown, opts: ResolutionOptions): DidResolutionResult | undefined {
  try {
    parseDid(did);
  } catch (e) {
    return resolutionError("invalidDid", (e as Error).message);
  }
  if (opts.versionId !== undefined && opts.versionTime !== undefined) {
    return resolutionError("invalidOptions", "versionId and versionTime cannot be used together");
  }
  if (opts.versionId !== undefined && !/^[1-9][0-9]{0,15}$/.test(opts.versionId)) {
    return resolutionError("invalidOptions", "versionId must be a positive decimal integer");
  }
  if (opts.versionTime !== undefined && !isRfc3339(opts.versionTime)) {
    return resolutionError("invalidOptions", "versionTime must be an RFC 3339 date-time such as 2026-01-02T03:04:05Z");
  }
  return undefined;
}

function isRfc3339(s: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s));
}

/**
 * The resolution result for `did` given its versions (ascending, complete
 * from version 1), honouring versionId or versionTime.
 */
export function resolveFromVersions(did: string, versions: readonly VersionInfo[], opts: ResolutionOptions): DidResolutionResult {
  const bad = checkResolutionRequest(did, opts);
  if (bad) return bad;
  if (versions.length === 0) return resolutionError("notFound", `${did} is not registered`);
  let index = versions.length - 1;
  if (opts.versionId !== undefined) {
    index = versions.findIndex((v) => String(v.versionId) === opts.versionId);
    if (index < 0) return resolutionError("notFound", `${did} has no version ${opts.versionId}`);
  } else if (opts.versionTime !== undefined) {
    const t = Date.parse(opts.versionTime);
    index = -1;
    for (let i = 0; i < versions.length && versions[i]!.time <= t; i++) index = i;
    if (index < 0) return resolutionError("notFound", `${did} did not exist at ${opts.versionTime}`);
  }
  const v = versions[index]!;
  const next = versions[index + 1];
  const meta: DidDocumentMetadata = { created: iso(versions[0]!.time) };
  if (index > 0) meta.updated = iso(v.time);
  meta.versionId = String(v.versionId);
  if (v.deactivated) meta.deactivated = true;
  if (next) {
    meta.nextVersionId = String(next.versionId);
    meta.nextUpdate = iso(next.time);
  }
  return {
    "@context": "https://w3id.org/did-resolution/v1",
    didDocument: v.document,
    didResolutionMetadata: { contentType: DID_LD_JSON },
    didDocumentMetadata: meta,
  };
}

/** Fast path: the current version, from the current record alone. */
export function resolveCurrent(
  record: { document: DidDocument; versionId: number; created: number; updated: number; deactivated: boolean },
): DidResolutionResult {
  const meta: DidDocumentMetadata = { created: iso(record.created) };
  if (record.versionId > 1) meta.updated = iso(record.updated);
  meta.versionId = String(record.versionId);
  if (record.deactivated) meta.deactivated = true;
  return {
    "@context": "https://w3id.org/did-resolution/v1",
    didDocument: record.document,
    didResolutionMetadata: { contentType: DID_LD_JSON },
    didDocumentMetadata: meta,
  };
}
