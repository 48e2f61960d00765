//! Slow and hostile clients against a real node:
//! - a WebSocket client that never reads its socket while its requests keep producing replies is
//!   dropped at its bound (`clients.slow_dropped`), and another session's round trips all come
//!   back meanwhile and after;
//! - a pub-sub subscriber that never reads while a channel publishes to it is dropped as slow,
//!   and a reading subscriber gets every publish in order (channels write into idle sockets
//!   themselves; a partial write's rest and what follows keep their order);
//! - an XHR session that never polls again is dropped at `socketio.max_outgoing_queue`;
//! - a handshake flood with no transport after it: sessions never exceed
//!   `hive.max_client_slots` (the excess is refused 403 `no_slots`), every one is reaped by
//!   `socketio.init_timeout`, and the node serves a real session afterwards;
//! - request-smuggling shapes (two `Content-Length`s, equal or not; `Transfer-Encoding` with
//!   `Content-Length`) on the API and on the XHR transport are refused 400, the connection is
//!   closed, and nothing reaches a handler.
//!
//! No timed assertion: waits are bounded liveness checks (`TestHive::until`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "support/raw_ws.rs"]
mod raw_ws;

use std::net::SocketAddr;
use std::time::Duration;

use common::{TestHive, handshake, http};
use raw_ws::Ws;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HASH: &str = "abcde12345";

fn echo(tag: &str, pad: &str) -> String {
    format!(r#"5:::{{"name":"echo","args":["{tag}","{pad}"]}}"#)
}

/// A session that sends `echo` events without ever reading its socket fills its kernel buffers:
/// the node's writes to it stall, and after `heartbeat_timeout` + `websocket_ping_timeout` with no
/// progress it is dropped as slow (before the fix, the connection's task waited in its write
/// forever, holding the socket and a connection slot). Another session's echoes all come back,
/// during and after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_that_never_reads_is_dropped_and_nobody_else_waits() {
    let h = TestHive::start(json!({
        "socketio": {"poll_timeout": 0, "heartbeat_timeout": 1000, "session_timeout": 120000}
    }))
    .await;
    let mut live = Ws::open(h.sio, &handshake(h.sio).await).await;
    assert_eq!(live.text().await.unwrap(), "1:::");
    let mut stuck = Ws::open(h.sio, &handshake(h.sio).await).await;
    // The stuck client writes 16 KiB echoes forever and never reads; its writes stop when the
    // node stops reading it, and fail once the node drops it.
    let pad = "x".repeat(16 * 1024);
    let writer = {
        let pad = pad.clone();
        tokio::spawn(async move {
            let mut n = 0u64;
            while stuck.send(&echo("s", &pad)).await.is_ok() {
                n += 1;
            }
            n
        })
    };
    // The live session does round trips, one at a time, until the stuck one is dropped, then 20
    // more; every reply comes back, in order.
    let mut trips = 0u64;
    let mut after = 0;
    while after < 20 {
        if h.metric("clients.slow_dropped") > 0 {
            after += 1;
        }
        let tag = format!("live-{trips}");
        live.send(&echo(&tag, "")).await.unwrap();
        let got = live
            .event()
            .await
            .expect("the live session is still served");
        assert!(got.contains(&tag), "{got}");
        trips += 1;
        assert!(
            trips < 1_000_000,
            "the stuck client was never dropped after {trips} round trips"
        );
    }
    h.until("stuck session ended", Duration::from_secs(30), |h| {
        h.sessions() == 1
    })
    .await;
    let sent = tokio::time::timeout(Duration::from_secs(30), writer)
        .await
        .expect("the stuck client's writes fail once it is dropped")
        .unwrap();
    println!("live round trips: {trips}; the stuck client sent {sent} echoes before its drop");
    assert_eq!(h.metric("clients.slow_dropped"), 1);
    h.stop().await;
}

