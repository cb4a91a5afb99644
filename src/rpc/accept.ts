/**
 * HTTP content negotiation on `Accept` (RFC 9110, section 12.5.1), as far
 * as the resolver binding needs it: media ranges with parameters (the
 * legacy DID resolution type is `application/ld+json` with a `profile`)
 * and q-values.
 */

export interface MediaRange {
  type: string;
  subtype: string;
  /** Parameters other than q; names lower-cased, values unquoted. */
  params: Record<string, string>;
  q: number;
}

export interface Negotiated {
  /** The chosen offer, exactly as offered. */
  offer: string;
  /** True when only a full wildcard (`*` / `*`, or no Accept at all) chose it: the client named no type. */
  byWildcard: boolean;
}

/** Most ranges read from one header: a real client sends a handful. */
const MAX_RANGES = 32;
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const Q_RE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** Split on `sep` outside double-quoted strings. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted && c === "\\" && i + 1 < text.length) {
      cur += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === sep && !quoted) {
      parts.push(cur);
      cur = "";
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  return parts;
}

function unquote(v: string): string {
  return v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1).replace(/\\(.)/g, "$1") : v;
}

/** One media range or type, such as `application/ld+json;profile="..." ;q=0.5`; undefined if malformed. */
export function parseMediaRange(text: string): MediaRange | undefined {
  const [head, ...rest] = splitOutsideQuotes(text, ";").map((p) => p.trim());
  const slash = head!.indexOf("/");
  if (slash < 0) return undefined;
  const type = head!.slice(0, slash).toLowerCase();
  const subtype = head!.slice(slash + 1).toLowerCase();
  if (!TOKEN_RE.test(type) || !TOKEN_RE.test(subtype) || (type === "*" && subtype !== "*")) return undefined;
  const params: Record<string, string> = {};
  let q = 1;
  for (const p of rest) {
    if (p === "") continue;
    const eq = p.indexOf("=");
    if (eq <= 0) return undefined;
    const name = p.slice(0, eq).trim().toLowerCase();
    const value = unquote(p.slice(eq + 1).trim());
    if (name === "q") {
      if (!Q_RE.test(value)) return undefined;
      q = Number(value);
    } else {
      params[name] = value;
    }
  }
  return { type, subtype, params, q };
}

/** How specifically `range` matches `offer`, or -1 if it does not. */
function specificity(range: MediaRange, offer: MediaRange): number {
  if (range.type !== "*" && range.type !== offer.type) return -1;
  if (range.subtype !== "*" && range.subtype !== offer.subtype) return -1;
  const names = Object.keys(range.params);
  for (const n of names) if (offer.params[n] !== range.params[n]) return -1;
  return (range.type === "*" ? 0 : 1) + (range.subtype === "*" ? 0 : 2) + names.length * 4;
}

/**
 * The offer the client prefers: for each offer, the q of the most specific
 * range matching it; the highest q wins, ties go to the earlier offer (the
 * server's preference). No Accept, or an empty one, accepts anything.
 * Undefined when nothing offered is acceptable (HTTP 406).
 */
export function negotiate(accept: string | undefined, offers: readonly string[]): Negotiated | undefined {
  if (accept === undefined || accept.trim() === "") return offers.length > 0 ? { offer: offers[0]!, byWildcard: true } : undefined;
  const ranges = splitOutsideQuotes(accept, ",")
    .slice(0, MAX_RANGES)
    .map((r) => parseMediaRange(r.trim()))
    .filter((r): r is MediaRange => r !== undefined);
  let best: Negotiated | undefined;
  let bestQ = 0;
  for (const offer of offers) {
    const o = parseMediaRange(offer);
    if (!o) throw new Error(`offer ${offer} is not a media type`);
    let match: MediaRange | undefined;
    let matchSpecificity = -1;
    for (const r of ranges) {
      const s = specificity(r, o);
      if (s > matchSpecificity) {
        match = r;
        matchSpecificity = s;
      }
    }
    if (match && match.q > bestQ) {
      bestQ = match.q;
      best = { offer, byWildcard: matchSpecificity === 0 };
    }
  }
  return best;
}
