/**
 * The state transition, pure: no I/O, clock or randomness. Time, height and
 * chain id come in a context; state comes through a synchronous view that
 * the caller has filled with every record the txs touch (touchedDids). The
 * same checkTx admits txs to the mempool and executes them in blocks.
 */
import { toHex } from "../crypto/bytes.js";
import { verifyDigest } from "../crypto/secp256k1.js";
import { didFromCheckedKey } from "../did/syntax.js";
import { mapValueBytes } from "./codec.js";
import { keyForRelationship, type DidDocument } from "../did/document.js";
import { type Relationship } from "../did/document.js";
import { type IssuerRecord } from "../did/kyc.js";
import {
  STATUS_LIST_LIMITS,
  StatusListError,
  StatusListErrorCode,
  type StatusListToken,
  checkTransition,
  decodeLst,
  packedLength,
  parseStatusListToken,
  statusListUri,
  verifyEs256k,
} from "../did/status-list.js";
import { ChainError, DidErrorCode, GovErrorCode, KycErrorCode, TxErrorCode } from "./errors.js";
import { DEFAULT_STATUS_LIST_BASE_URI } from "./genesis.js";
import { PROPOSAL_TTL_BLOCKS, applyGovAction, currentTrustees, sameAction, touchedByAction } from "./governance.js";
import {
  type DidOperation,
  type DidRecord,
  type DidVersion,
  type ProposalRecord,
  type StateRecord,
  type StateView,
  type ChainParamsRecord,
  type StatusListRecord,
  CHAIN_PARAMS_ID,
  TRUSTEES_ID,
  issuerStateId,
  statusListStateId,
  proposalStateId,
  stateIdOf,
} from "./state.js";
import { type Tx, TxType, txSigningDigest, txSigningDigestOfEncoded } from "./tx.js";

export interface ExecContext {
  chainId: string;
  height: number;
  /** Block time, ms since the Unix epoch. */
  time: number;
  verifier: SignatureVerifier;
}

/** A decoded tx with its hash, as it travels from mempool to block. */
export interface CheckedTx {
  tx: Tx;
  hash: Uint8Array;
  encoded: Uint8Array;
}

/** A status list published (created or updated): for subscribers. Issuer-level only (invariant 5). */
export interface StatusListEvent {
  issuer: string;
  listId: string;
  height: number;
}

export interface TxEffect {
  /** Records written: the DID target, a signer whose nonce moved, registry records. */
  writes: StateRecord[];
  /** A new DID version (DID operations only). */
  version?: DidVersion;
  statusList?: StatusListEvent;
}

/**
 * Verifies tx signatures, remembering what it verified: a tx checked at
 * mempool admission is not verified again when its block executes, unless
 * the key it must verify against has changed.
 */
export class SignatureVerifier {
  private readonly verified = new Map<string, string>();
  /** Sized to span admission to execution: a few blocks of txs. */
  constructor(private readonly capacity = 50_000) {}

  /** `encoded`, the tx's own bytes when at hand, gives the signing digest without encoding the tx again. */
  verify(hash: Uint8Array, tx: Tx, publicKey: Uint8Array, encoded?: Uint8Array): boolean {
    const h = toHex(hash);
    const pk = toHex(publicKey);
    if (this.verified.get(h) === pk) return true;
    const ok = verifyDigest(tx.sig, encoded ? txSigningDigestOfEncoded(encoded) : txSigningDigest(tx), publicKey);
    if (ok) this.remember(hash, pk);
    return ok;
  }

  /** Record a verification done elsewhere (the preverifier worker) with the same rules. */
  remember(hash: Uint8Array, publicKeyHex: string): void {
    if (this.verified.size >= this.capacity) {
      const first = this.verified.keys().next().value as string;
      this.verified.delete(first);
    }
    this.verified.set(toHex(hash), publicKeyHex);
  }

  forget(hash: Uint8Array): void {
    this.verified.delete(toHex(hash));
  }
}

