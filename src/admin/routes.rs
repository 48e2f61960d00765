//! The monitor's request router: method + path + query in, [`Reply`] out (no sockets here).
//!
//! Routes, all under `/monitor/<hash>` (a trailing slash is ignored, path segments are
//! percent-decoded, the hash is compared in constant time):
//!
//! | Method | Path | Reply |
//! |---|---|---|
//! | GET | `` | 200, every metric as nested JSON |
//! | GET | `/<prefix>` | 200, the metrics under `prefix`; 404 when none |
//! | DELETE | `/<metric>` | 200 empty, the metric reset to 0; 404 unless it exists |
//! | GET | `/metrics` | 200, Prometheus text format 0.0.4 |
//! | GET | `/tree` | 200, the supervision tree (`?children=all&offset=0&limit=100`) |
//! | GET | `/tree.html` | 200, the tree as a page |
//! | GET | `/health` | 200 when healthy, 503 otherwise |
//! | GET | `/actors` | 200, the top actors (`?sort=mailbox\|rate\|queued\|age&limit=N`) |
//! | GET | `/actors/<id>` | 200, one actor and its supervisor path; 404 unknown |
//! | POST | `/actors/<id>/kill` | 200, the actor killed (`reason` in the query or a JSON body); 403 for the root |
//! | GET | `/sessions/<sid>` | 200, one session; 404 unknown |
//! | DELETE | `/sessions/<sid>` | 200, the session disconnected (its disconnect hooks run); 404 unknown |
//! | POST | `/sessions/<sid>/events` | 200, the event `{"name","args"}` sent to the session; 400 bad body, 404 unknown |
//! | GET | `/latency` | 200, the HDR latency histograms (`{"pools":{"<pool>":{count,p50_us,...}}}`) |
//! | GET | `/channels` | 200, live channels with subscriber counts (`?prefix=<scope>`) |
//! | GET | `/dashboard` | 200, the dashboard page (self-contained HTML) |
//! | GET | `/dashboard/series` | 200, the last 15 minutes, one sample a second, as JSON columns |
//! | GET | `/cluster` | the cluster's nodes (docs/cluster.md); 404 without a `cluster` section |
//! | any | `/cluster...` (other) | 404 |
//!
//! Every route also accepts `?node=<name>` (that node's answer, relayed) and `?node=all` (every
//! node's answer, metrics summed): see [`super::relay`].
//!
//! Wrong or missing hash: 401; other methods: 405; all errors are `{"error","description"}`.
//! The reserved words (`metrics`, `tree`, `tree.html`, `health`, `actors`, `sessions`,
//! `channels`, `dashboard`, `cluster`, `latency`) are never read as metric prefixes.

use std::time::Duration;

use subtle::ConstantTimeEq;

use super::ctx::{MonitorCtx, TreeQuery};
use super::observer::{self, Sort};
use super::{dashboard_html, derived, nested, prometheus, tree_html};
use crate::error::HiveError;

/// Longest wait for the tree snapshot or health check.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A finished response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// HTTP status.
    pub(crate) status: u16,
    /// `Content-Type` header (`None`: empty body, no header).
    pub(crate) content_type: Option<&'static str>,
    /// Body bytes.
    pub(crate) body: String,
}

const JSON: &str = "application/json";

impl Reply {
    fn json(status: u16, body: String) -> Self {
        Self {
            status,
            content_type: Some(JSON),
            body,
        }
    }
    fn error(status: u16, e: &HiveError) -> Self {
        Self::json(status, e.to_reply_text())
    }
    /// An error reply with this status (for the listener itself).
    pub(crate) fn error_reply(status: u16, e: &HiveError) -> Self {
        Self::error(status, e)
    }
    fn unauthorized() -> Self {
        let e = HiveError::BadMonitorRequest("Unauthorized Hive Monitor access attempt!".into());
        Self::error(401, &e)
    }
    fn bad_method(m: &str) -> Self {
        let e =
            HiveError::BadMonitorRequest(format!("Unsupported Hive Monitor access method: {m}."));
        Self::error(405, &e)
    }
    fn status(status: u16, description: String) -> Self {
        Self::error(status, &HiveError::BadMonitorRequest(description))
    }
    fn no_metric(name: &str) -> Self {
        let e =
            HiveError::BadMonitorRequest(format!("Requested metric \"{name}\" does not exist."));
        Self::error(404, &e)
    }
}

/// Decode `%XX` escapes (invalid escapes are kept as they are).
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// The value of `key` in a query string.
pub(crate) fn query_param<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then_some(v)
    })
}

