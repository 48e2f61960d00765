//! The load generator's side: lean Socket.IO 0.9 websocket sessions (one HTTP/1.1 connection each:
//! the handshake GET, then the websocket upgrade on the same connection, via hyper's client and
//! fastwebsockets) that join the room and time every event they receive.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocket};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::header::{CONNECTION, HOST, ORIGIN, UPGRADE};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Microseconds since the bench started (the clock the publisher stamps events with).
pub fn now_us() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_micros() as u64
}

const SHARDS: usize = 32;

/// What every session reports: deliveries and publish-to-receive latencies (µs).
pub struct Stats {
    /// Events received (all time).
    pub received: AtomicU64,
    /// Latencies are recorded only while this is set (the measurement window).
    pub recording: std::sync::atomic::AtomicBool,
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Stats {
    pub fn new() -> Arc<Stats> {
        Arc::new(Stats {
            received: AtomicU64::new(0),
            recording: std::sync::atomic::AtomicBool::new(false),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Histogram::new_with_bounds(1, 120_000_000, 3).unwrap()))
                .collect(),
        })
    }

    fn record(&self, shard: usize, us: u64) {
        if self.recording.load(Ordering::Relaxed) {
            let _ = self.shards[shard % SHARDS]
                .lock()
                .unwrap()
                .record(us.clamp(1, 120_000_000));
        }
    }

    /// After the publisher stopped: wait (up to 20 s, or until nothing more arrives) until every
    /// one of `published` events reached each of `subs` subscribers, counting from `before`
    /// received; (received, wanted).
    pub async fn drain(&self, published: &AtomicU64, subs: u64, before: u64) -> (u64, u64) {
        let end = Instant::now() + std::time::Duration::from_secs(20);
        let mut last = 0;
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let got = self.received.load(Ordering::Relaxed) - before;
            let want = published.load(Ordering::Relaxed) * subs;
            if got >= want || Instant::now() > end || (got == last && got > 0) {
                return (got, want);
            }
            last = got;
        }
    }

    /// Merge and reset the latency histograms.
    pub fn take_latencies(&self) -> Histogram<u64> {
        let mut all = Histogram::new_with_bounds(1, 120_000_000, 3).unwrap();
        for s in &self.shards {
            let mut h = s.lock().unwrap();
            all.add(&*h).unwrap();
            h.reset();
        }
        all
    }
}

struct SpawnExecutor;

impl<F> hyper::rt::Executor<F> for SpawnExecutor
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        tokio::spawn(fut);
    }
}

pub type Ws = WebSocket<TokioIo<hyper::upgrade::Upgraded>>;

/// Handshake (`GET /socket.io/1/`) and upgrade to `/socket.io/1/websocket/<sid>` on one connection.
pub async fn open(addr: SocketAddr) -> Result<Ws, String> {
    open_from(addr, None).await
}

/// [`open`] from the local address `src` (port chosen by the kernel), or the default one.
pub async fn open_from(addr: SocketAddr, src: Option<std::net::IpAddr>) -> Result<Ws, String> {
    let stream = match src {
        None => TcpStream::connect(addr).await.map_err(|e| e.to_string())?,
        Some(ip) => {
            let sock = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
            sock.bind(SocketAddr::new(ip, 0))
                .map_err(|e| format!("bind {ip}: {e}"))?;
            sock.connect(addr).await.map_err(|e| e.to_string())?
        }
    };
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    hyper::rt::Executor::execute(&SpawnExecutor, async move {
        let _ = conn.with_upgrades().await;
    });
    let host = addr.to_string();
    let req = Request::get(format!("/socket.io/1/?t={}", now_us()))
        .header(HOST, &host)
        .header(ORIGIN, "http://localhost")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let body = String::from_utf8_lossy(&body).to_string();
    if status != 200 {
        return Err(format!("handshake {status}: {body}"));
    }
    let sid = body.split(':').next().unwrap_or_default().to_string();
    let req = Request::get(format!("/socket.io/1/websocket/{sid}"))
        .header(HOST, &host)
        .header(ORIGIN, "http://localhost")
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "Upgrade")
        .header(
            "Sec-WebSocket-Key",
            fastwebsockets::handshake::generate_key(),
        )
        .header("Sec-WebSocket-Version", "13")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let mut resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    if resp.status() != 101 {
        return Err(format!("upgrade: {}", resp.status()));
    }
    let up = hyper::upgrade::on(&mut resp)
        .await
        .map_err(|e| e.to_string())?;
    let mut ws = WebSocket::after_handshake(TokioIo::new(up), Role::Client);
    ws.set_auto_pong(true);
    ws.set_auto_close(true);
    Ok(ws)
}

