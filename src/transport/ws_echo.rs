//! A plain RFC 6455 echo endpoint (`socketio.websocket_echo_path`, off by default) for WebSocket
//! conformance runs (the Autobahn cases, `tests/autobahn.rs`): the same upgrade, the same
//! [`FrameReader`] and the same frame writer ([`codec::ws`]) as the Socket.IO WebSocket
//! transport, with no session behind it.
//!
//! Text and binary messages come back as they arrived, a ping gets its pong, a close is answered
//! with the same code; a frame that breaks the protocol is answered with a close carrying its code
//! (1002, 1007 or 1009) and the connection is closed.

use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::upgrade;
use http_body_util::Full;
use hyper::body::Incoming as Body;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::TransportCtx;
use super::origin::reply;
use super::ws_reader::{FrameReader, ReadError};
use crate::error::HiveError;
use crate::http_edge::EdgeStream;
use codec::ws::{Incoming, encode_close, encode_frame, opcode};

/// How long a closing connection waits for the peer to close its side after our close frame.
const LINGER: Duration = Duration::from_secs(2);

/// Upgrade the request and echo in the background.
pub async fn upgrade(ctx: &TransportCtx, mut req: Request<Body>) -> Response<Full<Bytes>> {
    let headers = req.headers().clone();
    let (resp, fut) = match upgrade::upgrade(&mut req) {
        Ok(x) => x,
        Err(e) => {
            let e = HiveError::BadRequest(format!("Bad WebSocket upgrade request: {e}"));
            return reply(
                &ctx.http,
                &headers,
                StatusCode::BAD_REQUEST,
                e.to_reply_text(),
            );
        }
    };
    let max = ctx.config.socketio.max_frame_size;
    tokio::spawn(async move {
        let upgraded = match fut.await {
            Ok(ws) => ws.into_inner().into_inner(),
            Err(e) => {
                tracing::debug!(error = %e, "websocket echo upgrade did not complete");
                return;
            }
        };
        match upgraded.downcast::<TokioIo<EdgeStream>>() {
            Ok(parts) => {
                let (tcp, _slot) = parts.io.into_inner().into_parts();
                let mut conn = FrameReader::new(tcp, &parts.read_buf, max);
                drop(parts.read_buf);
                echo(&mut conn).await;
            }
            Err(up) => {
                let mut conn = FrameReader::new(TokioIo::new(up), &[], max);
                echo(&mut conn).await;
            }
        }
    });
    let (parts, _) = resp.into_parts();
    Response::from_parts(parts, Full::new(Bytes::new()))
}

/// Echo until the peer closes or breaks the protocol.
async fn echo<S>(conn: &mut FrameReader<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let mut buf = Vec::new();
        let last = match conn.next().await {
            Ok(Incoming::Text(t)) => {
                encode_frame(&mut buf, opcode::TEXT, t.as_bytes());
                false
            }
            Ok(Incoming::Binary(b)) => {
                encode_frame(&mut buf, opcode::BINARY, &b);
                false
            }
            Ok(Incoming::Ping(p)) => {
                encode_frame(&mut buf, opcode::PONG, &p);
                false
            }
            Ok(Incoming::Pong(_)) => continue,
            Ok(Incoming::Close(code)) => {
                match code {
                    Some(c) => encode_close(&mut buf, c, b""),
                    None => encode_frame(&mut buf, opcode::CLOSE, b""),
                }
                true
            }
            Err(ReadError::Eof | ReadError::Io(_)) => return,
            Err(e) => {
                if let Some(c) = e.close_code() {
                    encode_close(&mut buf, c, b"");
                }
                true
            }
        };
        if conn.get_mut().write_all(&buf).await.is_err() {
            return;
        }
        if last {
            // The server closes the TCP connection first (RFC 6455 7.1.1); give the peer a
            // moment to read the close frame.
            let _ = conn.get_mut().shutdown().await;
            let _ = tokio::time::timeout(LINGER, drain(conn)).await;
            return;
        }
    }
}

/// Read (and drop) what the peer still sends until it closes.
async fn drain<S>(conn: &mut FrameReader<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut sink = [0u8; 4096];
    while let Ok(n) = conn.get_mut().read(&mut sink).await {
        if n == 0 {
            return;
        }
    }
}
