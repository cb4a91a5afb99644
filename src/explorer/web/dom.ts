/**
 * DOM building without HTML strings: every value from the chain (documents,
 * service endpoints, names) is attacker-written, so it only ever reaches the
 * page as text nodes or attribute values, never as markup.
 */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (k === "href") el.setAttribute("href", safeHref(String(v)));
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: HTMLElement, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

/** Links the explorer makes are in-page routes; anything else becomes inert. */
function safeHref(href: string): string {
  return href.startsWith("#/") || href === "/" ? href : "#/";
}

export function link(route: string, text: string, cls = ""): HTMLElement {
  return h("a", { href: `#/${route}`, class: cls || undefined }, text);
}

export function table(head: string[], rows: Child[][]): HTMLElement {
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, ...head.map((t) => h("th", {}, t)))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c))))),
  );
}

export function json(value: unknown): HTMLElement {
  return h("pre", {}, JSON.stringify(value, null, 2));
}

export function card(...children: Child[]): HTMLElement {
  return h("div", { class: "card" }, ...children);
}

export function short(hex: string, n = 12): string {
  return hex.length > n * 2 ? `${hex.slice(0, n)}…${hex.slice(-6)}` : hex;
}

export function ago(iso: string | number): string {
  const ms = Date.now() - (typeof iso === "number" ? iso : Date.parse(iso));
  if (!Number.isFinite(ms)) return "";
  if (ms < 2_000) return "just now";
  if (ms < 120_000) return `${Math.round(ms / 1000)} s ago`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min ago`;
  return `${Math.round(ms / 3_600_000)} h ago`;
}
