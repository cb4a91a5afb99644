/**
 * W3C DID Core 1.0 documents for did:sid (DESIGN.md, public contracts) and
 * their strict validation. Editing a document is in document-edit.ts, what
 * changed between two versions in document-diff.ts.
 *
 * A document is stored on chain and replayed by every node, so validation is
 * deliberately narrower than DID Core: only the core properties, only
 * secp256k1 keys, only strings/arrays/objects (no numbers: the chain codec
 * carries integers only and documents need none), and every count and length
 * is bounded. That keeps arbitrary data off chain (DESIGN.md invariant 5) and
 * bounds the work a hostile document can cause (invariant 6).
 *
 * Pure: no I/O, no clock, no randomness.
 */
import {
  CryptoError,
  assertCompressedPublicKey,
  base64urlDecode,
  base64urlEncode,
  jwkToPublicKey,
  multibaseToPublicKey,
  publicKeyToJwk,
  publicKeyToMultibase,
  type Secp256k1Jwk,
} from "../crypto/index.js";
import { DidError, DidErrorCode } from "./errors.js";
import { didFromPublicKey, parseDid, parseDidUrlWithFragment } from "./syntax.js";

export const DID_CONTEXT = "https://www.w3.org/ns/did/v1";
export const SECP256K1_2019_CONTEXT = "https://w3id.org/security/suites/secp256k1-2019/v1";
export const MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1";
export const JWS_2020_CONTEXT = "https://w3id.org/security/suites/jws-2020/v1";
/**
 * sid's own context (contexts/sid-v1.jsonld, served by every node at
 * /contexts/sid-v1.jsonld): service types, serviceEndpoint outside a
 * service entry, and a vocabulary for any other service type.
 */
export const SID_CONTEXT = "https://w3id.org/sid/v1";

/**
 * Context URL -> file name of its offline copy in the package's contexts/
 * folder, which every node serves at /contexts/<file>.
 */
export const CONTEXT_FILES: Readonly<Record<string, string>> = Object.freeze({
  [DID_CONTEXT]: "did-v1.jsonld",
  [SECP256K1_2019_CONTEXT]: "secp256k1-2019-v1.jsonld",
  [MULTIKEY_CONTEXT]: "multikey-v1.jsonld",
  [JWS_2020_CONTEXT]: "jws-2020-v1.jsonld",
  [SID_CONTEXT]: "sid-v1.jsonld",
});

/** The context that defines each verification method type and its key property. */
export const CONTEXT_OF_METHOD_TYPE: Readonly<Record<VerificationMethodType, string>> = Object.freeze({
  EcdsaSecp256k1VerificationKey2019: SECP256K1_2019_CONTEXT,
  Multikey: MULTIKEY_CONTEXT,
  JsonWebKey2020: JWS_2020_CONTEXT,
});

export const DOCUMENT_LIMITS: Readonly<{
  maxBytes: 16384;
  maxVerificationMethods: 16;
  maxServices: 16;
  maxAlsoKnownAs: 8;
  maxControllers: 8;
  maxContexts: 8;
  maxStringLength: 2048;
  maxRelationshipEntries: 16;
}> = Object.freeze({
  /** UTF-8 bytes of JSON.stringify(doc). Every node stores and re-hashes it on each update; 16 KiB holds
   *  the maximum of keys (~300 B each as JWK) and services with room to spare. */
  maxBytes: 16384,
  /** Top-level plus embedded. Enough for per-device keys and rotation; bounds the curve checks per document. */
  maxVerificationMethods: 16,
  /** Service endpoints are pointers (hub, messaging, linked domains), not data; a handful suffices. */
  maxServices: 16,
  /** Alternative identifiers (web profiles, other DIDs). */
  maxAlsoKnownAs: 8,
  /** Each controller may have to be resolved to authorize an update: bounds that lookup. */
  maxControllers: 8,
  /** The DID context, the key-suite contexts and a few extensions. */
  maxContexts: 8,
  /** Covers any practical URL (2 KiB is the usual URL cap of browsers and proxies). */
  maxStringLength: 2048,
  /** Per relationship; equal to maxVerificationMethods since listing a key twice is pointless. */
  maxRelationshipEntries: 16,
});

