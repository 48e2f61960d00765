//! The HTTP edge shared by the node's three listeners (Socket.IO, API, monitor): one accept loop
//! and one connection driver, so every port has the same protections (`http.*` in
//! docs/configuration.md).
//!
//! - **Header-read timeout** (`http.header_read_timeout`): from accept to the end of the first
//!   request's headers, and from the first byte of a later request to the end of its headers. A
//!   client that sends nothing, or half a request head, is closed when it runs out.
//! - **Keep-alive idle timeout** (`http.idle_timeout`): from the end of a response to the first
//!   byte of the next request.
//! - **Header size limit** (`http.max_header_size`): a larger request head is answered 431 by
//!   hyper and the connection closed.
//! - **Connection bound** (`http.max_connections`, shared by the three listeners, capped below the
//!   open-files limit): the excess is closed at accept, with a warning at most once a second that
//!   counts what was refused.
//! - **Request-smuggling shapes refused**: a request head with more than one `Content-Length`, or
//!   with both `Transfer-Encoding` and `Content-Length`, is answered 400 and the connection closed
//!   before any handler sees it (hyper alone would merge equal lengths and let chunked win).
//!   [`HeadScan`] spots them in the bytes of each request head as they are read.
//! - **Graceful drain**: on shutdown the listener stops accepting, idle connections close, and
//!   requests in flight get `http.drain_timeout` to finish before their connections are dropped.
//!
//! - **Response write timeout** (`http.idle_timeout` again): a response the client takes no byte of
//!   for that long (it stopped reading its socket) closes the connection, so a client that never
//!   reads cannot hold a connection slot.
//!
//! Nothing times a request while the handler holds it: a held 0.9 long poll is governed by the
//! session's heartbeat, and an upgraded WebSocket leaves the driver altogether (the socket and its
//! connection slot go to the WebSocket task, see [`EdgeStream::into_parts`]). The timers are not
//! hyper's `header_read_timeout`: hyper restarts that one when a keep-alive connection goes idle,
//! so it cannot give idle connections a longer time than a slow request head.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, HttpSection};

/// Open files kept out of the connection bound: log file, backend connections, Redis, the three
/// listening sockets, and what the runtime itself opens.
const FD_RESERVE: u64 = 256;

/// hyper refuses a read buffer smaller than this (`max_buf_size`).
const MIN_BUF: usize = 8192;

/// At most one "connection limit reached" warning per listener in this time.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(1);

/// What every listener allows a connection, and the node-wide count of open connections.
#[derive(Debug)]
pub struct Edge {
    header_read_timeout: Duration,
    idle_timeout: Duration,
    max_header_size: usize,
    max_connections: usize,
    drain_timeout: Duration,
    open: AtomicUsize,
}

impl Edge {
    /// The edge of `config`'s `http` section, its connection bound capped below the process's
    /// current open-files limit (logged when the cap lowers the configured or default bound).
    pub fn new(config: &Config) -> Arc<Self> {
        Arc::new(Self::with_nofile(
            &config.http,
            config.hive.max_client_slots,
            nofile(),
        ))
    }

    /// The default `http` section's edge for a listener served on its own (tools, tests): its
    /// bound is 1024 connections (capped like [`Edge::new`]'s).
    pub fn standalone() -> Arc<Self> {
        Arc::new(Self::with_nofile(&HttpSection::default(), 0, nofile()))
    }

    fn with_nofile(h: &HttpSection, max_client_slots: u32, nofile: Option<u64>) -> Self {
        let wanted = h
            .max_connections
            .unwrap_or(2 * u64::from(max_client_slots) + 1024);
        let bound = match nofile.map(fd_cap) {
            Some(cap) if cap < wanted => {
                tracing::warn!(
                    wanted,
                    bound = cap,
                    open_files_limit = nofile.unwrap_or_default(),
                    "http.max_connections lowered to stay below the open-files limit"
                );
                cap
            }
            _ => wanted,
        };
        Self {
            header_read_timeout: Duration::from_millis(h.header_read_timeout),
            idle_timeout: Duration::from_millis(h.idle_timeout),
            max_header_size: h.max_header_size,
            max_connections: usize::try_from(bound).unwrap_or(usize::MAX),
            drain_timeout: Duration::from_millis(h.drain_timeout),
            open: AtomicUsize::new(0),
        }
    }

