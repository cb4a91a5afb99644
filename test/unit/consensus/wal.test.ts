import { expect } from "chai";
import fc from "fast-check";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, appendFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { crc32 } from "node:zlib";
import { encodeCanonical } from "../../../src/chain/codec.js";
import { ConsensusError, ConsensusErrorCode } from "../../../src/consensus/errors.js";
import { type TendermintAction, type TendermintInput, TendermintMachine } from "../../../src/consensus/tendermint.js";
import { ConsensusWal } from "../../../src/consensus/wal.js";
import { type WalRecord, decodeWalRecord, encodeWalRecord } from "../../../src/consensus/wal-records.js";
import { hex } from "../../helpers/fixtures.js";
import { blockHash, precommit, prevote, proposal, validatorSet, expectConsensusErrorAsync } from "../../helpers/consensus.js";


const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const texts = (rs: Uint8Array[]) => rs.map((r) => Buffer.from(r).toString());

/** One frame as the WAL writes it, built here independently: [len][crc32(len || payload)][payload]. */
function frame(kind: number, body: Uint8Array): Buffer {
  const payload = Buffer.concat([Buffer.of(kind), body]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(payload.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(payload, crc32(len)));
  return Buffer.concat([len, crc, payload]);
}

describe("consensus/wal: the write-ahead log", () => {
  let dir: string;
  let n = 0;
  const fresh = () => join(dir, `wal-${n++}`, "cs.wal");
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-wal-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("replays the records after the last end-of-height marker, across reopen", async () => {
    const path = fresh();
    let wal = await ConsensusWal.open(path);
    expect(await wal.replay()).to.deep.equal({ lastEndHeight: null, records: [] });
    await wal.append(bytes("h1-a"));
    await wal.append(bytes("h1-b"), { sync: true });
    expect(texts((await wal.replay()).records)).to.deep.equal(["h1-a", "h1-b"]);
    await wal.endHeight(1);
    await wal.append(bytes("h2-a"), { sync: true });
    await wal.close();
    wal = await ConsensusWal.open(path);
    expect(wal.truncatedBytes).to.equal(0);
    const r = await wal.replay();
    expect(r.lastEndHeight).to.equal(1);
    expect(texts(r.records)).to.deep.equal(["h2-a"]);
    await wal.endHeight(2);
    expect(await wal.replay()).to.deep.equal({ lastEndHeight: 2, records: [] });
    await wal.close();
  });

  it("writes the documented frame format, and the file is 0600", async () => {
    const path = fresh();
    const wal = await ConsensusWal.open(path);
    await wal.append(bytes("abc"), { sync: true });
    await wal.endHeight(7);
    await wal.close();
    const height = Buffer.alloc(8);
    height.writeBigUInt64BE(7n);
    expect(readFileSync(path).toString("hex")).to.equal(Buffer.concat([frame(1, bytes("abc")), frame(2, height)]).toString("hex"));
    expect(statSync(path).mode & 0o777).to.equal(0o600);
  });

  it("fdatasyncs before an append with sync and an end-of-height marker resolve, and not otherwise", async () => {
    const path = fresh();
    const wal = await ConsensusWal.open(path);
    const probe = await open(path, "r");
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const original = proto.datasync;
    let syncs = 0;
    proto.datasync = function (this: unknown) {
      syncs++;
      return original.call(this);
    };
    try {
      await wal.append(bytes("peer vote"));
      expect(syncs).to.equal(0);
      await wal.append(bytes("own vote"), { sync: true });
      expect(syncs).to.equal(1);
      await wal.endHeight(1);
      expect(syncs).to.equal(2);
    } finally {
      proto.datasync = original;
      await wal.close();
    }
  });

  it("keeps appends in call order when they are not awaited one by one", async () => {
    const wal = await ConsensusWal.open(fresh());
    await Promise.all(Array.from({ length: 20 }, (_, i) => wal.append(bytes(`r${i}`), { sync: i % 5 === 0 })));
    expect(texts((await wal.replay()).records)).to.deep.equal(Array.from({ length: 20 }, (_, i) => `r${i}`));
    await wal.close();
  });

  it("cuts off a torn tail (a frame cut short) on open and carries on", async () => {
    const path = fresh();
    const wal = await ConsensusWal.open(path);
    await wal.append(bytes("one"));
    await wal.append(bytes("two"));
    await wal.append(bytes("three-is-longer"));
    await wal.close();
    const size = statSync(path).size;
    const tornStart = size - frame(1, bytes("three-is-longer")).length;
    truncateSync(path, size - 4);
    const again = await ConsensusWal.open(path);
    expect(again.truncatedBytes).to.equal(size - 4 - tornStart);
    expect(texts((await again.replay()).records)).to.deep.equal(["one", "two"]);
    await again.append(bytes("four"), { sync: true });
    await again.close();
    const third = await ConsensusWal.open(path);
    expect(third.truncatedBytes).to.equal(0);
    expect(texts((await third.replay()).records)).to.deep.equal(["one", "two", "four"]);
    await third.close();
  });

  it("cuts off a torn tail that reads as zeros, and a lone partial header", async () => {
    const path = fresh();
    const wal = await ConsensusWal.open(path);
    await wal.append(bytes("kept"));
    await wal.close();
    appendFileSync(path, Buffer.alloc(100));
    const a = await ConsensusWal.open(path);
    expect(a.truncatedBytes).to.equal(100);
    expect(texts((await a.replay()).records)).to.deep.equal(["kept"]);
    await a.close();
    appendFileSync(path, Buffer.of(0, 0, 7));
    const b = await ConsensusWal.open(path);
    expect(b.truncatedBytes).to.equal(3);
    await b.close();
  });

  it("treats a bad checksum in the last frame as torn, and one with frames after it as corruption", async () => {
    const path = fresh();
    const wal = await ConsensusWal.open(path);
    await wal.append(bytes("first"));
    await wal.append(bytes("second"));
    await wal.close();
    const buf = readFileSync(path);
    // Damage the last frame's payload: torn.
    const last = Buffer.from(buf);
    last[last.length - 1] ^= 0xff;
    writeFileSync(path, last);
    const a = await ConsensusWal.open(path);
    expect(texts((await a.replay()).records)).to.deep.equal(["first"]);
    await a.close();
    // Damage the first frame's payload, with the second intact after it: corruption.
    const middle = Buffer.from(buf);
    middle[9] ^= 0xff;
    writeFileSync(path, middle);
    const e = await expectConsensusErrorAsync(ConsensusWal.open(path), ConsensusErrorCode.WAL_CORRUPT, /checksum mismatch at offset 0/);
    expect(e.data).to.include({ offset: 0 });
    // The file is left as it was for the operator.
    expect(readFileSync(path).equals(middle)).to.equal(true);
  });

  it("refuses a well-formed frame of an unknown kind", async () => {
    const path = fresh();
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, Buffer.concat([frame(1, bytes("ok")), frame(9, bytes("from the future")), frame(1, bytes("ok"))]));
    await expectConsensusErrorAsync(ConsensusWal.open(path), ConsensusErrorCode.WAL_CORRUPT, /unknown frame kind 9/);
  });

  it("rotates at an end-of-height marker once past rotateBytes, keeping replay the same", async () => {
    const path = fresh();
    const wal = await ConsensusWal.open(path, { rotateBytes: 300 });
    let largest = 0;
    for (let h = 1; h <= 40; h++) {
      for (let i = 0; i < 5; i++) await wal.append(bytes(`height ${h} record ${i}`));
      await wal.endHeight(h);
      largest = Math.max(largest, statSync(path).size);
      expect(await wal.replay()).to.deep.equal({ lastEndHeight: h, records: [] });
    }
    // Without rotation 40 heights would take about 40 * 5 * 30 bytes.
    expect(largest).to.be.below(700);
    await wal.append(bytes("in progress"), { sync: true });
    await wal.close();
    // A crash during a rotation leaves its temp file: ignored and removed on open.
    writeFileSync(`${path}.rotate`, "half a rotation");
    const again = await ConsensusWal.open(path);
    expect(existsSync(`${path}.rotate`)).to.equal(false);
    const r = await again.replay();
    expect(r.lastEndHeight).to.equal(40);
    expect(texts(r.records)).to.deep.equal(["in progress"]);
    await again.close();
  });

  it("refuses oversized records, bad heights and use after close with WAL_USAGE", async () => {
    const wal = await ConsensusWal.open(fresh(), { maxRecordBytes: 64 });
    await expectConsensusErrorAsync(wal.append(new Uint8Array(65)), ConsensusErrorCode.WAL_USAGE, /exceeds 64/);
    await expectConsensusErrorAsync(wal.endHeight(-1), ConsensusErrorCode.WAL_USAGE);
    await wal.append(new Uint8Array(64));
    await wal.close();
    await expectConsensusErrorAsync(wal.append(bytes("late")), ConsensusErrorCode.WAL_USAGE, /closed/);
  });

  it("for any truncation or one damaged byte, open either refuses with WAL_CORRUPT or replays a prefix", async () => {
    const path = fresh();
    const wal = await ConsensusWal.open(path);
    const records = Array.from({ length: 8 }, (_, i) => bytes(`record-${i}-${"x".repeat(i * 3)}`));
    for (const r of records) await wal.append(r);
    await wal.close();
    const original = readFileSync(path);
    const expected = texts(records);
    await fc.assert(
      fc.asyncProperty(fc.nat(original.length), fc.option(fc.tuple(fc.nat(original.length - 1), fc.integer({ min: 1, max: 255 })), { nil: undefined }), async (cut, damage) => {
        const buf = Buffer.from(original.subarray(0, cut));
        if (damage && damage[0] < buf.length) buf[damage[0]] ^= damage[1];
        writeFileSync(path, buf);
        let opened: ConsensusWal;
        try {
          opened = await ConsensusWal.open(path);
        } catch (e) {
          expect(e).to.be.instanceOf(ConsensusError);
          expect((e as ConsensusError).code).to.equal(ConsensusErrorCode.WAL_CORRUPT);
          expect(damage, "only damage, never a cut, is corruption").to.not.equal(undefined);
          return;
        }
        const got = texts((await opened.replay()).records);
        await opened.close();
        expect(expected.slice(0, got.length)).to.deep.equal(got);
        if (!damage) expect(statSync(path).size).to.be.at.most(cut);
      }),
      { numRuns: 150 },
    );
  });
});