/**
 * Deepest container nesting a valid document has: doc(0) > service(1) > entry(2) >
 * serviceEndpoint array(3) > endpoint map(4). Deeper input is refused before anything else.
 */
const MAX_CONTAINER_DEPTH = 4;

export type VerificationMethodType = "EcdsaSecp256k1VerificationKey2019" | "Multikey" | "JsonWebKey2020";

export interface VerificationMethod {
  id: string;
  type: VerificationMethodType;
  controller: string;
  publicKeyJwk?: Secp256k1Jwk;
  publicKeyMultibase?: string;
}

export type ServiceEndpointValue = string | Record<string, string> | Array<string | Record<string, string>>;

export interface Service {
  id: string;
  type: string | string[];
  serviceEndpoint: ServiceEndpointValue;
}

export type Relationship =
  | "authentication"
  | "assertionMethod"
  | "keyAgreement"
  | "capabilityInvocation"
  | "capabilityDelegation";

export const RELATIONSHIPS: readonly Relationship[] = Object.freeze([
  "authentication",
  "assertionMethod",
  "keyAgreement",
  "capabilityInvocation",
  "capabilityDelegation",
] as const);

export interface DidDocument {
  "@context": string | string[];
  id: string;
  controller?: string | string[];
  alsoKnownAs?: string[];
  verificationMethod?: VerificationMethod[];
  authentication?: (string | VerificationMethod)[];
  assertionMethod?: (string | VerificationMethod)[];
  keyAgreement?: (string | VerificationMethod)[];
  capabilityInvocation?: (string | VerificationMethod)[];
  capabilityDelegation?: (string | VerificationMethod)[];
  service?: Service[];
}

const VERIFICATION_METHOD_TYPES: ReadonlySet<string> = new Set<VerificationMethodType>([
  "EcdsaSecp256k1VerificationKey2019",
  "Multikey",
  "JsonWebKey2020",
]);
const DOCUMENT_KEYS: ReadonlySet<string> = new Set([
  "@context",
  "id",
  "controller",
  "alsoKnownAs",
  "verificationMethod",
  ...RELATIONSHIPS,
  "service",
]);
const METHOD_KEYS: ReadonlySet<string> = new Set(["id", "type", "controller", "publicKeyJwk", "publicKeyMultibase"]);
const JWK_KEYS: ReadonlySet<string> = new Set(["kty", "crv", "x", "y"]);
const SERVICE_KEYS: ReadonlySet<string> = new Set(["id", "type", "serviceEndpoint"]);

/** RFC 3986 scheme, a colon, then no whitespace or control characters. */
const URI_RE = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s\p{Cc}]+$/u;
/** A lone UTF-16 surrogate: not representable in UTF-8, so it would not survive the chain codec. */
const LONE_SURROGATE_RE = /\p{Cs}/u;
/** 'z' + base58btc(0xe7 0x01 || 33 bytes) is 48 or 49 characters; anything much longer is refused before decoding. */
const MAX_MULTIBASE_LENGTH = 64;

type Json = string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

// ---------------------------------------------------------------------------
// Errors and small checkers

function fail(path: string, problem: string): never {
  throw new DidError(DidErrorCode.INVALID_DOCUMENT, path === "" ? problem : `${path}: ${problem}`, { path });
}

