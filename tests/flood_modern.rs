//! Flood's modern protocols (session key `protocol`: `sio5` = Socket.IO 5 over Engine.IO 4, `sio4`
//! = Socket.IO 4 over Engine.IO 3) against npm socket.io@4.8 (the `socket.io-4` alias, started
//! from benches/load/modern_server.js on a free port) and against Hive (in-process, `utils.echo`
//! hooks), with one scenario per check for both servers: the same actions as 0.9 (emit,
//! `on_event` matching, acks, round trips) over WebSocket and polling, with heartbeats in both
//! directions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/mod.rs"]
mod common;
#[path = "support/flood.rs"]
mod scenarios;

use common::TestHive;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flood::{RunOptions, run};
use scenarios::{quiet, result_file, write};
use serde_json::{Value, json};

struct NodeServer {
    child: Child,
    port: u16,
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts socket.io@4.8 on port 0 with the given heartbeat (ms) and reads the port it printed.
fn node_server(ping_interval: u64, ping_timeout: u64) -> NodeServer {
    let mut child = Command::new("node")
        .arg(root().join("benches/load/modern_server.js"))
        .args(["0", &ping_interval.to_string(), &ping_timeout.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node must be installed (Node 20) with node_modules/socket.io-4 (socket.io@4.8)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("socket.io@4.8 server did not start: {line:?}"));
    NodeServer { child, port }
}

/// `per` users in each of four phases (sio5 and sio4, over websocket and polling), all running
/// session `base`; the last phase judges `goal`.
fn four_kinds(port: u16, per: u64, base: Value, timeout_ms: u64, goal: Value) -> Value {
    let kinds = [
        ("v5ws", "sio5", "websocket"),
        ("v5poll", "sio5", "polling"),
        ("v4ws", "sio4", "websocket"),
        ("v4poll", "sio4", "xhr-polling"),
    ];
    let mut phases = serde_json::Map::new();
    let mut sessions = serde_json::Map::new();
    sessions.insert("base".into(), base);
    for (i, (name, proto, transport)) in kinds.iter().enumerate() {
        let mut ph = json!({"users": per, "user_sessions": [name], "start_time": 0,
                            "spawn_duration": 300});
        if i == kinds.len() - 1 {
            ph["test_interval"] = json!(200);
            ph["timeout"] = json!(timeout_ms);
            ph["goal"] = goal.clone();
        }
        phases.insert((*name).into(), ph);
        sessions.insert(
            (*name).into(),
            json!({"extends": ["base"], "weight": 1, "protocol": proto, "transport": transport}),
        );
    }
    json!({
        "server": {"host": "127.0.0.1", "port": port, "endpoint": "/socket.io/1/"},
        "phases": phases,
        "sessions": sessions
    })
}

/// A Hive serving both Engine.IO revisions with Engine.IO heartbeats of `ping_ms` (interval and
/// timeout), where `ping` and `echo` are echoed by `utils.echo` (an event with an ack id is
/// acknowledged, then echoed without the id).
async fn echo_hive(ping_ms: u64) -> TestHive {
    TestHive::start(json!({
        "hive": {"max_client_slots": 200, "allowed_origins": [null, "null"]},
        "socketio": {"engineio_versions": [3, 4], "ping_interval": ping_ms,
                     "ping_timeout": ping_ms, "poll_timeout": 0},
        "clients": {"hooks": {"ping": [{"hook": "utils.echo", "args": null}],
                              "echo": [{"hook": "utils.echo", "args": null}]}}
    }))
    .await
}

/// Every user connects, emits `ping` with its sid and non-ASCII text and waits for it back
/// (`on_event` matching its own sid), then emits `echo` asking for an ack, on all four
/// protocol/transport pairs; checks the result.
async fn events_and_acks(port: u16) {
    let dir = tempfile::tempdir().unwrap();
    let base = json!({"do": [
        ["on_socketio", {"1": [["inc", "connects"],
                                ["start_timer", "ping", 5000],
                                ["emit_event", {"name": "ping", "args": ["$server.sid", "żółw €😀"]}]]}],
        ["on_event", {"ping": [
            ["match", {"subject": "$event.args", "json": ["$sid", "$text"],
                       "on_match": [["case", "$sid", {"$server.sid": [
                           ["stop_timer", "ping"], ["inc", "own"],
                           ["case", "$text", {"żółw €😀": [["inc", "utf8"]]}],
                           ["emit_event", {"name": "echo", "args": [{"n": 1}], "ack": true}]]}]]}]]}],
        ["on_socketio", {"6": [["inc", "acks"]]}]
    ]});
    let goal = json!({"type": "object", "properties": {"counters": {"type": "object", "properties": {
        "acks": {"type": "integer", "minimum": 40, "required": true}}}}});
    let sc = four_kinds(port, 10, base, 15000, goal);
    let out = run(RunOptions {
        duration: Some(Duration::from_secs(17)),
        ..quiet(write(dir.path(), "modern.json", &sc))
    })
    .await
    .unwrap();
    let r = result_file(&out);
    let c = &r["counters"];
    assert!(out.passed, "{:#}", r);
    assert_eq!(c["all_users"], 40, "{c}");
    assert_eq!(c["connected_users"], 40, "{c}");
    assert_eq!(c["disconnected_users"], 0, "{c}");
    assert_eq!(c["connects"], 40, "{c}");
    assert_eq!(c["own"], 40, "{c}");
    assert_eq!(c["utf8"], 40, "non-ASCII text survives both ways: {c}");
    assert_eq!(c["acks"], 40, "{c}");
    assert_eq!(r["timers"]["ping"]["n"], 40);
    assert_eq!(r["events"]["ping"]["n"], 40, "{:#}", r["events"]);
    assert_eq!(r["events"]["echo"]["n"], 40, "{:#}", r["events"]);
    assert_eq!(r["connection"]["connect"]["n"], 40);
    assert_eq!(r["errors"], json!({}), "{:#}", r["errors"]);
}

/// Heartbeats in both directions: with a 200 ms ping interval and timeout an idle user that did
/// not answer (EIO4) or send (EIO3) pings would be dropped within 0.4 s; after 2.5 s every user
/// is still connected and still gets its ack.
async fn heartbeats_hold_idle_sessions(port: u16) {
    let dir = tempfile::tempdir().unwrap();
    let base = json!({"do": [
        ["on_socketio", {"1": [["inc", "connects"], ["start_timer", "idle", 2500]]}],
        ["on_timeout", {"idle": [["emit_event", {"name": "echo", "args": ["$server.sid"], "ack": true}]]}],
        ["on_socketio", {"6": [["inc", "acks"]]}],
        ["on_socketio", {"0": [["inc", "dropped"]]}]
    ]});
    let goal = json!({"type": "object", "properties": {"counters": {"type": "object", "properties": {
        "acks": {"type": "integer", "minimum": 20, "required": true}}}}});
    let sc = four_kinds(port, 5, base, 10000, goal);
    let out = run(RunOptions {
        duration: Some(Duration::from_secs(11)),
        ..quiet(write(dir.path(), "idle.json", &sc))
    })
    .await
    .unwrap();
    let r = result_file(&out);
    let c = &r["counters"];
    assert!(out.passed, "{:#}", r);
    assert_eq!(c["connects"], 20, "{c}");
    assert_eq!(c["acks"], 20, "{c}");
    assert_eq!(c["connected_users"], 20, "{c}");
    assert_eq!(c["disconnected_users"], 0, "{c}");
    assert!(c.get("dropped").is_none(), "{c}");
    assert_eq!(r["events"]["echo"]["n"], 20, "{:#}", r["events"]);
    assert_eq!(r["errors"], json!({}), "{:#}", r["errors"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_acks_against_socketio_4() {
    let srv = node_server(25000, 20000);
    events_and_acks(srv.port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_acks_against_hive() {
    let hive = echo_hive(25000).await;
    events_and_acks(hive.sio.port()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_hold_idle_sessions_against_socketio_4() {
    let srv = node_server(200, 200);
    heartbeats_hold_idle_sessions(srv.port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_hold_idle_sessions_against_hive() {
    let hive = echo_hive(200).await;
    heartbeats_hold_idle_sessions(hive.sio.port()).await;
}
