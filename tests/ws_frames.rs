//! The server's WebSocket frame handling over a raw TCP socket (RFC 6455), end to end: frames sent
//! with the upgrade request, ping -> pong, fragments with a ping between them, close echo, the
//! close codes of bad input (1002, 1007, 1009), the keep-alive ping timeout, and channel frames on
//! the pub-sub shortcut (order, and a subscriber that stops reading).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use codec::ws::{Header, Role, encode, opcode};
use common::{TestHive, handshake};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TEXT: u8 = opcode::TEXT;
const CLOSE: u8 = opcode::CLOSE;
const PING: u8 = opcode::PING;
const PONG: u8 = opcode::PONG;
const MASK: [u8; 4] = [1, 2, 3, 4];

/// A client frame (masked unless `masked` is false), built by the codec's encoder.
fn frame(fin: bool, op: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = Vec::new();
    encode(&mut out, fin, op, masked.then_some(MASK), payload);
    out
}

fn text(s: &str) -> Vec<u8> {
    frame(true, TEXT, s.as_bytes(), true)
}

/// A raw client connection after the upgrade.
struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// Upgrade `sid`; `early` is sent in the same write as the request.
    async fn open(addr: SocketAddr, sid: &str, early: &[u8]) -> Raw {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut req = format!(
            "GET /socket.io/1/websocket/{sid} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://localhost\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        .into_bytes();
        req.extend_from_slice(early);
        s.write_all(&req).await.unwrap();
        let mut raw = Raw { s, buf: Vec::new() };
        let end = loop {
            if let Some(i) = raw.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            raw.more().await.expect("upgrade response");
        };
        let head = String::from_utf8_lossy(&raw.buf[..end]).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        raw.buf.drain(..end);
        raw
    }

    /// Read more bytes; `None` at end of stream.
    async fn more(&mut self) -> Option<()> {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), self.s.read(&mut chunk))
            .await
            .expect("no data from the server within 5 s")
            .ok()?;
        (n > 0).then(|| self.buf.extend_from_slice(&chunk[..n]))
    }

    /// The next server frame (opcode, payload); `None` at end of stream. Its header is parsed
    /// and checked by the codec in the client role (unmasked, no reserved bits, ...).
    async fn recv(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if let Some((h, at)) = Header::parse(&self.buf, Role::Client).expect("valid header") {
                assert!(h.fin, "server frames are not fragmented");
                let len = usize::try_from(h.len).unwrap();
                if self.buf.len() >= at + len {
                    let payload = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    return Some((h.opcode, payload));
                }
            }
            self.more().await?;
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).await.unwrap();
    }

    /// Frames until the server's close frame (returned last) or the end of the stream.
    async fn until_close(&mut self) -> Vec<(u8, Vec<u8>)> {
        let mut got = Vec::new();
        while let Some(f) = self.recv().await {
            let close = f.0 == CLOSE;
            got.push(f);
            if close {
                break;
            }
        }
        got
    }
}

fn close_code(frames: &[(u8, Vec<u8>)]) -> Option<u16> {
    frames
        .iter()
        .find(|f| f.0 == CLOSE)
        .map(|f| u16::from_be_bytes([f.1[0], f.1[1]]))
}

fn texts(frames: &[(u8, Vec<u8>)]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f.0 == TEXT)
        .map(|f| String::from_utf8_lossy(&f.1).to_string())
        .collect()
}