/** Every state id checkTx reads for a tx (the signer first), so callers can load them beforehand. */
export function touchedKeys(c: { tx: Tx; hash: Uint8Array }): string[] {
  const { tx } = c;
  switch (tx.type) {
    case TxType.DidCreate:
      return [tx.payload.document.id];
    case TxType.DidUpdate:
    case TxType.DidDeactivate:
      return tx.payload.did === tx.signer ? [tx.signer] : [tx.payload.did, tx.signer];
    case TxType.GovPropose:
      return [tx.signer, TRUSTEES_ID, proposalStateId(toHex(c.hash)), ...touchedByAction(tx.payload.action)];
    case TxType.GovApprove:
      return [tx.signer, TRUSTEES_ID, proposalStateId(tx.payload.proposalId), ...touchedByAction(tx.payload.action)];
    case TxType.StatusListPublish:
      return [tx.signer, issuerStateId(tx.signer), statusListStateId(tx.signer, tx.payload.listId), CHAIN_PARAMS_ID];
  }
}

function controllersOf(doc: DidDocument): string[] {
  if (doc.controller === undefined) return [];
  return Array.isArray(doc.controller) ? doc.controller : [doc.controller];
}

/**
 * Rule: an update or deactivation is signed by a key in the `authentication`
 * of the DID's current document, or in the `authentication` of a DID listed
 * as its `controller`; a deactivated DID signs nothing.
 */
function authorizingKey(view: StateView, target: DidRecord, tx: Tx): { key: Uint8Array; signer: DidRecord } {
  let signer: DidRecord;
  if (tx.signer === target.did) {
    signer = target;
  } else {
    if (!controllersOf(target.document).includes(tx.signer)) {
      throw new ChainError(TxErrorCode.UNAUTHORIZED, `${tx.signer} is neither ${target.did} nor one of its controllers`);
    }
    const s = view.getDid(tx.signer);
    if (!s) throw new ChainError(TxErrorCode.UNKNOWN_SIGNER, `controller ${tx.signer} is not registered`);
    if (s.deactivated) throw new ChainError(DidErrorCode.DEACTIVATED, `controller ${tx.signer} is deactivated`);
    signer = s;
  }
  const key = keyForRelationship(signer.document, "authentication", tx.vm);
  if (!key) {
    throw new ChainError(TxErrorCode.UNAUTHORIZED, `${tx.vm} is not an authentication key of the current document of ${signer.did}`);
  }
  return { key, signer };
}

function checkSequence(tx: Tx, expected: number): void {
  if (tx.seq !== expected) {
    throw new ChainError(TxErrorCode.BAD_SEQUENCE, `signer ${tx.signer} must use seq ${expected}, got ${tx.seq}`, {
      expected,
      got: tx.seq,
    });
  }
}

function checkSignature(ctx: ExecContext, c: CheckedTx, key: Uint8Array): void {
  if (!ctx.verifier.verify(c.hash, c.tx, key, c.encoded)) {
    throw new ChainError(TxErrorCode.BAD_SIGNATURE, `signature does not verify against ${c.tx.vm}`);
  }
}

function version(record: DidRecord, op: DidOperation, c: CheckedTx, ctx: ExecContext): DidVersion {
  return {
    did: record.did,
    versionId: record.versionId,
    operation: op,
    height: ctx.height,
    time: ctx.time,
    txHash: c.hash,
    document: record.document,
  };
}

/**
 * The key a create's `vm` names in its own document and the DID that key
 * derives, remembered per decoded document: a tx is checked at admission
 * and again when its block executes (on the same decoded object, see
 * BlockExecDeps.knownTx), and the point checks and hashing here are pure.
 */
const createKeys = new WeakMap<DidDocument, { vm: string; key: Uint8Array | undefined; did: string | undefined }>();

/**
 * Rule: a create is signed by the `authentication` key its own document names
 * as `vm`, and the DID that key derives must be the document's id. Returns the
 * key (undefined when `vm` names none) and the DID it derives. Pure: the
 * preverifier worker runs it off the main thread, checkTx on it.
 */
export function deriveCreateKey(doc: DidDocument, vm: string): { key: Uint8Array | undefined; did: string | undefined } {
  const key = keyForRelationship(doc, "authentication", vm);
  return { key, did: key ? didFromCheckedKey(key) : undefined };
}

/**
 * Record what the preverifier worker found for a create (deriveCreateKey,
 * run there), so admission on the main thread does not repeat the point
 * checks.
 */
export function rememberCreateKey(tx: Tx, key: Uint8Array, did: string): void {
  if (tx.type === TxType.DidCreate) createKeys.set(tx.payload.document, { vm: tx.vm, key, did });
}

function createKeyOf(doc: DidDocument, vm: string): { key: Uint8Array | undefined; did: string | undefined } {
  const hit = createKeys.get(doc);
  if (hit && hit.vm === vm) return hit;
  const entry = { vm, ...deriveCreateKey(doc, vm) };
  createKeys.set(doc, entry);
  return entry;
}

