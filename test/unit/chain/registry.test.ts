import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addVerificationMethod } from "../../../src/did/document-edit.js";
import { deflateSync } from "node:zlib";
import { issuerMayAttest, issuerPeriodAt, type IssuerRecord } from "../../../src/did/kyc.js";
import { govApproveTx, govProposeTx, sealTx, statusListPublishTx, type SignerParams } from "../../../src/client/txs.js";
import {
  STATUS_LIST_LIMITS,
  StatusListErrorCode,
  StatusValue,
  buildStatusListPayload,
  getStatus,
  newStatusList,
  parseStatusListToken,
  setStatus,
  signStatusListToken,
  statusListSigningInput,
  statusListUri,
  tokenList,
} from "../../../src/did/status-list.js";
import { base64urlEncode } from "../../../src/crypto/encoding.js";
import { malleate } from "../../../src/crypto/secp256k1.js";
import { checkTx, type CheckedTx, type ExecContext } from "../../../src/chain/execute.js";
import { DEFAULT_STATUS_LIST_BASE_URI, genesisHash, genesisRecords, parseGenesis, statusListBaseUriOf } from "../../../src/chain/genesis.js";
import { GovErrorCode, KycErrorCode, TxErrorCode, DidErrorCode } from "../../../src/chain/errors.js";
import { PROPOSAL_TTL_BLOCKS } from "../../../src/chain/governance.js";
import {
  type GovAction,
  type ProposalRecord,
  type StatusListRecord,
  type TrusteesRecord,
  issuerStateId,
  proposalStateId,
  stateKeyOf,
  statusListStateId,
  TRUSTEES_ID,
} from "../../../src/chain/state.js";
import { ChainStore } from "../../../src/chain/store.js";
import { MAX_STATUS_LIST_TX_BYTES, MAX_TX_BYTES, TX_VERSION, decodeTx, encodeTx, TxType } from "../../../src/chain/tx.js";
import { encodeCanonical, decodeCanonical } from "../../../src/chain/codec.js";
import {
  CHAIN_ID,
  MapView,
  checked,
  createTx,
  execContext,
  expectChainError,
  fixedKey,
  hex,
  testDid,
  updateTx,
  writeParams,
  type TestDid,
} from "../../helpers/fixtures.js";
import { VALIDATOR_KEY, poolAndEngine, replayInto } from "../../helpers/chain.js";

const T1 = testDid(fixedKey(0x11));
const T2 = testDid(fixedKey(0x12));
const T3 = testDid(fixedKey(0x13));
const ISSUER = testDid(fixedKey(0x21));
const SUBJECT = testDid(fixedKey(0x31));
const OTHER = testDid(fixedKey(0x41));
const NOW = 1_700_000_000_000;

/** Signs as `d` with its #key-1 at sequence `seq`. */
function as(d: TestDid, seq: number, vm = d.keyId, secretKey = d.key.secretKey): SignerParams {
  return { chainId: CHAIN_ID, signer: d.did, vm, seq, secretKey };
}

const LIST = "list-1";
const SIZE = STATUS_LIST_LIMITS.minSize;
const IAT = Math.floor(NOW / 1000);

interface TokenOptions {
  listId?: string;
  iat?: number;
  kid?: string;
  secretKey?: Uint8Array;
  uri?: string;
}

/** A Status List Token of `packed` for `issuer`'s list, signed with its #key-1 unless told otherwise. */
function tokenFor(issuer: TestDid, packed: Uint8Array, o: TokenOptions = {}): string {
  const uri = o.uri ?? statusListUri(DEFAULT_STATUS_LIST_BASE_URI, issuer.did, o.listId ?? LIST);
  return signStatusListToken(o.kid ?? issuer.keyId, buildStatusListPayload({ issuer: issuer.did, uri, iat: o.iat ?? IAT, packed }), o.secretKey ?? issuer.key.secretKey);
}

/** The list with the given entries changed. */
function withEntries(packed: Uint8Array, entries: Array<[number, StatusValue]>): Uint8Array {
  const out = packed.slice();
  for (const [i, v] of entries) setStatus(out, i, v);
  return out;
}

