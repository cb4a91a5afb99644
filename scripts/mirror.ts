/**
 * `npm run mirror -- --rpc URL --genesis FILE --dir DIR`: a mirror of a sid
 * node's registry that trusts no node (docs/export.md). It follows the
 * export stream (registry_export with blocks) from its cursor and, for every
 * op, checks before keeping it:
 *  - the sequence numbers run on from the cursor without a gap or repeat;
 *  - the block is committed: the SDK's light client (LightClient in
 *    src/client/trust.ts) trusts its header from the highest header it
 *    trusts below, by the sequential or the skipping rule, bisecting over
 *    headers fetched from the node where a skip is not vouched for; headers
 *    commit to the next validator set, so set changes of any size are
 *    followed;
 *  - the tx is in that block: sha256 of the tx bytes is the entry's tx hash,
 *    the block's tx hash at the entry's index, and the block's tx hashes
 *    give the header's txRoot;
 *  - the op's kind and subject are what the tx says;
 *  - the tx signature verifies against the key its `vm` names in the
 *    signer's document as this mirror holds it (every DID's document comes
 *    from ops already verified here, from seq 1).
 * What it keeps goes into a LevelDB in DIR in one atomic batch per page with the
 * cursor, so a mirror stopped at any moment resumes exactly after the last
 * op it kept. An op that fails a check stops the mirror with a MirrorError
 * naming the check; nothing of its page is kept.
 */
import { Level } from "level";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type BlockHeader, type Commit, decodeCommit, encodeCommit, headerHash, txMerkleRoot } from "../src/chain/block.js";
import { decodeCanonical, encodeCanonical } from "../src/chain/codec.js";
import { exportOpOf } from "../src/chain/export-log.js";
import type { LightBlock } from "../src/chain/light-block.js";
import { ProofError } from "../src/chain/proof.js";
import { type Tx, TxType, txSigningDigestOfEncoded } from "../src/chain/tx.js";
import type { ValidatorEntry } from "../src/chain/validators.js";
import { RpcClient } from "../src/client/rpc-client.js";
import { type LightBlockSource, LightClient, RpcLightBlockSource, ValidatorSetTracker } from "../src/client/trust.js";
import { ValidatorSet, validatorAddress } from "../src/chain/validator-set.js";
import { bytesEqual, fromBase64, fromHex, toBase64, toHex } from "../src/crypto/bytes.js";
import { sha256 } from "../src/crypto/hash.js";
import { verifyDigest } from "../src/crypto/secp256k1.js";
import { type DidDocument, type Relationship, keyForRelationship } from "../src/did/document.js";
import { didFromCheckedKey } from "../src/did/syntax.js";
import { CodedError } from "../src/errors.js";
import type { ExportBlockJson, ExportEntryJson, ExportPage } from "../src/rpc/export-methods.js";

export enum MirrorErrorCode {
  /** A page is not shaped as registry_export answers. */
  MALFORMED = "MIRROR_MALFORMED",
  /** A sequence number is not the one after the last kept. */
  GAP = "MIRROR_GAP",
  /** A header is of another chain, or its commit does not sign it, or the light client cannot trust it from the headers it trusts. */
  UNCOMMITTED = "MIRROR_UNCOMMITTED",
  /** The tx is not the one the committed block holds at the entry's index. */
  NOT_IN_BLOCK = "MIRROR_NOT_IN_BLOCK",
  /** The entry's kind or subject is not what its tx says. */
  WRONG_OP = "MIRROR_WRONG_OP",
  /** The tx signature does not verify against the key its vm names in the signer's document. */
  BAD_SIGNATURE = "MIRROR_BAD_SIGNATURE",
}

export class MirrorError extends CodedError<MirrorErrorCode> {}

/** A DID's document as the mirror holds it. */
export interface MirroredDid {
  document: DidDocument;
  deactivated: boolean;
}

/** Where the verifier reads DID documents kept so far. */
export interface DidSource {
  getDid(did: string): Promise<MirroredDid | undefined>;
}

/** A validator as a kept light block lists it. */
export interface KeptValidator {
  publicKey: string;
  power: number;
}

