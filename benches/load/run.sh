#!/usr/bin/env bash
# Load bench (benches/load): USERS websocket users driven by flood against hive (release, bench
# config benches/load/hive_bench.json, checked with `hive check-config` first) and against the
# reference Socket.IO 0.9 server (npm socket.io@0.9.19 on Node 20), then the figures side by side
# and the ratio hive/node.
#
# usage: benches/load/run.sh [--poll-timeout MS] [--steps MS,MS,..] [USERS=15000] [DURATION_S=40]
#   env: MODE=echo|chat (default echo), SPAWN_MS (2000), WARMUP_MS (3000, echo), ROOMS (USERS/10,
#        chat), INTERVAL_MS (5000, chat), SKIP_HIVE=1, SKIP_NODE=1, NO_BUILD=1, SAT_SHARE (0.95),
#        SAT_P99_MS (1000), HIVE_BIN (another hive build to run, for before/after pairs),
#        FLOOD_CORES (flood --cores: 0 = one work-stealing runtime, N = N single-threaded ones),
#        INFLIGHT=1 (echo: where the in-flight round trips wait, benches/load/inflight.py),
#        HIVE_CORES (hive's `hive.cores`: unset = the config's default),
#        HIVE_IO_BUSY (hive's `hive.io_events_per_busy_tick`: unset = the default, 61; 0 = tokio's),
#        FLOOD_IO_BUSY (flood --io-busy-events: unset = the default, 61; 0 = tokio's),
#        FLOOR=1 (echo: first the same loop against the echo floor, benches/load/socketioxide's
#        echo-floor, which writes every event frame back unparsed: flood's and the kernel's share,
#        the bound on any server's rate and tail here; build it with `cd benches/load/socketioxide
#        && CARGO_TARGET_DIR=$PWD/../../../target/sioxide cargo build --release`),
#        STAGGER=1 (chat: users spread evenly over SPAWN_MS instead of one per room per tick,
#        chat_scenario.py --stagger, so publishes arrive evenly rather than in bursts of
#        USERS/10), SPREAD=1 (chat: STAGGER over one publish interval, i.e. SPAWN_MS = the
#        step's interval: each user's timer starts at its connect, so users that all connect
#        within SPAWN_MS publish within SPAWN_MS of every interval; spread over the interval,
#        the publishes arrive evenly at the offered rate, the same for every server whatever
#        its connect speed; give DURATION_S at least two intervals)
#
# --poll-timeout MS: hive's `socketio.poll_timeout` (its batching window, default 0); Node has none.
# --steps MS,MS,..: MODE=chat only: a step series of offered loads, one flood run per publish
#   interval (each user publishes every MS; offered = USERS / MS x room size deliveries/s), on the
#   same server process, in the order given (lightest first). A step is sustained when the
#   deliveries that arrived are at least SAT_SHARE of those offered (flood's `sent` x room size)
#   and its p99 stays below SAT_P99_MS; the first step that is not is the server's saturation
#   point. Prints one table per server, the heaviest step both servers sustain and each one's
#   saturation point.
#
# MODE=echo: every user, WARMUP_MS after its connect, runs a closed loop (emit `echo`, emit the
# next one when it comes back), so round trips/s is what the server sustains. MODE=chat: rooms of
# 10, each user publishes every INTERVAL_MS and times its own message's round trip (timer rtt).
#
# Figures per server:
#   flood_kb_per_user      flood's (peak RSS - RSS before the run) / users (its run.rss_per_user_bytes)
#   server_kb_per_session  (server peak RSS - idle RSS before the run) / users
#   connect_all_ms         run clock when every user had its `1::` (flood's run.all_connected_ms)
#   rtrips_per_s           echo: answered echoes / (duration - spawn - warmup); chat: msgs received / s
#   p50/p99/p999/max_ms    echo: events.echo round trips; chat: timer rtt
#   server_cpu_s           server utime+stime (/proc/<pid>/stat) over the whole flood run
#   cpu_us_per_rtrip       server_cpu_s / round trips (echo) or / messages delivered (chat)
#   offered_per_s          chat: USERS / interval x room size (deliveries/s the scenario asks for)
#   delivered_share        chat: messages received / (flood's `sent` x room size)
#   flood_cpu_s, flood_cores  flood's own CPU over its run (its run.cpu), and per second
#   machine_saturated      flood's verdict: idle below 10% of all cores in >= 20% of the run
set -euo pipefail
cd "$(dirname "$0")/../.."
POLL_TIMEOUT=0
STEPS=""
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --poll-timeout) POLL_TIMEOUT=$2; shift 2 ;;
    --poll-timeout=*) POLL_TIMEOUT=${1#*=}; shift ;;
    --steps) STEPS=$2; shift 2 ;;
    --steps=*) STEPS=${1#*=}; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
USERS=${ARGS[0]:-15000}
DURATION=${ARGS[1]:-40}
MODE=${MODE:-echo}
ROOMS=${ROOMS:-$((USERS / 10))}
INTERVAL_MS=${INTERVAL_MS:-5000}
SPAWN_MS=${SPAWN_MS:-2000}
WARMUP_MS=${WARMUP_MS:-3000}
OUT=$(mktemp -d /tmp/flood-bench.XXXXXX)
ulimit -n "$(ulimit -Hn)" || true
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release --bin flood --bin hive
fi
./target/release/hive check-config benches/load/hive_bench.json

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/socket.io/1/" -H 'origin: null' && return 0; sleep 0.1; done; echo "server on $1 did not start" >&2; return 1; }

# bench NAME PID PORT [INTERVAL_MS]: runs flood against the server and writes $OUT/NAME.fig.json
bench() {
  local name=$1 pid=$2 port=$3 interval=${4:-$INTERVAL_MS}
  wait_port "$port"
  local idle; idle=$(rss_kb "$pid")
  local spawn=$SPAWN_MS stagger=${STAGGER:+--stagger}
  if [ -n "${SPREAD:-}" ] && [ "$MODE" = chat ]; then spawn=$interval; stagger=--stagger; fi
  python3 benches/load/chat_scenario.py "$OUT/$name.json" --port "$port" --users "$USERS" \
    --rooms "$ROOMS" --interval "$interval" --spawn "$spawn" --mode "$MODE" --warmup "$WARMUP_MS" $stagger
  ( while kill -0 "$pid" 2>/dev/null; do rss_kb "$pid"; sleep 0.5; done ) > "$OUT/$name.rss" &
  local sampler=$!
  local cpu0; cpu0=$(cpu_ticks "$pid")
  local probe=""
  if [ -n "${INFLIGHT:-}" ]; then
    # The steady window only: after spawn and warm-up, until a second before the end.
    local from=$(( (SPAWN_MS + WARMUP_MS) / 1000 + 1 ))
    ( sleep "$from"; python3 benches/load/inflight.py "$port" $((DURATION - from - 1)) ) \
      > "$OUT/$name.inflight" &
    probe=$!
  fi
  /usr/bin/time -v ./target/release/flood "$OUT/$name.json" --duration "$DURATION" --quiet \
    --cores "${FLOOD_CORES:-0}" ${FLOOD_IO_BUSY:+--io-busy-events "$FLOOD_IO_BUSY"} \
    > "$OUT/$name.flood.log" 2> "$OUT/$name.flood.err" || true
  local cpu1; cpu1=$(cpu_ticks "$pid")
  if [ -n "$probe" ]; then
    wait "$probe" 2>/dev/null || true
    grep '^inflight' "$OUT/$name.inflight" | sed "s/^/$name /" || true
  fi
  kill "$sampler" 2>/dev/null || true
  local peak; peak=$(sort -n "$OUT/$name.rss" | tail -1)
  python3 - "$OUT/${name}_flood_result.json" "$name" "$idle" "$peak" "$USERS" "$DURATION" \
    "$spawn" "$WARMUP_MS" "$((cpu1 - cpu0))" "$(getconf CLK_TCK)" "$MODE" "$interval" \
    "$ROOMS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); name = sys.argv[2]
idle, peak, users, dur, spawn, warmup, ticks, hz = (int(x) for x in sys.argv[3:11])
mode = sys.argv[11]
interval, rooms = int(sys.argv[12]), int(sys.argv[13])
room = users / max(rooms, 1)
c, run = r["counters"], r["run"]
nan = float("nan")
if mode == "echo":
    t = r.get("events", {}).get("echo", {})
    trips = t.get("n", 0)
    steady = max(dur - (spawn + warmup) / 1000.0, 1)
else:
    t = r["timers"].get("rtt", {})
    trips = c.get("msgs", 0)
    steady = max(dur - spawn / 1000.0 - 1, 1)
pct = t.get("percentile", {})
cpu = ticks / hz
fig = {
  "flood_kb_per_user": run["rss_per_user_bytes"] / 1024,
  "server_kb_per_session": (peak - idle) / max(users, 1),
  "connect_all_ms": run["all_connected_ms"] or nan,
  "rtrips_per_s": trips / steady,
  "p50_ms": pct.get("50", nan), "p99_ms": pct.get("99", nan),
  "p999_ms": pct.get("99.9", nan), "max_ms": t.get("max", nan),
  "server_cpu_s": cpu,
  "cpu_us_per_rtrip": cpu * 1e6 / trips if trips else nan,
  "connected": c["connected_users"],
  "errors": sum(r["errors"].values()),
}
if mode == "chat":
    fig["offered_per_s"] = users / (interval / 1000.0) * room
    fig["delivered_share"] = c.get("msgs", 0) / max(c.get("sent", 0) * room, 1)
cpu = run.get("cpu", {})
fig["flood_cpu_s"] = cpu.get("flood_cpu_s", nan)
fig["flood_cores"] = cpu.get("flood_cores_mean", nan)
fig["machine_idle_mean"] = cpu.get("machine", {}).get("idle_mean", nan)
fig["machine_saturated"] = 1 if cpu.get("machine", {}).get("saturated") else 0
json.dump(fig, open(sys.argv[1].replace("_flood_result.json", ".fig.json"), "w"))
print(name, json.dumps(fig), "errors:", json.dumps(r["errors"]))
PY
  grep -E "Maximum resident|Elapsed|flood used|saturated" "$OUT/$name.flood.err" \
    | sed "s/^/  flood ($name): /" || true
}

# series NAME PID PORT: one bench per step of $STEPS on the same server.
series() {
  local name=$1 pid=$2 port=$3 step
  for step in $(echo "$STEPS" | tr ',' ' '); do
    bench "$name.s$step" "$pid" "$port" "$step"
  done
}

# run_server NAME PID PORT: the single run, or the step series.
run_server() {
  if [ -n "$STEPS" ]; then series "$@"; else bench "$@"; fi
}

if [ -n "$STEPS" ] && [ "$MODE" != chat ]; then
  echo "--steps needs MODE=chat (the echo loop is closed: its offered load is what the server answers)" >&2
  exit 2
fi
echo "load: $USERS users, ${DURATION} s, MODE=$MODE, hive poll_timeout ${POLL_TIMEOUT} ms${STEPS:+, steps (publish interval ms) $STEPS}; $(nproc) cores; $(uptime)"

if [ -n "${FLOOR:-}" ]; then
  FPORT=$(free_port)
  "${SIOXIDE_TARGET:-$PWD/target/sioxide}/release/echo-floor" "$FPORT" > "$OUT/floor.log" 2>&1 &
  FPID=$!
  bench floor "$FPID" "$FPORT"
  kill "$FPID"; wait "$FPID" 2>/dev/null || true
fi
if [ -z "${SKIP_NODE:-}" ]; then
  NPORT=$(free_port)
  node benches/load/reference_server.js "$NPORT" > "$OUT/node.log" 2>&1 &
  NPID=$!
  run_server node "$NPID" "$NPORT"
  kill "$NPID"; wait "$NPID" 2>/dev/null || true
fi
if [ -z "${SKIP_HIVE:-}" ]; then
  HPORT=$(free_port)
  python3 - "$HPORT" "$OUT" "$POLL_TIMEOUT" "${HIVE_CORES:-}" "${HIVE_IO_BUSY:-}" <<'PY'
import json, sys
c = json.load(open("benches/load/hive_bench.json"))
c["hive"]["port"] = int(sys.argv[1]); c["log"]["dir"] = sys.argv[2] + "/hive-log"
c["socketio"]["poll_timeout"] = int(sys.argv[3])
if sys.argv[4]:
    c["hive"]["cores"] = int(sys.argv[4])
if sys.argv[5]:
    c["hive"]["io_events_per_busy_tick"] = int(sys.argv[5])
c["api"]["port"] = 0; c["monitor"]["port"] = 0
json.dump(c, open(sys.argv[2] + "/hive.json", "w"))
PY
  "${HIVE_BIN:-./target/release/hive}" --config "$OUT/hive.json" > "$OUT/hive.log" 2>&1 &
  HPID=$!
  run_server hive "$HPID" "$HPORT"
  kill "$HPID"; wait "$HPID" 2>/dev/null || true
fi
if [ -f "$OUT/hive.fig.json" ] && [ -f "$OUT/node.fig.json" ]; then
  python3 - "$OUT" <<'PY'
import json, sys
h = json.load(open(sys.argv[1] + "/hive.fig.json")); n = json.load(open(sys.argv[1] + "/node.fig.json"))
print("%-24s %14s %14s %10s" % ("figure", "hive", "node", "hive/node"))
for k in h:
    a, b = h[k], n[k]
    ratio = (a / b) if isinstance(b, (int, float)) and b else float("nan")
    print("%-24s %14.3f %14.3f %10.3f" % (k, a, b, ratio))
PY
fi
if [ -n "$STEPS" ]; then
  python3 benches/load/steps.py "$OUT" "$STEPS" "${SAT_SHARE:-0.95}" "${SAT_P99_MS:-1000}"
fi
echo "results in $OUT"
