/**
 * `sid issuer ...`, `sid kyc ...`: the KYC registry from the command line.
 * Trustees accredit issuers through governance (proposals as in gov.ts); issuers keep
 * status lists on chain and issue one-time copies into them, and suspend,
 * reinstate or revoke every copy of a credential; holders request copies
 * (one fresh key each), keep them, and present each copy once, selectively;
 * verifiers check a presentation against the issuer's DID and whole list.
 *
 * Files the commands read (claims, credentials) are bounded and
 * validated before use; files they write (credentials, presentations) are
 * created 0600 and never overwrite an existing file, since they hold
 * personal data.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { type IssuerJson, RegistryClient } from "../client/registry-client.js";
import { SidClient } from "../client/sid-client.js";
import {
  DEFAULT_COPIES,
  DEFAULT_LIST_TTL,
  ISSUANCE_KIND,
  type IssuerContext,
  type KycIssuance,
  LOW_COPIES_WARNING,
  changeCredentialStatus,
  createStatusList,
  issueCredentials,
  issuerContext,
  makeRequest,
  presentCopy,
  readRequest,
  receiveIssuance,
  verifyWithNode,
} from "../client/kyc.js";
import { HolderStore, IssuerStore } from "../client/kyc-store.js";
import { type CachedStatusList, StatusListCache, type StatusListCacheOptions } from "../client/status-list-client.js";
import { HOLDER_KEY_PATH_PREFIX, HolderKeys } from "../client/credentials/holder-keys.js";
import { MAX_COPIES } from "../client/credentials/issue.js";
import { CREDENTIAL_LIMITS, isCredentialId } from "../client/credentials/contract.js";
import { LIST_ID_RE, STATUS_LIST_LIMITS } from "../client/credentials/status-token.js";
import type { CredentialFormat, JsonValue, Verdict } from "../client/credentials/types.js";
import { keyExists, loadMnemonic } from "../client/keystore.js";
import { KYC_LIMITS, isIssuerName, isTypeName } from "../did/kyc.js";
import { didFromPublicKey, parseDid } from "../did/syntax.js";
import { findMethodForKey } from "../client/txs.js";
import { CliError } from "./errors.js";
import { readBoundedFile } from "./files.js";
import { type TrusteeOptions, runProposal, withTrusteeOptions } from "./gov.js";
import { type CommonOptions, getPassphrase, note, printResult, table } from "./io.js";
import { openKeyRing } from "./keys.js";
import { homeOf } from "./node-api.js";
import { parseUrl, withCommonOptions } from "./options.js";
import { SIGNER_SEARCH_LIMIT } from "./signer.js";
import { parseDateTime } from "../did/resolution.js";

/** Claims are at most CREDENTIAL_LIMITS.maxClaimsBytes of JSON; a file four times that (indentation) is certainly not claims. */
const MAX_CLAIMS_FILE_BYTES = 4 * CREDENTIAL_LIMITS.maxClaimsBytes;
/** A credential or presentation is at most maxSerializedChars (ASCII) plus a newline. */
const MAX_CREDENTIAL_FILE_BYTES = CREDENTIAL_LIMITS.maxSerializedChars + 2;
/** A request holds at most MAX_COPIES public JWKs of ~150 bytes. */
const MAX_REQUEST_FILE_BYTES = 256 * 1024;
/** An issuance holds at most MAX_COPIES copies. */
const MAX_ISSUANCE_FILE_BYTES = 1000 * (CREDENTIAL_LIMITS.maxSerializedChars + 8) + 4096;

interface IssuerKeyOptions extends CommonOptions {
  issuerKey: string;
}

// ---------------------------------------------------------------------------
// sid issuer