function at(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

/** Quote untrusted text in a message without letting it grow the message. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? text.slice(0, 80) + "..." : text);
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function expectString(v: Json | undefined, path: string, what = "a string"): string {
  if (typeof v !== "string") fail(path, `must be ${what}`);
  return v;
}

function expectArray(v: Json | undefined, path: string, max: number, what: string): Json[] {
  if (!Array.isArray(v)) fail(path, `must be an array of ${what}`);
  if (v.length > max) fail(path, `too many ${what}: ${v.length}, at most ${max}`);
  return v;
}

function expectObject(v: Json | undefined, path: string, what: string): JsonObject {
  if (!isObject(v)) fail(path, `must be ${what} (an object)`);
  return v;
}

function expectOnlyKeys(obj: JsonObject, allowed: ReadonlySet<string>, path: string, what: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) fail(at(path, key), `unknown ${what} property ${quote(key)}`);
  }
}

function expectUri(v: Json | undefined, path: string): string {
  const s = expectString(v, path, "a URI string");
  if (!URI_RE.test(s)) fail(path, `${quote(s)} is not a URI (needs a scheme followed by ':' and no whitespace)`);
  return s;
}

function expectDid(v: Json | undefined, path: string): string {
  const s = expectString(v, path, "a did:sid DID string");
  try {
    parseDid(s);
  } catch (err) {
    fail(path, `${quote(s)} is not a valid did:sid DID: ${messageOf(err)}`);
  }
  return s;
}

function expectUnique(values: readonly string[], path: string, what: string): void {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    if (seen.has(v)) fail(at(path, i), `duplicate ${what} ${quote(v)}`);
    seen.add(v);
  });
}

// ---------------------------------------------------------------------------
// Pass 0: plain-data snapshot (cheap, bounded)

interface Budget {
  nodes: number;
  bytes: number;
}

function tooLarge(): never {
  fail("", `document is larger than ${DOCUMENT_LIMITS.maxBytes} bytes`);
}

function checkText(s: string, path: string): void {
  if (s.length > DOCUMENT_LIMITS.maxStringLength) {
    fail(path, `string of ${s.length} characters is longer than ${DOCUMENT_LIMITS.maxStringLength}`);
  }
  if (LONE_SURROGATE_RE.test(s)) fail(path, "string is not well-formed Unicode (lone surrogate)");
}

/**
 * Copy an untrusted value into fresh plain data, reading every property once (so getters and
 * proxies cannot show validation one value and the chain another). Only strings, arrays and plain
 * objects pass; the walk stops as soon as a lower bound of the JSON size passes maxBytes, so a
 * huge, deep or cyclic value costs no more than a small one.
 */

/** The path named by a trail of keys, built only when a value fails: a valid document costs no path strings. */
function pathOf(trail: ReadonlyArray<string | number>): string {
  return trail.reduce<string>((p, k) => at(p, k), "");
}

function snapshot(value: unknown, trail: Array<string | number>, depth: number, budget: Budget, plain: boolean): Json {
  if (++budget.nodes > DOCUMENT_LIMITS.maxBytes) tooLarge();
  switch (typeof value) {
    case "string":
      if (value.length > DOCUMENT_LIMITS.maxStringLength || LONE_SURROGATE_RE.test(value)) checkText(value, pathOf(trail));
      budget.bytes += value.length + 2;
      if (budget.bytes > DOCUMENT_LIMITS.maxBytes) tooLarge();
      return value;
    case "number":
    case "bigint":
      fail(pathOf(trail), "numbers are not allowed in a DID document (the chain codec carries integers only and documents need none)");
    case "object":
      break;
    default:
      fail(pathOf(trail), `a ${typeof value} is not allowed in a DID document (only strings, arrays and objects)`);
  }
  if (value === null) fail(pathOf(trail), "null is not allowed in a DID document");
  if (depth > MAX_CONTAINER_DEPTH) fail(pathOf(trail), `nested too deeply (at most ${MAX_CONTAINER_DEPTH + 1} levels)`);
  if (Array.isArray(value)) {
    if (value.length > DOCUMENT_LIMITS.maxBytes) tooLarge();
    if (plain) {
      for (let i = 0; i < value.length; i++) {
        trail.push(i);
        snapshot(value[i], trail, depth + 1, budget, true);
        trail.pop();
      }
      return value as Json[];
    }
    const out: Json[] = [];
    for (let i = 0; i < value.length; i++) {
      const desc = Object.getOwnPropertyDescriptor(value, i);
      trail.push(i);
      if (desc === undefined) fail(pathOf(trail), "arrays must not have holes");
      if (!("value" in desc)) fail(pathOf(trail), "accessor properties are not allowed");
      out.push(snapshot(desc.value, trail, depth + 1, budget, false));
      trail.pop();
    }
    return out;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) fail(pathOf(trail), "must be a plain JSON object");
  if (plain) {
    const obj = value as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      if (key.length > DOCUMENT_LIMITS.maxStringLength || LONE_SURROGATE_RE.test(key)) checkText(key, pathOf(trail));
      budget.bytes += key.length + 3;
      trail.push(key);
      snapshot(obj[key], trail, depth + 1, budget, true);
      trail.pop();
    }
    return obj as JsonObject;
  }
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    if (key.length > DOCUMENT_LIMITS.maxStringLength || LONE_SURROGATE_RE.test(key)) checkText(key, pathOf(trail));
    budget.bytes += key.length + 3;
    const desc = Object.getOwnPropertyDescriptor(value, key);
    if (desc === undefined) continue; // removed by a proxy between the two reads
    trail.push(key);
    if (!("value" in desc)) fail(pathOf(trail), "accessor properties are not allowed");
    // defineProperty, not assignment: a "__proto__" key must stay an ordinary own property.
    Object.defineProperty(out, key, {
      value: snapshot(desc.value, trail, depth + 1, budget, false),
      enumerable: true,
      writable: true,
      configurable: true,
    });
    trail.pop();
  }
  return out;
}

