//! Prometheus text exposition (format 0.0.4) of the metrics, for `GET /monitor/<hash>/metrics`.
//!
//! Names: dots become underscores and `???` becomes `unknown`
//! (`hive.router.current_clients` -> `hive_router_current_clients`,
//! `clients.transports.http.???` -> `clients_transports_http_unknown`). Metrics with a name part
//! chosen at run time become labels, so dashboards can aggregate them:
//!
//! | Hive name | Prometheus |
//! |---|---|
//! | `connectors.<type>.<pool>.<m>` | `connectors_<type>_<m>{pool="<pool>"}` |
//! | `pubsub.channels.<prefix>.<m>` | `pubsub_channels_<m>{prefix="<prefix>"}` |
//! | `clients.hooks.<event>.<m>` | `clients_hooks_event_<m>{event="<event>"}` (`<m>`: `calls`, `hp_get`, ...) |
//! | `hive.cluster.nodes` | `hive_cluster_nodes{node="<name>"} 1` |
//! | supervision tree | `hive_supervisor_restarts{supervisor="<id>"}`, `hive_supervisor_children{supervisor="<id>"}` |

use std::collections::BTreeMap;
use std::fmt::Write as _;

use otp::SupervisorReport;

/// Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// Gauges of HIVE.md 10.3 (everything else is a counter).
const GAUGES: &[&str] = &[
    "hive.uptime",
    "hive.total_processes",
    "hive.router.uptime",
    "hive.router.current_clients",
    "hive.router.msg_queue_length",
    "hive.cluster.size",
    "clients.total",
    "clients.websocket",
    "clients.xhr_polling",
    "clients.states.generic",
    "clients.states.transient",
    "clients.states.waiting",
    "clients.states.polling",
    "connectors.pools",
    "pubsub.uptime",
    "pubsub.total_channels",
];

/// Per-event hook metric suffixes (`clients.hooks.<event>.<suffix>`).
const HOOK_SUFFIXES: &[&str] = &[
    "hp.get",
    "hp.put",
    "hp.post",
    "pubsub.publish",
    "pubsub.subscribe",
    "pubsub.unsubscribe",
    "calls",
    "errors",
];

/// Connector types with per-pool metrics.
const CONNECTOR_TYPES: &[&str] = &["http", "redis", "tcp"];