/** `sid issuer ...`: accreditation proposals (governance) and reads of the issuer registry. */
export function registerIssuerCommands(program: Command): void {
  const issuer = program.command("issuer").description("accredit, suspend, reinstate and remove KYC issuers (governance) and read the issuer registry");

  withTrusteeOptions(withCommonOptions(issuer.command("add")))
    .description("propose accrediting DID as an issuer of the given credential types")
    .argument("<did>", "the issuer's DID (registered on chain)", parseDidArg)
    .requiredOption("--name <name>", "display name of the issuer (1-64 printable characters)", parseIssuerName)
    .requiredOption("--types <list>", "comma-separated credential types it may attest, e.g. KYCBasic,AgeOver18", parseTypeList)
    .action(async (did: string, opts: TrusteeOptions & { name: string; types: string[] }) => {
      await runProposal(opts, { kind: "issuer/add", did, name: opts.name, types: opts.types });
    });

  for (const [verb, kind, what] of [
    ["suspend", "issuer/suspend", "stops new anchors until reinstated; its credentials stay checkable"],
    ["reinstate", "issuer/reinstate", "lets a suspended issuer anchor again"],
    ["remove", "issuer/remove", "ends the accreditation; its credentials stay checkable"],
  ] as const) {
    withTrusteeOptions(withCommonOptions(issuer.command(verb)))
      .description(`propose to ${verb} an issuer (${what})`)
      .argument("<did>", "the issuer's DID", parseDidArg)
      .action(async (did: string, opts: TrusteeOptions) => {
        await runProposal(opts, { kind, did });
      });
  }

  withCommonOptions(issuer.command("get"))
    .description("show an issuer's accreditation and its history")
    .argument("<did>", "the issuer's DID", parseDidArg)
    .action(async (did: string, opts: CommonOptions) => {
      const r = await RegistryClient.at(opts.rpc).issuer(did);
      printResult(opts, r, issuerText(r));
    });

  withCommonOptions(issuer.command("list"))
    .description("list issuers in DID order")
    .option("--after <did>", "start after this DID (the `next` of the previous page)", parseDidArg)
    .option("--limit <n>", "issuers per page, 1-500 (default 100)", parseLimit)
    .action(async (opts: CommonOptions & { after?: string; limit?: number }) => {
      const page = await RegistryClient.at(opts.rpc).issuers({
        ...(opts.after !== undefined ? { after: opts.after } : {}),
        ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
      });
      const text: string[] =
        page.issuers.length === 0
          ? ["no issuers"]
          : table(
              ["DID", "STATUS", "NAME", "TYPES"],
              page.issuers.map((i) => [i.did, i.status, i.name, i.types.join(",")]),
            );
      if (page.next !== null && !opts.json) text.push(`more: --after ${page.next}`);
      printResult(opts, page, text);
    });
}

function issuerText(r: IssuerJson): string[] {
  return [
    `issuer:  ${r.did}`,
    `name:    ${r.name}`,
    `status:  ${r.status} (since height ${r.updatedHeight}, ${r.updated})`,
    `types:   ${r.types.join(", ")}`,
    "history:",
    ...table(
      ["HEIGHT", "TIME", "STATUS", "TYPES"],
      r.history.map((p) => [String(p.height), p.time, p.status, p.types.join(",")]),
    ).map((l) => `  ${l}`),
  ];
}

// ---------------------------------------------------------------------------
// sid kyc

