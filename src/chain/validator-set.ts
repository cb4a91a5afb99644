/**
 * The validator set: addresses, voting power, quorum and its hash (carried
 * in every block header).
 */
import { fromHex } from "../crypto/bytes.js";
import { sha256 } from "../crypto/hash.js";
import { encodeCanonical } from "./codec.js";
import type { GenesisValidator } from "./genesis.js";
import type { ValidatorEntry } from "./validators.js";

export interface Validator {
  name: string;
  address: Uint8Array;
  publicKey: Uint8Array;
  power: number;
}

/** A validator's address: the first 20 bytes of sha256 of its compressed key. */
export function validatorAddress(publicKey: Uint8Array): Uint8Array {
  return sha256(publicKey).slice(0, 20);
}

export class ValidatorSet {
  readonly totalPower: number;
  readonly hash: Uint8Array;

  constructor(readonly validators: readonly Validator[]) {
    this.totalPower = validators.reduce((s, v) => s + v.power, 0);
    this.hash = sha256(encodeCanonical(validators.map((v) => ({ address: v.address, publicKey: v.publicKey, power: v.power }))));
  }

  static fromGenesis(vs: readonly GenesisValidator[]): ValidatorSet {
    return new ValidatorSet(
      vs.map((v) => {
        const publicKey = fromHex(v.publicKey);
        return { name: v.name, publicKey, address: validatorAddress(publicKey), power: v.power };
      }),
    );
  }

  /** The set of state entries (the `validators:` record, ChainStore.validatorSetAt): same shape as genesis. */
  static fromEntries(vs: readonly ValidatorEntry[]): ValidatorSet {
    return ValidatorSet.fromGenesis(vs);
  }

  byAddress(address: Uint8Array): Validator | undefined {
    const hex = Buffer.from(address).toString("hex");
    return this.validators.find((v) => Buffer.from(v.address).toString("hex") === hex);
  }

  /** Power needed for a quorum: more than 2/3 of the total. */
  quorum(): number {
    return Math.floor((this.totalPower * 2) / 3) + 1;
  }
}

/** Where validator sets per height come from: ChainStore.validatorSetAt. */
export interface ValidatorSetSource {
  validatorSetAt(height: number): Promise<ValidatorEntry[] | undefined>;
}

/**
 * The set that signs `height`: the one the chain's state schedules for it,
 * or `genesis` on a chain that keeps no validator set in state. The last
 * answer is remembered, since consecutive heights almost always share a set.
 */
export class ValidatorSetsByHeight {
  private last: { entries: readonly ValidatorEntry[]; set: ValidatorSet } | undefined;
  constructor(
    private readonly source: ValidatorSetSource,
    private readonly genesis: ValidatorSet,
  ) {}

  async at(height: number): Promise<ValidatorSet> {
    const entries = await this.source.validatorSetAt(height);
    if (!entries) return this.genesis;
    const key = JSON.stringify(entries);
    if (this.last && JSON.stringify(this.last.entries) === key) return this.last.set;
    const set = ValidatorSet.fromEntries(entries);
    this.last = { entries, set };
    return set;
  }
}
