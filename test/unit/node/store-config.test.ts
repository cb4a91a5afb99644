/**
 * node.json "store": the memory of the chain store's caches. A value given
 * there reaches the store; a bad one stops the node before it binds a port,
 * naming node.json and the key.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VALIDATORS_ID } from "../../../src/chain/validators.js";
import { initHome, homePaths } from "../../../src/node/home.js";
import { SidNode } from "../../../src/node/node.js";
import { createLogger } from "../../../src/log/logger.js";

/** A dev home whose node.json is `config`. */
async function homeWith(config: unknown): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), "sid-store-cfg-"));
  await initHome(home, { dev: true });
  writeFileSync(homePaths(home).configFile, JSON.stringify(config));
  return home;
}

/** The error SidNode.start throws for the home, or the node it started. */
async function start(home: string): Promise<SidNode | { code?: string; message: string }> {
  return SidNode.start({ home, dev: true, rpc: { host: "127.0.0.1", port: 19403 }, mempool: {} }, createLogger(() => {})).catch((e: { code?: string; message: string }) => e);
}

/** Cache entries after reading the validators record (every chain keeps it in state) twice. */
async function cachedAfterReads(node: SidNode): Promise<number> {
  for (let round = 0; round < 2; round++) expect(await node.store.getRecord(VALIDATORS_ID)).to.not.equal(undefined);
  return node.store.records.cacheUse().entries;
}

describe("node: node.json store settings", function () {
  this.timeout(30_000);

  it("recordCacheBytes reaches the store: 0 caches no record, the default caches what was read", async () => {
    for (const [config, cached] of [
      [{ store: { recordCacheBytes: 0, smtCacheSize: 0 } }, false],
      [{}, true],
    ] as const) {
      const home = await homeWith(config);
      try {
        const node = await start(home);
        if (!(node instanceof SidNode)) throw new Error(`the node did not start: ${node.message}`);
        try {
          const entries = await cachedAfterReads(node);
          if (cached) expect(entries, JSON.stringify(config)).to.be.greaterThan(0);
          else expect(entries, JSON.stringify(config)).to.equal(0);
        } finally {
          await node.stop();
        }
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    }
  });

  it("refuses a bad store value with NODE_CONFIG naming node.json and the key", async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ store: { recordCacheBytes: -1 } }, /store\.recordCacheBytes: less than minimum 0/],
      [{ store: { smtCacheSize: 1.5 } }, /store\.smtCacheSize: expected integer/],
      [{ store: { smtCacheSize: 40_000_001 } }, /store\.smtCacheSize: greater than maximum 40000000/],
      [{ store: { smtCacheSize: "1000" } }, /store\.smtCacheSize: expected integer/],
      [{ store: { recordCache: 5 } }, /store\.recordCache: unknown setting/],
      [{ store: [] }, /store: expected an object/],
      [{ store: null }, /store: expected an object/],
    ];
    for (const [config, message] of cases) {
      const home = await homeWith(config);
      try {
        const err = await start(home);
        if (err instanceof SidNode) {
          await err.stop();
          expect.fail(`${JSON.stringify(config)} was accepted`);
        }
        expect(err.code, JSON.stringify(config)).to.equal("NODE_CONFIG");
        expect(err.message).to.contain(homePaths(home).configFile);
        expect(err.message).to.match(message);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    }
  });
});
