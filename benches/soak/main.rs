//! Soak: sessions connect, talk and leave in every way a 0.9 client leaves, cycle after cycle,
//! against a release `hive`; live actors, file descriptors, channels, sessions and RSS are sampled
//! every second (monitor `/actors`, `/channels`, `/proc/<pid>`) and plotted (SVG). Each cycle is a
//! churn phase then an idle phase; at the end of every idle phase actors, descriptors, channels
//! and sessions must be back to their idle figures exactly, and after warm-up (the first cycle)
//! RSS must stay within 5% from one cycle to the next.
//!
//! Ways of leaving: WebSocket clean close (`0::` + close frame), WebSocket dropped TCP, XHR clean
//! (`?disconnect`), XHR abandoned poll (the client stops polling), a handshake never followed by
//! a transport; and the modern protocol (Engine.IO 4 / Socket.IO 5): a WebSocket closed cleanly,
//! a polling session abandoned.
//!
//! Run: `cargo build --release --bin hive && cargo bench --bench soak -- [--minutes 20]
//! [--cycle 60] [--idle 20] [--rate 40] [--out target/soak]`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

#[path = "../support/util.rs"]
mod util;

mod client;
mod plot;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use util::free_port;

use serde_json::{Value, json};

const MON: &str = "soakmonitor1";

struct Opts {
    minutes: f64,
    cycle: u64,
    idle: u64,
    rate: u64,
    out: PathBuf,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Opts {
        minutes: get("--minutes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(20.0),
        cycle: get("--cycle").and_then(|v| v.parse().ok()).unwrap_or(60),
        idle: get("--idle").and_then(|v| v.parse().ok()).unwrap_or(20),
        rate: get("--rate").and_then(|v| v.parse().ok()).unwrap_or(40),
        out: get("--out")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/soak")),
    }
}

/// One sample of the node.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub t: f64,
    pub actors: f64,
    pub fds: f64,
    pub channels: f64,
    pub sessions: f64,
    pub rss_mb: f64,
}

async fn sample(mon: SocketAddr, pid: u32, t: f64) -> Sample {
    let actors = client::get_json(mon, &format!("/monitor/{MON}/actors?limit=1")).await["total"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let channels = client::get_json(mon, &format!("/monitor/{MON}/channels")).await["count"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let sessions =
        client::get_json(mon, &format!("/monitor/{MON}/hive.router.current_clients")).await;
    let sessions = find_number(&sessions, "current_clients").unwrap_or(f64::NAN);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as f64)
        .unwrap_or(f64::NAN);
    let rss_kb = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .unwrap_or(f64::NAN);
    Sample {
        t,
        actors,
        fds,
        channels,
        sessions,
        rss_mb: rss_kb / 1024.0,
    }
}

/// The first number under a key named `key` anywhere in `v`.
fn find_number(v: &Value, key: &str) -> Option<f64> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            if k == key {
                x.as_f64()
            } else {
                find_number(x, key)
            }
        }),
        _ => None,
    }
}

fn main() {
    let o = opts();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(o));
}

