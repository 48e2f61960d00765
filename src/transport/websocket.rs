//! WebSocket / FlashSocket transport (HIVE.md 3.9.1): fastwebsockets performs the upgrade, then
//! one task per connection reads client frames with [`FrameReader`] (one message per text frame)
//! and writes what the client actor queues, the keep-alive ping and its pong deadline.
//!
//! One task, not a reader and a writer: no second task and no channel between them, which matters
//! at tens of thousands of idle connections. The reader is cancel safe, so it is just one branch of
//! the connection's `select!`. The socket is split into its read end (the reader's) and its write
//! end ([`WsWriter`]), which the task lends to its queue while it waits with nothing to write and
//! no batching window: then a channel or the client actor writes ready frames into the socket
//! itself, and the task is woken only for what the socket did not take at once (see
//! [`crate::client::ws_writer`]).

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::upgrade;
use http_body_util::Full;
use hyper::body::Incoming as Body;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncRead;

use super::TransportCtx;
use super::origin::reply;
use super::window::WriteWindow;
use super::ws_reader::{FrameReader, ReadError};
use super::ws_write::{WriteEnd, write_within};
use super::xhr_polling::error_frame;
use crate::client::ws_queue::{self, Woken, WsReceiver};
use crate::client::ws_writer::{WsWriter, text_frames};
use crate::client::{ClientHandle, CloseReason, Sink, Transport, WsOut};
use crate::error::HiveError;
use crate::http_edge::EdgeStream;
use crate::wire::{Wire, sio09};
use codec::socketio::decode;
use codec::ws::{Incoming, close_code, encode_close, encode_frame, opcode};

/// Outgoing batches a connection may have queued before its client counts as not reading.
pub const WS_QUEUE: usize = 256;

/// Most queued batches gathered into one socket write.
const MAX_BATCHES: usize = 64;

/// How long a closing connection waits for the client's last frames (`0:::`).
const LINGER: Duration = Duration::from_secs(5);

/// How long a write may make no progress before the client counts as not reading: as long as a
/// live client may take to answer a keep-alive (`heartbeat_timeout` + `websocket_ping_timeout`).
fn stall_limit(ctx: &TransportCtx) -> Duration {
    Duration::from_millis(
        ctx.config.socketio.heartbeat_timeout + ctx.config.hive.websocket_ping_timeout,
    )
}

/// Upgrade the request and run the connection in the background.
pub async fn upgrade(
    ctx: &TransportCtx,
    mut req: Request<Body>,
    sid: String,
    flash: bool,
) -> Response<Full<Bytes>> {
    let ws = &ctx.websocket;
    ws.requests.inc();
    let headers = req.headers().clone();
    let (resp, fut) = match upgrade::upgrade(&mut req) {
        Ok(x) => x,
        Err(e) => {
            ws.errors.inc();
            let e = HiveError::BadRequest(format!("Bad WebSocket upgrade request: {e}"));
            return reply(
                &ctx.http,
                &headers,
                StatusCode::BAD_REQUEST,
                e.to_reply_text(),
            );
        }
    };
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let upgraded = match fut.await {
            Ok(ws) => ws.into_inner().into_inner(),
            Err(e) => {
                tracing::debug!(error = %e, "websocket upgrade did not complete");
                return;
            }
        };
        // Our listener serves TCP streams through the HTTP edge: take the stream back (no boxed
        // I/O in between), with whatever the client sent right after the upgrade request, and
        // keep its connection slot as long as the socket. No HTTP timeout applies from here on:
        // the heartbeat governs the connection.
        // The reader is a local here and `run` borrows everything: arguments an async fn owns
        // are stored twice in its future, and this future lives as long as the connection.
        let max = ctx.config.socketio.max_frame_size;
        let probe = std::sync::Arc::clone(&ctx.delivery);
        match upgraded.downcast::<TokioIo<EdgeStream>>() {
            Ok(parts) => {
                let (tcp, _slot) = parts.io.into_inner().into_parts();
                let (read, write) = tcp.into_split();
                let mut conn = FrameReader::new(read, &parts.read_buf, max);
                drop(parts.read_buf);
                let mut sock = WsWriter::new(write, probe);
                run(&ctx, &mut conn, &mut sock, &sid, flash).await;
            }
            Err(up) => {
                let (read, write) = tokio::io::split(TokioIo::new(up));
                let mut conn = FrameReader::new(read, &[], max);
                let mut sock = WsWriter::new(write, probe);
                run(&ctx, &mut conn, &mut sock, &sid, flash).await;
            }
        }
    });
    let (parts, _) = resp.into_parts();
    Response::from_parts(parts, Full::new(Bytes::new()))
}

