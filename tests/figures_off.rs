//! `monitor.figures: false` turns the per-actor figures and histograms off (process-wide, so this
//! test has a binary of its own): sessions still work and the monitor still answers, but messages
//! are not counted, latency histograms stay empty and queue figures stay at 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{Value, json};

use common::{TestHive, http};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_off_records_nothing_and_the_monitor_still_answers() {
    let h = TestHive::start(json!({
        "monitor": {"figures": false},
        "socketio": {"reconnect_timeout": 60000, "heartbeat_timeout": 60000}
    }))
    .await;
    let sid = common::handshake(h.sio).await;
    let path = format!("/socket.io/1/xhr-polling/{sid}");
    let (s, _, _) = http(h.sio, "GET", &path, &[("Origin", "null")], b"").await;
    assert_eq!(s, 200);
    for i in 0..3 {
        let msg = format!(r#"5:::{{"name":"echo","args":[{i}]}}"#);
        let (s, _, _) = http(h.sio, "POST", &path, &[("Origin", "null")], msg.as_bytes()).await;
        assert_eq!(s, 200);
    }
    // The echoes came back: sessions work.
    let (s, _, body) = http(h.sio, "GET", &path, &[("Origin", "null")], b"").await;
    assert_eq!(s, 200);
    assert!(body.contains("echo"), "{body}");

    let get = |route: String| async move {
        let (s, _, body) = http(
            h.monitor,
            "GET",
            &format!("/monitor/12345abcde/{route}"),
            &[],
            b"",
        )
        .await;
        assert_eq!(s, 200, "{route}: {body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    let a = get(format!("actors/{sid}")).await;
    assert_eq!(a["handled"], 0, "not counted: {a}");
    assert_eq!(a["queued"], 0, "{a}");
    let lat = get("latency".into()).await;
    assert_eq!(lat["events"]["echo"]["count"], 0, "{lat}");
    let all = get("actors?sort=rate&limit=100".into()).await;
    assert!(
        all["actors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["handled"] == 0),
        "{all}"
    );
    h.stop().await;
}
