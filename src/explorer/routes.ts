/**
 * The explorer every node serves: `GET /` is the page, `/explorer/*` its
 * assets (built into dist/explorer by `npm run build`, read once at start),
 * `/genesis.json` the genesis the page's proof check trusts, and a browser
 * asking the resolver route for HTML is sent to the DID's page.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import { negotiate } from "../rpc/accept.js";
import { IDENTIFIERS_PREFIX, ResolverMediaType } from "../rpc/resolver-http.js";

export interface ExplorerOptions {
  /** The node's genesis file, served as it is at /genesis.json. */
  genesisFile: string;
  /** Where the built assets are; default dist/explorer beside this module's build. */
  assetsDir?: string;
}

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Scripts and styles from this origin only, no inline code: chain data on the page can never run. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const defaultAssetsDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../explorer");

function asset(path: string, type: string): Asset | undefined {
  if (!existsSync(path)) return undefined;
  const body = readFileSync(path);
  return { body, type, etag: `"${createHash("sha256").update(body).digest("hex").slice(0, 32)}"` };
}

function send(reply: FastifyReply, a: Asset, ifNoneMatch: string | undefined, cache: string): FastifyReply {
  reply.header("etag", a.etag).header("cache-control", cache).header("x-content-type-options", "nosniff").header("content-security-policy", CSP);
  if (ifNoneMatch === a.etag) return reply.code(304).send();
  return reply.type(a.type).send(a.body);
}

/** Offers of the resolver route; a browser's Accept puts text/html above them all. */
const RESOLVER_OFFERS = [ResolverMediaType.DID_RESOLUTION, ResolverMediaType.DID_RESOLUTION_LD, ResolverMediaType.DID_LD_JSON, ResolverMediaType.DID_JSON, "text/html"];

export function registerExplorer(app: FastifyInstance, opts: ExplorerOptions): void {
  const dir = opts.assetsDir ?? defaultAssetsDir;
  const page = asset(join(dir, "index.html"), "text/html; charset=utf-8");
  const files: Record<string, Asset | undefined> = {
    "app.js": asset(join(dir, "app.js"), "text/javascript; charset=utf-8"),
    "app.css": asset(join(dir, "app.css"), "text/css; charset=utf-8"),
  };
  const missing = { error: "the explorer's assets are not built: run npm run build" };

  app.get("/", async (req, reply) => (page ? send(reply, page, req.headers["if-none-match"], "no-cache") : reply.code(503).send(missing)));
  app.get<{ Params: { file: string } }>("/explorer/:file", async (req, reply) => {
    const a = Object.hasOwn(files, req.params.file) ? files[req.params.file] : undefined;
    if (!a) return reply.code(404).send({ error: "no such explorer asset" });
    return send(reply, a, req.headers["if-none-match"], "no-cache");
  });
  app.get("/genesis.json", async (req, reply) => {
    const g = asset(opts.genesisFile, "application/json; charset=utf-8");
    if (!g) return reply.code(404).send({ error: "this node has no genesis file" });
    return send(reply, g, req.headers["if-none-match"], "public, max-age=60");
  });
  // A person who opens a DID's resolver URL in a browser gets its page; programs keep their JSON.
  app.addHook("onRequest", async (req, reply) => {
    if (req.method !== "GET" || !req.url.startsWith(IDENTIFIERS_PREFIX)) return;
    if (negotiate(req.headers.accept, RESOLVER_OFFERS)?.offer !== "text/html") return;
    let id: string;
    try {
      id = decodeURIComponent(req.url.slice(IDENTIFIERS_PREFIX.length).split("?")[0]!);
    } catch {
      return; // the resolver route answers a malformed identifier
    }
    const query = req.url.includes("?") ? req.url.slice(req.url.indexOf("?") + 1) : "";
    const plainDid = /^did:[a-z0-9]+:[^?#/]+$/.test(id);
    const target = plainDid ? `/#/did/${id}${query ? `?${query}` : ""}` : `/#/didurl/${encodeURIComponent(id)}`;
    return reply.code(303).header("location", target).header("cache-control", "no-store").send();
  });
}
