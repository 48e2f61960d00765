//! The seed's chat configuration (`examples/chat/config/seed.json`), unchanged but for its ports
//! and the backend and Redis addresses, serves two Node users in the same rooms: one on the real
//! npm `socket.io-client@0.9.16` (`tests/js/origin_client.js`, sending `Origin: null` as the
//! walkthrough's page opened from a file does) and one on the real socket.io-client 4
//! (`tests/js/sio4_client.js`, which sends no `Origin`: admitted on the modern protocol by the
//! seed's `"null"` entry). They follow the walkthrough's chat protocol (authorize, join_rooms,
//! publish_msg, leave_rooms), see each other join, talk both ways in non-ASCII text, and see each
//! other leave (one by `leave_rooms`, one by disconnecting). Issue 15, item 4.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::common::JsClient;
use super::demo::{server, setup};
use super::harness::{free_port, repo_root};
use super::redis::RedisServer;

/// Upper bound for one expected event (generous: the machine is shared; not a timing assertion).
const WAIT: Duration = Duration::from_secs(30);

/// Whether node and both npm clients are here; under `CI=true` their absence fails the test.
pub fn node_clients_available() -> bool {
    let root = repo_root();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut missing: Vec<&str> = [
        "node_modules/socket.io-client/package.json",
        "node_modules/socket.io-client-4/package.json",
    ]
    .into_iter()
    .filter(|p| !root.join(p).exists())
    .collect();
    if !node {
        missing.push("node");
    }
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "missing under CI: {missing:?} (scripts/test.sh installs the npm clients)"
    );
    eprintln!("skipping the mixed-client seed chat test: missing {missing:?}");
    false
}

/// `seed.json` with only its listener ports, the backend's URL and Redis' address changed.
pub fn seed_config(api: u16, backend: SocketAddr, redis: u16) -> Value {
    let file = setup::config_dir().join("seed.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    config["hive"]["port"] = json!(0);
    config["api"]["port"] = json!(api);
    config["monitor"]["port"] = json!(0);
    config["connectors"]["pools"]["backend"]["args"]["base_url"] =
        json!(format!("http://{backend}"));
    let db = &mut config["connectors"]["pools"]["database"]["args"];
    db["host"] = json!("127.0.0.1");
    db["port"] = json!(redis);
    // The origins stay the seed's: the string "null" and ws://localhost, no JSON null, no "*".
    assert_eq!(
        config["hive"]["allowed_origins"],
        json!(["null", "ws://localhost"])
    );
    config
}

/// Wait for the event `name` whose first argument satisfies `pred`, looking first at the lines
/// already read (events of the two users interleave in any order).
fn expect(c: &mut JsClient, who: &str, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let hit = |v: &Value| v["ev"] == "event" && v["name"] == name && pred(&v["args"][0]);
    if let Some(v) = c.seen.iter().find(|v| hit(v)) {
        return v["args"][0].clone();
    }
    let end = Instant::now() + WAIT;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{who}: no `{name}` as expected; seen: {:#?}",
            c.seen
        );
        let v = c.wait_for(left, |v| {
            (v["ev"] == "event" && v["name"] == name)
                || v["ev"] == "disconnect"
                || v["ev"] == "connect_error"
        });
        assert!(
            v["ev"] == "event",
            "{who}: lost the connection while waiting for `{name}`: {:#?}",
            c.seen
        );
        if pred(&v["args"][0]) {
            return v["args"][0].clone();
        }
    }
}

fn joins(nick: &str, room: &str) -> impl Fn(&Value) -> bool {
    let want = json!({"channel": format!("rooms.{room}"), "nick": nick});
    move |a| *a == want
}

fn leaves(nick: &str, room: &str) -> impl Fn(&Value) -> bool {
    joins(nick, room)
}

fn said(nick: &str, room: &str, text: &str) -> impl Fn(&Value) -> bool {
    let want = json!({"channel": format!("rooms.{room}"), "nick": nick, "text": text});
    move |a| *a == want
}

/// Session-id-looking keys (40 hex characters) in Redis: sm.redis' session hashes.
fn session_keys(redis: &RedisServer) -> usize {
    redis
        .cli(&["--scan"])
        .lines()
        .filter(|k| k.len() == 40 && k.chars().all(|c| c.is_ascii_hexdigit()))
        .count()
}

/// The two users' conversation; Hive and the backend run on `rt` meanwhile.
fn converse(url: &str, redis: &RedisServer) {
    converse_over(url, redis, "websocket", "polling,websocket");
}

