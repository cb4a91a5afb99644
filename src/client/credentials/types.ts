/**
 * The shapes the credential SDK shares with its callers and with the chain
 * side: what an issuer gets back, what a verifier is told, and the narrow
 * interfaces through which verification reads the chain (anchors, issuer
 * accreditation, DID documents). Verification depends on these interfaces
 * only, so it runs against a node's RPC, an indexer, or an in-memory fake.
 */

/** A JSON value, as a claim carries it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The two credential formats: SD-JWT VC (selective disclosure) and a W3C VC 1.1 JWT (all or nothing). */
export type CredentialFormat = "sd-jwt-vc" | "jwt-vc";

/** Status of an anchored credential as the chain records it. */
export type AnchorStatus = "active" | "suspended" | "revoked";

/** Status of an accredited issuer in the on-chain issuer registry. */
export type IssuerStatus = "active" | "suspended" | "removed";

/**
 * What the chain holds about one credential (no claim values: DESIGN.md invariant 5).
 * Times are ms since the epoch, as everywhere on chain.
 */
export interface AnchoredCredential {
  /** 32 lowercase hex characters. */
  id: string;
  issuer: string;
  subject: string;
  types: string[];
  /** sha256 hex of the issuer-signed JWT (see credentialDigest). */
  digest: string;
  validFrom: number;
  validUntil: number | null;
  /** Height and block time of the block that anchored the credential. */
  anchoredHeight: number;
  anchoredTime: number;
  status: AnchorStatus;
  /** Height of the last status change, if any. */
  statusHeight?: number;
}

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

/** How verification reads the chain. Any of these may throw; verification lets such errors through. */
export interface CredentialVerificationDeps {
  /** W3C DID resolution; `versionTime` is an RFC 3339 date-time (the version in force at that moment). */
  resolveDid(did: string, options?: { versionTime?: string }): Promise<DidResolutionLike>;
  /** The anchor of a credential, by its 32-hex id. */
  getAnchor(credentialId: string): Promise<AnchoredCredential | undefined>;
  /** The issuer's registry entry as of a block height. */
  issuerAt(issuerDid: string, height: number): Promise<IssuerAccreditation | undefined>;
  /**
   * The credential's status at a moment (ms). When given, it replaces the
   * anchor's current status, so a verifier can ask "was it valid then?";
   * undefined means the credential was not anchored at that moment.
   */
  statusAt?(credentialId: string, timeMs: number): Promise<AnchorStatus | undefined>;
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
  /** No `jti` of the form urn:sid:credential:<32 hex>. */
  MISSING_CREDENTIAL_ID = "MISSING_CREDENTIAL_ID",
  NOT_ANCHORED = "NOT_ANCHORED",
  /** The issuer-signed JWT does not hash to the anchored digest. */
  DIGEST_MISMATCH = "DIGEST_MISMATCH",
  /** The anchor's issuer, subject, types or validity differ from the credential's. */
  ANCHOR_MISMATCH = "ANCHOR_MISMATCH",
  /** The issuer DID did not resolve (or was deactivated) at anchoring time. */
  ISSUER_DID_UNRESOLVED = "ISSUER_DID_UNRESOLVED",
  /** The header `kid` is not in the issuer's assertionMethod at anchoring time. */
  KEY_NOT_ASSERTION_METHOD = "KEY_NOT_ASSERTION_METHOD",
  BAD_SIGNATURE = "BAD_SIGNATURE",
  ISSUER_NOT_ACCREDITED = "ISSUER_NOT_ACCREDITED",
  TYPE_NOT_ACCREDITED = "TYPE_NOT_ACCREDITED",
  REVOKED = "REVOKED",
  SUSPENDED = "SUSPENDED",
  EXPIRED = "EXPIRED",
  NOT_YET_VALID = "NOT_YET_VALID",
  /** A presented disclosure is not one the issuer signed (tampered, foreign, duplicated or colliding). */
  DISCLOSURE_MISMATCH = "DISCLOSURE_MISMATCH",
  /** Key binding was required and the presentation has none. */
  KEY_BINDING_MISSING = "KEY_BINDING_MISSING",
  /** The subject DID does not resolve or is deactivated. */
  SUBJECT_DID_UNRESOLVED = "SUBJECT_DID_UNRESOLVED",
  /** The credential's `cnf.jwk` is not an authentication or assertionMethod key of the subject DID. */
  HOLDER_KEY_MISMATCH = "HOLDER_KEY_MISMATCH",
  /** The KB-JWT is malformed or not signed by the `cnf` key. */
  BAD_KEY_BINDING = "BAD_KEY_BINDING",
  AUDIENCE_MISMATCH = "AUDIENCE_MISMATCH",
  /** The KB-JWT nonce is not the verifier's: a replayed presentation. */
  NONCE_MISMATCH = "NONCE_MISMATCH",
  /** The KB-JWT `sd_hash` does not cover exactly the presented credential and disclosures. */
  SD_HASH_MISMATCH = "SD_HASH_MISMATCH",
}

/** The credential's standing at `now`: the anchored status, or "expired" past validUntil. */
export type VerdictStatus = AnchorStatus | "expired";

export interface Verdict {
  valid: boolean;
  /** Set when valid is false. */
  reason?: VerdictReason;
  message?: string;
  format: CredentialFormat | null;
  /** As far as they could be read (null before the credential parsed). */
  credentialId: string | null;
  issuer: string | null;
  subject: string | null;
  types: string[];
  /** The claims the verifier may rely on: only when valid, otherwise empty. */
  disclosed: Record<string, JsonValue>;
  /** Null until the anchor was found. */
  status: VerdictStatus | null;
}

/** Input of issueSdJwtVc; times in ms since the epoch. */
export interface IssueSdJwtVcInput {
  issuerDid: string;
  /** Full DID URL of a key in the issuer's assertionMethod, e.g. did:sid:...#key-1. */
  issuerKid: string;
  /** 32-byte secp256k1 secret key of issuerKid. */
  issuerSecretKey: Uint8Array;
  subjectDid: string;
  /** 33-byte compressed key the holder will prove possession of (becomes `cnf.jwk`). */
  holderPublicKey: Uint8Array;
  /** Credential type name, e.g. KYCBasic. */
  type: string;
  claims: Record<string, JsonValue>;
  validFrom: number;
  validUntil?: number;
  /** 32 lowercase hex; a fresh random id when absent. */
  credentialId?: string;
  /** Issuance time (`iat`); the clock when absent. */
  issuedAt?: number;
}

/** Input of issueJwtVc: the same, without a holder key (a JWT VC has no key binding). */
export type IssueJwtVcInput = Omit<IssueSdJwtVcInput, "holderPublicKey">;

/** An issued credential and the fields its on-chain anchor carries. */
export interface IssuedCredential {
  format: CredentialFormat;
  /** Compact serialization: `jwt~disclosure~...~` for SD-JWT VC, a JWT for JWT VC. */
  credential: string;
  credentialId: string;
  /** sha256 hex of the issuer-signed JWT: what the anchor stores. */
  digest: string;
  issuer: string;
  subject: string;
  types: string[];
  /** As signed: whole seconds, validFrom rounded up and validUntil down, so the anchor and the JWT agree. */
  validFrom: number;
  validUntil: number | null;
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