// ---------------------------------------------------------------------------
// Pass 1: structure (no curve arithmetic)

interface PendingKey {
  vm: JsonObject;
  path: string;
}

class DocumentChecker {
  /** Every id in the document (verification methods, embedded ones, services): unique across it. */
  private readonly ids = new Set<string>();
  /** Ids of top-level verification methods: the only targets a string reference may name. */
  private readonly topLevelMethodIds = new Set<string>();
  private methodCount = 0;
  readonly pendingKeys: PendingKey[] = [];

  constructor(private readonly docId: string) {}

  /** Rule: every id is an absolute DID URL `<doc.id>#<fragment>`, unique in the document. */
  claimId(v: Json | undefined, path: string): string {
    const id = this.expectOwnDidUrl(v, path);
    if (this.ids.has(id)) fail(path, `duplicate id ${quote(id)}`);
    this.ids.add(id);
    return id;
  }

  expectOwnDidUrl(v: Json | undefined, path: string): string {
    const url = expectString(v, path, "an absolute DID URL string");
    let did: string;
    try {
      did = parseDidUrlWithFragment(url).did;
    } catch (err) {
      fail(path, `${quote(url)} is not an absolute DID URL with a fragment: ${messageOf(err)}`);
    }
    if (did !== this.docId) fail(path, `${quote(url)} must be a DID URL of this document (${this.docId}#<fragment>)`);
    return url;
  }

