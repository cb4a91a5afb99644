import { expect } from "chai";
import fc from "fast-check";
import { createHash } from "node:crypto";
import {
  type Block,
  type BlockHeader,
  type Commit,
  ZERO_HASH,
  commitHash,
  commitToJson,
  decodeBlock,
  decodeCommit,
  encodeBlock,
  encodeCommit,
  headerHash,
  headerToJson,
  txMerkleRoot,
} from "../../../src/chain/block.js";
import { type CanonicalValue, encodeCanonical } from "../../../src/chain/codec.js";
import { BlockErrorCode } from "../../../src/chain/errors.js";
import { CHAIN_ID, createTx, expectChainError, fixedKey, hex, testDid } from "../../helpers/fixtures.js";

/** sha256 with node:crypto, independent of src/crypto/hash.ts. */
function H(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
const leaf = (h: Uint8Array) => H(Uint8Array.of(0), h);
const node = (l: Uint8Array, r: Uint8Array) => H(Uint8Array.of(1), l, r);

/** RFC 6962 section 2.1 Merkle Tree Hash, written from the RFC (k = largest power of 2 < n). */
function mth(d: Uint8Array[]): Uint8Array {
  if (d.length === 1) return leaf(d[0]!);
  let k = 1;
  while (k << 1 < d.length) k <<= 1;
  return node(mth(d.slice(0, k)), mth(d.slice(k)));
}

const h = [0, 1, 2, 3, 4, 5, 6].map((i) => H(Uint8Array.of(0xa0 + i)));

function header(): BlockHeader {
  return {
    chainId: CHAIN_ID,
    height: 5,
    time: 1_700_000_000_000,
    prevHash: new Uint8Array(32).fill(1),
    txRoot: new Uint8Array(32).fill(2),
    evidenceHash: new Uint8Array(32).fill(9),
    stateRoot: new Uint8Array(32).fill(3),
    validatorsHash: new Uint8Array(32).fill(4),
    nextValidatorsHash: new Uint8Array(32).fill(0x44),
    proposer: new Uint8Array(20).fill(5),
    lastCommitHash: new Uint8Array(32).fill(6),
  };
}

function commit(): Commit {
  return {
    height: 4,
    round: 1,
    blockHash: new Uint8Array(32).fill(7),
    sigs: [
      { validator: new Uint8Array(20).fill(8), sig: new Uint8Array(64).fill(9) },
      { validator: new Uint8Array(20).fill(10), sig: new Uint8Array(64).fill(11) },
    ],
  };
}

describe("chain/block", () => {
  describe("txMerkleRoot (RFC 6962 shape)", () => {
    it("of no hashes is the zero hash", () => {
      expect(hex(txMerkleRoot([]))).to.equal(hex(new Uint8Array(32)));
      expect(hex(ZERO_HASH)).to.equal("00".repeat(32));
    });

    it("of 1 hash is the leaf hash sha256(0x00 || h0)", () => {
      expect(hex(txMerkleRoot([h[0]!]))).to.equal(hex(leaf(h[0]!)));
    });

    it("of 2 hashes is node(leaf0, leaf1)", () => {
      expect(hex(txMerkleRoot(h.slice(0, 2)))).to.equal(hex(node(leaf(h[0]!), leaf(h[1]!))));
    });

    it("of 3 hashes splits 2 + 1", () => {
      const expected = node(node(leaf(h[0]!), leaf(h[1]!)), leaf(h[2]!));
      expect(hex(txMerkleRoot(h.slice(0, 3)))).to.equal(hex(expected));
    });

    it("of 5 hashes splits 4 + 1", () => {
      const four = node(node(leaf(h[0]!), leaf(h[1]!)), node(leaf(h[2]!), leaf(h[3]!)));
      const expected = node(four, leaf(h[4]!));
      expect(hex(txMerkleRoot(h.slice(0, 5)))).to.equal(hex(expected));
      expect(hex(expected)).to.equal(hex(mth(h.slice(0, 5))));
      // Pinned (leaves are sha256 of the single bytes 0xa0..0xa4).
      expect(hex(expected)).to.equal("ff60643d4defc84228e5f77e759621c82c6117afe20905c8c88485a67ef7b2d7");
    });

    it("of 7 hashes splits 4 + (2 + 1)", () => {
      const four = node(node(leaf(h[0]!), leaf(h[1]!)), node(leaf(h[2]!), leaf(h[3]!)));
      const three = node(node(leaf(h[4]!), leaf(h[5]!)), leaf(h[6]!));
      expect(hex(txMerkleRoot(h))).to.equal(hex(node(four, three)));
    });

    it("matches the RFC 6962 definition for any count", () => {
      fc.assert(
        fc.property(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 40 }), (hs) => {
          expect(hex(txMerkleRoot(hs))).to.equal(hex(mth(hs)));
        }),
        { numRuns: 100 },
      );
    });

    it("depends on order, and a leaf is never taken for a node", () => {
      expect(hex(txMerkleRoot([h[1]!, h[0]!]))).not.to.equal(hex(txMerkleRoot([h[0]!, h[1]!])));
      // The root of [a, b] is not the root of the single "hash" leaf(a) || leaf(b).
      const two = txMerkleRoot([h[0]!, h[1]!]);
      expect(hex(txMerkleRoot([two]))).not.to.equal(hex(two));
    });
  });

  describe("header hash", () => {
    it("is sha256 of the canonical header encoding", () => {
      expect(hex(headerHash(header()))).to.equal(hex(H(encodeCanonical(header() as unknown as CanonicalValue))));
      expect(hex(headerHash(header()))).to.equal(hex(headerHash(header())));
    });

    const changes: Array<[keyof BlockHeader, (h: BlockHeader) => void]> = [
      ["chainId", (x) => (x.chainId = "sid-tesu")],
      ["height", (x) => (x.height += 1)],
      ["time", (x) => (x.time += 1)],
      ["prevHash", (x) => (x.prevHash[31]! ^= 1)],
      ["txRoot", (x) => (x.txRoot[0]! ^= 0x80)],
      ["evidenceHash", (x) => (x.evidenceHash[0]! ^= 1)],
      ["stateRoot", (x) => (x.stateRoot[15]! ^= 1)],
      ["validatorsHash", (x) => (x.validatorsHash[0]! ^= 1)],
      ["nextValidatorsHash", (x) => (x.nextValidatorsHash[31]! ^= 1)],
      ["proposer", (x) => (x.proposer[19]! ^= 1)],
      ["lastCommitHash", (x) => (x.lastCommitHash[3]! ^= 1)],
    ];
    it("covers every header field", () => {
      expect(changes.map(([f]) => f)).to.have.members(Object.keys(header()));
    });
    for (const [field, change] of changes) {
      it(`changes when ${field} changes`, () => {
        const x = header();
        change(x);
        expect(hex(headerHash(x))).not.to.equal(hex(headerHash(header())));
      });
    }
  });

  describe("block and commit encoding", () => {
    const a = testDid(fixedKey(1));
    const b = testDid(fixedKey(2));
    const blocks: Array<[string, Block]> = [
      ["with txs and a last commit", { header: header(), txs: [createTx(a).encoded, createTx(b).encoded], evidence: [Uint8Array.of(1, 2, 3)], lastCommit: commit() }],
      ["empty, at height 1", { header: { ...header(), height: 1, lastCommitHash: ZERO_HASH }, txs: [], evidence: [], lastCommit: null }],
    ];
    for (const [name, block] of blocks) {
      it(`encodeBlock/decodeBlock round-trips a block ${name}`, () => {
        const bytes = encodeBlock(block);
        const back = decodeBlock(bytes);
        expect(back).to.deep.equal(block);
        expect(hex(encodeBlock(back))).to.equal(hex(bytes));
        expect(hex(headerHash(back.header))).to.equal(hex(headerHash(block.header)));
      });
    }

    it("decodeBlock refuses undecodable bytes with BLOCK_INVALID", () => {
      expectChainError(() => decodeBlock(Uint8Array.of(0xff)), BlockErrorCode.INVALID_BLOCK);
      expectChainError(() => decodeBlock(Uint8Array.of(0x9f, 0xff)), BlockErrorCode.INVALID_BLOCK);
    });

    it("encodeCommit/decodeCommit round-trip; commitHash is sha256 of it, zero for none", () => {
      const c = commit();
      expect(decodeCommit(encodeCommit(c))).to.deep.equal(c);
      expect(hex(commitHash(c))).to.equal(hex(H(encodeCommit(c))));
      expect(hex(commitHash(null))).to.equal(hex(ZERO_HASH));
      const c2 = commit();
      c2.sigs[1]!.sig[0]! ^= 1;
      expect(hex(commitHash(c2))).not.to.equal(hex(commitHash(c)));
    });

    it("JSON views use hex and ISO time", () => {
      const j = headerToJson(header());
      expect(j.time).to.equal("2023-11-14T22:13:20.000Z");
      expect(j.prevHash).to.equal("01".repeat(32));
      expect(j.proposer).to.equal("05".repeat(20));
      // The proof form differs in the time alone: ms since the epoch, the value the header hashes.
      const ms = headerToJson(header(), "ms");
      expect(ms.time).to.equal(header().time);
      expect({ ...ms, time: j.time }).to.deep.equal(j);
      expect(Object.keys(ms)).to.deep.equal(Object.keys(j));
      expect(commitToJson(null)).to.equal(null);
      expect(commitToJson(commit())).to.deep.equal({
        height: 4,
        round: 1,
        blockHash: "07".repeat(32),
        sigs: [
          { validator: "08".repeat(20), sig: "09".repeat(64) },
          { validator: "0a".repeat(20), sig: "0b".repeat(64) },
        ],
      });
    });
  });
});
