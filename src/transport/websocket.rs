//! WebSocket / FlashSocket transport (HIVE.md 3.9.1) on fastwebsockets: a reader task that decodes
//! one message per text frame, and a writer task that owns the socket's write half, the keep-alive
//! ping and its pong deadline.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError, upgrade};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::io::{AsyncWrite, BufWriter};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::TransportCtx;
use super::origin::reply;
use super::xhr_polling::error_frame;
use crate::client::{ClientHandle, CloseReason, Sink, Transport, WsOut};
use crate::error::HiveError;
use crate::protocol::socketio::decode;

/// Outgoing batches a connection may have queued before its client counts as not reading.
pub const WS_QUEUE: usize = 256;

/// Write buffer of a connection, in bytes.
const WRITE_BUFFER: usize = 2048;

/// What the reader hands the writer besides the client's output.
enum Ctl {
    /// A frame the protocol obliges us to send (pong, close echo).
    Obligated(Frame<'static>),
    /// A text frame (error replies to bad input).
    Text(String),
    /// A pong arrived: disarm the ping deadline.
    Pong,
}

/// Upgrade the request and run the connection in the background.
pub async fn upgrade(
    ctx: &TransportCtx,
    mut req: Request<Incoming>,
    sid: String,
    flash: bool,
) -> Response<Full<Bytes>> {
    let m = &ctx.metrics;
    m.inc("clients.transports.websocket.requests");
    let headers = req.headers().clone();
    let (resp, fut) = match upgrade::upgrade(&mut req) {
        Ok(x) => x,
        Err(e) => {
            m.inc("clients.transports.websocket.errors");
            let e = HiveError::BadRequest(format!("Bad WebSocket upgrade request: {e}"));
            return reply(m, &headers, StatusCode::BAD_REQUEST, e.to_reply_text());
        }
    };
    let ctx = ctx.clone();
    tokio::spawn(async move {
        match fut.await {
            Ok(ws) => run(ctx, ws, sid, flash).await,
            Err(e) => tracing::debug!(error = %e, "websocket upgrade did not complete"),
        }
    });
    let (parts, _) = resp.into_parts();
    Response::from_parts(parts, Full::new(Bytes::new()))
}

type Ws = fastwebsockets::WebSocket<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

async fn run(ctx: TransportCtx, mut ws: Ws, sid: String, flash: bool) {
    ws.set_max_message_size(ctx.config.socketio.max_frame_size);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    let (read, write) = ws.split(|s| {
        let (r, w) = tokio::io::split(s);
        // A small buffer: enough to coalesce a batch of small frames into one send, without
        // 8 KiB per idle connection (large frames bypass it).
        (r, BufWriter::with_capacity(WRITE_BUFFER, w))
    });
    let mut read = fastwebsockets::FragmentCollectorRead::new(read);
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel::<Ctl>();
    let done = CancellationToken::new();
    let Some(client) = ctx.router.lookup(&sid) else {
        // Unknown sid: say so at once and close (HIVE.md 16.2 #6).
        let e = HiveError::BadSessionId(format!("Tried routing messages to an unknown sid: {sid}"));
        ctx.metrics.inc("clients.transports.websocket.bad");
        let (tx, rx) = mpsc::channel(4);
        let _ = tx.try_send(WsOut::Frames(vec![Arc::from(error_frame(&ctx, &e))]));
        let _ = tx.try_send(WsOut::Close);
        drop(tx);
        writer(ctx.clone(), write, rx, ctl_rx, None, done.clone()).await;
        return;
    };
    let (out_tx, out_rx) = mpsc::channel::<WsOut>(WS_QUEUE);
    let id = ctx.next_id();
    let transport = if flash {
        Transport::FlashSocket
    } else {
        Transport::WebSocket
    };
    if client
        .attach(transport, Sink::Ws { id, tx: out_tx })
        .is_err()
    {
        return;
    }
    let w = tokio::spawn(writer(
        ctx.clone(),
        write,
        out_rx,
        ctl_rx,
        Some(client.clone()),
        done.clone(),
    ));
    let direct = ctx.config.hive.direct_websocket;
    loop {
        let mut obligated = |f: Frame<'_>| {
            let owned = Frame::new(true, f.opcode, None, Payload::Owned(f.payload.to_vec()));
            let _ = ctl_tx.send(Ctl::Obligated(owned));
            async { Ok::<(), Infallible>(()) }
        };
        let frame = tokio::select! {
            f = read.read_frame(&mut obligated) => f,
            _ = done.cancelled() => break,
        };
        let frame = match frame {
            Ok(f) => f,
            Err(WebSocketError::ConnectionClosed) => break,
            Err(e) => {
                tracing::debug!(sid = %sid, error = %e, "websocket read failed");
                ctx.metrics.inc("clients.transports.websocket.errors");
                break;
            }
        };
        match frame.opcode {
            OpCode::Text => {
                ctx.metrics.inc("clients.transports.websocket.frames");
                let text = String::from_utf8_lossy(&frame.payload);
                match decode(&text) {
                    Ok(msg) => {
                        let r = if direct {
                            client.messages(vec![msg])
                        } else {
                            ctx.router.route_messages(&sid, vec![msg])
                        };
                        if let Err(e) = r {
                            ctx.metrics.inc("clients.transports.websocket.bad");
                            let _ = ctl_tx.send(Ctl::Text(error_frame(&ctx, &e)));
                            break;
                        }
                    }
                    Err(e) => {
                        // A malformed frame gets an error; the session and everyone else go on.
                        ctx.metrics.inc("clients.transports.websocket.bad");
                        let e = HiveError::from(e);
                        tracing::warn!(sid = %sid, error = %e, "bad websocket frame");
                        let _ = ctl_tx.send(Ctl::Text(error_frame(&ctx, &e)));
                    }
                }
            }
            OpCode::Pong => {
                let _ = ctl_tx.send(Ctl::Pong);
            }
            OpCode::Close => break,
            OpCode::Binary => {
                ctx.metrics.inc("clients.transports.websocket.bad");
                let _ = ctl_tx.send(Ctl::Text("7:::Unknown WebSocket frame type!".into()));
            }
            _ => {}
        }
    }
    ctx.metrics.inc("clients.transports.websocket.hang_up");
    client.sink_gone(id);
    // Let the writer send what the client's termination produces (0:::), then stop.
    let _ = tokio::time::timeout(Duration::from_secs(5), w).await;
}

