/**
 * The light client's two rules on a chain of real signed headers whose
 * validator set changes by more than 1/3 of the power at a time: sequential
 * verification (the trusted header's nextValidatorsHash names the next set)
 * and skipping verification (more than the trust level of a trusted set's
 * power, more than 2/3 of the new set's), with bisection when a skip is not
 * vouched for; and what each refuses: forged commits, a wrong next set, a
 * set nobody trusted vouched for, a header that conflicts or does not link.
 */
import { expect } from "chai";
import { type BlockHeader, type Commit, ZERO_HASH, headerHash } from "../../../src/chain/block.js";
import { ProofError, ProofErrorCode } from "../../../src/chain/proof.js";
import { sha256 } from "../../../src/crypto/hash.js";
import type { KeyPair } from "../../../src/crypto/hd.js";
import { signDigest } from "../../../src/crypto/secp256k1.js";
import { ValidatorSet, validatorAddress } from "../../../src/chain/validator-set.js";
import { VoteStep, voteSigningDigest } from "../../../src/chain/vote.js";
import { type LightBlockSource, LightClient, ValidatorSetTracker } from "../../../src/client/trust.js";
import { type LightBlock, verifySkipping } from "../../../src/chain/light-block.js";
import { CHAIN_ID, fixedKey, hex } from "../../helpers/fixtures.js";

const A = [0x11, 0x12, 0x13, 0x14].map(fixedKey);
const B = [0x21, 0x22, 0x23].map(fixedKey);
const C = [0x31, 0x32, 0x33, 0x34].map(fixedKey);
const OUT = [0x41, 0x42, 0x43, 0x44].map(fixedKey);
const GENESIS_HASH = sha256(new TextEncoder().encode("light-client genesis"));

const setOf = (entries: Array<[KeyPair, number]>) => ValidatorSet.fromGenesis(entries.map(([k, power], i) => ({ name: `v${i}`, publicKey: hex(k.publicKey), power })));
/** Genesis: four of power 10. */
const SET_A = setOf(A.map((k) => [k, 10]));
/** From height 5: half of A's power stays (A0, A1), three new validators join; A2, A3 leave. */
const SET_B = setOf([[A[0]!, 10], [A[1]!, 10], [B[0]!, 10], [B[1]!, 10], [B[2]!, 10]]);
/** From height 9: A1 re-weighed to 40, B stays, A0 leaves, C joins: nothing of A but A1. */
const SET_C = setOf([[A[1]!, 40], [B[0]!, 10], [C[0]!, 10], [C[1]!, 10], [C[2]!, 10], [C[3]!, 10]]);
const SET_OUT = setOf(OUT.map((k) => [k, 10]));
const KEYS = new Map([...A, ...B, ...C, ...OUT].map((k) => [hex(validatorAddress(k.publicKey)), k]));

function signCommit(h: BlockHeader, signers: readonly KeyPair[], chainId = h.chainId): Commit {
  const blockHash = headerHash(h);
  const digest = voteSigningDigest({ chainId, height: h.height, round: 0, step: VoteStep.Precommit, blockHash });
  return { height: h.height, round: 0, blockHash, sigs: signers.map((k) => ({ validator: validatorAddress(k.publicKey), sig: signDigest(digest, k.secretKey) })) };
}

const keysOf = (set: ValidatorSet) => set.validators.map((v) => KEYS.get(hex(v.address))!);

/** Headers 1..n linked from GENESIS_HASH, `setAt(h)` signing each (every member, unless `signers` says otherwise). */
function buildChain(n: number, setAt: (h: number) => ValidatorSet, signers: (h: number, set: ValidatorSet) => KeyPair[] = (_h, s) => keysOf(s)): LightBlock[] {
  const out: LightBlock[] = [];
  let prevHash = GENESIS_HASH;
  for (let height = 1; height <= n; height++) {
    const validators = setAt(height);
    const nextValidators = setAt(height + 1);
    const header: BlockHeader = {
      chainId: CHAIN_ID,
      height,
      time: 1_767_225_600_000 + height * 1000,
      prevHash,
      txRoot: ZERO_HASH,
      evidenceHash: ZERO_HASH,
      stateRoot: new Uint8Array(32).fill(height),
      validatorsHash: validators.hash,
      nextValidatorsHash: nextValidators.hash,
      proposer: validators.validators[0]!.address,
      lastCommitHash: ZERO_HASH,
    };
    out.push({ header, commit: signCommit(header, signers(height, validators)), validators, nextValidators });
    prevHash = headerHash(header);
  }
  return out;
}

