/**
 * Governance rules, pure: what an approved action writes. Issuer periods
 * (add, suspend, reinstate, remove) form a bounded history; trustee and
 * validator-set changes write their records; refusals are typed and leave
 * the state as it was (the rule returns records, it writes nothing).
 */
import { expect } from "chai";
import { DidErrorCode, GovErrorCode, KycErrorCode } from "../../../src/chain/errors.js";
import { applyGovAction, currentTrustees, sameAction, touchedByAction } from "../../../src/chain/governance.js";
import { type DidRecord, type GovAction, TRUSTEES_ID, issuerStateId } from "../../../src/chain/state.js";
import { VALIDATORS_ID, VALIDATOR_SET_DELAY, type ValidatorsRecord } from "../../../src/chain/validators.js";
import { buildInitialDocument } from "../../../src/did/document.js";
import { KYC_LIMITS, type IssuerRecord } from "../../../src/did/kyc.js";
import { didFromPublicKey } from "../../../src/did/syntax.js";
import { MapView, expectChainError, hex, testKey } from "../../helpers/fixtures.js";

const ISSUER = testKey(1);
const ISSUER_DID = didFromPublicKey(ISSUER.publicKey);

function didRecord(deactivated = false): DidRecord {
  return { did: ISSUER_DID, document: buildInitialDocument(ISSUER.publicKey), versionId: 1, nonce: 1, created: 1_000, updated: 1_000, createdHeight: 1, updatedHeight: 1, deactivated };
}

/** Run `actions` in order, each at the next height, putting what each writes into the view; the last records written. */
function run(view: MapView, actions: GovAction[], from = 10) {
  let out: ReturnType<typeof applyGovAction> = [];
  actions.forEach((a, i) => {
    out = applyGovAction(view, a, { height: from + i, time: 5_000 + i });
    view.put(...out);
  });
  return out;
}

const issuerOf = (view: MapView) => view.get(issuerStateId(ISSUER_DID)) as IssuerRecord | undefined;
const ADD: GovAction = { kind: "issuer/add", did: ISSUER_DID, name: "Acme", types: ["KYCBasic"] };

