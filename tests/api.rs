//! The REST API over real HTTP on 127.0.0.1:0: every row of HIVE.md 9.2, plus 9.1 errors.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "pubsub/recorder.rs"]
mod recorder;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use codec::event::InternalEvent;
use hive::HiveError;
use hive::api::{ApiCtx, Control, serve};
use hive::config::{ChannelTemplate, Ordered, PubsubSection};
use hive::events::{Event, Out};
use hive::metrics::Metrics;
use hive::pubsub::{Payload, Privilege, PubSub};
use recorder::{Recorder, frames, next};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const HASH: &str = "abcde12345";
const KNOWN_SID: &str = "known-sid";

/// A call the API made on the node.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    Stop,
    Enable,
    Disable,
    Terminate(String),
    Route(String, Vec<InternalEvent>),
    Subscribe(String, Vec<String>, bool),
}

/// Records calls; knows one session; pre-encodes events whose alias is `reply` (as if `reply`
/// were configured as `action.send_event`).
#[derive(Default)]
struct TestControl {
    calls: Mutex<Vec<Call>>,
}

impl TestControl {
    fn push(&self, c: Call) {
        self.calls.lock().unwrap().push(c);
    }
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
    fn known(sid: &str) -> Result<(), HiveError> {
        if sid == KNOWN_SID {
            Ok(())
        } else {
            Err(HiveError::BadSessionId(format!(
                "Tried routing events to an unknown sid: {sid}"
            )))
        }
    }
}

impl Control for TestControl {
    fn version(&self) -> String {
        "v0.9.1-test".into()
    }
    fn stop(&self) {
        self.push(Call::Stop);
    }
    fn router_enable(&self) {
        self.push(Call::Enable);
    }
    fn router_disable(&self) {
        self.push(Call::Disable);
    }
    fn router_terminate(&self, reason: String) {
        self.push(Call::Terminate(reason));
    }
    fn route_events(&self, sid: &str, events: Vec<InternalEvent>) -> Result<(), HiveError> {
        Self::known(sid)?;
        self.push(Call::Route(sid.into(), events));
        Ok(())
    }
    fn subscribe(&self, sid: &str, cids: Vec<String>, join: bool) -> Result<(), HiveError> {
        Self::known(sid)?;
        self.push(Call::Subscribe(sid.into(), cids, join));
        Ok(())
    }
    fn plain_events(&self, events: &[InternalEvent]) -> Option<Vec<Out>> {
        events
            .iter()
            .map(|e| (e.action == "reply").then(|| Out::Event(Event::new(e.args.clone()))))
            .collect()
    }
}

struct Api {
    addr: SocketAddr,
    control: Arc<TestControl>,
    pubsub: PubSub,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn start_api(max_body: usize) -> Api {
    let metrics = Metrics::new();
    let cfg = PubsubSection {
        channels: Ordered(vec![(
            "rooms".into(),
            ChannelTemplate {
                privilege: "private".into(),
                timeout: 0,
            },
        )]),
    };
    let pubsub = PubSub::start(&cfg, metrics.clone(), None).await.unwrap();
    let control = Arc::new(TestControl::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = ApiCtx {
        hash: HASH.into(),
        max_body,
        metrics: metrics.clone(),
        pubsub: pubsub.clone(),
        control: control.clone(),
        cluster: None,
    };
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, ctx, shutdown.clone()));
    Api {
        addr,
        control,
        pubsub,
        metrics,
        shutdown,
        task,
    }
}

/// One HTTP/1.1 request over a fresh connection; returns (status, headers, body).
async fn raw(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("response within 5 s")
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("full response");
    let status = head[9..12].parse().unwrap();
    (status, head.to_string(), body.to_string())
}

async fn call(api: &Api, method: &str, rest: &str, body: &str) -> (u16, String) {
    let (status, _, body) = raw(
        api.addr,
        method,
        &format!("/api/{HASH}{rest}"),
        body.as_bytes(),
    )
    .await;
    (status, body)
}

