/** `sid did ...`: register, edit, deactivate and read did:sid DIDs through a node's RPC. */
import { promises as fs } from "node:fs";
import { InvalidArgumentError, type Command } from "commander";
import { type DidHistoryEntry, SidClient, SidClientError, type WriteResult } from "../client/sid-client.js";
import { toHex } from "../crypto/bytes.js";
import { type DidDocument, type Relationship, validateDocument, verificationMethods, publicKeyOfMethod } from "../did/document.js";
import { addService, addVerificationMethod, removeVerificationMethod } from "../did/document-edit.js";
import { describeChange, sameDocument } from "../did/document-diff.js";
import { checkResolutionRequest, type ResolutionOptions } from "../did/resolution.js";
import { didFromPublicKey, parseDid } from "../did/syntax.js";
import { CliError } from "./errors.js";
import { type CommonOptions, note, printResult, table } from "./io.js";
import { openKeyRing, type KeyRing } from "./keys.js";
import { parseKeyIndex, parsePositiveInt, parseRelationships, withCommonOptions } from "./options.js";
import { SIGNER_SEARCH_LIMIT, absoluteIdIn, controllersOf, findAuthenticationKey, nextFreeIndex, publicKeysIn, type FoundKey } from "./signer.js";

interface KeyOptions extends CommonOptions {
  key: string;
  did?: string;
}

const DEFAULT_NEW_KEY_RELATIONSHIPS: Relationship[] = ["authentication", "assertionMethod"];
/** A DID document is at most 16 KiB; a file 64 times that is certainly not one. */
const MAX_DOC_FILE_BYTES = 1024 * 1024;

