/** `sid init`, `sid start`, `sid status`: the node's home, the running node, its status. */
import type { Command } from "commander";
import { type NodeStatus, SidClient } from "../client/sid-client.js";
import { RpcClient } from "../client/rpc-client.js";
import type { PeerStatus } from "../rpc/net-methods.js";
import { CliError, ExitCode } from "./errors.js";

/** How long `sid start` waits for a clean stop after SIGTERM or a fault before it exits anyway. */
const STOP_BOUND_MS = 10_000;
import { type CommonOptions, note, printResult } from "./io.js";
import { homeOf, nodeApi } from "./node-api.js";
import { parsePort, parsePositiveInt, withCommonOptions } from "./options.js";

export function registerNodeCommands(program: Command): void {
  withCommonOptions(program.command("init"))
    .description(
      "create a node home. Alone: a new single-validator chain (a validator key, a trustee key, its genesis). " +
        "With --genesis FILE --peers LIST: a home that joins that network, as a validator (a fresh key to add by governance) or with --full-node as a full node (no key)",
    )
    .option("--dev", "single-validator development chain with this node as the validator")
    .option("--chain-id <id>", "chain id of a new genesis")
    .option("--genesis <file>", "join the network of this genesis file (copied into the home)")
    .option("--peers <list>", "with --genesis: the network's nodes, comma-separated host:port or nodeId@host:port")
    .option("--full-node", "with --genesis: a full node's home, without a validator key")
    .option("--state-sync", "with --genesis: start from a peer's state snapshot instead of replaying every block (docs/state-sync.md)")
    .option("--p2p-port <port>", "with --genesis: this node's p2p port (default 8661)", parsePort)
    .option("--rpc-port <port>", "with --genesis: this node's JSON-RPC port (default 8660)", parsePort)
    .option("--force", "overwrite an existing home (a new chain only)")
    .action(async (opts: CommonOptions & { dev?: boolean; chainId?: string; force?: boolean; genesis?: string; peers?: string; fullNode?: boolean; stateSync?: boolean; p2pPort?: number; rpcPort?: number }) => {
      const home = await homeOf(opts);
      const api = await nodeApi();
      const joining = opts.genesis !== undefined;
      if (!joining && (opts.peers !== undefined || opts.fullNode || opts.stateSync || opts.p2pPort !== undefined || opts.rpcPort !== undefined)) {
        throw new CliError("--peers, --full-node, --state-sync, --p2p-port and --rpc-port go with --genesis FILE (joining a network)", ExitCode.USAGE);
      }
      if (joining && (opts.dev || opts.chainId !== undefined || opts.force)) throw new CliError("--genesis joins an existing chain: --dev, --chain-id and --force do not apply", ExitCode.USAGE);
      let r: Awaited<ReturnType<typeof api.initHome>>;
      if (joining) {
        r = api.initJoinHome(home, {
          genesisFile: opts.genesis!,
          peers: (opts.peers ?? "").split(",").map((p) => p.trim()).filter(Boolean),
          validator: opts.fullNode !== true,
          ...(opts.p2pPort !== undefined ? { p2pPort: opts.p2pPort } : {}),
          ...(opts.rpcPort !== undefined ? { rpcPort: opts.rpcPort } : {}),
          ...(opts.stateSync ? { stateSync: true } : {}),
        });
      } else {
        const init: { dev: boolean; chainId?: string; force?: boolean } = { dev: opts.dev === true };
        if (opts.chainId !== undefined) init.chainId = opts.chainId;
        if (opts.force) init.force = true;
        r = await api.initHome(home, init);
      }
      const role = r.validatorPublicKey ? "validator" : "full node";
      printResult(opts, { home, role, ...r }, [
        r.created ? `initialized ${home} (${role})` : `${home} is already initialized (use --force to overwrite)`,
        `chain id:             ${r.chainId}`,
        ...(r.validatorPublicKey
          ? [`validator public key: ${r.validatorPublicKey}`, `validator address:    ${r.validatorAddress}`]
          : [`validator:            none (a full node; "sid validator init" makes a key)`]),
        `genesis:              ${r.genesisFile}`,
        ...(r.trusteeDid ? [`trustee:              ${r.trusteeDid} (threshold 1; key in config/trustee_key.json)`] : []),
        ...(joining && r.created && r.validatorPublicKey
          ? [`to become a validator, the network's trustees run: sid validator add ${r.validatorPublicKey} --name NAME --power P`]
          : []),
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
    .option("--reset-guard-state", "the validator's data/priv_validator_state.json is lost for good: sign again, but only from the network's height + 10 (see docs/operations.md)")
    .action(async (opts: CommonOptions & { dev?: boolean; rpcPort?: number; rpcHost?: string; p2pPort?: number; heartbeatMs?: number; peers?: string; resetGuardState?: boolean }) => {
      const node = await nodeApi();
      const home = await homeOf(opts);
      const start: Parameters<typeof node.startNode>[0] = { home, dev: opts.dev === true, log: (line) => note(line) };
      if (opts.rpcPort !== undefined) start.rpcPort = opts.rpcPort;
      if (opts.rpcHost !== undefined) start.rpcHost = opts.rpcHost;
      if (opts.p2pPort !== undefined) start.p2pPort = opts.p2pPort;
      if (opts.heartbeatMs !== undefined) start.heartbeatMs = opts.heartbeatMs;
      if (opts.peers !== undefined) start.peers = opts.peers.split(",").map((p) => p.trim()).filter(Boolean);
      if (opts.resetGuardState) start.resetGuardState = true;
      let running: Awaited<ReturnType<typeof node.startNode>>;
      try {
        running = await node.startNode(start);
      } catch (e) {
        const f = e as { code?: unknown; message: string; remedy?: string };
        if (f.code === "STORAGE_FAULT") throw new CliError(`storage fault: ${f.message}; ${f.remedy ?? ""}`, node.EXIT_STORAGE_FAULT);
        throw e;
      }
      printResult(opts, { home, rpcUrl: running.rpcUrl }, `sid node running: RPC ${running.rpcUrl}`);
      const fault = new Promise<{ message: string; remedy: string }>((resolve) => running.onFault(resolve));
      const ended = await Promise.race([untilSignal().then((sig) => ({ sig })), fault.then((f) => ({ fault: f }))]);
      note("stopping sid node");
      // A store that hangs (a disk gone bad) must not keep the process: stop within STOP_BOUND_MS or exit anyway.
      const bound = setTimeout(() => {
        note(`error: the node did not stop within ${STOP_BOUND_MS / 1000} s; exiting without a clean stop`);
        process.exit("fault" in ended ? node.EXIT_STORAGE_FAULT : ExitCode.ERROR);
      }, STOP_BOUND_MS);
      try {
        await running.stop();
      } catch (e) {
        if (!("fault" in ended)) throw e;
      } finally {
        clearTimeout(bound);
      }
      if ("fault" in ended) throw new CliError(`storage fault: ${ended.fault.message}; ${ended.fault.remedy}`, node.EXIT_STORAGE_FAULT);
    });

  withCommonOptions(program.command("status"))
    .description("show the status of a node (node_status)")
    .action(async (opts: CommonOptions) => {
      const client = new RpcClient(opts.rpc);
      const s = (await new SidClient(opts.rpc).status()) as NodeStatus & { peers?: number; catchingUp?: boolean };
      const peers = await client.call<{ count: number; peers: PeerStatus[] }>("net_peers");
      printResult(opts, { ...s, peerList: peers.peers }, [
        `chain id:       ${s.chainId}`,
        `height:         ${s.height}`,
        `latest block:   ${s.latestBlockHash} at ${s.latestBlockTime}`,
        `state root:     ${s.stateRoot}`,
        `genesis hash:   ${s.genesisHash}`,
        `mempool:        ${s.mempool?.size ?? 0} txs, ${s.mempool?.bytes ?? 0} bytes`,
        `validator:      ${s.validator ?? "(not a validator)"}`,
        `signatures:     ${s.signatureBackend}`,
        `catching up:    ${s.catchingUp === true ? "yes" : "no"}`,
        `peers:          ${s.peers ?? 0}`,
        ...peers.peers.map((p) => `  ${p.id}  ${p.direction.padEnd(8)}  ${p.address.padEnd(21)}  height ${p.height ?? "?"}  score ${p.score}`),
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
