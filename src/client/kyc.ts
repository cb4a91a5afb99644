/**
 * KYC end to end through a node's JSON-RPC: the glue between the credential
 * SDK (issue, present, verify: pure, chain-agnostic) and the registry on
 * chain (anchors, statuses, issuer accreditations). A KYC provider's service
 * issues and anchors with `issueAndAnchor`; a verifier judges a presentation
 * with `verifyWithNode`. Claim values stay in the credential: only the
 * anchor (id, subject, types, digest, validity) goes to the node.
 */
import type { KeyPair } from "../crypto/hd.js";
import { keyForRelationship, type DidDocument } from "../did/document.js";
import { parseDid } from "../did/syntax.js";
import { issueJwtVc, issueSdJwtVc } from "./credentials/issue.js";
import { parseCredential } from "./credentials/format.js";
import { verifyCredentialPresentation } from "./credentials/verify.js";
import type {
  CredentialFormat,
  CredentialVerificationDeps,
  IssuedCredential,
  IssuerAccreditation,
  JsonValue,
  Verdict,
  VerificationExpectation,
} from "./credentials/types.js";
import { RegistryClient, type IssuerJson, type IssuerPeriodJson } from "./registry-client.js";
import { RpcError } from "./rpc-client.js";
import { SidClient, SidClientError } from "./sid-client.js";
import { findMethodForKey } from "./txs.js";

/** Reasons under which the node says "no such record": the verifier's `undefined`, not a failure to read the chain. */
const NOT_FOUND_REASONS: ReadonlySet<string> = new Set(["CREDENTIAL_NOT_FOUND", "ISSUER_NOT_FOUND"]);

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof RpcError && err.reason !== undefined && NOT_FOUND_REASONS.has(err.reason)) return undefined;
    throw err;
  }
}

/** The issuer's accreditation period in force at `height` (the latest period starting at or before it). */
export function issuerAccreditationAt(issuer: IssuerJson, height: number): IssuerAccreditation | undefined {
  let found: IssuerPeriodJson | undefined;
  for (const p of issuer.history) {
    if (p.height > height) break;
    found = p;
  }
  return found && { did: issuer.did, name: found.name, types: found.types, status: found.status };
}

/**
 * Verification's view of the chain, read through `client`'s node: DID
 * resolution (with versionTime), anchors (credential_get), accreditation at a
 * height (issuer_get and its periods), and status at a time
 * (credential_status). A record the node does not have is `undefined`; a
 * node that cannot be reached throws, so verification gives no verdict.
 */
export function rpcVerificationDeps(client: SidClient): CredentialVerificationDeps {
  const registry = new RegistryClient(client);
  return {
    resolveDid: (did, options) => client.resolve(did, options?.versionTime !== undefined ? { versionTime: options.versionTime } : {}),
    // The chain keeps no per-credential anchor or status any more (issuer status lists replace them).
    getAnchor: async () => {
      throw new SidClientError("removed", "the chain keeps no per-credential anchors; status lists replace them");
    },
    issuerAt: async (did, height) => {
      const issuer = await orUndefined(registry.issuer(did));
      return issuer && issuerAccreditationAt(issuer, height);
    },
    statusAt: async () => {
      throw new SidClientError("removed", "the chain keeps no per-credential status; status lists replace it");
    },
  };
}

export interface IssueAndAnchorInput {
  client: SidClient;
  issuerDid: string;
  /** A key in the issuer's assertionMethod: it signs the credential and the anchor tx. */
  issuerKey: KeyPair;
  subjectDid: string;
  /** 33-byte compressed holder key (cnf); default: the subject's first authentication key. */
  holderPublicKey?: Uint8Array;
  /** Credential type name, one the issuer is accredited for. */
  type: string;
  claims: Record<string, JsonValue>;
  /** ms since the epoch; default: now, to the whole second. */
  validFrom?: number;
  validUntil?: number;
  format: CredentialFormat;
  /** 32 lowercase hex; a fresh random id when absent. */
  credentialId?: string;
}