describe("chain/governance", () => {
  it("touchedByAction names the state ids an action reads and writes", () => {
    expect(touchedByAction(ADD)).to.deep.equal([issuerStateId(ISSUER_DID), ISSUER_DID]);
    expect(touchedByAction({ kind: "issuer/remove", did: ISSUER_DID })).to.deep.equal([issuerStateId(ISSUER_DID)]);
    expect(touchedByAction({ kind: "trustees/set", members: [], threshold: 1 })).to.deep.equal([TRUSTEES_ID]);
    expect(touchedByAction({ kind: "validator/set", publicKey: hex(testKey(2).publicKey), name: "v2", power: 5 })).to.deep.equal([VALIDATORS_ID]);
  });

  it("sameAction compares canonical encodings: key order does not matter, any value does", () => {
    expect(sameAction(ADD, { types: ["KYCBasic"], name: "Acme", did: ISSUER_DID, kind: "issuer/add" })).to.equal(true);
    expect(sameAction(ADD, { ...ADD, name: "Acme2" })).to.equal(false);
    expect(sameAction(ADD, { ...ADD, types: ["KYCBasic", "Other"] })).to.equal(false);
  });

  it("currentTrustees: the record, or GOV_DISABLED when there is none or it is empty", () => {
    const view = new MapView();
    expectChainError(() => currentTrustees(view), GovErrorCode.DISABLED);
    view.put({ kind: "trustees", members: [], threshold: 1, updatedHeight: 1 });
    expectChainError(() => currentTrustees(view), GovErrorCode.DISABLED);
    const t = { kind: "trustees" as const, members: [ISSUER_DID], threshold: 1, updatedHeight: 2 };
    view.put(t);
    expect(currentTrustees(view)).to.deep.equal(t);
  });

  describe("issuers", () => {
    it("add, suspend, reinstate, remove, add again: each a new period of the history, with its height and time", () => {
      const view = new MapView().put(didRecord());
      run(view, [ADD, { kind: "issuer/suspend", did: ISSUER_DID }, { kind: "issuer/reinstate", did: ISSUER_DID }, { kind: "issuer/remove", did: ISSUER_DID }, { ...ADD, name: "Acme II", types: ["KYCFull"] }]);
      const rec = issuerOf(view)!;
      expect(rec.history.map((p) => [p.status, p.height, p.time])).to.deep.equal([
        ["active", 10, 5_000],
        ["suspended", 11, 5_001],
        ["active", 12, 5_002],
        ["removed", 13, 5_003],
        ["active", 14, 5_004],
      ]);
      expect(rec).to.include({ kind: "issuer", did: ISSUER_DID, status: "active", name: "Acme II", updatedHeight: 14, updatedTime: 5_004 });
      expect(rec.types).to.deep.equal(["KYCFull"]);
      // Suspend and remove keep the accredited name and types of the period before.
      expect(rec.history[1]).to.include({ name: "Acme" });
      expect(rec.history[3]!.types).to.deep.equal(["KYCBasic"]);
    });

    it("refuses to add an issuer twice, an unregistered DID, a deactivated one", () => {
      const view = new MapView().put(didRecord());
      run(view, [ADD]);
      expectChainError(() => applyGovAction(view, ADD, { height: 20, time: 1 }), KycErrorCode.ISSUER_EXISTS);
      expectChainError(() => applyGovAction(new MapView(), ADD, { height: 20, time: 1 }), DidErrorCode.NOT_FOUND);
      expectChainError(() => applyGovAction(new MapView().put(didRecord(true)), ADD, { height: 20, time: 1 }), DidErrorCode.DEACTIVATED);
    });

    it("suspend only an active issuer, reinstate only a suspended one; nothing acts on one never added or removed", () => {
      const view = new MapView().put(didRecord());
      const at = { height: 30, time: 1 };
      for (const kind of ["issuer/suspend", "issuer/reinstate", "issuer/remove"] as const) {
        expectChainError(() => applyGovAction(view, { kind, did: ISSUER_DID }, at), KycErrorCode.ISSUER_NOT_FOUND);
      }
      run(view, [ADD]);
      expectChainError(() => applyGovAction(view, { kind: "issuer/reinstate", did: ISSUER_DID }, at), GovErrorCode.ACTION_FAILED);
      run(view, [{ kind: "issuer/suspend", did: ISSUER_DID }], 20);
      expectChainError(() => applyGovAction(view, { kind: "issuer/suspend", did: ISSUER_DID }, at), KycErrorCode.ISSUER_NOT_ACTIVE);
      run(view, [{ kind: "issuer/remove", did: ISSUER_DID }], 21);
      for (const kind of ["issuer/suspend", "issuer/reinstate", "issuer/remove"] as const) {
        expectChainError(() => applyGovAction(view, { kind, did: ISSUER_DID }, at), KycErrorCode.ISSUER_NOT_FOUND);
      }
    });

    it(`keeps at most ${KYC_LIMITS.maxIssuerHistory} periods, then refuses the change and writes nothing`, () => {
      const view = new MapView().put(didRecord());
      const cycle: GovAction[] = [{ kind: "issuer/suspend", did: ISSUER_DID }, { kind: "issuer/reinstate", did: ISSUER_DID }];
      const actions: GovAction[] = [ADD];
      while (actions.length < KYC_LIMITS.maxIssuerHistory) actions.push(cycle[(actions.length + 1) % 2]!);
      run(view, actions);
      const before = issuerOf(view)!;
      expect(before.history).to.have.length(KYC_LIMITS.maxIssuerHistory);
      const next = before.status === "active" ? cycle[0]! : cycle[1]!;
      expectChainError(() => applyGovAction(view, next, { height: 999, time: 1 }), GovErrorCode.ACTION_FAILED);
      expect(issuerOf(view)).to.equal(before);
    });
  });

  it("trustees/set writes the new members and threshold at the height", () => {
    const members = [ISSUER_DID, didFromPublicKey(testKey(2).publicKey)];
    expect(applyGovAction(new MapView(), { kind: "trustees/set", members, threshold: 2 }, { height: 44, time: 1 })).to.deep.equal([{ kind: "trustees", members, threshold: 2, updatedHeight: 44 }]);
  });

  describe("validator/set", () => {
    const v0 = hex(testKey(5).publicKey);
    const v1 = hex(testKey(6).publicKey);
    const genesisSet: ValidatorsRecord = { kind: "validators", current: [{ name: "v0", publicKey: v0, power: 10 }], pending: [], updatedHeight: 1 };

    it("schedules the change VALIDATOR_SET_DELAY blocks ahead", () => {
      const view = new MapView().put(genesisSet);
      const [rec] = applyGovAction(view, { kind: "validator/set", publicKey: v1, name: "v1", power: 5 }, { height: 8, time: 1 }) as ValidatorsRecord[];
      expect(rec!.pending).to.have.length(1);
      expect(rec!.pending[0]!.effectiveHeight).to.equal(8 + VALIDATOR_SET_DELAY);
      expect(rec!.pending[0]!.set.map((v) => [v.publicKey, v.power])).to.have.deep.members([
        [v0, 10],
        [v1, 5],
      ]);
    });

    it("refuses removing the last validator, one that is not a validator, and a chain with no set in state", () => {
      const view = new MapView().put(genesisSet);
      expectChainError(() => applyGovAction(view, { kind: "validator/set", publicKey: v0, name: "", power: 0 }, { height: 8, time: 1 }), GovErrorCode.VALIDATOR_SET_EMPTY);
      expectChainError(() => applyGovAction(view, { kind: "validator/set", publicKey: v1, name: "", power: 0 }, { height: 8, time: 1 }), GovErrorCode.VALIDATOR_NOT_FOUND);
      expectChainError(() => applyGovAction(new MapView(), { kind: "validator/set", publicKey: v1, name: "v1", power: 3 }, { height: 8, time: 1 }), GovErrorCode.ACTION_FAILED);
    });
  });
});
