//! The monitor as an observer, over real HTTP on a whole node carrying real sessions (raw 0.9
//! XHR clients) and a real HTTP backend: `/actors` (top N, one actor), `POST /actors/<id>/kill`
//! and the reserved route words.
//!
//! * a session whose hook waits on a slow backend shows its mailbox growing, and tops
//!   `sort=mailbox` (the acceptance item "a pool worker blocked on a slow backend shows its
//!   mailbox growing", measured where the queue really grows: see that test);
//! * a WebSocket session whose client stops reading rises to the top of `sort=queued`;
//! * `/channels` counts each channel's publishes and rates; one publish in 64 is timed from
//!   publish to socket write (`/latency` `deliveries`); pools time their rent waits;
//! * `POST /sessions/<sid>/events` sends an event to a session (real WebSocket client), with
//!   clear errors for bad bodies and unknown sids;
//! * killing `worker:backend:0` shows `restarts 1` on `pool:backend`, and the pool serves again;
//! * killing `root_sup` is refused (403), unknown ids are 404, bad parameters 400;
//! * `actors`, `sessions`, `channels`, `dashboard` and `cluster` are never metric prefixes;
//! * `/sessions/<sid>` describes a session (transport, state value); `DELETE` disconnects it and
//!   its `on_disconnect` reaches the backend; `/channels?prefix=` counts subscribers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/backend.rs"]
mod backend;
mod common;
#[path = "support/raw_ws.rs"]
mod raw_ws;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use raw_ws::Ws;
use serde_json::{Value, json};

use backend::Backend;
use common::{TestHive, http};

const HASH: &str = "12345abcde";

/// A node with one `connector.http` pool `backend` of `size` workers, and a `slow` event whose
/// hook posts to it.
async fn node(b: &Backend, size: u32) -> TestHive {
    let pool = json!({"connector": "connector.http", "size": size, "overflow": 0,
        "args": {"base_url": format!("http://{}", b.addr), "max_connection_timeout": 10000}});
    TestHive::start(json!({
        "connectors": {"rent_timeout": 10000, "pools": {"backend": pool}},
        "clients": {"hooks": {
            "slow": [{"hook": "hp.post", "args": {"connector": "backend", "endpoint": "/slow"}}]
        }}
    }))
    .await
}

/// A monitor request; (status, body).
async fn mon(addr: SocketAddr, method: &str, route: &str, body: &[u8]) -> (u16, String) {
    let (status, _, body) =
        http(addr, method, &format!("/monitor/{HASH}/{route}"), &[], body).await;
    (status, body)
}

