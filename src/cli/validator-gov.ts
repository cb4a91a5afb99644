/**
 * `sid validator add` and `sid validator remove`: validator-set changes by
 * governance (issue 3, part 5). Each proposes a `validator/set` action signed
 * with the trustee key, as `sid issuer add` does; once approvals reach the
 * threshold the change is in force two blocks after the approving one.
 */
import { type Command, InvalidArgumentError } from "commander";
import { fromHex } from "../crypto/bytes.js";
import { assertCompressedPublicKey } from "../crypto/secp256k1.js";
import { MAX_VALIDATOR_POWER, isValidatorName, isValidatorPublicKeyHex } from "../chain/validators.js";
import { type TrusteeOptions, runProposal, withTrusteeOptions } from "./kyc.js";
import { withCommonOptions } from "./options.js";

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
