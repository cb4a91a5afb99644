/**
 * Block validation rule for evidence of equivocation, for every node that
 * builds or checks a block: each item proves equivocation by the validator
 * set in force at the votes' height (verifyEvidence), is from a height below
 * the block's and at most maxEvidenceAgeBlocks below it, appears once in the
 * block and was not committed by an earlier block. The rule itself is pure
 * (validateBlockEvidence); checkBlockEvidence loads what it needs from the
 * store first.
 */
import { toHex } from "../crypto/bytes.js";
import { type EncodedEvidence, MAX_BLOCK_EVIDENCE } from "../chain/block.js";
import { ChainError, EvidenceErrorCode } from "../chain/errors.js";
import { ConsensusError } from "./errors.js";
import { REJECT_INVALID } from "../errors.js";
import { type DuplicateVoteEvidence, decodeEvidence, evidenceHash, verifyEvidence } from "./evidence.js";
import type { ValidatorSet } from "../chain/validator-set.js";

/** What the rule needs to know, loaded beforehand. */
export interface EvidenceContext {
  chainId: string;
  /** Height of the block that includes the evidence. */
  height: number;
  maxAgeBlocks: number;
  /** The validator set in force at a height (undefined: not known). */
  setAt(height: number): ValidatorSet | undefined;
  /** The height of the block that committed evidence with this hash (hex), if any. */
  committedAt(hashHex: string): number | undefined;
}

/** Evidence that passed the rule, with what the store indexes of it. */
export interface VerifiedEvidence {
  evidence: DuplicateVoteEvidence;
  encoded: EncodedEvidence;
  hash: Uint8Array;
  /** Address of the validator it convicts. */
  validator: Uint8Array;
  /** Height of the conflicting votes. */
  height: number;
}

/**
 * `forged`: the item itself is wrong whoever judges it (it does not decode,
 * or its votes do not prove equivocation by the set of their height), so a
 * peer that sent it sent garbage: the error's verdict rejects it. Other
 * refusals can depend on what the judging node knows (its height, what it
 * has committed) and blame nobody.
 */
function refuse(code: EvidenceErrorCode, index: number, message: string, forged = false): ChainError {
  return forged ? new ChainError(code, `evidence ${index}: ${message}`, { index, forged }, REJECT_INVALID) : new ChainError(code, `evidence ${index}: ${message}`, { index });
}

/** Decode one item, refusing undecodable bytes as EVIDENCE_INVALID. */
export function decodeBlockEvidence(encoded: EncodedEvidence, index: number): DuplicateVoteEvidence {
  try {
    return decodeEvidence(encoded);
  } catch (e) {
    if (e instanceof ConsensusError) throw refuse(EvidenceErrorCode.INVALID, index, e.message, true);
    throw e;
  }
}

/**
 * Rule: check a block's evidence list; returns it verified, in block order,
 * or throws ChainError (EVIDENCE_INVALID, EVIDENCE_TOO_OLD,
 * EVIDENCE_DUPLICATE) with `data.index` of the first item that fails.
 */
export function validateBlockEvidence(items: readonly EncodedEvidence[], ctx: EvidenceContext): VerifiedEvidence[] {
  if (items.length > MAX_BLOCK_EVIDENCE) {
    throw new ChainError(EvidenceErrorCode.INVALID, `a block holds at most ${MAX_BLOCK_EVIDENCE} evidence items, this one ${items.length}`);
  }
  const seen = new Set<string>();
  return items.map((encoded, i) => {
    const evidence = decodeBlockEvidence(encoded, i);
    const hash = evidenceHash(evidence);
    const hex = toHex(hash);
    const h = evidence.voteA.height;
    if (h >= ctx.height) throw refuse(EvidenceErrorCode.INVALID, i, `votes at height ${h} cannot be judged in block ${ctx.height}`);
    if (ctx.height - h > ctx.maxAgeBlocks) {
      throw refuse(EvidenceErrorCode.TOO_OLD, i, `votes at height ${h} are more than ${ctx.maxAgeBlocks} blocks older than block ${ctx.height}`);
    }
    if (seen.has(hex)) throw refuse(EvidenceErrorCode.DUPLICATE, i, `${hex} is listed twice in the block`);
    seen.add(hex);
    const at = ctx.committedAt(hex);
    if (at !== undefined) throw refuse(EvidenceErrorCode.DUPLICATE, i, `${hex} was committed at height ${at}`);
    const set = ctx.setAt(h);
    if (!set) throw refuse(EvidenceErrorCode.INVALID, i, `no validator set is known for height ${h}`);
    try {
      verifyEvidence(ctx.chainId, evidence, set);
    } catch (e) {
      if (e instanceof ConsensusError) throw refuse(EvidenceErrorCode.INVALID, i, e.message, true);
      throw e;
    }
    return { evidence, encoded, hash, validator: evidence.voteA.validator, height: h };
  });
}