/// One family: its type, help text and samples (label set, value).
struct Family {
    kind: Kind,
    help: String,
    samples: Vec<(Option<(&'static str, String)>, i64)>,
}

/// A valid Prometheus metric name from a dotted Hive name.
fn sanitize(name: &str) -> String {
    let replaced = name.replace("???", "unknown");
    let mut out: String = replaced
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

/// Escape a label value (backslash, double quote, newline).
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Map a Hive metric to (family name, label, kind, help).
fn classify(name: &str) -> (String, Option<(&'static str, String)>, Kind, String) {
    let segs: Vec<&str> = name.split('.').collect();
    if segs.len() >= 4 && segs[0] == "connectors" && CONNECTOR_TYPES.contains(&segs[1]) {
        let m = segs[segs.len() - 1];
        let pool = segs[2..segs.len() - 1].join(".");
        let kind = if m == "workers" {
            Kind::Gauge
        } else {
            Kind::Counter
        };
        let help = format!("Hive metric connectors.{}.<pool>.{m}", segs[1]);
        return (
            sanitize(&format!("connectors_{}_{m}", segs[1])),
            Some(("pool", pool)),
            kind,
            help,
        );
    }
    if segs.len() >= 4 && segs[0] == "pubsub" && segs[1] == "channels" {
        let m = segs[segs.len() - 1];
        let prefix = segs[2..segs.len() - 1].join(".");
        let kind = if m == "subscribed_clients" {
            Kind::Gauge
        } else {
            Kind::Counter
        };
        let help = format!("Hive metric pubsub.channels.<prefix>.{m}");
        return (
            sanitize(&format!("pubsub_channels_{m}")),
            Some(("prefix", prefix)),
            kind,
            help,
        );
    }
    if let Some(rest) = name.strip_prefix("clients.hooks.")
        && !HOOK_SUFFIXES.contains(&rest)
    {
        for suffix in HOOK_SUFFIXES {
            if let Some(event) = rest.strip_suffix(suffix).and_then(|e| e.strip_suffix('.'))
                && !event.is_empty()
            {
                let family = sanitize(&format!("clients_hooks_event_{suffix}"));
                let help = format!("Hive metric clients.hooks.<event>.{suffix}");
                return (
                    family,
                    Some(("event", event.to_string())),
                    Kind::Counter,
                    help,
                );
            }
        }
    }
    let kind = if GAUGES.contains(&name) || name.starts_with("hive.memory.") {
        Kind::Gauge
    } else {
        Kind::Counter
    };
    (sanitize(name), None, kind, format!("Hive metric {name}"))
}

/// Walk the tree, adding one restarts and one child-count sample per supervisor.
fn add_tree(fams: &mut BTreeMap<String, Family>, r: &SupervisorReport) {
    let restarts = fams
        .entry("hive_supervisor_restarts".into())
        .or_insert_with(|| Family {
            kind: Kind::Counter,
            help: "Restarts performed by each supervisor of the live tree".into(),
            samples: Vec::new(),
        });
    restarts
        .samples
        .push((Some(("supervisor", r.id.clone())), i64::from(r.restarts)));
    let children = fams
        .entry("hive_supervisor_children".into())
        .or_insert_with(|| Family {
            kind: Kind::Gauge,
            help: "Live children of each supervisor of the live tree".into(),
            samples: Vec::new(),
        });
    let count = i64::try_from(r.child_count).unwrap_or(i64::MAX);
    children
        .samples
        .push((Some(("supervisor", r.id.clone())), count));
    for c in &r.children {
        if let Some(sup) = &c.supervisor {
            add_tree(fams, sup);
        }
    }
}

/// The metrics (and, when given, the supervision tree) as Prometheus text format 0.0.4.
pub fn render_prometheus(
    metrics: &[(String, i64)],
    nodes: &[String],
    tree: Option<&SupervisorReport>,
) -> String {
    let mut fams: BTreeMap<String, Family> = BTreeMap::new();
    for (name, v) in metrics {
        let (family, label, kind, help) = classify(name);
        let fam = fams.entry(family).or_insert_with(|| Family {
            kind,
            help,
            samples: Vec::new(),
        });
        // Two Hive names that sanitize to the same series: keep the first.
        if !fam.samples.iter().any(|(l, _)| *l == label) {
            fam.samples.push((label, *v));
        }
    }
    let node_fam = fams
        .entry("hive_cluster_nodes".into())
        .or_insert_with(|| Family {
            kind: Kind::Gauge,
            help: "Connected Hive nodes including this one (hive.cluster.nodes)".into(),
            samples: Vec::new(),
        });
    for n in nodes {
        node_fam.samples.push((Some(("node", n.clone())), 1));
    }
    if let Some(t) = tree {
        add_tree(&mut fams, t);
    }
    let mut out = String::new();
    for (name, fam) in &fams {
        if fam.samples.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {name} {}", fam.help.replace('\n', " "));
        let _ = writeln!(out, "# TYPE {name} {}", fam.kind.as_str());
        for (label, v) in &fam.samples {
            match label {
                Some((k, lv)) => {
                    let _ = writeln!(out, "{name}{{{k}=\"{}\"}} {v}", escape_label(lv));
                }
                None => {
                    let _ = writeln!(out, "{name} {v}");
                }
            }
        }
    }
    out
}

/// Bucket bounds of the latency histograms, in µs (Prometheus `le` in seconds).
pub(crate) const LATENCY_BOUNDS_US: &[u64] = &[
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// The Prometheus label of a latency family's histograms: `pool` for `pool` and `rent` (a pool's
/// rent wait), `transport` for `delivery`, the family itself otherwise (`event`).
fn latency_label(family: &str) -> String {
    match family {
        "rent" => "pool".into(),
        "delivery" => "transport".into(),
        f => sanitize(f),
    }
}

/// The key of a latency family in `/latency`'s JSON: `pools`, `events`, `rent_waits`,
/// `deliveries`.
pub(crate) fn latency_json_key(family: &str) -> &str {
    match family {
        "pool" => "pools",
        "event" => "events",
        "rent" => "rent_waits",
        "delivery" => "deliveries",
        f => f,
    }
}

/// The latency histograms as Prometheus histograms: family `hive_<family>_latency_seconds`,
/// label `<family>="<label>"` (e.g. `hive_pool_latency_seconds_bucket{pool="backend",le="0.005"}`).
/// `_sum` is count × mean (HDR keeps no exact sum). `summaries` must have been taken with
/// [`LATENCY_BOUNDS_US`].
pub(crate) fn render_latencies(
    summaries: &[(String, String, crate::metrics::LatencySummary)],
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut last_family = "";
    for (family, label, s) in summaries {
        let name = format!("hive_{}_latency_seconds", sanitize(family));
        if family != last_family {
            let _ = writeln!(
                out,
                "# HELP {name} Latency of {family} requests (HDR histogram), seconds."
            );
            let _ = writeln!(out, "# TYPE {name} histogram");
            last_family = family;
        }
        let key = latency_label(family);
        let l = escape_label(label);
        for (bound, n) in LATENCY_BOUNDS_US.iter().zip(&s.buckets) {
            let le = *bound as f64 / 1e6;
            let _ = writeln!(out, "{name}_bucket{{{key}=\"{l}\",le=\"{le}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{key}=\"{l}\",le=\"+Inf\"}} {}",
            s.count
        );
        let sum = s.mean_us * s.count as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{key}=\"{l}\"}} {sum}");
        let _ = writeln!(out, "{name}_count{{{key}=\"{l}\"}} {}", s.count);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_types_and_labels() {
        let ms: Vec<(String, i64)> = [
            ("hive.router.current_clients", 3),
            ("clients.transports.http.???", 1),
            ("clients.hooks.calls", 4),
            ("clients.hooks.on_connect.calls", 2),
            ("clients.hooks.chat.hp.post", 1),
            ("connectors.http.backend.workers", 5),
            ("pubsub.channels.room.subscribed_clients", 2),
            ("api.requests", 9),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_string(), *v))
        .collect();
        let text = render_prometheus(&ms, &["hive@x".into()], None);
        for line in [
            "# TYPE hive_router_current_clients gauge",
            "hive_router_current_clients 3",
            "clients_transports_http_unknown 1",
            "# TYPE clients_hooks_calls counter",
            "clients_hooks_calls 4",
            "clients_hooks_event_calls{event=\"on_connect\"} 2",
            "clients_hooks_event_hp_post{event=\"chat\"} 1",
            "# TYPE connectors_http_workers gauge",
            "connectors_http_workers{pool=\"backend\"} 5",
            "pubsub_channels_subscribed_clients{prefix=\"room\"} 2",
            "# TYPE api_requests counter",
            "hive_cluster_nodes{node=\"hive@x\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(sanitize("2x.y-z"), "_2x_y_z");
    }
}
