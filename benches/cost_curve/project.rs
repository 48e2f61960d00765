//! The cost curve's projection to 100k and 1M sessions per node from the measured slopes, the
//! check of the curve targets, and the limits that are not CPU or memory (descriptors,
//! ephemeral ports).

use serde_json::{Value, json};

use crate::Point;

/// The local ephemeral port range (`/proc/sys/net/ipv4/ip_local_port_range`).
pub fn port_range() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let v: Vec<u64> = s
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    match v[..] {
        [a, b] => (a, b),
        _ => (32768, 60999),
    }
}

fn sysctl(name: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/sys/{name}"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Least-squares line through `(x, y)`: (slope, intercept).
pub fn fit(pts: &[(f64, f64)]) -> (f64, f64) {
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return (pts.first().map_or(0.0, |p| p.1 / p.0.max(1.0)), 0.0);
    }
    let (sx, sy) = pts.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
    let (mx, my) = (sx / n, sy / n);
    let (mut num, mut den) = (0.0, 0.0);
    for p in pts {
        num += (p.0 - mx) * (p.1 - my);
        den += (p.0 - mx).powi(2);
    }
    let slope = if den > 0.0 { num / den } else { 0.0 };
    (slope, my - slope * mx)
}

pub struct Projection {
    pub text: String,
    pub json: Value,
}

/// Projections and target checks for every server in `points`.
pub fn report(points: &[Point], nofile: u64, ports: (u64, u64), heartbeat_s: u64) -> Projection {
    let per_dest = ports.1 - ports.0 + 1;
    let nr_open = sysctl("fs/nr_open");
    let file_max = sysctl("fs/file-max");
    let mut text = format!(
        "Projection (linear fits over the counts >= 2,000; heartbeats every {heartbeat_s} s):\n\
         - descriptors: one per session on the server (plus listeners and logs), one per session \
         on the clients; this machine: open-files limit {nofile} per process, fs.nr_open {}, \
         fs.file-max {}: 100k sessions need the per-process limit raised (a sysctl/limits.conf \
         change, not allowed here), 1M need fs.nr_open raised above its 1,048,576 default too;\n\
         - ephemeral ports: {per_dest} per (client IP, server IP:port), so 100k sessions need {} \
         client IPs (or server ports) and 1M need {}; loopback offers 127.0.0.0/8. Long before a \
         source address runs out, connect() slows down: past about half of its range (Linux \
         prefers even ports for connect and scans them first) each new connection searches the \
         used half; here 19,000 sessions from one address took 14 s to connect against 3.9 s \
         from 8 (the bench spreads its sessions over 127.0.0.1-8), so plan for at most about \
         {} sessions per client address;\n",
        nr_open.map_or("?".into(), |v| v.to_string()),
        file_max.map_or("?".into(), |v| v.to_string()),
        100_000u64.div_ceil(per_dest),
        1_000_000u64.div_ceil(per_dest),
        per_dest / 2,
    );
    text.push_str(
        "- memory and heartbeat CPU grow linearly with the sessions (the fitted slope), as the \
         sessions are independent; echo and fan-out cost per operation stay at the largest \
         count's figure.\n\n",
    );
    text.push_str(
        "| server | RSS/session 2k..max (min / max, spread) | flat within 10% | RSS at 100k / 1M | \
         heartbeat cores at max | < 5% of a core | heartbeat cores at 100k / 1M | connect all at \
         100k / 1M | echo µs/op, fan-out µs/delivery (at max) |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut out = serde_json::Map::new();
    let mut servers: Vec<&str> = points.iter().map(|p| p.server).collect();
    servers.dedup();
    servers.sort_unstable();
    servers.dedup();
    for s in servers {
        let mut mine: Vec<&Point> = points
            .iter()
            .filter(|p| p.server == s && p.sessions >= 2000)
            .collect();
        if mine.is_empty() {
            mine = points.iter().filter(|p| p.server == s).collect();
        }
        let Some(top) = points
            .iter()
            .filter(|p| p.server == s)
            .max_by_key(|p| p.sessions)
        else {
            continue;
        };
        let per: Vec<f64> = mine.iter().map(|p| p.rss_bytes_per_session).collect();
        let lo = per.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = per.iter().copied().fold(0.0, f64::max);
        let spread = if lo > 0.0 { hi / lo - 1.0 } else { f64::NAN };
        let (mem_slope, mem_base) = fit(&mine
            .iter()
            .map(|p| (p.sessions as f64, p.rss_bytes as f64))
            .collect::<Vec<_>>());
        let (hb_slope, _) = fit(&mine
            .iter()
            .map(|p| (p.sessions as f64, p.idle_cores))
            .collect::<Vec<_>>());
        let connect_per = top.connect_all_ms / top.sessions as f64;
        let at = |n: f64| {
            json!({
                "rss_bytes": mem_base + mem_slope * n,
                "heartbeat_cores": hb_slope * n,
                "connect_all_s": connect_per * n / 1e3,
                "heartbeats_per_s": n / heartbeat_s as f64,
                "client_ips_needed": (n as u64).div_ceil(per_dest),
                "server_descriptors": n as u64 + 64,
            })
        };
        let gib = |b: f64| b / (1u64 << 30) as f64;
        text.push_str(&format!(
            "| {s} | {lo:.0} / {hi:.0} B ({:+.1}%) | {} | {:.2} / {:.1} GiB | {:.2}% | {} | \
             {:.3} / {:.2} | {:.0} s / {:.0} s | {:.2}, {:.2} |\n",
            spread * 100.0,
            if spread <= 0.10 { "yes" } else { "no" },
            gib(mem_base + mem_slope * 1e5),
            gib(mem_base + mem_slope * 1e6),
            top.idle_cores * 100.0,
            if top.idle_cores < 0.05 { "yes" } else { "no" },
            hb_slope * 1e5,
            hb_slope * 1e6,
            connect_per * 1e5 / 1e3,
            connect_per * 1e6 / 1e3,
            top.echo_us_per_op,
            top.fanout_us_per_delivery,
        ));
        out.insert(
            s.to_owned(),
            json!({
                "rss_per_session_min": lo, "rss_per_session_max": hi, "rss_spread": spread,
                "rss_flat_within_10pct": spread <= 0.10,
                "rss_slope_bytes": mem_slope, "rss_base_bytes": mem_base,
                "heartbeat_cores_at_max": top.idle_cores,
                "heartbeat_under_5pct_at_max": top.idle_cores < 0.05,
                "heartbeat_cores_per_session": hb_slope,
                "max_sessions": top.sessions,
                "at_100k": at(1e5), "at_1m": at(1e6),
            }),
        );
    }
    Projection {
        text,
        json: Value::Object(out),
    }
}
