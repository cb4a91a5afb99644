/**
 * The export log: every committed tx gets a global sequence number, 1, 2,
 * 3, ... in commit order (block height, then position in the block). Every
 * tx in a committed block changed state (a block with a tx that does not
 * apply is invalid as a whole), so the log holds every DID operation and
 * every registry change, and nothing else. The numbers follow from the
 * chain alone: every node that holds the same blocks numbers them the same,
 * however it got them (consensus, block sync, replay).
 *
 * The store keeps one entry per block, under the number of its first tx:
 * the block's height and its tx count (a run: the k-th tx of the block has
 * the number first + k). A store of the earlier layout has one entry per
 * tx, (height, index), read as a run of one. The tx bytes stay in their
 * block. What an op is (kind, subject) is read from the tx.
 */
import { toHex } from "../crypto/bytes.js";
import { readU32be, readU64be } from "./buckets.js";
import { TRUSTEES_ID, type GovAction, issuerStateId, statusListStateId } from "./state.js";
import { type Tx, TxType } from "./tx.js";
import { VALIDATORS_ID } from "./validators.js";

/** One export log entry: sequence number and where its tx is. */
export interface ExportEntry {
  seq: number;
  height: number;
  /** Position of the tx in its block's tx list. */
  index: number;
}

/** An entry of the earlier layout, one tx: height (u64be) then index (u32be). */
export const EXPORT_ENTRY_BYTES = 12;
/** A block's run: 0x01, height (u64be), tx count (u32be). */
export const EXPORT_RUN_BYTES = 13;
const RUN_TAG = 0x01;

/** Txs numbered `first` to `first + count - 1` are the txs `index` to `index + count - 1` of the block at `height`. */
export interface ExportRun {
  first: number;
  height: number;
  index: number;
  count: number;
}

export function encodeExportRun(height: number, count: number): Uint8Array {
  const b = new Uint8Array(EXPORT_RUN_BYTES);
  const v = new DataView(b.buffer);
  b[0] = RUN_TAG;
  v.setBigUint64(1, BigInt(height));
  v.setUint32(9, count);
  return b;
}

/** A stored entry under the number `first`: a block's run, or one tx of the earlier layout. */
export function decodeExportRun(first: number, raw: Uint8Array): ExportRun {
  if (raw.length === EXPORT_ENTRY_BYTES) {
    const e = decodeExportEntry(first, raw);
    return { first, height: e.height, index: e.index, count: 1 };
  }
  if (raw.length !== EXPORT_RUN_BYTES || raw[0] !== RUN_TAG) {
    throw new Error(`export log entry ${first} is ${raw.length} bytes starting 0x${(raw[0] ?? 0).toString(16)}, expected ${EXPORT_RUN_BYTES} starting 0x01 (or ${EXPORT_ENTRY_BYTES})`);
  }
  const count = readU32be(raw, 9);
  if (count === 0) throw new Error(`export log entry ${first} is a run of no tx`);
  return { first, height: readU64be(raw.subarray(1)), index: 0, count };
}

export function encodeExportEntry(height: number, index: number): Uint8Array {
  const b = new Uint8Array(EXPORT_ENTRY_BYTES);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(height));
  v.setUint32(8, index);
  return b;
}

export function decodeExportEntry(seq: number, raw: Uint8Array): ExportEntry {
  if (raw.length !== EXPORT_ENTRY_BYTES) throw new Error(`export log entry ${seq} is ${raw.length} bytes, expected ${EXPORT_ENTRY_BYTES}`);
  return { seq, height: readU64be(raw), index: readU32be(raw, 8) };
}

/** What an op is about, from its tx alone. */
export interface ExportOp {
  /** The tx type: did/create, did/update, did/deactivate, gov/propose, gov/approve, statuslist/publish. */
  kind: string;
  /** Governance txs: the action's kind (issuer/add, trustees/set, validator/set, ...). */
  action?: string;
  /** Governance txs: the proposal id (hex hash of the propose tx). */
  proposal?: string;
  /**
   * The DID a DID operation writes, or the state id of the registry record an
   * op is about: `issuer:<did>`, `trustees:`, `validators:`, `statuslist:<issuer>/<listId>`.
   */
  subject: string;
}

function actionSubject(a: GovAction): string {
  switch (a.kind) {
    case "trustees/set":
      return TRUSTEES_ID;
    case "validator/set":
      return VALIDATORS_ID;
    default:
      return issuerStateId(a.did);
  }
}

/** Kind and subject of the op a tx is (`hash` is the tx hash, which names a proposal). */
export function exportOpOf(tx: Tx, hash: Uint8Array): ExportOp {
  switch (tx.type) {
    case TxType.DidCreate:
      return { kind: tx.type, subject: tx.payload.document.id };
    case TxType.DidUpdate:
    case TxType.DidDeactivate:
      return { kind: tx.type, subject: tx.payload.did };
    case TxType.GovPropose:
      return { kind: tx.type, action: tx.payload.action.kind, proposal: toHex(hash), subject: actionSubject(tx.payload.action) };
    case TxType.GovApprove:
      return { kind: tx.type, action: tx.payload.action.kind, proposal: tx.payload.proposalId, subject: actionSubject(tx.payload.action) };
    case TxType.StatusListPublish:
      return { kind: tx.type, subject: statusListStateId(tx.signer, tx.payload.listId) };
  }
}
