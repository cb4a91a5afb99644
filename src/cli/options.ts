/** Options shared by every `sid` command, and parsers for option values. */
import { type Command, InvalidArgumentError, Option } from "commander";
import { RELATIONSHIPS, type Relationship } from "../did/document.js";
import { intFault, oneOfFault, reason } from "../check/faults.js";

export const DEFAULT_RPC_URL = "http://127.0.0.1:8660";

/** Add --home, --rpc and --json to a command (every leaf command takes them). */
export function withCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--home <dir>", "node home directory (default: $SID_HOME, else ~/.sid)"))
    .addOption(new Option("--rpc <url>", "JSON-RPC URL of a sid node").env("SID_RPC").default(DEFAULT_RPC_URL).argParser(parseUrl))
    .option("--json", "print exactly one JSON object on stdout");
}

export function parseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError("not a URL, expected e.g. http://127.0.0.1:8660");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new InvalidArgumentError("expected an http:// or https:// URL");
  return value;
}

export function parsePort(value: string): number {
  return parseIntIn(value, 0, 65535, "a port number 0-65535");
}

export function parsePositiveInt(value: string): number {
  // Ten digits at most (parseIntStrict).
  return parseIntIn(value, 1, 9_999_999_999, "a positive integer");
}

/** A BIP32 non-hardened index: 0 .. 2^31-1. */
export function parseKeyIndex(value: string): number {
  return parseIntIn(value, 0, 0x7fffffff, "a key index 0-2147483647");
}

/** Decimal digits for an integer in [min, max], checked by the check kit; the message says what was expected. */
function parseIntIn(value: string, min: number, max: number, expected: string): number {
  const n = parseIntStrict(value);
  const fault = n === undefined ? reason.type("integer") : intFault(n, min, max);
  if (fault !== undefined) throw new InvalidArgumentError(`${fault}: expected ${expected}`);
  return n!;
}

/** "authentication,assertionMethod" -> the relationships, each checked against DID Core's list. */
export function parseRelationships(value: string): Relationship[] {
  const list = value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of: ${RELATIONSHIPS.join(", ")}`);
  for (const rel of list) {
    if (oneOfFault(rel, RELATIONSHIPS) !== undefined) {
      throw new InvalidArgumentError(`unknown relationship "${rel.slice(0, 40)}", expected some of: ${RELATIONSHIPS.join(", ")}`);
    }
  }
  return [...new Set(list)] as Relationship[];
}

function parseIntStrict(value: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(value)) return undefined;
  return Number(value);
}
