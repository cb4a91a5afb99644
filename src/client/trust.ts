/**
 * What a light client trusts: the validator set that may commit the block at
 * a height. It starts from the genesis file (chain id and validators, taken
 * from a source the client trusts, not from the node it asks) and follows
 * the chain's headers from there: every header names the set that signs it
 * (validatorsHash) and the set that signs the next height
 * (nextValidatorsHash), so a set the client trusts vouches for its
 * successor however much power moves (docs/light-client.md).
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
import { readFileSync } from "node:fs";
import { headerHash, type BlockHeader, type Commit } from "../chain/block.js";
import { genesisHash, parseGenesis } from "../chain/genesis.js";
import { ProofError, ProofErrorCode, parseCommitJson, parseHeaderJson, parseStateProofJson, parseValidatorsJson } from "../chain/proof.js";
import { bytesEqual, toHex } from "../crypto/bytes.js";
import { verifyDigest } from "../crypto/secp256k1.js";
import { ValidatorSet, validatorAddress } from "../consensus/validators.js";
import { VoteStep, voteSigningDigest } from "../consensus/vote.js";
import type { RpcClient } from "./rpc-client.js";
import { type VerifiedResolution, verifyResolutionProof } from "./verify-proof.js";

export interface TrustedValidators {
  /** The chain the sets belong to: a proof of another chain is refused. */
  readonly chainId: string;
  /** The set trusted to commit the block at `height`, or undefined when this client has no trusted set for it. */
  setFor(height: number): ValidatorSet | undefined;
}

/** A block whose header names a new validator set, offered to a tracker. */
export interface ValidatorSetTransition {
  header: BlockHeader;
  /** The commit for `header`. */
  commit: Commit;
  /** The set `header.validatorsHash` names. */
  validators: ValidatorSet;
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

/** A header the client trusts, with the sets it names. */
export interface TrustedHeader {
  header: BlockHeader;
  hash: Uint8Array;
  validators: ValidatorSet;
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
interface Anchor {
  height: number;
  /** Block time in ms; -1 for genesis (any block time follows it). */
  time: number;
  /** The hash the next header's prevHash must be, when known (the genesis hash when the tracker was made from a genesis file). */
  hash: Uint8Array | undefined;
  nextValidators: ValidatorSet;
}

function checkTrustLevel(t: TrustLevel): TrustLevel {
  const { numerator: n, denominator: d } = t;
  // Below 1/3 a trusted set's signers could all be faulty; above 1 nothing would ever be skipped to.
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(d) || n < 1 || d < 1 || 3 * n < d || n > d) {
    throw new TypeError(`trust level must be a fraction from 1/3 to 1, got ${n}/${d}`);
  }
  return Object.freeze({ numerator: n, denominator: d });
}

/**
 * Trusted validator sets and headers by height. Starts with the genesis set
 * for every height from 1; with nothing more accepted it is the
 * genesis-only light client of a chain whose set never changes.
 *
 * acceptLightBlock trusts a header by the sequential or the skipping rule
 * (module comment) from the highest trusted header below it (or genesis).
 * From then on setFor answers the header's set at its height and its next
 * set at the height after. At a height no trusted header speaks for, setFor
 * answers the latest set known below it, as the genesis-only client does.
 *
 * acceptTransition is the older, stricter rule for a header offered without
 * its predecessor's nextValidatorsHash: more than 2/3 of the power of the
 * new set S' AND of the set trusted at its height so far must have signed
 * its commit. acceptLightBlock, which reads the predecessor's
 * nextValidatorsHash instead, follows changes of any size.
 */
export class ValidatorSetTracker implements TrustedValidators {
  /** Eras in ascending `fromHeight`; the first starts at height 1. */
  private readonly eras: Array<{ fromHeight: number; set: ValidatorSet }>;
  /** Trusted headers in ascending height. */
  private readonly headers: TrustedHeader[] = [];
  readonly trustLevel: TrustLevel;
  /** Hash of the genesis file, the prevHash of block 1, when known. */
  readonly genesisHash: Uint8Array | undefined;

