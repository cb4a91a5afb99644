/** Peer addresses as written in config: "host:port" or "nodeId@host:port" ("[v6]:port" for IPv6). */
import { isIP } from "node:net";
import { P2pError, P2pErrorCode } from "./errors.js";

export interface PeerAddress {
  /** Expected node id when the address names one; the handshake then refuses any other key. */
  nodeId?: string;
  /** Host name or IP, without IPv6 brackets. */
  host: string;
  port: number;
  /** "host:port" in canonical form (brackets around IPv6). */
  address: string;
}

/** A node id: 40 lowercase hex chars (20 bytes). */
export const NODE_ID_RE = /^[0-9a-f]{40}$/;
const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const ADDRESS_RE = /^(?:([^@]*)@)?(\[[^\]]*\]|[^:[\]]+):([0-9]{1,5})$/;

function badAddress(text: unknown, why: string): P2pError {
  return new P2pError(P2pErrorCode.BAD_ADDRESS, `invalid peer address ${JSON.stringify(text)}: ${why}`);
}

/** "host:port", with brackets around IPv6 and IPv4-mapped IPv6 ("::ffff:1.2.3.4") shown as IPv4. */
export function formatAddress(host: string, port: number): string {
  const h = host.startsWith("::ffff:") && isIP(host.slice(7)) === 4 ? host.slice(7) : host;
  return isIP(h) === 6 ? `[${h}]:${port}` : `${h}:${port}`;
}

export function parsePeerAddress(text: unknown): PeerAddress {
  if (typeof text !== "string" || text.length > 400) throw badAddress(text, "expected a string host:port or nodeId@host:port");
  const m = ADDRESS_RE.exec(text);
  if (!m) throw badAddress(text, "expected host:port or nodeId@host:port");
  const [, nodeId, rawHost, rawPort] = m;
  if (nodeId !== undefined && !NODE_ID_RE.test(nodeId)) throw badAddress(text, "node id must be 40 lowercase hex chars");
  const host = rawHost!.startsWith("[") ? rawHost!.slice(1, -1) : rawHost!;
  if (rawHost!.startsWith("[") ? isIP(host) !== 6 : isIP(host) !== 4 && !HOSTNAME_RE.test(host)) {
    throw badAddress(text, "host must be an IPv4 address, a host name or a bracketed IPv6 address");
  }
  const port = Number(rawPort);
  if (port < 1 || port > 65535) throw badAddress(text, "port must be in [1, 65535]");
  return { ...(nodeId !== undefined ? { nodeId } : {}), host, port, address: formatAddress(host, port) };
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(ip: string): boolean {
  const v4 = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  return v4.startsWith("127.") || ip === "::1";
}
