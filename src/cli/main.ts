#!/usr/bin/env -S node --max-semi-space-size=64
/** Entry point of the `sid` command. */
import { CommanderError } from "commander";
import { describeError, exitCodeOf } from "./errors.js";
import { buildProgram } from "./program.js";

/** What to try next, for the errors a first run meets most. */
function hintFor(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  // The p2p listener's error arrives wrapped, with the code only in its message.
  if (code === "EADDRINUSE" || /\bEADDRINUSE\b/.test(message)) {
    const where = /\S+:\d+$/.exec(message)?.[0];
    return `${where ?? "the port"} is taken (another sid node?): stop it, or choose free ports with --rpc-port N and --p2p-port N (or "rpc.port" / "p2p.port" in <home>/config/node.json)`;
  }
  if (code === "ECONNREFUSED") return "no node answers at the RPC URL: start one (npm start) or pass --rpc URL / set SID_RPC";
  return undefined;
}

/**
 * A reader that closes the pipe before the output ends (`sid --help | head -2`)
 * has what it wanted: stop quietly with the status of a command that
 * SIGPIPE ended (128 + 13), as Unix tools do, not with a stack trace. Any
 * other write failure (a full disk under `> file`) is an error of its own.
 */
function onOutputError(err: NodeJS.ErrnoException): void {
  if (err.code === "EPIPE") process.exit(141);
  try {
    process.stderr.write(`error: cannot write the output: ${err.message}\n`);
  } finally {
    process.exit(1);
  }
}

async function main(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
    return 0;
  } catch (err) {
    // Commander has already printed its own message (usage errors, help, version).
    if (!(err instanceof CommanderError)) {
      process.stderr.write(`error: ${describeError(err)}\n`);
      const hint = hintFor(err);
      if (hint) process.stderr.write(`hint: ${hint}\n`);
      if (process.env.SID_DEBUG === "1" && err instanceof Error && err.stack) process.stderr.write(err.stack + "\n");
    }
    return exitCodeOf(err);
  }
}

process.stdout.on("error", onOutputError);
// With stderr gone there is nowhere to say more.
process.stderr.on("error", (err: NodeJS.ErrnoException) => process.exit(err.code === "EPIPE" ? 141 : 1));
const code = await main(process.argv);
// Exit explicitly: idle keep-alive sockets of fetch must not hold the process,
// but only after stdout and stderr are flushed (they may be pipes).
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
await new Promise<void>((resolve) => process.stderr.write("", () => resolve()));
process.exit(code);
