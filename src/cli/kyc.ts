/**
 * `sid issuer ...`, `sid gov ...`, `sid kyc ...`: the KYC registry from the
 * command line. Trustees accredit issuers through governance; issuers issue,
 * anchor, revoke, suspend and reinstate credentials; holders present them
 * selectively; verifiers check a presentation against the node.
 *
 * Files the commands read (trustee key, claims, credentials) are bounded and
 * validated before use; files they write (credentials, presentations) are
 * created 0600 and never overwrite an existing file, since they hold
 * personal data.
 */
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { type GovResult, type IssuerJson, RegistryClient } from "../client/registry-client.js";
import { SidClient } from "../client/sid-client.js";
import { credentialHolderKey, issueAndAnchor, verifyWithNode } from "../client/kyc.js";
import { presentSdJwtVc } from "../client/credentials/present.js";
import { CREDENTIAL_LIMITS } from "../client/credentials/contract.js";
import type { CredentialFormat, JsonValue, Verdict } from "../client/credentials/types.js";
import { bytesEqual, fromHex } from "../crypto/bytes.js";
import type { KeyPair } from "../crypto/hd.js";
import { publicKeyOf } from "../crypto/secp256k1.js";
import { KYC_LIMITS, isIssuerName, isTypeName } from "../did/kyc.js";
import { didFromPublicKey, parseDid } from "../did/syntax.js";
import type { GovAction } from "../chain/state.js";
import { findMethodForKey } from "../client/txs.js";
import { CliError } from "./errors.js";
import { type CommonOptions, printResult, table } from "./io.js";
import { type KeyRing, openKeyRing } from "./keys.js";
import { homeOf } from "./node-api.js";
import { withCommonOptions } from "./options.js";
import { SIGNER_SEARCH_LIMIT } from "./signer.js";
import { parseDateTime } from "../did/resolution.js";

/** A trustee key file is a few hundred bytes of JSON. */
const MAX_TRUSTEE_KEY_FILE_BYTES = 4096;
/** Claims are at most CREDENTIAL_LIMITS.maxClaimsBytes of JSON; a file four times that (indentation) is certainly not claims. */
const MAX_CLAIMS_FILE_BYTES = 4 * CREDENTIAL_LIMITS.maxClaimsBytes;
/** A credential or presentation is at most maxSerializedChars (ASCII) plus a newline. */
const MAX_CREDENTIAL_FILE_BYTES = CREDENTIAL_LIMITS.maxSerializedChars + 2;

export interface TrusteeOptions extends CommonOptions {
  trusteeKey?: string;
  key?: string;
}

interface IssuerKeyOptions extends CommonOptions {
  issuerKey: string;
}

export function registerKycCommands(program: Command): void {
  registerIssuerCommands(program);
  registerGovCommands(program);
  registerCredentialCommands(program);
}

// ---------------------------------------------------------------------------
// sid issuer

function registerIssuerCommands(program: Command): void {
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
// sid gov

function registerGovCommands(program: Command): void {
  const gov = program.command("gov").description("governance: approve and inspect trustee proposals");

  withTrusteeOptions(withCommonOptions(gov.command("approve")))
    .description("approve a pending proposal as a trustee (it runs when the approvals reach the threshold)")
    .argument("<id>", "proposal id (64 hex, the hash of its propose tx)", parseProposalId)
    .action(async (id: string, opts: TrusteeOptions) => {
      const key = await trusteeKey(opts);
      const r = await RegistryClient.at(opts.rpc).approve(id, key);
      printGov(opts, r, "approved");
    });

  withCommonOptions(gov.command("show"))
    .description("show a proposal: action, approvals, status")
    .argument("<id>", "proposal id", parseProposalId)
    .action(async (id: string, opts: CommonOptions) => {
      const p = await RegistryClient.at(opts.rpc).proposal(id);
      printResult(opts, p, [
        `proposal:  ${p.id}`,
        `action:    ${describeAction(p.action)}`,
        `proposer:  ${p.proposer}`,
        `approvals: ${p.approvals.join(", ")}`,
        `status:    ${p.status}${p.executedHeight !== null ? ` at height ${p.executedHeight}` : ` (open for approvals until height ${p.expiresHeight})`}`,
      ]);
    });

  withCommonOptions(gov.command("trustees"))
    .description("show the trustees and the approvals a proposal needs")
    .action(async (opts: CommonOptions) => {
      const t = await RegistryClient.at(opts.rpc).trustees();
      printResult(opts, t, [`threshold: ${t.threshold} of ${t.members.length}`, ...t.members.map((m) => `  ${m}`)]);
    });
}

export function withTrusteeOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--trustee-key <file>", "trustee key file (default: <home>/config/trustee_key.json, made by sid init)").conflicts("key"))
    .option("--key <name>", "sign with index 0 of this stored key instead (its DID must be a trustee)");
}

