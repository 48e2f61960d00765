//! Flood against a real hive (`target/debug/hive --config <file>`): 50 users over both
//! transports pinging through `utils.echo` (FLOOD.md 6, 7, 8, 10).
//!
//! Ignored until the hive server lands in `main`; run it with
//! `cargo build --bin hive && cargo test --test flood_hive -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hive::flood::{RunOptions, run};
use serde_json::{Value, json};

struct Hive(Child);

impl Drop for Hive {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts hive with benches/load/hive_bench.json on free ports and waits (bounded) until it
/// answers a Socket.IO handshake.
fn start_hive(dir: &std::path::Path) -> (Hive, u16) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut cfg: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("benches/load/hive_bench.json")).unwrap(),
    )
    .unwrap();
    let port = free_port();
    cfg["hive"]["port"] = json!(port);
    cfg["api"]["port"] = json!(free_port());
    cfg["monitor"]["port"] = json!(free_port());
    cfg["log"]["dir"] = json!(dir.join("log").display().to_string());
    let cfg_path = dir.join("hive.json");
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let bin = root.join("target/debug/hive");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --bin hive`",
        bin.display()
    );
    let child = Command::new(&bin)
        .arg("--config")
        .arg(&cfg_path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let hive = Hive(child);
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let ok = ureq::get(&format!("http://127.0.0.1:{port}/socket.io/1/"))
            .header("origin", "null")
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .is_some_and(|b| b.split(':').count() == 4);
        if ok {
            return (hive, port);
        }
        assert!(
            Instant::now() < until,
            "hive (target/debug/hive --config {}) does not serve Socket.IO 0.9 handshakes on \
             port {port} yet",
            cfg_path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the hive server from main: cargo test --test flood_hive -- --ignored"]
async fn fifty_users_both_transports_against_hive() {
    let dir = tempfile::tempdir().unwrap();
    let (_hive, port) = start_hive(dir.path());
    let base = json!({"do": [
        ["on_socketio", {"1": [["inc", "connects"], ["start_timer", "ping", 3000],
                                ["emit_event", {"name": "ping", "args": ["$server.sid"]}]]}],
        ["on_event", {"ping": [["stop_timer", "ping"], ["inc", "pongs"]]}]
    ]});
    let sc = json!({
        "server": {"host": "127.0.0.1", "port": port, "endpoint": "/socket.io/1/"},
        "phases": {
            "ws": {"users": 25, "user_sessions": ["ws"], "start_time": 0, "spawn_duration": 500},
            "xhr": {"users": 25, "user_sessions": ["xhr"], "start_time": 0, "spawn_duration": 500,
                    "test_interval": 250, "timeout": 8000,
                    "goal": {"properties": {"counters": {"properties": {
                        "pongs": {"type": "integer", "minimum": 50, "required": true}}}}}}
        },
        "sessions": {
            "base": base,
            "ws": {"extends": ["base"], "weight": 1, "transport": "websocket"},
            "xhr": {"extends": ["base"], "weight": 1, "transport": "xhr-polling"}
        }
    });
    let path = dir.path().join("hive50.json");
    std::fs::write(&path, sc.to_string()).unwrap();
    let out = run(RunOptions {
        scenario: path,
        duration: None,
        users_scale: 1.0,
        out: None,
        quiet: true,
    })
    .await
    .unwrap();
    let c = &out.result["counters"];
    assert!(out.passed, "{:#}", out.result);
    assert_eq!(c["all_users"], 50);
    assert_eq!(c["connected_users"], 50);
    assert_eq!(c["connects"], 50);
    assert_eq!(c["pongs"], 50);
    assert_eq!(c["ws_outgoing"], 25);
    assert_eq!(out.result["timers"]["ping"]["n"], 50);
    assert_eq!(out.result["errors"], json!({}), "{:#}", out.result);
    assert!(dir.path().join("hive50_flood_result.json").exists());
}
