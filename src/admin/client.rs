//! Client side of `hive tree`: fetch `/monitor/<hash>/tree` over HTTP/1.1 and render it as text.

use std::time::Duration;

use bytes::Bytes;

use super::ctx::TreeQuery;
use super::tree_text::render_tree_text;
use crate::error::HiveError;
use crate::http_client::RequestError;
use otp::SupervisorReport;

/// Longest wait for the whole exchange.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Fetch the live tree from the monitor at `monitor_url` (`http://host:port[/base]`) and render it
/// with [`render_tree_text`]. With `all`, dynamic supervisors list their children (up to
/// [`TreeQuery::MAX_LIMIT`] each).
///
/// # Errors
/// `bad_monitor_request` when the monitor refuses (wrong hash), `internal_error` when it cannot be
/// reached or answers something that is not a tree.
pub async fn fetch_and_print_tree(
    monitor_url: &str,
    hash: &str,
    all: bool,
) -> Result<String, HiveError> {
    fetch_and_print_node_tree(monitor_url, hash, all, None).await
}

/// As [`fetch_and_print_tree`], for `node`: the tree of that cluster node (its name or tag), or of
/// every node (`all`, one after the other under its name), fetched through the monitor called.
///
/// # Errors
/// As [`fetch_and_print_tree`]; also `bad_monitor_request` for an unknown node.
pub async fn fetch_and_print_node_tree(
    monitor_url: &str,
    hash: &str,
    all: bool,
    node: Option<&str>,
) -> Result<String, HiveError> {
    let mut params = Vec::new();
    if all {
        params.push(format!("children=all&limit={}", TreeQuery::MAX_LIMIT));
    }
    if let Some(n) = node {
        params.push(format!("node={}", encode(n)));
    }
    let query = if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    };
    let (status, body) = tokio::time::timeout(
        FETCH_TIMEOUT,
        get(
            monitor_url,
            &format!("/monitor/{}/tree{query}", encode(hash)),
        ),
    )
    .await
    .map_err(|_| HiveError::InternalError(format!("Hive Monitor at {monitor_url} timed out.")))??;
    if status != 200 {
        return Err(reply_error(status, &body));
    }
    let invalid = |e: serde_json::Error| {
        HiveError::InternalError(format!("Hive Monitor sent an invalid tree: {e}"))
    };
    if node == Some("all") {
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(invalid)?;
        let mut out = Vec::new();
        for (name, answer) in v["nodes"].as_object().into_iter().flatten() {
            match serde_json::from_value::<SupervisorReport>(answer.clone()) {
                Ok(report) => out.push(format!("== {name}\n{}", render_tree_text(&report))),
                Err(_) => out.push(format!("== {name}: no tree ({answer})")),
            }
        }
        return Ok(out.join("\n"));
    }
    let report: SupervisorReport = serde_json::from_slice(&body).map_err(invalid)?;
    Ok(render_tree_text(&report))
}

/// Turn an error reply (`{"error","description"}`) back into a [`HiveError`].
pub(crate) fn reply_error(status: u16, body: &[u8]) -> HiveError {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let desc = v
        .get("description")
        .and_then(|d| d.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("Hive Monitor answered HTTP {status}."));
    match v.get("error").and_then(|e| e.as_str()) {
        Some("bad_monitor_request") => HiveError::BadMonitorRequest(desc),
        _ => HiveError::InternalError(desc),
    }
}

/// Percent-encode everything but unreserved characters.
pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One GET over a fresh connection: (status, body).
pub(crate) async fn get(base_url: &str, path: &str) -> Result<(u16, Bytes), HiveError> {
    let (status, _, body) = request(base_url, "GET", path, Bytes::new()).await?;
    Ok((status, body))
}

/// One request over a fresh connection: (status, `Content-Type`, body).
pub(crate) async fn request(
    base_url: &str,
    method: &str,
    path: &str,
    body: Bytes,
) -> Result<(u16, Option<String>, Bytes), HiveError> {
    crate::http_client::request(base_url, method, path, body)
        .await
        .map_err(|e| match e {
            RequestError::NotHttp => HiveError::BadMonitorRequest(format!(
                "Monitor URL must start with http://: {base_url}"
            )),
            RequestError::BadUrl(e) => {
                HiveError::BadMonitorRequest(format!("Bad monitor URL {base_url}: {e}"))
            }
            RequestError::Unreachable(e) => HiveError::InternalError(format!(
                "Cannot reach the Hive Monitor at {base_url}: {e}"
            )),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_error_replies() {
        let body = br#"{"error":"bad_monitor_request","description":"Unauthorized Hive Monitor access attempt!"}"#;
        assert_eq!(
            reply_error(401, body),
            HiveError::BadMonitorRequest("Unauthorized Hive Monitor access attempt!".into())
        );
        assert_eq!(
            reply_error(502, b"nope"),
            HiveError::InternalError("Hive Monitor answered HTTP 502.".into())
        );
        assert_eq!(encode("ab c/%"), "ab%20c%2F%25");
    }
}
