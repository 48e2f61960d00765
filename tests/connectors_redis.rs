//! `connector.redis` against a real redis-server (HIVE.md 7.4).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/redis.rs"]
mod redis;

use std::time::{Duration, Instant};

use hive::HiveError;
use hive::config::{ConnectorsSection, Ordered, PoolDescriptor};
use hive::connectors::{Connectors, Pool, RedisPool};
use hive::metrics::Metrics;
use redis::RedisServer;
use serde_json::json;

fn redis_pool(port: u16, size: u32, restart_timeout: u64) -> PoolDescriptor {
    PoolDescriptor {
        connector: "connector.redis".into(),
        size,
        overflow: 0,
        args: json!({"host": "127.0.0.1", "port": port, "database": 3, "password": "",
                     "restart_timeout": restart_timeout, "reconnect_timeout": 50, "max_reconnect_timeout": 300}),
    }
}

async fn start(port: u16, size: u32, restart_timeout: u64) -> (Connectors, RedisPool) {
    let cfg = ConnectorsSection {
        rent_timeout: 1000,
        backoff_num: 1,
        backoff_time: 0,
        pools: Ordered(vec![("db".into(), redis_pool(port, size, restart_timeout))]),
    };
    let c = Connectors::start(&cfg, Metrics::new(), None)
        .await
        .expect("start");
    let Pool::Redis(p) = c.pool("db").unwrap() else {
        panic!("not a redis pool")
    };
    (c, p)
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// HMSET / HGETALL / EXPIRE / DEL reach the configured database.
#[tokio::test]
async fn hash_commands_round_trip() {
    let Some(r) = RedisServer::start() else {
        return;
    };
    let (c, p) = start(r.port, 2, 0).await;
    p.hmset("k1", kv(&[("a", "1"), ("b", "[2]")]))
        .await
        .unwrap();
    p.hmset_expire("k1", kv(&[("c", "x")]), 100).await.unwrap();
    assert_eq!(
        p.hgetall("k1").await.unwrap(),
        kv(&[("a", "1"), ("b", "[2]"), ("c", "x")])
    );
    assert_eq!(
        r.cli(&["-n", "3", "HGET", "k1", "b"]),
        "[2]",
        "written to database 3"
    );
    let ttl: i64 = r.cli(&["-n", "3", "TTL", "k1"]).parse().unwrap();
    assert!(ttl > 0 && ttl <= 100, "{ttl}");
    p.expire("k1", 5).await.unwrap();
    let ttl: i64 = r.cli(&["-n", "3", "TTL", "k1"]).parse().unwrap();
    assert!(ttl > 0 && ttl <= 5, "{ttl}");
    p.del("k1").await.unwrap();
    assert_eq!(p.hgetall("k1").await.unwrap(), vec![]);
    let h = c.health().await;
    assert!(h[0].reachable);
    assert_eq!(
        (h[0].connector.as_str(), h[0].workers),
        ("connector.redis", 2)
    );
    c.shutdown().await;
}

/// Redis errors reach the caller as redis_error, not as a crash.
#[tokio::test]
async fn redis_errors_are_redis_error() {
    let Some(r) = RedisServer::start() else {
        return;
    };
    let (c, p) = start(r.port, 1, 0).await;
    r.cli(&["-n", "3", "SET", "plain", "string"]);
    let e = p.hgetall("plain").await.unwrap_err();
    assert_eq!(e.code(), "redis_error", "{e}");
    assert!(
        e.to_string()
            .starts_with("Hive Redis Connectors request failed: "),
        "{e}"
    );
    assert!(
        p.hmset("ok", kv(&[("a", "1")])).await.is_ok(),
        "the pool keeps working"
    );
    c.shutdown().await;
}

/// HIVE.md 7.4: Redis down at boot: start fails naming the pool and the address.
#[tokio::test]
async fn redis_down_at_start_fails_naming_pool_and_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = ConnectorsSection {
        rent_timeout: 1000,
        backoff_num: 1,
        backoff_time: 0,
        pools: Ordered(vec![("db".into(), redis_pool(port, 1, 0))]),
    };
    let e = Connectors::start(&cfg, Metrics::new(), None)
        .await
        .err()
        .expect("must fail");
    let prefix = format!(
        "Unable to start Hive Connector db (connector.redis): cannot connect to 127.0.0.1:{port}: "
    );
    assert!(e.to_string().starts_with(&prefix), "{e}");
}

