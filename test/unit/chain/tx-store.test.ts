import { expect } from "chai";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { createForKeyBytes, storedTxBytes, txFromStored } from "../../../src/chain/tx-store.js";
import { createDidTx, updateDidTx } from "../../../src/client/index.js";
import { deriveKey, randomKeyPair } from "../../../src/crypto/hd.js";
import { buildInitialDocument } from "../../../src/did/document.js";
import { addService } from "../../../src/did/document-edit.js";

const MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Keeps the tx as the store would, reads it back, and says whether the short form was used. */
function roundTrip(tx: Uint8Array): { short: boolean; back: Uint8Array; kept: Uint8Array } {
  const kept = storedTxBytes(tx);
  return { short: kept !== tx, back: txFromStored(kept), kept };
}

describe("chain/tx-store: the short form of a create of a key's initial document", () => {
  it("is the key, the signature and the chain id, and gives the SDK's tx back byte for byte", () => {
    const key = deriveKey(MNEMONIC, 0);
    const tx = createDidTx("sid-dev", key).encoded;
    const { short, back, kept } = roundTrip(tx);
    expect(short).to.equal(true);
    expect(kept.length).to.equal(1 + 32 + 32 + 64 + "sid-dev".length);
    expect(kept[0]).to.equal(0x01);
    expect(Buffer.from(kept.subarray(129)).toString()).to.equal("sid-dev");
    expect(hex(back)).to.equal(hex(tx));
    expect(tx.length).to.be.above(800);
  });

  it("pins the shape: fixed parts give fixed bytes (a change here misreads every tx kept short)", () => {
    const x = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
    const y = Uint8Array.from({ length: 32 }, (_, i) => 0xe0 - i);
    const sig = Uint8Array.from({ length: 64 }, (_, i) => (7 * i) & 0xff);
    const bytes = createForKeyBytes(x, y, sig, "sid-main");
    expect(bytes.length).to.equal(829);
    expect(sha(bytes)).to.equal("37e26e3b3d6bac02e41a9f6e49c53e169ba8a51e7379456c8dd17785165f370b");
  });

  it("round-trips creates over chain ids of any length and script, and DIDs of every id length", () => {
    const lengths = new Set<number>();
    for (const chainId of ["c", "sid-dev", "a-chain-id-of-exactly-24", "sid-テスト-ネット", "x".repeat(300)]) {
      for (let i = 0; i < 40; i++) {
        const signed = createDidTx(chainId, randomKeyPair());
        lengths.add(signed.tx.signer.length);
        const { short, back } = roundTrip(signed.encoded);
        expect(short, chainId).to.equal(true);
        expect(hex(back)).to.equal(hex(signed.encoded));
      }
    }
    expect(lengths.size, "DID lengths seen").to.be.at.least(2);
  });

  it("keeps every other tx whole: another document, an update", () => {
    const key = deriveKey(MNEMONIC, 1);
    const doc = addService(buildInitialDocument(key.publicKey), { id: `${buildInitialDocument(key.publicKey).id}#hub`, type: "LinkedDomains", serviceEndpoint: "https://example.org" });
    const withService = createDidTx("sid-dev", key, doc);
    const update = updateDidTx({ chainId: "sid-dev", did: doc.id, prevVersionId: "1", signer: doc.id, seq: 1, vm: `${doc.id}#key-1`, secretKey: key.secretKey }, doc);
    for (const tx of [withService.encoded, update.encoded]) {
      const { short, back } = roundTrip(tx);
      expect(short).to.equal(false);
      expect(back).to.equal(tx);
    }
  });

  it("keeps a tx whole when any one byte differs from the shape, and never gives back other bytes", () => {
    const signed = createDidTx("sid-dev", deriveKey(MNEMONIC, 2));
    const tx = signed.encoded;
    // The parts kept in the short form: the signature, y and the chain id (x makes the DID, named elsewhere too).
    const sigAt = Buffer.from(tx).indexOf(Buffer.from(signed.tx.sig));
    const yAt = Buffer.from(tx).indexOf(Buffer.from([0x61, 0x79, 0x78, 43])) + 4;
    const chainAt = Buffer.from(tx).indexOf("gchainIdgsid-dev") + 9;
    expect(sigAt).to.be.above(0);
    expect(yAt).to.be.above(4);
    expect(chainAt).to.be.above(9);
    fc.assert(
      fc.property(fc.nat({ max: tx.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, delta) => {
        const changed = tx.slice();
        changed[at] = (changed[at]! + delta) & 0xff;
        const { short, back } = roundTrip(changed);
        expect(hex(back)).to.equal(hex(changed));
        // Only the parts kept are free: any other change leaves the shape.
        const kept = (from: number, n: number): boolean => at >= from && at < from + n;
        if (short) expect(kept(sigAt, 64) || kept(yAt, 43) || kept(chainAt, 7), `byte ${at}`).to.equal(true);
      }),
      { numRuns: 400 },
    );
  });

  it("reads a short form that is cut or holds a chain id that is not UTF-8 as damage", () => {
    const kept = storedTxBytes(createDidTx("sid-dev", deriveKey(MNEMONIC, 3)).encoded);
    const damage = (bytes: Uint8Array): unknown => {
      try {
        txFromStored(bytes);
      } catch (e) {
        return e;
      }
      return undefined;
    };
    for (const bad of [kept.subarray(0, 100), Uint8Array.of(...kept.subarray(0, 129), 0xff, 0xfe)]) {
      const err = damage(bad) as { code?: string; message?: string };
      expect(err?.code).to.equal("LEVEL_CORRUPTION");
      expect(err?.message).to.match(/the store is damaged; resync/);
    }
    // A tx kept whole (a CBOR map) and nothing at all pass as they are.
    expect(damage(Uint8Array.of(0xa0))).to.equal(undefined);
    expect(txFromStored(new Uint8Array(0))).to.have.length(0);
  });
});