fn err_body(code: &str, description: &str) -> String {
    json!({"error": code, "description": description}).to_string()
}

fn method_err(m: &str) -> String {
    err_body(
        "bad_api_request",
        &format!("Unsupported Hive API access method: {m}."),
    )
}

async fn subscriber(
    api: &Api,
    cid: &str,
) -> (Arc<Recorder>, tokio::sync::mpsc::UnboundedReceiver<Payload>) {
    let (sub, rx) = Recorder::new(64).await;
    api.pubsub
        .join(Privilege::Private, &[cid.to_string()], sub.clone())
        .await
        .unwrap();
    (sub, rx)
}

/// HIVE.md 9.2 `GET /hive/version`: the version text, not JSON; other methods 405.
#[tokio::test]
async fn hive_version() {
    let api = start_api(1024).await;
    let (status, head, body) =
        raw(api.addr, "GET", &format!("/api/{HASH}/hive/version"), b"").await;
    assert_eq!((status, body.as_str()), (200, "v0.9.1-test"));
    assert!(
        !head.to_ascii_lowercase().contains("content-type"),
        "no explicit Content-Type: {head}"
    );
    assert_eq!(
        call(&api, "POST", "/hive/version/", "").await,
        (405, method_err("POST"))
    );
}

/// HIVE.md 9.2 `POST /hive/stop`: 200 empty at once; shutdown handed to the node.
#[tokio::test]
async fn hive_stop() {
    let api = start_api(1024).await;
    assert_eq!(
        call(&api, "POST", "/hive/stop", "ignored").await,
        (200, String::new())
    );
    assert_eq!(api.control.calls(), [Call::Stop]);
    assert_eq!(
        call(&api, "GET", "/hive/stop", "").await,
        (405, method_err("GET"))
    );
    assert_eq!(api.control.calls(), [Call::Stop]);
}

/// HIVE.md 9.2 `/router/enable`, `/router/disable`, `/router/terminate` (reason verbatim).
#[tokio::test]
async fn router_endpoints() {
    let api = start_api(1024).await;
    assert_eq!(
        call(&api, "POST", "/router/enable", "").await,
        (200, String::new())
    );
    assert_eq!(
        call(&api, "POST", "/router/disable", "x").await,
        (200, String::new())
    );
    assert_eq!(
        call(&api, "POST", "/router/terminate", "Maintenance \"now\"\n").await,
        (200, String::new())
    );
    assert_eq!(
        api.control.calls(),
        [
            Call::Enable,
            Call::Disable,
            Call::Terminate("Maintenance \"now\"\n".into())
        ]
    );
    for action in ["enable", "disable", "terminate"] {
        assert_eq!(
            call(&api, "GET", &format!("/router/{action}"), "").await,
            (405, method_err("GET"))
        );
    }
    assert_eq!(
        call(&api, "DELETE", "/router/enable", "").await,
        (405, method_err("DELETE"))
    );
    assert_eq!(api.control.calls().len(), 3);
    assert_eq!(api.metrics.get("api.router.requests"), 7);
    assert_eq!(api.metrics.get("api.router.errors"), 4);
}

