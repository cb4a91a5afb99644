/**
 * The network side's check of a peer's consensus message, against the
 * validator set of the message's height: a proposal signed by that height's
 * member, carrying a block that decodes and hashes to the signed blockHash; a
 * vote signed by a member. Stateless and cheap beside executing a block: it
 * runs before a message is queued for the engine's loop or relayed, and a
 * refusal is the sender's fault.
 */
import { bytesEqual } from "../crypto/bytes.js";
import { type Block, decodeBlock, headerHash } from "../chain/block.js";
import { type Proposal, type Vote, verifyProposal, verifyVote } from "./messages.js";
import type { ValidatorSet } from "../chain/validator-set.js";

/** A message that passed (with a proposal's block decoded), or why it was refused. */
export type AdmissionCheck = { ok: true; block?: Block } | { ok: false; refused: string };

/** A consensus message as it travels (bft-engine's WireConsensusMessage): a proposal carries its whole block. */
type ConsensusMessage = { kind: "proposal"; proposal: Proposal; block: Uint8Array } | { kind: "vote"; vote: Vote };

export function checkConsensusMessage(chainId: string, msg: ConsensusMessage, set: ValidatorSet): AdmissionCheck {
  if (msg.kind === "vote") return verifyVote(chainId, msg.vote, set) ? { ok: true } : { ok: false, refused: "vote with a bad signature or from a non-validator" };
  if (!verifyProposal(chainId, msg.proposal, set)) return { ok: false, refused: "proposal with a bad signature or from a non-validator" };
  let block: Block;
  try {
    block = decodeBlock(msg.block);
  } catch (e) {
    return { ok: false, refused: `proposal with an undecodable block: ${(e as Error).message}` };
  }
  if (!bytesEqual(headerHash(block.header), msg.proposal.blockHash)) return { ok: false, refused: "proposal whose block does not hash to its blockHash" };
  return { ok: true, block };
}
