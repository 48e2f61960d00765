//! The cluster over a real 3-master Redis Cluster on loopback (`redis-server --cluster-enabled yes`
//! joined by `redis-cli --cluster create`, tests/support/redis_cluster.rs) and three Hive nodes
//! configured with its seed list (docs/cluster.md), with real npm `socket.io-client@0.9.16`
//! subscribers (issue 16, acceptance 8):
//! - publishes on each node to channels of every shard reach the subscribers on every node exactly
//!   once, in one order per channel, each publisher's in the order it sent them;
//! - a prefix publish (one script per shard) reaches each subscribed channel once;
//! - the shards' streams landed on every master.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
#[path = "support/redis_cluster.rs"]
mod redis_cluster;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{JsClient, TestHive, http};
use redis_cluster::RedisCluster;
use serde_json::{Value, json};

const HASH: &str = "abcde12345";
const SHARDS: u32 = 8;
/// Publishes per publisher (node) and channel.
const K: i64 = 25;

fn node_patch(seeds: &[String], node: &str) -> Value {
    json!({
        "socketio": {"heartbeat_timeout": 30000, "reconnect_timeout": 60000, "session_timeout": 60000,
                     "max_outgoing_queue": 100000},
        "clients": {
            "actions": {"reply": [{"action": "action.send_event", "args": null}]},
            "hooks": {"join_rooms": [{"hook": "pubsub.subscribe", "args": "public"}]}
        },
        "pubsub": {"channels": {"rooms": {"privilege": "public", "timeout": 0}}},
        "cluster": {"name": "test_rc", "redis": seeds, "node": node, "shards": SHARDS}
    })
}

