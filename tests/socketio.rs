//! Socket.IO 0.9 server behaviour against the real npm `socket.io-client@0.9.16`, over websocket
//! and xhr-polling (HIVE.md 3, 4, 5.2), plus raw-bytes edge cases a JS client never sends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{JsClient, TestHive, handshake, http};
use serde_json::json;

const TRANSPORTS: [&str; 2] = ["websocket", "xhr-polling"];

fn hooks_patch() -> serde_json::Value {
    json!({"clients": {"hooks": {
        "echo": [{"hook": "utils.echo", "args": null}],
        "on_connect": [{"hook": "utils.console_dump", "args": "Connected!"}],
        "on_disconnect": [{"hook": "utils.console_dump", "args": "Disconnected!"}]
    }}})
}

/// HIVE.md 5.2 `utils.echo`: events come back unchanged, with non-ASCII args, with no args, and an
/// ack first when the client asked for one; `on_connect`/`on_disconnect` run once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_ack_and_special_hooks_on_both_transports() {
    let h = TestHive::start(hooks_patch()).await;
    for (i, t) in TRANSPORTS.iter().enumerate() {
        let mut c = JsClient::connect(&h.url(), t);
        c.wait_ev("connect");
        c.emit("echo", json!(["zażółć gęślą jaźń 😀", {"k": [1, 2]}]));
        let e = c.wait_event("echo");
        assert_eq!(
            e["args"],
            json!(["zażółć gęślą jaźń 😀", {"k": [1, 2]}]),
            "{t}"
        );
        c.emit("echo", json!([]));
        let e = c.wait_event("echo");
        assert_eq!(e["args"], json!([]), "no args ({t})");
        c.emit_ack("echo", json!(["x"]));
        c.wait_ev("ack");
        c.disconnect();
        let n = (i + 1) as i64;
        h.until("on_disconnect ran", Duration::from_secs(1), |h| {
            h.metric("clients.hooks.on_disconnect.calls") == n
        })
        .await;
        assert_eq!(h.metric("clients.hooks.on_connect.calls"), n);
        h.until("session gone", Duration::from_secs(2), |h| {
            h.sessions() == 0
        })
        .await;
    }
    h.stop().await;
}

/// HIVE.md 3.10: with no traffic the server keeps the session alive past `heartbeat_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_holds_an_idle_websocket_session() {
    // The 0.9 client also drops the connection after `close` seconds without data (reconnect_timeout),
    // so that is set long. 5000 ms is the smallest heartbeat for which the advertised client timeout (6 s) exceeds the
    // server's keep-alive interval (HIVE.md 3.3).
    let h = TestHive::start(json!({"socketio": {"heartbeat_timeout": 5000, "reconnect_timeout": 60000, "session_timeout": 60000}, "clients": hooks_patch()["clients"]})).await;
    let mut c = JsClient::connect(&h.url(), "websocket");
    c.wait_ev("connect");
    assert!(
        c.quiet_for(Duration::from_millis(11_500), |v| v["ev"] == "disconnect"),
        "{:?}",
        c.seen
    );
    c.emit("echo", json!([1]));
    c.wait_event("echo");
    assert_eq!(h.sessions(), 1);
    h.stop().await;
}

/// HIVE.md 3.10: an XHR client that stops polling is dropped at the next heartbeat expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xhr_session_that_stops_polling_is_reaped() {
    let h = TestHive::start(hooks_patch()).await;
    let sid = handshake(h.sio).await;
    let (s, _, body) = http(
        h.sio,
        "GET",
        &format!("/socket.io/1/xhr-polling/{sid}"),
        &[],
        b"",
    )
    .await;
    assert_eq!((s, body.as_str()), (200, "1:::"));
    assert_eq!(h.sessions(), 1);
    // heartbeat_timeout is 1000 ms in config/test.json.
    h.until("reaped", Duration::from_secs(4), |h| h.sessions() == 0)
        .await;
    assert_eq!(h.metric("clients.hooks.on_disconnect.calls"), 1);
    h.stop().await;
}

