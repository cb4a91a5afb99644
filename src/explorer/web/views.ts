/** The explorer's pages. Each renders into the view element and may register live updates it removes on leave. */
import { type Live, RpcFailure, rpc, rpcOptional } from "./api.js";
import { ago, append, card, h, json, link, short, table } from "./dom.js";
import { checkResolutionProof } from "./proof.js";
import type { CommitJson, HeaderJson } from "../../chain/block.js";
import type { DidDocument } from "../../did/document.js";
import type { HeadSummary } from "../../events/node-events.js";
import { diffDocuments } from "../../did/document-diff.js";

export interface Page {
  el: HTMLElement;
  /** Called when the person navigates away: stop live updates. */
  leave?: () => void;
}

interface BlockJson {
  hash: string;
  header: HeaderJson<string>;
  txs: string[];
  lastCommit: CommitJson | null;
}
type HeadEvent = Pick<HeadSummary, "height" | "hash" | "time" | "txCount" | "proposer">;
interface HistoryEntry {
  versionId: string;
  operation: string;
  height: number;
  time: string;
  txHash: string;
}
interface Resolution {
  didDocument: Record<string, unknown> | null;
  didResolutionMetadata: { error?: string; [k: string]: unknown };
  didDocumentMetadata: Record<string, unknown>;
}
interface Validator {
  name?: string;
  address: string;
  publicKey: string;
  power: number;
}

const MAX_BLOCK_ROWS = 20;
/** Versions listed on a DID's page (the rest are one resolve away). */
const TIMELINE_VERSIONS = 50;

function failure(e: unknown): HTMLElement {
  const text = e instanceof RpcFailure ? `${e.message}${e.data && typeof e.data === "object" && "reason" in e.data ? ` (${String((e.data as { reason: unknown }).reason)})` : ""}` : (e as Error).message;
  return card(h("p", { class: "bad" }, text));
}

/** Names for validator addresses, from the set in force now. */
async function validatorNames(): Promise<Map<string, string>> {
  const set = await rpcOptional<{ validators: Validator[] }>("validators_get");
  return new Map((set?.validators ?? []).map((v) => [v.address, v.name || short(v.address, 6)]));
}

export async function homePage(live: Live): Promise<Page> {
  const el = h("div");
  const status = await rpc<{ chainId: string; height: number; latestBlockTime: string; mempool: { size: number } }>("node_status");
  const names = await validatorNames();
  const summary = h("p", { class: "muted", id: "summary" }, `Chain ${status.chainId} · height ${status.height} · ${status.mempool.size} txs pending`);
  const tbody = h("tbody", { id: "blocks" });
  const row = (b: HeadEvent, fresh: boolean) =>
    h(
      "tr",
      { class: fresh ? "new" : undefined, "data-height": b.height },
      h("td", {}, link(`block/${b.height}`, String(b.height))),
      h("td", { class: "mono" }, link(`block/${b.hash}`, short(b.hash))),
      h("td", {}, String(b.txCount)),
      h("td", {}, names.get(b.proposer) ?? short(b.proposer, 6)),
      h("td", { class: "muted", title: b.time }, ago(b.time)),
    );
  const heights = [];
  for (let i = status.height; i >= 1 && heights.length < MAX_BLOCK_ROWS; i--) heights.push(i);
  const blocks = await Promise.all(heights.map((height) => rpc<BlockJson>("block_get", { height })));
  for (const b of blocks) tbody.append(row({ height: b.header.height, hash: b.hash, time: b.header.time, txCount: b.txs.length, proposer: b.header.proposer }, false));
  const liveState = h("span", { class: "pill", id: "live" }, "connecting…");
  el.append(
    h("h1", {}, "Latest blocks"),
    summary,
    card(
      h("div", { class: "row" }, liveState),
      h("table", {}, h("thead", {}, h("tr", {}, ...["Height", "Hash", "Txs", "Proposer", "Time"].map((t) => h("th", {}, t)))), tbody),
      blocks.length === 0 ? h("p", { class: "muted" }, "No block yet.") : null,
    ),
  );
  let top = status.height;
  const off = live.on("newHeads", (r) => {
    const b = r as HeadEvent;
    if (b.height <= top) return;
    top = b.height;
    tbody.prepend(row(b, true));
    while (tbody.children.length > MAX_BLOCK_ROWS) tbody.lastElementChild!.remove();
    summary.textContent = `Chain ${status.chainId} · height ${b.height}`;
    liveState.textContent = "live";
  });
  live.onState = (s) => (liveState.textContent = s === "open" ? "live" : "reconnecting…");
  return { el, leave: off };
}

