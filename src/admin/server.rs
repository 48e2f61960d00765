//! The monitor listener: a hyper 1 HTTP/1.1 server on `monitor.port` (served by
//! [`crate::http_edge`]) answering through [`routes`](super::routes), or through
//! [`relay`](super::relay) for `?node=`.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::ctx::MonitorCtx;
use super::relay;
use super::routes::{self, Reply};
use crate::http_edge::{self, Edge};

/// Serve the monitor on `listener` until `shutdown` is cancelled, behind an HTTP edge of its own
/// with the default `http` settings (a node's listener uses [`serve_with`] and the node's edge).
pub async fn serve(listener: TcpListener, ctx: MonitorCtx, shutdown: CancellationToken) {
    serve_with(listener, Edge::standalone(), ctx, shutdown).await;
}

/// Serve the monitor on `listener` through `edge` until `shutdown` is cancelled, then finish
/// in-flight requests (at most `http.drain_timeout`) and return.
pub async fn serve_with(
    listener: TcpListener,
    edge: Arc<Edge>,
    ctx: MonitorCtx,
    shutdown: CancellationToken,
) {
    http_edge::serve(listener, edge, "monitor", shutdown, move |req| {
        let ctx = ctx.clone();
        async move { answer(&ctx, req).await }
    })
    .await;
}

/// Largest request body read (a `POST /actors/<id>/kill` reason).
const MAX_BODY: usize = 64 * 1024;

async fn answer(ctx: &MonitorCtx, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let uri = &parts.uri;
    let body = if parts.method == hyper::Method::POST {
        match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_BODY)).await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                let e = crate::HiveError::BadMonitorRequest(format!(
                    "Unreadable request body (at most {MAX_BODY} bytes): {e}."
                ));
                return to_response(Reply::error_reply(400, &e));
            }
        }
    } else {
        Bytes::new()
    };
    let query = uri.query().unwrap_or("");
    let reply = match relay::target(query) {
        Some(_) if !routes::authorized(ctx, uri.path()) => routes::unauthorized(),
        Some(node) => {
            relay::relay(ctx, &node, parts.method.as_str(), uri.path(), query, body).await
        }
        None => routes::handle(ctx, parts.method.as_str(), uri.path(), query, &body).await,
    };
    tracing::debug!(method = %parts.method, path = uri.path(), status = reply.status, "monitor");
    to_response(reply)
}

fn to_response(reply: Reply) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(reply.body)));
    *resp.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(ct) = reply.content_type {
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