/**
 * A header the light client trusted that carries trust forward: it names a
 * set other than the one trusted before it (its own or its next), or it was
 * a bisection pivot. Replayed from genesis in height order, the kept headers
 * give a tracker that trusts the same sets (docs/export.md).
 */
export interface KeptLightBlock {
  height: number;
  /** base64 of the canonical header bytes. */
  header: string;
  /** base64 of the canonical commit bytes. */
  commit: string;
  validators: KeptValidator[];
  nextValidators: KeptValidator[];
}

/** What one verified page changes: the ops, the DIDs they wrote, the light blocks that carry trust forward. */
export interface VerifiedPage {
  ops: ExportEntryJson[];
  dids: Map<string, MirroredDid>;
  transitions: KeptLightBlock[];
}

/** The validator set a header names at a height, as an older caller fetched it. */
export type FetchValidators = (height: number) => Promise<ValidatorEntry[]>;

const bad = (code: MirrorErrorCode, message: string, data?: Record<string, unknown>) => new MirrorError(code, message, data);

function relationshipOf(tx: Tx): Relationship {
  return tx.type === TxType.StatusListPublish ? "assertionMethod" : "authentication";
}

const keptSet = (s: ValidatorSet): KeptValidator[] => s.validators.map((v) => ({ publicKey: toHex(v.publicKey), power: v.power }));

function setOfKept(list: readonly KeptValidator[]): ValidatorSet {
  return new ValidatorSet(list.map((v, i) => {
    const publicKey = fromHex(v.publicKey, 33);
    return { name: `validator-${i}`, address: validatorAddress(publicKey), publicKey, power: v.power };
  }));
}

export function keptOf(lb: LightBlock): KeptLightBlock {
  return {
    height: lb.header.height,
    header: toBase64(encodeCanonical(lb.header as never)),
    commit: toBase64(encodeCommit(lb.commit)),
    validators: keptSet(lb.validators),
    nextValidators: keptSet(lb.nextValidators),
  };
}

export function lightBlockOfKept(k: KeptLightBlock): LightBlock {
  return {
    header: decodeCanonical(fromBase64(k.header)) as unknown as BlockHeader,
    commit: decodeCommit(fromBase64(k.commit)),
    validators: setOfKept(k.validators),
    nextValidators: setOfKept(k.nextValidators),
  };
}

/** Validator sets remembered by hash (a header names its sets by hash; most headers name the same ones). */
const MAX_KNOWN_SETS = 64;

/**
 * The light client's source while a page is checked: the headers and
 * commits the page carries, with their sets from those already known by
 * hash (else asked of the node); any other height (a bisection pivot) from
 * the node. Nothing here is trusted: the light client checks every block it
 * is given against the headers it trusts.
 */
class PageLightBlockSource implements LightBlockSource {
  private readonly page = new Map<number, { header: BlockHeader; commit: Commit }>();
  private readonly sets = new Map<string, ValidatorSet>();
  /** What was served since the last reset, by height: the target and the pivots of one verification. */
  readonly served = new Map<number, LightBlock>();

  constructor(private readonly node: LightBlockSource) {}

  remember(set: ValidatorSet): void {
    const k = toHex(set.hash);
    if (this.sets.has(k)) return;
    if (this.sets.size >= MAX_KNOWN_SETS) this.sets.delete(this.sets.keys().next().value as string);
    this.sets.set(k, set);
  }

  offer(height: number, header: BlockHeader, commit: Commit): void {
    this.page.set(height, { header, commit });
  }

  clearPage(): void {
    this.page.clear();
  }

  validatorSet(height: number): Promise<ValidatorSet> {
    return this.node.validatorSet(height);
  }

  /** The set a header names by `hash` for `height`: known, or the node's (which the light client then checks against the hash). */
  private async setNamed(hash: Uint8Array, height: number): Promise<ValidatorSet> {
    const known = this.sets.get(toHex(hash));
    if (known) return known;
    const set = await this.node.validatorSet(height);
    if (bytesEqual(set.hash, hash)) this.remember(set);
    return set;
  }