class Chain {
  view = new MapView();
  height = 1;
  time = NOW;
  ctx(): ExecContext {
    return execContext({ height: this.height, time: this.time });
  }
  /** Apply a tx as a block would (one tx per block, each a second apart). */
  run(c: CheckedTx) {
    const effect = checkTx(this.view, c, this.ctx());
    this.view.put(...effect.writes);
    this.height++;
    this.time += 1000;
    return effect;
  }
  fails(c: CheckedTx, code: string) {
    const before = new Map(this.view.records);
    const err = expectChainError(() => checkTx(this.view, c, this.ctx()), code);
    expect(this.view.records).to.deep.equal(before);
    return err;
  }
  issuer(did = ISSUER.did) {
    return this.view.get(issuerStateId(did)) as IssuerRecord | undefined;
  }
  list(issuer = ISSUER.did, listId = LIST) {
    return this.view.get(statusListStateId(issuer, listId)) as StatusListRecord | undefined;
  }
  /** A publish by `by` (default the issuer) of `token`. */
  publishTx(token: string, by: TestDid = ISSUER, listId = LIST): CheckedTx {
    return checked(statusListPublishTx(as(by, this.nonce(by)), listId, token));
  }
  publish(packed: Uint8Array, o: TokenOptions = {}) {
    return this.run(this.publishTx(tokenFor(ISSUER, packed, o), ISSUER, o.listId ?? LIST));
  }
  nonce(d: TestDid) {
    return this.view.getDid(d.did)!.nonce;
  }
}

/** A chain with the trustees and DIDs registered; the issuer accredited when `accredit`. */
function setup(threshold: number, accredit = true): Chain {
  const chain = new Chain();
  const g = parseGenesis({
    chainId: CHAIN_ID,
    genesisTime: new Date(NOW - 60_000).toISOString(),
    validators: [{ name: "v", publicKey: hex(fixedKey(1).publicKey), power: 1 }],
    trustees: { members: [T1.did, T2.did, T3.did], threshold },
  });
  chain.view.put(...genesisRecords(g));
  for (const d of [T1, T2, T3, ISSUER, SUBJECT, OTHER]) chain.run(createTx(d));
  if (accredit) {
    const add: GovAction = { kind: "issuer/add", did: ISSUER.did, name: "Acme KYC", types: ["KYCBasic", "AgeOver18"] };
    const p = checked(govProposeTx(as(T1, chain.nonce(T1)), add));
    chain.run(p);
    for (const t of [T2, T3].slice(0, threshold - 1)) chain.run(checked(govApproveTx(as(t, chain.nonce(t)), hex(p.hash), add)));
    expect(chain.issuer()?.status).to.equal("active");
  }
  return chain;
}

function govAct(chain: Chain, action: GovAction, by: TestDid = T1) {
  return chain.run(checked(govProposeTx(as(by, chain.nonce(by)), action)));
}

