/**
 * Subscriptions: which client wants which node events, and the
 * `subscribe` / `unsubscribe` JSON-RPC methods of a WS connection.
 *
 * Notifications have the Ethereum shape
 *   {"jsonrpc":"2.0","method":"subscription","params":{"subscription":ID,"result":...}}
 * Each event's result is serialized once and spliced into every subscriber's
 * envelope. Delivery is a synchronous hand-off to the subscriber's sink
 * (a bounded queue that drops a slow client): the broadcast path never waits
 * for a client. The `export` topic pulls instead: its pages are read from the
 * store after the subscription's cursor, the next once the connection has
 * written the last out (ExportStream), so a slow client is paged, not dropped.
 */
import { randomBytes } from "node:crypto";
import { parseDid } from "../did/syntax.js";
import { RpcParamsError } from "./errors.js";
import type { BlockCommittedEvent, NodeEvents, StatusListEvent, TxRejectedEvent } from "../events/node-events.js";
import { type MethodTable, type RpcContext, defineMethod } from "./jsonrpc.js";
import { Shape, Type } from "../check/index.js";
import { SubscriptionError, SubscriptionErrorCode } from "./ws-errors.js";
import { type ExportPageReader, ExportStream } from "./export-methods.js";

export const TOPICS = Object.freeze(["newHeads", "did", "statusLists", "tx", "export"] as const);
export type Topic = (typeof TOPICS)[number];

/** The final status of a tx, as a `tx` subscription reports it. */
export type TxOutcome =
  | { hash: string; status: "committed"; height: number; index: number }
  | { hash: string; status: "rejected"; error: { code: string; message: string } };

/** Where a tx stands now: committed or rejected (final), or undefined while pending or unknown. */
export type TxOutcomeLookup = (hash: string) => Promise<TxOutcome | undefined>;

/** Where one client's notifications go. `send` must not block: it queues or drops the client. */
export interface NotificationSink {
  send(text: string): void;
  /** Called when notifications pile up before they can even be queued: the client is dropped as too slow. */
  overflow(): void;
  /** Resolves once everything queued has been written out (the export topic sends its next page then); absent: at once. */
  drained?(): Promise<void>;
}

/** The export topic's filter: the seq to stream after, and whether pages carry block headers and commits. */
export interface ExportFilter {
  after: number;
  blocks: boolean;
}

/** How the hub serves the export topic: the page reader and the byte bound of one page (one notification). */
export interface ExportTopicOptions {
  reader: ExportPageReader;
  pageBytes: number;
}

/** The statusLists topic filters by issuer only: invariant 5, nothing per holder or credential to filter by. */
export interface StatusListFilter {
  issuer?: string;
}

/** Most notifications held for a subscription between its creation and the answer to `subscribe`. */
const MAX_HELD = 10_000;
const MAX_FILTER_STRING = 256;
const HASH_RE = /^[0-9a-f]{64}$/;

export class Subscription {
  /** Notifications made before the client has the subscription id; undefined once active. */
  private held: string[] | undefined = [];
  ended = false;

  constructor(
    readonly id: string,
    readonly topic: Topic,
    readonly owner: Subscriber,
    /** The DID (did topic) or tx hash (tx topic) this subscription is indexed by; undefined for all. */
    readonly key: string | undefined,
    readonly statusListFilter: StatusListFilter | undefined,
    readonly exportFilter?: ExportFilter,
  ) {}

  /** The export topic's stream, started once the subscription is active. */
  exportStream: ExportStream | undefined;

  /** Deliver one event, `resultJson` being the already-serialized result. */
  notify(resultJson: string): void {
    if (this.ended) return;
    // The id is "0x" + hex, so it needs no escaping.
    const text = '{"jsonrpc":"2.0","method":"subscription","params":{"subscription":"' + this.id + '","result":' + resultJson + "}}";
    if (this.held === undefined) {
      this.owner.sink.send(text);
      return;
    }
    this.held.push(text);
    if (this.held.length > MAX_HELD) this.owner.sink.overflow();
  }

  /**
   * Start sending. Called once the answer to `subscribe` has gone out, so a
   * client never sees a notification for an id it does not know yet. What was
   * held goes out even if the subscription has ended since: that is a tx
   * subscription whose one report was made while it was being opened (a
   * client cannot unsubscribe an id it has not been given).
   */
  activate(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    for (const text of held) this.owner.sink.send(text);
    this.exportStream?.start();
  }
}

