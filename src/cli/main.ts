#!/usr/bin/env node
/** Entry point of the `sid` command. */
import { CommanderError } from "commander";
import { describeError, exitCodeOf } from "./errors.js";
import { buildProgram } from "./program.js";

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    // Commander has already printed its own message (usage errors, help, version).
    if (!(err instanceof CommanderError)) {
      process.stderr.write(`error: ${describeError(err)}\n`);
      if (process.env.SID_DEBUG === "1" && err instanceof Error && err.stack) process.stderr.write(err.stack + "\n");
    }
    return exitCodeOf(err);
  }
}

const code = await main(process.argv);
// Exit explicitly: idle keep-alive sockets of fetch must not hold the process,
// but only after stdout and stderr are flushed (they may be pipes).
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
await new Promise<void>((resolve) => process.stderr.write("", () => resolve()));
process.exit(code);
