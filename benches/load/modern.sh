#!/usr/bin/env bash
# Modern-protocol load bench (benches/load): USERS flood users speaking Socket.IO 5 over Engine.IO 4
# WebSocket (flood's `protocol: sio5`) against, in one run and one after the other:
#   node      npm socket.io@4.8 on Node 20 (benches/load/modern_server.js, the socket.io-4 alias)
#   sioxide   socketioxide 0.18, a minimal echo/broadcast server (benches/load/socketioxide, a
#             package outside the workspace with its own lockfile and target dir)
#   hive      release hive with benches/load/hive_bench.json (checked with `hive check-config`)
#   floor     the echo floor (benches/load/socketioxide/src/bin/echo-floor.rs, echo mode only): the
#             open packet, the CONNECT answer and every event frame written back as it came, no
#             parsing: what flood and the kernel cost on their own, the bound on any server's echo
#             rate and tail on this machine (not in the default SERVERS)
# Each server runs two flood runs on a fresh process: MODE echo (connect all, idle memory, then a
# closed echo loop per user) and MODE chat (rooms of 10, every user publishes every
# CHAT_INTERVAL_MS through the server's room broadcast: the fan-out figures). The chat users spawn
# over one interval, one per room every interval/10 (for 15,000 users: 1,500 users, hence later
# 1,500 publishes, at once every 3 s); from then on the offered load is USERS / interval * 10
# deliveries/s (15,000 users, 30 s: 5,000/s) in bursts, the same for every server and below each
# one's saturation, so the fan-out p99 (the time to drain a burst) compares servers at equal load.
# STAGGER=--stagger spreads the users evenly instead (chat_scenario.py --stagger; socketioxide then
# lost ~6% of the publishers' own messages in a 300-user check, Node none; not investigated). Then
# the figures side by side and the ratios hive/node and hive/sioxide.
#
# usage: benches/load/modern.sh [USERS=15000] [DURATION_S=40]
#   env: SERVERS ("node sioxide hive"), MODES ("echo chat"), PROTOCOL (sio5; sio4 = EIO3),
#        SPAWN_MS (5000, echo), WARMUP_MS (15000, echo), CHAT_INTERVAL_MS (30000),
#        CHAT_DURATION_S (70), STAGGER, NO_BUILD=1, HIVE_BIN (another hive build, for pairs),
#        HIVE_IO_BUSY (`hive.io_events_per_busy_tick`), FLOOD_IO_BUSY (flood --io-busy-events)
#
# Figures per server (echo run unless noted):
#   connect_all_ms            run clock when every user had its CONNECT answer (flood)
#   server_kb_per_idle        (mean server RSS over the last 2 s before the echo loops start, all
#                             users connected - RSS before the run) / users
#   echo_rtrips_per_s         answered echoes / (duration - spawn - warmup)
#   echo_p50_ms / echo_p99_ms flood's round trips of `echo`
#   cpu_us_per_rtrip          server utime+stime over the whole echo run / round trips
#   fanout_dlv_per_s          chat run: room messages received by all users / s (after the first
#                             interval)
#   fanout_p99_ms             chat run: p99 of a user's own message through its room (timer rtt)
#   fanout_cpu_us_per_dlv     chat run: server CPU / deliveries
#   errors                    flood errors of both runs
# The open-files limit is 20,000 per process here: 15,000 WebSocket users fit (flood, hive and
# socketioxide need one descriptor per session, Node one per socket).
set -euo pipefail
cd "$(dirname "$0")/../.."
USERS=${1:-15000}
DURATION=${2:-40}
SERVERS=${SERVERS:-node sioxide hive}
MODES=${MODES:-echo chat}
PROTOCOL=${PROTOCOL:-sio5}
# Every server gets the same slow-enough connect (15,000 users over 5 s) and a warm-up long enough
# that all of them are connected and the RSS has settled before the first echo loop starts (with 2 s
# and 8 s, Node never had all 15,000 connected in time, so it had no idle figure).
SPAWN_MS=${SPAWN_MS:-5000}
WARMUP_MS=${WARMUP_MS:-15000}
CHAT_INTERVAL_MS=${CHAT_INTERVAL_MS:-30000}
CHAT_DURATION=${CHAT_DURATION_S:-70}
ROOMS=$((USERS / 10))
OUT=$(mktemp -d /tmp/flood-modern.XXXXXX)
ulimit -n "$(ulimit -Hn)" || true
SIOXIDE_TARGET=${SIOXIDE_TARGET:-$PWD/target/sioxide}
has() { [[ " $SERVERS " == *" $1 "* ]]; }
if [ -z "${NO_BUILD:-}" ]; then
  if has hive; then cargo build --release --bin flood --bin hive; else cargo build --release --bin flood; fi
  if has sioxide || has floor; then
    (cd benches/load/socketioxide && CARGO_TARGET_DIR="$SIOXIDE_TARGET" cargo build --release)
  fi
