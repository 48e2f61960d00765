//! The origin check (HIVE.md 3.4) and the headers of every handshake/XHR reply.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};

use crate::metrics::HttpTransportMetrics;

/// Exact-match origin check: JSON `null` (None) matches a request without `Origin`; a request with
/// several `Origin` headers passes when any of them is allowed. Returns the rejected value on failure.
pub fn check(allowed: &[Option<String>], headers: &HeaderMap) -> Result<(), String> {
    let values: Vec<&HeaderValue> = headers.get_all(hyper::header::ORIGIN).iter().collect();
    if values.is_empty() {
        return if allowed.iter().any(Option::is_none) {
            Ok(())
        } else {
            Err(String::new())
        };
    }
    let ok = values.iter().any(|v| {
        let v = v.to_str().unwrap_or("");
        allowed.iter().any(|a| a.as_deref() == Some(v))
    });
    if ok {
        Ok(())
    } else {
        Err(values
            .first()
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string())
    }
}

/// The description of an origin rejection.
pub fn rejection_text(origin: &str) -> String {
    if origin.is_empty() {
        "No origin specified in the request header!".to_string()
    } else {
        format!("Origin {origin} is not allowed to access Hive!")
    }
}

/// A reply with the common Socket.IO headers, counted by status class.
pub fn reply(
    metrics: &HttpTransportMetrics,
    req: &HeaderMap,
    status: StatusCode,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    metrics.status(status.as_u16()).inc();
    let origin = req
        .get(hyper::header::ORIGIN)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static(""));
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("Origin", HeaderValue::from_static("*.*"));
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    h.insert(
        hyper::header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    h.insert(hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        hyper::header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type"),
    );
    r
}