export function registerDidCommands(program: Command): void {
  const did = program.command("did").description("register, update, deactivate and resolve did:sid DIDs");

  withCommonOptions(did.command("create"))
    .description("register the DID of key index 0 of a stored key")
    .requiredOption("--key <name>", "stored key to create the DID from")
    .action(async (opts: KeyOptions) => {
      const ring = await openKeyRing(opts, opts.key);
      const client = new SidClient(opts.rpc);
      const key = ring.key(0);
      const did = didFromPublicKey(key.publicKey);
      // A create tx is deterministic, so a repeat would only be refused as a duplicate tx: say what it means.
      const existing = await client.resolve(did);
      if (existing.didDocument) {
        const meta = existing.didDocumentMetadata;
        throw new CliError(`${did} is already registered (version ${meta.versionId ?? "?"}${meta.deactivated ? ", deactivated" : ""})`);
      }
      const r = await client.createDid(key);
      printWrite(opts, r, "created");
    });

  withCommonOptions(did.command("add-key"))
    .description("add a key of the mnemonic as #key-<index+1>, signed by an authentication key of the same mnemonic")
    .requiredOption("--key <name>", "stored key (mnemonic) that signs and provides the new key")
    .option("--index <n>", "derivation index of the new key (default: smallest index >= 1 not yet in the document)", parseKeyIndex)
    .option("--did <did>", "DID to edit (default: the DID of --key)")
    .option("--relationships <list>", "comma-separated verification relationships", parseRelationships)
    .action(async (opts: KeyOptions & { index?: number; relationships?: Relationship[] }) => {
      const { client, ring, did: target } = await openWrite(opts);
      const { document } = await client.current(target);
      const index = opts.index ?? nextFreeIndex(document, ring);
      const newKey = ring.key(index);
      const existing = publicKeysIn(document).get(toHex(newKey.publicKey));
      if (existing) throw new CliError(`key index ${index} of "${ring.name}" is already in ${target} as ${existing}`);
      const fragment = `key-${index + 1}`;
      const relationships = opts.relationships ?? DEFAULT_NEW_KEY_RELATIONSHIPS;
      const signer = await chooseSigner(client, target, document, ring);
      const r = await client.updateDid(target, signer.key.key, (doc) => addVerificationMethod(doc, newKey.publicKey, fragment, relationships), signer.did);
      printWrite(opts, r, `added ${target}#${fragment} (index ${index}, ${relationships.join(", ")})`, {
        id: `${target}#${fragment}`,
        index,
        publicKey: toHex(newKey.publicKey),
      });
    });

  withCommonOptions(did.command("remove-key"))
    .description("remove a verification method, signed by another authentication key of the mnemonic")
    .requiredOption("--key <name>", "stored key (mnemonic) that signs")
    .requiredOption("--id <id>", "method to remove: key-1, #key-1 or did:sid:...#key-1")
    .option("--did <did>", "DID to edit (default: the DID of --key)")
    .action(async (opts: KeyOptions & { id: string }) => {
      const { client, ring, did: target } = await openWrite(opts);
      const id = absoluteIdIn(target, opts.id);
      const { document } = await client.current(target);
      const vm = verificationMethods(document).get(id);
      if (!vm) throw new CliError(`${target} has no verification method ${id}`);
      let removedKey: Uint8Array | undefined;
      try {
        removedKey = publicKeyOfMethod(vm);
      } catch {
        removedKey = undefined;
      }
      // Signing with the key being removed would leave this mnemonic without a key in the document.
      const signer = await chooseSigner(client, target, document, ring, removedKey, id);
      const r = await client.updateDid(target, signer.key.key, (doc) => removeVerificationMethod(doc, id), signer.did);
      printWrite(opts, r, `removed ${id}`, { id });
    });

  withCommonOptions(did.command("add-service"))
    .description("add a service endpoint")
    .requiredOption("--key <name>", "stored key (mnemonic) that signs")
    .requiredOption("--id <name>", "service id fragment: hub, #hub or did:sid:...#hub")
    .requiredOption("--type <type>", "service type, e.g. LinkedDomains")
    .requiredOption("--endpoint <url>", "service endpoint URL")
    .option("--did <did>", "DID to edit (default: the DID of --key)")
    .action(async (opts: KeyOptions & { id: string; type: string; endpoint: string }) => {
      const { client, ring, did: target } = await openWrite(opts);
      const id = absoluteIdIn(target, opts.id);
      const { document } = await client.current(target);
      const signer = await chooseSigner(client, target, document, ring);
      const service = { id, type: opts.type, serviceEndpoint: opts.endpoint };
      const r = await client.updateDid(target, signer.key.key, (doc) => addService(doc, service), signer.did);
      printWrite(opts, r, `added service ${id}`, { id });
    });

  withCommonOptions(did.command("update"))
    .description("replace the DID document with the one in a JSON file (validated locally first)")
    .requiredOption("--key <name>", "stored key (mnemonic) that signs")
    .requiredOption("--doc <file>", "JSON file with the complete new document (or a resolution result holding it)")
    .option("--did <did>", "DID to edit (default: the DID of --key)")
    .action(async (opts: KeyOptions & { doc: string }) => {
      const { client, ring, did: target } = await openWrite(opts);
      const next = validateDocument(documentIn(await readJsonFile(opts.doc)), target);
      const { document, versionId } = await client.current(target);
      // A version that changes nothing would only lengthen the history.
      if (sameDocument(next, document)) throw new CliError(`${opts.doc} holds the current document of ${target} (version ${versionId}) unchanged: nothing to update`);
      const signer = await chooseSigner(client, target, document, ring);
      if (signer.did === target && !publicKeysIn(next).has(toHex(signer.key.key.publicKey))) {
        note(`warning: the new document no longer holds key index ${signer.key.index} of "${ring.name}"`);
      }
      const r = await client.updateDid(target, signer.key.key, () => next, signer.did);
      printWrite(opts, r, "updated");
    });

  withCommonOptions(did.command("deactivate"))
    .description("deactivate a DID, permanently (requires --yes)")
    .requiredOption("--key <name>", "stored key (mnemonic) that signs")
    .option("--did <did>", "DID to deactivate (default: the DID of --key)")
    .option("--yes", "confirm: deactivation is permanent and cannot be undone")
    .action(async (opts: KeyOptions & { yes?: boolean }) => {
      if (opts.did !== undefined) checkDid(opts.did);
      if (!opts.yes) throw new CliError(`deactivating ${opts.did ?? "a DID"} is permanent and cannot be undone; pass --yes to confirm`);
      const { client, ring, did: target } = await openWrite(opts);
      const { document } = await client.current(target);
      const signer = await chooseSigner(client, target, document, ring);
      const r = await client.deactivateDid(target, signer.key.key, signer.did);
      printWrite(opts, r, "deactivated");
    });

  withCommonOptions(did.command("resolve"))
    .description("resolve a DID to its W3C resolution result (JSON)")
    .argument("<did>", "the DID to resolve")
    .option("--version-id <id>", "resolve this version (1, 2, ...)")
    .option("--version-time <time>", "resolve the version valid at this RFC 3339 time, e.g. 2026-01-02T03:04:05Z")
    .action(async (didArg: string, opts: CommonOptions & { versionId?: string; versionTime?: string }) => {
      const options: ResolutionOptions = {};
      if (opts.versionId !== undefined) options.versionId = opts.versionId;
      if (opts.versionTime !== undefined) options.versionTime = opts.versionTime;
      // The same checks the node makes, so a typo fails without a network round trip.
      const result = checkResolutionRequest(didArg, options) ?? (await new SidClient(opts.rpc).resolve(didArg, options));
      const meta = result.didResolutionMetadata;
      if (opts.json) printResult(opts, result, "");
      else if (!meta.error) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
      if (meta.error) throw new CliError(`${meta.error}: ${meta.errorMessage ?? "resolution failed"}`);
    });

  withCommonOptions(did.command("history"))
    .description("list the versions of a DID, following the node's pages")
    .argument("<did>", "the DID")
    .option("--after <versionId>", "start after this version", parseVersionId)
    .option("--limit <n>", "list at most this many versions (the JSON output's next is where to go on)", parsePositiveInt)
    .action(async (didArg: string, opts: CommonOptions & { after?: string; limit?: number }) => {
      checkDid(didArg);
      const client = new SidClient(opts.rpc);
      const versions: DidHistoryEntry[] = [];
      let next: string | null = null;
      const want = opts.limit ?? Infinity;
      for await (const page of client.historyPages(didArg, { ...(opts.after !== undefined ? { after: opts.after } : {}), limit: Math.min(want, HISTORY_PAGE_LIMIT) })) {
        versions.push(...page.versions.slice(0, want - versions.length));
        next = page.next;
        if (versions.length >= want) {
          // Stopped inside or at the end of a page: go on after the last version listed, if any follow.
          const last = versions[versions.length - 1];
          if (last && last.versionId !== page.versions[page.versions.length - 1]?.versionId) next = last.versionId;
          break;
        }
      }
      const named = await nameChanges(client, didArg, versions);
      const text =
        versions.length === 0
          ? `${didArg} has no versions${opts.after !== undefined ? ` after ${opts.after}` : ""}`
          : table(
              ["VERSION", "OPERATION", "HEIGHT", "TIME", "TX"],
              named.map((v) => [v.versionId, v.changes.join("+"), String(v.height), v.time, v.txHash]),
            );
      printResult(opts, { did: didArg, versions: named, next }, next === null ? text : [...(Array.isArray(text) ? text : [text]), `more versions follow: --after ${next}`]);
    });
}