  verificationMethodShape(v: Json | undefined, path: string, topLevel: boolean): void {
    const vm = expectObject(v, path, "a verification method");
    if (++this.methodCount > DOCUMENT_LIMITS.maxVerificationMethods) {
      fail(path, `too many verification methods (top-level and embedded): at most ${DOCUMENT_LIMITS.maxVerificationMethods}`);
    }
    expectOnlyKeys(vm, METHOD_KEYS, path, "verification method");
    const id = this.claimId(vm.id, at(path, "id"));
    if (topLevel) this.topLevelMethodIds.add(id);
    const type = expectString(vm.type, at(path, "type"));
    if (!VERIFICATION_METHOD_TYPES.has(type)) {
      fail(at(path, "type"), `unsupported verification method type ${quote(type)} (expected one of ${[...VERIFICATION_METHOD_TYPES].join(", ")})`);
    }
    expectDid(vm.controller, at(path, "controller"));
    if (type === "Multikey") {
      if (vm.publicKeyJwk !== undefined) fail(at(path, "publicKeyJwk"), "a Multikey verification method carries publicKeyMultibase, not publicKeyJwk");
      if (vm.publicKeyMultibase === undefined) fail(at(path, "publicKeyMultibase"), "is required for type Multikey");
      const mb = expectString(vm.publicKeyMultibase, at(path, "publicKeyMultibase"));
      if (mb.length > MAX_MULTIBASE_LENGTH || !mb.startsWith("zQ3s")) {
        fail(at(path, "publicKeyMultibase"), "must be a secp256k1 Multikey: 'zQ3s' followed by base58btc");
      }
    } else {
      if (vm.publicKeyMultibase !== undefined) {
        fail(at(path, "publicKeyMultibase"), `a ${type} verification method carries publicKeyJwk, not publicKeyMultibase`);
      }
      if (vm.publicKeyJwk === undefined) fail(at(path, "publicKeyJwk"), `is required for type ${type}`);
      this.jwkShape(vm.publicKeyJwk, at(path, "publicKeyJwk"));
    }
    this.pendingKeys.push({ vm, path });
  }

  /** The cheap half of the JWK checks: members and coordinate encodings; the curve check waits for pass 2. */
  private jwkShape(v: Json, path: string): void {
    const jwk = expectObject(v, path, "a public JWK");
    if ("d" in jwk) fail(at(path, "d"), "publicKeyJwk must not contain a private key (d)");
    expectOnlyKeys(jwk, JWK_KEYS, path, "publicKeyJwk");
    if (jwk.kty !== "EC") fail(at(path, "kty"), 'must be "EC"');
    if (jwk.crv !== "secp256k1") fail(at(path, "crv"), 'must be "secp256k1"');
    for (const coord of ["x", "y"] as const) {
      const p = at(path, coord);
      const text = expectString(jwk[coord], p, "a base64url string");
      let bytes: Uint8Array;
      try {
        bytes = base64urlDecode(text);
      } catch {
        fail(p, "is not unpadded base64url");
      }
      if (bytes.length !== 32) fail(p, `must encode 32 bytes, got ${bytes.length}`);
      if (base64urlEncode(bytes) !== text) fail(p, "is not the canonical base64url encoding");
    }
  }

  /** Rule: a relationship lists references to top-level methods or embedded methods, each once. */
  relationship(name: Relationship, v: Json | undefined): void {
    const entries = expectArray(v, name, DOCUMENT_LIMITS.maxRelationshipEntries, "verification method references or embedded methods");
    const seen = new Set<string>();
    entries.forEach((entry, i) => {
      const path = at(name, i);
      let id: string;
      if (typeof entry === "string") {
        id = this.expectOwnDidUrl(entry, path);
        if (!this.topLevelMethodIds.has(id)) {
          fail(path, `reference ${quote(id)} does not name a verification method of this document`);
        }
      } else {
        this.verificationMethodShape(entry, path, false);
        id = (entry as JsonObject).id as string;
      }
      if (seen.has(id)) fail(path, `duplicate entry ${quote(id)} in ${name}`);
      seen.add(id);
    });
  }

  service(v: Json | undefined, path: string): void {
    const svc = expectObject(v, path, "a service");
    expectOnlyKeys(svc, SERVICE_KEYS, path, "service");
    this.claimId(svc.id, at(path, "id"));
    const type = svc.type;
    if (typeof type === "string") {
      if (type === "") fail(at(path, "type"), "must not be empty");
    } else if (Array.isArray(type)) {
      if (type.length === 0) fail(at(path, "type"), "must not be an empty array");
      type.forEach((t, i) => {
        if (expectString(t, at(at(path, "type"), i)) === "") fail(at(at(path, "type"), i), "must not be empty");
      });
    } else {
      fail(at(path, "type"), "must be a non-empty string or a non-empty array of strings");
    }
    const endpoint = svc.serviceEndpoint;
    const endpointPath = at(path, "serviceEndpoint");
    if (endpoint === undefined) fail(endpointPath, "is required");
    if (Array.isArray(endpoint)) {
      if (endpoint.length === 0) fail(endpointPath, "must not be an empty array");
      endpoint.forEach((e, i) => endpointValue(e, at(endpointPath, i)));
    } else {
      endpointValue(endpoint, endpointPath);
    }
  }
}

