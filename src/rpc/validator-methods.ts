/**
 * JSON-RPC methods of the validator set and of committed evidence: the set
 * in force at a height, with its total power and the
 * hash block headers carry; evidence of equivocation by hash, or listed in
 * commit order, all or one validator's. Read-only: the set changes through
 * governance txs (`validator/set`), evidence through blocks.
 */
import { toHex } from "../crypto/bytes.js";
import { ChainError, EvidenceErrorCode } from "../chain/errors.js";
import type { ChainHead, StoredEvidence } from "../chain/store.js";
import { decodeEvidence } from "../consensus/evidence.js";
import { evidenceToJson } from "../consensus/evidence-rules.js";
import type { ValidatorSet } from "../chain/validator-set.js";
import { type MethodTable, defineMethod } from "./jsonrpc.js";
import { Shape, Type } from "../check/index.js";
import { RpcParamsError } from "./errors.js";
import { pageByBytes } from "./paging.js";

/** What these methods need of a node: ChainStore and the node's set-by-height. */
export interface ValidatorReadApi {
  head(): ChainHead;
  /** The set that signs `height` (1 to head + 2). */
  validatorsAt(height: number): Promise<ValidatorSet>;
  getEvidence(hash: Uint8Array): Promise<StoredEvidence | undefined>;
  listEvidence(opts: { validator?: Uint8Array; after?: Uint8Array; limit: number }): Promise<StoredEvidence[]>;
}

const HASH = Shape.hex(32);
const ADDRESS = Shape.hex(20);
const LIMIT = Shape.int(1, 500);
const DEFAULT_LIMIT = 100;

function storedEvidenceToJson(e: StoredEvidence): Record<string, unknown> {
  return { hash: toHex(e.hash), committedHeight: e.height, index: e.index, ...evidenceToJson(decodeEvidence(e.encoded)), encoded: toHex(e.encoded) };
}

export function validatorMethods(api: ValidatorReadApi): MethodTable {
  return {
    validators_get: defineMethod({
      description:
        "The validator set in force at a height (default: the next block's), from 1 to head + 2: changes made by governance in block H start at H + 2. Each validator's name, public key, address and power; the total power and the set hash block headers carry as validatorsHash.",
      params: Type.Object({ height: Type.Optional(Shape.int(1)) }),
      handler: async ({ height }) => {
        const top = api.head().height + 2;
        const h = height ?? api.head().height + 1;
        if (h > top) throw new RpcParamsError("height", `the set is known up to height ${top} (head + 2)`);
        const set = await api.validatorsAt(h);
        return {
          height: h,
          validators: set.validators.map((v) => ({ name: v.name, publicKey: toHex(v.publicKey), address: toHex(v.address), power: v.power })),
          totalPower: set.totalPower,
          hash: toHex(set.hash),
        };
      },
    }),

    evidence_get: defineMethod({
      description: "Committed evidence of equivocation by its hash (sha256 of its encoding): where it was committed, the validator, both signed votes.",
      params: Type.Object({ hash: HASH }),
      handler: async ({ hash }) => {
        const e = await api.getEvidence(Buffer.from(hash, "hex"));
        if (!e) throw new ChainError(EvidenceErrorCode.NOT_FOUND, `no committed evidence ${hash}`);
        return storedEvidenceToJson(e);
      },
    }),

    evidence_list: defineMethod({
      description: "Committed evidence in commit order, all or one validator's (by address), `limit` after the evidence hash `after`.",
      params: Type.Object({ validator: Type.Optional(ADDRESS), after: Type.Optional(HASH), limit: Type.Optional(LIMIT) }),
      handler: async ({ validator, after, limit = DEFAULT_LIMIT }, ctx) => {
        const items = await api.listEvidence({
          ...(validator !== undefined ? { validator: Buffer.from(validator, "hex") } : {}),
          ...(after !== undefined ? { after: Buffer.from(after, "hex") } : {}),
          limit,
        });
        const page = pageByBytes(items, limit, ctx, storedEvidenceToJson, (e) => toHex(e.hash));
        return { evidence: page.items, next: page.next };
      },
    }),
  };
}
