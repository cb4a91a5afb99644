/**
 * Start a real `sid` node as its own process (the built CLI), on a free
 * loopback port, with its own home directory.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { NODE_RUNTIME_FLAGS } from "../../src/cli/runtime-flags.js";

export const CLI = resolve(fileURLToPath(import.meta.url), "../../../src/cli/main.js");

export function tempHome(prefix = "sid-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeHome(home: string): void {
  rmSync(home, { recursive: true, force: true });
}

/**
 * Ports are drawn from 20000-31999, below Linux's ephemeral range (32768 up):
 * a port the kernel hands out for port 0 is an ephemeral one, and any
 * outgoing connection (a node dialling a peer, a test's fetch) could take it
 * as its local port between this check and the node binding it, and the
 * node then fails to listen. Never the same port twice in one process.
 */
const PORT_LOW = 20_000;
const PORT_SPAN = 12_000;
const handedOut = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 500; tries++) {
    const port = PORT_LOW + Math.floor(Math.random() * PORT_SPAN);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free loopback port in ${PORT_LOW}-${PORT_LOW + PORT_SPAN - 1} after 500 tries`);
}

export interface NodeProcess {
  proc: ChildProcess;
  rpcUrl: string;
  home: string;
  output: () => string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
}

/**
 * `startTimeoutMs`: how long the node may take to answer /health (20 s; a
 * node reopening a large store takes longer). `ownGroup`: the node runs in
 * a process group of its own, so a Ctrl-C at the terminal reaches only this
 * process, which stops the node when it chooses (and at its own exit).
 */
export async function startNodeProcess(home: string, opts: { port?: number; heartbeatMs?: number; env?: Record<string, string>; startTimeoutMs?: number; ownGroup?: boolean } = {}): Promise<NodeProcess> {
  const port = opts.port ?? (await freePort());
  // SID_NODE_FLAGS passes flags to the node's runtime (e.g. --cpu-prof for profiling a benchmark).
  const flags = (process.env.SID_NODE_FLAGS ?? "").split(" ").filter(Boolean);
  const args = [...NODE_RUNTIME_FLAGS, ...flags, CLI, "start", "--dev", "--home", home, "--rpc-port", String(port)];
  if (opts.heartbeatMs !== undefined) args.push("--heartbeat-ms", String(opts.heartbeatMs));
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...opts.env }, detached: opts.ownGroup === true });
  if (opts.ownGroup) {
    const killAtExit = () => proc.kill("SIGTERM");
    process.once("exit", killAtExit);
    proc.once("exit", () => process.off("exit", killAtExit));
  }
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const rpcUrl = `http://127.0.0.1:${port}`;
  const startTimeoutMs = opts.startTimeoutMs ?? 20_000;
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`node exited early (${proc.exitCode}):\n${out}`);
    try {
      const r = await fetch(`${rpcUrl}/health`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`node did not start in ${startTimeoutMs / 1000} s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    rpcUrl,
    home,
    output: () => out,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      return exited;
    },
    async kill9() {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

/** Run the CLI to completion. */
export async function runCli(args: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d) => (stdout += d));
  proc.stderr.on("data", (d) => (stderr += d));
  if (input !== undefined) proc.stdin.end(input);
  else proc.stdin.end();
  const code = await new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
  return { code, stdout, stderr };
}
