//! The WebSocket connections of Engine.IO sessions: fastwebsockets performs the upgrade, and the
//! upgraded socket goes to its session's task, which reads and writes it itself ([`WsConn`]): no
//! task and no channel of its own per connection.
//!
//! A WebSocket that opens a session (`transport=websocket` without a sid) runs that session in
//! the task that completed the upgrade ([`open`]); one for an existing session (the upgrade from
//! polling, or a second WebSocket) is handed to the session's task ([`upgrade`]), which probes,
//! adopts or closes it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::upgrade;
use http_body_util::Full;
use hyper::body::Incoming as Body;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_util::either::Either;

use super::session::{self, EioIn};
use super::ws_conn::{WsConn, close_aside};
use super::{Entry, bad};
use crate::http_edge::EdgeStream;
use crate::transport::TransportCtx;

/// How long a session opened over WebSocket waits after its 101 before it sends its open packet.
/// Frames are allowed right after the 101, but a client that gets the 101 and the open packet in
/// one read may report the open packet before its own `open` event has been handled (Node's `ws`
/// does: the official Engine.IO test suite's clients then miss the handshake, and an EIO3 one,
/// which the server never pings, waits forever). The reference server's open packet leaves in a
/// later write; this keeps the two apart on an idle machine at the cost of 2 ms per connect.
const OPEN_AFTER_101: Duration = Duration::from_millis(2);

/// The socket of a completed upgrade (`None` if it did not complete).
async fn accepted(ctx: &TransportCtx, fut: upgrade::UpgradeFut) -> Option<WsConn> {
    let upgraded = match fut.await {
        Ok(ws) => ws.into_inner().into_inner(),
        Err(e) => {
            tracing::debug!(error = %e, "websocket upgrade did not complete");
            return None;
        }
    };
    let max = ctx.config.socketio.max_payload;
    let probe = Arc::clone(&ctx.delivery);
    // Senders write into the idle socket only the frames that go out unchanged.
    let takes = session::unchanged;
    Some(match upgraded.downcast::<TokioIo<EdgeStream>>() {
        Ok(parts) => {
            let (tcp, slot) = parts.io.into_inner().into_parts();
            WsConn::new(
                Either::Left(tcp),
                &parts.read_buf,
                max,
                Some(slot),
                probe,
                takes,
            )
        }
        Err(up) => WsConn::new(
            Either::Right(TokioIo::new(up)),
            &[],
            max,
            None,
            probe,
            takes,
        ),
    })
}

/// Begin the upgrade of `req`: the 101 to answer and the future of the upgraded socket (`None`:
/// not a valid WebSocket upgrade, to be refused with 400).
fn begin(
    ctx: &TransportCtx,
    req: &mut Request<Body>,
) -> Option<(Response<Full<Bytes>>, upgrade::UpgradeFut)> {
    ctx.websocket.requests.inc();
    match upgrade::upgrade(req) {
        Ok((resp, fut)) => {
            let (parts, _) = resp.into_parts();
            Some((Response::from_parts(parts, Full::new(Bytes::new())), fut))
        }
        Err(e) => {
            tracing::debug!(error = %e, "bad websocket upgrade (modern protocol)");
            None
        }
    }
}

/// A session opened over WebSocket: upgrade the request; the task that completes the upgrade
/// runs the session with its socket.
pub async fn open(
    ctx: &TransportCtx,
    mut req: Request<Body>,
    mut args: Box<session::Args>,
) -> Response<Full<Bytes>> {
    let Some((resp, fut)) = begin(ctx, &mut req) else {
        ctx.eio.remove(&args.sid);
        return bad(ctx, req.headers(), StatusCode::BAD_REQUEST);
    };
    tokio::spawn(async move {
        match accepted(&args.ctx, fut).await {
            Some(conn) => {
                tokio::time::sleep(OPEN_AFTER_101).await;
                args.conn = Some(conn);
                session::run(args).await;
            }
            None => args.ctx.eio.remove(&args.sid),
        }
    });
    resp
}

/// A WebSocket for `entry`'s existing session: upgrade the request and hand the socket to the
/// session's task.
pub async fn upgrade(
    ctx: &TransportCtx,
    mut req: Request<Body>,
    entry: Arc<Entry>,
) -> Response<Full<Bytes>> {
    let Some((resp, fut)) = begin(ctx, &mut req) else {
        entry.ws_claimed.store(false, Ordering::Release);
        return bad(ctx, req.headers(), StatusCode::BAD_REQUEST);
    };
    let s = &ctx.config.socketio;
    let patience = Duration::from_millis(s.ping_interval + s.ping_timeout);
    // The session learns of the WebSocket before the client sees the 101: a poll the client sends
    // once its WebSocket is open always finds the upgrade begun.
    let _ = entry.tx.unbounded_send(EioIn::WsComing);
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let Some(conn) = accepted(&ctx, fut).await else {
            let _ = entry.tx.unbounded_send(EioIn::WsFailed);
            return;
        };
        if let Err(e) = entry.tx.unbounded_send(EioIn::WsOpen(Box::new(conn))) {
            // The session ended meanwhile.
            if let EioIn::WsOpen(conn) = e.into_inner() {
                close_aside(*conn, patience);
            }
        }
    });
    resp
}
