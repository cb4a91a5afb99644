/**
 * The check every integration test that runs a network ends with: no fork
 * (the same block hash at every height up to the lowest common head, and the
 * same state root there), and nothing reported committed lost (every such
 * tx committed on every node, at the same height).
 */
import { expect } from "chai";
import { type RpcNode, checkNoFork, waitForHeight } from "./devnet.js";

export interface CommittedTx {
  /** The tx hash (hex) as tx_submit answered it. */
  hash: string;
  /** The height the submitting node reported it committed at. */
  height: number;
}

/**
 * The invariants over `nodes`: first every node reaches the highest height a
 * committed tx names (so the txs are there to be found), then the no-fork
 * check up to the common head, then each tx is looked up on every node.
 * Returns the common head.
 */
export async function checkInvariants(nodes: RpcNode[], committed: readonly CommittedTx[] = [], timeoutMs = 30_000): Promise<number> {
  if (committed.length > 0) await waitForHeight(nodes, Math.max(...committed.map((c) => c.height)), timeoutMs);
  const common = await checkNoFork(nodes);
  for (const n of nodes) {
    for (const c of committed) {
      const r = await n.rpc<{ status: string; height?: number }>("tx_get", { hash: c.hash });
      expect(r.status, `tx ${c.hash} on ${n.name}`).to.equal("committed");
      expect(r.height, `height of tx ${c.hash} on ${n.name}`).to.equal(c.height);
    }
  }
  return common;
}
