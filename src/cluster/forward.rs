//! Forwarding an API call about a session to the node that owns it (its API listener, found in
//! its membership record). The owner answers as if it had been called directly; its answer is
//! relayed as is.

use std::time::Duration;

use bytes::Bytes;

use super::membership::NodeRecord;
use crate::HiveError;
use crate::http_client::RequestError;

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
    let base = format!("http://{}", owner.api);
    let call = crate::http_client::request(&base, method, &path, Bytes::from(body));
    match tokio::time::timeout(TIMEOUT, call).await {
        Ok(Ok((status, _, body))) => Ok((status, String::from_utf8_lossy(&body).into_owned())),
        Ok(Err(RequestError::Unreachable(reason) | RequestError::BadUrl(reason))) => {
            Err(unreachable(&owner.node, &reason))
        }
        Ok(Err(RequestError::NotHttp)) => Err(unreachable(&owner.node, "not an http:// address")),
        Err(_) => Err(unreachable(&owner.node, "timed out")),
    }
}

fn unreachable(node: &str, reason: &str) -> HiveError {
    HiveError::BackplaneUnavailable(format!(
        "The node owning this session ({node}) did not answer: {reason}"
    ))
}
