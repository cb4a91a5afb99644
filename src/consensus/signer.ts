/**
 * The validator's signer, with the double-sign guard of invariant 4: it
 * never signs two different messages for one height/round/step, and it
 * persists (and fsyncs) what it signs before the signature is returned.
 * An identical re-sign returns the stored signature.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { bytesEqual, fromHex, toHex } from "../crypto/bytes.js";
import { publicKeyOf, signDigest } from "../crypto/secp256k1.js";
import { type VoteTarget, voteSigningDigest } from "./vote.js";
import { validatorAddress } from "./validators.js";

export class DoubleSignError extends Error {
  readonly code = "DOUBLE_SIGN_REFUSED";
  constructor(message: string) {
    super(message);
    this.name = "DoubleSignError";
  }
}

interface LastSigned {
  height: number;
  round: number;
  step: number;
  digest: string;
  sig: string;
}

function cmp(a: { height: number; round: number; step: number }, b: { height: number; round: number; step: number }): number {
  return a.height - b.height || a.round - b.round || a.step - b.step;
}

/** Write a small file durably: temp file, fsync, rename, fsync the directory. */
export function writeFileDurable(path: string, data: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dirname(path), "r");
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

export class ValidatorSigner {
  readonly publicKey: Uint8Array;
  readonly address: Uint8Array;
  private last: LastSigned | undefined;
  private readonly statePath: string;

  constructor(
    private readonly secretKey: Uint8Array,
    stateDir: string,
  ) {
    this.publicKey = publicKeyOf(secretKey);
    this.address = validatorAddress(this.publicKey);
    this.statePath = join(stateDir, "validator_state.json");
    if (existsSync(this.statePath)) this.last = JSON.parse(readFileSync(this.statePath, "utf8")) as LastSigned;
  }

  sign(target: VoteTarget): Uint8Array {
    const digest = voteSigningDigest(target);
    const last = this.last;
    if (last) {
      const order = cmp(target, last);
      if (order < 0) {
        throw new DoubleSignError(`refusing to sign ${target.height}/${target.round}/${target.step}: already signed ${last.height}/${last.round}/${last.step}`);
      }
      if (order === 0) {
        if (bytesEqual(fromHex(last.digest), digest)) return fromHex(last.sig);
        throw new DoubleSignError(`refusing to sign a second, different message for ${target.height}/${target.round}/${target.step}`);
      }
    }
    const sig = signDigest(digest, this.secretKey);
    const next: LastSigned = { height: target.height, round: target.round, step: target.step, digest: toHex(digest), sig: toHex(sig) };
    writeFileDurable(this.statePath, JSON.stringify(next));
    this.last = next;
    return sig;
  }
}
