// dashboard.e2e.js: the monitor's dashboard in headless Chromium (playwright-core).
//
// Usage: node tests/e2e/dashboard.e2e.js <dashboard url> <sid to disconnect> [--screenshot file.png]
// Checks: the page loads without errors; the six charts draw (pixels on every canvas); a click on
// the `router` actor in the tree shows its figures and a kill button; the session <sid> looked up
// on the page and disconnected (after the confirmation) is gone (a second look-up says so).
// Exit code 0 on success.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require(path.join(__dirname, "..", "..", "node_modules", "playwright-core"));

async function main() {
  const args = process.argv.slice(2);
  const shotAt = args.indexOf("--screenshot");
  const shot = shotAt >= 0 ? args.splice(shotAt, 2)[1] : null;
  const [url, sid] = args;
  if (!url || !sid) throw new Error("usage: dashboard.e2e.js <url> <sid> [--screenshot file]");
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hive-dash-e2e-"));
  const ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 860 },
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

    // The charts draw: every canvas has drawn pixels.
    await page.waitForFunction(() => {
      const cs = [...document.querySelectorAll("#charts canvas")];
      return cs.length === 6 && cs.every((c) => Number(c.dataset.drawn) >= 2);
    }, null, { timeout: 20000 });
    const inked = await page.evaluate(() => [...document.querySelectorAll("#charts canvas")].map((c) => {
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    }));
    if (inked.some((n) => n < 50)) throw new Error("a chart drew nothing: " + inked.join(","));
    console.log("charts drawn, inked pixels: " + inked.join(","));

    // Click an actor in the tree: its figures and a kill button.
    const router = page.locator('#tree .node[data-name="router"]').first();
    await router.waitFor({ timeout: 15000 });
    await router.click();
    const figures = page.locator("#actor-figures");
    await figures.waitFor({ timeout: 10000 });
    const ft = await figures.innerText();
    for (const want of ["router", "mailbox", "handled", "restarts", "root_sup"]) {
      if (!ft.includes(want)) throw new Error(`actor figures lack ${want}: ${ft}`);
    }
    if (!(await page.locator("#kill").isVisible())) throw new Error("no kill button");
    console.log("actor figures: " + ft.replace(/\s+/g, " ").slice(0, 160));

    // Look up the session and disconnect it, after the confirmation.
    await page.fill("#sid", sid);
    await page.click("#sid-go");
    await page.locator("#disconnect").waitFor({ timeout: 10000 });
    const pre = await page.locator("#session pre").innerText();
    if (!pre.includes(sid)) throw new Error("session not shown: " + pre);
    await page.click("#disconnect");
    await page.locator("#confirm-yes").waitFor({ timeout: 5000 });
    await page.click("#confirm-yes");
    await page.waitForFunction(() => (document.getElementById("session-msg") || {}).textContent === " disconnected",
      null, { timeout: 10000 });
    await page.waitForFunction(async (s) => {
      const r = await fetch(location.pathname.replace(/\/dashboard\/?$/, "/") + "sessions/" + s);
      return r.status === 404;
    }, sid, { timeout: 10000, polling: 200 });
    await page.click("#sid-go");
    await page.locator("#session .msg.err").filter({ hasText: "No live session" }).waitFor({ timeout: 10000 });
    console.log("session " + sid + " disconnected and gone");

    if (shot) {
      await page.fill("#sid", "");
      await page.locator("#session").evaluate((e) => { e.textContent = ""; });
      await page.evaluate(() => { document.activeElement.blur(); window.scrollTo(0, 0); });
      await page.waitForTimeout(2500); // one more chart refresh after the scroll
      await page.screenshot({ path: shot, fullPage: false });
      console.log("screenshot: " + shot);
    }
    if (errors.length) throw new Error("page errors: " + errors.join("; "));
    console.log("ok: dashboard");
  } finally {
    await ctx.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => { console.error("FAIL: " + (e && e.stack || e)); process.exit(1); });