/// How the connection loop ended.
enum End {
    /// A close frame went out, or the socket cannot be written: nothing more to send.
    Closed,
    /// Still open: send the client's last frames, then a close with this code.
    Open(u16),
}

async fn run<S>(
    ctx: &TransportCtx,
    conn: &mut FrameReader<S>,
    sock: &mut WsWriter,
    sid: &str,
    flash: bool,
) where
    S: AsyncRead + Unpin,
{
    let Some(client) = ctx.router.lookup(sid) else {
        // Unknown sid: say so at once and close (HIVE.md 16.2 #6).
        let e = HiveError::BadSessionId(format!("Tried routing messages to an unknown sid: {sid}"));
        ctx.websocket.bad.inc();
        let mut buf = Vec::new();
        encode_frame(&mut buf, opcode::TEXT, error_frame(ctx, &e).as_bytes());
        last_frames(&mut buf, close_code::NORMAL);
        let _ = write_within(sock, &buf, stall_limit(ctx)).await;
        return;
    };
    let (out_tx, mut out) = ws_queue::channel_counted(WS_QUEUE, client.queue_figures());
    let id = ctx.next_id();
    let transport = if flash {
        Transport::FlashSocket
    } else {
        Transport::WebSocket
    };
    if client
        .attach(transport, Wire::Sio09, Sink::Ws { id, tx: out_tx })
        .is_err()
    {
        return;
    }
    let mut held = Vec::new();
    let end = serve(ctx, conn, sock, &mut out, &client, sid, &mut held).await;
    ctx.websocket.hang_up.inc();
    client.sink_gone(id);
    if let End::Open(code) = end {
        // What the batching window still held goes first.
        if !held.is_empty() && write_within(sock, &held, stall_limit(ctx)).await.is_err() {
            return;
        }
        // Send what the client's termination produces (`0:::`), then close.
        let _ = tokio::time::timeout(LINGER, linger(sock, &mut out, code)).await;
    }
}