/**
 * Check one tx against state and compute what it writes. Throws ChainError
 * with the precise rule broken; returns the effect otherwise. Does not
 * change the view.
 */
export function checkTx(view: StateView, c: CheckedTx, ctx: ExecContext): TxEffect {
  const { tx } = c;
  if (tx.chainId !== ctx.chainId) throw new ChainError(TxErrorCode.WRONG_CHAIN, `tx is for chain "${tx.chainId}"`);
  switch (tx.type) {
    case TxType.DidCreate: {
      // Rule: create is signed by the key the DID id derives from.
      const doc = tx.payload.document;
      if (tx.signer !== doc.id) throw new ChainError(DidErrorCode.ID_MISMATCH, "create must be signed by the DID being created");
      const { key, did } = createKeyOf(doc, tx.vm);
      if (!key) throw new ChainError(TxErrorCode.UNAUTHORIZED, `${tx.vm} is not an authentication key of the new document`);
      if (did !== doc.id) {
        throw new ChainError(DidErrorCode.ID_MISMATCH, `${doc.id} does not derive from the key of ${tx.vm}`);
      }
      if (view.getDid(doc.id)) throw new ChainError(DidErrorCode.ALREADY_EXISTS, `${doc.id} already exists`);
      checkSequence(tx, 0);
      checkSignature(ctx, c, key);
      const record: DidRecord = {
        did: doc.id,
        document: doc,
        versionId: 1,
        nonce: 1,
        created: ctx.time,
        updated: ctx.time,
        createdHeight: ctx.height,
        updatedHeight: ctx.height,
        deactivated: false,
      };
      return { writes: [record], version: version(record, "create", c, ctx) };
    }
    case TxType.DidUpdate:
    case TxType.DidDeactivate: {
      const did = tx.payload.did;
      const target = view.getDid(did);
      if (!target) throw new ChainError(DidErrorCode.NOT_FOUND, `${did} is not registered`);
      if (target.deactivated) throw new ChainError(DidErrorCode.DEACTIVATED, `${did} is deactivated; it accepts no more writes`);
      // Rule: every write names the current version, so stale and replayed writes fail.
      if (tx.payload.prevVersionId !== String(target.versionId)) {
        throw new ChainError(DidErrorCode.STALE_VERSION, `${did} is at version ${target.versionId}, tx names ${tx.payload.prevVersionId}`, {
          current: String(target.versionId),
        });
      }
      const { key, signer } = authorizingKey(view, target, tx);
      checkSequence(tx, signer.nonce);
      checkSignature(ctx, c, key);
      const deactivate = tx.type === TxType.DidDeactivate;
      const next: DidRecord = {
        ...target,
        document: deactivate ? target.document : tx.payload.document,
        versionId: target.versionId + 1,
        updated: ctx.time,
        updatedHeight: ctx.height,
        deactivated: deactivate,
        nonce: signer === target ? target.nonce + 1 : target.nonce,
      };
      const writes = [next];
      if (signer !== target) writes.push({ ...signer, nonce: signer.nonce + 1 });
      return { writes, version: version(next, deactivate ? "deactivate" : "update", c, ctx) };
    }
    case TxType.GovPropose:
    case TxType.GovApprove:
      return checkGovTx(view, c, ctx);
    case TxType.StatusListPublish:
      return checkStatusListTx(view, c, ctx);
  }
}

/**
 * The signer's own record and the key its tx is signed with, which must be in
 * `relationship` of the signer's current document. Checks sequence and
 * signature; returns the signer record with its nonce moved on.
 */
function signedBySigner(view: StateView, c: CheckedTx, ctx: ExecContext, relationship: Relationship): DidRecord {
  const { tx } = c;
  const signer = view.getDid(tx.signer);
  if (!signer) throw new ChainError(TxErrorCode.UNKNOWN_SIGNER, `signer ${tx.signer} is not registered`);
  if (signer.deactivated) throw new ChainError(DidErrorCode.DEACTIVATED, `signer ${tx.signer} is deactivated`);
  const key = keyForRelationship(signer.document, relationship, tx.vm);
  if (!key) throw new ChainError(TxErrorCode.UNAUTHORIZED, `${tx.vm} is not in the ${relationship} of the current document of ${tx.signer}`);
  checkSequence(tx, signer.nonce);
  checkSignature(ctx, c, key);
  return { ...signer, nonce: signer.nonce + 1 };
}