/// A pub-sub subscriber that never reads its socket while a channel keeps publishing 16 KiB
/// events to it: the channel writes them into its socket itself while it is idle, then, once its
/// buffers are full, the rest of a write and what follows go through its connection's queue; it
/// is dropped as slow (its queue full, or its connection's write stalled). A subscriber that
/// reads gets every publish, whole and in order, during and after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_is_dropped_and_the_others_get_every_publish_in_order() {
    let h = TestHive::start(json!({
        "hive": {"websocket_direct_write": true},
        "socketio": {"poll_timeout": 0, "heartbeat_timeout": 1000, "session_timeout": 120000}
    }))
    .await;
    let mut live = subscribed(&h).await;
    assert!(delivered(&h, &mut live, "ready-live").await);
    let mut stuck = subscribed(&h).await;
    assert!(delivered(&h, &mut stuck, "ready-stuck").await);
    // From here on `stuck` is never read. `live` reads every publish in a task of its own.
    let pad = "y".repeat(16 * 1024);
    let reader = tokio::spawn({
        let pad = pad.clone();
        async move {
            let mut seen = Vec::new();
            while let Some(t) = live.event().await {
                if let Some(i) = t.split("seq-").nth(1).and_then(|r| r.split('"').next()) {
                    assert!(t.contains(&pad), "a whole event");
                    seen.push(i.parse::<u64>().unwrap());
                } else if t.contains("end-of-test") {
                    break;
                }
            }
            seen
        }
    });
    let path = format!("/api/{HASH}/pubsub/publish/ping.x");
    let mut seq = 0u64;
    let mut after = 0;
    while after < 50 {
        if h.sessions() == 1 {
            after += 1;
        }
        let body = format!(r#"{{"name":"news","args":["seq-{seq}","{pad}"]}}"#);
        let (s, _, _) = http(h.api, "POST", &path, &[], body.as_bytes()).await;
        assert_eq!(s, 200);
        seq += 1;
        assert!(
            seq < 200_000,
            "the stuck subscriber was never dropped after {seq} publishes"
        );
    }
    let (s, _, _) = http(
        h.api,
        "POST",
        &path,
        &[],
        br#"{"name":"news","args":["end-of-test"]}"#,
    )
    .await;
    assert_eq!(s, 200);
    let seen = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the live subscriber got the last publish")
        .unwrap();
    assert_eq!(
        seen,
        (0..seq).collect::<Vec<_>>(),
        "every publish reached the reading subscriber, in order"
    );
    println!(
        "{seq} publishes; clients.slow_dropped {}, pubsub.dropped_deliveries {}",
        h.metric("clients.slow_dropped"),
        h.metric("pubsub.dropped_deliveries")
    );
    assert!(
        h.metric("clients.slow_dropped") + h.metric("pubsub.dropped_deliveries") >= 1,
        "the stuck subscriber was dropped as slow"
    );
    h.stop().await;
}

/// An XHR session that stops polling: its replies queue up to `max_outgoing_queue`, then it is
/// dropped; a WebSocket session is served throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xhr_session_that_never_polls_is_dropped_at_its_queue_bound() {
    let h = TestHive::start(json!({
        "socketio": {"poll_timeout": 0, "heartbeat_timeout": 60000, "session_timeout": 120000,
                     "max_outgoing_queue": 50}
    }))
    .await;
    let mut live = Ws::open(h.sio, &handshake(h.sio).await).await;
    assert_eq!(live.text().await.unwrap(), "1:::");
    let sid = handshake(h.sio).await;
    let path = format!("/socket.io/1/xhr-polling/{sid}");
    let origin = [("Origin", "http://localhost")];
    // One poll connects the transport (it answers `1::`), then no poll ever again.
    let (s, _, b) = http(h.sio, "GET", &path, &origin, b"").await;
    assert_eq!((s, b.as_str()), (200, "1:::"));
    let mut posted = 0;
    while h.metric("clients.slow_dropped") == 0 {
        let (s, _, _) = http(h.sio, "POST", &path, &origin, echo("x", "").as_bytes()).await;
        if s != 200 {
            break; // the session is gone
        }
        posted += 1;
        assert!(
            posted <= 1000,
            "never dropped after {posted} unread replies"
        );
        live.send(&echo(&format!("w{posted}"), "")).await.unwrap();
        let got = live.event().await.unwrap();
        assert!(got.contains(&format!("w{posted}")), "{got}");
    }
    h.until("xhr session dropped", Duration::from_secs(30), |h| {
        h.metric("clients.slow_dropped") == 1 && h.sessions() == 1
    })
    .await;
    assert!(
        posted >= 50,
        "dropped after {posted} replies, before the bound"
    );
    live.send(&echo("after", "")).await.unwrap();
    assert!(live.event().await.unwrap().contains("after"));
    h.stop().await;
}