  constructor(
    readonly chainId: string,
    private readonly genesisSet: ValidatorSet,
    opts: { trustLevel?: TrustLevel; genesisHash?: Uint8Array } = {},
  ) {
    if (typeof chainId !== "string" || chainId === "") throw new TypeError("expected a chain id");
    if (!(genesisSet instanceof ValidatorSet) || genesisSet.validators.length === 0) throw new TypeError("expected a non-empty genesis ValidatorSet");
    this.eras = [{ fromHeight: 1, set: genesisSet }];
    this.trustLevel = checkTrustLevel(opts.trustLevel ?? DEFAULT_TRUST_LEVEL);
    this.genesisHash = opts.genesisHash;
  }

  /** From a genesis file's parsed JSON (checked as the node checks it). */
  static fromGenesis(genesis: unknown, opts: { trustLevel?: TrustLevel } = {}): ValidatorSetTracker {
    const g = parseGenesis(genesis);
    return new ValidatorSetTracker(g.chainId, ValidatorSet.fromGenesis(g.validators), { ...opts, genesisHash: genesisHash(g) });
  }

  /** From a genesis file, such as a node's `<home>/config/genesis.json`. */
  static fromGenesisFile(path: string, opts: { trustLevel?: TrustLevel } = {}): ValidatorSetTracker {
    return ValidatorSetTracker.fromGenesis(JSON.parse(readFileSync(path, "utf8")), opts);
  }

  setFor(height: number): ValidatorSet | undefined {
    if (!Number.isSafeInteger(height) || height < 1) return undefined;
    // The latest word below or at `height`: an era's start, a trusted header's own set, or its next set one height on.
    let best: { from: number; set: ValidatorSet } | undefined;
    for (let i = this.eras.length - 1; i >= 0; i--) {
      if (this.eras[i]!.fromHeight <= height) {
        best = { from: this.eras[i]!.fromHeight, set: this.eras[i]!.set };
        break;
      }
    }
    const t = this.trustedBelow(height + 1);
    if (t) {
      const h = t.header.height;
      const fromHeader = h === height ? { from: h, set: t.validators } : { from: h + 1, set: t.nextValidators };
      if (!best || fromHeader.from >= best.from) best = fromHeader;
    }
    return best?.set;
  }

  /** Height of the latest accepted transition (1 when only genesis is known). */
  get latestHeight(): number {
    return this.eras[this.eras.length - 1]!.fromHeight;
  }

  /** The highest trusted header, or undefined when only genesis is trusted. */
  get latestTrusted(): TrustedHeader | undefined {
    return this.headers[this.headers.length - 1];
  }

  /** The trusted header at `height`, if any. */
  trustedAt(height: number): TrustedHeader | undefined {
    const t = this.trustedBelow(height + 1);
    return t && t.header.height === height ? t : undefined;
  }

  /** The highest trusted header below `height`. */
  private trustedBelow(height: number): TrustedHeader | undefined {
    let lo = 0;
    let hi = this.headers.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.headers[mid]!.header.height < height) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? this.headers[lo - 1] : undefined;
  }

  /** Where verifying a header at `height` starts: the highest trusted header below it, else genesis. */
  anchorBelow(height: number): { height: number; nextValidators: ValidatorSet } {
    return this.anchor(height);
  }

  private anchor(height: number): Anchor {
    const t = this.trustedBelow(height);
    if (t) return { height: t.header.height, time: t.header.time, hash: t.hash, nextValidators: t.nextValidators };
    return { height: 0, time: -1, hash: this.genesisHash, nextValidators: this.genesisSet };
  }