/// What the writer does after one [`WsOut`].
enum Step {
    Go,
    /// A keep-alive ping went out: arm the pong deadline (at most one, HIVE.md 16.2 #5).
    Ping,
    Stop,
}

async fn write_out<W: AsyncWrite + Unpin>(
    write: &mut fastwebsockets::WebSocketWrite<W>,
    o: Option<WsOut>,
) -> Step {
    match o {
        Some(WsOut::Frames(frames)) => {
            for f in frames {
                if write
                    .write_frame(Frame::text(Payload::Borrowed(f.as_bytes())))
                    .await
                    .is_err()
                {
                    return Step::Stop;
                }
            }
            Step::Go
        }
        Some(WsOut::KeepAlive) => {
            let ok = write
                .write_frame(Frame::text(Payload::Borrowed(b"8:::")))
                .await
                .is_ok()
                && write
                    .write_frame(Frame::new(true, OpCode::Ping, None, Payload::Borrowed(b"")))
                    .await
                    .is_ok();
            if ok { Step::Ping } else { Step::Stop }
        }
        Some(WsOut::Close) | None => {
            let _ = write
                .write_frame(Frame::text(Payload::Borrowed(b"0:::")))
                .await;
            let _ = write.write_frame(Frame::close(1000, b"")).await;
            Step::Stop
        }
    }
}

async fn writer<W: AsyncWrite + Unpin>(
    ctx: TransportCtx,
    write: fastwebsockets::WebSocketWrite<W>,
    mut out: mpsc::Receiver<WsOut>,
    mut ctl: mpsc::UnboundedReceiver<Ctl>,
    client: Option<ClientHandle>,
    done: CancellationToken,
) {
    // The write half is a BufWriter: the frames of one batch share one socket write at the flush.
    let mut write = write;
    let ping_timeout = Duration::from_millis(ctx.config.hive.websocket_ping_timeout);
    let mut deadline: Option<tokio::time::Instant> = None;
    let _done = done.clone().drop_guard();
    loop {
        tokio::select! {
            c = ctl.recv() => match c {
                Some(Ctl::Obligated(f)) => {
                    let close = f.opcode == OpCode::Close;
                    if write.write_frame(f).await.is_err() || close {
                        break;
                    }
                }
                Some(Ctl::Text(t)) if write.write_frame(Frame::text(Payload::Borrowed(t.as_bytes()))).await.is_err() => break,
                Some(Ctl::Text(_)) => {}
                Some(Ctl::Pong) => deadline = None,
                None => {}
            },
            o = out.recv() => {
                // Take what else is already queued too, so its frames share one flush (one send).
                let mut next = o;
                let mut stop = false;
                for _ in 0..64 {
                    match write_out(&mut write, next).await {
                        Step::Go => {}
                        Step::Ping => deadline = Some(tokio::time::Instant::now() + ping_timeout),
                        Step::Stop => {
                            stop = true;
                            break;
                        }
                    }
                    match out.try_recv() {
                        Ok(m) => next = Some(m),
                        Err(_) => break,
                    }
                }
                if stop {
                    break;
                }
            }
            _ = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending::<()>().await,
                }
            } => {
                ctx.metrics.inc("clients.transports.websocket.hang_up");
                if let Some(c) = &client {
                    c.terminate(CloseReason::PingTimeout);
                }
                let _ = write.write_frame(Frame::close(1000, b"ping timeout")).await;
                break;
            }
        }
        if write.flush().await.is_err() {
            break;
        }
    }
    let _ = write.flush().await;
}
