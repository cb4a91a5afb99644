/**
 * The mirror (scripts/mirror.ts) over a chain of real signed headers whose
 * validator set changes twice by more than 1/3 of the power between two
 * blocks that carry ops: it trusts each block through the SDK's light client
 * (skipping with bisection over the node's headers), keeps the headers that
 * carry trust forward and, opened again, trusts them again without asking
 * the node. A forged header (a set nobody trusted vouched for) and a forged
 * validator set are refused, and nothing of their page is kept.
 *
 * The node is a fake JSON-RPC client answering registry_export, block_get
 * and validators_get from the chain built here, as a node answers them.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BlockHeader, type Commit, ZERO_HASH, commitToJson, encodeCommit, headerHash, headerToJson, txMerkleRoot } from "../../../src/chain/block.js";
import { decodeCanonical, encodeCanonical } from "../../../src/chain/codec.js";
import { exportOpOf } from "../../../src/chain/export-log.js";
import { genesisHash, parseGenesis } from "../../../src/chain/genesis.js";
import type { LightBlock } from "../../../src/chain/light-block.js";
import { ProofErrorCode } from "../../../src/chain/proof.js";
import type { Tx } from "../../../src/chain/tx.js";
import { ValidatorSet, validatorAddress } from "../../../src/chain/validator-set.js";
import { VoteStep, voteSigningDigest } from "../../../src/chain/vote.js";
import { type LightBlockSource, ValidatorSetTracker } from "../../../src/client/trust.js";
import { toBase64, toHex } from "../../../src/crypto/bytes.js";
import { sha256 as sha } from "../../../src/crypto/hash.js";
import type { KeyPair } from "../../../src/crypto/hd.js";
import { signDigest } from "../../../src/crypto/secp256k1.js";
import type { ExportBlockJson, ExportEntryJson, ExportPage } from "../../../src/rpc/export-methods.js";
import { ExportVerifier, Mirror, MirrorError, MirrorErrorCode } from "../../../scripts/mirror.js";
import { CHAIN_ID, createTx, fixedKey, hex, testDid } from "../../helpers/fixtures.js";

const A = [0x51, 0x52, 0x53, 0x54].map(fixedKey);
const B = [0x61, 0x62, 0x63].map(fixedKey);
const C = [0x71, 0x72, 0x73, 0x74].map(fixedKey);
const OUT = [0x81, 0x82, 0x83, 0x84].map(fixedKey);
const KEYS = new Map([...A, ...B, ...C, ...OUT].map((k) => [hex(validatorAddress(k.publicKey)), k]));

const setOf = (entries: Array<[KeyPair, number]>) => ValidatorSet.fromGenesis(entries.map(([k, power], i) => ({ name: `v${i}`, publicKey: hex(k.publicKey), power })));
/** Genesis: four of power 10. */
const SET_A = setOf(A.map((k) => [k, 10]));
/** From height 5: A2 and A3 leave, three join: A's members keep 20 of the 50. */
const SET_B = setOf([[A[0]!, 10], [A[1]!, 10], [B[0]!, 10], [B[1]!, 10], [B[2]!, 10]]);
/** From height 9: A1 re-weighed to 40, A0 leaves, C joins: of B's members only A1 and B0 stay. */
const SET_C = setOf([[A[1]!, 40], [B[0]!, 10], [C[0]!, 10], [C[1]!, 10], [C[2]!, 10], [C[3]!, 10]]);
const SET_OUT = setOf(OUT.map((k) => [k, 10]));
const scheduled = (h: number) => (h < 5 ? SET_A : h < 9 ? SET_B : SET_C);

const GENESIS_JSON = {
  chainId: CHAIN_ID,
  genesisTime: "2026-01-01T00:00:00.000Z",
  validators: SET_A.validators.map((v) => ({ name: v.name, publicKey: hex(v.publicKey), power: v.power })),
};
const GENESIS_HASH = genesisHash(parseGenesis(GENESIS_JSON));

/** DIDs created in blocks 2, 12 and 14; the other heights are empty. */
const DIDS = [0x91, 0x92, 0x93, 0x94, 0x95, 0x96].map((f) => testDid(fixedKey(f)));
const TXS_AT = new Map<number, Uint8Array[]>([
  [2, [createTx(DIDS[0]!).encoded, createTx(DIDS[1]!).encoded]],
  [12, [createTx(DIDS[2]!).encoded, createTx(DIDS[3]!).encoded]],
  [14, [createTx(DIDS[4]!).encoded, createTx(DIDS[5]!).encoded]],
]);
const HEAD = 15;

