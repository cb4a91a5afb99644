/**
 * A chain made of real blocks (single-validator engine over a LevelDB store)
 * whose did_resolve answers come from the node's own RPC methods, for the
 * proof tests: what they verify is exactly what a node serves.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { headerHash, type BlockHeader, type Commit } from "../../src/chain/block.js";
import type { CheckedTx } from "../../src/chain/execute.js";
import type { StateProofJson } from "../../src/chain/proof.js";
import { ChainStore } from "../../src/chain/store.js";
import { signDigest } from "../../src/crypto/secp256k1.js";
import { ValidatorSet } from "../../src/chain/validator-set.js";
import { VoteStep, voteSigningDigest } from "../../src/chain/vote.js";
import type { DidResolutionResult } from "../../src/did/resolution.js";
import type { KeyPair } from "../../src/crypto/hd.js";
import { type NodeReadApi, nodeMethods } from "../../src/rpc/methods.js";
import { VALIDATORS, poolAndEngine } from "./chain.js";
import { CHAIN_ID, hex, unhex } from "./fixtures.js";

export const GENESIS_HASH = new Uint8Array(32).fill(0x47);
export const GENESIS_TIME = Date.parse("2026-01-01T00:00:00Z");

export type ProvenResult = DidResolutionResult & { proof: StateProofJson };

/** The read side of a node over `store`, as node.ts wires it (no mempool, no submissions). */
export function readApiOf(store: ChainStore, validators: ValidatorSet = VALIDATORS): NodeReadApi {
  return {
    chainId: CHAIN_ID,
    genesisHash: GENESIS_HASH,
    validatorAddress: undefined,
    signatureBackend: "test",
    head: () => store.head(),
    getBlock: (h) => store.getBlock(h),
    getBlockHeightByHash: (h) => store.getBlockHeightByHash(h),
    getTxLocation: (h) => store.getTxLocation(h),
    getDid: (d) => store.getDid(d),
    getDidVersion: (d, n) => store.getDidVersion(d, n),
    getDidVersionEntry: (d, n) => store.getDidVersionEntry(d, n),
    didVersionAt: (d, t) => store.didVersionAt(d, t),
    didVersionPage: (d, o) => store.didVersionPage(d, o),
    proveDid: async (d) => ({ ...(await store.proveDid(d)), validators: validators.validators.map((v) => ({ publicKey: v.publicKey, power: v.power })) }),
    mempool: { size: 0, byteSize: 0, get: () => undefined, rejection: () => undefined, pendingNonce: () => undefined },
    submitTx: () => Promise.reject(new Error("read-only test node")),
  };
}

export interface ProvingChain {
  dir: string;
  store: ChainStore;
  /** Admit the txs and commit them as the next block. */
  commit(txs: CheckedTx[]): Promise<void>;
  /** did_resolve through the node's RPC method, as JSON that went over the wire. */
  resolve(params: Record<string, unknown>): Promise<ProvenResult>;
  close(): Promise<void>;
}

export async function provingChain(): Promise<ProvingChain> {
  const dir = mkdtempSync(join(tmpdir(), "sid-proof-"));
  const store = await ChainStore.open(join(dir, "db"));
  await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
  const { mempool, engine } = await poolAndEngine(store, 100);
  const methods = nodeMethods(readApiOf(store));
  return {
    dir,
    store,
    async commit(txs) {
      for (const c of txs) await mempool.add(c.encoded);
      await engine.produceBlock();
    },
    async resolve(params) {
      const r = await methods.did_resolve!.handler(params, {});
      return JSON.parse(JSON.stringify(r)) as ProvenResult;
    },
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

/** The header of a proof JSON as a BlockHeader. */
export function headerOf(p: StateProofJson): BlockHeader {
  const h = p.header;
  return {
    chainId: h.chainId,
    height: h.height,
    time: h.time,
    prevHash: unhex(h.prevHash),
    txRoot: unhex(h.txRoot),
    evidenceHash: unhex(h.evidenceHash),
    stateRoot: unhex(h.stateRoot),
    validatorsHash: unhex(h.validatorsHash),
    nextValidatorsHash: unhex(h.nextValidatorsHash),
    proposer: unhex(h.proposer),
    lastCommitHash: unhex(h.lastCommitHash),
  };
}

/**
 * A forged anchor: `proof` with its header edited and a fresh commit signed
 * by `signers` for `signChainId` (each signer named by its own address), and
 * the validator list replaced by `listed` when given. What a node holding
 * other keys, or serving another chain, could produce.
 */
export function reanchor(
  proof: StateProofJson,
  opts: { edit?: (h: BlockHeader) => void; signers: Array<{ key: KeyPair; address: Uint8Array }>; signChainId?: string; listed?: ValidatorSet },
): StateProofJson {
  const out = clone(proof);
  const header = headerOf(out);
  opts.edit?.(header);
  const blockHash = headerHash(header);
  const digest = voteSigningDigest({ chainId: opts.signChainId ?? header.chainId, height: header.height, round: 0, step: VoteStep.Precommit, blockHash });
  const commit: Commit = { height: header.height, round: 0, blockHash, sigs: opts.signers.map((s) => ({ validator: s.address, sig: signDigest(digest, s.key.secretKey) })) };
  out.header = {
    chainId: header.chainId,
    height: header.height,
    time: header.time,
    prevHash: hex(header.prevHash),
    txRoot: hex(header.txRoot),
    evidenceHash: hex(header.evidenceHash),
    stateRoot: hex(header.stateRoot),
    validatorsHash: hex(header.validatorsHash),
    nextValidatorsHash: hex(header.nextValidatorsHash),
    proposer: hex(header.proposer),
    lastCommitHash: hex(header.lastCommitHash),
  };
  out.height = header.height;
  out.commit = { height: commit.height, round: commit.round, blockHash: hex(commit.blockHash), sigs: commit.sigs.map((s) => ({ validator: hex(s.validator), sig: hex(s.sig) })) };
  if (opts.listed) out.validators = opts.listed.validators.map((v) => ({ publicKey: hex(v.publicKey), power: v.power }));
  return out;
}

/** Every variant of a hex string with one byte XORed by each mask. */
export function* hexByteFlips(h: string, masks: readonly number[] = [0x01, 0xff]): Generator<{ at: number; mask: number; value: string }> {
  const bytes = unhex(h);
  for (let at = 0; at < bytes.length; at++) {
    for (const mask of masks) {
      const b = bytes.slice();
      b[at]! ^= mask;
      yield { at, mask, value: hex(b) };
    }
  }
}
