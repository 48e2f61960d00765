// Raw WebSocket peer for Hive's edge-case tests (npm `ws`, as the 0.9 client uses in node).
// Usage: node raw_ws.js <ws-url> '<json array of {"text":..}|{"binary":..}|{"wait":ms}>'
// Prints one JSON line per received frame ({"text":..}) and {"close":code} at the end.
'use strict';
const path = require('path');
const WS = require(path.join(__dirname, '..', '..', 'node_modules', 'ws'));
const [url, script] = process.argv.slice(2);
const steps = JSON.parse(script || '[]');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const ws = new WS(url, { origin: process.env.ORIGIN || 'http://localhost' });
ws.on('message', (m) => out({ text: String(m) }));
ws.on('close', (code) => { out({ close: code }); process.exit(0); });
ws.on('error', (e) => { out({ error: String(e) }); process.exit(0); });
ws.on('open', async () => {
  for (const s of steps) {
    if (s.text !== undefined) ws.send(s.text);
    if (s.binary !== undefined) ws.send(Buffer.from(s.binary), { binary: true });
    if (s.wait !== undefined) await new Promise((r) => setTimeout(r, s.wait));
  }
  setTimeout(() => { ws.close(); }, 300);
});
setTimeout(() => { out({ timeout: true }); process.exit(0); }, 8000);