describe("registry: governance", () => {
  it("a chain without trustees refuses governance txs", () => {
    const chain = new Chain();
    chain.run(createTx(T1));
    chain.run(createTx(ISSUER));
    chain.fails(checked(govProposeTx(as(T1, 1), { kind: "issuer/add", did: ISSUER.did, name: "Acme", types: ["KYCBasic"] })), GovErrorCode.DISABLED);
  });

  it("threshold 1: a trustee's proposal runs at once and is recorded as executed", () => {
    const chain = setup(1, false);
    const action: GovAction = { kind: "issuer/add", did: ISSUER.did, name: "Acme KYC", types: ["KYCBasic"] };
    const c = checked(govProposeTx(as(T1, 1), action));
    chain.run(c);
    const p = chain.view.get(proposalStateId(hex(c.hash))) as ProposalRecord;
    expect(p.status).to.equal("executed");
    expect(p.approvals).to.deep.equal([T1.did]);
    expect(chain.issuer()).to.include({ status: "active", name: "Acme KYC" });
    expect(chain.issuer()!.types).to.deep.equal(["KYCBasic"]);
    expect(chain.nonce(T1)).to.equal(2);
  });

  it("threshold 2: the proposal waits for a second trustee, whose approval must restate the same action", () => {
    const chain = setup(2, false);
    const action: GovAction = { kind: "issuer/add", did: ISSUER.did, name: "Acme KYC", types: ["KYCBasic"] };
    const c = checked(govProposeTx(as(T1, 1), action));
    chain.run(c);
    const id = hex(c.hash);
    expect((chain.view.get(proposalStateId(id)) as ProposalRecord).status).to.equal("pending");
    expect(chain.issuer()).to.equal(undefined);
    chain.fails(checked(govApproveTx(as(T1, 2), id, action)), GovErrorCode.ALREADY_APPROVED);
    chain.fails(checked(govApproveTx(as(T2, 1), id, { ...action, types: ["KYCBasic", "AgeOver18"] })), GovErrorCode.ACTION_MISMATCH);
    chain.fails(checked(govApproveTx(as(T2, 1), "ab".repeat(32), action)), GovErrorCode.PROPOSAL_NOT_FOUND);
    chain.fails(checked(govApproveTx(as(OTHER, 1), id, action)), GovErrorCode.NOT_TRUSTEE);
    chain.run(checked(govApproveTx(as(T2, 1), id, action)));
    expect(chain.issuer()?.status).to.equal("active");
    chain.fails(checked(govApproveTx(as(T3, 1), id, action)), GovErrorCode.PROPOSAL_CLOSED);
  });

  it("a proposal expires after its time to live", () => {
    const chain = setup(2, false);
    const action: GovAction = { kind: "issuer/add", did: ISSUER.did, name: "Acme KYC", types: ["KYCBasic"] };
    const c = checked(govProposeTx(as(T1, 1), action));
    chain.run(c);
    chain.height += PROPOSAL_TTL_BLOCKS + 1;
    chain.fails(checked(govApproveTx(as(T2, 1), hex(c.hash), action)), GovErrorCode.PROPOSAL_EXPIRED);
  });

  it("non-trustees cannot propose; a proposal that could not run is refused up front", () => {
    const chain = setup(1, false);
    chain.fails(checked(govProposeTx(as(OTHER, 1), { kind: "issuer/add", did: ISSUER.did, name: "X", types: ["KYCBasic"] })), GovErrorCode.NOT_TRUSTEE);
    const unregistered = testDid(fixedKey(0x55));
    chain.fails(checked(govProposeTx(as(T1, 1), { kind: "issuer/add", did: unregistered.did, name: "X", types: ["KYCBasic"] })), DidErrorCode.NOT_FOUND);
    chain.fails(checked(govProposeTx(as(T1, 1), { kind: "issuer/suspend", did: ISSUER.did })), KycErrorCode.ISSUER_NOT_FOUND);
    // signed with a key that is not the trustee's
    chain.fails(checked(govProposeTx(as(T1, 1, T1.keyId, OTHER.key.secretKey), { kind: "issuer/add", did: ISSUER.did, name: "X", types: ["KYCBasic"] })), TxErrorCode.BAD_SIGNATURE);
  });

  it("suspend, reinstate, remove and re-add are periods of the issuer's history", () => {
    const chain = setup(1);
    const added = chain.height - 1;
    govAct(chain, { kind: "issuer/suspend", did: ISSUER.did });
    const suspended = chain.height - 1;
    chain.fails(checked(govProposeTx(as(T1, chain.nonce(T1)), { kind: "issuer/suspend", did: ISSUER.did })), KycErrorCode.ISSUER_NOT_ACTIVE);
    govAct(chain, { kind: "issuer/reinstate", did: ISSUER.did });
    govAct(chain, { kind: "issuer/remove", did: ISSUER.did });
    const removed = chain.height - 1;
    chain.fails(checked(govProposeTx(as(T1, chain.nonce(T1)), { kind: "issuer/remove", did: ISSUER.did })), KycErrorCode.ISSUER_NOT_FOUND);
    govAct(chain, { kind: "issuer/add", did: ISSUER.did, name: "Acme KYC 2", types: ["AgeOver18"] });
    const rec = chain.issuer()!;
    expect(rec.history.map((p) => p.status)).to.deep.equal(["active", "suspended", "active", "removed", "active"]);
    expect(issuerPeriodAt(rec, added)!.status).to.equal("active");
    expect(issuerPeriodAt(rec, suspended)!.status).to.equal("suspended");
    expect(issuerPeriodAt(rec, removed)!.status).to.equal("removed");
    expect(issuerPeriodAt(rec, added - 1)).to.equal(undefined);
    expect(issuerMayAttest(issuerPeriodAt(rec, added), ["KYCBasic"])).to.equal(true);
    expect(issuerMayAttest(issuerPeriodAt(rec, chain.height), ["KYCBasic"])).to.equal(false);
    expect(issuerMayAttest(issuerPeriodAt(rec, chain.height), ["AgeOver18"])).to.equal(true);
  });

  it("trustees/set replaces the trustees: old ones lose the right, new ones gain it", () => {
    const chain = setup(1, false);
    govAct(chain, { kind: "trustees/set", members: [T3.did], threshold: 1 });
    expect((chain.view.get(TRUSTEES_ID) as TrusteesRecord).members).to.deep.equal([T3.did]);
    chain.fails(checked(govProposeTx(as(T1, chain.nonce(T1)), { kind: "issuer/add", did: ISSUER.did, name: "X", types: ["KYCBasic"] })), GovErrorCode.NOT_TRUSTEE);
    govAct(chain, { kind: "issuer/add", did: ISSUER.did, name: "X", types: ["KYCBasic"] }, T3);
    expect(chain.issuer()?.status).to.equal("active");
  });
});

