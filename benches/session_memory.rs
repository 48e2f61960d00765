//! Server memory per WebSocket session: starts the release `hive` binary as a separate process (as
//! `fanout_e2e` does, with its config), opens `--sessions` idle Socket.IO 0.9 websocket sessions
//! (handshake + upgrade, each waits for `1::`, then no traffic; `--join` also joins a channel, as
//! in `fanout_e2e`), and prints (RSS after - RSS before) / N from `/proc/<pid>/status`.
//!
//! Run: `cargo bench --bench session_memory -- [--sessions 10000] [--join] [--rounds 1]
//! [--poll-timeout MS] [--modern]`.
//! `--modern`: the sessions speak Socket.IO 5 over an Engine.IO 4 WebSocket opened directly
//! (`/socket.io/?EIO=4&transport=websocket`, then `40` and its answer), idle after the CONNECT
//! answer (the server's pings are answered); not with `--join`.
//! A warm-up batch of sessions stays open across the measurement so that one-off costs (worker
//! arenas, lazily grown tables) are not charged to the sessions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

#[allow(dead_code)]
#[path = "fanout_e2e/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "fanout_e2e/target.rs"]
mod target;
#[path = "support/util.rs"]
mod util;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fastwebsockets::OpCode;
use target::{Kind, Target};

const ROOM: &str = "bench.room";
const WARMUP: usize = 500;

struct Opts {
    sessions: usize,
    join: bool,
    rounds: usize,
    /// Hive's `socketio.poll_timeout` (ms).
    poll_timeout: u64,
    /// Socket.IO 5 over Engine.IO 4 instead of 0.9.
    modern: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        sessions: 10_000,
        join: false,
        rounds: 1,
        poll_timeout: 0,
        modern: false,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--sessions" => {
                o.sessions = v.parse().expect("--sessions N");
                i += 1;
            }
            "--rounds" => {
                o.rounds = v.parse().expect("--rounds N");
                i += 1;
            }
            "--join" => o.join = true,
            "--modern" => o.modern = true,
            "--poll-timeout" => {
                o.poll_timeout = v.parse().expect("--poll-timeout MS");
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    o
}

/// Open `n` sessions; each task holds its connection until aborted. Returns when all are up.
async fn open_many(
    t: &Target,
    n: usize,
    join: bool,
    modern: bool,
    first: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    let stats = load::Stats::new();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = Arc::clone(&gate).acquire_owned().await.unwrap();
        let (addr, tx) = (t.sio, tx.clone());
        tasks.push(if join {
            tokio::spawn(load::session(
                addr,
                ROOM.to_string(),
                first + i,
                Arc::clone(&stats),
                tx,
                permit,
            ))
        } else {
            tokio::spawn(async move {
                if modern {
                    let mut ws = match load::open_modern(addr).await {
                        Ok(ws) => ws,
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    };
                    drop(permit);
                    let _ = tx.send(Ok(())).await;
                    // Idle: answer the server's pings (`2` -> `3`) until the connection ends.
                    while let Ok(f) = ws.read_frame().await {
                        match f.opcode {
                            OpCode::Text if &f.payload[..] == b"2" => {
                                let pong = fastwebsockets::Frame::text(
                                    fastwebsockets::Payload::Borrowed(b"3"),
                                );
                                if ws.write_frame(pong).await.is_err() {
                                    break;
                                }
                            }
                            OpCode::Close => break,
                            _ => {}
                        }
                    }
                    return;
                }
                let mut ws = match load::open(addr).await {
                    Ok(ws) => ws,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                let mut permit = Some(permit);
                let mut tx = Some(tx);
                // Wait for `1::` (the session is attached), then just hold the connection.
                while let Ok(f) = ws.read_frame().await {
                    match f.opcode {
                        OpCode::Text if f.payload.starts_with(b"1:") => {
                            drop(permit.take());
                            if let Some(tx) = tx.take() {
                                let _ = tx.send(Ok(())).await;
                            }
                        }
                        OpCode::Close => break,
                        _ => {}
                    }
                }
                if let Some(tx) = tx.take() {
                    let _ = tx.send(Err("closed before 1::".into())).await;
                }
            })
        });
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
    assert_eq!(failed, 0, "{failed} sessions failed");
    if join {
        let want = (first + n) as u64;
        let end = Instant::now() + Duration::from_secs(60);
        while t.count(ROOM).await != Some(want) {
            assert!(Instant::now() < end, "not all sessions joined");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tasks
}

/// RSS once it has stopped moving (bounded wait).
async fn settled_rss(t: &Target) -> u64 {
    let mut last = t.rss();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = t.rss();
        if now.abs_diff(last) < 64 * 1024 {
            return now;
        }
        last = now;
    }
    last
}

fn main() {
    let o = opts();
    assert!(!(o.modern && o.join), "--modern does not join (no --join)");
    if let Ok((_, new)) = hive::sys::raise_nofile_limit()
        && new < (o.sessions + WARMUP) as u64 + 1000
    {
        eprintln!(
            "open-files limit {new} is too low for {} sessions",
            o.sessions
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let t = Target::start(Kind::Hive, (WARMUP + o.sessions) * o.rounds, o.poll_timeout);
        let idle = settled_rss(&t).await;
        let mut held = open_many(&t, WARMUP, o.join, o.modern, 0).await;
        let mut opened = WARMUP;
        for round in 0..o.rounds {
            let before = settled_rss(&t).await;
            let started = Instant::now();
            held.extend(open_many(&t, o.sessions, o.join, o.modern, opened).await);
            opened += o.sessions;
            let after = settled_rss(&t).await;
            let per = (after.saturating_sub(before)) as f64 / o.sessions as f64;
            println!(
                "round {round}: {} {}{} sessions in {:.1?}: RSS {:.1} -> {:.1} MiB (idle server {:.1} MiB): {:.0} bytes/session ({:.1} KiB)",
                o.sessions,
                if o.modern { "modern " } else { "" },
                if o.join { "joined" } else { "idle" },
                started.elapsed(),
                before as f64 / 1048576.0,
                after as f64 / 1048576.0,
                idle as f64 / 1048576.0,
                per,
                per / 1024.0
            );
        }
        for h in held {
            h.abort();
        }
        t.stop();
    });
}
