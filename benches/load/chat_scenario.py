#!/usr/bin/env python3
"""Writes a chat-like flood scenario (benches/load): USERS websocket users in ROOMS rooms.

Each user connects, joins its room, and every INTERVAL ms publishes a message to the room; it
receives the room's traffic (`msg_published`), counts it (`msgs`), and times the round trip of its
own messages (timer `rtt`). One phase per room, because the original format has no per-user
variables (FLOOD.md 11.1). The publish uses Hive's `utils.dispatch` internal-event form, which
benches/load/reference_server.js understands too, so both servers run the same scenario.

With --mode echo (the figures of the issue: echo round trips/s, CPU per round trip) every user,
WARMUP ms after its connect, starts a closed loop: emit `echo`, and on the echoed `echo` emit the
next one, as fast as the server answers. flood times every round trip (result `events.echo`).

With --protocol sio5 (or sio4) the users speak Socket.IO 5 over Engine.IO 4 (4 over 3) at
/socket.io/ instead of 0.9 (flood's session key `protocol`); the actions are the same.

usage: chat_scenario.py OUT.json --port P [--mode chat|echo] [--users 15000] [--rooms 1500]
                        [--interval 5000] [--spawn 2000] [--warmup 3000] [--protocol 0.9|sio5|sio4]
"""
import argparse
import json

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, required=True)
p.add_argument("--users", type=int, default=15000)
p.add_argument("--rooms", type=int, default=1500)
p.add_argument("--interval", type=int, default=5000)
p.add_argument("--spawn", type=int, default=2000)
p.add_argument("--mode", choices=["chat", "echo"], default="chat")
p.add_argument("--warmup", type=int, default=3000)
p.add_argument("--protocol", choices=["0.9", "sio5", "sio4"], default="0.9")
p.add_argument("--stagger", action="store_true",
               help="offset each room's phase so users spawn evenly over --spawn (one every "
                    "spawn/users ms) instead of one per room on each tick")
a = p.parse_args()

publish = {"action": "publish", "args": {"cids": "$channel", "event": {"action": "reply", "args": {
    "name": "msg_published",
    "args": [{"channel": "$channel", "nick": "$server.sid", "text": "hello"}]}}}}
session = {
    "weight": 1.0,
    "transport": "websocket",
    "do": [
        ["on_socketio", {"1": [
            ["emit_event", {"name": "join_rooms", "args": [{"rooms": ["$room"]}]}],
            ["start_timer", "tick", "$interval"]]}],
        ["on_timeout", {"tick": [
            ["start_timer", "rtt", "$rtt_timeout"],
            ["inc", "sent"],
            ["emit_event", {"name": "publish_msg", "args": [publish]}],
            ["start_timer", "tick", "$interval"]]}],
        ["on_event", {"msg_published": [
            ["inc", "msgs"],
            ["match", {"subject": "$event.args", "json": [{"nick": "$nick"}],
                       "on_match": [["case", "$nick", {"$server.sid": [
                           ["stop_timer", "rtt"], ["inc", "own"],
                           # Keep an entry so a late duplicate arrival (overloaded server)
                           # does not hit the original's stop_timer-of-a-stopped-timer crash;
                           # the next tick's start_timer replaces (cancels) it.
                           ["start_timer", "rtt", 3600000]]}]]}]]}],
    ],
}
echo = {
    "weight": 1.0,
    "transport": "websocket",
    "do": [
        ["on_socketio", {"1": [["start_timer", "go", a.warmup]]}],
        ["on_timeout", {"go": [["emit_event", {"name": "echo", "args": ["$server.sid"]}]]}],
        ["on_event", {"echo": [["inc", "echoes"],
                               ["emit_event", {"name": "echo", "args": ["$server.sid"]}]]}],
    ],
}
if a.mode == "echo":
    a.rooms = 1
if a.protocol != "0.9":
    session["protocol"] = a.protocol
    echo["protocol"] = a.protocol
per_room, extra = divmod(a.users, a.rooms)
phases = {}
for r in range(a.rooms):
    n = per_room + (1 if r < extra else 0)
    if n == 0:
        continue
    phases[f"r{r}"] = {
        "users": n, "user_sessions": ["chat"],
        "start_time": r * a.spawn // a.users if a.stagger else 0, "spawn_duration": a.spawn,
        "metadata": {"room": f"r{r}", "channel": f"rooms.r{r}", "interval": a.interval,
                     "rtt_timeout": a.interval - 500},
    }
scenario = {
    "server": {"host": a.host, "port": a.port, "endpoint": "/socket.io/1/"},
    "phases": phases,
    "sessions": {"chat": session if a.mode == "chat" else echo},
}
with open(a.out, "w") as f:
    json.dump(scenario, f, indent=1)