function endpointValue(v: Json, path: string): void {
  if (typeof v === "string") {
    expectUri(v, path);
    return;
  }
  const map = expectObject(v, path, "a URI string or a map of strings");
  for (const key of Object.keys(map)) expectString(map[key], at(path, key));
}

// ---------------------------------------------------------------------------
// Public API

/**
 * Validate an untrusted value as the document of `expectedDid` (DID Core 1.0 as narrowed for
 * did:sid, see the module comment). Returns a fresh plain-data copy, typed. Throws only
 * DidError: INVALID_DID if `expectedDid` itself is not a did:sid DID, otherwise INVALID_DOCUMENT
 * with a message naming the problem and `data.path` locating it (e.g. "verificationMethod[1].publicKeyJwk.x").
 * Cheap checks (types, sizes, structure) all run before any curve arithmetic.
 */
export function validateDocument(doc: unknown, expectedDid: string): DidDocument {
  return validateAs(doc, expectedDid, false);
}

/**
 * validateDocument for a value decodeCanonical just produced: plain data
 * with no accessors, proxies or shared parts, which no other code holds, so
 * the same checks run on it in place instead of on a copy. Returns it.
 */
export function validateDecodedDocument(doc: unknown, expectedDid: string): DidDocument {
  return validateAs(doc, expectedDid, true);
}

function validateAs(doc: unknown, expectedDid: string, plain: boolean): DidDocument {
  parseDid(expectedDid);
  try {
    return validateUnchecked(doc, expectedDid, plain);
  } catch (err) {
    if (err instanceof DidError && err.code === DidErrorCode.INVALID_DOCUMENT) throw err;
    // Defence in depth: proxies and the like must still end in a typed error.
    throw new DidError(DidErrorCode.INVALID_DOCUMENT, `document could not be validated: ${messageOf(err)}`, { path: "" });
  }
}

