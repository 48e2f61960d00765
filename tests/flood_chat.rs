//! The seed's chat bots (`examples/chat/tests/bots.json`, FLOOD.md 11) run by flood against the
//! chat demo (Rust backend + Hive with the chat's local config, in-process on free ports, as
//! `tests/chat_e2e.rs` starts it). A "human", the real npm `socket.io-client@0.9.16`, joins
//! `main`, sees the ten bots join, says `ping` in `rooms.main`, and every bot answers `pong`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod common;
#[path = "support/flood.rs"]
mod scenarios;

#[path = "../examples/chat/src/backend/demo.rs"]
mod demo;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{JsClient, root};
use demo::{DemoOptions, Ports, StateChoice, setup};
use flood::{RunOptions, run};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The "human": `tests/js/origin_client.js` (the real socket.io-client@0.9.16 on node, through
/// `tests/js/sio_client.js`) over WebSocket, with `Origin: ws://localhost` (one the chat config
/// allows) on the handshake and the upgrade; one JSON line per event.
fn human(port: u16) -> JsClient {
    let url = format!("http://127.0.0.1:{port}");
    JsClient::spawn(
        "tests/js/origin_client.js",
        &[&url, "websocket"],
        &[("ORIGIN", "ws://localhost")],
    )
}

/// The first argument of event `name`, if `v` is that event's line.
fn event_arg(v: &Value, name: &str) -> Option<Value> {
    (v["ev"] == "event" && v["name"] == name).then(|| v["args"][0].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_bots_answer_ping_in_the_chat_demo() {
    let root = root();
    let ports = Ports {
        hive: 0,
        api: free_port(),
        monitor: 0,
        backend: 0,
        web: 0,
        redis: 0,
    };
    let socketio_js = setup::ensure_socketio_client(&root).expect("socket.io-client 0.9");
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(DemoOptions {
        state: StateChoice::Local,
        ports,
        external_backend: None,
        log_dir: Some(dir.path().join("log")),
        socketio_js,
    })
    .await
    .expect("the chat demo starts");
    let port = demo.hive.socketio_addr.port();

    // The human joins main first, so it sees every bot join.
    let mut human = tokio::task::spawn_blocking(move || {
        let mut h = human(port);
        h.wait_for(Duration::from_secs(10), |v| v["ev"] == "connect");
        h.emit("authorize", json!([{"nick": "alice"}]));
        let auth = h.wait_for(Duration::from_secs(10), |v| {
            event_arg(v, "authorize").is_some()
        });
        assert_eq!(auth["args"][0]["permission"], "granted", "{auth}");
        h.emit("join_rooms", json!([{"rooms": ["main"]}]));
        h
    })
    .await
    .unwrap();

    // The bots, unchanged but for the server address (`--server`); `localhost` as in the file,
    // so their WebSocket origin `ws://localhost` is one the chat config allows.
    let stop = CancellationToken::new();
    let bots = run(RunOptions {
        duration: Some(Duration::from_secs(60)),
        out: Some(dir.path().join("out")),
        server: Some(format!("localhost:{port}")),
        stop: Some(stop.clone()),
        ..scenarios::quiet(root.join("examples/chat/tests/bots.json"))
    });
    let bots = tokio::spawn(bots);

    let expected: BTreeSet<String> = (0..10).map(|i| format!("bot_{i}")).collect();
    let human = tokio::task::spawn_blocking(move || {
        let mut joined = BTreeSet::new();
        while joined.len() < 10 {
            let v = human.wait_for(Duration::from_secs(30), |v| {
                event_arg(v, "dude_joins")
                    .is_some_and(|a| a["channel"] == "rooms.main" && a["nick"] != "alice")
            });
            joined.insert(v["args"][0]["nick"].as_str().unwrap().to_owned());
        }
        human.emit(
            "publish_msg",
            json!([{"channel": "rooms.main", "text": "ping"}]),
        );
        let mut pongs = BTreeSet::new();
        while pongs.len() < 10 {
            let v = human.wait_for(Duration::from_secs(30), |v| {
                event_arg(v, "msg_published").is_some_and(|a| a["text"] == "pong")
            });
            let a = &v["args"][0];
            assert_eq!(a["channel"], "rooms.main", "{v}");
            assert!(
                pongs.insert(a["nick"].as_str().unwrap().to_owned()),
                "one pong per bot: {v}"
            );
        }
        // A barrier instead of a sleep: the room delivers in order, so once our own "done" comes
        // back, every bot's socket has had every pong before it.
        human.emit(
            "publish_msg",
            json!([{"channel": "rooms.main", "text": "done"}]),
        );
        human.wait_for(Duration::from_secs(30), |v| {
            event_arg(v, "msg_published").is_some_and(|a| a["text"] == "done")
        });
        human.disconnect();
        (joined, pongs)
    })
    .await
    .unwrap();
    assert_eq!(human.0, expected, "every bot joined main");
    assert_eq!(human.1, expected, "every bot answered pong");

    stop.cancel();
    let out = bots.await.unwrap().unwrap();
    let c = &out.result["counters"];
    assert!(out.passed, "{:#}", out.result);
    assert_eq!(c["all_users"], 10, "{c}");
    assert_eq!(c["connected_users"], 10, "{c}");
    assert_eq!(c["authorized"], 10, "{c}");
    assert_eq!(c["bots"], 10, "{c}");
    assert!(
        c.get("forbidden").is_none() && c.get("failed").is_none(),
        "{c}"
    );
    assert!(c.get("hive_errors").is_none(), "{c}");
    // Each bot saw the human's ping and every bot's pong in main.
    assert!(c["msgs"].as_i64().unwrap() >= 10 * 11, "{c}");
    assert_eq!(out.result["timers"]["auth_time"]["n"], 10);
    assert_eq!(out.result["errors"], json!({}), "{:#}", out.result);
    assert!(dir.path().join("out/bots_flood_result.json").exists());
    demo.shutdown().await.unwrap();
}
