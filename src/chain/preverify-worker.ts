/**
 * Worker side of the tx preverifier: the stateless part of admission
 * (decodeTx's checks, the tx hash, and for a create the signature against
 * the key its own document names and the DID that key derives, by
 * execute.ts's deriveCreateKey), off the main thread.
 */
import { parentPort, workerData } from "node:worker_threads";
import { toHex } from "../crypto/bytes.js";
import { verifyDigest } from "../crypto/secp256k1.js";
import { deriveCreateKey } from "./execute.js";
import { decodeTx, txHash, txSigningDigestOfEncoded, TxType } from "./tx.js";
import type { PreverifyReply, PreverifyRequest } from "./preverify.js";

const chainId = (workerData as { chainId: string }).chainId;

function handle(req: PreverifyRequest): PreverifyReply {
  try {
    const tx = decodeTx(req.bytes, chainId);
    const hash = txHash(req.bytes);
    let verifiedKey: string | undefined;
    let keyDid: string | undefined;
    if (tx.type === TxType.DidCreate) {
      const { key, did } = deriveCreateKey(tx.payload.document, tx.vm);
      if (key && verifyDigest(tx.sig, txSigningDigestOfEncoded(req.bytes), key)) {
        verifiedKey = toHex(key);
        keyDid = did;
      }
    }
    return { id: req.id, ok: true, tx, hash, verifiedKey, keyDid };
  } catch (e) {
    const err = e as { code?: unknown; message?: unknown; data?: unknown };
    return { id: req.id, ok: false, code: typeof err.code === "string" ? err.code : "INTERNAL", message: String(err.message ?? e), data: err.data as Record<string, unknown> | undefined };
  }
}

parentPort!.on("message", (batch: PreverifyRequest[]) => {
  parentPort!.postMessage(batch.map(handle));
});
