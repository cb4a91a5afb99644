/**
 * Governance rules, pure: what an executed proposal writes. Trustees named in
 * genesis (and later by `trustees/set`) approve proposals on chain; when the
 * approvals of current trustees reach the threshold, the action runs in the
 * approving tx. One mechanism serves the issuer registry and the trustee set
 * (and, later, validator-set changes).
 */
import { encodeCanonical } from "./codec.js";
import { ChainError, DidErrorCode, GovErrorCode, KycErrorCode } from "./errors.js";
import { KYC_LIMITS, type IssuerPeriod, type IssuerRecord } from "../did/kyc.js";
import { VALIDATORS_ID, type ValidatorsRecord, applyValidatorChange } from "./validators.js";
import {
  type GovAction,
  type RegistryRecord,
  type StateView,
  type TrusteesRecord,
  TRUSTEES_ID,
  issuerStateId,
} from "./state.js";

/** Blocks a proposal stays open for approvals (about a week at one block per 5 s). */
export const PROPOSAL_TTL_BLOCKS = 120_000;

export interface GovContext {
  height: number;
  time: number;
}

/** State ids an action reads and writes. */
export function touchedByAction(a: GovAction): string[] {
  if (a.kind === "trustees/set") return [TRUSTEES_ID];
  if (a.kind === "validator/set") return [VALIDATORS_ID];
  return a.kind === "issuer/add" ? [issuerStateId(a.did), a.did] : [issuerStateId(a.did)];
}

export function sameAction(a: GovAction, b: GovAction): boolean {
  return Buffer.from(encodeCanonical(a as never)).equals(encodeCanonical(b as never));
}

/** The current trustees, or GOV_DISABLED when the chain has none. */
export function currentTrustees(view: StateView): TrusteesRecord {
  const t = view.get(TRUSTEES_ID) as TrusteesRecord | undefined;
  if (!t || t.members.length === 0) throw new ChainError(GovErrorCode.DISABLED, "this chain has no trustees: governance is disabled");
  return t;
}

function withPeriod(rec: IssuerRecord | undefined, did: string, p: IssuerPeriod): IssuerRecord {
  const history = [...(rec?.history ?? []), p];
  if (history.length > KYC_LIMITS.maxIssuerHistory) {
    throw new ChainError(GovErrorCode.ACTION_FAILED, `${did} has had ${KYC_LIMITS.maxIssuerHistory} accreditation changes, the most one issuer may have`);
  }
  return { kind: "issuer", did, name: p.name, types: p.types, status: p.status, updatedHeight: p.height, updatedTime: p.time, history };
}

/**
 * Rule: run an approved action. Issuers are added when absent or removed,
 * suspended when active, reinstated when suspended, removed unless removed;
 * every change is a new period in the issuer's history, so the accreditation
 * in force at any height stays known.
 */
export function applyGovAction(view: StateView, a: GovAction, ctx: GovContext): RegistryRecord[] {
  if (a.kind === "trustees/set") {
    return [{ kind: "trustees", members: a.members, threshold: a.threshold, updatedHeight: ctx.height }];
  }
  if (a.kind === "validator/set") {
    const rec = view.get(VALIDATORS_ID) as ValidatorsRecord | undefined;
    // A chain whose genesis state holds no validator record (made before the record existed) cannot change its set.
    if (!rec) throw new ChainError(GovErrorCode.ACTION_FAILED, "this chain keeps no validator set in state; its validators are fixed by genesis");
    return [applyValidatorChange(rec, a, ctx.height)];
  }
  const rec = view.get(issuerStateId(a.did)) as IssuerRecord | undefined;
  const period = (status: IssuerPeriod["status"], name: string, types: string[]): IssuerPeriod => ({ status, name, types, height: ctx.height, time: ctx.time });
  switch (a.kind) {
    case "issuer/add": {
      if (rec && rec.status !== "removed") throw new ChainError(KycErrorCode.ISSUER_EXISTS, `${a.did} is already an issuer (${rec.status})`);
      const subject = view.getDid(a.did);
      if (!subject) throw new ChainError(DidErrorCode.NOT_FOUND, `issuer ${a.did} is not a registered DID`);
      if (subject.deactivated) throw new ChainError(DidErrorCode.DEACTIVATED, `issuer ${a.did} is deactivated`);
      return [withPeriod(rec, a.did, period("active", a.name, a.types))];
    }
    case "issuer/suspend":
    case "issuer/reinstate":
    case "issuer/remove": {
      if (!rec || rec.status === "removed") throw new ChainError(KycErrorCode.ISSUER_NOT_FOUND, `${a.did} is not an issuer`);
      const want = a.kind === "issuer/suspend" ? "suspended" : a.kind === "issuer/reinstate" ? "active" : "removed";
      if (a.kind === "issuer/suspend" && rec.status !== "active") throw new ChainError(KycErrorCode.ISSUER_NOT_ACTIVE, `${a.did} is ${rec.status}, not active`);
      if (a.kind === "issuer/reinstate" && rec.status !== "suspended") throw new ChainError(GovErrorCode.ACTION_FAILED, `${a.did} is ${rec.status}, not suspended`);
      return [withPeriod(rec, a.did, period(want, rec.name, rec.types))];
    }
  }
}