/** The subscriptions of one connection, bounded in number. */
export class Subscriber {
  private readonly subs = new Map<string, Subscription>();
  private closed = false;

  constructor(
    private readonly hub: SubscriptionHub,
    readonly sink: NotificationSink,
    private readonly maxSubscriptions: number,
  ) {}

  get size(): number {
    return this.subs.size;
  }

  /** Check the filter, open a subscription (held until activated). `tx` reports at once if the tx is already final. */
  async subscribe(topic: Topic, filter: Record<string, unknown> | undefined): Promise<Subscription> {
    if (this.subs.size >= this.maxSubscriptions) {
      throw new SubscriptionError(SubscriptionErrorCode.LIMIT, `this connection already holds ${this.maxSubscriptions} subscriptions, the most allowed; unsubscribe first`, {
        limit: this.maxSubscriptions,
      });
    }
    const { key, statusListFilter, exportFilter } = checkFilter(topic, filter);
    if (topic === "export" && !this.hub.servesExport) throw new RpcParamsError("topic", "this node does not serve the export topic");
    const sub = new Subscription(newSubscriptionId(), topic, this, key, statusListFilter, exportFilter);
    if (this.closed) {
      sub.ended = true;
      return sub;
    }
    this.subs.set(sub.id, sub);
    this.hub.add(sub);
    if (topic === "tx") {
      // Indexed before the lookup, so a commit between the two is not missed; `ended` keeps it to one report.
      try {
        const outcome = await this.hub.lookupTx(key!);
        if (outcome !== undefined) this.hub.settleTx(sub, outcome);
      } catch (e) {
        this.remove(sub);
        throw e;
      }
    }
    return sub;
  }

  unsubscribe(id: string): void {
    const sub = this.subs.get(id);
    if (sub === undefined) {
      throw new SubscriptionError(SubscriptionErrorCode.NOT_FOUND, `no subscription ${id.slice(0, 80)} on this connection`, { subscription: id.slice(0, 80) });
    }
    this.remove(sub);
  }

  /** End one subscription (unsubscribed, or a tx subscription that has reported). */
  remove(sub: Subscription): void {
    sub.ended = true;
    this.subs.delete(sub.id);
    this.hub.delete(sub);
  }

  /** The connection is gone: drop every subscription, refuse new ones. */
  close(): void {
    this.closed = true;
    for (const sub of this.subs.values()) {
      sub.ended = true;
      this.hub.delete(sub);
    }
    this.subs.clear();
  }
}

function newSubscriptionId(): string {
  return "0x" + randomBytes(16).toString("hex");
}

function filterKeys(topic: Topic, filter: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(filter)) {
    if (!allowed.includes(k)) {
      const expected = allowed.length === 0 ? "no filter" : `only ${allowed.join(", ")}`;
      throw new RpcParamsError("filter", `unknown key ${JSON.stringify(k.slice(0, 40))}: topic ${topic} takes ${expected}`);
    }
  }
}

function filterString(filter: Record<string, unknown>, key: string): string | undefined {
  const v = filter[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "" || v.length > MAX_FILTER_STRING) {
    throw new RpcParamsError(`filter.${key}`, `expected a non-empty string of at most ${MAX_FILTER_STRING} characters`);
  }
  return v;
}

/** Validate a topic's filter; the result says how the subscription is indexed. */
function checkFilter(topic: Topic, filter: Record<string, unknown> | undefined): { key?: string; statusListFilter?: StatusListFilter; exportFilter?: ExportFilter } {
  const f = filter ?? {};
  switch (topic) {
    case "newHeads":
      filterKeys(topic, f, []);
      return {};
    case "did": {
      filterKeys(topic, f, ["did"]);
      const did = filterString(f, "did");
      if (did === undefined) return {};
      try {
        return { key: parseDid(did).did };
      } catch (e) {
        throw new RpcParamsError("filter.did", (e as Error).message);
      }
    }
    case "statusLists": {
      filterKeys(topic, f, ["issuer"]);
      const issuer = filterString(f, "issuer");
      if (issuer === undefined) return { statusListFilter: {} };
      try {
        return { statusListFilter: { issuer: parseDid(issuer).did } };
      } catch (e) {
        throw new RpcParamsError("filter.issuer", (e as Error).message);
      }
    }
    case "tx": {
      filterKeys(topic, f, ["hash"]);
      const hash = filterString(f, "hash");
      if (hash === undefined) throw new RpcParamsError("filter.hash", "required: the tx subscription follows one tx");
      if (!HASH_RE.test(hash)) throw new RpcParamsError("filter.hash", "expected 64 lowercase hex characters");
      return { key: hash };
    }
    case "export": {
      filterKeys(topic, f, ["after", "blocks"]);
      const after = f.after ?? 0;
      if (typeof after !== "number" || !Number.isSafeInteger(after) || after < 0) throw new RpcParamsError("filter.after", "expected an export sequence number (an integer, 0 or more)");
      const blocks = f.blocks ?? false;
      if (typeof blocks !== "boolean") throw new RpcParamsError("filter.blocks", "expected a boolean");
      return { exportFilter: { after, blocks } };
    }
  }
}

