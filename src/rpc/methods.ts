/**
 * The node's JSON-RPC methods. They read the chain through a narrow view
 * (NodeReadApi) and submit txs through the mempool; every error they raise is
 * typed and mapped to a JSON-RPC code in rpc/errors.ts.
 */
import { fromBase64, fromHex, toHex } from "../crypto/bytes.js";
import { type Block, commitToJson, headerHash, headerToJson } from "../chain/block.js";
import { BlockErrorCode, ChainError, DidErrorCode } from "../chain/errors.js";
import { type DidRecord, type DidVersion, decodeDidRecord } from "../chain/state.js";
import { type AnchoredStateProof, type StateProofJson, stateProofToJson } from "../chain/proof.js";
import type { ChainHead, DidVersionEntry, DidVersionPage, TxLocation } from "../chain/store.js";
import { decodeTx, txHash, txToJson } from "../chain/tx.js";
import type { Rejection } from "../chain/mempool.js";
import type { CheckedTx } from "../chain/execute.js";
import { parseDid } from "../did/syntax.js";
import { buildInitialDocument } from "../did/document.js";
import { publicKeyOf } from "../crypto/secp256k1.js";
import { type DidResolutionResult, type ResolutionOptions, checkResolutionRequest, resolutionError, resolveCurrent } from "../did/resolution.js";
import { type MethodTable, NO_PARAMS, defineMethod } from "./jsonrpc.js";
import { Shape, Type } from "../check/index.js";
import { RpcParamsError } from "./errors.js";
import { createResolveDid } from "./resolve.js";

/** What the methods need of a node. */
export interface NodeReadApi {
  chainId: string;
  genesisHash: Uint8Array;
  validatorAddress: Uint8Array | undefined;
  signatureBackend: string;
  head(): ChainHead;
  getBlock(height: number): Promise<Block | undefined>;
  getBlockHeightByHash(hash: Uint8Array): Promise<number | undefined>;
  getTxLocation(hash: Uint8Array): Promise<TxLocation | undefined>;
  getDid(did: string): Promise<DidRecord | undefined>;
  getDidVersion(did: string, versionId: number): Promise<DidVersion | undefined>;
  getDidVersionEntry(did: string, versionId: number): Promise<DidVersionEntry | undefined>;
  didVersionAt(did: string, time: number): Promise<number | undefined>;
  /** Versions after `after` (0: from the first), bounded by count and by stored bytes (ChainStore.didVersionPage). */
  didVersionPage(did: string, opts: { after?: number; limit: number; maxBytes: number }): Promise<DidVersionPage>;
  /** The latest record of `did` (or its absence) proven against the head, with the validators that signed it; for did_resolve with proof. */
  proveDid?(did: string): Promise<AnchoredStateProof>;
  mempool: {
    size: number;
    byteSize: number;
    get(hash: Uint8Array): CheckedTx | undefined;
    rejection(hash: Uint8Array): Rejection | undefined;
    pendingNonce(did: string): number | undefined;
  };
  /** Connected p2p peers (node_status.peers); 0 on a node without p2p. */
  peerCount?(): number;
  /** True while the node fetches blocks it is behind by (node_status.catchingUp). */
  isCatchingUp?(): boolean;
  /** Admit a tx; with `wait`, resolve once it is committed or rejected, or after timeoutMs (still pending). */
  submitTx(encoded: Uint8Array, wait: boolean, timeoutMs: number): Promise<SubmitOutcome>;
}

/** did_resolve with `proof: true`: the usual result plus a sid-proof/v1 proof of the record it was built from. */
export type ProvenResolutionResult = DidResolutionResult & { proof: StateProofJson };

export type SubmitOutcome =
  | { status: "pending"; hash: string }
  | { status: "committed"; hash: string; height: number; index: number }
  | { status: "rejected"; hash: string; error: Rejection };

const HASH_PARAM = Shape.hex(32);
const DID_PARAM = Shape.string(256);
/** Base64 of the largest tx (MAX_ANY_TX_BYTES, a status list publish of 512 KiB) with room. */
const TX_PARAM = Shape.string(700 * 1024);
const MAX_WAIT_MS = 60_000;
/**
 * did_history pages: `limit` entries by default, at most HISTORY_MAX_LIMIT,
 * and at most HISTORY_PAGE_BYTES of stored entries (about 85 bytes each,
 * about 160 as JSON), so one page answers at most about 130 KB.
 */
