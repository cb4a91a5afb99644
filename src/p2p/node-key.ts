/**
 * The node key: a secp256k1 key that names this node on the p2p network
 * and signs its handshakes. It is not the validator key: a full node has
 * one too, and losing it costs nothing but the peers' memory of this node.
 * Stored in <home>/config/node_key.json, mode 0600, created on first start.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fromHex, toHex } from "../crypto/bytes.js";
import { sha256 } from "../crypto/hash.js";
import { randomKeyPair } from "../crypto/hd.js";
import { publicKeyOf } from "../crypto/secp256k1.js";
import { P2pError, P2pErrorCode } from "./errors.js";

export interface NodeKey {
  readonly secretKey: Uint8Array;
  /** 33-byte compressed public key. */
  readonly publicKey: Uint8Array;
  /** hex of sha256(publicKey)[0:20]. */
  readonly nodeId: string;
}

/** The file as written: hex fields, the id and public key for people reading it. */
export interface NodeKeyFile {
  nodeId: string;
  publicKey: string;
  secretKey: string;
}

export const NODE_KEY_FILE = "node_key.json";

/** <home>/config/node_key.json */
export function nodeKeyPath(home: string): string {
  return join(home, "config", NODE_KEY_FILE);
}

/** The node id of a public key: hex of the first 20 bytes of its sha256. */
export function nodeIdOf(publicKey: Uint8Array): string {
  return toHex(sha256(publicKey).subarray(0, 20));
}

export function nodeKeyOf(secretKey: Uint8Array): NodeKey {
  const publicKey = publicKeyOf(secretKey);
  return { secretKey, publicKey, nodeId: nodeIdOf(publicKey) };
}

function invalid(path: string, why: string): P2pError {
  return new P2pError(P2pErrorCode.NODE_KEY_INVALID, `node key file ${path} is invalid: ${why}`);
}

function readNodeKey(path: string, text: string): NodeKey {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalid(path, `not JSON (${(e as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw invalid(path, "expected a JSON object");
  const f = raw as Partial<NodeKeyFile>;
  let key: NodeKey;
  try {
    key = nodeKeyOf(fromHex(String(f.secretKey), 32));
  } catch (e) {
    throw invalid(path, `secretKey: ${(e as Error).message}`);
  }
  // The id and public key are derived; a file whose copies disagree was edited by hand or damaged.
  if (f.publicKey !== undefined && f.publicKey !== toHex(key.publicKey)) throw invalid(path, "publicKey does not match secretKey");
  if (f.nodeId !== undefined && f.nodeId !== key.nodeId) throw invalid(path, "nodeId does not match secretKey");
  return key;
}

/** Load the node key at `path`, creating a fresh one (and its directory) if the file is missing. */
export function loadOrCreateNodeKey(path: string): NodeKey {
  let text: string | undefined;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw invalid(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (text !== undefined) return readNodeKey(path, text);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const pair = randomKeyPair();
  const key = nodeKeyOf(pair.secretKey);
  const file: NodeKeyFile = { nodeId: key.nodeId, publicKey: toHex(key.publicKey), secretKey: toHex(key.secretKey) };
  try {
    // "wx": if another process created the file since we looked, keep its key rather than overwrite it.
    writeFileSync(path, JSON.stringify(file, null, 2) + "\n", { mode: 0o600, flag: "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return readNodeKey(path, readFileSync(path, "utf8"));
    throw invalid(path, `cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return key;
}