fi
if has hive; then ./target/release/hive check-config benches/load/hive_bench.json; fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
now_ms() { date +%s%3N; }
wait_port() {
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/socket.io/?EIO=4&transport=polling" && return 0
    sleep 0.1
  done
  echo "server on $1 did not start" >&2; return 1
}

# start NAME PORT: starts server NAME on PORT in the background; its pid in $SPID
start() {
  local name=$1 port=$2
  case $name in
    node) node benches/load/modern_server.js "$port" > "$OUT/node.log" 2>&1 & SPID=$! ;;
    sioxide) "$SIOXIDE_TARGET/release/sioxide-bench" "$port" > "$OUT/sioxide.log" 2>&1 & SPID=$! ;;
    floor) "$SIOXIDE_TARGET/release/echo-floor" "$port" > "$OUT/floor.log" 2>&1 & SPID=$! ;;
    hive)
      python3 - "$port" "$OUT" "${HIVE_IO_BUSY:-}" <<'PY'
import json, sys
c = json.load(open("benches/load/hive_bench.json"))
c["hive"]["port"] = int(sys.argv[1]); c["log"]["dir"] = sys.argv[2] + "/hive-log"
if sys.argv[3]:
    c["hive"]["io_events_per_busy_tick"] = int(sys.argv[3])
c["api"]["port"] = 0; c["monitor"]["port"] = 0
json.dump(c, open(sys.argv[2] + "/hive.json", "w"))
PY
      "${HIVE_BIN:-./target/release/hive}" --config "$OUT/hive.json" > "$OUT/hive.log" 2>&1 & SPID=$! ;;
  esac
}

