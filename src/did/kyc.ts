/**
 * KYC registry rules, pure: the shape of issuer accreditations as the chain
 * keeps them, and the question verifiers ask of them ("was this issuer
 * accredited for this type at that height?").
 *
 * Invariant 5 (nothing per holder on chain): the chain keeps issuers and
 * their status lists (status-list.ts), never a subject, a holder key or a
 * per-credential record. Type names have a narrow format so no field can
 * carry a claim value.
 */

/** 16 random bytes as 32 lowercase hex chars: a credential's own id (it stays off chain). */
export const CREDENTIAL_ID_RE = /^[0-9a-f]{32}$/;
/** Credential type names (`KYCBasic`, `AgeOver18`): short identifiers, accredited by governance. */
export const TYPE_NAME_RE = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;
/** An issuer's display name: an organisation's public name. */
export const ISSUER_NAME_MAX = 64;

export const KYC_LIMITS = Object.freeze({
  /** Types one issuer may be accredited for. */
  maxIssuerTypes: 16,
  /** Types one credential may carry. */
  maxCredentialTypes: 8,
  /** Status periods kept for one issuer. */
  maxIssuerHistory: 64,
});

export type IssuerStatus = "active" | "suspended" | "removed";

/** One period of an issuer's accreditation, from `height` until the next entry. */
export interface IssuerPeriod {
  status: IssuerStatus;
  name: string;
  types: string[];
  height: number;
  time: number;
}

export interface IssuerRecord {
  kind: "issuer";
  did: string;
  name: string;
  types: string[];
  status: IssuerStatus;
  /** Height and time of the latest change. */
  updatedHeight: number;
  updatedTime: number;
  /** Every period, oldest first; the last one is the current state. */
  history: IssuerPeriod[];
}

export function isCredentialId(v: unknown): v is string {
  return typeof v === "string" && CREDENTIAL_ID_RE.test(v);
}

export function isTypeName(v: unknown): v is string {
  return typeof v === "string" && TYPE_NAME_RE.test(v);
}

/** Printable, trimmed, 1..64 chars, no control characters. */
export function isIssuerName(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= ISSUER_NAME_MAX && v === v.trim() && !/[\u0000-\u001f\u007f]/.test(v);
}

/** The issuer's accreditation in force at `height` (the latest period starting at or before it). */
export function issuerPeriodAt(record: IssuerRecord, height: number): IssuerPeriod | undefined {
  let found: IssuerPeriod | undefined;
  for (const p of record.history) {
    if (p.height > height) break;
    found = p;
  }
  return found;
}

/** Rule: an issuer may issue a type when its accreditation is active and lists the type. */
export function issuerMayAttest(period: IssuerPeriod | undefined, types: readonly string[]): boolean {
  return period !== undefined && period.status === "active" && types.every((t) => period.types.includes(t));
}
