#!/usr/bin/env python3
"""The step series of benches/load/run.sh --steps: a table per server of the offered loads, the
heaviest step both servers sustain and each server's saturation point.

Delivered deliveries/s = offered x the delivered share (messages received / (flood's `sent` x
room size)), which does not depend on how the run's first interval (no publishes yet) is
counted. A step is sustained when at least SHARE of the offered deliveries arrived (messages received /
(flood's `sent` x room size)) and its p99 is below P99_MS; the first step that is not, in order
of offered load, is the saturation point.

usage: steps.py OUT_DIR MS,MS,.. SHARE P99_MS   (reads OUT_DIR/<server>.s<MS>.fig.json)
"""
import json
import os
import sys


def sustained(f, share_min, p99_max):
    p99 = f.get("p99_ms", float("nan"))
    return f["delivered_share"] >= share_min and p99 == p99 and p99 < p99_max


def main():
    out, steps = sys.argv[1], [int(s) for s in sys.argv[2].split(",")]
    share_min, p99_max = float(sys.argv[3]), float(sys.argv[4])
    ok = lambda f: sustained(f, share_min, p99_max)
    table = {}
    for server in ("node", "hive"):
        figs = []
        for s in steps:
            p = "%s/%s.s%d.fig.json" % (out, server, s)
            if os.path.exists(p):
                figs.append((s, json.load(open(p))))
        if not figs:
            continue
        figs.sort(key=lambda x: x[1]["offered_per_s"])
        table[server] = figs
        print("\n%s: step series (sustained: delivered >= %.0f%% of offered and p99 < %.0f ms)"
              % (server, share_min * 100, p99_max))
        print("| publish every (ms) | offered dlv/s | delivered dlv/s | delivered share | p50 ms "
              "| p99 ms | server µs/dlv | flood cores | machine idle | machine saturated "
              "| sustained |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for s, f in figs:
            print("| %d | %.0f | %.0f | %.3f | %.1f | %.1f | %.2f | %.2f | %.0f%% | %s | %s |" % (
                s, f["offered_per_s"], f["offered_per_s"] * min(f["delivered_share"], 1.0),
                f["delivered_share"], f["p50_ms"],
                f["p99_ms"], f["cpu_us_per_rtrip"], f["flood_cores"],
                f["machine_idle_mean"] * 100, "yes" if f["machine_saturated"] else "no",
                "yes" if ok(f) else "NO"))
    print()
    if len(table) == 2:
        hive, node = dict(table["hive"]), dict(table["node"])
        both = None
        for s, _ in table["hive"]:
            if s in node and ok(hive[s]) and ok(node[s]):
                both = s
            else:
                break
        if both is None:
            print("no step of the series is sustained by both servers")
        else:
            h, n = hive[both], node[both]
            print("heaviest step both sustain: publish every %d ms (%.0f deliveries/s offered): "
                  "p50 %.1f / %.1f ms, p99 %.1f / %.1f ms, server µs/delivery %.2f / %.2f "
                  "(hive / node)" % (both, h["offered_per_s"], h["p50_ms"], n["p50_ms"],
                                     h["p99_ms"], n["p99_ms"], h["cpu_us_per_rtrip"],
                                     n["cpu_us_per_rtrip"]))
    for server, figs in table.items():
        last = None
        sat = None
        for s, f in figs:
            if not ok(f):
                sat = (s, f)
                break
            last = (s, f)
        if sat is None:
            print("%s sustains every step (up to %.0f deliveries/s offered)"
                  % (server, figs[-1][1]["offered_per_s"]))
            continue
        s, f = sat
        print("%s saturates at publish every %d ms (%.0f deliveries/s offered, %.0f delivered/s, "
              "share %.3f, p99 %.1f ms)%s" % (
                  server, s, f["offered_per_s"],
                  f["offered_per_s"] * min(f["delivered_share"], 1.0), f["delivered_share"],
                  f["p99_ms"], "; heaviest sustained: every %d ms (%.0f/s)"
                  % (last[0], last[1]["offered_per_s"]) if last else ""))


if __name__ == "__main__":
    main()