async fn run(o: Opts) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(&o.out).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (sio, api, mon) = (free_port(), free_port(), free_port());
    let text = std::fs::read_to_string(root.join("config/test.json")).unwrap();
    let mut c: Value = serde_json::from_str(&text).unwrap();
    c["hive"]["port"] = json!(sio);
    c["hive"]["max_client_slots"] = json!(20_000);
    c["socketio"] = json!({"heartbeat_timeout": 5000, "reconnect_timeout": 10000, "poll_timeout": 10,
                           "init_timeout": 2000, "session_timeout": 30000,
                           "ping_interval": 2000, "ping_timeout": 2000, "connect_timeout": 2000});
    c["api"]["port"] = json!(api);
    c["monitor"] = json!({"port": mon, "hash": MON});
    c["log"] = json!({"dir": dir.path().join("log").to_str().unwrap(), "console_level": "error", "file_level": "none"});
    let cfg = dir.path().join("soak.json");
    std::fs::write(&cfg, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let mut hive = Command::new(target.join("release/hive"))
        .arg("--config")
        .arg(&cfg)
        .stdout(Stdio::null())
        .spawn()
        .expect("target/release/hive (cargo build --release --bin hive)");
    let pid = hive.id();
    let sio = SocketAddr::from(([127, 0, 0, 1], sio));
    let mon = SocketAddr::from(([127, 0, 0, 1], mon));
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(mon).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t0 = Instant::now();
    let idle0 = sample(mon, pid, 0.0).await;
    println!(
        "soak: {} min, cycles of {} s ({} s churn at {} sessions/s, {} s idle); idle: {} actors, {} fds, {} channels, {:.1} MB RSS",
        o.minutes,
        o.cycle,
        o.cycle - o.idle,
        o.rate,
        o.idle,
        idle0.actors,
        idle0.fds,
        idle0.channels,
        idle0.rss_mb
    );
    let samples = Arc::new(std::sync::Mutex::new(vec![idle0]));
    let sampler = {
        let samples = samples.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let s = sample(mon, pid, t0.elapsed().as_secs_f64()).await;
                samples.lock().unwrap().push(s);
            }
        })
    };
    let cycles = ((o.minutes * 60.0) / o.cycle as f64).ceil().max(1.0) as usize;
    let stats = Arc::new(client::Stats::default());
    let mut ends: Vec<(usize, Sample)> = Vec::new();
    let mut failures = Vec::new();
    let next = Arc::new(AtomicU64::new(0));
    for cycle in 0..cycles {
        let churn_end = Instant::now() + Duration::from_secs(o.cycle - o.idle);
        let mut tasks = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / o.rate.max(1)));
        while Instant::now() < churn_end {
            tick.tick().await;
            let n = next.fetch_add(1, Ordering::Relaxed);
            let stats = stats.clone();
            tasks.push(tokio::spawn(
                async move { client::one(sio, n, &stats).await },
            ));
        }
        for t in tasks {
            let _ = t.await;
        }
        // Idle: everything left by the clients must be reaped (abandoned polls and handshakes by
        // the heartbeat and init timeouts, channels by their timeout).
        tokio::time::sleep(Duration::from_secs(o.idle)).await;
        // The monitor requests of a sample are connections too (and the per-second sampler runs
        // beside this one): take the smallest of five samples, 300 ms apart, so a connection of
        // the sampling itself is not counted; a leak is in all five.
        let mut s = sample(mon, pid, t0.elapsed().as_secs_f64()).await;
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let x = sample(mon, pid, t0.elapsed().as_secs_f64()).await;
            s.actors = s.actors.min(x.actors);
            s.fds = s.fds.min(x.fds);
            s.channels = s.channels.min(x.channels);
            s.sessions = s.sessions.min(x.sessions);
            s.rss_mb = s.rss_mb.min(x.rss_mb);
        }
        println!(
            "cycle {cycle}: {} actors, {} fds, {} channels, {} sessions, {:.1} MB RSS (sessions so far {})",
            s.actors,
            s.fds,
            s.channels,
            s.sessions,
            s.rss_mb,
            next.load(Ordering::Relaxed)
        );
        for (what, got, want) in [
            ("actors", s.actors, idle0.actors),
            ("fds", s.fds, idle0.fds),
            ("channels", s.channels, idle0.channels),
            ("sessions", s.sessions, idle0.sessions),
        ] {
            if got != want {
                failures.push(format!("cycle {cycle}: {what} {got}, idle {want}"));
            }
        }
        if cycle >= 2 {
            let prev = ends.last().unwrap().1.rss_mb;
            let growth = (s.rss_mb - prev) / prev * 100.0;
            if growth > 5.0 {
                failures.push(format!(
                    "cycle {cycle}: RSS {:.1} MB, {growth:.1}% over the previous cycle",
                    s.rss_mb
                ));
            }
        }
        ends.push((cycle, s));
    }
    sampler.abort();
    let samples = samples.lock().unwrap().clone();
    let svg = plot::svg(&samples, &ends.iter().map(|e| e.1.t).collect::<Vec<_>>());
    let svg_path = o.out.join("soak.svg");
    std::fs::write(&svg_path, svg).unwrap();
    let csv: String = std::iter::once("t,actors,fds,channels,sessions,rss_mb\n".to_string())
        .chain(samples.iter().map(|s| {
            format!(
                "{:.1},{},{},{},{},{:.2}\n",
                s.t, s.actors, s.fds, s.channels, s.sessions, s.rss_mb
            )
        }))
        .collect();
    std::fs::write(o.out.join("soak.csv"), csv).unwrap();
    println!("{}", stats.summary());
    let rss: Vec<String> = ends
        .iter()
        .map(|(c, s)| format!("{c}: {:.1}", s.rss_mb))
        .collect();
    println!("RSS at the end of each idle phase (MB): {}", rss.join(", "));
    println!("plot: {} (csv beside it)", svg_path.display());
    let _ = hive.kill();
    let _ = hive.wait();
    if failures.is_empty() {
        println!(
            "PASS: actors, fds and channels back to idle after every cycle; RSS within 5% cycle to cycle after warm-up"
        );
    } else {
        println!("FAIL:\n{}", failures.join("\n"));
        std::process::exit(1);
    }
}