function describeAction(a: GovAction): string {
  switch (a.kind) {
    case "issuer/add":
      return `issuer/add ${a.did} name=${JSON.stringify(a.name)} types=${a.types.join(",")}`;
    case "trustees/set":
      return `trustees/set threshold=${a.threshold} members=${a.members.join(",")}`;
    case "validator/set":
      return a.power === 0 ? `validator/set remove ${a.publicKey}` : `validator/set ${a.publicKey} name=${JSON.stringify(a.name)} power=${a.power}`;
    default:
      return `${a.kind} ${a.did}`;
  }
}

export async function runProposal(opts: TrusteeOptions, action: GovAction): Promise<void> {
  const key = await trusteeKey(opts);
  const r = await RegistryClient.at(opts.rpc).propose(action, key);
  printGov(opts, r, `proposed ${describeAction(action)}`);
}

function printGov(opts: CommonOptions, r: GovResult, what: string): void {
  printResult(opts, r, [
    `${what}`,
    `proposal ${r.proposalId}: ${r.executed ? "executed" : "pending (needs more approvals: sid gov approve ID)"}`,
    `tx ${r.txHash}, committed at height ${r.height}`,
  ]);
}

/** The trustee's signing key: --key NAME (index 0), else the trustee key file. */
async function trusteeKey(opts: TrusteeOptions): Promise<KeyPair> {
  if (opts.key !== undefined) return (await openKeyRing(opts, opts.key)).key(0);
  const file = opts.trusteeKey ?? join(await homeOf(opts), "config", "trustee_key.json");
  return readTrusteeKeyFile(file);
}

