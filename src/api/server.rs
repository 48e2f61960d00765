//! The API's hyper listener: authentication, body limit, counters and one log line per failure.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::ApiCtx;
use super::routes::{Reply, Section, dispatch, parse_route};
use crate::HiveError;
use crate::http_edge::{self, Edge};
use crate::metrics::{ApiMetrics, ApiSectionMetrics};

/// Time allowed for a request's body (its headers are timed by the HTTP edge).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The `api.<section>.*` counters of a section.
fn section_metrics(m: &ApiMetrics, s: Section) -> &ApiSectionMetrics {
    match s {
        Section::Hive => &m.hive,
        Section::Router => &m.router,
        Section::Clients => &m.clients,
        Section::Pubsub => &m.pubsub,
    }
}

struct Server {
    ctx: ApiCtx,
    /// `api.*`
    counters: ApiMetrics,
}

/// Serve the API on `listener` until `shutdown` is cancelled, behind an HTTP edge of its own with
/// the default `http` settings (a node's listener uses [`serve_with`] and the node's edge).
pub async fn serve(listener: TcpListener, ctx: ApiCtx, shutdown: CancellationToken) {
    serve_with(listener, Edge::standalone(), ctx, shutdown).await;
}

/// Serve the API on `listener` through `edge` until `shutdown` is cancelled; open connections
/// then finish their current request and close.
pub async fn serve_with(
    listener: TcpListener,
    edge: Arc<Edge>,
    ctx: ApiCtx,
    shutdown: CancellationToken,
) {
    let counters = ctx.metrics.api().clone();
    let server = Arc::new(Server { ctx, counters });
    http_edge::serve(listener, edge, "api", shutdown, move |req| {
        let server = server.clone();
        async move { server.handle(req).await }
    })
    .await;
}

impl Server {
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let c = &self.counters;
        c.requests.inc();
        let (reply, section) = self.reply(req).await;
        if let Some(s) = section {
            section_metrics(c, s).requests.inc();
        }
        if let Some(e) = &reply.error {
            c.errors.inc();
            if let Some(s) = section {
                section_metrics(c, s).errors.inc();
            }
            tracing::warn!(
                %method, route = %path, status = reply.status, code = e.code(),
                description = %e, "api request failed"
            );
        }
        let mut resp = Response::new(Full::new(Bytes::from(reply.body)));
        *resp.status_mut() =
            StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        resp
    }

    async fn reply(&self, req: Request<Incoming>) -> (Reply, Option<Section>) {
        let ctx = &self.ctx;
        let path = req.uri().path().to_string();
        let Some(route) = parse_route(&path) else {
            let e = HiveError::BadApiRequest(format!("Unknown Hive API path: {path}"));
            return (Reply::err(404, e), None);
        };
        let section = Some(route.section);
        if !bool::from(route.hash.as_bytes().ct_eq(ctx.hash.as_bytes())) {
            let e = HiveError::BadApiRequest("Unauthorized Hive API access attempt!".into());
            return (Reply::err(401, e), section);
        }
        let method = req.method().clone();
        let key = req
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = match read_body(req, ctx.max_body).await {
            Ok(b) => b,
            Err(reply) => return (reply, section),
        };
        (dispatch(ctx, &method, &route, &body, key).await, section)
    }
}

fn too_large(max: usize) -> Reply {
    Reply::err(
        413,
        HiveError::BadApiRequest(format!("Request body exceeds {max} bytes.")),
    )
}

async fn read_body(req: Request<Incoming>, max: usize) -> Result<Bytes, Reply> {
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large(max));
    }
    let collect = Limited::new(req.into_body(), max).collect();
    match tokio::time::timeout(READ_TIMEOUT, collect).await {
        Ok(Ok(body)) => Ok(body.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(max)),
        Ok(Err(e)) => Err(Reply::err(
            400,
            HiveError::BadApiRequest(format!("Could not read the request body: {e}")),
        )),
        Err(_) => Err(Reply::err(
            408,
            HiveError::BadApiRequest("Request body not received in time.".into()),
        )),
    }
}