const keysOf = (set: ValidatorSet) => set.validators.map((v) => KEYS.get(hex(v.address))!);

function signCommit(h: BlockHeader, signers: readonly KeyPair[]): Commit {
  const blockHash = headerHash(h);
  const digest = voteSigningDigest({ chainId: h.chainId, height: h.height, round: 0, step: VoteStep.Precommit, blockHash });
  return { height: h.height, round: 0, blockHash, sigs: signers.map((k) => ({ validator: validatorAddress(k.publicKey), sig: signDigest(digest, k.secretKey) })) };
}

interface ChainBlock extends LightBlock {
  txs: Uint8Array[];
}

/** Blocks 1..HEAD linked from the genesis hash (after `prefix`, the blocks it has), each signed by every member of `setAt` its height. */
function buildChain(setAt: (h: number) => ValidatorSet, prefix: readonly ChainBlock[] = []): ChainBlock[] {
  const out: ChainBlock[] = [...prefix];
  let prevHash = prefix.length > 0 ? headerHash(prefix[prefix.length - 1]!.header) : GENESIS_HASH;
  for (let height = prefix.length + 1; height <= HEAD; height++) {
    const txs = TXS_AT.get(height) ?? [];
    const validators = setAt(height);
    const nextValidators = setAt(height + 1);
    const header: BlockHeader = {
      chainId: CHAIN_ID,
      height,
      time: Date.parse(GENESIS_JSON.genesisTime) + height * 1000,
      prevHash,
      txRoot: txMerkleRoot(txs.map((t) => sha(t))),
      evidenceHash: ZERO_HASH,
      stateRoot: new Uint8Array(32).fill(height),
      validatorsHash: validators.hash,
      nextValidatorsHash: nextValidators.hash,
      proposer: validators.validators[0]!.address,
      lastCommitHash: ZERO_HASH,
    };
    out.push({ header, commit: signCommit(header, keysOf(validators)), validators, nextValidators, txs });
    prevHash = headerHash(header);
  }
  return out;
}

const CHAIN = buildChain(scheduled);

/** The export log of `chain`: every tx numbered in block order. */
function entriesOf(chain: readonly ChainBlock[]): ExportEntryJson[] {
  const out: ExportEntryJson[] = [];
  for (const b of chain) {
    b.txs.forEach((bytes, index) => {
      const op = exportOpOf(decodeCanonical(bytes) as unknown as Tx, sha(bytes));
      out.push({
        seq: out.length + 1,
        height: b.header.height,
        index,
        txHash: toHex(sha(bytes)),
        blockHash: toHex(headerHash(b.header)),
        time: new Date(b.header.time).toISOString(),
        ...op,
        tx: toBase64(bytes),
      } as ExportEntryJson);
    });
  }
  return out;
}

const blockJson = (b: ChainBlock): ExportBlockJson => ({
  header: toBase64(encodeCanonical(b.header as never)),
  commit: toBase64(encodeCommit(b.commit)),
  txHashes: b.txs.map((t) => toHex(sha(t))),
});

/** registry_export with blocks over `chain`. */
function pageOf(chain: readonly ChainBlock[], after: number, limit: number, knownBlock?: number): ExportPage {
  const all = entriesOf(chain);
  const entries = all.filter((e) => e.seq > after).slice(0, limit);
  const blocks: Record<string, ExportBlockJson> = {};
  for (const e of entries) if (e.height !== knownBlock) blocks[String(e.height)] = blockJson(chain[e.height - 1]!);
  const tail = entries[entries.length - 1];
  return { entries, blocks, next: tail && tail.seq < all.length ? tail.seq : null, last: all.length };
}

/** A node's JSON-RPC as the mirror uses it, over `chain` (registry_export), `headers` (block_get) and `sets` (validators_get). */
class FakeNode {
  calls: Array<{ method: string; height?: number }> = [];
  constructor(
    private readonly chain: readonly ChainBlock[],
    private readonly headers: readonly ChainBlock[] = chain,
    private readonly sets: (h: number) => ValidatorSet = scheduled,
  ) {}