/// Raw bytes: malformed frames get documented errors, and the server keeps serving others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_xhr_edge_cases() {
    let h = TestHive::start(json!({
        // node starts the raw client after the handshake: a generous init_timeout, so that a
        // slow start on a loaded machine does not reap the session first.
        "socketio": {"max_frame_size": 4096, "init_timeout": 30000},
        "clients": hooks_patch()["clients"]
    }))
    .await;
    let sid = handshake(h.sio).await;
    let path = format!("/socket.io/1/xhr-polling/{sid}");
    let (s, _, b) = http(h.sio, "GET", &path, &[], b"").await;
    assert_eq!((s, b.as_str()), (200, "1:::"));
    // Bad frame type.
    let (s, _, b) = http(h.sio, "POST", &path, &[], b"9:::x").await;
    assert_eq!(s, 400, "{b}");
    assert!(b.contains("client_error"), "{b}");
    // No separator.
    let (s, _, b) = http(h.sio, "POST", &path, &[], b"5").await;
    assert_eq!(s, 400, "{b}");
    // Truncated batch and wrong length.
    let (s, _, _) = http(
        h.sio,
        "POST",
        &path,
        &[],
        "\u{FFFD}40\u{FFFD}5:::{}".as_bytes(),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _, _) = http(
        h.sio,
        "POST",
        &path,
        &[],
        "\u{FFFD}x\u{FFFD}5:::{}".as_bytes(),
    )
    .await;
    assert_eq!(s, 400);
    // Oversized body.
    let big = vec![b'a'; 10_000];
    let (s, _, _) = http(h.sio, "POST", &path, &[], &big).await;
    assert_eq!(s, 413);
    // Unknown sid.
    let (s, _, b) = http(
        h.sio,
        "POST",
        "/socket.io/1/xhr-polling/nope",
        &[],
        b"5:::{\"name\":\"echo\",\"args\":[1]}",
    )
    .await;
    assert_eq!(s, 500);
    assert!(
        b.starts_with("5:::") && b.contains("bad_session_id") && b.contains("unknown sid: nope"),
        "{b}"
    );
    // Bad origin.
    let (s, _, b) = http(
        h.sio,
        "GET",
        "/socket.io/1/",
        &[("Origin", "http://evil.example")],
        b"",
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(
        b,
        r#"{"error":"bad_request","description":"Origin http://evil.example is not allowed to access Hive!"}"#
    );
    // A duplicate Origin header is allowed when any value is.
    let (s, _, _) = http(
        h.sio,
        "GET",
        "/socket.io/1/",
        &[
            ("Origin", "http://evil.example"),
            ("Origin", "http://localhost"),
        ],
        b"",
    )
    .await;
    assert_eq!(s, 200);
    // A bad event JSON is answered with bad_external_event on the session.
    let (s, _, _) = http(h.sio, "POST", &path, &[], b"5:::{not json").await;
    assert_eq!(s, 200);
    let (_, _, b) = http(h.sio, "GET", &path, &[], b"").await;
    assert!(b.contains("bad_external_event"), "{b}");
    // A batch of two good events, framed, is answered in order.
    let e1 = r#"5:::{"name":"echo","args":["é"]}"#;
    let e2 = r#"5:::{"name":"echo","args":[2]}"#;
    let body = format!(
        "\u{FFFD}{}\u{FFFD}{e1}\u{FFFD}{}\u{FFFD}{e2}",
        e1.len(),
        e2.len()
    );
    let (s, _, _) = http(h.sio, "POST", &path, &[], body.as_bytes()).await;
    assert_eq!(s, 200);
    let (_, _, b) = http(h.sio, "GET", &path, &[], b"").await;
    let msgs = codec::batch::decode_payload(&b, Some(codec::batch::LengthUnit::Utf16)).unwrap();
    let datas: Vec<String> = msgs.into_iter().map(|m| m.data).collect();
    assert_eq!(
        datas,
        vec![
            r#"{"name":"echo","args":["é"]}"#.to_string(),
            r#"{"name":"echo","args":[2]}"#.to_string()
        ]
    );
    // The session still works and others are unaffected.
    let other = handshake(h.sio).await;
    assert_ne!(other, sid);
    // Wrong method, unknown path.
    let (s, _, _) = http(h.sio, "PUT", &path, &[], b"").await;
    assert_eq!(s, 405);
    let (s, _, _) = http(h.sio, "GET", "/nope", &[], b"").await;
    assert_eq!(s, 404);
    // ?disconnect ends the session at once.
    let (s, _, b) = http(h.sio, "GET", &format!("{path}?disconnect=1"), &[], b"").await;
    assert_eq!((s, b.as_str()), (200, "0:::"));
    h.until("disconnected", Duration::from_secs(2), |h| {
        h.node().router().lookup(&sid).is_none()
    })
    .await;
    h.stop().await;
}