function validateUnchecked(input: unknown, expectedDid: string, plain: boolean): DidDocument {
  if (typeof input !== "object" || input === null || Array.isArray(input)) fail("", "a DID document must be a JSON object");
  const doc = snapshot(input, [], 0, { nodes: 0, bytes: 0 }, plain) as JsonObject;
  const size = Buffer.byteLength(JSON.stringify(doc), "utf8");
  if (size > DOCUMENT_LIMITS.maxBytes) fail("", `document is ${size} bytes, larger than ${DOCUMENT_LIMITS.maxBytes}`);

  expectOnlyKeys(doc, DOCUMENT_KEYS, "", "DID document");

  // @context: the DID Core context first (DID Core 1.0, section 4.1).
  const ctx = doc["@context"];
  if (ctx === undefined) fail("@context", "is required");
  if (typeof ctx === "string") {
    if (ctx !== DID_CONTEXT) fail("@context", `must be ${quote(DID_CONTEXT)} or an array starting with it`);
  } else {
    const list = expectArray(ctx, "@context", DOCUMENT_LIMITS.maxContexts, "context URIs");
    if (list.length === 0) fail("@context", "must not be empty");
    if (list[0] !== DID_CONTEXT) fail("@context[0]", `first @context entry must be ${quote(DID_CONTEXT)}`);
    const uris = list.map((c, i) => expectUri(c, at("@context", i)));
    expectUnique(uris, "@context", "context");
  }

  if (doc.id === undefined) fail("id", "is required");
  const id = expectString(doc.id, "id");
  if (id !== expectedDid) fail("id", `must be ${quote(expectedDid)}, got ${quote(id)}`);

  if (doc.controller !== undefined) {
    if (typeof doc.controller === "string") {
      expectDid(doc.controller, "controller");
    } else {
      const list = expectArray(doc.controller, "controller", DOCUMENT_LIMITS.maxControllers, "controller DIDs");
      if (list.length === 0) fail("controller", "must not be an empty array");
      const dids = list.map((c, i) => expectDid(c, at("controller", i)));
      expectUnique(dids, "controller", "controller");
    }
  }

  if (doc.alsoKnownAs !== undefined) {
    const list = expectArray(doc.alsoKnownAs, "alsoKnownAs", DOCUMENT_LIMITS.maxAlsoKnownAs, "URIs");
    const uris = list.map((u, i) => expectUri(u, at("alsoKnownAs", i)));
    expectUnique(uris, "alsoKnownAs", "URI");
  }

  const checker = new DocumentChecker(id);
  if (doc.verificationMethod !== undefined) {
    const list = expectArray(doc.verificationMethod, "verificationMethod", DOCUMENT_LIMITS.maxVerificationMethods, "verification methods");
    list.forEach((vm, i) => checker.verificationMethodShape(vm, at("verificationMethod", i), true));
  }
  for (const rel of RELATIONSHIPS) {
    if (doc[rel] !== undefined) checker.relationship(rel, doc[rel]);
  }
  // Rule: updates are authorized by an authentication key, so a document without one would freeze the DID.
  const auth = doc.authentication;
  if (!Array.isArray(auth) || auth.length === 0) {
    fail("authentication", "at least one authentication entry is required, otherwise the DID could never be updated");
  }

  if (doc.service !== undefined) {
    const list = expectArray(doc.service, "service", DOCUMENT_LIMITS.maxServices, "services");
    list.forEach((svc, i) => checker.service(svc, at("service", i)));
  }

  // Pass 2, the expensive part: every key must be a point on secp256k1.
  for (const { vm, path } of checker.pendingKeys) keyOfMethodAt(vm as unknown as VerificationMethod, path);

  // The snapshot is fresh plain JSON data (strings, arrays, objects): what parsing its JSON again would give.
  return doc as unknown as DidDocument;
}

function keyOfMethodAt(vm: VerificationMethod, path: string): Uint8Array {
  if (vm.type === "Multikey") {
    const mb = vm.publicKeyMultibase;
    let pub: Uint8Array;
    try {
      pub = multibaseToPublicKey(mb);
    } catch (err) {
      fail(at(path, "publicKeyMultibase"), `invalid secp256k1 Multikey: ${messageOf(err)}`);
    }
    if (publicKeyToMultibase(pub) !== mb) fail(at(path, "publicKeyMultibase"), "is not the canonical encoding of its key");
    return pub;
  }
  try {
    return jwkToPublicKey(vm.publicKeyJwk);
  } catch (err) {
    fail(at(path, "publicKeyJwk"), `invalid secp256k1 key: ${messageOf(err)}`);
  }
}

/**
 * The document a new DID starts with: one key `#key-1` (EcdsaSecp256k1VerificationKey2019 with
 * publicKeyJwk, the form DIF did-jwt verifies ES256K with), usable for authentication,
 * assertionMethod and capabilityInvocation. Its id is didFromPublicKey(publicKey).
 */
export function buildInitialDocument(publicKey: Uint8Array): DidDocument {
  const jwk = jwkOf(publicKey);
  const did = didFromPublicKey(publicKey);
  const keyId = `${did}#key-1`;
  return {
    "@context": [DID_CONTEXT, SECP256K1_2019_CONTEXT],
    id: did,
    verificationMethod: [{ id: keyId, type: "EcdsaSecp256k1VerificationKey2019", controller: did, publicKeyJwk: jwk }],
    authentication: [keyId],
    assertionMethod: [keyId],
    capabilityInvocation: [keyId],
  };
}

