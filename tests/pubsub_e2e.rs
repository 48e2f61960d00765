//! Full-stack pub-sub and REST API acceptance: real npm `socket.io-client@0.9.16` clients (websocket
//! and xhr-polling mixed) on a real node, joining channels through the seed's `join_rooms` hook and
//! receiving what the API publishes (HIVE.md 5.6, 8, 9).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{JsClient, TestHive, handshake, http};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const HASH: &str = "abcde12345";
/// `pubsub.channels.rooms.timeout` in these tests.
const ROOM_TIMEOUT_MS: u64 = 1000;

/// The seed chat's actions and pub-sub hooks (HIVE.md 15.2), without the backend calls.
fn chat_patch() -> Value {
    json!({
        "socketio": {"heartbeat_timeout": 5000, "reconnect_timeout": 10000, "session_timeout": 30000},
        "clients": {
            "actions": {"reply": [{"action": "action.send_event", "args": null}]},
            "hooks": {
                "join_rooms": [{"hook": "pubsub.subscribe", "args": "public"}],
                "leave_rooms": [{"hook": "pubsub.unsubscribe", "args": "public"}]
            }
        },
        "pubsub": {"channels": {"rooms": {"privilege": "public", "timeout": ROOM_TIMEOUT_MS}}}
    })
}

fn api(path: &str) -> String {
    format!("/api/{HASH}{path}")
}

async fn post(h: &TestHive, path: &str, body: &str) -> (u16, String) {
    let (s, _, b) = http(h.api, "POST", &api(path), &[], body.as_bytes()).await;
    (s, b)
}

fn reply(name: &str, args: Value) -> String {
    json!([{"action": "reply", "args": {"name": name, "args": args}}]).to_string()
}

async fn subscribed(h: &TestHive, cid: &str) -> Option<i64> {
    let (s, _, b) = http(
        h.api,
        "GET",
        &api(&format!("/pubsub/subscribe/{cid}")),
        &[],
        b"",
    )
    .await;
    (s == 200).then(|| serde_json::from_str::<Value>(&b).unwrap()["subscribed_clients"].as_i64())?
}

