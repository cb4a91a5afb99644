/** `net_peers`: the node's connected p2p peers, for operators (`sid status`). */
import { type MethodTable, NO_PARAMS, defineMethod } from "./jsonrpc.js";

export interface PeerStatus {
  /** Node id (hex, 20 bytes). */
  id: string;
  /** Remote "host:port" of the connection (for an outbound peer, the address dialled). */
  address: string;
  direction: "inbound" | "outbound";
  /** Height the peer last announced; null before its first status. */
  height: number | null;
  /** Its score on this node: 0 is neutral, lower is worse, at the ban threshold it is dropped. */
  score: number;
  /** Where it listens ("ip:port"), when it said. */
  listenAddress: string | null;
  /** RFC 3339 time the connection was made. */
  connectedAt: string;
}

export interface NetReadApi {
  /** Connected peers; empty on a node without p2p. */
  peers(): PeerStatus[];
}

export function netMethods(net: NetReadApi): MethodTable {
  return {
    net_peers: defineMethod({
      description: "The connected p2p peers: node id, address, direction, announced height, score.",
      params: NO_PARAMS,
      handler: (): { count: number; peers: PeerStatus[] } => {
        const peers = net.peers();
        return { count: peers.length, peers };
      },
    }),
  };
}
