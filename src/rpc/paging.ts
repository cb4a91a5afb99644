/**
 * Pages of list methods bounded by bytes as well as by count (DESIGN.md
 * invariant 7: every answer has a budget). A page ends at `limit` items or
 * before the item that would take its JSON past `ctx.maxPageBytes`,
 * whichever comes first; `next` is then the cursor to continue from, so a
 * client that follows `next` sees every item once, in order, however large
 * the items are. A page always holds at least one item, so paging advances.
 */
import { DEFAULT_ANSWER_LIMITS, type RpcContext } from "./jsonrpc.js";

export interface BytePage {
  items: unknown[];
  /** Cursor of the next page (the last item's), or null when the store had no more. */
  next: string | null;
}

/**
 * `records` is what the store returned for `limit`: all of them fit, or the
 * page stops early at the byte bound. `next` is set when the page was cut or
 * the store filled `limit` (there may be more).
 */
export function pageByBytes<T>(
  records: readonly T[],
  limit: number,
  ctx: RpcContext | undefined,
  toJson: (r: T) => unknown,
  cursorOf: (r: T) => string,
): BytePage {
  const maxBytes = ctx?.maxPageBytes ?? DEFAULT_ANSWER_LIMITS.maxPageBytes;
  const items: unknown[] = [];
  let bytes = 0;
  for (const r of records) {
    if (items.length === limit) break;
    const json = toJson(r);
    // The item's JSON plus its separating comma.
    const size = Buffer.byteLength(JSON.stringify(json) ?? "null", "utf8") + 1;
    if (items.length > 0 && bytes + size > maxBytes) return { items, next: cursorOf(records[items.length - 1]!) };
    items.push(json);
    bytes += size;
  }
  return { items, next: items.length === limit && items.length > 0 ? cursorOf(records[items.length - 1]!) : null };
}