export interface IssueAndAnchorResult {
  credential: IssuedCredential;
  credentialId: string;
  /** sha256 hex of the issuer-signed JWT, as anchored. */
  digest: string;
  txHash: string;
  height: number;
}

/** The key of the first entry of `doc.authentication` (embedded or referenced). */
export function firstAuthenticationKey(doc: DidDocument): Uint8Array | undefined {
  const first = doc.authentication?.[0];
  if (first === undefined) return undefined;
  return keyForRelationship(doc, "authentication", typeof first === "string" ? first : first.id);
}

/**
 * Issue a credential and anchor it, committed. The credential is signed with
 * the issuer key's assertionMethod entry (its full DID URL is the `kid`) and
 * anchored with the validity times as issued (rounded to whole seconds), so
 * the anchor and the JWT agree. Throws SidClientError `unauthorized` when the
 * key is not in the issuer's assertionMethod, the subject's resolution error
 * when it cannot be resolved, CredentialError for bad claims or times, and
 * RpcError / SidClientError with the chain's code when the anchor is refused
 * (issuer not accredited or active, type not accredited, ...).
 */
export async function issueAndAnchor(input: IssueAndAnchorInput): Promise<IssueAndAnchorResult> {
  const { client, issuerDid, issuerKey, subjectDid } = input;
  parseDid(issuerDid);
  parseDid(subjectDid);
  const { document: issuerDoc } = await client.current(issuerDid);
  const kid = findMethodForKey(issuerDoc, issuerKey.publicKey, "assertionMethod");
  if (!kid) throw new SidClientError("unauthorized", `the issuer key is not in the assertionMethod of ${issuerDid}`);
  // Whole seconds: issuing rounds validFrom up, and a credential valid from a moment ahead would not verify yet.
  const validFrom = input.validFrom ?? Math.floor(Date.now() / 1000) * 1000;
  const common = {
    issuerDid,
    issuerKid: kid,
    issuerSecretKey: issuerKey.secretKey,
    subjectDid,
    type: input.type,
    claims: input.claims,
    validFrom,
    ...(input.validUntil !== undefined ? { validUntil: input.validUntil } : {}),
    ...(input.credentialId !== undefined ? { credentialId: input.credentialId } : {}),
  };
  let credential: IssuedCredential;
  if (input.format === "sd-jwt-vc") {
    let holderPublicKey = input.holderPublicKey;
    if (holderPublicKey === undefined) {
      const { document } = await client.current(subjectDid);
      holderPublicKey = firstAuthenticationKey(document);
      if (!holderPublicKey) throw new SidClientError("noHolderKey", `${subjectDid} has no authentication key to bind the credential to`);
    }
    credential = await issueSdJwtVc({ ...common, holderPublicKey });
  } else if (input.format === "jwt-vc") {
    credential = await issueJwtVc(common);
  } else {
    throw new SidClientError("invalidFormat", `format must be sd-jwt-vc or jwt-vc, got ${JSON.stringify(String(input.format)).slice(0, 40)}`);
  }
  void credential;
  throw new SidClientError("removed", "the chain keeps no per-credential anchors; issuance publishes a status list instead");
}

/**
 * Judge a presentation (or credential) against the chain as `client`'s node
 * holds it, at `expect.now` (default: now). See verifyCredentialPresentation
 * for the checks and reason codes.
 */
export function verifyWithNode(
  client: SidClient,
  presentation: string,
  expect: Omit<VerificationExpectation, "now"> & { now?: number } = {},
): Promise<Verdict> {
  return verifyCredentialPresentation(presentation, rpcVerificationDeps(client), { ...expect, now: expect.now ?? Date.now() });
}

/** The holder key (`cnf.jwk`) an SD-JWT VC is bound to, or undefined for a JWT VC or unreadable input. */
export function credentialHolderKey(credential: string): Uint8Array | undefined {
  const parsed = parseCredential(credential);
  return parsed.ok ? parsed.value.holderKey : undefined;
}
