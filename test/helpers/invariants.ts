/**
 * The invariant check that ends every fault and attack test: the nodes agree
 * on every block they share (same hash at every common height), on the state
 * at the common head (same state root), and every tx reported committed is
 * committed on every node at the same height.
 */
import type { RpcNode } from "./devnet.js";

export interface InvariantReport {
  commonHeight: number;
  stateRoot: string;
  txsChecked: number;
}

export async function checkInvariants(nodes: readonly RpcNode[], committedTxs: readonly string[] = []): Promise<InvariantReport> {
  if (nodes.length === 0) throw new Error("no nodes to check");
  const heights = await Promise.all(nodes.map((n) => n.height()));
  const common = Math.min(...heights);
  let root = "";
  for (let h = 1; h <= common; h++) {
    const blocks = await Promise.all(nodes.map((n) => n.rpc<{ hash: string; header: { stateRoot: string } }>("block_get", { height: h })));
    for (let i = 1; i < nodes.length; i++) {
      if (blocks[i]!.hash !== blocks[0]!.hash) throw new Error(`fork at height ${h}: ${nodes[0]!.name} has ${blocks[0]!.hash}, ${nodes[i]!.name} has ${blocks[i]!.hash}`);
    }
    // A header names the state root its block leaves (the same hash implies the same root; checked anyway, it is the state).
    for (let i = 1; i < nodes.length; i++) {
      if (blocks[i]!.header.stateRoot !== blocks[0]!.header.stateRoot) throw new Error(`state roots differ at height ${h}`);
    }
    root = blocks[0]!.header.stateRoot;
  }
  for (const hash of committedTxs) {
    const got = await Promise.all(nodes.map((n) => n.rpc<{ status: string; height?: number }>("tx_get", { hash })));
    for (let i = 0; i < nodes.length; i++) {
      if (got[i]!.status !== "committed" || got[i]!.height !== got[0]!.height) {
        throw new Error(`tx ${hash} reported committed is ${got[i]!.status} at height ${got[i]!.height} on ${nodes[i]!.name}`);
      }
    }
  }
  return { commonHeight: common, stateRoot: root, txsChecked: committedTxs.length };
}
