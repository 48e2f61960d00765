//! Flood against the reference Socket.IO 0.9 server (npm socket.io@0.9.19 on Node, started from
//! benches/load/reference_server.js on a free port): 50 users over both transports, and the
//! seed's chat bots answering `ping` (FLOOD.md 6, 7, 8, 10, 11).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/flood.rs"]
mod scenarios;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flood::{RunOptions, run};
use scenarios::{fifty_users, quiet, result_file, write};
use serde_json::{Value, json};

struct RefServer {
    child: Child,
    port: u16,
}

impl Drop for RefServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts the reference server on port 0 and reads the port it printed.
fn ref_server() -> RefServer {
    let mut child = Command::new("node")
        .arg(root().join("benches/load/reference_server.js"))
        .arg("0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node must be installed (Node 20) with node_modules/socket.io@0.9.19");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("reference server did not start: {line:?}"));
    RefServer { child, port }
}

/// 50 users, 25 per transport (one phase each, so the split is exact), ping with a timer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_users_both_transports() {
    let srv = ref_server();
    let dir = tempfile::tempdir().unwrap();
    let base = json!({"do": [
        ["on_socketio", {"1": [["inc", "connects"],
                                ["start_timer", "ping", 3000],
                                ["emit_event", {"name": "ping", "args": ["$server.sid"]}]]}],
        ["on_event", {"ping": [["stop_timer", "ping"], ["inc", "pongs"],
                                ["match", {"subject": "$event.args", "json": ["$sid"],
                                           "on_match": [["case", "$sid", {"$server.sid": [["inc", "own"]]}]]}]]}]
    ]});
    let goal = json!({"type": "object", "properties": {"counters": {"type": "object", "properties": {
        "pongs": {"type": "integer", "minimum": 50, "required": true}}}}});
    let sc = fifty_users(srv.port, base, 8000, goal);
    let out = run(quiet(write(dir.path(), "fifty.json", &sc)))
        .await
        .unwrap();
    assert!(out.passed, "{:#}", out.result);
    assert_eq!(out.result_path, dir.path().join("fifty_flood_result.json"));
    let r = result_file(&out);
    let c = &r["counters"];
    assert_eq!(c["all_users"], 50);
    assert_eq!(c["alive_users"], 50);
    assert_eq!(c["connected_users"], 50);
    assert_eq!(c["disconnected_users"], 0);
    assert_eq!(c["connects"], 50);
    assert_eq!(c["pongs"], 50);
    assert_eq!(c["own"], 50);
    assert!(c["xhr_goal_time"].as_i64().unwrap() < 8000);
    // ws: each user gets 1:: and the pong (>= 2 frames), sends one packet.
    assert!(c["ws_incomming"].as_i64().unwrap() >= 50, "{c}");
    assert_eq!(c["ws_outgoing"], 25);
    // http: 50 handshakes + xhr polls and posts.
    assert!(c["http_outgoing"].as_i64().unwrap() >= 50 + 25 * 2, "{c}");
    assert!(c["http_incomming"].as_i64().unwrap() >= 50 + 25, "{c}");
    let ping = &r["timers"]["ping"];
    assert_eq!(ping["n"], 50);
    assert_eq!(r["events"]["ping"]["n"], 50, "{:#}", r["events"]);
    assert!(ping["percentile"]["99"].as_f64().unwrap() < 3000.0);
    assert_eq!(r["connection"]["connect"]["n"], 50);
    assert_eq!(r["errors"], json!({}));
    let html = std::fs::read_to_string(&out.report_path).unwrap();
    assert!(html.contains("<svg") && html.contains("pongs"));
}

/// The seed's bots (examples/chat/tests/bots.json, FLOOD.md 11) against the reference server's
/// chat events: a human joins `main` and says `ping`; every bot answers `pong`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_answer_ping() {
    let srv = ref_server();
    let dir = tempfile::tempdir().unwrap();
    let mut sc: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/chat/tests/bots.json")).unwrap(),
    )
    .unwrap();
    sc["server"]["port"] = json!(srv.port);
    sc["server"]["host"] = json!("127.0.0.1");
    // The human: joins main once the bots are in, says ping, counts the pongs by nick.
    sc["phases"]["human"] = json!({"users": 1, "user_sessions": ["human"], "start_time": 1500,
        "spawn_duration": 1, "test_interval": 100, "timeout": 8000,
        "goal": {"properties": {"counters": {"properties": {
            "pongs": {"type": "integer", "minimum": 10, "required": true},
            "bots": {"type": "integer", "minimum": 10, "maximum": 10, "required": true}}}}}});
    sc["sessions"]["human"] = json!({"weight": 1, "transport": "websocket", "do": [
        ["on_socketio", {"1": [
            ["emit_event", {"name": "authorize", "args": [{"nick": "alice"}]}],
            ["emit_event", {"name": "join_rooms", "args": [{"rooms": ["main"]}]}],
            ["start_timer", "say", 300]]}],
        ["on_timeout", {"say": [["emit_event", {"name": "publish_msg",
            "args": [{"channel": "rooms.main", "text": "ping"}]}]]}],
        ["on_event", {"msg_published": [["match", {"subject": "$event.args",
            "json": [{"nick": "$nick", "text": "pong"}],
            "on_match": [["inc", "pongs"], ["match", {"subject": "$nick", "re": "^bot_\\d$",
                                                       "on_match": [["inc", "bot_pongs"]]}]]}]]}]
    ]});
    let path = write(dir.path(), "bots.json", &sc);
    let out = run(RunOptions {
        duration: Some(Duration::from_secs(15)),
        out: Some(dir.path().join("out")),
        ..quiet(path)
    })
    .await
    .unwrap();
    let c = &out.result["counters"];
    assert!(out.passed, "{c}");
    assert_eq!(c["authorized"], 10, "{c}");
    assert_eq!(c["bots"], 10);
    assert_eq!(c["pongs"], 10);
    assert_eq!(c["bot_pongs"], 10);
    assert!(out.result["timers"]["auth_time"]["n"].as_u64().unwrap() >= 10);
    assert!(dir.path().join("out/bots_flood_result.json").exists());
}