/// The connection loop: client frames in, queued output out, until either side ends. Output
/// goes through the batching window (`socketio.poll_timeout`, [`WriteWindow`]): what is ready
/// while a window is open waits in `held` (without waking this task per item) and is written in
/// one go when it closes; keep-alives and the close are written at once, after what was held.
async fn serve<S>(
    ctx: &TransportCtx,
    conn: &mut FrameReader<S>,
    sock: &mut WsWriter,
    out: &mut WsReceiver,
    client: &ClientHandle,
    sid: &str,
    held: &mut Vec<u8>,
) -> End
where
    S: AsyncRead + Unpin,
{
    let m = &ctx.websocket;
    let direct = ctx.config.hive.direct_websocket;
    let ping_timeout = Duration::from_millis(ctx.config.hive.websocket_ping_timeout);
    let limit = stall_limit(ctx);
    let mut window = WriteWindow::new(Duration::from_millis(ctx.config.socketio.poll_timeout));
    // Senders may write into the idle socket themselves (if enabled) unless a batching window
    // applies.
    let lend = ctx.config.hive.websocket_direct_write && !window.batches();
    // The pong deadline, armed by a keep-alive ping (at most one, HIVE.md 16.2 #5).
    let mut deadline: Option<Pin<Box<tokio::time::Sleep>>> = None;
    // The end of the open batching window, while output is held for it.
    let mut flush_at: Option<Pin<Box<tokio::time::Sleep>>> = None;
    // The publish time of a sampled delivery in what waits to be written (delivery latency).
    let mut timed: Option<std::time::Instant> = None;
    loop {
        let mut buf = Vec::new();
        tokio::select! {
            r = conn.next() => match r {
                Ok(Incoming::Text(text)) => {
                    m.frames.inc();
                    match decode(&text) {
                        Ok(msg) => {
                            let item = Wire::Sio09.incoming(msg);
                            let r = if direct {
                                client.input(vec![item])
                            } else {
                                ctx.router.route_input(sid, vec![item])
                            };
                            if let Err(e) = r {
                                m.bad.inc();
                                let t = error_frame(ctx, &e);
                                encode_frame(&mut buf, opcode::TEXT, t.as_bytes());
                                let _ = write_within(sock, &buf, limit).await;
                                return End::Open(close_code::NORMAL);
                            }
                        }
                        Err(e) => {
                            // A malformed frame gets an error; the session and everyone else go on.
                            m.bad.inc();
                            let e = HiveError::from(e);
                            tracing::warn!(sid = %sid, error = %e, "bad websocket frame");
                            let t = error_frame(ctx, &e);
                            encode_frame(&mut buf, opcode::TEXT, t.as_bytes());
                        }
                    }
                }
                Ok(Incoming::Binary(_)) => {
                    m.bad.inc();
                    encode_frame(&mut buf, opcode::TEXT, sio09::UNKNOWN_WS_FRAME.as_bytes());
                }
                Ok(Incoming::Ping(p)) => encode_frame(&mut buf, opcode::PONG, &p),
                Ok(Incoming::Pong(_)) => deadline = None,
                Ok(Incoming::Close(code)) => {
                    // Echo the close (with its code, if any) and hang up.
                    match code {
                        Some(c) => encode_close(&mut buf, c, b""),
                        None => encode_frame(&mut buf, opcode::CLOSE, b""),
                    }
                    let _ = write_within(sock, &buf, limit).await;
                    return End::Closed;
                }
                Err(ReadError::Eof) => return End::Open(close_code::NORMAL),
                Err(e) => {
                    tracing::debug!(sid = %sid, error = %e, "websocket read failed");
                    m.errors.inc();
                    return match e.close_code() {
                        Some(c) => End::Open(c),
                        None => End::Closed,
                    };
                }
            },
            w = out.recv_lending(sock, lend), if flush_at.is_none() => { 'batch: {
                // A sender's partial write: its rest is written below, before anything else.
                let Woken::Item(o) = w else { break 'batch };
                // Take what else is already queued too, so its frames share one socket write.
                let mut next = o;
                let mut urgent = false;
                for taken in 1..=MAX_BATCHES {
                    timed = timed.or_else(|| sampled(&ctx.delivery, next.as_ref()));
                    match queued(&mut buf, next, close_code::NORMAL) {
                        Step::Go => {}
                        Step::Ping => {
                            urgent = true;
                            deadline = Some(Box::pin(tokio::time::sleep(ping_timeout)));
                        }
                        Step::Stop => {
                            held.append(&mut buf);
                            let _ = write_within(sock, held, limit).await;
                            held.clear();
                            return End::Closed;
                        }
                    }
                    // Take another item only if this batch has room to queue it: one taken on the
                    // last round would be dropped (what stays queued goes in the next batch).
                    if taken == MAX_BATCHES {
                        break;
                    }
                    match out.try_recv() {
                        Some(o) => next = Some(o),
                        None => break,
                    }
                }
                if !urgent
                    && window.batches()
                    && let Some(until) = window.ready(tokio::time::Instant::now().into())
                {
                    held.append(&mut buf);
                    out.park();
                    flush_at = Some(Box::pin(tokio::time::sleep_until(until.into())));
                }
            }}
            () = expired(&mut flush_at) => {
                // The window closes: what it held and what queued meanwhile, in one write.
                flush_at = None;
                std::mem::swap(&mut buf, held);
                for _ in 0..MAX_BATCHES {
                    let Some(o) = out.try_recv() else { break };
                    timed = timed.or_else(|| sampled(&ctx.delivery, Some(&o)));
                    match queued(&mut buf, Some(o), close_code::NORMAL) {
                        Step::Go => {}
                        Step::Ping => {
                            deadline = Some(Box::pin(tokio::time::sleep(ping_timeout)));
                        }
                        Step::Stop => {
                            let _ = write_within(sock, &buf, limit).await;
                            return End::Closed;
                        }
                    }
                }
                window.wrote(tokio::time::Instant::now().into());
            }
            () = expired(&mut deadline) => {
                m.hang_up.inc();
                client.terminate(CloseReason::PingTimeout);
                encode_close(&mut buf, close_code::NORMAL, b"ping timeout");
                let _ = write_within(sock, &buf, limit).await;
                return End::Closed;
            }
        }
        if !buf.is_empty() || sock.has_rest() {
            if !held.is_empty() {
                // Written out of the window (a pong, an error, a keep-alive): what the window
                // held goes first.
                held.append(&mut buf);
                std::mem::swap(&mut buf, held);
                flush_at = None;
                window.wrote(tokio::time::Instant::now().into());
            }
            match write_within(sock, &buf, limit).await {
                Ok(()) => {}
                Err(WriteEnd::Failed) => return End::Closed,
                Err(WriteEnd::Stalled) => {
                    // The client stopped reading: end its session as slow, drop the socket.
                    ctx.clients.slow_dropped.inc();
                    tracing::warn!(sid = %sid, "websocket client is not reading; disconnecting");
                    client.terminate(CloseReason::SlowClient);
                    return End::Closed;
                }
            }
            if held.is_empty()
                && let Some(at) = timed.take()
            {
                ctx.delivery.record(at);
            }
        }
    }
}

