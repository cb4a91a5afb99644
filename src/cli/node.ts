/** `sid init`, `sid start`, `sid status`: the node's home, the running node, its status. */
import type { Command } from "commander";
import { SidClient } from "../client/sid-client.js";
import { type CommonOptions, note, printResult } from "./io.js";
import { homeOf, nodeApi } from "./node-api.js";
import { parsePort, parsePositiveInt, withCommonOptions } from "./options.js";

export function registerNodeCommands(program: Command): void {
  withCommonOptions(program.command("init"))
    .description("create a node home: config, a validator key, a trustee key and a single-validator genesis")
    .option("--dev", "single-validator development chain with this node as the validator")
    .option("--chain-id <id>", "chain id of a new genesis")
    .option("--force", "overwrite an existing home")
    .action(async (opts: CommonOptions & { dev?: boolean; chainId?: string; force?: boolean }) => {
      const home = await homeOf(opts);
      const init: { dev: boolean; chainId?: string; force?: boolean } = { dev: opts.dev === true };
      if (opts.chainId !== undefined) init.chainId = opts.chainId;
      if (opts.force) init.force = true;
      const r = await (await nodeApi()).initHome(home, init);
      printResult(opts, { home, ...r }, [
        r.created ? `initialized ${home}` : `${home} is already initialized (use --force to overwrite)`,
        `chain id:          ${r.chainId}`,
        `validator address: ${r.validatorAddress}`,
        `genesis:           ${r.genesisFile}`,
        ...(r.trusteeDid ? [`trustee:           ${r.trusteeDid} (threshold 1; key in config/trustee_key.json)`] : []),
      ]);
    });

  const validator = program.command("validator").description("this node's validator key");
  withCommonOptions(validator.command("init"))
    .description("make config/validator_key.json if absent; print the public key and address a genesis or a governance proposal names")
    .action(async (opts: CommonOptions) => {
      const home = await homeOf(opts);
      const r = (await nodeApi()).validatorInit(home);
      printResult(opts, { home, ...r }, [
        r.created ? `created ${r.keyFile}` : `${r.keyFile} already exists`,
        `public key: ${r.publicKey}`,
        `address:    ${r.address}`,
      ]);
    });

  withCommonOptions(program.command("start"))
    .description("run a node until SIGINT or SIGTERM")
    .option("--dev", "development chain: initialize the home first when it is empty")
    .option("--rpc-port <port>", "JSON-RPC port (default 8660)", parsePort)
    .option("--rpc-host <host>", "JSON-RPC bind address (default 127.0.0.1)")
    .option("--p2p-port <port>", "p2p port (default 8661)", parsePort)
    .option("--heartbeat-ms <ms>", "empty-block heartbeat in milliseconds", parsePositiveInt)
    .option("--peers <list>", "persistent peers, comma-separated host:port or nodeId@host:port (added to node.json p2p.persistentPeers)")
    .action(async (opts: CommonOptions & { dev?: boolean; rpcPort?: number; rpcHost?: string; p2pPort?: number; heartbeatMs?: number; peers?: string }) => {
      const node = await nodeApi();
      const home = await homeOf(opts);
      const start: Parameters<typeof node.startNode>[0] = { home, dev: opts.dev === true, log: (line) => note(line) };
      if (opts.rpcPort !== undefined) start.rpcPort = opts.rpcPort;
      if (opts.rpcHost !== undefined) start.rpcHost = opts.rpcHost;
      if (opts.p2pPort !== undefined) start.p2pPort = opts.p2pPort;
      if (opts.heartbeatMs !== undefined) start.heartbeatMs = opts.heartbeatMs;
      if (opts.peers !== undefined) start.peers = opts.peers.split(",").map((p) => p.trim()).filter(Boolean);
      const running = await node.startNode(start);
      printResult(opts, { home, rpcUrl: running.rpcUrl }, `sid node running: RPC ${running.rpcUrl}`);
      await untilSignal();
      note("stopping sid node");
      await running.stop();
    });

  withCommonOptions(program.command("status"))
    .description("show the status of a node (node_status)")
    .action(async (opts: CommonOptions) => {
      const s = await new SidClient(opts.rpc).status();
      printResult(opts, s, [
        `chain id:       ${s.chainId}`,
        `height:         ${s.height}`,
        `latest block:   ${s.latestBlockHash} at ${s.latestBlockTime}`,
        `state root:     ${s.stateRoot}`,
        `genesis hash:   ${s.genesisHash}`,
        `mempool:        ${s.mempool?.size ?? 0} txs, ${s.mempool?.bytes ?? 0} bytes`,
        `validator:      ${s.validator ?? "(not a validator)"}`,
        `signatures:     ${s.signatureBackend}`,
      ]);
    });
}

/** Resolves on the first SIGINT or SIGTERM; a second one while stopping exits at once. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.once("SIGINT", () => process.exit(130));
      process.once("SIGTERM", () => process.exit(143));
      resolve(sig);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
