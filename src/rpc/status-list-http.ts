/**
 * `GET /status-lists/:issuerId/:listId`: the Status List Token endpoint of
 * draft-ietf-oauth-status-list ("Status List Request"), at the URI the
 * credentials name (`<statusListBaseUri>/status-lists/<method-specific id
 * of the issuer DID>/<listId>`). The body is the latest token exactly as the
 * issuer published it on chain, so any standard Token Status List verifier
 * checks it against the issuer's key.
 *
 * - 200 `application/statuslist+jwt`, a strong ETag (sha256 of the token),
 *   `Cache-Control: max-age=<the token's ttl, or DEFAULT_MAX_AGE_SECONDS>`;
 * - 304 when If-None-Match names the current ETag (or `*`);
 * - 404 for a list the chain does not hold, 400 for a malformed path.
 *
 * Invariant 5: the whole list is served, never one index, so the node
 * learns nothing about which credential a verifier checks.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { sha256 } from "../crypto/hash.js";
import { utf8, toHex } from "../crypto/bytes.js";
import { DID_PREFIX, isValidDid } from "../did/syntax.js";
import { LIST_ID_RE, STATUS_LIST_MEDIA_TYPE, parseStatusListToken } from "../did/status-list.js";
import type { StatusListRecord } from "../chain/state.js";

export const STATUS_LISTS_PREFIX = "/status-lists/";
/** Cache lifetime of a token that carries no `ttl`: short, so a revocation reaches verifiers within a minute. */
export const DEFAULT_MAX_AGE_SECONDS = 60;

export interface StatusListReadApi {
  getStatusList(issuer: string, listId: string): Promise<StatusListRecord | undefined>;
}

/** The ETag and max-age of a record, remembered per record object: the store hands out one object per record until the next publish. */
const etags = new WeakMap<StatusListRecord, { etag: string; maxAge: number }>();

function entityOf(r: StatusListRecord): { etag: string; maxAge: number } {
  let e = etags.get(r);
  if (!e) {
    let maxAge = DEFAULT_MAX_AGE_SECONDS;
    try {
      maxAge = parseStatusListToken(r.token).payload.ttl ?? DEFAULT_MAX_AGE_SECONDS;
    } catch {
      // The chain checked the token when it was published; a default is only a fallback.
    }
    e = { etag: `"${toHex(sha256(utf8(r.token)))}"`, maxAge };
    etags.set(r, e);
  }
  return e;
}

function problem(reply: FastifyReply, status: number, error: string, message: string): FastifyReply {
  return reply.code(status).header("cache-control", "no-store").send({ error, message });
}

/** True when an If-None-Match header value names `etag` (weak comparison, RFC 9110 section 13.1.2). */
function matchesIfNoneMatch(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(",") : header;
  if (text.trim() === "*") return true;
  return text.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}

export function registerStatusListRoutes(app: FastifyInstance, api: StatusListReadApi): void {
  app.get<{ Params: { issuerId: string; listId: string } }>(`${STATUS_LISTS_PREFIX}:issuerId/:listId`, async (request, reply) => {
    const { issuerId, listId } = request.params;
    const issuer = `${DID_PREFIX}${issuerId}`;
    if (!isValidDid(issuer)) return problem(reply, 400, "invalidIssuer", "the path must name the method-specific id of a did:sid issuer");
    if (!LIST_ID_RE.test(listId)) return problem(reply, 400, "invalidListId", "the list id must match [A-Za-z0-9_-]{1,64}");
    const rec = await api.getStatusList(issuer, listId);
    if (!rec) return problem(reply, 404, "notFound", `${issuer} has no status list ${listId}`);
    const { etag, maxAge } = entityOf(rec);
    reply.header("etag", etag).header("cache-control", `max-age=${maxAge}`);
    if (matchesIfNoneMatch(request.headers["if-none-match"], etag)) return reply.code(304).send();
    return reply.code(200).type(STATUS_LIST_MEDIA_TYPE).send(rec.token);
  });
}
