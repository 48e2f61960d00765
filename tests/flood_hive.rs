//! Flood against a real hive started in-process (`hive::app::start` with `config/test.json`
//! patched): 50 users over both transports pinging through `utils.echo`; checks the counters,
//! the timers and the result file (FLOOD.md 6, 7, 8, 10).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/mod.rs"]
mod common;
#[path = "support/flood.rs"]
mod scenarios;

use common::TestHive;
use flood::run;
use scenarios::{fifty_users, quiet, result_file, write};
use serde_json::json;

/// A test.json hive where `ping` is echoed back (with an ack when the packet asks for one), with
/// room for the 50 users, and timeouts long enough for a debug build under load.
async fn echo_hive() -> TestHive {
    TestHive::start(json!({
        // flood's WebSocket sends `Origin: ws://<host>`, as the original's client library did.
        "hive": {"max_client_slots": 200,
                 "allowed_origins": [null, "null", "ws://127.0.0.1", "http://127.0.0.1"]},
        "socketio": {"heartbeat_timeout": 5000, "reconnect_timeout": 5000, "poll_timeout": 200,
                     "init_timeout": 5000, "session_timeout": 30000},
        "clients": {"hooks": {"ping": [{"hook": "utils.echo", "args": null}],
                              "echo": [{"hook": "utils.echo", "args": null}]}}
    }))
    .await
}

/// 50 users, 25 per transport (one phase each, so the split is exact); each pings once with a
/// scenario timer and the server echoes the event back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_users_both_transports_against_hive() {
    let hive = echo_hive().await;
    let dir = tempfile::tempdir().unwrap();
    let base = json!({"do": [
        ["on_socketio", {"1": [["inc", "connects"], ["start_timer", "ping", 5000],
                                ["emit_event", {"name": "ping", "args": ["$server.sid"]}],
                                ["emit_event", {"name": "echo", "args": [1], "ack": true}],
                                ["emit_event", {"name": "nobody_answers", "args": []}]]}],
        ["on_event", {"ping": [["stop_timer", "ping"], ["inc", "pongs"],
                                ["match", {"subject": "$event.args", "json": ["$sid"],
                                           "on_match": [["case", "$sid", {"$server.sid": [["inc", "own"]]}]]}]]}]
    ]});
    let goal = json!({"properties": {"counters": {"properties": {
        "pongs": {"type": "integer", "minimum": 50, "required": true}}}}});
    let sc = fifty_users(hive.sio.port(), base, 15000, goal);
    let out = run(quiet(write(dir.path(), "hive50.json", &sc)))
        .await
        .unwrap();
    assert!(out.passed, "{:#}", out.result);
    assert_eq!(out.result_path, dir.path().join("hive50_flood_result.json"));
    let r = result_file(&out);
    let c = &r["counters"];
    assert_eq!(c["all_users"], 50, "{c}");
    assert_eq!(c["alive_users"], 50, "{c}");
    assert_eq!(c["connected_users"], 50, "{c}");
    assert_eq!(c["disconnected_users"], 0, "{c}");
    assert_eq!(c["connects"], 50, "{c}");
    assert_eq!(c["pongs"], 50, "{c}");
    assert_eq!(c["own"], 50, "{c}");
    assert!(c["xhr_goal_time"].as_i64().unwrap() < 15000, "{c}");
    // ws: 1::, the ping echo, the echo ack and the echo event.
    assert!(c["ws_incomming"].as_i64().unwrap() >= 25 * 4, "{c}");
    assert_eq!(c["ws_outgoing"], 25 * 3, "{c}");
    assert!(c["http_outgoing"].as_i64().unwrap() >= 50 + 25 * 2, "{c}");
    assert!(c["http_incomming"].as_i64().unwrap() >= 50 + 25, "{c}");
    assert_eq!(r["timers"]["ping"]["n"], 50);
    // Every emitted event's round trip: `ping` by its echoed reply, `echo` by its ack (hive echoes
    // the event too, which must not count twice), `nobody_answers` emitted but never answered.
    let ev = &r["events"];
    assert_eq!(ev["ping"]["n"], 50, "{ev:#}");
    assert_eq!(ev["ping"]["emitted"], 50);
    assert_eq!(ev["echo"]["n"], 50, "{ev:#}");
    assert_eq!(ev["echo"]["emitted"], 50);
    assert_eq!(ev["nobody_answers"], json!({"n": 0, "emitted": 50}));
    for k in ["50", "90", "99", "99.9"] {
        assert!(
            ev["echo"]["percentile"][k].as_f64().unwrap() > 0.0,
            "{ev:#}"
        );
    }
    assert!(
        ev["ping"]["max"].as_f64().unwrap() >= ev["ping"]["percentile"]["99"].as_f64().unwrap()
    );
    assert_eq!(r["connection"]["connect"]["n"], 50);
    let all = r["run"]["all_connected_ms"].as_u64().unwrap();
    assert!(all > 0 && all < 15000, "all 50 users connected at {all} ms");
    assert_eq!(r["errors"], json!({}), "{:#}", r);
    let html = std::fs::read_to_string(&out.report_path).unwrap();
    assert!(html.contains("<svg") && html.contains("pongs"));
    assert!(html.contains("<td>echo</td><td>50</td>"), "{html}");
    // Every user disconnected cleanly at the end of the run: hive sees its sessions go.
    hive.until(
        "every flood session closed",
        std::time::Duration::from_secs(10),
        |h| h.sessions() == 0,
    )
    .await;
    hive.stop().await;
}
