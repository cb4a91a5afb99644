/**
 * JSON-RPC methods of the KYC registry and of governance: issuers,
 * credential anchors and their status (current, or at a height or time),
 * trustees and proposals. Read-only; writes are txs through tx_submit.
 * Answers hold what the chain holds: ids, DIDs, types, digests, times and
 * statuses, never a claim value.
 */
import { toHex } from "../crypto/bytes.js";
import { ChainError, GovErrorCode, KycErrorCode } from "../chain/errors.js";
import {
  type ProposalRecord,
  type StateRecord,
  type TrusteesRecord,
  TRUSTEES_ID,
  credentialStateId,
  issuerStateId,
  proposalStateId,
} from "../chain/state.js";
import type { ChainHead } from "../chain/store.js";
import { type AnchoredStateProof, stateProofToJson } from "../chain/proof.js";
import { decodeStateRecord } from "../chain/state.js";
import type { CredentialIndexBy } from "../chain/buckets.js";
import {
  type CredentialRecord,
  type IssuerRecord,
  effectiveStatus,
  issuerMayAttest,
  issuerPeriodAt,
  storedStatusAt,
} from "../did/kyc.js";
import { parseDateTime } from "../did/resolution.js";
import { type MethodTable, defineMethod } from "./jsonrpc.js";
import { RpcParamsError } from "./errors.js";
import { pageByBytes } from "./paging.js";

/** What these methods need of a node. */
export interface RegistryReadApi {
  head(): ChainHead;
  getRecord(id: string): Promise<StateRecord | undefined>;
  listRecords(kind: string, opts: { after?: string; limit: number }): Promise<StateRecord[]>;
  listCredentials(by: CredentialIndexBy, did: string, opts: { after?: string; limit: number }): Promise<CredentialRecord[]>;
  /** Wall-clock now, ms (expiry is judged against it when no time is asked). */
  now(): number;
  /** A record's state proof against the latest committed header (credential_status with proof). */
  proveRecord?(id: string): Promise<AnchoredStateProof>;
}

const DID = { type: "string", maxLength: 256, pattern: "^did:sid:[1-9A-HJ-NP-Za-km-z]{1,64}$" } as const;
const CRED_ID = { type: "string", required: true, maxLength: 32, pattern: "^[0-9a-f]{32}$" } as const;
const LIMIT = { type: "integer", minimum: 1, maximum: 500 } as const;
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

export function credentialToJson(r: CredentialRecord): Record<string, unknown> {
  return {
    id: r.id,
    issuer: r.issuer,
    subject: r.subject,
    types: r.types,
    digest: toHex(r.digest),
    validFrom: iso(r.validFrom),
    validUntil: r.validUntil === null ? null : iso(r.validUntil),
    anchoredHeight: r.anchoredHeight,
    anchored: iso(r.anchoredTime),
    txHash: toHex(r.txHash),
    status: r.status,
    history: r.history.map((c) => ({ status: c.status, height: c.height, time: iso(c.time) })),
  };
}

function proposalToJson(p: ProposalRecord): Record<string, unknown> {
  return { ...p, kind: undefined };
}

/** The strict RFC 3339 rule resolution uses (no impossible dates such as Feb 30). */
function parseTime(v: string, param: string): number {
  const ms = parseDateTime(v);
  if (ms === undefined) throw new RpcParamsError(param, "must be an RFC 3339 date-time, e.g. 2026-01-02T03:04:05Z");
  return ms;
}

