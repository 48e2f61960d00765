// The Hive chat example's page logic: a Socket.IO client of Hive, on the 0.9 client by default or
// on socket.io-client 4 (Socket.IO 5 over Engine.IO 4) with ?client=v4; the events are the same.
//
// Emits (always exactly one argument; the pub-sub hooks need it, see docs/hooks.md): authorize {nick},
// join_rooms {rooms: [..]},
// publish_msg {channel: "rooms.<room>", text}, leave_rooms {rooms: [..]}.
// Handles: authorize {permission}, msg_published {channel, nick, text}, dude_joins / dude_leaves
// {channel, nick}, hive_error {error, description}; and connect / disconnect, reconnecting itself
// with a back-off (Hive's `0:::` "booted" disconnect stops the 0.9 client's own reconnection).
(function () {
  'use strict';

  var PREFIX = 'rooms';
  var NICK_RE = /^[A-Za-z\u00C0-\uFFFF][A-Za-z0-9_\-\u00C0-\uFFFF]{0,23}$/;
  var ROOM_RE = /^[A-Za-z0-9_\-\u00C0-\uFFFF]{1,32}$/;
  var RESERVED = ['null', 'true', 'false', 'nan', 'infinity'];

  var params = new URLSearchParams(window.location.search);
  var cfg = window.HIVE_CHAT || {};
  var hiveUrl = params.get('hive') ||
    (/^https?:$/.test(window.location.protocol) && cfg.hivePort
      ? window.location.protocol + '//' + window.location.hostname + ':' + cfg.hivePort
      : 'http://localhost:8080');
  var transports = params.get('transports') ? params.get('transports').split(',') : null;
  var v4 = params.get('client') === 'v4';

  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var socket = null;          // the current io.Socket namespace
  var connected = false;
  var nick = null;            // granted nickname
  var wanted = null;          // nickname asked for
  var rooms = {};             // room name -> {tab, panel, log, unread}
  var order = [];             // open rooms, in tab order
  var active = null;
  var retryTimer = null;
  var retryDelay = 1000;
  var authRetries = 0;
  var everConnected = false;

  function setStatus(state, text) {
    var el = $('#status');
    el.className = 'status ' + state;
    el.setAttribute('data-state', state);
    el.textContent = text;
  }

  function clock() {
    var d = new Date();
    return [d.getHours(), d.getMinutes(), d.getSeconds()]
      .map(function (n) { return (n < 10 ? '0' : '') + n; }).join(':');
  }

  // Append a line to a room: kind is 'msg', 'notice' or 'error'.
  function line(room, kind, text, who) {
    var r = rooms[room];
    if (!r) return;
    var li = document.createElement('li');
    li.className = 'line ' + kind;
    var time = document.createElement('span');
    time.className = 'time';
    time.textContent = clock();
    li.appendChild(time);
    if (who !== undefined) {
      var n = document.createElement('span');
      n.className = 'nick';
      n.textContent = '<' + who + '> ';
      li.appendChild(n);
    }
    var t = document.createElement('span');
    t.className = 'text';
    t.textContent = text;
    li.appendChild(t);
    var stick = r.log.scrollTop + r.log.clientHeight >= r.log.scrollHeight - 4;
    r.log.appendChild(li);
    if (stick) r.log.scrollTop = r.log.scrollHeight;
    if (room !== active && kind === 'msg') {
      r.unread += 1;
      r.badge.textContent = String(r.unread);
      r.badge.hidden = false;
    }
  }

  function everywhere(kind, text) {
    order.forEach(function (room) { line(room, kind, text); });
  }

  function roomOf(channel) {
    return typeof channel === 'string' && channel.indexOf(PREFIX + '.') === 0
      ? channel.slice(PREFIX.length + 1) : null;
  }

  function show(room) {
    active = room;
    order.forEach(function (name) {
      var r = rooms[name];
      var on = name === room;
      r.panel.hidden = !on;
      r.tab.classList.toggle('active', on);
      r.tab.setAttribute('aria-selected', on ? 'true' : 'false');
      if (on) { r.unread = 0; r.badge.hidden = true; }
    });
    if (rooms[room]) $('.msg-input', rooms[room].panel).focus();
  }

  function openRoom(room) {
    if (rooms[room]) { show(room); return false; }
    var tab = document.createElement('button');
    tab.type = 'button';
    tab.className = 'tab';
    tab.setAttribute('role', 'tab');
    tab.setAttribute('data-room', room);
    tab.textContent = room;
    var badge = document.createElement('span');
    badge.className = 'unread';
    badge.hidden = true;
    tab.appendChild(badge);
    tab.addEventListener('click', function () { show(room); });
    $('#tabs').appendChild(tab);

    var panel = $('#room-template').content.firstElementChild.cloneNode(true);
    panel.setAttribute('data-room', room);
    $('#rooms').appendChild(panel);
    rooms[room] = { tab: tab, panel: panel, log: $('.log', panel), badge: badge, unread: 0 };
    order.push(room);

    $('.say', panel).addEventListener('submit', function (ev) {
      ev.preventDefault();
      var input = $('.msg-input', panel);
      var text = input.value;
      if (!text.trim() || !connected) return;
      socket.emit('publish_msg', { channel: PREFIX + '.' + room, text: text });
      input.value = '';
    });
    $('.leave', panel).addEventListener('click', function () { leaveRoom(room); });

    line(room, 'notice', '*** Welcome to the ' + room + ' room!');
    show(room);
    return true;
  }

  function leaveRoom(room) {
    var r = rooms[room];
    if (!r) return;
    if (connected) socket.emit('leave_rooms', { rooms: [room] });
    r.tab.remove();
    r.panel.remove();
    delete rooms[room];
    order.splice(order.indexOf(room), 1);
    if (active === room) show(order.length ? order[0] : null);
  }

  function loginError(text) {
    var el = $('#login-error');
    el.textContent = text;
    el.hidden = !text;
  }

  function onAuthorize(arg) {
    if (arg && arg.permission === 'granted') {
      var first = nick === null;
      nick = wanted;
      authRetries = 0;
      loginError('');
      $('#login').hidden = true;
      $('#chat').hidden = false;
      $('#my-nick').textContent = nick;
      setStatus('online', 'Connected as ' + nick);
      if (first) openRoom('main');
      if (order.length) socket.emit('join_rooms', { rooms: order.slice() });
      return;
    }
    if (nick !== null && wanted === nick && authRetries < 10) {
      // Reconnecting: our old session may not have released the nick yet.
      authRetries += 1;
      setStatus('connecting', 'Waiting for the nickname ' + nick + ' to be free again...');
      setTimeout(function () { if (connected) socket.emit('authorize', { nick: nick }); }, 500);
      return;
    }
    var why = arg && arg.reason === 'invalid' ? 'is not a valid nickname' : 'is already taken';
    loginError('Nickname "' + wanted + '" ' + why + ', pick another one.');
    authRetries = 0;
    wanted = null;
    $('#login').hidden = false;
    $('#nick').focus();
  }

  function scheduleReconnect() {
    if (retryTimer) return;
    setStatus('connecting', 'Reconnecting in ' + Math.round(retryDelay / 1000) + ' s...');
    retryTimer = setTimeout(function () { retryTimer = null; connect(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10000);
  }

  function connect() {
    if (socket) { try { socket.disconnect(); } catch (e) { /* already closed */ } }
    setStatus('connecting', 'Connecting to ' + hiveUrl + '...');
    var opts = v4
      ? { forceNew: true, reconnection: false, timeout: 5000 }
      : { 'force new connection': true, reconnect: false, 'connect timeout': 5000 };
    if (transports) opts.transports = transports;
    var s = v4 ? io(hiveUrl, opts) : io.connect(hiveUrl, opts);
    socket = s;
    var mine = function (fn) {
      return function (arg) { if (s === socket) fn(arg); };
    };
    s.on('connect', mine(function () {
      connected = true;
      retryDelay = 1000;
      if (everConnected) everywhere('notice', '*** Reconnected to the server.');
      everConnected = true;
      setStatus('online', nick ? 'Connected as ' + nick : 'Connected');
      if (wanted) s.emit('authorize', { nick: wanted });
    }));
    s.on('disconnect', mine(function () {
      if (!connected) return;
      connected = false;
      everywhere('error', '*** Disconnected from the server.');
      scheduleReconnect();
    }));
    s.on('error', mine(function () { if (!connected) scheduleReconnect(); }));
    s.on('connect_failed', mine(function () { if (!connected) scheduleReconnect(); }));
    // socket.io-client 4: a refused or failed connection (it does not retry: reconnection off).
    s.on('connect_error', mine(function () { if (!connected) scheduleReconnect(); }));
    s.on('authorize', mine(onAuthorize));
    s.on('msg_published', mine(function (m) {
      var room = roomOf(m && m.channel);
      if (room) line(room, 'msg', String(m.text), String(m.nick));
    }));
    s.on('dude_joins', mine(function (m) {
      var room = roomOf(m && m.channel);
      if (room) line(room, 'notice', '*** ' + m.nick + ' joined room ' + room + '...');
    }));
    s.on('dude_leaves', mine(function (m) {
      var room = roomOf(m && m.channel);
      if (room) line(room, 'notice', '*** ' + m.nick + ' left room ' + room + '...');
    }));
    s.on('hive_error', mine(function (e) {
      var text = '!!! ' + (e && e.error) + ': ' + (e && e.description);
      if (active) line(active, 'error', text); else loginError(text);
    }));
  }

  $('#login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var value = $('#nick').value.trim();
    if (!NICK_RE.test(value) || RESERVED.indexOf(value.toLowerCase()) >= 0) {
      loginError('Nickname "' + value + '" is not a valid nickname, pick another one.');
      return;
    }
    loginError('');
    wanted = value;
    if (!socket) connect();
    else if (connected) socket.emit('authorize', { nick: wanted });
  });

  $('#room-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var input = $('#new-room');
    var room = input.value.trim();
    if (!ROOM_RE.test(room)) {
      if (active) line(active, 'error', '*** "' + room + '" is not a valid room name.');
      return;
    }
    input.value = '';
    if (openRoom(room) && connected) socket.emit('join_rooms', { rooms: [room] });
  });

  if (typeof io === 'undefined') {
    setStatus('offline', 'Socket.IO client missing: run npm install');
    $('#start').disabled = true;
  }
})();