/** `sid kyc ...`: status lists, one-time copies, presentations, verification. */
export function registerCredentialCommands(program: Command): void {
  const kyc = program.command("kyc").description("KYC credentials: status lists, one-time copies, presentations, verification");

  // -- issuer ---------------------------------------------------------------

  withCommonOptions(kyc.command("list-create"))
    .description(`create a status list on chain (every entry UNISSUED); copies are then issued into it`)
    .argument("<listId>", "the list's name, 1-64 of [A-Za-z0-9_-], e.g. kyc-2026", parseListId)
    .requiredOption("--issuer-key <name>", "stored key of the issuer (its index-0 key's DID is the issuer)")
    .option("--size <n>", `entries, ${STATUS_LIST_LIMITS.minSize}-${STATUS_LIST_LIMITS.maxSize} (default ${STATUS_LIST_LIMITS.minSize})`, parseListSize)
    .option("--ttl <seconds>", `how long verifiers may cache the list token (default ${DEFAULT_LIST_TTL})`, parseTtl)
    .option("--base-uri <url>", "the chain's genesis statusListBaseUri, when it is not the default http://127.0.0.1:8660", parseUrl)
    .action(async (listId: string, opts: IssuerKeyOptions & { size?: number; ttl?: number; baseUri?: string }) => {
      const ctx = await openIssuer(opts);
      const r = await createStatusList(ctx, {
        listId,
        ...(opts.size !== undefined ? { size: opts.size } : {}),
        ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
        ...(opts.baseUri !== undefined ? { baseUri: opts.baseUri.replace(/\/+$/, "") } : {}),
      });
      printResult(opts, { listId, ...r }, [`status list ${listId} created: ${r.uri} (${r.size} entries)`, `tx ${r.txHash} at height ${r.height}`]);
    });

  withCommonOptions(kyc.command("issue"))
    .description("issue one-time copies of a credential into a status list and publish the list (one tx); writes the copies for the holder to --out")
    .requiredOption("--issuer-key <name>", "stored key of the issuer")
    .requiredOption("--list <listId>", "the issuer's status list to issue into (sid kyc list-create)", parseListId)
    .requiredOption("--type <type>", "credential type the issuer is accredited for, e.g. KYCBasic", parseTypeName)
    .requiredOption("--claims <file>", "JSON object of claims, e.g. {\"given_name\": \"Alice\", \"age_over_18\": true}")
    .option("--request <file>", "the holder's request (sid kyc request): one public key per copy (SD-JWT VC)")
    .option("--copies <n>", `copies of a JWT VC (default ${DEFAULT_COPIES}); an SD-JWT VC gets one per key of the request`, parseCopies)
    .requiredOption("--out <file>", "where to write the copies for the holder (created 0600; must not exist)")
    .option("--valid-until <time>", "end of validity, RFC 3339 (rounded down to its UTC day)", parseTimeArg)
    .option("--label <text>", "your own note for this credential (kept in your home only)")
    .addOption(new Option("--format <format>", "credential format").choices(["sd-jwt-vc", "jwt-vc"]).default("sd-jwt-vc"))
    .action(async (opts: IssuerKeyOptions & { list: string; type: string; claims: string; request?: string; copies?: number; out: string; validUntil?: number; label?: string; format: CredentialFormat }) => {
      const claims = await readClaimsFile(opts.claims);
      let request: ReturnType<typeof readRequest> | undefined;
      if (opts.format === "sd-jwt-vc") {
        if (opts.request === undefined) throw new CliError("an SD-JWT VC is bound to the holder's keys: pass --request FILE (the holder makes it with sid kyc request)");
        if (opts.copies !== undefined) throw new CliError("--copies is for a JWT VC; an SD-JWT VC gets one copy per key of the request");
        request = readRequest(await readJsonFile(opts.request, MAX_REQUEST_FILE_BYTES, "request file"));
      } else if (opts.request !== undefined) {
        throw new CliError("a JWT VC has no holder binding: use --copies N, not --request");
      }
      const ctx = await openIssuer(opts);
      const out = await createPrivateFile(opts.out);
      let r: Awaited<ReturnType<typeof issueCredentials>>;
      try {
        r = await issueCredentials(ctx, opts.list, [
          {
            type: opts.type,
            claims,
            format: opts.format,
            ...(request ? { holderKeys: request.keys } : { copies: opts.copies ?? DEFAULT_COPIES }),
            ...(opts.validUntil !== undefined ? { validUntil: opts.validUntil } : {}),
            ...(opts.label !== undefined ? { label: opts.label } : {}),
          },
        ]);
      } catch (err) {
        await out.close();
        await fs.rm(opts.out, { force: true });
        throw err;
      }
      const issued = r.credentials[0]!;
      const file: KycIssuance = { kind: ISSUANCE_KIND, version: 1, requestId: request?.requestId ?? null, credentialId: issued.credentialId, issuer: ctx.issuerDid, credentialType: opts.type, format: opts.format, copies: issued.copies };
      try {
        await out.writeFile(JSON.stringify(file) + "\n");
      } finally {
        await out.close();
      }
      printResult(
        opts,
        { credentialId: issued.credentialId, copies: issued.copies.length, file: opts.out, format: opts.format, type: opts.type, list: opts.list, txHash: r.txHash, height: r.height },
        [issued.credentialId, `${issued.copies.length} ${opts.format} copies written to ${opts.out}; list ${opts.list} published in tx ${r.txHash} at height ${r.height}`],
      );
    });

  for (const [verb, status, what] of [
    ["revoke", "revoked", "revoke every copy of a credential (final)"],
    ["suspend", "suspended", "suspend every copy of a credential (until reinstated)"],
    ["reinstate", "valid", "reinstate every copy of a suspended credential"],
  ] as const) {
    withCommonOptions(kyc.command(verb))
      .description(`${what}: one list publish`)
      .argument("<id>", "credential id (32 hex, as sid kyc issue printed it)", parseCredentialId)
      .requiredOption("--issuer-key <name>", "stored key of the credential's issuer")
      .action(async (id: string, opts: IssuerKeyOptions) => {
        const ctx = await openIssuer(opts);
        const [r] = await changeCredentialStatus(ctx, [{ credentialId: id, status }]);
        printResult(opts, { id, status, listId: r!.listId, txHash: r!.txHash, height: r!.height }, `credential ${id} ${status === "valid" ? "reinstated" : status} (every copy); list ${r!.listId} published in tx ${r!.txHash} at height ${r!.height}`);
      });
  }

  withCommonOptions(kyc.command("status"))
    .description("the issuer's own credentials and lists, from its home (the chain has no per-credential record)")
    .argument("[id]", "one credential id", parseCredentialId)
    .requiredOption("--issuer-key <name>", "stored key of the issuer")
    .action(async (id: string | undefined, opts: IssuerKeyOptions) => {
      const ring = await openKeyRing(opts, opts.issuerKey);
      const issuerDid = didFromPublicKey(ring.key(0).publicKey);
      const store = IssuerStore.open(await homeOf(opts), issuerDid);
      const all = [...(await store.credentials()).values()].filter((c) => id === undefined || c.id === id);
      if (id !== undefined && all.length === 0) throw new CliError(`this issuer's home has no credential ${id}`);
      const lists = [];
      for (const listId of await store.listIds()) {
        const l = await store.list(listId);
        lists.push({ listId, uri: l.uri, size: l.size, free: l.freeCount(), publishedHeight: l.publishedHeight });
      }
      const rows = all.map((c) => [c.id, c.status, c.type, c.format, `${c.listId}:${c.indices.length}`, c.issued, c.label ?? ""]);
      printResult(opts, { issuer: issuerDid, lists, credentials: all }, [
        `issuer: ${issuerDid}`,
        ...lists.map((l) => `list ${l.listId}: ${l.free} of ${l.size} indices free, last published at height ${l.publishedHeight ?? "-"} (${l.uri})`),
        ...(rows.length === 0 ? ["no credentials"] : table(["CREDENTIAL", "STATUS", "TYPE", "FORMAT", "LIST:COPIES", "ISSUED", "LABEL"], rows)),
      ]);
    });

  // -- holder ---------------------------------------------------------------

  withCommonOptions(kyc.command("request"))
    .description(`make a request for one-time copies: a fresh key per copy from your mnemonic (${HOLDER_KEY_PATH_PREFIX}/<credential n>'/<copy n>'); give the file to the issuer`)
    .requiredOption("--key <name>", "your stored key (its mnemonic derives the copy keys)")
    .option("--copies <n>", `copies, 1-${MAX_COPIES} (default ${DEFAULT_COPIES})`, parseCopies)
    .requiredOption("--out <file>", "where to write the request (must not exist)")
    .action(async (opts: CommonOptions & { key: string; copies?: number; out: string }) => {
      const { store, keys } = await openHolder(opts, opts.key);
      const out = await createPrivateFile(opts.out);
      try {
        const req = await makeRequest(store, keys, opts.copies ?? DEFAULT_COPIES);
        await out.writeFile(JSON.stringify(req) + "\n");
        printResult(opts, { requestId: req.requestId, copies: req.keys.length, file: opts.out }, `request ${req.requestId} for ${req.keys.length} copies written to ${opts.out}`);
      } finally {
        await out.close();
      }
    });

  withCommonOptions(kyc.command("receive"))
    .description("store the copies an issuer wrote (sid kyc issue --out) in your home, after checking each is bound to your keys")
    .argument("<file>", "the issuer's file of copies")
    .requiredOption("--key <name>", "your stored key (the one the request was made with)")
    .action(async (file: string, opts: CommonOptions & { key: string }) => {
      const v = await readJsonFile(file, MAX_ISSUANCE_FILE_BYTES, "issuance file");
      const { store, keys } = await openHolder(opts, opts.key);
      const c = await receiveIssuance(store, keys, v);
      printResult(opts, { credentialId: c.id, issuer: c.issuer, type: c.type, format: c.format, copies: c.copies.length }, `credential ${c.id} (${c.type} from ${c.issuer}): ${c.copies.length} copies stored`);
    });

  withCommonOptions(kyc.command("credentials"))
    .description("the credentials in your home and how many unused copies each has left")
    .requiredOption("--key <name>", "your stored key")
    .action(async (opts: CommonOptions & { key: string }) => {
      const store = HolderStore.open(await homeOf(opts), opts.key);
      const all = await Promise.all((await store.credentialIds()).map((id) => store.credential(id)));
      const rows = all.map((c) => ({ id: c.id, type: c.type, issuer: c.issuer, format: c.format, unused: c.copies.filter((x) => !x.used).length, copies: c.copies.length }));
      printResult(opts, { credentials: rows }, rows.length === 0 ? ["no credentials"] : table(["CREDENTIAL", "TYPE", "FORMAT", "UNUSED", "ISSUER"], rows.map((r) => [r.id, r.type, r.format, `${r.unused}/${r.copies}`, r.issuer])));
    });

  withCommonOptions(kyc.command("present"))
    .description("present a credential with a copy never shown before, revealing only the chosen claims, bound to a verifier's audience and nonce")
    .argument("<id>", "credential id (sid kyc credentials)", parseCredentialId)
    .option("--disclose <list>", "comma-separated claims to reveal, e.g. given_name,age_over_18 (SD-JWT VC)", parseNameList)
    .requiredOption("--key <name>", "your stored key")
    .requiredOption("--audience <aud>", "the verifier's identifier, as it asked")
    .requiredOption("--nonce <nonce>", "the verifier's fresh nonce")
    .requiredOption("--out <file>", "where to write the presentation (created 0600; must not exist)")
    .action(async (id: string, opts: CommonOptions & { disclose?: string[]; key: string; audience: string; nonce: string; out: string }) => {
      const { store, keys } = await openHolder(opts, opts.key);
      const out = await createPrivateFile(opts.out);
      let r: Awaited<ReturnType<typeof presentCopy>>;
      try {
        r = await presentCopy(store, keys, id, { disclose: opts.disclose ?? [], audience: opts.audience, nonce: opts.nonce });
        await out.writeFile(r.presentation + "\n");
      } catch (err) {
        await out.close();
        await fs.rm(opts.out, { force: true });
        throw err;
      }
      await out.close();
      if (r.remaining <= LOW_COPIES_WARNING) {
        note(`warning: ${r.remaining === 0 ? "no" : `only ${r.remaining}`} unused ${r.remaining === 1 ? "copy" : "copies"} of credential ${id} left; ask the issuer for more (sid kyc request)`);
      }
      printResult(opts, { file: opts.out, disclosed: opts.disclose ?? [], audience: opts.audience, remaining: r.remaining }, `presentation${opts.disclose ? ` of ${opts.disclose.join(", ")}` : ""} for ${opts.audience} written to ${opts.out} (${r.remaining} unused copies left)`);
    });

  // -- verifier -------------------------------------------------------------

  withCommonOptions(kyc.command("verify"))
    .description("verify a presentation (or copy) against the issuer's DID and its whole status list (cached by ETag in your home); exit 0 when VALID, 1 when not")
    .argument("<file>", "the presentation or copy")
    .option("--audience <aud>", "the audience the presentation must be made for")
    .option("--nonce <nonce>", "the nonce the presentation must carry")
    .action(async (file: string, opts: CommonOptions & { audience?: string; nonce?: string }) => {
      const presentation = await readCredentialFile(file);
      const client = new SidClient(opts.rpc);
      const lists = new StatusListCache(client, diskCache(join(await homeOf(opts), "kyc", "cache", "status-lists")));
      const verdict = await verifyWithNode(
        client,
        presentation,
        {
          ...(opts.audience !== undefined ? { audience: opts.audience } : {}),
          ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {}),
        },
        lists,
      );
      // The issuer's registered name beside its DID (issuer-level, public); a node without it just leaves the name out.
      const issuerName = verdict.issuer === null ? undefined : await client.rpc.call<{ name?: string }>("issuer_get", { did: verdict.issuer }).then((r) => r.name, () => undefined);
      const skipped = [opts.audience === undefined ? "--audience" : "", opts.nonce === undefined ? "--nonce" : ""].filter(Boolean);
      const lines = verdictText(verdict, issuerName);
      if (verdict.valid && skipped.length > 0) {
        lines.push(`warning:    replay checks skipped (no ${skipped.join(" or ")}): anyone who saw this presentation could show it again`);
      }
      printResult(opts, { ...verdict, ...(issuerName !== undefined ? { issuerName } : {}), replayChecksSkipped: skipped }, lines);
      if (!verdict.valid) throw new CliError(`the credential is not valid: ${verdict.reason}`);
    });
}

