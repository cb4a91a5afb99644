import { expect } from "chai";
import { TxPreverifier } from "../../../src/chain/preverify.js";
import { ChainError } from "../../../src/chain/errors.js";
import { decodeTx, encodeTx } from "../../../src/chain/tx.js";
import { Mempool, defaultMempoolOptions } from "../../../src/chain/mempool.js";
import { SignatureVerifier } from "../../../src/chain/execute.js";
import { sealTx } from "../../../src/client/txs.js";
import { malleate } from "../../../src/crypto/secp256k1.js";
import { CHAIN_ID, createTx, fixedKey, hex, testDid, updateTx, writeParams } from "../../helpers/fixtures.js";

describe("chain/preverify: stateless checks on a worker thread", function () {
  this.timeout(20_000);
  let pv: TxPreverifier;
  before(() => (pv = new TxPreverifier(CHAIN_ID)));
  after(() => pv.close());

  async function codeOf(p: Promise<unknown>): Promise<string> {
    try {
      await p;
    } catch (e) {
      expect(e).to.be.instanceOf(ChainError);
      return (e as ChainError).code;
    }
    throw new Error("expected a rejection");
  }

  it("decodes like decodeTx and verifies a create's signature against its own document", async () => {
    const d = testDid(fixedKey(1));
    const c = createTx(d);
    const r = await pv.preverify(c.encoded);
    expect(r.tx).to.deep.equal(decodeTx(c.encoded, CHAIN_ID));
    expect(hex(r.hash)).to.equal(hex(c.hash));
    expect(r.verifiedKey).to.equal(hex(d.key.publicKey));
  });

  it("leaves a create whose signature fails, and every update, unverified", async () => {
    const d = testDid(fixedKey(2));
    const forged = sealTx({ ...createTx(d).tx }, fixedKey(3).secretKey);
    expect((await pv.preverify(forged.encoded)).verifiedKey).to.equal(undefined);
    const u = updateTx(writeParams(d, 1, 1), d.doc);
    expect((await pv.preverify(u.encoded)).verifiedKey).to.equal(undefined);
  });

  it("answers with decodeTx's typed errors", async () => {
    const d = testDid(fixedKey(4));
    expect(await codeOf(pv.preverify(new Uint8Array([1, 2, 3])))).to.equal("TX_DECODE");
    expect(await codeOf(pv.preverify(createTx(d, "other-chain").encoded))).to.equal("TX_WRONG_CHAIN");
    const c = createTx(d);
    const high = encodeTx({ ...c.tx, sig: malleate(c.tx.sig) });
    expect(await codeOf(pv.preverify(high))).to.equal("TX_HIGH_S_SIGNATURE");
  });

  it("handles many requests of one turn as one batch, each with its own answer", async () => {
    const txs = Array.from({ length: 50 }, (_, i) => createTx(testDid(fixedKey(10 + i))));
    const out = await Promise.all(txs.map((c) => pv.preverify(c.encoded)));
    out.forEach((r, i) => expect(hex(r.hash)).to.equal(hex(txs[i]!.hash)));
  });

  it("the mempool checks inline when the worker is gone", async () => {
    const dead = new TxPreverifier(CHAIN_ID);
    await dead.close();
    expect(dead.available).to.equal(false);
    const pool = new Mempool(defaultMempoolOptions, {
      chainId: CHAIN_ID,
      verifier: new SignatureVerifier(),
      loadState: async (dids) => new Map([...dids].map((x) => [x, undefined])),
      isCommitted: async () => false,
      nextBlock: () => ({ height: 1, time: 1 }),
      preverifier: dead,
    });
    const c = createTx(testDid(fixedKey(99)));
    await pool.add(c.encoded);
    expect(pool.has(c.hash)).to.equal(true);
  });
});
