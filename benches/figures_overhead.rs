//! The cost of the monitor's figures (`monitor.figures`): the release `hive` binary's own CPU time
//! per echo round trip and per channel delivery, with the figures on and off, in paired runs.
//!
//! Each run starts a fresh `hive` process (figures on or off), opens `--sessions` WebSocket
//! sessions on loopback (they all join `bench.room`), then:
//! 1. **echo**: `--echoers` of them each make sequential `echo` round trips (the test config's
//!    `utils.echo` hook) until `--echoes` round trips are done in total;
//! 2. **deliveries**: `--publishes` events are published to `bench.room` through the API (plain
//!    `action.send_event`, so pre-encoded frames on the shortcut) and every session receives every
//!    one (at most 32 publishes in flight, so that no session falls behind into a slow-consumer
//!    drop).
//!
//! The server's CPU time of each phase is the sum of its threads' run time
//! (`/proc/<pid>/task/*/schedstat`, ns) over the phase, divided by the round trips or deliveries.
//! A pair is one run with the figures on and one with them off, back to back (the order alternates
//! between pairs so drift cancels); the result is the median over the pairs of on/off - 1, with
//! the smallest and largest pair as the spread. The load average is printed per run: the machine
//! is shared.
//!
//! Run: `cargo bench --bench figures_overhead -- [--pairs 5] [--sessions 200] [--echoers 50]
//! [--echoes 60000] [--publishes 1000] [--pin]` (`--pin`: the server on CPU 0 through `taskset`;
//! run the bench itself with `taskset -c 1 cargo bench ...`)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

#[path = "support/util.rs"]
mod util;

#[allow(dead_code)]
#[path = "fanout_e2e/load.rs"]
mod load;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use util::{free_port, merge, stop_child, wait_listening};

use fastwebsockets::{Frame, OpCode, Payload};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HASH: &str = "abcde12345";
const ROOM: &str = "bench.room";
/// Publishes in flight at most (see the delivery phase).
const WINDOW: usize = 32;

