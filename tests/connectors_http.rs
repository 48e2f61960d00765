//! `connector.http` against a real HTTP backend on 127.0.0.1 port 0 (HIVE.md 6.5, 7.1, 7.2).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/backend.rs"]
mod backend;

use std::sync::Arc;
use std::time::Duration;

use backend::{Backend, Shared};
use hive::HiveError;
use hive::config::{ConnectorsSection, Ordered, PoolDescriptor};
use hive::connectors::{Connectors, Pool};
use hive::metrics::Metrics;
use serde_json::json;

fn http_pool(
    base_url: &str,
    size: u32,
    overflow: u32,
    max_connections: Option<u64>,
) -> PoolDescriptor {
    let mut args = json!({"base_url": base_url, "max_connection_timeout": 2000});
    if let Some(m) = max_connections {
        args["max_connections"] = json!(m);
    }
    PoolDescriptor {
        connector: "connector.http".into(),
        size,
        overflow,
        args,
    }
}

fn section(pools: Vec<(&str, PoolDescriptor)>, rent_timeout: u64) -> ConnectorsSection {
    ConnectorsSection {
        rent_timeout,
        backoff_num: 1,
        backoff_time: 0,
        pools: Ordered(pools.into_iter().map(|(n, d)| (n.to_string(), d)).collect()),
    }
}

async fn start_one(b: &Backend, size: u32, max: Option<u64>, rent: u64) -> (Connectors, Pool) {
    let url = format!("http://{}", b.addr);
    let cfg = section(vec![("backend", http_pool(&url, size, 4, max))], rent);
    let c = Connectors::start(&cfg, Metrics::new(), None)
        .await
        .expect("start");
    let p = c.pool("backend").expect("pool");
    (c, p)
}

/// HIVE.md 6.5: hp.post is `POST <base_url><endpoint>` with the metadata as body; the reply body
/// comes back. The body goes with Content-Length and without Content-Type.
#[tokio::test]
async fn hp_post_round_trip() {
    let b = Backend::start().await;
    let reply =
        r#"[{"action":"reply","args":{"name":"authorize","args":[{"permission":"granted"}]}}]"#;
    b.answer(200, reply);
    let (c, p) = start_one(&b, 2, None, 1000).await;
    let body = r#"{"sid":"abc","trigger":{"name":"authorize","args":[{"nick":"bób"}]},"trigger_id":"","state":{}}"#;
    let got = p
        .hp_post("/authorize", body.to_string())
        .await
        .expect("post");
    assert_eq!(got, reply);
    let r = b.requests();
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].method.as_str(), r[0].path.as_str()),
        ("POST", "/authorize")
    );
    assert_eq!(r[0].body, body);
    assert_eq!(
        r[0].header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(r[0].header("content-type"), None);
    c.shutdown().await;
}