  async lightBlock(height: number): Promise<LightBlock> {
    const b = this.page.get(height);
    let lb: LightBlock;
    if (!b) lb = await this.node.lightBlock(height);
    else {
      const validators = await this.setNamed(b.header.validatorsHash, height);
      const nextValidators = bytesEqual(b.header.nextValidatorsHash, b.header.validatorsHash) ? validators : await this.setNamed(b.header.nextValidatorsHash, height + 1);
      lb = { header: b.header, commit: b.commit, validators, nextValidators };
    }
    this.served.set(height, lb);
    return lb;
  }
}

/** A source that answers validator sets through an older `fetchValidators` function, and has no headers to bisect over. */
function fetchOnlySource(fetchValidators: FetchValidators): LightBlockSource {
  return {
    validatorSet: async (height) => ValidatorSet.fromEntries(await fetchValidators(height)),
    lightBlock: async (height) => {
      throw bad(MirrorErrorCode.UNCOMMITTED, `header ${height} is needed to follow the validator set, and this verifier has no source of headers`);
    },
  };
}

/** Trusted headers verified before the light client's tracker is rebuilt from the kept ones (bounds its memory). */
const COMPACT_EVERY = 4096;

/**
 * Checks export pages against a light client that follows the header chain
 * from genesis (the checks are listed at the top of this file). Pages must
 * come in order: `last` is the seq of the last op verified.
 */
export class ExportVerifier {
  /** Blocks already shown committed, by height: their hash and tx hashes (a page leaves out the block of the previous page's last op). */
  private readonly committed = new Map<number, { hash: string; txHashes: string[] }>();
  private light: LightClient;
  private readonly source: PageLightBlockSource;
  /** The headers that carry trust forward, in height order (KeptLightBlock). */
  private readonly kept: LightBlock[] = [];
  private sinceCompact = 0;
  private readonly compactEvery: number;
  /** How many of `kept` a verified page has handed to its caller already (to be stored). */
  private keptReported = 0;

  /**
   * `trusted`: the tracker to start from (from the genesis file the operator
   * trusts). `node`: where headers, commits and sets the pages do not carry
   * come from (RpcLightBlockSource over the node), or a function that gives
   * only validator sets (then the verifier cannot bisect).
   */
  constructor(
    readonly chainId: string,
    trusted: ValidatorSetTracker,
    private readonly dids: DidSource,
    node: LightBlockSource | FetchValidators,
    public last: number,
    opts: { compactEvery?: number } = {},
  ) {
    this.compactEvery = opts.compactEvery ?? COMPACT_EVERY;
    if (trusted.chainId !== chainId) throw new TypeError(`the tracker is of chain ${trusted.chainId}, not ${chainId}`);
    this.source = new PageLightBlockSource(typeof node === "function" ? fetchOnlySource(node) : node);
    this.source.remember(trusted.anchorBelow(1).nextValidators);
    this.light = new LightClient(trusted, this.source);
  }

  /** The light client's tracker: the headers and sets trusted so far. */
  get trusted(): ValidatorSetTracker {
    return this.light.tracker;
  }

  /** Trust again headers kept by an earlier run (Mirror.open), in height order; each is checked as when it was first trusted. */
  replay(kept: readonly KeptLightBlock[]): void {
    for (const k of kept) {
      const lb = lightBlockOfKept(k);
      this.light.tracker.acceptLightBlock(lb);
      this.keep(lb);
    }
    this.keptReported = this.kept.length;
  }

  private keep(lb: LightBlock): void {
    this.kept.push(lb);
    this.source.remember(lb.validators);
    this.source.remember(lb.nextValidators);
  }

  /**
   * A fresh tracker from genesis that trusts only the kept headers: the
   * sets it trusts are the same (each header not kept names the set
   * trusted before it, and is its own next), and it holds a few headers
   * instead of one per verified block.
   */
  private compact(): void {
    const old = this.light.tracker;
    const fresh = new ValidatorSetTracker(old.chainId, old.anchorBelow(1).nextValidators, {
      trustLevel: old.trustLevel,
      ...(old.genesisHash ? { genesisHash: old.genesisHash } : {}),
    });
    for (const lb of this.kept) fresh.acceptLightBlock(lb);
    this.light = new LightClient(fresh, this.source, { maxFetches: this.light.maxFetches });
    this.sinceCompact = 0;
  }