/// A Socket.IO 5 session over an Engine.IO 4 WebSocket opened directly
/// (`/socket.io/?EIO=4&transport=websocket`): reads the open packet, sends the CONNECT of `/`
/// (`40`) and returns once the server's CONNECT answer (`40{"sid":…}`) arrived.
#[allow(dead_code)] // used by session_memory, not by fanout_e2e
pub async fn open_modern(addr: SocketAddr) -> Result<Ws, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    hyper::rt::Executor::execute(&SpawnExecutor, async move {
        let _ = conn.with_upgrades().await;
    });
    let req = Request::get("/socket.io/?EIO=4&transport=websocket")
        .header(HOST, addr.to_string())
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "Upgrade")
        .header(
            "Sec-WebSocket-Key",
            fastwebsockets::handshake::generate_key(),
        )
        .header("Sec-WebSocket-Version", "13")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let mut resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    if resp.status() != 101 {
        return Err(format!("upgrade: {}", resp.status()));
    }
    let up = hyper::upgrade::on(&mut resp)
        .await
        .map_err(|e| e.to_string())?;
    let mut ws = WebSocket::after_handshake(TokioIo::new(up), Role::Client);
    ws.set_auto_pong(true);
    ws.set_auto_close(true);
    let mut sent = false;
    loop {
        let f = ws.read_frame().await.map_err(|e| e.to_string())?;
        match f.opcode {
            OpCode::Text if f.payload.starts_with(b"0") && !sent => {
                ws.write_frame(Frame::text(Payload::Borrowed(b"40")))
                    .await
                    .map_err(|e| e.to_string())?;
                sent = true;
            }
            OpCode::Text if f.payload.starts_with(b"40") => return Ok(ws),
            OpCode::Close => return Err("closed before the CONNECT answer".into()),
            _ => {}
        }
    }
}

/// The stamp of a `5:::{"name":"tick","args":[<seq>,<stamp µs>]}` frame: the last number.
fn stamp(payload: &[u8]) -> Option<u64> {
    let end = payload.iter().rposition(|b| b.is_ascii_digit())? + 1;
    let start = payload[..end]
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    std::str::from_utf8(&payload[start..end]).ok()?.parse().ok()
}

/// Open a session, wait for `1::`, join `room`, then count and time every event until the
/// connection ends. `ready` is called once joined.
pub async fn session(
    addr: SocketAddr,
    room: String,
    idx: usize,
    stats: Arc<Stats>,
    ready: tokio::sync::mpsc::Sender<Result<(), String>>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let mut permit = Some(permit);
    let mut ws = match open(addr).await {
        Ok(ws) => ws,
        Err(e) => {
            let _ = ready.send(Err(e)).await;
            return;
        }
    };
    let join = format!(r#"5:::{{"name":"join","args":["{room}"]}}"#);
    let mut joined = false;
    loop {
        let frame = match ws.read_frame().await {
            Ok(f) => f,
            Err(e) => {
                if !joined {
                    let _ = ready.send(Err(e.to_string())).await;
                }
                return;
            }
        };
        match frame.opcode {
            OpCode::Text => {
                let p: &[u8] = &frame.payload;
                if p.starts_with(b"5:") {
                    stats.received.fetch_add(1, Ordering::Relaxed);
                    if let Some(t) = stamp(p) {
                        stats.record(idx, now_us().saturating_sub(t));
                    }
                } else if p.starts_with(b"1:") && !joined {
                    let f = Frame::text(Payload::Owned(join.as_bytes().to_vec()));
                    if ws.write_frame(f).await.is_err() {
                        return;
                    }
                    joined = true;
                    drop(permit.take());
                    let _ = ready.send(Ok(())).await;
                } else if p.starts_with(b"2:") {
                    let f = Frame::text(Payload::Borrowed(b"2::"));
                    if ws.write_frame(f).await.is_err() {
                        return;
                    }
                } else if p.starts_with(b"0:") {
                    return;
                }
            }
            OpCode::Close => return,
            _ => {}
        }
    }
}
