#!/usr/bin/env python3
"""The cost of forwarding a transport request to the node that owns its session (docs/cluster.md).

Starts a private redis-server and two Hive nodes (release binary) of one cluster on loopback,
opens a 0.9 session on node A (a long poll kept pending on A), then sends the same request, an
xhr-polling POST of a heartbeat (`2::`, answered `1`), over one keep-alive connection either
straight to A (the baseline) or to B, which forwards it to A. Batches alternate (direct,
forwarded, direct, ...) so both see the same machine load. Reports per request: p50 and p99
latency as the client sees it, and the CPU time (user + system, from /proc) of A and of B.

Usage: python3 benches/forward/cost.py [--hive target/release/hive] [--rounds 5] [--batch 2000]
"""
import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, what):
    end = time.time() + 20
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on {port}")


def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def node_config(tmp, name, redis_port):
    with open(os.path.join(ROOT, "config/test.json")) as f:
        c = json.load(f)
    ports = {k: free_port() for k in ("sio", "api", "mon")}
    c["hive"]["port"] = ports["sio"]
    c["api"]["port"] = ports["api"]
    c["monitor"]["port"] = ports["mon"]
    c["log"] = {"dir": os.path.join(tmp, name), "console_level": "warning", "file_level": "warning"}
    c["socketio"].update({"heartbeat_timeout": 30000, "reconnect_timeout": 60000,
                          "session_timeout": 60000, "init_timeout": 60000})
    c["cluster"] = {"name": "fwd_bench", "redis": f"redis://127.0.0.1:{redis_port}/0", "node": name}
    path = os.path.join(tmp, f"{name}.json")
    with open(path, "w") as f:
        json.dump(c, f)
    return path, ports


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hive", default=os.path.join(ROOT, "target/release/hive"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=2000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hive-fwd-")
    procs = []
    try:
        rport = free_port()
        procs.append(subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                                       "--save", "", "--appendonly", "no"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(rport, "redis-server")
        nodes = {}
        for name in ("a", "b"):
            path, ports = node_config(tmp, name, rport)
            p = subprocess.Popen([a.hive, "--config", path], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            wait_port(ports["sio"], f"hive {name}")
            nodes[name] = (p.pid, ports["sio"])
        time.sleep(1.0)  # both records in Redis
        (pid_a, port_a), (pid_b, port_b) = nodes["a"], nodes["b"]
        c = http.client.HTTPConnection("127.0.0.1", port_a)
        c.request("GET", "/socket.io/1/")
        sid = c.getresponse().read().decode().split(":")[0]
        url = f"/socket.io/1/xhr-polling/{sid}"

        def poller():  # keeps the session's transport attached on A
            pc = http.client.HTTPConnection("127.0.0.1", port_a)
            while True:
                try:
                    pc.request("GET", url)
                    pc.getresponse().read()
                except Exception:
                    return
        threading.Thread(target=poller, daemon=True).start()
        time.sleep(0.2)

        conns = {"direct": http.client.HTTPConnection("127.0.0.1", port_a),
                 "forwarded": http.client.HTTPConnection("127.0.0.1", port_b)}
        hdr = {"Content-Type": "text/plain"}

        def batch(kind, n):
            conn, lat = conns[kind], []
            ca, cb = cpu(pid_a), cpu(pid_b)
            for _ in range(n):
                t = time.perf_counter()
                conn.request("POST", url, body=b"2::", headers=hdr)
                r = conn.getresponse()
                body = r.read()
                lat.append(time.perf_counter() - t)
                assert r.status == 200 and body == b"1", (r.status, body)
            return lat, cpu(pid_a) - ca, cpu(pid_b) - cb

        for kind in conns:  # warm-up (connections, pools)
            batch(kind, 200)
        res = {k: ([], 0.0, 0.0) for k in conns}
        for _ in range(a.rounds):
            for kind in conns:
                lat, da, db = batch(kind, a.batch)
                l0, a0, b0 = res[kind]
                res[kind] = (l0 + lat, a0 + da, b0 + db)
        n = a.rounds * a.batch
        out = {}
        for kind, (lat, da, db) in res.items():
            out[kind] = {"requests": n, "p50_us": round(pct(lat, 0.5) * 1e6),
                         "p99_us": round(pct(lat, 0.99) * 1e6),
                         "cpu_owner_us_per_req": round(da / n * 1e6, 1),
                         "cpu_forwarder_us_per_req": round(db / n * 1e6, 1)}
        d, f = out["direct"], out["forwarded"]
        out["added"] = {"p50_us": f["p50_us"] - d["p50_us"], "p99_us": f["p99_us"] - d["p99_us"],
                        "cpu_us_per_req": round(f["cpu_owner_us_per_req"] + f["cpu_forwarder_us_per_req"]
                                                - d["cpu_owner_us_per_req"] - d["cpu_forwarder_us_per_req"], 1),
                        "cpu_ratio": round((f["cpu_owner_us_per_req"] + f["cpu_forwarder_us_per_req"])
                                           / max(d["cpu_owner_us_per_req"], 0.1), 2)}
        # Connections the owner closed during the run (TIME_WAIT on its port): the forwarder's
        # pooled connections are reused, so this stays small next to the request count.
        tw = subprocess.run(["ss", "-Htan", "state", "time-wait", f"( sport = :{port_a} or dport = :{port_a} )"],
                            capture_output=True, text=True).stdout
        out["owner_port_time_wait"] = len(tw.splitlines())
        out["load_average"] = os.getloadavg()
        print(json.dumps(out, indent=2))
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
