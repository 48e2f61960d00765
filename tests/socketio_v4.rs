//! The modern Socket.IO protocol (Engine.IO 4/3, Socket.IO 5/4) on Hive's Socket.IO port, against
//! the real npm `socket.io-client` 4.8 and 2.5 and PyPI `python-socketio` 5, plus raw-bytes bad
//! inputs, each with its documented outcome (docs/protocol-modern.md) and no other session
//! touched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use codec::ws::{Decoder, Incoming, Role, encode_masked, opcode};
use common::{JsClient, TestHive, http, root};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The conformance hooks (config/conformance.json) with short heartbeats.
fn patch() -> Value {
    json!({
        "socketio": {
            // A short period with a generous deadline: heartbeats are exercised within a test's
            // time, and a loaded machine answering late does not end sessions.
            "ping_interval": 300, "ping_timeout": 1500, "connect_timeout": 1000,
            "session_timeout": 60000, "poll_timeout": 0,
            "namespaces": {"/": {}, "/custom": {}}
        },
        "clients": {
            "actions": {"reply": [{"action": "action.send_event", "args": null}]},
            "hooks": {
                "on_connect": [{"hook": "utils.echo", "args": {"rename": "auth"}}],
                "message": [{"hook": "utils.echo", "args": {"rename": "message-back"}}],
                "message-with-ack": [{"hook": "utils.ack", "args": null}],
                "emit-with-ack": [{"hook": "utils.echo", "args": {"rename": "emit-with-ack", "ack": true}}],
                "on_ack": [{"hook": "utils.echo", "args": {"rename": "emit-with-ack"}}],
                "subscribe": [{"hook": "pubsub.subscribe", "args": "public"}]
            }
        }
    })
}

fn v4(url: &str, transports: &str, auth: Value) -> JsClient {
    JsClient::spawn(
        "tests/js/sio4_client.js",
        &[url, transports, &auth.to_string(), "4"],
        &[],
    )
}

fn v2(url: &str, transports: &str) -> JsClient {
    JsClient::spawn("tests/js/sio4_client.js", &[url, transports, "", "2"], &[])
}

fn bin(b: &[u8]) -> Value {
    json!({"$bin": base64::engine::general_purpose::STANDARD.encode(b)})
}

/// socket.io-client 4: default transports (polling upgraded to WebSocket), WebSocket only and
/// polling only; auth echoed by `on_connect`; events with several arguments and nested binaries;
/// acks; a 200 kB string; the session still up after idling through several heartbeats; the
/// namespace `/custom` with an auth of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketio_client_4_on_every_transport() {
    let h = TestHive::start(patch()).await;
    for t in ["polling,websocket", "websocket", "polling"] {
        let mut c = v4(&h.url(), t, json!({"token": "abc"}));
        c.wait_ev("connect");
        assert_eq!(
            c.wait_event("auth")["args"],
            json!([{"token": "abc"}]),
            "{t}"
        );
        if t == "polling,websocket" {
            // Opened by polling, then upgraded (possibly before `connect` was reported).
            if !c.seen.iter().any(|v| v["ev"] == "upgrade") {
                assert_eq!(c.wait_ev("upgrade")["transport"], "websocket");
            }
        } else {
            let conn = c.seen.iter().find(|v| v["ev"] == "connect").unwrap();
            assert_eq!(conn["transport"], t, "{t}");
        }
        let args = json!([1, "2", {"3": [true]}, bin(&[1, 2, 3]), {"nested": bin(&[4, 5, 6])}]);
        c.emit("message", args.clone());
        assert_eq!(c.wait_event("message-back")["args"], args, "{t}");
        c.emit_ack("message-with-ack", json!(["x", bin(&[9])]));
        assert_eq!(c.wait_ev("ack")["args"], json!(["x", bin(&[9])]), "{t}");
        let big = "é€😀".repeat(10) + &"x".repeat(200_000);
        c.emit("message", json!([big]));
        assert_eq!(c.wait_event("message-back")["args"], json!([big]), "{t}");
        // Idle through several ping intervals (300 ms): heartbeats hold the session.
        assert!(
            c.quiet_for(Duration::from_millis(1500), |v| v["ev"] == "disconnect"),
            "{t}: {:?}",
            c.seen
        );
        c.emit("message", json!(["still"]));
        assert_eq!(c.wait_event("message-back")["args"], json!(["still"]));
        assert_eq!(h.sessions(), 1, "{t}");
        c.disconnect();
        h.until("socket gone", Duration::from_secs(3), |h| h.sessions() == 0)
            .await;
        // Namespace `/custom` with its own auth.
        let mut custom = v4(&format!("{}/custom", h.url()), t, json!({"token": "xyz"}));
        assert_eq!(
            custom.wait_event("auth")["args"],
            json!([{"token": "xyz"}]),
            "{t}"
        );
        custom.emit("message", json!(["to custom", 2]));
        assert_eq!(
            custom.wait_event("message-back")["args"],
            json!(["to custom", 2]),
            "{t}"
        );
        custom.disconnect();
        h.until("custom socket gone", Duration::from_secs(3), |h| {
            h.sessions() == 0
        })
        .await;
    }
    h.stop().await;
}

/// socket.io-client 2 (Engine.IO 3, Socket.IO 4): the implicit `/` connect, `/custom` with its
/// query as auth, binaries, acks, an unknown namespace, over polling+upgrade and WebSocket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketio_client_2_over_engineio_3() {
    let h = TestHive::start(patch()).await;
    for t in ["polling,websocket", "websocket"] {
        let mut c = v2(&h.url(), t);
        c.wait_ev("connect");
        assert_eq!(c.wait_event("auth")["args"], json!([{}]));
        let args = json!([1, "2", {"3": [true]}, bin(&[1, 2, 3])]);
        c.emit("message", args.clone());
        assert_eq!(c.wait_event("message-back")["args"], args, "{t}");
        c.emit_ack("message-with-ack", json!(["x", bin(&[9])]));
        assert_eq!(c.wait_ev("ack")["args"], json!(["x", bin(&[9])]), "{t}");
        let mut custom = v2(&format!("{}/custom?token=abc", h.url()), t);
        assert_eq!(
            custom.wait_event("auth")["args"],
            json!([{"token": "abc"}]),
            "{t}"
        );
        let mut random = v2(&format!("{}/random", h.url()), t);
        let e = random.wait_ev("connect_error");
        assert_eq!(e["data"]["message"], "Invalid namespace", "{t}");
        assert!(c.quiet_for(Duration::from_millis(1200), |v| v["ev"] == "disconnect"));
        c.emit("message", json!(["still"]));
        assert_eq!(c.wait_event("message-back")["args"], json!(["still"]));
    }
    h.stop().await;
}

