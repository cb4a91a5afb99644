/**
 * did:sid syntax and derivation (DESIGN.md, public contracts):
 *   did:sid:<id>, <id> = base58btc(first 20 bytes of sha256(compressed secp256k1 key))
 * so only the holder of that key can create the DID.
 */
import { base58btcDecode, base58btcEncode } from "../crypto/encoding.js";
import { sha256 } from "../crypto/hash.js";
import { assertCompressedPublicKey } from "../crypto/secp256k1.js";
import { DidError, DidErrorCode } from "./errors.js";

export const DID_METHOD = "sid";
export const DID_PREFIX = "did:sid:";
/** Bytes of the key hash kept in the id (20, like Bitcoin/Ethereum addresses). */
export const DID_ID_BYTES = 20;
/** A 20-byte value is 27 or 28 base58 characters (fewer with leading zero bytes). */
const ID_RE = /^[1-9A-HJ-NP-Za-km-z]{1,28}$/;
/** DID URL fragment: a conservative subset of RFC 3986 fragment characters. */
const FRAGMENT_RE = /^[A-Za-z0-9._~-]{1,64}$/;

export function didFromPublicKey(publicKey: Uint8Array): string {
  assertCompressedPublicKey(publicKey);
  return didFromCheckedKey(publicKey);
}

/** didFromPublicKey for a key already known to be a compressed curve point: one a validated document's method yields (keyForRelationship). */
export function didFromCheckedKey(publicKey: Uint8Array): string {
  return DID_PREFIX + base58btcEncode(sha256(publicKey).subarray(0, DID_ID_BYTES));
}

/**
 * DIDs already found valid, with their id bytes. A tx names the same DID
 * several times (signer, document id, every key id and reference) and each
 * node checks it at admission and again in its block; the base58 round trip
 * is the costly part, and it is a pure function of the text, so remembering
 * valid ones changes no answer. Invalid text is never remembered.
 */
const VALID_DID_CACHE_MAX = 50_000;
const validDids = new Map<string, Uint8Array>();

/** Parse a bare did:sid DID (no path, query or fragment). Throws DidError(invalidDid). */
export function parseDid(did: unknown): { did: string; idBytes: Uint8Array } {
  if (typeof did !== "string") throw new DidError(DidErrorCode.INVALID_DID, "DID must be a string");
  const known = validDids.get(did);
  if (known) return { did, idBytes: known.slice() };
  if (did.length > 64) throw new DidError(DidErrorCode.INVALID_DID, "DID is too long");
  if (!did.startsWith(DID_PREFIX)) {
    throw new DidError(DidErrorCode.INVALID_DID, `not a did:sid DID: expected prefix "${DID_PREFIX}"`);
  }
  const id = did.slice(DID_PREFIX.length);
  if (!ID_RE.test(id)) throw new DidError(DidErrorCode.INVALID_DID, "method-specific id must be base58btc");
  let idBytes: Uint8Array;
  try {
    idBytes = base58btcDecode(id);
  } catch {
    throw new DidError(DidErrorCode.INVALID_DID, "method-specific id must be base58btc");
  }
  if (idBytes.length !== DID_ID_BYTES || base58btcEncode(idBytes) !== id) {
    throw new DidError(DidErrorCode.INVALID_DID, `method-specific id must encode exactly ${DID_ID_BYTES} bytes`);
  }
  if (validDids.size >= VALID_DID_CACHE_MAX) validDids.delete(validDids.keys().next().value as string);
  validDids.set(did, idBytes.slice());
  return { did, idBytes };
}

/**
 * DID Core 1.0 section 3.1 "did" rule: `did:` method-name `:`
 * method-specific-id, whatever the method. A text that matches it names
 * a DID of some method; whether this resolver serves that method is another
 * question (methodNotSupported, not invalidDid).
 */
const GENERIC_DID_RE = /^did:([a-z0-9]+):((?:(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})*:)*(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+)$/;

/** The method name of a syntactically valid DID of a method other than did:sid, else undefined. */
export function otherDidMethodOf(did: unknown): string | undefined {
  if (typeof did !== "string" || did.length > 2048) return undefined;
  const m = GENERIC_DID_RE.exec(did);
  return m && m[1] !== DID_METHOD ? m[1] : undefined;
}

export function isValidDid(did: unknown): did is string {
  try {
    parseDid(did);
    return true;
  } catch {
    return false;
  }
}

/** Split an absolute DID URL with a fragment, `did:sid:...#key-1`, into its parts. */
export function parseDidUrlWithFragment(url: unknown): { did: string; fragment: string } {
  if (typeof url !== "string") throw new DidError(DidErrorCode.INVALID_DID, "DID URL must be a string");
  const hash = url.indexOf("#");
  if (hash < 0) throw new DidError(DidErrorCode.INVALID_DID, `DID URL "${url.slice(0, 80)}" has no fragment`);
  const { did } = parseDid(url.slice(0, hash));
  const fragment = url.slice(hash + 1);
  if (!FRAGMENT_RE.test(fragment)) {
    throw new DidError(DidErrorCode.INVALID_DID, "fragment must be 1-64 characters of [A-Za-z0-9._~-]");
  }
  return { did, fragment };
}
