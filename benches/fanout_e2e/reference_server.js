// The reference for the fan-out benchmark: the npm `socket.io@0.9.19` server (Node), doing what
// Hive does in the benchmark. Usage: node reference_server.js <port>
//   - a client event `join` with one string argument joins that room (Hive: `pubsub.subscribe`);
//   - `POST /publish/<room>` with a Socket.IO event `{"name":..,"args":[..]}` broadcasts it to the
//     room (Hive: `POST /api/<hash>/pubsub/action/<cid>` with a `reply` action);
//   - `GET /count/<room>` answers the number of clients in the room (Hive: `GET .../subscribe/<cid>`).
'use strict';
const path = require('path');
const http = require('http');
const sio = require(path.join(__dirname, '..', '..', 'node_modules', 'socket.io'));

const port = Number(process.argv[2] || 8080);
const server = http.createServer((req, res) => {
  const m = /^\/(publish|count)\/([^/]+)$/.exec(req.url);
  if (!m) { res.writeHead(404); res.end(); return; }
  const room = decodeURIComponent(m[2]);
  if (m[1] === 'count' && req.method === 'GET') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ subscribed_clients: io.sockets.clients(room).length }));
    return;
  }
  if (m[1] === 'publish' && req.method === 'POST') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let ev;
      try { ev = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch (e) {
        res.writeHead(400); res.end(); return;
      }
      const room_ = io.sockets.in(room);
      room_.emit.apply(room_, [ev.name].concat(ev.args || []));
      res.writeHead(200); res.end();
    });
    return;
  }
  res.writeHead(405); res.end();
});

const io = sio.listen(server, { log: false });
io.set('transports', ['websocket']);
io.set('log level', 0);
io.sockets.on('connection', (socket) => {
  socket.on('join', (room) => socket.join(String(room)));
});
server.listen(port, '127.0.0.1', () => process.stdout.write('listening ' + port + '\n'));
