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
import { type VoteTarget, voteSigningDigest } from "../chain/vote.js";
import { validatorAddress } from "../chain/validator-set.js";
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

/** Where in the protocol a signature is given: the guard orders these. */
export interface SignPosition {
  height: number;
  round: number;
  step: number;
}

function cmp(a: SignPosition, b: SignPosition): number {
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
    return this.signAt(target, voteSigningDigest(target));
  }

  /**
   * Sign a digest computed by the caller at one height/round/step, under the
   * same guard as `sign`. Proposals need it: their digest has its own domain
   * and also commits to the POL round (consensus/messages.ts).
   */
  signAt(at: SignPosition, digest: Uint8Array): { sig: Uint8Array; state: SignState } {
    const last = this.last;
    if (last) {
      const order = cmp(at, last);
      if (order < 0) {
        throw new DoubleSignError(`refusing to sign ${at.height}/${at.round}/${at.step}: already signed ${last.height}/${last.round}/${last.step}`);
      }
      if (order === 0) {
        if (bytesEqual(fromHex(last.digest), digest)) return { sig: fromHex(last.sig), state: last };
        throw new DoubleSignError(`refusing to sign a second, different message for ${at.height}/${at.round}/${at.step}`);
      }
    }
    const sig = signDigest(digest, this.secretKey);
    const state: SignState = { height: at.height, round: at.round, step: at.step, digest: toHex(digest), sig: toHex(sig) };
    this.last = state;
    return { sig, state };
  }
}
