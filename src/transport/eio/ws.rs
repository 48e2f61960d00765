//! One WebSocket connection of an Engine.IO session: fastwebsockets performs the upgrade, then
//! one task reads client frames (text -> the session, binary -> the session without the
//! revision's framing) and writes what the session sends ([`WsCmd`]); one Engine.IO packet per
//! frame. Frames over `socketio.max_payload` close the connection with 1009. WebSocket control
//! pings are answered (the Engine.IO heartbeat is the session's own).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::upgrade;
use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming as Body;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::session::{EioIn, WsCmd};
use super::{Entry, bad};
use crate::http_edge::EdgeStream;
use crate::transport::TransportCtx;
use crate::transport::ws_reader::{FrameReader, ReadError};
use codec::eio;
use codec::ws::{Incoming, encode_close, encode_frame, opcode};

/// Most queued commands gathered into one socket write.
const MAX_BATCH: usize = 64;

/// Upgrade the request and run the connection for `entry`'s session.
pub async fn upgrade(
    ctx: &TransportCtx,
    mut req: Request<Body>,
    entry: Arc<Entry>,
    sid: Arc<str>,
    first: bool,
) -> Response<Full<Bytes>> {
    ctx.websocket.requests.inc();
    let headers = req.headers().clone();
    let (resp, fut) = match upgrade::upgrade(&mut req) {
        Ok(x) => x,
        Err(e) => {
            tracing::debug!(error = %e, "bad websocket upgrade (modern protocol)");
            if first {
                let _ = entry.tx.unbounded_send(EioIn::Close);
            }
            return bad(ctx, &headers, StatusCode::BAD_REQUEST);
        }
    };
    // An upgrade's WebSocket is made known to its session before the client sees the 101: a poll
    // the client sends once its WebSocket is open always finds the upgrade begun. (A session
    // opened over WebSocket learns of it once the upgrade completed, so that its open packet is
    // not written together with the 101.)
    let id = ctx.next_id();
    let (tx, cmds) = mpsc::unbounded();
    let mut open = Some(EioIn::WsOpen { id, tx });
    let mut registered = false;
    if !first && let Some(m) = open.take() {
        registered = entry.tx.unbounded_send(m).is_ok();
    }
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let upgraded = match fut.await {
            Ok(ws) => ws.into_inner().into_inner(),
            Err(e) => {
                tracing::debug!(error = %e, "websocket upgrade did not complete");
                if first {
                    let _ = entry.tx.unbounded_send(EioIn::Close);
                }
                let _ = entry.tx.unbounded_send(EioIn::WsGone { id });
                return;
            }
        };
        if let Some(m) = open.take() {
            registered = entry.tx.unbounded_send(m).is_ok();
        }
        let link = Link {
            id,
            cmds,
            registered,
        };
        let max = ctx.config.socketio.max_payload;
        match upgraded.downcast::<TokioIo<EdgeStream>>() {
            Ok(parts) => {
                let (tcp, _slot) = parts.io.into_inner().into_parts();
                let mut conn = FrameReader::new(tcp, &parts.read_buf, max);
                drop(parts.read_buf);
                run(&ctx, &mut conn, &entry, &sid, link).await;
            }
            Err(up) => {
                let mut conn = FrameReader::new(TokioIo::new(up), &[], max);
                run(&ctx, &mut conn, &entry, &sid, link).await;
            }
        }
    });
    let (parts, _) = resp.into_parts();
    Response::from_parts(parts, Full::new(Bytes::new()))
}

/// A connection's registration with its session: its id and the session's commands to it.
struct Link {
    id: u64,
    cmds: mpsc::UnboundedReceiver<WsCmd>,
    /// The session took it (false: the session had already ended).
    registered: bool,
}

