/**
 * A devnet of real node processes on loopback: N validators and full nodes,
 * each with its own home, one shared genesis, persistent peers wired. Used
 * by the BFT integration tests and by `npm run devnet`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NetworkNodeHome, initNetworkHomes } from "../../src/node/network-homes.js";
import { NODE_RUNTIME_FLAGS } from "../../src/cli/runtime-flags.js";
import { CLI, freePort } from "./node-process.js";

/** Short timeouts: a test devnet decides a height in well under a second. */
export const FAST_CONSENSUS = {
  tendermint: { proposeMs: 400, prevoteMs: 200, precommitMs: 200, deltaMs: 100 },
  timeoutCommitMs: 150,
  catchUpAfterMs: 1_000,
  initialSyncWaitMs: 1_000,
};

/**
 * Timeouts of `npm run devnet` and `npm run bench -- --devnet`: the
 * library defaults, but a short wait after each commit, since loopback
 * peers deliver late precommits within milliseconds. The wait is most of
 * an idle height and adds to every tx's time to finality: measured with
 * `npm run bench -- --devnet` on 2 cores, 500 ms gave a mean block time of
 * 1.77 s and a p99 of 1.95 s at half load; 100 ms cut that p99 to 0.55 s.
 * 200 ms keeps most of the gain without making an idle devnet spin.
 */
export const DEVNET_CONSENSUS = {
  tendermint: { proposeMs: 1000, prevoteMs: 500, precommitMs: 500, deltaMs: 250 },
  timeoutCommitMs: 200,
  catchUpAfterMs: 2_000,
  initialSyncWaitMs: 2_000,
};

export interface DevnetOptions {
  validators?: number;
  fullNodes?: number;
  /** Root of the homes; a temp directory (removed by cleanup) when absent. */
  root?: string;
  chainId?: string;
  consensus?: Record<string, unknown>;
  /** Start only these nodes (indexes); the others stay initialized but stopped. Default: all. */
  startOnly?: number[];
  /** Called with each output line of each node. */
  onOutput?: (node: DevnetNode, line: string) => void;
  /** Genesis block caps (the defaults of `sid init` when absent). */
  params?: { maxBlockTxs: number; maxBlockBytes: number };
  /** Extra environment of every node process (e.g. SID_LOG_LEVEL). */
  env?: Record<string, string>;
  /** How long each node may take to answer RPC after it is spawned (default 20 s). */
  startTimeoutMs?: number;
}

export class DevnetNode {
  proc: ChildProcess | undefined;
  private out = "";
  private exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly info: NetworkNodeHome,
    private readonly onOutput?: (node: DevnetNode, line: string) => void,
    private readonly env: Record<string, string> = {},
  ) {}

  get name(): string {
    return this.info.name;
  }
  get home(): string {
    return this.info.home;
  }
  get rpcUrl(): string {
    return `http://127.0.0.1:${this.info.rpcPort}`;
  }
  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }
  output(): string {
    return this.out;
  }

  /** Spawn the node and wait until its RPC answers (GET /health may say 503 while it syncs). */
  async start(timeoutMs = 60_000, extraArgs: string[] = []): Promise<void> {
    if (this.running) return;
    // SID_NODE_FLAGS passes flags to each node's runtime (e.g. --cpu-prof to profile the devnet benchmark).
    const flags = (process.env.SID_NODE_FLAGS ?? "").split(" ").filter(Boolean);
    const proc = spawn(process.execPath, [...NODE_RUNTIME_FLAGS, ...flags, CLI, "start", "--home", this.home, ...extraArgs], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...this.env } });
    this.proc = proc;
    this.exited = new Promise((r) => proc.once("exit", (code) => r(code)));
    const onData = (d: Buffer) => {
      const text = d.toString();
      this.out += text;
      if (this.out.length > 2_000_000) this.out = this.out.slice(-1_000_000);
      if (this.onOutput) for (const line of text.split("\n")) if (line) this.onOutput(this, line);
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`${this.name} exited early (${proc.exitCode}):\n${this.out.slice(-4000)}`);
      try {
        await fetch(`${this.rpcUrl}/health`);
        return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`${this.name} did not start in ${timeoutMs} ms:\n${this.out.slice(-4000)}`);
      }
      await sleep(100);
    }
  }

  /** Wait for the process to exit on its own; its exit code. */
  exitCode(): Promise<number | null> {
    return this.exited;
  }

  /** SIGTERM and wait for exit. */
  async stop(): Promise<number | null> {
    if (this.running) this.proc!.kill("SIGTERM");
    return this.exited;
  }

  /** SIGKILL and wait for exit. */
  async kill9(): Promise<void> {
    if (this.running) this.proc!.kill("SIGKILL");
    await this.exited;
  }

  async rpc<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const r = await fetch(this.rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
    const text = await r.text();
    let body: { result?: T; error?: { code: number; message: string } };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`${this.name} ${method}: HTTP ${r.status} with a body that is not JSON: ${text.slice(0, 300)}`);
    }
    if (body.error) throw new Error(`${this.name} ${method}: HTTP ${r.status} ${typeof body.error === "object" && body.error.message !== undefined ? body.error.message : text.slice(0, 300)}`);
    return body.result as T;
  }

  async height(): Promise<number> {
    return (await this.rpc<{ height: number }>("node_status")).height;
  }
}

