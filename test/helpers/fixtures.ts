/**
 * Shared fixtures for the chain and crypto unit tests: a fixed test
 * mnemonic and keys, a Map-backed state view, tx builders that return a
 * CheckedTx, and assertions on typed errors.
 */
import { expect } from "chai";
import { deriveKey, type KeyPair } from "../../src/crypto/hd.js";
import { publicKeyOf } from "../../src/crypto/secp256k1.js";
import { buildInitialDocument, type DidDocument } from "../../src/did/document.js";
import { createDidTx, deactivateDidTx, updateDidTx, type SignedTx, type WriteParams } from "../../src/client/txs.js";
import { ChainError } from "../../src/chain/errors.js";
import { type CheckedTx, type ExecContext, SignatureVerifier } from "../../src/chain/execute.js";
import { type DidRecord, type StateView, type StateRecord, stateIdOf } from "../../src/chain/state.js";
import { txHash } from "../../src/chain/tx.js";
import { toHex } from "../../src/crypto/bytes.js";
import { didKeyOf } from "./hd-fast.js";

/** BIP39 test mnemonic (eleven "abandon" + "about"): public, for tests only. */
export const TEST_MNEMONIC =
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

export const CHAIN_ID = "sid-test";

/**
 * Keys at m/44'/0'/0'/0/<index> of the test mnemonic, derived once each.
 * Index 0 comes from the SDK's deriveKey; the others from the same
 * derivation with a native BIP39 seed (test/helpers/hd-fast.ts), which is
 * checked to give deriveKey's key at index 0 before it is trusted: the
 * pure-JS seed takes about 50 ms per key and blocks the event loop.
 */
const derived = new Map<number, KeyPair>();
export function testKey(index: number): KeyPair {
  let k = derived.get(index);
  if (!k) {
    if (!derived.has(0)) {
      const sdk = deriveKey(TEST_MNEMONIC, 0);
      if (toHex(didKeyOf(TEST_MNEMONIC, 0).secretKey) !== toHex(sdk.secretKey)) throw new Error("hd-fast derivation differs from deriveKey");
      derived.set(0, sdk);
    }
    k = derived.get(index) ?? didKeyOf(TEST_MNEMONIC, index);
    derived.set(index, k);
  }
  return k;
}

/** A key pair from a fixed secret filled with one byte (fast: no BIP32). */
export function fixedKey(fill: number): KeyPair {
  const secretKey = new Uint8Array(32).fill(fill);
  return { secretKey, publicKey: publicKeyOf(secretKey) };
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

export function unhex(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h, "hex"));
}

/** A signed tx as block execution sees it. */
export function checked(s: SignedTx): CheckedTx {
  return { tx: s.tx, encoded: s.encoded, hash: txHash(s.encoded) };
}

/** A DID with its key and current document, for building txs in tests. */
export interface TestDid {
  key: KeyPair;
  did: string;
  doc: DidDocument;
  keyId: string;
}

export function testDid(key: KeyPair): TestDid {
  const doc = buildInitialDocument(key.publicKey);
  return { key, did: doc.id, doc, keyId: `${doc.id}#key-1` };
}

export function createTx(d: TestDid, chainId = CHAIN_ID): CheckedTx {
  return checked(createDidTx(chainId, d.key, d.doc));
}

/** Write params for `target`, signed by `signer` (default: the target itself with its #key-1). */
export function writeParams(
  target: TestDid,
  prevVersionId: number | string,
  seq: number,
  signer: { did: string; keyId: string; secretKey: Uint8Array } = { did: target.did, keyId: target.keyId, secretKey: target.key.secretKey },
  chainId = CHAIN_ID,
): WriteParams {
  return {
    chainId,
    did: target.did,
    prevVersionId: String(prevVersionId),
    signer: signer.did,
    seq,
    vm: signer.keyId,
    secretKey: signer.secretKey,
  };
}

export function updateTx(p: WriteParams, doc: DidDocument): CheckedTx {
  return checked(updateDidTx(p, doc));
}

export function deactivateTx(p: WriteParams): CheckedTx {
  return checked(deactivateDidTx(p));
}

/** A Map-backed DidStateView. */
export class MapView implements StateView {
  readonly records = new Map<string, StateRecord>();
  get(id: string): StateRecord | undefined {
    return this.records.get(id);
  }
  getDid(did: string): DidRecord | undefined {
    return this.records.get(did) as DidRecord | undefined;
  }
  put(...records: StateRecord[]): this {
    for (const r of records) this.records.set(stateIdOf(r), r);
    return this;
  }
}

export function execContext(overrides: Partial<ExecContext> = {}): ExecContext {
  return { chainId: CHAIN_ID, height: 7, time: 1_700_000_000_000, verifier: new SignatureVerifier(), ...overrides };
}

/** Runs fn, expects a ChainError with `code`, returns it. */
export function expectChainError(fn: () => unknown, code: string): ChainError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ChainError ${code}`).to.be.instanceOf(ChainError);
  expect((thrown as ChainError).code).to.equal(code);
  return thrown as ChainError;
}

export async function expectChainErrorAsync(p: Promise<unknown>, code: string): Promise<ChainError> {
  let thrown: unknown;
  try {
    await p;
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ChainError ${code}`).to.be.instanceOf(ChainError);
  expect((thrown as ChainError).code).to.equal(code);
  return thrown as ChainError;
}

/** Runs fn, expects an error of class `cls` whose `code` is `code`. */
export function expectCodedError<E extends Error & { code: string }>(
  fn: () => unknown,
  cls: new (...args: never[]) => E,
  code: string,
): E {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ${cls.name} ${code}`).to.be.instanceOf(cls);
  expect((thrown as E).code).to.equal(code);
  return thrown as E;
}