function verdictText(v: Verdict, issuerName?: string): string[] {
  const lines = [v.valid ? "VALID" : `INVALID: ${v.reason}: ${v.message}`];
  if (v.format !== null) lines.push(`format:     ${v.format}`);
  if (v.issuer !== null) lines.push(`issuer:     ${issuerName !== undefined ? `${issuerName} (${v.issuer})` : v.issuer}`);
  if (v.types.length > 0) lines.push(`types:      ${v.types.join(", ")}`);
  if (v.statusListUri !== null) lines.push(`list:       ${v.statusListUri}`);
  if (v.status !== null) lines.push(`status:     ${v.status}`);
  if (v.valid) {
    const names = Object.keys(v.disclosed);
    lines.push(names.length === 0 ? "disclosed:  (none)" : "disclosed:");
    for (const n of names) lines.push(`  ${n}: ${JSON.stringify(v.disclosed[n])}`);
  }
  return lines;
}

/** The issuer context: the DID of index 0 of the ring and a ring key in its assertionMethod (index 0 first). */
async function openIssuer(opts: IssuerKeyOptions): Promise<IssuerContext> {
  const ring = await openKeyRing(opts, opts.issuerKey);
  const client = new SidClient(opts.rpc);
  const did = didFromPublicKey(ring.key(0).publicKey);
  const { document } = await client.current(did);
  for (let index = 0; index < SIGNER_SEARCH_LIMIT; index++) {
    const key = ring.key(index);
    if (findMethodForKey(document, key.publicKey, "assertionMethod")) return issuerContext(client, await homeOf(opts), did, key);
  }
  throw new CliError(`no key of "${ring.name}" (indexes 0..${SIGNER_SEARCH_LIMIT - 1}) is in the assertionMethod of ${did}`);
}