  async call<T>(method: string, params: Record<string, unknown>): Promise<T> {
    const height = typeof params.height === "number" ? params.height : undefined;
    this.calls.push({ method, ...(height !== undefined ? { height } : {}) });
    if (method === "registry_export") return pageOf(this.chain, params.after as number, params.limit as number, params.knownBlock as number | undefined) as T;
    if (method === "validators_get") return { validators: this.sets(height!).validators.map((v) => ({ publicKey: hex(v.publicKey), power: v.power })) } as T;
    if (method === "block_get") {
      const b = this.headers[height! - 1];
      if (!b) throw new Error(`no block ${height}`);
      const prev = this.headers[height! - 2];
      return { header: headerToJson(b.header), lastCommit: prev ? commitToJson(prev.commit) : null } as T;
    }
    throw new Error(`unexpected method ${method}`);
  }

  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }
}

/** A LightBlockSource over `headers` with validator sets from `sets` (a node that may lie). */
function sourceOf(headers: readonly ChainBlock[], sets: (h: number) => ValidatorSet = scheduled): LightBlockSource & { fetched: number[] } {
  const fetched: number[] = [];
  return {
    fetched,
    lightBlock: async (h) => {
      fetched.push(h);
      return headers[h - 1]!;
    },
    validatorSet: async (h) => sets(h),
  };
}

const tracker = () => ValidatorSetTracker.fromGenesis(GENESIS_JSON);
const noDids = { getDid: async () => undefined };

async function refusal(p: Promise<unknown>): Promise<MirrorError> {
  let thrown: unknown;
  await p.catch((e: unknown) => (thrown = e));
  expect(thrown, "the mirror accepted a forged page").to.be.instanceOf(MirrorError);
  return thrown as MirrorError;
}

