/**
 * The explorer's entry: a hash router (#/block/7, #/did/did:sid:…), the
 * search box, and one live WebSocket shared by the pages.
 */
import { Live } from "./api.js";
import { card, h } from "./dom.js";
import { type Page, blockPage, didPage, didUrlPage, failure, homePage, issuersPage, nodePage, txPage, validatorsPage } from "./views.js";

const live = new Live();
let current: Page | undefined;
let seq = 0;

/** Where a search goes: a DID, a DID URL, a height, or a 64-hex hash (tx first, then block). */
export function routeOf(query: string): string | undefined {
  const q = query.trim();
  if (q === "") return undefined;
  if (/^\d{1,15}$/.test(q)) return `block/${Number(q)}`;
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(q)) return `tx/${q.replace(/^0x/i, "").toLowerCase()}`;
  if (/^did:[a-z0-9]+:[^?#/]+$/.test(q)) return `did/${q}`;
  if (q.startsWith("did:")) return `didurl/${encodeURIComponent(q)}`;
  return undefined;
}

async function render(): Promise<void> {
  const my = ++seq;
  const view = document.getElementById("view")!;
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = splitOnce(raw, "?");
  const [kind, ...rest] = path.split("/");
  const arg = decodeURIComponent(rest.join("/"));
  const params = new URLSearchParams(query);
  current?.leave?.();
  current = undefined;
  let page: Page;
  try {
    switch (kind) {
      case "":
        page = await homePage(live);
        break;
      case "block":
        page = await blockPage(arg);
        break;
      case "tx":
        page = await txPage(arg);
        break;
      case "did":
        page = await didPage(arg, live, {
          ...(params.get("versionId") ? { versionId: params.get("versionId")! } : {}),
          ...(params.get("versionTime") ? { versionTime: params.get("versionTime")! } : {}),
        });
        break;
      case "didurl":
        page = await didUrlPage(arg);
        break;
      case "validators":
        page = await validatorsPage();
        break;
      case "issuers":
        page = await issuersPage();
        break;
      case "node":
        page = await nodePage();
        break;
      default:
        page = { el: h("div", {}, h("h1", {}, "Not found"), card(h("p", {}, "No such page."))) };
    }
  } catch (e) {
    page = { el: failure(e) };
  }
  if (my !== seq) {
    page.leave?.();
    return; // the person navigated on while this page loaded
  }
  current = page;
  view.replaceChildren(page.el);
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
}

function init(): void {
  const form = document.getElementById("search") as HTMLFormElement;
  const input = document.getElementById("q") as HTMLInputElement;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const route = routeOf(input.value);
    if (route) location.hash = `#/${route}`;
    else document.getElementById("view")!.replaceChildren(card(h("p", { class: "bad" }, "Enter a DID (did:sid:…), a DID URL, a tx hash (64 hex digits) or a block height.")));
  });
  window.addEventListener("hashchange", () => void render());
  void render();
}

init();
