/**
 * JSON-RPC methods of the KYC registry and of governance: issuers, issuer
 * status lists, trustees and proposals. Read-only; writes are txs through
 * tx_submit. Answers hold what the chain holds: issuers, types, lists and
 * times. Invariant 5: nothing is asked or answered per holder or per
 * credential; a status list is fetched whole, so the node cannot tell which
 * entry a verifier looks at.
 */
import { ChainError, GovErrorCode, KycErrorCode, StatusListErrorCode } from "../chain/errors.js";
import {
  type ProposalRecord,
  type StateRecord,
  type StatusListRecord,
  type TrusteesRecord,
  TRUSTEES_ID,
  issuerStateId,
  proposalStateId,
  statusListStateId,
} from "../chain/state.js";
import type { ChainHead } from "../chain/store.js";
import { type AnchoredStateProof, stateProofToJson } from "../chain/proof.js";
import { decodeStateRecord } from "../chain/state.js";
import { type IssuerRecord } from "../did/kyc.js";
import { type MethodTable, NO_PARAMS, defineMethod } from "./jsonrpc.js";
import { Shape, Type } from "../check/index.js";
import { RpcParamsError } from "./errors.js";
import { pageByBytes } from "./paging.js";

/** What these methods need of a node. */
export interface RegistryReadApi {
  head(): ChainHead;
  getRecord(id: string): Promise<StateRecord | undefined>;
  listRecords(kind: string, opts: { after?: string; limit: number }): Promise<StateRecord[]>;
  listStatusLists(issuer: string, opts: { after?: string; limit: number }): Promise<StatusListRecord[]>;
  /** Wall-clock now, ms. */
  now(): number;
  /** A record's state proof against the latest committed header (statuslist_get with proof). */
  proveRecord?(id: string): Promise<AnchoredStateProof>;
}

const DID = Shape.string(256, "^did:sid:[1-9A-HJ-NP-Za-km-z]{1,64}$");
const LIST_ID = Shape.string(64, "^[A-Za-z0-9_-]{1,64}$");
const LIMIT = Shape.int(1, 500);
const DEFAULT_LIMIT = 100;

const iso = (ms: number) => new Date(ms).toISOString();

export function issuerToJson(r: IssuerRecord): Record<string, unknown> {
  return {
    did: r.did,
    name: r.name,
    types: r.types,
    status: r.status,
    updatedHeight: r.updatedHeight,
    updated: iso(r.updatedTime),
    history: r.history.map((p) => ({ status: p.status, name: p.name, types: p.types, height: p.height, time: iso(p.time) })),
  };
}

/** A list's summary: everything but the token. */
export function statusListSummaryToJson(r: StatusListRecord): Record<string, unknown> {
  return {
    issuer: r.issuer,
    listId: r.listId,
    uri: r.uri,
    types: r.types,
    size: r.size,
    iat: r.iat,
    height: r.height,
    time: iso(r.time),
    createdHeight: r.createdHeight,
  };
}

export function statusListToJson(r: StatusListRecord): Record<string, unknown> {
  return { ...statusListSummaryToJson(r), token: r.token };
}

function proposalToJson(p: ProposalRecord): Record<string, unknown> {
  return { ...p, kind: undefined };
}