function statusListMatches(f: StatusListFilter, ev: StatusListEvent): boolean {
  return f.issuer === undefined || f.issuer === ev.issuer;
}

function addTo(index: Map<string, Set<Subscription>>, key: string, sub: Subscription): void {
  let set = index.get(key);
  if (set === undefined) index.set(key, (set = new Set()));
  set.add(sub);
}

function deleteFrom(index: Map<string, Set<Subscription>>, key: string, sub: Subscription): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(sub);
  if (set.size === 0) index.delete(key);
}

/**
 * Every live subscription of a node, indexed so that an event costs work in
 * proportion to the subscribers it reaches: DID and tx subscriptions are
 * found by key, not by scanning.
 */
export class SubscriptionHub {
  private readonly heads = new Set<Subscription>();
  private readonly allDids = new Set<Subscription>();
  private readonly didsByKey = new Map<string, Set<Subscription>>();
  private readonly statusLists = new Set<Subscription>();
  private readonly txsByHash = new Map<string, Set<Subscription>>();
  private readonly exports = new Set<Subscription>();
  private count = 0;
  private readonly listeners: { block: (ev: BlockCommittedEvent) => void; txRejected: (ev: TxRejectedEvent) => void; statusList: (ev: StatusListEvent) => void };

  constructor(
    private readonly events: NodeEvents,
    readonly lookupTx: TxOutcomeLookup,
    private readonly exportTopic?: ExportTopicOptions,
  ) {
    this.listeners = { block: (ev) => this.onBlock(ev), txRejected: (ev) => this.onTxRejected(ev), statusList: (ev) => this.onStatusList(ev) };
    events.on("block", this.listeners.block);
    events.on("txRejected", this.listeners.txRejected);
    events.on("statusList", this.listeners.statusList);
  }

  /** Whether the export topic is served (the hub was given a page reader). */
  get servesExport(): boolean {
    return this.exportTopic !== undefined;
  }

  /** Live subscriptions, all connections together. */
  get size(): number {
    return this.count;
  }

  /** Stop listening to the node. */
  dispose(): void {
    this.events.off("block", this.listeners.block);
    this.events.off("txRejected", this.listeners.txRejected);
    this.events.off("statusList", this.listeners.statusList);
  }

  add(sub: Subscription): void {
    this.count++;
    switch (sub.topic) {
      case "newHeads":
        this.heads.add(sub);
        break;
      case "did":
        if (sub.key === undefined) this.allDids.add(sub);
        else addTo(this.didsByKey, sub.key, sub);
        break;
      case "statusLists":
        this.statusLists.add(sub);
        break;
      case "tx":
        addTo(this.txsByHash, sub.key!, sub);
        break;
      case "export":
        this.exports.add(sub);
        sub.exportStream = this.exportStreamOf(sub);
        break;
    }
  }

  /** The stream of an export subscription: pages into the subscription, the next once the connection drained the last. */
  private exportStreamOf(sub: Subscription): ExportStream {
    const sink = sub.owner.sink;
    return new ExportStream(
      this.exportTopic!.reader,
      { notify: (json) => sub.notify(json), drained: () => sink.drained?.() ?? Promise.resolve(), ended: () => sub.ended },
      { ...sub.exportFilter!, maxBytes: this.exportTopic!.pageBytes },
    );
  }