const scheduled = (h: number) => (h < 5 ? SET_A : h < 9 ? SET_B : SET_C);
const CHAIN = buildChain(14, scheduled);
const at = (h: number) => CHAIN[h - 1]!;

class MemorySource implements LightBlockSource {
  fetched: number[] = [];
  constructor(private readonly blocks: readonly LightBlock[]) {}
  async lightBlock(height: number): Promise<LightBlock> {
    this.fetched.push(height);
    const b = this.blocks[height - 1];
    if (!b) throw new Error(`no block ${height}`);
    return b;
  }
  async validatorSet(height: number): Promise<ValidatorSet> {
    return this.blocks[height - 1]?.validators ?? this.blocks[this.blocks.length - 1]!.nextValidators;
  }
}

const tracker = (opts: { trustLevel?: { numerator: number; denominator: number } } = {}) => new ValidatorSetTracker(CHAIN_ID, SET_A, { genesisHash: GENESIS_HASH, ...opts });

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ProofError);
    return (e as ProofError).code;
  }
  return undefined;
}

async function asyncCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(ProofError);
    return (e as ProofError).code;
  }
  return undefined;
}

describe("client/trust: light client over headers that name the next validator set", function () {
  this.timeout(20_000);

  it("the fixture moves more than 1/3 of the power at each change, so the two-thirds-of-both rule cannot follow it", () => {
    // A's members (A0, A1) hold 20 of A's 40 in SET_B's commit at 5: not more than 2/3.
    const t = tracker();
    expect(code(() => t.acceptTransition({ header: at(5).header, commit: at(5).commit, validators: SET_B }))).to.equal(ProofErrorCode.BAD_TRANSITION);
  });

  it("sequential: each header's set is the one its predecessor named as next; follows both changes from genesis", async () => {
    const t = tracker();
    const src = new MemorySource(CHAIN);
    const r = await new LightClient(t, src).verifyTo(at(14), "sequential");
    expect(r).to.deep.equal({ height: 14, rule: "sequential", intermediate: 13 });
    expect(src.fetched).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    for (let h = 1; h <= 15; h++) expect(hex(t.setFor(h)!.hash), `set at ${h}`).to.equal(hex(scheduled(h).hash));
    expect(t.latestTrusted!.header.height).to.equal(14);
  });

  it("skipping: a header whose commit holds more than 1/3 of the trusted next set's power is trusted directly, across a change of half the power", () => {
    const t = tracker();
    // At 7 (SET_B), A0 and A1 sign: 20 of genesis A's 40 > 1/3; and SET_B signs all of its own power.
    expect(t.acceptLightBlock(at(7))).to.equal("skipping");
    expect(hex(t.setFor(7)!.hash)).to.equal(hex(SET_B.hash));
    expect(hex(t.setFor(8)!.hash)).to.equal(hex(SET_B.hash));
    expect(t.trustedAt(6)).to.equal(undefined);
  });

  it("the trust level is configurable: at 2/3, half of the trusted power no longer vouches for a skip", () => {
    expect(code(() => tracker({ trustLevel: { numerator: 2, denominator: 3 } }).acceptLightBlock(at(7)))).to.equal(ProofErrorCode.NOT_ENOUGH_TRUST);
    expect(() => tracker({ trustLevel: { numerator: 1, denominator: 4 } })).to.throw(TypeError, /1\/3 to 1/);
    expect(() => tracker({ trustLevel: { numerator: 4, denominator: 3 } })).to.throw(TypeError);
  });

  it("bisection: a skip the trusted set does not vouch for is reached through headers halfway", async () => {
    const t = tracker();
    // Genesis A holds only A1's 10 of 40 in SET_C's commit at 14: not more than 1/3.
    expect(code(() => verifySkipping(CHAIN_ID, { height: 0, time: -1, nextValidators: SET_A }, at(14)))).to.equal(ProofErrorCode.NOT_ENOUGH_TRUST);
    const src = new MemorySource(CHAIN);
    const r = await new LightClient(t, src).verifyTo(at(14));
    expect(r.rule).to.equal("skipping");
    expect(r.intermediate).to.be.greaterThan(0).and.lessThan(13);
    expect(src.fetched.length).to.equal(r.intermediate);
    // Every pivot is halfway between the anchor it was tried from and the header it serves.
    expect(src.fetched[0]).to.equal(7);
    for (let h = 1; h <= 15; h++) if (t.trustedAt(h) || t.trustedAt(h - 1)) expect(hex(t.setFor(h)!.hash), `set at ${h}`).to.equal(hex(scheduled(h).hash));
  });

  it("forged commits: a member's signature over another block, another chain, or too few signers are refused", () => {
    const forgedSig = (lb: LightBlock): LightBlock => {
      const other = signCommit({ ...lb.header, stateRoot: new Uint8Array(32).fill(0xee) }, keysOf(lb.validators));
      return { ...lb, commit: { ...lb.commit, sigs: other.sigs } };
    };
    expect(code(() => tracker().acceptLightBlock(forgedSig(at(1))))).to.equal(ProofErrorCode.BAD_COMMIT);
    expect(code(() => tracker().acceptLightBlock(forgedSig(at(7))))).to.equal(ProofErrorCode.NOT_ENOUGH_TRUST);
    const otherChain = { ...at(1), commit: signCommit(at(1).header, A, "sid-other") };
    expect(code(() => tracker().acceptLightBlock(otherChain))).to.equal(ProofErrorCode.BAD_COMMIT);
    // Two of four: 20 of 40 is not more than 2/3.
    const few = { ...at(1), commit: signCommit(at(1).header, A.slice(0, 2)) };
    expect(code(() => tracker().acceptLightBlock(few))).to.equal(ProofErrorCode.BAD_COMMIT);
    // Enough of the trusted set to skip (A0, A1 = 1/2) but not 2/3 of the header's own set (20 of 50).
    const thin = { ...at(7), commit: signCommit(at(7).header, [A[0]!, A[1]!]) };
    expect(code(() => tracker().acceptLightBlock(thin))).to.equal(ProofErrorCode.BAD_COMMIT);
    // A commit for another header (same height) does not sign this one.
    const swapped = { ...at(2), commit: signCommit({ ...at(2).header, time: at(2).header.time + 1 }, A) };
    expect(code(() => { const t = tracker(); t.acceptLightBlock(at(1)); t.acceptLightBlock(swapped); })).to.equal(ProofErrorCode.HEADER_MISMATCH);
  });

  it("a wrong nextValidatorsHash: the offered next set must hash to it, and the next header must name it", () => {
    expect(code(() => tracker().acceptLightBlock({ ...at(4), nextValidators: SET_A }))).to.equal(ProofErrorCode.NEXT_VALIDATORS_MISMATCH);
    // A header at 4 whose nextValidatorsHash was changed no longer hashes to what its commit signs.
    const edited = { ...at(4), header: { ...at(4).header, nextValidatorsHash: SET_OUT.hash }, nextValidators: SET_OUT };
    expect(code(() => tracker().acceptLightBlock(edited))).to.equal(ProofErrorCode.HEADER_MISMATCH);
    // A set trusted at 4 named SET_B next: a header 5 naming another set, fully signed by it, is refused.
    const t = tracker();
    for (let h = 1; h <= 4; h++) t.acceptLightBlock(at(h), { rule: "sequential" });
    const fork = buildChain(5, (h) => (h < 5 ? SET_A : SET_OUT))[4]!;
    const linked = { ...fork, header: { ...fork.header, prevHash: headerHash(at(4).header) } };
    const signed = { ...linked, commit: signCommit(linked.header, OUT) };
    expect(code(() => t.acceptLightBlock(signed))).to.equal(ProofErrorCode.UNTRUSTED_VALIDATORS);
  });

  it("a header whose set no trusted set vouches for is refused by skipping, and bisection over a forked source ends in a refusal", async () => {
    // Outsiders sign a chain of their own from height 1 on.
    const forged = buildChain(14, () => SET_OUT);
    expect(code(() => tracker().acceptLightBlock(forged[13]!))).to.equal(ProofErrorCode.NOT_ENOUGH_TRUST);
    const t = tracker();
    const src = new MemorySource(forged);
    expect(await asyncCode(new LightClient(t, src).verifyTo(forged[13]!))).to.equal(ProofErrorCode.UNTRUSTED_VALIDATORS);
    expect(t.latestTrusted).to.equal(undefined);
    expect(await asyncCode(new LightClient(tracker(), new MemorySource(forged)).verifyTo(forged[13]!, "sequential"))).to.equal(ProofErrorCode.UNTRUSTED_VALIDATORS);
    // A bound on what a lying source can make the client fetch.
    expect(await asyncCode(new LightClient(tracker(), new MemorySource(forged), { maxFetches: 2 }).verifyTo(forged[13]!))).to.equal(ProofErrorCode.BAD_HEADER_CHAIN);
  });

  it("a source that takes reports: a refused pivot is reported and fetched again; the caller's own target is not", async () => {
    // The first answer for height 7 is the outsiders' header (linked to 6, signed by them): bisection must refuse it.
    const fork = buildChain(7, (h) => (h < 7 ? scheduled(h) : SET_OUT))[6]!;
    const linked = { ...fork, header: { ...fork.header, prevHash: headerHash(at(6).header) } };
    const forged7 = { ...linked, commit: signCommit(linked.header, OUT) };
    class ReportingSource extends MemorySource {
      reports: Array<[number, string]> = [];
      private lied = false;
      override async lightBlock(height: number): Promise<LightBlock> {
        const honest = await super.lightBlock(height);
        if (height !== 7 || this.lied) return honest;
        this.lied = true;
        return forged7;
      }
      refused(lb: LightBlock, e: ProofError): void {
        this.reports.push([lb.header.height, e.code]);
      }
    }
    const src = new ReportingSource(CHAIN);
    const t = tracker();
    const r = await new LightClient(t, src).verifyTo(at(14));
    expect(src.reports.length).to.equal(1);
    expect(src.reports[0]![0]).to.equal(7);
    expect(src.fetched.filter((h) => h === 7).length).to.equal(2);
    expect(hex(t.trustedAt(14)!.hash)).to.equal(hex(headerHash(at(14).header)));
    expect(r.intermediate).to.be.greaterThan(0);
    // A forged target passed in by the caller is refused as before: not reported (the source did not give it), not fetched again.
    const src2 = new ReportingSource(CHAIN);
    const t2 = tracker();
    for (let h = 1; h <= 6; h++) t2.acceptLightBlock(at(h));
    expect(await asyncCode(new LightClient(t2, src2).verifyTo(forged7))).to.equal(ProofErrorCode.UNTRUSTED_VALIDATORS);
    expect(src2.fetched).to.deep.equal([]);
    expect(src2.reports).to.deep.equal([]);
  });

  it("headers must follow the trusted one: prevHash, height, time; a conflicting header at a trusted height is refused", () => {
    const t = tracker();
    t.acceptLightBlock(at(1));
    const unlinked = { ...at(2), header: { ...at(2).header, prevHash: new Uint8Array(32).fill(9) } };
    expect(code(() => t.acceptLightBlock({ ...unlinked, commit: signCommit(unlinked.header, A) }))).to.equal(ProofErrorCode.BAD_HEADER_CHAIN);
    const early = { ...at(3), header: { ...at(3).header, time: at(1).header.time } };
    expect(code(() => t.acceptLightBlock({ ...early, commit: signCommit(early.header, A) }))).to.equal(ProofErrorCode.BAD_HEADER_CHAIN);
    const other = { ...at(1), header: { ...at(1).header, stateRoot: new Uint8Array(32).fill(0x77) } };
    expect(code(() => t.acceptLightBlock({ ...other, commit: signCommit(other.header, A) }))).to.equal(ProofErrorCode.BAD_HEADER_CHAIN);
    expect(t.acceptLightBlock(at(1)), "the same header again is no change").to.equal("sequential");
    // Genesis links block 1 by the genesis hash.
    const orphan = { ...at(1), header: { ...at(1).header, prevHash: ZERO_HASH } };
    expect(code(() => tracker().acceptLightBlock({ ...orphan, commit: signCommit(orphan.header, A) }))).to.equal(ProofErrorCode.BAD_HEADER_CHAIN);
    expect(code(() => tracker().acceptLightBlock(at(3), { rule: "sequential" }))).to.equal(ProofErrorCode.BAD_HEADER_CHAIN);
    expect(code(() => new ValidatorSetTracker("sid-other", SET_A).acceptLightBlock(at(1)))).to.equal(ProofErrorCode.WRONG_CHAIN);
  });

  it("a header below the latest trusted one is verified from the trusted header below it", () => {
    const t = tracker();
    t.acceptLightBlock(at(7));
    expect(t.acceptLightBlock(at(3))).to.equal("skipping");
    expect(t.acceptLightBlock(at(4)), "4 follows the trusted 3").to.equal("sequential");
    expect(t.acceptLightBlock(at(8)), "8 follows the trusted 7").to.equal("sequential");
    expect(hex(t.setFor(5)!.hash)).to.equal(hex(SET_B.hash));
  });
});
