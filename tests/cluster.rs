//! The cluster over a real `redis-server` (started by the test on a free port) and three Hive
//! nodes on loopback (in-process nodes, each with its own listeners, metrics and tree), with real
//! npm `socket.io-client@0.9.16` subscribers (docs/cluster.md):
//! - a publish through node A's API reaches the 0.9 subscribers on A, B and C exactly once each;
//! - three publishers on three nodes, 1,000 publishes each to one channel: every subscriber on
//!   every node sees the same order, and each publisher's publishes in the order it sent them;
//! - Redis away: the API answers 503 `backplane_unavailable` and nothing is delivered anywhere;
//!   the same `Idempotency-Key` twice is delivered once.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
#[path = "support/raw_ws.rs"]
mod raw_ws;
#[path = "support/redis.rs"]
mod redis;

use std::time::{Duration, Instant};

use common::{JsClient, TestHive, handshake, http};
use raw_ws::Ws;
use redis::RedisServer;
use serde_json::{Value, json};

const HASH: &str = "abcde12345";
const MONITOR_HASH: &str = "12345abcde";

async fn monitor(h: &TestHive, path: &str) -> (u16, Value) {
    let (s, _, b) = http(
        h.monitor,
        "GET",
        &format!("/monitor/{MONITOR_HASH}{path}"),
        &[],
        b"",
    )
    .await;
    (s, serde_json::from_str(&b).unwrap_or(Value::Null))
}

fn node_patch(redis: &RedisServer, node: &str) -> Value {
    json!({
        "socketio": {"heartbeat_timeout": 30000, "reconnect_timeout": 60000, "session_timeout": 60000,
                     "max_outgoing_queue": 100000},
        "clients": {
            "actions": {"reply": [{"action": "action.send_event", "args": null}]},
            "hooks": {
                "join_rooms": [{"hook": "pubsub.subscribe", "args": "public"}]
            }
        },
        "pubsub": {"channels": {"rooms": {"privilege": "public", "timeout": 0}}},
        "cluster": {
            "name": "test_cluster",
            "redis": format!("redis://127.0.0.1:{}/0", redis.port),
            "node": node,
            "shards": 4
        }
    })
}

async fn post(h: &TestHive, path: &str, body: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let (s, _, b) = http(
        h.api,
        "POST",
        &format!("/api/{HASH}{path}"),
        headers,
        body.as_bytes(),
    )
    .await;
    (s, b)
}

async fn subscribed(h: &TestHive, cid: &str) -> Option<i64> {
    let (s, _, b) = http(
        h.api,
        "GET",
        &format!("/api/{HASH}/pubsub/subscribe/{cid}"),
        &[],
        b"",
    )
    .await;
    (s == 200).then(|| serde_json::from_str::<Value>(&b).unwrap()["subscribed_clients"].as_i64())?
}