const HISTORY_DEFAULT_LIMIT = 100;
const HISTORY_MAX_LIMIT = 1000;
const HISTORY_PAGE_BYTES = 64 * 1024;
/** A version number as text, as versionId is everywhere. */
const VERSION_ID_PARAM = Shape.string(16, "^(0|[1-9][0-9]{0,15})$");

function blockToJson(block: Block, hash: Uint8Array): Record<string, unknown> {
  return {
    hash: toHex(hash),
    header: headerToJson(block.header),
    txs: block.txs.map((t) => toHex(txHash(t))),
    lastCommit: commitToJson(block.lastCommit),
  };
}

/** A did:sid DID, or parseDid's DidError (INVALID_DID). */
function requireDid(did: string): string {
  return parseDid(did).did;
}

/** The typed error of a tx dropped after admission; a drop without a chain code (a bug) stays an internal error. */
function rejectedTxError(why: Rejection, hash: string): Error {
  return why.code === "INTERNAL" ? new Error(why.message) : new ChainError(why.code, why.message, { hash });
}

/**
 * The same answer shape as did_resolve for one fixed document, without any
 * state lookup: the ceiling did_resolve is measured against in `npm run bench`.
 * Registered only when SID_BENCH=1.
 */
function fixedResolutionMethod(): MethodTable {
  // A typical one-key document, built once.
  const document = buildInitialDocument(publicKeyOf(new Uint8Array(32).fill(1)));
  const fixed = resolveCurrent({ document, versionId: 1, created: 0, updated: 0, deactivated: false });
  return {
    debug_fixedResolution: defineMethod({ params: Type.Object({ did: DID_PARAM }), handler: (): DidResolutionResult => fixed }),
  };
}

