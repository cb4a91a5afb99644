/** Small DID records for the snapshot tests: a state of any size without txs. */
import type { StateRecord } from "../../src/chain/state.js";

/** The DID record numbered `i`, under `did:sid:<prefix><i, six digits>`, one version at height 1. */
export function numberedDidRecord(i: number, prefix = "test"): StateRecord {
  const did = `did:sid:${prefix}${i.toString().padStart(6, "0")}`;
  return {
    did,
    document: { id: did, controller: did } as never,
    versionId: 1,
    nonce: 1,
    created: 1000,
    updated: 1000,
    createdHeight: 1,
    updatedHeight: 1,
    deactivated: false,
  } as StateRecord;
}