/// The publish time of a sampled delivery among the frames of `o`, if any.
fn sampled(probe: &crate::metrics::DeliveryProbe, o: Option<&WsOut>) -> Option<std::time::Instant> {
    match o? {
        WsOut::Frames(f) => probe.check_all(f),
        WsOut::Shared(f) => probe.check_all(f),
        WsOut::KeepAlive | WsOut::Close => None,
    }
}

/// Resolves when the pong deadline passes (never while none is armed).
async fn expired(deadline: &mut Option<Pin<Box<tokio::time::Sleep>>>) {
    match deadline {
        Some(d) => d.as_mut().await,
        None => std::future::pending().await,
    }
}

/// After the loop: write the client's remaining output until its end, then close with `code`.
async fn linger(sock: &mut WsWriter, out: &mut WsReceiver, code: u16) {
    loop {
        let mut buf = Vec::new();
        let step = match out.recv().await {
            Some(WsOut::KeepAlive) => Step::Go,
            o => queued(&mut buf, o, code),
        };
        if write_within(sock, &buf, LINGER).await.is_err() || matches!(step, Step::Stop) {
            return;
        }
    }
}

/// What the connection does after one [`WsOut`].
enum Step {
    Go,
    /// A keep-alive ping went out: arm the pong deadline.
    Ping,
    /// The last frames went out.
    Stop,
}

/// Encode one queued item (`None`: the client is gone) into `buf`.
fn queued(buf: &mut Vec<u8>, o: Option<WsOut>, code: u16) -> Step {
    match o {
        Some(WsOut::Frames(frames)) => {
            text_frames(buf, &frames);
            Step::Go
        }
        Some(WsOut::Shared(frames)) => {
            text_frames(buf, &frames);
            Step::Go
        }
        Some(WsOut::KeepAlive) => {
            encode_frame(buf, opcode::TEXT, sio09::NOOP.as_bytes());
            encode_frame(buf, opcode::PING, b"");
            Step::Ping
        }
        Some(WsOut::Close) | None => {
            last_frames(buf, code);
            Step::Stop
        }
    }
}

/// `0:::` then a close frame with `code`.
fn last_frames(buf: &mut Vec<u8>, code: u16) {
    encode_frame(buf, opcode::TEXT, sio09::DISCONNECT.as_bytes());
    encode_close(buf, code, b"");
}
