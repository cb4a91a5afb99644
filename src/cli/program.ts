/**
 * The `sid` command tree (commander). A command names its group first
 * (`sid did create ...`), so only that group's modules are loaded: a CLI
 * call then loads what it runs, not the node, the credential formats and
 * every client. Anything else (`--help`, a typo, no command) gets the
 * whole tree, so help and suggestions list every command.
 */
import { Command } from "commander";

export const CLI_VERSION = "0.1.0";

type Register = (program: Command) => void;

/** The groups, in the order help lists them; each loads its own modules. */
const GROUPS: ReadonlyArray<{ words: readonly string[]; load: () => Promise<Register[]> }> = [
  { words: ["init", "start", "status", "validator"], load: async () => [(await import("./node.js")).registerNodeCommands] },
  { words: ["keys"], load: async () => [(await import("./keys.js")).registerKeyCommands] },
  { words: ["did"], load: async () => [(await import("./did.js")).registerDidCommands] },
  { words: ["issuer"], load: async () => [(await import("./kyc.js")).registerIssuerCommands] },
  { words: ["gov"], load: async () => [(await import("./gov.js")).registerGovCommands] },
  { words: ["kyc"], load: async () => [(await import("./kyc.js")).registerCredentialCommands] },
  // `validator add/remove` join `validator init` under the same command.
  { words: ["validator"], load: async () => [(await import("./gov.js")).registerValidatorGovCommands] },
];

/**
 * The command tree for `argv` (process.argv: node, script, words...): the
 * group its first word names, or every group. `argv` omitted: every group.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command("sid")
    .description("sid: a did:sid DID registry node, its keystore and its client")
    .version(CLI_VERSION, "-V, --version")
    // Throw CommanderError instead of exiting, so main() chooses the exit code (2 for usage errors).
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false });
  // Settings above are copied into every subcommand created from here on.
  const first = argv?.[2];
  const named = GROUPS.filter((g) => first !== undefined && g.words.includes(first));
  for (const g of named.length > 0 ? named : GROUPS) for (const register of await g.load()) register(program);
  program.addHelpText(
    "after",
    `
Environment:
  SID_HOME        node home (default ~/.sid), overridden by --home
  SID_RPC         JSON-RPC URL (default http://127.0.0.1:8660), overridden by --rpc
  SID_PASSPHRASE  keystore passphrase (else asked on the terminal)
  SID_MNEMONIC    mnemonic for "keys import" (else read from stdin)
  SID_DEBUG=1     print stack traces of errors

Exit codes: 0 ok, 1 error, 2 usage error.`,
  );
  return program;
}