    /// The connection bound in force (after the open-files cap).
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Connections open now on the three listeners (upgraded WebSockets included).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// How long a stopping listener waits for requests in flight.
    pub fn drain_timeout(&self) -> Duration {
        self.drain_timeout
    }

    /// Take a connection slot, unless the bound is reached.
    fn try_slot(self: &Arc<Self>) -> Option<ConnSlot> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_connections).then_some(n + 1)
            })
            .ok()
            .map(|_| ConnSlot(Arc::clone(self)))
    }
}

/// The process's soft open-files limit, when it can be read.
fn nofile() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// The largest bound that leaves room for the node's other files under `nofile`.
fn fd_cap(nofile: u64) -> u64 {
    nofile.saturating_sub(FD_RESERVE).max(nofile / 2).max(1)
}

/// One counted connection; dropping it frees the slot. Lives as long as the socket, also after a
/// WebSocket upgrade.
#[derive(Debug)]
pub struct ConnSlot(Arc<Edge>);

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Where a connection is between requests, with the deadline that applies there.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for (the rest of) a request head, until the instant.
    Head(Instant),
    /// Requests in the handler or responses being written: no deadline.
    Busy(u32),
    /// Keep-alive: waiting for the first byte of the next request, until the instant.
    Idle(Instant),
}

/// Counts the framing headers of one request head as its bytes are read, with a fixed state (no
/// buffer): `Content-Length` and `Transfer-Encoding` lines, until the empty line that ends the
/// head.
#[derive(Debug, Default, Clone, Copy)]
struct HeadScan {
    /// The current line's first bytes, lowercased.
    prefix: [u8; 18],
    /// Bytes of the current line so far (CR not counted).
    line: usize,
    content_length: u32,
    transfer_encoding: u32,
    /// The head ended (its empty line was read): nothing more to scan until the next head.
    done: bool,
}

impl HeadScan {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.done {
                return;
            }
            match b {
                b'\n' if self.line == 0 => self.done = true,
                b'\n' => {
                    let p = &self.prefix[..self.line.min(self.prefix.len())];
                    if p.starts_with(b"content-length:") {
                        self.content_length += 1;
                    } else if p.starts_with(b"transfer-encoding:") {
                        self.transfer_encoding += 1;
                    }
                    self.line = 0;
                }
                b'\r' => {}
                _ => {
                    if let Some(slot) = self.prefix.get_mut(self.line) {
                        *slot = b.to_ascii_lowercase();
                    }
                    self.line += 1;
                }
            }
        }
    }

    /// Why the head is refused, if it is a request-smuggling shape.
    fn smuggling(&self) -> Option<&'static str> {
        if self.content_length > 1 {
            Some("more than one Content-Length header")
        } else if self.content_length > 0 && self.transfer_encoding > 0 {
            Some("both Transfer-Encoding and Content-Length headers")
        } else {
            None
        }
    }
}

/// The connection's timers. Updated from inside hyper's connection future (reads, service calls,
/// response bodies), read by the driver right after each poll of it.
#[derive(Debug)]
struct Timers {
    header: Duration,
    idle: Duration,
    phase: Mutex<Phase>,
    /// The framing headers of the request head being read.
    head: Mutex<HeadScan>,
    /// Since when a write has been waiting for the client to read (none while writes go through).
    stalled: Mutex<Option<Instant>>,
}