/** `{did?, publicKey?, secretKey}` as `sid init` writes it; a did or publicKey that disagrees with the secret key is refused. */
export async function readTrusteeKeyFile(file: string): Promise<KeyPair> {
  const raw = await readBoundedFile(file, MAX_TRUSTEE_KEY_FILE_BYTES, "trustee key file");
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new CliError(`trustee key file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const v = parsed as { did?: unknown; publicKey?: unknown; secretKey?: unknown } | null;
  if (typeof v !== "object" || v === null || typeof v.secretKey !== "string" || !/^[0-9a-f]{64}$/.test(v.secretKey)) {
    throw new CliError(`trustee key file ${file} needs "secretKey": 64 lowercase hex characters`);
  }
  let key: KeyPair;
  try {
    const secretKey = fromHex(v.secretKey, 32);
    key = { secretKey, publicKey: publicKeyOf(secretKey) };
  } catch (err) {
    throw new CliError(`trustee key file ${file}: ${(err as Error).message}`);
  }
  if (v.did !== undefined && v.did !== didFromPublicKey(key.publicKey)) throw new CliError(`trustee key file ${file}: "did" is not the DID of its secret key`);
  if (v.publicKey !== undefined && (typeof v.publicKey !== "string" || !/^[0-9a-f]{66}$/.test(v.publicKey) || !bytesEqual(fromHex(v.publicKey, 33), key.publicKey))) {
    throw new CliError(`trustee key file ${file}: "publicKey" is not the public key of its secret key`);
  }
  return key;
}

// ---------------------------------------------------------------------------
// sid kyc

function registerCredentialCommands(program: Command): void {
  const kyc = program.command("kyc").description("issue, anchor, revoke, present and verify KYC credentials");

  withCommonOptions(kyc.command("issue"))
    .description("issue a credential to a subject DID and anchor it on chain; writes the credential to --out and prints its id")
    .requiredOption("--issuer-key <name>", "stored key of the issuer (its index-0 key's DID is the issuer)")
    .requiredOption("--subject <did>", "the subject's (holder's) DID", parseDidArg)
    .requiredOption("--claims <file>", "JSON object of claims, e.g. {\"given_name\": \"Alice\", \"age_over_18\": true}")
    .requiredOption("--type <type>", "credential type the issuer is accredited for, e.g. KYCBasic", parseTypeName)
    .requiredOption("--out <file>", "where to write the credential (created 0600; must not exist)")
    .option("--valid-until <time>", "end of validity, RFC 3339, e.g. 2027-01-01T00:00:00Z", parseTimeArg)
    .addOption(new Option("--format <format>", "credential format").choices(["sd-jwt-vc", "jwt-vc"]).default("sd-jwt-vc"))
    .action(async (opts: IssuerKeyOptions & { subject: string; claims: string; type: string; out: string; validUntil?: number; format: CredentialFormat }) => {
      const claims = await readClaimsFile(opts.claims);
      const client = new SidClient(opts.rpc);
      const { did: issuerDid, key } = await issuerSigner(client, await openKeyRing(opts, opts.issuerKey));
      // Claim the output file before anchoring, so an anchored credential always has somewhere to go.
      const out = await createPrivateFile(opts.out);
      let r: Awaited<ReturnType<typeof issueAndAnchor>>;
      try {
        r = await issueAndAnchor({
          client,
          issuerDid,
          issuerKey: key,
          subjectDid: opts.subject,
          type: opts.type,
          claims,
          format: opts.format,
          ...(opts.validUntil !== undefined ? { validUntil: opts.validUntil } : {}),
        });
      } catch (err) {
        await out.close();
        await fs.rm(opts.out, { force: true });
        throw err;
      }
      try {
        await out.writeFile(r.credential.credential + "\n");
      } finally {
        await out.close();
      }
      const c = r.credential;
      printResult(
        opts,
        { credentialId: r.credentialId, file: opts.out, format: c.format, issuer: c.issuer, subject: c.subject, types: c.types, digest: r.digest, validFrom: iso(c.validFrom), validUntil: c.validUntil === null ? null : iso(c.validUntil), txHash: r.txHash, height: r.height },
        [r.credentialId, `${c.format} credential written to ${opts.out}; anchored in tx ${r.txHash} at height ${r.height}`],
      );
    });

  withCommonOptions(kyc.command("present"))
    .description("make a presentation of an SD-JWT VC that reveals only the chosen claims, bound to a verifier's audience and nonce")
    .argument("<file>", "the credential, as `sid kyc issue` wrote it")
    .requiredOption("--disclose <list>", "comma-separated claims to reveal, e.g. given_name,age_over_18", parseNameList)
    .requiredOption("--key <name>", "stored key of the holder (a key of it must be the credential's holder key)")
    .requiredOption("--audience <aud>", "the verifier's identifier, as it asked")
    .requiredOption("--nonce <nonce>", "the verifier's fresh nonce")
    .requiredOption("--out <file>", "where to write the presentation (created 0600; must not exist)")
    .action(async (file: string, opts: CommonOptions & { disclose: string[]; key: string; audience: string; nonce: string; out: string }) => {
      const credential = await readCredentialFile(file);
      const holderKey = credentialHolderKey(credential);
      if (!holderKey) throw new CliError(`${file} is not an SD-JWT VC (only those can be presented selectively; a JWT VC is shown whole)`);
      const ring = await openKeyRing(opts, opts.key);
      const index = findRingIndex(ring, holderKey);
      if (index === undefined) throw new CliError(`no key of "${ring.name}" (indexes 0..${SIGNER_SEARCH_LIMIT - 1}) is the credential's holder key`);
      const presentation = await presentSdJwtVc({ credential, disclose: opts.disclose, holderSecretKey: ring.key(index).secretKey, audience: opts.audience, nonce: opts.nonce });
      const out = await createPrivateFile(opts.out);
      try {
        await out.writeFile(presentation + "\n");
      } finally {
        await out.close();
      }
      printResult(opts, { file: opts.out, disclosed: opts.disclose, audience: opts.audience }, `presentation of ${opts.disclose.join(", ")} for ${opts.audience} written to ${opts.out}`);
    });

  withCommonOptions(kyc.command("verify"))
    .description("verify a presentation (or credential) against the node; exit 0 when valid, 1 when not")
    .argument("<file>", "the presentation or credential")
    .option("--audience <aud>", "the audience the presentation must be made for")
    .option("--nonce <nonce>", "the nonce the presentation must carry")
    .action(async (file: string, opts: CommonOptions & { audience?: string; nonce?: string }) => {
      const presentation = await readCredentialFile(file);
      const verdict = await verifyWithNode(new SidClient(opts.rpc), presentation, {
        ...(opts.audience !== undefined ? { audience: opts.audience } : {}),
        ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {}),
      });
      printResult(opts, verdict, verdictText(verdict));
      if (!verdict.valid) throw new CliError(`the credential is not valid: ${verdict.reason}`);
    });
}