export function registryMethods(api: RegistryReadApi): MethodTable {
  const issuer = async (did: string) => {
    const r = (await api.getRecord(issuerStateId(did))) as IssuerRecord | undefined;
    if (!r) throw new ChainError(KycErrorCode.ISSUER_NOT_FOUND, `${did} has never been an issuer`);
    return r;
  };
  const credential = async (id: string) => {
    const r = (await api.getRecord(credentialStateId(id))) as CredentialRecord | undefined;
    if (!r) throw new ChainError(KycErrorCode.CREDENTIAL_NOT_FOUND, `credential ${id} is not anchored`);
    return r;
  };
  /**
   * The status answer at a height or a time. At a height, expiry is judged at
   * the later of the anchor time and the head's time (the block time of an
   * older height is not at hand); at a time, at that time.
   */
  const statusAnswer = async (r: CredentialRecord, at: { height: number } | { time: number }, now: number) => {
    const stored = storedStatusAt(r, at);
    const judgeAt = "time" in at ? at.time : Math.min(now, Math.max(r.anchoredTime, api.head().time));
    const iss = (await api.getRecord(issuerStateId(r.issuer))) as IssuerRecord | undefined;
    const period = iss ? issuerPeriodAt(iss, r.anchoredHeight) : undefined;
    return {
      id: r.id,
      at: "time" in at ? { time: iso(at.time) } : { height: at.height },
      status: stored === undefined ? "notAnchored" : effectiveStatus(stored, r, judgeAt),
      storedStatus: stored ?? null,
      issuer: r.issuer,
      subject: r.subject,
      types: r.types,
      validFrom: iso(r.validFrom),
      validUntil: r.validUntil === null ? null : iso(r.validUntil),
      anchoredHeight: r.anchoredHeight,
      issuerAccreditedAtAnchor: issuerMayAttest(period, r.types),
      issuerStatus: iss?.status ?? null,
    };
  };
  return {
    issuer_get: defineMethod<{ did: string }, Record<string, unknown>>({
      description: "An issuer's accreditation: name, types, status and every period since it was added.",
      params: { did: { ...DID, required: true } },
      handler: async ({ did }) => issuerToJson(await issuer(did)),
    }),

    issuer_list: defineMethod<{ after?: string; limit?: number }, Record<string, unknown>>({
      description: "Issuers in DID order, `limit` after the DID `after`; `next` is the cursor of the following page.",
      params: { after: DID, limit: LIMIT },
      handler: async ({ after, limit = DEFAULT_LIMIT }, ctx) => {
        const recs = (await api.listRecords("issuer", { ...(after !== undefined ? { after } : {}), limit })) as IssuerRecord[];
        const page = pageByBytes(recs, limit, ctx, issuerToJson, (r) => r.did);
        return { issuers: page.items, next: page.next };
      },
    }),

    credential_get: defineMethod<{ id: string }, Record<string, unknown>>({
      description: "A credential anchor: issuer, subject, types, digest, validity, status and its history.",
      params: { id: CRED_ID },
      handler: async ({ id }) => credentialToJson(await credential(id)),
    }),

    credential_status: defineMethod<{ id: string; height?: number; time?: string; proof?: boolean }, Record<string, unknown>>({
      description:
        "A credential's status now, or at a height or time: revoked, suspended, expired, notYetValid or active, and whether its issuer was accredited for its types when it was anchored. With proof: true (current status only), a Merkle proof of the anchor against a committed header.",
      params: {
        id: CRED_ID,
        height: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
        time: { type: "string", maxLength: 40 },
        proof: { type: "boolean" },
      },
      handler: async ({ id, height, time, proof }) => {
        if (height !== undefined && time !== undefined) throw new RpcParamsError("time", "give at most one of height or time");
        if (proof && (height !== undefined || time !== undefined)) throw new RpcParamsError("proof", "proofs are of the current state: leave out height and time");
        const head = api.head();
        if (height !== undefined && height > head.height) throw new RpcParamsError("height", `is above the head (${head.height})`);
        if (proof) {
          if (!api.proveRecord) throw new RpcParamsError("proof", "this node does not serve state proofs");
          const p = await api.proveRecord(credentialStateId(id));
          const proven = p.valueBytes === null ? undefined : (decodeStateRecord(p.valueBytes) as CredentialRecord);
          if (!proven) return { id, at: { height: p.height }, status: "notAnchored", proof: stateProofToJson(p) };
          return { ...(await statusAnswer(proven, { height: p.height }, api.now())), proof: stateProofToJson(p) };
        }
        const r = await credential(id);
        const atTime = time !== undefined ? parseTime(time, "time") : undefined;
        if (atTime !== undefined && atTime > api.now()) throw new RpcParamsError("time", "is in the future");
        return statusAnswer(r, height !== undefined ? { height } : { time: atTime ?? api.now() }, api.now());
      },
    }),

    credential_list: defineMethod<{ subject?: string; issuer?: string; after?: string; limit?: number }, Record<string, unknown>>({
      description: "Credentials of one subject or one issuer, in id order, `limit` after the id `after`.",
      params: { subject: DID, issuer: DID, after: { ...CRED_ID, required: false }, limit: LIMIT },
      handler: async ({ subject, issuer: iss, after, limit = DEFAULT_LIMIT }, ctx) => {
        if ((subject === undefined) === (iss === undefined)) throw new RpcParamsError("subject", "give exactly one of subject or issuer");
        const by: CredentialIndexBy = subject !== undefined ? "subject" : "issuer";
        const recs = await api.listCredentials(by, (subject ?? iss)!, { ...(after !== undefined ? { after } : {}), limit });
        const page = pageByBytes(recs, limit, ctx, credentialToJson, (r) => r.id);
        return { credentials: page.items, next: page.next };
      },
    }),

    gov_trustees: defineMethod({
      description: "The current trustees and the number of approvals a proposal needs.",
      params: {},
      handler: async () => {
        const t = (await api.getRecord(TRUSTEES_ID)) as TrusteesRecord | undefined;
        if (!t || t.members.length === 0) throw new ChainError(GovErrorCode.DISABLED, "this chain has no trustees: governance is disabled");
        return { members: t.members, threshold: t.threshold, updatedHeight: t.updatedHeight };
      },
    }),

    gov_proposal: defineMethod<{ id: string }, Record<string, unknown>>({
      description: "A governance proposal: its action, approvals, status and last height for approvals.",
      params: { id: { type: "string", required: true, maxLength: 64, pattern: "^[0-9a-f]{64}$" } },
      handler: async ({ id }) => {
        const p = (await api.getRecord(proposalStateId(id))) as ProposalRecord | undefined;
        if (!p) throw new ChainError(GovErrorCode.PROPOSAL_NOT_FOUND, `no proposal ${id}`);
        return proposalToJson(p);
      },
    }),

    gov_proposals: defineMethod<{ after?: string; limit?: number }, Record<string, unknown>>({
      description: "Proposals in id order, `limit` after the id `after`.",
      params: { after: { type: "string", maxLength: 64, pattern: "^[0-9a-f]{64}$" }, limit: LIMIT },
      handler: async ({ after, limit = DEFAULT_LIMIT }, ctx) => {
        const recs = (await api.listRecords("proposal", { ...(after !== undefined ? { after } : {}), limit })) as ProposalRecord[];
        const page = pageByBytes(recs, limit, ctx, proposalToJson, (r) => r.id);
        return { proposals: page.items, next: page.next };
      },
    }),
  };
}
