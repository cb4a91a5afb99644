/**
 * Every LevelDB key prefix of the node, in one place. Keys are bytes: a
 * one-byte bucket tag followed by the bucket's key.
 */
import { allocBytes, utf8 } from "../crypto/bytes.js";

export enum Bucket {
  /**
   * name (utf8) -> value: "head" (ChainHead), "genesisHash", "signState" (validator's double-sign guard),
   * "versionIndex" (u8: layout of the DidVersionEntry and DidVersionTime indexes, absent before they existed),
   * "txIndex" (u8 2: the TxIndex holds 12-byte keys only, the store begun with them; absent in an older store),
   * "exportSeq" (u64be: the last export sequence number assigned, 0 before the first tx; absent before the
   * Export bucket existed), "stateKeptFrom" (u64be), "baseHeight" (u64be: a store restored from a snapshot),
   * "proposerPriorities/<height>" (the consensus's encoded proposer priorities of that height)
   */
  Meta = 0x4d, // 'M'
  /**
   * height (u64be) -> encoded Block, its txs in BlockTx (the txs array left empty); a store of the earlier
   * layout has them here, inline
   */
  Block = 0x42, // 'B'
  /** height (u64be) index (u32be) -> encoded tx: a block's txs, one key each, so one tx is one get */
  BlockTx = 0x62, // 'b'
  /** height (u64be) -> encoded Commit for the block at that height (the "seen commit") */
  Commit = 0x43, // 'C'
  /** block hash (32) -> height (u64be) */
  BlockByHash = 0x48, // 'H'
  /**
   * tx hash, first 12 bytes -> (height, index) as unsigned LEB128 varints, for every committed tx whose hash
   * starts so (one but for a collision; the tx read back says which); a store of the earlier layout has
   * tx hash (32) -> cbor {height, index}, read as it is (repositories/tx-index.ts)
   */
  TxIndex = 0x54, // 'T'
  /**
   * did (utf8) -> encoded DidRecord: the current state, whole or by reference to the tx holding its document
   * (0x00, or 0x01 when that tx made the current version, whose DidVersionEntry is then not stored;
   * repositories/state-records.ts)
   */
  Did = 0x44, // 'D'
  /** did (utf8) 0x00 versionId (u32be) -> encoded DidVersion: the history */
  DidVersion = 0x56, // 'V'
  /**
   * did (utf8) 0x00 versionId (u32be) -> cbor {operation, height, time, txHash}: each version without its
   * document, for history pages and the next version's time in resolution metadata
   */
  DidVersionEntry = 0x49, // 'I'
  /**
   * did (utf8) 0x00 time (u64be, block time in ms) versionId (u32be) -> empty: the version valid at a
   * time is the last key not after (did, time, 0xffffffff), one reverse seek. Versions from the second
   * on: when the seek finds none, the first version's entry (DidVersionEntry) says whether it was valid.
   */
  DidVersionTime = 0x57, // 'W'
  /**
   * node hash (32) -> encoded sparse Merkle tree node: the layout before records were keyed by height,
   * read (and pruned) in a store that began with it; nothing new is written here
   */
  SmtNode = 0x4e, // 'N'
  /**
   * height (u64be) node hash (32) -> encoded sparse Merkle tree node, with the places of the records it
   * refers to (smt-node.ts storedForm): each record under the height whose block wrote it, so that the
   * records of one height are neighbours, and so are the ones pruned together
   */
  SmtNodeAt = 0x6e, // 'n'
  /**
   * height (u64be) -> the Merkle nodes the tree at that height no longer holds, one record per height
   * (repositories/smt-nodes.ts), deleted with them once no kept height needs them (store.ts,
   * StoreOptions.stateHistory). A store of the earlier layout has one entry per node: height (u64be)
   * node hash (32) -> empty, or (when the node may be created again) u8 leaf, u16be depth, a key on
   * its path (32); both are read.
   */
  StaleSmtNode = 0x73, // 's'
  /** state id (utf8, "issuer:did:sid:...", "statuslist:did:sid:.../<listId>", "trustees:", "proposal:<hex>") -> encoded record */
  Registry = 0x52, // 'R'
  // 0x58 ('X') held an index of credentials by subject and by issuer, removed with the per-credential records; not reused.
  /** effective height (u64be) -> encoded ValidatorEntry[]: every validator set with the height it starts at (genesis at 1) */
  ValidatorSet = 0x53, // 'S'
  /**
   * Committed evidence of misbehaviour:
   *   'h' evidence hash (32) -> cbor {height, index, validator}   (where it was committed)
   *   'a' height (u64be) index (u32be) -> evidence hash            (all, in commit order)
   *   'v' validator address (20) height (u64be) index (u32be) -> evidence hash   (by validator)
   */
  Evidence = 0x45, // 'E'
  /**
   * export seq (u64be, from 1) of a block's first tx -> 0x01 height (u64be) tx count (u32be): the export log,
   * every committed tx in commit order (height, then index) with a gap-free global number, one entry per
   * block with txs; the txs stay in their block. A store of the earlier layout has an entry per tx:
   * seq -> height (u64be) tx index (u32be), read as it is (export-log.ts)
   */
  Export = 0x4f, // 'O'
}