  /**
   * The light client's fetch-and-verify step for the block at `height`,
   * served from the page (header and commit) with its sets; then notes
   * which of the headers it trusted on the way carry trust forward.
   */
  private async trustBlock(height: number, header: BlockHeader, commit: Commit): Promise<void> {
    let before = this.light.tracker.anchorBelow(height).nextValidators;
    this.source.offer(height, header, commit);
    this.source.served.clear();
    try {
      await this.light.verifyHeight(height);
    } catch (e) {
      if (e instanceof ProofError) throw bad(MirrorErrorCode.UNCOMMITTED, `block ${height} is not committed by validators the light client trusts: ${e.message}`, { cause: e.code });
      throw e;
    } finally {
      this.source.clearPage();
    }
    const tracker = this.light.tracker;
    const trusted = [...this.source.served.values()].filter((lb) => {
      const t = tracker.trustedAt(lb.header.height);
      return t !== undefined && bytesEqual(t.hash, headerHash(lb.header));
    });
    trusted.sort((a, b) => a.header.height - b.header.height);
    for (const lb of trusted) {
      const h = lb.header.height;
      const changes = !bytesEqual(lb.validators.hash, before.hash) || !bytesEqual(lb.nextValidators.hash, before.hash);
      // A pivot is kept too: replayed without it, the header after it might not be vouched for by enough of the set before.
      if ((changes || h !== height) && (this.kept.length === 0 || this.kept[this.kept.length - 1]!.header.height < h)) this.keep(lb);
      before = lb.nextValidators;
    }
    this.source.served.clear();
    if (++this.sinceCompact >= this.compactEvery) this.compact();
  }

