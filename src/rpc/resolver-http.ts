/**
 * The Universal Resolver driver binding: `GET /1.0/identifiers/{identifier}`
 * (DID Resolution, section 12.1 "HTTP(S) Binding"), where the identifier is
 * a did:sid DID or DID URL, percent-encoded or not.
 *
 * - A DID, or a DID URL that names the document (only versionId /
 *   versionTime), is resolved: the body is the W3C resolution result or,
 *   when the client asks for a document type, the document alone.
 * - Any other DID URL (a fragment, service / serviceType / relativeRef) is
 *   dereferenced (did/dereference.ts): the body is the resource, or the W3C
 *   dereferencing result when asked for; a service's endpoint is a 303
 *   redirect to it.
 * - Request query parameters: versionId and versionTime are resolution
 *   options; service, serviceType and relativeRef are taken as DID
 *   parameters of the DID URL, so `/1.0/identifiers/did:sid:X?service=hub`
 *   sent unencoded means the DID URL `did:sid:X?service=hub` (a request
 *   query cannot be told from an unencoded DID URL query, and both readings
 *   agree this way). A parameter both in the DID URL and in the request
 *   query is refused. Other options are ignored: `accept` travels in the
 *   Accept header, and `noCache` / `expandRelativeUrls` change nothing here
 *   (nothing is cached, every URL in a did:sid document is absolute).
 *
 * Every error answer carries a W3C result body: a resolution result for a
 * DID, a dereferencing result for a DID URL, with the error name in its
 * metadata and the status of the binding's table.
 */
import { BlockErrorCode } from "../chain/errors.js";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  ContentType,
  type ContentRepresentation,
  type DereferencingResult,
  DidUrlError,
  type ParsedDidUrl,
  dereferenceDidUrl,
  dereferencingError,
  namesDocument,
  parseDidQuery,
  parseDidUrl,
  resolutionOptionsOf,
} from "../did/dereference.js";
import { CONTEXT_FILES } from "../did/document.js";
import { type DidResolutionResult, type ResolutionError, type ResolutionOptions, resolutionError } from "../did/resolution.js";
import { negotiate } from "./accept.js";
import type { ResolveDid } from "./resolve.js";

export const IDENTIFIERS_PREFIX = "/1.0/identifiers/";
/** Where a node serves the JSON-LD contexts did:sid documents list (contexts/ of the package). */
export const CONTEXTS_PREFIX = "/contexts/";

export const ResolverMediaType = Object.freeze({
  /** The full resolution result (DID Resolution, section 9). */
  DID_RESOLUTION: "application/did-resolution",
  /** Its older name, still sent by Universal Resolver clients. */
  DID_RESOLUTION_LD: 'application/ld+json;profile="https://w3id.org/did-resolution"',
  /** The full dereferencing result (DID Resolution, section 10). */
  DID_URL_DEREFERENCING: "application/did-url-dereferencing",
  DID_URL_DEREFERENCING_LD: 'application/ld+json;profile="https://w3id.org/did-url-dereferencing"',
  ...ContentType,
} as const);

const M = ResolverMediaType;
/** In order of preference: no Accept, or `*` / `*`, gets the first. */
const RESOLUTION_OFFERS = [M.DID_RESOLUTION, M.DID_RESOLUTION_LD, M.DID_LD_JSON, M.DID_JSON, M.DID, M.DID_URL_DEREFERENCING, M.DID_URL_DEREFERENCING_LD];
/** A wildcard gets the resource in its natural representation (see dereferenceDidUrl). */
const DEREFERENCING_OFFERS = [M.DID_LD_JSON, M.DID_JSON, M.DID, M.URI_LIST, M.DID_URL_DEREFERENCING, M.DID_URL_DEREFERENCING_LD];
const RESULT_TYPES: readonly string[] = [M.DID_RESOLUTION, M.DID_RESOLUTION_LD, M.DID_URL_DEREFERENCING, M.DID_URL_DEREFERENCING_LD];

/** HTTP status of each error (DID Resolution, section 12.1, step "error"). */
export const ERROR_STATUS: Readonly<Record<ResolutionError, number>> = Object.freeze({
  invalidDid: 400,
  invalidDidUrl: 400,
  invalidOptions: 400,
  notFound: 404,
  representationNotSupported: 406,
  methodNotSupported: 501,
  internalError: 500,
});

/** Request query names that are DID parameters of the DID URL, not resolution options. */
const DID_URL_QUERY_PARAMS = new Set(["service", "serviceType", "relativeRef"]);
const VERSION_OPTIONS = ["versionId", "versionTime"] as const;

/**
 * Sent as bytes: fastify would append "; charset=utf-8" to a JSON type
 * given as a string, and the binding's Content-Type is exactly the media
 * type (the JSON types are UTF-8 by definition and have no charset
 * parameter, RFC 8259 section 11).
 */