/// Redis restarted mid-test: while it is away commands fail with no_connection after the
/// reconnect budget; once it is back they succeed again with the same pool and workers.
#[tokio::test]
async fn redis_restart_mid_test_resumes() {
    let Some(r) = RedisServer::start() else {
        return;
    };
    let (c, p) = start(r.port, 2, 0).await;
    p.hmset("before", kv(&[("a", "1")])).await.unwrap();
    let workers_before = c.supervisor_report().await.unwrap().children[0]
        .supervisor
        .as_ref()
        .unwrap()
        .children
        .clone();

    r.stop();
    let t = Instant::now();
    let e = p.hgetall("before").await.unwrap_err();
    assert_eq!(
        e,
        HiveError::NoConnection(
            "Hive Redis Connector could not establish a connection to the Redis database!".into()
        )
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "bounded by the reconnect budget"
    );

    r.restart();
    // The clients reconnect on their own (every reconnect_timeout); a command issued now waits
    // for that within its budget. Allow a few attempts for the reconnect timer to fire.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match p.hmset("after", kv(&[("b", "2")])).await {
            Ok(()) => break,
            Err(e) => assert!(Instant::now() < deadline, "Redis never came back: {e}"),
        }
    }
    assert_eq!(p.hgetall("after").await.unwrap(), kv(&[("b", "2")]));
    for _ in 0..4 {
        p.hgetall("after").await.expect("every client reconnected");
    }
    let report = c.supervisor_report().await.unwrap();
    assert_eq!(report.children[0].restarts, 0, "the pool was not restarted");
    let workers_after = report.children[0]
        .supervisor
        .as_ref()
        .unwrap()
        .children
        .clone();
    let ids = |w: &Vec<otp::ChildReport>| w.iter().map(|c| c.actor_id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&workers_before),
        ids(&workers_after),
        "nor were its workers"
    );
    c.shutdown().await;
}

/// `restart_timeout`: workers stop periodically and the pool replaces them; commands go on.
/// A replacement is deliberate (terminate + restart of the child), not a crash: more replacements
/// than the pool's intensity (10 in 10 s) neither escalate nor count as restarts.
#[tokio::test]
async fn periodic_restart_replaces_workers() {
    let Some(r) = RedisServer::start() else {
        return;
    };
    let (c, p) = start(r.port, 1, 150).await;
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        p.hmset("k", kv(&[("a", "1")])).await.unwrap();
        let now = c.supervisor_report().await.unwrap();
        assert_eq!(now.children[0].restarts, 0, "the pool was not restarted");
        let pool = now.children[0].supervisor.as_ref().unwrap();
        assert_eq!(pool.restarts, 0, "replacements are not restarts: {pool:?}");
        let w = &pool.children;
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].restarts, 0, "{w:?}");
        if let Some(id) = w[0].actor_id.clone() {
            seen.insert(id);
        }
        if seen.len() >= 12 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "workers were not replaced: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(p.hgetall("k").await.unwrap(), kv(&[("a", "1")]));
    c.shutdown().await;
}

/// Hive Protocol hooks on a Redis pool are refused with a typed error.
#[tokio::test]
async fn hp_on_redis_pool_is_refused() {
    let Some(r) = RedisServer::start() else {
        return;
    };
    let (c, _) = start(r.port, 1, 0).await;
    let e = c
        .pool("db")
        .unwrap()
        .hp_post("/x", "{}".into())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "bad_connector_descriptor");
    c.shutdown().await;
}
