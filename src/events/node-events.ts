/**
 * What the node tells its other parts about the chain as it happens: one
 * typed emitter, fed by the node, read by WS subscriptions and metrics. Payloads
 * are already in their wire form (hex hashes, ISO times), built once per
 * event however many subscribers there are.
 */
import { EventEmitter } from "node:events";
import { toHex } from "../crypto/bytes.js";
import { type Block, type HeaderJson, headerToJson } from "../chain/block.js";
import type { CheckedTx, StatusListEvent } from "../chain/execute.js";
import type { DidOperation, DidVersion } from "../chain/state.js";

/** The header of a committed block, as newHeads subscribers receive it: the header's JSON (time ISO 8601, as in block_get) and more. */
export interface HeadSummary extends HeaderJson<string> {
  hash: string;
  txCount: number;
  /**
   * Wall clock of the node (ms since the epoch) when the block was committed
   * to the store: lets a subscriber on the same clock measure delivery delay.
   */
  committedAt: number;
}

/** One DID version written by a block, in commit order. */
export interface DidChange {
  did: string;
  operation: DidOperation;
  /** Decimal string, as in did_history and the resolution metadata. */
  versionId: string;
  height: number;
  txHash: string;
}

export interface BlockCommittedEvent {
  head: HeadSummary;
  /** Hashes of the block's txs; the position is the tx's index in the block. */
  txHashes: string[];
  didChanges: DidChange[];
  /** Consensus round in which the block was committed. */
  round: number;
}

export interface TxRejectedEvent {
  hash: string;
  error: { code: string; message: string };
}

/**
 * A status list published: the node emits one per statuslist/publish, in
 * commit order, right after its block's event; the `statusLists` topic
 * filters them by issuer. Issuer-level only: nothing names a holder.
 */
export type { StatusListEvent } from "../chain/execute.js";

export interface NodeEventMap {
  block: [BlockCommittedEvent];
  txRejected: [TxRejectedEvent];
  statusList: [StatusListEvent];
}

/** The node's event source. Listeners run synchronously inside emit: they must not block or throw. */
export class NodeEvents extends EventEmitter<NodeEventMap> {
  constructor() {
    super();
    // Every WS connection listens through one hub, so a handful of listeners is normal; this only guards against leaks.
    this.setMaxListeners(50);
  }
}

/** The parts of a committed block that the events are built from (the engine's block event). */
export interface CommittedBlock {
  block: Block;
  hash: Uint8Array;
  txs: CheckedTx[];
  versions: DidVersion[];
}

/** Turn the engine's block event into the wire-form event, stamped with the commit wall time. */
export function blockCommittedEvent(c: CommittedBlock, committedAt: number, round: number): BlockCommittedEvent {
  const h = c.block.header;
  return {
    head: { ...headerToJson(h, "iso"), hash: toHex(c.hash), txCount: c.txs.length, committedAt },
    txHashes: c.txs.map((t) => toHex(t.hash)),
    didChanges: c.versions.map((v) => ({
      did: v.did,
      operation: v.operation,
      versionId: String(v.versionId),
      height: v.height,
      txHash: toHex(v.txHash),
    })),
    round,
  };
}
