/**
 * The shapes the credential SDK shares with its callers: what an issuer
 * gives, what a verifier is told, and the narrow interface through which
 * verification reads the chain (DID documents, status lists). Verification
 * depends on that interface only, so it runs against a node, an HTTP cache
 * of its lists, or an in-memory fake.
 */

/** A JSON value, as a claim carries it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The two credential formats: SD-JWT VC (selective disclosure) and a W3C VC 1.1 JWT (all or nothing). */
export type CredentialFormat = "sd-jwt-vc" | "jwt-vc";

/** Status of an accredited issuer in the on-chain issuer registry. */
export type IssuerStatus = "active" | "suspended" | "removed";

/** An entry of the issuer registry as of some height. */
export interface IssuerAccreditation {
  did: string;
  name: string;
  /** Credential types the issuer is accredited to issue. */
  types: string[];
  status: IssuerStatus;
}

/**
 * The part of a W3C DID resolution result verification reads. Both our own
 * `DidResolutionResult` and did-resolver's `DIDResolutionResult` fit.
 */
export interface DidResolutionLike {
  didDocument: unknown;
  didResolutionMetadata?: { error?: string; errorMessage?: string };
  didDocumentMetadata?: { deactivated?: boolean };
}

/** The latest Status List Token of a list and what the chain recorded about the list. */
export interface StatusListSnapshot {
  /** The list URI (the token's `sub`). */
  uri: string;
  /** The compact JWS, exactly as published. */
  token: string;
  /** The types the issuer was accredited for when it created the list: the chain let indices turn VALID only for these. */
  types: string[];
  /** Block time (ms) of the publish that carried this token: the issuer's document version it was checked against. */
  time: number;
}

/** How verification reads the chain. Any of these may throw; verification lets such errors through. */
export interface CredentialVerificationDeps {
  /** W3C DID resolution; `versionTime` is an RFC 3339 date-time (the version in force at that moment). */
  resolveDid(did: string, options?: { versionTime?: string }): Promise<DidResolutionLike>;
  /**
   * The whole list a credential names (never a single index, so the node
   * cannot tell which credential is checked); undefined when the chain has no
   * list at that URI.
   */
  statusList(uri: string): Promise<StatusListSnapshot | undefined>;
}

/** What the verifier expects of this presentation. */
export interface VerificationExpectation {
  /** The verifier's identifier; the KB-JWT `aud` must equal it. */
  audience?: string;
  /** The fresh nonce the verifier gave the holder; the KB-JWT `nonce` must equal it. */
  nonce?: string;
  /** The moment of verification, ms since the epoch. */
  now: number;
  /**
   * Require proof that the presenter holds the credential's key (a KB-JWT).
   * Default true for SD-JWT VC; a JWT VC has no key binding, so it is
   * accepted only when this is left unset or false.
   */
  requireKeyBinding?: boolean;
}

