/**
 * Terminal input and output of the `sid` command: results on stdout (text, or
 * exactly one JSON object with --json), prompts and notes on stderr, secrets
 * read without echo.
 */
import { CliError, ExitCode } from "./errors.js";

/** The flags every command takes. */
export interface CommonOptions {
  home?: string;
  rpc: string;
  json?: boolean;
}

/** Print a command's result: the JSON object with --json, else the text lines. */
export function printResult(opts: { json?: boolean }, json: unknown, text: string | string[]): void {
  if (opts.json) {
    process.stdout.write(JSON.stringify(json) + "\n");
  } else {
    const lines = Array.isArray(text) ? text : [text];
    process.stdout.write(lines.join("\n") + "\n");
  }
}

/** A note for a human (progress, warnings): stderr, so stdout stays parseable. */
export function note(text: string): void {
  process.stderr.write(text + "\n");
}

/** Left-aligned columns with a header row. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}

export const PASSPHRASE_ENV = "SID_PASSPHRASE";
export const MNEMONIC_ENV = "SID_MNEMONIC";

/**
 * The keystore passphrase: SID_PASSPHRASE, else asked on the terminal without
 * echo (twice when `confirm`, for a new key). No terminal and no variable is a
 * clear error rather than a hang.
 */
export async function getPassphrase(purpose: string, confirm: boolean): Promise<string> {
  const fromEnv = process.env[PASSPHRASE_ENV];
  if (fromEnv !== undefined) return fromEnv;
  if (!process.stdin.isTTY) {
    throw new CliError(`a passphrase is needed ${purpose}: set ${PASSPHRASE_ENV} or run in a terminal`);
  }
  const first = await readHidden(`Passphrase ${purpose}: `);
  if (!confirm) return first;
  if (first.length === 0) throw new CliError("the passphrase must not be empty");
  const second = await readHidden("Repeat the passphrase: ");
  if (first !== second) throw new CliError("the two passphrases differ");
  return first;
}

/** A mnemonic to import: SID_MNEMONIC, else one line of stdin (asked without echo on a terminal). */
export async function getMnemonicInput(): Promise<string> {
  const fromEnv = process.env[MNEMONIC_ENV];
  if (fromEnv !== undefined) return fromEnv;
  if (process.stdin.isTTY) return readHidden("Mnemonic (words separated by spaces): ");
  return readStdinLine();
}

/** Longest line we accept on stdin: 24 words of at most 8 letters are under 220 characters. */
const MAX_STDIN_LINE = 4096;

/** The first line of a piped stdin. */
export function readStdinLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    let buf = "";
    const finish = (err?: Error) => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.off("error", onError);
      stdin.pause();
      if (err) reject(err);
      else resolve(buf.split(/\r?\n/)[0]!);
    };
    const onData = (chunk: string) => {
      buf += chunk;
      if (buf.includes("\n")) finish();
      else if (buf.length > MAX_STDIN_LINE) finish(new CliError(`stdin line is longer than ${MAX_STDIN_LINE} characters`));
    };
    const onEnd = () => finish();
    const onError = (err: Error) => finish(new CliError(`cannot read stdin: ${err.message}`));
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.on("error", onError);
    stdin.resume();
  });
}

/** Read a line from the terminal without echoing it. Ctrl-C cancels, Ctrl-D or Enter ends. */
export function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let chars: string[] = [];
    const finish = (err?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(chars.join(""));
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return finish();
        if (ch === "\u0003") return finish(new CliError("cancelled", ExitCode.CANCELLED));
        if (ch === "\u007f" || ch === "\b") chars = chars.slice(0, -1);
        else if (ch === "\u0015") chars = []; // Ctrl-U: erase the line
        else if (ch >= " ") chars.push(ch);
        if (chars.length > MAX_STDIN_LINE) return finish(new CliError(`input is longer than ${MAX_STDIN_LINE} characters`));
      }
    };
    stdin.setEncoding("utf8");
    stdin.setRawMode(true);
    stdin.on("data", onData);
    stdin.resume();
  });
}
