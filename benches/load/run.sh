#!/usr/bin/env bash
# Load bench (benches/load): 15,000 chat-like websocket users against hive (release, bench
# config) and against the reference Socket.IO 0.9 server (npm socket.io@0.9.19 on Node 20), then
# the figures side by side and the ratio ours/theirs.
#
# usage: benches/load/run.sh [USERS=15000] [DURATION_S=40]
#   env: ROOMS (default USERS/10), INTERVAL_MS (5000), SPAWN_MS (2000), SKIP_HIVE=1, SKIP_NODE=1
# Figures per server: server RSS per session (peak RSS - idle RSS) / users, connect time of all
# users (flood's run.all_connected_ms), messages/s delivered (msgs counter / steady seconds),
# rtt p50/p99/p99.9 (own message round trip through the room), errors.
set -euo pipefail
cd "$(dirname "$0")/../.."
USERS=${1:-15000}
DURATION=${2:-40}
ROOMS=${ROOMS:-$((USERS / 10))}
INTERVAL_MS=${INTERVAL_MS:-5000}
SPAWN_MS=${SPAWN_MS:-2000}
OUT=$(mktemp -d /tmp/flood-bench.XXXXXX)
ulimit -n "$(ulimit -Hn)" || true
cargo build --release --bin flood $( [ -z "${SKIP_HIVE:-}" ] && echo --bin hive )

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/socket.io/1/" -H 'origin: null' && return 0; sleep 0.1; done; echo "server on $1 did not start" >&2; return 1; }

# bench NAME PID PORT: runs flood against the server, prints "NAME rss_per_session connect_ms msgs_per_s p50 p99 p999 errors"
bench() {
  local name=$1 pid=$2 port=$3
  wait_port "$port"
  local idle; idle=$(rss_kb "$pid")
  python3 benches/load/chat_scenario.py "$OUT/$name.json" --port "$port" --users "$USERS" \
    --rooms "$ROOMS" --interval "$INTERVAL_MS" --spawn "$SPAWN_MS"
  local peak=$idle
  ( while kill -0 "$pid" 2>/dev/null; do echo "$(rss_kb "$pid")"; sleep 1; done ) > "$OUT/$name.rss" &
  local sampler=$!
  ./target/release/flood "$OUT/$name.json" --duration "$DURATION" --quiet || true
  kill "$sampler" 2>/dev/null || true
  peak=$(sort -n "$OUT/$name.rss" | tail -1)
  python3 - "$OUT/${name}_flood_result.json" "$name" "$idle" "$peak" "$USERS" "$DURATION" "$SPAWN_MS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); name = sys.argv[2]
idle, peak, users, dur, spawn = (int(x) for x in sys.argv[3:8])
c, t, run = r["counters"], r["timers"].get("rtt", {}), r["run"]
pct = t.get("percentile", {})
steady = max(dur - spawn / 1000.0 - 1, 1)
fig = {
  "rss_per_session_bytes": (peak - idle) * 1024 / max(users, 1),
  "connect_all_ms": run["all_connected_ms"] or float("nan"),
  "msgs_per_s": c.get("msgs", 0) / steady,
  "rtt_p50_ms": pct.get("50", float("nan")), "rtt_p99_ms": pct.get("99", float("nan")),
  "rtt_p999_ms": pct.get("999", float("nan")),
  "errors": sum(r["errors"].values()), "flood_rss_per_user_bytes": run["rss_per_user_bytes"],
  "connected": c["connected_users"],
}
json.dump(fig, open(sys.argv[1].replace("_flood_result.json", ".fig.json"), "w"))
print(name, json.dumps(fig))
PY
}

if [ -z "${SKIP_NODE:-}" ]; then
  NPORT=$(free_port)
  node benches/load/reference_server.js "$NPORT" > "$OUT/node.log" 2>&1 &
  NPID=$!
  bench node "$NPID" "$NPORT"
  kill "$NPID"; wait "$NPID" 2>/dev/null || true
fi
if [ -z "${SKIP_HIVE:-}" ]; then
  HPORT=$(free_port)
  python3 - "$HPORT" "$OUT" <<'PY'
import json, sys
c = json.load(open("benches/load/hive_bench.json"))
c["hive"]["port"] = int(sys.argv[1]); c["log"]["dir"] = sys.argv[2] + "/hive-log"
json.dump(c, open(sys.argv[2] + "/hive.json", "w"))
PY
  ./target/release/hive --config "$OUT/hive.json" > "$OUT/hive.log" 2>&1 &
  HPID=$!
  bench hive "$HPID" "$HPORT"
  kill "$HPID"; wait "$HPID" 2>/dev/null || true
fi
if [ -f "$OUT/hive.fig.json" ] && [ -f "$OUT/node.fig.json" ]; then
  python3 - "$OUT" <<'PY'
import json, sys
h = json.load(open(sys.argv[1] + "/hive.fig.json")); n = json.load(open(sys.argv[1] + "/node.fig.json"))
print("%-28s %14s %14s %10s" % ("figure", "hive", "node", "hive/node"))
for k in h:
    a, b = h[k], n[k]
    ratio = (a / b) if isinstance(b, (int, float)) and b else float("nan")
    print("%-28s %14.3f %14.3f %10.3f" % (k, a, b, ratio))
PY
fi
echo "results in $OUT"
