/**
 * Block production for one validator, and invariant 1 (determinism): a
 * second store that re-executes the same blocks reaches the same state root
 * at every height.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addVerificationMethod } from "../../../src/did/document-edit.js";
import { type Block, headerHash, txMerkleRoot } from "../../../src/chain/block.js";
import type { CheckedTx } from "../../../src/chain/execute.js";
import { ChainStore } from "../../../src/chain/store.js";
import { txHash } from "../../../src/chain/tx.js";
import { verifyCommit } from "../../../src/chain/vote.js";
import { VALIDATORS, poolAndEngine, replayInto } from "../../helpers/chain.js";
import { CHAIN_ID, createTx, deactivateTx, fixedKey, hex, testDid, updateTx, writeParams } from "../../helpers/fixtures.js";

const GENESIS_HASH = new Uint8Array(32).fill(0x11);
const GENESIS_TIME = Date.parse("2026-01-01T00:00:00Z");

async function newChain(dir: string) {
  const store = await ChainStore.open(dir);
  await store.initGenesis(GENESIS_HASH, GENESIS_TIME);
  return { store, validators: VALIDATORS, ...(await poolAndEngine(store, 3)) };
}

describe("consensus/engine: single-validator blocks", function () {
  this.timeout(20_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "sid-engine-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("links blocks, carries each commit in the next block, and replays to the same state roots", async () => {
    const a = await newChain(join(dir, "a"));
    const alice = testDid(fixedKey(1));
    const bob = testDid(fixedKey(2));
    const carol = testDid(fixedKey(3));
    const k2 = fixedKey(4);
    const txs: CheckedTx[] = [
      createTx(alice),
      createTx(bob),
      createTx(carol),
      updateTx(writeParams(alice, 1, 1), addVerificationMethod(alice.doc, k2.publicKey, "key-2", ["authentication"])),
      deactivateTx(writeParams(bob, 1, 1)),
    ];
    for (const c of txs) await a.mempool.add(c.encoded);
    // maxBlockTxs is 3: two blocks hold the five txs, a third is empty (a heartbeat)
    const events = [await a.engine.produceBlock(), await a.engine.produceBlock(), await a.engine.produceBlock()];
    expect(events.map((e) => e.txs.length)).to.deep.equal([3, 2, 0]);
    expect(a.mempool.size).to.equal(0);

    const blocks: Block[] = [];
    for (let h = 1; h <= 3; h++) blocks.push((await a.store.getBlock(h))!);
    expect(hex(blocks[0]!.header.prevHash)).to.equal(hex(GENESIS_HASH));
    for (let i = 1; i < 3; i++) {
      const prevHash = headerHash(blocks[i - 1]!.header);
      expect(hex(blocks[i]!.header.prevHash)).to.equal(hex(prevHash));
      const lc = blocks[i]!.lastCommit!;
      expect(hex(lc.blockHash)).to.equal(hex(prevHash));
      expect(verifyCommit(CHAIN_ID, lc, a.validators)).to.equal(true);
      expect(blocks[i]!.header.time).to.be.greaterThan(blocks[i - 1]!.header.time);
    }
    expect(hex(blocks[2]!.header.stateRoot)).to.equal(hex(blocks[1]!.header.stateRoot)); // empty block: no change
    for (const b of blocks) expect(hex(b.header.txRoot)).to.equal(hex(txMerkleRoot(b.txs.map(txHash))));

    // Invariant 1: a fresh store re-executing the blocks reaches the same root at every height.
    const replica = await ChainStore.open(join(dir, "b"));
    await replica.initGenesis(GENESIS_HASH, GENESIS_TIME);
    await replayInto(a.store, replica);
    expect(await replica.getDid(bob.did)).to.deep.equal(await a.store.getDid(bob.did));
    expect((await replica.getDid(bob.did))!.deactivated).to.equal(true);
    await replica.close();
    await a.store.close();
  });

  it("leaves out a tx that became invalid and reports it, committing the rest", async () => {
    const c = await newChain(join(dir, "c"));
    const dave = testDid(fixedKey(5));
    const erin = testDid(fixedKey(8));
    await c.mempool.add(createTx(dave).encoded);
    await c.engine.produceBlock();
    // The pool holds an update of dave and a create of erin...
    const u1 = updateTx(writeParams(dave, 1, 1), addVerificationMethod(dave.doc, fixedKey(6).publicKey, "key-2", ["authentication"]));
    await c.mempool.add(u1.encoded);
    await c.mempool.add(createTx(erin).encoded);
    // ...when a block made elsewhere (a second pool and engine on the same store) commits a rival update.
    const other = await poolAndEngine(c.store, 3);
    const rival = updateTx(writeParams(dave, 1, 1), addVerificationMethod(dave.doc, fixedKey(7).publicKey, "key-3", ["authentication"]));
    await other.mempool.add(rival.encoded);
    await other.engine.produceBlock();
    const rejected: Array<{ hash: string; code: string }> = [];
    c.engine.on("txRejected", (d: { hash: Uint8Array; why: { code: string } }) => rejected.push({ hash: hex(d.hash), code: d.why.code }));
    const ev = await c.engine.produceBlock();
    expect(rejected).to.deep.equal([{ hash: hex(u1.hash), code: "DID_STALE_VERSION" }]);
    expect(ev.txs.map((t) => t.tx.signer)).to.deep.equal([erin.did]);
    expect(c.mempool.rejection(u1.hash)?.code).to.equal("DID_STALE_VERSION");
    expect((await c.store.getDid(dave.did))!.document.verificationMethod!.map((v) => v.id)).to.include(`${dave.did}#key-3`);
    await c.store.close();
  });
});

