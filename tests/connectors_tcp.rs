//! `connector.tcp`: Hive listens, a real backend connects in and answers byte-framed replies
//! (HIVE.md 6.6, 7.3).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hive::config::{ConnectorsSection, Ordered, PoolDescriptor};
use hive::connectors::{Connectors, Pool};
use hive::metrics::Metrics;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MARK: &str = "\u{FFFD}";

fn frame(msg: &str) -> Vec<u8> {
    format!("{MARK}{}{MARK}{msg}", msg.len()).into_bytes()
}

/// Read one frame's message (test-side decoder, buffering across reads).
async fn read_frame(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        // A partial multi-byte character at the end fails UTF-8 decoding: read more.
        if let Ok(text) = std::str::from_utf8(buf) {
            let rest = text.strip_prefix(MARK);
            if let Some((len, after)) = rest.and_then(|r| r.split_once(MARK)) {
                let len: usize = len.parse().unwrap();
                if after.len() >= len {
                    let msg = after[..len].to_string();
                    let used = MARK.len() * 2 + len.to_string().len() + len;
                    buf.drain(..used);
                    return Some(msg);
                }
            }
        }
        let mut tmp = [0u8; 4096];
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

async fn start(rent_timeout: u64, restart_timeout: u64) -> (Connectors, Pool, SocketAddr) {
    let d = PoolDescriptor {
        connector: "connector.tcp".into(),
        size: 2,
        overflow: 2,
        args: json!({"port": 0, "restart_timeout": restart_timeout, "max_connection_timeout": 2000}),
    };
    let cfg = ConnectorsSection {
        rent_timeout,
        backoff_num: 1,
        backoff_time: 0,
        pools: Ordered(vec![("tcp".into(), d)]),
    };
    let c = Connectors::start(&cfg, Metrics::new(), None)
        .await
        .expect("start");
    let p = c.pool("tcp").unwrap();
    let Pool::Tcp(t) = &p else { panic!("not tcp") };
    let addr = SocketAddr::from(([127, 0, 0, 1], t.local_addr().port()));
    (c, p, addr)
}

async fn wait_workers(c: &Connectors, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.health().await[0].workers != n {
        assert!(
            Instant::now() < deadline,
            "expected {n} backend connections, have {:?}",
            c.health().await
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// hp.post: Hive writes `◊n◊3::/endpoint:payload` (n = bytes) and reads one frame back, also
/// when the reply arrives in pieces split inside the header and inside a multi-byte character.
#[tokio::test]
async fn hp_post_round_trip_with_non_ascii_payload() {
    let (c, p, addr) = start(1000, 0).await;
    let mut backend = TcpStream::connect(addr).await.unwrap();
    wait_workers(&c, 1).await;
    let body = r#"{"sid":"s","trigger":{"name":"say","args":["zażółć gęślą 🐝"]},"trigger_id":"","state":{}}"#;
    let server = tokio::spawn(async move {
        let mut buf = Vec::new();
        let msg = read_frame(&mut backend, &mut buf).await.unwrap();
        let data = msg.strip_prefix("3::/say:").unwrap().to_string();
        let reply = frame(&format!(
            r#"3::/say:[{{"action":"reply","args":{{"name":"said","args":[{data}]}}}}]"#
        ));
        let cut = reply.iter().position(|b| *b == 0xC5).unwrap() + 1; // inside 'ż'
        backend.write_all(&reply[..2]).await.unwrap();
        backend.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        backend.write_all(&reply[2..cut]).await.unwrap();
        backend.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        backend.write_all(&reply[cut..]).await.unwrap();
        (msg, backend)
    });
    let got = p.hp_post("/say", body.into()).await.unwrap();
    let (msg, _backend) = server.await.unwrap();
    assert_eq!(msg, format!("3::/say:{body}"));
    assert_eq!(
        got,
        format!(r#"[{{"action":"reply","args":{{"name":"said","args":[{body}]}}}}]"#)
    );
    c.shutdown().await;
}

/// hp.get writes nothing and takes frames the backend pushed; two coalesced frames serve two
/// calls.
#[tokio::test]
async fn hp_get_reads_pushed_frames() {
    let (c, p, addr) = start(1000, 0).await;
    let mut backend = TcpStream::connect(addr).await.unwrap();
    wait_workers(&c, 1).await;
    let mut two = frame(r#"3::/news:{"n":1}"#);
    two.extend(frame(r#"3::/news:{"n":"ü"}"#));
    backend.write_all(&two).await.unwrap();
    assert_eq!(p.hp_get("/news").await.unwrap(), r#"{"n":1}"#);
    assert_eq!(p.hp_get("/news").await.unwrap(), r#"{"n":"ü"}"#);
    let mut nothing = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_millis(50), backend.read(&mut nothing)).await;
    assert!(r.is_err(), "hp.get wrote something");
    c.shutdown().await;
}

/// hp.put writes one frame and reads nothing.
#[tokio::test]
async fn hp_put_writes_a_frame() {
    let (c, p, addr) = start(1000, 0).await;
    let mut backend = TcpStream::connect(addr).await.unwrap();
    wait_workers(&c, 1).await;
    p.hp_put("/leave", r#"{"sid":"x"}"#.into()).await.unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        read_frame(&mut backend, &mut buf).await.unwrap(),
        r#"3::/leave:{"sid":"x"}"#
    );
    assert_eq!(
        frame("3::/x:{}"),
        "\u{FFFD}8\u{FFFD}3::/x:{}".as_bytes(),
        "the spec's example"
    );
    c.shutdown().await;
}

/// A reply for another endpoint is tcp_error "unexpected message".
#[tokio::test]
async fn wrong_endpoint_is_tcp_error() {
    let (c, p, addr) = start(1000, 0).await;
    let mut backend = TcpStream::connect(addr).await.unwrap();
    wait_workers(&c, 1).await;
    let server = tokio::spawn(async move {
        let mut buf = Vec::new();
        read_frame(&mut backend, &mut buf).await.unwrap();
        backend.write_all(&frame("3::/other:{}")).await.unwrap();
        backend
    });
    let e = p.hp_post("/mine", "{}".into()).await.unwrap_err();
    let _b = server.await.unwrap();
    assert_eq!(e.code(), "tcp_error");
    assert_eq!(
        e.to_string(),
        "Hive TCP Connector's received an unexpected message: 3::/other:{}"
    );
    c.shutdown().await;
}

/// HIVE.md 7.3: with no backend connected a hook waits rent_timeout and fails.
#[tokio::test]
async fn no_backend_connected_times_out() {
    let (c, p, _) = start(100, 0).await;
    let t = Instant::now();
    let e = p.hp_post("/x", "{}".into()).await.unwrap_err();
    assert!(t.elapsed() >= Duration::from_millis(100));
    assert_eq!(e.to_string(), "tcp's request timed out!");
    assert_eq!(e.code(), "tcp_error");
    c.shutdown().await;
}

/// A connection the backend closed is retired when next rented and the request goes to another
/// one within the same rent deadline (the idle stack is LIFO: the closed one is tried first).
#[tokio::test]
async fn closed_connection_is_retired() {
    let (c, p, addr) = start(1000, 0).await;
    let mut live = TcpStream::connect(addr).await.unwrap();
    wait_workers(&c, 1).await;
    let closed = TcpStream::connect(addr).await.unwrap();
    wait_workers(&c, 2).await;
    drop(closed);
    let server = tokio::spawn(async move {
        let mut buf = Vec::new();
        for _ in 0..3 {
            let msg = read_frame(&mut live, &mut buf).await.unwrap();
            let ep = msg.split(':').nth(2).unwrap().to_string();
            live.write_all(&frame(&format!("3::{ep}:[\"ok\"]")))
                .await
                .unwrap();
        }
        live
    });
    for i in 0..3 {
        assert_eq!(
            p.hp_post(&format!("/r{i}"), "{}".into()).await.unwrap(),
            r#"["ok"]"#
        );
    }
    let _live = server.await.unwrap();
    wait_workers(&c, 1).await;
    c.shutdown().await;
}

/// `restart_timeout`: Hive closes each connection that long after accepting it.
#[tokio::test]
async fn restart_timeout_closes_connections() {
    let (c, _p, addr) = start(1000, 100).await;
    let mut backend = TcpStream::connect(addr).await.unwrap();
    wait_workers(&c, 1).await;
    let mut b = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), backend.read(&mut b))
        .await
        .expect("closed in time");
    assert_eq!(n.unwrap(), 0, "EOF");
    wait_workers(&c, 0).await;
    c.shutdown().await;
}

/// Supervision: `pool:tcp` holds `worker:tcp:acceptor` (permanent) and one temporary worker per
/// accepted connection. A killed acceptor is restarted alone by its pool (the connection worker
/// stays) and accepts again on the same listener.
#[tokio::test]
async fn killed_acceptor_is_restarted_and_accepts_again() {
    let (c, p, addr) = start(1000, 0).await;
    let _first = TcpStream::connect(addr).await.unwrap();
    wait_workers(&c, 1).await;
    let pool = |r: &otp::SupervisorReport| r.children[0].supervisor.as_deref().cloned().unwrap();
    let before = pool(&c.supervisor_report().await.unwrap());
    let ids: Vec<(&str, &str)> = before
        .children
        .iter()
        .map(|w| (w.id.as_str(), w.restart.as_str()))
        .collect();
    assert_eq!(ids[0], ("worker:tcp:acceptor", "permanent"), "{ids:?}");
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids[1].0.starts_with("worker:tcp:") && ids[1].1 == "temporary");

    let pool_cell = c.supervisor_cell().get_children().pop().expect("one pool");
    let acceptor = otp::SupervisorHandle::from_cell(pool_cell)
        .child("worker:tcp:acceptor")
        .await
        .expect("acceptor running");
    acceptor.kill();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = pool(&c.supervisor_report().await.unwrap());
        let a = now.child("worker:tcp:acceptor").unwrap();
        if a.restarts == 1 && a.status == "running" {
            assert_eq!(now.restarts, 1);
            assert_eq!(now.child_count, 2, "the connection worker stayed: {now:?}");
            break;
        }
        assert!(Instant::now() < deadline, "acceptor not restarted: {now:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    drop(_first);
    let mut backend = TcpStream::connect(addr).await.unwrap();
    let server = tokio::spawn(async move {
        let mut buf = Vec::new();
        // The closed first connection may be rented first and retired; this one answers.
        let msg = read_frame(&mut backend, &mut buf).await.unwrap();
        backend.write_all(&frame("3::/x:ok")).await.unwrap();
        (msg, backend)
    });
    assert_eq!(p.hp_post("/x", "{}".into()).await.unwrap(), "ok");
    let (msg, _backend) = server.await.unwrap();
    assert_eq!(msg, "3::/x:{}");
    c.shutdown().await;
}
