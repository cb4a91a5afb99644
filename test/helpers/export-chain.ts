/**
 * A chain with every kind of tx, built through the real block path (mempool,
 * single-validator engine, store): DID creates, updates and a deactivation,
 * governance proposals and approvals (an issuer added, then removed), and
 * status list publishes, in blocks of several txs and one empty block.
 */
import { genesisRecords, parseGenesis } from "../../src/chain/genesis.js";
import { DEFAULT_STATUS_LIST_BASE_URI } from "../../src/chain/genesis.js";
import type { GovAction } from "../../src/chain/state.js";
import type { ChainStore } from "../../src/chain/store.js";
import { txHash } from "../../src/chain/tx.js";
import { govApproveTx, govProposeTx, statusListPublishTx, type SignerParams } from "../../src/client/txs.js";
import { addService } from "../../src/did/document-edit.js";
import type { KeyPair } from "../../src/crypto/hd.js";
import { publicKeyOf } from "../../src/crypto/secp256k1.js";
import { buildStatusListPayload, newStatusList, signStatusListToken, statusListUri, STATUS_LIST_LIMITS } from "../../src/did/status-list.js";
import { VALIDATOR_KEY, poolAndEngine } from "./chain.js";
import { CHAIN_ID, createTx, deactivateTx, fixedKey, hex, testDid, updateTx, writeParams, type TestDid } from "./fixtures.js";

export const T1 = testDid(fixedKey(0x11));
export const T2 = testDid(fixedKey(0x12));
export const ISSUER = testDid(fixedKey(0x21));
export const SUBJECT = testDid(fixedKey(0x31));
export const OTHER = testDid(fixedKey(0x41));
export const GENESIS_HASH = new Uint8Array(32).fill(9);
export const GENESIS_TIME = 1_700_000_000_000;

export const EXPORT_GENESIS = parseGenesis({
  chainId: CHAIN_ID,
  genesisTime: new Date(GENESIS_TIME).toISOString(),
  validators: [{ name: "v0", publicKey: hex(VALIDATOR_KEY.publicKey), power: 10 }],
  trustees: { members: [T1.did, T2.did], threshold: 2 },
});

function as(d: TestDid, seq: number): SignerParams {
  return { chainId: CHAIN_ID, signer: d.did, vm: d.keyId, seq, secretKey: d.key.secretKey };
}

function token(issuer: TestDid, listId: string, iat: number): string {
  const uri = statusListUri(DEFAULT_STATUS_LIST_BASE_URI, issuer.did, listId);
  return signStatusListToken(issuer.keyId, buildStatusListPayload({ issuer: issuer.did, uri, iat, packed: newStatusList(STATUS_LIST_LIMITS.minSize) }), issuer.key.secretKey);
}

/** Initialise `store` with EXPORT_GENESIS and commit the blocks; returns the number of txs committed. */
export async function buildExportChain(store: ChainStore): Promise<number> {
  await store.initGenesis(GENESIS_HASH, GENESIS_TIME, genesisRecords(EXPORT_GENESIS));
  const { mempool, engine } = await poolAndEngine(store, 100);
  let txs = 0;
  const block = async (...encoded: Uint8Array[]) => {
    for (const e of encoded) await mempool.add(e);
    const ev = await engine.produceBlock();
    if (ev.txs.length !== encoded.length) throw new Error(`block ${ev.block.header.height} holds ${ev.txs.length} txs, expected ${encoded.length}`);
    txs += encoded.length;
  };
  await block(...[T1, T2, ISSUER, SUBJECT, OTHER].map((d) => createTx(d).encoded));
  const add: GovAction = { kind: "issuer/add", did: ISSUER.did, name: "Acme KYC", types: ["KYCBasic"] };
  const propose = govProposeTx(as(T1, 1), add);
  const doc2 = addService(SUBJECT.doc, { id: `${SUBJECT.did}#s1`, type: "LinkedDomains", serviceEndpoint: "https://s1.example" });
  await block(propose.encoded, updateTx(writeParams(SUBJECT, 1, 1), doc2).encoded);
  await block(govApproveTx(as(T2, 1), hex(txHash(propose.encoded)), add).encoded);
  await block();
  const iat = Math.floor(GENESIS_TIME / 1000);
  await block(statusListPublishTx(as(ISSUER, 1), "a", token(ISSUER, "a", iat)).encoded, deactivateTx(writeParams(SUBJECT, 2, 2)).encoded);
  const remove: GovAction = { kind: "issuer/remove", did: ISSUER.did };
  const propose2 = govProposeTx(as(T1, 2), remove);
  await block(propose2.encoded, govApproveTx(as(T2, 2), hex(txHash(propose2.encoded)), remove).encoded, createTx(testDid(fixedKey(0x51))).encoded);
  return txs;
}

/** The `i`-th of a family of fixed keys (`family` 1-255): cheap, no BIP32. */
export function numberedKey(family: number, i: number): KeyPair {
  const secretKey = new Uint8Array(32).fill(family);
  new DataView(secretKey.buffer).setUint32(28, i + 1);
  return { secretKey, publicKey: publicKeyOf(secretKey) };
}

/** One more block of `n` creates (keys numberedKey(family, from..)), to grow a chain already built. */
export async function addCreates(store: ChainStore, family: number, from: number, n: number): Promise<void> {
  const { mempool, engine } = await poolAndEngine(store, 1000);
  for (let i = 0; i < n; i++) await mempool.add(createTx(testDid(numberedKey(family, from + i))).encoded);
  await engine.produceBlock();
}
