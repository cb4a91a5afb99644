/**
 * How a verifier reads status lists: always the whole list, never an index
 * (so the node cannot tell which credential is checked), from the node's
 * `GET /status-lists/<issuer id>/<listId>`, cached by its strong ETag: a
 * list that did not change since the last look costs a 304 and no body.
 *
 * The list's types (what the issuer was accredited for when it created the
 * list) never change, so they are read once per list with `statuslist_get`.
 */
import { CodedError } from "../errors.js";
import { parseStatusListUri } from "./credentials/status-token.js";
import type { StatusListSnapshot } from "./credentials/types.js";
import { RegistryClient } from "./registry-client.js";
import { RpcError } from "./rpc-client.js";
import type { SidClient } from "./sid-client.js";

export class StatusListFetchError extends CodedError<"STATUS_LIST_FETCH"> {}

/** A list as last fetched, with what revalidating it needs. */
export interface CachedStatusList extends StatusListSnapshot {
  etag: string | null;
  /** ms since the epoch of the last 200 or 304. */
  checkedAt: number;
  /** The server's Cache-Control max-age, ms. */
  maxAgeMs: number;
}

export interface StatusListCacheOptions {
  /**
   * Trust the server's max-age (the token's ttl) and skip revalidation while
   * it lasts. Default false: every look revalidates (a 304 when unchanged),
   * so a revocation is seen at the next block.
   */
  honorMaxAge?: boolean;
  /** A persistent cache (the CLI keeps one in the home); in memory only when absent. */
  load?(uri: string): Promise<CachedStatusList | undefined>;
  save?(entry: CachedStatusList): Promise<void>;
  /** Lists kept in memory. */
  maxEntries?: number;
}

/** Most bytes of a token read from a node: a list of 2^20 entries compresses to far less than this in the worst case. */
const MAX_TOKEN_CHARS = 1_500_000;

/** Fetches status lists from one node by their URI's path, cached by ETag. */
export class StatusListCache {
  private readonly memory = new Map<string, CachedStatusList>();
  private readonly registry: RegistryClient;
  /** Counters for tests and benchmarks. */
  readonly stats = { fetched: 0, notModified: 0, fresh: 0 };

  constructor(
    readonly client: SidClient,
    private readonly options: StatusListCacheOptions = {},
  ) {
    this.registry = new RegistryClient(client);
  }

  /** The node's base URL (the RPC URL without its path). */
  private nodeBase(): string {
    const u = new URL(this.client.rpc.url);
    return `${u.protocol}//${u.host}`;
  }

  async get(uri: string): Promise<StatusListSnapshot | undefined> {
    const ref = parseStatusListUri(uri);
    if (!ref) return undefined;
    let entry = this.memory.get(uri) ?? (await this.options.load?.(uri));
    const now = Date.now();
    if (entry && this.options.honorMaxAge && now - entry.checkedAt < entry.maxAgeMs) {
      this.stats.fresh++;
      return entry;
    }
    const url = `${this.nodeBase()}/status-lists/${ref.issuerId}/${ref.listId}`;
    let res: Response;
    try {
      res = await fetch(url, { headers: entry?.etag ? { "if-none-match": entry.etag } : {}, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new StatusListFetchError("STATUS_LIST_FETCH", `cannot fetch ${url}: ${(err as Error).message}`);
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (res.status === 304 && entry) {
      this.stats.notModified++;
      entry = { ...entry, checkedAt: now };
    } else if (res.status === 200) {
      const token = (await res.text()).trim();
      if (token.length > MAX_TOKEN_CHARS) throw new StatusListFetchError("STATUS_LIST_FETCH", `${url} answered ${token.length} characters, more than ${MAX_TOKEN_CHARS}`);
      this.stats.fetched++;
      // Types never change; the publish time does (it says which issuer key version signed), so a new token asks the chain once.
      const meta = entry && entry.token === token ? { types: entry.types, time: entry.time } : await this.listMeta(`did:sid:${ref.issuerId}`, ref.listId);
      if (!meta) return undefined;
      entry = { uri, token, ...meta, etag: res.headers.get("etag"), checkedAt: now, maxAgeMs: maxAgeOf(res.headers.get("cache-control")) };
    } else {
      await res.body?.cancel();
      throw new StatusListFetchError("STATUS_LIST_FETCH", `${url} answered HTTP ${res.status}`);
    }
    this.remember(entry);
    await this.options.save?.(entry);
    return entry;
  }

  private remember(entry: CachedStatusList): void {
    this.memory.delete(entry.uri);
    if (this.memory.size >= (this.options.maxEntries ?? 256)) this.memory.delete(this.memory.keys().next().value!);
    this.memory.set(entry.uri, entry);
  }

  private async listMeta(issuer: string, listId: string): Promise<{ types: string[]; time: number } | undefined> {
    try {
      const r = await this.registry.statusList(issuer, listId);
      return { types: r.types, time: typeof r.time === "number" ? r.time : Date.parse(r.time) };
    } catch (err) {
      if (err instanceof RpcError && err.reason !== undefined && /NOT_FOUND/.test(err.reason)) return undefined;
      throw err;
    }
  }
}

function maxAgeOf(cacheControl: string | null): number {
  const m = cacheControl ? /(?:^|,)\s*max-age=(\d{1,9})/.exec(cacheControl) : null;
  return m ? Number(m[1]) * 1000 : 0;
}
