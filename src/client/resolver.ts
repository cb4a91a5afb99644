/**
 * did:sid for the DIF `did-resolver` package:
 *
 *   const resolver = new Resolver(getResolver({ rpcUrl: "http://127.0.0.1:8660" }));
 *   const { didDocument } = await resolver.resolve("did:sid:...");
 *
 * It asks a node with JSON-RPC `did_resolve` and hands back the node's W3C
 * result. versionId and versionTime are read from the DID URL query
 * (`did:sid:...?versionId=2`), from `;name=value` DID parameters (which
 * did-resolver parses into `parsed.params`) and from the resolution options;
 * the same option twice with different values is invalidOptions. Failures
 * come back as results, never as exceptions: did-resolver's callers (did-jwt,
 * did-jwt-vc) read `didResolutionMetadata.error`.
 */
import type { DIDResolutionOptions, DIDResolutionResult, DIDResolver, ParsedDID } from "did-resolver";
import { parseDidQuery } from "../did/dereference.js";
import { type DidResolutionResult, type ResolutionError, type ResolutionOptions, checkResolutionRequest, resolutionError } from "../did/resolution.js";

export interface SidResolverOptions {
  /** JSON-RPC endpoint of a sid node, e.g. http://127.0.0.1:8660 */
  rpcUrl: string;
  /** A fetch to use instead of the global one (tests, proxies, custom agents). */
  fetch?: typeof globalThis.fetch;
  /** Longest wait for the node, in ms (default 30 s). */
  timeoutMs?: number;
}

const VERSION_OPTIONS = ["versionId", "versionTime"] as const;

function asResult(r: DidResolutionResult): DIDResolutionResult {
  return r as unknown as DIDResolutionResult;
}

function failure(error: ResolutionError, message: string): DIDResolutionResult {
  return asResult(resolutionError(error, message));
}

/** versionId / versionTime from every place a did-resolver caller can put them. */
function versionOptions(parsed: ParsedDID, options: DIDResolutionOptions): ResolutionOptions | DIDResolutionResult {
  const sources: Array<Record<string, unknown>> = [parsed.params ?? {}, options as Record<string, unknown>];
  if (parsed.query !== undefined && parsed.query !== "") {
    try {
      sources.push(Object.fromEntries(parseDidQuery(parsed.query)));
    } catch (e) {
      return failure("invalidDidUrl", (e as Error).message);
    }
  }
  const out: ResolutionOptions = {};
  for (const name of VERSION_OPTIONS) {
    for (const src of sources) {
      const v = src[name];
      if (v === undefined) continue;
      if (typeof v !== "string") return failure("invalidOptions", `${name} must be a string`);
      if (out[name] !== undefined && out[name] !== v) return failure("invalidOptions", `${name} is given twice with different values`);
      out[name] = v;
    }
  }
  return out;
}

function isResolutionResult(v: unknown): v is DidResolutionResult {
  const r = v as Record<string, unknown> | null;
  return (
    typeof r === "object" &&
    r !== null &&
    typeof r.didResolutionMetadata === "object" &&
    r.didResolutionMetadata !== null &&
    typeof r.didDocumentMetadata === "object" &&
    r.didDocumentMetadata !== null &&
    "didDocument" in r
  );
}

/** The `sid` method for `new Resolver({...getResolver(opts)})`. */
export function getResolver(opts: SidResolverOptions): { sid: DIDResolver } {
  if (typeof opts?.rpcUrl !== "string" || !/^https?:\/\//.test(opts.rpcUrl)) throw new TypeError("getResolver: rpcUrl must be an http(s) URL");
  const doFetch = opts.fetch ?? globalThis.fetch;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let nextId = 1;

  const resolve: DIDResolver = async (did, parsed, _resolver, options) => {
    const version = versionOptions(parsed, options ?? {});
    if ("didResolutionMetadata" in version) return version;
    // The node checks all this too; checking here saves the round trip and keeps bad input off the wire.
    const bad = checkResolutionRequest(did, version);
    if (bad) return asResult(bad);

    let body: { result?: unknown; error?: { code?: number; message?: string } };
    try {
      const res = await doFetch(opts.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method: "did_resolve", params: { did, ...version } }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      body = (await res.json()) as typeof body;
    } catch (e) {
      return failure("internalError", `cannot resolve ${did} at ${opts.rpcUrl}: ${(e as Error).message}`);
    }
    if (body?.error) {
      // -32602: the node refused the params themselves (a DID too long for did_resolve, say).
      const error: ResolutionError = body.error.code === -32602 ? "invalidDid" : "internalError";
      return failure(error, `node answered ${body.error.code}: ${body.error.message ?? "error"}`);
    }
    if (!isResolutionResult(body?.result)) return failure("internalError", `node at ${opts.rpcUrl} gave no resolution result`);
    return asResult(body.result);
  };
  return { sid: resolve };
}
