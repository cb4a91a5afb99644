/**
 * KYC registry rules, pure: the shapes of issuer accreditations and of
 * credential anchors as the chain keeps them, and the questions verifiers ask
 * of them ("was this issuer accredited for this type at that height?", "what
 * was this credential's status at that time?").
 *
 * Invariant 5 (no personal data on chain): a credential record holds the
 * issuer, the subject DID, type names, a digest, validity times and a
 * status, nothing else. Ids and type names have narrow formats so no field
 * can carry a claim value.
 */

/** 16 random bytes as 32 lowercase hex chars: room for randomness, none for a name or a number. */
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
  /** Status changes one credential may go through (suspend/reinstate cycles). */
  maxStatusChanges: 64,
  /** Status periods kept for one issuer. */
  maxIssuerHistory: 64,
});

export type IssuerStatus = "active" | "suspended" | "removed";
export type CredentialStatus = "active" | "suspended" | "revoked";
/** The status a verifier sees: the stored status, or `expired` past validUntil. */
export type EffectiveStatus = CredentialStatus | "expired" | "notYetValid";

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

export interface StatusChange {
  status: CredentialStatus;
  height: number;
  time: number;
}

export interface CredentialRecord {
  kind: "credential";
  id: string;
  issuer: string;
  subject: string;
  types: string[];
  /** sha256 of the issuer-signed credential (32 bytes). */
  digest: Uint8Array;
  /** ms since the Unix epoch. */
  validFrom: number;
  validUntil: number | null;
  anchoredHeight: number;
  anchoredTime: number;
  txHash: Uint8Array;
  status: CredentialStatus;
  /** Every status from the anchor on (the anchor itself is the first, `active`). */
  history: StatusChange[];
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

/** Rule: an issuer may anchor a type when its accreditation is active and lists the type. */
export function issuerMayAttest(period: IssuerPeriod | undefined, types: readonly string[]): boolean {
  return period !== undefined && period.status === "active" && types.every((t) => period.types.includes(t));
}

/**
 * Rule: revocation is final; suspend and reinstate move between active and
 * suspended. Returns the reason a transition is refused, or undefined.
 */
export function statusTransitionError(from: CredentialStatus, to: CredentialStatus): string | undefined {
  if (from === "revoked") return "the credential is revoked; revocation is final";
  if (from === to) return `the credential is already ${to}`;
  return undefined;
}

/**
 * The stored status in force at a moment, given as a height or a time (ms):
 * the latest change at or before it. Undefined before the anchor.
 */
export function storedStatusAt(record: CredentialRecord, at: { height?: number; time?: number }): CredentialStatus | undefined {
  let found: CredentialStatus | undefined;
  for (const c of record.history) {
    if (at.height !== undefined && c.height > at.height) break;
    if (at.time !== undefined && c.time > at.time) break;
    found = c.status;
  }
  return found;
}

/** What a verifier should conclude at time `timeMs`: revoked and suspended first, then the validity window. */
export function effectiveStatus(stored: CredentialStatus, record: Pick<CredentialRecord, "validFrom" | "validUntil">, timeMs: number): EffectiveStatus {
  if (stored !== "active") return stored;
  if (record.validUntil !== null && timeMs >= record.validUntil) return "expired";
  if (timeMs < record.validFrom) return "notYetValid";
  return "active";
}
