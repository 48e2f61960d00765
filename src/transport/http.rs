//! The Socket.IO HTTP listener (hyper 1, HTTP/1.1 with upgrades, served by [`crate::http_edge`])
//! and its route table (HIVE.md 3.2).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::forward::{self, SioBody};
use super::origin::{check, rejection_text, reply};
use super::{TransportCtx, eio, handshake, websocket, ws_echo, xhr_polling};
use crate::error::HiveError;
use crate::http_edge::{self, Edge};
use crate::wire::sio09;

/// Serve the Socket.IO routes on `listener` through the shared HTTP edge until `shutdown` is
/// cancelled, then drain.
pub async fn serve(
    listener: TcpListener,
    edge: Arc<Edge>,
    ctx: TransportCtx,
    shutdown: CancellationToken,
) {
    http_edge::serve(listener, edge, "socketio", shutdown, move |req| {
        let ctx = ctx.clone();
        async move {
            // In a cluster, a request for another node's session goes to that node.
            match forward::forward(&ctx, req).await {
                Ok(resp) => resp,
                Err(req) => route(&ctx, req).await.map(SioBody::from),
            }
        }
    })
    .await;
}

/// A query string has a `disconnect` parameter (any value).
fn wants_disconnect(req: &Request<Incoming>) -> bool {
    req.uri()
        .query()
        .map(|q| {
            q.split('&')
                .any(|p| p == "disconnect" || p.starts_with("disconnect="))
        })
        .unwrap_or(false)
}

/// Route one request.
pub async fn route(ctx: &TransportCtx, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let m = &ctx.http;
    m.requests.inc();
    let path = req.uri().path().to_string();
    let s = &ctx.config.socketio;
    if s.websocket_echo_path.as_deref() == Some(path.as_str()) {
        return ws_echo::upgrade(ctx, req).await;
    }
    if s.serves_v4() && same_path(&path, &s.path) {
        return eio::route(ctx, req, eio::Mode::SocketIo).await;
    }
    if let Some(echo) = &s.engineio_echo_path
        && same_path(&path, echo)
    {
        return eio::route(ctx, req, eio::Mode::Echo).await;
    }
    if !s.serves_09() {
        return not_found(ctx, &req);
    }
    let Some(rest) = path.strip_prefix("/socket.io/1") else {
        return not_found(ctx, &req);
    };
    let rest = rest.trim_start_matches('/').trim_end_matches('/');
    let segs: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };

    if req.method() == Method::OPTIONS {
        // CORS preflight (the original answered 405; browsers never need it for 0.9 requests).
        return reply(m, req.headers(), StatusCode::OK, "");
    }
    if let Err(origin) = check(&ctx.config.hive.allowed_origins, req.headers()) {
        tracing::warn!(origin = %origin, path = %path, "origin rejected");
        m.errors.inc();
        let e = HiveError::BadRequest(rejection_text(&origin));
        return reply(m, req.headers(), StatusCode::FORBIDDEN, e.to_reply_text());
    }
    match segs.as_slice() {
        [] => handshake::handle(ctx, req.method(), req.headers()).await,
        [t @ ("websocket" | "flashsocket"), sid] if ctx.has_transport(t) => {
            let sid = sid.to_string();
            if wants_disconnect(&req) {
                ctx.router.kill(&sid);
                return reply(m, req.headers(), StatusCode::BAD_REQUEST, sio09::DISCONNECT);
            }
            websocket::upgrade(ctx, req, sid, *t == "flashsocket").await
        }
        ["xhr-polling", sid] if ctx.has_transport("xhr-polling") => {
            let sid = sid.to_string();
            if wants_disconnect(&req) {
                ctx.router.kill(&sid);
                return reply(m, req.headers(), StatusCode::OK, sio09::DISCONNECT);
            }
            xhr_polling::handle(ctx, req, sid).await
        }
        // The 0.9 client's disconnectSync URL `/socket.io/1//<sid>/?disconnect=1` (HIVE.md 16.2 #9).
        ["", sid] if wants_disconnect(&req) => {
            ctx.router.kill(sid);
            reply(m, req.headers(), StatusCode::OK, sio09::DISCONNECT)
        }
        _ => not_found(ctx, &req),
    }
}

/// `path` is `want` (`/x/`), with or without its final slash.
fn same_path(path: &str, want: &str) -> bool {
    path == want || Some(path) == want.strip_suffix('/')
}

fn not_found(ctx: &TransportCtx, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    ctx.http.errors.inc();
    let e = HiveError::BadRequest(format!("Unknown path: {}", req.uri().path()));
    reply(
        &ctx.http,
        req.headers(),
        StatusCode::NOT_FOUND,
        e.to_reply_text(),
    )
}