async fn run<S>(ctx: &TransportCtx, conn: &mut FrameReader<S>, entry: &Entry, sid: &str, link: Link)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Link {
        id,
        mut cmds,
        registered,
    } = link;
    if !registered {
        let mut buf = Vec::new();
        encode_frame(&mut buf, opcode::CLOSE, b"");
        let _ = conn.get_mut().write_all(&buf).await;
        return;
    }
    let rev = entry.rev;
    // A write must make progress within a heartbeat: a client that stops reading cannot hold its
    // connection task, socket and connection slot forever.
    let s = &ctx.config.socketio;
    let patience = Duration::from_millis(s.ping_interval + s.ping_timeout);
    loop {
        let mut buf = Vec::new();
        tokio::select! {
            r = conn.next() => match r {
                Ok(Incoming::Text(text)) => {
                    ctx.websocket.frames.inc();
                    let _ = entry.tx.unbounded_send(EioIn::WsText { id, text });
                }
                Ok(Incoming::Binary(data)) => {
                    ctx.websocket.frames.inc();
                    let m = match eio::decode_ws_binary(rev, &data) {
                        Ok(data) => EioIn::WsBinary { id, data },
                        Err(_) => EioIn::WsBad { id },
                    };
                    let _ = entry.tx.unbounded_send(m);
                }
                Ok(Incoming::Ping(p)) => encode_frame(&mut buf, opcode::PONG, &p),
                Ok(Incoming::Pong(_)) => {}
                Ok(Incoming::Close(_)) => {
                    encode_frame(&mut buf, opcode::CLOSE, b"");
                    let _ = written(conn, &buf, patience).await;
                    break;
                }
                Err(ReadError::Eof) => break,
                Err(e) => {
                    tracing::debug!(sid = %sid, error = %e, "websocket read failed (modern protocol)");
                    ctx.websocket.errors.inc();
                    if let Some(c) = e.close_code() {
                        encode_close(&mut buf, c, b"");
                        let _ = written(conn, &buf, patience).await;
                    }
                    break;
                }
            },
            c = cmds.next() => {
                let mut next = c;
                let mut stop = false;
                let mut answers = Vec::new();
                for taken in 1..=MAX_BATCH {
                    match next {
                        Some(WsCmd::Answer(reply, a)) => answers.push((reply, a)),
                        Some(WsCmd::Text(t)) => encode_frame(&mut buf, opcode::TEXT, t.as_bytes()),
                        Some(WsCmd::Frame(t)) => encode_frame(&mut buf, opcode::TEXT, t.as_bytes()),
                        Some(WsCmd::Binary(b)) => encode_frame(&mut buf, opcode::BINARY, &b),
                        Some(WsCmd::Close) | None => {
                            encode_frame(&mut buf, opcode::CLOSE, b"");
                            stop = true;
                            break;
                        }
                    }
                    // Take another command only if this batch has room for it: one taken on the last
                    // round would be dropped (what stays queued goes in the next batch).
                    if taken == MAX_BATCH {
                        break;
                    }
                    match cmds.try_recv() {
                        Ok(c) => next = Some(c),
                        Err(_) => break,
                    }
                }
                // (A batch of answers alone writes nothing.)
                let ok = buf.is_empty() || written(conn, &buf, patience).await;
                for (reply, a) in answers {
                    let _ = reply.send(a);
                }
                if !ok || stop {
                    let _ = tokio::time::timeout(patience, conn.get_mut().shutdown()).await;
                    break;
                }
                continue;
            }
        }
        if !buf.is_empty() && !written(conn, &buf, patience).await {
            break;
        }
    }
    ctx.websocket.hang_up.inc();
    let _ = entry.tx.unbounded_send(EioIn::WsGone { id });
}

/// Write `buf` within `patience`; false when the socket failed or the client is not reading.
async fn written<S>(conn: &mut FrameReader<S>, buf: &[u8], patience: Duration) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // A socket with room takes the bytes at once: the timer is armed only for what is left.
    let rest = match conn.get_mut().write(buf).now_or_never() {
        None => buf,
        Some(Ok(n)) if n > 0 => buf.get(n..).unwrap_or_default(),
        Some(_) => return false,
    };
    rest.is_empty()
        || matches!(
            tokio::time::timeout(patience, conn.get_mut().write_all(rest)).await,
            Ok(Ok(()))
        )
}
