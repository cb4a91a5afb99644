/**
 * How the `sid` command reports failure: one line on stderr, `error: <message>`,
 * and an exit code (0 ok, 1 user or runtime error, 2 usage error, 130 cancelled).
 * Stacks only with SID_DEBUG=1. This is the one place errors become text.
 */
import { CommanderError } from "commander";
import { RpcError, RpcTransportError } from "../client/rpc-client.js";
import { SidClientError } from "../client/sid-client.js";
import { KeystoreError } from "../client/keystore.js";
import { CryptoError } from "../crypto/errors.js";
import { DidError } from "../did/errors.js";
import { CredentialError } from "../client/credentials/errors.js";

export const ExitCode = Object.freeze({ OK: 0, ERROR: 1, USAGE: 2, CANCELLED: 130 });

/** A user error the CLI itself detects (bad file, refused action, ...). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.ERROR,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** The one-line message for any error, with the reason code where the error has one. */
export function describeError(err: unknown): string {
  let text: string;
  if (err instanceof RpcError) {
    text = err.reason ? `${err.reason}: ${err.message}` : `RPC error ${err.code}: ${err.message}`;
  } else if (err instanceof SidClientError || err instanceof DidError || err instanceof CredentialError) {
    text = `${err.code}: ${err.message}`;
  } else if (err instanceof RpcTransportError || err instanceof KeystoreError || err instanceof CryptoError || err instanceof CliError) {
    text = err.message;
  } else if (err instanceof Error) {
    text = err.message || err.name;
  } else {
    text = String(err);
  }
  return oneLine(text);
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof CommanderError) return commanderExitCode(err);
  return ExitCode.ERROR;
}

/**
 * Commander exits 1 for its own errors; we keep 1 for failures of the work and
 * use 2 for bad command lines. Help and version asked for are success.
 */
export function commanderExitCode(err: CommanderError): number {
  if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return ExitCode.OK;
  return ExitCode.USAGE;
}

export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}