/// Parse `?children=all&offset=N&limit=M`.
pub(crate) fn tree_query(query: &str) -> Result<TreeQuery, HiveError> {
    let num = |key: &str, default: usize| -> Result<usize, HiveError> {
        match query_param(query, key) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                HiveError::BadMonitorRequest(format!("Invalid tree query parameter {key}: {v}."))
            }),
        }
    };
    Ok(TreeQuery {
        children_all: query_param(query, "children") == Some("all"),
        offset: num("offset", 0)?,
        limit: num("limit", TreeQuery::DEFAULT_LIMIT)?.min(TreeQuery::MAX_LIMIT),
    })
}

/// The first path segments that are routes, never metric prefixes.
pub(crate) const RESERVED: &[&str] = &[
    "metrics",
    "tree",
    "tree.html",
    "health",
    "actors",
    "sessions",
    "channels",
    "dashboard",
    "cluster",
    "latency",
];

/// True when `path` is under `/monitor/<the right hash>` (compared in constant time).
pub(crate) fn authorized(ctx: &MonitorCtx, path: &str) -> bool {
    let Some(rest) = path.trim_end_matches('/').strip_prefix("/monitor/") else {
        return false;
    };
    let hash = percent_decode(rest.split_once('/').map_or(rest, |(h, _)| h));
    bool::from(hash.as_bytes().ct_eq(ctx.hash.as_bytes()))
}

/// The unauthorized reply (wrong or missing hash).
pub(crate) fn unauthorized() -> Reply {
    Reply::unauthorized()
}

