/**
 * Real node processes in Linux network namespaces, for partition tests.
 *
 * Topology (nothing is added to the host's own namespace):
 *
 *   <prefix>-br: bridges "lan" and "cut", one veth end "v<i>" per node
 *   <prefix>-<i>: node i, its veth end "eth0" with 10.233.0.<i+1>/24, and lo
 *
 * Every veth end sits on "lan" while the network is whole; a partition moves
 * one side's ends to "cut", so each side still talks among itself and not
 * across. Deleting the bridge namespace destroys every veth pair with it.
 *
 * The test process stays in the host namespace and cannot reach an address
 * inside a node's namespace, so each node gets a relay: a small process in
 * the node's namespace that forwards a Unix socket (a file, which network
 * namespaces do not separate) to the node's RPC on 127.0.0.1 there. It keeps
 * answering while the node is cut off from its peers.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { request } from "node:http";
import type { NetworkNodeHome } from "../../src/node/network-homes.js";
import { NODE_RUNTIME_FLAGS } from "../../src/cli/runtime-flags.js";
import { type RpcNode, sleep } from "./devnet.js";
import { CLI } from "./node-process.js";

/** Namespaces of this helper are named `${NETNS_PREFIX}-<pid of the test process>-...`. */
export const NETNS_PREFIX = "sidnt";
/** Private addresses, used only inside the namespaces made here. */
const SUBNET = "10.233.0";
const LAN_BRIDGE = "lan";
const CUT_BRIDGE = "cut";

export class NetnsCommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
  ) {
    super(`${command} failed: ${stderr.trim() || "(no output)"}`);
    this.name = "NetnsCommandError";
  }
}

/** Run a command (no shell), bounded in time; resolves its stdout, rejects with its stderr. */
function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) reject(new NetnsCommandError(`${cmd} ${args.join(" ")}`, stderr || err.message));
      else resolve(stdout);
    });
  });
}

const ip = (...args: string[]) => run("ip", args);

async function namespaceNames(): Promise<string[]> {
  // Lines look like "name" or "name (id: 3)".
  return (await ip("netns", "list"))
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n !== "");
}

/**
 * Why namespaces cannot be used here, or null when they can: the test must
 * run as root on Linux and be able to make a namespace with a bridge in it.
 */
