/**
 * Messages of the snapshot channel (Channel.Snapshot):
 *   listSnapshots {}                       which snapshots do you serve?
 *   snapshots     {items}                  [{height, hash, chunks, bytes}], newest first, at most MAX_LISTED
 *   getManifest   {height}
 *   manifest      {height, data}           the encoded manifest, or null when not served
 *   getChunk      {height, index}
 *   chunk         {height, index, data}    the chunk file, or null when not served
 *   getLightBlock {height}
 *   lightBlock    {height, block, commit, validators?, nextValidators?}
 *                 the block at a height the node holds (its base to its head) and its commit, or nulls;
 *                 with the sets its header names ({publicKey, power} in set order), for the light client
 * decodeSnapshotMessage is the channel's validateBasic: shapes and bounds
 * only. Whether a manifest, chunk or block is the chain's is checked by the
 * state-sync client against the verified header.
 */
import type { Block, Commit } from "../chain/block.js";
import type { CanonicalValue } from "../chain/codec.js";
import { MAX_CHUNK_BITS } from "../chain/snapshot.js";
import { P2pErrorCode } from "./errors.js";
import { decodeBlockShape, decodeCommitShape } from "./sync-messages.js";
import { WireCheck } from "./validate.js";

/** A validator set as the snapshot channel carries it: the members' keys and powers, in set order. */
export interface WireValidator {
  publicKey: Uint8Array;
  power: number;
}

/** Most members of one set on the wire. */
export const MAX_WIRE_VALIDATORS = 1024;

/** Most snapshots one node lists. */
export const MAX_LISTED = 16;
const MAX_HEIGHT = Number.MAX_SAFE_INTEGER;
const MAX_INDEX = (1 << MAX_CHUNK_BITS) - 1;

export interface SnapshotOffer {
  height: number;
  /** sha256 of the encoded manifest: equal offers are the same snapshot. */
  hash: Uint8Array;
  /** Non-empty chunks. */
  chunks: number;
  /** Bytes of all chunk files. */
  bytes: number;
}

export type SnapshotMessage =
  | { type: "listSnapshots" }
  | { type: "snapshots"; items: SnapshotOffer[] }
  | { type: "getManifest"; height: number }
  | { type: "manifest"; height: number; data: Uint8Array | null }
  | { type: "getChunk"; height: number; index: number }
  | { type: "chunk"; height: number; index: number; data: Uint8Array | null }
  | { type: "getLightBlock"; height: number }
  | { type: "lightBlock"; height: number; block: Block | null; commit: Commit | null; validators?: WireValidator[]; nextValidators?: WireValidator[] };

const check = new WireCheck(P2pErrorCode.INVALID_MESSAGE);

function data(v: CanonicalValue | undefined, what: string): Uint8Array | null {
  return v === null ? null : check.bytes(v, what);
}

export function decodeSnapshotMessage(m: CanonicalValue): SnapshotMessage {
  const type = check.record(m, "snapshot message", ["type"], ["items", "height", "index", "data", "block", "commit", "validators", "nextValidators"]).type;
  switch (type) {
    case "listSnapshots":
      check.record(m, type, ["type"]);
      return { type };
    case "snapshots": {
      const r = check.record(m, type, ["type", "items"]);
      const items = check.array(r.items, "snapshots.items", MAX_LISTED).map((it, i): SnapshotOffer => {
        const o = check.record(it, `snapshots.items[${i}]`, ["height", "hash", "chunks", "bytes"]);
        return {
          height: check.int(o.height, `snapshots.items[${i}].height`, 1, MAX_HEIGHT),
          hash: check.bytes(o.hash, `snapshots.items[${i}].hash`, 32),
          chunks: check.int(o.chunks, `snapshots.items[${i}].chunks`, 0, MAX_INDEX + 1),
          bytes: check.int(o.bytes, `snapshots.items[${i}].bytes`, 0, MAX_HEIGHT),
        };
      });
      return { type, items };
    }
    case "getManifest":
    case "getLightBlock": {
      const r = check.record(m, type, ["type", "height"]);
      return { type, height: check.int(r.height, `${type}.height`, 1, MAX_HEIGHT) };
    }
    case "manifest": {
      const r = check.record(m, type, ["type", "height", "data"]);
      return { type, height: check.int(r.height, "manifest.height", 1, MAX_HEIGHT), data: data(r.data, "manifest.data") };
    }
    case "getChunk": {
      const r = check.record(m, type, ["type", "height", "index"]);
      return { type, height: check.int(r.height, "getChunk.height", 1, MAX_HEIGHT), index: check.int(r.index, "getChunk.index", 0, MAX_INDEX) };
    }
    case "chunk": {
      const r = check.record(m, type, ["type", "height", "index", "data"]);
      return { type, height: check.int(r.height, "chunk.height", 1, MAX_HEIGHT), index: check.int(r.index, "chunk.index", 0, MAX_INDEX), data: data(r.data, "chunk.data") };
    }
    case "lightBlock": {
      const r = check.record(m, type, ["type", "height", "block", "commit"], ["validators", "nextValidators"]);
      const block = r.block === null ? null : decodeBlockShape(r.block, "lightBlock.block");
      const commit = r.commit === null ? null : decodeCommitShape(r.commit, "lightBlock.commit");
      if ((block === null) !== (commit === null)) throw check.fail("lightBlock", "block and commit come together or not at all");
      if ((r.validators === undefined) !== (r.nextValidators === undefined)) throw check.fail("lightBlock", "validators and nextValidators come together or not at all");
      const out: SnapshotMessage = { type, height: check.int(r.height, "lightBlock.height", 1, MAX_HEIGHT), block, commit };
      if (r.validators !== undefined) {
        out.validators = wireSet(r.validators, "lightBlock.validators");
        out.nextValidators = wireSet(r.nextValidators, "lightBlock.nextValidators");
      }
      return out;
    }
    default:
      throw check.fail("snapshot message", `unknown type ${JSON.stringify(type)?.slice(0, 32)}`);
  }
}

function wireSet(v: CanonicalValue | undefined, what: string): WireValidator[] {
  return check.array(v, what, MAX_WIRE_VALIDATORS).map((it, i) => {
    const o = check.record(it, `${what}[${i}]`, ["publicKey", "power"]);
    return { publicKey: check.bytes(o.publicKey, `${what}[${i}].publicKey`, 33), power: check.int(o.power, `${what}[${i}].power`, 1, MAX_HEIGHT) };
  });
}
