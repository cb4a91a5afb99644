/**
 * `npm run devnet`: 4 validators and 1 full node on loopback, each its own
 * process and home under --home DIR (a temporary directory by default),
 * one shared genesis, persistent peers wired. Prints each RPC URL and stops
 * every node cleanly on Ctrl-C or SIGTERM.
 *
 *   npm run devnet -- [--home DIR] [--validators N] [--full-nodes N] [--verbose]
 */
import { parseArgs } from "node:util";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { DEVNET_CONSENSUS, createDevnet } from "../test/helpers/devnet.js";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      home: { type: "string" },
      validators: { type: "string", default: "4" },
      "full-nodes": { type: "string", default: "1" },
      verbose: { type: "boolean", default: false },
    },
  });
  const validators = Number(values.validators);
  const fullNodes = Number(values["full-nodes"]);
  if (!Number.isSafeInteger(validators) || validators < 1 || !Number.isSafeInteger(fullNodes) || fullNodes < 0) {
    throw new Error("--validators must be a positive integer and --full-nodes a non-negative one");
  }
  let root: string | undefined;
  if (values.home !== undefined) {
    root = resolve(values.home);
    mkdirSync(root, { recursive: true });
  }
  const net = await createDevnet({
    validators,
    fullNodes,
    consensus: DEVNET_CONSENSUS,
    ...(root !== undefined ? { root } : {}),
    ...(values.verbose ? { onOutput: (n, line) => process.stdout.write(`[${n.name}] ${line}\n`) } : {}),
  });
  process.stdout.write(`sid devnet (chain ${net.chainId}) in ${net.root}\n`);
  for (const n of net.nodes) process.stdout.write(`  ${n.name.padEnd(12)} ${n.info.role.padEnd(9)} http://127.0.0.1:${n.info.rpcPort}  p2p 127.0.0.1:${n.info.p2pPort}  home ${n.home}\n`);
  process.stdout.write("Ctrl-C stops every node.\n");
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: stopping the devnet\n`);
    await net.cleanup();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  // A node that dies on its own is reported; the others keep running.
  for (const n of net.nodes) n.proc?.once("exit", (code, sig) => !stopping && process.stdout.write(`${n.name} exited (${code ?? sig})\n`));
}

main().catch((e) => {
  process.stderr.write(`devnet: ${(e as Error).message}\n`);
  process.exit(1);
});
