// socket.io-client 2.x (Engine.IO 3 / Socket.IO 4) against Hive's modern path: connect, auth,
// echo with binaries, ack, /custom with a query, idle heartbeat. Prints one line per event.
const io = require("socket.io-client-2");
const url = process.argv[2], transports = process.argv[3] ? process.argv[3].split(",") : ["polling", "websocket"];
const t0 = Date.now();
const log = (...a) => console.log(Date.now() - t0, ...a);
const s = io(url, { transports, reconnection: false, forceNew: true });
s.on("connect", () => log("connect", s.id, s.io.engine.transport.name));
s.on("error", (e) => log("error", JSON.stringify(e)));
s.on("auth", (a) => log("auth", JSON.stringify(a)));
s.on("message-back", (...a) => log("message-back", JSON.stringify(a)));
s.on("disconnect", (r) => log("disconnect", r));
s.once("connect", () => {
  s.emit("message", 1, "2", { 3: [true] }, Buffer.from([1, 2, 3]));
  s.emit("message-with-ack", "x", Buffer.from([9]), (...r) => log("ack", JSON.stringify(r)));
  const c = io(url + "/custom?token=abc", { transports, reconnection: false });
  c.on("auth", (a) => log("custom auth", JSON.stringify(a)));
  const r = io(url + "/random", { transports, reconnection: false });
  r.on("error", (e) => log("random error", JSON.stringify(e)));
  setTimeout(() => { log("idle ok", s.connected, s.io.engine.transport.name); process.exit(0); }, 1500);
});
