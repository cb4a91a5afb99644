/**
 * DID URL dereferencing for did:sid (DID Core 1.0 section 3.2, DID
 * Resolution section 5): parse a DID URL, then pick from a resolved
 * document the resource it names, in a requested representation.
 *
 * What a did:sid DID URL can name:
 *   did:sid:<id>                         the document (that is resolution)
 *   did:sid:<id>?versionId=N             a version of it (versionTime too)
 *   did:sid:<id>#key-1                   a verification method or service
 *   did:sid:<id>?service=hub             the service's endpoint URLs
 *   did:sid:<id>?service=hub&relativeRef=/inbox
 *                                        a resource at that endpoint
 *   did:sid:<id>?serviceType=LinkedDomains   every service of that type
 * did:sid defines no DID paths and no other DID parameters; a URL with a
 * path names nothing (notFound). A DID parameter did:sid does not know is
 * ignored, as DID Resolution asks of parameters a resolver does not
 * support, and listed in ParsedDidUrl.ignoredParams; an empty query (`?`)
 * or empty fragment (`#`), which the DID URL grammar allows, adds nothing.
 *
 * Pure: no I/O, no clock. The caller resolves the DID first.
 */
import { CodedError } from "../errors.js";
import { type DidDocument, RELATIONSHIPS, type Service, type VerificationMethod } from "./document.js";
import { type DidDocumentMetadata, type DidResolutionResult, type ResolutionError, type ResolutionOptions } from "./resolution.js";
import { DID_METHOD, parseDid } from "./syntax.js";

/** Longest DID URL taken: a DID is at most 36 characters; 2 KiB leaves a relativeRef room (the usual URL cap of browsers and proxies). */
export const MAX_DID_URL_LENGTH = 2048;

/** The DID parameters did:sid understands (DID Resolution, section 3). */
export const DID_URL_PARAMETERS = Object.freeze(["service", "serviceType", "relativeRef", "versionId", "versionTime"] as const);
export type DidUrlParameter = (typeof DID_URL_PARAMETERS)[number];

export type DidUrlErrorCode = Extract<ResolutionError, "invalidDid" | "invalidDidUrl" | "methodNotSupported">;

/** A DID URL that cannot be dereferenced at all; its code is the W3C error name to answer with. */
export class DidUrlError extends CodedError<DidUrlErrorCode> {}

export interface ParsedDidUrl {
  /** The DID URL as given. */
  didUrl: string;
  /** Its DID, a valid did:sid DID. */
  did: string;
  /** The DID path, "" when there is none. */
  path: string;
  /** Percent-decoded DID parameters of the query. */
  params: Readonly<Partial<Record<DidUrlParameter, string>>>;
  /** Percent-decoded fragment, when there is a non-empty one. */
  fragment?: string;
  /** Names of DID parameters did:sid does not define, ignored (in the order given). */
  ignoredParams: string[];
}

export interface DereferencingMetadata {
  contentType?: string;
  error?: ResolutionError;
  errorMessage?: string;
}

/** The W3C DID URL dereferencing result (DID Resolution, section 10). */
export interface DereferencingResult {
  "@context": "https://w3id.org/did-resolution/v1";
  dereferencingMetadata: DereferencingMetadata;
  /** The resource: a document, a part of one, or a list of URLs (text/uri-list); null on error. */
  content: unknown;
  contentMetadata: DidDocumentMetadata;
}

/** Representations a dereferenced resource can be given in. */
export const ContentType = Object.freeze({
  DID_LD_JSON: "application/did+ld+json",
  DID_JSON: "application/did+json",
  /** The DID 1.1 media type; JSON-LD like did+ld+json. */
  DID: "application/did",
  URI_LIST: "text/uri-list",
} as const);
export type ContentRepresentation = (typeof ContentType)[keyof typeof ContentType];

// ---------------------------------------------------------------------------
// Syntax (DID Core 1.0 sections 3.1 and 3.2, over RFC 3986)