/// Handshakes with no transport after them: at most `max_client_slots` sessions exist, the rest
/// are refused 403, all are reaped by `init_timeout`, and a real session works afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_flood_is_bounded_and_reaped() {
    // test.json: 100 slots, init_timeout 500 ms.
    let h = TestHive::start(json!({})).await;
    let mut ok = 0;
    let mut refused = 0;
    for round in 0..3 {
        let mut tasks = Vec::new();
        for _ in 0..150 {
            let addr = h.sio;
            tasks.push(tokio::spawn(async move {
                http(addr, "GET", "/socket.io/1/?t=1", &[], b"").await
            }));
        }
        for t in tasks {
            let (s, _, body) = t.await.unwrap();
            match s {
                200 => ok += 1,
                403 => {
                    assert!(body.contains("no_slots"), "{body}");
                    refused += 1;
                }
                other => panic!("handshake answered {other}: {body}"),
            }
            assert!(h.sessions() <= 100, "{} sessions", h.sessions());
        }
        assert!(
            refused > 0 || round > 0,
            "150 handshakes on 100 slots, none refused"
        );
        h.until("flood reaped", Duration::from_secs(60), |h| {
            h.sessions() == 0
        })
        .await;
    }
    println!("handshakes: {ok} accepted, {refused} refused");
    assert!(
        ok >= 100 && refused >= 50,
        "{ok} accepted, {refused} refused"
    );
    // The node serves a real session afterwards.
    let mut ws = Ws::open(h.sio, &handshake(h.sio).await).await;
    assert_eq!(ws.text().await.unwrap(), "1:::");
    ws.send(&echo("after", "")).await.unwrap();
    assert!(ws.event().await.unwrap().contains("after"));
    h.stop().await;
}

/// Send raw bytes on a fresh connection; the whole answer (the server closes the connection).
async fn raw(addr: SocketAddr, req: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// The three smuggling shapes for a POST to `path` with `body`; each is a keep-alive request
/// followed by a second one, which must never be answered.
fn smuggling_requests(path: &str, body: &str) -> Vec<(&'static str, String)> {
    let n = body.len();
    let next = "GET /never HTTP/1.1\r\nHost: x\r\n\r\n";
    let chunked = format!("{n:x}\r\n{body}\r\n0\r\n\r\n");
    vec![
        (
            "two different Content-Lengths",
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost\r\nContent-Length: {n}\r\nContent-Length: {}\r\n\r\n{body}{next}",
                n + 5
            ),
        ),
        (
            "two equal Content-Lengths",
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost\r\nContent-Length: {n}\r\nContent-Length: {n}\r\n\r\n{body}{next}"
            ),
        ),
        (
            "Transfer-Encoding then Content-Length",
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: {n}\r\n\r\n{chunked}{next}"
            ),
        ),
        (
            "Content-Length then Transfer-Encoding",
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n{chunked}{next}"
            ),
        ),
    ]
}

