"""python-socketio 5 against Hive's modern path: / and /custom in one session with the same auth,
events with several arguments, call (an acknowledged event) and bytes. Prints one line per step."""
import sys
import threading

import socketio

url = sys.argv[1]
transports = sys.argv[2].split(",") if len(sys.argv) > 2 else ["websocket"]
sio = socketio.Client(reconnection=False)
got = {"auth": [], "back": []}
done = threading.Event()
out = threading.Lock()


def say(*parts):
    """One whole line per call: handlers run on several threads, and print() may interleave."""
    line = " ".join(str(p) for p in parts) + "\n"
    with out:
        sys.stdout.write(line)
        sys.stdout.flush()


@sio.on("auth")
def on_auth(a):
    got["auth"].append(("/", a))
    say("auth /", a)


@sio.on("auth", namespace="/custom")
def on_auth_custom(a):
    got["auth"].append(("/custom", a))
    say("auth /custom", a)


@sio.on("message-back")
def on_back(*args):
    say("message-back", args)
    done.set()


sio.connect(url, auth={"token": "py"}, transports=transports, namespaces=["/", "/custom"])
sio.emit("message", (1, "2", {"3": [True]}, b"\x01\x02\x03"))
say("call", sio.call("message-with-ack", ("x", b"\x09"), timeout=5))
done.wait(5)
sio.sleep(0.5)
say("connected", sio.connected, sorted(n for n, _ in got["auth"]))
sio.disconnect()
