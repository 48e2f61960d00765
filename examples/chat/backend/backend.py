#!/usr/bin/env python3
"""The chat example's backend: the seed's Python backend on Python 3, standard library only.

Hive calls it with the Hive Protocol: every request body is the client metadata
``{"sid", "trigger", "trigger_id", "state"}`` and the reply body (for ``cp.post``/``hp.post``)
is a list of internal events (``reply`` -> action.send_event, ``store`` -> action.update_state).
The backend talks back to the chat rooms through Hive's API:
``POST <api>/pubsub/action/rooms.<room>``.

Endpoints (same as the seed): /authorize, /join, /publish, /leave, /cleanup.
Fixed seed bugs: a multi-room join announces every room; /join de-duplicates rooms and answers
an empty room list; /leave keeps the rooms *not* left; /cleanup of a null or unknown nick is fine;
re-authorizing releases the previous nick; only authorized members of a room can publish to it;
unauthorized clients are never announced.

Usage: python3 backend.py [--port 8081] [--host 127.0.0.1] [--api http://localhost:1235/api/abcde12345]
"""

import argparse
import json
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHANNEL_PREFIX = "rooms"
MAX_NICK = 24
MAX_ROOM = 32
MAX_TEXT = 2000
# Words that a JSON decoder would turn into something else than a string when Hive's sm.redis
# reads the nick back from Redis (values are parsed as JSON on read, see docs/hooks.md).
JSON_WORDS = {"null", "true", "false", "nan", "infinity"}


def valid_nick(nick):
    """A nick is 1-24 letters, digits, '_' or '-', starting with a letter."""
    return (
        isinstance(nick, str)
        and 0 < len(nick) <= MAX_NICK
        and nick[0].isalpha()
        and all(c.isalnum() or c in "_-" for c in nick)
        and nick.lower() not in JSON_WORDS
    )


def valid_room(room):
    """A room is 1-32 letters, digits, '_' or '-' (one segment of a Pub-Sub channel id)."""
    return (
        isinstance(room, str)
        and 0 < len(room) <= MAX_ROOM
        and all(c.isalnum() or c in "_-" for c in room)
    )


def room_list(value):
    """The rooms named by a `{"rooms": ...}` argument: a string or a list of strings."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    out = []
    for room in value:
        if valid_room(room) and room not in out:
            out.append(room)
    return out


def first_arg(doc):
    """The first argument of the triggering event, or {}."""
    trigger = doc.get("trigger")
    if isinstance(trigger, dict):
        args = trigger.get("args")
        if isinstance(args, list) and args and isinstance(args[0], dict):
            return args[0]
    return {}


def state_of(doc):
    """The client state, tolerating the `[]` an empty state is sent as."""
    state = doc.get("state")
    return state if isinstance(state, dict) else {}


def state_nick(state):
    nick = state.get("nick")
    return nick if isinstance(nick, str) and nick else None


def state_rooms(state):
    rooms = state.get("rooms")
    return [r for r in rooms if isinstance(r, str)] if isinstance(rooms, list) else []


def reply(name, arg):
    return {"action": "reply", "args": {"name": name, "args": [arg]}}


def store(values):
    return {"action": "store", "args": values}


class Chat:
    """The backend's whole state: the reserved nicknames, and the Hive API it publishes through."""

    def __init__(self, api):
        self.api = api.rstrip("/")
        self.users = set()
        self.lock = threading.Lock()

    def publish(self, channel, events):
        """POST internal events to every client subscribed to `channel` (fire and forget)."""
        url = "%s/pubsub/action/%s" % (self.api, channel)
        body = json.dumps(events).encode("utf-8")
        req = urllib.request.Request(url, data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                resp.read()
        except (urllib.error.URLError, OSError) as err:
            log("API call %s failed: %s" % (url, err))

    def announce(self, name, nick, rooms):
        for room in rooms:
            channel = CHANNEL_PREFIX + "." + room
            self.publish(channel, [reply(name, {"channel": channel, "nick": nick})])

    def authorize(self, doc):
        nick = first_arg(doc).get("nick")
        current = state_nick(state_of(doc))
        with self.lock:
            free = valid_nick(nick) and (nick not in self.users or nick == current)
            if free:
                if current is not None and current != nick:
                    self.users.discard(current)
                self.users.add(nick)
        if free:
            return [
                reply("authorize", {"permission": "granted"}),
                store({"nick": nick}),
            ]
        reason = "taken" if valid_nick(nick) else "invalid"
        return [reply("authorize", {"permission": None, "reason": reason})]

    def join(self, doc):
        state = state_of(doc)
        nick = state_nick(state)
        current = state_rooms(state)
        new = [r for r in room_list(first_arg(doc).get("rooms")) if r not in current]
        if nick is not None:
            self.announce("dude_joins", nick, new)
        return [store({"rooms": current + new})]

    def publish_msg(self, doc):
        state = state_of(doc)
        nick = state_nick(state)
        arg = first_arg(doc)
        channel, text = arg.get("channel"), arg.get("text")
        rooms = state_rooms(state)
        if (
            nick is None
            or not isinstance(channel, str)
            or not channel.startswith(CHANNEL_PREFIX + ".")
            or channel[len(CHANNEL_PREFIX) + 1:] not in rooms
            or not isinstance(text, str)
            or not text.strip()
        ):
            return None
        event = {"channel": channel, "nick": nick, "text": text[:MAX_TEXT]}
        self.publish(channel, [reply("msg_published", event)])
        return None

    def leave(self, doc):
        state = state_of(doc)
        nick = state_nick(state)
        current = state_rooms(state)
        if doc.get("trigger") is not None:
            # The user asked to leave some rooms: announce them and keep the others.
            rooms = room_list(first_arg(doc).get("rooms"))
            if nick is not None:
                self.announce("dude_leaves", nick, [r for r in rooms if r in current])
            return [store({"rooms": [r for r in current if r not in rooms]})]
        # The user disconnected: leave every room he was in.
        if nick is not None:
            self.announce("dude_leaves", nick, current)
        return None

    def cleanup(self, doc):
        nick = state_nick(state_of(doc))
        if nick is not None:
            with self.lock:
                self.users.discard(nick)
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HiveChatBackend/1.0"
    chat = None  # set by main()

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status, body):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        routes = {
            "/authorize": self.chat.authorize,
            "/join": self.chat.join,
            "/publish": self.chat.publish_msg,
            "/leave": self.chat.leave,
            "/cleanup": self.chat.cleanup,
        }
        body = self.read_body()
        route = routes.get(self.path.split("?")[0])
        if route is None:
            self.send(404, json.dumps({"error": "bad_request", "description": "Unhandled endpoint!"}))
            return
        try:
            doc = json.loads(body.decode("utf-8") or "null")
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            self.send(400, json.dumps({"error": "bad_request", "description": "Bad Hive Protocol request"}))
            return
        events = route(doc)
        self.send(200, "" if events is None else json.dumps(events))

    do_PUT = do_POST

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))


def log(line):
    print("[backend] " + line, file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description="The Hive chat example's backend.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--api", default="http://localhost:1235/api/abcde12345",
                        help="Hive API base URL, including the hash")
    opts = parser.parse_args()
    Handler.chat = Chat(opts.api)
    httpd = ThreadingHTTPServer((opts.host, opts.port), Handler)
    httpd.daemon_threads = True
    host, port = httpd.socket.getsockname()[:2]
    print("Serving HTTP on %s port %d ..." % (host, port), flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()
