//! Full-stack `hp.post` round trips: a websocket Socket.IO 0.9 client sends an event, Hive's
//! client actor runs `hp.post` through the `connector.http` pool to a real HTTP/1.1 backend on
//! loopback, dispatches its reply (`action.send_event`) and the event comes back on the websocket.
//! Reports latency percentiles (one client, sequential) and throughput (C concurrent clients),
//! with `utils.echo` (no backend) as the baseline.
//!
//! Run: `cargo bench --bench connectors` (env `HP_ROUNDS`, `HP_CLIENTS` override the sizes).
//! Measured on the shared 2-core box (load ~8): echo p50 17 us; hp.post p50 100 us, p99 222 us;
//! 16 clients: echo ~80k, hp.post ~11.7k round trips/s.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/util.rs"]
mod util;

#[path = "../tests/support/backend.rs"]
mod backend;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Instant;
use util::merge;

use bytes::Bytes;
use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload};
use hdrhistogram::Histogram;
use http_body_util::Empty;
use hyper::Request;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Ws = FragmentCollector<TokioIo<Upgraded>>;

struct SpawnExecutor;

impl<Fut> hyper::rt::Executor<Fut> for SpawnExecutor
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn execute(&self, fut: Fut) {
        tokio::task::spawn(fut);
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn handshake(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /socket.io/1/?t=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    let body = text.split_once("\r\n\r\n").unwrap().1;
    body.split(':').next().unwrap().to_string()
}

async fn connect(addr: SocketAddr) -> Ws {
    let sid = handshake(addr).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let req = Request::builder()
        .method("GET")
        .uri(format!("http://{addr}/socket.io/1/websocket/{sid}"))
        .header("Host", addr.to_string())
        .header("Origin", "http://localhost")
        .header(hyper::header::UPGRADE, "websocket")
        .header(hyper::header::CONNECTION, "upgrade")
        .header(
            "Sec-WebSocket-Key",
            fastwebsockets::handshake::generate_key(),
        )
        .header("Sec-WebSocket-Version", "13")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let (ws, _) = fastwebsockets::handshake::client(&SpawnExecutor, req, stream)
        .await
        .unwrap();
    let mut ws = FragmentCollector::new(ws);
    let first = next_text(&mut ws).await;
    assert!(first.starts_with("1::"), "connect frame: {first}");
    ws
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        let f = ws.read_frame().await.unwrap();
        match f.opcode {
            OpCode::Text => return String::from_utf8(f.payload.to_vec()).unwrap(),
            OpCode::Close => panic!("websocket closed"),
            _ => {}
        }
    }
}

/// One round trip: send the event, wait for the event reply (heartbeats are skipped).
async fn round_trip(ws: &mut Ws, frame: &str, expect: &str) {
    ws.write_frame(Frame::text(Payload::Owned(frame.as_bytes().to_vec())))
        .await
        .unwrap();
    loop {
        let t = next_text(ws).await;
        if t.starts_with("5:") {
            assert!(t.contains(expect), "unexpected reply {t}");
            return;
        }
        assert!(!t.contains("hive_error"), "{t}");
    }
}

async fn latency(addr: SocketAddr, name: &str, rounds: usize) -> Histogram<u64> {
    let frame = format!(r#"5:::{{"name":"{name}","args":[{{"nick":"bob"}}]}}"#);
    let mut ws = connect(addr).await;
    for _ in 0..rounds / 10 {
        round_trip(&mut ws, &frame, name).await;
    }
    let mut h = Histogram::<u64>::new(3).unwrap();
    for _ in 0..rounds {
        let t = Instant::now();
        round_trip(&mut ws, &frame, name).await;
        h.record(t.elapsed().as_micros() as u64).unwrap();
    }
    h
}

async fn throughput(addr: SocketAddr, name: &str, clients: usize, rounds: usize) -> f64 {
    let frame = format!(r#"5:::{{"name":"{name}","args":[{{"nick":"bob"}}]}}"#);
    let mut wss = Vec::new();
    for _ in 0..clients {
        wss.push(connect(addr).await);
    }
    let per = rounds / clients;
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut ws in wss {
        let (frame, name) = (frame.clone(), name.to_string());
        tasks.spawn(async move {
            for _ in 0..per {
                round_trip(&mut ws, &frame, &name).await;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    (per * clients) as f64 / t.elapsed().as_secs_f64()
}

fn report(label: &str, h: &Histogram<u64>) {
    println!(
        "{label:<34} n={:<6} mean={:>7.1} us  p50={:>6} us  p99={:>6} us  max={:>6} us",
        h.len(),
        h.mean(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max()
    );
}

fn main() {
    let rounds = env("HP_ROUNDS", 5000);
    let clients = env("HP_CLIENTS", 16);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let be = backend::Backend::start().await;
        be.answer(
            200,
            r#"{"action":"reply","args":{"name":"authorize","args":[{"permission":"granted"}]}}"#,
        );
        let root = env!("CARGO_MANIFEST_DIR");
        let text = std::fs::read_to_string(format!("{root}/config/test.json")).unwrap();
        let mut cfg: Value = serde_json::from_str(&text).unwrap();
        merge(
            &mut cfg,
            &json!({
                "hive": {"max_client_slots": 1000},
                "socketio": {"heartbeat_timeout": 30000, "reconnect_timeout": 60000,
                             "session_timeout": 600000, "poll_timeout": 0},
                "connectors": {"rent_timeout": 5000, "pools": {"backend": {
                    "connector": "connector.http", "size": 16, "overflow": 0,
                    "args": {"base_url": format!("http://127.0.0.1:{}", be.addr.port()),
                             "max_connections": 16, "max_connection_timeout": 5000}}}},
                "clients": {
                    "actions": {"reply": [{"action": "action.send_event", "args": null}]},
                    "hooks": {"authorize": [{"hook": "hp.post",
                        "args": {"connector": "backend", "endpoint": "/authorize"}}]}
                },
                "log": {"console_level": "error"}
            }),
        );
        let loaded = hive::config::from_value(cfg).unwrap();
        let node = hive::app::start(loaded.config, hive::app::StartOptions::default())
            .await
            .unwrap();
        let addr = node.socketio_addr;
        println!("hp.post full-stack round trips ({rounds} rounds, {clients} concurrent clients)");
        report(
            "utils.echo (baseline), 1 client",
            &latency(addr, "echo", rounds).await,
        );
        report(
            "hp.post via connector.http, 1 client",
            &latency(addr, "authorize", rounds).await,
        );
        let e = throughput(addr, "echo", clients, rounds).await;
        let p = throughput(addr, "authorize", clients, rounds).await;
        println!("utils.echo throughput, {clients} clients: {e:>9.0} round trips/s");
        println!("hp.post throughput, {clients} clients:    {p:>9.0} round trips/s");
        println!("backend requests: {}", be.requests().len());
        node.shutdown().await.unwrap();
    });
}
