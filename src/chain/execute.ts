/**
 * The state transition, pure: no I/O, clock or randomness. Time, height and
 * chain id come in a context; state comes through a synchronous view that
 * the caller has filled with every record the txs touch (touchedDids). The
 * same checkTx admits txs to the mempool and executes them in blocks.
 */
import { toHex } from "../crypto/bytes.js";
import { verifyDigest } from "../crypto/secp256k1.js";
import { didFromPublicKey } from "../did/syntax.js";
import { keyForRelationship, type DidDocument } from "../did/document.js";
import { ChainError, DidErrorCode, TxErrorCode } from "./errors.js";
import type { DidOperation, DidRecord, DidStateView, DidVersion } from "./state.js";
import { type Tx, TxType, txSigningDigest, txTargetDid } from "./tx.js";

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

export interface TxEffect {
  /** Records written (target, and the signer when it is another DID). */
  writes: DidRecord[];
  version: DidVersion;
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

  verify(hash: Uint8Array, tx: Tx, publicKey: Uint8Array): boolean {
    const h = toHex(hash);
    const pk = toHex(publicKey);
    if (this.verified.get(h) === pk) return true;
    const ok = verifyDigest(tx.sig, txSigningDigest(tx), publicKey);
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

/** Every DID whose record checkTx reads: the signer and the target. */
export function touchedDids(tx: Tx): string[] {
  const target = txTargetDid(tx);
  return target === tx.signer ? [target] : [target, tx.signer];
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
function authorizingKey(view: DidStateView, target: DidRecord, tx: Tx): { key: Uint8Array; signer: DidRecord } {
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
  if (!ctx.verifier.verify(c.hash, c.tx, key)) {
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
 * Check one tx against state and compute what it writes. Throws ChainError
 * with the precise rule broken; returns the effect otherwise. Does not
 * change the view.
 */
export function checkTx(view: DidStateView, c: CheckedTx, ctx: ExecContext): TxEffect {
  const { tx } = c;
  if (tx.chainId !== ctx.chainId) throw new ChainError(TxErrorCode.WRONG_CHAIN, `tx is for chain "${tx.chainId}"`);
  switch (tx.type) {
    case TxType.DidCreate: {
      // Rule: create is signed by the key the DID id derives from.
      const doc = tx.payload.document;
      if (tx.signer !== doc.id) throw new ChainError(DidErrorCode.ID_MISMATCH, "create must be signed by the DID being created");
      const key = keyForRelationship(doc, "authentication", tx.vm);
      if (!key) throw new ChainError(TxErrorCode.UNAUTHORIZED, `${tx.vm} is not an authentication key of the new document`);
      if (didFromPublicKey(key) !== doc.id) {
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
  }
}

/** A view whose writes shadow a base view; used to apply txs one after another. */
export class OverlayView implements DidStateView {
  readonly writes = new Map<string, DidRecord>();
  constructor(private readonly base: DidStateView) {}
  getDid(did: string): DidRecord | undefined {
    return this.writes.get(did) ?? this.base.getDid(did);
  }
  apply(effect: TxEffect): void {
    for (const r of effect.writes) this.writes.set(r.did, r);
  }
}

export interface BlockEffects {
  writes: Map<string, DidRecord>;
  versions: DidVersion[];
}

/**
 * applyBlock(state, block): execute a block's txs in order. A block with any
 * invalid tx is invalid as a whole (the proposer includes only txs that pass),
 * so this throws the first tx's error with its index.
 */
export function applyBlockTxs(view: DidStateView, txs: readonly CheckedTx[], ctx: ExecContext): BlockEffects {
  const overlay = new OverlayView(view);
  const versions: DidVersion[] = [];
  txs.forEach((c, i) => {
    try {
      const effect = checkTx(overlay, c, ctx);
      overlay.apply(effect);
      versions.push(effect.version);
    } catch (e) {
      if (e instanceof ChainError) throw new ChainError(e.code, `tx ${i} (${toHex(c.hash)}): ${e.message}`, { index: i, ...e.data });
      throw e;
    }
  });
  return { writes: overlay.writes, versions };
}