async fn mon_json(addr: SocketAddr, route: &str) -> Value {
    let (status, body) = mon(addr, "GET", route, b"").await;
    assert_eq!(status, 200, "GET {route}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The `{"error","description"}` body of an error reply, checked.
fn error_body(status: u16, body: &str, want: u16) -> Value {
    assert_eq!(status, want, "{body}");
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["error"], "bad_monitor_request", "{v}");
    assert!(
        v["description"].as_str().is_some_and(|d| !d.is_empty()),
        "{v}"
    );
    v
}

/// An XHR-polling session, connected (its first poll answered `1::`).
async fn session(h: &TestHive) -> String {
    let sid = common::handshake(h.sio).await;
    let (status, _, body) = http(
        h.sio,
        "GET",
        &format!("/socket.io/1/xhr-polling/{sid}"),
        &[("Origin", "null")],
        b"",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    sid
}

/// Post one Socket.IO event from session `sid` without waiting for the answer.
fn emit(h: &TestHive, sid: &str, name: &str) -> tokio::task::JoinHandle<()> {
    emit_args(h, sid, name, json!([{"n": 1}]))
}

/// Post one Socket.IO event with these `args` from session `sid`, without waiting.
fn emit_args(h: &TestHive, sid: &str, name: &str, args: Value) -> tokio::task::JoinHandle<()> {
    let (addr, path) = (h.sio, format!("/socket.io/1/xhr-polling/{sid}"));
    let msg = format!("5:::{}", json!({"name": name, "args": args}));
    tokio::spawn(async move {
        let _ = http(addr, "POST", &path, &[("Origin", "null")], msg.as_bytes()).await;
    })
}

/// Poll `GET route` until `ok` holds (bounded); the last answer.
async fn until(addr: SocketAddr, route: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let v = mon_json(addr, route).await;
        if ok(&v) {
            return v;
        }
        assert!(Instant::now() < end, "{what}: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `/actors` lists the whole tree with figures; one actor has its supervisor path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_list_the_tree_with_figures() {
    let b = Backend::start().await;
    b.answer(200, "{}");
    let h = node(&b, 2).await;
    let sids = [session(&h).await, session(&h).await, session(&h).await];

    let all = mon_json(h.monitor, "actors?limit=10000").await;
    let actors = all["actors"].as_array().unwrap();
    assert_eq!(all["total"].as_u64().unwrap() as usize, actors.len());
    let names: Vec<&str> = actors.iter().map(|a| a["id"].as_str().unwrap()).collect();
    for want in [
        "root_sup",
        "hive_sup",
        "router",
        "clients_sup",
        "pool:backend",
        "worker:backend:0",
        "worker:backend:1",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    for sid in &sids {
        assert!(
            names.contains(&sid.as_str()),
            "session {sid} not in {names:?}"
        );
    }
    for a in actors {
        for key in [
            "actor_id", "kind", "path", "status", "mailbox", "handled", "rate", "age_ms",
        ] {
            assert!(a.get(key).is_some(), "{key} missing: {a}");
        }
    }

    // One actor, by tree name and by actor id.
    let w = mon_json(h.monitor, "actors/worker:backend:0").await;
    assert_eq!(
        w["path"],
        json!(["root_sup", "hive_sup", "connectors_sup", "pool:backend"]),
        "{w}"
    );
    assert_eq!(w["kind"], "worker");
    let by_id = mon_json(
        h.monitor,
        &format!("actors/{}", w["actor_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(by_id["id"], "worker:backend:0");
    let s = mon_json(h.monitor, &format!("actors/{}", sids[0])).await;
    assert_eq!(
        s["path"],
        json!(["root_sup", "hive_sup", "router_sup", "clients_sup"]),
        "{s}"
    );
    assert!(
        s["handled"].as_u64().unwrap() >= 1,
        "the session handled its connect: {s}"
    );
    let p = mon_json(h.monitor, "actors/pool:backend").await;
    assert_eq!(p["supervisor"]["child_count"], 2, "{p}");

    // Limits and sorts.
    let top2 = mon_json(h.monitor, "actors?sort=age&limit=2").await;
    let top2 = top2["actors"].as_array().unwrap();
    assert_eq!(top2.len(), 2);
    assert!(top2[0]["age_ms"].as_u64() <= top2[1]["age_ms"].as_u64());
    let by_rate = mon_json(h.monitor, "actors?sort=rate&limit=5").await;
    let rates: Vec<f64> = by_rate["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rate"].as_f64().unwrap())
        .collect();
    assert!(rates.windows(2).all(|w| w[0] >= w[1]), "{rates:?}");
    h.stop().await;
}

/// A session whose hook waits on a slow backend (pool of one worker) queues what its client sends
/// next: its mailbox grows, and it tops `sort=mailbox`.
///
/// Why the session and not the pool worker: a `connector.http` worker is rented by one request at
/// a time and hands it to its own OS thread, so requests for a busy pool wait for a free worker
/// (the rent), never in a worker's mailbox; a pool worker's mailbox cannot grow by design. What
/// grows is the mailbox of the session whose hook waits (a session runs its hook chain inside
/// its message handler), which is what an operator looking for "the actor that is the problem"
/// finds. The test also checks the worker's own mailbox stays at most 1 meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_blocked_on_a_slow_backend_shows_its_mailbox_growing() {
    let b = Backend::start().await;
    b.answer(200, "{}");
    b.delay(Duration::from_secs(3));
    let h = node(&b, 1).await;
    let sid = session(&h).await;
    let _idle = session(&h).await;

    let first = emit(&h, &sid, "slow");
    b.wait_requests(1, Duration::from_secs(5)).await;
    let mut posts = Vec::new();
    for _ in 0..5 {
        posts.push(emit(&h, &sid, "slow"));
    }
    let s = until(
        h.monitor,
        &format!("actors/{sid}"),
        "mailbox grows to 5",
        |v| v["mailbox"].as_u64() >= Some(5),
    )
    .await;
    assert_eq!(s["kind"], "worker", "{s}");
    let top = mon_json(h.monitor, "actors?sort=mailbox&limit=1").await;
    assert_eq!(top["actors"][0]["id"], sid.as_str(), "{top}");
    assert!(top["actors"][0]["mailbox"].as_u64() >= Some(5), "{top}");
    let w = mon_json(h.monitor, "actors/worker:backend:0").await;
    assert!(
        w["mailbox"].as_u64() <= Some(1),
        "the worker's mailbox: {w}"
    );
    drop((first, posts));
    h.stop().await;
}

/// Killing a pool worker through the monitor: `pool:backend` restarts it (restarts 1, the worker
/// has a new actor id) and the pool serves again; the kill is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_pool_worker_restarts_it_and_the_pool_serves_again() {
    let b = Backend::start().await;
    b.answer(200, "{}");
    let h = node(&b, 1).await;
    let sid = session(&h).await;
    let before = mon_json(h.monitor, "actors/worker:backend:0").await;
    assert_eq!(
        mon_json(h.monitor, "actors/pool:backend").await["supervisor"]["restarts"],
        0
    );

    let (status, body) = mon(
        h.monitor,
        "POST",
        "actors/worker:backend:0/kill",
        br#"{"reason":"observer test"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["killed"], "worker:backend:0");
    assert_eq!(v["reason"], "observer test");
    assert_eq!(v["actor_id"], before["actor_id"]);

    let pool = until(h.monitor, "actors/pool:backend", "restarts 1", |p| {
        p["supervisor"]["restarts"] == 1
    })
    .await;
    assert_eq!(pool["supervisor"]["child_count"], 1, "{pool}");
    let after = until(h.monitor, "actors/worker:backend:0", "a new worker", |w| {
        w["actor_id"] != before["actor_id"]
    })
    .await;
    assert_eq!(after["restarts"], 1, "{after}");
    assert_eq!(h.metric("hive.killed_actors"), 1);

    // The pool serves again.
    let _post = emit(&h, &sid, "slow");
    let got = b.wait_requests(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].path, "/slow");

    // The reason may come in the query too; a supervisor's kill takes its subtree with it.
    let (status, body) = mon(
        h.monitor,
        "POST",
        "actors/pool:backend/kill?reason=again",
        b"",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["reason"], "again");
    until(
        h.monitor,
        "actors/connectors_sup",
        "connectors_sup restarted the pool",
        |c| c["supervisor"]["restarts"] == 1,
    )
    .await;
    until(h.monitor, "actors/pool:backend", "a fresh pool", |p| {
        p["supervisor"]["restarts"] == 0 && p["supervisor"]["child_count"] == 1
    })
    .await;
    h.stop().await;
}

/// Refusals and errors: the root, unknown ids, bad parameters and bodies, other methods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_refuses_the_root_and_errors_are_clear() {
    let b = Backend::start().await;
    b.answer(200, "{}");
    let h = node(&b, 1).await;

    let (s, body) = mon(h.monitor, "POST", "actors/root_sup/kill", b"").await;
    let v = error_body(s, &body, 403);
    assert!(v["description"].as_str().unwrap().contains("root"), "{v}");
    let root = mon_json(h.monitor, "actors/root_sup").await;
    let (s, body) = mon(
        h.monitor,
        "POST",
        &format!("actors/{}/kill", root["actor_id"].as_str().unwrap()),
        b"",
    )
    .await;
    error_body(s, &body, 403);
    assert_eq!(h.metric("hive.killed_actors"), 0);

    let (s, body) = mon(h.monitor, "POST", "actors/nobody/kill", b"").await;
    error_body(s, &body, 404);
    let (s, body) = mon(h.monitor, "GET", "actors/nobody", b"").await;
    error_body(s, &body, 404);
    let (s, body) = mon(h.monitor, "GET", "actors/0.999999", b"").await;
    error_body(s, &body, 404);
    let (s, body) = mon(h.monitor, "GET", "actors?sort=memory", b"").await;
    error_body(s, &body, 400);
    let (s, body) = mon(h.monitor, "GET", "actors?limit=x", b"").await;
    error_body(s, &body, 400);
    let (s, body) = mon(h.monitor, "GET", "actors?limit=0", b"").await;
    error_body(s, &body, 400);
    let (s, body) = mon(h.monitor, "POST", "actors/router/kill", b"{not json").await;
    error_body(s, &body, 400);
    let (s, body) = mon(h.monitor, "POST", "actors/router/kill", br#"{"reason":5}"#).await;
    error_body(s, &body, 400);
    let (s, body) = mon(h.monitor, "DELETE", "actors/router", b"").await;
    error_body(s, &body, 405);
    let (s, body) = mon(h.monitor, "POST", "actors/router", b"").await;
    error_body(s, &body, 404);
    let (s, body) = mon(h.monitor, "POST", "hive.uptime", b"").await;
    error_body(s, &body, 405);
    h.stop().await;
}

/// The reserved words are routes, never metric prefixes, for GET and DELETE alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_words_are_never_metric_prefixes() {
    let b = Backend::start().await;
    let h = node(&b, 1).await;
    for word in ["actors", "sessions", "channels", "dashboard", "cluster"] {
        h.node().metrics().counter(&format!("{word}.x")).add(1);
    }
    let (s, body) = mon(h.monitor, "GET", "cluster", b"").await;
    let v = error_body(s, &body, 404);
    assert_eq!(v["description"], "No cluster configured.");
    let (s, body) = mon(h.monitor, "GET", "dashboard", b"").await;
    assert_eq!(s, 200);
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    let (s, body) = mon(h.monitor, "GET", "dashboard/nothing", b"").await;
    error_body(s, &body, 404);
    let (s, body) = mon(h.monitor, "GET", "sessions", b"").await;
    error_body(s, &body, 404);
    let (s, body) = mon(h.monitor, "GET", "channels", b"").await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = mon(h.monitor, "GET", "actors", b"").await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("\"actors\":["), "{body}");
    for word in [
        "actors",
        "sessions",
        "channels",
        "dashboard",
        "cluster",
        "tree",
        "health",
    ] {
        let (s, _) = mon(h.monitor, "DELETE", word, b"").await;
        assert_ne!(s, 200, "DELETE {word}");
    }
    for word in ["actors", "sessions", "channels", "dashboard", "cluster"] {
        assert_eq!(h.metric(&format!("{word}.x")), 1, "{word}.x untouched");
    }
    h.stop().await;
}

/// A node whose sessions join `rooms.*` channels and tell the backend when they leave.
async fn rooms_node(b: &Backend) -> TestHive {
    let pool = json!({"connector": "connector.http", "size": 2, "overflow": 0,
        "args": {"base_url": format!("http://{}", b.addr), "max_connection_timeout": 5000}});
    TestHive::start(json!({
        "connectors": {"pools": {"backend": pool}},
        "clients": {
            "state": {"state_manager": "sm.local", "initial_value": {"nick": "bob", "rooms": []},
                      "args": null},
            "hooks": {
                "join_rooms": [{"hook": "pubsub.subscribe", "args": "public"}],
                "on_disconnect": [{"hook": "hp.put", "args": {"connector": "backend", "endpoint": "/leave"}}]
            }
        },
        "pubsub": {"channels": {"rooms": {"privilege": "public", "timeout": 5000}}}
    }))
    .await
}

/// `/sessions/<sid>` describes a live session; `/channels` lists the rooms it joined with their
/// subscriber counts; `DELETE /sessions/<sid>` ends it and its `on_disconnect` reaches the backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_channels() {
    let b = Backend::start().await;
    b.answer(200, "{}");
    let h = rooms_node(&b).await;
    let (alice, bob) = (session(&h).await, session(&h).await);
    let _a = emit_args(
        &h,
        &alice,
        "join_rooms",
        json!([{"rooms": ["main", "games"]}]),
    );
    let _b = emit_args(&h, &bob, "join_rooms", json!([{"rooms": ["main"]}]));
    let ch = until(h.monitor, "channels?prefix=rooms", "both joined", |v| {
        v["subscribers"] == 3
    })
    .await;
    assert_eq!(
        ch["channels"],
        json!([{"cid": "rooms.games", "subscribers": 1, "published": 0, "rate": 0.0, "shards": 0},
               {"cid": "rooms.main", "subscribers": 2, "published": 0, "rate": 0.0, "shards": 0}]),
        "{ch}"
    );
    let main = mon_json(h.monitor, "channels?prefix=rooms.main").await;
    assert_eq!(main["count"], 1, "{main}");
    let none = mon_json(h.monitor, "channels?prefix=nothing").await;
    assert_eq!(none["count"], 0, "{none}");

    let s = mon_json(h.monitor, &format!("sessions/{alice}")).await;
    assert_eq!(s["sid"], alice.as_str());
    assert_eq!(s["transport"], "xhr-polling", "{s}");
    assert_eq!(s["protocol"], "socket.io/0.9");
    assert_eq!(s["value"], json!({"nick": "bob", "rooms": []}), "{s}");
    assert_eq!(s["channels"], json!(["rooms.games", "rooms.main"]), "{s}");
    let s = mon_json(h.monitor, &format!("sessions/{bob}")).await;
    assert_eq!(s["channels"], json!(["rooms.main"]), "{s}");
    assert!(
        s["age_ms"].as_u64().is_some() && s["idle_ms"].as_u64().is_some(),
        "{s}"
    );
    for key in ["state", "queued", "mailbox", "handled", "actor_id"] {
        assert!(s.get(key).is_some(), "{key} missing: {s}");
    }

    let (st, body) = mon(h.monitor, "GET", "sessions/nope", b"").await;
    error_body(st, &body, 404);
    let (st, body) = mon(h.monitor, "DELETE", "sessions/nope", b"").await;
    error_body(st, &body, 404);

    let (st, body) = mon(h.monitor, "DELETE", &format!("sessions/{alice}"), b"").await;
    assert_eq!(st, 200, "{body}");
    let got = b.wait_requests(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].path, "/leave", "{:?}", got[0]);
    assert!(
        got[0].body.contains(&alice),
        "on_disconnect of {alice}: {}",
        got[0].body
    );
    h.until("alice gone", Duration::from_secs(5), |h| h.sessions() == 1)
        .await;
    let (st, body) = mon(h.monitor, "GET", &format!("sessions/{alice}"), b"").await;
    error_body(st, &body, 404);
    until(
        h.monitor,
        "channels?prefix=rooms",
        "alice left her rooms",
        |v| v["subscribers"] == 1,
    )
    .await;
    h.stop().await;
}