# run NAME MODE: a fresh server, one flood run, $OUT/NAME.MODE.fig.json
run() {
  local name=$1 mode=$2 port; port=$(free_port)
  local spawn=$SPAWN_MS dur=$DURATION
  if [ "$mode" = chat ]; then spawn=$CHAT_INTERVAL_MS; dur=$CHAT_DURATION; fi
  start "$name" "$port"
  local pid=$SPID
  wait_port "$port"
  local idle; idle=$(rss_kb "$pid")
  python3 benches/load/chat_scenario.py "$OUT/$name.$mode.json" --port "$port" --users "$USERS" \
    --rooms "$ROOMS" --interval "$CHAT_INTERVAL_MS" --spawn "$spawn" --mode "$mode" \
    --warmup "$WARMUP_MS" --protocol "$PROTOCOL" ${STAGGER:-}
  local t0; t0=$(now_ms)
  ( while kill -0 "$pid" 2>/dev/null; do echo "$(( $(now_ms) - t0 )) $(rss_kb "$pid")"; sleep 0.5; done ) \
    > "$OUT/$name.$mode.rss" &
  local sampler=$!
  local cpu0; cpu0=$(cpu_ticks "$pid")
  /usr/bin/time -v ./target/release/flood "$OUT/$name.$mode.json" --duration "$dur" --quiet \
    ${FLOOD_IO_BUSY:+--io-busy-events "$FLOOD_IO_BUSY"} \
    > "$OUT/$name.$mode.flood.log" 2> "$OUT/$name.$mode.flood.err" || true
  local cpu1; cpu1=$(cpu_ticks "$pid")
  kill "$sampler" 2>/dev/null || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  python3 - "$OUT/$name.${mode}_flood_result.json" "$OUT/$name.$mode.rss" "$idle" "$USERS" \
    "$dur" "$spawn" "$WARMUP_MS" "$((cpu1 - cpu0))" "$(getconf CLK_TCK)" "$mode" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
samples = [tuple(int(x) for x in l.split()) for l in open(sys.argv[2]) if len(l.split()) == 2]
idle, users, dur, spawn, warmup, ticks, hz = (int(x) for x in sys.argv[3:10])
mode = sys.argv[10]
c, run = r["counters"], r["run"]
nan = float("nan")
cpu = ticks / hz
if mode == "echo":
    t = r.get("events", {}).get("echo", {})
    trips = t.get("n", 0)
    steady = max(dur - (spawn + warmup) / 1000.0, 1)
    # Idle sessions: the mean RSS over the last 2 s before the first user's echo loop starts
    # (spawn start + warmup), once every user is connected (and at least 300 ms after), less the
    # RSS before the run; none if not every user was connected by then.
    conn = run.get("all_connected_ms") or 0
    quiet = [kb for ms, kb in samples
             if conn and max(conn + 300, warmup - 2300) <= ms <= warmup - 300]
    pct = t.get("percentile", {})
    fig = {
        "connect_all_ms": conn or nan,
        "server_kb_per_idle": (sum(quiet) / len(quiet) - idle) / users if quiet else nan,
        "echo_rtrips_per_s": trips / steady,
        "echo_p50_ms": pct.get("50", nan), "echo_p99_ms": pct.get("99", nan),
        "cpu_us_per_rtrip": cpu * 1e6 / trips if trips else nan,
    }
else:
    t = r["timers"].get("rtt", {})
    dlv = c.get("msgs", 0)
    # No publish before one interval (= the spawn period); from then on the offered rate is even.
    steady = max(dur - spawn / 1000.0, 1)
    fig = {
        "fanout_dlv_per_s": dlv / steady,
        "fanout_p99_ms": t.get("percentile", {}).get("99", nan),
        "fanout_cpu_us_per_dlv": cpu * 1e6 / dlv if dlv else nan,
    }
fig["connected_" + mode] = c["connected_users"]
fig["errors_" + mode] = sum(r["errors"].values())
json.dump(fig, open(sys.argv[1].replace("_flood_result.json", ".fig.json"), "w"))
print(sys.argv[1].split("/")[-1].split("_flood")[0], json.dumps(fig), "errors:", json.dumps(r["errors"]))
PY
  grep -E "Maximum resident|Elapsed" "$OUT/$name.$mode.flood.err" | sed "s/^/  flood ($name $mode): /" || true
}

for s in $SERVERS; do for m in $MODES; do
  if [ "$s" = floor ] && [ "$m" != echo ]; then continue; fi
  run "$s" "$m"
done; done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT" $SERVERS <<'PY'
import json, os, sys
out, names = sys.argv[1], sys.argv[2:]
figs = {}
for n in names:
    figs[n] = {}
    for m in ("echo", "chat"):
        p = f"{out}/{n}.{m}.fig.json"
        if os.path.exists(p):
            figs[n].update(json.load(open(p)))
keys = [k for n in names for k in figs[n]]
keys = list(dict.fromkeys(keys))
cols = names + [f"hive/{n}" for n in names if n != "hive" and "hive" in names]
print("%-22s" % "figure" + "".join("%14s" % c for c in cols))
for k in keys:
    row = [figs[n].get(k, float("nan")) for n in names]
    h = figs.get("hive", {}).get(k)
    for n in names:
        if n != "hive" and "hive" in names:
            b = figs[n].get(k)
            row.append(h / b if isinstance(h, (int, float)) and isinstance(b, (int, float)) and b else float("nan"))
    print("%-22s" % k + "".join("%14.3f" % v for v in row))
PY
echo "results in $OUT"
