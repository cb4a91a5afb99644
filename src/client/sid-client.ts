/**
 * The SDK: everything a wallet or service needs to manage did:sid DIDs
 * through a node's JSON-RPC, without the CLI.
 */
import type { KeyPair } from "../crypto/hd.js";
import type { DidDocument } from "../did/document.js";
import type { DidResolutionResult, ResolutionOptions } from "../did/resolution.js";
import { RpcClient, RpcError } from "./rpc-client.js";
import { type SignedTx, createDidTx, deactivateDidTx, findMethodForKey, updateDidTx } from "./txs.js";
import { CodedError } from "../errors.js";
import type { StateProofJson } from "../chain/proof.js";
import type { TrustedValidators } from "../chain/light-block.js";
import { type VerifiedResolution, verifyResolutionProof } from "./verify-proof.js";

export interface NodeStatus {
  chainId: string;
  genesisHash: string;
  height: number;
  latestBlockHash: string;
  latestBlockTime: string;
  stateRoot: string;
  mempool: { size: number; bytes: number };
  validator: string | null;
  signatureBackend: string;
}

export interface SubmitResult {
  hash: string;
  status: "pending" | "committed";
  height?: number;
  index?: number;
}

export interface DidHistoryEntry {
  versionId: string;
  operation: "create" | "update" | "deactivate";
  height: number;
  time: string;
  txHash: string;
}

export interface WriteResult {
  did: string;
  txHash: string;
  height: number;
  versionId: string;
}

/** One page of did_history: `next` is the `after` of the following page, null on the last. */
export interface DidHistoryPage {
  did: string;
  versions: DidHistoryEntry[];
  next: string | null;
}

export class SidClientError extends CodedError {}

/** A resolution result checked against a proof: `resolution` is what the proof established (see `proof`). */
export interface VerifiedResolutionResult {
  resolution: DidResolutionResult;
  proof: VerifiedResolution;
}

export class SidClient {
  readonly rpc: RpcClient;
  private chainIdCache: string | undefined;

  constructor(rpcUrl: string) {
    this.rpc = new RpcClient(rpcUrl);
  }

  status(): Promise<NodeStatus> {
    return this.rpc.call<NodeStatus>("node_status");
  }

  async chainId(): Promise<string> {
    this.chainIdCache ??= (await this.status()).chainId;
    return this.chainIdCache;
  }

  /** Submit a signed tx and wait until it is committed (or rejected, which throws RpcError). */
  /** Submit; with `wait`, the node answers at commit or after `waitMs` (its default 30 s), still pending. */
  async submit(tx: SignedTx, wait = true, waitMs?: number): Promise<SubmitResult> {
    try {
      return await this.rpc.call<SubmitResult>("tx_submit", { tx: tx.base64, wait, ...(waitMs !== undefined ? { timeoutMs: waitMs } : {}) });
    } catch (e) {
      // The node has this very tx already (an earlier send of it arrived): it is pending there, or committed.
      if (e instanceof RpcError && (e.reason === "TX_DUPLICATE" || e.reason === "TX_ALREADY_COMMITTED")) return this.afterDuplicate(tx.hash);
      throw e;
    }
  }

  private async afterDuplicate(hash: string): Promise<SubmitResult> {
    const got = await this.rpc.call<{ status: string; height?: number; index?: number }>("tx_get", { hash });
    if (got.status === "committed") return { hash, status: "committed", height: got.height!, index: got.index! };
    return { hash, status: "pending" };
  }

