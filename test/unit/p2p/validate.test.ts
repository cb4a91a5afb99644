/**
 * WireCheck and the option checks of the rooms say a fault with the check
 * kit's wording, each through its own room's typed error.
 */
import { expect } from "chai";
import { InvalidArgumentError } from "commander";
import { intSettingFault } from "../../../src/check/index.js";
import { parsePort } from "../../../src/cli/options.js";
import { ConsensusError, ConsensusErrorCode } from "../../../src/consensus/errors.js";
import { tendermintOptions } from "../../../src/consensus/options.js";
import { P2pError, P2pErrorCode } from "../../../src/p2p/errors.js";
import { resolveP2pOptions } from "../../../src/p2p/options.js";
import { WireCheck } from "../../../src/p2p/validate.js";
import { resolveRpcOptions } from "../../../src/rpc/options.js";

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return expect.fail("nothing was thrown");
}

describe("p2p: wire field checks and option checks with the check kit", () => {
  const check = new WireCheck(P2pErrorCode.INVALID_MESSAGE);

  const wireCases: [string, () => unknown, RegExp][] = [
    ["a map expected", () => check.record([1], "status", ["height"]), /^status: expected a map$/],
    ["a missing field", () => check.record({}, "status", ["height"]), /^status\.height: required$/],
    ["an unexpected field", () => check.record({ height: 1, x: 2 }, "status", ["height"]), /^status: unexpected field "x"$/],
    ["a fraction", () => check.int(1.5, "status.height", 0, 10), /^status\.height: expected integer$/],
    ["above the range", () => check.int(11, "status.height", 0, 10), /^status\.height: greater than maximum 10$/],
    ["short bytes", () => check.bytes(new Uint8Array(31), "vote.blockHash", 32), /^vote\.blockHash: expected 32 bytes, got 31$/],
    ["not bytes", () => check.bytes("00", "vote.blockHash", 32), /^vote\.blockHash: expected bytes$/],
    ["a long string", () => check.string("abcd", "hello.moniker", 3), /^hello\.moniker: longer than 3 characters$/],
    ["a long array", () => check.array([1, 2], "blocks.items", 1), /^blocks\.items: more than 1 items: expected at most 1$/],
  ];
  for (const [what, f, message] of wireCases) {
    it(`refuses ${what} with the check's code and the kit's wording`, () => {
      const e = thrown(f);
      expect(e).to.be.instanceOf(P2pError);
      expect((e as P2pError).code).to.equal(P2pErrorCode.INVALID_MESSAGE);
      expect((e as Error).message).to.match(message);
    });
  }

  it("accepts values of the shape and returns them", () => {
    const bytes = new Uint8Array(32);
    expect(check.record({ height: 1 }, "status", ["height"], ["base"])).to.deep.equal({ height: 1 });
    expect(check.int(10, "h", 0, 10)).to.equal(10);
    expect(check.bytes(bytes, "b", 32)).to.equal(bytes);
    expect(check.string("abc", "s", 3)).to.equal("abc");
    expect(check.array([1], "a", 1)).to.deep.equal([1]);
  });

  it("says the same integer fault the same way in every room's options, each with its own error", () => {
    const rpc = thrown(() => resolveRpcOptions({ port: 70000 }));
    expect(rpc).to.be.instanceOf(RangeError);
    expect((rpc as Error).message).to.equal(`rpc option ${intSettingFault("port", 70000, 0, 65535)}`);

    const p2p = thrown(() => resolveP2pOptions({ port: 70000 }));
    expect(p2p).to.be.instanceOf(P2pError);
    expect((p2p as P2pError).code).to.equal(P2pErrorCode.BAD_OPTION);
    expect((p2p as Error).message).to.equal(`p2p option ${intSettingFault("port", 70000, 0, 65535)}`);

    const consensus = thrown(() => tendermintOptions({ proposeMs: -1 }));
    expect(consensus).to.be.instanceOf(ConsensusError);
    expect((consensus as ConsensusError).code).to.equal(ConsensusErrorCode.BAD_OPTIONS);
    expect((consensus as Error).message).to.equal(intSettingFault("proposeMs", -1, 0, 3_600_000));
    expect((consensus as Error).message).to.equal("proposeMs: less than minimum 0 (an integer in [0, 3600000]), got -1");

    const cli = thrown(() => parsePort("70000"));
    expect(cli).to.be.instanceOf(InvalidArgumentError);
    expect((cli as Error).message).to.match(/^greater than maximum 65535: expected a port number 0-65535$/);
  });
});
