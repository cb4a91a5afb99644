/**
 * Picking keys of a stored mnemonic for DID writes. Pure: the documents come
 * from the caller. A write is authorized by an authentication key of the DID
 * (or of a controller), so the CLI looks among the first SIGNER_SEARCH_LIMIT
 * indexes of the mnemonic for one the document lists.
 */
import { bytesEqual, toHex } from "../crypto/bytes.js";
import type { KeyPair } from "../crypto/hd.js";
import { type DidDocument, publicKeyOfMethod, verificationMethods } from "../did/document.js";
import { findMethodForKey } from "../client/txs.js";
import { parseDidUrlWithFragment } from "../did/syntax.js";
import { CliError } from "./errors.js";

/** Indexes 0..31 are searched: far more keys than a document may hold (16), cheap enough (~50 ms each). */
export const SIGNER_SEARCH_LIMIT = 32;

/** Anything that yields the key at an index (a KeyRing). */
export interface KeySource {
  key(index: number): KeyPair;
}

export interface FoundKey {
  index: number;
  key: KeyPair;
  /** Absolute id of the authentication method holding the key. */
  vmId: string;
}

/**
 * The first key (lowest index < SIGNER_SEARCH_LIMIT) that is an authentication key of `doc`,
 * skipping `excludePublicKey` (the key a remove-key is about to drop).
 */
export function findAuthenticationKey(doc: DidDocument, keys: KeySource, excludePublicKey?: Uint8Array): FoundKey | undefined {
  for (let index = 0; index < SIGNER_SEARCH_LIMIT; index++) {
    const key = keys.key(index);
    if (excludePublicKey && bytesEqual(key.publicKey, excludePublicKey)) continue;
    const vmId = findMethodForKey(doc, key.publicKey, "authentication");
    if (vmId) return { index, key, vmId };
  }
  return undefined;
}

/** Hex public keys of every verification method of `doc` (methods with unreadable keys are skipped). */
export function publicKeysIn(doc: DidDocument): Map<string, string> {
  const out = new Map<string, string>();
  for (const [id, vm] of verificationMethods(doc)) {
    try {
      out.set(toHex(publicKeyOfMethod(vm)), id);
    } catch {
      // not a key we can read: it cannot be one of ours either
    }
  }
  return out;
}

/** The smallest index >= 1 whose public key is not yet in `doc`. */
export function nextFreeIndex(doc: DidDocument, keys: KeySource): number {
  const present = publicKeysIn(doc);
  // A document holds at most 16 methods, so one of the first 17 indexes >= 1 is free.
  for (let index = 1; ; index++) {
    if (!present.has(toHex(keys.key(index).publicKey))) return index;
  }
}

/** `key-1`, `#key-1` or `did:sid:...#key-1` -> the absolute id in `did`'s document. */
export function absoluteIdIn(did: string, id: string): string {
  const trimmed = id.trim();
  const abs = trimmed.includes("#") && !trimmed.startsWith("#") ? trimmed : `${did}#${trimmed.replace(/^#/, "")}`;
  let parsed: { did: string; fragment: string };
  try {
    parsed = parseDidUrlWithFragment(abs);
  } catch (err) {
    throw new CliError(`bad id "${id.slice(0, 80)}": ${(err as Error).message}`);
  }
  if (parsed.did !== did) throw new CliError(`id ${abs} belongs to ${parsed.did}, not to ${did}`);
  return abs;
}

/** The controllers a document names, other than itself. */
export function controllersOf(doc: DidDocument): string[] {
  const c = doc.controller;
  const list = c === undefined ? [] : typeof c === "string" ? [c] : c;
  return list.filter((d) => d !== doc.id);
}
