//! One HTTP/1.1 request over a fresh connection to another Hive process (a node's monitor or API
//! listener), on the async runtime: what `hive tree`/`top`, the monitor's `?node=` relay and the
//! API's per-session forwarding share. Backend calls do not use it (they go through `ureq` on
//! blocking threads, in the connector pools).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a request got no answer.
#[derive(Debug)]
pub enum RequestError {
    /// The URL does not start with `http://`.
    NotHttp,
    /// The URL makes no valid request.
    BadUrl(String),
    /// The peer could not be reached, or the exchange broke off.
    Unreachable(String),
}

/// `method` `path` (under the base path of `base_url`, `http://authority[/base]`) with `body`:
/// (status, `Content-Type`, body).
///
/// # Errors
/// [`RequestError`].
pub async fn request(
    base_url: &str,
    method: &str,
    path: &str,
    body: Bytes,
) -> Result<(u16, Option<String>, Bytes), RequestError> {
    let unreachable = |e: &dyn std::fmt::Display| RequestError::Unreachable(e.to_string());
    let rest = base_url
        .strip_prefix("http://")
        .ok_or(RequestError::NotHttp)?;
    let (authority, base_path) = rest.split_once('/').unwrap_or((rest, ""));
    let base_path = base_path.trim_end_matches('/');
    let full_path = if base_path.is_empty() {
        path.to_string()
    } else {
        format!("/{base_path}{path}")
    };
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|e| unreachable(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(&e))?;
    let driver = tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(full_path)
        .header(hyper::header::HOST, authority)
        .body(Full::new(body))
        .map_err(|e| RequestError::BadUrl(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| unreachable(&e))?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| unreachable(&e))?
        .to_bytes();
    driver.abort();
    Ok((status, content_type, body))
}
