/**
 * Editing helpers for SDK and CLI: pure, each returns a new document,
 * validated by the rules of document.ts (so an edit can never produce a
 * document the chain would refuse for its shape).
 */
import { DidError, DidErrorCode } from "./errors.js";
import { parseDidUrlWithFragment } from "./syntax.js";
import {
  type DidDocument,
  RELATIONSHIPS,
  type Relationship,
  SECP256K1_2019_CONTEXT,
  type Service,
  type VerificationMethod,
  absoluteId,
  jwkOf,
  messageOf,
  quote,
  validateDocument,
  verificationMethods,
} from "./document.js";

/**
 * Add an EcdsaSecp256k1VerificationKey2019 key `<doc.id>#<fragment>` controlled by doc.id and
 * reference it from `relationships`. Adds the secp256k1-2019 context if missing.
 */
export function addVerificationMethod(
  doc: DidDocument,
  publicKey: Uint8Array,
  fragment: string,
  relationships: Relationship[],
): DidDocument {
  const next = cloneDocument(doc);
  const id = `${doc.id}#${fragment}`;
  parseDidUrlWithFragment(id);
  if (allIds(next).has(id)) editError(`id ${quote(id)} already exists in the document`, id);
  for (const rel of relationships) {
    if (!RELATIONSHIPS.includes(rel)) editError(`unknown verification relationship ${quote(String(rel))}`, id);
  }
  const vm: VerificationMethod = {
    id,
    type: "EcdsaSecp256k1VerificationKey2019",
    controller: doc.id,
    publicKeyJwk: jwkOf(publicKey),
  };
  next.verificationMethod = [...(next.verificationMethod ?? []), vm];
  for (const rel of new Set(relationships)) next[rel] = [...(next[rel] ?? []), id];
  const ctx = next["@context"];
  if (typeof ctx === "string") next["@context"] = [ctx, SECP256K1_2019_CONTEXT];
  else if (!ctx.includes(SECP256K1_2019_CONTEXT)) ctx.push(SECP256K1_2019_CONTEXT);
  return validateDocument(next, doc.id);
}

/**
 * Remove a verification method (top-level or embedded; `vmId` absolute or "#fragment") and every
 * reference to it. Emptied optional lists are dropped; removing the last authentication key fails validation.
 */
export function removeVerificationMethod(doc: DidDocument, vmId: string): DidDocument {
  const next = cloneDocument(doc);
  const id = absoluteId(doc, vmId);
  if (!verificationMethods(next).has(id)) editError(`no verification method ${quote(id)} in the document`, id);
  if (next.verificationMethod) {
    next.verificationMethod = next.verificationMethod.filter((m) => m.id !== id);
    if (next.verificationMethod.length === 0) delete next.verificationMethod;
  }
  for (const rel of RELATIONSHIPS) {
    const entries = next[rel];
    if (!entries) continue;
    const kept = entries.filter((e) => (typeof e === "string" ? e : e.id) !== id);
    if (kept.length === 0 && rel !== "authentication") delete next[rel];
    else next[rel] = kept;
  }
  return validateDocument(next, doc.id);
}

/** Add a service; its id must be `<doc.id>#<fragment>` and not yet used in the document. */
export function addService(doc: DidDocument, service: Service): DidDocument {
  const next = cloneDocument(doc);
  const id = typeof service?.id === "string" ? service.id : "";
  if (allIds(next).has(id)) editError(`id ${quote(id)} already exists in the document`, id);
  next.service = [...(next.service ?? []), service];
  return validateDocument(next, doc.id);
}

/** Remove a service by id (absolute or "#fragment"). */
export function removeService(doc: DidDocument, serviceId: string): DidDocument {
  const next = cloneDocument(doc);
  const id = absoluteId(doc, serviceId);
  if (!next.service?.some((s) => s.id === id)) editError(`no service ${quote(id)} in the document`, id);
  next.service = next.service.filter((s) => s.id !== id);
  if (next.service.length === 0) delete next.service;
  return validateDocument(next, doc.id);
}

function editError(message: string, id: string): never {
  throw new DidError(DidErrorCode.INVALID_DOCUMENT, message, { id });
}

/** A deep copy that shares nothing with the caller's document (documents are plain JSON data). */
function cloneDocument(doc: DidDocument): DidDocument {
  try {
    return JSON.parse(JSON.stringify(doc)) as DidDocument;
  } catch (err) {
    throw new DidError(DidErrorCode.INVALID_DOCUMENT, `document is not plain JSON data: ${messageOf(err)}`, { path: "" });
  }
}

function allIds(doc: DidDocument): Set<string> {
  const ids = new Set(verificationMethods(doc).keys());
  for (const s of doc.service ?? []) ids.add(s.id);
  return ids;
}
