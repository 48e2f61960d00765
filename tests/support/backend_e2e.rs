//! Fixtures of the full-stack backend tests (`tests/backend_e2e.rs`; their private `redis-server`
//! is `tests/support/redis.rs`): a Hive Protocol backend that connects into Hive's `connector.tcp`
//! listener ([`TcpBackend`], with its own frame codec so that a symmetric bug in
//! `src/connectors/tcp_frame.rs` cannot hide), many real JS clients in one node process
//! ([`JsMany`]), and small helpers.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::io::Write;
use std::process::{Child, ChildStdin};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

/// Run a blocking wait (the JS clients read std channels) without starving the runtime's workers.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// A loopback port that stays closed while the returned socket lives: bound, never listening, so
/// connections to it are refused and no other test can take it meanwhile.
pub fn closed_port() -> (tokio::net::TcpSocket, u16) {
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

/// Wait (bounded, polling) until `f` holds.
pub async fn until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !f() {
        assert!(
            Instant::now() < end,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `U+FFFD <byte length> U+FFFD <message>` (HIVE.md 6.6), written independently of `src/`.
pub fn tcp_frame(message: &str) -> Vec<u8> {
    format!("\u{FFFD}{}\u{FFFD}{message}", message.len()).into_bytes()
}

/// One frame received from Hive.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The length the header declared.
    pub declared: usize,
    /// The message bytes that followed, as text.
    pub message: String,
    /// `type`, `id`, `endpoint`, `data` of the Socket.IO message.
    pub kind: String,
    pub endpoint: String,
    pub data: String,
}

const MARK: &[u8] = &[0xEF, 0xBF, 0xBD];

/// Take one whole frame off the front of `buf`, if there is one; panics on a malformed header.
fn take_frame(buf: &mut Vec<u8>) -> Option<Frame> {
    if buf.len() < MARK.len() {
        return None;
    }
    assert_eq!(&buf[..3], MARK, "frame must start with U+FFFD: {buf:?}");
    let digits = buf[3..].iter().take_while(|b| b.is_ascii_digit()).count();
    let after = 3 + digits;
    if buf.len() < after + 3 {
        return None;
    }
    assert_eq!(
        &buf[after..after + 3],
        MARK,
        "second U+FFFD missing: {buf:?}"
    );
    let declared: usize = std::str::from_utf8(&buf[3..after])
        .unwrap()
        .parse()
        .unwrap();
    let start = after + 3;
    if buf.len() < start + declared {
        return None;
    }
    let message = String::from_utf8(buf[start..start + declared].to_vec())
        .expect("the declared byte length must end on a UTF-8 boundary");
    buf.drain(..start + declared);
    let mut parts = message.splitn(4, ':');
    let kind = parts.next().unwrap_or_default().to_string();
    let _id = parts.next();
    let endpoint = parts.next().unwrap_or_default().to_string();
    let data = parts.next().unwrap_or_default().to_string();
    Some(Frame {
        declared,
        message,
        kind,
        endpoint,
        data,
    })
}

/// A Hive Protocol backend that connects into Hive's `connector.tcp` listener.
pub struct TcpBackend {
    frames: tokio::sync::mpsc::UnboundedReceiver<Frame>,
    writer: OwnedWriteHalf,
    reader: tokio::task::JoinHandle<()>,
}

impl TcpBackend {
    /// Connect to Hive's pool listener on 127.0.0.1:`port`.
    pub async fn connect(port: u16) -> TcpBackend {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to Hive's TCP connector");
        stream.set_nodelay(true).unwrap();
        let (mut r, writer) = stream.into_split();
        let (tx, frames) = tokio::sync::mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut tmp = [0u8; 8192];
            loop {
                while let Some(f) = take_frame(&mut buf) {
                    if tx.send(f).is_err() {
                        return;
                    }
                }
                match r.read(&mut tmp).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&tmp[..n]),
                }
            }
        });
        TcpBackend {
            frames,
            writer,
            reader,
        }
    }

    /// The next frame Hive wrote (bounded wait).
    pub async fn next_frame(&mut self, within: Duration) -> Frame {
        tokio::time::timeout(within, self.frames.recv())
            .await
            .expect("no frame from Hive in time")
            .expect("connection closed")
    }

    /// True when Hive writes nothing within `d`.
    pub async fn silent_for(&mut self, d: Duration) -> bool {
        tokio::time::timeout(d, self.frames.recv()).await.is_err()
    }

    /// Write `3::<endpoint>:<data>` as one frame.
    pub async fn send(&mut self, endpoint: &str, data: &str) {
        let f = tcp_frame(&format!("3::{endpoint}:{data}"));
        self.writer.write_all(&f).await.unwrap();
    }
}

impl Drop for TcpBackend {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// `n` real socket.io-client@0.9.16 clients in one node process (tests/js/sio_many.js).
pub struct JsMany {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<Value>,
}

impl JsMany {
    /// Start `n` clients and wait (bounded) until all are connected.
    pub fn connect(url: &str, transport: &str, n: usize) -> JsMany {
        let n = n.to_string();
        let (child, stdin, rx) =
            crate::common::spawn_node("tests/js/sio_many.js", &[url, transport, &n], &[]);
        let mut m = JsMany { child, stdin, rx };
        let v = m.next(Duration::from_secs(20));
        assert_eq!(v["ev"], "connected", "{v}");
        m
    }

    /// Emit `name(args...)` from every client at once.
    pub fn emit_all(&mut self, name: &str, args: Value) {
        let cmd = json!({"op": "emit", "name": name, "args": args});
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next line (bounded wait).
    pub fn next(&mut self, within: Duration) -> Value {
        self.rx
            .recv_timeout(within)
            .unwrap_or_else(|_| panic!("no line from the JS clients within {within:?}"))
    }

    /// The next `count` events (bounded wait for all of them).
    pub fn events(&mut self, count: usize, within: Duration) -> Vec<Value> {
        let end = Instant::now() + within;
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(v) if v["ev"] == "event" => out.push(v),
                Ok(v) => panic!("unexpected line from the JS clients: {v}"),
                Err(_) => panic!("got {} of {count} events: {out:?}", out.len()),
            }
        }
        out
    }
}

impl Drop for JsMany {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
