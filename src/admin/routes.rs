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
//!
//! Wrong or missing hash: 401; other methods: 405; all errors are `{"error","description"}`.

use std::time::Duration;

use subtle::ConstantTimeEq;

use super::ctx::{MonitorCtx, TreeQuery};
use super::{derived, nested, prometheus, tree_html};
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
    fn unauthorized() -> Self {
        let e = HiveError::BadMonitorRequest("Unauthorized Hive Monitor access attempt!".into());
        Self::error(401, &e)
    }
    fn bad_method(m: &str) -> Self {
        let e =
            HiveError::BadMonitorRequest(format!("Unsupported Hive Monitor access method: {m}."));
        Self::error(405, &e)
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
fn query_param<'q>(query: &'q str, key: &str) -> Option<&'q str> {
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

/// Answer one request.
pub(crate) async fn handle(ctx: &MonitorCtx, method: &str, path: &str, query: &str) -> Reply {
    let path = path.trim_end_matches('/');
    let Some(rest) = path.strip_prefix("/monitor/") else {
        return Reply::unauthorized();
    };
    let (hash, sub) = rest.split_once('/').unwrap_or((rest, ""));
    let hash = percent_decode(hash);
    if !bool::from(hash.as_bytes().ct_eq(ctx.hash.as_bytes())) {
        return Reply::unauthorized();
    }
    let sub = percent_decode(sub);
    match method {
        "GET" => get(ctx, &sub, query).await,
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

async fn get(ctx: &MonitorCtx, sub: &str, query: &str) -> Reply {
    let nodes = std::slice::from_ref(&ctx.node_name);
    match sub {
        "metrics" => {
            derived::refresh(ctx);
            let tree = tokio::time::timeout(CALL_TIMEOUT, (ctx.tree)(TreeQuery::default())).await;
            let tree = tree.ok().and_then(Result::ok);
            let body = prometheus::render_prometheus(&ctx.metrics.snapshot(), nodes, tree.as_ref());
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
