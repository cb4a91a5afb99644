/** The `sid` command tree (commander), built in a function so tests can inspect it. */
import { Command } from "commander";
import { registerDidCommands } from "./did.js";
import { registerKeyCommands } from "./keys.js";
import { registerCredentialCommands, registerIssuerCommands } from "./kyc.js";
import { registerNodeCommands } from "./node.js";
import { registerGovCommands, registerValidatorGovCommands } from "./gov.js";

export const CLI_VERSION = "0.1.0";

export function buildProgram(): Command {
  const program = new Command("sid")
    .description("sid: a did:sid DID registry node, its keystore and its client")
    .version(CLI_VERSION, "-V, --version")
    // Throw CommanderError instead of exiting, so main() chooses the exit code (2 for usage errors).
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false });
  // Settings above are copied into every subcommand created from here on.
  registerNodeCommands(program);
  registerKeyCommands(program);
  registerDidCommands(program);
  registerIssuerCommands(program);
  registerGovCommands(program);
  registerCredentialCommands(program);
  registerValidatorGovCommands(program);
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