describe("consensus/wal-records", () => {
  const V = blockHash("v");
  const records: WalRecord[] = [
    { kind: "proposal", proposal: proposal(1, 3, 1, V, 0), valid: true, block: bytes("block bytes") },
    { kind: "proposal", proposal: proposal(1, 3, 0, V), valid: false, block: null },
    { kind: "vote", vote: prevote(2, 3, 1, V) },
    { kind: "vote", vote: precommit(2, 3, 1) },
    { kind: "timeout", height: 3, round: 4, step: "prevote" },
    { kind: "signedProposal", proposal: proposal(0, 3, 2, V, 1), block: bytes("mine") },
    { kind: "signedVote", vote: precommit(0, 3, 2, V) },
  ];

  it("round-trips every record kind", () => {
    for (const r of records) expect(decodeWalRecord(encodeWalRecord(r))).to.deep.equal(r);
  });

  it("refuses malformed records: BAD_MESSAGE on encode, WAL_CORRUPT on decode", async () => {
    await expectConsensusErrorAsync(() => encodeWalRecord({ kind: "timeout", height: 3, round: 4, step: "commit" as never }), ConsensusErrorCode.BAD_MESSAGE, /step/);
    await expectConsensusErrorAsync(() => encodeWalRecord({ kind: "proposal", proposal: proposal(1, 3, 0, V), valid: true, block: "no" as never }), ConsensusErrorCode.BAD_MESSAGE, /block/);
    await expectConsensusErrorAsync(() => encodeWalRecord({ kind: "vote", vote: { ...prevote(2, 3, 1, V), round: -1 } }), ConsensusErrorCode.BAD_MESSAGE);
    await expectConsensusErrorAsync(() => decodeWalRecord(encodeCanonical({ kind: "vote" })), ConsensusErrorCode.WAL_CORRUPT, /exactly the keys/);
    await expectConsensusErrorAsync(() => decodeWalRecord(encodeCanonical({ kind: "snapshot", data: 1 })), ConsensusErrorCode.WAL_CORRUPT, /unknown record kind/);
    await expectConsensusErrorAsync(() => decodeWalRecord(Uint8Array.of(0xff)), ConsensusErrorCode.WAL_CORRUPT, /undecodable/);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        try {
          decodeWalRecord(b);
        } catch (e) {
          expect(e).to.be.instanceOf(ConsensusError);
          expect((e as ConsensusError).code).to.equal(ConsensusErrorCode.WAL_CORRUPT);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("consensus/wal: crash recovery by replay", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-wal-replay-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("replaying the logged inputs through a fresh machine restores its round state, lock included, and asks for the same votes", async () => {
    const set = validatorSet([1, 1, 1, 1]);
    const addr = (i: number) => set.validators[i]!.address;
    const start: TendermintInput = { kind: "start", height: 5, validators: set, proposerOf: (r) => addr((r + 1) % 4) };
    const V = blockHash("v");
    const W = blockHash("w");
    const inputs: WalRecord[] = [
      { kind: "proposal", proposal: proposal(1, 5, 0, V), valid: true, block: null },
      { kind: "vote", vote: prevote(1, 5, 0, V) },
      { kind: "vote", vote: prevote(2, 5, 0, V) },
      { kind: "vote", vote: prevote(3, 5, 0, V) },
      { kind: "vote", vote: precommit(1, 5, 0) },
      { kind: "vote", vote: precommit(2, 5, 0) },
      { kind: "vote", vote: precommit(3, 5, 0) },
      { kind: "timeout", height: 5, round: 0, step: "precommit" },
      { kind: "proposal", proposal: proposal(2, 5, 1, W), valid: true, block: null },
    ];
    const toInput = (r: WalRecord): TendermintInput => {
      if (r.kind === "proposal") return { kind: "proposal", proposal: r.proposal, valid: r.valid };
      if (r.kind === "vote") return { kind: "vote", vote: r.vote };
      if (r.kind === "timeout") return { kind: "timeout", height: r.height, round: r.round, step: r.step };
      throw new Error("not an input");
    };
    const voteTargets = (as: TendermintAction[]) => as.filter((a) => a.kind === "vote").map((a) => JSON.stringify({ ...a, blockHash: hex((a as { blockHash: Uint8Array }).blockHash) }));

    // The live node: every input goes to the WAL before the machine.
    const path = join(dir, "cs.wal");
    const wal = await ConsensusWal.open(path);
    await wal.endHeight(4);
    const live = new TendermintMachine({ self: addr(0) });
    const liveVotes = voteTargets(live.handle(start));
    for (const r of inputs) {
      await wal.append(encodeWalRecord(r));
      liveVotes.push(...voteTargets(live.handle(toInput(r))));
    }
    expect(live.roundState.lockedRound).to.equal(0);
    expect(liveVotes.at(-1)).to.include('"round":1').and.include(`"blockHash":""`); // locked on V: nil for W
    await wal.close();

    // Crash; a new process replays the height in progress.
    const reopened = await ConsensusWal.open(path);
    const { lastEndHeight, records } = await reopened.replay();
    await reopened.close();
    expect(lastEndHeight).to.equal(4);
    const restored = new TendermintMachine({ self: addr(0) });
    const replayVotes = voteTargets(restored.handle({ ...start, height: lastEndHeight! + 1 } as TendermintInput));
    for (const bytes of records) replayVotes.push(...voteTargets(restored.handle(toInput(decodeWalRecord(bytes)))));
    expect(restored.roundState).to.deep.equal(live.roundState);
    // The same votes in the same order: the signer returns the signatures it already gave.
    expect(replayVotes).to.deep.equal(liveVotes);
    expect(hex(restored.roundState.lockedValue!)).to.equal(hex(V));
  });
});
