/** Building and signing did:sid txs. */
import { toBase64, toHex } from "../crypto/bytes.js";
import type { KeyPair } from "../crypto/hd.js";
import { buildInitialDocument, type DidDocument, type Relationship, verificationMethods, publicKeyOfMethod, keyForRelationship } from "../did/document.js";
import { bytesEqual } from "../crypto/bytes.js";
import { type Tx, TX_VERSION, TxType, type UnsignedTx, encodeTx, signTx, txHash } from "../chain/tx.js";
import type { GovAction } from "../chain/state.js";

export interface SignedTx {
  tx: Tx;
  encoded: Uint8Array;
  /** Hex tx hash. */
  hash: string;
  /** The encoded tx in base64, as tx_submit takes it. */
  base64: string;
}

export function sealTx(unsigned: UnsignedTx, secretKey: Uint8Array): SignedTx {
  const tx = signTx(unsigned, secretKey);
  const encoded = encodeTx(tx);
  return { tx, encoded, hash: toHex(txHash(encoded)), base64: toBase64(encoded) };
}

/** Create a DID whose id derives from `key` (its document defaults to one key, #key-1). */
export function createDidTx(chainId: string, key: KeyPair, document?: DidDocument): SignedTx {
  const doc = document ?? buildInitialDocument(key.publicKey);
  const vm = findMethodForKey(doc, key.publicKey, "authentication");
  if (!vm) throw new Error("the creating key must be an authentication key of the new document");
  return sealTx({ v: TX_VERSION, type: TxType.DidCreate, chainId, signer: doc.id, vm, seq: 0, payload: { document: doc } }, key.secretKey);
}

export interface WriteParams {
  chainId: string;
  /** The DID being written. */
  did: string;
  /** Its current version id. */
  prevVersionId: string;
  /** The signing DID (the DID itself, or a controller) and its next sequence. */
  signer: string;
  seq: number;
  /** Absolute id of the signing verification method. */
  vm: string;
  secretKey: Uint8Array;
}

export function updateDidTx(p: WriteParams, document: DidDocument): SignedTx {
  return sealTx(
    { v: TX_VERSION, type: TxType.DidUpdate, chainId: p.chainId, signer: p.signer, vm: p.vm, seq: p.seq, payload: { did: p.did, prevVersionId: p.prevVersionId, document } },
    p.secretKey,
  );
}

export function deactivateDidTx(p: WriteParams): SignedTx {
  return sealTx(
    { v: TX_VERSION, type: TxType.DidDeactivate, chainId: p.chainId, signer: p.signer, vm: p.vm, seq: p.seq, payload: { did: p.did, prevVersionId: p.prevVersionId } },
    p.secretKey,
  );
}

/** The id of the verification method holding `publicKey` usable for `relationship`, if any. */
export function findMethodForKey(doc: DidDocument, publicKey: Uint8Array, relationship: Relationship): string | undefined {
  for (const [id, vm] of verificationMethods(doc)) {
    let pk: Uint8Array;
    try {
      pk = publicKeyOfMethod(vm);
    } catch {
      continue;
    }
    if (bytesEqual(pk, publicKey) && keyForRelationship(doc, relationship, id)) return id;
  }
  return undefined;
}

/** Who signs a registry tx: a DID, the absolute id of its key, its next sequence, the secret key. */
export interface SignerParams {
  chainId: string;
  signer: string;
  vm: string;
  seq: number;
  secretKey: Uint8Array;
}

function registryTx<T extends TxType.GovPropose | TxType.GovApprove | TxType.StatusListPublish>(
  s: SignerParams,
  type: T,
  payload: Extract<UnsignedTx, { type: T }>["payload"],
): SignedTx {
  return sealTx({ v: TX_VERSION, type, chainId: s.chainId, signer: s.signer, vm: s.vm, seq: s.seq, payload } as UnsignedTx, s.secretKey);
}

/** A trustee proposes a governance action; with threshold 1 it runs at once. Its tx hash is the proposal id. */
export function govProposeTx(s: SignerParams, action: GovAction): SignedTx {
  return registryTx(s, TxType.GovPropose, { action });
}

/** A trustee approves proposal `proposalId`, restating its action. */
export function govApproveTx(s: SignerParams, proposalId: string, action: GovAction): SignedTx {
  return registryTx(s, TxType.GovApprove, { proposalId, action });
}

/** An issuer publishes the latest Status List Token of its list `listId` (signed with a key in its assertionMethod). */
export function statusListPublishTx(s: SignerParams, listId: string, token: string): SignedTx {
  return registryTx(s, TxType.StatusListPublish, { listId, token });
}
