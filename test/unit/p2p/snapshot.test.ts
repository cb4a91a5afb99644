import { expect } from "chai";
import { type Block, headerHash } from "../../../src/chain/block.js";
import { SnapshotErrorCode } from "../../../src/chain/snapshot.js";
import { ValidatorSetTracker } from "../../../src/client/trust.js";
import { type SnapshotMessage, type WireValidator, decodeSnapshotMessage } from "../../../src/p2p/snapshot-messages.js";
import { ValidatorSet } from "../../../src/chain/validator-set.js";
import { type LightBlockRequest, P2pLightBlockSource, SnapshotServer, verifySnapshotHeight } from "../../../src/p2p/snapshot-sync.js";
import { lightClientTrust } from "../../../src/node/state-sync.js";
import { P2pErrorCode } from "../../../src/p2p/errors.js";
import { CHAIN_ID, hex } from "../../helpers/fixtures.js";
import { commitBy, validatorSet } from "../../helpers/consensus.js";

const set = validatorSet([10, 10, 10, 10]);

function blockAt(height: number, chainId = CHAIN_ID, own: ValidatorSet = set): Block {
  const z = new Uint8Array(32);
  return {
    header: { chainId, height, time: 1000 + height, prevHash: z, txRoot: z, evidenceHash: z, stateRoot: new Uint8Array(32).fill(7), validatorsHash: own.hash, nextValidatorsHash: own.hash, proposer: own.validators[0]!.address, lastCommitHash: z },
    txs: [],
    evidence: [],
    lastCommit: null,
  };
}

async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
}

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return "accepted";
};

