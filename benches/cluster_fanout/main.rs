//! Cluster fan-out benchmark (issue 16): the same websocket subscribers of one channel and the same
//! offered publish rates, in one run, against
//! - `single`: one release `hive` node without a `cluster` section;
//! - `backplane`: one node with the Redis backplane (a `redis-server` started here);
//! - `three`: three nodes of one cluster on that Redis, subscribers spread over them, publishes
//!   sent to each node in turn;
//! - `rc3` (with `--redis-cluster`): the three nodes over a 3-master Redis Cluster.
//!
//! For each: deliveries/s, publish-to-receive p50/p99 (the publisher stamps each event; the stamp
//! travels through the API, Redis and back), the servers' CPU per delivery (every hive process,
//! from `/proc`), Redis's CPU per delivery, and the Redis commands per publish (`INFO
//! commandstats` before and after the measured window, over the publishes made in it). Then the
//! sustained maximum of `single` and `backplane`: rates are raised until a step no longer
//! delivers 97% of what it offers within a p99 of 250 ms.
//!
//! Run: `cargo bench --bench cluster_fanout -- [--sessions 2000] [--rates 20,40] [--max-rates
//! 60,80,100,130,160,200] [--secs 5] [--only single,backplane,three,rc3] [--redis-cluster]` (see
//! benches/README.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

#[path = "../support/util.rs"]
mod util;

#[path = "../fanout_e2e/load.rs"]
mod load;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use load::{Stats, now_us};
use serde_json::{Value, json};
use util::{cpu_of, free_port, merge, request, stop_child, wait_listening};

const ROOM: &str = "bench.room";
const HASH: &str = "abcde12345";

struct Opts {
    sessions: usize,
    rates: Vec<u64>,
    max_rates: Vec<u64>,
    secs: u64,
    modes: Vec<String>,
}

fn list(v: &str) -> Vec<u64> {
    v.split(',')
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().expect("a,b,c"))
        .collect()
}

