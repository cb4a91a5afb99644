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

/** Property order of a document as people read it (DID Core examples): @context first. */
const DOC_ORDER = ["@context", "id", "controller", "alsoKnownAs", "verificationMethod", "authentication", "assertionMethod", "keyAgreement", "capabilityInvocation", "capabilityDelegation", "service"];
const METHOD_ORDER = ["id", "type", "controller", "publicKeyJwk", "publicKeyMultibase"];
const JWK_ORDER = ["kty", "crv", "x", "y"];
const SERVICE_ORDER = ["id", "type", "serviceEndpoint"];

function ordered<T extends object>(obj: T, order: readonly string[]): T {
  const src = obj as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of order) if (k in src) out[k] = src[k];
  for (const k of Object.keys(src)) if (!(k in out)) out[k] = src[k];
  return out as T;
}

function orderedMethod(vm: unknown): unknown {
  if (typeof vm !== "object" || vm === null) return vm;
  const m = ordered(vm as Record<string, unknown>, METHOD_ORDER);
  if (m.publicKeyJwk && typeof m.publicKeyJwk === "object") m.publicKeyJwk = ordered(m.publicKeyJwk as object, JWK_ORDER);
  return m;
}

/**
 * The document with its members in reading order. The chain stores it in
 * canonical CBOR, whose key order (shortest first) would put "@context"
 * after "id"; JSON member order carries no meaning, but readers expect it.
 */
export function presentDocument(doc: DidDocument): DidDocument {
  const d = ordered(doc, DOC_ORDER) as unknown as Record<string, unknown>;
  if (Array.isArray(d.verificationMethod)) d.verificationMethod = d.verificationMethod.map(orderedMethod);
  for (const rel of ["authentication", "assertionMethod", "keyAgreement", "capabilityInvocation", "capabilityDelegation"]) {
    if (Array.isArray(d[rel])) d[rel] = (d[rel] as unknown[]).map(orderedMethod);
  }
  if (Array.isArray(d.service)) d.service = d.service.map((s) => ordered(s as object, SERVICE_ORDER));
  return d as unknown as DidDocument;
}

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
    didDocument: presentDocument(v.document),
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
    didDocument: presentDocument(record.document),
    didResolutionMetadata: { contentType: DID_LD_JSON },
    didDocumentMetadata: meta,
  };
}