export async function blockPage(id: string): Promise<Page> {
  const params = /^\d+$/.test(id) ? { height: Number(id) } : { hash: id.replace(/^0x/i, "").toLowerCase() };
  const b = await rpc<BlockJson>("block_get", params);
  const names = await validatorNames();
  const hd = b.header;
  const rows = Object.entries(hd).map(([k, v]) => [k, k === "proposer" ? `${names.get(String(v)) ?? ""} ${String(v)}`.trim() : String(v)]);
  const el = h(
    "div",
    {},
    h("h1", {}, `Block ${hd.height}`),
    h("div", { class: "row" }, hd.height > 1 ? link(`block/${hd.height - 1}`, "← previous") : null, link(`block/${hd.height + 1}`, "next →")),
    card(table(["field", "value"], [["hash", h("span", { class: "mono" }, b.hash)], ...rows.map(([k, v]) => [k!, h("span", { class: "mono" }, v!)])])),
    h("h2", {}, `Transactions (${b.txs.length})`),
    card(b.txs.length === 0 ? h("p", { class: "muted" }, "No transactions.") : table(["#", "hash"], b.txs.map((t, i) => [String(i), h("span", { class: "mono" }, link(`tx/${t}`, t))]))),
    h("h2", {}, "Commit of the previous block"),
    card(
      b.lastCommit
        ? table(
            ["validator", "signature"],
            b.lastCommit.sigs.map((s) => [names.get(s.validator) ?? short(s.validator, 8), h("span", { class: "mono" }, short(s.sig, 16))]),
          )
        : h("p", { class: "muted" }, "None (the first block)."),
    ),
  );
  return { el };
}

export async function txPage(hash: string): Promise<Page> {
  const t = await rpc<{ status: string; height?: number; index?: number; tx?: Record<string, unknown>; error?: { code: string; message: string } }>("tx_get", { hash });
  if (t.status === "unknown") {
    // A 64-hex search may be a block hash.
    try {
      return await blockPage(hash);
    } catch {
      return { el: h("div", {}, h("h1", {}, "Not found"), card(h("p", {}, `No transaction or block ${hash} is known to this node.`))) };
    }
  }
  const signer = typeof t.tx?.signer === "string" ? t.tx.signer : undefined;
  const el = h(
    "div",
    {},
    h("h1", {}, "Transaction"),
    card(
      table(
        ["field", "value"],
        [
          ["hash", h("span", { class: "mono" }, hash)],
          ["status", h("span", { class: t.status === "committed" ? "ok" : t.status === "rejected" ? "bad" : "warn" }, t.status)],
          ["block", t.height !== undefined ? link(`block/${t.height}`, String(t.height)) : "—"],
          ["index", t.index !== undefined ? String(t.index) : "—"],
          ["type", String(t.tx?.type ?? "—")],
          ["signer", signer?.startsWith("did:") ? link(`did/${signer}`, signer) : (signer ?? "—")],
          ...(t.error ? [["error", `${t.error.code}: ${t.error.message}`]] : []),
        ],
      ),
    ),
    t.tx ? h("h2", {}, "Content") : null,
    t.tx ? card(json(t.tx)) : null,
  );
  return { el };
}