function sendJson(reply: FastifyReply, status: number, contentType: string, body: unknown): FastifyReply {
  return reply.code(status).header("content-type", contentType).header("vary", "Accept").send(Buffer.from(JSON.stringify(body), "utf8"));
}

/**
 * The binding's status: an error's, except that a deactivated DID answers
 * 410 both for its document and for a key or service it no longer has.
 */
function statusOf(error: ResolutionError | undefined, deactivated: boolean | undefined): number {
  if (deactivated && (error === undefined || error === "notFound")) return 410;
  return error !== undefined ? ERROR_STATUS[error] : 200;
}

/**
 * The result of resolveRepresentation: resolve's result plus the media
 * type of the document it carries (DID Core 1.0, section 7.1.2: contentType
 * belongs to resolveRepresentation only). The result given may be shared
 * (the resolver keeps it), so this makes a new one.
 */
function asRepresentationResult(result: DidResolutionResult): DidResolutionResult {
  if (result.didDocument === null) return result;
  return { ...result, didResolutionMetadata: { ...result.didResolutionMetadata, contentType: M.DID_LD_JSON } };
}

function sendResolutionResult(reply: FastifyReply, result: DidResolutionResult, type: string = M.DID_RESOLUTION): FastifyReply {
  const status = statusOf(result.didResolutionMetadata.error, result.didDocumentMetadata.deactivated);
  return sendJson(reply, status, type === M.DID_RESOLUTION_LD ? type : M.DID_RESOLUTION, asRepresentationResult(result));
}

function sendDereferencingResult(reply: FastifyReply, result: DereferencingResult, type: string = M.DID_URL_DEREFERENCING): FastifyReply {
  const status = statusOf(result.dereferencingMetadata.error, result.contentMetadata.deactivated);
  return sendJson(reply, status, type === M.DID_URL_DEREFERENCING_LD ? type : M.DID_URL_DEREFERENCING, result);
}

/**
 * The answer to an identifier that cannot even be percent-decoded (the
 * router refuses such a path before the route runs): an invalidDid result.
 */
export function sendMalformedIdentifier(reply: FastifyReply, message: string): FastifyReply {
  return sendResolutionResult(reply, resolutionError("invalidDid", message));
}

