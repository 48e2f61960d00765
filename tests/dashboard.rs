//! The monitor's dashboard over real HTTP on a node carrying real sessions and a real HTTP
//! backend: `/dashboard/series` (the in-memory ring the metrics worker samples once a second) and
//! the page itself in headless Chromium (`tests/e2e/dashboard.e2e.js`): it loads, the charts
//! draw, a click on an actor shows its figures, and a session disconnected from the page is gone.
//!
//! `HIVE_DASHBOARD_SCREENSHOT=docs/dashboard.png cargo test --test dashboard` also saves the
//! screenshot embedded in `docs/monitor.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/backend.rs"]
mod backend;
mod common;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use backend::Backend;
use common::{TestHive, http};

const HASH: &str = "12345abcde";

async fn node(b: &Backend) -> TestHive {
    let pool = json!({"connector": "connector.http", "size": 2, "overflow": 0,
        "args": {"base_url": format!("http://{}", b.addr), "max_connection_timeout": 10000}});
    TestHive::start(json!({
        // XHR sessions that do not poll again stay alive for the whole test.
        "socketio": {"reconnect_timeout": 60000, "heartbeat_timeout": 60000,
                     "session_timeout": 120000},
        "connectors": {"rent_timeout": 10000, "pools": {"backend": pool}},
        "clients": {"hooks": {
            "slow": [{"hook": "hp.post", "args": {"connector": "backend", "endpoint": "/slow"}}],
            "join_rooms": [{"hook": "pubsub.subscribe", "args": "public"}]
        }},
        "pubsub": {"channels": {"rooms": {"privilege": "public", "timeout": 0}}}
    }))
    .await
}

