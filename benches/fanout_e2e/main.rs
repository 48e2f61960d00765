//! End-to-end fan-out benchmark: N websocket sessions on loopback subscribed to one channel, events
//! published through the HTTP API at steady rates; deliveries/s, publish-to-receive latency and the
//! server's own CPU time per delivery, for the release `hive` binary and for the reference Node
//! server (`socket.io@0.9.19`, `reference_server.js`), then the ratios ours/theirs.
//!
//! Last, the kernel's floor (`floor.rs`): the same deliveries as plain `write()`s with no server.
//!
//! Run: `cargo bench --bench fanout_e2e -- [--sessions 10000] [--rates 6,12,18] [--secs 10]
//! [--only hive|node|floor] [--poll-timeout MS]` (see benches/README.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

#[path = "../support/util.rs"]
mod util;

mod floor;
mod load;
mod target;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use load::{Stats, now_us};
use serde_json::json;
use target::{Kind, Target};

const ROOM: &str = "bench.room";

struct Opts {
    sessions: usize,
    rates: Vec<u64>,
    secs: u64,
    kinds: Vec<Kind>,
    floor: bool,
    /// Hive's `socketio.poll_timeout` (ms).
    poll_timeout: u64,
}

fn opts() -> Opts {
    let mut o = Opts {
        sessions: 10_000,
        rates: vec![6, 12, 18],
        secs: 10,
        kinds: vec![Kind::Hive, Kind::Node],
        floor: true,
        poll_timeout: 0,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--sessions" => o.sessions = v.parse().expect("--sessions N"),
            "--rates" => {
                o.rates = v
                    .split(',')
                    .map(|x| x.parse().expect("--rates a,b,c"))
                    .collect()
            }
            "--secs" => o.secs = v.parse().expect("--secs S"),
            "--poll-timeout" => o.poll_timeout = v.parse().expect("--poll-timeout MS"),
            "--only" => {
                o.floor = v == "floor";
                o.kinds = match v.as_str() {
                    "node" => vec![Kind::Node],
                    "floor" => vec![],
                    _ => vec![Kind::Hive],
                };
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
#[derive(Debug, Clone, Copy, Default)]
struct Step {
    publishes_per_s: u64,
    offered: f64,
    deliveries_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    server_us_per_delivery: f64,
    server_cpu_share: f64,
    loadgen_cpu_share: f64,
    lost: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, addr, n, ..] = args.as_slice()
        && flag == "--floor-reader"
    {
        return floor::reader(addr, n.parse().expect("--floor-reader ADDR N"));
    }
    let o = opts();
    match hive::sys::raise_nofile_limit() {
        Ok((_, new)) if new < (o.sessions as u64) + 1000 => {
            eprintln!(
                "open-files limit {new} is too low for {} sessions",
                o.sessions
            );
        }
        Ok(_) => {}
        Err(e) => eprintln!("cannot raise the open-files limit: {e}"),
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut results = Vec::new();
    for &kind in &o.kinds {
        results.push((kind, rt.block_on(run(kind, &o))));
    }
    let floor = if o.floor {
        floor::measure(o.sessions, &o.rates, o.secs)
    } else {
        Vec::new()
    };
    println!();
    println!(
        "{:<22} {:>6} {:>10} {:>12} {:>8} {:>8} {:>8} {:>12} {:>8} {:>8} {:>6}",
        "server",
        "pub/s",
        "offered/s",
        "delivered/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "srv µs/dlv",
        "srv cpu",
        "gen cpu",
        "lost"
    );
    for (kind, steps) in &results {
        for s in steps {
            println!(
                "{:<22} {:>6} {:>10.0} {:>12.0} {:>8.2} {:>8.2} {:>8.2} {:>12.3} {:>7.0}% {:>7.0}% {:>6}",
                kind.name(),
                s.publishes_per_s,
                s.offered,
                s.deliveries_per_s,
                s.p50_ms,
                s.p99_ms,
                s.max_ms,
                s.server_us_per_delivery,
                s.server_cpu_share * 100.0,
                s.loadgen_cpu_share * 100.0,
                s.lost
            );
        }
    }
    for s in &floor {
        println!(
            "{:<22} {:>6} {:>10.0} {:>12.0} {:>8} {:>8} {:>8} {:>12.3} {:>8} {:>8} {:>6}",
            "kernel floor",
            s.publishes_per_s,
            s.publishes_per_s as f64 * o.sessions as f64,
            s.deliveries_per_s,
            "-",
            "-",
            "-",
            s.us_per_delivery,
            "",
            "",
            s.short_writes
        );
    }
    if let Some((_, node)) = results.iter().find(|(k, _)| *k == Kind::Node) {
        for (f, n) in floor.iter().zip(node) {
            println!(
                "  {:>3} pub/s: kernel floor / node cpu per delivery {:.2}x",
                f.publishes_per_s,
                f.us_per_delivery / n.server_us_per_delivery
            );
        }
    }
    if let [(Kind::Hive, ours), (Kind::Node, theirs)] = results.as_slice() {
        println!("\nratios hive/node at the same offered rate:");
        for (a, b) in ours.iter().zip(theirs) {
            println!(
                "  {:>3} pub/s: cpu/delivery {:.2}x, deliveries/s {:.2}x, p50 {:.2}x, p99 {:.2}x",
                a.publishes_per_s,
                a.server_us_per_delivery / b.server_us_per_delivery,
                a.deliveries_per_s / b.deliveries_per_s,
                a.p50_ms / b.p50_ms,
                a.p99_ms / b.p99_ms
            );
        }
    }
}

async fn run(kind: Kind, o: &Opts) -> Vec<Step> {
    let t = Arc::new(Target::start(kind, o.sessions, o.poll_timeout));
    eprintln!(
        "[{}] pid {} listening on {}",
        kind.name(),
        t.child.id(),
        t.sio
    );
    let stats = Stats::new();
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = Vec::with_capacity(o.sessions);
    for i in 0..o.sessions {
        let permit = Arc::clone(&gate).acquire_owned().await.unwrap();
        tasks.push(tokio::spawn(load::session(
            t.sio,
            ROOM.to_string(),
            i,
            Arc::clone(&stats),
            tx.clone(),
            permit,
        )));
    }
    let mut failed = 0;
    for _ in 0..o.sessions {
        match rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("[{}] session failed: {e}", kind.name());
                }
            }
            None => break,
        }
    }
    let end = Instant::now() + Duration::from_secs(60);
    let want = (o.sessions - failed) as u64;
    while t.count(ROOM).await != Some(want) {
        assert!(
            Instant::now() < end,
            "only {:?} of {want} joined",
            t.count(ROOM).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "[{}] {want} sessions joined in {:.1?} ({failed} failed); server RSS {} MiB",
        kind.name(),
        started.elapsed(),
        t.rss() >> 20
    );
    let mut steps = Vec::new();
    for &rate in &o.rates {
        let s = step(&t, &stats, rate, want, o.secs).await;
        eprintln!("[{}] {s:?}", kind.name());
        steps.push(s);
    }
    for task in tasks {
        task.abort();
    }
    if let Ok(t) = Arc::try_unwrap(t) {
        t.stop();
    }
    steps
}

/// Publish at `rate`/s: 2 s warm-up, `secs` s measured, then drain.
async fn step(t: &Arc<Target>, stats: &Arc<Stats>, rate: u64, subs: u64, secs: u64) -> Step {
    let published = Arc::new(AtomicU64::new(0));
    let before = stats.received.load(Ordering::Relaxed);
    let stop = tokio_util::sync::CancellationToken::new();
    let publisher = {
        let (t, published, stop) = (Arc::clone(t), Arc::clone(&published), stop.clone());
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
                let (t, published) = (Arc::clone(&t), Arc::clone(&published));
                tokio::spawn(async move {
                    if t.publish(ROOM, "tick", json!([seq, now_us()])).await == 200 {
                        published.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stats.take_latencies();
    stats.recording.store(true, Ordering::Relaxed);
    let (cpu0, gen0, recv0, t0) = (
        t.cpu(),
        target::cpu_of(std::process::id()),
        stats.received.load(Ordering::Relaxed),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let (cpu1, gen1, recv1, wall) = (
        t.cpu(),
        target::cpu_of(std::process::id()),
        stats.received.load(Ordering::Relaxed),
        t0.elapsed(),
    );
    stats.recording.store(false, Ordering::Relaxed);
    stop.cancel();
    let _ = publisher.await;
    let (got, want) = stats.drain(&published, subs, before).await;
    let h = stats.take_latencies();
    let n = (recv1 - recv0).max(1);
    let ms = |us: u64| us as f64 / 1000.0;
    Step {
        publishes_per_s: rate,
        offered: (rate * subs) as f64,
        deliveries_per_s: n as f64 / wall.as_secs_f64(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
        server_us_per_delivery: (cpu1 - cpu0).as_secs_f64() * 1e6 / n as f64,
        server_cpu_share: (cpu1 - cpu0).as_secs_f64() / wall.as_secs_f64(),
        loadgen_cpu_share: (gen1 - gen0).as_secs_f64() / wall.as_secs_f64(),
        lost: want.saturating_sub(got),
    }
}
