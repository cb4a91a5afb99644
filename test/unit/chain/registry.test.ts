import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addVerificationMethod } from "../../../src/did/document.js";
import { effectiveStatus, issuerMayAttest, issuerPeriodAt, storedStatusAt, type CredentialRecord, type IssuerRecord } from "../../../src/did/kyc.js";
import { anchorCredentialTx, credentialStatusTx, govApproveTx, govProposeTx, type AnchorParams, type SignerParams } from "../../../src/client/txs.js";
import { checkTx, type CheckedTx, type ExecContext } from "../../../src/chain/execute.js";
import { genesisHash, genesisRecords, parseGenesis } from "../../../src/chain/genesis.js";
import { GovErrorCode, KycErrorCode, TxErrorCode, DidErrorCode } from "../../../src/chain/errors.js";
import { PROPOSAL_TTL_BLOCKS } from "../../../src/chain/governance.js";
import { type GovAction, type ProposalRecord, type TrusteesRecord, credentialStateId, issuerStateId, proposalStateId, TRUSTEES_ID } from "../../../src/chain/state.js";
import { ChainStore } from "../../../src/chain/store.js";
import { decodeTx, encodeTx, TxType } from "../../../src/chain/tx.js";
import { encodeCanonical, decodeCanonical } from "../../../src/chain/codec.js";
import {
  CHAIN_ID,
  MapView,
  checked,
  createTx,
  deactivateTx,
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
const ID1 = "0123456789abcdef0123456789abcdef";
const ID2 = "fedcba9876543210fedcba9876543210";
const NOW = 1_700_000_000_000;

/** Signs as `d` with its #key-1 at sequence `seq`. */
function as(d: TestDid, seq: number, vm = d.keyId, secretKey = d.key.secretKey): SignerParams {
  return { chainId: CHAIN_ID, signer: d.did, vm, seq, secretKey };
}

function anchor(id = ID1, over: Partial<AnchorParams> = {}): AnchorParams {
  return { id, subject: SUBJECT.did, types: ["KYCBasic"], digest: new Uint8Array(32).fill(7), validFrom: NOW - 1000, validUntil: NOW + 86_400_000, ...over };
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
  credential(id = ID1) {
    return this.view.get(credentialStateId(id)) as CredentialRecord | undefined;
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

describe("registry: credential anchors and status", () => {
  it("an accredited issuer anchors a credential: the record holds digest, ids, types, validity and status only", () => {
    const chain = setup(1);
    const c = checked(anchorCredentialTx(as(ISSUER, 1), anchor()));
    const effect = chain.run(c);
    expect(effect.credential).to.deep.include({ id: ID1, issuer: ISSUER.did, subject: SUBJECT.did, kind: "anchor" });
    const rec = chain.credential()!;
    expect(Object.keys(rec).sort()).to.deep.equal(
      ["anchoredHeight", "anchoredTime", "digest", "history", "id", "issuer", "kind", "status", "subject", "txHash", "types", "validFrom", "validUntil"].sort(),
    );
    expect(rec.status).to.equal("active");
    expect(chain.nonce(ISSUER)).to.equal(2);
  });

  it("refuses anchors by non-issuers, suspended or removed issuers, and for types not accredited", () => {
    const chain = setup(1);
    chain.fails(checked(anchorCredentialTx(as(OTHER, 1), anchor())), KycErrorCode.ISSUER_NOT_FOUND);
    chain.fails(checked(anchorCredentialTx(as(ISSUER, 1), anchor(ID1, { types: ["KYCBasic", "Passport"] }))), KycErrorCode.TYPE_NOT_ACCREDITED);
    govAct(chain, { kind: "issuer/suspend", did: ISSUER.did });
    chain.fails(checked(anchorCredentialTx(as(ISSUER, 1), anchor())), KycErrorCode.ISSUER_NOT_ACTIVE);
    govAct(chain, { kind: "issuer/remove", did: ISSUER.did });
    chain.fails(checked(anchorCredentialTx(as(ISSUER, 1), anchor())), KycErrorCode.ISSUER_NOT_FOUND);
  });

  it("refuses an anchor signed with a key outside the issuer's assertionMethod", () => {
    const chain = setup(1);
    const k2 = fixedKey(0x22);
    const doc = addVerificationMethod(ISSUER.doc, k2.publicKey, "auth-only", ["authentication"]);
    chain.run(updateTx(writeParams(ISSUER, 1, 1), doc));
    chain.fails(checked(anchorCredentialTx(as(ISSUER, 2, `${ISSUER.did}#auth-only`, k2.secretKey), anchor())), TxErrorCode.UNAUTHORIZED);
    chain.run(checked(anchorCredentialTx(as(ISSUER, 2), anchor())));
  });

  it("refuses unknown or deactivated subjects, duplicate ids and already-expired credentials", () => {
    const chain = setup(1);
    chain.fails(checked(anchorCredentialTx(as(ISSUER, 1), anchor(ID1, { subject: testDid(fixedKey(0x66)).did }))), DidErrorCode.NOT_FOUND);
    chain.fails(checked(anchorCredentialTx(as(ISSUER, 1), anchor(ID1, { validFrom: NOW - 10_000, validUntil: NOW - 5000 }))), KycErrorCode.BAD_VALIDITY);
    chain.run(checked(anchorCredentialTx(as(ISSUER, 1), anchor())));
    chain.fails(checked(anchorCredentialTx(as(ISSUER, 2), anchor())), KycErrorCode.CREDENTIAL_EXISTS);
    chain.run(deactivateTx(writeParams(SUBJECT, 1, 1)));
    chain.fails(checked(anchorCredentialTx(as(ISSUER, 2), anchor(ID2))), DidErrorCode.DEACTIVATED);
  });

  it("status: suspend and reinstate by the issuer only; revocation is final; history answers status at a height or time", () => {
    const chain = setup(1);
    chain.run(checked(anchorCredentialTx(as(ISSUER, 1), anchor())));
    const anchoredAt = { height: chain.height - 1, time: chain.time - 1000 };
    chain.fails(checked(credentialStatusTx(as(OTHER, 1), ID1, "revoked")), KycErrorCode.NOT_CREDENTIAL_ISSUER);
    chain.fails(checked(credentialStatusTx(as(ISSUER, 2), ID2, "revoked")), KycErrorCode.CREDENTIAL_NOT_FOUND);
    chain.fails(checked(credentialStatusTx(as(ISSUER, 2), ID1, "active")), KycErrorCode.BAD_STATUS_CHANGE);
    chain.run(checked(credentialStatusTx(as(ISSUER, 2), ID1, "suspended")));
    const suspendedAt = chain.height - 1;
    chain.run(checked(credentialStatusTx(as(ISSUER, 3), ID1, "active")));
    chain.run(checked(credentialStatusTx(as(ISSUER, 4), ID1, "revoked")));
    const revokedAt = chain.height - 1;
    chain.fails(checked(credentialStatusTx(as(ISSUER, 5), ID1, "active")), KycErrorCode.BAD_STATUS_CHANGE);
    chain.fails(checked(credentialStatusTx(as(ISSUER, 5), ID1, "suspended")), KycErrorCode.BAD_STATUS_CHANGE);
    const rec = chain.credential()!;
    expect(rec.status).to.equal("revoked");
    expect(storedStatusAt(rec, { height: anchoredAt.height - 1 })).to.equal(undefined);
    expect(storedStatusAt(rec, { height: anchoredAt.height })).to.equal("active");
    expect(storedStatusAt(rec, { time: anchoredAt.time })).to.equal("active");
    expect(storedStatusAt(rec, { height: suspendedAt })).to.equal("suspended");
    expect(storedStatusAt(rec, { height: revokedAt - 1 })).to.equal("active");
    expect(storedStatusAt(rec, { height: revokedAt })).to.equal("revoked");
    expect(effectiveStatus("active", rec, rec.validUntil!)).to.equal("expired");
    expect(effectiveStatus("active", rec, rec.validFrom - 1)).to.equal("notYetValid");
    expect(effectiveStatus("suspended", rec, rec.validUntil! + 1)).to.equal("suspended");
  });

  it("a suspended issuer may still revoke but not reinstate", () => {
    const chain = setup(1);
    chain.run(checked(anchorCredentialTx(as(ISSUER, 1), anchor())));
    chain.run(checked(anchorCredentialTx(as(ISSUER, 2), anchor(ID2))));
    chain.run(checked(credentialStatusTx(as(ISSUER, 3), ID2, "suspended")));
    govAct(chain, { kind: "issuer/suspend", did: ISSUER.did });
    chain.fails(checked(credentialStatusTx(as(ISSUER, 4), ID2, "active")), KycErrorCode.ISSUER_NOT_ACTIVE);
    chain.run(checked(credentialStatusTx(as(ISSUER, 4), ID1, "revoked")));
    expect(chain.credential()!.status).to.equal("revoked");
  });
});

describe("registry: tx schema (no place for personal data)", () => {
  const signed = anchorCredentialTx(as(ISSUER, 1), anchor());

  function reencodeWithPayload(mutate: (p: Record<string, unknown>) => void): Uint8Array {
    const raw = decodeCanonical(signed.encoded) as Record<string, unknown>;
    const payload = { ...(raw.payload as Record<string, unknown>) };
    mutate(payload);
    return encodeCanonical({ ...raw, payload } as never);
  }

  it("decodes a well-formed anchor", () => {
    const tx = decodeTx(signed.encoded, CHAIN_ID);
    expect(tx.type).to.equal(TxType.CredentialAnchor);
    expect(encodeTx(tx)).to.deep.equal(signed.encoded);
  });

  it("refuses extra fields, such as a claim value, and malformed ids, types, digests and times", () => {
    const cases: Array<[string, (p: Record<string, unknown>) => void]> = [
      ["extra field", (p) => (p.name = "Alice Example")],
      ["id with data", (p) => (p.id = "alice-example-1990-01-01")],
      ["uppercase id", (p) => (p.id = ID1.toUpperCase())],
      ["type with spaces", (p) => (p.types = ["born 1990"])],
      ["no types", (p) => (p.types = [])],
      ["repeated type", (p) => (p.types = ["KYCBasic", "KYCBasic"])],
      ["short digest", (p) => (p.digest = new Uint8Array(31))],
      ["digest as text", (p) => (p.digest = "Alice")],
      ["validUntil before validFrom", (p) => (p.validUntil = (p.validFrom as number) - 1)],
      ["time out of range", (p) => (p.validFrom = 19_900_101)],
      ["missing field", (p) => delete p.validUntil],
    ];
    for (const [what, mutate] of cases) {
      expectChainError(() => decodeTx(reencodeWithPayload(mutate), CHAIN_ID), TxErrorCode.BAD_FIELD);
      void what;
    }
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

  it("genesis records are state at height 0; anchors are indexed by subject and issuer; a replica replays to the same roots", async () => {
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
      const far = Date.now() + 10 * 86_400_000;
      await mempool.add(anchorCredentialTx(as(ISSUER, 1), anchor(ID1, { validUntil: far })).encoded);
      await mempool.add(anchorCredentialTx(as(ISSUER, 2), anchor(ID2, { validUntil: far, subject: OTHER.did })).encoded);
      await mempool.add(credentialStatusTx(as(ISSUER, 3), ID1, "suspended").encoded);
      await engine.produceBlock();

      expect((await store.listCredentials("subject", SUBJECT.did, { limit: 10 })).map((c) => c.id)).to.deep.equal([ID1]);
      expect((await store.listCredentials("issuer", ISSUER.did, { limit: 10 })).map((c) => c.id)).to.deep.equal([ID1, ID2]);
      expect((await store.listCredentials("issuer", ISSUER.did, { after: ID1, limit: 10 })).map((c) => c.id)).to.deep.equal([ID2]);
      expect((await store.listCredentials("issuer", OTHER.did, { limit: 10 })).length).to.equal(0);
      expect(((await store.getRecord(credentialStateId(ID1))) as CredentialRecord).status).to.equal("suspended");
      expect((await store.listRecords("issuer", { limit: 10 })).length).to.equal(1);

      await replayInto(store, replica);
      expect(hex(replica.head().stateRoot)).to.equal(hex(store.head().stateRoot));
    } finally {
      await store.close();
      await replica.close();
    }
  });
});