  /**
   * Trusts `lb.header` from the highest trusted header below it: by the
   * sequential rule when that header is its predecessor, else by the
   * skipping rule (or, with `rule: "sequential"`, refuses to skip). Returns
   * the rule used; a header already trusted is accepted again without
   * checks. Throws a ProofError naming the failed check; NOT_ENOUGH_TRUST
   * says a header halfway would have to be trusted first (bisection).
   */
  acceptLightBlock(lb: LightBlock, opts: { rule?: VerificationRule } = {}): VerificationRule {
    const h = lb.header.height;
    if (!Number.isSafeInteger(h) || h < 1) throw new ProofError(ProofErrorCode.BAD_HEADER_CHAIN, `height ${h} is not a block height`);
    const known = this.trustedAt(h);
    if (known) {
      if (!bytesEqual(headerHash(lb.header), known.hash)) {
        throw new ProofError(ProofErrorCode.BAD_HEADER_CHAIN, `header ${h} conflicts with the trusted header ${toHex(known.hash)} of that height`);
      }
      return h === this.anchor(h).height + 1 ? "sequential" : "skipping";
    }
    const anchor = this.anchor(h);
    const adjacent = h === anchor.height + 1;
    if (!adjacent && opts.rule === "sequential") {
      throw new ProofError(ProofErrorCode.BAD_HEADER_CHAIN, `sequential verification of header ${h} needs header ${h - 1} trusted first (the latest below is ${anchor.height})`);
    }
    const hash = adjacent ? verifyAdjacent(this.chainId, anchor, lb) : verifySkipping(this.chainId, anchor, lb, this.trustLevel);
    const i = this.headers.findIndex((t) => t.header.height > h);
    const trusted: TrustedHeader = { header: lb.header, hash, validators: lb.validators, nextValidators: lb.nextValidators };
    if (i < 0) this.headers.push(trusted);
    else this.headers.splice(i, 0, trusted);
    return adjacent ? "sequential" : "skipping";
  }

  /**
   * Follows a validator-set change by the stricter two-thirds-of-both rule
   * (class comment). Returns false when the header names the set already
   * trusted there (nothing to follow), true when the new set was accepted;
   * throws a ProofError naming the failed check otherwise.
   */
  acceptTransition(t: ValidatorSetTransition): boolean {
    const { header, commit, validators } = t;
    if (header.chainId !== this.chainId) {
      throw new ProofError(ProofErrorCode.WRONG_CHAIN, `transition header is of chain ${header.chainId}, not ${this.chainId}`);
    }
    if (!bytesEqual(headerHash(header), commit.blockHash)) throw new ProofError(ProofErrorCode.HEADER_MISMATCH, "transition commit does not sign this header");
    if (commit.height !== header.height) throw new ProofError(ProofErrorCode.HEIGHT_MISMATCH, `transition commit is for height ${commit.height}, header is ${header.height}`);
    if (!bytesEqual(validators.hash, header.validatorsHash)) throw new ProofError(ProofErrorCode.VALIDATORS_MISMATCH, "transition set is not the one the header names");
    const old = this.setFor(header.height);
    if (!old) throw new ProofError(ProofErrorCode.BAD_TRANSITION, `no trusted set at height ${header.height}`);
    if (bytesEqual(old.hash, validators.hash)) return false;
    if (header.height <= this.latestHeight) {
      throw new ProofError(ProofErrorCode.BAD_TRANSITION, `transitions are followed forwards: height ${header.height} is not after ${this.latestHeight}`);
    }
    const signedNew = powerSigned(this.chainId, commit, validators);
    if (signedNew < validators.quorum()) {
      throw new ProofError(ProofErrorCode.BAD_COMMIT, `the new set signed ${signedNew} of ${validators.totalPower} power; more than 2/3 (${validators.quorum()}) is needed`);
    }
    const signed = powerSigned(this.chainId, commit, old);
    if (signed < old.quorum()) {
      throw new ProofError(ProofErrorCode.BAD_TRANSITION, `the trusted set signed ${signed} of ${old.totalPower} power for the new set ${toHex(validators.hash)}; more than 2/3 (${old.quorum()}) is needed`);
    }
    this.eras.push({ fromHeight: header.height, set: validators });
    return true;
  }
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

/** Where a light client gets the headers, commits and sets it checks: a node it does not trust. */
export interface LightBlockSource {
  /** The header at `height` with its commit and both sets it names. */
  lightBlock(height: number): Promise<LightBlock>;
  /** The validator set of `height` (the node's answer; the client checks it against a header). */
  validatorSet(height: number): Promise<ValidatorSet>;
}

function setFromProofValidators(list: ReturnType<typeof parseValidatorsJson>): ValidatorSet {
  return new ValidatorSet(list.map((v, i) => ({ name: `validator-${i}`, address: validatorAddress(v.publicKey), publicKey: v.publicKey, power: v.power })));
}

/**
 * A LightBlockSource over a node's JSON-RPC: `block_get` H (the header),
 * `block_get` H + 1 (its lastCommit is the commit of H), `validators_get` H
 * and H + 1. Nothing the node says is trusted: every answer is parsed
 * strictly and then checked against hashes by the tracker. The head's
 * commit is not in any block yet; a proof carries it instead.
 */
export class RpcLightBlockSource implements LightBlockSource {
  /** RPC calls made, for the caller's figures. */
  calls = 0;
  constructor(private readonly rpc: Pick<RpcClient, "call">) {}

