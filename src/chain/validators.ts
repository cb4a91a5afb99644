/**
 * The validator set as chain state, changed by governance: one record,
 * `validators:`, holding the set in force and the changes governance has
 * scheduled. Pure rules only; chain/validator-set.ts turns entries into a
 * ValidatorSet (addresses, quorum, hash).
 *
 * Rule (Tendermint's H+2): a `validator/set` action executed in block H takes
 * effect at height H+2, so the set that signs H+1 is already fixed when H is
 * committed and every node knows it before it votes. The record keeps the
 * scheduled sets in `pending`, each a whole set with the height it starts at;
 * entries whose height has been reached are folded into `current` the next
 * time the record is written. Folding lazily keeps untouched blocks from
 * rewriting the record, and is deterministic because it happens only inside a
 * governance action, which every node executes at the same height.
 */
import { fromHex } from "../crypto/bytes.js";
import { ChainError, GovErrorCode } from "./errors.js";

/** One validator: a display name, its 33-byte compressed secp256k1 key (lowercase hex), its voting power. */
export interface ValidatorEntry {
  name: string;
  publicKey: string;
  power: number;
}

/** A whole set scheduled to start at `effectiveHeight`. */
export interface PendingValidatorSet {
  effectiveHeight: number;
  set: ValidatorEntry[];
}

export interface ValidatorsRecord {
  kind: "validators";
  /** The set in force from the last fold on (genesis: height 1). */
  current: ValidatorEntry[];
  /** Scheduled sets, ascending by effectiveHeight; at most two after a fold (H+1 and H+2). */
  pending: PendingValidatorSet[];
  updatedHeight: number;
}

/** Add, re-weigh or (power 0) remove one validator. */
export interface ValidatorSetAction {
  kind: "validator/set";
  publicKey: string;
  /** 1-64 chars; may be "" only when power is 0 (a removal names no one new). */
  name: string;
  power: number;
}

export const VALIDATORS_ID = "validators:";
/** Most validators in one set: the genesis limit, which bounds vote sets and commit sizes. */
export const MAX_VALIDATORS = 150;
/** Largest power of one validator, as in genesis; 150 of them stay far inside 2^53. */
export const MAX_VALIDATOR_POWER = 1_000_000;
/** A change executed in block H is in force from H + VALIDATOR_SET_DELAY (Tendermint: 2). */
export const VALIDATOR_SET_DELAY = 2;

const PUBKEY_RE = /^0[23][0-9a-f]{64}$/;

export function isValidatorPublicKeyHex(v: unknown): v is string {
  return typeof v === "string" && PUBKEY_RE.test(v);
}

export function isValidatorName(v: unknown): v is string {
  return typeof v === "string" && v.length >= 1 && v.length <= 64 && v.trim() === v && !/[\x00-\x1f\x7f]/.test(v);
}

export function totalPower(set: readonly ValidatorEntry[]): number {
  return set.reduce((s, v) => s + v.power, 0);
}

/**
 * The set in force at `height` as far as `r` knows: the latest pending set
 * whose effectiveHeight is at most `height`, else `current`. Answers for
 * heights from the record's last fold on (older heights: the store's index).
 */
export function validatorSetAt(r: ValidatorsRecord, height: number): ValidatorEntry[] {
  let set = r.current;
  for (const p of r.pending) if (p.effectiveHeight <= height) set = p.set;
  return set;
}

/** The record with every pending set already in force at `height` moved into `current`. */
export function foldValidators(r: ValidatorsRecord, height: number): ValidatorsRecord {
  return { ...r, current: validatorSetAt(r, height), pending: r.pending.filter((p) => p.effectiveHeight > height) };
}

/**
 * Rule (validator/set): executed in block `height`, schedule the set in force
 * at height + 2 with this validator added, re-weighed or (power 0) removed.
 * Refused: removing a key that is not a validator then, removing the last
 * validator or dropping total power to 0, growing past MAX_VALIDATORS.
 * Several changes in one block compose, in tx order.
 */
export function applyValidatorChange(r: ValidatorsRecord, a: ValidatorSetAction, height: number): ValidatorsRecord {
  const effectiveHeight = height + VALIDATOR_SET_DELAY;
  const folded = foldValidators(r, height);
  const base = validatorSetAt(folded, effectiveHeight);
  const i = base.findIndex((v) => v.publicKey === a.publicKey);
  let next: ValidatorEntry[];
  if (a.power === 0) {
    if (i < 0) throw new ChainError(GovErrorCode.VALIDATOR_NOT_FOUND, `${a.publicKey} is not a validator at height ${effectiveHeight}`, { publicKey: a.publicKey });
    next = base.filter((_, j) => j !== i);
    if (next.length === 0 || totalPower(next) === 0) {
      throw new ChainError(GovErrorCode.VALIDATOR_SET_EMPTY, `removing ${a.publicKey} would leave no validator: the chain would halt`);
    }
  } else if (i >= 0) {
    next = base.map((v, j) => (j === i ? { name: a.name, publicKey: a.publicKey, power: a.power } : v));
  } else {
    if (base.length >= MAX_VALIDATORS) throw new ChainError(GovErrorCode.VALIDATOR_SET_FULL, `the validator set already has ${MAX_VALIDATORS} validators, the most it may have`);
    next = [...base, { name: a.name, publicKey: a.publicKey, power: a.power }];
  }
  const pending = [...folded.pending.filter((p) => p.effectiveHeight !== effectiveHeight), { effectiveHeight, set: next }];
  return { kind: "validators", current: folded.current, pending, updatedHeight: height };
}

/** The record genesis writes: its validators in force from height 1, nothing scheduled. */
export function genesisValidatorsRecord(validators: readonly ValidatorEntry[]): ValidatorsRecord {
  return {
    kind: "validators",
    current: validators.map((v) => ({ name: v.name, publicKey: v.publicKey, power: v.power })),
    pending: [],
    updatedHeight: 0,
  };
}

/** A validator's key as bytes (entries keep hex so JSON answers and txs show it as typed). */
export function validatorPublicKeyBytes(v: ValidatorEntry): Uint8Array {
  return fromHex(v.publicKey, 33);
}