const PCT = "%[0-9A-Fa-f]{2}";
const IDCHAR = `(?:[A-Za-z0-9._-]|${PCT})`;
/** RFC 3986 pchar: unreserved / pct-encoded / sub-delims / ":" / "@". */
const PCHAR = `(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|${PCT})`;
const DID_URL_RE = new RegExp(
  `^did:([a-z0-9]+):((?:${IDCHAR}*:)*${IDCHAR}+)((?:/${PCHAR}*)*)(?:\\?((?:${PCHAR}|[/?])*))?(?:#((?:${PCHAR}|[/?])*))?$`,
);
/** An RFC 3986 scheme and its colon: what makes a reference absolute rather than relative. */
const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:/;
/** RFC 3986 relative-ref characters (path, query, fragment) after decoding. */
const RELATIVE_REF_RE = /^[A-Za-z0-9._~!$&'()*+,;=:@/?#%-]*$/;

function urlError(message: string): never {
  throw new DidUrlError("invalidDidUrl", message);
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? text.slice(0, 80) + "..." : text);
}

function percentDecode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return urlError(`${what} is not valid percent-encoded UTF-8`);
  }
}

/**
 * Split a query (`a=1&b=2`, without the "?") into percent-decoded
 * name/value pairs. "+" stays "+" (RFC 3986 has no form encoding, and a
 * versionTime offset carries one). Every pair needs a name and a value; a
 * name given twice is refused, since the parameters are scalars and the
 * second would be a silent guess (DID Resolution, section 3.2.2).
 * Throws DidUrlError(invalidDidUrl).
 */
export function parseDidQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  if (query === "") urlError("the DID URL has an empty query");
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) urlError(`query part ${quote(pair)} is not name=value`);
    const name = percentDecode(pair.slice(0, eq), "a parameter name");
    const value = percentDecode(pair.slice(eq + 1), `parameter ${quote(name)}`);
    if (value === "") urlError(`parameter ${quote(name)} has an empty value`);
    if (out.has(name)) urlError(`parameter ${quote(name)} is given more than once`);
    out.set(name, value);
  }
  return out;
}

/**
 * Parse and check a did:sid DID URL. Throws DidUrlError:
 * - invalidDid: a bare DID (no path, query or fragment) that is not valid,
 *   or a DID URL whose did:sid DID is not valid;
 * - invalidDidUrl: text that is not a DID URL (DID Core 1.0, section 3.2),
 *   an unknown or repeated DID parameter, relativeRef without a service
 *   selection, a relativeRef that is not relative;
 * - methodNotSupported: a well-formed DID URL of another DID method.
 */