/// The handshake advertises the configured transports verbatim and the HIVE.md 3.3 timings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_format_and_headers() {
    let h = TestHive::start(json!({"socketio": {"heartbeat_timeout": 15000, "reconnect_timeout": 120000, "transports": ["xhr-polling", "websocket"]}})).await;
    let (s, head, body) = http(
        h.sio,
        "GET",
        "/socket.io/1/?t=123",
        &[("Origin", "http://localhost")],
        b"",
    )
    .await;
    assert_eq!(s, 200);
    let parts: Vec<&str> = body.split(':').collect();
    assert_eq!(parts[0].len(), 40);
    assert!(
        parts[0]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(&parts[1..], &["17", "120", "xhr-polling,websocket"]);
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-type: text/plain; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains("access-control-allow-origin: http://localhost"),
        "{head}"
    );
    assert!(
        head.contains("access-control-allow-credentials: true"),
        "{head}"
    );
    // flashsocket is not configured: no route.
    let (s, _, _) = http(
        h.sio,
        "GET",
        &format!("/socket.io/1/flashsocket/{}", parts[0]),
        &[],
        b"",
    )
    .await;
    assert_eq!(s, 404);
    h.stop().await;
}

/// Router: 2,000 concurrent sessions are registered, routed, and cleaned up (no leaked actors).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_sessions_register_and_clean_up() {
    let _ = hive::sys::raise_nofile_limit();
    let h = TestHive::start(json!({"hive": {"max_client_slots": 5000}, "socketio": {"heartbeat_timeout": 30000, "session_timeout": 60000, "init_timeout": 60000}, "clients": hooks_patch()["clients"]})).await;
    let n = 2000;
    let mut sids = Vec::with_capacity(n);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let a = h.sio;
        tasks.spawn(async move { handshake(a).await });
    }
    while let Some(r) = tasks.join_next().await {
        sids.push(r.unwrap());
    }
    assert_eq!(h.sessions(), n);
    let report = h.node().tree(None).await.unwrap();
    let clients = report
        .find(&["hive_sup", "router_sup", "clients_sup"])
        .expect("clients_sup in the tree");
    assert_eq!(clients.child_count, n);
    // Route one message to each (through the router) and end each with ?disconnect.
    for sid in &sids {
        h.node()
            .router()
            .route_input(
                sid,
                vec![hive::wire::Wire::Sio09.incoming(codec::socketio::Message::noop())],
            )
            .unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for sid in sids {
        let a = h.sio;
        tasks.spawn(async move {
            http(
                a,
                "GET",
                &format!("/socket.io/1/xhr-polling/{sid}?disconnect"),
                &[],
                b"",
            )
            .await
        });
    }
    while tasks.join_next().await.is_some() {}
    h.until("all sessions gone", Duration::from_secs(20), |h| {
        h.sessions() == 0
    })
    .await;
    let report = h.node().tree(None).await.unwrap();
    let clients = report
        .find(&["hive_sup", "router_sup", "clients_sup"])
        .unwrap();
    assert_eq!(clients.child_count, 0);
    h.stop().await;
}

