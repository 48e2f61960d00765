// Many Socket.IO 0.9 clients in one node process (npm `socket.io-client@0.9.16`), for load tests
// of Hive's backend connectors. Usage: node sio_many.js <url> <transport> <n>
// stdin: {"op":"emit","name":"x","args":[...]} sends the event from every client at once.
// stdout: {"ev":"connected","n":N} once all are connected; then per client {"i":k,"ev":"event",...}.
'use strict';
const io = require('./origin_io.js');
const readline = require('readline');

const [url, transport, count] = process.argv.slice(2);
const n = parseInt(count || '1', 10);
io.transports = [transport || 'websocket'];
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const sockets = [];
let connected = 0;
for (let i = 0; i < n; i++) {
  const socket = io.connect(url, {
    'force new connection': true,
    reconnect: false,
    transports: [transport || 'websocket'],
    'connect timeout': 10000,
  });
  const origEmit = socket.$emit;
  socket.$emit = function (name) {
    const args = Array.prototype.slice.call(arguments, 1);
    if (name === 'connect') {
      connected += 1;
      if (connected === n) out({ ev: 'connected', n });
    } else if (name === 'disconnect' || name === 'error' || name === 'connect_failed') {
      out({ i, ev: name, args: args.map(String) });
    } else if (name !== 'connecting' && name !== 'newListener') {
      out({ i, ev: 'event', name, args });
    }
    return origEmit.apply(this, arguments);
  };
  sockets.push(socket);
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd;
  try { cmd = JSON.parse(line); } catch (e) { out({ ev: 'bad_command', line }); return; }
  if (cmd.op === 'emit') {
    for (const s of sockets) s.emit.apply(s, [cmd.name].concat(cmd.args || []));
  } else if (cmd.op === 'disconnect') {
    for (const s of sockets) s.disconnect();
  }
});
rl.on('close', () => setTimeout(() => process.exit(0), 100));
