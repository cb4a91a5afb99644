/**
 * Messages of the block sync channel (4):
 *   status    {height, baseHeight}   the blocks a node can serve: [baseHeight, height]
 *   getBlocks {from, count}          ask for blocks from..from+count-1 (count <= MAX_BLOCKS_PER_REQUEST)
 *   blocks    {from, items}          the answer: consecutive {block, commit} from `from`;
 *                                    fewer than asked (or none) when the server has fewer
 * decodeSyncMessage is the channel's validateBasic: shapes and bounds only.
 * Whether a block is the chain's (hash links, commit signatures) is checked
 * by the syncer and by the injected applySyncedBlock.
 */
import { type Block, type BlockHeader, type Commit, type CommitSig, MAX_BLOCK_EVIDENCE } from "../chain/block.js";
import type { CanonicalValue } from "../chain/codec.js";
import { P2pErrorCode } from "./errors.js";
import { WireCheck, type WireRecord } from "./validate.js";

/** Most blocks one getBlocks may ask for (a protocol constant: servers refuse more). */
export const MAX_BLOCKS_PER_REQUEST = 100;
/** Bounds from the genesis rules (at most 150 validators) and consensus params (at most 100,000 txs a block). */
const MAX_COMMIT_SIGS = 150;
const MAX_BLOCK_TXS = 100_000;
const MAX_HEIGHT = Number.MAX_SAFE_INTEGER;

export interface StatusMessage {
  type: "status";
  height: number;
  baseHeight: number;
}

export interface GetBlocksMessage {
  type: "getBlocks";
  from: number;
  count: number;
}

export interface SyncedBlock {
  block: Block;
  /** The commit of this block (its precommit signatures). */
  commit: Commit;
}

export interface BlocksMessage {
  type: "blocks";
  from: number;
  items: SyncedBlock[];
}

export type SyncMessage = StatusMessage | GetBlocksMessage | BlocksMessage;

const check = new WireCheck(P2pErrorCode.INVALID_MESSAGE);

const HEADER_KEYS = ["chainId", "height", "time", "prevHash", "txRoot", "evidenceHash", "stateRoot", "validatorsHash", "nextValidatorsHash", "proposer", "lastCommitHash"] as const;

function decodeHeader(v: CanonicalValue | undefined, what: string): BlockHeader {
  const r = check.record(v, what, HEADER_KEYS);
  return {
    chainId: check.string(r.chainId, `${what}.chainId`, 64),
    height: check.int(r.height, `${what}.height`, 1, MAX_HEIGHT),
    time: check.int(r.time, `${what}.time`, 0, MAX_HEIGHT),
    prevHash: check.bytes(r.prevHash, `${what}.prevHash`, 32),
    txRoot: check.bytes(r.txRoot, `${what}.txRoot`, 32),
    evidenceHash: check.bytes(r.evidenceHash, `${what}.evidenceHash`, 32),
    stateRoot: check.bytes(r.stateRoot, `${what}.stateRoot`, 32),
    validatorsHash: check.bytes(r.validatorsHash, `${what}.validatorsHash`, 32),
    nextValidatorsHash: check.bytes(r.nextValidatorsHash, `${what}.nextValidatorsHash`, 32),
    proposer: check.bytes(r.proposer, `${what}.proposer`, 20),
    lastCommitHash: check.bytes(r.lastCommitHash, `${what}.lastCommitHash`, 32),
  };
}

export function decodeCommitShape(v: CanonicalValue | undefined, what: string): Commit {
  const r = check.record(v, what, ["height", "round", "blockHash", "sigs"]);
  const sigs = check.array(r.sigs, `${what}.sigs`, MAX_COMMIT_SIGS).map((s, i): CommitSig => {
    const sr = check.record(s, `${what}.sigs[${i}]`, ["validator", "sig"]);
    return { validator: check.bytes(sr.validator, `${what}.sigs[${i}].validator`, 20), sig: check.bytes(sr.sig, `${what}.sigs[${i}].sig`, 64) };
  });
  return {
    height: check.int(r.height, `${what}.height`, 1, MAX_HEIGHT),
    round: check.int(r.round, `${what}.round`, 0, MAX_HEIGHT),
    blockHash: check.bytes(r.blockHash, `${what}.blockHash`, 32),
    sigs,
  };
}

export function decodeBlockShape(v: CanonicalValue | undefined, what: string): Block {
  const r = check.record(v, what, ["header", "txs", "evidence", "lastCommit"]);
  return {
    header: decodeHeader(r.header, `${what}.header`),
    txs: check.array(r.txs, `${what}.txs`, MAX_BLOCK_TXS).map((t, i) => check.bytes(t, `${what}.txs[${i}]`)),
    evidence: check.array(r.evidence, `${what}.evidence`, MAX_BLOCK_EVIDENCE).map((e, i) => check.bytes(e, `${what}.evidence[${i}]`)),
    lastCommit: r.lastCommit === null ? null : decodeCommitShape(r.lastCommit, `${what}.lastCommit`),
  };
}

export function decodeSyncMessage(m: CanonicalValue): SyncMessage {
  const type = check.record(m, "sync message", ["type"], ["height", "baseHeight", "from", "count", "items"]).type;
  let r: WireRecord;
  switch (type) {
    case "status": {
      r = check.record(m, "status", ["type", "height", "baseHeight"]);
      const height = check.int(r.height, "status.height", 0, MAX_HEIGHT);
      const baseHeight = check.int(r.baseHeight, "status.baseHeight", 0, MAX_HEIGHT);
      if (baseHeight > height || (height > 0 && baseHeight === 0)) throw check.fail("status.baseHeight", "expected 1 <= baseHeight <= height, or both 0");
      return { type, height, baseHeight };
    }
    case "getBlocks":
      r = check.record(m, "getBlocks", ["type", "from", "count"]);
      return { type, from: check.int(r.from, "getBlocks.from", 1, MAX_HEIGHT), count: check.int(r.count, "getBlocks.count", 1, MAX_BLOCKS_PER_REQUEST) };
    case "blocks": {
      r = check.record(m, "blocks", ["type", "from", "items"]);
      const items = check.array(r.items, "blocks.items", MAX_BLOCKS_PER_REQUEST).map((it, i): SyncedBlock => {
        const ir = check.record(it, `blocks.items[${i}]`, ["block", "commit"]);
        return { block: decodeBlockShape(ir.block, `blocks.items[${i}].block`), commit: decodeCommitShape(ir.commit, `blocks.items[${i}].commit`) };
      });
      return { type, from: check.int(r.from, "blocks.from", 1, MAX_HEIGHT), items };
    }
    default:
      throw check.fail("sync message", `unknown type ${JSON.stringify(type)?.slice(0, 32)}`);
  }
}
