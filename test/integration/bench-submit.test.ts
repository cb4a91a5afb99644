/**
 * The benchmarks' submit (scripts/bench/measure.ts, submitTxs): a batch
 * sent again finds its txs pending or committed and counts them as
 * submitted, as after a connection lost with the answer; anything else the
 * node refuses is still an error.
 */
import { expect } from "chai";
import { submitTxs } from "../../scripts/bench/measure.js";
import { createDidTx } from "../../src/client/index.js";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { type NodeProcess, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";

describe("bench: submitting a batch again", function () {
  this.timeout(60_000);
  let node: NodeProcess;

  before(async () => {
    node = await startNodeProcess(tempHome("sid-bench-submit-"));
  });
  after(async () => {
    await node.stop();
    removeHome(node.home);
  });

  async function status(hash: string): Promise<string> {
    const res = await fetch(node.rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tx_get", params: { hash } }) });
    return ((await res.json()) as { result: { status: string } }).result.status;
  }

  it("takes txs already pending or committed as submitted, and throws for a tx the node refuses", async () => {
    const txs = Array.from({ length: 3 }, () => createDidTx("sid-dev", randomKeyPair()));
    await submitTxs(node.rpcUrl, txs.map((t) => t.base64));
    // At once: pending (or already committed); after the commit: committed. Neither is a failure.
    await submitTxs(node.rpcUrl, txs.map((t) => t.base64));
    for (let i = 0; i < 200 && (await status(txs[2]!.hash)) !== "committed"; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await status(txs[2]!.hash)).to.equal("committed");
    await submitTxs(node.rpcUrl, txs.map((t) => t.base64));
    let err: unknown;
    await submitTxs(node.rpcUrl, [txs[0]!.base64, "not a tx"]).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.match(/^tx_submit failed: /);
  });
});