fn raw_ws(url: &str, steps: serde_json::Value) -> Vec<serde_json::Value> {
    let out = std::process::Command::new("node")
        .arg(common::root().join("tests/js/raw_ws.js"))
        .arg(url)
        .arg(steps.to_string())
        .output()
        .expect("node must be installed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Raw WebSocket frames a JS client never sends: each gets its documented error and the session
/// (and everyone else) goes on; an unknown sid is told at once and closed (HIVE.md 16.2 #6, #8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_websocket_edge_cases() {
    let h = TestHive::start(json!({
        // node starts the raw client after the handshake: a generous init_timeout, so that a
        // slow start on a loaded machine does not reap the session first.
        "socketio": {"max_frame_size": 4096, "init_timeout": 30000},
        "clients": hooks_patch()["clients"]
    }))
    .await;
    let sid = handshake(h.sio).await;
    let url = format!(
        "ws://127.0.0.1:{}/socket.io/1/websocket/{sid}",
        h.sio.port()
    );
    let big = "x".repeat(10_000);
    let got = tokio::task::spawn_blocking(move || {
        raw_ws(
            &url,
            json!([
                {"text": "9:::nope"},
                {"text": "garbage"},
                {"binary": [1, 2, 3]},
                {"text": "5:::{\"name\":\"echo\",\"args\":[\"still here\"]}"},
                {"wait": 200},
                {"text": format!("5:::{{\"name\":\"echo\",\"args\":[\"{big}\"]}}")},
                {"wait": 300}
            ]),
        )
    })
    .await
    .unwrap();
    let texts: Vec<String> = got
        .iter()
        .filter_map(|v| v["text"].as_str().map(String::from))
        .collect();
    assert_eq!(texts.first().map(String::as_str), Some("1:::"), "{got:?}");
    assert!(
        texts.iter().filter(|t| t.contains("client_error")).count() >= 2,
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t == "7:::Unknown WebSocket frame type!"),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.contains("still here")), "{texts:?}");
    // The oversized frame ends the connection (and so the session).
    assert!(got.iter().any(|v| v.get("close").is_some()), "{got:?}");
    h.until("session ended", Duration::from_secs(3), |h| {
        h.sessions() == 0
    })
    .await;

    // Unknown sid: an error event, then the socket is closed.
    let url = format!("ws://127.0.0.1:{}/socket.io/1/websocket/nope", h.sio.port());
    let got = tokio::task::spawn_blocking(move || raw_ws(&url, json!([{"wait": 500}])))
        .await
        .unwrap();
    let first = got
        .first()
        .and_then(|v| v["text"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(first.contains("bad_session_id"), "{got:?}");
    assert!(got.iter().any(|v| v.get("close").is_some()), "{got:?}");

    // A bad origin on the upgrade is refused.
    let sid = handshake(h.sio).await;
    let url = format!(
        "ws://127.0.0.1:{}/socket.io/1/websocket/{sid}",
        h.sio.port()
    );
    let got = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(common::root().join("tests/js/raw_ws.js"))
            .arg(url)
            .arg("[]")
            .env("ORIGIN", "http://evil.example")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        String::from_utf8_lossy(&got.stdout).contains("403"),
        "{}",
        String::from_utf8_lossy(&got.stdout)
    );
    h.stop().await;
}

/// HIVE.md 3.10: a client that only listens is dropped after `session_timeout`, even though
/// keep-alives flow; one that keeps emitting is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_timeout_ends_a_silent_session_only() {
    let h = TestHive::start(json!({"socketio": {"heartbeat_timeout": 5000, "reconnect_timeout": 60000, "session_timeout": 1500}, "clients": hooks_patch()["clients"]})).await;
    let mut silent = JsClient::connect(&h.url(), "websocket");
    silent.wait_ev("connect");
    let mut chatty = JsClient::connect(&h.url(), "websocket");
    chatty.wait_ev("connect");
    for _ in 0..6 {
        chatty.emit("echo", json!([1]));
        chatty.wait_event("echo");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // 2.4 s after connecting: the silent one is gone (on_disconnect ran), the chatty one is not.
    silent.wait_for(Duration::from_secs(3), |v| v["ev"] == "disconnect");
    h.until("one session left", Duration::from_secs(2), |h| {
        h.sessions() == 1
    })
    .await;
    assert_eq!(h.metric("clients.hooks.on_disconnect.calls"), 1);
    chatty.emit("echo", json!([2]));
    chatty.wait_event("echo");
    h.stop().await;
}