/** The holder's store and copy keys for stored key `name` (asks its passphrase). */
async function openHolder(opts: { home?: string }, name: string): Promise<{ store: HolderStore; keys: HolderKeys }> {
  const home = await homeOf(opts);
  if (!(await keyExists(home, name))) throw new CliError(`no key named "${name}" in ${home}/keys (see: sid keys list)`);
  const passphrase = await getPassphrase(`for key "${name}"`, false);
  const mnemonic = await loadMnemonic(home, name, passphrase);
  return { store: HolderStore.open(home, name), keys: new HolderKeys(mnemonic) };
}

/** The verifier's list cache on disk: one file per list URI, so the next `sid kyc verify` revalidates with If-None-Match. */
function diskCache(dir: string): StatusListCacheOptions {
  const fileOf = (uri: string) => join(dir, `${createHash("sha256").update(uri).digest("hex")}.json`);
  return {
    load: async (uri) => {
      try {
        const text = await readBoundedFile(fileOf(uri), 4 * 1024 * 1024, "status list cache");
        const v = JSON.parse(text) as CachedStatusList;
        return v.uri === uri && typeof v.token === "string" && Array.isArray(v.types) ? v : undefined;
      } catch {
        return undefined; // a missing or damaged cache entry is a cache miss
      }
    },
    save: async (entry) => {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const tmp = `${fileOf(entry.uri)}.${process.pid}.tmp`;
      await fs.writeFile(tmp, JSON.stringify(entry), { mode: 0o600 });
      await fs.rename(tmp, fileOf(entry.uri));
    },
  };
}