/** Versions asked per did_history page (the node's maximum; it may answer fewer to bound the page's bytes). */
const HISTORY_PAGE_LIMIT = 1000;

function parseVersionId(value: string): string {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(value)) throw new InvalidArgumentError("expected a version number (1, 2, ...)");
  return value;
}

/**
 * Each version with what it changed: create and deactivate as they are, an
 * update named from the difference between its document and the one before
 * (add-key, remove-key, add-service, ...; "update" when it changed nothing
 * those names cover). Computed on read from the versions' documents, so the
 * chain records nothing more.
 */
async function nameChanges<V extends { versionId: string; operation: string }>(client: SidClient, did: string, versions: V[]): Promise<Array<V & { changes: string[] }>> {
  const docs = new Map<string, DidDocument>();
  const docOf = async (versionId: string): Promise<DidDocument | undefined> => {
    if (!docs.has(versionId)) {
      const r = await client.resolve(did, { versionId });
      if (r.didDocument) docs.set(versionId, r.didDocument);
    }
    return docs.get(versionId);
  };
  const out: Array<V & { changes: string[] }> = [];
  for (let i = 0; i < versions.length; i++) {
    const v = versions[i]!;
    let changes: string[] = [v.operation];
    // The version before may be on an earlier page: it is the one numbered one less.
    if (v.operation === "update" && Number(v.versionId) > 1) {
      const [prev, next] = [await docOf(String(Number(v.versionId) - 1)), await docOf(v.versionId)];
      if (prev && next) {
        const found = describeChange(prev, next);
        if (found.length > 0) changes = found;
      }
    }
    out.push({ ...v, changes });
  }
  return out;
}

