//! Full-stack acceptance of the backend integration (HIVE.md 4.5, 4.7, 5.5, 6.4-6.6, 7): a real
//! Hive node, the real npm `socket.io-client@0.9.16` (websocket and xhr-polling), a real HTTP/1.1
//! backend on loopback, a backend connecting into `connector.tcp`, and a private `redis-server`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "support/backend.rs"]
mod http_backend;
#[path = "support/redis.rs"]
mod redis;
#[path = "support/backend_e2e.rs"]
mod stack;

use std::time::Duration;

use common::{JsClient, TestHive, root, test_config};
use http_backend::{Backend, Recorded};
use redis::{RedisServer, free_port, port_open};
use serde_json::{Value, json};
use stack::{JsMany, TcpBackend, blocking, closed_port, until};

const TRANSPORTS: [&str; 2] = ["websocket", "xhr-polling"];
const SECS5: Duration = Duration::from_secs(5);

/// HIVE.md 6.4: the reply document of the walkthrough.
const AUTH_REPLY: &str = r#"[{"action":"reply","args":{"name":"authorize","args":[{"permission":"granted"}]}},{"action":"store","args":{"nick":"bob"}}]"#;

/// The seed's `connectors.pools` (backend over HTTP at `base_url`; Redis `database` if a port).
fn pools(base_url: &str, redis: Option<u16>, max_connections: u64) -> Value {
    let mut p = json!({
        "backend": {
            "connector": "connector.http", "size": 2, "overflow": 4,
            "args": {"base_url": base_url, "max_connections": max_connections,
                     "max_connection_timeout": 5000}
        }
    });
    if let Some(port) = redis {
        p["database"] = json!({
            "connector": "connector.redis", "size": 2, "overflow": 0,
            "args": {"host": "127.0.0.1", "port": port, "database": 0, "password": "",
                     "restart_timeout": 60000, "reconnect_timeout": 100,
                     "max_reconnect_timeout": 5000}
        });
    }
    p
}

/// The seed's `clients` section (`cp.*` or `hp.*` names; `pool` is the backend pool), plus
/// `ask` (`*.get /ask`) and `echo`.
fn clients(prefix: &str, pool: &str, redis: bool) -> Value {
    let hook = |kind: &str, endpoint: &str| json!({"hook": format!("{prefix}.{kind}"), "args": {"connector": pool, "endpoint": endpoint}});
    let state = if redis {
        json!({"state_manager": "sm.redis", "initial_value": {"nick": null, "rooms": []},
               "args": {"connector": "database", "expiration_timeout": 86_400_000}})
    } else {
        json!({"state_manager": "sm.local", "initial_value": {"nick": null, "rooms": []},
               "args": null})
    };
    json!({
        "state": state,
        "actions": {
            "reply": [{"action": "action.send_event", "args": null}],
            "store": [{"action": "action.update_state", "args": null}],
            "ack": [{"action": "action.send_ack", "args": null}]
        },
        "hooks": {
            "on_disconnect": [hook("put", "/leave"), hook("put", "/cleanup")],
            "authorize": [hook("post", "/authorize")],
            "publish_msg": [hook("put", "/publish")],
            "ask": [hook("get", "/ask")],
            "echo": [{"hook": "utils.echo", "args": null}]
        }
    })
}

/// A node with the seed's HTTP backend (and Redis state when `redis` is given).
async fn seed_hive(prefix: &str, be: &Backend, redis: Option<&RedisServer>) -> TestHive {
    let base = format!("http://localhost:{}", be.addr.port());
    TestHive::start(json!({
        "connectors": {"pools": pools(&base, redis.map(|r| r.port), 16)},
        "clients": clients(prefix, "backend", redis.is_some())
    }))
    .await
}

/// A private Redis, the seed's HTTP backend and a node using both for its state (`prefix`: `cp` or
/// `hp` names); `None` (the test skips) without redis-server.
async fn redis_stack(prefix: &str) -> Option<(RedisServer, Backend, TestHive)> {
    let redis = RedisServer::start()?;
    let be = Backend::start().await;
    let h = seed_hive(prefix, &be, Some(&redis)).await;
    Some((redis, be, h))
}

