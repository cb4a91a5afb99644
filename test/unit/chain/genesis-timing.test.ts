/** Consensus timing as a chain parameter: genesis params.timing, its defaults, and the hash of a genesis without it. */
import { expect } from "chai";
import { toHex } from "../../../src/crypto/bytes.js";
import { GenesisError, consensusTiming, defaultConsensusTiming, genesisHash, parseGenesis } from "../../../src/chain/genesis.js";

const G = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
const base = {
  chainId: "sid-vec",
  genesisTime: "2026-01-01T00:00:00.000Z",
  validators: [{ name: "v0", publicKey: G, power: 10 }],
  params: { maxBlockTxs: 5000, maxBlockBytes: 8388608 },
};

describe("chain: genesis consensus timing", () => {
  it("a genesis without timing keeps the hash it had before timing existed, and reads the devnet defaults", () => {
    const g = parseGenesis(base);
    expect("timing" in g.params).to.equal(false);
    // Computed with the code before params.timing existed: chains started then keep their genesis hash.
    expect(toHex(genesisHash(g))).to.equal("0441ebfe30cf860ad752079309de3d2e5d19b6103f5154a02c79dee84df58549");
    expect(consensusTiming(g.params)).to.deep.equal({ proposeMs: 1000, prevoteMs: 500, precommitMs: 500, deltaMs: 250, commitMs: 200 });
    expect(consensusTiming(g.params)).to.deep.equal(defaultConsensusTiming);
  });

  it("a genesis with timing carries it, fills missing keys from the defaults, and hashes it", () => {
    const g = parseGenesis({ ...base, params: { ...base.params, timing: { proposeMs: 400, commitMs: 150 } } });
    expect(g.params.timing).to.deep.equal({ proposeMs: 400, prevoteMs: 500, precommitMs: 500, deltaMs: 250, commitMs: 150 });
    expect(consensusTiming(g.params).proposeMs).to.equal(400);
    expect(toHex(genesisHash(g))).to.not.equal(toHex(genesisHash(parseGenesis(base))));
    // Deterministic: the same file parsed twice, or written back and parsed again, hashes the same.
    const again = parseGenesis(JSON.parse(JSON.stringify(g)));
    expect(toHex(genesisHash(again))).to.equal(toHex(genesisHash(g)));
  });

  for (const [what, timing] of [
    ["a negative timeout", { prevoteMs: -1 }],
    ["a fraction", { deltaMs: 1.5 }],
    ["a string", { commitMs: "200" }],
    ["more than an hour", { proposeMs: 3_600_001 }],
    ["a zero propose timeout", { proposeMs: 0 }],
    ["an unknown key", { proposeMS: 1000 }],
    ["not an object", [1000]],
  ] as const) {
    it(`refuses ${what} with GENESIS_INVALID`, () => {
      expect(() => parseGenesis({ ...base, params: { ...base.params, timing } })).to.throw(GenesisError, /params\.timing/);
    });
  }
});