export function registryMethods(api: RegistryReadApi): MethodTable {
  const issuer = async (did: string) => {
    const r = (await api.getRecord(issuerStateId(did))) as IssuerRecord | undefined;
    if (!r) throw new ChainError(KycErrorCode.ISSUER_NOT_FOUND, `${did} has never been an issuer`);
    return r;
  };
  return {
    issuer_get: defineMethod({
      description: "An issuer's accreditation: name, types, status and every period since it was added.",
      params: Type.Object({ did: DID }),
      handler: async ({ did }) => issuerToJson(await issuer(did)),
    }),

    issuer_list: defineMethod({
      description: "Issuers in DID order, `limit` after the DID `after`; `next` is the cursor of the following page.",
      params: Type.Object({ after: Type.Optional(DID), limit: Type.Optional(LIMIT) }),
      handler: async ({ after, limit = DEFAULT_LIMIT }, ctx) => {
        const recs = (await api.listRecords("issuer", { ...(after !== undefined ? { after } : {}), limit })) as IssuerRecord[];
        const page = pageByBytes(recs, limit, ctx, issuerToJson, (r) => r.did);
        return { issuers: page.items, next: page.next };
      },
    }),

    statuslist_get: defineMethod({
      description:
        "An issuer's status list: its latest Status List Token exactly as published, the list URI, the types the issuer was accredited for when it created the list, its size and the height and time of the latest publish. With proof: true, a Merkle proof of the list record (or of its absence) against a committed header.",
      params: Type.Object({ issuer: DID, listId: LIST_ID, proof: Type.Optional(Shape.boolean()) }),
      handler: async ({ issuer: iss, listId, proof }): Promise<Record<string, unknown>> => {
        const id = statusListStateId(iss, listId);
        if (proof) {
          if (!api.proveRecord) throw new RpcParamsError("proof", "this node does not serve state proofs");
          const p = await api.proveRecord(id);
          const proven = p.valueBytes === null ? undefined : (decodeStateRecord(p.valueBytes) as StatusListRecord);
          if (!proven) return { issuer: iss, listId, token: null, proof: stateProofToJson(p) };
          return { ...statusListToJson(proven), proof: stateProofToJson(p) };
        }
        const r = (await api.getRecord(id)) as StatusListRecord | undefined;
        if (!r) throw new ChainError(StatusListErrorCode.NOT_FOUND, `${iss} has no status list ${listId}`);
        return statusListToJson(r);
      },
    }),

    statuslist_list: defineMethod({
      description: "The status lists of one issuer (summaries, no tokens), in list id order, `limit` after the list id `after`.",
      params: Type.Object({ issuer: DID, after: Type.Optional(LIST_ID), limit: Type.Optional(LIMIT) }),
      handler: async ({ issuer: iss, after, limit = DEFAULT_LIMIT }, ctx) => {
        const recs = await api.listStatusLists(iss, { ...(after !== undefined ? { after } : {}), limit });
        const page = pageByBytes(recs, limit, ctx, statusListSummaryToJson, (r) => r.listId);
        return { lists: page.items, next: page.next };
      },
    }),

    gov_trustees: defineMethod({
      description: "The current trustees and the number of approvals a proposal needs.",
      params: NO_PARAMS,
      handler: async () => {
        const t = (await api.getRecord(TRUSTEES_ID)) as TrusteesRecord | undefined;
        if (!t || t.members.length === 0) throw new ChainError(GovErrorCode.DISABLED, "this chain has no trustees: governance is disabled");
        return { members: t.members, threshold: t.threshold, updatedHeight: t.updatedHeight };
      },
    }),

    gov_proposal: defineMethod({
      description: "A governance proposal: its action, approvals, status and last height for approvals.",
      params: Type.Object({ id: Shape.hex(32) }),
      handler: async ({ id }) => {
        const p = (await api.getRecord(proposalStateId(id))) as ProposalRecord | undefined;
        if (!p) throw new ChainError(GovErrorCode.PROPOSAL_NOT_FOUND, `no proposal ${id}`);
        return proposalToJson(p);
      },
    }),

    gov_proposals: defineMethod({
      description: "Proposals in id order, `limit` after the id `after`.",
      params: Type.Object({ after: Type.Optional(Shape.hex(32)), limit: Type.Optional(LIMIT) }),
      handler: async ({ after, limit = DEFAULT_LIMIT }, ctx) => {
        const recs = (await api.listRecords("proposal", { ...(after !== undefined ? { after } : {}), limit })) as ProposalRecord[];
        const page = pageByBytes(recs, limit, ctx, proposalToJson, (r) => r.id);
        return { proposals: page.items, next: page.next };
      },
    }),
  };
}