/// A client of `h` over `transport`, once connected.
fn connected(h: &TestHive, transport: &str) -> JsClient {
    let mut c = JsClient::connect(&h.url(), transport);
    blocking(|| c.wait_ev("connect"));
    c
}

/// bob's `authorize`, which the backend answers with [`AUTH_REPLY`]; the `authorize` event back.
fn authorize_bob(be: &Backend, c: &mut JsClient) -> Value {
    be.push_answer(200, AUTH_REPLY);
    c.emit("authorize", json!([{"nick": "bob"}]));
    blocking(|| c.wait_event("authorize"))
}

fn sid_of(r: &Recorded) -> String {
    let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body));
    v["sid"].as_str().expect("sid").to_string()
}

/// HIVE.md 4.5: the metadata document, compact, keys in the order sid, trigger, trigger_id, state.
fn metadata(sid: &str, trigger: &str, state: &str) -> String {
    format!(r#"{{"sid":"{sid}","trigger":{trigger},"trigger_id":"","state":{state}}}"#)
}

fn is_hive_error(v: &Value) -> bool {
    v["ev"] == "event" && v["name"] == "hive_error"
}

/// The walkthrough of HIVE.md 6.4 on one transport: authorize (metadata out, reply + store back),
/// the next hook sees the stored nick, on_disconnect puts reach /leave and /cleanup, and with
/// sm.redis the hash is visible from another Redis client, has a TTL, and is deleted at the end.
async fn walkthrough(h: &TestHive, be: &Backend, redis: Option<&RedisServer>, transport: &str) {
    let before = be.requests().len();
    be.push_answer(200, AUTH_REPLY);
    let mut c = connected(h, transport);
    c.emit("authorize", json!([{"nick": "bob"}]));
    let reqs = be.wait_requests(before + 1, SECS5).await;
    let r = &reqs[before];
    let sid = sid_of(r);
    assert_eq!(sid.len(), 40, "{sid}");
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/authorize"));
    assert_eq!(
        r.body,
        metadata(
            &sid,
            r#"{"name":"authorize","args":[{"nick":"bob"}]}"#,
            r#"{"nick":null,"rooms":[]}"#
        ),
        "{transport}"
    );
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    assert_eq!(
        r.header("content-type"),
        None,
        "HIVE.md 6.5: no Content-Type"
    );
    let ev = blocking(|| c.wait_event("authorize"));
    assert_eq!(
        ev["args"],
        json!([{"permission": "granted"}]),
        "{transport}"
    );
    assert!(!c.seen.iter().any(is_hive_error), "{:?}", c.seen);
    if let Some(redis) = redis {
        // The store happened before the reply was flushed: no wait needed.
        assert_eq!(redis.cli(&["HGETALL", &sid]), "nick\nbob\nrooms\n[]");
        let ttl: i64 = redis.cli(&["TTL", &sid]).parse().unwrap();
        assert!((1..=86_400).contains(&ttl), "TTL {ttl}");
    }
    // The next hook's metadata shows the stored nick.
    c.emit("publish_msg", json!([{"room": "lobby", "msg": "hi"}]));
    let reqs = be.wait_requests(before + 2, SECS5).await;
    let r = &reqs[before + 1];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/publish"));
    let bob = r#"{"nick":"bob","rooms":[]}"#;
    assert_eq!(
        r.body,
        metadata(
            &sid,
            r#"{"name":"publish_msg","args":[{"room":"lobby","msg":"hi"}]}"#,
            bob
        )
    );
    // An acknowledged event: trigger_id "1+" in the metadata, the backend's send_ack reaches
    // the client's callback.
    be.push_answer(
        200,
        r#"{"action":"ack","args":["ok",{"n":1}],"trigger_id":"1+"}"#,
    );
    c.emit_ack("authorize", json!([{"nick": "bob"}]));
    let reqs = be.wait_requests(before + 3, SECS5).await;
    assert_eq!(
        reqs[before + 2].body,
        metadata(&sid, r#"{"name":"authorize","args":[{"nick":"bob"}]}"#, bob)
            .replace(r#""trigger_id":"""#, r#""trigger_id":"1+""#)
    );
    let ack = blocking(|| c.wait_ev("ack"));
    assert_eq!(ack["args"], json!(["ok", {"n": 1}]));
    // hp.get: a GET without a body; the reply (non-ASCII) is dispatched.
    be.push_answer(
        200,
        r#"{"action":"reply","args":{"name":"ask","args":["zażółć 😀"]}}"#,
    );
    c.emit("ask", json!([]));
    let reqs = be.wait_requests(before + 4, SECS5).await;
    let r = &reqs[before + 3];
    assert_eq!(
        (r.method.as_str(), r.path.as_str(), r.body.as_str()),
        ("GET", "/ask", "")
    );
    assert!(
        matches!(r.header("content-length"), None | Some("0")),
        "{r:?}"
    );
    let ev = blocking(|| c.wait_event("ask"));
    assert_eq!(ev["args"], json!(["zażółć 😀"]), "{transport}");
    // on_disconnect: both puts, trigger null, after the client left.
    assert_eq!(be.requests().len(), before + 4, "nothing before disconnect");
    c.disconnect();
    let reqs = be.wait_requests(before + 6, SECS5).await;
    let mut paths: Vec<&str> = reqs[before + 4..].iter().map(|r| r.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/cleanup", "/leave"]);
    for r in &reqs[before + 4..] {
        assert_eq!(r.method, "POST", "hp.put is an HTTP POST");
        assert_eq!(r.body, metadata(&sid, "null", bob));
    }
    let router = h.node().router();
    until("session gone", SECS5, || router.lookup(&sid).is_none()).await;
    if let Some(redis) = redis {
        until("DEL on termination", SECS5, || {
            redis.cli(&["EXISTS", &sid]) == "0"
        })
        .await;
    }
}

/// HIVE.md 6.4 with the seed's `cp.*` names and `sm.redis` (HIVE.md 4.7), on both transports.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seed_walkthrough_cp_names_with_redis_state() {
    let Some((redis, be, h)) = redis_stack("cp").await else {
        return;
    };
    for t in TRANSPORTS {
        walkthrough(&h, &be, Some(&redis), t).await;
    }
    assert_eq!(redis.cli(&["DBSIZE"]), "0");
    assert!(h.metric("clients.hooks.hp.post") >= 2);
    h.stop().await;
}

/// The same walkthrough with the `hp.*` names (HIVE.md 5.5), Redis and local state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn walkthrough_hp_names_redis_and_local_state() {
    let Some((redis, be, h)) = redis_stack("hp").await else {
        return;
    };
    for t in TRANSPORTS {
        walkthrough(&h, &be, Some(&redis), t).await;
    }
    h.stop().await;
    let be = Backend::start().await;
    let h = seed_hive("hp", &be, None).await;
    walkthrough(&h, &be, None, "websocket").await;
    h.stop().await;
}

fn hive_binary_output(config: &Value) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hive.json");
    std::fs::write(&file, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hive"))
        .arg("--config")
        .arg(&file)
        .current_dir(root())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run target/debug/hive");
    let end = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > end {
            let _ = child.kill();
            panic!("hive did not exit within 30 s although its backend is down");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// HIVE.md 7.2, 7.4, 16.6 #8: a backend (HTTP or Redis) that is down at start makes the start fail,
/// in the library and in the real binary (non-zero exit, one line naming the pool and address).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backend_down_at_start_fails_library_and_binary() {
    let (_held, port) = closed_port();
    assert!(!port_open(port));
    let addr = format!("127.0.0.1:{port}");
    let patch = json!({
        "connectors": {"pools": pools(&format!("http://{addr}"), None, 16)},
        "clients": clients("cp", "backend", false)
    });
    let loaded = hive::config::from_value(test_config(patch.clone())).unwrap();
    let err = match hive::app::start(loaded.config, hive::app::StartOptions::default()).await {
        Ok(_) => panic!("hive started although its backend is down"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("backend") && err.contains(&addr), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");

    let out = blocking(|| hive_binary_output(&test_config(patch)));
    assert!(!out.status.success(), "exit status {:?}", out.status);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The binary's own report: one line, last on stderr, naming the pool and the address.
    // (With console logging on, the supervisors also log the failure at error level, one line
    // per supervisor level; those are log records, not the report.)
    let report: Vec<&str> = text.lines().filter(|l| l.starts_with("hive: ")).collect();
    assert_eq!(report.len(), 1, "one report line:\n{text}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().last(),
        Some(report[0])
    );
    assert!(
        report[0].contains("Unable to start Hive Connector backend") && report[0].contains(&addr),
        "{text}"
    );

    // Redis down at start: the same, for the `database` pool.
    let (_held_redis, rport) = closed_port();
    let patch = json!({
        "connectors": {"pools": pools(&format!("http://{addr}"), Some(rport), 16)},
        "clients": clients("cp", "backend", true)
    });
    let mut cfg = test_config(patch);
    // Only the Redis pool, so the HTTP backend being down does not hide the Redis failure.
    cfg["connectors"]["pools"]
        .as_object_mut()
        .unwrap()
        .remove("backend");
    cfg["clients"]["hooks"] = json!({"echo": [{"hook": "utils.echo", "args": null}]});
    let loaded = hive::config::from_value(cfg).unwrap();
    let err = match hive::app::start(loaded.config, hive::app::StartOptions::default()).await {
        Ok(_) => panic!("hive started although Redis is down"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("database") && err.contains(&format!("127.0.0.1:{rport}")),
        "{err}"
    );
}

/// HIVE.md 6.5: a backend that goes away gives `http_error`; once it listens again on the same
/// port the next event succeeds (no restart of Hive, no stale keep-alive connection used).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backend_down_at_runtime_then_back() {
    let mut be = Backend::start().await;
    let (addr, shared) = (be.addr, be.shared.clone());
    let h = seed_hive("hp", &be, None).await;
    for t in TRANSPORTS {
        let mut c = connected(&h, t);
        authorize_bob(&be, &mut c);

        be.stop();
        until("backend port closed", SECS5, || !port_open(addr.port())).await;
        c.emit("authorize", json!([{"nick": "bob"}]));
        let e = blocking(|| c.wait_event("hive_error"));
        assert_eq!(e["args"][0]["error"], "http_error", "{e}");
        let d = e["args"][0]["description"].as_str().unwrap();
        assert!(d.starts_with("Hive HTTP Hook request failed: "), "{d}");

        be = Backend::start_on(addr, shared.clone()).await;
        // Every keep-alive worker is exercised: a stale connection would fail one of these.
        for i in 0..4 {
            let ev = authorize_bob(&be, &mut c);
            assert_eq!(ev["args"], json!([{"permission": "granted"}]), "{t} #{i}");
        }
        assert_eq!(
            c.seen.iter().filter(|v| is_hive_error(v)).count(),
            1,
            "{:?}",
            c.seen
        );
    }
    h.stop().await;
}

/// The last request the backend received on `path`.
fn last_on(be: &Backend, path: &str) -> Recorded {
    be.requests()
        .into_iter()
        .rev()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no request on {path}"))
}

/// Disconnect `c` and wait until the session is gone and its two on_disconnect puts arrived.
async fn leave(h: &TestHive, be: &Backend, mut c: JsClient) {
    let n = be.requests().len();
    c.disconnect();
    be.wait_requests(n + 2, SECS5).await;
    h.until("no session left", SECS5, |h| h.sessions() == 0)
        .await;
}

/// HIVE.md 7.4, 4.7: Redis killed and started again on the same port while a session lives; state
/// operations resume without restarting Hive, including one issued while Redis was down.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_restart_mid_session_resumes_state_operations() {
    let Some((redis, be, h)) = redis_stack("cp").await else {
        return;
    };
    let mut c = connected(&h, "websocket");
    authorize_bob(&be, &mut c);
    let sid = sid_of(&last_on(&be, "/authorize"));
    assert_eq!(redis.cli(&["HGETALL", &sid]), "nick\nbob\nrooms\n[]");

    // 1. Restart, then store: works without restarting Hive (the hash starts empty).
    redis.restart();
    assert_eq!(redis.cli(&["EXISTS", &sid]), "0");
    let store = |nick: &str| {
        json!([{"action": "store", "args": {"nick": nick}},
               {"action": "reply", "args": {"name": "authorize", "args": [nick]}}])
        .to_string()
    };
    be.push_answer(200, &store("carol"));
    c.emit("authorize", json!([{"nick": "carol"}]));
    let ev = blocking(|| c.wait_event("authorize"));
    assert_eq!(ev["args"], json!(["carol"]));
    let r = last_on(&be, "/authorize");
    assert_eq!(
        r.body,
        metadata(
            &sid,
            r#"{"name":"authorize","args":[{"nick":"carol"}]}"#,
            "{}"
        ),
        "the state read after the restart comes from the new (empty) Redis"
    );
    assert_eq!(redis.cli(&["HGETALL", &sid]), "nick\ncarol");
    c.emit("publish_msg", json!(["x"]));
    let r = &be.wait_requests(be.requests().len() + 1, SECS5).await;
    let r = r.last().unwrap();
    assert_eq!(r.path, "/publish");
    assert!(
        r.body.ends_with(r#""state":{"nick":"carol"}}"#),
        "{}",
        r.body
    );

    // 2. A store issued while Redis is down waits for the reconnection (budget
    //    max_reconnect_timeout + reconnect_timeout = 5.1 s) and then succeeds.
    redis.kill();
    let n = be.requests().len();
    be.push_answer(200, &store("dave"));
    c.emit("authorize", json!([{"nick": "dave"}]));
    // The metadata is served from the state cache; the store (HMSET) is now waiting.
    be.wait_requests(n + 1, SECS5).await;
    redis.restart();
    let ev = blocking(|| c.wait_event("authorize"));
    assert_eq!(ev["args"], json!(["dave"]));
    assert_eq!(redis.cli(&["HGETALL", &sid]), "nick\ndave");
    assert!(!c.seen.iter().any(is_hive_error), "{:?}", c.seen);
    assert!(h.node().router().lookup(&sid).is_some(), "same session");
    leave(&h, &be, c).await;
    until("DEL on termination", SECS5, || {
        redis.cli(&["EXISTS", &sid]) == "0"
    })
    .await;
    h.stop().await;
}

/// HIVE.md 6.6: `connector.tcp` (Hive listens, the backend connects in): hp.post and hp.get answered
/// with byte-framed replies, a non-ASCII payload reaching the browser intact on both transports,
/// hp.put frames on disconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tcp_connector_post_get_put_with_non_ascii_payloads() {
    let port = free_port();
    let h = TestHive::start(json!({
        "connectors": {"pools": {"tcpb": {
            "connector": "connector.tcp", "size": 1, "overflow": 4,
            "args": {"port": port, "restart_timeout": 0, "max_connection_timeout": 5000}
        }}},
        "clients": clients("hp", "tcpb", false)
    }))
    .await;
    let mut tb = TcpBackend::connect(port).await;
    h.until("the backend connection is a worker", SECS5, |h| {
        h.metric("connectors.tcp.tcpb.workers") == 1
    })
    .await;
    let nick = "zażółć 😀";
    for t in TRANSPORTS {
        let mut c = connected(&h, t);
        c.emit("authorize", json!([{"nick": nick}]));
        let f = tb.next_frame(SECS5).await;
        assert_eq!(f.declared, f.message.len(), "byte length, not characters");
        assert_eq!((f.kind.as_str(), f.endpoint.as_str()), ("3", "/authorize"));
        let sid: String = serde_json::from_str::<Value>(&f.data).unwrap()["sid"]
            .as_str()
            .unwrap()
            .into();
        let trigger = json!({"name": "authorize", "args": [{"nick": nick}]}).to_string();
        assert_eq!(
            f.data,
            metadata(&sid, &trigger, r#"{"nick":null,"rooms":[]}"#)
        );
        let reply = json!([
            {"action": "reply", "args": {"name": "authorize", "args": [{"greeting": nick}]}},
            {"action": "store", "args": {"nick": nick}}
        ]);
        tb.send("/authorize", &reply.to_string()).await;
        let ev = blocking(|| c.wait_event("authorize"));
        assert_eq!(ev["args"], json!([{"greeting": nick}]), "{t}");

        // hp.get writes nothing and takes the frame the backend pushes for its endpoint.
        let recv = h.metric("connectors.tcp.tcpb.recv");
        c.emit("ask", json!([]));
        h.until("hp.get is waiting", SECS5, |h| {
            h.metric("connectors.tcp.tcpb.recv") > recv
        })
        .await;
        let pushed = json!({"action": "reply", "args": {"name": "ask", "args": [nick, "ąę"]}});
        tb.send("/ask", &pushed.to_string()).await;
        let ev = blocking(|| c.wait_event("ask"));
        assert_eq!(ev["args"], json!([nick, "ąę"]), "{t}");
        assert!(
            tb.silent_for(Duration::from_millis(100)).await,
            "hp.get wrote something"
        );

        // The stored non-ASCII nick is in the next metadata.
        c.emit("authorize", json!([{"nick": "x"}]));
        let f = tb.next_frame(SECS5).await;
        assert_eq!(f.declared, f.message.len());
        let state = json!({"nick": nick, "rooms": []}).to_string();
        assert!(
            f.data.ends_with(&format!(r#""state":{state}}}"#)),
            "{}",
            f.data
        );
        tb.send("/authorize", &reply.to_string()).await;
        blocking(|| c.wait_event("authorize"));
        assert!(!c.seen.iter().any(is_hive_error), "{:?}", c.seen);

        // hp.put on disconnect: one frame each, no reply expected.
        c.disconnect();
        let mut eps = Vec::new();
        for _ in 0..2 {
            let f = tb.next_frame(SECS5).await;
            assert_eq!(f.data, metadata(&sid, "null", &state));
            eps.push(f.endpoint);
        }
        eps.sort();
        assert_eq!(eps, ["/cleanup", "/leave"]);
        h.until("session gone", SECS5, |h| h.sessions() == 0).await;
    }
    h.stop().await;
}

/// Timers for load tests: a hook blocks its client actor (HIVE.md 4.1), so a client queued behind
/// a slow backend sends no heartbeat meanwhile; the 0.9 client must not give up on it first.
fn long_timers() -> Value {
    json!({"heartbeat_timeout": 5000, "reconnect_timeout": 60000, "session_timeout": 60000,
           "init_timeout": 10000})
}

/// The seed's clients for load tests: `authorize` only (no on_disconnect traffic at the end).
fn load_clients() -> Value {
    let mut c = clients("hp", "backend", false);
    c["hooks"].as_object_mut().unwrap().remove("on_disconnect");
    c
}

/// 30 clients (one node process) send `authorize` at once through a pool of `max_connections` 4
/// with `rent_timeout` (ms) to a backend that answers `["ok"]` after `delay`; the 30 events they
/// got back, in arrival order.
async fn thirty_authorizations(
    delay: Duration,
    rent_timeout: u64,
) -> (Backend, TestHive, JsMany, Vec<Value>) {
    let be = Backend::start().await;
    be.delay(delay);
    be.answer(
        200,
        r#"{"action":"reply","args":{"name":"authorize","args":["ok"]}}"#,
    );
    let base = format!("http://127.0.0.1:{}", be.addr.port());
    let h = TestHive::start(json!({
        "connectors": {"rent_timeout": rent_timeout, "pools": pools(&base, None, 4)},
        "clients": load_clients(),
        "socketio": long_timers()
    }))
    .await;
    let mut m = blocking(|| JsMany::connect(&h.url(), "websocket", 30));
    m.emit_all("authorize", json!([{"nick": "bob"}]));
    let evs = blocking(|| m.events(30, Duration::from_secs(30)));
    (be, h, m, evs)
}

/// HIVE.md 6.5, 2.11: 30 concurrent clients against a slow backend; the HTTP pool never runs
/// more than `max_connections` (4) requests at once, and all are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_pool_never_exceeds_max_connections() {
    let (be, h, m, evs) = thirty_authorizations(Duration::from_millis(200), 20000).await;
    let mut who: Vec<i64> = evs.iter().map(|e| e["i"].as_i64().unwrap()).collect();
    who.sort_unstable();
    who.dedup();
    assert_eq!(who.len(), 30, "one reply per client: {evs:?}");
    assert!(
        evs.iter()
            .all(|e| e["name"] == "authorize" && e["args"] == json!(["ok"])),
        "{evs:?}"
    );
    assert_eq!(be.requests().len(), 30);
    assert_eq!(be.max_in_flight(), 4, "peak concurrency at the backend");
    drop(m);
    h.stop().await;
}

/// HIVE.md 6.5, 7.1: with the backend slower than `rent_timeout`, requests beyond
/// `max_connections` fail with `http_error` once `rent_timeout` has passed (before the admitted
/// ones complete), and never reach the backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn excess_requests_fail_after_rent_timeout() {
    let (be, h, m, evs) = thirty_authorizations(Duration::from_millis(3000), 300).await;
    let (errors, ok): (Vec<&Value>, Vec<&Value>) =
        evs.iter().partition(|e| e["name"] == "hive_error");
    assert_eq!((errors.len(), ok.len()), (26, 4), "{evs:?}");
    for e in &errors {
        assert_eq!(e["args"][0]["error"], "http_error", "{e}");
        let d = e["args"][0]["description"].as_str().unwrap();
        assert!(d.contains("within 300 ms"), "{d}");
    }
    assert!(
        evs[..26].iter().all(|e| e["name"] == "hive_error"),
        "the refusals come at rent_timeout, before the slow replies: {evs:?}"
    );
    assert_eq!(
        be.requests().len(),
        4,
        "refused requests never reach the backend"
    );
    assert_eq!(be.max_in_flight(), 4);
    drop(m);
    h.stop().await;
}

/// HIVE.md 4.7, 5.5, 6.1, 6.5: `update_state` with an array stores under `all`; an empty 200 body
/// means "no events"; a non-2xx status is `http_error` naming the status; a non-JSON body is
/// `invalid_json`. Both transports, Redis state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reply_edge_cases() {
    let Some((redis, be, h)) = redis_stack("hp").await else {
        return;
    };
    for t in TRANSPORTS {
        let mut c = connected(&h, t);

        be.push_answer(
            200,
            r#"[{"action":"store","args":[1,"two"]},{"action":"reply","args":{"name":"authorize","args":["stored"]}}]"#,
        );
        c.emit("authorize", json!([{"nick": "bob"}]));
        let ev = blocking(|| c.wait_event("authorize"));
        assert_eq!(ev["args"], json!(["stored"]));
        let sid = sid_of(&last_on(&be, "/authorize"));
        assert_eq!(
            redis.cli(&["HGETALL", &sid]),
            "nick\nnull\nrooms\n[]\nall\n[1,\"two\"]"
        );

        // Empty 200 body: nothing dispatched, no error; the next event is answered normally.
        be.push_answer(200, "");
        c.emit("authorize", json!([{"nick": "bob"}]));
        c.emit("echo", json!(["after"]));
        let ev = blocking(|| c.wait_event("echo"));
        assert_eq!(ev["args"], json!(["after"]));
        assert_eq!(
            last_on(&be, "/authorize").body,
            metadata(
                &sid,
                r#"{"name":"authorize","args":[{"nick":"bob"}]}"#,
                r#"{"nick":null,"rooms":[],"all":[1,"two"]}"#
            )
        );
        let events: Vec<&Value> = c.seen.iter().filter(|v| v["ev"] == "event").collect();
        assert_eq!(events.len(), 2, "{events:?}");

        // Non-2xx.
        be.push_answer(503, "busy");
        c.emit("authorize", json!([{"nick": "bob"}]));
        let e = blocking(|| c.wait_event("hive_error"));
        assert_eq!(e["args"][0]["error"], "http_error", "{e}");
        assert_eq!(
            e["args"][0]["description"],
            "Hive HTTP Hook request failed: unhandled HTTP reply status code - 503."
        );

        // Not JSON.
        be.push_answer(200, "not json");
        c.emit("authorize", json!([{"nick": "bob"}]));
        let e = blocking(|| c.wait_event("hive_error"));
        assert_eq!(e["args"][0]["error"], "invalid_json", "{e}");
        assert_eq!(e["args"][0]["description"], "Bad internal event: not json.");

        // The session survived all of it.
        c.emit("echo", json!([1]));
        blocking(|| c.wait_event("echo"));
        leave(&h, &be, c).await;
    }
    h.stop().await;
}

/// HIVE.md 4.7, 7.4: Redis away for longer than the reconnect budget: the state operation fails
/// with `no_connection` and ends that session; once Redis is back, new sessions work again
/// without restarting Hive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_down_past_the_budget_ends_the_session_then_recovers() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let be = Backend::start().await;
    let base = format!("http://localhost:{}", be.addr.port());
    let mut p = pools(&base, Some(redis.port), 16);
    // Budget: max_reconnect_timeout + reconnect_timeout = 600 ms.
    p["database"]["args"]["max_reconnect_timeout"] = json!(500);
    let h = TestHive::start(json!({
        "connectors": {"pools": p},
        "clients": clients("cp", "backend", true)
    }))
    .await;
    let mut c = connected(&h, "websocket");
    authorize_bob(&be, &mut c);
    let sid = sid_of(&last_on(&be, "/authorize"));

    redis.kill();
    be.push_answer(200, AUTH_REPLY);
    c.emit("authorize", json!([{"nick": "bob"}]));
    let e = blocking(|| c.wait_event("hive_error"));
    assert_eq!(e["args"][0]["error"], "no_connection", "{e}");
    blocking(|| c.wait_ev("disconnect"));
    let router = h.node().router();
    until("the session ended", SECS5, || router.lookup(&sid).is_none()).await;

    redis.restart();
    walkthrough(&h, &be, Some(&redis), "websocket").await;
    h.stop().await;
}

/// HIVE.md 6.5, 2.11: a backend slower than `max_connection_timeout` gives `http_error`; the
/// worker is usable again for the next request (no stale keep-alive connection, no stuck permit).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_backend_times_out_then_the_pool_serves_again() {
    let be = Backend::start().await;
    let base = format!("http://127.0.0.1:{}", be.addr.port());
    let mut p = pools(&base, None, 1);
    p["backend"]["args"]["max_connection_timeout"] = json!(300);
    p["backend"]["size"] = json!(1);
    let h = TestHive::start(json!({
        "connectors": {"pools": p},
        "clients": clients("hp", "backend", false)
    }))
    .await;
    let mut c = connected(&h, "xhr-polling");
    be.delay(Duration::from_millis(1000));
    c.emit("authorize", json!([{"nick": "bob"}]));
    let e = blocking(|| c.wait_event("hive_error"));
    assert_eq!(e["args"][0]["error"], "http_error", "{e}");
    be.delay(Duration::ZERO);
    // max_connections is 1: a leaked permit or a dead connection would fail these.
    for _ in 0..3 {
        let ev = authorize_bob(&be, &mut c);
        assert_eq!(ev["args"], json!([{"permission": "granted"}]));
    }
    assert_eq!(c.seen.iter().filter(|v| is_hive_error(v)).count(), 1);
    leave(&h, &be, c).await;
    h.stop().await;
}

/// HIVE.md 14, 4.6: stopping the node ends every session through the normal termination steps:
/// on_disconnect's puts still reach the backend (connectors stop after the sessions) and the
/// Redis state is deleted, on both transports.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_shutdown_runs_on_disconnect_and_cleans_redis() {
    let Some((redis, be, h)) = redis_stack("cp").await else {
        return;
    };
    let mut clients = Vec::new();
    for t in TRANSPORTS {
        let mut c = connected(&h, t);
        authorize_bob(&be, &mut c);
        clients.push(c);
    }
    assert_eq!(redis.cli(&["DBSIZE"]), "2");
    h.stop().await;
    let reqs = be.wait_requests(2 + 4, SECS5).await;
    let mut paths: Vec<&str> = reqs[2..].iter().map(|r| r.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/cleanup", "/cleanup", "/leave", "/leave"]);
    for r in &reqs[2..] {
        assert!(r.body.contains(r#""trigger":null"#), "{}", r.body);
        assert!(
            r.body.ends_with(r#""state":{"nick":"bob","rooms":[]}}"#),
            "{}",
            r.body
        );
    }
    assert_eq!(redis.cli(&["DBSIZE"]), "0", "no state left behind");
    for c in &mut clients {
        blocking(|| c.wait_ev("disconnect"));
    }
}
