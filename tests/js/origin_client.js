// tests/js/sio_client.js with an Origin header on every HTTP request too (handshake and
// xhr-polling), as a browser page sends: node's XMLHttpRequest (npm xmlhttprequest) refuses to set
// Origin itself. Usage and protocol: as sio_client.js; the origin is $ORIGIN (default
// http://localhost), which sio_client.js also puts on WebSocket upgrades.
'use strict';
const http = require('http');
const origin = process.env.ORIGIN || 'http://localhost';
const request = http.request;
http.request = function (options, callback) {
  if (options && typeof options === 'object') {
    options.headers = Object.assign({ Origin: origin }, options.headers || {});
  }
  return request.call(this, options, callback);
};
require('./sio_client.js');
