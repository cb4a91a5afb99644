/**
 * The map in docs/architecture.md kept true: every import in src/ follows
 * the rooms table of that document (a room imports only rooms on a lower
 * floor, plus the exceptions the table names), there is no import cycle
 * between rooms, every folder under src/ has a row, and no file in src/ is
 * over the line limit. The rules are read from the document itself, so the
 * map and the check cannot drift apart.
 */
import { expect } from "chai";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const SRC = join(ROOT, "src");
const DOC = join(ROOT, "docs/architecture.md");
/** A file longer than this is two rooms' worth of code, or two jobs. */
const MAX_LINES = 750;
/** The room of the files directly in src/ (src/errors.ts). */
const ROOT_ROOM = "(root)";

interface RoomRule {
  room: string;
  floor: number;
  /** Rooms this one may import although they are not on a lower floor, with "types only" when only `import type` is allowed. */
  exceptions: Map<string, { typesOnly: boolean }>;
}

/**
 * The rows of the rooms table: `| \`room/\` | floor | job | exceptions |`,
 * between the markers `<!-- rooms:begin -->` and `<!-- rooms:end -->`.
 */
export function parseRoomsTable(markdown: string): Map<string, RoomRule> {
  const begin = markdown.indexOf("<!-- rooms:begin -->");
  const end = markdown.indexOf("<!-- rooms:end -->");
  if (begin < 0 || end < begin) throw new Error("docs/architecture.md has no <!-- rooms:begin --> ... <!-- rooms:end --> table");
  const rules = new Map<string, RoomRule>();
  for (const line of markdown.slice(begin, end).split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 6 || !cells[1]!.startsWith("`")) continue;
    const room = cells[1]!.replace(/`/g, "").replace(/^src\//, "").replace(/\/$/, "");
    const name = room === "*.ts" ? ROOT_ROOM : room;
    const floor = Number(cells[2]);
    if (!Number.isInteger(floor)) throw new Error(`rooms table: floor of ${room} is not an integer: ${cells[2]}`);
    const exceptions = new Map<string, { typesOnly: boolean }>();
    for (const m of cells[4]!.matchAll(/`([a-z-]+)\/?`( \(types only\))?/g)) exceptions.set(m[1]!, { typesOnly: m[2] !== undefined });
    rules.set(name, { room: name, floor, exceptions });
  }
  return rules;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|cts)$/.test(name) && !name.endsWith(".d.ts")) out.push(p);
  }
  return out.sort();
}

function roomOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length === 1 ? ROOT_ROOM : parts[0]!;
}

interface SrcImport {
  from: string;
  /** The module text as written. */
  specifier: string;
  /** The file it names, when it is inside src/. */
  target: string | undefined;
  typeOnly: boolean;
  line: number;
}

/** Every import, re-export, `import("...")` and `import type` of a file; each relative one resolved to its file. */
export function importsOf(file: string, text = readFileSync(file, "utf8")): SrcImport[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: SrcImport[] = [];
  const add = (specifier: string, node: ts.Node, typeOnly: boolean) => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    const target = specifier.startsWith(".") ? resolve(dirname(file), specifier).replace(/\.js$/, ".ts") : undefined;
    out.push({ from: file, specifier, target, typeOnly, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = node.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      const typeOnly = c !== undefined && (c.isTypeOnly || (c.name === undefined && named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, node, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      add(node.moduleSpecifier.text, node, node.isTypeOnly || (named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      add(node.arguments[0].text, node, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal.text, node, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Why `imp` breaks the rules, or undefined when it follows them. */
export function ruleBroken(imp: SrcImport, rules: ReadonlyMap<string, RoomRule>): string | undefined {
  if (imp.target === undefined) return undefined;
  const rel = relative(SRC, imp.target);
  if (rel.startsWith("..")) return `imports ${imp.specifier}, outside src/`;
  const fromRoom = roomOf(imp.from);
  const toRoom = roomOf(imp.target);
  if (fromRoom === toRoom) return undefined;
  const from = rules.get(fromRoom);
  const to = rules.get(toRoom);
  if (!from) return `room ${fromRoom}/ has no row in the rooms table of docs/architecture.md`;
  if (!to) return `room ${toRoom}/ has no row in the rooms table of docs/architecture.md`;
  if (to.floor < from.floor) return undefined;
  const exception = from.exceptions.get(toRoom);
  if (exception && (!exception.typesOnly || imp.typeOnly)) return undefined;
  if (exception) return `${fromRoom} may import ${toRoom} for types only (use \`import type\`)`;
  return `${fromRoom} (floor ${from.floor}) may not import ${toRoom} (floor ${to.floor}): a room imports only rooms on lower floors`;
}

/** Cycles between rooms (strongly connected components of more than one room), each as its rooms in order. */
export function roomCycles(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!idx.has(v)) strong(v);
  return out;
}

describe("architecture: the rooms of src/ and what each may import (docs/architecture.md)", () => {
  const rules = parseRoomsTable(readFileSync(DOC, "utf8"));
  const files = sourceFiles(SRC);
  const importsByFile = new Map(files.map((f) => [f, importsOf(f)]));

  it("reads the rules from the document: every room has a floor, the floors follow cli > node > rpc/client > consensus/p2p > chain > did > crypto", () => {
    expect(files.length).to.be.greaterThan(50);
    const floor = (r: string) => rules.get(r)?.floor;
    const order = ["cli", "node", "rpc", "consensus", "chain", "did", "crypto"];
    for (let i = 1; i < order.length; i++) expect(floor(order[i - 1]!), `${order[i - 1]} above ${order[i]}`).to.be.greaterThan(floor(order[i])!);
    expect(floor("client")).to.equal(floor("rpc"));
    expect(floor("p2p")).to.equal(floor("consensus"));
  });

  it("every folder under src/ has a row in the rooms table", () => {
    const rooms = new Set(files.map(roomOf));
    const missing = [...rooms].filter((r) => !rules.has(r));
    expect(missing, `rooms without a row in docs/architecture.md: ${missing.join(", ")}`).to.deep.equal([]);
  });

  it("every import follows the rules (file:line, import, rule broken)", () => {
    const broken: string[] = [];
    for (const f of files) {
      for (const imp of importsByFile.get(f)!) {
        const why = ruleBroken(imp, rules);
        if (why) broken.push(`src/${relative(SRC, f)}:${imp.line} imports "${imp.specifier}": ${why}`);
      }
    }
    expect(broken, `\n${broken.join("\n")}\n`).to.deep.equal([]);
  });

  it("no import cycle between rooms", () => {
    const edges = new Map<string, Set<string>>();
    const via = new Map<string, string>();
    for (const f of files) {
      for (const imp of importsByFile.get(f)!) {
        if (!imp.target || relative(SRC, imp.target).startsWith("..")) continue;
        const a = roomOf(f);
        const b = roomOf(imp.target);
        if (a === b) continue;
        if (!edges.has(a)) edges.set(a, new Set());
        edges.get(a)!.add(b);
        if (!via.has(`${a}>${b}`)) via.set(`${a}>${b}`, `src/${relative(SRC, f)}:${imp.line}`);
      }
    }
    const cycles = roomCycles(edges).map((c) => {
      const inside = [...via].filter(([k]) => c.includes(k.split(">")[0]!) && c.includes(k.split(">")[1]!)).map(([k, at]) => `${k.replace(">", " -> ")} (${at})`);
      return `${c.join(", ")}: ${inside.join("; ")}`;
    });
    expect(cycles, `\n${cycles.join("\n")}\n`).to.deep.equal([]);
  });

  it(`no file in src/ is over ${MAX_LINES} lines`, () => {
    const lineCount = (text: string) => text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    const long = files
      .map((f) => ({ f, lines: lineCount(readFileSync(f, "utf8")) }))
      .filter((x) => x.lines > MAX_LINES)
      .map((x) => `src/${relative(SRC, x.f)}: ${x.lines} lines`);
    expect(long, `\n${long.join("\n")}\n`).to.deep.equal([]);
  });
});

describe("architecture: the checker itself", () => {
  const rules = parseRoomsTable(`<!-- rooms:begin -->
| room | floor | job | may also import |
|---|---|---|---|
| \`src/*.ts\` | 0 | root | |
| \`low/\` | 1 | low | |
| \`mid/\` | 2 | mid | |
| \`side/\` | 2 | side | \`mid/\` (types only) |
| \`top/\` | 3 | top | |
<!-- rooms:end -->`);
  const imp = (from: string, specifier: string, typeOnly = false): SrcImport => ({
    from: join(SRC, from),
    specifier,
    target: resolve(dirname(join(SRC, from)), specifier).replace(/\.js$/, ".ts"),
    typeOnly,
    line: 1,
  });

  it("allows imports down, refuses them up and sideways, and honours a types-only exception", () => {
    expect(ruleBroken(imp("top/a.ts", "../low/b.js"), rules)).to.equal(undefined);
    expect(ruleBroken(imp("low/a.ts", "../errors.js"), rules)).to.equal(undefined);
    expect(ruleBroken(imp("low/a.ts", "../top/b.js"), rules)).to.match(/low \(floor 1\) may not import top \(floor 3\)/);
    expect(ruleBroken(imp("mid/a.ts", "../side/b.js"), rules)).to.match(/may not import side/);
    expect(ruleBroken(imp("side/a.ts", "../mid/b.js", true), rules)).to.equal(undefined);
    expect(ruleBroken(imp("side/a.ts", "../mid/b.js", false), rules)).to.match(/types only/);
    expect(ruleBroken(imp("new/a.ts", "../low/b.js"), rules)).to.match(/new\/ has no row/);
    expect(ruleBroken(imp("top/a.ts", "./c.js"), rules)).to.equal(undefined);
  });

  it("sees type-only, re-exported and dynamic imports", () => {
    const found = importsOf(
      join(SRC, "x/a.ts"),
      `import type { A } from "../p/a.js";\nimport { type B, type C } from "../q/b.js";\nimport { D, type E } from "../r/c.js";\nexport { F } from "../s/d.js";\nconst g = await import("../t/e.js");\ntype H = import("../u/f.js").H;\nimport "node:fs";\n`,
    );
    expect(found.map((i) => [i.specifier, i.typeOnly, i.line])).to.deep.equal([
      ["../p/a.js", true, 1],
      ["../q/b.js", true, 2],
      ["../r/c.js", false, 3],
      ["../s/d.js", false, 4],
      ["../t/e.js", false, 5],
      ["../u/f.js", true, 6],
      ["node:fs", false, 7],
    ]);
  });

  it("finds a cycle between rooms and none in a layered graph", () => {
    const g = (pairs: string[]) => {
      const m = new Map<string, Set<string>>();
      for (const p of pairs) {
        const [a, b] = p.split(">") as [string, string];
        if (!m.has(a)) m.set(a, new Set());
        m.get(a)!.add(b);
      }
      return m;
    };
    expect(roomCycles(g(["a>b", "b>c", "a>c"]))).to.deep.equal([]);
    expect(roomCycles(g(["a>b", "b>c", "c>a", "c>d"]))).to.deep.equal([["a", "b", "c"]]);
  });
});
