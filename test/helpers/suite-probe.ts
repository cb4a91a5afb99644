/**
 * Opt-in diagnostics for long test runs (a mocha root-hook plugin): with
 * SID_SUITE_PROBE=<file>, `mocha --require dist/test/helpers/suite-probe.js`
 * appends one JSON line per test file to <file> when the next file starts:
 * the file's wall time, and what the mocha process still holds at that
 * moment (active handles by type, live child processes, heap). Leaks from
 * earlier files show up as handles or children that keep growing.
 * Without the variable it does nothing.
 */
import { appendFileSync, readdirSync, readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

const out = process.env.SID_SUITE_PROBE;

/** Pids (and command lines) of this process's live children, read from /proc. */
export function childProcesses(ppid = process.pid): Array<{ pid: number; cmd: string }> {
  const kids: Array<{ pid: number; cmd: string }> = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return kids;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      // Field 4 (after the parenthesised command, which may hold spaces) is the parent pid.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== ppid) continue;
      const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").join(" ").trim().slice(0, 160);
      kids.push({ pid: Number(e), cmd });
    } catch {
      // gone meanwhile
    }
  }
  return kids;
}

export function activeHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  const handles = (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles();
  for (const h of handles) {
    const name = h.constructor?.name ?? typeof h;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** What keeps the event loop alive (timers included), by kind. */
export function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

function sample(): object {
  const mem = process.memoryUsage();
  return { handles: activeHandles(), resources: resourceCounts(), children: childProcesses(), heapMB: Math.round(mem.heapUsed / 1048576), rssMB: Math.round(mem.rss / 1048576) };
}

function write(line: object): void {
  appendFileSync(out!, JSON.stringify({ at: new Date().toISOString(), ...line }) + "\n");
}

interface ProbedSuite {
  file?: string;
  title: string;
  suites: ProbedSuite[];
  beforeAll(title: string, fn: () => void): void;
  afterAll(title: string, fn: () => void): void;
  _beforeAll: unknown[];
}

/**
 * Each top-level suite (one per file, usually) gets a first before-all hook
 * that samples what earlier files left behind, and a last after-all hook that
 * records the suite's wall time, hooks included.
 */
function probe(root: ProbedSuite): void {
  for (const suite of root.suites) {
    let started = 0;
    const name = `${(suite.file ?? "?").replace(/^.*\/dist\//, "dist/")} :: ${suite.title}`;
    suite.beforeAll("suite probe: start", () => {
      started = Date.now();
      loopDelay.reset();
      write({ event: "start", suite: name, ...sample() });
    });
    suite._beforeAll.unshift(suite._beforeAll.pop());
    suite.afterAll("suite probe: end", () => {
      // The longest the event loop was blocked during the suite (a WebSocket pong, a timer, waited that long).
      write({ event: "end", suite: name, ms: Date.now() - started, maxLoopDelayMs: Math.round(loopDelay.max / 1e6), ...sample() });
    });
  }
}

const loopDelay = monitorEventLoopDelay({ resolution: 20 });
if (out) loopDelay.enable();

export const mochaHooks = out
  ? {
      beforeAll(this: Mocha.Context) {
        const root = this.test?.parent as unknown as ProbedSuite | undefined;
        if (root) probe(root);
      },
    }
  : {};