describe("registry: status lists (chain rules)", () => {
  it("an accredited issuer creates a list: every entry UNISSUED; the record keeps the token, the types it was accredited for, the size", () => {
    const chain = setup(1);
    const token = tokenFor(ISSUER, newStatusList(SIZE));
    const effect = chain.run(chain.publishTx(token));
    const rec = chain.list()!;
    expect(rec).to.deep.equal({
      kind: "statuslist",
      issuer: ISSUER.did,
      listId: LIST,
      uri: `${DEFAULT_STATUS_LIST_BASE_URI}/status-lists/${ISSUER.did.slice("did:sid:".length)}/${LIST}`,
      types: ["KYCBasic", "AgeOver18"],
      size: SIZE,
      token,
      iat: IAT,
      height: rec.createdHeight,
      time: rec.time,
      createdHeight: rec.createdHeight,
    });
    expect(effect.statusList).to.deep.equal({ issuer: ISSUER.did, listId: LIST, height: rec.height });
    // The tree key is separated by kind.
    expect(hex(stateKeyOf(statusListStateId(ISSUER.did, LIST)))).to.not.equal(hex(stateKeyOf(ISSUER.did)));
  });

  it("a first publish needs an active accredited issuer, a list of 131,072 to 1,048,576 entries, all UNISSUED", () => {
    const none = setup(1, false);
    none.fails(none.publishTx(tokenFor(ISSUER, newStatusList(SIZE))), KycErrorCode.ISSUER_NOT_FOUND);
    const chain = setup(1);
    chain.fails(chain.publishTx(tokenFor(ISSUER, newStatusList(SIZE - 4))), StatusListErrorCode.BAD_LIST);
    chain.fails(chain.publishTx(tokenFor(ISSUER, newStatusList(STATUS_LIST_LIMITS.maxSize + 4))), StatusListErrorCode.BAD_LIST);
    const e = chain.fails(chain.publishTx(tokenFor(ISSUER, withEntries(newStatusList(SIZE), [[77, StatusValue.VALID]]))), StatusListErrorCode.NOT_UNISSUED);
    expect(e.data?.index).to.equal(77);
    govAct(chain, { kind: "issuer/suspend", did: ISSUER.did });
    chain.fails(chain.publishTx(tokenFor(ISSUER, newStatusList(SIZE))), KycErrorCode.ISSUER_NOT_ACTIVE);
    govAct(chain, { kind: "issuer/remove", did: ISSUER.did });
    chain.fails(chain.publishTx(tokenFor(ISSUER, newStatusList(SIZE))), KycErrorCode.ISSUER_NOT_FOUND);
  });

  it("issue, suspend, reinstate, revoke; revocation is final: INVALID back to VALID (or anything) is refused", () => {
    const chain = setup(1);
    const l0 = newStatusList(SIZE);
    chain.publish(l0);
    const l1 = withEntries(l0, [[10, StatusValue.VALID], [11, StatusValue.VALID], [SIZE - 1, StatusValue.VALID]]);
    chain.publish(l1, { iat: IAT + 1 });
    const l2 = withEntries(l1, [[10, StatusValue.SUSPENDED], [11, StatusValue.INVALID]]);
    chain.publish(l2, { iat: IAT + 2 });
    const l3 = withEntries(l2, [[10, StatusValue.VALID]]);
    chain.publish(l3, { iat: IAT + 3 });
    expect(getStatus(tokenList(parseStatusListToken(chain.list()!.token)), 10)).to.equal(StatusValue.VALID);
    expect(getStatus(tokenList(parseStatusListToken(chain.list()!.token)), 11)).to.equal(StatusValue.INVALID);
    for (const to of [StatusValue.VALID, StatusValue.SUSPENDED, StatusValue.UNISSUED]) {
      const e = chain.fails(chain.publishTx(tokenFor(ISSUER, withEntries(l3, [[11, to]]), { iat: IAT + 4 })), StatusListErrorCode.REVOCATION_FINAL);
      expect(e.data).to.include({ index: 11, from: StatusValue.INVALID, to });
    }
    // An older token (republished) would undo the revocation: refused as stale, and as a transition.
    chain.fails(chain.publishTx(tokenFor(ISSUER, l1, { iat: IAT + 1 })), StatusListErrorCode.STALE_TOKEN);
    chain.fails(chain.publishTx(tokenFor(ISSUER, l1, { iat: IAT + 9 })), StatusListErrorCode.REVOCATION_FINAL);
    chain.fails(chain.publishTx(tokenFor(ISSUER, withEntries(l3, [[10, StatusValue.UNISSUED]]), { iat: IAT + 4 })), StatusListErrorCode.BACK_TO_UNISSUED);
    chain.fails(chain.publishTx(tokenFor(ISSUER, withEntries(l3, [[12, StatusValue.SUSPENDED]]), { iat: IAT + 4 })), StatusListErrorCode.BAD_TRANSITION);
    expect(chain.list()!.createdHeight).to.be.below(chain.list()!.height);
  });

  it("the size never changes", () => {
    const chain = setup(1);
    chain.publish(newStatusList(SIZE));
    chain.fails(chain.publishTx(tokenFor(ISSUER, newStatusList(SIZE * 2))), StatusListErrorCode.SIZE_CHANGED);
    chain.fails(chain.publishTx(tokenFor(ISSUER, newStatusList(SIZE - 4))), StatusListErrorCode.SIZE_CHANGED);
  });

  it("UNISSUED -> VALID is refused once the issuer is suspended, removed, or no longer accredited for the list's types; it may still suspend and revoke", () => {
    for (const change of ["suspend", "remove", "retype"] as const) {
      const chain = setup(1);
      const l0 = withEntries(newStatusList(SIZE), []);
      chain.publish(l0);
      const l1 = withEntries(l0, [[1, StatusValue.VALID], [2, StatusValue.VALID]]);
      chain.publish(l1);
      if (change === "suspend") govAct(chain, { kind: "issuer/suspend", did: ISSUER.did });
      if (change === "remove") govAct(chain, { kind: "issuer/remove", did: ISSUER.did });
      if (change === "retype") {
        govAct(chain, { kind: "issuer/remove", did: ISSUER.did });
        govAct(chain, { kind: "issuer/add", did: ISSUER.did, name: "Acme KYC", types: ["KYCBasic"] });
        expect(chain.issuer()?.status).to.equal("active");
      }
      const e = chain.fails(chain.publishTx(tokenFor(ISSUER, withEntries(l1, [[3, StatusValue.VALID]]))), StatusListErrorCode.ISSUE_NOT_ALLOWED);
      expect(e.data?.index, change).to.equal(3);
      chain.publish(withEntries(l1, [[1, StatusValue.SUSPENDED], [2, StatusValue.INVALID], [4, StatusValue.INVALID]]));
      if (change !== "suspend") chain.publish(withEntries(l1, [[1, StatusValue.VALID], [2, StatusValue.INVALID], [4, StatusValue.INVALID]]));
    }
  });

  it("a token signed by another key, naming a key outside assertionMethod, or published by another signer is refused", () => {
    const chain = setup(1);
    chain.publish(newStatusList(SIZE));
    const next = withEntries(newStatusList(SIZE), [[5, StatusValue.VALID]]);
    chain.fails(chain.publishTx(tokenFor(ISSUER, next, { secretKey: OTHER.key.secretKey })), StatusListErrorCode.BAD_SIGNATURE);
    chain.fails(chain.publishTx(tokenFor(ISSUER, next, { kid: `${ISSUER.did}#key-9` })), StatusListErrorCode.WRONG_KEY);
    // The issuer's token carried by another DID's tx: refused before state (the kid names another DID).
    expectChainError(() => decodeTx(statusListPublishTx(as(OTHER, 1), LIST, tokenFor(ISSUER, next)).encoded, CHAIN_ID), StatusListErrorCode.WRONG_KEY);
    // A key rotated out of the issuer's document no longer signs its lists.
    const withKey2 = addVerificationMethod(chain.view.getDid(ISSUER.did)!.document, OTHER.key.publicKey, "key-2", ["assertionMethod"]);
    chain.run(updateTx(writeParams(ISSUER, 1, chain.nonce(ISSUER)), withKey2));
    chain.publish(next, { kid: `${ISSUER.did}#key-2`, secretKey: OTHER.key.secretKey });
    expect(getStatus(tokenList(parseStatusListToken(chain.list()!.token)), 5)).to.equal(StatusValue.VALID);
  });

  it("accepts a token whose JOSE signature is high-S (the tx signature stays low-S)", () => {
    const chain = setup(1);
    const token = tokenFor(ISSUER, newStatusList(SIZE));
    const [h, p, sig] = token.split(".");
    const high = `${h}.${p}.${base64urlEncode(malleate(Buffer.from(sig!, "base64url")))}`;
    chain.run(chain.publishTx(high));
    expect(chain.list()!.token).to.equal(high);
  });

  it("the token's sub must be the list URI under the genesis statusListBaseUri", () => {
    const chain = setup(1);
    chain.fails(chain.publishTx(tokenFor(ISSUER, newStatusList(SIZE), { uri: "https://elsewhere.example/status-lists/x/list-1" })), StatusListErrorCode.WRONG_SUBJECT);
    chain.fails(chain.publishTx(tokenFor(ISSUER, newStatusList(SIZE), { listId: "list-2" }), ISSUER, LIST), StatusListErrorCode.WRONG_SUBJECT);
    const base = "https://kyc.example.org/sid";
    const g = parseGenesis({ chainId: CHAIN_ID, genesisTime: new Date(NOW).toISOString(), validators: [{ name: "v", publicKey: hex(fixedKey(1).publicKey), power: 1 }], statusListBaseUri: base });
    chain.view.put(...genesisRecords(g).filter((r) => (r as { kind: string }).kind === "chainparams"));
    chain.fails(chain.publishTx(tokenFor(ISSUER, newStatusList(SIZE))), StatusListErrorCode.WRONG_SUBJECT);
    chain.publish(newStatusList(SIZE), { uri: statusListUri(base, ISSUER.did, LIST) });
    expect(chain.list()!.uri).to.equal(`${base}/status-lists/${ISSUER.did.slice(8)}/${LIST}`);
  });

  it("a zip bomb in lst is refused with STATUSLIST_BAD_LIST; malformed tokens with their typed errors at decode", () => {
    const chain = setup(1);
    const payload = buildStatusListPayload({ issuer: ISSUER.did, uri: statusListUri(DEFAULT_STATUS_LIST_BASE_URI, ISSUER.did, LIST), iat: IAT, packed: new Uint8Array(4) });
    payload.status_list.lst = base64urlEncode(deflateSync(new Uint8Array(32 * 1024 * 1024).fill(0xff)));
    const bomb = signStatusListToken(ISSUER.keyId, payload, ISSUER.key.secretKey);
    const e = chain.fails(chain.publishTx(bomb), StatusListErrorCode.BAD_LIST);
    expect(e.message).to.match(/more than 262144 bytes/);
    const input = statusListSigningInput(ISSUER.keyId, payload);
    const bad: Array<[string, string]> = [
      ["not.a.jws.at-all", StatusListErrorCode.MALFORMED_TOKEN],
      [`${input}`, StatusListErrorCode.MALFORMED_TOKEN],
      [`${base64urlEncode(Buffer.from(JSON.stringify({ alg: "none", typ: "statuslist+jwt", kid: ISSUER.keyId })))}.${input.split(".")[1]}.${base64urlEncode(new Uint8Array(64))}`, StatusListErrorCode.BAD_HEADER],
    ];
    for (const [token, code] of bad) expectChainError(() => decodeTx(statusListPublishTx(as(ISSUER, 1), LIST, token).encoded, CHAIN_ID), code);
  });
});

