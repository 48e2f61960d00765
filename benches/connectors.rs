//! Criterion benchmarks of `hp.post` round trips through connector pools against a local backend:
//! `connector.http` (ureq on dedicated worker threads) and `connector.tcp` (byte-framed), one
//! request at a time and 16 at a time.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/backend.rs"]
mod backend;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hive::config::{ConnectorsSection, Ordered, PoolDescriptor};
use hive::connectors::{Connectors, Pool};
use hive::metrics::Metrics;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BODY: &str = r#"{"sid":"6a1f0c","trigger":{"name":"authorize","args":[{"nick":"bob"}]},"trigger_id":"","state":{"nick":null,"rooms":[]}}"#;
const REPLY: &str =
    r#"[{"action":"reply","args":{"name":"authorize","args":[{"permission":"granted"}]}}]"#;

fn section(name: &str, d: PoolDescriptor) -> ConnectorsSection {
    ConnectorsSection {
        rent_timeout: 5000,
        backoff_num: 1,
        backoff_time: 0,
        pools: Ordered(vec![(name.into(), d)]),
    }
}

/// A TCP backend: connects `n` times to Hive and answers every frame with REPLY.
async fn tcp_backend(addr: SocketAddr, n: usize) {
    for _ in 0..n {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut tmp = [0u8; 8192];
            let reply = format!("3::/authorize:{REPLY}");
            let frame = format!("\u{FFFD}{}\u{FFFD}{reply}", reply.len());
            loop {
                let n = match s.read(&mut tmp).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&tmp[..n]);
                // Requests are answered one at a time per connection: a full frame ends with `}`.
                while let Some(text) = std::str::from_utf8(&buf).ok().filter(|t| t.ends_with('}')) {
                    let _ = text;
                    buf.clear();
                    s.write_all(frame.as_bytes()).await.unwrap();
                }
            }
        });
    }
}

fn run(c: &mut Criterion, group: &str, rt: &tokio::runtime::Runtime, pool: &Pool) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    g.bench_function("hp_post_sequential", |b| {
        b.iter(|| {
            rt.block_on(pool.hp_post("/authorize", BODY.to_string()))
                .unwrap()
        })
    });
    g.bench_function("hp_post_16_concurrent", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                let mut left = iters;
                while left > 0 {
                    let k = left.min(16);
                    left -= k;
                    let tasks: Vec<_> = (0..k)
                        .map(|_| {
                            let p = pool.clone();
                            tokio::spawn(
                                async move { p.hp_post("/authorize", BODY.to_string()).await },
                            )
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap().unwrap();
                    }
                }
                t.elapsed()
            })
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let (http, _b) = rt.block_on(async {
        let b = backend::Backend::start().await;
        b.answer(200, REPLY);
        let d = PoolDescriptor {
            connector: "connector.http".into(),
            size: 16,
            overflow: 0,
            args: json!({"base_url": format!("http://{}", b.addr), "max_connection_timeout": 5000}),
        };
        (
            Connectors::start(&section("http", d), Metrics::new(), None)
                .await
                .unwrap(),
            b,
        )
    });
    run(c, "connector_http", &rt, &http.pool("http").unwrap());

    let tcp = rt.block_on(async {
        let d = PoolDescriptor {
            connector: "connector.tcp".into(),
            size: 16,
            overflow: 0,
            args: json!({"port": 0, "restart_timeout": 0}),
        };
        let c = Connectors::start(&section("tcp", d), Metrics::new(), None)
            .await
            .unwrap();
        let Pool::Tcp(t) = c.pool("tcp").unwrap() else {
            unreachable!()
        };
        tcp_backend(
            SocketAddr::from(([127, 0, 0, 1], t.local_addr().port())),
            16,
        )
        .await;
        while c.health().await[0].workers < 16 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        c
    });
    run(c, "connector_tcp", &rt, &tcp.pool("tcp").unwrap());

    rt.block_on(async {
        http.shutdown().await;
        tcp.shutdown().await;
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