  private async checkBlock(height: number, b: ExportBlockJson | undefined): Promise<{ hash: string; txHashes: string[] }> {
    const known = this.committed.get(height);
    if (!b && known) return known;
    if (!b || typeof b.header !== "string" || typeof b.commit !== "string" || !Array.isArray(b.txHashes)) {
      throw bad(MirrorErrorCode.MALFORMED, `the page carries no block ${height} (ask registry_export with blocks: true)`);
    }
    const headerBytes = fromBase64(b.header);
    const hash = toHex(sha256(headerBytes));
    let header: BlockHeader;
    let commit: Commit;
    try {
      header = decodeCanonical(headerBytes) as unknown as BlockHeader;
      commit = decodeCommit(fromBase64(b.commit));
    } catch (e) {
      throw bad(MirrorErrorCode.MALFORMED, `block ${height}: undecodable header or commit: ${(e as Error).message}`);
    }
    // Cheap checks first, before the light client asks the node for anything.
    if (header.chainId !== this.chainId) throw bad(MirrorErrorCode.UNCOMMITTED, `block ${height} is of chain ${header.chainId}, not ${this.chainId}`);
    if (header.height !== height || commit.height !== height) throw bad(MirrorErrorCode.UNCOMMITTED, `block ${height}: header height ${header.height}, commit height ${commit.height}`);
    if (toHex(commit.blockHash) !== hash) throw bad(MirrorErrorCode.UNCOMMITTED, `block ${height}: the commit signs ${toHex(commit.blockHash)}, the header hashes to ${hash}`);
    const txHashes = b.txHashes.map((h) => fromHex(String(h), 32));
    if (!bytesEqual(txMerkleRoot(txHashes), header.txRoot)) throw bad(MirrorErrorCode.NOT_IN_BLOCK, `block ${height}: the tx hashes do not give the header's txRoot`);
    if (known?.hash !== hash) {
      await this.trustBlock(height, header, commit);
      this.committed.set(height, { hash, txHashes: b.txHashes.map(String) });
      // Only the newest few heights come again (a block split across pages).
      if (this.committed.size > 64) this.committed.delete(this.committed.keys().next().value as number);
    }
    return { hash, txHashes: b.txHashes.map(String) };
  }
  /**
   * Verify one page that follows `last`; on success `last` moves to its
   * final seq. The DIDs the page wrote are returned, and the headers newly
   * kept (transitions): the caller keeps them where its DidSource reads
   * before the next page, and the headers to replay (replay) when it opens
   * again. Throws MirrorError.
   */
  async verifyPage(page: ExportPage): Promise<VerifiedPage> {
    if (typeof page !== "object" || page === null || !Array.isArray(page.entries)) throw bad(MirrorErrorCode.MALFORMED, "not an export page");
    const blocks = new Map<number, { hash: string; txHashes: string[] }>();
    const dids = new Map<string, MirroredDid>();
    const didOf = async (did: string) => dids.get(did) ?? (await this.dids.getDid(did));
    let last = this.last;
    for (const e of page.entries) {
      if (e.seq !== last + 1) throw bad(MirrorErrorCode.GAP, `expected op ${last + 1}, the page gives ${e.seq}`, { expected: last + 1, got: e.seq });
      let block = blocks.get(e.height);
      if (!block) {
        block = await this.checkBlock(e.height, page.blocks?.[String(e.height)]);
        blocks.set(e.height, block);
      }
      if (e.blockHash !== block.hash) throw bad(MirrorErrorCode.NOT_IN_BLOCK, `op ${e.seq} names block ${e.blockHash}, the committed block ${e.height} is ${block.hash}`);
      const bytes = fromBase64(e.tx);
      const hash = toHex(sha256(bytes));
      if (hash !== e.txHash || block.txHashes[e.index] !== hash) throw bad(MirrorErrorCode.NOT_IN_BLOCK, `op ${e.seq}: its tx is not tx ${e.index} of block ${e.height}`);
      // The tx is the committed block's (checked above): the validators ran decodeTx's checks on it when they executed the block.
      const tx = decodeCanonical(bytes) as unknown as Tx;
      if (tx.chainId !== this.chainId) throw bad(MirrorErrorCode.WRONG_OP, `op ${e.seq}: its tx is for chain ${tx.chainId}`);
      const op = exportOpOf(tx, sha256(bytes));
      if (op.kind !== e.kind || op.subject !== e.subject || op.action !== e.action || op.proposal !== e.proposal) {
        throw bad(MirrorErrorCode.WRONG_OP, `op ${e.seq} is named ${e.kind} of ${e.subject}; its tx is ${op.kind} of ${op.subject}`);
      }
      let key: Uint8Array | undefined;
      if (tx.type === TxType.DidCreate) {
        key = keyForRelationship(tx.payload.document, "authentication", tx.vm);
        if (key && didFromCheckedKey(key) !== tx.payload.document.id) key = undefined;
      } else {
        const signer = await didOf(tx.signer);
        key = signer ? keyForRelationship(signer.document, relationshipOf(tx), tx.vm) : undefined;
      }
      if (!key || !verifyDigest(tx.sig, txSigningDigestOfEncoded(bytes), key)) {
        throw bad(MirrorErrorCode.BAD_SIGNATURE, `op ${e.seq} (${e.kind} by ${tx.signer}): the signature does not verify against ${tx.vm}`);
      }
      if (tx.type === TxType.DidCreate) dids.set(tx.payload.document.id, { document: tx.payload.document, deactivated: false });
      else if (tx.type === TxType.DidUpdate) dids.set(tx.payload.did, { document: tx.payload.document, deactivated: false });
      else if (tx.type === TxType.DidDeactivate) {
        const cur = await didOf(tx.payload.did);
        if (cur) dids.set(tx.payload.did, { document: cur.document, deactivated: true });
      }
      last = e.seq;
    }
    this.last = last;
    const transitions = this.kept.slice(this.keptReported).map(keptOf);
    this.keptReported = this.kept.length;
    return { ops: page.entries, dids, transitions };
  }
}

type Db = Level<string, string>;
const CURSOR = "m:cursor";
const opKey = (seq: number) => `o:${seq.toString().padStart(16, "0")}`;
const didKey = (did: string) => `d:${did}`;
/** A header the light client trusted that carries trust forward (KeptLightBlock), replayed when the mirror opens. */
const lightKey = (height: number) => `l:${height.toString().padStart(16, "0")}`;

