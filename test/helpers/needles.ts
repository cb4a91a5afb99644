/**
 * Which of many byte strings ("needles") occur in a haystack, in one pass
 * per distinct needle length: a rolling hash of every window of that length
 * is looked up among the needles' hashes, and a hash match is confirmed
 * byte for byte. The cost is the haystack's length times the number of
 * distinct lengths, not times the number of needles.
 */
const BASE = 257;

function hashOf(bytes: Uint8Array, from: number, len: number): number {
  let h = 0;
  for (let i = from; i < from + len; i++) h = (Math.imul(h, BASE) + bytes[i]!) | 0;
  return h;
}

function equalAt(hay: Uint8Array, at: number, needle: Uint8Array): boolean {
  for (let i = 0; i < needle.length; i++) if (hay[at + i] !== needle[i]) return false;
  return true;
}

export class NeedleSet {
  /** length -> hash -> needles of that length and hash */
  private readonly byLength = new Map<number, Map<number, { name: string; bytes: Uint8Array }[]>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(name: string, bytes: Uint8Array): void {
    if (bytes.length === 0) throw new Error(`needle ${name} is empty`);
    let table = this.byLength.get(bytes.length);
    if (!table) this.byLength.set(bytes.length, (table = new Map()));
    const h = hashOf(bytes, 0, bytes.length);
    const list = table.get(h) ?? [];
    list.push({ name, bytes });
    table.set(h, list);
    this.count++;
  }

  /** The names of the needles found in `hay` (each once). */
  find(hay: Uint8Array): string[] {
    const found = new Set<string>();
    for (const [len, table] of this.byLength) {
      if (hay.length < len) continue;
      let pow = 1;
      for (let i = 1; i < len; i++) pow = Math.imul(pow, BASE);
      let h = hashOf(hay, 0, len);
      for (let at = 0; ; at++) {
        const hits = table.get(h);
        if (hits) for (const n of hits) if (equalAt(hay, at, n.bytes)) found.add(n.name);
        if (at + len >= hay.length) break;
        h = (Math.imul((h - Math.imul(hay[at]!, pow)) | 0, BASE) + hay[at + len]!) | 0;
      }
    }
    return [...found];
  }
}
