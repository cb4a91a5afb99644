/** The p2p room's public API: what the node and the consensus driver may use. */
export { type P2pOptions, defaultP2pOptions, resolveP2pOptions } from "./options.js";
export { P2pError, P2pErrorCode, P2P_CLOSE_CODES, penaltyOf } from "./errors.js";
export { type PeerAddress, parsePeerAddress, formatAddress } from "./address.js";
export { type NodeKey, type NodeKeyFile, NODE_KEY_FILE, loadOrCreateNodeKey, nodeIdOf, nodeKeyOf, nodeKeyPath } from "./node-key.js";
export { Channel, type Frame, decodeFrame, encodeFrame } from "./frames.js";
export { HANDSHAKE_DOMAIN, P2P_PROTOCOL_VERSION, type RemoteIdentity, handshakeDigest } from "./handshake.js";
export { Penalty } from "./limits.js";
export type { Direction, PeerInfo } from "./peer.js";
export {
  type ChannelHandler,
  type GossipMode,
  type NetworkCounters,
  type P2pDeps,
  type P2pNetworkEvents,
  type PenaltyEvent,
  P2pNetwork,
} from "./network.js";
export {
  type TxAdmit,
  type TxFault,
  type TxGossipCounters,
  type TxGossipDeps,
  MAX_TX_BATCH,
  MAX_TX_BATCH_BYTES,
  MAX_TX_BATCH_FRAME_BYTES,
  TxGossip,
  decodeTxBatch,
} from "./tx-gossip.js";
export {
  type BlockSyncDeps,
  type BlockSyncOptions,
  type BlockSyncerEvents,
  type SyncProgress,
  BlockSync,
  BlockSyncer,
  defaultBlockSyncOptions,
  resolveBlockSyncOptions,
} from "./sync.js";
export { type BlockSource, BlockSyncServer } from "./sync-server.js";
export {
  type BlocksMessage,
  type GetBlocksMessage,
  type StatusMessage,
  type SyncMessage,
  type SyncedBlock,
  MAX_BLOCKS_PER_REQUEST,
  decodeSyncMessage,
} from "./sync-messages.js";