/** What checkBlockEvidence reads: ChainStore fits. */
export interface EvidenceStore {
  getEvidenceLocation(hash: Uint8Array): Promise<{ height: number } | undefined>;
}

/**
 * validateBlockEvidence with its context loaded: the set at each evidence
 * height through `setAt` (ValidatorSetsByHeight.at) and the committed-evidence
 * index of `store`. Heights outside what the store can answer leave the set
 * unknown, which the rule refuses.
 */
export async function checkBlockEvidence(
  items: readonly EncodedEvidence[],
  opts: { chainId: string; height: number; maxAgeBlocks: number },
  store: EvidenceStore,
  setAt: (height: number) => Promise<ValidatorSet>,
): Promise<VerifiedEvidence[]> {
  const sets = new Map<number, ValidatorSet>();
  const committed = new Map<string, number>();
  // Load only for items that decode and fit the size bound; the rule reports the rest in order.
  if (items.length <= MAX_BLOCK_EVIDENCE) {
    for (const [i, encoded] of items.entries()) {
      let ev: DuplicateVoteEvidence;
      try {
        ev = decodeBlockEvidence(encoded, i);
      } catch {
        continue;
      }
      const h = ev.voteA.height;
      const hash = evidenceHash(ev);
      const loc = await store.getEvidenceLocation(hash);
      if (loc) committed.set(toHex(hash), loc.height);
      if (h >= 1 && h < opts.height && !sets.has(h)) {
        try {
          sets.set(h, await setAt(h));
        } catch (e) {
          if (!(e instanceof ChainError)) throw e;
        }
      }
    }
  }
  return validateBlockEvidence(items, { ...opts, setAt: (h) => sets.get(h), committedAt: (hex) => committed.get(hex) });
}

/**
 * The pending evidence a proposer may put in block `height`: each item
 * checked alone with the block rule (checkBlockEvidence), so one bad item
 * (forged, too old, already committed) does not keep the others out;
 * duplicates collapse to one; at most MAX_BLOCK_EVIDENCE. Every engine that
 * proposes uses this, so what it includes is what every validator accepts.
 */
export async function includableEvidence(
  pending: readonly EncodedEvidence[],
  opts: { chainId: string; height: number; maxAgeBlocks: number },
  store: EvidenceStore,
  setAt: (height: number) => Promise<ValidatorSet>,
  onLeftOut?: (e: ChainError) => void,
): Promise<VerifiedEvidence[]> {
  const out: VerifiedEvidence[] = [];
  const seen = new Set<string>();
  for (const item of pending) {
    if (out.length >= MAX_BLOCK_EVIDENCE) break;
    try {
      const [ev] = await checkBlockEvidence([item], opts, store, setAt);
      const hex = toHex(ev!.hash);
      if (seen.has(hex)) continue;
      seen.add(hex);
      out.push(ev!);
    } catch (e) {
      if (!(e instanceof ChainError)) throw e;
      onLeftOut?.(e);
    }
  }
  return out;
}

/** A JSON view of evidence for RPC answers: hex bytes, the two votes side by side. */
export function evidenceToJson(ev: DuplicateVoteEvidence): Record<string, unknown> {
  const vote = (v: DuplicateVoteEvidence["voteA"]) => ({
    type: v.type,
    height: v.height,
    round: v.round,
    blockHash: v.blockHash.length === 0 ? null : toHex(v.blockHash),
    validator: toHex(v.validator),
    sig: toHex(v.sig),
  });
  return { kind: "duplicateVote", height: ev.voteA.height, validator: toHex(ev.voteA.validator), voteA: vote(ev.voteA), voteB: vote(ev.voteB) };
}
