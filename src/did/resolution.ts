/**
 * W3C DID Resolution results: {didDocument, didResolutionMetadata,
 * didDocumentMetadata}, for the current version or one picked by versionId
 * or versionTime. Pure: the caller supplies the versions it has read.
 */
import type { DidDocument } from "./document.js";
import { parseDid } from "./syntax.js";

/**
 * Error names of DID Core 1.0 section 7.1.2 and the DID Resolution
 * specification, as `didResolutionMetadata.error` carries them.
 */
export type ResolutionError =
  | "invalidDid"
  | "invalidDidUrl"
  | "notFound"
  | "invalidOptions"
  | "representationNotSupported"
  | "methodNotSupported"
  | "internalError";

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

/**
 * A block time as a DID Resolution datetime: UTC, no sub-second digits
 * (DID Resolution, section 3.1 "Datetime"; DID Core 1.0 metadata rules).
 */
export function resolutionTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

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
 * error result, or undefined when they are acceptable. Rules (DID
 * Resolution, section 3 "DID Parameters"): versionId and versionTime are
 * mutually exclusive; versionId is one of our version numbers; versionTime
 * is an XML Schema / RFC 3339 date-time with a zone. With `now` (ms since
 * the Unix epoch: the later of the node's clock and its latest block time),
 * a versionTime after it is refused too, since no one can know yet which
 * version will be valid then.
 */
export function checkResolutionRequest(did: unknown, opts: ResolutionOptions, now?: number): DidResolutionResult | undefined {
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
  if (opts.versionTime !== undefined) {
    const t = parseDateTime(opts.versionTime);
    if (t === undefined) {
      return resolutionError("invalidOptions", "versionTime must be an RFC 3339 date-time with a zone, such as 2026-01-02T03:04:05Z");
    }
    if (now !== undefined && t > now) {
      return resolutionError("invalidOptions", `versionTime ${opts.versionTime} is in the future (the node's time is ${new Date(now).toISOString()})`);
    }
  }
  return undefined;
}

/**
 * RFC 3339 "date-time", which is also a valid XML Schema dateTime with a
 * zone: `YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm)`. A time without a
 * zone names no instant, so it is refused; so are impossible dates
 * (2026-02-30), hour 24 and leap second 60, which no block time can equal.
 */
const DATE_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Milliseconds since the Unix epoch of an RFC 3339 date-time, or undefined if it is not one. */
export function parseDateTime(text: unknown): number | undefined {
  if (typeof text !== "string" || text.length > 40) return undefined;
  const m = DATE_TIME_RE.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const daysInMonth = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  if (day > daysInMonth) return undefined;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const millis = m[7] === undefined ? 0 : Number(m[7].padEnd(3, "0").slice(0, 3));
  const utc = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, millis);
  return utc.getTime() - offsetMinutes * 60_000;
}

/**
 * The last block time (ms) a versionTime covers. Metadata shows whole
 * seconds, so a versionTime in whole seconds stands for all of that second:
 * `created` or `updated` given back resolves the version that showed it, or
 * a later one of the same second. With sub-second digits (did_history gives
 * milliseconds) it is exact.
 */
export function versionTimeBound(versionTime: string): number {
  const t = parseDateTime(versionTime)!;
  return /\.\d/.test(versionTime) ? t : t + 999;
}

/**
 * What a resolver shows of a version: the document in reading order, or,
 * once the DID is deactivated, only its context and id. A deactivated DID
 * has no keys and no services any more (DID Core 1.0, section 8.2
 * "Deactivate"), and a verifier that reads only the document (did-jwt does)
 * must not find the last keys in it and accept what they sign.
 */
function shownDocument(doc: DidDocument, deactivated: boolean): DidDocument {
  if (!deactivated) return presentDocument(doc);
  return { "@context": doc["@context"], id: doc.id };
}

function success(document: DidDocument, meta: DidDocumentMetadata): DidResolutionResult {
  return {
    "@context": "https://w3id.org/did-resolution/v1",
    didDocument: shownDocument(document, meta.deactivated === true),
    didResolutionMetadata: { contentType: DID_LD_JSON },
    didDocumentMetadata: meta,
  };
}

/**
 * The resolution result for `did` given its versions (ascending, complete
 * from version 1), honouring versionId or versionTime. `now` bounds
 * versionTime (see checkResolutionRequest). Metadata follows DID
 * Resolution section 4.3: `created` (time of version 1), `updated` (time of
 * the resolved version, absent for version 1), `versionId`, `deactivated`
 * (when the resolved version is the deactivation), and for any version but
 * the latest `nextVersionId` and `nextUpdate`. versionTime picks the latest
 * version not after it (see versionTimeBound).
 */
export function resolveFromVersions(did: string, versions: readonly VersionInfo[], opts: ResolutionOptions, now: number): DidResolutionResult {
  const bad = checkResolutionRequest(did, opts, now);
  if (bad) return bad;
  if (versions.length === 0) return resolutionError("notFound", `${did} is not registered`);
  let index = versions.length - 1;
  if (opts.versionId !== undefined) {
    index = versions.findIndex((v) => String(v.versionId) === opts.versionId);
    if (index < 0) return resolutionError("notFound", `${did} has no version ${opts.versionId}`);
  } else if (opts.versionTime !== undefined) {
    const bound = versionTimeBound(opts.versionTime);
    index = -1;
    for (let i = 0; i < versions.length && versions[i]!.time <= bound; i++) index = i;
    if (index < 0) return resolutionError("notFound", `${did} did not exist at ${opts.versionTime}`);
  }
  return resolveVersion(versions[index]!, versions[0]!.time, versions[index + 1]);
}

/**
 * The result for one version, given only what its metadata needs besides
 * the version itself: the time of version 1 (`created`) and the number and
 * time of the version after it, if any (`nextVersionId`, `nextUpdate`).
 * Metadata rules as in resolveFromVersions; a store that indexes versions
 * reads these with two small lookups instead of the whole history.
 */
export function resolveVersion(
  version: VersionInfo,
  createdTime: number,
  next: { versionId: number; time: number } | undefined,
): DidResolutionResult {
  const meta: DidDocumentMetadata = { created: resolutionTime(createdTime) };
  if (version.versionId > 1) meta.updated = resolutionTime(version.time);
  meta.versionId = String(version.versionId);
  if (version.deactivated) meta.deactivated = true;
  if (next) {
    meta.nextVersionId = String(next.versionId);
    meta.nextUpdate = resolutionTime(next.time);
  }
  return success(version.document, meta);
}

/** Fast path: the current version, from the current record alone (the same answer as resolveFromVersions for the latest). */
export function resolveCurrent(
  record: { document: DidDocument; versionId: number; created: number; updated: number; deactivated: boolean },
): DidResolutionResult {
  const meta: DidDocumentMetadata = { created: resolutionTime(record.created) };
  if (record.versionId > 1) meta.updated = resolutionTime(record.updated);
  meta.versionId = String(record.versionId);
  if (record.deactivated) meta.deactivated = true;
  return success(record.document, meta);
}
