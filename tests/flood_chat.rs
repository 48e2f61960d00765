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

#[path = "../examples/chat/src/backend/demo.rs"]
mod demo;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The "human": `tests/js/origin_client.js` (the real socket.io-client@0.9.16 on node, through
/// `tests/js/sio_client.js`) over WebSocket, with `Origin: ws://localhost` (one the chat config
/// allows) on the handshake and the upgrade; one JSON line per event.
struct Human {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Human {
    fn connect(port: u16) -> Self {
        let url = format!("http://127.0.0.1:{port}");
        let (child, stdin, rx) = common::spawn_node(
            "tests/js/origin_client.js",
            &[&url, "websocket"],
            &[("ORIGIN", "ws://localhost")],
        );
        Self {
            child,
            stdin,
            rx,
            seen: Vec::new(),
        }
    }

    fn emit(&mut self, name: &str, args: Value) {
        let cmd = json!({"op": "emit", "name": name, "args": args});
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next line matching `pred` within `limit`.
    fn wait_for(&mut self, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(_) => panic!("human timed out; seen so far: {:?}", self.seen),
            }
        }
    }
}

impl Drop for Human {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
        let mut h = Human::connect(port);
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
        scenario: root.join("examples/chat/tests/bots.json"),
        duration: Some(Duration::from_secs(60)),
        users_scale: 1.0,
        out: Some(dir.path().join("out")),
        quiet: true,
        server: Some(format!("localhost:{port}")),
        stop: Some(stop.clone()),
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
        writeln!(human.stdin, "{}", json!({"op": "disconnect"})).unwrap();
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
