/**
 * What changed between two versions of a DID document, for people reading a
 * DID's history: the CLI names the changes as its editing commands do
 * (describeChange), the explorer lists them by id (diffDocuments).
 *
 * Pure: no I/O, no clock, no randomness.
 */
import { type DidDocument, RELATIONSHIPS, type Relationship, completeContexts, verificationMethods } from "./document.js";

/** Names of the changes between two versions' documents, as the CLI's editing commands call them. */
export type DocumentChange =
  | "add-key"
  | "remove-key"
  | "change-key"
  | "add-service"
  | "remove-service"
  | "change-service"
  | "change-relationships"
  | "change-controller"
  | "change-also-known-as"
  | "change-context";

/** Ids (absolute) added, removed, or kept with other content. */
export interface IdChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

/** Every difference describeChange names, with the ids of the keys and services concerned. */
export interface DocumentDiff {
  keys: IdChanges;
  services: IdChanges;
  /** A relationship lists other keys among those present in both versions. */
  relationships: boolean;
  controller: boolean;
  alsoKnownAs: boolean;
  /** The completed @context lists differ. */
  context: boolean;
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

/** True when two documents say the same (member order aside; @context compared as served, completed). */
export function sameDocument(a: DidDocument, b: DidDocument): boolean {
  return canonicalJson({ ...a, "@context": completeContexts(a) }) === canonicalJson({ ...b, "@context": completeContexts(b) });
}

function idChanges<T>(before: ReadonlyMap<string, T>, after: ReadonlyMap<string, T>): IdChanges {
  return {
    added: [...after.keys()].filter((id) => !before.has(id)),
    removed: [...before.keys()].filter((id) => !after.has(id)),
    changed: [...after].filter(([id, v]) => before.has(id) && canonicalJson(before.get(id)) !== canonicalJson(v)).map(([id]) => id),
  };
}

/**
 * The differences from `prev` to `next`. Keys and services are matched by
 * id; a relationship change that only follows an added or removed key does
 * not count as one of its own.
 */
export function diffDocuments(prev: DidDocument, next: DidDocument): DocumentDiff {
  const before = verificationMethods(prev);
  const after = verificationMethods(next);
  const services = (d: DidDocument) => new Map((d.service ?? []).map((s) => [s.id, s]));
  // Relationships with references to keys that exist in both versions.
  const kept = (d: DidDocument, rel: Relationship) =>
    (d[rel] ?? []).map((e) => (typeof e === "string" ? e : e.id)).filter((id) => before.has(id) && after.has(id)).sort();
  return {
    keys: idChanges(before, after),
    services: idChanges(services(prev), services(next)),
    relationships: RELATIONSHIPS.some((rel) => canonicalJson(kept(prev, rel)) !== canonicalJson(kept(next, rel))),
    controller: canonicalJson(prev.controller ?? null) !== canonicalJson(next.controller ?? null),
    alsoKnownAs: canonicalJson(prev.alsoKnownAs ?? []) !== canonicalJson(next.alsoKnownAs ?? []),
    context: canonicalJson(completeContexts(prev)) !== canonicalJson(completeContexts(next)),
  };
}

/**
 * The changes from `prev` to `next`, in a fixed order (empty when they say
 * the same). A context change is named only when nothing else changed.
 */
export function describeChange(prev: DidDocument, next: DidDocument): DocumentChange[] {
  const d = diffDocuments(prev, next);
  const out: DocumentChange[] = [];
  if (d.keys.added.length > 0) out.push("add-key");
  if (d.keys.removed.length > 0) out.push("remove-key");
  if (d.keys.changed.length > 0) out.push("change-key");
  if (d.services.added.length > 0) out.push("add-service");
  if (d.services.removed.length > 0) out.push("remove-service");
  if (d.services.changed.length > 0) out.push("change-service");
  if (d.relationships) out.push("change-relationships");
  if (d.controller) out.push("change-controller");
  if (d.alsoKnownAs) out.push("change-also-known-as");
  if (out.length === 0 && d.context) out.push("change-context");
  return out;
}