/**
 * Rule (governance): only current trustees propose and approve, each once;
 * an approval restates the proposal's action, so what a trustee signs is
 * exactly what runs; the action runs when approvals by current trustees
 * reach the threshold, and a proposal that cannot run is refused up front.
 */
function checkGovTx(view: StateView, c: CheckedTx, ctx: ExecContext): TxEffect {
  const { tx } = c;
  if (tx.type !== TxType.GovPropose && tx.type !== TxType.GovApprove) throw new Error("not a governance tx");
  const trustees = currentTrustees(view);
  if (!trustees.members.includes(tx.signer)) throw new ChainError(GovErrorCode.NOT_TRUSTEE, `${tx.signer} is not a trustee`);
  const action = tx.payload.action;
  let proposal: ProposalRecord;
  if (tx.type === TxType.GovPropose) {
    const id = toHex(c.hash);
    if (view.get(proposalStateId(id))) throw new ChainError(GovErrorCode.PROPOSAL_EXISTS, `proposal ${id} exists`);
    // Refuse now what could not run now: the error is clearer than a stuck proposal.
    applyGovAction(view, action, ctx);
    proposal = {
      kind: "proposal",
      id,
      action,
      proposer: tx.signer,
      approvals: [tx.signer],
      createdHeight: ctx.height,
      expiresHeight: ctx.height + PROPOSAL_TTL_BLOCKS,
      status: "pending",
      executedHeight: null,
    };
  } else {
    const id = tx.payload.proposalId;
    const p = view.get(proposalStateId(id)) as ProposalRecord | undefined;
    if (!p) throw new ChainError(GovErrorCode.PROPOSAL_NOT_FOUND, `no proposal ${id}`);
    if (p.status !== "pending") throw new ChainError(GovErrorCode.PROPOSAL_CLOSED, `proposal ${id} was executed at height ${p.executedHeight}`);
    if (ctx.height > p.expiresHeight) throw new ChainError(GovErrorCode.PROPOSAL_EXPIRED, `proposal ${id} expired at height ${p.expiresHeight}`);
    if (!sameAction(p.action, action)) throw new ChainError(GovErrorCode.ACTION_MISMATCH, `the approval's action differs from proposal ${id}'s`);
    if (p.approvals.includes(tx.signer)) throw new ChainError(GovErrorCode.ALREADY_APPROVED, `${tx.signer} already approved proposal ${id}`);
    proposal = { ...p, approvals: [...p.approvals, tx.signer] };
  }
  const signer = signedBySigner(view, c, ctx, "authentication");
  const writes: StateRecord[] = [signer];
  const votes = proposal.approvals.filter((d) => trustees.members.includes(d)).length;
  if (votes >= trustees.threshold) {
    writes.push(...applyGovAction(view, action, ctx));
    proposal = { ...proposal, status: "executed", executedHeight: ctx.height };
  }
  writes.push(proposal);
  return { writes };
}

/** The parsed token of a publish, remembered per decoded payload: a tx is checked at admission and again in its block. */
const parsedTokens = new WeakMap<object, StatusListToken>();

function tokenOf(payload: { token: string }): StatusListToken {
  let t = parsedTokens.get(payload);
  if (!t) {
    t = asChainError(() => parseStatusListToken(payload.token));
    parsedTokens.set(payload, t);
  }
  return t;
}

function asChainError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof StatusListError) throw new ChainError(e.code, e.message, e.data);
    throw e;
  }
}

/**
 * Rules (status lists): a publish is signed by the issuer with a key of its
 * `assertionMethod`; the token is signed (ES256K, high or low S) by the key
 * its `kid` names in the same `assertionMethod`, names the list URI in `sub`,
 * never goes back in `iat`, and carries a list of 2-bit entries whose change
 * from the current list checkTransition allows. A first publish creates the
 * list (131,072 to 1,048,576 entries, all UNISSUED) and needs an active
 * accredited issuer; the list keeps the types the issuer was accredited for
 * then, and an entry may become VALID only while the issuer is active and
 * accredited for all of them, so a removed issuer cannot backdate issuance.
 */
