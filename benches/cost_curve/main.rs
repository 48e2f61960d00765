//! The cost curve: what a session costs as the number of sessions grows, for the release `hive`
//! binary (Socket.IO 0.9 over WebSocket) and the Node reference (npm `socket.io@0.9.19`,
//! `benches/load/reference_server.js`), each a fresh process per count. Per count: server RSS per
//! session, time to connect all, server CPU per idle session per second (heartbeats every 25 s on
//! both), server CPU per echo round trip and per fan-out delivery. Writes CSV, JSON and an SVG
//! plot, and projects 100k and 1M sessions per node from the measured slopes.
//!
//! Run: `cargo bench --bench cost_curve -- [--counts 1000,2000,5000,10000,max] [--idle-secs 30]
//! [--echoes 20000] [--deliveries 200000] [--rate 40000] [--only hive|node] [--poll-timeout MS]
//! [--out benches/cost_curve]` (see benches/README.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

#[path = "../support/util.rs"]
mod util;

#[allow(dead_code)]
#[path = "../fanout_e2e/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "../fanout_e2e/target.rs"]
mod target;

mod client;
mod plot;
mod project;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use util::{free_port, merge};

/// Sessions opened before the measured ones and kept open (one-off costs are not charged).
const WARMUP: usize = 100;
/// Echoing sessions in the echo phase.
const ECHOERS: usize = 32;
/// Loopback source addresses the members connect from (127.0.0.1 to 127.0.0.8).
const SOURCES: usize = 8;
/// Descriptors each process keeps free beside the sessions.
const FD_MARGIN: u64 = 1000;
/// The heartbeat period of both servers (Node's socket.io 0.9 default `heartbeat interval`).
pub const HEARTBEAT_S: u64 = 25;

