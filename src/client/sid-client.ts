/**
 * The SDK: everything a wallet or service needs to manage did:sid DIDs
 * through a node's JSON-RPC, without the CLI.
 */
import type { KeyPair } from "../crypto/hd.js";
import type { DidDocument } from "../did/document.js";
import type { DidResolutionResult, ResolutionOptions } from "../did/resolution.js";
import { RpcClient } from "./rpc-client.js";
import { type SignedTx, createDidTx, deactivateDidTx, findMethodForKey, updateDidTx } from "./txs.js";
import { CodedError } from "../errors.js";

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

export class SidClientError extends CodedError {}

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
  submit(tx: SignedTx, wait = true): Promise<SubmitResult> {
    return this.rpc.call<SubmitResult>("tx_submit", { tx: tx.base64, wait });
  }

  resolve(did: string, opts: ResolutionOptions = {}): Promise<DidResolutionResult> {
    return this.rpc.call<DidResolutionResult>("did_resolve", { did, ...opts });
  }

  async history(did: string): Promise<DidHistoryEntry[]> {
    return (await this.rpc.call<{ versions: DidHistoryEntry[] }>("did_history", { did })).versions;
  }

  async nextSequence(did: string): Promise<number> {
    return (await this.rpc.call<{ nextSequence: number }>("did_sequence", { did })).nextSequence;
  }

  /** Register the DID that derives from `key`. */
  async createDid(key: KeyPair, document?: DidDocument): Promise<WriteResult> {
    const tx = createDidTx(await this.chainId(), key, document);
    const r = await this.submit(tx);
    return { did: tx.tx.signer, txHash: r.hash, height: r.height ?? -1, versionId: "1" };
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
    const r = await this.submit(tx);
    return { did, txHash: r.hash, height: r.height ?? -1, versionId: String(Number(versionId) + 1) };
  }

  async deactivateDid(did: string, key: KeyPair, signerDid = did): Promise<WriteResult> {
    const { document, versionId } = await this.current(did);
    const p = await this.writeParams(did, versionId, key, signerDid, signerDid === did ? document : undefined);
    const r = await this.submit(deactivateDidTx(p));
    return { did, txHash: r.hash, height: r.height ?? -1, versionId: String(Number(versionId) + 1) };
  }

  private async writeParams(did: string, prevVersionId: string, key: KeyPair, signer: string, signerDoc?: DidDocument) {
    const doc = signerDoc ?? (await this.current(signer)).document;
    const vm = findMethodForKey(doc, key.publicKey, "authentication");
    if (!vm) throw new SidClientError("unauthorized", `the key is not an authentication key of ${signer}`);
    return { chainId: await this.chainId(), did, prevVersionId, signer, seq: await this.nextSequence(signer), vm, secretKey: key.secretKey };
  }
}