/** A Location header value: HTTP fields are ASCII, so other characters of an endpoint URL are percent-encoded. */
function asciiUrl(url: string): string {
  return url.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

/**
 * The document alone, in a DID document representation (a deactivated
 * DID's, which holds only its context and id, with 410); errors as the
 * full result, since a representation has no place for them.
 */
function sendResolvedDocument(reply: FastifyReply, result: DidResolutionResult, type: string): FastifyReply {
  if (RESULT_TYPES.includes(type) || result.didDocument === null) return sendResolutionResult(reply, result, type);
  const { "@context": context, ...rest } = result.didDocument;
  const status = result.didDocumentMetadata.deactivated ? 410 : 200;
  return sendJson(reply, status, type, type === M.DID_JSON ? rest : { "@context": context, ...rest });
}

/** The dereferenced resource alone; text/uri-list as a 303 redirect to the first URL (DID Resolution, section 12.1). */
function sendContent(reply: FastifyReply, result: DereferencingResult): FastifyReply {
  const type = result.dereferencingMetadata.contentType;
  if (result.dereferencingMetadata.error !== undefined || type === undefined) return sendDereferencingResult(reply, result);
  if (type === M.URI_LIST) {
    const urls = result.content as string[];
    return reply.code(303).header("location", asciiUrl(urls[0]!)).header("vary", "Accept").send();
  }
  return sendJson(reply, statusOf(undefined, result.contentMetadata.deactivated), type, result.content);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function answerIdentifier(request: FastifyRequest, reply: FastifyReply, resolveDid: ResolveDid): Promise<FastifyReply> {
  let identifier = (request.params as { "*"?: string })["*"] ?? "";
  const q = request.url.indexOf("?");
  const rawQuery = q < 0 ? "" : request.url.slice(q + 1);
  let isUrl = /[/?#]/.test(identifier);
  const fail = (error: ResolutionError, message: string) =>
    isUrl ? sendDereferencingResult(reply, dereferencingError(error, message)) : sendResolutionResult(reply, resolutionError(error, message));

  const options: ResolutionOptions = {};
  const didParams: string[] = [];
  if (rawQuery !== "") {
    let query: Map<string, string>;
    try {
      query = parseDidQuery(rawQuery);
    } catch (e) {
      return fail("invalidOptions", `request query: ${messageOf(e)}`);
    }
    for (const [name, value] of query) {
      if (name === "versionId" || name === "versionTime") options[name] = value;
      else if (DID_URL_QUERY_PARAMS.has(name)) didParams.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
    }
  }
  if (didParams.length > 0) {
    // Put them into the DID URL's query, before its fragment.
    isUrl = true;
    const hash = identifier.indexOf("#");
    const head = hash < 0 ? identifier : identifier.slice(0, hash);
    const fragment = hash < 0 ? "" : identifier.slice(hash);
    identifier = `${head}${head.includes("?") ? "&" : "?"}${didParams.join("&")}${fragment}`;
  }

  let url: ParsedDidUrl;
  try {
    url = parseDidUrl(identifier);
  } catch (e) {
    if (e instanceof DidUrlError) return fail(e.code, e.message);
    throw e;
  }
  isUrl = !namesDocument(url);
  const fromUrl = resolutionOptionsOf(url);
  for (const name of VERSION_OPTIONS) {
    if (fromUrl[name] !== undefined && options[name] !== undefined) {
      return fail("invalidOptions", `${name} is given both in the DID URL and as a resolution option`);
    }
  }
  const opts: ResolutionOptions = { ...fromUrl, ...options };
  const accept = request.headers.accept;

  if (!isUrl) {
    const chosen = negotiate(accept, RESOLUTION_OFFERS);
    if (!chosen) return fail("representationNotSupported", `no representation of ${url.did} matches Accept; offered: ${RESOLUTION_OFFERS.join(", ")}`);
    if (chosen.offer === M.DID_URL_DEREFERENCING || chosen.offer === M.DID_URL_DEREFERENCING_LD) {
      // A DID is a DID URL too: dereferenced, it gives its document as the content.
      return sendDereferencingResult(reply, dereferenceDidUrl(url, await resolveDid(url.did, opts)), chosen.offer);
    }
    return sendResolvedDocument(reply, await resolveDid(url.did, opts), chosen.offer);
  }

  const chosen = negotiate(accept, DEREFERENCING_OFFERS);
  if (!chosen) return fail("representationNotSupported", `no representation of ${url.didUrl} matches Accept; offered: ${DEREFERENCING_OFFERS.join(", ")}`);
  const fullResult = chosen.offer === M.DID_URL_DEREFERENCING || chosen.offer === M.DID_URL_DEREFERENCING_LD;
  const representation = fullResult || chosen.byWildcard ? undefined : (chosen.offer as ContentRepresentation);
  const result = dereferenceDidUrl(url, await resolveDid(url.did, opts), representation);
  return fullResult ? sendDereferencingResult(reply, result, chosen.offer) : sendContent(reply, result);
}

/** The package's contexts/ folder, from dist/src/rpc/ or src/rpc/. */
function contextsDir(): URL {
  const here = new URL(".", import.meta.url);
  return new URL(fileURLToPath(here).includes("/dist/src/") ? "../../../contexts/" : "../../contexts/", here);
}

/**
 * The contexts as served: read once at start, each file exactly as shipped,
 * as application/ld+json (what a JSON-LD document loader asks for).
 */
function loadContextFiles(): Map<string, Buffer> {
  const dir = contextsDir();
  return new Map(Object.values(CONTEXT_FILES).map((file) => [file, readFileSync(new URL(file, dir))]));
}

/**
 * Register `GET /1.0/identifiers/*` on `app`, answering from `resolveDid`
 * (rpc/resolve.ts), and `GET /contexts/<file>`, the JSON-LD contexts the
 * documents list. The node calls this from the `extra` hook of buildServer.
 */
export function registerResolverRoutes(app: FastifyInstance, resolveDid: ResolveDid): void {
  const contexts = loadContextFiles();
  app.get(`${CONTEXTS_PREFIX}:file`, (request, reply) => {
    const body = contexts.get((request.params as { file: string }).file);
    if (!body) return reply.code(404).send({ error: "not found", known: [...contexts.keys()] });
    return reply.code(200).header("content-type", "application/ld+json").header("cache-control", "public, max-age=86400").send(body);
  });
  app.register(async (scope) => {
    // Whatever fails inside is an internalError result; its message stays in the log.
    scope.setErrorHandler((err, request, reply) => {
      // A version before the first height of a node started from a snapshot: not here, and the message says where it is.
      if ((err as { code?: unknown }).code === BlockErrorCode.HISTORY_NOT_HERE) return sendResolutionResult(reply, resolutionError("notFound", (err as Error).message));
      request.log.error({ err }, "resolver request failed");
      return sendResolutionResult(reply, resolutionError("internalError", "the resolver failed; see the node's log"));
    });
    scope.get(`${IDENTIFIERS_PREFIX}*`, (request, reply) => answerIdentifier(request, reply, resolveDid));
  });
}
