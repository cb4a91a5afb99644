/**
 * The explorer as a person sees it: a real dev node process, a real
 * headless Chromium (Debian's `chromium`, driven by playwright-core), and
 * checks of what is on the screen: a created DID found by the search box, its
 * version timeline with what each version changed, a proof verified in the
 * browser, and a new block arriving live. Skipped, with the reason printed,
 * where no Chromium is installed (.ci/run installs it).
 */
import { expect } from "chai";
import { existsSync } from "node:fs";
import { type Browser, type Page, chromium } from "playwright-core";
import { randomKeyPair } from "../../src/crypto/hd.js";
import { SidClient } from "../../src/client/index.js";
import { type NodeProcess, removeHome, startNodeProcess, tempHome } from "../helpers/node-process.js";

const CHROMIUM = [process.env.SID_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p): p is string => p !== undefined && existsSync(p));

describe("integration: the explorer in a headless browser", function () {
  this.timeout(120_000);
  let node: NodeProcess | undefined;
  let home: string;
  let browser: Browser | undefined;
  let page: Page;
  let did: string;
  const pageErrors: string[] = [];

  before(async function () {
    if (!CHROMIUM) {
      console.log("    (skipped: no Chromium at /usr/bin/chromium; set SID_CHROMIUM or apt-get install chromium)");
      this.skip();
    }
    home = tempHome("sid-explorer-");
    node = await startNodeProcess(home, { heartbeatMs: 400 });
    const client = new SidClient(node.rpcUrl);
    const key = randomKeyPair();
    did = (await client.createDid(key)).did;
    await client.updateDid(did, key, (doc) => ({
      ...doc,
      service: [{ id: `${did}#hub`, type: "LinkedDomains", serviceEndpoint: "https://hub.example" }],
    }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    page = await browser.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    await node?.stop();
    if (home) removeHome(home);
  });

  it("serves the page with its assets and a strict content security policy", async () => {
    const r = await fetch(`${node!.rpcUrl}/`);
    expect(r.status).to.equal(200);
    expect(r.headers.get("content-type")).to.match(/^text\/html/);
    expect(r.headers.get("content-security-policy")).to.include("script-src 'self'");
    const js = await fetch(`${node!.rpcUrl}/explorer/app.js`);
    expect(js.status).to.equal(200);
    const etag = js.headers.get("etag")!;
    expect((await fetch(`${node!.rpcUrl}/explorer/app.js`, { headers: { "if-none-match": etag } })).status).to.equal(304);
    expect((await fetch(`${node!.rpcUrl}/explorer/nothing.js`)).status).to.equal(404);
  });

  it("shows the latest blocks and a new block arriving over the WebSocket", async () => {
    await page.goto(`${node!.rpcUrl}/`);
    await page.locator("#live", { hasText: "live" }).waitFor({ timeout: 15_000 });
    const first = Number(await page.locator("#blocks tr").first().getAttribute("data-height"));
    expect(first).to.be.greaterThan(0);
    // A fresh block reaches the page without a reload.
    const deadline = Date.now() + 30_000;
    let top = first;
    while (top <= first && Date.now() < deadline) {
      await page.waitForTimeout(200);
      top = Number(await page.locator("#blocks tr").first().getAttribute("data-height"));
    }
    expect(top, "a block after the page loaded").to.be.greaterThan(first);
    expect(await page.locator("#blocks tr.new").count()).to.be.greaterThan(0);
  });

  it("finds a created DID by the search box and shows its document and its timeline with what changed", async () => {
    await page.fill("#q", did);
    await page.press("#q", "Enter");
    await page.locator("h1", { hasText: did }).waitFor();
    const text = await page.locator("#view").innerText();
    expect(text).to.include(`"id": "${did}"`);
    expect(text).to.include("https://hub.example");
    const timeline = page.locator("#timeline li");
    expect(await timeline.count()).to.equal(2);
    expect(await page.locator('#timeline li[data-version="1"]').innerText()).to.include("created");
    expect(await page.locator('#timeline li[data-version="2"]').innerText()).to.include("service #hub added");
  });

  it("resolves an earlier version from the page", async () => {
    await page.fill("#version-id", "1");
    await page.getByRole("button", { name: "Show" }).click();
    await page.locator("text=As of version 1").waitFor();
    expect(await page.locator("#view").innerText()).to.not.include("https://hub.example");
  });

  it("checks the DID's proof in the browser against the genesis validators and shows the verdict", async () => {
    // A fresh load: going from this DID's version page to its page is a hash change only, and the old view's button
    // would still be there for a moment.
    await page.goto("about:blank");
    await page.goto(`${node!.rpcUrl}/#/did/${did}`);
    await page.locator("#timeline").waitFor();
    await page.locator("#check-proof").click();
    const verdict = page.locator("#proof-verdict");
    await verdict.locator("text=Proof verified").waitFor({ timeout: 15_000 });
    expect(await verdict.getAttribute("class")).to.include("ok");
  });

  it("sends a browser that opens a resolver URL to the DID's page, while programs keep JSON", async () => {
    const html = await fetch(`${node!.rpcUrl}/1.0/identifiers/${did}`, { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" }, redirect: "manual" });
    expect(html.status).to.equal(303);
    expect(html.headers.get("location")).to.equal(`/#/did/${did}`);
    const json = await fetch(`${node!.rpcUrl}/1.0/identifiers/${did}`, { headers: { accept: "*/*" } });
    expect(json.status).to.equal(200);
    expect(((await json.json()) as { didDocument: { id: string } }).didDocument.id).to.equal(did);
  });

  it("shows chain data as text, never as markup", async () => {
    await page.goto(`${node!.rpcUrl}/#/did/${did}`);
    await page.locator("#timeline").waitFor();
    await page.fill("#q", "<img src=x onerror=alert(1)>");
    await page.press("#q", "Enter");
    await page.locator("text=Enter a DID").waitFor();
    expect(await page.locator("img").count()).to.equal(0);
    await page.goto(`${node!.rpcUrl}/#/block/1`);
    await page.locator("h1", { hasText: "Block 1" }).waitFor();
    await page.goto(`${node!.rpcUrl}/#/validators`);
    await page.locator("h1", { hasText: "Validators" }).waitFor();
    expect(await page.locator("#view table tbody tr").count()).to.equal(1);
    await page.goto(`${node!.rpcUrl}/#/node`);
    await page.locator("#health", { hasText: "ok" }).waitFor();
    expect(pageErrors, "uncaught errors on the page").to.deep.equal([]);
  });
});
