/**
 * How the store keeps a tx under BlockTx: its bytes as they are, or, for
 * the tx nearly every DID begins with, only what is its own.
 *
 * That tx is a did/create (sequence 0) whose document is the one a key's
 * DID starts with (the SDK's buildInitialDocument, the CLI's `did create`):
 * the DID and context lists, one EcdsaSecp256k1VerificationKey2019 method
 * `#key-1` with the key as a JWK, named by authentication, assertionMethod
 * and capabilityInvocation, signed by that key. Of its ~820 bytes only the
 * key (x and y, 64), the signature (64) and the chain id are its own: the
 * DID derives from the key and names it seven times, and the rest is fixed.
 * The store keeps
 *   0x01 || x(32) || y(32) || sig(64) || chainId (UTF-8, the rest)
 * and a read puts the tx's bytes back together by the fixed shape below
 * (createForKeyBytes). A tx is kept so only when that gives back exactly
 * its bytes (checked when it is written), so what is hashed, signed,
 * served and synced is never another byte string.
 *
 * A tx's own bytes are a canonical CBOR map (first byte 0xa0-0xbb), so the
 * first byte tells the two apart. The shape below is part of the storage
 * format: changing it would misread every tx kept this way. A known-answer
 * test pins it.
 */
import { decodeCanonical, encodeCanonical, mapValueBytes, type CanonicalValue } from "./codec.js";
import { utf8 } from "../crypto/bytes.js";
import { DID_PREFIX, didFromCheckedKey } from "../did/syntax.js";
import { damagedStoreError } from "./store-faults.js";

const CREATE_FOR_KEY = 0x01;
const COORD_BYTES = 32;
/** A coordinate in base64url without padding. */
const COORD_CHARS = 43;
const SIG_BYTES = 64;
const FIXED_BYTES = 1 + 2 * COORD_BYTES + SIG_BYTES;
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The fixed shape: the did/create tx of `did`'s initial document for the key (x, y), as the SDK writes it. */
function createForKeyTx(did: string, x: string, y: string, sig: Uint8Array, chainId: string): CanonicalValue {
  const keyId = `${did}#key-1`;
  const document: CanonicalValue = {
    "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/secp256k1-2019/v1"],
    id: did,
    verificationMethod: [{ id: keyId, type: "EcdsaSecp256k1VerificationKey2019", controller: did, publicKeyJwk: { kty: "EC", crv: "secp256k1", x, y } }],
    authentication: [keyId],
    assertionMethod: [keyId],
    capabilityInvocation: [keyId],
  };
  return { v: 1, type: "did/create", chainId, signer: did, vm: keyId, seq: 0, payload: { document }, sig };
}

/**
 * The shape's bytes for a chain id and a length of the DID's id part, with
 * the places of the parts each tx fills in: the id part (at every place the
 * DID is named), x, y and the signature. Made by encoding the shape once
 * with marker values and finding them.
 */
interface Skeleton {
  bytes: Uint8Array;
  idAt: number[];
  xAt: number;
  yAt: number;
  sigAt: number;
}

const skeletons = new Map<string, Skeleton>();
/** Chain ids and id lengths are few; the bound keeps a hostile mix of them from growing the map. */
const MAX_SKELETONS = 64;

function skeletonFor(idChars: number, chainId: string): Skeleton {
  const name = `${idChars}:${chainId}`;
  const known = skeletons.get(name);
  if (known) return known;
  // Markers no real part holds: base58 has no '~' or '!', base64url no '*', and no signature is 64 bytes of 0x00 0xff.
  const sigMark = new Uint8Array(SIG_BYTES).map((_, i) => (i % 2 === 0 ? 0x00 : 0xff));
  const didMark = DID_PREFIX + "~".repeat(idChars);
  const bytes = encodeCanonical(createForKeyTx(didMark, "!".repeat(COORD_CHARS), "*".repeat(COORD_CHARS), sigMark, chainId));
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const idAt: number[] = [];
  for (let at = buf.indexOf(didMark); at >= 0; at = buf.indexOf(didMark, at + 1)) idAt.push(at + DID_PREFIX.length);
  const skeleton = { bytes, idAt, xAt: buf.indexOf("!".repeat(COORD_CHARS)), yAt: buf.indexOf("*".repeat(COORD_CHARS)), sigAt: buf.indexOf(sigMark) };
  if (skeletons.size >= MAX_SKELETONS) skeletons.clear();
  skeletons.set(name, skeleton);
  return skeleton;
}

