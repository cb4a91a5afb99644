/**
 * The validator's signer, with the double-sign guard of invariant 4: it
 * never signs two different messages for one height/round/step, and an
 * identical re-sign returns the same signature. Each signature comes with
 * the guard state the caller must make durable before the signature leaves
 * the node. The single-validator engine writes it in the same atomic batch
 * as the block it commits, so a crash can never leave a signed-but-unstored
 * vote (which would block the height on restart) or a stored block without
 * its guard state.
 */
import { bytesEqual, fromHex, toHex } from "../crypto/bytes.js";
import { publicKeyOf, signDigest } from "../crypto/secp256k1.js";
import { type VoteTarget, voteSigningDigest } from "./vote.js";
import { validatorAddress } from "./validators.js";
import { CodedError } from "../errors.js";

export class DoubleSignError extends CodedError<"DOUBLE_SIGN_REFUSED"> {
  constructor(message: string) {
    super("DOUBLE_SIGN_REFUSED", message);
  }
}

/** The last message signed: what the guard compares against. */
export interface SignState {
  height: number;
  round: number;
  step: number;
  digest: string;
  sig: string;
}

function cmp(a: { height: number; round: number; step: number }, b: { height: number; round: number; step: number }): number {
  return a.height - b.height || a.round - b.round || a.step - b.step;
}

export class ValidatorSigner {
  readonly publicKey: Uint8Array;
  readonly address: Uint8Array;

  constructor(
    private readonly secretKey: Uint8Array,
    private last: SignState | undefined,
  ) {
    this.publicKey = publicKeyOf(secretKey);
    this.address = validatorAddress(this.publicKey);
  }

  /** Sign `target`, or refuse with DoubleSignError if it conflicts with what was signed before. */
  sign(target: VoteTarget): { sig: Uint8Array; state: SignState } {
    const digest = voteSigningDigest(target);
    const last = this.last;
    if (last) {
      const order = cmp(target, last);
      if (order < 0) {
        throw new DoubleSignError(`refusing to sign ${target.height}/${target.round}/${target.step}: already signed ${last.height}/${last.round}/${last.step}`);
      }
      if (order === 0) {
        if (bytesEqual(fromHex(last.digest), digest)) return { sig: fromHex(last.sig), state: last };
        throw new DoubleSignError(`refusing to sign a second, different message for ${target.height}/${target.round}/${target.step}`);
      }
    }
    const sig = signDigest(digest, this.secretKey);
    const state: SignState = { height: target.height, round: target.round, step: target.step, digest: toHex(digest), sig: toHex(sig) };
    this.last = state;
    return { sig, state };
  }
}