async fn post(h: &TestHive, path: &str, body: &str) -> (u16, String) {
    let (s, _, b) = http(
        h.api,
        "POST",
        &format!("/api/{HASH}{path}"),
        &[],
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

/// One room name per shard (`rooms.<name>` is in shard `i` of the returned list).
fn one_room_per_shard() -> Vec<String> {
    (0..SHARDS)
        .map(|s| {
            (0..)
                .map(|i| format!("r{i}"))
                .find(|r| hive::cluster::shard_of(&format!("rooms.{r}"), SHARDS) == s)
                .unwrap()
        })
        .collect()
}

fn is_event(name: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["ev"] == "event" && v["name"] == name
}

/// Issue 16, acceptance 8: the fan-out test on a 3-master Redis Cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_over_a_three_master_redis_cluster() {
    let Some(rc) = RedisCluster::start(3) else {
        return;
    };
    let seeds = rc.seeds();
    let rooms = one_room_per_shard();
    let mut nodes = Vec::new();
    for name in ["a", "b", "c"] {
        nodes.push(TestHive::start(node_patch(&seeds, name)).await);
    }
    // Two subscribers per node (both 0.9 transports), each in every room.
    let mut clients = Vec::new();
    for (n, h) in nodes.iter().enumerate() {
        for transport in ["websocket", "xhr-polling"] {
            let mut c = JsClient::connect(&h.url(), transport);
            c.wait_ev("connect");
            c.emit("join_rooms", json!([{"rooms": rooms}]));
            clients.push(c);
        }
        let end = Instant::now() + Duration::from_secs(15);
        for r in &rooms {
            while subscribed(h, &format!("rooms.{r}")).await != Some(2) {
                assert!(Instant::now() < end, "node {n}: rooms.{r} never had 2");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    // Every node publishes K times to every room; each publish is acknowledged before the next.
    let publishers = nodes.iter().enumerate().map(|(p, h)| {
        let rooms = rooms.clone();
        async move {
            for i in 0..K {
                for (c, r) in rooms.iter().enumerate() {
                    let body = format!(r#"{{"name":"seq","args":[{p},{c},{i}]}}"#);
                    let (s, b) = post(h, &format!("/pubsub/publish/rooms.{r}"), &body).await;
                    assert_eq!(s, 200, "{b}");
                }
            }
        }
    });
    futures::future::join_all(publishers).await;
    // A prefix publish: one script per shard; each subscribed channel delivers it once.
    let marker = r#"[{"action":"reply","args":{"name":"marker","args":[]}}]"#;
    assert_eq!(
        post(&nodes[1], "/pubsub/action/rooms", marker).await,
        (200, String::new())
    );
    let total = 3 * K as usize * rooms.len();
    // Per client: room -> the (publisher, i) sequence it saw.
    let mut orders: Vec<HashMap<i64, Vec<(i64, i64)>>> = Vec::new();
    for c in &mut clients {
        let mut per_room: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
        for _ in 0..total {
            let e = c.wait_for(Duration::from_secs(30), is_event("seq"));
            let a = &e["args"];
            per_room
                .entry(a[1].as_i64().unwrap())
                .or_default()
                .push((a[0].as_i64().unwrap(), a[2].as_i64().unwrap()));
        }
        for _ in 0..rooms.len() {
            c.wait_for(Duration::from_secs(30), is_event("marker"));
        }
        c.seen.clear();
        assert!(
            c.quiet_for(Duration::from_millis(500), |v| v["ev"] == "event"),
            "a delivery more than once: {:?}",
            c.seen
        );
        for (room, seen) in &per_room {
            for p in 0..3 {
                let mine: Vec<i64> = seen.iter().filter(|x| x.0 == p).map(|x| x.1).collect();
                assert_eq!(
                    mine,
                    (0..K).collect::<Vec<_>>(),
                    "room {room}: publisher {p}'s publishes once each, in order"
                );
            }
        }
        assert_eq!(per_room.len(), rooms.len());
        orders.push(per_room);
    }
    for (i, o) in orders.iter().enumerate().skip(1) {
        assert_eq!(o, &orders[0], "subscriber {i} saw another order than 0");
    }
    // The streams really landed on different masters: each master holds some, 8 in all, each with
    // its room's 3 x K publishes and the prefix publish.
    let mut held = 0;
    for &port in &rc.ports {
        let streams = rc.keys_on(port, "test_rc:*:stream");
        assert!(
            !streams.is_empty(),
            "the master on port {port} holds no shard: {:?}",
            rc.ports
                .iter()
                .map(|&p| rc.keys_on(p, "test_rc:*"))
                .collect::<Vec<_>>()
        );
        for s in &streams {
            assert_eq!(rc.cli(port, &["XLEN", s]), (3 * K + 1).to_string(), "{s}");
            // Its epoch and the markers of its publishes share its slot, hence its master.
            let tag = s.split_once('{').unwrap().1.split_once('}').unwrap().0;
            assert_eq!(
                rc.cli(port, &["EXISTS", &format!("test_rc:{{{tag}}}:epoch")]),
                "1"
            );
        }
        held += streams.len();
    }
    assert_eq!(held, SHARDS as usize);
    // Every command went straight to the master of its slot: no MOVED, no CROSSSLOT.
    for &port in &rc.ports {
        let errors = rc.cli(port, &["INFO", "errorstats"]);
        eprintln!("errorstats of {port}: {errors}");
        assert!(
            !errors.contains("MOVED") && !errors.contains("CROSSSLOT"),
            "{port}: {errors}"
        );
    }
    for n in &nodes {
        assert_eq!(n.metric("cluster.partial_publishes"), 0);
        assert_eq!(n.metric("cluster.publish_errors"), 0);
        assert_eq!(n.metric("cluster.redis_data_lost"), 0);
        assert_eq!(n.metric("cluster.lost_gaps"), 0);
    }
    for n in nodes {
        n.stop().await;
    }
}

/// A master of the Redis Cluster refuses writes (it is full: `maxmemory` reached, `noeviction`): a
/// prefix publish reaching every shard is accepted by the shards of the other masters only. It is
/// answered 503 naming the shards that refused it, counted in `cluster.partial_publishes`, and
/// reaches the rooms of the accepted shards only. Once the master takes writes again, the caller's
/// retry with the same `Idempotency-Key` completes the publish on the missing shards without
/// doubling the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_accepted_by_some_shards_only_is_reported_and_completed_by_its_retry() {
    let Some(rc) = RedisCluster::start(3) else {
        return;
    };
    let seeds = rc.seeds();
    let rooms = one_room_per_shard();
    let node = TestHive::start(node_patch(&seeds, "a")).await;
    let mut c = JsClient::connect(&node.url(), "websocket");
    c.wait_ev("connect");
    c.emit("join_rooms", json!([{"rooms": rooms}]));
    let end = Instant::now() + Duration::from_secs(15);
    for r in &rooms {
        while subscribed(&node, &format!("rooms.{r}")).await != Some(1) {
            assert!(Instant::now() < end, "rooms.{r} never had its subscriber");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // The node reads every shard (its start positions are taken: /health is 200).
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let (s, _, b) = http(node.monitor, "GET", "/monitor/12345abcde/health", &[], b"").await;
        if s == 200 {
            break;
        }
        assert!(Instant::now() < end, "/health never 200: {b}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The shards on master 0 (the one that fills up): their epochs live there.
    let full = rc.ports[0];
    let on_full = (0..SHARDS)
        .filter(|s| rc.cli(full, &["EXISTS", &format!("test_rc:{{test_rc.{s}}}:epoch")]) == "1")
        .count();
    assert!(on_full > 0 && on_full < SHARDS as usize, "{on_full}");
    assert_eq!(
        rc.cli(full, &["CONFIG", "SET", "maxmemory-policy", "noeviction"]),
        "OK"
    );
    assert_eq!(rc.cli(full, &["CONFIG", "SET", "maxmemory", "1"]), "OK");
    let body = r#"[{"action":"reply","args":{"name":"p","args":[]}}]"#;
    let key = [("Idempotency-Key", "partial-1")];
    let path = format!("/api/{HASH}/pubsub/action/rooms");
    let (status, _, text) = http(node.api, "POST", &path, &key, body.as_bytes()).await;
    assert_eq!(status, 503, "{text}");
    let err: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(err["error"], "backplane_unavailable", "{text}");
    let live = SHARDS as usize - on_full;
    assert!(
        text.contains(&format!("on {live} of its {SHARDS} shards only")),
        "{text}"
    );
    assert_eq!(node.metric("cluster.partial_publishes"), 1);
    // The rooms of the other masters got it, once each.
    for _ in 0..live {
        c.wait_for(Duration::from_secs(15), is_event("p"));
    }
    assert!(c.quiet_for(Duration::from_millis(500), is_event("p")));
    // The master takes writes again; the retry completes the publish.
    assert_eq!(rc.cli(full, &["CONFIG", "SET", "maxmemory", "0"]), "OK");
    let (status, _, text) = http(node.api, "POST", &path, &key, body.as_bytes()).await;
    assert_eq!(status, 200, "{text}");
    for _ in 0..on_full {
        c.wait_for(Duration::from_secs(15), is_event("p"));
    }
    assert!(
        c.quiet_for(Duration::from_millis(500), is_event("p")),
        "a shard delivered the publish twice: {:?}",
        c.seen
    );
    let got = c.seen.iter().filter(|v| is_event("p")(v)).count();
    assert_eq!(got, SHARDS as usize, "each room once: {:?}", c.seen);
    assert_eq!(node.metric("cluster.partial_publishes"), 1);
    assert_eq!(node.metric("cluster.redis_data_lost"), 0);
    node.stop().await;
}