/// HIVE.md 6.5: hp.get is a GET without body.
#[tokio::test]
async fn hp_get_round_trip() {
    let b = Backend::start().await;
    b.answer(200, r#"{"action":"reply","args":{"name":"x","args":[]}}"#);
    let (c, p) = start_one(&b, 1, None, 1000).await;
    let got = p.hp_get("/poll?x=1").await.expect("get");
    assert!(got.contains("reply"));
    let r = b.requests();
    assert_eq!(
        (r[0].method.as_str(), r[0].path.as_str(), r[0].body.as_str()),
        ("GET", "/poll?x=1", "")
    );
    c.shutdown().await;
}

/// HIVE.md 6.5: hp.put is an asynchronous POST; it reaches the backend, the answer is dropped.
#[tokio::test]
async fn hp_put_reaches_the_backend() {
    let b = Backend::start().await;
    b.answer(500, "ignored");
    let (c, p) = start_one(&b, 1, None, 1000).await;
    p.hp_put("/leave", r#"{"sid":"s1"}"#.into())
        .await
        .expect("put");
    let r = b.wait_requests(1, Duration::from_secs(5)).await;
    assert_eq!(
        (r[0].method.as_str(), r[0].path.as_str(), r[0].body.as_str()),
        ("POST", "/leave", r#"{"sid":"s1"}"#)
    );
    c.shutdown().await;
}

/// Non-2xx answers become http_error with the status in the description, not panics.
#[tokio::test]
async fn non_2xx_is_http_error() {
    let b = Backend::start().await;
    b.answer(503, "busy");
    let (c, p) = start_one(&b, 1, None, 1000).await;
    let e = p.hp_post("/x", "{}".into()).await.unwrap_err();
    assert_eq!(
        e,
        HiveError::HttpError(
            "Hive HTTP Hook request failed: unhandled HTTP reply status code - 503.".into()
        )
    );
    assert_eq!(e.code(), "http_error");
    // The worker survives and serves the next request.
    b.answer(200, "[]");
    assert_eq!(p.hp_post("/x", "{}".into()).await.unwrap(), "[]");
    c.shutdown().await;
}

/// HIVE.md 7.2 / 16.6 #8: a backend down at boot makes start fail with one line naming the pool
/// and the address; pools started before it are stopped.
#[tokio::test]
async fn backend_down_at_start_fails_naming_pool_and_address() {
    let up = Backend::start().await;
    let down = Backend::start().await;
    let dead = down.addr;
    drop(down);
    let metrics = Metrics::new();
    let cfg = section(
        vec![
            (
                "first",
                http_pool(&format!("http://{}", up.addr), 1, 0, None),
            ),
            ("backend", http_pool(&format!("http://{dead}"), 1, 0, None)),
        ],
        1000,
    );
    let e = Connectors::start(&cfg, metrics.clone(), None)
        .await
        .err()
        .expect("must fail");
    let text = e.to_string();
    assert_eq!(e.code(), "connectors_error");
    let prefix = format!(
        "Unable to start Hive Connector backend (connector.http): cannot connect to {dead}: "
    );
    assert!(text.starts_with(&prefix), "{text}");
    assert!(!text.contains('\n'));
    assert_eq!(metrics.get("connectors.starts"), 1);
    assert_eq!(metrics.get("connectors.stops"), 1);
    assert_eq!(metrics.get("connectors.pools"), 0);
}

/// A backend that goes away at runtime gives http_error; when it comes back on the same port the
/// same pool works again, without restarting anything.
#[tokio::test]
async fn backend_down_at_runtime_then_recovers() {
    let shared = Arc::new(Shared::default());
    let b = Backend::start_on("127.0.0.1:0".parse().unwrap(), shared.clone()).await;
    b.answer(200, "[1]");
    let addr = b.addr;
    let (c, p) = start_one(&b, 2, None, 1000).await;
    assert_eq!(p.hp_post("/a", "{}".into()).await.unwrap(), "[1]");
    b.stop();
    let e = p.hp_post("/a", "{}".into()).await.unwrap_err();
    assert_eq!(e.code(), "http_error", "{e}");
    assert!(
        e.to_string().starts_with("Hive HTTP Hook request failed: "),
        "{e}"
    );
    let health = c.health().await;
    assert!(!health[0].reachable);
    let b2 = Backend::start_on(addr, shared).await;
    assert_eq!(p.hp_post("/a", "{}".into()).await.unwrap(), "[1]");
    assert!(c.health().await[0].reachable);
    drop(b2);
    c.shutdown().await;
}

/// `localhost` resolves to every address it has: a backend on 127.0.0.1 (and on ::1 when the host
/// has IPv6 loopback) is found through `http://localhost:<port>`.
#[tokio::test]
async fn localhost_reaches_v4_and_v6_backends() {
    let b4 = Backend::start().await;
    b4.answer(200, "v4");
    let url = format!("http://localhost:{}", b4.addr.port());
    let cfg = section(vec![("v4", http_pool(&url, 1, 0, None))], 1000);
    let c = Connectors::start(&cfg, Metrics::new(), None)
        .await
        .expect("start v4");
    assert_eq!(
        c.pool("v4")
            .unwrap()
            .hp_post("/", "{}".into())
            .await
            .unwrap(),
        "v4"
    );
    c.shutdown().await;
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        let b6 = Backend::start_on("[::1]:0".parse().unwrap(), Arc::new(Shared::default())).await;
        b6.answer(200, "v6");
        let url = format!("http://localhost:{}", b6.addr.port());
        let cfg = section(vec![("v6", http_pool(&url, 1, 0, None))], 1000);
        let c = Connectors::start(&cfg, Metrics::new(), None)
            .await
            .expect("start v6");
        assert_eq!(
            c.pool("v6")
                .unwrap()
                .hp_post("/", "{}".into())
                .await
                .unwrap(),
            "v6"
        );
        c.shutdown().await;
    }
}

/// The pool never runs more than `max_connections` requests at once (the backend measures it),
/// and every request is eventually served when the rent timeout allows it.
#[tokio::test]
async fn concurrency_is_bounded_by_max_connections() {
    let b = Backend::start().await;
    b.answer(200, "ok");
    b.delay(Duration::from_millis(100));
    let (c, p) = start_one(&b, 1, Some(3), 10_000).await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let p = p.clone();
            tokio::spawn(async move { p.hp_post(&format!("/n{i}"), "{}".into()).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "ok");
    }
    assert_eq!(b.requests().len(), 12);
    assert_eq!(b.max_in_flight(), 3, "bound reached but never exceeded");
    // Overflow workers (beyond size = 1) were spawned on demand, up to the bound.
    let report = c.supervisor_report().await.unwrap();
    assert_eq!(report.children[0].id, "pool:backend");
    let pool = report.children[0].supervisor.as_ref().unwrap();
    assert!(
        pool.child_count >= 1 && pool.child_count <= 3,
        "{}",
        pool.child_count
    );
    c.shutdown().await;
}

/// Requests beyond the bound wait `connectors.rent_timeout`, then fail with http_error.
#[tokio::test]
async fn excess_requests_time_out_after_rent_timeout() {
    let b = Backend::start().await;
    b.answer(200, "slow");
    b.delay(Duration::from_millis(1500));
    let (c, p) = start_one(&b, 1, Some(1), 100).await;
    let p1 = p.clone();
    let first = tokio::spawn(async move { p1.hp_post("/slow", "{}".into()).await });
    b.wait_requests(1, Duration::from_secs(5)).await;
    let started = std::time::Instant::now();
    let e = p.hp_post("/second", "{}".into()).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(
        e,
        HiveError::HttpError(
            "Hive HTTP Hook request failed: no connection to backend became free within 100 ms"
                .into()
        )
    );
    assert_eq!(first.await.unwrap().unwrap(), "slow");
    assert_eq!(
        b.requests().len(),
        1,
        "the timed-out request never reached the backend"
    );
    c.shutdown().await;
}

/// action.stop_connectors really stops and unregisters (HIVE.md 16.6 #2, #4); the name can be
/// started again; unknown names give bad_connector_id.
#[tokio::test]
async fn stop_and_start_pool_at_runtime() {
    let b = Backend::start().await;
    b.answer(200, "x");
    let (c, p) = start_one(&b, 2, None, 1000).await;
    assert_eq!(c.names(), vec!["backend".to_string()]);
    let report = c.supervisor_report().await.unwrap();
    assert_eq!(report.id, "connectors_sup");
    let pool = report.children[0].supervisor.as_ref().unwrap();
    assert_eq!(pool.child_count, 2);
    assert!(
        pool.children
            .iter()
            .all(|w| w.id.starts_with("worker:backend:"))
    );
    c.stop_pool("backend").await.unwrap();
    assert_eq!(
        c.pool("backend").err(),
        Some(HiveError::BadConnectorId("backend".into()))
    );
    assert_eq!(
        c.stop_pool("backend").await.err(),
        Some(HiveError::BadConnectorId("backend".into()))
    );
    assert!(
        p.hp_post("/x", "{}".into()).await.is_err(),
        "a stopped pool serves nothing"
    );
    let d = http_pool(&format!("http://{}", b.addr), 1, 0, None);
    c.start_pool("again", &d).await.unwrap();
    assert_eq!(
        c.pool("again")
            .unwrap()
            .hp_post("/x", "{}".into())
            .await
            .unwrap(),
        "x"
    );
    // The stopped name again (its child in connectors_sup is restarted with the new descriptor).
    c.start_pool("backend", &d).await.unwrap();
    assert_eq!(
        c.pool("backend")
            .unwrap()
            .hp_post("/x", "{}".into())
            .await
            .unwrap(),
        "x"
    );
    let report = c.supervisor_report().await.unwrap();
    let pool = report.child("pool:backend").unwrap();
    assert_eq!((pool.status.as_str(), pool.restarts), ("running", 0));
    assert_eq!(
        pool.supervisor.as_ref().unwrap().child_count,
        1,
        "size 1 now"
    );
    c.shutdown().await;
}

/// Supervision: a killed worker is replaced by the pool; a killed pool actor is restarted by
/// connectors_sup with the same registration, and handles taken before keep working
/// (HIVE.md 7.5, 16.6 #3).
#[tokio::test]
async fn killed_workers_and_pools_are_restarted() {
    let b = Backend::start().await;
    b.answer(200, "alive");
    let (c, p) = start_one(&b, 2, None, 1000).await;
    let sup = c.supervisor_cell();
    let pool_cell = sup.get_children().pop().expect("one pool");
    let worker = pool_cell.get_children().pop().expect("a worker");
    worker.kill();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = c.supervisor_report().await.unwrap();
        let w = &r.children[0].supervisor.as_ref().unwrap().children;
        let performed = r.children[0].supervisor.as_ref().unwrap().restarts;
        if w.len() == 2 && w.iter().any(|w| w.restarts == 1) && performed == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "worker not restarted: {w:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(p.hp_post("/x", "{}".into()).await.unwrap(), "alive");

    pool_cell.kill();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = c.supervisor_report().await.unwrap();
        let ch = &r.children[0];
        let new_id = ch.actor_id.clone();
        if ch.restarts == 1 && new_id.is_some() && new_id != Some(pool_cell.get_id().to_string()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pool not restarted: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        p.hp_post("/x", "{}".into()).await.unwrap(),
        "alive",
        "old handle still works"
    );
    assert_eq!(
        c.pool("backend")
            .unwrap()
            .hp_post("/y", "{}".into())
            .await
            .unwrap(),
        "alive"
    );
    c.shutdown().await;
}
