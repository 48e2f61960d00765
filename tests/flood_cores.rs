//! `flood --cores`: users spread over single-threaded runtimes ([`flood::cores`]) against a real
//! hive started in-process: every user connects over both transports and gets its echo, and the
//! users really live on the second runtime too (its live task count). A file of its own: the
//! runtimes are installed once per process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/mod.rs"]
mod common;
#[path = "support/flood.rs"]
mod scenarios;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::TestHive;
use flood::run;
use scenarios::{fifty_users, quiet, result_file, write};
use serde_json::json;

#[test]
fn users_spread_over_single_threaded_runtimes_all_get_their_echo() {
    let main = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let other = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let second = other.handle().clone();
    flood::cores::install(vec![main.handle().clone(), second.clone()]);
    std::thread::spawn(move || other.block_on(std::future::pending::<()>()));
    main.block_on(async move {
        let hive = TestHive::start(json!({
            "hive": {"max_client_slots": 200,
                     "allowed_origins": [null, "null", "ws://127.0.0.1", "http://127.0.0.1"]},
            "socketio": {"heartbeat_timeout": 5000, "reconnect_timeout": 5000, "poll_timeout": 200,
                         "init_timeout": 5000, "session_timeout": 30000},
            "clients": {"hooks": {"echo": [{"hook": "utils.echo", "args": null}]}}
        }))
        .await;
        // The most tasks alive on the second runtime while the run goes on.
        let peak = Arc::new(AtomicUsize::new(0));
        let (p, h) = (Arc::clone(&peak), second.clone());
        let watch = tokio::spawn(async move {
            loop {
                p.fetch_max(h.metrics().num_alive_tasks(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let base = json!({"do": [
            ["on_socketio", {"1": [["emit_event", {"name": "echo", "args": ["$server.sid"]}]]}],
            ["on_event", {"echo": [["inc", "echoes"]]}]
        ]});
        let goal = json!({"properties": {"counters": {"properties": {
            "echoes": {"type": "integer", "minimum": 50, "required": true}}}}});
        let sc = fifty_users(hive.sio.port(), base, 15000, goal);
        let out = run(quiet(write(dir.path(), "cores50.json", &sc)))
            .await
            .unwrap();
        watch.abort();
        assert!(out.passed, "{:#}", out.result);
        let r = result_file(&out);
        assert_eq!(r["counters"]["echoes"], 50, "{}", r["counters"]);
        assert_eq!(r["events"]["echo"]["n"], 50, "{}", r["events"]);
        // 50 users round-robin over two runtimes: 25 of them (an actor each) on the second.
        let peak = peak.load(Ordering::Relaxed);
        assert!(
            peak >= 25,
            "tasks alive on the second runtime: at most {peak}"
        );
        hive.stop().await;
    });
}