export interface MirrorProgress {
  /** The seq of the last op kept. */
  seq: number;
  /** The node's last seq at the last page. */
  last: number;
  /** Ops kept by this run. */
  ops: number;
  seconds: number;
}

export interface MirrorRunOptions {
  /** Stop after keeping this many ops in this run (the last page is cut to fit). */
  maxOps?: number;
  /** Keep polling the node once caught up (until stop() or maxOps); otherwise stop when caught up. */
  follow?: boolean;
  /** Pause between polls once caught up, ms. */
  pollMs?: number;
  /** Entries per page asked for. */
  limit?: number;
  onProgress?(p: MirrorProgress): void;
}

/** A mirror on disk: the verified ops, the DID documents they leave, the cursor. */
export class Mirror {
  private stopped = false;

  private constructor(
    private readonly db: Db,
    private readonly rpc: Pick<RpcClient, "call">,
    readonly verifier: ExportVerifier,
  ) {}

  /**
   * Open (or create) the mirror in `dir`, following the node at `rpcUrl`
   * (or through `rpc`, a JSON-RPC client of the caller's), trusting the
   * validators of the genesis file.
   */
  static async open(opts: { dir: string; rpcUrl?: string; rpc?: Pick<RpcClient, "call">; genesisFile: string }): Promise<Mirror> {
    const trusted = ValidatorSetTracker.fromGenesisFile(opts.genesisFile);
    if (!opts.rpc && !opts.rpcUrl) throw new TypeError("Mirror.open needs rpcUrl or rpc");
    const rpc = opts.rpc ?? new RpcClient(opts.rpcUrl!);
    const db: Db = new Level<string, string>(opts.dir, { valueEncoding: "utf8" });
    await db.open();
    try {
      const cursor = Number((await db.get(CURSOR)) ?? "0");
      const source: DidSource = {
        getDid: async (did) => {
          const raw = await db.get(didKey(did));
          return raw === undefined ? undefined : (JSON.parse(raw) as MirroredDid);
        },
      };
      const verifier = new ExportVerifier(trusted.chainId, trusted, source, new RpcLightBlockSource(rpc), cursor);
      // The headers that carried trust forward before are trusted again, each checked as it was the first time.
      // (`t:` records of older mirrors name a new set without the headers around it: the light client finds its way from the node instead.)
      const kept: KeptLightBlock[] = [];
      for await (const raw of db.values({ gte: "l:", lt: "l;" })) kept.push(JSON.parse(raw) as KeptLightBlock);
      verifier.replay(kept);
      return new Mirror(db, rpc, verifier);
    } catch (e) {
      await db.close();
      throw e;
    }
  }

  /** The seq of the last op kept. */
  get cursor(): number {
    return this.verifier.last;
  }

  /** A kept op by seq. */
  async getOp(seq: number): Promise<ExportEntryJson | undefined> {
    const raw = await this.db.get(opKey(seq));
    return raw === undefined ? undefined : (JSON.parse(raw) as ExportEntryJson);
  }

  /** A DID's document as mirrored. */
  async getDid(did: string): Promise<MirroredDid | undefined> {
    const raw = await this.db.get(didKey(did));
    return raw === undefined ? undefined : (JSON.parse(raw) as MirroredDid);
  }

  /** Verify a page and keep it with the new cursor in one batch. Returns the ops kept. */
  async apply(page: ExportPage): Promise<number> {
    const v = await this.verifier.verifyPage(page);
    const batch = this.db.batch();
    for (const op of v.ops) batch.put(opKey(op.seq), JSON.stringify(op));
    for (const [did, d] of v.dids) batch.put(didKey(did), JSON.stringify(d));
    for (const t of v.transitions) batch.put(lightKey(t.height), JSON.stringify(t));
    batch.put(CURSOR, String(this.verifier.last));
    // One atomic batch: after any crash the store holds the cursor with exactly the ops before it. Not fsynced
    // per page (that was most of the mirror's time): a power loss may take the last pages back, never half of one.
    await batch.write();
    const tail = v.ops[v.ops.length - 1];
    if (tail) this.lastHeight = tail.height;
    return v.ops.length;
  }