struct Opts {
    pairs: usize,
    sessions: usize,
    echoers: usize,
    echoes: usize,
    publishes: usize,
    /// Run the server on CPU 0 (`taskset -c 0`); run the bench itself under `taskset -c 1`.
    pin: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        pairs: 5,
        sessions: 200,
        echoers: 50,
        echoes: 60_000,
        publishes: 1_000,
        pin: false,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let val = || args.get(i + 1).and_then(|v| v.parse::<usize>().ok());
        match args[i].as_str() {
            "--pairs" => o.pairs = val().expect("--pairs N"),
            "--sessions" => o.sessions = val().expect("--sessions N"),
            "--echoers" => o.echoers = val().expect("--echoers N"),
            "--echoes" => o.echoes = val().expect("--echoes N"),
            "--publishes" => o.publishes = val().expect("--publishes N"),
            "--pin" => {
                o.pin = true;
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o.echoers = o.echoers.min(o.sessions).max(1);
    o
}

/// A running `hive` process.
struct Hive {
    child: Child,
    sio: SocketAddr,
    api: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Hive {
    fn start(figures: bool, sessions: usize, pin: bool) -> Hive {
        let dir = tempfile::tempdir().unwrap();
        let (sio, api, mon) = (free_port(), free_port(), free_port());
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("config/test.json")).unwrap();
        let mut cfg: Value = serde_json::from_str(&text).unwrap();
        merge(
            &mut cfg,
            &json!({
                "hive": {"port": sio, "max_client_slots": sessions + 100,
                         "websocket_ping_timeout": 60000, "graceful_termination_timeout": 2000},
                "socketio": {"heartbeat_timeout": 60000, "reconnect_timeout": 60000,
                             "poll_timeout": 0, "init_timeout": 60000,
                             "session_timeout": 600000, "transports": ["websocket"]},
                "clients": {
                    "actions": {"reply": [{"action": "action.send_event", "args": null}]},
                    "hooks": {"join": [{"hook": "pubsub.subscribe", "args": "public"}]}
                },
                "pubsub": {"channels": {"bench": {"privilege": "public", "timeout": 0}}},
                "api": {"port": api, "max_body_size": 65536},
                "monitor": {"port": mon, "figures": figures},
                "log": {"dir": dir.path().join("log").to_str().unwrap(),
                        "console_level": "warning", "file_level": "none"}
            }),
        );
        let path = dir.path().join("hive.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
        let mut cmd = if pin {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", env!("CARGO_BIN_EXE_hive")]);
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_hive"))
        };
        let child = cmd
            .arg("--config")
            .arg(&path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .spawn()
            .expect("the hive binary");
        let ip = [127, 0, 0, 1];
        let mut h = Hive {
            child,
            sio: SocketAddr::from((ip, sio)),
            api: SocketAddr::from((ip, api)),
            _dir: dir,
        };
        wait_listening(&mut h.child, "hive", &[h.sio, h.api]);
        h
    }

    /// Run time of all the process's threads so far (schedstat, ns precision).
    fn cpu(&self) -> Duration {
        let mut ns = 0u64;
        if let Ok(dir) = std::fs::read_dir(format!("/proc/{}/task", self.child.id())) {
            for t in dir.flatten() {
                let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
                ns += s
                    .split_whitespace()
                    .next()
                    .and_then(|x| x.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
        Duration::from_nanos(ns)
    }

    fn stop(mut self) {
        stop_child(&mut self.child);
    }
}

/// One HTTP/1.1 request over a fresh connection; (status, body).
async fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    (status, rest.to_string())
}

/// Commands to one session task.
enum Cmd {
    /// Make this many echo round trips, then report.
    Echo(usize, tokio::sync::oneshot::Sender<()>),
}

/// One session: joins the room, counts received events in `received`, and makes echo round
/// trips when told.
async fn session(
    addr: SocketAddr,
    received: Arc<AtomicU64>,
    ready: tokio::sync::mpsc::Sender<()>,
    mut cmds: tokio::sync::mpsc::Receiver<Cmd>,
) {
    let mut ws = load::open(addr).await.expect("session");
    let join = format!(r#"5:::{{"name":"join","args":["{ROOM}"]}}"#);
    // `1::`, then join.
    loop {
        let f = ws.read_frame().await.expect("1::");
        if f.opcode == OpCode::Text && f.payload.starts_with(b"1:") {
            break;
        }
    }
    ws.write_frame(Frame::text(Payload::Owned(join.into_bytes())))
        .await
        .unwrap();
    ready.send(()).await.unwrap();
    let mut pending: Option<(usize, tokio::sync::oneshot::Sender<()>)> = None;
    let echo = br#"5:::{"name":"echo","args":[1]}"#;
    loop {
        tokio::select! {
            c = cmds.recv(), if pending.is_none() => match c {
                Some(Cmd::Echo(n, done)) => {
                    if n == 0 {
                        let _ = done.send(());
                    } else {
                        ws.write_frame(Frame::text(Payload::Borrowed(echo))).await.unwrap();
                        pending = Some((n, done));
                    }
                }
                None => return,
            },
            f = ws.read_frame() => {
                let Ok(f) = f else { return };
                if f.opcode != OpCode::Text {
                    continue;
                }
                let p: &[u8] = &f.payload;
                if p.starts_with(b"2:") {
                    ws.write_frame(Frame::text(Payload::Borrowed(b"2::"))).await.unwrap();
                } else if p.starts_with(b"5:") {
                    if p.windows(6).any(|w| w == b"\"echo\"") {
                        if let Some((n, done)) = pending.take() {
                            if n > 1 {
                                ws.write_frame(Frame::text(Payload::Borrowed(echo))).await.unwrap();
                                pending = Some((n - 1, done));
                            } else {
                                let _ = done.send(());
                            }
                        }
                    } else {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
struct Run {
    figures: bool,
    /// Server CPU per echo round trip (µs).
    echo_us: f64,
    /// Server CPU per delivery (µs).
    dlv_us: f64,
    load: f64,
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

async fn run(o: &Opts, figures: bool) -> Run {
    let h = Hive::start(figures, o.sessions, o.pin);
    let received = Arc::new(AtomicU64::new(0));
    let (ready_tx, mut ready) = tokio::sync::mpsc::channel(o.sessions);
    let mut cmds = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..o.sessions {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        cmds.push(tx);
        tasks.push(tokio::spawn(session(
            h.sio,
            Arc::clone(&received),
            ready_tx.clone(),
            rx,
        )));
    }
    for _ in 0..o.sessions {
        ready.recv().await.unwrap();
    }
    // Every session subscribed.
    let path = format!("/api/{HASH}/pubsub/subscribe/{ROOM}");
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, body) = request(h.api, "GET", &path, b"").await;
        let n = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["subscribed_clients"].as_u64());
        if s == 200 && n == Some(o.sessions as u64) {
            break;
        }
        assert!(Instant::now() < end, "not all joined: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let load = loadavg();

    // 1. Echo round trips.
    let per = o.echoes / o.echoers;
    let c0 = h.cpu();
    let mut dones = Vec::new();
    for c in cmds.iter().take(o.echoers) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        c.send(Cmd::Echo(per, tx)).await.unwrap();
        dones.push(rx);
    }
    for d in dones {
        d.await.unwrap();
    }
    let echo_cpu = h.cpu() - c0;
    let echoes = per * o.echoers;

    // 2. Deliveries: publishes through the API, every session receives every one.
    let body = json!({"action": "reply", "args": {"name": "tick", "args": [1, 2]}}).to_string();
    let ppath = format!("/api/{HASH}/pubsub/action/{ROOM}");
    let want = (o.publishes * o.sessions) as u64;
    let c0 = h.cpu();
    let end = Instant::now() + Duration::from_secs(120);
    for k in 0..o.publishes {
        // Flow control: at most WINDOW publishes not yet received by everyone, well under the
        // connection queue's 256, so that no session is dropped as a slow consumer.
        let floor = k.saturating_sub(WINDOW) * o.sessions;
        while received.load(Ordering::Relaxed) < floor as u64 {
            assert!(Instant::now() < end, "lost deliveries");
            tokio::task::yield_now().await;
        }
        let (s, _) = request(h.api, "POST", &ppath, body.as_bytes()).await;
        assert_eq!(s, 200);
    }
    while received.load(Ordering::Relaxed) < want {
        assert!(Instant::now() < end, "lost deliveries");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let dlv_cpu = h.cpu() - c0;
    drop(cmds);
    for t in tasks {
        t.abort();
    }
    h.stop();
    Run {
        figures,
        echo_us: echo_cpu.as_secs_f64() * 1e6 / echoes as f64,
        dlv_us: dlv_cpu.as_secs_f64() * 1e6 / want as f64,
        load,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let o = opts();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "figures_overhead: {} pairs, {} sessions, {} echo round trips by {} sessions, {} publishes x {} subscribers",
        o.pairs, o.sessions, o.echoes, o.echoers, o.publishes, o.sessions
    );
    println!("| pair | figures | µs CPU / echo | µs CPU / delivery | load avg |");
    println!("|---|---|---|---|---|");
    let mut pairs: Vec<(Run, Run)> = Vec::new();
    rt.block_on(async {
        for p in 0..o.pairs {
            let order = if p % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            let mut on = None;
            let mut off = None;
            for f in order {
                let r = run(&o, f).await;
                println!(
                    "| {} | {} | {:.2} | {:.3} | {:.2} |",
                    p + 1,
                    if f { "on" } else { "off" },
                    r.echo_us,
                    r.dlv_us,
                    r.load
                );
                if f {
                    on = Some(r);
                } else {
                    off = Some(r);
                }
            }
            pairs.push((on.unwrap(), off.unwrap()));
        }
    });
    let ratio = |f: &dyn Fn(&Run) -> f64| -> Vec<f64> {
        pairs
            .iter()
            .map(|(on, off)| (f(on) / f(off) - 1.0) * 100.0)
            .collect()
    };
    let echo = ratio(&|r| r.echo_us);
    let dlv = ratio(&|r| r.dlv_us);
    let span = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{lo:+.1}% .. {hi:+.1}%")
    };
    let med = |f: &dyn Fn(&Run) -> f64, on: bool| {
        median(
            pairs
                .iter()
                .map(|(a, b)| f(if on { a } else { b }))
                .collect(),
        )
    };
    debug_assert!(pairs.iter().all(|(a, b)| a.figures && !b.figures));
    println!();
    println!(
        "| per | figures on (median) | figures off (median) | on/off - 1, median of pairs | spread (pairs) |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| echo round trip | {:.2} µs | {:.2} µs | {:+.1}% | {} |",
        med(&|r| r.echo_us, true),
        med(&|r| r.echo_us, false),
        median(echo.clone()),
        span(&echo)
    );
    println!(
        "| delivery | {:.3} µs | {:.3} µs | {:+.1}% | {} |",
        med(&|r| r.dlv_us, true),
        med(&|r| r.dlv_us, false),
        median(dlv.clone()),
        span(&dlv)
    );
}
