// Socket.IO 5/4 peer for flood benches and tests: npm socket.io@4.8 (the `socket.io-4` alias in
// node_modules) on Node 20, with the same events as reference_server.js (the 0.9 peer).
//
// Usage: node benches/load/modern_server.js <port> [pingInterval pingTimeout]   (port 0 = any)
// Engine.IO 4 and 3 (allowEIO3), polling and WebSocket, socket.io's ping settings unless given
// (ms). Events on `/`:
// `authorize` answers {"permission":"granted"}; `join_rooms` {"rooms":[..]} joins rooms
// "rooms.<room>"; `leave_rooms` leaves them; `publish_msg` in Hive's utils.dispatch form
// broadcasts event.args.name with its args to room args.cids (the plain form {"channel","text"}
// broadcasts `msg_published` {"channel","nick","text"}). `echo` and `ping` are echoed back
// (through the ack callback when the client asked for one, else as an event of the same name).
// Prints "listening <port>" on stdout once it accepts connections.
'use strict';
const path = require('path');
const http = require('http');
const { Server } = require(path.join(__dirname, '..', '..', 'node_modules', 'socket.io-4'));

const port = parseInt(process.argv[2] || '8080', 10);
const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
server.maxConnections = 1 << 20;
const opts = { allowEIO3: true, serveClient: false };
if (process.argv[3]) opts.pingInterval = parseInt(process.argv[3], 10);
if (process.argv[4]) opts.pingTimeout = parseInt(process.argv[4], 10);
const io = new Server(server, opts);

io.on('connection', (socket) => {
  let nick = null;
  socket.on('authorize', (a) => {
    nick = a && a.nick;
    socket.emit('authorize', { permission: 'granted' });
  });
  socket.on('join_rooms', (a) => {
    socket.join(((a && a.rooms) || []).map((r) => 'rooms.' + r));
  });
  socket.on('leave_rooms', (a) => {
    ((a && a.rooms) || []).forEach((r) => socket.leave('rooms.' + r));
  });
  socket.on('publish_msg', (a) => {
    if (a && a.action === 'publish' && a.args && a.args.event && a.args.event.args) {
      const ev = a.args.event.args;
      io.to(String(a.args.cids)).emit(ev.name, ...(ev.args || []));
      return;
    }
    if (!a || typeof a.channel !== 'string') return;
    io.to(a.channel).emit('msg_published', { channel: a.channel, nick: nick, text: a.text });
  });
  ['echo', 'ping'].forEach((name) => {
    socket.on(name, (...args) => {
      const last = args[args.length - 1];
      if (typeof last === 'function') {
        last(...args.slice(0, -1));
      } else {
        socket.emit(name, ...args);
      }
    });
  });
});

// Listen backlog 1024, as tokio's TcpListener::bind gives hive and socketioxide (Node's default of
// 511 overflows when thousands of users connect within a second, and those connections stall).
server.listen(port, '127.0.0.1', 1024, () => {
  console.log('listening ' + server.address().port);
});