  /**
   * Submit and wait for the commit. The node answers after at most its wait
   * timeout; a tx still pending then is followed with tx_get until it is
   * committed or refused, up to `timeoutMs` in all.
   */
  async submitAndCommit(tx: SignedTx, timeoutMs = 120_000, nodeWaitMs?: number): Promise<SubmitResult & { height: number }> {
    const deadline = Date.now() + timeoutMs;
    let r = await this.submit(tx, true, nodeWaitMs);
    while (r.status !== "committed") {
      if (Date.now() > deadline) throw new SidClientError("timeout", `tx ${r.hash} is still pending after ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 250));
      const got = await this.rpc.call<{ status: string; height?: number; index?: number; error?: { code: string; message: string } }>("tx_get", { hash: r.hash });
      if (got.status === "rejected") throw new SidClientError(got.error?.code ?? "rejected", got.error?.message ?? "tx rejected");
      if (got.status === "unknown") throw new SidClientError("dropped", `tx ${r.hash} left the node's mempool without being committed; submit it again`);
      if (got.status === "committed") r = { hash: r.hash, status: "committed", height: got.height!, index: got.index! };
    }
    return r as SubmitResult & { height: number };
  }

  resolve(did: string, opts: ResolutionOptions = {}): Promise<DidResolutionResult> {
    return this.rpc.call<DidResolutionResult>("did_resolve", { did, ...opts });
  }

  /** The current state of `did` with a sid-proof/v1 proof, unverified (did_resolve with proof: true). */
  resolveWithProof(did: string): Promise<DidResolutionResult & { proof: StateProofJson }> {
    return this.rpc.call<DidResolutionResult & { proof: StateProofJson }>("did_resolve", { did, proof: true });
  }

  /**
   * The current state of `did`, trusted only if the proof shows that the
   * validators `trusted` names committed it (verifyResolutionProof); throws
   * ProofError otherwise. `trusted` comes from the client's own copy of the
   * genesis, never from the node being asked.
   */
  async resolveVerified(did: string, trusted: TrustedValidators): Promise<VerifiedResolutionResult> {
    const answer = await this.resolveWithProof(did);
    const proof = verifyResolutionProof(answer, { did, chainId: trusted.chainId, trusted });
    const { proof: _carried, ...resolution } = answer;
    return { resolution, proof };
  }

  /** One page of a DID's versions: up to `limit` (the node bounds it too) after version `after`. */
  async historyPage(did: string, opts: { after?: string; limit?: number } = {}): Promise<DidHistoryPage> {
    const page = await this.rpc.call<{ did: string; versions: DidHistoryEntry[]; next?: string | null }>("did_history", { did, ...opts });
    return { did: page.did, versions: page.versions, next: page.next ?? null };
  }

  /**
   * A DID's versions page by page, following the node's `next` cursors from
   * after version `after` (from the first without it). Throws
   * HISTORY_CURSOR when a node's cursor does not move forward, instead of
   * asking again forever.
   */
  async *historyPages(did: string, opts: { after?: string; limit?: number } = {}): AsyncGenerator<DidHistoryPage> {
    let after = opts.after;
    for (;;) {
      const page = await this.historyPage(did, { ...(after !== undefined ? { after } : {}), ...(opts.limit !== undefined ? { limit: opts.limit } : {}) });
      yield page;
      if (page.next === null) return;
      if (!/^[1-9][0-9]{0,15}$/.test(page.next) || (after !== undefined && Number(page.next) <= Number(after))) {
        throw new SidClientError("HISTORY_CURSOR", `did_history of ${did} answered cursor ${JSON.stringify(page.next).slice(0, 40)} after ${after ?? "the start"}`);
      }
      after = page.next;
    }
  }

  /** Every version of `did`, in order, following the pages (see historyPages). */
  async history(did: string): Promise<DidHistoryEntry[]> {
    const out: DidHistoryEntry[] = [];
    for await (const page of this.historyPages(did)) out.push(...page.versions);
    return out;
  }

  async nextSequence(did: string): Promise<number> {
    return (await this.rpc.call<{ nextSequence: number }>("did_sequence", { did })).nextSequence;
  }

  /** Register the DID that derives from `key`. */
  async createDid(key: KeyPair, document?: DidDocument): Promise<WriteResult> {
    const tx = createDidTx(await this.chainId(), key, document);
    const r = await this.submitAndCommit(tx);
    return { did: tx.tx.signer, txHash: r.hash, height: r.height, versionId: "1" };
  }

  /** The current document and version, refusing deactivated or unknown DIDs with a clear error. */
  async current(did: string): Promise<{ document: DidDocument; versionId: string }> {
    const res = await this.resolve(did);
    const err = res.didResolutionMetadata.error;
    if (err) throw new SidClientError(err, res.didResolutionMetadata.errorMessage ?? err);
    if (res.didDocumentMetadata.deactivated) throw new SidClientError("deactivated", `${did} is deactivated`);
    return { document: res.didDocument!, versionId: res.didDocumentMetadata.versionId! };
  }

  /**
   * Replace the document of `did` with `edit(current)`, signed by `key`,
   * which must be an authentication key of `did` or of `signerDid` (a
   * controller of `did`).
   */
  async updateDid(did: string, key: KeyPair, edit: (doc: DidDocument) => DidDocument, signerDid = did): Promise<WriteResult> {
    const { document, versionId } = await this.current(did);
    const p = await this.writeParams(did, versionId, key, signerDid, signerDid === did ? document : undefined);
    const tx = updateDidTx(p, edit(document));
    const r = await this.submitAndCommit(tx);
    return { did, txHash: r.hash, height: r.height, versionId: String(Number(versionId) + 1) };
  }

  async deactivateDid(did: string, key: KeyPair, signerDid = did): Promise<WriteResult> {
    const { document, versionId } = await this.current(did);
    const p = await this.writeParams(did, versionId, key, signerDid, signerDid === did ? document : undefined);
    const r = await this.submitAndCommit(deactivateDidTx(p));
    return { did, txHash: r.hash, height: r.height, versionId: String(Number(versionId) + 1) };
  }

  private async writeParams(did: string, prevVersionId: string, key: KeyPair, signer: string, signerDoc?: DidDocument) {
    const doc = signerDoc ?? (await this.current(signer)).document;
    const vm = findMethodForKey(doc, key.publicKey, "authentication");
    if (!vm) throw new SidClientError("unauthorized", `the key is not an authentication key of ${signer}`);
    return { chainId: await this.chainId(), did, prevVersionId, signer, seq: await this.nextSequence(signer), vm, secretKey: key.secretKey };
  }
}