describe("registry: tx schema (no place for personal data)", () => {
  const signed = statusListPublishTx(as(ISSUER, 1), LIST, tokenFor(ISSUER, newStatusList(SIZE)));

  function reencodeWithPayload(mutate: (p: Record<string, unknown>) => void): Uint8Array {
    const raw = decodeCanonical(signed.encoded) as Record<string, unknown>;
    const payload = { ...(raw.payload as Record<string, unknown>) };
    mutate(payload);
    return encodeCanonical({ ...raw, payload } as never);
  }

  it("the tx types are DID operations, governance and status list publishes: none is per holder or per credential", () => {
    expect(Object.values(TxType).sort()).to.deep.equal(["did/create", "did/deactivate", "did/update", "gov/approve", "gov/propose", "statuslist/publish"]);
  });

  it("decodes a well-formed publish; its payload is exactly {listId, token}", () => {
    const tx = decodeTx(signed.encoded, CHAIN_ID);
    expect(tx.type).to.equal(TxType.StatusListPublish);
    expect(Object.keys(tx.payload).sort()).to.deep.equal(["listId", "token"]);
    expect(encodeTx(tx)).to.deep.equal(signed.encoded);
  });

  it("refuses extra fields, such as a subject or a credential id, and malformed list ids", () => {
    const cases: Array<[string, (p: Record<string, unknown>) => void]> = [
      ["subject", (p) => (p.subject = SUBJECT.did)],
      ["credential id", (p) => (p.id = "0123456789abcdef0123456789abcdef")],
      ["list id with spaces", (p) => (p.listId = "Alice Example")],
      ["list id too long", (p) => (p.listId = "a".repeat(65))],
      ["token not a string", (p) => (p.token = 7)],
      ["missing token", (p) => delete p.token],
    ];
    for (const [what, mutate] of cases) {
      let code: string | undefined;
      try {
        decodeTx(reencodeWithPayload(mutate), CHAIN_ID);
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect(code, what).to.be.oneOf([TxErrorCode.BAD_FIELD, StatusListErrorCode.MALFORMED_TOKEN]);
    }
  });

  it("a publish may be up to MAX_STATUS_LIST_TX_BYTES; other txs stay within MAX_TX_BYTES", () => {
    const big = sealTx({ v: TX_VERSION, type: TxType.GovPropose, chainId: CHAIN_ID, signer: T1.did, vm: T1.keyId, seq: 0, payload: { action: { kind: "issuer/add", did: ISSUER.did, name: "x".repeat(MAX_TX_BYTES), types: ["KYCBasic"] } } } as never, T1.key.secretKey);
    expectChainError(() => decodeTx(big.encoded, CHAIN_ID), TxErrorCode.TOO_LARGE);
    expectChainError(() => decodeTx(new Uint8Array(MAX_STATUS_LIST_TX_BYTES + 1), CHAIN_ID), TxErrorCode.TOO_LARGE);
  });

  it("refuses malformed governance actions", () => {
    const base = govProposeTx(as(T1, 1), { kind: "issuer/add", did: ISSUER.did, name: "Acme", types: ["KYCBasic"] });
    const raw = decodeCanonical(base.encoded) as Record<string, unknown>;
    const bad: unknown[] = [
      { kind: "issuer/add", did: ISSUER.did, name: "Acme", types: ["KYCBasic"], extra: 1 },
      { kind: "issuer/add", did: ISSUER.did, name: " Acme", types: ["KYCBasic"] },
      { kind: "issuer/add", did: "did:web:example.com", name: "Acme", types: ["KYCBasic"] },
      { kind: "validator/add", did: ISSUER.did },
      { kind: "trustees/set", members: [T1.did], threshold: 2 },
      { kind: "trustees/set", members: [T1.did, T1.did], threshold: 1 },
    ];
    for (const action of bad) {
      const enc = encodeCanonical({ ...raw, payload: { action } } as never);
      let code: string | undefined;
      try {
        decodeTx(enc, CHAIN_ID);
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect(code, JSON.stringify(action)).to.be.oneOf([TxErrorCode.BAD_FIELD, DidErrorCode.INVALID_DID]);
    }
  });
});

describe("registry: genesis", () => {
  const base = {
    chainId: "sid-dev",
    genesisTime: "2026-01-01T00:00:00.000Z",
    validators: [{ name: "v", publicKey: "0324653eac434488002cc06bbfb7f10fe18991e35f9fe4302dbea6d2353dc0ab1c", power: 10 }],
  };

  it("trustees and issuers are part of the hash and of the state at height 0", () => {
    const plain = parseGenesis(base);
    const withTrustees = parseGenesis({ ...base, trustees: { members: [T1.did], threshold: 1 } });
    expect(hex(genesisHash(withTrustees))).to.not.equal(hex(genesisHash(plain)));
    expect(genesisRecords(plain).map((r) => (r as { kind: string }).kind)).to.deep.equal(["validators"]);
    expect(genesisRecords(withTrustees).map((r) => (r as { kind: string }).kind)).to.deep.equal(["validators", "trustees"]);
  });

  it("statusListBaseUri: absent means the default (and the hash of an older file is unchanged); given, it is state at height 0", () => {
    const plain = parseGenesis(base);
    expect(statusListBaseUriOf(plain)).to.equal(DEFAULT_STATUS_LIST_BASE_URI);
    expect("statusListBaseUri" in plain).to.equal(false);
    const withBase = parseGenesis({ ...base, statusListBaseUri: "https://kyc.example.org" });
    expect(statusListBaseUriOf(withBase)).to.equal("https://kyc.example.org");
    expect(hex(genesisHash(withBase))).to.not.equal(hex(genesisHash(plain)));
    expect(genesisRecords(withBase).map((r) => (r as { kind: string }).kind)).to.deep.equal(["validators", "chainparams"]);
    for (const bad of ["ftp://x.example", "https://x.example/", "https://x.example?q=1", "not a url", 7]) {
      expect(() => parseGenesis({ ...base, statusListBaseUri: bad }), String(bad)).to.throw(/statusListBaseUri/);
    }
  });

  it("refuses malformed trustees and issuers", () => {
    const bad: unknown[] = [
      { ...base, trustees: { members: [T1.did], threshold: 2 } },
      { ...base, trustees: { members: [T1.did, T1.did], threshold: 1 } },
      { ...base, trustees: { members: ["did:web:x"], threshold: 1 } },
      { ...base, issuers: [{ did: ISSUER.did, name: "", types: ["KYCBasic"] }] },
      { ...base, issuers: [{ did: ISSUER.did, name: "Acme", types: ["bad type"] }] },
      { ...base, issuers: [{ did: ISSUER.did, name: "Acme", types: ["KYCBasic"] }, { did: ISSUER.did, name: "Acme", types: ["KYCBasic"] }] },
    ];
    for (const g of bad) expect(() => parseGenesis(g), JSON.stringify(g)).to.throw(/invalid genesis/);
  });
});

describe("registry: through the store", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "sid-registry-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("genesis records are state at height 0; status lists are listed by issuer; a replica replays to the same roots", async () => {
    const g = parseGenesis({
      chainId: CHAIN_ID,
      genesisTime: new Date(NOW).toISOString(),
      // The engine's own key: genesis state now holds the validator set the engine signs with.
      validators: [{ name: "v0", publicKey: hex(VALIDATOR_KEY.publicKey), power: 10 }],
      trustees: { members: [T1.did], threshold: 1 },
      issuers: [{ did: ISSUER.did, name: "Acme KYC", types: ["KYCBasic"] }],
    });
    const store = await ChainStore.open(join(dir, "a"));
    const replica = await ChainStore.open(join(dir, "b"));
    try {
      await store.initGenesis(new Uint8Array(32).fill(9), NOW, genesisRecords(g));
      await replica.initGenesis(new Uint8Array(32).fill(9), NOW, genesisRecords(g));
      expect(hex(store.head().stateRoot)).to.equal(hex(replica.head().stateRoot));
      expect(hex(store.head().stateRoot)).to.not.equal("00".repeat(32));
      expect(((await store.getRecord(issuerStateId(ISSUER.did))) as IssuerRecord).status).to.equal("active");

      const { mempool, engine } = await poolAndEngine(store, 100);
      for (const d of [ISSUER, SUBJECT, OTHER]) await mempool.add(createTx(d).encoded);
      await engine.produceBlock();
      await mempool.add(statusListPublishTx(as(ISSUER, 1), "a", tokenFor(ISSUER, newStatusList(SIZE), { listId: "a" })).encoded);
      await mempool.add(statusListPublishTx(as(ISSUER, 2), "b", tokenFor(ISSUER, newStatusList(SIZE), { listId: "b" })).encoded);
      await engine.produceBlock();
      const issued = withEntries(newStatusList(SIZE), [[9, StatusValue.VALID]]);
      await mempool.add(statusListPublishTx(as(ISSUER, 3), "a", tokenFor(ISSUER, issued, { listId: "a", iat: IAT + 1 })).encoded);
      await engine.produceBlock();

      expect((await store.listStatusLists(ISSUER.did, { limit: 10 })).map((l) => l.listId)).to.deep.equal(["a", "b"]);
      expect((await store.listStatusLists(ISSUER.did, { after: "a", limit: 10 })).map((l) => l.listId)).to.deep.equal(["b"]);
      expect((await store.listStatusLists(OTHER.did, { limit: 10 })).length).to.equal(0);
      const a = (await store.getRecord(statusListStateId(ISSUER.did, "a"))) as StatusListRecord;
      expect(getStatus(tokenList(parseStatusListToken(a.token)), 9)).to.equal(StatusValue.VALID);
      expect(a.createdHeight).to.be.below(a.height);
      expect((await store.listRecords("issuer", { limit: 10 })).length).to.equal(1);

      await replayInto(store, replica);
      expect(hex(replica.head().stateRoot)).to.equal(hex(store.head().stateRoot));
    } finally {
      await store.close();
      await replica.close();
    }
  });
});
