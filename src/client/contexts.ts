/**
 * The JSON-LD contexts a did:sid document can list, as shipped in the
 * package (contexts/*.jsonld), and a document loader for the `jsonld`
 * package that serves them without a network: expand, compact or
 * canonicalize a did:sid document offline and in safe mode.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CONTEXT_FILES } from "../did/document.js";

export { CONTEXT_FILES };

/** The package's contexts/ folder: three levels above dist/src/client/ (and above src/client/ when run from source). */
function contextsDir(): URL {
  const here = new URL(".", import.meta.url);
  const up = fileURLToPath(here).includes("/dist/src/") ? "../../../" : "../../";
  return new URL(`${up}contexts/`, here);
}

let cache: Map<string, unknown> | undefined;

/** Every shipped context, parsed, by URL (read once). */
export function shippedContexts(): ReadonlyMap<string, unknown> {
  if (!cache) {
    const dir = contextsDir();
    cache = new Map(Object.entries(CONTEXT_FILES).map(([url, file]) => [url, JSON.parse(readFileSync(new URL(file, dir), "utf8")) as unknown]));
  }
  return cache;
}

export interface RemoteDocument {
  contextUrl: null;
  documentUrl: string;
  document: unknown;
}

/**
 * A `documentLoader` for the `jsonld` package that knows only the shipped
 * contexts and refuses every other URL (no network, no surprises).
 */
export async function sidDocumentLoader(url: string): Promise<RemoteDocument> {
  const document = shippedContexts().get(url);
  if (document === undefined) throw new Error(`sidDocumentLoader: no offline copy of ${url} (known: ${Object.keys(CONTEXT_FILES).join(", ")})`);
  return { contextUrl: null, documentUrl: url, document };
}