async fn start() -> TestHive {
    // A long heartbeat keeps keep-alive pings out of the way (the ping-timeout test sets its own).
    TestHive::start(
        json!({"socketio": {"max_frame_size": 4096, "heartbeat_timeout": 30000,
                                        "session_timeout": 60000}}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_fragments_and_close_echo() {
    let h = start().await;
    let sid = handshake(h.sio).await;
    // A ping sent together with the upgrade request is answered.
    let mut c = Raw::open(h.sio, &sid, &frame(true, PING, b"early", true)).await;
    let mut got = Vec::new();
    while !(got.iter().any(|f: &(u8, Vec<u8>)| f.0 == PONG) && texts(&got).len() == 1) {
        got.push(c.recv().await.expect("pong and 1:::"));
    }
    assert!(got.contains(&(PONG, b"early".to_vec())), "{got:?}");
    assert_eq!(texts(&got), vec!["1:::"]);
    // A message in two fragments with a ping between them: a pong, then one echo.
    let msg = r#"5:::{"name":"echo","args":["fragmented"]}"#.as_bytes();
    let mut b = frame(false, TEXT, &msg[..10], true);
    b.extend(frame(true, PING, b"mid", true));
    b.extend(frame(true, opcode::CONTINUATION, &msg[10..], true));
    c.send(&b).await;
    assert_eq!(c.recv().await.unwrap(), (PONG, b"mid".to_vec()));
    let (op, echo) = c.recv().await.unwrap();
    assert_eq!(op, TEXT);
    assert!(
        String::from_utf8_lossy(&echo).contains("fragmented"),
        "{echo:?}"
    );
    // A close is echoed with its code, and the session ends.
    c.send(&frame(true, CLOSE, &1001u16.to_be_bytes(), true))
        .await;
    let got = c.until_close().await;
    assert_eq!(close_code(&got), Some(1001), "{got:?}");
    assert!(
        c.recv().await.is_none(),
        "the server hangs up after the close"
    );
    h.until("session ended", Duration::from_secs(3), |h| {
        h.sessions() == 0
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_with_their_codes() {
    let h = start().await;
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "bad UTF-8",
            frame(true, TEXT, &[b'5', b':', 0xC3, 0x28], true),
            1007,
        ),
        ("oversize", text(&format!("5:::{}", "x".repeat(5000))), 1009),
        ("unmasked", frame(true, TEXT, b"2::", false), 1002),
        (
            "continuation first",
            frame(true, opcode::CONTINUATION, b"2::", true),
            1002,
        ),
    ];
    for (name, bytes, code) in cases {
        let sid = handshake(h.sio).await;
        let mut c = Raw::open(h.sio, &sid, b"").await;
        assert_eq!(c.recv().await.unwrap(), (TEXT, b"1:::".to_vec()), "{name}");
        c.send(&bytes).await;
        let got = c.until_close().await;
        assert_eq!(close_code(&got), Some(code), "{name}: {got:?}");
        // The client's own end of the session (`0:::`) goes out before the close.
        assert_eq!(texts(&got), vec!["0:::"], "{name}");
        h.until(name, Duration::from_secs(3), |h| h.sessions() == 0)
            .await;
    }
    // Exactly the limit is fine: the session goes on.
    let sid = handshake(h.sio).await;
    let mut c = Raw::open(h.sio, &sid, b"").await;
    assert_eq!(c.recv().await.unwrap(), (TEXT, b"1:::".to_vec()));
    let (head, tail) = (r#"5:::{"name":"echo","args":[""#, r#""]}"#);
    let body = format!("{head}{}{tail}", "y".repeat(4096 - head.len() - tail.len()));
    assert_eq!(body.len(), 4096);
    c.send(&text(&body)).await;
    let (op, echo) = c.recv().await.unwrap();
    assert_eq!((op, echo.len() > 4000), (TEXT, true));
    assert_eq!(h.sessions(), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_keep_alive_ping_ends_the_session() {
    // heartbeat_timeout 1000 ms and websocket_ping_timeout 500 ms (config/test.json).
    let h = TestHive::start(json!({})).await;
    let sid = handshake(h.sio).await;
    let mut c = Raw::open(h.sio, &sid, b"").await;
    let got = c.until_close().await;
    assert_eq!(texts(&got), vec!["1:::", "8:::"], "{got:?}");
    assert!(got.iter().any(|f| f.0 == PING), "{got:?}");
    assert_eq!(close_code(&got), Some(1000));
    let reason = &got.last().unwrap().1[2..];
    assert_eq!(reason, b"ping timeout");
    h.until("session ended", Duration::from_secs(3), |h| {
        h.sessions() == 0
    })
    .await;
    h.stop().await;
}

/// A node whose sessions have no batching window, so channel frames take the shortcut straight
/// into the connection's queue (`client::shortcut`), with a `rooms` channel and the seed's hooks.
async fn start_shortcut() -> TestHive {
    TestHive::start(json!({
        "socketio": {"poll_timeout": 0, "heartbeat_timeout": 30000, "session_timeout": 60000},
        "clients": {"hooks": {"join_rooms": [{"hook": "pubsub.subscribe", "args": "public"}]}},
        "pubsub": {"channels": {"rooms": {"privilege": "public", "timeout": 0}}}
    }))
    .await
}

async fn publish(h: &TestHive, body: &str) {
    let path = "/api/abcde12345/pubsub/publish/rooms.x";
    let (s, _, b) = common::http(h.api, "POST", path, &[], body.as_bytes()).await;
    assert_eq!((s, b.as_str()), (200, ""), "publish");
}

/// A joined WebSocket session with its `1:::` read; `n` sessions are then in `rooms.x`.
async fn joined(h: &TestHive, n: i64) -> Raw {
    let sid = handshake(h.sio).await;
    let mut c = Raw::open(h.sio, &sid, &[]).await;
    assert_eq!(texts(&[c.recv().await.unwrap()]), vec!["1:::"]);
    c.send(&text(
        r#"5:::{"name":"join_rooms","args":[{"rooms":["x"]}]}"#,
    ))
    .await;
    let path = "/api/abcde12345/pubsub/subscribe/rooms.x";
    let mut got = None;
    for _ in 0..500 {
        let (s, _, b) = common::http(h.api, "GET", path, &[], b"").await;
        got = (s == 200).then(|| {
            serde_json::from_str::<serde_json::Value>(&b).unwrap()["subscribed_clients"].as_i64()
        });
        if got == Some(Some(n)) {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("rooms.x never had {n} subscribers (last: {got:?})");
}

/// Channel frames that skip the client actor still arrive exactly once and in publish order,
/// interleaved with the session's own replies (which still come from its actor), and are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_frames_on_the_shortcut_keep_order_beside_replies() {
    let h = start_shortcut().await;
    let mut c = joined(&h, 1).await;
    let ok_before = h.metric("clients.transports.websocket.ok");
    const N: usize = 300;
    let pusher = {
        let api = h.api;
        tokio::spawn(async move {
            for i in 0..N {
                let body = format!(r#"{{"name":"n","args":[{i}]}}"#);
                let path = "/api/abcde12345/pubsub/publish/rooms.x";
                let (s, _, _) = common::http(api, "POST", path, &[], body.as_bytes()).await;
                assert_eq!(s, 200);
            }
        })
    };
    for i in 0..50 {
        c.send(&text(&format!(r#"5:::{{"name":"echo","args":["e{i}"]}}"#)))
            .await;
    }
    let (mut published, mut echoes) = (Vec::new(), Vec::new());
    while published.len() < N || echoes.len() < 50 {
        let (op, p) = c.recv().await.expect("frames until all arrived");
        assert_eq!(op, TEXT);
        let v: serde_json::Value = serde_json::from_slice(&p[4..]).unwrap();
        match v["name"].as_str() {
            Some("n") => published.push(v["args"][0].as_u64().unwrap() as usize),
            Some("echo") => echoes.push(v["args"][0].as_str().unwrap().to_string()),
            other => panic!(
                "unexpected frame {other:?}: {}",
                String::from_utf8_lossy(&p)
            ),
        }
    }
    pusher.await.unwrap();
    assert_eq!(
        published,
        (0..N).collect::<Vec<_>>(),
        "publish order, once each"
    );
    let want: Vec<String> = (0..50).map(|i| format!("e{i}")).collect();
    assert_eq!(echoes, want);
    assert!(h.metric("clients.transports.websocket.ok") - ok_before >= (N + 50) as i64);
    h.stop().await;
}

/// A subscriber that stops reading fills its kernel buffers, then its connection queue: the
/// channel drops it as a slow consumer, its session ends, and the others are not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_is_dropped_on_the_shortcut() {
    let h = start_shortcut().await;
    let _stuck = joined(&h, 1).await; // never read again
    let mut live = joined(&h, 2).await;
    let big = "x".repeat(16 * 1024);
    let body = format!(r#"{{"name":"big","args":["{big}"]}}"#);
    let mut sent = 0;
    while h.metric("pubsub.dropped_deliveries") == 0 {
        assert!(sent < 4000, "never dropped after {sent} publishes");
        publish(&h, &body).await;
        sent += 1;
        // The live one reads everything.
        let (op, p) = live.recv().await.unwrap();
        assert_eq!(op, TEXT);
        assert!(p.len() > 16 * 1024);
    }
    h.until("stuck session ended", Duration::from_secs(10), |h| {
        h.sessions() == 1
    })
    .await;
    publish(&h, r#"{"name":"after","args":[]}"#).await;
    let (_, p) = live.recv().await.unwrap();
    assert!(String::from_utf8_lossy(&p).contains("after"));
    h.stop().await;
}
