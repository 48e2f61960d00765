// The npm `socket.io-client@0.9.16` for node, with the `ws` module patched to send an Origin header
// on WebSocket upgrades as browsers do (ORIGIN env, default http://localhost), so Hive's origin check
// sees what a page would send. Shared by sio_client.js and sio_many.js.
'use strict';
const path = require('path');
const wsPath = require.resolve(path.join(__dirname, '..', '..', 'node_modules', 'ws'));
const WS = require(wsPath);
function OriginWS(address, protocols, options) {
  if (typeof protocols === 'object' && !Array.isArray(protocols)) { options = protocols; protocols = undefined; }
  const opts = Object.assign({ origin: process.env.ORIGIN || 'http://localhost' }, options || {});
  return protocols ? new WS(address, protocols, opts) : new WS(address, opts);
}
OriginWS.prototype = WS.prototype;
Object.assign(OriginWS, WS);
require.cache[wsPath].exports = OriginWS;
module.exports = require(path.join(__dirname, '..', '..', 'node_modules', 'socket.io-client', 'lib', 'io.js'));