/// Every shape is answered 400 once, and the connection closes (the pipelined request after it
/// is never answered).
fn assert_refused(what: &str, answer: &str) {
    // hyper itself refuses two different lengths (an empty 400); the edge the other shapes.
    assert!(answer.starts_with("HTTP/1.1 400"), "{what}: {answer}");
    assert!(
        answer.contains("request-smuggling") || what == "two different Content-Lengths",
        "{what}: refused for another reason: {answer}"
    );
    assert_eq!(
        answer.matches("HTTP/1.1 ").count(),
        1,
        "{what}: a second response: {answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_smuggling_shapes_are_refused_on_the_api() {
    let h = TestHive::start(json!({})).await;
    let path = format!("/api/{HASH}/pubsub/publish/ping.x");
    let body = r#"{"name":"x","args":[]}"#;
    let before = h.metric("api.requests");
    for (what, req) in smuggling_requests(&path, body) {
        assert_refused(what, &raw(h.api, &req).await);
    }
    assert_eq!(
        h.metric("api.requests"),
        before,
        "a smuggling shape reached the API's handler"
    );
    // A plain request still works.
    let (s, _, b) = http(h.api, "POST", &path, &[], body.as_bytes()).await;
    assert_eq!((s, b.as_str()), (200, ""));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_smuggling_shapes_are_refused_on_the_xhr_transport() {
    let h = TestHive::start(json!({"socketio": {"session_timeout": 60000}})).await;
    let sid = handshake(h.sio).await;
    let path = format!("/socket.io/1/xhr-polling/{sid}");
    let origin = [("Origin", "http://localhost")];
    let (s, _, b) = http(h.sio, "GET", &path, &origin, b"").await;
    assert_eq!((s, b.as_str()), (200, "1:::"));
    let before = h.metric("clients.transports.http.requests");
    for (what, req) in smuggling_requests(&path, &echo("smuggled", "")) {
        assert_refused(what, &raw(h.sio, &req).await);
    }
    assert_eq!(
        h.metric("clients.transports.http.requests"),
        before,
        "a smuggling shape reached the transport"
    );
    // Nothing was routed to the session: a plain POST and poll give only its own reply.
    let (s, _, _) = http(h.sio, "POST", &path, &origin, echo("plain", "").as_bytes()).await;
    assert_eq!(s, 200);
    let (_, _, b) = http(h.sio, "GET", &path, &origin, b"").await;
    assert!(b.contains("plain") && !b.contains("smuggled"), "{b}");
    h.stop().await;
}

/// A session subscribed to `ping.x` (a WebSocket, its `1:::` read).
async fn subscribed(h: &TestHive) -> Ws {
    let mut ws = Ws::open(h.sio, &handshake(h.sio).await).await;
    assert_eq!(ws.text().await.unwrap(), "1:::");
    ws.send(r#"5:::{"name":"subscribe","args":["ping.x"]}"#)
        .await
        .unwrap();
    ws
}

/// Publish through the API until `ws` gets it (the subscription is asynchronous).
async fn delivered(h: &TestHive, ws: &mut Ws, tag: &str) -> bool {
    let path = format!("/api/{HASH}/pubsub/publish/ping.x");
    for _ in 0..50 {
        let body = format!(r#"{{"name":"news","args":["{tag}"]}}"#);
        let (s, _, _) = http(h.api, "POST", &path, &[], body.as_bytes()).await;
        assert_eq!(s, 200);
        match tokio::time::timeout(Duration::from_millis(200), ws.event()).await {
            Ok(Some(t)) if t.contains(tag) => return true,
            Ok(None) => return false,
            _ => {}
        }
    }
    false
}

/// Kill an actor by its tree name through the monitor.
async fn kill(h: &TestHive, name: &str) {
    let path = format!("/monitor/12345abcde/actors/{name}/kill");
    let (s, _, b) = http(h.monitor, "POST", &path, &[], b"").await;
    assert_eq!(s, 200, "kill {name}: {b}");
}

/// Found by the chaos bench: a killed client actor (the monitor's kill, or every session when the
/// router is killed and router_sup restarts) is dropped without running a handler; its
/// WebSocket must still get the wire's disconnect (`0:::`, then a close frame) at once, not a
/// bare TCP close when the connection's own timers notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_session_gets_a_clean_disconnect() {
    let h = TestHive::start(
        json!({"socketio": {"heartbeat_timeout": 60000, "session_timeout": 60000}}),
    )
    .await;
    let sid = handshake(h.sio).await;
    let mut ws = Ws::open(h.sio, &sid).await;
    assert_eq!(ws.text().await.as_deref(), Some("1:::"));
    kill(&h, &sid).await;
    assert_eq!(
        ws.text().await.as_deref(),
        Some("0:::"),
        "the wire's disconnect"
    );
    assert_eq!(ws.text().await, None, "then the close frame");
    // The router's kill ends every session: each gets the same clean disconnect.
    let sid = handshake(h.sio).await;
    let mut ws = Ws::open(h.sio, &sid).await;
    assert_eq!(ws.text().await.as_deref(), Some("1:::"));
    kill(&h, "router").await;
    assert_eq!(
        ws.text().await.as_deref(),
        Some("0:::"),
        "the wire's disconnect"
    );
    assert_eq!(ws.text().await, None, "then the close frame");
    h.stop().await;
}

/// Found by the chaos bench: after the pub-sub manager is killed (pubsub_sup restarts it and the
/// channels, web_sup restarts the listeners), new subscriptions must receive what the API
/// publishes, and so must sessions started after the router is killed too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_works_for_new_sessions_after_the_manager_and_the_router_are_killed() {
    let h = TestHive::start(json!({"socketio": {"session_timeout": 60000}})).await;
    let mut before = subscribed(&h).await;
    assert!(delivered(&h, &mut before, "one").await);
    kill(&h, "pubsub").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut after = subscribed(&h).await;
    assert!(
        delivered(&h, &mut after, "two").await,
        "a session subscribed after the pub-sub manager's restart gets nothing"
    );
    kill(&h, "router").await;
    let mut later = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (s, _, body) = http(h.sio, "GET", "/socket.io/1/", &[], b"").await;
        if s == 200 {
            let sid = body.split(':').next().unwrap().to_string();
            let mut ws = Ws::open(h.sio, &sid).await;
            if ws.text().await.as_deref() == Some("1:::") {
                later = Some(ws);
                break;
            }
        }
    }
    let mut later = later.expect("a new session after the router's restart");
    later
        .send(r#"5:::{"name":"subscribe","args":["ping.x"]}"#)
        .await
        .unwrap();
    assert!(
        delivered(&h, &mut later, "three").await,
        "a session started after the router's restart gets nothing"
    );
    h.stop().await;
}

/// The modern protocol's WebSocket (Engine.IO 4): a client that sends events without ever
/// reading stalls the node's writes; after `ping_interval` + `ping_timeout` the connection is
/// dropped instead of waiting in its write forever (the client's own writes then fail), and a 0.9
/// session keeps its round trips meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modern_websocket_client_that_never_reads_is_dropped() {
    let h = TestHive::start(json!({
        "socketio": {"ping_interval": 1000, "ping_timeout": 1000, "poll_timeout": 0,
                     "heartbeat_timeout": 60000, "session_timeout": 120000},
        "clients": {"hooks": {"message": [{"hook": "utils.echo", "args": {"rename": "message-back"}}]}}
    }))
    .await;
    let mut live = Ws::open(h.sio, &handshake(h.sio).await).await;
    assert_eq!(live.text().await.unwrap(), "1:::");
    // A raw Engine.IO 4 WebSocket: the upgrade, the open packet, the namespace connect.
    let mut stuck = Ws::upgrade(h.sio, "/socket.io/?EIO=4&transport=websocket").await;
    assert!(stuck.text().await.unwrap().starts_with("0{"));
    stuck.send("40").await.unwrap();
    assert!(stuck.text().await.unwrap().starts_with("40{"));
    let pad = "x".repeat(16 * 1024);
    let writer = tokio::spawn(async move {
        let msg = format!(r#"42["message","{pad}"]"#);
        let mut n = 0u64;
        while stuck.send(&msg).await.is_ok() {
            n += 1;
        }
        n
    });
    // Round trips of the 0.9 session until the stuck client's writes fail (the node dropped it).
    let mut trips = 0u64;
    while !writer.is_finished() {
        let tag = format!("live-{trips}");
        live.send(&echo(&tag, "")).await.unwrap();
        let got = live.event().await.expect("the 0.9 session is still served");
        assert!(got.contains(&tag), "{got}");
        trips += 1;
        assert!(trips < 1_000_000, "the stuck client was never dropped");
    }
    let sent = writer.await.unwrap();
    println!("live round trips: {trips}; the stuck modern client sent {sent} events");
    h.stop().await;
}