/** The client, the decrypted key ring and the DID a write command targets. */
async function openWrite(opts: KeyOptions): Promise<{ client: SidClient; ring: KeyRing; did: string }> {
  if (opts.did !== undefined) checkDid(opts.did);
  const ring = await openKeyRing(opts, opts.key);
  const did = opts.did ?? didFromPublicKey(ring.key(0).publicKey);
  return { client: new SidClient(opts.rpc), ring, did };
}

function checkDid(did: string): void {
  try {
    parseDid(did);
  } catch (err) {
    throw new CliError(`invalidDid: ${(err as Error).message}`);
  }
}

/**
 * The signing DID and key for a write to `did`: a key of `ring` in the
 * authentication of `did` itself, else in that of one of its controllers.
 * `exclude` (remove-key) is never picked for the DID itself.
 */
async function chooseSigner(
  client: SidClient,
  did: string,
  doc: DidDocument,
  ring: KeyRing,
  exclude?: Uint8Array,
  excludeId?: string,
): Promise<{ did: string; key: FoundKey }> {
  const own = findAuthenticationKey(doc, ring, exclude);
  if (own) return { did, key: own };
  for (const controller of controllersOf(doc)) {
    let controllerDoc: DidDocument;
    try {
      controllerDoc = (await client.current(controller)).document;
    } catch (err) {
      if (err instanceof SidClientError) continue; // unknown or deactivated controller: cannot sign
      throw err;
    }
    const found = findAuthenticationKey(controllerDoc, ring);
    if (found) return { did: controller, key: found };
  }
  const range = `indexes 0..${SIGNER_SEARCH_LIMIT - 1}`;
  if (excludeId) {
    throw new CliError(
      `refusing to remove ${excludeId}: no other authentication key of "${ring.name}" (${range}) is in ${did}, so the key would have to sign its own removal and could lock you out`,
    );
  }
  const controllers = controllersOf(doc);
  throw new CliError(
    `no key of "${ring.name}" (${range}) is an authentication key of ${did}${controllers.length ? " or of its controllers" : ""}`,
  );
}

/** A bare document, or the didDocument of a resolution result as `sid did resolve` prints it. */
function documentIn(value: unknown): unknown {
  const v = value as { didDocument?: unknown; didResolutionMetadata?: unknown } | null;
  return v !== null && typeof v === "object" && "didResolutionMetadata" in v && "didDocument" in v ? v.didDocument : value;
}

async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new CliError(`${file} is not a regular file`);
    if (st.size > MAX_DOC_FILE_BYTES) throw new CliError(`${file} is ${st.size} bytes, more than ${MAX_DOC_FILE_BYTES}`);
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if (err instanceof CliError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${file}: ${code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function printWrite(opts: CommonOptions, r: WriteResult, what: string, extra: Record<string, unknown> = {}): void {
  printResult(opts, { did: r.did, txHash: r.txHash, height: r.height, versionId: r.versionId, ...extra }, [
    `${r.did} ${what}`,
    `version ${r.versionId}, tx ${r.txHash}, committed at height ${r.height}`,
  ]);
}