  /** Height of the last op kept: the verifier holds its block, so pages after it leave it out. */
  private lastHeight: number | undefined;

  /** Fetch the page after the cursor (at most `limit` entries). */
  fetchPage(limit: number): Promise<ExportPage> {
    return this.fetchAfter(this.cursor, this.lastHeight, limit);
  }

  private fetchAfter(after: number, knownBlock: number | undefined, limit: number): Promise<ExportPage> {
    return this.rpc.call<ExportPage>("registry_export", { after, limit, blocks: true, ...(knownBlock !== undefined ? { knownBlock } : {}) });
  }

  /** Follow the node: fetch, verify and keep pages until caught up (or maxOps, or stop()). */
  async run(opts: MirrorRunOptions = {}): Promise<MirrorProgress> {
    const t0 = performance.now();
    let ops = 0;
    let last = this.cursor;
    const progress = (): MirrorProgress => ({ seq: this.cursor, last, ops, seconds: (performance.now() - t0) / 1000 });
    const limit = opts.limit ?? 1000;
    const room = () => (opts.maxOps === undefined ? limit : Math.min(limit, opts.maxOps - ops));
    // The next page is fetched while this one is verified: the node works while the mirror does.
    let fetching: Promise<ExportPage> | undefined;
    try {
      while (!this.stopped && room() > 0) {
        const page = await (fetching ?? this.fetchPage(room()));
        fetching = undefined;
        last = page.last;
        const tail = page.entries[page.entries.length - 1];
        const more = page.next !== null && tail !== undefined;
        const ahead = opts.maxOps === undefined ? limit : Math.min(limit, opts.maxOps - ops - page.entries.length);
        if (more && ahead > 0) fetching = this.fetchAfter(tail.seq, tail.height, ahead);
        if (page.entries.length > 0) {
          ops += await this.apply(page);
          opts.onProgress?.(progress());
        }
        if (!more) {
          if (!opts.follow) break;
          await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
        }
      }
    } finally {
      // A page fetched ahead that is not used: its failure (the node gone) is not this run's.
      fetching?.catch(() => undefined);
    }
    return progress();
  }

  /** Make run() return after the page at hand. */
  stop(): void {
    this.stopped = true;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      rpc: { type: "string", default: "http://127.0.0.1:8660" },
      genesis: { type: "string" },
      dir: { type: "string" },
      "max-ops": { type: "string" },
      follow: { type: "boolean", default: false },
      limit: { type: "string", default: "1000" },
    },
  });
  if (!a.genesis || !a.dir) throw new Error("usage: mirror --genesis <genesis.json the validators are trusted from> --dir <mirror dir> [--rpc URL] [--follow] [--max-ops N] [--limit N]");
  const mirror = await Mirror.open({ dir: a.dir, rpcUrl: a.rpc, genesisFile: a.genesis });
  process.once("SIGINT", () => mirror.stop());
  process.once("SIGTERM", () => mirror.stop());
  // The first page is shown at once, then at most one line a second.
  let shown = -1;
  try {
    const start = mirror.cursor;
    process.stderr.write(`[mirror] ${a.rpc} from op ${start}\n`);
    const done = await mirror.run({
      follow: a.follow,
      limit: Number(a.limit),
      ...(a["max-ops"] !== undefined ? { maxOps: Number(a["max-ops"]) } : {}),
      onProgress: (p) => {
        if (p.seconds - shown < 1 && p.seq < p.last) return;
        shown = p.seconds;
        process.stderr.write(`[mirror] op ${p.seq} of ${p.last}, ${p.ops} verified, ${Math.round(p.ops / Math.max(p.seconds, 1e-3))} ops/s\n`);
      },
    });
    process.stdout.write(JSON.stringify({ from: start, cursor: done.seq, nodeLast: done.last, verified: done.ops, seconds: Math.round(done.seconds * 100) / 100 }) + "\n");
  } finally {
    await mirror.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    process.stderr.write(`mirror: ${e instanceof CodedError ? `${e.code}: ` : ""}${(e as Error).message}\n`);
    process.exit(1);
  });
}
