// Browser end-to-end test of the chat example, in headless Chromium through playwright-core.
//
// Usage: node tests/e2e/chat.e2e.js <page-url> [--screenshot FILE] [--label NAME] [--transports LIST]
// Exits 0 when every step passed; prints one `ok`/`not ok` line per step. Driven by
// tests/chat_e2e.rs against the Redis config, the local config and the Python backend.
'use strict';

const path = require('path');
const fs = require('fs');
const { chromium } = require(path.join(__dirname, '..', '..', 'node_modules', 'playwright-core'));

const args = process.argv.slice(2);
const url = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const screenshot = opt('--screenshot');
const label = opt('--label') || 'chat';
const transports = opt('--transports');
const WAIT = 15000;
// Over XHR-polling a closed page is noticed by Hive's heartbeat (15 s in the chat config) when no
// long poll was pending, so leave notices after a close may take that long.
const LEAVE_WAIT = transports && transports.includes('xhr') ? 40000 : WAIT;

if (!url) {
  console.error('usage: node tests/e2e/chat.e2e.js <page-url> [--screenshot FILE]');
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

// Wait until the log of `room` in `page` has a line whose text contains `text`.
async function seeLine(page, room, text, timeout = WAIT) {
  const log = page.locator(`section.room[data-room="${room}"] .log`);
  await log.locator('li.line', { hasText: text }).first().waitFor({ state: 'attached', timeout });
}

// Wait until the log of `room` in `page` has at least `n` lines containing `text`.
async function seeLines(page, room, text, n, timeout = WAIT) {
  const lines = page.locator(`section.room[data-room="${room}"] .log li.line`, { hasText: text });
  await lines.nth(n - 1).waitFor({ state: 'attached', timeout });
}

async function seeMessage(page, room, who, text) {
  const lines = page.locator(`section.room[data-room="${room}"] .log li.line.msg`);
  await lines.filter({ has: page.locator('.nick', { hasText: `<${who}>` }) })
    .filter({ has: page.locator('.text', { hasText: text }) })
    .first().waitFor({ state: 'attached', timeout: WAIT });
}

async function openUser(browser, nick) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  const page = await context.newPage();
  page.on('console', (m) => logs.push(`[${nick} console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[${nick} pageerror] ${e.message}`));
  const target = transports ? `${url}${url.includes('?') ? '&' : '?'}transports=${transports}` : url;
  await page.goto(target);
  return { context, page, nick };
}

async function login(user, nick) {
  await user.page.fill('#nick', nick);
  await user.page.click('#start');
}

async function say(user, room, text) {
  const panel = user.page.locator(`section.room[data-room="${room}"]`);
  await user.page.click(`.tab[data-room="${room}"]`);
  await panel.locator('.msg-input').fill(text);
  await panel.locator('.send').click();
}

async function joinRoom(user, room) {
  await user.page.fill('#new-room', room);
  await user.page.click('#join-room');
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    // playwright gives every launch a fresh temporary --user-data-dir of its own.
  });
  let ok = false;
  try {
    const alice = await openUser(browser, 'alice');
    const bob = await openUser(browser, 'bob');

    await step('alice picks a nick and lands in main with the welcome lines', async () => {
      await login(alice, 'alice');
      await alice.page.locator('#chat').waitFor({ state: 'visible', timeout: WAIT });
      await seeLine(alice.page, 'main', '*** Welcome to the main room!');
      await seeLine(alice.page, 'main', '*** alice joined room main...');
    });

    await step('bob joins main and both see it', async () => {
      await login(bob, 'bob');
      await seeLine(bob.page, 'main', '*** Welcome to the main room!');
      await seeLine(bob.page, 'main', '*** bob joined room main...');
      await seeLine(alice.page, 'main', '*** bob joined room main...');
    });

    await step('messages go both ways in main', async () => {
      await say(alice, 'main', 'Hi Bob, welcome to Hive!');
      await seeMessage(bob.page, 'main', 'alice', 'Hi Bob, welcome to Hive!');
      await seeMessage(alice.page, 'main', 'alice', 'Hi Bob, welcome to Hive!');
      await say(bob, 'main', 'Hello Alice! Nice chat server.');
      await seeMessage(alice.page, 'main', 'bob', 'Hello Alice! Nice chat server.');
      await say(alice, 'main', 'Shall we open a room of our own?');
      await seeMessage(bob.page, 'main', 'alice', 'Shall we open a room of our own?');
    });

    await step('alice creates room games, bob joins it, they talk there', async () => {
      await joinRoom(alice, 'games');
      await seeLine(alice.page, 'games', '*** Welcome to the games room!');
      await seeLine(alice.page, 'games', '*** alice joined room games...');
      await joinRoom(bob, 'games');
      await seeLine(bob.page, 'games', '*** bob joined room games...');
      await seeLine(alice.page, 'games', '*** bob joined room games...');
      await say(bob, 'games', 'ready for a game?');
      await seeMessage(alice.page, 'games', 'bob', 'ready for a game?');
      await say(alice, 'games', 'always!');
      await seeMessage(bob.page, 'games', 'alice', 'always!');
    });

    await step('bob leaves games and alice sees the notice', async () => {
      await bob.page.click('section.room[data-room="games"] .leave');
      await bob.page.locator('.tab[data-room="games"]').waitFor({ state: 'detached', timeout: WAIT });
      await seeLine(alice.page, 'games', '*** bob left room games...');
      // bob left only games: main still works both ways.
      await say(bob, 'main', 'back in main');
      await seeMessage(alice.page, 'main', 'bob', 'back in main');
    });

    const carol = await openUser(browser, 'carol');
    await step('a third user picking a taken nick is refused, then picks a free one', async () => {
      await login(carol, 'alice');
      const err = carol.page.locator('#login-error');
      await err.waitFor({ state: 'visible', timeout: WAIT });
      const text = await err.textContent();
      if (!/already taken/.test(text)) throw new Error(`unexpected refusal text: ${text}`);
      if (await carol.page.locator('#chat').isVisible()) throw new Error('chat shown to a refused user');
      await login(carol, 'carol');
      await seeLine(carol.page, 'main', '*** carol joined room main...');
      await seeLine(alice.page, 'main', '*** carol joined room main...');
    });

    if (screenshot) {
      await step(`screenshot of two users talking saved to ${screenshot}`, async () => {
        await say(alice, 'main', 'See you around, Carol!');
        await seeMessage(alice.page, 'main', 'alice', 'See you around, Carol!');
        await alice.page.click('.tab[data-room="main"]');
        fs.mkdirSync(path.dirname(screenshot), { recursive: true });
        await alice.page.screenshot({ path: screenshot, fullPage: true });
      });
    }

    await step('closing a page disconnects: the others see the leave notice', async () => {
      await carol.context.close();
      await seeLine(alice.page, 'main', '*** carol left room main...', LEAVE_WAIT);
      await seeLine(bob.page, 'main', '*** carol left room main...', LEAVE_WAIT);
    });

    await step('a nick is free again once its user disconnected', async () => {
      const dave = await openUser(browser, 'dave');
      await login(dave, 'carol');
      await seeLine(dave.page, 'main', '*** carol joined room main...');
      await seeLines(alice.page, 'main', '*** carol joined room main...', 2);
      await dave.context.close();
      await seeLines(alice.page, 'main', '*** carol left room main...', 2, LEAVE_WAIT);
    });

    await bob.context.close();
    await step('bob closes his page: alice sees him leave main', async () => {
      await seeLine(alice.page, 'main', '*** bob left room main...', LEAVE_WAIT);
    });
    await alice.context.close();
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