impl Timers {
    fn new(edge: &Edge) -> Self {
        Self {
            header: edge.header_read_timeout,
            idle: edge.idle_timeout,
            phase: Mutex::new(Phase::Head(Instant::now() + edge.header_read_timeout)),
            head: Mutex::new(HeadScan::default()),
            stalled: Mutex::new(None),
        }
    }

    fn stall<R>(&self, f: impl FnOnce(&mut Option<Instant>) -> R) -> R {
        f(&mut self.stalled.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A write could not go through (the client's receive window is full).
    fn on_write_pending(&self) {
        self.stall(|s| {
            s.get_or_insert_with(Instant::now);
        });
    }

    /// A write went through.
    fn on_write_ready(&self) {
        self.stall(|s| *s = None);
    }

    fn scan<R>(&self, f: impl FnOnce(&mut HeadScan) -> R) -> R {
        f(&mut self.head.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Bytes were read: scan them while they belong to a request head.
    fn on_read(&self, bytes: &[u8]) {
        let in_head = self.with(|p| matches!(*p, Phase::Head(_)));
        if in_head {
            self.scan(|h| h.feed(bytes));
        }
    }

    /// A request reached the service: why its head is refused, if it is; the scan restarts for
    /// the next head either way.
    fn take_smuggling(&self) -> Option<&'static str> {
        self.scan(|h| std::mem::take(h).smuggling())
    }

    fn with<R>(&self, f: impl FnOnce(&mut Phase) -> R) -> R {
        f(&mut self.phase.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn deadline(&self) -> Option<Instant> {
        let stalled = self.stall(|s| *s).map(|t| t + self.idle);
        self.with(|p| match *p {
            Phase::Head(d) | Phase::Idle(d) => Some(stalled.map_or(d, |s| s.min(d))),
            Phase::Busy(_) => stalled,
        })
    }

    /// Which timeout a deadline in this phase is.
    fn what(&self) -> &'static str {
        if self.stall(|s| s.is_some()) {
            return "response write timeout (the client does not read)";
        }
        self.with(|p| match *p {
            Phase::Idle(_) => "keep-alive idle timeout",
            _ => "header read timeout",
        })
    }

    /// Bytes arrived: on an idle connection they start the next request's head.
    fn on_bytes(&self) {
        let header = self.header;
        let started = self.with(|p| {
            if let Phase::Idle(_) = *p {
                *p = Phase::Head(Instant::now() + header);
                true
            } else {
                false
            }
        });
        if started {
            self.scan(|h| *h = HeadScan::default());
        }
    }

    fn on_request(&self) {
        self.with(|p| {
            *p = match *p {
                Phase::Busy(n) => Phase::Busy(n + 1),
                _ => Phase::Busy(1),
            }
        });
    }

    fn on_response_done(&self) {
        let idle = self.idle;
        self.with(|p| {
            *p = match *p {
                Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
                _ => Phase::Idle(Instant::now() + idle),
            }
        });
    }
}

/// A request in flight: made when hyper calls the service, dropped with the response body (hyper
/// drops it once written) or with the handler's future (connection gone).
struct Busy(Arc<Timers>);

impl Busy {
    fn start(t: &Arc<Timers>) -> Self {
        t.on_request();
        Self(Arc::clone(t))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.on_response_done();
    }
}

/// A response body that ends its request (the connection goes idle) when hyper is done with it.
/// `B`: a whole body ([`Full`]) for most handlers, or a streamed one (a forwarded response).
pub struct Tracked<B = Full<Bytes>> {
    body: B,
    _busy: Busy,
}

impl<B: Body<Data = Bytes> + Unpin> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The accepted socket as hyper sees it: reads restart the header timer of an idle connection,
/// and the connection slot is released when it drops.
#[derive(Debug)]
pub struct EdgeStream {
    tcp: TcpStream,
    timers: Arc<Timers>,
    slot: ConnSlot,
}

impl EdgeStream {
    /// The plain socket and its slot, for a connection that leaves HTTP (a WebSocket upgrade):
    /// keep the slot as long as the socket.
    pub fn into_parts(self) -> (TcpStream, ConnSlot) {
        (self.tcp, self.slot)
    }
}

impl AsyncRead for EdgeStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.timers.on_bytes();
            this.timers
                .on_read(buf.filled().get(before..).unwrap_or_default());
        }
        r
    }
}

impl EdgeStream {
    /// Note whether a write went through or waits for the client.
    fn track<T>(&self, r: Poll<T>) -> Poll<T> {
        match r {
            Poll::Pending => self.timers.on_write_pending(),
            Poll::Ready(_) => self.timers.on_write_ready(),
        }
        r
    }
}

impl AsyncWrite for EdgeStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.tcp).poll_write(cx, buf);
        this.track(r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        this.track(r)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// What a handler's responses may carry: a whole body, or a body type that also holds one.
pub trait ResponseBody:
    Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
    + From<Full<Bytes>>
    + Send
    + Unpin
    + 'static
{
}

impl<B> ResponseBody for B where
    B: Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + From<Full<Bytes>>
        + Send
        + Unpin
        + 'static
{
}

/// Refusals since the last warning, for the rate-limited log line.
#[derive(Default)]
struct Refusals {
    last_log: Option<Instant>,
    pending: u64,
}

impl Refusals {
    fn note(&mut self, name: &str, addr: Option<SocketAddr>, bound: usize) {
        self.pending += 1;
        self.flush(name, addr, bound);
    }

    /// Log the refusals counted so far, unless a warning went out less than a second ago.
    fn flush(&mut self, name: &str, addr: Option<SocketAddr>, bound: usize) {
        if self.pending == 0
            || self
                .last_log
                .is_some_and(|t| t.elapsed() < REFUSAL_LOG_EVERY)
        {
            return;
        }
        let addr = addr.map(|a| a.to_string()).unwrap_or_default();
        tracing::warn!(
            listener = name,
            %addr,
            refused = self.pending,
            bound,
            "connection limit reached (http.max_connections): refused {} new connection(s)",
            self.pending
        );
        self.pending = 0;
        self.last_log = Some(Instant::now());
    }
}

/// Serve `listener` with `handler` until `shutdown` is cancelled, then drain: stop accepting, let
/// every connection finish its request in flight (at most `http.drain_timeout`), drop the rest.
/// `name` is the listener's name in logs.
pub async fn serve<H, F, B>(
    listener: TcpListener,
    edge: Arc<Edge>,
    name: &'static str,
    shutdown: CancellationToken,
    handler: H,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: ResponseBody,
{
    let addr = listener.local_addr().ok();
    let mut conns = JoinSet::new();
    let mut refused = Refusals::default();
    loop {
        while conns.try_join_next().is_some() {}
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // EMFILE and friends: back off a little instead of spinning.
                    tracing::warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = edge.try_slot() else {
            drop(stream);
            refused.note(name, addr, edge.max_connections);
            continue;
        };
        refused.flush(name, addr, edge.max_connections);
        let _ = stream.set_nodelay(true);
        let conn = (slot, Arc::clone(&edge), handler.clone(), shutdown.clone());
        match crate::cores::next() {
            // One runtime per core: the connection (and the session it opens) lives on the next
            // core; its socket moves to that core's IO driver.
            Some(core) => {
                let std = stream.into_std();
                conns.spawn_on(
                    async move {
                        let (slot, edge, handler, stop) = conn;
                        if let Ok(stream) = std.and_then(TcpStream::from_std) {
                            drive(stream, slot, edge, name, handler, stop).await;
                        }
                    },
                    &core,
                );
            }
            None => {
                let (slot, edge, handler, stop) = conn;
                conns.spawn(drive(stream, slot, edge, name, handler, stop));
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(edge.drain_timeout, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            listener = name,
            left = conns.len(),
            "requests still in flight after http.drain_timeout: closing their connections"
        );
        conns.abort_all();
    }
}

/// Run one connection under the edge's timers until it ends, times out, or (after `stop`) has
/// finished its request in flight.
async fn drive<H, F, B>(
    stream: TcpStream,
    slot: ConnSlot,
    edge: Arc<Edge>,
    name: &'static str,
    handler: H,
    stop: CancellationToken,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: ResponseBody,
{
    let timers = Arc::new(Timers::new(&edge));
    let io = TokioIo::new(EdgeStream {
        tcp: stream,
        timers: Arc::clone(&timers),
        slot,
    });
    let t = Arc::clone(&timers);
    let svc = service_fn(move |req: Request<Incoming>| {
        let busy = Busy::start(&t);
        let refused = t.take_smuggling();
        let fut = refused.is_none().then(|| handler(req));
        async move {
            let resp = match (fut, refused) {
                (Some(fut), _) => fut.await,
                (None, why) => smuggling_refused(name, why.unwrap_or_default()).map(B::from),
            };
            Ok::<_, Infallible>(resp.map(|body| Tracked { body, _busy: busy }))
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .header_read_timeout(None)
        .max_buf_size(edge.max_header_size.max(MIN_BUF))
        .max_header_size(edge.max_header_size);
    let conn = builder.serve_connection(io, svc).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let mut armed = timers.deadline();
    let sleep = tokio::time::sleep_until(armed.unwrap_or_else(Instant::now));
    let mut sleep = std::pin::pin!(sleep);
    let stopped = stop.cancelled();
    let mut stopped = std::pin::pin!(stopped);
    let mut draining = false;
    let end = std::future::poll_fn(|cx| {
        if !draining && stopped.as_mut().poll(cx).is_ready() {
            draining = true;
            conn.as_mut().graceful_shutdown();
        }
        if let Poll::Ready(r) = conn.as_mut().poll(cx) {
            return Poll::Ready(Ok(r));
        }
        // Every phase change happens inside that poll: re-arm for the deadline now in force.
        let d = timers.deadline();
        if d != armed {
            armed = d;
            if let Some(d) = d {
                sleep.as_mut().reset(d);
            }
        }
        if armed.is_some() && sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(timers.what()));
        }
        Poll::Pending
    })
    .await;
    match end {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!(listener = name, error = %e, "connection ended with an error")
        }
        Err(what) => tracing::debug!(listener = name, "connection closed: {what}"),
    }
}

/// The answer to a request-smuggling shape: 400, and the connection closes after it (its body,
/// whose length the two sides could disagree on, is never read).
fn smuggling_refused(name: &'static str, why: &str) -> Response<Full<Bytes>> {
    tracing::warn!(listener = name, "request refused: {why}");
    let mut resp = Response::new(Full::new(Bytes::from(format!(
        "Bad request: {why} (a request-smuggling shape).\n"
    ))));
    *resp.status_mut() = hyper::StatusCode::BAD_REQUEST;
    resp.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn config(http: serde_json::Value) -> Config {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/test.json"),
        )
        .unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["http"] = http;
        crate::config::from_value(v).unwrap().config
    }

    #[test]
    fn the_default_bound_follows_the_slots_and_stays_below_the_open_files_limit() {
        // test.json: 100 slots.
        let c = config(serde_json::json!({}));
        assert_eq!(
            Edge::with_nofile(&c.http, c.hive.max_client_slots, Some(20_000)).max_connections(),
            1224
        );
        assert_eq!(
            Edge::with_nofile(&c.http, c.hive.max_client_slots, None).max_connections(),
            1224
        );
        assert_eq!(
            Edge::with_nofile(&c.http, c.hive.max_client_slots, Some(1024)).max_connections(),
            768
        );
        assert_eq!(
            Edge::with_nofile(&c.http, c.hive.max_client_slots, Some(300)).max_connections(),
            150
        );
        let c = config(serde_json::json!({"max_connections": 5}));
        assert_eq!(
            Edge::with_nofile(&c.http, c.hive.max_client_slots, Some(20_000)).max_connections(),
            5
        );
    }

    #[test]
    fn slots_are_counted_and_released() {
        let c = config(serde_json::json!({"max_connections": 2}));
        let edge = Arc::new(Edge::with_nofile(
            &c.http,
            c.hive.max_client_slots,
            Some(20_000),
        ));
        let a = edge.try_slot().unwrap();
        let _b = edge.try_slot().unwrap();
        assert!(edge.try_slot().is_none());
        assert_eq!(edge.open_connections(), 2);
        drop(a);
        assert!(edge.try_slot().is_some());
    }

    #[test]
    fn the_head_scan_spots_smuggling_shapes_in_any_split() {
        let cases: [(&str, Option<&str>); 6] = [
            ("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", None),
            (
                "POST / HTTP/1.1\r\ncontent-length: 3\r\nCONTENT-LENGTH: 3\r\n\r\n",
                Some("more than one Content-Length header"),
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                Some("both Transfer-Encoding and Content-Length headers"),
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                None,
            ),
            // Only the head counts: the same lines in the body do not.
            (
                "POST / HTTP/1.1\r\nContent-Length: 40\r\n\r\nContent-Length: 1\r\nContent-Length: 2\r\n",
                None,
            ),
            (
                "GET / HTTP/1.1\nX-Content-Length: 1\nContent-Length: 0\n\n",
                None,
            ),
        ];
        for (head, want) in cases {
            for split in 0..head.len() {
                let mut h = HeadScan::default();
                h.feed(&head.as_bytes()[..split]);
                h.feed(&head.as_bytes()[split..]);
                assert_eq!(h.smuggling(), want, "{head:?} split at {split}");
            }
        }
    }

    #[test]
    fn phases_move_the_deadline() {
        let c = config(serde_json::json!({"header_read_timeout": 100, "idle_timeout": 1000}));
        let edge = Edge::with_nofile(&c.http, c.hive.max_client_slots, None);
        let ms = Duration::from_millis;
        let t = Arc::new(Timers::new(&edge));
        let first = t.deadline().unwrap();
        assert!(first <= Instant::now() + ms(100));
        assert_eq!(t.what(), "header read timeout");
        t.on_bytes(); // still the first head: the deadline counts from accept
        assert_eq!(t.deadline(), Some(first));
        let busy = Busy::start(&t);
        assert_eq!(
            t.deadline(),
            None,
            "no deadline while the handler holds the request"
        );
        drop(busy);
        let idle = t.deadline().unwrap();
        assert!(idle >= Instant::now() + ms(900));
        assert_eq!(t.what(), "keep-alive idle timeout");
        t.on_bytes();
        let head = t.deadline().unwrap();
        assert!(
            head <= Instant::now() + ms(100) && head + ms(800) < idle,
            "the next head has the header timeout from its first byte"
        );
        assert_eq!(t.what(), "header read timeout");
    }

    #[test]
    fn a_stalled_response_write_has_the_idle_timeout() {
        let c = config(serde_json::json!({"header_read_timeout": 100, "idle_timeout": 1000}));
        let edge = Edge::with_nofile(&c.http, c.hive.max_client_slots, None);
        let t = Arc::new(Timers::new(&edge));
        let busy = Busy::start(&t);
        assert_eq!(t.deadline(), None);
        t.on_write_pending();
        let d = t.deadline().unwrap();
        assert!(d <= Instant::now() + Duration::from_millis(1000));
        assert_eq!(
            t.what(),
            "response write timeout (the client does not read)"
        );
        t.on_write_pending(); // still the first stall's deadline
        assert_eq!(t.deadline(), Some(d));
        t.on_write_ready();
        assert_eq!(
            t.deadline(),
            None,
            "writes go through again: no deadline while busy"
        );
        drop(busy);
        assert_eq!(t.what(), "keep-alive idle timeout");
    }
}