export function parseDidUrl(input: unknown): ParsedDidUrl {
  if (typeof input !== "string") throw new DidUrlError("invalidDid", "a DID or DID URL must be a string");
  const bare = !/[/?#]/.test(input);
  if (input.length > MAX_DID_URL_LENGTH) {
    throw new DidUrlError(bare ? "invalidDid" : "invalidDidUrl", `longer than ${MAX_DID_URL_LENGTH} characters`);
  }
  const m = DID_URL_RE.exec(input);
  if (!m) {
    if (bare) throw new DidUrlError("invalidDid", `${quote(input)} is not a DID (did:<method>:<id>)`);
    urlError(`${quote(input)} is not a DID URL (did:<method>:<id>[/path][?query][#fragment])`);
  }
  const [, method, methodSpecificId, path, query, fragment] = m as unknown as [string, string, string, string, string | undefined, string | undefined];
  if (method !== DID_METHOD) throw new DidUrlError("methodNotSupported", `this resolver serves did:${DID_METHOD}, not did:${method}`);
  let did: string;
  try {
    did = parseDid(`did:${method}:${methodSpecificId}`).did;
  } catch (e) {
    throw new DidUrlError("invalidDid", (e as Error).message);
  }
  const params: Partial<Record<DidUrlParameter, string>> = {};
  const ignoredParams: string[] = [];
  if (query !== undefined && query !== "") {
    for (const pair of query.split("&")) {
      if (pair === "") continue;
      const eq = pair.indexOf("=");
      const name = percentDecode(eq < 0 ? pair : pair.slice(0, eq), "a parameter name");
      if (!(DID_URL_PARAMETERS as readonly string[]).includes(name)) {
        if (!ignoredParams.includes(name)) ignoredParams.push(name);
        continue;
      }
      // The parameters did:sid defines are scalars with a value: a second one would be a silent guess.
      if (eq < 0) urlError(`parameter ${quote(name)} has no value`);
      const value = percentDecode(pair.slice(eq + 1), `parameter ${quote(name)}`);
      if (value === "") urlError(`parameter ${quote(name)} has an empty value`);
      if (params[name as DidUrlParameter] !== undefined) urlError(`parameter ${quote(name)} is given more than once`);
      params[name as DidUrlParameter] = value;
    }
  }
  if (params.relativeRef !== undefined) {
    if (params.service === undefined && params.serviceType === undefined) urlError("relativeRef needs a service or serviceType parameter");
    if (SCHEME_RE.test(params.relativeRef) || !RELATIVE_REF_RE.test(params.relativeRef)) {
      urlError(`relativeRef ${quote(params.relativeRef)} is not a relative reference (RFC 3986, section 4.2)`);
    }
  }
  const out: ParsedDidUrl = { didUrl: input, did, path, params, ignoredParams };
  // An empty fragment names the whole resource (RFC 3986, section 3.5), as no fragment does.
  if (fragment !== undefined && fragment !== "") out.fragment = percentDecode(fragment, "the fragment");
  return out;
}

/** The resolution options a DID URL carries as DID parameters. */
export function resolutionOptionsOf(url: ParsedDidUrl): ResolutionOptions {
  const opts: ResolutionOptions = {};
  if (url.params.versionId !== undefined) opts.versionId = url.params.versionId;
  if (url.params.versionTime !== undefined) opts.versionTime = url.params.versionTime;
  return opts;
}

/** True when the DID URL names the DID document itself (perhaps a version of it): resolution answers it. */
export function namesDocument(url: ParsedDidUrl): boolean {
  return url.path === "" && url.fragment === undefined && url.params.service === undefined && url.params.serviceType === undefined;
}

// ---------------------------------------------------------------------------
// Dereferencing

export function dereferencingError(error: ResolutionError, errorMessage: string): DereferencingResult {
  return { "@context": "https://w3id.org/did-resolution/v1", dereferencingMetadata: { error, errorMessage }, content: null, contentMetadata: {} };
}

function found(content: unknown, contentType: ContentRepresentation, meta: DidDocumentMetadata): DereferencingResult {
  return { "@context": "https://w3id.org/did-resolution/v1", dereferencingMetadata: { contentType }, content, contentMetadata: { ...meta } };
}

/**
 * The JSON-LD representations carry the document's @context, so a part of a
 * document stays meaningful on its own; plain JSON carries none (DID Core
 * 1.0, sections 6.2 and 6.3).
 */
function inRepresentation(obj: object, context: DidDocument["@context"], type: ContentRepresentation): object {
  const { "@context": _drop, ...rest } = obj as Record<string, unknown>;
  return type === ContentType.DID_JSON ? rest : { "@context": context, ...rest };
}

/** Every verification method (top-level and embedded in a relationship) and service of a document. */
function identifiedObjects(doc: DidDocument): Array<VerificationMethod | Service> {
  const out: Array<VerificationMethod | Service> = [...(doc.verificationMethod ?? [])];
  for (const rel of RELATIONSHIPS) for (const entry of doc[rel] ?? []) if (typeof entry !== "string") out.push(entry);
  return [...out, ...(doc.service ?? [])];
}

function serviceMatches(svc: Service, did: string, params: ParsedDidUrl["params"]): boolean {
  if (params.service !== undefined) {
    // The parameter names the service by its id: absolute, or the fragment alone ("hub" or "#hub").
    const name = params.service;
    const wanted = name.startsWith("did:") ? name : `${did}#${name.replace(/^#/, "")}`;
    if (svc.id !== wanted) return false;
  }
  if (params.serviceType !== undefined) {
    const types = Array.isArray(svc.type) ? svc.type : [svc.type];
    if (!types.includes(params.serviceType)) return false;
  }
  return true;
}

/**
 * The endpoint URLs of the selected services (string endpoints and the
 * strings of endpoint sets; maps have no URL), each resolved against
 * relativeRef (RFC 3986, section 5) and given the DID URL's fragment when it
 * has none of its own (RFC 9110, section 10.2.2: a redirect keeps the
 * fragment of the request).
 */
function endpointUrls(services: readonly Service[], relativeRef: string | undefined, fragment: string | undefined): string[] {
  const urls: string[] = [];
  for (const svc of services) {
    const ep = svc.serviceEndpoint;
    const candidates = typeof ep === "string" ? [ep] : Array.isArray(ep) ? ep.filter((e): e is string => typeof e === "string") : [];
    for (const base of candidates) {
      let url = base;
      if (relativeRef !== undefined) {
        try {
          url = new URL(relativeRef, base).href;
        } catch {
          continue; // not a base URL a relative reference can be resolved against
        }
      }
      if (fragment !== undefined && !url.includes("#")) url += `#${fragment}`;
      urls.push(url);
    }
  }
  return urls;
}

/**
 * Dereference `url` (DID Resolution, section 5) given the resolution result
 * of its DID, resolved with resolutionOptionsOf(url). `accept` asks for a
 * representation; without it the resource comes in its natural one:
 * a verification method or service as application/did+ld+json, a service
 * selection as text/uri-list (its endpoint URLs) or, when the selected
 * services have no URL endpoint, as the document holding only them.
 *
 * Errors: the resolution's own (invalidDid, notFound, invalidOptions, ...);
 * notFound for a path, an absent fragment or no matching service;
 * representationNotSupported when the resource has no such representation.
 * A deactivated DID's document holds only its context and id: the DID URL
 * of the document gives that, any key or service is notFound; both carry
 * contentMetadata.deactivated (HTTP 410).
 */
export function dereferenceDidUrl(url: ParsedDidUrl, resolved: DidResolutionResult, accept?: ContentRepresentation): DereferencingResult {
  const err = resolved.didResolutionMetadata.error;
  if (err !== undefined) return dereferencingError(err, resolved.didResolutionMetadata.errorMessage ?? err);
  const doc = resolved.didDocument;
  const meta = resolved.didDocumentMetadata;
  if (doc === null) return dereferencingError("internalError", "resolution gave no document");
  const gone = meta.deactivated ? ` (${url.did} is deactivated: its document has no keys or services)` : "";
  // The DID was resolved: a resource missing from its document is reported with the document's metadata.
  const notFound = (message: string): DereferencingResult => ({ ...dereferencingError("notFound", message + gone), contentMetadata: { ...meta } });
  if (url.path !== "") return notFound(`did:sid defines no DID paths (${quote(url.path)})`);
  const context = doc["@context"];

  if (url.params.service !== undefined || url.params.serviceType !== undefined) {
    const selected = (doc.service ?? []).filter((s) => serviceMatches(s, url.did, url.params));
    if (selected.length === 0) return notFound(`${url.did} has no service matching ${quote(url.didUrl)}`);
    const urls = endpointUrls(selected, url.params.relativeRef, url.fragment);
    const type = accept ?? (urls.length > 0 ? ContentType.URI_LIST : ContentType.DID_LD_JSON);
    if (type === ContentType.URI_LIST) {
      if (urls.length === 0) return dereferencingError("representationNotSupported", "the selected services have no URL endpoint to give as text/uri-list");
      return found(urls, type, meta);
    }
    // DID Resolution 5.1: as a document, the resolved document with only the selected services.
    return found(inRepresentation({ ...doc, service: selected }, context, type), type, meta);
  }

  if (url.fragment !== undefined) {
    const id = `${url.did}#${url.fragment}`;
    const obj = identifiedObjects(doc).find((o) => o.id === id);
    if (!obj) return notFound(`${url.did} has no verification method or service ${quote(id)}`);
    const type = accept ?? ContentType.DID_LD_JSON;
    if (type === ContentType.URI_LIST) return dereferencingError("representationNotSupported", `${quote(id)} is not a list of URLs`);
    return found(inRepresentation(obj, context, type), type, meta);
  }

  const type = accept ?? ContentType.DID_LD_JSON;
  if (type === ContentType.URI_LIST) return dereferencingError("representationNotSupported", "a DID document is not a list of URLs");
  return found(inRepresentation(doc, context, type), type, meta);
}