/// The pool's and the event's HDR histograms count exactly the `hp.post` round trips made and the
/// events sent, in `/latency` and as Prometheus histograms in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_histograms_count_every_round_trip_and_event() {
    let b = Backend::start().await;
    b.answer(200, "{}");
    let h = node(&b, 2).await;
    let sid = session(&h).await;
    let empty = mon_json(h.monitor, "latency").await;
    assert_eq!(empty["pools"]["backend"]["count"], 0, "{empty}");
    const N: u64 = 7;
    for _ in 0..N {
        emit(&h, &sid, "slow").await.unwrap();
    }
    b.wait_requests(N as usize, Duration::from_secs(5)).await;
    until(h.monitor, "latency", "N round trips", |v| {
        v["pools"]["backend"]["count"] == N
    })
    .await;
    let lat = until(h.monitor, "latency", "N chains", |v| {
        v["events"]["slow"]["count"] == N
    })
    .await;
    assert_eq!(
        lat["rent_waits"]["backend"]["count"], N,
        "one rent each: {lat}"
    );
    let p = &lat["pools"]["backend"];
    assert!(
        lat["events"]["slow"]["p50_us"].as_u64() >= p["p50_us"].as_u64(),
        "{lat}"
    );
    assert!(p["p50_us"].as_u64() > Some(0), "{lat}");
    assert!(p["max_us"].as_u64() >= p["p99_us"].as_u64(), "{lat}");

    let (s, text) = mon(h.monitor, "GET", "metrics", b"").await;
    assert_eq!(s, 200);
    assert!(
        text.contains("# TYPE hive_pool_latency_seconds histogram"),
        "{text}"
    );
    let line = format!("hive_pool_latency_seconds_count{{pool=\"backend\"}} {N}");
    assert!(text.lines().any(|l| l == line), "{line} not in {text}");
    let line = format!("hive_event_latency_seconds_count{{event=\"slow\"}} {N}");
    assert!(text.lines().any(|l| l == line), "{line} not in {text}");
    let line = format!("hive_rent_latency_seconds_count{{pool=\"backend\"}} {N}");
    assert!(text.lines().any(|l| l == line), "{line} not in {text}");
    let inf = format!("hive_pool_latency_seconds_bucket{{pool=\"backend\",le=\"+Inf\"}} {N}");
    assert!(text.lines().any(|l| l == inf), "{inf} not in {text}");
    let (s, _) = mon(h.monitor, "DELETE", "latency", b"").await;
    assert_eq!(s, 405);
    h.stop().await;
}

