/**
 * The holder's side of an SD-JWT VC: pick the claims to reveal and prove
 * possession of the credential's key for one verifier and one nonce.
 *
 * The presentation is `<issuer JWT>~<chosen disclosures>~<KB-JWT>`; the
 * KB-JWT (RFC 9901 section 4.3) is signed ES256K by the holder key and
 * carries `iat`, `aud`, `nonce` and `sd_hash` (the digest of everything
 * before it), so it cannot be moved to another verifier, replayed against
 * another nonce, or combined with other disclosures.
 */
import { SDJwtVcInstance } from "@sd-jwt/sd-jwt-vc";
import { bytesEqual } from "../../crypto/bytes.js";
import { CryptoError } from "../../crypto/errors.js";
import { publicKeyOf } from "../../crypto/secp256k1.js";
import { CredentialError, CredentialErrorCode, invalidInput } from "./errors.js";
import { parseCredential } from "./format.js";
import { ES256K, SD_HASH_ALG, decodeJsonSegment, es256kSigner, sdDigest, sdHasher } from "./jose.js";
import type { PresentSdJwtVcInput } from "./types.js";

/** Longest audience or nonce accepted: identifiers and random tokens, not documents. */
const MAX_BINDING_TEXT = 1024;

function checkBindingText(field: string, v: unknown): string {
  if (typeof v !== "string" || v.length === 0 || v.length > MAX_BINDING_TEXT) {
    invalidInput(field, `must be a non-empty string of at most ${MAX_BINDING_TEXT} characters`);
  }
  return v;
}

/**
 * The disclosable claim names of an issued SD-JWT VC, by disclosure. Only
 * disclosures whose digest the issuer signed count: a credential carrying
 * others is refused as malformed, since no verifier would accept it.
 */
function disclosuresByName(credential: string): { names: Map<string, string>; holderKey: Uint8Array } {
  const parsed = parseCredential(credential);
  if (!parsed.ok) throw new CredentialError(CredentialErrorCode.MALFORMED, `not an SD-JWT VC: ${parsed.message}`);
  const c = parsed.value;
  if (c.format !== "sd-jwt-vc" || c.holderKey === undefined) {
    throw new CredentialError(CredentialErrorCode.MALFORMED, "only an SD-JWT VC can be presented selectively; a JWT VC is shown whole");
  }
  if (c.keyBinding) throw new CredentialError(CredentialErrorCode.MALFORMED, "expected the credential as issued, not a presentation (it ends in a KB-JWT)");
  const names = new Map<string, string>();
  c.disclosures.forEach((d, i) => {
    const item = decodeJsonSegment(d);
    if (!c.signedDigests.has(sdDigest(d)) || !Array.isArray(item) || item.length !== 3 || typeof item[1] !== "string") {
      throw new CredentialError(CredentialErrorCode.MALFORMED, `disclosure ${i} is not a claim disclosure the issuer signed`);
    }
    if (names.has(item[1])) throw new CredentialError(CredentialErrorCode.MALFORMED, `claim ${JSON.stringify(item[1].slice(0, 64))} is disclosed twice`);
    names.set(item[1], d);
  });
  return { names, holderKey: c.holderKey };
}

/**
 * Present an SD-JWT VC with only the claims in `disclose` and a KB-JWT for
 * `audience` and `nonce`. Throws CredentialError: UNKNOWN_CLAIM (data
 * `{unknown, available}`) when `disclose` names a claim the credential does
 * not have, HOLDER_KEY_MISMATCH when the secret key is not the credential's
 * `cnf` key, INVALID_INPUT or MALFORMED for bad arguments.
 */
export async function presentSdJwtVc(input: PresentSdJwtVcInput): Promise<string> {
  if (typeof input !== "object" || input === null) invalidInput("input", "must be an object");
  const { names, holderKey } = disclosuresByName(input.credential);
  if (!Array.isArray(input.disclose) || !input.disclose.every((n) => typeof n === "string")) {
    invalidInput("disclose", "must be an array of claim names");
  }
  const available = [...names.keys()].sort();
  const unknown = input.disclose.filter((n) => !names.has(n));
  if (unknown.length > 0) {
    throw new CredentialError(
      CredentialErrorCode.UNKNOWN_CLAIM,
      `the credential has no claim ${unknown.map((n) => JSON.stringify(n.slice(0, 64))).join(", ")}; it has ${available.join(", ") || "no disclosable claims"}`,
      { unknown, available },
    );
  }
  let holderPublicKey: Uint8Array;
  try {
    holderPublicKey = publicKeyOf(input.holderSecretKey);
  } catch (err) {
    return invalidInput("holderSecretKey", err instanceof CryptoError ? err.message : "must be a 32-byte secp256k1 secret key");
  }
  if (!bytesEqual(holderPublicKey, holderKey)) {
    throw new CredentialError(CredentialErrorCode.HOLDER_KEY_MISMATCH, "holderSecretKey is not the key the credential is bound to (cnf.jwk)");
  }
  const aud = checkBindingText("audience", input.audience);
  const nonce = checkBindingText("nonce", input.nonce);
  const now = input.now ?? Date.now();
  if (!Number.isSafeInteger(now) || now < 0) invalidInput("now", "must be a non-negative integer of ms since the epoch");

  const sdJwtVc = new SDJwtVcInstance({
    hasher: sdHasher,
    hashAlg: SD_HASH_ALG,
    kbSigner: es256kSigner(input.holderSecretKey),
    kbSignAlg: ES256K,
  });
  const frame = Object.fromEntries(input.disclose.map((n) => [n, true] as const));
  return sdJwtVc.present(input.credential, frame, { kb: { payload: { iat: Math.floor(now / 1000), aud, nonce } } });
}