  private call<T>(method: string, params: Record<string, unknown>): Promise<T> {
    this.calls++;
    return this.rpc.call<T>(method, params);
  }

  async validatorSet(height: number): Promise<ValidatorSet> {
    const r = await this.call<{ validators?: Array<{ publicKey?: unknown; power?: unknown }> }>("validators_get", { height });
    const list = Array.isArray(r?.validators) ? r.validators.map((v) => ({ publicKey: v?.publicKey, power: v?.power })) : r?.validators;
    return setFromProofValidators(parseValidatorsJson(list));
  }

  async lightBlock(height: number): Promise<LightBlock> {
    const [block, next, validators, nextValidators] = await Promise.all([
      this.call<{ header?: Record<string, unknown> }>("block_get", { height }),
      this.call<{ lastCommit?: unknown }>("block_get", { height: height + 1 }),
      this.validatorSet(height),
      this.validatorSet(height + 1),
    ]);
    const hj = block?.header;
    // block_get shows the time as ISO 8601; the header hashes it as ms since the epoch.
    const time = typeof hj?.time === "string" ? Date.parse(hj.time) : NaN;
    const header = parseHeaderJson(hj && { ...hj, time: Number.isFinite(time) ? time : hj.time });
    const commit = parseCommitJson(next?.lastCommit);
    if (header.height !== height) throw new ProofError(ProofErrorCode.HEIGHT_MISMATCH, `asked for header ${height}, the node sent ${header.height}`);
    return { header, commit, validators, nextValidators };
  }
}

/** What a verification did: the rule for the target, and how many headers were trusted on the way. */
export interface LightVerification {
  height: number;
  rule: VerificationRule;
  /** Headers trusted before the target (bisection pivots, or every height between for sequential). */
  intermediate: number;
}

/**
 * The light client: a tracker plus a source. verifyTo trusts a header by
 * skipping (with bisection when the trust level is not met) or strictly
 * sequentially; resolveVerified does that for the header of a proven
 * did_resolve answer and then checks the proof against it.
 */
export class LightClient {
  /** Most headers fetched for one verification: a bound on what a lying source can make the client do. */
  readonly maxFetches: number;

  constructor(
    readonly tracker: ValidatorSetTracker,
    readonly source: LightBlockSource,
    opts: { maxFetches?: number } = {},
  ) {
    this.maxFetches = opts.maxFetches ?? 10_000;
  }

  get chainId(): string {
    return this.tracker.chainId;
  }

  /** Trusts `target` (fetched, or carried by a proof) by the rule asked for; the chain is followed from the highest trusted header below it. */
  async verifyTo(target: LightBlock, rule: VerificationRule = "skipping"): Promise<LightVerification> {
    return rule === "sequential" ? this.verifySequential(target) : this.verifySkippingWithBisection(target);
  }

  /** Fetches and trusts the header at `height` (below the node's head: the head's commit is in no block yet). */
  async verifyHeight(height: number, rule: VerificationRule = "skipping"): Promise<LightVerification> {
    return this.verifyTo(await this.source.lightBlock(height), rule);
  }