/** Why a credential was refused. Stable strings: verifiers may branch on them. */
export enum VerdictReason {
  /** Not a credential of ours: bad serialization, header, claims or sizes. */
  MALFORMED = "MALFORMED",
  /** The issuer DID does not resolve (or is deactivated). */
  ISSUER_DID_UNRESOLVED = "ISSUER_DID_UNRESOLVED",
  /** The header `kid` is not in the issuer's assertionMethod. */
  KEY_NOT_ASSERTION_METHOD = "KEY_NOT_ASSERTION_METHOD",
  BAD_SIGNATURE = "BAD_SIGNATURE",
  /** The chain has no status list at the credential's `status.status_list.uri`. */
  STATUS_LIST_NOT_FOUND = "STATUS_LIST_NOT_FOUND",
  /** The status list token is malformed, not the issuer's, for another URI, expired, or badly signed. */
  STATUS_LIST_INVALID = "STATUS_LIST_INVALID",
  /** The list's types (the issuer's accreditation when it created the list) do not cover the credential's type. */
  TYPE_NOT_ACCREDITED = "TYPE_NOT_ACCREDITED",
  /** Status INVALID at the credential's index: revoked by its issuer (final). */
  REVOKED = "REVOKED",
  /** Status SUSPENDED at the credential's index. */
  SUSPENDED = "SUSPENDED",
  /** Status UNISSUED at the credential's index: the chain never saw it issued while the issuer was accredited. */
  NOT_ISSUED = "NOT_ISSUED",
  EXPIRED = "EXPIRED",
  NOT_YET_VALID = "NOT_YET_VALID",
  /** A presented disclosure is not one the issuer signed (tampered, foreign, duplicated or colliding). */
  DISCLOSURE_MISMATCH = "DISCLOSURE_MISMATCH",
  /** Key binding was required and the presentation has none. */
  KEY_BINDING_MISSING = "KEY_BINDING_MISSING",
  /** The KB-JWT is malformed or not signed by the `cnf` key. */
  BAD_KEY_BINDING = "BAD_KEY_BINDING",
  AUDIENCE_MISMATCH = "AUDIENCE_MISMATCH",
  /** The KB-JWT nonce is not the verifier's: a replayed presentation. */
  NONCE_MISMATCH = "NONCE_MISMATCH",
  /** The KB-JWT `sd_hash` does not cover exactly the presented credential and disclosures. */
  SD_HASH_MISMATCH = "SD_HASH_MISMATCH",
}

/** The copy's status as its list says (or "expired" past `exp`). */
export type VerdictStatus = "valid" | "revoked" | "suspended" | "unissued" | "expired";

export interface Verdict {
  valid: boolean;
  /** Set when valid is false. */
  reason?: VerdictReason;
  message?: string;
  format: CredentialFormat | null;
  /** As far as they could be read (null before the credential parsed): issuer-level values only. */
  issuer: string | null;
  types: string[];
  /** The status list the copy names (issuer-level: shared by every copy in the list). */
  statusListUri: string | null;
  /** The claims the verifier may rely on: only when valid, otherwise empty. */
  disclosed: Record<string, JsonValue>;
  /** Null until the status list was read. */
  status: VerdictStatus | null;
}

/** One copy to issue: its status index and, for an SD-JWT VC, its holder key. */
export interface CopySpec {
  /** 33-byte compressed key the holder will prove possession of (becomes `cnf.jwk`); SD-JWT VC only. */
  holderPublicKey?: Uint8Array;
  /** Where the copy's status lives. */
  status: { uri: string; idx: number };
}

/** Input of issueCopies; times in ms since the epoch (rounded to whole UTC days). */
export interface IssueCopiesInput {
  format: CredentialFormat;
  issuerDid: string;
  /** Full DID URL of a key in the issuer's assertionMethod, e.g. did:sid:...#key-1. */
  issuerKid: string;
  /** 32-byte secp256k1 secret key of issuerKid. */
  issuerSecretKey: Uint8Array;
  /** Credential type name, e.g. KYCBasic. */
  type: string;
  claims: Record<string, JsonValue>;
  /** Default: issuedAt. Rounded down to its day. */
  validFrom?: number;
  /** Rounded down to its day; must be a later day than validFrom. */
  validUntil?: number;
  /** Default: the clock. Rounded down to its day. */
  issuedAt?: number;
  /** SD-JWT VC: entries of `_sd` (claims plus decoys), the same for every credential of the type; default DEFAULT_SD_DIGESTS. */
  sdDigests?: number;
  copies: CopySpec[];
}

/** Input of presentSdJwtVc. */
export interface PresentSdJwtVcInput {
  /** The holder's full SD-JWT VC, as issued (`jwt~disclosures~`). */
  credential: string;
  /** Names of the claims to reveal; all others stay hidden. */
  disclose: string[];
  /** Secret key matching the credential's `cnf.jwk`. */
  holderSecretKey: Uint8Array;
  audience: string;
  nonce: string;
  /** KB-JWT `iat`, ms; the clock when absent. */
  now?: number;
}