/// Answer one request (`body`: the request body, read only for `POST`).
pub(crate) async fn handle(
    ctx: &MonitorCtx,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Reply {
    let path = path.trim_end_matches('/');
    let Some(rest) = path.strip_prefix("/monitor/") else {
        return Reply::unauthorized();
    };
    let (hash, sub) = rest.split_once('/').unwrap_or((rest, ""));
    let hash = percent_decode(hash);
    if !bool::from(hash.as_bytes().ct_eq(ctx.hash.as_bytes())) {
        return Reply::unauthorized();
    }
    let segments: Vec<String> = if sub.is_empty() {
        Vec::new()
    } else {
        sub.split('/').map(percent_decode).collect()
    };
    let first = segments.first().map(String::as_str).unwrap_or("");
    if matches!(
        first,
        "actors" | "sessions" | "channels" | "dashboard" | "cluster"
    ) {
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        return reserved(ctx, method, &segs, query, body).await;
    }
    let sub = percent_decode(sub);
    match method {
        "GET" => get(ctx, &sub, query).await,
        "DELETE" if RESERVED.contains(&sub.as_str()) => Reply::bad_method(method),
        "DELETE" => {
            if !ctx.metrics.reset(&sub) {
                return Reply::no_metric(&sub);
            }
            Reply {
                status: 200,
                content_type: None,
                body: String::new(),
            }
        }
        other => Reply::bad_method(other),
    }
}

/// The routes under the reserved words other than the four metric and tree routes.
async fn reserved(
    ctx: &MonitorCtx,
    method: &str,
    segs: &[&str],
    query: &str,
    body: &[u8],
) -> Reply {
    match (method, segs) {
        ("GET", ["actors"]) => actors_top(ctx, query).await,
        ("GET", ["actors", id]) => actor_one(ctx, id).await,
        ("POST", ["actors", id, "kill"]) => actor_kill(ctx, id, query, body).await,
        ("GET", ["cluster"]) if ctx.cluster.is_some() => match &ctx.cluster {
            Some(c) => match crate::cluster::view(c).await {
                Ok(v) => Reply::json(200, v.to_string()),
                Err(e) => Reply::error(503, &e),
            },
            None => Reply::status(404, "No cluster configured.".into()),
        },
        (_, ["cluster", ..]) => Reply::status(404, "No cluster configured.".into()),
        ("GET", ["sessions", sid]) => match sessions(ctx) {
            Ok(v) => from_view(v.session(sid).await),
            Err(r) => r,
        },
        ("DELETE", ["sessions", sid]) => match sessions(ctx) {
            Ok(v) => from_view(v.disconnect(sid)),
            Err(r) => r,
        },
        ("POST", ["sessions", sid, "events"]) => match sessions(ctx) {
            Ok(v) => from_view(v.send_event(sid, body)),
            Err(r) => r,
        },
        ("GET", ["channels"]) => match sessions(ctx) {
            Ok(v) => from_view(v.channels(&query_text(query, "prefix").unwrap_or_default())),
            Err(r) => r,
        },
        ("GET" | "DELETE" | "POST", ["sessions", ..]) | ("GET", ["channels", ..]) => Reply::status(
            404,
            format!("Unknown monitor route \"{}\".", segs.join("/")),
        ),
        ("GET", ["dashboard"]) => Reply {
            status: 200,
            content_type: Some("text/html; charset=utf-8"),
            body: dashboard_html::DASHBOARD_HTML.to_string(),
        },
        ("GET", ["dashboard", "series"]) => {
            Reply::json(200, ctx.metrics.series().to_json().to_string())
        }
        ("GET", ["dashboard", ..]) => Reply::status(
            404,
            format!("Unknown monitor route \"{}\".", segs.join("/")),
        ),
        ("GET" | "POST", ["actors", ..]) => Reply::status(
            404,
            format!("Unknown monitor route \"{}\".", segs.join("/")),
        ),
        (other, _) => Reply::bad_method(other),
    }
}

/// The sessions view, or 503 when this monitor has none.
fn sessions(ctx: &MonitorCtx) -> Result<&super::sessions::SessionsView, Reply> {
    ctx.observer
        .sessions()
        .ok_or_else(|| Reply::status(503, "No sessions to observe on this monitor.".into()))
}

fn from_view(r: Result<serde_json::Value, super::sessions::Failure>) -> Reply {
    match r {
        Ok(v) => Reply::json(200, v.to_string()),
        Err((status, description)) => Reply::status(status, description),
    }
}

/// The query value of `key`, percent-decoded (`+` as a space).
fn query_text(query: &str, key: &str) -> Option<String> {
    query_param(query, key).map(|v| percent_decode(&v.replace('+', " ")))
}

/// Every live actor with its figures, or the reply saying why not.
async fn listed(ctx: &MonitorCtx) -> Result<(Vec<observer::Listed>, ractor::ActorCell), Reply> {
    let Some(root) = ctx.observer.root().await else {
        return Err(Reply::status(
            503,
            "The supervision tree is not running.".into(),
        ));
    };
    let q = TreeQuery {
        children_all: true,
        offset: 0,
        limit: usize::MAX,
    };
    let report = match tokio::time::timeout(CALL_TIMEOUT, (ctx.tree)(q)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(Reply::error(e.http_status(), &e)),
        Err(_) => {
            let e = HiveError::InternalError("Supervision tree snapshot timed out.".into());
            return Err(Reply::error(500, &e));
        }
    };
    Ok((observer::list(&ctx.observer, &root, &report), root))
}

fn to_json<T: serde::Serialize>(v: &T) -> Reply {
    match serde_json::to_string(v) {
        Ok(body) => Reply::json(200, body),
        Err(e) => Reply::error(500, &HiveError::InternalError(e.to_string())),
    }
}

/// `GET /actors?sort=mailbox|rate|queued|age&limit=N`.
async fn actors_top(ctx: &MonitorCtx, query: &str) -> Reply {
    let sort = match query_param(query, "sort") {
        None | Some("") => Sort::Mailbox,
        Some(s) => match Sort::parse(s) {
            Some(s) => s,
            None => {
                return Reply::status(
                    400,
                    format!(
                        "Invalid actors query parameter sort: {s} (mailbox, rate, queued or age)."
                    ),
                );
            }
        },
    };
    let limit = match query_param(query, "limit") {
        None | Some("") => 20,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => n.min(TreeQuery::MAX_LIMIT),
            _ => {
                return Reply::status(400, format!("Invalid actors query parameter limit: {v}."));
            }
        },
    };
    let (all, _) = match listed(ctx).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let total = all.len();
    let rows = all.into_iter().map(|l| l.figures).collect();
    let top = observer::top(rows, sort, limit);
    to_json(&serde_json::json!({ "total": total, "actors": top }))
}

/// `GET /actors/<id>`.
async fn actor_one(ctx: &MonitorCtx, id: &str) -> Reply {
    let (all, _) = match listed(ctx).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    match observer::find(all, id) {
        Some(l) => to_json(&l.figures),
        None => no_actor(id),
    }
}

fn no_actor(id: &str) -> Reply {
    Reply::status(404, format!("No live actor \"{id}\"."))
}

