/**
 * What the BFT engine reads back from its WAL when a height starts: the
 * messages this node signed at that height (answers to the machine's
 * repeated requests: never a new signature, invariant 4) and the inputs to
 * replay through the machine, in order, so the round state and lock come
 * back.
 */
import type { Proposal, Vote, VoteType } from "./messages.js";
import type { ConsensusWal } from "./wal.js";
import { type WalRecord, decodeWalRecord } from "./wal-records.js";

/** The signed records of the height being replayed, by round and vote type. */
export interface SignedHistory {
  votes: Map<string, Vote>;
  proposals: Map<number, { proposal: Proposal; block: Uint8Array | null }>;
}

export const voteKey = (round: number, type: VoteType) => `${round}/${type}`;

export function emptySignedHistory(): SignedHistory {
  return { votes: new Map(), proposals: new Map() };
}

export function recordHeight(r: WalRecord): number {
  switch (r.kind) {
    case "proposal":
    case "signedProposal":
      return r.proposal.height;
    case "vote":
    case "signedVote":
      return r.vote.height;
    case "timeout":
      return r.height;
  }
}

/** The WAL's records of `height`: what this node signed, and the inputs to replay (none without a WAL). */
export async function readHeightWal(wal: ConsensusWal | null, height: number): Promise<{ signed: SignedHistory; inputs: WalRecord[] }> {
  const signed = emptySignedHistory();
  const inputs: WalRecord[] = [];
  if (!wal) return { signed, inputs };
  const { records } = await wal.replay();
  for (const bytes of records) {
    const r = decodeWalRecord(bytes);
    if (recordHeight(r) !== height) continue;
    if (r.kind === "signedVote") signed.votes.set(voteKey(r.vote.round, r.vote.type), r.vote);
    else if (r.kind === "signedProposal") signed.proposals.set(r.proposal.round, { proposal: r.proposal, block: r.block });
    else inputs.push(r);
  }
  return { signed, inputs };
}
