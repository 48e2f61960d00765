//! A real HTTP/1.1 backend for connector tests: listens on 127.0.0.1 port 0 (or a given address),
//! records every request, answers from a script, measures concurrency, supports keep-alive.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Scripted answers: popped in order; when empty, `default` is used.
#[derive(Default)]
pub struct Script {
    pub answers: Vec<(u16, String)>,
    pub default: Option<(u16, String)>,
    pub delay: Duration,
}

/// Shared state of a backend.
#[derive(Default)]
pub struct Shared {
    pub requests: Mutex<Vec<Recorded>>,
    pub script: Mutex<Script>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub notify: tokio::sync::Notify,
}

/// A running backend; stopped (listener and every connection closed) on `stop` or drop.
pub struct Backend {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    task: JoinHandle<()>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Backend {
    /// Start on 127.0.0.1 port 0.
    pub async fn start() -> Backend {
        Self::start_on("127.0.0.1:0".parse().unwrap(), Arc::new(Shared::default())).await
    }

    /// Start on `addr` with `shared` (to restart a backend on the same port keeping its records).
    pub async fn start_on(addr: SocketAddr, shared: Arc<Shared>) -> Backend {
        let listener = TcpListener::bind(addr).await.expect("bind backend");
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (s, c) = (shared.clone(), conns.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                let h = tokio::spawn(async move {
                    let _ = serve(stream, s).await;
                });
                c.lock().unwrap().push(h);
            }
        });
        Backend {
            addr,
            shared,
            task,
            conns,
        }
    }

    /// Set the default answer.
    pub fn answer(&self, status: u16, body: &str) {
        self.shared.script.lock().unwrap().default = Some((status, body.to_string()));
    }

    /// Queue one answer (used before the default).
    pub fn push_answer(&self, status: u16, body: &str) {
        self.shared
            .script
            .lock()
            .unwrap()
            .answers
            .push((status, body.to_string()));
    }

    /// Delay every answer.
    pub fn delay(&self, d: Duration) {
        self.shared.script.lock().unwrap().delay = d;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Wait (bounded) until at least `n` requests were received.
    pub async fn wait_requests(&self, n: usize, within: Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.notify.notified();
            let r = self.requests();
            if r.len() >= n {
                return r;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "backend got {} requests, expected {n} within {within:?}",
                    self.requests().len()
                );
            }
        }
    }

    /// Close the listener and every open connection.
    pub fn stop(&self) {
        self.task.abort();
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(stream: TcpStream, s: Arc<Shared>) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).await?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).await?;
        let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        s.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let (status, answer, delay) = {
            let mut script = s.script.lock().unwrap();
            let a = if script.answers.is_empty() {
                script.default.clone().unwrap_or((200, String::new()))
            } else {
                script.answers.remove(0)
            };
            (a.0, a.1, script.delay)
        };
        s.requests.lock().unwrap().push(Recorded {
            method,
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        s.notify.notify_waiters();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        s.in_flight.fetch_sub(1, Ordering::SeqCst);
        let resp = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: keep-alive\r\n\r\n{answer}",
            answer.len()
        );
        w.write_all(resp.as_bytes()).await?;
    }
}