async fn wait_subscribed(h: &TestHive, cid: &str, n: i64) {
    let end = Instant::now() + Duration::from_secs(10);
    while subscribed(h, cid).await != Some(n) {
        assert!(Instant::now() < end, "{cid}: never reached {n} subscribers");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Three nodes of one cluster, `a`, `b` and `c`.
async fn start_three(redis: &RedisServer) -> Vec<TestHive> {
    let mut nodes = Vec::new();
    for name in ["a", "b", "c"] {
        nodes.push(TestHive::start(node_patch(redis, name)).await);
    }
    nodes
}

/// Three nodes of one cluster, and one websocket subscriber of `rooms.main` on each.
async fn three_nodes(redis: &RedisServer) -> (Vec<TestHive>, Vec<JsClient>) {
    let nodes = start_three(redis).await;
    let mut clients = Vec::new();
    for (i, h) in nodes.iter().enumerate() {
        let transport = if i == 1 { "xhr-polling" } else { "websocket" };
        let mut c = JsClient::connect(&h.url(), transport);
        c.wait_ev("connect");
        c.emit("join_rooms", json!([{"rooms": ["main"]}]));
        wait_subscribed(h, "rooms.main", 1).await;
        clients.push(c);
    }
    (nodes, clients)
}

/// The stream key holding `cid`'s publishes (the one stream with entries, in these tests).
fn stream_of(redis: &RedisServer, _cid: &str) -> String {
    (0..4)
        .map(|s| format!("test_cluster:{{test_cluster.{s}}}:stream"))
        .max_by_key(|k| redis.cli(&["XLEN", k]).parse::<i64>().unwrap_or(0))
        .unwrap_or_default()
}

fn is_event(name: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["ev"] == "event" && v["name"] == name
}

/// Issue 16, acceptance 1: a publish on A reaches the subscribers on A, B and C exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_one_node_reaches_every_node_once() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (nodes, mut clients) = three_nodes(&redis).await;
    let body = r#"{"name":"hello","args":[{"from":"a"}]}"#;
    assert_eq!(
        post(&nodes[0], "/pubsub/publish/rooms.main", body, &[]).await,
        (200, String::new())
    );
    // A prefix publish (every shard) after it, as a marker: it comes once too, and after.
    let marker = r#"[{"action":"reply","args":{"name":"marker","args":[]}}]"#;
    assert_eq!(
        post(&nodes[1], "/pubsub/action/rooms", marker, &[]).await,
        (200, String::new())
    );
    for c in &mut clients {
        let e = c.wait_for(Duration::from_secs(10), is_event("hello"));
        assert_eq!(e["args"], json!([{"from": "a"}]));
        c.wait_for(Duration::from_secs(10), is_event("marker"));
        assert!(
            c.quiet_for(Duration::from_millis(300), |v| v["ev"] == "event"),
            "a second delivery: {:?}",
            c.seen
        );
        let hellos = c.seen.iter().filter(|v| is_event("hello")(v)).count();
        assert_eq!(hellos, 1, "exactly once: {:?}", c.seen);
    }
    // Redis saw one stream entry for the single-channel publish and one per shard for the prefix.
    let total: i64 = (0..4)
        .map(|s| {
            redis
                .cli(&["XLEN", &format!("test_cluster:{{test_cluster.{s}}}:stream")])
                .parse::<i64>()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(total, 1 + 4);
    for n in nodes {
        n.stop().await;
    }
}

/// Issue 16, acceptance 2: three publishers on three nodes, 1,000 publishes each to one channel;
/// every subscriber sees the same order, and each publisher's own order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_publishers_one_order_everywhere() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (nodes, mut clients) = three_nodes(&redis).await;
    const N: usize = 1000;
    let publishers = nodes.iter().enumerate().map(|(p, h)| {
        let api = h.api;
        async move {
            for i in 0..N {
                let body = format!(r#"{{"name":"seq","args":[{p},{i}]}}"#);
                let (s, _, b) = http(
                    api,
                    "POST",
                    &format!("/api/{HASH}/pubsub/publish/rooms.main"),
                    &[],
                    body.as_bytes(),
                )
                .await;
                assert_eq!(s, 200, "{b}");
            }
        }
    });
    futures::future::join_all(publishers).await;
    let mut orders: Vec<Vec<(i64, i64)>> = Vec::new();
    for c in &mut clients {
        let mut got = Vec::with_capacity(3 * N);
        while got.len() < 3 * N {
            let e = c.wait_for(Duration::from_secs(30), is_event("seq"));
            got.push((
                e["args"][0].as_i64().unwrap(),
                e["args"][1].as_i64().unwrap(),
            ));
        }
        c.seen.clear();
        assert!(
            c.quiet_for(Duration::from_millis(300), is_event("seq")),
            "more than {} deliveries",
            3 * N
        );
        for p in 0..3 {
            let mine: Vec<i64> = got.iter().filter(|x| x.0 == p).map(|x| x.1).collect();
            assert_eq!(
                mine,
                (0..N as i64).collect::<Vec<_>>(),
                "publisher {p}'s order"
            );
        }
        orders.push(got);
    }
    assert_eq!(orders[0], orders[1], "A and B saw different orders");
    assert_eq!(orders[0], orders[2], "A and C saw different orders");
    for n in nodes {
        n.stop().await;
    }
}

/// Redis away: 503 with Hive's error body and nothing delivered; back: publishes flow again, and
/// one `Idempotency-Key` sent twice is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_away_is_503_and_nothing_is_delivered() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (nodes, mut clients) = three_nodes(&redis).await;
    let (status, health) = monitor(&nodes[0], "/health").await;
    assert_eq!(status, 200, "{health}");
    redis.stop();
    // The node keeps serving its sessions, and tells load balancers to send new ones elsewhere.
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, health) = monitor(&nodes[0], "/health").await;
        if status == 503 {
            assert_eq!(
                health["cluster"]["redis_reachable"],
                json!(false),
                "{health}"
            );
            break;
        }
        assert!(Instant::now() < end, "/health never 503: {health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = r#"{"name":"lost","args":[]}"#;
    let (status, text) = post(&nodes[0], "/pubsub/publish/rooms.main", body, &[]).await;
    assert_eq!(status, 503, "{text}");
    let err: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(err["error"], "backplane_unavailable", "{text}");
    redis.restart();
    let keyed = r#"{"name":"keyed","args":[]}"#;
    let key = [("Idempotency-Key", "k-1")];
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let (s, _) = post(&nodes[1], "/pubsub/publish/rooms.main", keyed, &key).await;
        if s == 200 {
            break;
        }
        assert!(Instant::now() < end, "publishes never accepted again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        post(&nodes[2], "/pubsub/publish/rooms.main", keyed, &key).await,
        (200, String::new()),
        "a repeat is accepted"
    );
    let after = r#"{"name":"after","args":[]}"#;
    assert_eq!(
        post(&nodes[0], "/pubsub/publish/rooms.main", after, &[])
            .await
            .0,
        200
    );
    for c in &mut clients {
        c.wait_for(Duration::from_secs(15), is_event("after"));
        let names: Vec<&Value> = c
            .seen
            .iter()
            .filter(|v| v["ev"] == "event")
            .map(|v| &v["name"])
            .collect();
        assert_eq!(names, [&json!("keyed"), &json!("after")], "{:?}", c.seen);
    }
    // Redis came back empty (no persistence): every node counted the loss.
    for n in &nodes {
        n.until("the data loss is counted", Duration::from_secs(10), |h| {
            h.metric("cluster.redis_data_lost") >= 1
        })
        .await;
    }
    assert!(nodes[0].metric("cluster.publish_errors") >= 1);
    for n in nodes {
        n.stop().await;
    }
}

fn sids(h: &TestHive) -> Vec<String> {
    h.node()
        .router()
        .registry()
        .all()
        .iter()
        .map(|c| c.sid().to_string())
        .collect()
}

/// Issue 16, acceptance 3 (in-process nodes): sids carry their node's tag and stay 40 lowercase
/// hex; `/clients/action/<sid>` and `/pubsub/subscribe/<sid>` through node C reach a session on
/// A; once B has left, a B sid gets `bad_session_id` at once (no attempt to reach B: that would be
/// a 503).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_session_calls_work_from_any_node() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (mut nodes, mut clients) = three_nodes(&redis).await;
    let per_node: Vec<String> = nodes.iter().map(|h| sids(h).remove(0)).collect();
    for sid in &per_node {
        assert!(
            sid.len() == 40
                && sid
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{sid}"
        );
    }
    let tags: std::collections::HashSet<&str> = per_node.iter().map(|s| &s[..8]).collect();
    assert_eq!(tags.len(), 3, "one tag per node: {per_node:?}");

    let body = r#"[{"action":"reply","args":{"name":"direct","args":[7]}}]"#;
    let path = format!("/clients/action/{}", per_node[0]);
    assert_eq!(
        post(&nodes[2], &path, body, &[]).await,
        (200, String::new())
    );
    let e = clients[0].wait_for(Duration::from_secs(10), is_event("direct"));
    assert_eq!(e["args"], json!([7]));

    let path = format!("/pubsub/subscribe/{}", per_node[0]);
    assert_eq!(
        post(&nodes[2], &path, r#"["rooms.side"]"#, &[]).await,
        (200, String::new())
    );
    wait_subscribed(&nodes[0], "rooms.side", 1).await;

    // B leaves (a graceful stop deletes its record at once).
    let b = nodes.remove(1);
    drop(clients.remove(1));
    b.stop().await;
    let path = format!("/clients/action/{}", per_node[1]);
    let (status, text) = post(&nodes[1], &path, body, &[]).await;
    assert_eq!(status, 500, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["error"],
        "bad_session_id"
    );
    // The monitor's cluster view, from either survivor: a and c up, b gone.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, view) = monitor(&nodes[1], "/cluster").await;
        assert_eq!(status, 200, "{view}");
        let list: Vec<(String, String)> = view["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let s = |k: &str| n[k].as_str().unwrap().to_string();
                (s("name"), s("status"))
            })
            .collect();
        let want = [("a", "up"), ("b", "gone"), ("c", "up")].map(|(a, b)| (a.into(), b.into()));
        let c = &view["nodes"][2];
        if list == want && c["sessions"] == json!(1) {
            assert_eq!(c["self"], json!(true));
            break;
        }
        assert!(Instant::now() < end, "cluster view: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A sid of no node at all.
    let path = format!("/clients/action/{}", "0".repeat(40));
    assert_eq!(post(&nodes[0], &path, body, &[]).await.0, 500);
    for n in nodes {
        n.stop().await;
    }
}

/// Wait until `h` sees `n` nodes up (its lookup connection works and their records are written).
async fn wait_up(h: &TestHive, n: usize) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, view) = monitor(h, "/cluster").await;
        let up = view["nodes"]
            .as_array()
            .map_or(0, |l| l.iter().filter(|x| x["status"] == "up").count());
        if up == n {
            return;
        }
        assert!(Instant::now() < end, "cluster view: {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The Engine.IO open packet's sid (`0{"sid":...}`).
fn eio_sid(open: &str) -> String {
    let v: Value = serde_json::from_str(open.trim_start_matches('0')).unwrap();
    v["sid"].as_str().unwrap().to_string()
}

/// Issue 16, item 4, and issue 15, item 8 (raw HTTP, no load balancer): every transport request
/// of a session reaches its owner through whichever node it hits. An Engine.IO 4 session opened
/// on A (its sid carries A's tag) connects `/` with a POST through B and polls through C; the
/// API's `/clients/action/<sid>` for its namespace socket works through C; a 0.9 session of A is
/// polled through B. Once A has left, B answers A's sids as unknown at once, without trying A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_requests_reach_the_owner_through_any_node() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut nodes = start_three(&redis).await;
    // Every node sees the three records (its lookup connection is up).
    for h in &nodes {
        wait_up(h, 3).await;
    }
    let (a, b, c) = (nodes[0].sio, nodes[1].sio, nodes[2].sio);
    let (s, _, open) = http(a, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"").await;
    assert_eq!(s, 200, "{open}");
    let sid = eio_sid(&open);
    assert_eq!(sid.len(), 24, "{sid}");
    let tag = hive::cluster::sid_tag(&sid).expect("a cluster node's Engine.IO sid is tagged");
    let q = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let text = [("Content-Type", "text/plain;charset=UTF-8")];
    let (s, _, body) = http(b, "POST", &q, &text, b"40").await;
    assert_eq!((s, body.as_str()), (200, "ok"));
    let (s, _, body) = http(c, "GET", &q, &[], b"").await;
    assert_eq!(s, 200, "{body}");
    let connect: Value = serde_json::from_str(body.strip_prefix("40").unwrap()).unwrap();
    let socket = connect["sid"].as_str().unwrap().to_string();
    assert_eq!(
        &socket[..8],
        tag,
        "the namespace socket's sid names the same node"
    );
    assert!(sids(&nodes[0]).contains(&socket));

    // The API's per-session call about the namespace socket, through C; its event polled via B.
    let action = r#"[{"action":"reply","args":{"name":"direct","args":[7]}}]"#;
    let path = format!("/clients/action/{socket}");
    assert_eq!(
        post(&nodes[2], &path, action, &[]).await,
        (200, String::new())
    );
    let (s, _, body) = http(b, "GET", &q, &[], b"").await;
    assert_eq!((s, body.as_str()), (200, r#"42["direct",7]"#));

    // 0.9: a session of A, polled through B (its first poll gets the connect packet).
    let old = handshake(a).await;
    let (s, _, body) = http(
        b,
        "GET",
        &format!("/socket.io/1/xhr-polling/{old}"),
        &[],
        b"",
    )
    .await;
    assert_eq!((s, body.as_str()), (200, "1:::"));
    let forwarded = |i: usize| nodes[i].metric("cluster.forwarded");
    assert!(forwarded(1) >= 3 && forwarded(2) >= 1);
    assert_eq!(nodes[0].metric("cluster.forwarded"), 0, "A served its own");
    // A request that was forwarded once is never forwarded again (no loops): the usual answer.
    let before = forwarded(1);
    let (s, _, body) = http(b, "GET", &q, &[("x-hive-forwarded", "z")], b"").await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(forwarded(1), before);

    // A leaves: its sids are unknown through B at once, and B does not try to reach A.
    let a_node = nodes.remove(0);
    a_node.stop().await;
    let before = nodes[0].metric("cluster.forwarded");
    let (s, _, body) = http(b, "GET", &q, &[], b"").await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"code": 1, "message": "Session ID unknown"})
    );
    let (s, _, body) = http(
        b,
        "GET",
        &format!("/socket.io/1/xhr-polling/{old}"),
        &[],
        b"",
    )
    .await;
    assert_eq!((s, body.as_str()), (200, "0:::"));
    let (status, text) = post(&nodes[0], &path, action, &[]).await;
    assert_eq!(status, 500, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["error"],
        "bad_session_id"
    );
    assert_eq!(nodes[0].metric("cluster.forwarded"), before);
    assert_eq!(nodes[0].metric("cluster.forward_errors"), 0);
    for n in nodes {
        n.stop().await;
    }
}