async fn wait_subscribed(h: &TestHive, cid: &str, n: i64) {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let got = subscribed(h, cid).await;
        if got == Some(n) {
            return;
        }
        assert!(
            Instant::now() < end,
            "{cid}: expected {n} subscribers, got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn channel_actors(h: &TestHive) -> usize {
    let report = h.node().tree(None).await.unwrap();
    report
        .find(&["hive_sup", "pubsub_sup", "registry_sup", "channels_sup"])
        .expect("channels_sup in the tree")
        .child_count
}

fn sids(h: &TestHive) -> HashSet<String> {
    h.node()
        .router()
        .registry()
        .all()
        .iter()
        .map(|c| c.sid().to_string())
        .collect()
}

/// Connect a JS client and return it with its session id (the one sid that appeared).
async fn connect(h: &TestHive, transport: &str) -> (JsClient, String) {
    let before = sids(h);
    let mut c = JsClient::connect(&h.url(), transport);
    c.wait_ev("connect");
    let new: Vec<String> = sids(h).difference(&before).cloned().collect();
    assert_eq!(new.len(), 1, "exactly one new session");
    (c, new.into_iter().next().unwrap())
}

/// Events named `name` the client saw before the first event named `until` (which it waits for).
fn count_before(c: &mut JsClient, name: &str, until: &str) -> usize {
    c.wait_event(until);
    let mut n = 0;
    for v in &c.seen {
        if v["ev"] == "event" && v["name"] == until {
            break;
        }
        if v["ev"] == "event" && v["name"] == name {
            n += 1;
        }
    }
    c.seen.clear();
    n
}

/// HIVE.md 5.6 + 9.2 + 9.3: three clients (ws, xhr, ws) join `rooms.main` through `join_rooms`; an API
/// `reply` action on the channel reaches each exactly once; a wrong hash is 401 and publishes
/// nothing; `/clients/action` reaches one client; a client that leaves stops receiving; counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_publish_reaches_every_subscriber_exactly_once() {
    let h = TestHive::start(chat_patch()).await;
    let mut clients = Vec::new();
    for t in ["websocket", "xhr-polling", "websocket"] {
        clients.push(connect(&h, t).await);
    }
    for (c, _) in &mut clients {
        c.emit("join_rooms", json!([{"rooms": ["main"]}]));
    }
    wait_subscribed(&h, "rooms", 3).await;
    assert_eq!(subscribed(&h, "rooms.main").await, Some(3));
    assert_eq!(channel_actors(&h).await, 1);

    // One publish of the seed's dude_joins, then a marker: each client sees dude_joins exactly once.
    let dude = json!([{"channel": "rooms.main", "nick": "bob"}]);
    assert_eq!(
        post(
            &h,
            "/pubsub/action/rooms.main",
            &reply("dude_joins", dude.clone())
        )
        .await,
        (200, String::new())
    );
    assert_eq!(
        post(
            &h,
            "/pubsub/action/rooms.main",
            &reply("marker", json!([1]))
        )
        .await,
        (200, String::new())
    );
    for (c, _) in &mut clients {
        let e = c.wait_event("dude_joins");
        assert_eq!(e["args"], dude);
        assert_eq!(count_before(c, "dude_joins", "marker"), 1);
    }

    // A wrong hash: 401 with the documented body, and nothing published.
    let (s, _, b) = http(
        h.api,
        "POST",
        "/api/wrong/pubsub/action/rooms.main",
        &[],
        reply("sneaky", json!([])).as_bytes(),
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(
        b,
        r#"{"error":"bad_api_request","description":"Unauthorized Hive API access attempt!"}"#
    );
    post(
        &h,
        "/pubsub/action/rooms.main",
        &reply("marker", json!([2])),
    )
    .await;
    for (c, _) in &mut clients {
        assert_eq!(count_before(c, "sneaky", "marker"), 0);
    }

    // /clients/action/<sid> reaches exactly that client.
    let sid1 = clients[1].1.clone();
    assert_eq!(
        post(
            &h,
            &format!("/clients/action/{sid1}"),
            &reply("direct", json!(["two"]))
        )
        .await,
        (200, String::new())
    );
    assert_eq!(clients[1].0.wait_event("direct")["args"], json!(["two"]));
    // An unknown sid: the documented error.
    assert_eq!(
        post(&h, "/clients/action/nope", &reply("direct", json!([]))).await,
        (
            500,
            r#"{"error":"bad_session_id","description":"Tried routing events to an unknown sid: nope"}"#
                .to_string()
        )
    );

    // Client 0 leaves: the others still receive, client 0 does not.
    clients[0]
        .0
        .emit("leave_rooms", json!([{"rooms": ["main"]}]));
    wait_subscribed(&h, "rooms", 2).await;
    post(
        &h,
        "/pubsub/action/rooms.main",
        &reply("after_leave", json!([])),
    )
    .await;
    for (c, _) in &mut clients[1..] {
        c.wait_event("after_leave");
    }
    let quiet = |v: &Value| v["name"] == "after_leave" || v["name"] == "direct";
    assert!(
        clients[0].0.quiet_for(Duration::from_millis(300), quiet),
        "{:?}",
        clients[0].0.seen
    );
    assert!(
        clients[2]
            .0
            .quiet_for(Duration::from_millis(1), |v| v["name"] == "direct"),
        "direct went to the wrong client"
    );

    // The last subscribers leave (one by leave_rooms, one by disconnecting): the channel actor
    // stays for `timeout` ms, then goes.
    clients[1]
        .0
        .emit("leave_rooms", json!([{"rooms": ["main"]}]));
    clients[2].0.disconnect();
    wait_subscribed(&h, "rooms.main", 0).await;
    let emptied = Instant::now();
    assert_eq!(
        channel_actors(&h).await,
        1,
        "the channel waits for its timeout"
    );
    let end = emptied + Duration::from_millis(ROOM_TIMEOUT_MS * 5);
    while channel_actors(&h).await != 0 {
        assert!(Instant::now() < end, "channel actor outlived its timeout");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let gone_after = emptied.elapsed();
    assert!(
        gone_after >= Duration::from_millis(ROOM_TIMEOUT_MS * 9 / 10),
        "channel went after {gone_after:?}, before its {ROOM_TIMEOUT_MS} ms timeout"
    );
    // Then the registry no longer knows it.
    let (s, _, b) = http(h.api, "GET", &api("/pubsub/subscribe/rooms"), &[], b"").await;
    assert_eq!(
        (s, b.as_str()),
        (
            400,
            r#"{"error":"unknown_channel_id","description":"Tried accessing an unknown Hive Pub-Sub Channel: rooms"}"#
        )
    );
    h.stop().await;
}

/// HIVE.md 8.4: joining a cid whose prefix has no template answers `hive_error` `bad_channel_id`
/// to the browser, and creates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_of_unknown_prefix_is_bad_channel_id() {
    let h = TestHive::start(chat_patch()).await;
    for t in ["websocket", "xhr-polling"] {
        let (mut c, _) = connect(&h, t).await;
        c.emit("join_rooms", json!([{"nope": ["x"]}]));
        let e = c.wait_event("hive_error");
        assert_eq!(
            e["args"],
            json!([{"error": "bad_channel_id", "description": "Requested Hive Pub-Sub Channel prefix is undefined: nope"}]),
            "{t}"
        );
    }
    assert_eq!(channel_actors(&h).await, 0);
    h.stop().await;
}

/// Poll a raw xhr session once and return the body.
async fn poll(addr: SocketAddr, sid: &str) -> String {
    let (s, _, b) = http(
        addr,
        "GET",
        &format!("/socket.io/1/xhr-polling/{sid}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b
}

/// Poll a raw xhr session once and return the frames (XHR flushes are framed even for one
/// message: HIVE.md 3.7).
async fn poll_frames(addr: SocketAddr, sid: &str) -> Vec<String> {
    let body = poll(addr, sid).await;
    let unit = Some(codec::batch::LengthUnit::Utf16);
    let msgs = codec::batch::decode_payload(&body, unit).unwrap();
    msgs.iter().map(codec::socketio::encode).collect()
}

/// HIVE.md 9.2: `POST`/`DELETE /pubsub/subscribe/<sid>` join and leave a session;
/// `/pubsub/publish/<cid>` sends `5:::<body>` with the body bytes verbatim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_subscribe_and_raw_publish_on_a_raw_session() {
    let h = TestHive::start(chat_patch()).await;
    let (mut js, js_sid) = connect(&h, "websocket").await;
    let sid = handshake(h.sio).await;
    assert_eq!(poll(h.sio, &sid).await, "1:::");

    // Join both sessions through the API; the JS one joins rooms.main, the raw one rooms.
    for (s, cid) in [(&js_sid, "rooms.main"), (&sid, "rooms")] {
        let body = json!([cid]).to_string();
        assert_eq!(
            post(&h, &format!("/pubsub/subscribe/{s}"), &body).await,
            (200, String::new())
        );
    }
    wait_subscribed(&h, "rooms", 2).await;
    assert_eq!(subscribed(&h, "rooms.main").await, Some(1));

    // Raw publishing to the prefix reaches both, byte for byte (spacing and number text kept).
    let raw = r#"{"name":"raw" , "args":[1.50, {"b":1,"a":"é"}]}"#;
    assert_eq!(
        post(&h, "/pubsub/publish/rooms", raw).await,
        (200, String::new())
    );
    assert_eq!(poll_frames(h.sio, &sid).await, vec![format!("5:::{raw}")]);
    assert_eq!(
        js.wait_event("raw")["args"],
        json!([1.5, {"b": 1, "a": "é"}])
    );
    // Not an external event (no name; `args` may be missing: docs/compat.md) or not JSON: 400.
    let (s, b) = post(&h, "/pubsub/publish/rooms", r#"{"args":[1]}"#).await;
    assert_eq!(s, 400, "{b}");
    assert!(b.contains("bad_external_event"), "{b}");
    let (s, b) = post(&h, "/pubsub/publish/rooms", r#"{"name":"#).await;
    assert_eq!(s, 400, "{b}");
    assert!(b.contains("invalid_json"), "{b}");
    // ... and nothing was sent: the next frame the raw session gets is the next good publish.
    post(&h, "/pubsub/publish/rooms", r#"{"name":"next","args":[]}"#).await;
    assert_eq!(
        poll_frames(h.sio, &sid).await,
        vec![r#"5:::{"name":"next","args":[]}"#.to_string()]
    );

    // DELETE leaves (hierarchically: leaving `rooms` leaves `rooms.main` too).
    let (s, _, b) = http(
        h.api,
        "DELETE",
        &api(&format!("/pubsub/subscribe/{js_sid}")),
        &[],
        br#"["rooms"]"#,
    )
    .await;
    assert_eq!((s, b.as_str()), (200, ""));
    wait_subscribed(&h, "rooms", 1).await;
    // Unknown session and bad bodies.
    assert_eq!(
        post(&h, "/pubsub/subscribe/nope", r#"["rooms"]"#).await,
        (
            500,
            r#"{"error":"bad_session_id","description":"Tried routing events to an unknown sid: nope"}"#
                .to_string()
        )
    );
    let (s, b) = post(&h, &format!("/pubsub/subscribe/{sid}"), "rooms").await;
    assert_eq!(s, 400, "{b}");
    // An API join to an unknown prefix goes to the browser as hive_error.
    post(&h, &format!("/pubsub/subscribe/{js_sid}"), r#"["nope.x"]"#).await;
    assert_eq!(
        js.wait_event("hive_error")["args"][0]["error"],
        "bad_channel_id"
    );
    h.stop().await;
}

/// A backend whose `/join` handler calls the API (publishing to the room the caller just joined)
/// and answers the hook only after the API answered, as the seed chat's backend does.
async fn calling_backend(api_addr: SocketAddr) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut r = BufReader::new(r);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let mut len = 0usize;
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).await.unwrap();
                        let h = h.trim_end().to_ascii_lowercase();
                        if h.is_empty() {
                            break;
                        }
                        if let Some(v) = h.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).await.unwrap();
                    let answer = if path == "/join" {
                        let t = Instant::now();
                        let (s, _, b) = http(
                            api_addr,
                            "POST",
                            &api("/pubsub/action/rooms.main"),
                            &[],
                            reply("dude_joins", json!([{"nick": "bob"}])).as_bytes(),
                        )
                        .await;
                        reply("joined", json!([s, b, t.elapsed().as_millis() as u64]))
                    } else {
                        String::new()
                    };
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    w.write_all(resp.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (addr, task)
}

/// HIVE.md 9 (API module docs): an API call made from inside a backend hook handler — while the
/// calling session is busy in that very hook — is answered at once, not after the subscribers
/// (including the caller) handled the publish, so it cannot deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_call_from_inside_a_hook_does_not_deadlock() {
    publish_from_inside_a_hook(50).await;
}

/// The same with no batching window, where idle WebSocket sessions get channel frames without a
/// trip through their actor (`client::shortcut`): what the hook's backend publishes still reaches
/// the caller after the hook's own reply, as if it went through the session's mailbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_caused_by_a_hook_arrives_after_its_reply() {
    publish_from_inside_a_hook(0).await;
}

async fn publish_from_inside_a_hook(poll_timeout: u64) {
    // The API address must be known to the backend before the node starts (the node checks its
    // backends at start-up), so reserve it first.
    let api_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let api_addr: SocketAddr = format!("127.0.0.1:{api_port}").parse().unwrap();
    let (backend, task) = calling_backend(api_addr).await;
    let mut patch = chat_patch();
    common::merge(
        &mut patch,
        &json!({
            "socketio": {"poll_timeout": poll_timeout},
            "api": {"port": api_port},
            "connectors": {"pools": {"backend": {"connector": "connector.http", "size": 2, "overflow": 0,
                "args": {"base_url": format!("http://{backend}"), "max_connection_timeout": 3000}}}},
            "clients": {"hooks": {"join_rooms": [
                {"hook": "pubsub.subscribe", "args": "public"},
                {"hook": "hp.post", "args": {"connector": "backend", "endpoint": "/join"}}
            ]}}
        }),
    );
    let h = TestHive::start(patch).await;
    assert_eq!(h.api, api_addr);
    let (mut a, _) = connect(&h, "websocket").await;
    let (mut b, _) = connect(&h, "xhr-polling").await;
    b.emit("join_rooms", json!([{"rooms": ["main"]}]));
    b.wait_event("joined");
    b.wait_event("dude_joins");
    a.emit("join_rooms", json!([{"rooms": ["main"]}]));
    let joined = a.wait_event("joined");
    assert!(
        !a.seen.iter().any(|v| v["name"] == "dude_joins"),
        "the publish overtook the hook's reply: {:?}",
        a.seen
    );
    assert_eq!(joined["args"][0], 200, "{joined}");
    assert_eq!(joined["args"][1], "", "{joined}");
    assert!(
        joined["args"][2].as_u64().unwrap() < 3000,
        "the API waited for the hook: {joined}"
    );
    // The publish made from inside a's hook reaches a (after its hook) and b.
    assert_eq!(a.wait_event("dude_joins")["args"], json!([{"nick": "bob"}]));
    b.wait_event("dude_joins");
    assert!(a.quiet_for(Duration::from_millis(1), |v| v["name"] == "hive_error"));
    task.abort();
    h.stop().await;
}
