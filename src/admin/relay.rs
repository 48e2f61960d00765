//! `?node=<name>` and `?node=all` on every monitor route (docs/monitor.md, docs/cluster.md).
//!
//! `?node=<name>` (a node's name, or its tag) fetches the same route from that node's monitor
//! listener (its address is in its membership record; every node of a cluster shares
//! `monitor.hash`) and relays its answer as is: status, type and body. `?node=all` asks every node
//! that is not gone, at once, and answers `{"node":"all","nodes":{"<name>": <its answer>}}`; on the
//! metric routes (`/monitor/<hash>` and `/monitor/<hash>/<prefix>`) it adds `"sum"`, every numeric
//! leaf summed over the nodes that answered; `/metrics?node=all` is one Prometheus exposition of
//! every node's samples, labelled `hive_node`. A node that does not answer within
//! [`RELAY_TIMEOUT`] is `{"error":"timeout"}` in `nodes` (a partial answer, still 200); one that
//! answers an error is `{"error","status","description"}`. An unknown or gone node is a 404.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::client;
use super::ctx::MonitorCtx;
use super::routes::{self, RESERVED, Reply, percent_decode, query_param};
use crate::error::HiveError;

/// How long a node is waited for.
pub(crate) const RELAY_TIMEOUT: Duration = Duration::from_secs(2);

const JSON: &str = "application/json";

/// The `node` query parameter, when there is one.
pub(crate) fn target(query: &str) -> Option<String> {
    query_param(query, "node").map(percent_decode)
}

/// `query` without its `node` parameter.
fn without_node(query: &str) -> String {
    query
        .split('&')
        .filter(|kv| !kv.is_empty() && kv.split_once('=').map_or(*kv, |(k, _)| k) != "node")
        .collect::<Vec<_>>()
        .join("&")
}

/// A node the monitor can ask.
#[derive(Debug, Clone)]
struct Peer {
    name: String,
    tag: String,
    monitor: String,
    is_self: bool,
    status: &'static str,
}

/// Every node this one knows (itself alone without a cluster).
async fn peers(ctx: &MonitorCtx) -> Result<Vec<Peer>, Reply> {
    let Some(shared) = &ctx.cluster else {
        return Ok(vec![Peer {
            name: ctx.node_name.clone(),
            tag: String::new(),
            monitor: String::new(),
            is_self: true,
            status: "up",
        }]);
    };
    let unavailable = |reason: String| {
        let e = HiveError::BackplaneUnavailable(format!(
            "The cluster's Redis cannot be asked for its nodes: {reason}"
        ));
        Reply::error_reply(503, &e)
    };
    let Some(redis) = shared.lookup() else {
        return Err(unavailable("not connected yet".into()));
    };
    let mine = shared.tag();
    let all = crate::cluster::nodes(&redis, shared)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let mut out: Vec<Peer> = all
        .into_iter()
        .map(|(r, status)| Peer {
            is_self: r.tag == mine,
            name: r.node,
            tag: r.tag,
            monitor: r.monitor,
            status,
        })
        .collect();
    if !out.iter().any(|p| p.is_self) {
        // Not listed yet (first beat under way): this node is still askable.
        out.push(Peer {
            name: shared.spec.node.clone(),
            tag: mine,
            monitor: shared.spec.monitor.clone(),
            is_self: true,
            status: "up",
        });
    }
    Ok(out)
}

/// One node's answer, or why there is none (`timeout`, `unreachable`).
async fn ask(
    ctx: &MonitorCtx,
    peer: &Peer,
    method: &str,
    path: &str,
    query: &str,
    body: &Bytes,
) -> Result<(u16, Option<String>, String), (&'static str, String)> {
    if peer.is_self {
        let r = routes::handle(ctx, method, path, query, body).await;
        return Ok((r.status, r.content_type.map(str::to_string), r.body));
    }
    if peer.monitor.is_empty() {
        return Err((
            "unreachable",
            format!(
                "Node \"{}\" does not publish its monitor address.",
                peer.name
            ),
        ));
    }
    let base = format!("http://{}", peer.monitor);
    let full = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    match tokio::time::timeout(
        RELAY_TIMEOUT,
        client::request(&base, method, &full, body.clone()),
    )
    .await
    {
        Err(_) => Err((
            "timeout",
            format!(
                "Node \"{}\" did not answer within {} ms.",
                peer.name,
                RELAY_TIMEOUT.as_millis()
            ),
        )),
        Ok(Err(e)) => Err(("unreachable", e.to_string())),
        Ok(Ok((status, ct, b))) => Ok((status, ct, String::from_utf8_lossy(&b).into_owned())),
    }
}

/// The `Content-Type` of a relayed answer (the monitor's own few types).
fn static_type(ct: Option<&str>) -> Option<&'static str> {
    let ct = ct?;
    Some(if ct.starts_with("application/json") {
        JSON
    } else if ct.starts_with("text/plain") {
        "text/plain; version=0.0.4; charset=utf-8"
    } else if ct.starts_with("text/html") {
        "text/html; charset=utf-8"
    } else {
        "application/octet-stream"
    })
}

