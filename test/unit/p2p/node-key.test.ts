/** The node key file: created once with mode 0600, loaded unchanged, refused when damaged. */
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256 } from "../../../src/crypto/hash.js";
import { P2pError, P2pErrorCode } from "../../../src/p2p/errors.js";
import { loadOrCreateNodeKey, nodeKeyPath } from "../../../src/p2p/node-key.js";
import { expectCodedError, hex } from "../../helpers/fixtures.js";

describe("p2p/node-key", () => {
  let home: string;
  beforeEach(() => (home = mkdtempSync(join(tmpdir(), "sid-nodekey-"))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it("creates <home>/config/node_key.json with mode 0600, then loads the same key", () => {
    const path = nodeKeyPath(home);
    expect(path).to.equal(join(home, "config", "node_key.json"));
    const k1 = loadOrCreateNodeKey(path);
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    expect(k1.nodeId).to.equal(hex(sha256(k1.publicKey).subarray(0, 20)));
    const file = JSON.parse(readFileSync(path, "utf8"));
    expect(file).to.deep.equal({ nodeId: k1.nodeId, publicKey: hex(k1.publicKey), secretKey: hex(k1.secretKey) });
    const k2 = loadOrCreateNodeKey(path);
    expect(k2.nodeId).to.equal(k1.nodeId);
    expect(hex(k2.secretKey)).to.equal(hex(k1.secretKey));
  });

  it("refuses a damaged file instead of replacing the key", () => {
    const path = nodeKeyPath(home);
    const k = loadOrCreateNodeKey(path);
    const cases: [string, string][] = [
      ["not JSON", "{"],
      ["not an object", "[]"],
      ["short secret", JSON.stringify({ secretKey: "00" })],
      ["secret out of range", JSON.stringify({ secretKey: "00".repeat(32) })],
      ["id of another key", JSON.stringify({ nodeId: "00".repeat(20), secretKey: hex(k.secretKey) })],
      ["public key of another key", JSON.stringify({ publicKey: "02" + "00".repeat(32), secretKey: hex(k.secretKey) })],
    ];
    for (const [what, text] of cases) {
      writeFileSync(path, text);
      const e = expectCodedError(() => loadOrCreateNodeKey(path), P2pError, P2pErrorCode.NODE_KEY_INVALID);
      expect(e.message, what).to.contain(path);
      expect(readFileSync(path, "utf8"), what).to.equal(text);
    }
  });
});