const iso = (ms: number) => new Date(ms).toISOString();

function verdictText(v: Verdict): string[] {
  const lines = [v.valid ? "VALID" : `INVALID: ${v.reason}: ${v.message}`];
  if (v.credentialId !== null) lines.push(`credential: ${v.credentialId} (${v.format})`);
  if (v.issuer !== null) lines.push(`issuer:     ${v.issuer}`);
  if (v.subject !== null) lines.push(`subject:    ${v.subject}`);
  if (v.types.length > 0) lines.push(`types:      ${v.types.join(", ")}`);
  if (v.status !== null) lines.push(`status:     ${v.status}`);
  if (v.valid) {
    const names = Object.keys(v.disclosed);
    lines.push(names.length === 0 ? "disclosed:  (none)" : "disclosed:");
    for (const n of names) lines.push(`  ${n}: ${JSON.stringify(v.disclosed[n])}`);
  }
  return lines;
}

/** The issuer DID (index 0 of the ring) and a ring key in its assertionMethod (index 0 first, as usual). */
async function issuerSigner(client: SidClient, ring: KeyRing): Promise<{ did: string; key: KeyPair }> {
  const did = didFromPublicKey(ring.key(0).publicKey);
  const { document } = await client.current(did);
  for (let index = 0; index < SIGNER_SEARCH_LIMIT; index++) {
    const key = ring.key(index);
    if (findMethodForKey(document, key.publicKey, "assertionMethod")) return { did, key };
  }
  throw new CliError(`no key of "${ring.name}" (indexes 0..${SIGNER_SEARCH_LIMIT - 1}) is in the assertionMethod of ${did}`);
}

function findRingIndex(ring: KeyRing, publicKey: Uint8Array): number | undefined {
  for (let index = 0; index < SIGNER_SEARCH_LIMIT; index++) {
    if (bytesEqual(ring.key(index).publicKey, publicKey)) return index;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// files

async function readBoundedFile(file: string, maxBytes: number, what: string): Promise<string> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new CliError(`${file} is not a regular file`);
    if (st.size > maxBytes) throw new CliError(`${what} ${file} is ${st.size} bytes, more than ${maxBytes}`);
    return await fs.readFile(file, "utf8");
  } catch (err) {
    if (err instanceof CliError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${what} ${file}: ${code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
}

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

function parseProposalId(v: string): string {
  if (!/^[0-9a-f]{64}$/.test(v)) throw new InvalidArgumentError("expected a proposal id: 64 lowercase hex characters");
  return v;
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