/// The route's segments after `/monitor/<hash>`.
fn route_of(path: &str) -> Vec<String> {
    let rest = path
        .trim_end_matches('/')
        .strip_prefix("/monitor/")
        .unwrap_or("");
    match rest.split_once('/') {
        Some((_, sub)) if !sub.is_empty() => sub.split('/').map(percent_decode).collect(),
        _ => Vec::new(),
    }
}

fn not_found(description: String) -> Reply {
    Reply::error_reply(404, &HiveError::BadMonitorRequest(description))
}

/// Answer a request carrying `?node=<node>` (its hash already checked).
pub(crate) async fn relay(
    ctx: &MonitorCtx,
    node: &str,
    method: &str,
    path: &str,
    query: &str,
    body: Bytes,
) -> Reply {
    let query = without_node(query);
    let peers = match peers(ctx).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if node == "all" {
        return all(ctx, &peers, method, path, &query, body).await;
    }
    let mut named: Vec<&Peer> = peers
        .iter()
        .filter(|p| p.name == node || p.tag == node)
        .collect();
    // This node first, then the freshest status.
    named.sort_by_key(|p| {
        (
            !p.is_self,
            match p.status {
                "up" => 0,
                "unreachable" => 1,
                _ => 2,
            },
        )
    });
    let Some(peer) = named.first() else {
        let known: Vec<&str> = peers.iter().map(|p| p.name.as_str()).collect();
        return not_found(format!(
            "Unknown cluster node \"{node}\" (known: {}; or \"all\").",
            known.join(", ")
        ));
    };
    if peer.status == "gone" {
        return not_found(format!("Cluster node \"{node}\" is gone."));
    }
    match ask(ctx, peer, method, path, &query, &body).await {
        Ok((status, ct, body)) => Reply {
            status,
            content_type: static_type(ct.as_deref()),
            body,
        },
        Err((why, description)) => {
            let e = HiveError::BackplaneUnavailable(description);
            Reply::error_reply(if why == "timeout" { 504 } else { 502 }, &e)
        }
    }
}

/// `?node=all`: every node that is not gone, asked at once.
async fn all(
    ctx: &MonitorCtx,
    peers: &[Peer],
    method: &str,
    path: &str,
    query: &str,
    body: Bytes,
) -> Reply {
    let route = route_of(path);
    let first = route.first().map_or("", String::as_str);
    let live: Vec<&Peer> = peers.iter().filter(|p| p.status != "gone").collect();
    if route.len() == 1 && first == "metrics" && method == "GET" {
        let answers =
            futures::future::join_all(live.iter().map(|p| ask(ctx, p, method, path, query, &body)))
                .await;
        let named: Vec<(String, Result<String, String>)> = live
            .iter()
            .zip(answers)
            .map(|(p, a)| {
                let a = match a {
                    Ok((200, _, text)) => Ok(text),
                    Ok((status, _, _)) => Err(format!("http_{status}")),
                    Err((why, _)) => Err(why.to_string()),
                };
                (p.name.clone(), a)
            })
            .collect();
        return Reply {
            status: 200,
            content_type: Some("text/plain; version=0.0.4; charset=utf-8"),
            body: prometheus_all(&named),
        };
    }
    if route.len() == 1 && matches!(first, "tree.html" | "dashboard") {
        return Reply::error_reply(
            400,
            &HiveError::BadMonitorRequest(format!(
                "?node=all does not combine pages; ask \"{first}\" one node at a time \
                 (?node=<name>)."
            )),
        );
    }
    let summed = route.is_empty() || !RESERVED.contains(&first);
    let answers =
        futures::future::join_all(live.iter().map(|p| ask(ctx, p, method, path, query, &body)))
            .await;
    let mut nodes = Map::new();
    let mut sum: Option<Value> = None;
    for (p, answer) in live.iter().zip(answers) {
        let key = if nodes.contains_key(&p.name) {
            format!("{}/{}", p.name, p.tag)
        } else {
            p.name.clone()
        };
        let entry = match answer {
            Err((why, description)) => json!({"error": why, "description": description}),
            Ok((status, _, text)) => {
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                if status == 200 {
                    if summed {
                        match &mut sum {
                            None => sum = Some(v.clone()),
                            Some(acc) => add(acc, &v),
                        }
                    }
                    v
                } else {
                    json!({
                        "error": v.get("error").cloned().unwrap_or_else(|| json!(format!("http_{status}"))),
                        "status": status,
                        "description": v.get("description").cloned().unwrap_or(Value::Null),
                    })
                }
            }
        };
        nodes.insert(key, entry);
    }
    let mut out = json!({"node": "all", "nodes": nodes});
    if summed {
        out["sum"] = sum.unwrap_or_else(|| json!({}));
    }
    Reply {
        status: 200,
        content_type: Some(JSON),
        body: out.to_string(),
    }
}

