// A line-driven Socket.IO 0.9 client for Hive's integration tests, on the real npm
// `socket.io-client@0.9.16`. Usage: node sio_client.js <url> <transport>
// stdin: one JSON command per line: {"op":"emit","name":"x","args":[...],"ack":true} | {"op":"disconnect"}
// stdout: one JSON line per event: {"ev":"connect"} {"ev":"event","name":..,"args":[..]} {"ev":"ack","args":[..]}
'use strict';
const io = require('./origin_io.js');
const readline = require('readline');

const [url, transport] = process.argv.slice(2);
io.transports = [transport || 'websocket'];
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const socket = io.connect(url, {
  'force new connection': true,
  reconnect: false,
  transports: [transport || 'websocket'],
  'connect timeout': 5000,
});

const origEmit = socket.$emit;
socket.$emit = function (name) {
  const args = Array.prototype.slice.call(arguments, 1);
  if (name === 'connect' || name === 'disconnect' || name === 'error' || name === 'connect_failed') {
    out({ ev: name, args: args.map(String) });
  } else if (name !== 'connecting' && name !== 'newListener') {
    out({ ev: 'event', name, args });
  }
  return origEmit.apply(this, arguments);
};
socket.on('message', (m) => out({ ev: 'message', data: m }));

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd;
  try { cmd = JSON.parse(line); } catch (e) { out({ ev: 'bad_command', line }); return; }
  if (cmd.op === 'emit') {
    const args = [cmd.name].concat(cmd.args || []);
    if (cmd.ack) args.push(function () { out({ ev: 'ack', args: Array.prototype.slice.call(arguments) }); });
    socket.emit.apply(socket, args);
  } else if (cmd.op === 'disconnect') {
    socket.disconnect();
  } else if (cmd.op === 'exit') {
    process.exit(0);
  }
});
rl.on('close', () => setTimeout(() => process.exit(0), 100));