async function readJsonFile(file: string, maxBytes: number, what: string): Promise<unknown> {
  const text = await readBoundedFile(file, maxBytes, what);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`${what} ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------
// files

/** A JSON object of claims; the SDK checks names, values and sizes when issuing. */
async function readClaimsFile(file: string): Promise<Record<string, JsonValue>> {
  const text = await readBoundedFile(file, MAX_CLAIMS_FILE_BYTES, "claims file");
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new CliError(`claims file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new CliError(`claims file ${file} must hold a JSON object of claim name to value`);
  if (Object.keys(v).length === 0) throw new CliError(`claims file ${file} holds no claims`);
  return v as Record<string, JsonValue>;
}

/** A credential or presentation: one line of compact serialization (surrounding whitespace ignored). */
async function readCredentialFile(file: string): Promise<string> {
  const text = (await readBoundedFile(file, MAX_CREDENTIAL_FILE_BYTES, "credential file")).trim();
  if (text.length === 0) throw new CliError(`${file} is empty`);
  if (/\s/.test(text)) throw new CliError(`${file} is not a credential: a compact credential is one line without spaces`);
  return text;
}

/** A new file, 0600, refused if it exists: credentials hold personal data and must not silently replace each other. */
async function createPrivateFile(file: string): Promise<fs.FileHandle> {
  try {
    return await fs.open(file, "wx", 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(code === "EEXIST" ? `${file} exists; choose another --out` : `cannot create ${file}: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------
// argument parsers (commander turns InvalidArgumentError into a usage error, exit 2)

function parseDidArg(v: string): string {
  try {
    return parseDid(v).did;
  } catch (err) {
    throw new InvalidArgumentError(`not a did:sid DID: ${(err as Error).message}`);
  }
}

function parseIssuerName(v: string): string {
  if (!isIssuerName(v)) throw new InvalidArgumentError("expected 1-64 printable characters without leading or trailing spaces");
  return v;
}

function parseTypeName(v: string): string {
  if (!isTypeName(v)) throw new InvalidArgumentError("expected a type name: a letter then up to 63 of [A-Za-z0-9._-]");
  return v;
}

function parseTypeList(v: string): string[] {
  const list = [...new Set(v.split(",").map((s) => s.trim()).filter((s) => s.length > 0))];
  if (list.length === 0 || list.length > KYC_LIMITS.maxIssuerTypes) throw new InvalidArgumentError(`expected 1-${KYC_LIMITS.maxIssuerTypes} comma-separated type names`);
  for (const t of list) parseTypeName(t);
  return list;
}

function parseNameList(v: string): string[] {
  const list = [...new Set(v.split(",").map((s) => s.trim()).filter((s) => s.length > 0))];
  if (list.length === 0) throw new InvalidArgumentError("expected a comma-separated list of claim names");
  return list;
}

function parseCredentialId(v: string): string {
  if (!isCredentialId(v)) throw new InvalidArgumentError("expected a credential id: 32 lowercase hex characters");
  return v;
}

function parseListId(v: string): string {
  if (!LIST_ID_RE.test(v)) throw new InvalidArgumentError("expected a list id: 1-64 of [A-Za-z0-9_-]");
  return v;
}

function parseListSize(v: string): number {
  const n = /^[0-9]{1,8}$/.test(v) ? Number(v) : NaN;
  if (!(n >= STATUS_LIST_LIMITS.minSize && n <= STATUS_LIST_LIMITS.maxSize)) throw new InvalidArgumentError(`expected ${STATUS_LIST_LIMITS.minSize}-${STATUS_LIST_LIMITS.maxSize}`);
  return n;
}

function parseTtl(v: string): number {
  const n = /^[0-9]{1,7}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= 86_400)) throw new InvalidArgumentError("expected 1-86400 seconds");
  return n;
}

function parseCopies(v: string): number {
  const n = /^[0-9]{1,4}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= MAX_COPIES)) throw new InvalidArgumentError(`expected 1-${MAX_COPIES}`);
  return n;
}

function parseTimeArg(v: string): number {
  const ms = parseDateTime(v);
  if (ms === undefined) throw new InvalidArgumentError("expected an RFC 3339 date-time, e.g. 2027-01-01T00:00:00Z");
  return ms;
}

function parseLimit(v: string): number {
  const n = /^[0-9]{1,3}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= 500)) throw new InvalidArgumentError("expected 1-500");
  return n;
}