function checkStatusListTx(view: StateView, c: CheckedTx, ctx: ExecContext): TxEffect {
  const { tx } = c;
  if (tx.type !== TxType.StatusListPublish) throw new Error("not a status list tx");
  const { listId } = tx.payload;
  const token = tokenOf(tx.payload);
  if (token.issuer !== tx.signer) throw new ChainError(StatusListErrorCode.WRONG_KEY, `the token's kid ${token.header.kid} is not a key of the signer ${tx.signer}`);
  const issuer = view.get(issuerStateId(tx.signer)) as IssuerRecord | undefined;
  const id = statusListStateId(tx.signer, listId);
  const existing = view.get(id) as StatusListRecord | undefined;
  if (!existing) {
    if (!issuer || issuer.status === "removed") throw new ChainError(KycErrorCode.ISSUER_NOT_FOUND, `${tx.signer} is not an accredited issuer; it cannot create a status list`);
    if (issuer.status !== "active") throw new ChainError(KycErrorCode.ISSUER_NOT_ACTIVE, `issuer ${tx.signer} is ${issuer.status}; it cannot create a status list`);
  }
  const params = view.get(CHAIN_PARAMS_ID) as ChainParamsRecord | undefined;
  const uri = statusListUri(params?.statusListBaseUri ?? DEFAULT_STATUS_LIST_BASE_URI, tx.signer, listId);
  if (token.payload.sub !== uri) throw new ChainError(StatusListErrorCode.WRONG_SUBJECT, `the token's sub must be the list URI ${uri}`, { uri });
  if (existing && token.payload.iat < existing.iat) {
    throw new ChainError(StatusListErrorCode.STALE_TOKEN, `the token's iat ${token.payload.iat} is before the current token's ${existing.iat}`, { iat: existing.iat });
  }
  const signer = signedBySigner(view, c, ctx, "assertionMethod");
  const key = keyForRelationship(signer.document, "assertionMethod", token.header.kid);
  if (!key) throw new ChainError(StatusListErrorCode.WRONG_KEY, `${token.header.kid} is not in the assertionMethod of the current document of ${tx.signer}`);
  if (!verifyEs256k(token.signingInput, token.signature, key)) throw new ChainError(StatusListErrorCode.BAD_SIGNATURE, `the token's signature does not verify with ${token.header.kid}`);
  // Bounded by the largest list whatever the current size: a list that grew past it is a size change, past the bound a bomb.
  const list = asChainError(() => decodeLst(token.payload.status_list.lst, packedLength(STATUS_LIST_LIMITS.maxSize)));
  const size = list.length * 4;
  let old: Uint8Array | undefined;
  if (existing) {
    if (size !== existing.size) throw new ChainError(StatusListErrorCode.SIZE_CHANGED, `the list has ${existing.size} entries; the token has ${size}`, { size: existing.size });
    old = asChainError(() => decodeLst(parseStatusListToken(existing.token).payload.status_list.lst, packedLength(existing.size)));
  } else if (size < STATUS_LIST_LIMITS.minSize || size > STATUS_LIST_LIMITS.maxSize) {
    throw new ChainError(StatusListErrorCode.BAD_LIST, `a list has ${STATUS_LIST_LIMITS.minSize} to ${STATUS_LIST_LIMITS.maxSize} entries, this one ${size}`, { size });
  }
  const types = existing ? existing.types : issuer!.types;
  const issuerMayIssue = issuer !== undefined && issuer.status === "active" && types.every((t) => issuer.types.includes(t));
  const violation = checkTransition(old, list, { issuerMayIssue });
  if (violation) {
    throw new ChainError(violation.code, violation.message, { index: violation.index, ...(violation.from !== undefined ? { from: violation.from } : {}), ...(violation.to !== undefined ? { to: violation.to } : {}) });
  }
  const record: StatusListRecord = {
    kind: "statuslist",
    issuer: tx.signer,
    listId,
    uri,
    types,
    size,
    token: tx.payload.token,
    iat: token.payload.iat,
    height: ctx.height,
    time: ctx.time,
    createdHeight: existing ? existing.createdHeight : ctx.height,
  };
  return { writes: [signer, record], statusList: { issuer: tx.signer, listId, height: ctx.height } };
}