export async function netnsUnavailableReason(): Promise<string | null> {
  if (process.platform !== "linux") return `network namespaces need Linux, this is ${process.platform}`;
  const uid = process.getuid?.();
  if (uid !== 0) return `not running as root (uid ${uid ?? "unknown"})`;
  const probe = `${NETNS_PREFIX}-${process.pid}-probe`;
  try {
    await ip("netns", "add", probe);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? "the ip command (iproute2) is not installed" : (e as Error).message;
  }
  try {
    await ip("-n", probe, "link", "add", "probe", "type", "bridge");
    return null;
  } catch (e) {
    return `cannot make a bridge in a namespace: ${(e as Error).message}`;
  } finally {
    await ip("netns", "delete", probe).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Remove namespaces a crashed earlier run of this helper left behind: those
 * with our prefix whose test process is gone. The processes still in them
 * are that run's nodes and relays; they are killed by pid first.
 */
export async function cleanStaleNamespaces(): Promise<string[]> {
  const removed: string[] = [];
  const pattern = new RegExp(`^${NETNS_PREFIX}-(\\d+)-`);
  for (const ns of await namespaceNames()) {
    const m = pattern.exec(ns);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    const pids = (await ip("netns", "pids", ns).catch(() => ""))
      .split("\n")
      .map((s) => Number(s.trim()))
      .filter((p) => Number.isSafeInteger(p) && p > 1);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await ip("netns", "delete", ns);
    removed.push(ns);
  }
  return removed;
}

/** Namespaces for `count` nodes on one bridge, made by `NetnsLan.create`. */
export class NetnsLan {
  private constructor(
    /** `${NETNS_PREFIX}-<pid>`: every namespace of this LAN starts with it. */
    readonly prefix: string,
    readonly bridgeNs: string,
    readonly nodeNs: string[],
    /** The address of node i inside its namespace. */
    readonly addresses: string[],
  ) {}

  static async create(count: number): Promise<NetnsLan> {
    if (!Number.isSafeInteger(count) || count < 1 || count > 200) throw new RangeError(`expected 1 to 200 nodes, got ${count}`);
    const prefix = `${NETNS_PREFIX}-${process.pid}`;
    const nodeNs = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
    const lan = new NetnsLan(prefix, `${prefix}-br`, nodeNs, nodeNs.map((_, i) => `${SUBNET}.${i + 1}`));
    try {
      const br = lan.bridgeNs;
      await ip("netns", "add", br);
      for (const bridge of [LAN_BRIDGE, CUT_BRIDGE]) {
        await ip("-n", br, "link", "add", bridge, "type", "bridge");
        await ip("-n", br, "link", "set", bridge, "up");
      }
      for (const [i, ns] of nodeNs.entries()) {
        await ip("netns", "add", ns);
        await ip("-n", ns, "link", "set", "lo", "up");
        // Made inside the bridge namespace, the far end sent straight into the node's: no name ever appears on the host.
        await ip("-n", br, "link", "add", `v${i}`, "type", "veth", "peer", "name", "eth0", "netns", ns);
        await ip("-n", br, "link", "set", `v${i}`, "master", LAN_BRIDGE);
        await ip("-n", br, "link", "set", `v${i}`, "up");
        await ip("-n", ns, "addr", "add", `${lan.addresses[i]}/24`, "dev", "eth0");
        await ip("-n", ns, "link", "set", "eth0", "up");
      }
    } catch (e) {
      await lan.destroy();
      throw e;
    }
    return lan;
  }

  /** Cut the nodes in `side` off from the others; they still reach each other. */
  async partition(side: number[]): Promise<void> {
    for (const i of side) await ip("-n", this.bridgeNs, "link", "set", `v${this.checkIndex(i)}`, "master", CUT_BRIDGE);
  }

  /** Every node back on one bridge. */
  async heal(): Promise<void> {
    for (const i of this.nodeNs.keys()) await ip("-n", this.bridgeNs, "link", "set", `v${i}`, "master", LAN_BRIDGE);
  }

  /** The bridge each node's link is on, by node: "lan" or "cut". */
  async sides(): Promise<string[]> {
    const links = JSON.parse(await ip("-j", "-n", this.bridgeNs, "link", "show")) as { ifname: string; master?: string }[];
    return this.nodeNs.map((_, i) => links.find((l) => l.ifname === `v${i}`)?.master ?? "none");
  }

  /** Delete every namespace of this LAN (the veth pairs go with them). Safe to call twice. */
  async destroy(): Promise<void> {
    const existing = new Set(await namespaceNames().catch(() => [] as string[]));
    for (const ns of [this.bridgeNs, ...this.nodeNs]) if (existing.has(ns)) await ip("netns", "delete", ns).catch(() => undefined);
  }

  private checkIndex(i: number): number {
    if (!Number.isSafeInteger(i) || i < 0 || i >= this.nodeNs.length) throw new RangeError(`no node ${i} in a LAN of ${this.nodeNs.length}`);
    return i;
  }
}

/** Forwards connections on a Unix socket (argv[1]) to 127.0.0.1:argv[2]; run with `node -e`. */
const RELAY_SCRIPT = `
const net = require("node:net");
const [socketPath, port] = process.argv.slice(1);
net.createServer((client) => {
  const upstream = net.connect(Number(port), "127.0.0.1");
  client.on("error", () => upstream.destroy());
  upstream.on("error", () => client.destroy());
  client.pipe(upstream).pipe(client);
}).listen(socketPath);
`;

function httpOverSocket(socketPath: string, method: "GET" | "POST", path: string, body?: string, timeoutMs = 5_000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: body === undefined ? {} : { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer on ${socketPath} in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

function exitOf(proc: ChildProcess): Promise<void> {
  return proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once("exit", () => r()));
}

/** SIGTERM, then SIGKILL when it has not exited within `graceMs`. */
async function stopProcess(proc: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = exitOf(proc);
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A node process started inside its own namespace, with its RPC reached through a relay. */
export class NetnsNode implements RpcNode {
  private proc: ChildProcess | undefined;
  private relay: ChildProcess | undefined;
  private out = "";

  constructor(
    readonly info: NetworkNodeHome,
    /** The namespace the node runs in. */
    readonly ns: string,
    /** Unix socket of the relay to the node's RPC (a path under the test's temp dir). */
    readonly rpcSocket: string,
  ) {}

  get name(): string {
    return this.info.name;
  }
  output(): string {
    return this.out;
  }

  /** Start the relay and the node (`ip netns exec` runs it in place, so the pid is the node's) and wait until its RPC answers. */
  async start(timeoutMs = 30_000): Promise<void> {
    this.relay = spawn("ip", ["netns", "exec", this.ns, process.execPath, "-e", RELAY_SCRIPT, this.rpcSocket, String(this.info.rpcPort)], { stdio: ["ignore", "ignore", "pipe"] });
    this.relay.stderr!.on("data", (d: Buffer) => this.append(`[relay] ${d.toString()}`));
    const proc = spawn("ip", ["netns", "exec", this.ns, process.execPath, ...NODE_RUNTIME_FLAGS, CLI, "start", "--home", this.info.home], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } });
    this.proc = proc;
    proc.stdout!.on("data", (d: Buffer) => this.append(d.toString()));
    proc.stderr!.on("data", (d: Buffer) => this.append(d.toString()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`${this.name} exited early (${proc.exitCode}):\n${this.out.slice(-4000)}`);
      if (this.relay.exitCode !== null) throw new Error(`relay of ${this.name} exited (${this.relay.exitCode}):\n${this.out.slice(-4000)}`);
      try {
        // Any HTTP answer will do: /health says 503 while the node syncs.
        await httpOverSocket(this.rpcSocket, "GET", "/health");
        return;
      } catch {
        // relay or node not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${this.name} did not answer in ${timeoutMs} ms:\n${this.out.slice(-4000)}`);
      await sleep(150);
    }
  }

  /** Stop the node, then its relay. */
  async stop(): Promise<void> {
    await stopProcess(this.proc);
    await stopProcess(this.relay, 2_000);
  }

  async rpc<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const r = await httpOverSocket(this.rpcSocket, "POST", "/", JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }));
    const body = JSON.parse(r.text) as { result?: T; error?: { code: number; message: string } };
    if (body.error) throw new Error(`${this.name} ${method}: ${body.error.message}`);
    return body.result as T;
  }

  async height(): Promise<number> {
    return (await this.rpc<{ height: number }>("node_status")).height;
  }

  /** Connected p2p peers, from the node's /metrics. */
  async peers(): Promise<number> {
    const text = (await httpOverSocket(this.rpcSocket, "GET", "/metrics")).text;
    const m = /^sid_p2p_peers(?:\{[^}]*\})? (\d+)/m.exec(text);
    if (!m) throw new Error(`${this.name}: no sid_p2p_peers in /metrics`);
    return Number(m[1]);
  }

  private append(text: string): void {
    this.out += text;
    if (this.out.length > 2_000_000) this.out = this.out.slice(-1_000_000);
  }
}
