//! Many cheap Socket.IO 0.9 sessions over raw tokio `TcpStream`s, for load tests of a real node:
//! the handshake `GET /socket.io/1/?t=..`, then either a WebSocket upgrade to
//! `/socket.io/1/websocket/<sid>` (pings answered with pongs) or XHR long polls on
//! `/socket.io/1/xhr-polling/<sid>` (re-polled at once). Each session runs in its own task until
//! the server ends it (`0:::`, a close frame, the connection closing) and reports whether it saw
//! the `0:::` disconnect packet. Nothing here panics on a server going away: a load test's
//! sessions outlive the node they talk to.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
const MASK: [u8; 4] = [7, 1, 3, 5];

/// The transport of a raw session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    WebSocket,
    XhrPolling,
}

/// One connected session: its sid, transport and the task that reads it until it ends.
pub struct Session {
    pub sid: String,
    pub kind: Kind,
    /// Resolves to true when the server sent `0:::` before the end.
    pub task: JoinHandle<bool>,
}

/// A fleet of sessions.
pub struct Fleet {
    pub sessions: Vec<Session>,
}

impl Fleet {
    /// Connect `ws` WebSocket and `xhr` XHR-polling sessions to `addr`, at most `parallel`
    /// connection set-ups at a time. Panics when one cannot connect (the node must be up).
    pub async fn connect(addr: SocketAddr, ws: usize, xhr: usize, parallel: usize) -> Fleet {
        let gate = Arc::new(Semaphore::new(parallel.max(1)));
        let n = ws + xhr;
        // Spread the XHR sessions evenly over the fleet (exactly `xhr` of them).
        let kinds = (0..n).map(|i| {
            if i * xhr / n != (i + 1) * xhr / n {
                Kind::XhrPolling
            } else {
                Kind::WebSocket
            }
        });
        let setups: Vec<JoinHandle<Result<Session, String>>> = kinds
            .into_iter()
            .map(|kind| {
                let gate = Arc::clone(&gate);
                tokio::spawn(async move {
                    let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
                    open(addr, kind).await
                })
            })
            .collect();
        let mut sessions = Vec::with_capacity(setups.len());
        for s in setups {
            match s.await {
                Ok(Ok(s)) => sessions.push(s),
                Ok(Err(e)) => panic!("a session could not connect: {e}"),
                Err(e) => panic!("a session set-up task failed: {e}"),
            }
        }
        Fleet { sessions }
    }

    pub fn sids(&self) -> Vec<String> {
        self.sessions.iter().map(|s| s.sid.clone()).collect()
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.sessions.iter().filter(|s| s.kind == kind).count()
    }

    /// Wait (bounded) for every session task; the number that saw `0:::`, per transport
    /// (WebSocket, XHR). A task still running after `limit` counts as not having seen it.
    pub async fn ended(self, limit: Duration) -> (usize, usize) {
        let end = tokio::time::Instant::now() + limit;
        let (mut ws, mut xhr) = (0, 0);
        for s in self.sessions {
            let saw = matches!(tokio::time::timeout_at(end, s.task).await, Ok(Ok(true)));
            match (saw, s.kind) {
                (true, Kind::WebSocket) => ws += 1,
                (true, Kind::XhrPolling) => xhr += 1,
                _ => {}
            }
        }
        (ws, xhr)
    }
}

/// Handshake, then connect the transport; the returned session's task reads until the end.
pub async fn open(addr: SocketAddr, kind: Kind) -> Result<Session, String> {
    let sid = handshake(addr).await?;
    let task = match kind {
        Kind::WebSocket => {
            let ws = Ws::upgrade(addr, &sid).await?;
            tokio::spawn(ws.run())
        }
        Kind::XhrPolling => {
            let (status, body) = get(addr, &format!("/socket.io/1/xhr-polling/{sid}")).await?;
            if status != 200 || !body.contains("1:::") {
                return Err(format!("xhr connect of {sid}: {status} {body:?}"));
            }
            tokio::spawn(poll_loop(addr, sid.clone()))
        }
    };
    Ok(Session { sid, kind, task })
}

/// `GET /socket.io/1/?t=..`: the sid.
pub async fn handshake(addr: SocketAddr) -> Result<String, String> {
    let (status, body) = get(addr, "/socket.io/1/?t=1").await?;
    if status != 200 {
        return Err(format!("handshake: {status} {body}"));
    }
    body.split(':')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| format!("handshake body {body:?}"))
}

/// One `GET` on a fresh connection (`Connection: close`, `Origin: null`): status and body.
pub async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: null\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)
        .await
        .map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no response head: {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .ok_or_else(|| format!("bad status line: {head:?}"))?;
    Ok((status, body.to_string()))
}

/// Poll until the server sends `0:::` (true) or stops answering (false).
async fn poll_loop(addr: SocketAddr, sid: String) -> bool {
    let path = format!("/socket.io/1/xhr-polling/{sid}");
    loop {
        match get(addr, &path).await {
            Ok((200, body)) if body.contains("0:::") => return true,
            Ok((200, _)) => {}
            _ => return false,
        }
    }
}

/// A raw WebSocket client connection.
struct Ws {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Ws {
    async fn upgrade(addr: SocketAddr, sid: &str) -> Result<Ws, String> {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("ws connect: {e}"))?;
        let req = format!(
            "GET /socket.io/1/websocket/{sid} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: null\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("ws write: {e}"))?;
        let mut ws = Ws { s, buf: Vec::new() };
        let end = loop {
            if let Some(i) = ws.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if !ws.more().await {
                return Err(format!("ws upgrade of {sid}: connection closed"));
            }
        };
        let head = String::from_utf8_lossy(&ws.buf[..end]).to_string();
        if !head.starts_with("HTTP/1.1 101") {
            return Err(format!("ws upgrade of {sid}: {head}"));
        }
        ws.buf.drain(..end);
        match ws.recv().await {
            Some((TEXT, p)) if p == b"1:::" => Ok(ws),
            other => Err(format!("ws connect of {sid}: {other:?}")),
        }
    }

    async fn more(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match self.s.read(&mut chunk).await {
            Ok(n) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }

    /// The next server frame (opcode, payload); `None` at the end of the stream.
    async fn recv(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                let (len, at) = match self.buf[1] & 0x7F {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => (
                        u64::from_be_bytes(self.buf[2..10].try_into().ok()?) as usize,
                        10,
                    ),
                    126 | 127 => (usize::MAX, 0),
                    n => (n as usize, 2),
                };
                if len != usize::MAX && self.buf.len() >= at + len {
                    let op = self.buf[0] & 0x0F;
                    let payload = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    return Some((op, payload));
                }
            }
            if !self.more().await {
                return None;
            }
        }
    }

    /// Read until the end; answer pings; true when `0:::` arrived.
    async fn run(mut self) -> bool {
        let mut saw = false;
        while let Some((op, payload)) = self.recv().await {
            match op {
                TEXT if payload == b"0:::" => saw = true,
                PING => {
                    let _ = self.s.write_all(&masked(PONG, &payload)).await;
                }
                CLOSE => break,
                _ => {}
            }
        }
        saw
    }
}

/// A masked client frame with a payload under 126 bytes.
fn masked(op: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | op, 0x80 | (payload.len().min(125) as u8)];
    out.extend_from_slice(&MASK);
    out.extend(
        payload
            .iter()
            .take(125)
            .enumerate()
            .map(|(i, b)| b ^ MASK[i % 4]),
    );
    out
}
