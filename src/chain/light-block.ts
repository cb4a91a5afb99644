/**
 * The light-client rules of trust, pure: whether a signed header is trusted
 * from a header already trusted. A light client (client/trust.ts) and state
 * sync (p2p/snapshot-sync.ts) both check headers by them.
 *
 * Two rules, as CometBFT's light client verification:
 *  - sequential: a header at height H+1 is trusted when its validatorsHash is
 *    the trusted header H's nextValidatorsHash and valid precommits of that
 *    set carry more than 2/3 of its power;
 *  - skipping: a header at a later height is trusted when valid precommits
 *    in its commit carry more than the trust level (default 1/3) of the power
 *    of the set a trusted header names as next, and more than 2/3 of the
 *    power of the header's own set. When the first part fails, LightClient
 *    bisects: it trusts a header halfway first and tries again from there.
 */
import { headerHash, type BlockHeader, type Commit } from "./block.js";
import { ProofError, ProofErrorCode } from "./proof.js";
import { bytesEqual, toHex } from "../crypto/bytes.js";
import type { ValidatorSet } from "./validator-set.js";
import { powerSigned } from "./vote.js";

export interface TrustedValidators {
  /** The chain the sets belong to: a proof of another chain is refused. */
  readonly chainId: string;
  /** The set trusted to commit the block at `height`, or undefined when this client has no trusted set for it. */
  setFor(height: number): ValidatorSet | undefined;
}

/** A signed header with both sets it names: what a light client checks before trusting a header. */
export interface LightBlock {
  header: BlockHeader;
  /** The commit for `header` (precommits of height `header.height`). */
  commit: Commit;
  /** The set `header.validatorsHash` names. */
  validators: ValidatorSet;
  /** The set `header.nextValidatorsHash` names. */
  nextValidators: ValidatorSet;
}

/** The fraction of a trusted set's power that must sign a header skipped to: more than numerator/denominator. */
export interface TrustLevel {
  numerator: number;
  denominator: number;
}

/** CometBFT's default: more than 1/3 of the trusted power includes at least one correct validator if fewer than 1/3 are faulty. */
export const DEFAULT_TRUST_LEVEL: TrustLevel = Object.freeze({ numerator: 1, denominator: 3 });

/** Which rule trusted a header. */
export type VerificationRule = "sequential" | "skipping";

/** Where verification starts: a trusted header, or genesis (height 0, whose "next" set is the genesis set). */
export interface Anchor {
  height: number;
  /** Block time in ms; -1 for genesis (any block time follows it). */
  time: number;
  /** The hash the next header's prevHash must be, when known (the genesis hash when the tracker was made from a genesis file). */
  hash: Uint8Array | undefined;
  nextValidators: ValidatorSet;
}

/** `t` if it is a fraction from 1/3 to 1 (frozen); a TypeError otherwise. */
export function checkTrustLevel(t: TrustLevel): TrustLevel {
  const { numerator: n, denominator: d } = t;
  // Below 1/3 a trusted set's signers could all be faulty; above 1 nothing would ever be skipped to.
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(d) || n < 1 || d < 1 || 3 * n < d || n > d) {
    throw new TypeError(`trust level must be a fraction from 1/3 to 1, got ${n}/${d}`);
  }
  return Object.freeze({ numerator: n, denominator: d });
}

/**
 * The checks every trusted header passes whatever the rule: its chain, the
 * commit names it at its height, both listed sets are the ones it names, it
 * follows the anchor in height and time. Hashes only; no signature yet.
 */