struct Opts {
    counts: Vec<usize>,
    idle_secs: u64,
    echoes: u64,
    deliveries: u64,
    rate: u64,
    kinds: Vec<Kind>,
    poll_timeout: u64,
    out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hive,
    Node,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Hive => "hive",
            Kind::Node => "node",
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn opts(max: usize) -> Opts {
    let mut o = Opts {
        counts: vec![1000, 2000, 5000, 10_000, max],
        idle_secs: 30,
        echoes: 20_000,
        deliveries: 200_000,
        rate: 40_000,
        kinds: vec![Kind::Hive, Kind::Node],
        poll_timeout: 0,
        out: root().join("benches/cost_curve"),
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--counts" => {
                o.counts = v
                    .split(',')
                    .map(|c| {
                        if c == "max" {
                            max
                        } else {
                            c.parse().expect("--counts N,N,..,max")
                        }
                    })
                    .collect();
            }
            "--idle-secs" => o.idle_secs = v.parse().expect("--idle-secs S"),
            "--echoes" => o.echoes = v.parse().expect("--echoes N"),
            "--deliveries" => o.deliveries = v.parse().expect("--deliveries N"),
            "--rate" => o.rate = v.parse().expect("--rate DELIVERIES_PER_S"),
            "--only" => {
                o.kinds = match v.as_str() {
                    "hive" => vec![Kind::Hive],
                    "node" => vec![Kind::Node],
                    _ => panic!("--only hive|node"),
                }
            }
            "--poll-timeout" => o.poll_timeout = v.parse().expect("--poll-timeout MS"),
            "--out" => o.out = PathBuf::from(v),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// A server under test, its own process.
struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(kind: Kind, sessions: usize, poll_timeout: u64) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = match kind {
            Kind::Hive => {
                let text =
                    std::fs::read_to_string(root().join("benches/load/hive_bench.json")).unwrap();
                let mut cfg: Value = serde_json::from_str(&text).unwrap();
                merge(
                    &mut cfg,
                    &json!({
                        "hive": {"port": port, "max_client_slots": sessions + 1000,
                                 "allowed_origins": ["http://localhost"]},
                        // The keep-alive interval: 25 s, as Node's default heartbeat interval.
                        "socketio": {"heartbeat_timeout": HEARTBEAT_S * 1000,
                                     "poll_timeout": poll_timeout, "init_timeout": 60000,
                                     "transports": ["websocket"]},
                        "api": {"port": 0}, "monitor": {"port": 0},
                        "log": {"dir": dir.path().join("log").to_str().unwrap(),
                                "console_level": "warning", "file_level": "none"}
                    }),
                );
                let path = dir.path().join("hive.json");
                std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
                Command::new(env!("CARGO_BIN_EXE_hive"))
                    .arg("--config")
                    .arg(&path)
                    .current_dir(dir.path())
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("the hive binary")
            }
            // heartbeat interval 25 s, heartbeat timeout 60 s (reference_server.js).
            Kind::Node => Command::new("node")
                .arg(root().join("benches/load/reference_server.js"))
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .expect("node (npm socket.io@0.9.19 in node_modules)"),
        };
        let mut s = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            _dir: dir,
        };
        let end = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(s.addr).is_err() {
            if let Some(st) = s.child.try_wait().unwrap() {
                panic!("{} exited at start-up: {st}", kind.name());
            }
            assert!(Instant::now() < end, "{} did not start", kind.name());
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    fn cpu(&self) -> f64 {
        target::cpu_of(self.child.id()).as_secs_f64()
    }

    /// CPU seconds of the server's live threads (`/proc/<pid>/task/*/schedstat`, ns): finer than
    /// the 10 ms ticks of `/proc/<pid>/stat`.
    fn cpu_fine(&self) -> f64 {
        let dir = format!("/proc/{}/task", self.child.id());
        let mut ns = 0u64;
        for t in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            ns += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
        ns as f64 / 1e9
    }

    /// Both CPU readings: (`/proc/<pid>/stat`, schedstat).
    fn cpu_both(&self) -> (f64, f64) {
        (self.cpu(), self.cpu_fine())
    }

    /// CPU seconds since `start` (from [`Server::cpu_both`]): the fine reading, unless threads
    /// that ended took their time with them (the coarse reading is then more than one 10 ms tick
    /// per 100 ms above it) and the coarse one is used.
    fn cpu_since(&self, start: (f64, f64)) -> f64 {
        let (coarse, fine) = self.cpu_both();
        let (c, f) = (coarse - start.0, (fine - start.1).max(0.0));
        if c - f > 0.02 + c * 0.1 { c } else { f }
    }

    fn rss(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }

    /// RSS once it has stopped moving (bounded wait).
    async fn settled_rss(&self) -> u64 {
        let mut last = self.rss();
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = self.rss();
            if now.abs_diff(last) < 64 * 1024 {
                return now;
            }
            last = now;
        }
        last
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let end = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// One measured point of the curve.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Point {
    pub server: &'static str,
    pub sessions: usize,
    /// Sessions that failed to connect or never received a probe (0 in a clean run).
    pub failed: usize,
    /// (settled RSS after - before) / sessions connected.
    pub rss_bytes_per_session: f64,
    /// Server RSS with every session open, bytes.
    pub rss_bytes: u64,
    /// Time to open and join every session, ms (256 handshakes in flight at most).
    pub connect_all_ms: f64,
    /// Server CPU over the idle window / (sessions x window), µs per session per second.
    pub idle_us_per_session_s: f64,
    /// Server CPU share of one core over the idle window (the heartbeats of all sessions).
    pub idle_cores: f64,
    /// Heartbeats the sessions answered during the idle window.
    pub heartbeats: u64,
    /// Server CPU per echo round trip, µs (idle cost subtracted).
    pub echo_us_per_op: f64,
    pub echo_rtrips_per_s: f64,
    /// Server CPU per fan-out delivery, µs (idle cost subtracted).
    pub fanout_us_per_delivery: f64,
    pub fanout_deliveries_per_s: f64,
    /// Deliveries that did not arrive within the drain.
    pub fanout_lost: u64,
    /// `/proc/loadavg` (1 min) at the end of the point.
    pub loadavg: f64,
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Open `n` members; returns their tasks and how many failed, once every one has sent its join
/// or failed.
async fn open_members(
    addr: SocketAddr,
    n: usize,
    counts: &Arc<client::Counts>,
) -> (Vec<tokio::task::JoinHandle<()>>, usize) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = Arc::clone(&gate).acquire_owned().await.unwrap();
        // Spread over SOURCES loopback addresses: past about half of one address's ephemeral
        // ports, each connect() first scans the used half (Linux prefers even ports for
        // connect), and connect-all would measure the client's kernel, not the server.
        let src = std::net::IpAddr::from([127, 0, 0, 1 + (i % SOURCES) as u8]);
        tasks.push(tokio::spawn(client::member(
            addr,
            src,
            Arc::clone(counts),
            tx.clone(),
            permit,
        )));
    }
    let mut failed = 0;
    for _ in 0..n {
        match rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("session failed: {e}");
                }
            }
            None => break,
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {n} sessions failed to connect");
    }
    (tasks, failed)
}