export function nodeMethods(node: NodeReadApi, opts: { benchMethods?: boolean } = {}): MethodTable {
  const resolveDid = createResolveDid(node);
  // The result is built from the proven bytes, never from the record cache,
  // so the document and metadata are exactly those the proof commits to.
  const resolveProven = async (did: string): Promise<ProvenResolutionResult> => {
    if (!node.proveDid) throw new RpcParamsError("proof", "this node does not serve state proofs");
    const p = await node.proveDid(did);
    const result = p.valueBytes === null ? resolutionError("notFound", `${did} is not registered`) : resolveCurrent(decodeDidRecord(p.valueBytes));
    return { ...result, proof: stateProofToJson(p) };
  };
  const blockAt = async (height: number) => {
    const b = await node.getBlock(height);
    if (!b) throw new ChainError(BlockErrorCode.NOT_FOUND, `no block at height ${height}; the head is ${node.head().height}`);
    return b;
  };
  return {
    ...(opts.benchMethods ? fixedResolutionMethod() : {}),
    node_status: defineMethod({
      params: NO_PARAMS,
      handler: () => {
        const h = node.head();
        return {
          chainId: node.chainId,
          genesisHash: toHex(node.genesisHash),
          height: h.height,
          latestBlockHash: toHex(h.hash),
          latestBlockTime: new Date(h.time).toISOString(),
          stateRoot: toHex(h.stateRoot),
          mempool: { size: node.mempool.size, bytes: node.mempool.byteSize },
          validator: node.validatorAddress ? toHex(node.validatorAddress) : null,
          signatureBackend: node.signatureBackend,
          peers: node.peerCount?.() ?? 0,
          catchingUp: node.isCatchingUp?.() ?? false,
        };
      },
    }),

    tx_submit: defineMethod({
      description: "Submit a base64 encoded signed tx; with wait=true answer once it is committed.",
      params: Type.Object({ tx: TX_PARAM, wait: Type.Optional(Shape.boolean()), timeoutMs: Type.Optional(Shape.int(0, MAX_WAIT_MS)) }),
      handler: async ({ tx, wait, timeoutMs }): Promise<SubmitOutcome> => {
        let bytes: Uint8Array;
        try {
          bytes = fromBase64(tx);
        } catch {
          throw new RpcParamsError("tx", "must be standard padded base64 of an encoded tx");
        }
        const out = await node.submitTx(bytes, wait ?? false, timeoutMs ?? 30_000);
        if (out.status === "rejected") throw rejectedTxError(out.error, out.hash);
        return out;
      },
    }),

    tx_get: defineMethod({
      params: Type.Object({ hash: HASH_PARAM }),
      handler: async ({ hash }): Promise<Record<string, unknown>> => {
        const h = fromHex(hash, 32);
        // Committed first: a copy of a committed tx can still sit in the pool for a moment (it is dropped when reaped).
        const loc = await node.getTxLocation(h);
        if (loc) {
          const block = await blockAt(loc.height);
          const encoded = block.txs[loc.index]!;
          return { hash, status: "committed", height: loc.height, index: loc.index, tx: txToJson(decodeTx(encoded, node.chainId)) };
        }
        const pending = node.mempool.get(h);
        if (pending) return { hash, status: "pending", tx: txToJson(pending.tx) };
        const rejected = node.mempool.rejection(h);
        if (rejected) return { hash, status: "rejected", error: rejected };
        return { hash, status: "unknown" };
      },
    }),

    block_get: defineMethod({
      params: Type.Object({ height: Type.Optional(Shape.int(1)), hash: Type.Optional(HASH_PARAM) }),
      handler: async ({ height, hash }) => {
        if ((height === undefined) === (hash === undefined)) throw new RpcParamsError("height", "give exactly one of height or hash");
        let at = height;
        if (hash !== undefined) {
          at = await node.getBlockHeightByHash(fromHex(hash, 32));
          if (at === undefined) throw new ChainError(BlockErrorCode.NOT_FOUND, `no block with hash ${hash}`);
        }
        const block = await blockAt(at!);
        return blockToJson(block, headerHash(block.header));
      },
    }),

    block_latest: defineMethod({
      params: NO_PARAMS,
      handler: async () => {
        const h = node.head();
        if (h.height === 0) throw new ChainError(BlockErrorCode.NOT_FOUND, "no block committed yet");
        return blockToJson(await blockAt(h.height), h.hash);
      },
    }),

    did_resolve: defineMethod({
      description: "W3C DID Resolution of a did:sid DID, current or at versionId / versionTime; with proof=true the current state with a sid-proof/v1 proof.",
      params: Type.Object({
        did: DID_PARAM,
        versionId: Type.Optional(Shape.string(20)),
        versionTime: Type.Optional(Shape.string(40)),
        proof: Type.Optional(Shape.boolean()),
      }),
      handler: async ({ did, versionId, versionTime, proof }): Promise<DidResolutionResult | ProvenResolutionResult> => {
        const opts: ResolutionOptions = {};
        if (versionId !== undefined) opts.versionId = versionId;
        if (versionTime !== undefined) opts.versionTime = versionTime;
        if (proof === true && (versionId !== undefined || versionTime !== undefined)) {
          throw new RpcParamsError("proof", "proofs cover the latest state only; leave out versionId and versionTime");
        }
        if (proof === true) {
          const bad = checkResolutionRequest(did, opts);
          return bad ?? resolveProven(did);
        }
        return resolveDid(did, opts);
      },
    }),

    did_history: defineMethod({
      description:
        "The versions of a DID in order (operation, height, time, tx), `limit` after the version `after`; `next` is the cursor of the following page, null on the last.",
      params: Type.Object({ did: DID_PARAM, after: Type.Optional(VERSION_ID_PARAM), limit: Type.Optional(Shape.int(1, HISTORY_MAX_LIMIT)) }),
      handler: async ({ did, after, limit = HISTORY_DEFAULT_LIMIT }): Promise<Record<string, unknown>> => {
        requireDid(did);
        const rec = await node.getDid(did);
        if (!rec) throw new ChainError(DidErrorCode.NOT_FOUND, `${did} is not registered`);
        const page = await node.didVersionPage(did, { after: after === undefined ? 0 : Number(after), limit, maxBytes: HISTORY_PAGE_BYTES });
        const last = page.entries[page.entries.length - 1];
        return {
          did,
          versions: page.entries.map((v) => ({
            versionId: String(v.versionId),
            operation: v.operation,
            height: v.height,
            time: new Date(v.time).toISOString(),
            txHash: toHex(v.txHash),
          })),
          next: page.more && last ? String(last.versionId) : null,
        };
      },
    }),

    did_sequence: defineMethod({
      description: "The sequence the DID's next signed tx must carry, counting its pending txs.",
      params: Type.Object({ did: DID_PARAM }),
      handler: async ({ did }): Promise<Record<string, unknown>> => {
        requireDid(did);
        const committed = (await node.getDid(did))?.nonce ?? 0;
        return { did, nextSequence: node.mempool.pendingNonce(did) ?? committed, committedNextSequence: committed };
      },
    }),
  };
}