fn opts() -> Opts {
    let mut o = Opts {
        sessions: 2000,
        rates: vec![20, 40],
        max_rates: vec![60, 80, 100, 130, 160, 200],
        secs: 5,
        modes: vec!["single".into(), "backplane".into(), "three".into()],
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--sessions" => o.sessions = v.parse().expect("--sessions N"),
            "--rates" => o.rates = list(&v),
            "--max-rates" => o.max_rates = list(&v),
            "--secs" => o.secs = v.parse().expect("--secs S"),
            "--only" => o.modes = v.split(',').map(str::to_string).collect(),
            "--redis-cluster" => {
                o.modes.push("rc3".into());
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
    o
}

/// One measured step.
#[derive(Debug, Clone, Default)]
struct Step {
    publishes_per_s: u64,
    offered: f64,
    deliveries_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_us_per_delivery: f64,
    redis_us_per_delivery: f64,
    redis_ops_per_publish: f64,
    /// Redis commands per publish, by command.
    ops: BTreeMap<String, f64>,
    lost: u64,
}

impl Step {
    fn sustained(&self) -> bool {
        self.deliveries_per_s >= 0.97 * self.offered && self.p99_ms <= 250.0 && self.lost == 0
    }
}

/// A `redis-server` (or several, joined into a Redis Cluster) for the bench.
struct Redis {
    ports: Vec<u16>,
    children: Vec<Child>,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start(masters: usize) -> Redis {
        let dir = tempfile::tempdir().unwrap();
        let (mut ports, mut children) = (Vec::new(), Vec::new());
        for i in 0..masters {
            let port = free_port();
            let d = dir.path().join(format!("n{i}"));
            std::fs::create_dir_all(&d).unwrap();
            let mut cmd = Command::new("redis-server");
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(&d)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if masters > 1 {
                cmd.args(["--cluster-enabled", "yes"])
                    .args(["--cluster-port", &free_port().to_string()])
                    .args(["--cluster-config-file", "nodes.conf"]);
            }
            children.push(
                cmd.spawn()
                    .expect("redis-server (apt-get install redis-server)"),
            );
            ports.push(port);
        }
        let r = Redis {
            ports,
            children,
            _dir: dir,
        };
        for &p in &r.ports {
            let end = Instant::now() + Duration::from_secs(10);
            while r.cli(p, &["PING"]) != "PONG" {
                assert!(Instant::now() < end, "redis-server on {p} did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if masters > 1 {
            let seeds: Vec<String> = r.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
            let ok = Command::new("redis-cli")
                .args(["--cluster", "create"])
                .args(&seeds)
                .args(["--cluster-replicas", "0", "--cluster-yes"])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "redis-cli --cluster create failed");
            for &p in &r.ports {
                let end = Instant::now() + Duration::from_secs(30);
                while !r.cli(p, &["CLUSTER", "INFO"]).contains("cluster_state:ok") {
                    assert!(Instant::now() < end, "no cluster_state:ok on {p}");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        r
    }

    fn cli(&self, port: u16, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// The `redis` value of the `cluster` section.
    fn config(&self) -> Value {
        if self.ports.len() == 1 {
            json!(format!("redis://127.0.0.1:{}/0", self.ports[0]))
        } else {
            json!(
                self.ports
                    .iter()
                    .map(|p| format!("127.0.0.1:{p}"))
                    .collect::<Vec<_>>()
            )
        }
    }

    /// Calls per command so far, summed over every server (`INFO commandstats`).
    fn calls(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for &p in &self.ports {
            for l in self.cli(p, &["INFO", "commandstats"]).lines() {
                let Some((name, rest)) = l.strip_prefix("cmdstat_").and_then(|l| l.split_once(':'))
                else {
                    continue;
                };
                let calls = rest
                    .split_once("calls=")
                    .and_then(|(_, c)| c.split(',').next()?.parse::<u64>().ok())
                    .unwrap_or(0);
                *out.entry(name.to_string()).or_default() += calls;
            }
        }
        out
    }

    fn cpu(&self) -> Duration {
        self.children.iter().map(|c| cpu_of(c.id())).sum()
    }

    fn flush(&self) {
        for &p in &self.ports {
            let _ = self.cli(p, &["FLUSHALL"]);
            let _ = self.cli(p, &["CONFIG", "RESETSTAT"]);
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One release `hive` node.
struct Node {
    child: Child,
    sio: SocketAddr,
    api: SocketAddr,
    mon: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start(sessions: usize, cluster: Option<(Value, &str)>) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let (sio, api, mon) = (free_port(), free_port(), free_port());
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("config/test.json")).unwrap();
        let mut cfg: Value = serde_json::from_str(&text).unwrap();
        merge(
            &mut cfg,
            &json!({
                "hive": {"port": sio, "max_client_slots": sessions + 1000,
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
                "monitor": {"port": mon},
                "log": {"dir": dir.path().join("log").to_str().unwrap(),
                        "console_level": "warning", "file_level": "none"}
            }),
        );
        if let Some((redis, name)) = cluster {
            merge(
                &mut cfg,
                &json!({"cluster": {"name": "bench", "redis": redis, "node": name, "shards": 8}}),
            );
        }
        let path = dir.path().join("hive.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_hive"))
            .arg("--config")
            .arg(&path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .spawn()
            .expect("the hive binary");
        let ip = [127, 0, 0, 1];
        let (sio, api, mon) = (
            SocketAddr::from((ip, sio)),
            SocketAddr::from((ip, api)),
            SocketAddr::from((ip, mon)),
        );
        wait_listening(&mut child, "hive", &[sio, api]);
        Node {
            child,
            sio,
            api,
            mon,
            _dir: dir,
        }
    }

    fn stop(mut self) {
        stop_child(&mut self.child);
    }

    /// This node's subscribers of `room`.
    async fn count(&self, room: &str) -> u64 {
        let (s, body) = request(
            self.api,
            "GET",
            &format!("/api/{HASH}/pubsub/subscribe/{room}"),
            b"",
        )
        .await;
        if s != 200 {
            return 0;
        }
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["subscribed_clients"].as_u64())
            .unwrap_or(0)
    }

    async fn publish(&self, args: Value) -> u16 {
        let body = json!({"action": "reply", "args": {"name": "tick", "args": args}});
        request(
            self.api,
            "POST",
            &format!("/api/{HASH}/pubsub/action/{ROOM}"),
            body.to_string().as_bytes(),
        )
        .await
        .0
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn main() {
    let o = opts();
    if let Err(e) = hive::sys::raise_nofile_limit() {
        eprintln!("cannot raise the open-files limit: {e}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let redis = Redis::start(1);
    let rc = o.modes.iter().any(|m| m == "rc3").then(|| Redis::start(3));
    let mut results: Vec<(String, Vec<Step>, Vec<Step>)> = Vec::new();
    for mode in &o.modes {
        let (nodes, r) = match mode.as_str() {
            "single" => (1, None),
            "backplane" => (1, Some(&redis)),
            "three" => (3, Some(&redis)),
            "rc3" => (3, rc.as_ref()),
            other => panic!("unknown mode {other}"),
        };
        let (same, max) = rt.block_on(run(mode, nodes, r, &o));
        results.push((mode.clone(), same, max));
    }
    println!();
    println!(
        "{:<10} {:>6} {:>10} {:>12} {:>8} {:>8} {:>11} {:>11} {:>9}  redis ops/publish by command",
        "mode",
        "pub/s",
        "offered/s",
        "delivered/s",
        "p50 ms",
        "p99 ms",
        "hive µs/dlv",
        "redis µs/dlv",
        "ops/pub"
    );
    for (mode, same, max) in &results {
        for s in same.iter().chain(max) {
            let ops: Vec<String> = s
                .ops
                .iter()
                .filter(|(_, v)| **v >= 0.005)
                .map(|(k, v)| format!("{k} {v:.2}"))
                .collect();
            println!(
                "{:<10} {:>6} {:>10.0} {:>12.0} {:>8.2} {:>8.2} {:>11.3} {:>11.3} {:>9.2}  {}{}",
                mode,
                s.publishes_per_s,
                s.offered,
                s.deliveries_per_s,
                s.p50_ms,
                s.p99_ms,
                s.server_us_per_delivery,
                s.redis_us_per_delivery,
                s.redis_ops_per_publish,
                ops.join(", "),
                if s.sustained() {
                    ""
                } else {
                    "  (not sustained)"
                }
            );
        }
    }
    let base = results.iter().find(|r| r.0 == "single");
    if let Some((_, a, amax)) = base {
        println!("\nratios to `single` at the same offered rate:");
        for (mode, same, _) in results.iter().filter(|r| r.0 != "single") {
            for (x, b) in same.iter().zip(a) {
                println!(
                    "  {mode:<10} {:>4} pub/s: hive cpu/delivery {:.2}x (with redis {:.2}x), deliveries/s {:.2}x, p50 {:+.2} ms, p99 {:+.2} ms",
                    x.publishes_per_s,
                    x.server_us_per_delivery / b.server_us_per_delivery,
                    (x.server_us_per_delivery + x.redis_us_per_delivery) / b.server_us_per_delivery,
                    x.deliveries_per_s / b.deliveries_per_s,
                    x.p50_ms - b.p50_ms,
                    x.p99_ms - b.p99_ms
                );
            }
        }
        let best = |steps: &[Step]| {
            steps
                .iter()
                .filter(|s| s.sustained())
                .map(|s| s.deliveries_per_s)
                .fold(0.0, f64::max)
        };
        let a_max = best(amax).max(best(a));
        for (mode, same, max) in results.iter().filter(|r| r.0 == "backplane") {
            let b_max = best(max).max(best(same));
            println!(
                "\nsustained maximum (deliveries/s): single {a_max:.0}, {mode} {b_max:.0}: {:.2}x",
                b_max / a_max.max(1.0)
            );
        }
    }
}

async fn run(mode: &str, n: usize, redis: Option<&Redis>, o: &Opts) -> (Vec<Step>, Vec<Step>) {
    if let Some(r) = redis {
        r.flush();
    }
    let nodes: Vec<Node> = (0..n)
        .map(|i| {
            Node::start(
                o.sessions,
                redis.map(|r| (r.config(), ["a", "b", "c"][i % 3])),
            )
        })
        .collect();
    // A cluster node answers /health 200 once it reads the streams (sessions joined before
    // would miss publishes).
    for node in &nodes {
        let end = Instant::now() + Duration::from_secs(30);
        while request(node.mon, "GET", "/monitor/12345abcde/health", b"")
            .await
            .0
            != 200
        {
            assert!(Instant::now() < end, "[{mode}] /health never 200");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let nodes = Arc::new(nodes);
    let stats = Stats::new();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = Vec::with_capacity(o.sessions);
    for i in 0..o.sessions {
        let permit = Arc::clone(&gate).acquire_owned().await.unwrap();
        tasks.push(tokio::spawn(load::session(
            nodes[i % n].sio,
            ROOM.to_string(),
            i,
            Arc::clone(&stats),
            tx.clone(),
            permit,
        )));
    }
    let mut failed = 0;
    for _ in 0..o.sessions {
        if let Some(Err(e)) = rx.recv().await {
            failed += 1;
            if failed <= 3 {
                eprintln!("[{mode}] session failed: {e}");
            }
        }
    }
    let want = (o.sessions - failed) as u64;
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let mut got = 0;
        for node in nodes.iter() {
            got += node.count(ROOM).await;
        }
        if got == want {
            break;
        }
        assert!(Instant::now() < end, "[{mode}] only {got} of {want} joined");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("[{mode}] {want} sessions joined over {n} node(s) ({failed} failed)");
    let mut same = Vec::new();
    for &rate in &o.rates {
        let s = step(&nodes, redis, &stats, rate, want, o.secs).await;
        eprintln!("[{mode}] {s:?}");
        same.push(s);
    }
    let mut max = Vec::new();
    if mode == "single" || mode == "backplane" {
        for &rate in &o.max_rates {
            let s = step(&nodes, redis, &stats, rate, want, o.secs).await;
            eprintln!("[{mode}] {s:?}");
            let sustained = s.sustained();
            max.push(s);
            if !sustained {
                break;
            }
        }
    }
    for t in tasks {
        t.abort();
    }
    if let Ok(nodes) = Arc::try_unwrap(nodes) {
        for node in nodes {
            node.stop();
        }
    }
    (same, max)
}

/// Publish at `rate`/s (to each node in turn): 2 s warm-up, `secs` s measured, then drain.
async fn step(
    nodes: &Arc<Vec<Node>>,
    redis: Option<&Redis>,
    stats: &Arc<Stats>,
    rate: u64,
    subs: u64,
    secs: u64,
) -> Step {
    let published = Arc::new(AtomicU64::new(0));
    let before = stats.received.load(Ordering::Relaxed);
    let stop = tokio_util::sync::CancellationToken::new();
    let publisher = {
        let (nodes, published, stop) = (Arc::clone(nodes), Arc::clone(&published), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut seq = 0u64;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.cancelled() => break,
                }
                seq += 1;
                let (nodes, published) = (Arc::clone(&nodes), Arc::clone(&published));
                tokio::spawn(async move {
                    let node = &nodes[seq as usize % nodes.len()];
                    if node.publish(json!([seq, now_us()])).await == 200 {
                        published.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stats.take_latencies();
    stats.recording.store(true, Ordering::Relaxed);
    let hive_cpu = || nodes.iter().map(|n| cpu_of(n.child.id())).sum::<Duration>();
    let redis_cpu = || redis.map(Redis::cpu).unwrap_or_default();
    let calls0 = redis.map(Redis::calls).unwrap_or_default();
    let (cpu0, rcpu0, pub0, recv0, t0) = (
        hive_cpu(),
        redis_cpu(),
        published.load(Ordering::Relaxed),
        stats.received.load(Ordering::Relaxed),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let (cpu1, rcpu1, pub1, recv1, wall) = (
        hive_cpu(),
        redis_cpu(),
        published.load(Ordering::Relaxed),
        stats.received.load(Ordering::Relaxed),
        t0.elapsed(),
    );
    let calls1 = redis.map(Redis::calls).unwrap_or_default();
    stats.recording.store(false, Ordering::Relaxed);
    stop.cancel();
    let _ = publisher.await;
    let (got, want) = stats.drain(&published, subs, before).await;
    let h = stats.take_latencies();
    let n = (recv1 - recv0).max(1);
    let pubs = (pub1 - pub0).max(1) as f64;
    let mut ops = BTreeMap::new();
    for (k, v1) in &calls1 {
        let v0 = calls0.get(k).copied().unwrap_or(0);
        let d = v1.saturating_sub(v0);
        // The snapshots' own `INFO` calls are not Hive's.
        if d > 0 && k != "info" {
            ops.insert(k.clone(), d as f64 / pubs);
        }
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Step {
        publishes_per_s: rate,
        offered: (rate * subs) as f64,
        deliveries_per_s: n as f64 / wall.as_secs_f64(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        server_us_per_delivery: (cpu1 - cpu0).as_secs_f64() * 1e6 / n as f64,
        redis_us_per_delivery: (rcpu1 - rcpu0).as_secs_f64() * 1e6 / n as f64,
        redis_ops_per_publish: ops.values().sum(),
        ops,
        lost: want.saturating_sub(got),
    }
}