/** What changed from one document version to the next, in words a person reads (the ids of keys and services as "#fragment"). */
export function describeChange(prev: Record<string, unknown> | null, next: Record<string, unknown> | null): string[] {
  if (!prev) return ["created"];
  if (!next) return ["deactivated"];
  const d = diffDocuments(prev as unknown as DidDocument, next as unknown as DidDocument);
  const fragment = (id: string) => id.replace(/^.*#/, "#");
  const out: string[] = [];
  for (const [label, c] of [
    ["key", d.keys],
    ["service", d.services],
  ] as const) {
    for (const id of c.added) out.push(`${label} ${fragment(id)} added`);
    for (const id of c.removed) out.push(`${label} ${fragment(id)} removed`);
    for (const id of c.changed) out.push(`${label} ${fragment(id)} changed`);
  }
  if (d.relationships) out.push("verification relationships changed");
  if (d.controller) out.push("controller changed");
  if (d.alsoKnownAs) out.push("alsoKnownAs changed");
  if (out.length === 0 && d.context) out.push("@context changed");
  return out.length ? out : ["no change to the document"];
}

export async function didPage(did: string, live: Live, at: { versionId?: string; versionTime?: string } = {}): Promise<Page> {
  const el = h("div");
  const current = await rpc<Resolution>("did_resolve", { did });
  const err = current.didResolutionMetadata.error;
  el.append(h("h1", {}, did));
  if (err && err !== "deactivated") {
    el.append(card(h("p", { class: "bad" }, err === "notFound" ? "This DID is not registered on this chain." : `Resolution error: ${err}`)));
    return { el };
  }
  const meta = current.didDocumentMetadata;
  el.append(
    h(
      "p",
      { class: "muted" },
      meta.deactivated ? h("span", { class: "bad" }, "Deactivated. ") : null,
      `Version ${String(meta.versionId ?? "?")}, created ${String(meta.created ?? "?")}${meta.updated ? `, updated ${String(meta.updated)}` : ""}`,
    ),
  );

  // Proof checked here, in the browser, against the genesis validators.
  const verdict = h("div", { id: "proof-verdict" });
  const proofButton = h("button", { type: "button", id: "check-proof" }, "Check proof in this browser");
  proofButton.addEventListener("click", async () => {
    verdict.className = "verdict";
    verdict.textContent = "Checking…";
    const v = await checkResolutionProof(did);
    verdict.className = `verdict ${v.ok ? "ok" : "bad"}`;
    verdict.replaceChildren(h("div", {}, v.text));
    if (v.detail) verdict.append(h("div", { class: "muted mono" }, v.detail));
  });
  el.append(card(h("div", { class: "row" }, proofButton), verdict));

  // Any version, by number or time.
  const versionInput = h("input", { id: "version-id", placeholder: "version (e.g. 1)", size: 12, value: at.versionId ?? "" }) as HTMLInputElement;
  const timeInput = h("input", { id: "version-time", placeholder: "time (RFC 3339)", size: 26, value: at.versionTime ?? "" }) as HTMLInputElement;
  const showButton = h("button", { type: "button", class: "secondary" }, "Show");
  showButton.addEventListener("click", () => {
    const q = versionInput.value.trim() ? `?versionId=${encodeURIComponent(versionInput.value.trim())}` : timeInput.value.trim() ? `?versionTime=${encodeURIComponent(timeInput.value.trim())}` : "";
    location.hash = `#/did/${did}${q}`;
  });
  el.append(h("h2", {}, "Document"), card(h("div", { class: "row" }, "Resolve at", versionInput, "or", timeInput, showButton)));

  const shown = at.versionId || at.versionTime ? await rpc<Resolution>("did_resolve", { did, ...at }) : current;
  el.append(
    card(
      at.versionId || at.versionTime ? h("p", { class: "muted" }, `As of ${at.versionId ? `version ${at.versionId}` : at.versionTime}`) : null,
      shown.didResolutionMetadata.error && shown.didResolutionMetadata.error !== "deactivated" ? h("p", { class: "bad" }, `Resolution error: ${shown.didResolutionMetadata.error}`) : json(shown.didDocument),
      h("details", {}, h("summary", {}, "Resolution metadata"), json({ didResolutionMetadata: shown.didResolutionMetadata, didDocumentMetadata: shown.didDocumentMetadata })),
    ),
  );

  // The timeline: every version, and what it changed (the latest few compared in full).
  // The latest versions only: did_history pages forward from a version number, and the current one is known.
  const total = Number(current.didDocumentMetadata.versionId ?? 0) || 0;
  const history = await rpc<{ versions: HistoryEntry[] }>("did_history", { did, after: String(Math.max(0, total - TIMELINE_VERSIONS)), limit: TIMELINE_VERSIONS });
  const versions = history.versions;
  const compared = versions.slice(-10);
  const docs = await Promise.all(
    compared.map(async (v) => (await rpc<Resolution>("did_resolve", { did, versionId: v.versionId })).didDocument),
  );
  // The version before the first one compared, unless that one is the creation.
  const firstNumber = Number(compared[0]?.versionId ?? 1);
  const before = firstNumber > 1 ? (await rpc<Resolution>("did_resolve", { did, versionId: String(firstNumber - 1) })).didDocument : null;
  const changes = new Map<string, string[]>();
  compared.forEach((v, i) => {
    const prev = i === 0 ? before : docs[i - 1]!;
    const next = v.operation === "deactivate" ? null : docs[i]!;
    changes.set(v.versionId, i === 0 && !before ? ["created"] : describeChange(prev, next));
  });
  append(el, [
    h("h2", {}, `Versions (${total || versions.length})`),
    total > versions.length ? h("p", { class: "muted" }, `The latest ${versions.length}; resolve any earlier one by its number above.`) : null,
    card(
      h(
        "ol",
        { class: "timeline", id: "timeline", reversed: true },
        ...[...versions].reverse().map((v) =>
          h(
            "li",
            { "data-version": v.versionId },
            link(`did/${did}?versionId=${v.versionId}`, `version ${v.versionId}`),
            " ",
            h("span", { class: "pill" }, v.operation),
            ` at block `,
            link(`block/${v.height}`, String(v.height)),
            ` · ${v.time} · `,
            link(`tx/${v.txHash}`, short(v.txHash, 8), "mono"),
            changes.has(v.versionId) ? h("div", { class: "muted" }, changes.get(v.versionId)!.join("; ")) : null,
          ),
        ),
      ),
    ),
  ]);
  const off = live.on("did", (r) => {
    const e = r as { did?: string };
    if (e.did === did && location.hash.startsWith(`#/did/${did}`)) window.dispatchEvent(new HashChangeEvent("hashchange"));
  });
  return { el, leave: off };
}

export async function didUrlPage(didUrl: string): Promise<Page> {
  const r = await fetch(`/1.0/identifiers/${encodeURIComponent(didUrl)}`, { headers: { accept: "application/did-url-dereferencing" }, redirect: "manual" });
  let body: unknown;
  try {
    body = await r.json();
  } catch {
    body = { status: r.status, note: r.type === "opaqueredirect" ? "the DID URL names a service endpoint (a redirect)" : "no JSON body" };
  }
  const base = didUrl.replace(/[?#/].*$/, "");
  return { el: h("div", {}, h("h1", {}, didUrl), h("p", {}, "Dereferenced from ", link(`did/${base}`, base), ` · HTTP ${r.status}`), card(json(body))) };
}

export async function validatorsPage(): Promise<Page> {
  const set = await rpc<{ height: number; validators: Validator[]; totalPower: number; hash: string }>("validators_get");
  const status = await rpc<{ height: number }>("node_status");
  // Recent signing: which validators' precommits are in the commits of the last blocks.
  const window = Math.min(20, Math.max(0, status.height - 1));
  const signed = new Map<string, number>();
  const blocks = await Promise.all(Array.from({ length: window }, (_, i) => rpc<BlockJson>("block_get", { height: status.height - i })));
  for (const b of blocks) for (const s of b.lastCommit?.sigs ?? []) signed.set(s.validator, (signed.get(s.validator) ?? 0) + 1);
  const el = h(
    "div",
    {},
    h("h1", {}, "Validators"),
    h("p", { class: "muted" }, `The set for height ${set.height}: ${set.validators.length} validators, total power ${set.totalPower}, set hash ${short(set.hash)}`),
    card(
      table(
        ["name", "address", "power", "share", `signed (last ${window} commits)`],
        set.validators.map((v) => [
          v.name || "—",
          h("span", { class: "mono" }, v.address),
          String(v.power),
          `${((100 * v.power) / set.totalPower).toFixed(1)} %`,
          window === 0 ? "—" : h("span", { class: (signed.get(v.address) ?? 0) === window ? "ok" : (signed.get(v.address) ?? 0) === 0 ? "bad" : "warn" }, `${signed.get(v.address) ?? 0} / ${window}`),
        ]),
      ),
    ),
  );
  return { el };
}

export async function issuersPage(): Promise<Page> {
  const r = await rpc<{ issuers: Record<string, unknown>[]; next: string | null }>("issuer_list", { limit: 100 });
  const el = h(
    "div",
    {},
    h("h1", {}, "Issuer registry"),
    h("p", { class: "muted" }, "Accredited KYC issuers and their credential types. Nothing about the people they attest to is on chain."),
    card(
      r.issuers.length === 0
        ? h("p", { class: "muted" }, "No issuer is accredited on this chain.")
        : table(
            ["name", "DID", "types", "status"],
            r.issuers.map((i) => [String(i.name ?? ""), link(`did/${String(i.did)}`, String(i.did), "mono"), ((i.types as string[] | undefined) ?? []).join(", "), String(i.status ?? "")]),
          ),
      r.next ? h("p", { class: "muted" }, "More issuers follow (the first 100 are shown).") : null,
    ),
  );
  return { el };
}

export async function nodePage(): Promise<Page> {
  const status = await rpc<Record<string, unknown>>("node_status");
  const health = await fetch("/health").then(async (r) => ({ code: r.status, body: (await r.json()) as Record<string, unknown> }));
  const peers = await rpcOptional<{ peers: Record<string, unknown>[] } | Record<string, unknown>[]>("net_peers");
  const list = Array.isArray(peers) ? peers : (peers?.peers ?? undefined);
  const el = h(
    "div",
    {},
    h("h1", {}, "Node"),
    card(
      h("p", {}, "Health: ", h("span", { class: health.code === 200 ? "ok" : "bad", id: "health" }, `${String(health.body.status ?? health.code)}`), health.body.reason ? ` (${String(health.body.reason)})` : ""),
      table(["field", "value"], Object.entries(status).map(([k, v]) => [k, h("span", { class: "mono" }, typeof v === "object" ? JSON.stringify(v) : String(v))])),
    ),
    h("h2", {}, "Peers"),
    card(
      list === undefined
        ? h("p", { class: "muted" }, "This node does not list its peers.")
        : list.length === 0
          ? h("p", { class: "muted" }, "No peers connected.")
          : table(
              Object.keys(list[0]!),
              list.map((p) => Object.values(p).map((v) => h("span", { class: "mono" }, typeof v === "object" ? JSON.stringify(v) : String(v)))),
            ),
    ),
  );
  return { el };
}

export { failure };