/// A hook chain error on `on_connect` refuses the namespace: CONNECT_ERROR with the error's
/// description as `message` and `{error, description}` as `data`; no session stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_connect_error_is_a_connect_error() {
    let mut p = patch();
    // utils.dispatch takes the trigger's args as internal events: an auth object is not one.
    p["clients"]["hooks"]["on_connect"] = json!([{"hook": "utils.dispatch", "args": null}]);
    p["clients"]["hooks"]["on_disconnect"] =
        json!([{"hook": "utils.console_dump", "args": "gone"}]);
    let h = TestHive::start(p).await;
    let mut c = v4(&h.url(), "websocket", json!({"token": "bad"}));
    let e = c.wait_ev("connect_error");
    assert_eq!(e["data"]["error"], "bad_internal_event", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("internal event"),
        "{e}"
    );
    h.until("refused socket gone", Duration::from_secs(2), |h| {
        h.sessions() == 0
    })
    .await;
    assert_eq!(h.metric("clients.hooks.on_disconnect.calls"), 0);
    h.stop().await;
}

/// python-socketio 5: `/` and `/custom` in one Engine.IO session with the same auth, events with
/// several arguments and bytes, `call`, over WebSocket and over polling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_socketio_two_namespaces_one_connection() {
    let mut p = patch();
    // python-socketio sends `Origin: http://<host>:<port>`.
    p["hive"] = json!({"allowed_origins": [null, "*"]});
    let h = TestHive::start(p).await;
    let py = root().join(".venv/bin/python");
    assert!(
        py.exists() || std::env::var("CI").as_deref() != Ok("true"),
        "python-socketio missing (.venv)"
    );
    for t in ["websocket", "polling"] {
        let out = Command::new(&py)
            .arg(root().join("tests/py/v4_smoke.py"))
            .args([h.url().as_str(), t])
            .output()
            .expect("python runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{t}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("auth / {'token': 'py'}"), "{t}: {text}");
        assert!(text.contains("auth /custom {'token': 'py'}"), "{t}: {text}");
        assert!(
            text.contains(r"message-back (1, '2', {'3': [True]}, b'\x01\x02\x03')"),
            "{t}: {text}"
        );
        assert!(text.contains(r"call ('x', b'\t')"), "{t}: {text}");
        assert!(
            text.contains("connected True ['/', '/custom']"),
            "{t}: {text}"
        );
    }
    h.stop().await;
}