async fn measure(kind: Kind, n: usize, o: &Opts) -> Point {
    let srv = Server::start(kind, n + WARMUP + ECHOERS + 10, o.poll_timeout);
    let counts = Arc::new(client::Counts::default());
    let (mut held, warm_failed) = open_members(srv.addr, WARMUP, &counts).await;
    let before = srv.settled_rss().await;
    let t0 = Instant::now();
    let (more, failed) = open_members(srv.addr, n, &counts).await;
    held.extend(more);
    let connect_all_ms = t0.elapsed().as_secs_f64() * 1e3;
    let after = srv.settled_rss().await;
    let connected = n - failed;

    // Prove every join with a delivery: publish probes until every member got one (60 s at
    // most; the members that never got one are counted as not joined).
    let open = (n + WARMUP - failed - warm_failed) as u64;
    let mut publisher = client::Publisher::open(srv.addr).await.unwrap();
    let end = Instant::now() + Duration::from_secs(60);
    let mut seq = 0;
    while counts.reached.load(Ordering::Relaxed) < open && Instant::now() < end {
        publisher.publish(seq).await.unwrap();
        seq += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(publisher);
    let members = counts.reached.load(Ordering::Relaxed);
    if members < open {
        eprintln!(
            "{} of {open} open sessions never received a probe",
            open - members
        );
    }

    // Idle: only heartbeats (every 25 s on both servers; the window covers at least one).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let hb0 = counts.heartbeats.load(Ordering::Relaxed);
    let (c0, t0) = (srv.cpu_both(), Instant::now());
    tokio::time::sleep(Duration::from_secs(o.idle_secs)).await;
    let (idle_cpu, idle_t) = (srv.cpu_since(c0), t0.elapsed().as_secs_f64());
    let heartbeats = counts.heartbeats.load(Ordering::Relaxed) - hb0;
    let idle_rate = idle_cpu / idle_t;

    // Echo: closed loops on ECHOERS extra sessions.
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let per = o.echoes.div_ceil(ECHOERS as u64);
    let echoers: Vec<_> = (0..ECHOERS)
        .map(|_| tokio::spawn(client::echoer(srv.addr, per, go_rx.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (c0, t0) = (srv.cpu_both(), Instant::now());
    go_tx.send(true).unwrap();
    let mut trips = 0;
    for e in echoers {
        trips += e.await.unwrap();
    }
    let (echo_cpu, echo_t) = (srv.cpu_since(c0), t0.elapsed().as_secs_f64());

    // Fan-out: publishes paced to `rate` deliveries/s, drained.
    let mut publisher = client::Publisher::open(srv.addr).await.unwrap();
    let publishes = o.deliveries.div_ceil(members.max(1)).max(5);
    let gap = Duration::from_secs_f64(members as f64 / o.rate as f64);
    let want = counts.received.load(Ordering::Relaxed) + publishes * members;
    let (c0, t0) = (srv.cpu_both(), Instant::now());
    let mut next = tokio::time::Instant::now();
    for s in 0..publishes {
        publisher.publish(1_000_000 + s).await.unwrap();
        next += gap;
        tokio::time::sleep_until(next).await;
    }
    let end = Instant::now() + Duration::from_secs(60);
    while counts.received.load(Ordering::Relaxed) < want && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (fan_cpu, fan_t) = (srv.cpu_since(c0), t0.elapsed().as_secs_f64());
    let got = counts.received.load(Ordering::Relaxed) + publishes * members - want;
    drop(publisher);

    for h in held {
        h.abort();
    }
    srv.stop();
    let p = Point {
        server: kind.name(),
        sessions: n,
        failed: failed + (open - members) as usize,
        rss_bytes_per_session: after.saturating_sub(before) as f64 / connected.max(1) as f64,
        rss_bytes: after,
        connect_all_ms,
        idle_us_per_session_s: idle_cpu * 1e6 / (members as f64 * idle_t),
        idle_cores: idle_rate,
        heartbeats,
        echo_us_per_op: (echo_cpu - idle_rate * echo_t).max(0.0) * 1e6 / trips.max(1) as f64,
        echo_rtrips_per_s: trips as f64 / echo_t,
        fanout_us_per_delivery: (fan_cpu - idle_rate * fan_t).max(0.0) * 1e6 / got.max(1) as f64,
        fanout_deliveries_per_s: got as f64 / fan_t,
        fanout_lost: (publishes * members).saturating_sub(got),
        loadavg: loadavg(),
    };
    println!(
        "{:5} {:6} sessions ({} failed): {:6.0} B/session, connect all {:7.0} ms, idle {:6.3} µs/session/s \
         ({:.2}% of a core, {} heartbeats), echo {:5.2} µs/op ({:.0}/s), fan-out {:5.2} µs/delivery \
         ({:.0}/s, lost {}), load {:.1}",
        p.server,
        p.sessions,
        p.failed,
        p.rss_bytes_per_session,
        p.connect_all_ms,
        p.idle_us_per_session_s,
        p.idle_cores * 100.0,
        p.heartbeats,
        p.echo_us_per_op,
        p.echo_rtrips_per_s,
        p.fanout_us_per_delivery,
        p.fanout_deliveries_per_s,
        p.fanout_lost,
        p.loadavg
    );
    p
}

fn main() {
    let (_, nofile) = hive::sys::raise_nofile_limit().unwrap_or((0, 1024));
    let max = (nofile.saturating_sub(FD_MARGIN) / 1000 * 1000) as usize;
    let o = opts(max);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ports = project::port_range();
    println!(
        "cost curve: open-files limit {nofile} per process (cannot be raised here): largest count \
         {max} (limit - {FD_MARGIN} for listeners, echoers and the rest); {cores} cores; \
         ephemeral ports {}..{} ({} per destination); heartbeats every {HEARTBEAT_S} s on both \
         servers; idle window {} s; load {:.1}",
        ports.0,
        ports.1,
        ports.1 - ports.0 + 1,
        o.idle_secs,
        loadavg()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut points = Vec::new();
    for &n in &o.counts {
        // Alternate the servers at each count, so slow drifts of the machine hit both.
        for &k in &o.kinds {
            points.push(rt.block_on(measure(k, n, &o)));
        }
    }
    std::fs::create_dir_all(&o.out).unwrap();
    let mut csv = String::from(
        "server,sessions,failed,rss_bytes_per_session,rss_bytes,connect_all_ms,idle_us_per_session_s,\
         idle_cores,heartbeats,echo_us_per_op,echo_rtrips_per_s,fanout_us_per_delivery,\
         fanout_deliveries_per_s,fanout_lost,loadavg\n",
    );
    for p in &points {
        csv.push_str(&format!(
            "{},{},{},{:.0},{},{:.0},{:.4},{:.5},{},{:.3},{:.0},{:.3},{:.0},{},{:.2}\n",
            p.server,
            p.sessions,
            p.failed,
            p.rss_bytes_per_session,
            p.rss_bytes,
            p.connect_all_ms,
            p.idle_us_per_session_s,
            p.idle_cores,
            p.heartbeats,
            p.echo_us_per_op,
            p.echo_rtrips_per_s,
            p.fanout_us_per_delivery,
            p.fanout_deliveries_per_s,
            p.fanout_lost,
            p.loadavg
        ));
    }
    let proj = project::report(&points, nofile, ports, HEARTBEAT_S);
    println!("\n{}", proj.text);
    let doc = json!({
        "nofile_limit": nofile, "cores": cores, "heartbeat_s": HEARTBEAT_S,
        "idle_secs": o.idle_secs, "poll_timeout_ms": o.poll_timeout,
        "ephemeral_ports": [ports.0, ports.1],
        "points": points, "projection": proj.json,
    });
    let files = [
        ("cost_curve.csv", csv),
        (
            "cost_curve.json",
            serde_json::to_string_pretty(&doc).unwrap(),
        ),
        ("cost_curve.svg", plot::svg(&points, max)),
    ];
    for (name, body) in files {
        let path = o.out.join(name);
        std::fs::write(&path, body).unwrap();
        println!("wrote {}", path.display());
    }
}