/// WebSocket upgrades through another node are spliced to the owner: a 0.9 session of A upgraded
/// on B gets its connect packet and an API reply sent through C; an Engine.IO 4 polling session of
/// A, connected through B, is upgraded to WebSocket on C (probe, upgrade) and gets its events
/// there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_are_spliced_to_the_owner() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let nodes = start_three(&redis).await;
    for h in &nodes {
        wait_up(h, 3).await;
    }
    let (a, b, c) = (nodes[0].sio, nodes[1].sio, nodes[2].sio);
    let action = r#"[{"action":"reply","args":{"name":"direct","args":[7]}}]"#;

    let old = handshake(a).await;
    let mut ws = Ws::connected(b, &old).await;
    let path = format!("/clients/action/{old}");
    assert_eq!(
        post(&nodes[2], &path, action, &[]).await,
        (200, String::new())
    );
    assert_eq!(
        ws.event().await.as_deref(),
        Some(r#"5:::{"name":"direct","args":[7]}"#)
    );

    let (_, _, open) = http(a, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"").await;
    let sid = eio_sid(&open);
    let q = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let text = [("Content-Type", "text/plain;charset=UTF-8")];
    assert_eq!(http(b, "POST", &q, &text, b"40").await.0, 200);
    let (_, _, body) = http(b, "GET", &q, &[], b"").await;
    let connect: Value = serde_json::from_str(body.strip_prefix("40").unwrap()).unwrap();
    let socket = connect["sid"].as_str().unwrap().to_string();
    let mut up = Ws::upgrade(
        c,
        &format!("/socket.io/?EIO=4&transport=websocket&sid={sid}"),
    )
    .await;
    up.send("2probe").await.unwrap();
    assert_eq!(up.text().await.as_deref(), Some("3probe"));
    up.send("5").await.unwrap();
    let path = format!("/clients/action/{socket}");
    assert_eq!(
        post(&nodes[1], &path, action, &[]).await,
        (200, String::new())
    );
    let mut got = up.text().await;
    while got.as_deref() == Some("2") {
        up.send("3").await.unwrap();
        got = up.text().await;
    }
    assert_eq!(got.as_deref(), Some(r#"42["direct",7]"#));
    assert!(nodes[1].metric("cluster.forwarded") >= 3);
    assert!(nodes[2].metric("cluster.forwarded") >= 1);
    assert_eq!(nodes[0].metric("cluster.forwarded"), 0);
    drop((ws, up));
    for n in nodes {
        n.stop().await;
    }
}

/// An owner that is up in Redis but cannot be reached at its `advertise` address: the request
/// gets the protocol's answer for a dead session, and the failure is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_owner_is_a_dead_session_and_counted() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut patch = node_patch(&redis, "a");
    // Nothing listens there.
    patch["cluster"]["advertise"] = json!(format!("127.0.0.1:{}", redis::free_port()));
    let a = TestHive::start(patch).await;
    let b = TestHive::start(node_patch(&redis, "b")).await;
    let (_, _, open) = http(
        a.sio,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        &[],
        b"",
    )
    .await;
    let q = format!("/socket.io/?EIO=4&transport=polling&sid={}", eio_sid(&open));
    let end = Instant::now() + Duration::from_secs(10);
    while b.metric("cluster.forward_errors") == 0 {
        let (s, _, body) = http(b.sio, "GET", &q, &[], b"").await;
        assert_eq!(s, 400, "{body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({"code": 1, "message": "Session ID unknown"})
        );
        // Until B sees A's record, the sid is simply unknown there (nothing to count).
        assert!(Instant::now() < end, "no forward was tried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let old = handshake(a.sio).await;
    let (s, _, body) = http(
        b.sio,
        "GET",
        &format!("/socket.io/1/xhr-polling/{old}"),
        &[],
        b"",
    )
    .await;
    assert_eq!((s, body.as_str()), (200, "0:::"));
    assert!(b.metric("cluster.forward_errors") >= 2);
    assert_eq!(
        b.metric("cluster.forwarded"),
        b.metric("cluster.forward_errors")
    );
    a.stop().await;
    b.stop().await;
}

/// Issue 16, acceptance 5: Redis with `appendonly yes` and `appendfsync always` is stopped and
/// started again in the middle of 10,000 publishes (four publishers on three nodes, each retrying
/// a refused publish with the same `Idempotency-Key`): every acknowledged publish is delivered
/// once, in each publisher's order, to the subscribers on every node, and no loss is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_with_persistence_loses_nothing() {
    let Some(redis) = RedisServer::start_persistent() else {
        return;
    };
    let redis = std::sync::Arc::new(redis);
    let (nodes, mut clients) = three_nodes(&redis).await;
    const PUBLISHERS: usize = 4;
    const EACH: usize = 2500;
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let publishers = (0..PUBLISHERS).map(|p| {
        let api = nodes[p % nodes.len()].api;
        let (acked, refused) = (acked.clone(), refused.clone());
        async move {
            for i in 0..EACH {
                let body = format!(r#"{{"name":"seq","args":[{p},{i}]}}"#);
                let key = format!("{p}-{i}");
                let end = Instant::now() + Duration::from_secs(60);
                loop {
                    let (s, _, b) = http(
                        api,
                        "POST",
                        &format!("/api/{HASH}/pubsub/publish/rooms.main"),
                        &[("Idempotency-Key", key.as_str())],
                        body.as_bytes(),
                    )
                    .await;
                    if s == 200 {
                        break;
                    }
                    assert_eq!(s, 503, "{b}");
                    refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    assert!(Instant::now() < end, "never accepted again: {b}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    let restart = {
        let (redis, acked) = (redis.clone(), acked.clone());
        async move {
            if std::env::var("CLUSTER_NO_RESTART").is_ok() {
                return 0;
            }
            while acked.load(std::sync::atomic::Ordering::Relaxed) < PUBLISHERS * EACH / 3 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokio::task::spawn_blocking(move || {
                redis.stop();
                std::thread::sleep(Duration::from_millis(300));
                redis.start_again();
            })
            .await
            .unwrap();
            acked.load(std::sync::atomic::Ordering::Relaxed)
        }
    };
    let (_, at_restart) = tokio::join!(futures::future::join_all(publishers), restart);
    assert!(
        at_restart < PUBLISHERS * EACH,
        "Redis was back before the last publish ({at_restart} acknowledged)"
    );
    // Publishes in flight during the outage wait for the reconnection (and its one retry) or are
    // refused with 503 and retried by their publisher with the same key: never doubled.
    eprintln!(
        "{} publishes refused during the restart, {at_restart} acknowledged before it",
        refused.load(std::sync::atomic::Ordering::Relaxed)
    );
    let stream_has = |p: usize, i: i64| {
        let all = redis.cli(&["XRANGE", &stream_of(&redis, "rooms.main"), "-", "+"]);
        all.matches(&format!("[{p},{i}]")).count()
    };
    for (n, c) in clients.iter_mut().enumerate() {
        let mut next = [0i64; PUBLISHERS];
        let mut got = 0;
        while got < PUBLISHERS * EACH {
            let e = c.wait_for(Duration::from_secs(60), is_event("seq"));
            let (p, i) = (
                e["args"][0].as_i64().unwrap() as usize,
                e["args"][1].as_i64().unwrap(),
            );
            if i != next[p] {
                panic!(
                    "client {n}: publisher {p} sent {} next, got {i}; the stream holds it {} times",
                    next[p],
                    stream_has(p, next[p])
                );
            }
            next[p] += 1;
            got += 1;
            c.seen.clear();
        }
        assert!(c.quiet_for(Duration::from_millis(300), is_event("seq")));
    }
    for n in &nodes {
        assert_eq!(n.metric("cluster.redis_data_lost"), 0);
        assert_eq!(n.metric("cluster.lost_gaps"), 0);
    }
    for n in nodes {
        n.stop().await;
    }
}

/// Issue 16, acceptance 4: `kill -9` of node B (a separate `hive` process) while A and C publish:
/// B is listed as `gone` once `gone_after_ms` passed, and the subscribers on A and C lose and
/// double nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_node_under_load() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let fast = |name: &str| {
        let mut p = node_patch(&redis, name);
        p["cluster"]["gone_after_ms"] = json!(1000);
        p
    };
    // B: a real process on free ports.
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..3).map(|_| redis::free_port()).collect();
    let mut cfg = common::test_config(fast("b"));
    common::merge(
        &mut cfg,
        &json!({"hive": {"port": ports[0]}, "api": {"port": ports[1]}, "monitor": {"port": ports[2]},
                "log": {"dir": dir.path().join("log").to_str().unwrap()}}),
    );
    let path = dir.path().join("hive.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let (mut b, _stderr) = common::spawn_hive_binary(env!("CARGO_BIN_EXE_hive"), &path, dir.path());
    let a = TestHive::start(fast("a")).await;
    let c = TestHive::start(fast("c")).await;
    let end = Instant::now() + Duration::from_secs(30);
    while !redis::port_open(ports[0]) {
        assert!(Instant::now() < end, "node b did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut on_b = JsClient::connect(&format!("http://127.0.0.1:{}", ports[0]), "websocket");
    on_b.wait_ev("connect");
    on_b.emit("join_rooms", json!([{"rooms": ["main"]}]));
    let mut clients = Vec::new();
    for h in [&a, &c] {
        let mut cl = JsClient::connect(&h.url(), "websocket");
        cl.wait_ev("connect");
        cl.emit("join_rooms", json!([{"rooms": ["main"]}]));
        wait_subscribed(h, "rooms.main", 1).await;
        clients.push(cl);
    }
    // The view sees three nodes up.
    let end = Instant::now() + Duration::from_secs(10);
    while monitor(&a, "/cluster").await.1["nodes"]
        .as_array()
        .map_or(0, |n| n.iter().filter(|x| x["status"] == "up").count())
        < 3
    {
        assert!(Instant::now() < end, "three nodes never up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    const EACH: usize = 300;
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let publishers = [a.api, c.api].into_iter().enumerate().map(|(p, api)| {
        let sent = sent.clone();
        async move {
            for i in 0..EACH {
                let body = format!(r#"{{"name":"seq","args":[{p},{i}]}}"#);
                let (s, _, t) = http(
                    api,
                    "POST",
                    &format!("/api/{HASH}/pubsub/publish/rooms.main"),
                    &[],
                    body.as_bytes(),
                )
                .await;
                assert_eq!(s, 200, "{t}");
                sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    let killer = {
        let sent = sent.clone();
        async move {
            while sent.load(std::sync::atomic::Ordering::Relaxed) < EACH / 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            b.kill().unwrap(); // SIGKILL
            let _ = b.wait();
        }
    };
    tokio::join!(futures::future::join_all(publishers), killer);
    for cl in &mut clients {
        let mut next = [0i64; 2];
        for _ in 0..2 * EACH {
            let e = cl.wait_for(Duration::from_secs(30), is_event("seq"));
            let (p, i) = (
                e["args"][0].as_i64().unwrap() as usize,
                e["args"][1].as_i64().unwrap(),
            );
            assert_eq!(i, next[p], "publisher {p}: once each, in order");
            next[p] += 1;
            cl.seen.clear();
        }
        assert!(cl.quiet_for(Duration::from_millis(300), is_event("seq")));
    }
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let view = monitor(&c, "/cluster").await.1;
        let b_status = view["nodes"]
            .as_array()
            .and_then(|n| n.iter().find(|x| x["name"] == "b"))
            .map(|x| x["status"].clone());
        if b_status == Some(json!("gone")) {
            break;
        }
        assert!(Instant::now() < end, "b never gone: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(on_b);
    a.stop().await;
    c.stop().await;
}