/** The did/create tx of a key's initial document (the fixed shape), from the key's coordinates, the signature and the chain id. */
export function createForKeyBytes(x: Uint8Array, y: Uint8Array, sig: Uint8Array, chainId: string): Uint8Array {
  const publicKey = new Uint8Array(1 + COORD_BYTES);
  publicKey[0] = (y[COORD_BYTES - 1]! & 1) === 1 ? 0x03 : 0x02;
  publicKey.set(x, 1);
  const id = didFromCheckedKey(publicKey).slice(DID_PREFIX.length);
  const skeleton = skeletonFor(id.length, chainId);
  const out = Buffer.from(skeleton.bytes);
  for (const at of skeleton.idAt) out.write(id, at, "latin1");
  out.write(Buffer.from(x.buffer, x.byteOffset, x.length).toString("base64url"), skeleton.xAt, "latin1");
  out.write(Buffer.from(y.buffer, y.byteOffset, y.length).toString("base64url"), skeleton.yAt, "latin1");
  out.set(sig, skeleton.sigAt);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** What BlockTx keeps for the encoded tx `tx`: the short form when it gives `tx` back exactly, else `tx` itself. */
export function storedTxBytes(tx: Uint8Array): Uint8Array {
  const parts = createForKeyParts(tx);
  if (parts === undefined) return tx;
  const { x, y, sig, chainId } = parts;
  const again = createForKeyBytes(x, y, sig, chainId);
  if (!Buffer.from(again.buffer, again.byteOffset, again.length).equals(tx)) return tx;
  const id = utf8(chainId);
  const out = new Uint8Array(FIXED_BYTES + id.length);
  out[0] = CREATE_FOR_KEY;
  out.set(x, 1);
  out.set(y, 1 + COORD_BYTES);
  out.set(sig, 1 + 2 * COORD_BYTES);
  out.set(id, FIXED_BYTES);
  return out;
}

/** The encoded tx from what BlockTx keeps (storedTxBytes's inverse); a short form that cannot be read is damage. */
export function txFromStored(stored: Uint8Array): Uint8Array {
  if (stored.length === 0 || stored[0] !== CREATE_FOR_KEY) return stored;
  if (stored.length < FIXED_BYTES) throw damagedStoreError(`a stored tx in short form is ${stored.length} bytes, shorter than its ${FIXED_BYTES} fixed bytes: the store is damaged; resync (remove data/chain and start the node again)`);
  let chainId: string;
  try {
    chainId = fromUtf8.decode(stored.subarray(FIXED_BYTES));
  } catch (e) {
    throw damagedStoreError("a stored tx in short form has a chain id that is not UTF-8: the store is damaged; resync (remove data/chain and start the node again)", e);
  }
  return createForKeyBytes(stored.subarray(1, 1 + COORD_BYTES), stored.subarray(1 + COORD_BYTES, 1 + 2 * COORD_BYTES), stored.subarray(1 + 2 * COORD_BYTES, FIXED_BYTES), chainId);
}

/**
 * The parts of a tx that may have the fixed shape, read at the places the
 * shape has them for its signer and chain id (whether it has that shape is
 * checked by rebuilding it), or undefined when it plainly has not.
 */
function createForKeyParts(tx: Uint8Array): { x: Uint8Array; y: Uint8Array; sig: Uint8Array; chainId: string } | undefined {
  let chainId: CanonicalValue;
  let signer: CanonicalValue;
  try {
    // Both come before the payload in the canonical key order: no walk over the document.
    const [c, s] = [mapValueBytes(tx, "chainId"), mapValueBytes(tx, "signer")];
    if (c === undefined || s === undefined) return undefined;
    [chainId, signer] = [decodeCanonical(c), decodeCanonical(s)];
  } catch {
    return undefined;
  }
  if (typeof chainId !== "string" || typeof signer !== "string" || !signer.startsWith(DID_PREFIX)) return undefined;
  const skeleton = skeletonFor(signer.length - DID_PREFIX.length, chainId);
  if (tx.length !== skeleton.bytes.length) return undefined;
  const buf = Buffer.from(tx.buffer, tx.byteOffset, tx.length);
  // Node's decoder passes over what is not base64url; the rebuild then differs, and the tx is kept whole.
  const x = Buffer.from(buf.toString("latin1", skeleton.xAt, skeleton.xAt + COORD_CHARS), "base64url");
  const y = Buffer.from(buf.toString("latin1", skeleton.yAt, skeleton.yAt + COORD_CHARS), "base64url");
  if (x.length !== COORD_BYTES || y.length !== COORD_BYTES) return undefined;
  return { x, y, sig: tx.subarray(skeleton.sigAt, skeleton.sigAt + SIG_BYTES), chainId };
}