  private async verifySequential(target: LightBlock): Promise<LightVerification> {
    const h = target.header.height;
    let intermediate = 0;
    for (let at = this.tracker.anchorBelow(h).height + 1; at < h; at++) {
      if (intermediate >= this.maxFetches) throw new ProofError(ProofErrorCode.BAD_HEADER_CHAIN, `more than ${this.maxFetches} headers between the trusted one and ${h}`);
      this.tracker.acceptLightBlock(await this.source.lightBlock(at), { rule: "sequential" });
      intermediate++;
    }
    this.tracker.acceptLightBlock(target, { rule: "sequential" });
    return { height: h, rule: "sequential", intermediate };
  }

  /**
   * Skipping verification with bisection: try the target from the highest
   * trusted header below it; when the trusted set did not sign enough of it,
   * fetch the header halfway, trust that first (by the same procedure), and
   * try again. Each pivot lies strictly between the anchor and the header
   * being tried, and an adjacent header is checked by the sequential rule,
   * which never asks for a pivot, so this ends.
   */
  private async verifySkippingWithBisection(target: LightBlock): Promise<LightVerification> {
    const pending: LightBlock[] = [target];
    let intermediate = 0;
    let rule: VerificationRule = "skipping";
    while (pending.length > 0) {
      const lb = pending[pending.length - 1]!;
      try {
        const used = this.tracker.acceptLightBlock(lb);
        pending.pop();
        if (pending.length === 0) rule = used;
        else intermediate++;
      } catch (e) {
        if (!(e instanceof ProofError) || e.code !== ProofErrorCode.NOT_ENOUGH_TRUST) throw e;
        if (intermediate + pending.length >= this.maxFetches) throw new ProofError(ProofErrorCode.BAD_HEADER_CHAIN, `bisection to header ${target.header.height} needed more than ${this.maxFetches} headers`);
        const from = this.tracker.anchorBelow(lb.header.height).height;
        const pivot = Math.floor((from + lb.header.height) / 2);
        pending.push(await this.source.lightBlock(pivot));
      }
    }
    return { height: target.header.height, rule, intermediate };
  }

  /**
   * A did_resolve answer with proof (sid-proof/v1), trusted only when its
   * header is reached from the trusted headers by `rule` and the proof then
   * holds (verifyResolutionProof). The set that signs the next height is
   * fetched from the source and checked against the header.
   */
  async verifyResolution(answer: unknown, did: string, rule: VerificationRule = "skipping"): Promise<VerifiedResolution & { light: LightVerification }> {
    const proof = (answer as { proof?: unknown } | null)?.proof;
    if (proof === undefined) throw new ProofError(ProofErrorCode.MISSING, "the answer carries no proof (ask did_resolve with proof: true)");
    const p = parseStateProofJson(proof);
    const lb: LightBlock = { header: p.header, commit: p.commit, validators: setFromProofValidators(p.validators), nextValidators: await this.source.validatorSet(p.header.height + 1) };
    const light = await this.verifyTo(lb, rule);
    return { ...verifyResolutionProof(answer, { did, chainId: this.chainId, trusted: this.tracker }), light };
  }

  /** did_resolve with proof through `rpc`, verified as verifyResolution does. */
  async resolveVerified(rpc: Pick<RpcClient, "call">, did: string, rule: VerificationRule = "skipping"): Promise<VerifiedResolution & { light: LightVerification }> {
    const answer = await rpc.call<unknown>("did_resolve", { did, proof: true });
    return this.verifyResolution(answer, did, rule);
  }
}

/**
 * Power of `set` members with a valid precommit signature in `commit`, each
 * member counted once. Signatures of non-members are ignored (they may be
 * members of a new set); an invalid one from a member counts nothing.
 */
export function powerSigned(chainId: string, commit: Commit, set: ValidatorSet): number {
  const digest = voteSigningDigest({ chainId, height: commit.height, round: commit.round, step: VoteStep.Precommit, blockHash: commit.blockHash });
  const counted = new Set<string>();
  let power = 0;
  for (const s of commit.sigs) {
    const v = set.byAddress(s.validator);
    const key = toHex(s.validator);
    if (!v || counted.has(key) || !verifyDigest(s.sig, digest, v.publicKey)) continue;
    counted.add(key);
    power += v.power;
  }
  return power;
}