/// HIVE.md 9.2 `POST /clients/action/<sid>`: events handed to the session; parse errors and
/// unknown sids are 500 (the original's status, HIVE.md 16.7 #3).
#[tokio::test]
async fn clients_action() {
    let api = start_api(4096).await;
    let body = r#"[{"action":"reply","args":{"name":"pong","args":["two"]}},{"action":"store","args":{"k":1},"trigger_id":"3"}]"#;
    assert_eq!(
        call(&api, "POST", &format!("/clients/action/{KNOWN_SID}"), body).await,
        (200, String::new())
    );
    let mut second = InternalEvent::new("store", json!({"k": 1}));
    second.trigger_id = "3".into();
    assert_eq!(
        api.control.calls(),
        [Call::Route(
            KNOWN_SID.into(),
            vec![
                InternalEvent::new("reply", json!({"name": "pong", "args": ["two"]})),
                second
            ]
        )]
    );
    assert_eq!(
        call(
            &api,
            "POST",
            "/clients/action/nope",
            r#"{"action":"a","args":1}"#
        )
        .await,
        (
            500,
            err_body(
                "bad_session_id",
                "Tried routing events to an unknown sid: nope"
            )
        )
    );
    assert_eq!(
        call(
            &api,
            "POST",
            &format!("/clients/action/{KNOWN_SID}"),
            "{oops"
        )
        .await,
        (500, err_body("invalid_json", "Bad internal event: {oops."))
    );
    let (status, body) = call(&api, "POST", &format!("/clients/action/{KNOWN_SID}"), "[1]").await;
    assert_eq!(status, 500);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "bad_internal_event"
    );
    let (status, body) = call(
        &api,
        "POST",
        &format!("/clients/action/{KNOWN_SID}"),
        r#"{"args":1}"#,
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "bad_internal_event"
    );
    assert_eq!(
        call(&api, "GET", &format!("/clients/action/{KNOWN_SID}"), "").await,
        (405, method_err("GET"))
    );
    assert_eq!(api.control.calls().len(), 1);
    assert_eq!(api.metrics.get("api.clients.errors"), 5);
}

/// HIVE.md 9.2 `POST /pubsub/action/<cid>`: published with privilege 1 (checks skipped) to the
/// channels at or below the cid; client-independent batches travel once, in neutral form.
#[tokio::test]
async fn pubsub_action() {
    let api = start_api(4096).await;
    let (_sub, mut rx) = subscriber(&api, "rooms.main").await;
    // Every alias is `reply` (send_event): one neutral publish, shared by all subscribers.
    let body = r#"[{"action":"reply","args":{"name":"dude_joins","args":[{"channel":"rooms.main","nick":"bob"}]}}]"#;
    assert_eq!(
        call(&api, "POST", "/pubsub/action/rooms", body).await,
        (200, String::new())
    );
    assert_eq!(
        frames(&next(&mut rx).await),
        [r#"5:::{"name":"dude_joins","args":[{"channel":"rooms.main","nick":"bob"}]}"#]
    );
    // Another alias: delivered as events, in array order.
    let body =
        r#"[{"action":"store","args":{"a":1}},{"action":"reply","args":{"name":"x","args":[1]}}]"#;
    assert_eq!(
        call(&api, "POST", "/pubsub/action/rooms.main", body).await,
        (200, String::new())
    );
    match next(&mut rx).await {
        Payload::Events(ev) => {
            assert_eq!(
                ev.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
                ["store", "reply"]
            );
        }
        d => panic!("expected events, got {d:?}"),
    }
    // Unknown prefix: accepted, nothing happens.
    assert_eq!(
        call(&api, "POST", "/pubsub/action/nope.x", body).await,
        (200, String::new())
    );
    assert_eq!(
        call(&api, "POST", "/pubsub/action/rooms", "not json").await,
        (
            400,
            err_body("invalid_json", "Bad internal event: not json.")
        )
    );
    let (status, body) = call(
        &api,
        "POST",
        "/pubsub/action/rooms",
        r#"{"action":1,"args":2}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "bad_internal_event"
    );
    assert_eq!(
        call(&api, "GET", "/pubsub/action/rooms", "").await,
        (405, method_err("GET"))
    );
    assert_eq!(api.metrics.get("pubsub.channels.rooms.publish"), 2);
}

/// HIVE.md 9.2 `POST /pubsub/publish/<cid>`: subscribers get `5:::<body>` with the body bytes
/// verbatim; the body must be an external event (HIVE.md 16.7 #12: malformed JSON is invalid_json).
#[tokio::test]
async fn pubsub_publish() {
    let api = start_api(4096).await;
    let (_a, mut ra) = subscriber(&api, "rooms.a").await;
    let (_b, mut rb) = subscriber(&api, "rooms.b").await;
    let body = "{ \"name\" : \"news\",\n \"args\": [\"caf\u{e9}\", 1.50] }";
    assert_eq!(
        call(&api, "POST", "/pubsub/publish/rooms", body).await,
        (200, String::new())
    );
    let want = format!("5:::{body}");
    let (da, db) = (next(&mut ra).await, next(&mut rb).await);
    assert_eq!(frames(&da), std::slice::from_ref(&want));
    assert_eq!(frames(&db), [want]);
    match (&da, &db) {
        (Payload::Published(x), Payload::Published(y)) => {
            assert!(Arc::ptr_eq(x, y), "published once");
            assert_eq!(x.encodes(), 1, "encoded once");
        }
        _ => unreachable!(),
    }
    assert_eq!(
        call(&api, "POST", "/pubsub/publish/rooms", "{\"name\":").await,
        (
            400,
            err_body("invalid_json", "Bad external event: {\"name\":.")
        )
    );
    // Validation is the shared external-event rule (`name` must be a string; `args` may be
    // omitted, a documented relaxation of the protocol module).
    for bad in [r#"{"args":[1]}"#, r#"{"name":1,"args":[1]}"#, "[1]"] {
        let (status, body) = call(&api, "POST", "/pubsub/publish/rooms", bad).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"],
            "bad_external_event"
        );
    }
    assert_eq!(
        call(&api, "PUT", "/pubsub/publish/rooms", "").await,
        (405, method_err("PUT"))
    );
}

