//! A sharded channel on a real node: 300 raw WebSocket sessions (more than the 256 past which a
//! channel splits its fan-out over one task per runtime worker) subscribe to one channel, four
//! API clients publish to it at once, and every session reads every publish once, each
//! publisher's in order and all sessions in the same order; with the queue hand-over and with
//! direct writes (`hive.websocket_direct_write`). The monitor's `/channels` shows the shards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "support/publish_order.rs"]
mod publish_order;
#[path = "support/raw_ws.rs"]
mod raw_ws;

use std::time::{Duration, Instant};

use common::{TestHive, handshake, http};
use raw_ws::Ws;
use serde_json::{Value, json};

const HASH: &str = "abcde12345";
const SESSIONS: usize = 300;
const PUBLISHERS: usize = 4;
const EACH: usize = 25;

async fn subscribers(h: &TestHive) -> Option<i64> {
    let path = format!("/api/{HASH}/pubsub/subscribe/ping.x");
    let (s, _, b) = http(h.api, "GET", &path, &[], b"").await;
    (s == 200).then(|| serde_json::from_str::<Value>(&b).unwrap()["subscribed_clients"].as_i64())?
}

/// The monitor's `/channels` entry of `ping.x`.
async fn channel(h: &TestHive) -> Value {
    let (s, _, b) = http(
        h.monitor,
        "GET",
        "/monitor/12345abcde/channels?prefix=ping.x",
        &[],
        b"",
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    v["channels"][0].clone()
}

async fn fan_out_in_order(direct: bool) {
    let h = TestHive::start(json!({
        "hive": {"max_client_slots": 1000, "websocket_direct_write": direct},
        "socketio": {"poll_timeout": 0, "heartbeat_timeout": 30000, "session_timeout": 120000},
        "pubsub": {"channels": {"ping": {"privilege": "public", "timeout": 0}}}
    }))
    .await;
    let mut sessions = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        let mut ws = Ws::connected(h.sio, &handshake(h.sio).await).await;
        ws.send(r#"5:::{"name":"subscribe","args":["ping.x"]}"#)
            .await
            .unwrap();
        sessions.push(ws);
    }
    let end = Instant::now() + Duration::from_secs(30);
    while subscribers(&h).await != Some(SESSIONS as i64) {
        assert!(Instant::now() < end, "{SESSIONS} subscriptions");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(channel(&h).await["shards"], 2, "one shard per worker");

    let readers: Vec<_> = sessions
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut got = Vec::with_capacity(PUBLISHERS * EACH);
                while got.len() < PUBLISHERS * EACH {
                    let t = ws.event().await.expect("the session is served");
                    let v: Value = serde_json::from_str(t.strip_prefix("5:::").unwrap()).unwrap();
                    got.push(v["args"][0].as_str().unwrap().to_string());
                }
                got
            })
        })
        .collect();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let api = h.api;
            tokio::spawn(async move {
                let path = format!("/api/{HASH}/pubsub/publish/ping.x");
                for i in 0..EACH {
                    let body = format!(r#"{{"name":"news","args":["{p}:{i}"]}}"#);
                    let (s, _, b) = http(api, "POST", &path, &[], body.as_bytes()).await;
                    assert_eq!(s, 200, "{b}");
                }
            })
        })
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    let mut first: Option<Vec<String>> = None;
    for r in readers {
        let got = tokio::time::timeout(Duration::from_secs(60), r)
            .await
            .expect("every session gets every publish")
            .unwrap();
        publish_order::check(got, PUBLISHERS, EACH, &mut first);
    }
    assert_eq!(h.metric("pubsub.dropped_deliveries"), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_channel_reaches_every_session_in_order_through_the_queue() {
    fan_out_in_order(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_channel_reaches_every_session_in_order_with_direct_writes() {
    fan_out_in_order(true).await;
}
