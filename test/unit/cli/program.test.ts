import { expect } from "chai";
import type { Command } from "commander";
import { buildProgram } from "../../../src/cli/program.js";

/** A command's tree as names, options and arguments, to compare trees built two ways. */
function shape(c: Command): unknown {
  return {
    name: c.name(),
    options: c.options.map((o) => o.flags),
    args: c.registeredArguments.map((a) => a.name()),
    commands: c.commands.map(shape),
  };
}

describe("cli program", () => {
  it("with no group named, holds every command group", async () => {
    const names = (await buildProgram()).commands.map((c) => c.name());
    expect(names).to.include.members(["init", "validator", "start", "status", "keys", "did", "issuer", "gov", "kyc"]);
    expect((await buildProgram(["node", "sid", "--help"])).commands.map((c) => c.name())).to.deep.equal(names);
    expect((await buildProgram(["node", "sid", "dids"])).commands.map((c) => c.name())).to.deep.equal(names);
  });

  it("a command naming its group gets that group exactly as the whole tree has it, and no other", async () => {
    const full = await buildProgram();
    for (const word of ["init", "validator", "start", "status", "keys", "did", "issuer", "gov", "kyc"]) {
      const lazy = await buildProgram(["node", "sid", word, "--help"]);
      const mine = lazy.commands.find((c) => c.name() === word);
      expect(mine, word).to.not.equal(undefined);
      expect(shape(mine!), word).to.deep.equal(shape(full.commands.find((c) => c.name() === word)!));
      expect(lazy.commands.length, word).to.be.below(full.commands.length);
    }
  });
});
