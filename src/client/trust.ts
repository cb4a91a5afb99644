/**
 * What a light client trusts: the validator set that may commit the block at
 * a height. It starts from the genesis file (chain id and validators, taken
 * from a source the client trusts, not from the node it asks) and follows
 * the chain's headers from there: every header names the set that signs it
 * (validatorsHash) and the set that signs the next height
 * (nextValidatorsHash), so a set the client trusts vouches for its
 * successor however much power moves (docs/light-client.md).
 *
 * The rules of trust (sequential and skipping, as CometBFT's light client
 * verification) are in chain/light-block.ts; this file keeps the state a
 * light client holds (ValidatorSetTracker), where it reads headers from
 * (RpcLightBlockSource) and the bisection (LightClient).
 */
import { readFileSync } from "node:fs";
import { headerHash, type BlockHeader, type Commit } from "../chain/block.js";
import { genesisHash, parseGenesis } from "../chain/genesis.js";
import { ProofError, ProofErrorCode, parseCommitJson, parseHeaderJson, parseStateProofJson, parseValidatorsJson } from "../chain/proof.js";
import { bytesEqual, toHex } from "../crypto/bytes.js";
import { ValidatorSet, validatorAddress } from "../chain/validator-set.js";
import { powerSigned } from "../chain/vote.js";
import {
  type Anchor,
  DEFAULT_TRUST_LEVEL,
  type LightBlock,
  type TrustLevel,
  type TrustedValidators,
  type VerificationRule,
  checkTrustLevel,
  verifyAdjacent,
  verifySkipping,
} from "../chain/light-block.js";
import type { RpcClient } from "./rpc-client.js";
import { type VerifiedResolution, verifyResolutionProof } from "./verify-proof.js";

/** A block whose header names a new validator set, offered to a tracker. */
export interface ValidatorSetTransition {
  header: BlockHeader;
  /** The commit for `header`. */
  commit: Commit;
  /** The set `header.validatorsHash` names. */
  validators: ValidatorSet;
}

/** A header the client trusts, with the sets it names. */
export interface TrustedHeader {
  header: BlockHeader;
  hash: Uint8Array;
  validators: ValidatorSet;
  nextValidators: ValidatorSet;
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

/** Where a light client gets the headers, commits and sets it checks: a node it does not trust. */
export interface LightBlockSource {
  /** The header at `height` with its commit and both sets it names. */
  lightBlock(height: number): Promise<LightBlock>;
  /** The validator set of `height` (the node's answer; the client checks it against a header). */
  validatorSet(height: number): Promise<ValidatorSet>;
  /**
   * Optional: the client refused `lb`, which this source gave, for a reason
   * other than too little trust (it conflicts with a trusted header, names
   * other sets, or its own set did not sign it). A source over several
   * servers charges the one that sent it and answers the next request for
   * that height from another; with this method present the client asks
   * again (within maxFetches) instead of failing.
   */
  refused?(lb: LightBlock, error: ProofError): void;
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
    return rule === "sequential" ? this.verifySequential(target) : this.verifySkippingWithBisection(target, false);
  }

  /** Fetches and trusts the header at `height` (below the node's head: the head's commit is in no block yet). */
  async verifyHeight(height: number, rule: VerificationRule = "skipping"): Promise<LightVerification> {
    const target = await this.source.lightBlock(height);
    return rule === "sequential" ? this.verifySequential(target) : this.verifySkippingWithBisection(target, true);
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
   *
   * A header the source gave that fails for another reason than too little
   * trust is reported to the source (when it takes reports, `refused`) and
   * fetched again, counted against maxFetches; a target the caller gave
   * (`fetchedTarget` false) is never fetched again.
   */
  private async verifySkippingWithBisection(target: LightBlock, fetchedTarget: boolean): Promise<LightVerification> {
    const pending: LightBlock[] = [target];
    let intermediate = 0;
    let refetched = 0;
    let rule: VerificationRule = "skipping";
    while (pending.length > 0) {
      const lb = pending[pending.length - 1]!;
      try {
        const used = this.tracker.acceptLightBlock(lb);
        pending.pop();
        if (pending.length === 0) rule = used;
        else intermediate++;
      } catch (e) {
        if (!(e instanceof ProofError)) throw e;
        const tooMany = () => intermediate + refetched + pending.length >= this.maxFetches;
        if (e.code !== ProofErrorCode.NOT_ENOUGH_TRUST) {
          if (!this.source.refused || (pending.length === 1 && !fetchedTarget)) throw e;
          this.source.refused(lb, e);
          if (tooMany()) throw new ProofError(ProofErrorCode.BAD_HEADER_CHAIN, `bisection to header ${target.header.height} needed more than ${this.maxFetches} headers (the last refused: ${e.message})`);
          refetched++;
          pending[pending.length - 1] = await this.source.lightBlock(lb.header.height);
          continue;
        }
        if (tooMany()) throw new ProofError(ProofErrorCode.BAD_HEADER_CHAIN, `bisection to header ${target.header.height} needed more than ${this.maxFetches} headers`);
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