async fn series(h: &TestHive) -> Value {
    let (s, _, body) = http(
        h.monitor,
        "GET",
        &format!("/monitor/{HASH}/dashboard/series"),
        &[],
        b"",
    )
    .await;
    assert_eq!(s, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// An XHR-polling session, connected.
async fn session(h: &TestHive) -> String {
    let sid = common::handshake(h.sio).await;
    let path = format!("/socket.io/1/xhr-polling/{sid}");
    let (status, _, body) = http(h.sio, "GET", &path, &[("Origin", "null")], b"").await;
    assert_eq!(status, 200, "{body}");
    sid
}

/// `n` more connected XHR sessions, each in `rooms.main`.
async fn more_sessions(h: &TestHive, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let sid = session(h).await;
        emit(h, &sid, "join_rooms", json!([{"rooms": ["main"]}])).await;
        out.push(sid);
    }
    out
}

/// Post one event from `sid` and wait for the post's answer.
async fn emit(h: &TestHive, sid: &str, name: &str, args: Value) {
    let path = format!("/socket.io/1/xhr-polling/{sid}");
    let msg = format!("5:::{}", json!({"name": name, "args": args}));
    let (s, _, _) = http(h.sio, "POST", &path, &[("Origin", "null")], msg.as_bytes()).await;
    assert_eq!(s, 200);
}

/// The series ring fills once a second with the node's figures: sessions, rates, pool
/// utilisation, per-second hook p99 (only for seconds when the event ran) and RSS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_series_ring_samples_the_node_every_second() {
    let b = Backend::start().await;
    b.answer(200, "{}");
    let h = node(&b).await;
    let sids = [session(&h).await, session(&h).await];
    let end = Instant::now() + Duration::from_secs(15);
    while series(&h).await["len"].as_u64() < Some(1) {
        assert!(Instant::now() < end, "no first sample");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..3 {
        emit(&h, &sids[0], "slow", json!([{"n": 1}])).await;
    }
    b.wait_requests(3, Duration::from_secs(5)).await;
    let end = Instant::now() + Duration::from_secs(15);
    let s = loop {
        let s = series(&h).await;
        let ran = s["hook_p99_us"]["slow"]
            .as_array()
            .is_some_and(|v| v.iter().any(Value::is_u64));
        if s["len"].as_u64() >= Some(3) && ran {
            break s;
        }
        assert!(Instant::now() < end, "series never filled: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let n = s["len"].as_u64().unwrap() as usize;
    for col in ["t", "sessions", "msgs_in", "msgs_out", "deliveries", "rss"] {
        assert_eq!(s[col].as_array().map(Vec::len), Some(n), "{col}: {s}");
    }
    assert_eq!(
        s["pools"]["backend"].as_array().map(Vec::len),
        Some(n),
        "{s}"
    );
    assert_eq!(s["sessions"][n - 1], 2, "{s}");
    assert!(s["rss"][n - 1].as_i64() > Some(1 << 20), "{s}");
    let t: Vec<u64> = s["t"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(t.windows(2).all(|w| w[0] < w[1]), "{t:?}");
    let inbound: f64 = s["msgs_in"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!(inbound > 0.0, "the 3 events show as messages in: {s}");
    assert_eq!(s["interval_ms"], 1000);
    assert_eq!(s["capacity"], 900);
    h.stop().await;
}

/// The page in headless Chromium: loads, charts draw, an actor's figures on a click, a session
/// disconnected from the page is gone (and its actor too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_headless_chromium() {
    let b = Backend::start().await;
    b.answer(200, "{}");
    let h = node(&b).await;
    let (s, _, page) = http(
        h.monitor,
        "GET",
        &format!("/monitor/{HASH}/dashboard"),
        &[],
        b"",
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http") && !page.contains("://"),
        "self-contained, no external resource"
    );
    assert!(!page.contains(HASH), "the hash is not embedded");

    let sids = [session(&h).await, session(&h).await, session(&h).await];
    emit(
        &h,
        &sids[1],
        "join_rooms",
        json!([{"rooms": ["main", "games"]}]),
    )
    .await;
    for i in 0..4 {
        emit(&h, &sids[i % 2], "slow", json!([{"n": i}])).await;
    }
    if std::env::var("HIVE_DASHBOARD_SCREENSHOT").is_ok() {
        // Something to look at: 20 s of varying traffic before the screenshot.
        let extra: Vec<String> = more_sessions(&h, 12).await;
        for sec in 0..20u64 {
            let t = Instant::now();
            for i in 0..(2 + (sec % 5) * 3) as usize {
                emit(&h, &extra[i % extra.len()], "slow", json!([{"n": i}])).await;
            }
            let path = "/api/abcde12345/pubsub/publish/rooms.main";
            for _ in 0..(sec % 7) * 4 {
                let _ = http(h.api, "POST", path, &[], br#"{"name":"tick","args":[]}"#).await;
            }
            tokio::time::sleep(Duration::from_secs(1).saturating_sub(t.elapsed())).await;
        }
    }
    let end = Instant::now() + Duration::from_secs(15);
    while series(&h).await["len"].as_u64() < Some(2) {
        assert!(Instant::now() < end, "no samples");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let have = |p: &str| std::path::Path::new(p).exists();
    let missing: Vec<&str> = [
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/node_modules/playwright-core/package.json"
        ),
        "/usr/bin/chromium",
    ]
    .into_iter()
    .filter(|p| !have(p))
    .collect();
    assert!(missing.is_empty(), "the browser test needs {missing:?}");
    let before = h.sessions();
    let url = format!("http://{}/monitor/{HASH}/dashboard", h.monitor);
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/dashboard.e2e.js"
    ))
    .args([url.as_str(), sids[2].as_str()])
    .kill_on_drop(true);
    if let Ok(shot) = std::env::var("HIVE_DASHBOARD_SCREENSHOT") {
        cmd.arg("--screenshot")
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(shot));
    }
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("chromium run within 120 s")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "e2e failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("ok: dashboard"), "{stdout}");

    // Server side: the session is gone, the others stay.
    h.until("the session is gone", Duration::from_secs(10), |h| {
        h.sessions() == before - 1
    })
    .await;
    assert!(h.node().router().lookup(&sids[2]).is_none());
    assert!(h.node().router().lookup(&sids[0]).is_some());
    h.stop().await;
}
