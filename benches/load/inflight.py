#!/usr/bin/env python3
"""Where the echo loop's in-flight round trips wait (benches/load/run.sh with INFLIGHT=1).

usage: inflight.py PORT SECONDS [EVERY_S=0.5] > samples

Samples `ss -tn` (established loopback sockets) every EVERY_S seconds for SECONDS: a socket whose
local port is PORT is the server's end, one whose peer port is PORT is flood's. A socket with
bytes in its receive queue holds a frame its owner has not read yet: on the server's side a
request the server has not read, on flood's side a reply flood has not read. In a closed loop each
user has one round trip in flight, so by Little's law the mean count of such sockets over the
users is the share of the mean round trip spent waiting to be read on that side; the rest is in
processing (inside either process) or on the wire. Prints one line per sample, then a summary line
starting with `inflight`.
"""
import subprocess
import sys
import time


def sample(port):
    out = subprocess.run(["ss", "-tnH", "state", "established"],
                         capture_output=True, text=True).stdout
    srv = flood = socks = 0
    for line in out.splitlines():
        f = line.split()
        if len(f) < 4:
            continue
        rq, local, peer = int(f[0]), f[2], f[3]
        if local.rsplit(":", 1)[-1] == port:
            socks += 1
            srv += rq > 0
        elif peer.rsplit(":", 1)[-1] == port:
            flood += rq > 0
    return socks, srv, flood


def main():
    port, secs = sys.argv[1], float(sys.argv[2])
    every = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
    t0, rows = time.time(), []
    print("t server_sockets server_unread flood_unread", flush=True)
    while time.time() - t0 < secs:
        socks, srv, flood = sample(port)
        rows.append((socks, srv, flood))
        print(f"{time.time() - t0:.1f} {socks} {srv} {flood}", flush=True)
        time.sleep(every)
    if not rows:
        return
    n = len(rows)
    socks = sum(r[0] for r in rows) / n
    srv = sum(r[1] for r in rows) / n
    flood = sum(r[2] for r in rows) / n
    share = lambda x: x / socks if socks else float("nan")
    print(f"inflight samples={n} sockets={socks:.0f} unread_at_server={srv:.0f} "
          f"({share(srv):.0%}) unread_at_flood={flood:.0f} ({share(flood):.0%}) "
          f"elsewhere={socks - srv - flood:.0f} ({share(socks - srv - flood):.0%})", flush=True)


if __name__ == "__main__":
    main()