describe("p2p: snapshot channel", () => {
  it("decodes every message kind and refuses malformed ones as INVALID_MESSAGE", () => {
    expect(decodeSnapshotMessage({ type: "listSnapshots" })).to.deep.equal({ type: "listSnapshots" });
    expect(decodeSnapshotMessage({ type: "getChunk", height: 5, index: 3 })).to.deep.equal({ type: "getChunk", height: 5, index: 3 });
    expect(decodeSnapshotMessage({ type: "chunk", height: 5, index: 3, data: null })).to.deep.equal({ type: "chunk", height: 5, index: 3, data: null });
    const bad: unknown[] = [
      { type: "nope" },
      { type: "listSnapshots", extra: 1 },
      { type: "getChunk", height: 5, index: 4096 },
      { type: "getChunk", height: 0, index: 1 },
      { type: "manifest", height: 5, data: "text" },
      { type: "snapshots", items: Array.from({ length: 17 }, () => ({ height: 1, hash: new Uint8Array(32), chunks: 1, bytes: 1 })) },
      { type: "snapshots", items: [{ height: 1, hash: new Uint8Array(31), chunks: 1, bytes: 1 }] },
      { type: "lightBlock", height: 5, block: null, commit: commitBy(blockAt(5), [0]) },
    ];
    for (const m of bad) expect(codeOf(() => decodeSnapshotMessage(m as never)), JSON.stringify(m)).to.equal(P2pErrorCode.INVALID_MESSAGE);
  });

  describe("the snapshot header, trusted by the light client from genesis over peers' light blocks", () => {
    const ten = validatorSet([10, 10, 10, 10, 10, 10, 10, 10, 10]);
    const members = (idx: number[]) => new ValidatorSet(idx.map((i) => ten.validators[i]!));
    const wire = (s: ValidatorSet): WireValidator[] => s.validators.map((v) => ({ publicKey: v.publicKey, power: v.power }));
    const GENESIS = members([0, 1, 2, 3]);
    /** From 10 on, three of the four genesis validators have left: the genesis set holds 10 of its 40 among the signers (not more than 1/3). */
    const MOVED = members([0, 4, 5]);
    const OUTSIDERS = members([6, 7, 8]);
    const scheduled = (h: number) => (h < 10 ? GENESIS : MOVED);
    const indexOf = (s: ValidatorSet) => s.validators.map((v) => ten.validators.findIndex((t) => t.publicKey === v.publicKey));

    type LightAnswer = Extract<SnapshotMessage, { type: "lightBlock" }>;
    /** Blocks 1..n linked by prevHash, each signed by every member of its set. */
    function chain(n: number, setAt: (h: number) => ValidatorSet): LightAnswer[] {
      const out: LightAnswer[] = [];
      let prevHash: Uint8Array = new Uint8Array(32);
      for (let h = 1; h <= n; h++) {
        const own = setAt(h);
        const next = setAt(h + 1);
        const b = blockAt(h, CHAIN_ID, own);
        b.header = { ...b.header, prevHash, nextValidatorsHash: next.hash, stateRoot: new Uint8Array(32).fill(h) };
        out.push({ type: "lightBlock", height: h, block: b, commit: commitBy(b, indexOf(own)), validators: wire(own), nextValidators: wire(next) });
        prevHash = headerHash(b.header);
      }
      return out;
    }
    const HONEST = chain(40, scheduled);

    /** Peers answering from their own blocks by height (null where they hold none); `asked` records every request. */
    function peersServing(served: Record<string, (h: number) => LightAnswer | undefined>) {
      const asked: string[] = [];
      const refused: string[] = [];
      const request: LightBlockRequest = async (peer, h) => {
        asked.push(`${peer}@${h}`);
        return served[peer]!(h) ?? { type: "lightBlock", height: h, block: null, commit: null };
      };
      const order = Object.keys(served);
      const source = (target: number) => new P2pLightBlockSource(request, () => order.filter((p) => !refused.includes(p)), GENESIS, (p) => refused.push(p), target);
      return { asked, refused, source };
    }
    const tracker = () => new ValidatorSetTracker(CHAIN_ID, GENESIS);
    const honest = (h: number) => HONEST[h - 1];

    it("the fixture: the genesis set alone cannot vouch for the snapshot height", () => {
      const a = HONEST[39]!;
      const lb = { header: a.block!.header, commit: a.commit!, validators: MOVED, nextValidators: MOVED };
      expect(codeOf(() => tracker().acceptLightBlock(lb))).to.equal("PROOF_NOT_ENOUGH_TRUST");
    });

    it("bisects from genesis over the peers' headers and returns the block the chain committed", async () => {
      const { asked, refused, source } = peersServing({ a: honest });
      const t = tracker();
      const got = await verifySnapshotHeight(lightClientTrust(t), source(40), 40);
      expect(headerHash(got.block.header)).to.deep.equal(headerHash(HONEST[39]!.block!.header));
      expect(got.intermediate).to.be.greaterThan(0);
      expect(asked.length).to.equal(got.intermediate + 1);
      expect(refused).to.deep.equal([]);
      expect(t.trustedAt(40)).to.not.equal(undefined);
    });

    it("a peer serving a forged intermediate header is charged and the height is asked of another peer", async () => {
      // The liar answers first for every height; it holds only height 9 (outsiders' set, their own commit, linked to 8).
      const forged = chain(9, (h) => (h < 9 ? GENESIS : OUTSIDERS))[8]!;
      forged.block!.header = { ...forged.block!.header, prevHash: headerHash(HONEST[7]!.block!.header) };
      const liar9 = { ...forged, commit: commitBy(forged.block!, [6, 7, 8]) };
      const { refused, asked, source } = peersServing({ liar: (h) => (h === 9 ? liar9 : undefined), b: honest });
      const got = await verifySnapshotHeight(lightClientTrust(tracker()), source(40), 40);
      expect(refused).to.deep.equal(["liar"]);
      expect(asked).to.include("liar@9").and.to.include("b@9");
      expect(got.block.header.stateRoot).to.deep.equal(new Uint8Array(32).fill(40));
    });

    it("a forged snapshot header is charged; with no honest peer left the height is refused", async () => {
      // Outsiders sign a header 40 of their own, linked to the honest 39: bisection reaches 39 and the link fails.
      const fake = chain(40, (h) => (h < 40 ? scheduled(h) : OUTSIDERS))[39]!;
      fake.block!.header = { ...fake.block!.header, prevHash: headerHash(HONEST[38]!.block!.header) };
      const fake40 = { ...fake, commit: commitBy(fake.block!, [6, 7, 8]) };
      const { refused, source } = peersServing({ liar: (h) => (h === 40 ? fake40 : honest(h)) });
      const err = await verifySnapshotHeight(lightClientTrust(tracker()), source(40), 40).then(
        () => undefined,
        (e: { code: string }) => e,
      );
      expect(err?.code).to.equal(SnapshotErrorCode.BAD_HEADER);
      expect(refused).to.deep.equal(["liar"]);
    });

    it("sets the header does not name, or a commit its own set did not give, are the peer's lie", async () => {
      const a = HONEST[39]!;
      for (const lie of [
        { ...a, validators: wire(members([0, 4])) },
        { ...a, nextValidators: wire(GENESIS) },
        { ...a, commit: commitBy(a.block!, [4]) },
        { ...a, height: 40, block: HONEST[38]!.block, commit: HONEST[38]!.commit },
      ]) {
        const { refused, source } = peersServing({ liar: (h) => (h === 40 ? lie : honest(h)), b: honest });
        await verifySnapshotHeight(lightClientTrust(tracker()), source(40), 40);
        expect(refused).to.deep.equal(["liar"]);
      }
    });

    it("no peer holding the heights between (state-synced above them, or serving snapshot heights only): refused as untrusted, nobody charged", async () => {
      const { refused, source } = peersServing({ a: (h) => (h >= 30 ? honest(h) : undefined), b: (h) => (h === 40 ? honest(h) : undefined) });
      const err = await verifySnapshotHeight(lightClientTrust(tracker()), source(40), 40).then(
        () => undefined,
        (e: { code: string; message: string }) => e,
      );
      expect(err?.code).to.equal(SnapshotErrorCode.UNTRUSTED_SET);
      expect(err?.message).to.match(/no peer served the block at height \d+/);
      expect(refused).to.deep.equal([]);
    });

    it("a peer that sends no sets is used where the header names the genesis set, and skipped (not charged) elsewhere", async () => {
      const bare = (h: number): LightAnswer => ({ type: "lightBlock", height: h, block: HONEST[h - 1]!.block, commit: HONEST[h - 1]!.commit });
      const t = tracker();
      const { refused, source } = peersServing({ old: bare, b: honest });
      const s = source(40);
      expect((await s.lightBlock(5)).validators.hash).to.deep.equal(GENESIS.hash);
      await verifySnapshotHeight(lightClientTrust(t), s, 40);
      expect(refused).to.deep.equal([]);
      const only = peersServing({ old: bare });
      expect(await only.source(40).lightBlock(40).then(() => "served", (e: { code: string }) => e.code)).to.equal(SnapshotErrorCode.BAD_HEADER);
    });

    it("the server answers any height it holds, with its sets; null below its base and above its head", async () => {
      const sent: LightAnswer[] = [];
      const net = { peer: () => ({}), send: (_p: string, _c: number, m: LightAnswer) => sent.push(m), reportBad: () => {}, opts: { maxFrameBytes: 1 << 20 } };
      const byHeight = (h: number) => HONEST[h - 1];
      const server = new SnapshotServer(net as never, {
        dir: { heights: () => [30] } as never,
        getBlock: async (h) => byHeight(h)?.block ?? undefined,
        getCommit: async (h) => byHeight(h)?.commit ?? undefined,
        validatorSetAt: async (h) => scheduled(h).validators.map((v) => ({ name: v.name, publicKey: hex(v.publicKey), address: hex(v.address), power: v.power })) as never,
        baseHeight: () => 20,
        headHeight: () => 38,
      });
      for (const h of [25, 19, 39, 30]) server.onRequest("p", { type: "getLightBlock", height: h });
      await waitUntil(() => sent.length === 4);
      expect(sent.map((m) => [m.height, m.block !== null])).to.deep.equal([
        [25, true],
        [19, false],
        [39, false],
        [30, true],
      ]);
      expect(sent[0]!.validators).to.deep.equal(wire(MOVED));
      expect(sent[1]!.validators).to.equal(undefined);
    });

    it("the lightBlock message carries the sets together, bounded, with 33-byte keys", () => {
      const b = blockAt(40);
      const c = commitBy(b, [0, 1, 2]);
      const w = wire(set);
      const m = decodeSnapshotMessage({ type: "lightBlock", height: 40, block: b, commit: c, validators: w, nextValidators: w } as never);
      expect(m).to.deep.include({ type: "lightBlock", height: 40 });
      expect((m as { validators?: WireValidator[] }).validators).to.deep.equal(w);
      const bad: unknown[] = [
        { type: "lightBlock", height: 40, block: b, commit: c, validators: w },
        { type: "lightBlock", height: 40, block: b, commit: c, validators: [{ publicKey: new Uint8Array(32), power: 1 }], nextValidators: w },
        { type: "lightBlock", height: 40, block: b, commit: c, validators: w, nextValidators: [{ publicKey: w[0]!.publicKey, power: 0 }] },
      ];
      for (const x of bad) expect(codeOf(() => decodeSnapshotMessage(x as never))).to.equal(P2pErrorCode.INVALID_MESSAGE);
    });
  });
});