/** A view whose writes shadow a base view; used to apply txs one after another. */
export class OverlayView implements StateView {
  readonly writes = new Map<string, StateRecord>();
  constructor(private readonly base: StateView) {}
  get(id: string): StateRecord | undefined {
    return this.writes.get(id) ?? this.base.get(id);
  }
  getDid(did: string): DidRecord | undefined {
    return (this.writes.get(did) as DidRecord | undefined) ?? this.base.getDid(did);
  }
  apply(effect: TxEffect): void {
    for (const r of effect.writes) this.writes.set(stateIdOf(r), r);
  }
  /** An overlay on this one: its writes reach this overlay only through mergeInto, so a tx that fails leaves nothing behind. */
  child(): OverlayView {
    return new OverlayView(this);
  }
  /** Move this overlay's writes onto `parent` (the overlay it was made on), in the order they were written. */
  mergeInto(parent: OverlayView): void {
    for (const [id, r] of this.writes) parent.writes.set(id, r);
  }
}

export interface BlockEffects {
  /** Records written, by state id. */
  writes: Map<string, StateRecord>;
  versions: DidVersion[];
  statusLists: StatusListEvent[];
  /**
   * The canonical encoding of each document a create or update brought, by
   * document object: a view into the tx's own bytes (a canonical encoding's
   * parts are canonical), so state records holding it need not encode it.
   */
  documents: Map<DidDocument, Uint8Array>;
}

/** A create's or update's document with its bytes inside the encoded tx. */
function documentOf(c: CheckedTx): { document: DidDocument; bytes: Uint8Array } | undefined {
  if (c.tx.type !== TxType.DidCreate && c.tx.type !== TxType.DidUpdate) return undefined;
  const payload = mapValueBytes(c.encoded, "payload");
  const bytes = payload && mapValueBytes(payload, "document");
  return bytes && { document: c.tx.payload.document, bytes };
}

/** Effects of a block being executed, tx by tx, on one overlay of the block's state. */
class BlockExecution {
  readonly overlay: OverlayView;
  readonly versions: DidVersion[] = [];
  readonly statusLists: StatusListEvent[] = [];
  readonly documents = new Map<DidDocument, Uint8Array>();

  constructor(
    view: StateView,
    private readonly ctx: ExecContext,
  ) {
    this.overlay = new OverlayView(view);
  }

  /**
   * Execute the tx at `index` of the block on a child overlay, kept only when
   * the tx passes. Throws its ChainError, with the index, otherwise.
   */
  apply(c: CheckedTx, index: number): void {
    const child = this.overlay.child();
    let effect: TxEffect;
    try {
      effect = checkTx(child, c, this.ctx);
    } catch (e) {
      if (e instanceof ChainError) throw new ChainError(e.code, `tx ${index} (${toHex(c.hash)}): ${e.message}`, { index, ...e.data });
      throw e;
    }
    child.apply(effect);
    child.mergeInto(this.overlay);
    if (effect.version) this.versions.push(effect.version);
    if (effect.statusList) this.statusLists.push(effect.statusList);
    const doc = documentOf(c);
    if (doc) this.documents.set(doc.document, doc.bytes);
  }

  effects(): BlockEffects {
    return { writes: this.overlay.writes, versions: this.versions, statusLists: this.statusLists, documents: this.documents };
  }
}

/**
 * applyBlock(state, block): execute a block's txs in order. A block with any
 * invalid tx is invalid as a whole (the proposer includes only txs that pass),
 * so this throws the first tx's error with its index.
 */
export function applyBlockTxs(view: StateView, txs: readonly CheckedTx[], ctx: ExecContext): BlockEffects {
  const run = new BlockExecution(view, ctx);
  txs.forEach((c, i) => run.apply(c, i));
  return run.effects();
}

/**
 * The proposer's side of applyBlock: execute candidate txs in order and leave
 * out each one that fails, with its error (`onFailed`), without touching what
 * the others wrote. The txs kept and their effects are exactly what
 * applyBlockTxs gives for the kept txs alone, and a failure's error names the
 * index the tx would have had among them.
 */
export function applyTxsLeavingOutFailures(
  view: StateView,
  txs: readonly CheckedTx[],
  ctx: ExecContext,
  onFailed: (c: CheckedTx, e: ChainError) => void,
): { txs: CheckedTx[]; effects: BlockEffects } {
  const run = new BlockExecution(view, ctx);
  const kept: CheckedTx[] = [];
  for (const c of txs) {
    try {
      run.apply(c, kept.length);
      kept.push(c);
    } catch (e) {
      if (!(e instanceof ChainError)) throw e;
      onFailed(c, e);
    }
  }
  return { txs: kept, effects: run.effects() };
}