/// An API publish reaches a 0.9 subscriber and a socket.io-client 4 subscriber of one channel,
/// exactly once each, and the seed-style chat (no Origin from node) lets both join.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_publish_reaches_09_and_v4_subscribers_once() {
    let h = TestHive::start(patch()).await;
    let mut old = JsClient::connect(&h.url(), "websocket");
    old.wait_ev("connect");
    let mut new = v4(&h.url(), "websocket", json!({}));
    new.wait_ev("connect");
    old.emit("subscribe", json!(["ping"]));
    new.emit("subscribe", json!(["ping"]));
    h.until("both subscribed", Duration::from_secs(3), |h| {
        h.metric("clients.hooks.subscribe.calls") >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = r#"[{"action":"reply","args":{"name":"news","args":["zażółć 😀",{"n":1}]}}]"#;
    let (status, _, text) = http(
        h.api,
        "POST",
        "/api/abcde12345/pubsub/action/ping",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        old.wait_event("news")["args"],
        json!(["zażółć 😀", {"n": 1}])
    );
    assert_eq!(
        new.wait_event("news")["args"],
        json!(["zażółć 😀", {"n": 1}])
    );
    assert!(old.quiet_for(Duration::from_millis(500), |v| v["name"] == "news"));
    assert!(new.quiet_for(Duration::from_millis(100), |v| v["name"] == "news"));
    h.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Raw bad inputs.

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (s, _, b) = http(addr, "GET", path, &[], b"").await;
    (s, b)
}

async fn post(addr: SocketAddr, path: &str, body: &[u8]) -> (u16, String) {
    let (s, _, b) = http(
        addr,
        "POST",
        path,
        &[("Content-Type", "text/plain;charset=UTF-8")],
        body,
    )
    .await;
    (s, b)
}

/// A polling handshake (EIO 4): the sid.
async fn open(addr: SocketAddr) -> String {
    let (s, b) = get(addr, "/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(s, 200, "{b}");
    let info: Value = serde_json::from_str(&b[1..]).unwrap();
    info["sid"].as_str().unwrap().to_string()
}

fn q(sid: &str) -> String {
    format!("/socket.io/?EIO=4&transport=polling&sid={sid}")
}

/// Polling session joined to `/` (CONNECT answered, `auth` read).
async fn joined(addr: SocketAddr) -> String {
    let sid = open(addr).await;
    assert_eq!(post(addr, &q(&sid), b"40").await.0, 200);
    let (s, b) = get(addr, &q(&sid)).await;
    assert_eq!(s, 200);
    assert!(b.starts_with("40{\"sid\":"), "{b}");
    sid
}

/// A session still answers: an event echoed back.
async fn alive(addr: SocketAddr, sid: &str) {
    assert_eq!(
        post(addr, &q(sid), br#"42["message","ok"]"#).await,
        (200, "ok".into())
    );
    loop {
        let (s, b) = get(addr, &q(sid)).await;
        assert_eq!(s, 200, "{b}");
        if b.contains(r#"42["message-back","ok"]"#) {
            return;
        }
        // A ping came first: answer it.
        assert_eq!(post(addr, &q(sid), b"3").await.0, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_validation_answers() {
    let h = TestHive::start(patch()).await;
    let a = h.sio;
    let err = |c: u8, m: &str| json!({"code": c, "message": m}).to_string();
    for (path, want) in [
        (
            "/socket.io/?transport=polling",
            err(5, "Unsupported protocol version"),
        ),
        (
            "/socket.io/?EIO=abc&transport=polling",
            err(5, "Unsupported protocol version"),
        ),
        (
            "/socket.io/?EIO=5&transport=polling",
            err(5, "Unsupported protocol version"),
        ),
        (
            "/socket.io/?EIO=&transport=polling",
            err(5, "Unsupported protocol version"),
        ),
        ("/socket.io/?EIO=4", err(0, "Transport unknown")),
        (
            "/socket.io/?EIO=4&transport=abc",
            err(0, "Transport unknown"),
        ),
        (
            "/socket.io/?EIO=4&transport=polling&sid=nope",
            err(1, "Session ID unknown"),
        ),
        (
            "/socket.io/?EIO=4&transport=websocket",
            err(3, "Bad request"),
        ),
    ] {
        assert_eq!(get(a, path).await, (400, want.clone()), "{path}");
    }
    assert_eq!(
        post(a, "/socket.io/?EIO=4&transport=polling", b"").await,
        (400, err(2, "Bad handshake method"))
    );
    // EIO 3 and 4 both open sessions by default; a sid of one revision is refused on the other.
    let (s, b) = get(a, "/socket.io/?EIO=3&transport=polling").await;
    assert_eq!(s, 200);
    assert!(
        b.contains(r#""pingInterval":300,"pingTimeout":1500,"maxPayload":1000000"#),
        "{b}"
    );
    let sid3: Value = serde_json::from_str(b.split_once(':').unwrap().1[1..].as_ref()).unwrap();
    let sid3 = sid3["sid"].as_str().unwrap();
    assert_eq!(get(a, &q(sid3)).await, (400, err(3, "Bad request")));
    // A v4 sid on the 0.9 URL, and a 0.9 sid on the v4 URL: unknown to each other.
    let sid4 = joined(a).await;
    let (s, b) = get(a, &format!("/socket.io/1/xhr-polling/{sid4}")).await;
    assert_eq!((s, b.as_str()), (200, "0:::"));
    let (_, b) = get(a, "/socket.io/1/?t=1").await;
    let sid09 = b.split(':').next().unwrap();
    assert_eq!(get(a, &q(sid09)).await, (400, err(1, "Session ID unknown")));
    // A wrong Origin: 403, code 4.
    let (s, _, b) = http(
        a,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        &[("Origin", "http://evil.example")],
        b"",
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(b, err(4, "Origin http://evil.example is not allowed"));
    // An allowed Origin is echoed with credentials.
    let (s, head, _) = http(
        a,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        &[("Origin", "http://localhost")],
        b"",
    )
    .await;
    assert_eq!(s, 200);
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("access-control-allow-origin: http://localhost"),
        "{head}"
    );
    assert!(
        head.contains("access-control-allow-credentials: true"),
        "{head}"
    );
    alive(a, &sid4).await;
    h.stop().await;
}

/// The chat seed's origins `["null", "ws://localhost"]` (the string "null", no JSON null): on the
/// modern path a request without Origin (Node) is admitted, as are `Origin: null` and the listed
/// origin, and another origin is refused; on 0.9 a request without Origin stays refused (HIVE.md
/// 3.4), `Origin: null` admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_string_null_admits_no_origin_on_the_modern_path_only() {
    let mut p = patch();
    p["hive"] = json!({"allowed_origins": ["null", "ws://localhost"]});
    let h = TestHive::start(p).await;
    let a = h.sio;
    let modern = "/socket.io/?EIO=4&transport=polling";
    let (s, b) = get(a, modern).await;
    assert_eq!(s, 200, "no Origin on the modern path: {b}");
    assert!(b.starts_with(r#"0{"sid":"#), "{b}");
    for origin in ["null", "ws://localhost"] {
        let (s, _, b) = http(a, "GET", modern, &[("Origin", origin)], b"").await;
        assert_eq!(s, 200, "Origin {origin}: {b}");
    }
    let (s, _, b) = http(a, "GET", modern, &[("Origin", "http://localhost")], b"").await;
    let refused = json!({"code": 4, "message": "Origin http://localhost is not allowed"});
    assert_eq!((s, b), (403, refused.to_string()));
    // 0.9: no Origin is refused; `Origin: null` is the file:// page the string admits.
    let (s, b) = get(a, "/socket.io/1/?t=1").await;
    assert_eq!(s, 403, "no Origin on 0.9: {b}");
    assert!(
        b.contains("No origin specified in the request header!"),
        "{b}"
    );
    let (s, _, b) = http(a, "GET", "/socket.io/1/?t=1", &[("Origin", "null")], b"").await;
    assert_eq!(s, 200, "Origin null on 0.9: {b}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_polling_inputs_close_only_their_session() {
    let h = TestHive::start(patch()).await;
    let a = h.sio;
    // A real client beside the raw sessions: nothing below may touch it.
    let mut bystander = v4(&h.url(), "polling", json!({}));
    bystander.wait_ev("connect");
    // Concurrent polls: the second gets 400, the first the close packet, then the sid is unknown.
    let sid = joined(a).await;
    let first = tokio::spawn({
        let sid = sid.clone();
        async move { get(a, &q(&sid)).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(get(a, &q(&sid)).await.0, 400);
    assert_eq!(first.await.unwrap(), (200, "1".into()));
    assert_eq!(get(a, &q(&sid)).await.0, 400);
    // Oversized POST: 413 and the session closes.
    let sid = joined(a).await;
    let big = vec![b'4'; 1_000_001];
    assert_eq!(post(a, &q(&sid), &big).await.0, 413);
    assert_eq!(get(a, &q(&sid)).await.0, 400);
    // Malformed Engine.IO and Socket.IO packets (spec 3.8): each closes its session.
    for bad in [
        &b"abc"[..],
        b"",
        b"4abc",
        b"47",
        b"42{}",
        b"42[]",
        b"42",
        b"42abc[\"message-with-ack\",1]",
        b"42[\"disconnect\"]",
        b"42[true]",
        b"42[null]",
        b"40\"str\"",
        b"41{}",
        b"450-[\"x\"]",
        b"4511-[\"x\"]",
        b"45x-[\"x\"]",
        b"451[\"x\"]",
        b"44{\"message\":\"x\"}",
        b"40",
        b"42/custom,[\"x\"]",
        b"bAQID",
        b"2",
    ] {
        let sid = joined(a).await;
        let _ = post(a, &q(&sid), bad).await;
        assert_eq!(
            get(a, &q(&sid)).await.0,
            400,
            "{:?} must close the session",
            String::from_utf8_lossy(bad)
        );
    }
    // An unknown namespace is refused, the session stays.
    let sid = joined(a).await;
    assert_eq!(post(a, &q(&sid), b"40/random").await.0, 200);
    assert_eq!(
        get(a, &q(&sid)).await,
        (200, r#"44/random,{"message":"Invalid namespace"}"#.into())
    );
    // DISCONNECT of one namespace keeps the Engine.IO session.
    assert_eq!(post(a, &q(&sid), b"41").await.0, 200);
    assert_eq!(get(a, &q(&sid)).await, (200, "2".into()));
    assert_eq!(post(a, &q(&sid), b"3").await.0, 200);
    bystander.emit("message", json!(["untouched"]));
    assert_eq!(
        bystander.wait_event("message-back")["args"],
        json!(["untouched"])
    );
    assert!(!bystander.seen.iter().any(|v| v["ev"] == "disconnect"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_reaps_a_silent_client_and_connect_timeout() {
    // A deadline long enough that the held session's answers, late on a loaded machine (the whole
    // suite runs its tests in parallel on 2 cores), never miss it.
    let mut p = patch();
    p["socketio"]["ping_timeout"] = json!(4000);
    let h = TestHive::start(p).await;
    let a = h.sio;
    // Held by answering pings: well past ping_interval + ping_timeout, kept so meanwhile.
    let held = joined(a).await;
    for _ in 0..4 {
        assert_eq!(get(a, &q(&held)).await, (200, "2".into()));
        assert_eq!(post(a, &q(&held), b"3").await.0, 200);
    }
    let keeper = tokio::spawn({
        let held = held.clone();
        async move {
            loop {
                let (s, b) = get(a, &q(&held)).await;
                assert_eq!((s, b.as_str()), (200, "2"));
                assert_eq!(post(a, &q(&held), b"3").await.0, 200);
            }
        }
    });
    // A client that stops answering pings: its socket and session end.
    let silent = joined(a).await;
    assert_eq!(h.sessions(), 2);
    assert_eq!(get(a, &q(&silent)).await, (200, "2".into()));
    h.until("silent session reaped", Duration::from_secs(15), |h| {
        h.sessions() == 1
    })
    .await;
    assert_eq!(get(a, &q(&silent)).await.0, 400);
    assert_eq!(h.metric("clients.transports.eio.ping_timeouts"), 1);
    // No CONNECT within connect_timeout: closed (answering pings does not help).
    let lazy = open(a).await;
    let mut closed = false;
    for _ in 0..10 {
        let (s, b) = get(a, &q(&lazy)).await;
        if s == 400 || b.ends_with('1') {
            closed = true;
            break;
        }
        let _ = post(a, &q(&lazy), b"3").await;
    }
    assert!(closed, "no CONNECT: the session must close");
    assert!(!keeper.is_finished(), "the held session lives on");
    // Counted before the keeper stops: aborting it drops its poll in flight, which closes the
    // held session (a poll connection closed early ends an Engine.IO session, as in engine.io).
    assert_eq!(h.sessions(), 1);
    keeper.abort();
    h.stop().await;
}

/// A raw WebSocket client.
struct RawWs {
    s: TcpStream,
    dec: Decoder,
    ready: std::collections::VecDeque<Incoming>,
}

impl RawWs {
    async fn open(addr: SocketAddr, path: &str) -> Result<RawWs, String> {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if s.read(&mut b).await.unwrap() == 0 {
                break;
            }
            head.push(b[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        if !head.starts_with("HTTP/1.1 101") {
            return Err(head);
        }
        Ok(RawWs {
            s,
            dec: Decoder::new(Role::Client, 1 << 24),
            ready: std::collections::VecDeque::new(),
        })
    }

    async fn send(&mut self, text: &str) {
        let mut out = Vec::new();
        encode_masked(&mut out, true, opcode::TEXT, [1, 2, 3, 4], text.as_bytes());
        let _ = self.s.write_all(&out).await;
    }

    async fn send_bin(&mut self, data: &[u8]) {
        let mut out = Vec::new();
        encode_masked(&mut out, true, opcode::BINARY, [1, 2, 3, 4], data);
        let _ = self.s.write_all(&out).await;
    }

    /// The next text or binary frame (binary as `bin:<hex>`), skipping pings `2` (answered);
    /// `None` once closed.
    async fn next(&mut self) -> Option<String> {
        loop {
            while let Some(m) = self.ready.pop_front() {
                match m {
                    Incoming::Text(t) if &*t == "2" => self.send("3").await,
                    Incoming::Text(t) => return Some(t.to_string()),
                    Incoming::Binary(b) => {
                        return Some(format!(
                            "bin:{}",
                            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
                        ));
                    }
                    Incoming::Close(_) => return None,
                    _ => {}
                }
            }
            let mut buf = vec![0u8; 65536];
            let n = tokio::time::timeout(Duration::from_secs(5), self.s.read(&mut buf))
                .await
                .expect("a frame within 5 s")
                .ok()?;
            if n == 0 {
                return None;
            }
            self.ready.extend(self.dec.feed(&buf[..n]).ok()?);
        }
    }
}

/// Spec 3.11's vectors over a raw WebSocket, the upgrade and a second WebSocket for an upgraded
/// sid, and malformed input closing only its own connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_websocket_vectors_and_upgrade() {
    let h = TestHive::start(patch()).await;
    let a = h.sio;
    let mut ws = RawWs::open(a, "/socket.io/?EIO=4&transport=websocket")
        .await
        .unwrap();
    let open = ws.next().await.unwrap();
    assert!(
        open.starts_with("0{") && open.contains(r#""upgrades":[]"#),
        "{open}"
    );
    ws.send("40").await;
    let c = ws.next().await.unwrap();
    assert!(c.starts_with(r#"40{"sid":""#), "{c}");
    assert_eq!(ws.next().await.unwrap(), r#"42["auth",{}]"#);
    ws.send(r#"40/custom,{"token":"abc"}"#).await;
    assert!(
        ws.next()
            .await
            .unwrap()
            .starts_with(r#"40/custom,{"sid":""#)
    );
    assert_eq!(
        ws.next().await.unwrap(),
        r#"42/custom,["auth",{"token":"abc"}]"#
    );
    ws.send("40/random").await;
    assert_eq!(
        ws.next().await.unwrap(),
        r#"44/random,{"message":"Invalid namespace"}"#
    );
    ws.send(r#"42["message",1,"2",{"3":[true]}]"#).await;
    assert_eq!(
        ws.next().await.unwrap(),
        r#"42["message-back",1,"2",{"3":[true]}]"#
    );
    ws.send(r#"452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        .await;
    ws.send_bin(&[1, 2, 3]).await;
    ws.send_bin(&[4, 5, 6]).await;
    assert_eq!(
        ws.next().await.unwrap(),
        r#"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(ws.next().await.unwrap(), "bin:010203");
    assert_eq!(ws.next().await.unwrap(), "bin:040506");
    ws.send(r#"42456["message-with-ack",1,"2",{"3":[false]}]"#)
        .await;
    assert_eq!(ws.next().await.unwrap(), r#"43456[1,"2",{"3":[false]}]"#);
    ws.send(r#"452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        .await;
    ws.send_bin(&[1, 2, 3]).await;
    ws.send_bin(&[4, 5, 6]).await;
    assert_eq!(
        ws.next().await.unwrap(),
        r#"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(ws.next().await.unwrap(), "bin:010203");
    assert_eq!(ws.next().await.unwrap(), "bin:040506");
    // Server-requested acks (spec 6.4): ids from 1; the client's ACK runs `on_ack`; an unknown or
    // repeated id is ignored.
    ws.send(r#"42["emit-with-ack",1,"2",{"3":[true]}]"#).await;
    assert_eq!(
        ws.next().await.unwrap(),
        r#"421["emit-with-ack",1,"2",{"3":[true]}]"#
    );
    ws.send(r#"431[1,"2",{"3":[true]}]"#).await;
    assert_eq!(
        ws.next().await.unwrap(),
        r#"42["emit-with-ack",1,"2",{"3":[true]}]"#
    );
    ws.send(r#"431["again"]"#).await;
    ws.send(r#"43999["x"]"#).await;
    ws.send(r#"452-["emit-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},"test"]"#)
        .await;
    ws.send_bin(&[1, 2, 3]).await;
    ws.send_bin(&[4, 5, 6]).await;
    assert_eq!(
        ws.next().await.unwrap(),
        r#"452-2["emit-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},"test"]"#
    );
    assert_eq!(ws.next().await.unwrap(), "bin:010203");
    assert_eq!(ws.next().await.unwrap(), "bin:040506");
    ws.send(r#"462-2[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},"test"]"#)
        .await;
    ws.send_bin(&[1, 2, 3]).await;
    ws.send_bin(&[4, 5, 6]).await;
    assert_eq!(
        ws.next().await.unwrap(),
        r#"452-["emit-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},"test"]"#
    );
    assert_eq!(ws.next().await.unwrap(), "bin:010203");
    assert_eq!(ws.next().await.unwrap(), "bin:040506");
    // Upgrade a polling session, then a second WebSocket for it is refused; the first still works.
    {
        let s = joined(a).await;
        let p2 = tokio::spawn({
            let s = s.clone();
            async move { get(a, &q(&s)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut up = RawWs::open(a, &format!("/socket.io/?EIO=4&transport=websocket&sid={s}"))
            .await
            .unwrap();
        // The held poll ends with a noop as soon as the WebSocket is open.
        assert_eq!(p2.await.unwrap(), (200, "6".into()));
        up.send("2probe").await;
        assert_eq!(up.next().await.unwrap(), "3probe");
        up.send("5").await;
        up.send(r#"42["message","up"]"#).await;
        assert_eq!(up.next().await.unwrap(), r#"42["message-back","up"]"#);
        assert_eq!(
            get(a, &q(&s)).await,
            (400, json!({"code":3,"message":"Bad request"}).to_string())
        );
        // A second WebSocket for it is refused before the switch (400, code 3).
        let second = RawWs::open(a, &format!("/socket.io/?EIO=4&transport=websocket&sid={s}"))
            .await
            .err()
            .expect("a second WebSocket for an upgraded session is refused");
        assert!(second.starts_with("HTTP/1.1 400"), "{second}");
        up.send(r#"42["message","again"]"#).await;
        assert_eq!(up.next().await.unwrap(), r#"42["message-back","again"]"#);
    }
    assert_eq!(h.metric("clients.transports.eio.upgrades"), 1);
    // The upgraded session is live (the idle raw WebSocket above may have missed a ping by now).
    assert!(h.metric("clients.transports.eio.v4") >= 1);
    // Malformed input on a WebSocket closes it (3.11 #14).
    drop(ws);
    for bad in [
        "42{}",
        r#"42abc["message-with-ack",1,"2",{"3":[false]}]"#,
        "4abc",
    ] {
        let mut ws = RawWs::open(a, "/socket.io/?EIO=4&transport=websocket")
            .await
            .unwrap();
        ws.next().await.unwrap();
        ws.send("40").await;
        assert!(ws.next().await.unwrap().starts_with("40{"));
        assert_eq!(ws.next().await.unwrap(), r#"42["auth",{}]"#);
        ws.send(bad).await;
        assert_eq!(ws.next().await, None, "{bad} closes the connection");
    }
    h.stop().await;
}

/// The raw Engine.IO echo (`socketio.engineio_echo_path`), off by default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engineio_echo_path_is_a_diagnostic_off_by_default() {
    let h = TestHive::start(patch()).await;
    assert_eq!(
        get(h.sio, "/engine.io/?EIO=4&transport=polling").await.0,
        404
    );
    h.stop().await;
    let mut p = patch();
    p["socketio"]["engineio_echo_path"] = json!("/engine.io/");
    let h = TestHive::start(p).await;
    let a = h.sio;
    let (s, b) = get(a, "/engine.io/?EIO=4&transport=polling").await;
    assert_eq!(s, 200);
    let sid = serde_json::from_str::<Value>(&b[1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let eq = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(post(a, &eq, b"4hello\x1ebAQIDBA==").await.0, 200);
    assert_eq!(get(a, &eq).await, (200, "4hello\x1ebAQIDBA==".into()));
    // A socket.io sid is unknown on the echo path.
    assert_eq!(get(a, &q(&sid)).await.0, 400);
    h.stop().await;
}

/// The seed configuration (`config/hive.json`), unchanged but for its ports: a 0.9 user and a
/// socket.io-client 4 user from Node (no Origin header) join the channel `ping` through the seed's
/// `subscribe` hook, and one publish (the seed's `ping`) from either reaches both exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_config_serves_09_and_v4_users_in_one_channel() {
    let text = std::fs::read_to_string(root().join("config/hive.json")).unwrap();
    let mut cfg: Value = serde_json::from_str(&text).unwrap();
    common::merge(
        &mut cfg,
        &json!({"hive": {"port": 0}, "api": {"port": 0}, "monitor": {"port": 0}}),
    );
    let loaded = hive::config::from_value(cfg).expect("the seed config is valid");
    let node = hive::app::start(loaded.config, hive::app::StartOptions::default())
        .await
        .expect("hive starts");
    let h = TestHive {
        sio: node.socketio_addr,
        api: node.api_addr,
        monitor: node.monitor_addr,
        node: Some(node),
    };
    let mut old = JsClient::connect(&h.url(), "websocket");
    old.wait_ev("connect");
    let mut new = v4(&h.url(), "polling,websocket", json!({}));
    new.wait_ev("connect");
    old.emit("subscribe", json!(["ping"]));
    new.emit("subscribe", json!(["ping"]));
    h.until("both subscribed", Duration::from_secs(3), |h| {
        h.metric("clients.hooks.subscribe.calls") >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The seed's `ping` publishes its argument, an internal event, to the channel `ping`.
    let pong = |text: &str| json!([{"action": "pong", "args": {"name": "pong", "args": [text]}}]);
    new.emit("ping", pong("zażółć 😀"));
    assert_eq!(old.wait_event("pong")["args"], json!(["zażółć 😀"]));
    assert_eq!(new.wait_event("pong")["args"], json!(["zażółć 😀"]));
    old.emit("ping", pong("from 0.9"));
    assert_eq!(new.wait_event("pong")["args"], json!(["from 0.9"]));
    assert_eq!(old.wait_event("pong")["args"], json!(["from 0.9"]));
    assert!(old.quiet_for(Duration::from_millis(400), |v| v["name"] == "pong"));
    assert!(new.quiet_for(Duration::from_millis(100), |v| v["name"] == "pong"));
    h.stop().await;
}

/// Engine.IO 3 / Socket.IO 4 extras (spec 6.4): the implicit `/` connect comes with the first poll
/// and before a pong the client asked for earlier; during an upgrade every poll is a noop at once;
/// a close with a held poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engineio_3_extras() {
    let h = TestHive::start(patch()).await;
    let a = h.sio;
    let open3 = || async move {
        let (s, b) = get(a, "/socket.io/?EIO=3&transport=polling&b64=1").await;
        assert_eq!(s, 200);
        let (n, rest) = b.split_once(':').unwrap();
        assert_eq!(
            n.parse::<usize>().unwrap(),
            rest.chars().count(),
            "only the open packet"
        );
        let v: Value = serde_json::from_str(&rest[1..]).unwrap();
        v["sid"].as_str().unwrap().to_string()
    };
    let q3 = |sid: &str| format!("/socket.io/?EIO=3&transport=polling&b64=1&sid={sid}");
    let sid = open3().await;
    assert_eq!(
        get(a, &q3(&sid)).await,
        (200, r#"2:4013:42["auth",{}]"#.into())
    );
    let sid = open3().await;
    assert_eq!(post(a, &q3(&sid), b"1:2").await.0, 200);
    assert_eq!(
        get(a, &q3(&sid)).await,
        (200, r#"2:4013:42["auth",{}]1:3"#.into())
    );
    // Upgrade in progress: polls are answered at once with a noop, then the upgrade completes.
    assert_eq!(post(a, &q3(&sid), b"1:2").await.0, 200);
    let mut ws = RawWs::open(
        a,
        &format!("/socket.io/?EIO=3&transport=websocket&sid={sid}"),
    )
    .await
    .unwrap();
    for _ in 0..5 {
        assert_eq!(get(a, &q3(&sid)).await, (200, "1:6".into()));
    }
    ws.send("2probe").await;
    assert_eq!(ws.next().await.unwrap(), "3probe");
    ws.send("5").await;
    assert_eq!(ws.next().await.unwrap(), "3");
    ws.send(r#"42["message","up"]"#).await;
    assert_eq!(ws.next().await.unwrap(), r#"42["message-back","up"]"#);
    // A close POSTed with a poll held: the poll gets what is queued, the next one 400.
    let sid = open3().await;
    let held = tokio::spawn({
        let p = q3(&sid);
        async move { get(a, &p).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(post(a, &q3(&sid), b"1:1").await.0, 200);
    assert_eq!(held.await.unwrap(), (200, r#"2:4013:42["auth",{}]"#.into()));
    assert_eq!(get(a, &q3(&sid)).await.0, 400);
    h.stop().await;
}

/// A WebSocket frame over `max_payload` closes the connection (1009) and the session; no
/// CONNECT over a WebSocket within `connect_timeout` closes it; a CONNECT beyond
/// `hive.max_client_slots` is refused with CONNECT_ERROR while the session stays; a CORS preflight
/// is answered 204.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_limits_slots_and_preflight() {
    let mut p = patch();
    p["hive"] = json!({"max_client_slots": 1});
    p["socketio"]["max_payload"] = json!(1000);
    let h = TestHive::start(p).await;
    let a = h.sio;
    let ws_path = "/socket.io/?EIO=4&transport=websocket";
    let mut big = RawWs::open(a, ws_path).await.unwrap();
    assert!(big.next().await.unwrap().starts_with("0{"));
    big.send(&format!("42[\"message\",\"{}\"]", "x".repeat(1000)))
        .await;
    assert_eq!(big.next().await, None, "oversized frame closes");
    let mut lazy = RawWs::open(a, ws_path).await.unwrap();
    assert!(lazy.next().await.unwrap().starts_with("0{"));
    assert_eq!(lazy.next().await, None, "no CONNECT within connect_timeout");
    let mut first = RawWs::open(a, ws_path).await.unwrap();
    first.next().await.unwrap();
    first.send("40").await;
    assert!(first.next().await.unwrap().starts_with("40{"));
    assert_eq!(first.next().await.unwrap(), r#"42["auth",{}]"#);
    let mut second = RawWs::open(a, ws_path).await.unwrap();
    second.next().await.unwrap();
    second.send("40").await;
    let refused = second.next().await.unwrap();
    assert!(refused.starts_with(r#"44{"message":"#), "{refused}");
    assert!(refused.contains("no_slots"), "{refused}");
    second.send("40/custom").await;
    assert!(second.next().await.unwrap().starts_with("44/custom,"));
    first.send(r#"42["message","still"]"#).await;
    assert_eq!(first.next().await.unwrap(), r#"42["message-back","still"]"#);
    let (s, head, _) = http(
        a,
        "OPTIONS",
        "/socket.io/?EIO=4&transport=polling",
        &[
            ("Origin", "http://localhost"),
            ("Access-Control-Request-Headers", "x-token"),
        ],
        b"",
    )
    .await;
    assert_eq!(s, 204);
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("access-control-allow-headers: x-token"),
        "{head}"
    );
    assert!(
        head.contains("access-control-allow-origin: http://localhost"),
        "{head}"
    );
    h.stop().await;
}

/// The modern protocol's keys are validated like every other (`hive check-config`).
#[test]
fn modern_keys_are_validated() {
    let mut cfg = common::test_config(json!({"socketio": {
        "path": "/socket.io/1/", "protocols": ["v5"], "engineio_versions": [2],
        "engineio_transports": ["xhr"], "ping_interval": 0, "cors": {"credentials": "yes"},
        "namespaces": {"nope": {}, "/a,b": {}}, "engineio_echo_path": "/socket.io/1/x/"
    }}));
    let text = match hive::config::from_value(cfg.take()) {
        Ok(_) => panic!("invalid keys accepted"),
        Err(e) => e.to_string(),
    };
    for want in [
        r#"socketio.protocols[0]: expected one of "0.9", "v4", got "v5""#,
        "socketio.engineio_versions[0]: expected an integer between 3 and 4, got 2",
        r#"socketio.path: must not collide with 0.9's /socket.io/1/, got "/socket.io/1/""#,
        r#"socketio.engineio_transports[0]: expected one of "polling", "websocket", got "xhr""#,
        "socketio.ping_interval: expected an integer >= 1, got 0",
        r#"socketio.cors.credentials: expected true or false, got "yes""#,
        "socketio.namespaces.nope: a namespace starts with '/' and contains no ',' or '?'",
        "socketio.namespaces./a,b: a namespace starts with '/' and contains no ',' or '?'",
        "socketio.engineio_echo_path: must not collide with 0.9's /socket.io/1/",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let conformance = std::fs::read_to_string(root().join("config/conformance.json")).unwrap();
    hive::config::from_value(serde_json::from_str(&conformance).unwrap())
        .expect("config/conformance.json is valid");
}

/// A namespace with a hook table of its own (`socketio.namespaces.<nsp>.hooks`) runs it instead of
/// `clients.hooks`; the other namespaces keep `clients.hooks`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_runs_its_own_hook_table() {
    let mut p = patch();
    p["socketio"]["namespaces"] = json!({
        "/": {},
        "/admin": {"hooks": {
            "on_connect": [{"hook": "utils.echo", "args": {"rename": "welcome-admin"}}],
            "shout": [{"hook": "utils.echo", "args": {"rename": "shouted"}}]
        }}
    });
    let h = TestHive::start(p).await;
    let mut ws = RawWs::open(h.sio, "/socket.io/?EIO=4&transport=websocket")
        .await
        .unwrap();
    ws.next().await.unwrap();
    ws.send(r#"40/admin,{"k":1}"#).await;
    assert!(ws.next().await.unwrap().starts_with(r#"40/admin,{"sid":""#));
    assert_eq!(
        ws.next().await.unwrap(),
        r#"42/admin,["welcome-admin",{"k":1}]"#
    );
    // `message` is not in /admin's table: ignored; `shout` is.
    ws.send(r#"42/admin,["message","x"]"#).await;
    ws.send(r#"42/admin,["shout","y"]"#).await;
    assert_eq!(ws.next().await.unwrap(), r#"42/admin,["shouted","y"]"#);
    ws.send("40").await;
    assert!(ws.next().await.unwrap().starts_with(r#"40{"sid":""#));
    assert_eq!(ws.next().await.unwrap(), r#"42["auth",{}]"#);
    ws.send(r#"42["message","z"]"#).await;
    assert_eq!(ws.next().await.unwrap(), r#"42["message-back","z"]"#);
    h.stop().await;
}

/// Graceful termination (`/router/terminate`): a modern client sees its Engine.IO connection close
/// without DISCONNECT ("transport close", so it would reconnect), after `on_terminate`'s reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_termination_closes_without_disconnect() {
    let mut p = patch();
    p["clients"]["hooks"]["on_terminate"] =
        json!([{"hook": "utils.echo", "args": {"rename": "bye"}}]);
    let h = TestHive::start(p).await;
    let mut c = v4(&h.url(), "websocket", json!({}));
    c.wait_ev("connect");
    c.wait_event("auth");
    let (s, _, b) = http(
        h.api,
        "POST",
        "/api/abcde12345/router/terminate",
        &[],
        b"maintenance",
    )
    .await;
    assert_eq!((s, b.as_str()), (200, ""));
    c.wait_event("bye");
    assert_eq!(c.wait_ev("disconnect")["reason"], "transport close");
    h.until("no sessions", Duration::from_secs(3), |h| h.sessions() == 0)
        .await;
    h.stop().await;
}

/// Requests a client sends one after the other on different connections (a WebSocket frame, then
/// a poll; a close POSTed beside the first poll) are taken in the order the client sent them,
/// though each connection has its own task: a poll sent after `2probe` and `5` is refused as a
/// poll after the upgrade, a poll sent while the upgrade only began gets its noop, and a close
/// that overtakes the first poll still lets that poll end with its noop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_sent_together_keep_their_order() {
    let h = TestHive::start(patch()).await;
    let a = h.sio;
    let upgraded = (400, json!({"code":3,"message":"Bad request"}).to_string());
    let ws_url = |sid: &str| format!("/socket.io/?EIO=4&transport=websocket&sid={sid}");
    // The WebSocket is open, nothing sent on it yet: a poll gets a noop.
    let s = joined(a).await;
    let mut up = RawWs::open(a, &ws_url(&s)).await.unwrap();
    assert_eq!(get(a, &q(&s)).await, (200, "6".into()));
    up.send("2probe").await;
    assert_eq!(up.next().await.unwrap(), "3probe");
    up.send("5").await;
    up.send(r#"42["message","up"]"#).await;
    assert_eq!(up.next().await.unwrap(), r#"42["message-back","up"]"#);
    assert_eq!(get(a, &q(&s)).await, upgraded);
    // `2probe` and `5` written, then at once a poll: the upgrade is complete for it.
    for _ in 0..5 {
        let s = joined(a).await;
        let mut up = RawWs::open(a, &ws_url(&s)).await.unwrap();
        up.send("2probe").await;
        up.send("5").await;
        assert_eq!(get(a, &q(&s)).await, upgraded);
        assert_eq!(up.next().await.unwrap(), "3probe");
        up.send(r#"42["message","up"]"#).await;
        assert_eq!(up.next().await.unwrap(), r#"42["message-back","up"]"#);
    }
    // The same after `3probe` was read, as a client that does not wait for its polls does.
    let s = joined(a).await;
    let mut up = RawWs::open(a, &ws_url(&s)).await.unwrap();
    up.send("2probe").await;
    assert_eq!(up.next().await.unwrap(), "3probe");
    up.send("5").await;
    assert_eq!(get(a, &q(&s)).await, upgraded);
    // A close POSTed before the first poll: that poll, sent beside it, still gets its noop, then
    // the session is gone.
    let s = open(a).await;
    assert_eq!(post(a, &q(&s), b"1").await, (200, "ok".into()));
    assert_eq!(get(a, &q(&s)).await, (200, "6".into()));
    assert_eq!(get(a, &q(&s)).await.0, 400);
    // Once a poll came, a close ends the session at once.
    let s = joined(a).await;
    assert_eq!(post(a, &q(&s), b"1").await, (200, "ok".into()));
    assert_eq!(get(a, &q(&s)).await.0, 400);
    h.stop().await;
}

/// A request that comes after a missed heartbeat finds the session closed, whether or not the
/// session's timer has fired yet: the deadline counts from the handshake (EIO4: ping due after
/// `ping_interval`, pong due `ping_timeout` later; EIO3: a client ping due within both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_after_a_missed_heartbeat_finds_the_session_closed() {
    let mut p = patch();
    p["socketio"]["ping_timeout"] = json!(200);
    p["socketio"]["engineio_echo_path"] = json!("/engine.io/");
    let h = TestHive::start(p).await;
    let a = h.sio;
    let mut sids = Vec::new();
    for path in ["/socket.io/", "/engine.io/"] {
        let (s, b) = get(a, &format!("{path}?EIO=4&transport=polling")).await;
        assert_eq!(s, 200, "{b}");
        let v: Value = serde_json::from_str(&b[1..]).unwrap();
        sids.push((path, 4, v["sid"].as_str().unwrap().to_string()));
        let (s, b) = get(a, &format!("{path}?EIO=3&transport=polling&b64=1")).await;
        assert_eq!(s, 200, "{b}");
        let (_, rest) = b.split_once(':').unwrap();
        let v: Value = serde_json::from_str(&rest[1..]).unwrap();
        sids.push((path, 3, v["sid"].as_str().unwrap().to_string()));
    }
    // ping_interval 300 + ping_timeout 200 after the last handshake.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (path, rev, sid) in sids {
        let url = format!("{path}?EIO={rev}&transport=polling&sid={sid}");
        let (s, b) = if rev == 4 {
            get(a, &url).await
        } else {
            post(a, &url, b"1:2").await
        };
        assert_eq!(s, 400, "{path} EIO={rev}: {b}");
    }
    h.stop().await;
}