/// HIVE.md 9.2 `GET /pubsub/subscribe/<cid>`: local subscriber count, or 400 unknown_channel_id.
#[tokio::test]
async fn pubsub_subscribe_get() {
    let api = start_api(1024).await;
    let (_a, _ra) = subscriber(&api, "rooms.a").await;
    let (_b, _rb) = subscriber(&api, "rooms.b").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let got = call(&api, "GET", "/pubsub/subscribe/rooms", "").await;
        if got == (200, r#"{"subscribed_clients":2}"#.to_string()) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "got {got:?}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(
        call(&api, "GET", "/pubsub/subscribe/lobby", "").await,
        (
            400,
            err_body(
                "unknown_channel_id",
                "Tried accessing an unknown Hive Pub-Sub Channel: lobby"
            )
        )
    );
    assert_eq!(api.metrics.get("pubsub.status"), 2);
}

/// HIVE.md 9.2 `POST`/`DELETE /pubsub/subscribe/<sid>`: routed to the session; invalid bodies are
/// 400 bad_request, unknown sids 500 bad_session_id, other methods 405 (the "Server" wording).
#[tokio::test]
async fn pubsub_subscribe_post_delete() {
    let api = start_api(1024).await;
    let path = format!("/pubsub/subscribe/{KNOWN_SID}");
    assert_eq!(
        call(&api, "POST", &path, r#"["rooms.a","rooms.b"]"#).await,
        (200, String::new())
    );
    assert_eq!(
        call(&api, "DELETE", &path, r#"["rooms"]"#).await,
        (200, String::new())
    );
    assert_eq!(
        api.control.calls(),
        [
            Call::Subscribe(
                KNOWN_SID.into(),
                vec!["rooms.a".into(), "rooms.b".into()],
                true
            ),
            Call::Subscribe(KNOWN_SID.into(), vec!["rooms".into()], false),
        ]
    );
    assert_eq!(api.metrics.get("pubsub.subscribe"), 1);
    assert_eq!(api.metrics.get("pubsub.unsubscribe"), 1);
    for bad in ["[]", "[1]", "\"rooms\"", "{\"a\":1}", "nope", "[\"a\", 2]"] {
        assert_eq!(
            call(&api, "POST", &path, bad).await,
            (
                400,
                err_body(
                    "bad_request",
                    &format!("Hive API Server received invalid data: {bad}")
                )
            ),
            "{bad}"
        );
    }
    assert_eq!(
        call(&api, "DELETE", "/pubsub/subscribe/nope", r#"["rooms"]"#).await,
        (
            500,
            err_body(
                "bad_session_id",
                "Tried routing events to an unknown sid: nope"
            )
        )
    );
    assert_eq!(
        call(&api, "PUT", &path, "[]").await,
        (
            405,
            err_body(
                "bad_api_request",
                "Unsupported Hive API Server access method: PUT."
            )
        )
    );
    assert_eq!(api.control.calls().len(), 2);
}

/// HIVE.md 9.1: wrong hash 401 (description as a string, fix 16.7 #1), unknown path 404,
/// unknown action 501 in every section (also /pubsub, fix 16.7 #2), oversized body 413.
#[tokio::test]
async fn url_and_body_errors() {
    let api = start_api(64).await;
    let (status, _, body) = raw(api.addr, "GET", "/api/wrong-hash/hive/version", b"").await;
    assert_eq!(
        (status, body),
        (
            401,
            err_body("bad_api_request", "Unauthorized Hive API access attempt!")
        )
    );
    let (status, _, body) = raw(api.addr, "GET", &format!("/api/{HASH}x/hive/version"), b"").await;
    assert_eq!(
        (status, body),
        (
            401,
            err_body("bad_api_request", "Unauthorized Hive API access attempt!")
        )
    );
    for path in [
        "/api",
        "/api/x/foo/bar",
        &format!("/api/{HASH}/hive/version/extra"),
        "/nope",
    ] {
        let (status, _, body) = raw(api.addr, "GET", path, b"").await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"],
            "bad_api_request"
        );
    }
    assert_eq!(
        call(&api, "GET", "/hive/foo", "").await,
        (
            501,
            err_body("bad_api_request", "Unhandled Hive API action: foo")
        )
    );
    assert_eq!(
        call(&api, "POST", "/pubsub/foo/rooms", "").await,
        (
            501,
            err_body("bad_api_request", "Unhandled Hive API action: foo")
        )
    );
    assert_eq!(
        call(&api, "POST", "/clients/kill/x", "").await,
        (
            501,
            err_body("bad_api_request", "Unhandled Hive API action: kill")
        )
    );
    let big = "x".repeat(65);
    assert_eq!(
        call(&api, "POST", "/router/terminate", &big).await,
        (
            413,
            err_body("bad_api_request", "Request body exceeds 64 bytes.")
        )
    );
    assert!(api.control.calls().is_empty());
    // A chunked body (no Content-Length) is limited too.
    let mut s = TcpStream::connect(api.addr).await.unwrap();
    let req = format!(
        "POST /api/{HASH}/router/terminate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n41\r\n{big}\r\n0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    assert!(api.control.calls().is_empty());
    assert_eq!(api.metrics.get("api.requests"), 11);
    assert_eq!(api.metrics.get("api.errors"), 11);
    assert_eq!(api.metrics.get("api.hive.errors"), 3); // two 401s, one 501
}

/// Processing is asynchronous (HIVE.md 9.2): a subscriber that never drains does not delay the
/// API's answers, and the node keeps answering after it is dropped as a slow consumer.
#[tokio::test]
async fn publish_answers_without_waiting_for_subscribers() {
    let api = start_api(1024).await;
    let stuck = Recorder::stuck(8).await;
    api.pubsub
        .join(Privilege::Max, &["rooms.x".to_string()], stuck.clone())
        .await
        .unwrap();
    for _ in 0..50 {
        assert_eq!(
            call(
                &api,
                "POST",
                "/pubsub/publish/rooms.x",
                r#"{"name":"a","args":[1]}"#
            )
            .await,
            (200, String::new())
        );
    }
    recorder::wait_until("stuck subscriber dropped", || {
        stuck.killed.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    assert_eq!(api.metrics.get("pubsub.dropped_deliveries"), 1);
}

/// Cancelling the shutdown token stops the listener.
#[tokio::test]
async fn shutdown_stops_the_listener() {
    let api = start_api(1024).await;
    assert_eq!(call(&api, "GET", "/hive/version", "").await.0, 200);
    api.shutdown.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(5), api.task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(api.addr).await.is_err(),
        "listener still accepting"
    );
}
