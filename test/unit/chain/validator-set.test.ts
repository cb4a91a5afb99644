/**
 * The validator set: addresses from keys, total power, the quorum (more
 * than 2/3), the hash every header carries, and the set in force at a
 * height (from state, or genesis when the chain keeps none), reused while
 * consecutive heights share it.
 */
import { expect } from "chai";
import { encodeCanonical } from "../../../src/chain/codec.js";
import type { ValidatorEntry } from "../../../src/chain/validators.js";
import { toHex } from "../../../src/crypto/bytes.js";
import { sha256 } from "../../../src/crypto/hash.js";
import { ValidatorSet, ValidatorSetsByHeight, validatorAddress } from "../../../src/chain/validator-set.js";
import { hex, testKey } from "../../helpers/fixtures.js";

const entry = (i: number, power: number, name = `v${i}`): ValidatorEntry => ({ name, publicKey: hex(testKey(i).publicKey), power });

describe("chain/validator-set", () => {
  it("an address is the first 20 bytes of sha256 of the compressed key", () => {
    const pub = testKey(0).publicKey;
    expect(toHex(validatorAddress(pub))).to.equal(toHex(sha256(pub)).slice(0, 40));
  });

  it("quorum is the least power above 2/3 of the total", () => {
    const q = (powers: number[]) => ValidatorSet.fromEntries(powers.map((p, i) => entry(i, p))).quorum();
    expect(q([10, 10, 10, 10])).to.equal(27); // 2/3 of 40 is 26.67
    expect(q([1, 1, 1])).to.equal(3); // 2 is exactly 2/3: not enough
    expect(q([7])).to.equal(5);
    expect(q([50, 25, 25])).to.equal(67);
    for (const powers of [[3], [1, 2], [4, 4, 4], [100, 1, 1, 1], [9, 9, 9, 9, 9, 9]]) {
      const set = ValidatorSet.fromEntries(powers.map((p, i) => entry(i, p)));
      expect(3 * set.quorum()).to.be.greaterThan(2 * set.totalPower);
      expect(3 * (set.quorum() - 1)).to.be.at.most(2 * set.totalPower);
    }
  });

  it("the hash commits to each member's address, key and power, in order; names do not count", () => {
    const a = ValidatorSet.fromEntries([entry(0, 10), entry(1, 5)]);
    const expected = sha256(encodeCanonical(a.validators.map((v) => ({ address: v.address, publicKey: v.publicKey, power: v.power }))));
    expect(toHex(a.hash)).to.equal(toHex(expected));
    expect(toHex(ValidatorSet.fromEntries([entry(0, 10, "renamed"), entry(1, 5, "other")]).hash)).to.equal(toHex(a.hash));
    expect(toHex(ValidatorSet.fromEntries([entry(1, 5), entry(0, 10)]).hash)).to.not.equal(toHex(a.hash));
    expect(toHex(ValidatorSet.fromEntries([entry(0, 10), entry(1, 6)]).hash)).to.not.equal(toHex(a.hash));
    expect(toHex(ValidatorSet.fromEntries([entry(0, 10), entry(2, 5)]).hash)).to.not.equal(toHex(a.hash));
  });

  it("byAddress finds a member by its address and nothing else", () => {
    const set = ValidatorSet.fromGenesis([entry(0, 10), entry(1, 5)]);
    expect(set.byAddress(validatorAddress(testKey(1).publicKey))?.name).to.equal("v1");
    expect(set.byAddress(validatorAddress(testKey(2).publicKey))).to.equal(undefined);
    expect(set.totalPower).to.equal(15);
  });

  describe("ValidatorSetsByHeight", () => {
    const genesis = ValidatorSet.fromGenesis([entry(0, 10)]);

    it("answers the state's set for a height, genesis when the state keeps none", async () => {
      const byHeight = new Map<number, ValidatorEntry[]>([[5, [entry(1, 3), entry(2, 4)]]]);
      const sets = new ValidatorSetsByHeight({ validatorSetAt: async (h) => byHeight.get(h) }, genesis);
      expect(await sets.at(1)).to.equal(genesis);
      const five = await sets.at(5);
      expect(five.totalPower).to.equal(7);
      expect(five.validators.map((v) => v.name)).to.deep.equal(["v1", "v2"]);
    });

    it("reuses the last set while the entries are the same, and builds a new one when they change", async () => {
      let entries = [entry(1, 3)];
      const sets = new ValidatorSetsByHeight({ validatorSetAt: async () => entries.map((e) => ({ ...e })) }, genesis);
      const first = await sets.at(10);
      expect(await sets.at(11)).to.equal(first);
      entries = [entry(1, 4)];
      const changed = await sets.at(12);
      expect(changed).to.not.equal(first);
      expect(changed.totalPower).to.equal(4);
    });
  });
});