export function bucketKey(bucket: Bucket, ...parts: Uint8Array[]): Uint8Array {
  let len = 1;
  for (const p of parts) len += p.length;
  const out = allocBytes(len);
  out[0] = bucket;
  let off = 1;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const TWO_32 = 2 ** 32;
const TWO_64 = 2 ** 64;

/**
 * `n` as 8 big-endian bytes. Built from two 32-bit halves, not a BigInt:
 * every key of a height (blocks, a record's tx, the tree's records) is made
 * here, and a BigInt per key was 2.7% of a node's main thread at 1,000,000
 * DIDs. Any integer from 0 to 2^64 - 1 a number holds is written exactly
 * (a cursor of MAX_SAFE_INTEGER + 1 included); anything else is refused.
 * Written byte by byte: a DataView would need the array's `.buffer`, which
 * moves a small array out of the JS heap (a malloc, freed by the GC).
 */
export function u64be(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n >= TWO_64) throw new RangeError(`u64be: expected an integer from 0 to 2^64 - 1, got ${String(n)}`);
  const b = new Uint8Array(8);
  putU32(b, 0, Math.floor(n / TWO_32));
  putU32(b, 4, n >>> 0);
  return b;
}

/** Writes the 32-bit `n` big-endian at `at` (a Uint8Array keeps the low 8 bits of each value). */
function putU32(b: Uint8Array, at: number, n: number): void {
  b[at] = n >>> 24;
  b[at + 1] = n >>> 16;
  b[at + 2] = n >>> 8;
  b[at + 3] = n;
}

/** The 32-bit number at `at`, big-endian (the caller checks the length). */
function getU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function needBytes(b: Uint8Array, offset: number, n: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + n > b.length) throw new RangeError(`expected ${n} bytes at offset ${offset} of ${b.length}`);
}

/** The number in the first 8 bytes of `b` (big-endian); values past 2^53 come back rounded, as a number holds them. */
export function readU64be(b: Uint8Array, offset = 0): number {
  needBytes(b, offset, 8);
  return getU32(b, offset) * TWO_32 + getU32(b, offset + 4);
}

export function readU32be(b: Uint8Array, offset = 0): number {
  needBytes(b, offset, 4);
  return getU32(b, offset);
}

export function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  putU32(b, 0, n);
  return b;
}