describe("mirror: follows validator-set changes through the light client", function () {
  this.timeout(30_000);
  let dir: string;
  let genesisFile: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sid-mirror-sets-"));
    genesisFile = join(dir, "genesis.json");
    writeFileSync(genesisFile, JSON.stringify(GENESIS_JSON));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("the fixture moves more than 1/3 of the power between blocks 2 and 12: the two-thirds-of-both transition rule cannot follow it", () => {
    const t = tracker();
    const b12 = CHAIN[11]!;
    expect(() => t.acceptTransition({ header: b12.header, commit: b12.commit, validators: b12.validators })).to.throw(/the trusted set signed 10 of 40 power/);
  });

  it("a mirror follows the chain across both changes, keeps every op, and resumes from its kept headers without asking the node for any", async () => {
    const mdir = join(dir, "m1");
    const node = new FakeNode(CHAIN);
    const mirror = await Mirror.open({ dir: mdir, rpc: node, genesisFile });
    try {
      // Stops inside block 12: block 2 was verified from genesis, block 12 by bisection over the node's headers.
      const first = await mirror.run({ maxOps: 3, limit: 2 });
      expect(first.seq).to.equal(3);
      expect(node.count("block_get"), "bisection fetched headers between 2 and 12").to.be.greaterThan(0);
      // Every kept header carries trust forward: the ones naming a new set are among them.
      expect(mirror.verifier.trusted.trustedAt(12)?.validators.hash).to.deep.equal(SET_C.hash);
    } finally {
      await mirror.close();
    }

    const node2 = new FakeNode(CHAIN);
    const again = await Mirror.open({ dir: mdir, rpc: node2, genesisFile });
    try {
      expect(again.cursor).to.equal(3);
      const done = await again.run({ limit: 2 });
      expect(done.seq).to.equal(6);
      expect(done.ops).to.equal(3);
      // The kept headers (replayed on open) vouch for 12 and 14: no header and no set was asked of the node.
      expect(node2.count("block_get")).to.equal(0);
      expect(node2.count("validators_get")).to.equal(0);
      const all = entriesOf(CHAIN);
      for (let seq = 1; seq <= 6; seq++) expect(await again.getOp(seq), `op ${seq}`).to.deep.equal(all[seq - 1]);
      for (const d of DIDS) expect((await again.getDid(d.did))?.document).to.deep.equal(d.doc);
    } finally {
      await again.close();
    }

    // A mirror opened afresh from the same genesis follows the same chain from op 1 in pages of one op.
    const single = await Mirror.open({ dir: join(dir, "m1-single"), rpc: new FakeNode(CHAIN), genesisFile });
    try {
      expect((await single.run({ limit: 1 })).seq).to.equal(6);
    } finally {
      await single.close();
    }
  });

  it("holds only the headers that carry trust forward once it compacts its light client, and follows on from them", async () => {
    const v = new ExportVerifier(CHAIN_ID, tracker(), noDids, sourceOf(CHAIN), 0, { compactEvery: 1 });
    const kept: number[] = [];
    for (let after = 0; after < 6; after++) kept.push(...(await v.verifyPage(pageOf(CHAIN, after, 1))).transitions.map((t) => t.height));
    expect(v.last).to.equal(6);
    // Block 2 names the genesis set and the same next: not kept, so gone after compaction; 12 (and the pivots to it) kept.
    expect(v.trusted.trustedAt(2)).to.equal(undefined);
    expect(v.trusted.trustedAt(12)).to.not.equal(undefined);
    expect(kept).to.include(12);
    for (const h of kept) expect(v.trusted.trustedAt(h), `kept header ${h}`).to.not.equal(undefined);
    // Pivots are headers where the set changed or halfway to them: never the empty blocks past the last change but 12's.
    expect(kept.every((h) => h <= 12)).to.equal(true);
  });

  it("refuses a forged header whose set no trusted header vouched for, and keeps nothing of its page", async () => {
    // From height 5, after the real header 4 (which names SET_B next), a chain signed by the OUT set: its block 12 carries the real txs.
    const forgedSets = (h: number) => (h < 5 ? SET_A : SET_OUT);
    const forged = buildChain(forgedSets, CHAIN.slice(0, 4));
    const v = new ExportVerifier(CHAIN_ID, tracker(), noDids, sourceOf(forged, forgedSets), 0);
    await v.verifyPage(pageOf(CHAIN, 0, 2));
    const e = await refusal(v.verifyPage(pageOf(forged, 2, 10)));
    // Bisection reaches the forged header 5, which names a set the trusted header 4 did not name as next.
    expect(e.code).to.equal(MirrorErrorCode.UNCOMMITTED);
    expect((e.data as { cause?: string }).cause).to.equal(ProofErrorCode.UNTRUSTED_VALIDATORS);
    expect(v.last).to.equal(2);

    // The same through a mirror on disk: nothing of the forged page is kept.
    const m = await Mirror.open({ dir: join(dir, "m-forged"), rpc: new FakeNode(forged, forged, forgedSets), genesisFile });
    try {
      expect((await m.run({ limit: 2, maxOps: 2 })).seq).to.equal(2);
      const err = await refusal(m.run({ limit: 10 }));
      expect(err.code).to.equal(MirrorErrorCode.UNCOMMITTED);
      expect(m.cursor).to.equal(2);
      expect(await m.getOp(3)).to.equal(undefined);
    } finally {
      await m.close();
    }
  });

  it("refuses a validator set that is not the one the header names, and a header its signers did not commit", async () => {
    // The node answers validators_get with a set the header does not name.
    const lying = new ExportVerifier(CHAIN_ID, tracker(), noDids, sourceOf(CHAIN, () => SET_OUT), 0);
    await lying.verifyPage(pageOf(CHAIN, 0, 2));
    const e = await refusal(lying.verifyPage(pageOf(CHAIN, 2, 10)));
    expect(e.code).to.equal(MirrorErrorCode.UNCOMMITTED);
    expect((e.data as { cause?: string }).cause).to.equal(ProofErrorCode.VALIDATORS_MISMATCH);
    expect(lying.last).to.equal(2);

    // Header 12 as it is, its commit signed by the OUT set: the header's own set did not sign it.
    const b12 = CHAIN[11]!;
    const resigned = CHAIN.map((b) => (b === b12 ? { ...b, commit: signCommit(b.header, OUT) } : b));
    const v = new ExportVerifier(CHAIN_ID, tracker(), noDids, sourceOf(CHAIN), 0);
    await v.verifyPage(pageOf(CHAIN, 0, 2));
    const e2 = await refusal(v.verifyPage(pageOf(resigned, 2, 10)));
    expect(e2.code).to.equal(MirrorErrorCode.UNCOMMITTED);
    expect(v.last).to.equal(2);
  });
});