function checkLightBlockShape(chainId: string, anchor: Anchor, lb: LightBlock): Uint8Array {
  const { header, commit } = lb;
  if (header.chainId !== chainId) throw new ProofError(ProofErrorCode.WRONG_CHAIN, `header ${header.height} is of chain ${header.chainId}, not ${chainId}`);
  const hash = headerHash(header);
  if (!bytesEqual(hash, commit.blockHash)) throw new ProofError(ProofErrorCode.HEADER_MISMATCH, `the commit signs ${toHex(commit.blockHash)}, header ${header.height} hashes to ${toHex(hash)}`);
  if (commit.height !== header.height) throw new ProofError(ProofErrorCode.HEIGHT_MISMATCH, `the commit is for height ${commit.height}, the header is ${header.height}`);
  if (!bytesEqual(lb.validators.hash, header.validatorsHash)) throw new ProofError(ProofErrorCode.VALIDATORS_MISMATCH, `the set offered for header ${header.height} is not the one it names`);
  if (!bytesEqual(lb.nextValidators.hash, header.nextValidatorsHash)) {
    throw new ProofError(ProofErrorCode.NEXT_VALIDATORS_MISMATCH, `the set offered as next for header ${header.height} does not hash to its nextValidatorsHash ${toHex(header.nextValidatorsHash)}`);
  }
  if (header.height <= anchor.height) throw new ProofError(ProofErrorCode.BAD_HEADER_CHAIN, `header ${header.height} is not after the trusted height ${anchor.height}`);
  if (!(header.time > anchor.time)) throw new ProofError(ProofErrorCode.BAD_HEADER_CHAIN, `header ${header.height} time ${header.time} is not after the trusted header's ${anchor.time}`);
  return hash;
}

/** More than 2/3 of the header's own set signed its commit. */
function checkOwnQuorum(chainId: string, lb: LightBlock): void {
  const signed = powerSigned(chainId, lb.commit, lb.validators);
  if (signed < lb.validators.quorum()) {
    throw new ProofError(
      ProofErrorCode.BAD_COMMIT,
      `header ${lb.header.height}: its set signed ${signed} of ${lb.validators.totalPower} power; more than 2/3 (${lb.validators.quorum()}) is needed`,
    );
  }
}

/**
 * Sequential rule: `lb` is the anchor's successor, names the set the
 * anchor named as next, links to it by prevHash (when the anchor's hash is
 * known), and more than 2/3 of that set signed it. Returns its hash.
 */
export function verifyAdjacent(chainId: string, anchor: { height: number; time: number; hash?: Uint8Array | undefined; nextValidators: ValidatorSet }, lb: LightBlock): Uint8Array {
  const a: Anchor = { height: anchor.height, time: anchor.time, hash: anchor.hash, nextValidators: anchor.nextValidators };
  const hash = checkLightBlockShape(chainId, a, lb);
  const h = lb.header;
  if (h.height !== a.height + 1) throw new ProofError(ProofErrorCode.BAD_HEADER_CHAIN, `header ${h.height} does not follow the trusted height ${a.height}`);
  if (a.hash && !bytesEqual(h.prevHash, a.hash)) throw new ProofError(ProofErrorCode.BAD_HEADER_CHAIN, `header ${h.height} prevHash ${toHex(h.prevHash)} is not the trusted ${toHex(a.hash)}`);
  if (!bytesEqual(h.validatorsHash, a.nextValidators.hash)) {
    throw new ProofError(
      ProofErrorCode.UNTRUSTED_VALIDATORS,
      `header ${h.height} names validators ${toHex(h.validatorsHash)}, the trusted header named ${toHex(a.nextValidators.hash)} as next`,
    );
  }
  checkOwnQuorum(chainId, lb);
  return hash;
}

/**
 * Skipping rule: valid precommits for `lb` carry more than `level` of the
 * power of the set the anchor names as next (NOT_ENOUGH_TRUST otherwise),
 * and more than 2/3 of the power of `lb`'s own set (BAD_COMMIT). Returns its
 * hash.
 */
export function verifySkipping(chainId: string, anchor: { height: number; time: number; nextValidators: ValidatorSet }, lb: LightBlock, level: TrustLevel = DEFAULT_TRUST_LEVEL): Uint8Array {
  const a: Anchor = { height: anchor.height, time: anchor.time, hash: undefined, nextValidators: anchor.nextValidators };
  const hash = checkLightBlockShape(chainId, a, lb);
  const trusted = a.nextValidators;
  const signed = powerSigned(chainId, lb.commit, trusted);
  if (signed * level.denominator <= trusted.totalPower * level.numerator) {
    throw new ProofError(
      ProofErrorCode.NOT_ENOUGH_TRUST,
      `header ${lb.header.height}: the set trusted after height ${a.height} signed ${signed} of ${trusted.totalPower} power; more than ${level.numerator}/${level.denominator} is needed to skip`,
    );
  }
  checkOwnQuorum(chainId, lb);
  return hash;
}
