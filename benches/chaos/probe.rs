//! Probe sessions: WebSocket chat users in rooms of their own (`probe<k>`, 10 each) that log every
//! join, publish, delivery, error and disconnect with its time, so the analysis can account for
//! each message and each session. A probe that loses its session reconnects (new handshake, a new
//! nick, joins again).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use codec::ws::{Header, Role, encode_masked, opcode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::probe_channel;
use crate::procs::request;

/// What a probe saw, with the run clock in seconds.
#[derive(Debug, Clone)]
pub enum Ev {
    /// Joined its room (session `sid`).
    Joined { p: usize, t: f64, sid: String },
    /// Lost its session: `clean` when the server said so (`0::` or a close frame).
    Lost { p: usize, t: f64, clean: bool },
    /// Published message `seq`.
    Published { p: usize, t: f64, seq: u64 },
    /// Got `seq` of probe `from` (its round trip when `from == p`).
    Received {
        p: usize,
        t: f64,
        from: usize,
        seq: u64,
        sent: f64,
    },
    /// Got a `hive_error` event.
    Error { p: usize, t: f64 },
    /// A new session could not start (`what`: the step and status).
    Refused { t: f64, what: String },
}

pub type Log = Arc<Mutex<Vec<Ev>>>;

pub fn start(
    sio: SocketAddr,
    n: usize,
    think: u64,
    t0: Instant,
    log: Log,
    stop: Arc<AtomicBool>,
) -> Vec<JoinHandle<()>> {
    (0..n)
        .map(|p| {
            let (log, stop) = (log.clone(), stop.clone());
            tokio::spawn(async move {
                // Spread the probes' ticks over the think time.
                tokio::time::sleep(Duration::from_millis(think * p as u64 / n.max(1) as u64)).await;
                let mut generation = 0;
                let mut seq = 0;
                while !stop.load(Ordering::SeqCst) {
                    generation += 1;
                    let clean = session(sio, p, generation, &mut seq, think, t0, &log, &stop).await;
                    if let Some(clean) = clean {
                        let t = t0.elapsed().as_secs_f64();
                        log.lock().unwrap().push(Ev::Lost { p, t, clean });
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            })
        })
        .collect()
}

struct Ws {
    s: TcpStream,
    buf: Vec<u8>,
}

enum In {
    Text(String),
    Closed { clean: bool },
}

impl Ws {
    async fn open(addr: SocketAddr, sid: &str) -> Option<Ws> {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let req = format!(
            "GET /socket.io/1/websocket/{sid} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.ok()?;
        let mut ws = Ws { s, buf: Vec::new() };
        let end = loop {
            if let Some(i) = ws.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = ws.s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            ws.buf.extend_from_slice(&chunk[..n]);
        };
        if !ws.buf.starts_with(b"HTTP/1.1 101") {
            return None;
        }
        ws.buf.drain(..end);
        Some(ws)
    }

    async fn send(&mut self, text: &str) -> bool {
        let mut b = Vec::new();
        encode_masked(&mut b, true, opcode::TEXT, [3, 1, 4, 1], text.as_bytes());
        self.s.write_all(&b).await.is_ok()
    }

    async fn next(&mut self) -> In {
        loop {
            match Header::parse(&self.buf, Role::Client) {
                Err(_) => return In::Closed { clean: false },
                Ok(Some((h, at))) => {
                    let len = usize::try_from(h.len).unwrap_or(usize::MAX);
                    if self.buf.len() >= at.saturating_add(len) {
                        let payload = self.buf[at..at + len].to_vec();
                        self.buf.drain(..at + len);
                        match h.opcode {
                            opcode::TEXT => {
                                return In::Text(String::from_utf8_lossy(&payload).into_owned());
                            }
                            opcode::CLOSE => return In::Closed { clean: true },
                            opcode::PING => {
                                let mut b = Vec::new();
                                encode_masked(&mut b, true, opcode::PONG, [1, 1, 1, 1], &payload);
                                if self.s.write_all(&b).await.is_err() {
                                    return In::Closed { clean: false };
                                }
                            }
                            _ => {}
                        }
                        continue;
                    }
                }
                Ok(None) => {}
            }
            let mut chunk = [0u8; 16384];
            match self.s.read(&mut chunk).await {
                Ok(0) | Err(_) => return In::Closed { clean: false },
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// The event name and first argument of a `5:::` frame.
fn event(text: &str) -> Option<(String, Value)> {
    let body = text.strip_prefix("5:::")?;
    let v: Value = serde_json::from_str(body).ok()?;
    let name = v["name"].as_str()?.to_string();
    Some((name, v["args"][0].clone()))
}

/// One session of probe `p`: `None` when it could not start or the run stopped; else whether
/// its end was clean.
#[allow(clippy::too_many_arguments)]
async fn session(
    sio: SocketAddr,
    p: usize,
    generation: u64,
    seq: &mut u64,
    think: u64,
    t0: Instant,
    log: &Log,
    stop: &AtomicBool,
) -> Option<bool> {
    let now = || t0.elapsed().as_secs_f64();
    let refused = |what: String| {
        log.lock().unwrap().push(Ev::Refused { t: now(), what });
    };
    let (status, body) = request(sio, "GET", "/socket.io/1/", "").await;
    if status != 200 {
        refused(format!("handshake {status}"));
        return None;
    }
    let sid = body.split(':').next()?.to_string();
    let Some(mut ws) = Ws::open(sio, &sid).await else {
        refused("websocket upgrade".into());
        return None;
    };
    let room = p / 10;
    let channel = probe_channel(room);
    let mut joined = false;
    let mut tick = tokio::time::interval(Duration::from_millis(think));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        tokio::select! {
            i = tokio::time::timeout(Duration::from_secs(1), ws.next()) => match i {
                Err(_) => continue,
                Ok(In::Closed { clean }) => return Some(clean),
                Ok(In::Text(t)) if t == "1::" || t == "1:::" => {
                    let nick = format!("p{p}g{generation}");
                    let m = json!({"name": "authorize", "args": [{"nick": nick}]});
                    if !ws.send(&format!("5:::{m}")).await {
                        return Some(false);
                    }
                }
                Ok(In::Text(t)) if t.starts_with("0::") => return Some(true),
                Ok(In::Text(t)) if t.starts_with("2::") => {
                    let _ = ws.send("2::").await;
                }
                Ok(In::Text(t)) => match event(&t) {
                    Some((name, arg)) if name == "authorize" => {
                        if arg["permission"] != "granted" {
                            refused(format!("authorize {}", arg["reason"]));
                            continue;
                        }
                        let m = json!({"name": "join_rooms", "args": [{"rooms": [format!("probe{room}")]}]});
                        if !ws.send(&format!("5:::{m}")).await {
                            return Some(false);
                        }
                        joined = true;
                        log.lock().unwrap().push(Ev::Joined { p, t: now(), sid: sid.clone() });
                    }
                    Some((name, arg)) if name == "msg_published" => {
                        let text = arg["text"].as_str().unwrap_or("");
                        let mut it = text.split(':');
                        if let (Some(from), Some(s), Some(sent)) = (it.next(), it.next(), it.next())
                            && let (Ok(from), Ok(s), Ok(sent)) = (from.parse(), s.parse(), sent.parse())
                        {
                            log.lock().unwrap().push(Ev::Received { p, t: now(), from, seq: s, sent });
                        }
                    }
                    Some((name, _)) if name == "hive_error" => {
                        log.lock().unwrap().push(Ev::Error { p, t: now() });
                    }
                    _ => {}
                },
            },
            _ = tick.tick(), if joined => {
                *seq += 1;
                let t = now();
                let text = format!("{p}:{}:{t}", *seq);
                let m = json!({"name": "publish_msg", "args": [{"channel": channel, "text": text}]});
                log.lock().unwrap().push(Ev::Published { p, t, seq: *seq });
                if !ws.send(&format!("5:::{m}")).await {
                    return Some(false);
                }
            }
        }
    }
}
