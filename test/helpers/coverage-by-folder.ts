/**
 * Prints the coverage summary that c8 wrote (istanbul's json-summary) as one
 * line per folder of src/ and a total: lines, branches and functions, each
 * as a percentage with covered/total. Run after the tests by `npm test`;
 * prints a note and exits 0 when there is no summary (tests run without c8).
 */
import { existsSync, readFileSync } from "node:fs";
import { relative, resolve, sep } from "node:path";

interface Count {
  total: number;
  covered: number;
}
type Metrics = Record<"lines" | "branches" | "functions", Count>;

const KEYS = ["lines", "branches", "functions"] as const;

export function folderOf(file: string, root: string): string {
  const rel = relative(root, file).split(sep);
  // src/<folder>/... ; files directly in src/ count as "src".
  const at = rel.indexOf("src");
  const parts = at >= 0 ? rel.slice(at + 1) : rel;
  return parts.length > 1 ? `src/${parts[0]}` : "src";
}

export function byFolder(summary: Record<string, Metrics>, root: string): Map<string, Metrics> {
  const folders = new Map<string, Metrics>();
  for (const [file, m] of Object.entries(summary)) {
    if (file === "total") continue;
    const name = folderOf(file, root);
    const acc = folders.get(name) ?? { lines: { total: 0, covered: 0 }, branches: { total: 0, covered: 0 }, functions: { total: 0, covered: 0 } };
    for (const k of KEYS) {
      acc[k].total += m[k].total;
      acc[k].covered += m[k].covered;
    }
    folders.set(name, acc);
  }
  return new Map([...folders].sort(([a], [b]) => a.localeCompare(b)));
}

const pct = (c: Count) => (c.total === 0 ? "100.00" : ((100 * c.covered) / c.total).toFixed(2));
const cell = (c: Count) => `${pct(c).padStart(6)}% ${`(${c.covered}/${c.total})`.padEnd(13)}`;

export function formatTable(folders: Map<string, Metrics>, total: Metrics): string {
  const width = Math.max(5, ...[...folders.keys()].map((k) => k.length));
  const head = `${"folder".padEnd(width)}  ${"lines".padEnd(21)}  ${"branches".padEnd(21)}  functions`;
  const row = (name: string, m: Metrics) => `${name.padEnd(width)}  ${KEYS.map((k) => cell(m[k])).join("  ")}`.trimEnd();
  const rule = "-".repeat(head.length + 12);
  return ["Coverage by folder (c8)", rule, head, rule, ...[...folders].map(([n, m]) => row(n, m)), rule, row("total", total), rule].join("\n");
}

function main(): void {
  const root = resolve(process.argv[2] ?? ".");
  const file = resolve(root, "coverage", "coverage-summary.json");
  if (!existsSync(file)) {
    console.log(`no coverage summary at ${file} (tests were run without c8)`);
    return;
  }
  const summary = JSON.parse(readFileSync(file, "utf8")) as Record<string, Metrics>;
  console.log(formatTable(byFolder(summary, root), summary.total!));
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) main();