/// `POST /actors/<id>/kill`: `exit(Pid, kill)`; its supervisor applies its strategy.
async fn actor_kill(ctx: &MonitorCtx, id: &str, query: &str, body: &[u8]) -> Reply {
    let reason = match kill_reason(query, body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let (all, root) = match listed(ctx).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let Some(target) = observer::find(all, id) else {
        return no_actor(id);
    };
    if target.cell.get_id() == root.get_id() {
        return Reply::status(
            403,
            format!(
                "Refusing to kill the root supervisor \"{}\": that stops the node.",
                target.figures.id
            ),
        );
    }
    let f = &target.figures;
    tracing::warn!(
        actor = %f.id, actor_id = %f.actor_id, path = %f.path.join("/"),
        reason = reason.as_deref().unwrap_or(""),
        "actor killed from the monitor"
    );
    target.cell.kill();
    ctx.metrics.hive().killed_actors.add(1);
    to_json(&serde_json::json!({
        "killed": f.id,
        "actor_id": f.actor_id,
        "path": f.path,
        "reason": reason,
    }))
}

/// The optional `reason`: a JSON body `{"reason":"..."}` wins over `?reason=`.
fn kill_reason(query: &str, body: &[u8]) -> Result<Option<String>, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(query_text(query, "reason"));
    }
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Reply::status(
            400,
            format!("Invalid kill request body (JSON expected): {e}."),
        )
    })?;
    match v.get("reason") {
        None | Some(serde_json::Value::Null) => Ok(query_text(query, "reason")),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Reply::status(
            400,
            "Invalid kill request body: \"reason\" must be a string.".into(),
        )),
    }
}

async fn get(ctx: &MonitorCtx, sub: &str, query: &str) -> Reply {
    let nodes = std::slice::from_ref(&ctx.node_name);
    match sub {
        "metrics" => {
            derived::refresh(ctx);
            let tree = tokio::time::timeout(CALL_TIMEOUT, (ctx.tree)(TreeQuery::default())).await;
            let tree = tree.ok().and_then(Result::ok);
            let mut body =
                prometheus::render_prometheus(&ctx.metrics.snapshot(), nodes, tree.as_ref());
            let lat = ctx
                .metrics
                .latencies()
                .snapshot(prometheus::LATENCY_BOUNDS_US);
            body.push_str(&prometheus::render_latencies(&lat));
            Reply {
                status: 200,
                content_type: Some("text/plain; version=0.0.4; charset=utf-8"),
                body,
            }
        }
        "tree" => {
            let q = match tree_query(query) {
                Ok(q) => q,
                Err(e) => return Reply::error(400, &e),
            };
            match tokio::time::timeout(CALL_TIMEOUT, (ctx.tree)(q)).await {
                Ok(Ok(report)) => match serde_json::to_string(&report) {
                    Ok(body) => Reply::json(200, body),
                    Err(e) => Reply::error(500, &HiveError::InternalError(e.to_string())),
                },
                Ok(Err(e)) => Reply::error(e.http_status(), &e),
                Err(_) => {
                    let e = HiveError::InternalError("Supervision tree snapshot timed out.".into());
                    Reply::error(500, &e)
                }
            }
        }
        "latency" => {
            let mut out = serde_json::Map::new();
            for (family, label, summary) in ctx.metrics.latencies().snapshot(&[]) {
                let fam = out
                    .entry(prometheus::latency_json_key(&family).to_owned())
                    .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
                if let (Some(m), Ok(v)) = (fam.as_object_mut(), serde_json::to_value(&summary)) {
                    m.insert(label, v);
                }
            }
            Reply::json(200, serde_json::Value::Object(out).to_string())
        }
        "tree.html" => Reply {
            status: 200,
            content_type: Some("text/html; charset=utf-8"),
            body: tree_html::TREE_HTML.to_string(),
        },
        "health" => match tokio::time::timeout(CALL_TIMEOUT, (ctx.health)()).await {
            Ok(h) => match serde_json::to_string(&h) {
                Ok(body) => Reply::json(h.http_status(), body),
                Err(e) => Reply::error(500, &HiveError::InternalError(e.to_string())),
            },
            Err(_) => Reply::error(
                503,
                &HiveError::InternalError("Health check timed out.".into()),
            ),
        },
        prefix => {
            derived::refresh(ctx);
            match nested::metric_subtree(&ctx.metrics.snapshot(), nodes, prefix) {
                Some(v) => Reply::json(200, v.to_string()),
                None => Reply::no_metric(prefix),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(
            percent_decode("clients.transports.http.%3F%3F%3F"),
            "clients.transports.http.???"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn parses_tree_query() {
        assert_eq!(tree_query("").ok(), Some(TreeQuery::default()));
        let q = tree_query("children=all&offset=5&limit=999999").ok();
        assert_eq!(
            q,
            Some(TreeQuery {
                children_all: true,
                offset: 5,
                limit: TreeQuery::MAX_LIMIT
            })
        );
        assert!(tree_query("limit=x").is_err());
    }
}