/// Every node's Prometheus text as one exposition: each family once (its `HELP` and `TYPE` from
/// the first node that has it), each sample with a `hive_node="<name>"` label, and
/// `hive_monitor_node_up{hive_node}` 1 for a node that answered, 0 (with a comment saying why) for
/// one that did not.
fn prometheus_all(answers: &[(String, Result<String, String>)]) -> String {
    use std::fmt::Write as _;
    // Families in order of first appearance: (header lines, samples).
    let mut order: Vec<String> = Vec::new();
    let mut families: std::collections::HashMap<String, (Vec<String>, Vec<String>)> =
        std::collections::HashMap::new();
    for (node, answer) in answers {
        let Ok(text) = answer else { continue };
        let label = format!("hive_node=\"{}\"", escape(node));
        let mut current = String::new();
        let mut header_done = false;
        for line in text.lines() {
            if let Some(rest) = line
                .strip_prefix("# HELP ")
                .or_else(|| line.strip_prefix("# TYPE "))
            {
                let name = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                if name != current {
                    current = name.clone();
                    header_done = families.contains_key(&name);
                    if !header_done {
                        order.push(name.clone());
                    }
                }
                let fam = families.entry(name).or_default();
                if !header_done {
                    fam.0.push(line.to_string());
                }
                continue;
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let labelled = match (line.find('{'), line.find(' ')) {
                (Some(b), Some(sp)) if b < sp => {
                    let inner_empty = line[b + 1..].starts_with('}');
                    let sep = if inner_empty { "" } else { "," };
                    format!("{}{{{label}{sep}{}", &line[..b], &line[b + 1..])
                }
                (_, Some(sp)) => format!("{}{{{label}}}{}", &line[..sp], &line[sp..]),
                _ => continue,
            };
            families
                .entry(current.clone())
                .or_default()
                .1
                .push(labelled);
        }
    }
    let mut out = String::new();
    for name in &order {
        if let Some((head, samples)) = families.get(name) {
            for l in head.iter().chain(samples) {
                let _ = writeln!(out, "{l}");
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP hive_monitor_node_up 1 when the node answered this ?node=all request in time."
    );
    let _ = writeln!(out, "# TYPE hive_monitor_node_up gauge");
    for (node, answer) in answers {
        if let Err(why) = answer {
            let _ = writeln!(out, "# node {node}: {why}");
        }
        let _ = writeln!(
            out,
            "hive_monitor_node_up{{hive_node=\"{}\"}} {}",
            escape(node),
            u8::from(answer.is_ok())
        );
    }
    out
}

/// A Prometheus label value.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Add `v` into `acc`: numbers summed, objects merged key by key, anything else kept from the
/// first node.
fn add(acc: &mut Value, v: &Value) {
    match (acc, v) {
        (Value::Number(a), Value::Number(b)) => {
            let n = match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => json!(x.saturating_add(y)),
                _ => json!(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
            };
            if let Value::Number(n) = n {
                *a = n;
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            for (k, bv) in b {
                match a.get_mut(k) {
                    Some(av) => add(av, bv),
                    None => {
                        a.insert(k.clone(), bv.clone());
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_numbers_and_merges_objects() {
        let mut a = json!({"hive": {"clients": 2, "rate": 1.5, "name": "a"}, "x": 1});
        add(
            &mut a,
            &json!({"hive": {"clients": 3, "rate": 1.0, "name": "b"}, "y": 4}),
        );
        assert_eq!(
            a,
            json!({"hive": {"clients": 5, "rate": 2.5, "name": "a"}, "x": 1, "y": 4})
        );
    }

    #[test]
    fn prometheus_texts_merge_by_family_with_a_node_label() {
        let a = "# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n# HELP y Y.\n# TYPE y gauge\ny{pool=\"p\"} 2\n";
        let b = "# HELP x_total X.\n# TYPE x_total counter\nx_total 5\n";
        let text = prometheus_all(&[
            ("a".into(), Ok(a.into())),
            ("b".into(), Ok(b.into())),
            ("c".into(), Err("timeout".into())),
        ]);
        assert_eq!(
            text,
            "# HELP x_total X.\n# TYPE x_total counter\nx_total{hive_node=\"a\"} 1\n\
             x_total{hive_node=\"b\"} 5\n# HELP y Y.\n# TYPE y gauge\ny{hive_node=\"a\",pool=\"p\"} 2\n\
             # HELP hive_monitor_node_up 1 when the node answered this ?node=all request in time.\n\
             # TYPE hive_monitor_node_up gauge\nhive_monitor_node_up{hive_node=\"a\"} 1\n\
             hive_monitor_node_up{hive_node=\"b\"} 1\n# node c: timeout\n\
             hive_monitor_node_up{hive_node=\"c\"} 0\n"
        );
    }

    #[test]
    fn drops_only_the_node_parameter() {
        assert_eq!(
            without_node("children=all&node=b&limit=5"),
            "children=all&limit=5"
        );
        assert_eq!(without_node("node=all"), "");
        assert_eq!(target("a=1&node=hive%2Da").as_deref(), Some("hive-a"));
    }
}
