//! Forwarding an API call about a session to the node that owns it (its API listener, found in
//! its membership record). The owner answers as if it had been called directly; its answer is
//! relayed as is. Runs the blocking `ureq` request on tokio's blocking pool.

use std::time::Duration;

use super::membership::NodeRecord;
use crate::HiveError;

/// How long a forwarded call may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// `method` `path` (from `/api/...`) with `body` on `owner`'s API: its status and body.
///
/// # Errors
/// `backplane_unavailable` when the owner cannot be reached.
pub async fn forward_api(
    owner: &NodeRecord,
    method: &'static str,
    path: String,
    body: Vec<u8>,
) -> Result<(u16, String), HiveError> {
    let url = format!("http://{}{path}", owner.api);
    let node = owner.node.clone();
    let run = move || -> Result<(u16, String), String> {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .proxy(None)
            .build();
        let agent = ureq::Agent::new_with_config(config);
        let response = match method {
            "DELETE" => agent.delete(&url).force_send_body().send(&body[..]),
            _ => agent.post(&url).send(&body[..]),
        };
        let mut response = response.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok((status, text))
    };
    match tokio::task::spawn_blocking(run).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(reason)) => Err(unreachable(&node, &reason)),
        Err(e) => Err(unreachable(&node, &e.to_string())),
    }
}

fn unreachable(node: &str, reason: &str) -> HiveError {
    HiveError::BackplaneUnavailable(format!(
        "The node owning this session ({node}) did not answer: {reason}"
    ))
}