/**
 * The document's @context list completed with what its terms need to mean
 * something in JSON-LD (DID Core 1.0, section 6.3.1: every property and
 * type must be defined by a listed context): the suite context of each
 * verification method type it uses, and the sid context when it has
 * services (service types and endpoint maps are not defined by the DID
 * context). Listed contexts keep their order; missing ones follow in a
 * fixed order, so the result is a pure function of the document. Returns
 * the document's own list when nothing is missing.
 */
export function completeContexts(doc: Pick<DidDocument, "@context"> & Partial<DidDocument>): string | string[] {
  const listed = typeof doc["@context"] === "string" ? [doc["@context"]] : doc["@context"];
  const needed = new Set<string>();
  const methods = [...(doc.verificationMethod ?? [])];
  for (const rel of RELATIONSHIPS) for (const e of doc[rel] ?? []) if (typeof e !== "string") methods.push(e);
  for (const vm of methods) {
    const ctx = CONTEXT_OF_METHOD_TYPE[vm.type];
    if (ctx !== undefined) needed.add(ctx);
  }
  if ((doc.service ?? []).length > 0) needed.add(SID_CONTEXT);
  const missing = [SECP256K1_2019_CONTEXT, MULTIKEY_CONTEXT, JWS_2020_CONTEXT, SID_CONTEXT].filter((c) => needed.has(c) && !listed.includes(c));
  return missing.length === 0 ? doc["@context"] : [...listed, ...missing];
}

/** All verification methods of a (validated) document, top-level and embedded, by absolute id. */
export function verificationMethods(doc: DidDocument): Map<string, VerificationMethod> {
  const out = new Map<string, VerificationMethod>();
  for (const vm of doc.verificationMethod ?? []) out.set(vm.id, vm);
  for (const rel of RELATIONSHIPS) {
    for (const entry of doc[rel] ?? []) if (typeof entry !== "string") out.set(entry.id, entry);
  }
  return out;
}

/** The 33-byte compressed public key of a verification method (from publicKeyMultibase for Multikey, else publicKeyJwk). */
export function publicKeyOfMethod(vm: VerificationMethod): Uint8Array {
  try {
    return keyOfMethodAt(vm, "verificationMethod");
  } catch (err) {
    if (err instanceof DidError) throw err;
    throw new DidError(DidErrorCode.INVALID_DOCUMENT, `verificationMethod: ${messageOf(err)}`, { path: "verificationMethod" });
  }
}

/**
 * Rule (DID Core 1.0, section 5.3): a key may be used for a relationship only if that relationship
 * references it or embeds it. Returns the compressed key of `vmId` (absolute, or "#fragment"
 * relative to doc.id) if so, else undefined.
 */
export function keyForRelationship(doc: DidDocument, relationship: Relationship, vmId: string): Uint8Array | undefined {
  if (!RELATIONSHIPS.includes(relationship)) return undefined;
  const entries = doc[relationship];
  if (!Array.isArray(entries)) return undefined;
  const id = absoluteId(doc, vmId);
  for (const entry of entries) {
    if (typeof entry === "string") {
      if (entry !== id) continue;
      const vm = doc.verificationMethod?.find((m) => m.id === id);
      return vm ? publicKeyOfMethod(vm) : undefined;
    }
    if (entry.id === id) return publicKeyOfMethod(entry);
  }
  return undefined;
}

/** `id` made absolute: a "#fragment" is taken relative to doc.id. */
export function absoluteId(doc: DidDocument, id: string): string {
  return typeof id === "string" && id.startsWith("#") ? doc.id + id : id;
}

/** The publicKeyJwk of a compressed secp256k1 key; INVALID_DOCUMENT when it is not one. */
export function jwkOf(publicKey: Uint8Array): Secp256k1Jwk {
  try {
    assertCompressedPublicKey(publicKey);
    return publicKeyToJwk(publicKey);
  } catch (err) {
    if (err instanceof CryptoError) throw new DidError(DidErrorCode.INVALID_DOCUMENT, `public key: ${err.message}`, { path: "" });
    throw err;
  }
}
