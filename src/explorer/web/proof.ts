/**
 * Checks a proven resolution in the browser with the SDK's own light-client
 * code: the trusted validators come from the genesis file, the proof's
 * header is reached from genesis by skipping verification (headers and sets
 * fetched from this node and checked), and the verdict is the SDK's. The genesis is fetched from this node, so the page shows its
 * hash for a person to compare with a copy they trust.
 */
import { LightClient, RpcLightBlockSource, ValidatorSetTracker } from "../../client/trust.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { rpc } from "./api.js";

let tracker: Promise<{ client: LightClient; genesisSha256: string }> | undefined;

/** One light client per page load: headers it trusted once serve the next check. */
function loadTracker(): Promise<{ client: LightClient; genesisSha256: string }> {
  tracker ??= (async () => {
    const r = await fetch("/genesis.json");
    if (!r.ok) throw new Error(`the node did not serve its genesis (HTTP ${r.status})`);
    const text = await r.text();
    const digest = sha256(new TextEncoder().encode(text));
    return { client: new LightClient(ValidatorSetTracker.fromGenesis(JSON.parse(text)), new RpcLightBlockSource({ call: rpc })), genesisSha256: [...digest].map((b) => b.toString(16).padStart(2, "0")).join("") };
  })();
  tracker.catch(() => (tracker = undefined));
  return tracker;
}

export interface ProofVerdict {
  ok: boolean;
  text: string;
  detail: string;
}

export async function checkResolutionProof(did: string): Promise<ProofVerdict> {
  try {
    const { client, genesisSha256 } = await loadTracker();
    const answer = await rpc<unknown>("did_resolve", { did, proof: true });
    const v = await client.verifyResolution(answer, did, "skipping");
    const state = v.record === null ? "proven not registered" : "proven";
    return {
      ok: true,
      text: `Proof verified: the document is ${state} at height ${v.height} (${new Date(v.time).toISOString()}), committed by more than 2/3 of the validators' power`,
      detail: `block ${v.blockHash}, state root ${v.stateRoot}; trusted validators from genesis.json with sha256 ${genesisSha256}`,
    };
  } catch (e) {
    const err = e as Error & { code?: string };
    return { ok: false, text: `Proof rejected${err.code ? ` (${err.code})` : ""}: ${err.message}`, detail: "" };
  }
}