export interface Devnet {
  root: string;
  chainId: string;
  nodes: DevnetNode[];
  validators: DevnetNode[];
  fullNodes: DevnetNode[];
  /** Stop every running node (SIGTERM), then remove a temp root. */
  cleanup(): Promise<void>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function createDevnet(opts: DevnetOptions = {}): Promise<Devnet> {
  const validators = opts.validators ?? 4;
  const fullNodes = opts.fullNodes ?? 0;
  const temp = opts.root === undefined;
  const root = opts.root ?? mkdtempSync(join(tmpdir(), "sid-devnet-"));
  const chainId = opts.chainId ?? "sid-devnet";
  const ports: number[] = [];
  // Distinct free ports: the OS may hand the same one twice once it is closed again.
  while (ports.length < 2 * (validators + fullNodes)) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const homes = await initNetworkHomes(root, { validators, fullNodes, chainId, ports, consensus: opts.consensus ?? FAST_CONSENSUS, ...(opts.params ? { params: opts.params } : {}) });
  const nodes = homes.map((h) => new DevnetNode(h, opts.onOutput, opts.env));
  const net: Devnet = {
    root,
    chainId,
    nodes,
    validators: nodes.filter((n) => n.info.role === "validator"),
    fullNodes: nodes.filter((n) => n.info.role === "full"),
    async cleanup() {
      await Promise.all(nodes.map((n) => n.stop()));
      if (temp) rmSync(root, { recursive: true, force: true });
    },
  };
  const toStart = opts.startOnly ?? nodes.map((_, i) => i);
  try {
    await Promise.all(toStart.map((i) => nodes[i]!.start(opts.startTimeoutMs)));
  } catch (e) {
    await net.cleanup();
    throw e;
  }
  return net;
}

/** Wait until `cond` holds, polling; throws after `timeoutMs`. */
export async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 20_000, everyMs = 150): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // a node that is restarting does not answer yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** What the waits and checks below ask of a node: its RPC. Devnet nodes and nodes in network namespaces both have it. */
export interface RpcNode {
  readonly name: string;
  rpc<T>(method: string, params?: Record<string, unknown>): Promise<T>;
  height(): Promise<number>;
}

/** Wait until every node given is at `height` or above. */
export async function waitForHeight(nodes: RpcNode[], height: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(`height ${height} on ${nodes.map((n) => n.name).join(", ")}`, async () => (await Promise.all(nodes.map((n) => n.height()))).every((h) => h >= height), timeoutMs);
}

/**
 * The invariant every fault test ends with: the same block hash at every
 * height up to the lowest common height, and the same state root there.
 * Returns that height.
 */
export async function checkNoFork(nodes: RpcNode[]): Promise<number> {
  const heights = await Promise.all(nodes.map((n) => n.height()));
  const common = Math.min(...heights);
  for (let h = 1; h <= common; h++) {
    const blocks = await Promise.all(nodes.map((n) => n.rpc<{ hash: string; header: { stateRoot: string } }>("block_get", { height: h })));
    for (let i = 1; i < blocks.length; i++) {
      if (blocks[i]!.hash !== blocks[0]!.hash) throw new Error(`fork at height ${h}: ${nodes[0]!.name} has ${blocks[0]!.hash}, ${nodes[i]!.name} has ${blocks[i]!.hash}`);
      if (blocks[i]!.header.stateRoot !== blocks[0]!.header.stateRoot) throw new Error(`state roots differ at height ${h}`);
    }
  }
  return common;
}