export const metaKey = (name: string) => bucketKey(Bucket.Meta, utf8(name));
/** Meta "signState": the validator's double-sign guard state, written with the last block it signed. */
export const signStateKey = () => metaKey("signState");
/** Meta "proposerPriorities/<height>": proposer priorities of that height, written with the block before it. */
export const proposerPrioritiesKey = (height: number) => metaKey(`proposerPriorities/${height}`);
export const blockKey = (height: number) => bucketKey(Bucket.Block, u64be(height));
export const blockTxKey = (height: number, index: number) => bucketKey(Bucket.BlockTx, u64be(height), u32be(index));
export const commitKey = (height: number) => bucketKey(Bucket.Commit, u64be(height));
export const blockByHashKey = (hash: Uint8Array) => bucketKey(Bucket.BlockByHash, hash);
export const txIndexKey = (hash: Uint8Array) => bucketKey(Bucket.TxIndex, hash);
export const didKey = (did: string) => bucketKey(Bucket.Did, utf8(did));
export const didVersionKey = (did: string, versionId: number) =>
  bucketKey(Bucket.DidVersion, utf8(did), Uint8Array.of(0), u32be(versionId));
export const didVersionPrefix = (did: string) => bucketKey(Bucket.DidVersion, utf8(did), Uint8Array.of(0));
export const didVersionEntryKey = (did: string, versionId: number) =>
  bucketKey(Bucket.DidVersionEntry, utf8(did), Uint8Array.of(0), u32be(versionId));
export const didVersionEntryPrefix = (did: string) => bucketKey(Bucket.DidVersionEntry, utf8(did), Uint8Array.of(0));
export const didVersionTimeKey = (did: string, time: number, versionId: number) =>
  bucketKey(Bucket.DidVersionTime, utf8(did), Uint8Array.of(0), u64be(time), u32be(versionId));
export const didVersionTimePrefix = (did: string) => bucketKey(Bucket.DidVersionTime, utf8(did), Uint8Array.of(0));
export const exportKey = (seq: number) => bucketKey(Bucket.Export, u64be(seq));
/** The buckets of the tree store (db/level-kv.ts): the tree's records keyed by height and the stale-record index. */
export const TREE_BUCKETS: readonly number[] = [Bucket.SmtNodeAt, Bucket.StaleSmtNode];
export const isTreeKey = (key: Uint8Array): boolean => key[0] === Bucket.SmtNodeAt || key[0] === Bucket.StaleSmtNode;
/**
 * The lowest height whose state tree is whole (u64be), in the tree store
 * beside the prunes that move it: the stale-record bucket's tag alone,
 * before every height's record. (Meta "stateKeptFrom" in a store written
 * before the tree store.)
 */
export const stateKeptFromKey = () => Uint8Array.of(Bucket.StaleSmtNode);
export const smtNodeKey = (hash: Uint8Array) => bucketKey(Bucket.SmtNode, hash);
export const smtNodeAtKey = (height: number, hash: Uint8Array) => bucketKey(Bucket.SmtNodeAt, u64be(height), hash);
export const staleSmtNodeKey = (height: number, hash: Uint8Array) => bucketKey(Bucket.StaleSmtNode, u64be(height), hash);
export const staleSmtNodesKey = (height: number) => bucketKey(Bucket.StaleSmtNode, u64be(height));
export const registryKey = (stateId: string) => bucketKey(Bucket.Registry, utf8(stateId));
export const registryPrefix = (kind: string) => bucketKey(Bucket.Registry, utf8(`${kind}:`));
export const validatorSetKey = (effectiveHeight: number) => bucketKey(Bucket.ValidatorSet, u64be(effectiveHeight));
export const evidenceByHashKey = (hash: Uint8Array) => bucketKey(Bucket.Evidence, Uint8Array.of(0x68), hash);
export const evidenceOrderPrefix = () => bucketKey(Bucket.Evidence, Uint8Array.of(0x61));
export const evidenceOrderKey = (height: number, index: number) => bucketKey(Bucket.Evidence, Uint8Array.of(0x61), u64be(height), u32be(index));
export const evidenceByValidatorPrefix = (validator: Uint8Array) => bucketKey(Bucket.Evidence, Uint8Array.of(0x76), validator);
export const evidenceByValidatorKey = (validator: Uint8Array, height: number, index: number) =>
  bucketKey(Bucket.Evidence, Uint8Array.of(0x76), validator, u64be(height), u32be(index));
