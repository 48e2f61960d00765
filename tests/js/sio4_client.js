// A line-driven modern Socket.IO client for Hive's integration tests, on the real npm
// socket.io-client 4.8 (or 2.5 with version "2"). Usage:
//   node sio4_client.js <url> <transports comma-separated> [auth json] [version 4|2]
// <url> may name a namespace (http://host:port/custom). Binaries travel in the JSON lines as
// {"$bin": "<base64>"}, anywhere in the arguments.
// stdin: {"op":"emit","name":"x","args":[...],"ack":true} | {"op":"disconnect"} | {"op":"exit"}
// stdout: {"ev":"connect","transport":..} {"ev":"connect_error","message":..,"data":..}
//         {"ev":"event","name":..,"args":[..]} {"ev":"ack","args":[..]} {"ev":"disconnect","reason":..}
//         {"ev":"upgrade","transport":..}
'use strict';
const readline = require('readline');

const [url, transports, authJson, version] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const toJson = (v) => {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return v.map(toJson);
  if (v && typeof v === 'object') { const o = {}; for (const k of Object.keys(v)) o[k] = toJson(v[k]); return o; }
  return v;
};
const fromJson = (v) => {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v && typeof v === 'object') {
    if (typeof v.$bin === 'string' && Object.keys(v).length === 1) return Buffer.from(v.$bin, 'base64');
    const o = {}; for (const k of Object.keys(v)) o[k] = fromJson(v[k]); return o;
  }
  return v;
};
const opts = { transports: (transports || 'polling,websocket').split(','), reconnection: false, forceNew: true };
let socket;
if (version === '2') {
  socket = require('socket.io-client-2')(url, opts);
  socket.on('error', (e) => out({ ev: 'connect_error', message: typeof e === 'string' ? e : e && e.message, data: toJson(e) }));
} else {
  if (authJson) opts.auth = JSON.parse(authJson);
  socket = require('socket.io-client-4').io(url, opts);
  socket.on('connect_error', (e) => out({ ev: 'connect_error', message: e.message, data: e.data === undefined ? null : toJson(e.data) }));
}
socket.io.on('open', () => {
  socket.io.engine.on('upgrade', (t) => out({ ev: 'upgrade', transport: t.name }));
});
socket.on('connect', () => out({ ev: 'connect', transport: socket.io.engine.transport.name }));
socket.on('disconnect', (reason) => out({ ev: 'disconnect', reason }));
const onevent = socket.onevent;
socket.onevent = function (packet) {
  const args = packet.data || [];
  out({ ev: 'event', name: args[0], args: toJson(args.slice(1)), ack: packet.id !== undefined });
  return onevent.call(this, packet);
};

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd;
  try { cmd = JSON.parse(line); } catch (e) { out({ ev: 'bad_command', line }); return; }
  if (cmd.op === 'emit') {
    const args = [cmd.name].concat(fromJson(cmd.args || []));
    if (cmd.ack) args.push((...r) => out({ ev: 'ack', args: toJson(r) }));
    socket.emit.apply(socket, args);
  } else if (cmd.op === 'disconnect') {
    socket.disconnect();
  } else if (cmd.op === 'exit') {
    process.exit(0);
  }
});
rl.on('close', () => setTimeout(() => process.exit(0), 100));
