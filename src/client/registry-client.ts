/**
 * The SDK side of governance and the KYC registry: trustees propose and
 * approve actions on the issuer registry, issuers publish their status
 * lists, and anyone reads issuers and lists.
 */
import type { KeyPair } from "../crypto/hd.js";
import type { Relationship } from "../did/document.js";
import type { GovAction, ProposalRecord } from "../chain/state.js";
import { SidClient, SidClientError } from "./sid-client.js";
import { type SignedTx, type SignerParams, findMethodForKey, govApproveTx, govProposeTx, statusListPublishTx } from "./txs.js";
import { didFromPublicKey } from "../did/syntax.js";

export interface IssuerPeriodJson {
  status: "active" | "suspended" | "removed";
  name: string;
  types: string[];
  height: number;
  time: string;
}

export interface IssuerJson {
  did: string;
  name: string;
  types: string[];
  status: "active" | "suspended" | "removed";
  updatedHeight: number;
  updated: string;
  history: IssuerPeriodJson[];
}

/** statuslist_get's answer (statuslist_list gives the same without `token`). */
export interface StatusListJson {
  issuer: string;
  listId: string;
  uri: string;
  types: string[];
  size: number;
  iat: number;
  height: number;
  time: string;
  createdHeight: number;
  token: string;
}

/** gov_proposal's answer: the proposal's state record without its `kind`. */
export type ProposalJson = Omit<ProposalRecord, "kind">;

export interface GovResult {
  proposalId: string;
  txHash: string;
  height: number;
  /** Executed in this tx (the approvals reached the threshold). */
  executed: boolean;
}

export class RegistryClient {
  constructor(readonly client: SidClient) {}

  static at(rpcUrl: string): RegistryClient {
    return new RegistryClient(new SidClient(rpcUrl));
  }

  // -- reads ---------------------------------------------------------------

  issuer(did: string): Promise<IssuerJson> {
    return this.client.rpc.call<IssuerJson>("issuer_get", { did });
  }

  issuers(opts: { after?: string; limit?: number } = {}): Promise<{ issuers: IssuerJson[]; next: string | null }> {
    return this.client.rpc.call("issuer_list", { ...opts });
  }

  statusList(issuer: string, listId: string): Promise<StatusListJson> {
    return this.client.rpc.call<StatusListJson>("statuslist_get", { issuer, listId });
  }

  statusLists(issuer: string, page: { after?: string; limit?: number } = {}): Promise<{ lists: Omit<StatusListJson, "token">[]; next: string | null }> {
    return this.client.rpc.call("statuslist_list", { issuer, ...page });
  }

  trustees(): Promise<{ members: string[]; threshold: number; updatedHeight: number }> {
    return this.client.rpc.call("gov_trustees");
  }

  proposal(id: string): Promise<ProposalJson> {
    return this.client.rpc.call<ProposalJson>("gov_proposal", { id });
  }

  // -- writes --------------------------------------------------------------

  /** The DID `key` derives from, registered first if it is not yet (trustees and issuers need one on chain). */
  async ensureDid(key: KeyPair): Promise<string> {
    const did = didFromPublicKey(key.publicKey);
    const res = await this.client.resolve(did);
    if (res.didResolutionMetadata.error === "notFound") await this.client.createDid(key);
    else if (res.didResolutionMetadata.error) throw new SidClientError(res.didResolutionMetadata.error, res.didResolutionMetadata.errorMessage ?? "cannot resolve");
    return did;
  }

  /** Signing params for `did` with `key`, which must be in `relationship` of its current document. */
  async signer(did: string, key: KeyPair, relationship: Relationship): Promise<SignerParams> {
    const { document } = await this.client.current(did);
    const vm = findMethodForKey(document, key.publicKey, relationship);
    if (!vm) throw new SidClientError("unauthorized", `the key is not in the ${relationship} of ${did}`);
    return { chainId: await this.client.chainId(), signer: did, vm, seq: await this.client.nextSequence(did), secretKey: key.secretKey };
  }

  /** A trustee (the DID of `key`, or `trusteeDid`) proposes `action`; with threshold 1 it runs at once. */
  async propose(action: GovAction, key: KeyPair, trusteeDid?: string): Promise<GovResult> {
    const did = trusteeDid ?? (await this.ensureDid(key));
    const tx = govProposeTx(await this.signer(did, key, "authentication"), action);
    return this.govOutcome(tx, tx.hash);
  }

  /** A trustee approves proposal `id` (its action is read from the chain and restated). */
  async approve(id: string, key: KeyPair, trusteeDid?: string): Promise<GovResult> {
    const p = await this.proposal(id);
    const did = trusteeDid ?? (await this.ensureDid(key));
    const tx = govApproveTx(await this.signer(did, key, "authentication"), id, p.action);
    return this.govOutcome(tx, id);
  }

  private async govOutcome(tx: SignedTx, proposalId: string): Promise<GovResult> {
    const r = await this.client.submitAndCommit(tx);
    const p = await this.proposal(proposalId);
    return { proposalId, txHash: r.hash, height: r.height, executed: p.status === "executed" && p.executedHeight === r.height };
  }

  /** Publish the Status List Token of list `listId` (its kid a key in the issuer's assertionMethod), signed by `issuerKey`. */
  async publishStatusList(issuerDid: string, issuerKey: KeyPair, listId: string, token: string): Promise<{ txHash: string; height: number }> {
    const tx = statusListPublishTx(await this.signer(issuerDid, issuerKey, "assertionMethod"), listId, token);
    const r = await this.client.submitAndCommit(tx);
    return { txHash: r.hash, height: r.height };
  }
}
