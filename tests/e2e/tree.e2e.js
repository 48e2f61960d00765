// tree.e2e.js: loads the monitor's tree.html in headless Chromium (playwright-core) and checks it.
//
// Usage: node tests/e2e/tree.e2e.js <tree.html url> [root id=root_sup] [changing supervisor id]
// Checks: the root supervisor's id and strategy are shown; its node collapses and expands; the
// status line says "updated"; with a third argument, that supervisor's child count changes after
// clicking Refresh (the test's tree grows on every fetch). Exit code 0 on success.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require(path.join(__dirname, "..", "..", "node_modules", "playwright-core"));

async function main() {
  const [url, rootId = "root_sup", changing] = process.argv.slice(2);
  if (!url) throw new Error("usage: tree.e2e.js <url> [root id] [changing supervisor id]");
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hive-tree-e2e-"));
  const ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  try {
    const page = await ctx.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url, { waitUntil: "load", timeout: 20000 });
    const rootSummary = page.locator("#tree > details.sup > summary");
    await rootSummary.locator(".id").filter({ hasText: rootId }).first().waitFor({ timeout: 15000 });
    const rootText = await rootSummary.innerText();
    if (!rootText.includes(rootId)) throw new Error(`root id ${rootId} not shown: ${rootText}`);
    if (!/one_for_one|one_for_all|rest_for_one/.test(rootText)) throw new Error(`no strategy: ${rootText}`);
    if (!/restarts \d+/.test(rootText)) throw new Error(`no restart count: ${rootText}`);
    const status = await page.locator("#status").innerText();
    if (!status.startsWith("updated")) throw new Error(`status line: ${status}`);

    // Collapse and expand the root node.
    const firstChild = page.locator("#tree > details.sup > ul > li").first();
    if (!(await firstChild.isVisible())) throw new Error("root children not visible");
    await rootSummary.click();
    await firstChild.waitFor({ state: "hidden", timeout: 5000 });
    await rootSummary.click();
    await firstChild.waitFor({ state: "visible", timeout: 5000 });

    if (changing) {
      const count = page.locator(`details.sup[data-path$="${changing}"] > summary .badge.count`).first();
      const before = await count.innerText();
      await page.click("#refresh");
      await page.waitForFunction(
        ([sel, b]) => { const e = document.querySelector(sel); return e && e.textContent !== b; },
        [`details.sup[data-path$="${changing}"] > summary .badge.count`, before],
        { timeout: 10000 },
      );
      console.log(`child count of ${changing}: ${before} -> ${await count.innerText()}`);
    }
    if (errors.length) throw new Error("page errors: " + errors.join("; "));
    console.log("ok: " + rootText.replace(/\s+/g, " "));
  } finally {
    await ctx.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => { console.error("FAIL: " + (e && e.stack || e)); process.exit(1); });
