/**
 * Worker thread of the flood benchmark: one forged-tx flooder per target
 * (sybilFlood), off the thread of the honest load generator so that the
 * flood does not delay the honest clients' requests and answers. Posts the
 * flood results when told to stop.
 */
import { parentPort, workerData } from "node:worker_threads";
import { decodeTx } from "../../src/chain/tx.js";
import { Channel, encodeFrame } from "../../src/p2p/frames.js";
import { type HostileTarget, sybilFlood, withRandomSignature } from "../../test/helpers/hostile-peer.js";

interface FloodWorkerData {
  targets: HostileTarget[];
  chainId: string;
  /** The encoded update tx the flood copies with random signatures. */
  template: Uint8Array;
  batchTxs: number;
}

const data = workerData as FloodWorkerData;
const template = decodeTx(data.template, data.chainId);
let stop = false;
parentPort!.on("message", (m: unknown) => {
  if (m === "stop") stop = true;
});
const frame = () => encodeFrame(Channel.Tx, Array.from({ length: data.batchTxs }, () => withRandomSignature(template)));
const results = await Promise.all(
  data.targets.map((t) => sybilFlood(t, frame, { maxMessages: 10_000_000, maxMs: 600_000, maxConnections: 1_000_000 }, () => stop)),
);
parentPort!.postMessage(results);