  delete(sub: Subscription): void {
    let removed: boolean;
    switch (sub.topic) {
      case "newHeads":
        removed = this.heads.delete(sub);
        break;
      case "did":
        if (sub.key === undefined) removed = this.allDids.delete(sub);
        else {
          removed = this.didsByKey.get(sub.key)?.has(sub) === true;
          deleteFrom(this.didsByKey, sub.key, sub);
        }
        break;
      case "statusLists":
        removed = this.statusLists.delete(sub);
        break;
      case "tx":
        removed = this.txsByHash.get(sub.key!)?.has(sub) === true;
        deleteFrom(this.txsByHash, sub.key!, sub);
        break;
      case "export":
        removed = this.exports.delete(sub);
        break;
    }
    if (removed) this.count--;
  }

  /** Report a tx's final status once, then end the subscription (the tx topic's contract). */
  settleTx(sub: Subscription, outcome: TxOutcome): void {
    if (sub.ended) return;
    sub.notify(JSON.stringify(outcome));
    sub.owner.remove(sub);
  }

  private onBlock(ev: BlockCommittedEvent): void {
    if (this.count === 0) return;
    if (this.heads.size > 0) {
      const json = JSON.stringify(ev.head);
      for (const sub of this.heads) sub.notify(json);
    }
    if (this.allDids.size > 0 || this.didsByKey.size > 0) {
      for (const change of ev.didChanges) {
        const keyed = this.didsByKey.get(change.did);
        if (this.allDids.size === 0 && keyed === undefined) continue;
        const json = JSON.stringify(change);
        for (const sub of this.allDids) sub.notify(json);
        if (keyed !== undefined) for (const sub of keyed) sub.notify(json);
      }
    }
    if (this.txsByHash.size > 0) {
      const height = ev.head.height;
      ev.txHashes.forEach((hash, index) => {
        const subs = this.txsByHash.get(hash);
        if (subs === undefined) return;
        for (const sub of [...subs]) this.settleTx(sub, { hash, status: "committed", height, index });
      });
    }
    if (ev.txHashes.length > 0) for (const sub of this.exports) sub.exportStream?.poke();
  }

  private onTxRejected(ev: TxRejectedEvent): void {
    const subs = this.txsByHash.get(ev.hash);
    if (subs === undefined) return;
    for (const sub of [...subs]) this.settleTx(sub, { hash: ev.hash, status: "rejected", error: { code: ev.error.code, message: ev.error.message } });
  }

  private onStatusList(ev: StatusListEvent): void {
    if (this.statusLists.size === 0) return;
    let json: string | undefined;
    for (const sub of this.statusLists) {
      if (!statusListMatches(sub.statusListFilter ?? {}, ev)) continue;
      json ??= JSON.stringify({ issuer: ev.issuer, listId: ev.listId, height: ev.height });
      sub.notify(json);
    }
  }
}

/**
 * The transport state of one incoming message: whose subscriptions, and
 * which ones the message opened (to activate once its answer is sent).
 */
export class SubscriptionSession {
  readonly opened: Subscription[] = [];
  constructor(readonly subscriber: Subscriber) {}

  /** Call after the answer to the message has been handed to the sink. */
  activateOpened(): void {
    for (const sub of this.opened) sub.activate();
  }
}

function sessionOf(ctx: RpcContext): SubscriptionSession {
  if (!(ctx.session instanceof SubscriptionSession)) throw new Error("subscribe and unsubscribe need a WebSocket connection");
  return ctx.session;
}

/** `subscribe` and `unsubscribe`, served on WebSocket connections only. */
export function subscriptionMethods(): MethodTable {
  return {
    subscribe: defineMethod({
      description: "Open a subscription; notifications carry the returned id. Topics: newHeads, did, statusLists, tx, export.",
      params: Type.Object({ topic: Shape.oneOf(TOPICS), filter: Type.Optional(Shape.object()) }),
      handler: async ({ topic, filter }, ctx): Promise<string> => {
        const session = sessionOf(ctx);
        const sub = await session.subscriber.subscribe(topic, filter);
        session.opened.push(sub);
        return sub.id;
      },
    }),
    unsubscribe: defineMethod({
      description: "End a subscription of this connection.",
      params: Type.Object({ id: Shape.string(100) }),
      handler: ({ id }, ctx): boolean => {
        sessionOf(ctx).subscriber.unsubscribe(id);
        return true;
      },
    }),
  };
}
