// Browser end-to-end test of the chat example with both client generations in one room: a user
// on the page's default Socket.IO 0.9 client and a user on socket.io-client 4 (`?client=v4`,
// Socket.IO 5 over Engine.IO 4), in headless Chromium through playwright-core. They see each other
// join, talk both ways with non-ASCII text, and see each other leave.
//
// Usage: node tests/e2e/chat_modern.e2e.js <page-url> [--label NAME] [--v4-transports LIST]
// Exits 0 when every step passed; prints one `ok`/`not ok` line per step. Driven by
// tests/chat_e2e/modern.rs.
'use strict';

const path = require('path');
const { chromium } = require(path.join(__dirname, '..', '..', 'node_modules', 'playwright-core'));

const args = process.argv.slice(2);
const url = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const label = opt('--label') || 'mixed';
const v4Transports = opt('--v4-transports');
const WAIT = 15000;
const FROM_09 = 'Zażółć gęślą jaźń — 你好, 😀!';
const FROM_V4 = 'Ünïcödé ✓ привет from v4 🐝';

if (!url) {
  console.error('usage: node tests/e2e/chat_modern.e2e.js <page-url>');
  process.exit(2);
}

let passed = 0;
const logs = [];

async function step(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok ${passed} - ${label}: ${name}`);
  } catch (err) {
    console.log(`not ok ${passed + 1} - ${label}: ${name}`);
    console.log(String(err && err.stack || err).split('\n').map((l) => '#   ' + l).join('\n'));
    throw err;
  }
}

async function seeLine(page, room, text, n = 1) {
  const lines = page.locator(`section.room[data-room="${room}"] .log li.line`, { hasText: text });
  await lines.nth(n - 1).waitFor({ state: 'attached', timeout: WAIT });
}

async function seeMessage(page, room, who, text) {
  const lines = page.locator(`section.room[data-room="${room}"] .log li.line.msg`);
  await lines.filter({ has: page.locator('.nick', { hasText: `<${who}>` }) })
    .filter({ has: page.locator('.text', { hasText: text }) })
    .first().waitFor({ state: 'attached', timeout: WAIT });
}

// Opens the page for `nick` on client `client` ('0.9' or 'v4') and checks which client it runs.
async function openUser(browser, nick, client) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  const page = await context.newPage();
  page.on('console', (m) => logs.push(`[${nick} console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[${nick} pageerror] ${e.message}`));
  const user = { context, page, nick, wire: new Set() };
  // Which protocol went over the wire: Engine.IO 4 at /socket.io/?EIO=4, or 0.9 at /socket.io/1/.
  const seeUrl = (u) => {
    if (/\/socket\.io\/\?(.*&)?EIO=4/.test(u)) user.wire.add('eio4');
    if (/\/socket\.io\/1\//.test(u)) user.wire.add('0.9');
  };
  page.on('request', (r) => seeUrl(r.url()));
  page.on('websocket', (ws) => seeUrl(ws.url()));
  let target = url;
  if (client === 'v4') {
    target += `${url.includes('?') ? '&' : '?'}client=v4`;
    if (v4Transports) target += `&transports=${v4Transports}`;
  }
  await page.goto(target);
  const seen = await page.evaluate(() => ({
    client: document.documentElement.getAttribute('data-client'),
    // socket.io-client 4 has io.Manager and no version string; the 0.9 client has io.version.
    manager: typeof (window.io && window.io.Manager),
    version: window.io && window.io.version,
  }));
  if (client === 'v4' && (seen.client !== 'v4' || seen.manager !== 'function' || seen.version)) {
    throw new Error(`${nick}: expected socket.io-client 4, got ${JSON.stringify(seen)}`);
  }
  if (client === '0.9' && (seen.client !== '0.9' || !/^0\.9/.test(String(seen.version)))) {
    throw new Error(`${nick}: expected the 0.9 client, got ${JSON.stringify(seen)}`);
  }
  user.client = client;
  return user;
}

async function login(user, nick) {
  await user.page.fill('#nick', nick);
  await user.page.click('#start');
  await user.page.locator('#chat').waitFor({ state: 'visible', timeout: WAIT });
  const want = user.client === 'v4' ? 'eio4' : '0.9';
  if (user.wire.size !== 1 || !user.wire.has(want)) {
    throw new Error(`${user.nick}: expected only ${want} on the wire, saw ${[...user.wire]}`);
  }
}

async function say(user, room, text) {
  const panel = user.page.locator(`section.room[data-room="${room}"]`);
  await panel.locator('.msg-input').fill(text);
  await panel.locator('.send').click();
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let ok = false;
  try {
    let alice;
    let bob;
    await step('alice (Socket.IO 0.9 client) lands in main', async () => {
      alice = await openUser(browser, 'alice', '0.9');
      await login(alice, 'alice');
      await seeLine(alice.page, 'main', '*** alice joined room main...');
    });

    await step('bob (socket.io-client 4) joins main and both see it', async () => {
      bob = await openUser(browser, 'bob', 'v4');
      await login(bob, 'bob');
      await seeLine(bob.page, 'main', '*** bob joined room main...');
      await seeLine(alice.page, 'main', '*** bob joined room main...');
    });

    await step('non-ASCII messages go both ways between the 0.9 and the v4 user', async () => {
      await say(alice, 'main', FROM_09);
      await seeMessage(bob.page, 'main', 'alice', FROM_09);
      await seeMessage(alice.page, 'main', 'alice', FROM_09);
      await say(bob, 'main', FROM_V4);
      await seeMessage(alice.page, 'main', 'bob', FROM_V4);
      await seeMessage(bob.page, 'main', 'bob', FROM_V4);
    });

    await step('the v4 user closes his page: the 0.9 user sees him leave', async () => {
      await bob.context.close();
      await seeLine(alice.page, 'main', '*** bob left room main...');
    });

    await step('the v4 user comes back and sees the 0.9 user leave', async () => {
      bob = await openUser(browser, 'bob', 'v4');
      await login(bob, 'bob');
      await seeLine(alice.page, 'main', '*** bob joined room main...', 2);
      await alice.context.close();
      await seeLine(bob.page, 'main', '*** alice left room main...');
    });
    await bob.context.close();
    ok = true;
  } catch (err) {
    ok = false;
  } finally {
    await browser.close().catch(() => {});
  }
  if (!ok) {
    console.log('# browser logs:');
    logs.forEach((l) => console.log('#   ' + l));
  }
  console.log(`# ${label}: ${passed} steps passed${ok ? '' : ', 1 failed'}`);
  process.exit(ok ? 0 : 1);
}

main().catch((err) => { console.error(err); process.exit(1); });