/// The conversation with the 0.9 user on `old_transport` (`websocket` or `xhr-polling`) and the
/// socket.io-client 4 user on `new_transports` (`polling,websocket`: polling upgraded to
/// WebSocket; `polling`: polling only).
pub fn converse_over(url: &str, redis: &RedisServer, old_transport: &str, new_transports: &str) {
    let (old_nick, new_nick) = ("Zoë", "Łukasz");
    let main = "main";
    let cafe = "café";

    // The 0.9 user: `Origin: null` on the handshake and the transport (a file:// page).
    let mut old = JsClient::spawn(
        "tests/js/origin_client.js",
        &[url, old_transport],
        &[("ORIGIN", "null")],
    );
    // The socket.io-client 4 user: no Origin.
    let mut new = JsClient::spawn(
        "tests/js/sio4_client.js",
        &[url, new_transports, "", "4"],
        &[],
    );
    let up = old.wait_for(WAIT, |v| v["ev"] == "connect" || v["ev"] == "error");
    assert_eq!(up["ev"], "connect", "the 0.9 user connects: {:?}", old.seen);
    let up = new.wait_for(WAIT, |v| v["ev"] == "connect" || v["ev"] == "connect_error");
    assert_eq!(
        up["ev"], "connect",
        "the socket.io-client 4 user (no Origin) connects under the seed's origins: {:?}",
        new.seen
    );

    // Both authorize with a nick, then join main and café.
    for (c, who, nick) in [(&mut old, "0.9", old_nick), (&mut new, "v4", new_nick)] {
        c.emit("authorize", json!([{"nick": nick}]));
        let granted = expect(c, who, "authorize", |_| true);
        assert_eq!(granted, json!({"permission": "granted"}), "{who} {nick}");
    }
    old.emit("join_rooms", json!([{"rooms": [main, cafe]}]));
    expect(&mut old, "0.9", "dude_joins", joins(old_nick, main));
    expect(&mut old, "0.9", "dude_joins", joins(old_nick, cafe));
    new.emit("join_rooms", json!([{"rooms": [main, cafe]}]));
    // Each sees the other join (the v4 user joined second, so the 0.9 user sees it in both rooms).
    for room in [main, cafe] {
        expect(&mut new, "v4", "dude_joins", joins(new_nick, room));
        expect(&mut old, "0.9", "dude_joins", joins(new_nick, room));
    }

    // A message each way, non-ASCII, in main and in café; both users receive both.
    let from_old = "Grüße aus Zürich — 你好, ça va? 🐝";
    let from_new = "Привет, Zoë! ½ € ✓ 日本語 🍯";
    old.emit(
        "publish_msg",
        json!([{"channel": format!("rooms.{main}"), "text": from_old}]),
    );
    new.emit(
        "publish_msg",
        json!([{"channel": format!("rooms.{cafe}"), "text": from_new}]),
    );
    for (c, who) in [(&mut old, "0.9"), (&mut new, "v4")] {
        expect(c, who, "msg_published", said(old_nick, main, from_old));
        expect(c, who, "msg_published", said(new_nick, cafe, from_new));
    }

    // The v4 user moved to WebSocket when it may (the upgrade went through), and only then.
    let upgraded = |c: &JsClient| {
        c.seen
            .iter()
            .any(|v| v["ev"] == "upgrade" && v["transport"] == "websocket")
    };
    if new_transports.contains("websocket") && !upgraded(&new) {
        new.wait_for(WAIT, |v| v["ev"] == "upgrade");
    }
    assert_eq!(
        upgraded(&new),
        new_transports.contains("websocket"),
        "{:?}",
        new.seen
    );

    // The v4 user leaves café (leave_rooms): the 0.9 user sees it.
    new.emit("leave_rooms", json!([{"rooms": [cafe]}]));
    expect(&mut old, "0.9", "dude_leaves", leaves(new_nick, cafe));
    // The 0.9 user disconnects: on_disconnect announces it in its rooms; the v4 user sees it in main.
    old.disconnect();
    expect(&mut new, "v4", "dude_leaves", leaves(old_nick, main));
    // The v4 user still talks in main after the 0.9 user left (its own message comes back).
    let last = "Tschüss! 👋";
    new.emit(
        "publish_msg",
        json!([{"channel": format!("rooms.{main}"), "text": last}]),
    );
    expect(&mut new, "v4", "msg_published", said(new_nick, main, last));
    new.disconnect();
    new.wait_for(WAIT, |v| v["ev"] == "disconnect");

    // Both sessions ran their on_disconnect chains (/leave, /cleanup) and sm.redis removed their
    // state: nothing of theirs stays in Redis.
    let end = Instant::now() + WAIT;
    while session_keys(redis) > 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(session_keys(redis), 0, "no session state left in Redis");
}

/// One 0.9 user and one socket.io-client 4 user chat in the same rooms under the seed's config.
#[test]
fn seed_config_serves_a_0_9_and_a_v4_node_user_in_the_same_room() {
    if !node_clients_available() {
        return;
    }
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let api = free_port();
    let localhost = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let (hive, backend) = rt.block_on(async {
        let probe = seed_config(api, localhost(1), redis.port);
        let backend = server::start(localhost(0), &setup::api_url(localhost(api), &probe))
            .await
            .expect("the chat backend starts");
        let config = seed_config(api, backend.addr(), redis.port);
        let loaded = hive::config::from_value(config).expect("the seed config loads");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let hive = hive::app::start(
            loaded.config,
            hive::app::StartOptions {
                mode: hive::Mode::Dev,
                ..Default::default()
            },
        )
        .await
        .expect("Hive starts on the seed config");
        (hive, backend)
    });
    let url = format!("http://127.0.0.1:{}", hive.socketio_addr.port());
    converse(&url, &redis);
    rt.block_on(async {
        hive.shutdown().await.expect("Hive stops");
        backend.shutdown().await;
    });
}
