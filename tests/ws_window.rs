//! The batching window at a non-zero `poll_timeout` (HIVE.md 3.10): WebSocket sessions get
//! channel frames through the pub-sub shortcut and their connection holds what is ready within a
//! window for one write; nothing is lost or reordered, replies and publishes keep their order, and
//! nothing waits longer than the window. XHR sessions keep the session's poll timer.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::{JsClient, TestHive, http};
use serde_json::{Value, json};

const HASH: &str = "abcde12345";
const WINDOW_MS: u64 = 200;

fn patch() -> Value {
    json!({
        "socketio": {"heartbeat_timeout": 5000, "reconnect_timeout": 10000,
                     "session_timeout": 30000, "poll_timeout": WINDOW_MS},
        "clients": {
            "actions": {"reply": [{"action": "action.send_event", "args": null}]},
            "hooks": {"join_rooms": [{"hook": "pubsub.subscribe", "args": "public"},
                                     {"hook": "utils.echo", "args": {"name": "joined", "args": []}}]}
        },
        "pubsub": {"channels": {"rooms": {"privilege": "public", "timeout": 0}}}
    })
}

async fn publish(h: &TestHive, name: &str, n: u64) {
    let body = json!([{"action": "reply", "args": {"name": name, "args": [n]}}]).to_string();
    let path = format!("/api/{HASH}/pubsub/action/rooms.main");
    let (s, _, _) = http(h.api, "POST", &path, &[], body.as_bytes()).await;
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_within_a_window_arrive_complete_and_in_order() {
    let h = TestHive::start(patch()).await;
    let mut clients: Vec<JsClient> = ["websocket", "xhr-polling"]
        .iter()
        .map(|t| JsClient::connect(&h.url(), t))
        .collect();
    for c in &mut clients {
        c.wait_ev("connect");
        c.emit("join_rooms", json!(["rooms.main"]));
        c.wait_event("joined");
    }
    let start = Instant::now();
    for n in 0..20 {
        publish(&h, "tick", n).await;
    }
    publish(&h, "last", 20).await;
    for c in &mut clients {
        c.wait_event("last");
        let got: Vec<u64> = c
            .seen
            .iter()
            .filter(|v| v["ev"] == "event" && v["name"] == "tick")
            .map(|v| v["args"][0].as_u64().unwrap())
            .collect();
        assert_eq!(got, (0..20).collect::<Vec<_>>(), "complete and in order");
    }
    // Twenty publishes and a window or two, not one window per publish.
    assert!(
        start.elapsed() < Duration::from_millis(20 * WINDOW_MS),
        "took {:?}",
        start.elapsed()
    );
    h.stop().await;
}
