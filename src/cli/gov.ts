/**
 * Governance from the command line: `sid gov approve|show|trustees`, and
 * `sid validator add|remove` (validator-set changes). Trustees sign
 * proposals with their trustee key; a proposal runs once its approvals
 * reach the threshold. A validator-set change proposes a `validator/set`
 * action and is in force two blocks after the approving one. `sid issuer
 * add|suspend|reinstate|remove` (kyc.ts) propose through runProposal too.
 */
import { join } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { type GovResult, RegistryClient } from "../client/registry-client.js";
import { bytesEqual, fromHex } from "../crypto/bytes.js";
import type { KeyPair } from "../crypto/hd.js";
import { assertCompressedPublicKey, publicKeyOf } from "../crypto/secp256k1.js";
import { didFromPublicKey } from "../did/syntax.js";
import type { GovAction } from "../chain/state.js";
import { MAX_VALIDATOR_POWER, isValidatorName, isValidatorPublicKeyHex } from "../chain/validators.js";
import { CliError } from "./errors.js";
import { readBoundedFile } from "./files.js";
import { type CommonOptions, printResult } from "./io.js";
import { openKeyRing } from "./keys.js";
import { homeOf } from "./node-api.js";
import { withCommonOptions } from "./options.js";

/** A trustee key file is a few hundred bytes of JSON. */
const MAX_TRUSTEE_KEY_FILE_BYTES = 4096;

export interface TrusteeOptions extends CommonOptions {
  trusteeKey?: string;
  key?: string;
}

/** `sid gov ...`: approve and inspect proposals, show the trustees. */
export function registerGovCommands(program: Command): void {
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
// sid validator add|remove

function parsePublicKey(v: string): string {
  if (!isValidatorPublicKeyHex(v)) throw new InvalidArgumentError("expected a 33-byte compressed secp256k1 public key in lowercase hex (66 chars, 02... or 03...)");
  try {
    assertCompressedPublicKey(fromHex(v));
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  return v;
}

function parsePower(v: string): number {
  const n = /^[1-9][0-9]{0,6}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= MAX_VALIDATOR_POWER)) throw new InvalidArgumentError(`expected an integer in [1, ${MAX_VALIDATOR_POWER}]`);
  return n;
}

function parseName(v: string): string {
  if (!isValidatorName(v)) throw new InvalidArgumentError("expected 1-64 printable characters without surrounding spaces");
  return v;
}

/** Adds `add` and `remove` under `sid validator` (made here unless another module made it first). */
export function registerValidatorGovCommands(program: Command): void {
  const validator =
    program.commands.find((c) => c.name() === "validator") ?? program.command("validator").description("run a validator and change the validator set (governance)");

  withTrusteeOptions(withCommonOptions(validator.command("add")))
    .description("propose adding a validator, or changing its name or power (in force 2 blocks after the proposal executes)")
    .argument("<pubkey>", "the validator's compressed secp256k1 public key, hex", parsePublicKey)
    .requiredOption("--name <name>", "display name (1-64 printable characters)", parseName)
    .requiredOption("--power <n>", `voting power, 1-${MAX_VALIDATOR_POWER}`, parsePower)
    .action(async (publicKey: string, opts: TrusteeOptions & { name: string; power: number }) => {
      await runProposal(opts, { kind: "validator/set", publicKey, name: opts.name, power: opts.power });
    });

  withTrusteeOptions(withCommonOptions(validator.command("remove")))
    .description("propose removing a validator (power 0; refused for the last validator)")
    .argument("<pubkey>", "the validator's compressed secp256k1 public key, hex", parsePublicKey)
    .action(async (publicKey: string, opts: TrusteeOptions) => {
      await runProposal(opts, { kind: "validator/set", publicKey, name: "", power: 0 });
    });
}

// ---------------------------------------------------------------------------
// argument parsers (commander turns InvalidArgumentError into a usage error, exit 2)

function parseProposalId(v: string): string {
  if (!/^[0-9a-f]{64}$/.test(v)) throw new InvalidArgumentError("expected a proposal id: 64 lowercase hex characters");
  return v;
}