/// A node whose sessions join `rooms.*` channels (the seed's `join_rooms`).
async fn rooms_only_node() -> TestHive {
    TestHive::start(json!({
        "socketio": {"heartbeat_timeout": 60000, "session_timeout": 120000},
        "clients": {"hooks": {"join_rooms": [{"hook": "pubsub.subscribe", "args": "public"}]}},
        "pubsub": {"channels": {"rooms": {"privilege": "public", "timeout": 0}}}
    }))
    .await
}

/// Publish an external event to `rooms.x` through the API.
async fn publish_x(h: &TestHive, body: &str) {
    let path = "/api/abcde12345/pubsub/publish/rooms.x";
    let (s, _, b) = http(h.api, "POST", path, &[], body.as_bytes()).await;
    assert_eq!((s, b.as_str()), (200, ""), "publish");
}

/// A WebSocket session whose client stops reading fills its kernel buffers, then its outgoing
/// queue: `queued` and `queued_bytes` rise (read without a message to the session), and it tops
/// `sort=queued` above a session that reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_client_stops_reading_tops_sort_queued() {
    let h = rooms_only_node().await;
    let stuck_sid = common::handshake(h.sio).await;
    let mut stuck = Ws::connected(h.sio, &stuck_sid).await;
    let live_sid = common::handshake(h.sio).await;
    let mut live = Ws::connected(h.sio, &live_sid).await;
    for c in [&mut stuck, &mut live] {
        c.send(r#"5:::{"name":"join_rooms","args":[{"rooms":["x"]}]}"#)
            .await
            .unwrap();
    }
    until(h.monitor, "channels?prefix=rooms.x", "both joined", |v| {
        v["subscribers"] == 2
    })
    .await;
    let idle = mon_json(h.monitor, &format!("actors/{stuck_sid}")).await;
    assert_eq!(idle["queued"], 0, "{idle}");

    // From now on `stuck` never reads; `live` reads everything.
    let big = "x".repeat(32 * 1024);
    let body = format!(r#"{{"name":"big","args":["{big}"]}}"#);
    let mut top = Value::Null;
    for sent in 0.. {
        assert!(sent < 3000, "the stuck session never queued: {top}");
        publish_x(&h, &body).await;
        let got = live.text().await.expect("a text message");
        assert!(got.len() > 32 * 1024, "{}", &got[..40]);
        top = mon_json(h.monitor, "actors?sort=queued&limit=2").await;
        let first = &top["actors"][0];
        if first["id"] == stuck_sid.as_str()
            && first["queued"].as_u64() >= Some(3)
            && first["queued_bytes"].as_u64() >= Some(3 * 32 * 1024)
        {
            break;
        }
        assert_eq!(
            h.metric("pubsub.dropped_deliveries"),
            0,
            "dropped before seen: {top}"
        );
    }
    assert_eq!(top["actors"][1]["id"], live_sid.as_str(), "{top}");
    assert_eq!(top["actors"][1]["queued"], 0, "{top}");
    let s = mon_json(h.monitor, &format!("sessions/{stuck_sid}")).await;
    assert!(s["queued"].as_u64() >= Some(3), "{s}");
    assert!(s["queued_bytes"].as_u64() >= Some(3 * 32 * 1024), "{s}");
    drop(stuck);
    h.stop().await;
}

/// `POST /sessions/<sid>/events` puts `{"name","args"}` on the session's socket; bad bodies are
/// 400 with a clear description, unknown sids 404, other methods 405.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_sent_from_the_monitor_reaches_the_session() {
    let h = rooms_only_node().await;
    let sid = common::handshake(h.sio).await;
    let mut c = Ws::connected(h.sio, &sid).await;
    let route = format!("sessions/{sid}/events");
    let (s, body) = mon(
        h.monitor,
        "POST",
        &route,
        br#"{"name":"notice","args":["from the operator",{"n":1}]}"#,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v, json!({"sent": sid, "name": "notice"}));
    let got = c.text().await.expect("a text message");
    let ev: Value = serde_json::from_str(got.strip_prefix("5:::").unwrap()).unwrap();
    assert_eq!(
        ev,
        json!({"name": "notice", "args": ["from the operator", {"n": 1}]})
    );
    // `args` may be left out.
    let (s, body) = mon(h.monitor, "POST", &route, br#"{"name":"ping"}"#).await;
    assert_eq!(s, 200, "{body}");
    let got = c.text().await.expect("a text message");
    let ev: Value = serde_json::from_str(got.strip_prefix("5:::").unwrap()).unwrap();
    assert_eq!(ev, json!({"name": "ping", "args": []}));

    for bad in [
        &b"not json"[..],
        b"",
        br#"["notice"]"#,
        br#"{"args":[]}"#,
        br#"{"name":7}"#,
        br#"{"name":"x","args":"y"}"#,
        br#"{"name":"x","to":"everyone"}"#,
    ] {
        let (s, body) = mon(h.monitor, "POST", &route, bad).await;
        let v = error_body(s, &body, 400);
        assert!(
            v["description"]
                .as_str()
                .unwrap()
                .starts_with("Invalid event body"),
            "{v}"
        );
    }
    let (s, body) = mon(
        h.monitor,
        "POST",
        "sessions/nope/events",
        br#"{"name":"x"}"#,
    )
    .await;
    let v = error_body(s, &body, 404);
    assert_eq!(v["description"], "No live session \"nope\".");
    let (s, body) = mon(h.monitor, "GET", &route, b"").await;
    error_body(s, &body, 404);
    let (s, body) = mon(h.monitor, "PUT", &route, b"").await;
    error_body(s, &body, 405);
    h.stop().await;
}

/// `/channels` counts the publishes each channel fanned out, with a rate; the delivery histogram
/// times exactly the sampled publishes (one in 64: publishes 0, 64 and 128 of 130) from publish
/// to the WebSocket write, in `/latency` and `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_publish_rates_and_sampled_delivery_latency() {
    let h = rooms_only_node().await;
    let sid = common::handshake(h.sio).await;
    let mut c = Ws::connected(h.sio, &sid).await;
    c.send(r#"5:::{"name":"join_rooms","args":[{"rooms":["x"]}]}"#)
        .await
        .unwrap();
    until(h.monitor, "channels?prefix=rooms.x", "joined", |v| {
        v["subscribers"] == 1
    })
    .await;
    let before = mon_json(h.monitor, "latency").await;
    assert_eq!(before["deliveries"]["websocket"]["count"], 0, "{before}");
    const K: usize = 130;
    for i in 0..K {
        publish_x(&h, &format!(r#"{{"name":"n","args":[{i}]}}"#)).await;
        let got = c.text().await.expect("a text message");
        assert!(got.contains(&format!("[{i}]")), "{got}");
    }
    let ch = mon_json(h.monitor, "channels?prefix=rooms").await;
    let x = &ch["channels"][0];
    assert_eq!(x["cid"], "rooms.x", "{ch}");
    assert_eq!(x["published"], K, "{ch}");
    assert!(x["rate"].as_f64() > Some(0.0), "{ch}");
    let again = mon_json(h.monitor, "channels?prefix=rooms").await;
    assert_eq!(
        again["channels"][0]["rate"], 0.0,
        "no publish since the last request: {again}"
    );
    let lat = until(h.monitor, "latency", "3 sampled deliveries", |v| {
        v["deliveries"]["websocket"]["count"] == 3
    })
    .await;
    let d = &lat["deliveries"]["websocket"];
    assert!(d["p50_us"].as_u64() > Some(0), "{lat}");
    let (s, text) = mon(h.monitor, "GET", "metrics", b"").await;
    assert_eq!(s, 200);
    let line = "hive_delivery_latency_seconds_count{transport=\"websocket\"} 3";
    assert!(text.lines().any(|l| l == line), "{line} not in {text}");
    h.stop().await;
}
