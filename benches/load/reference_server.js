// Reference Socket.IO 0.9 server for flood benches and tests (npm socket.io@0.9.19, Node 20).
//
// Usage: node benches/load/reference_server.js <port>
// Mimics the chat demo's events: `authorize` answers [{"permission":"granted"}]; `join_rooms`
// {"rooms":[..]} subscribes to channels "rooms.<room>"; `leave_rooms` unsubscribes;
// `publish_msg` {"channel","text"} broadcasts `msg_published` {"channel","nick","text"} to every
// subscriber of the channel (the sender included). `echo` and `ping` are echoed back (through
// the ack callback when the client asked for one, else as an event of the same name).
// Prints "listening <port>" on stdout once it accepts connections.
'use strict';
const path = require('path');
const port = parseInt(process.argv[2] || '8080', 10);
const sio = require(path.join(__dirname, '..', '..', 'node_modules', 'socket.io'));
const http = require('http');

const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
server.maxConnections = 1 << 20;
const io = sio.listen(server, { log: false });
io.set('transports', ['websocket', 'xhr-polling']);
io.set('log level', 0);
io.set('heartbeat timeout', 60);
io.set('heartbeat interval', 25);
io.set('close timeout', 60);

io.sockets.on('connection', (socket) => {
  let nick = null;
  socket.on('authorize', (a) => {
    nick = a && a.nick;
    socket.emit('authorize', { permission: 'granted' });
  });
  socket.on('join_rooms', (a) => {
    ((a && a.rooms) || []).forEach((r) => socket.join('rooms.' + r));
  });
  socket.on('leave_rooms', (a) => {
    ((a && a.rooms) || []).forEach((r) => socket.leave('rooms.' + r));
  });
  socket.on('publish_msg', (a) => {
    // Hive's utils.dispatch form (benches/load/chat_scenario.py):
    // {"action":"publish","args":{"cids":C,"event":{"action":"reply","args":{"name","args"}}}}.
    if (a && a.action === 'publish' && a.args && a.args.event && a.args.event.args) {
      const ev = a.args.event.args;
      const room = io.sockets.in(String(a.args.cids));
      room.emit.apply(room, [ev.name].concat(ev.args || []));
      return;
    }
    if (!a || typeof a.channel !== 'string') return;
    io.sockets.in(a.channel).emit('msg_published', { channel: a.channel, nick: nick, text: a.text });
  });
  ['echo', 'ping'].forEach((name) => {
    socket.on(name, function () {
      const args = Array.prototype.slice.call(arguments);
      const last = args[args.length - 1];
      if (typeof last === 'function') {
        last.apply(null, args.slice(0, -1));
      } else {
        socket.emit.apply(socket, [name].concat(args));
      }
    });
  });
});

// Under overload socket.io 0.9 can write to closed sockets (EPIPE); keep serving.
process.on('uncaughtException', (e) => { console.error('reference server: ' + e.message); });

server.listen(port, '127.0.0.1', () => {
  console.log('listening ' + server.address().port);
});
