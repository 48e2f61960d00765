//! `sm.redis` against a real redis-server (HIVE.md 4.7).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/redis.rs"]
mod redis;

use std::time::{Duration, Instant};

use hive::config::{ConnectorsSection, Ordered, PoolDescriptor};
use hive::connectors::{Connectors, Pool, RedisPool};
use hive::metrics::Metrics;
use hive::state::redis::{RedisState, redis_state_args};
use hive::state::{StateStore, initial_map};
use redis::RedisServer;
use serde_json::json;

async fn start(port: u16) -> (Connectors, RedisPool) {
    let d = PoolDescriptor {
        connector: "connector.redis".into(),
        size: 2,
        overflow: 0,
        args: json!({"host": "127.0.0.1", "port": port, "database": 0, "password": "",
                     "restart_timeout": 0, "reconnect_timeout": 50, "max_reconnect_timeout": 300}),
    };
    let cfg = ConnectorsSection {
        rent_timeout: 1000,
        backoff_num: 1,
        backoff_time: 0,
        pools: Ordered(vec![("db".into(), d)]),
    };
    let c = Connectors::start(&cfg, Metrics::new(), None)
        .await
        .expect("start");
    let Pool::Redis(p) = c.pool("db").unwrap() else {
        panic!("not redis")
    };
    (c, p)
}

fn store(pool: &RedisPool, sid: &str, args: serde_json::Value) -> StateStore {
    let (_connector, ms, prefix) = redis_state_args(&args).unwrap();
    StateStore::Redis(Box::new(RedisState::new(
        pool.clone(),
        sid.into(),
        ms,
        prefix,
    )))
}

/// Init writes the initial map to the hash at the bare sid with EXPIRE expiration/1000 s; values
/// are encoded per the spec; get reads them back; set writes only the given keys; cleanup DELs.
#[tokio::test]
async fn lifecycle_and_encoding() {
    let Some(r) = RedisServer::start() else {
        return;
    };
    let (c, p) = start(r.port).await;
    let mut s = store(
        &p,
        "sid1",
        json!({"connector": "db", "expiration_timeout": 86_400_000}),
    );
    s.init(initial_map(
        &json!({"nick": null, "rooms": [], "n": 5, "name": "bob", "ok": true, "f": 1.5}),
    ))
    .await
    .unwrap();
    assert_eq!(r.cli(&["HGET", "sid1", "nick"]), "null");
    assert_eq!(r.cli(&["HGET", "sid1", "rooms"]), "[]");
    assert_eq!(r.cli(&["HGET", "sid1", "n"]), "5");
    assert_eq!(r.cli(&["HGET", "sid1", "name"]), "bob");
    let ttl: i64 = r.cli(&["TTL", "sid1"]).parse().unwrap();
    assert!(ttl > 86_000 && ttl <= 86_400, "{ttl}");
    let all = s.get_all().await.unwrap();
    assert_eq!(
        serde_json::Value::Object(all),
        json!({"nick": null, "rooms": [], "n": 5, "name": "bob", "ok": true, "f": 1.5})
    );
    s.set_all(json!({"nick": "alice", "rooms": ["r1"]}))
        .await
        .unwrap();
    let all = s.get_all().await.unwrap();
    assert_eq!(all["nick"], json!("alice"));
    assert_eq!(all["rooms"], json!(["r1"]));
    assert_eq!(all["n"], json!(5), "other keys untouched");
    // The documented type confusion: a string that looks like JSON comes back parsed.
    s.set_all(json!({"name": "123"})).await.unwrap();
    assert_eq!(s.get_all().await.unwrap()["name"], json!(123));
    s.cleanup().await.unwrap();
    assert_eq!(r.cli(&["EXISTS", "sid1"]), "0");
    c.shutdown().await;
}

/// The cache serves reads until the next write (HIVE.md 4.7): a change made behind Hive's back is
/// not seen until Hive writes.
#[tokio::test]
async fn get_is_cached_until_a_write() {
    let Some(r) = RedisServer::start() else {
        return;
    };
    let (c, p) = start(r.port).await;
    let mut s = store(
        &p,
        "sid2",
        json!({"connector": "db", "expiration_timeout": 1500}),
    );
    s.init(initial_map(&json!("hello"))).await.unwrap();
    let ttl: i64 = r.cli(&["TTL", "sid2"]).parse().unwrap();
    assert_eq!(ttl, 1, "1500 ms -> 1 s");
    assert_eq!(s.get_all().await.unwrap()["initial_value"], json!("hello"));
    r.cli(&["HSET", "sid2", "initial_value", "changed"]);
    assert_eq!(
        s.get_all().await.unwrap()["initial_value"],
        json!("hello"),
        "cached"
    );
    s.set_all(json!({"x": 1})).await.unwrap();
    assert_eq!(
        s.get_all().await.unwrap()["initial_value"],
        json!("changed"),
        "re-read after a write"
    );
    c.shutdown().await;
}

/// The optional key prefix.
#[tokio::test]
async fn key_prefix_option() {
    let Some(r) = RedisServer::start() else {
        return;
    };
    let (c, p) = start(r.port).await;
    let mut s = store(
        &p,
        "sid3",
        json!({"connector": "db", "expiration_timeout": 5000, "key_prefix": "hive:"}),
    );
    s.init(initial_map(&json!({"a": 1}))).await.unwrap();
    assert_eq!(r.cli(&["HGET", "hive:sid3", "a"]), "1");
    assert_eq!(r.cli(&["EXISTS", "sid3"]), "0");
    c.shutdown().await;
}

/// Redis errors are redis_error; Redis away past the budget is no_connection (the client stops);
/// Redis restarted: state operations resume without restarting anything.
#[tokio::test]
async fn errors_and_redis_restart() {
    let Some(r) = RedisServer::start() else {
        return;
    };
    let (c, p) = start(r.port).await;
    r.cli(&["SET", "sid4", "not a hash"]);
    let mut s = store(
        &p,
        "sid4",
        json!({"connector": "db", "expiration_timeout": 60_000}),
    );
    assert_eq!(s.get_all().await.unwrap_err().code(), "redis_error");
    r.cli(&["DEL", "sid4"]);
    s.init(initial_map(&json!({"a": 1}))).await.unwrap();

    r.stop();
    assert_eq!(
        s.set_all(json!({"a": 2})).await.unwrap_err().code(),
        "no_connection"
    );
    r.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = s.init(initial_map(&json!({"a": 3}))).await {
        assert!(Instant::now() < deadline, "no recovery: {e}");
    }
    assert_eq!(s.get_all().await.unwrap()["a"], json!(3));
    assert_eq!(c.supervisor_report().await.unwrap().children[0].restarts, 0);
    c.shutdown().await;
}
