//! flood's users run under `users_sup`, a dynamic supervisor of the crate's OTP runtime: temporary
//! children (never restarted, removed when they end), `max_children` = `max_clients`, parallel
//! shutdown (FLOOD.md 2, 6.2). Against a real in-process hive, so users really connect.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::TestHive;
use flood::pool::Pool;
use flood::scenario;
use flood::stats::Stats;
use flood::user::{Shared, UserArgs, UserMsg};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_temporary_children_of_users_sup() {
    let hive = TestHive::start(json!({
        // Generous timers: on a loaded machine a user's upgrade can come later than test.json's
        // 500 ms init timeout, which would reap its session before it connects.
        "hive": {"allowed_origins": [null, "null", "ws://127.0.0.1"], "websocket_ping_timeout": 5000},
        "socketio": {"heartbeat_timeout": 5000, "session_timeout": 30000, "init_timeout": 5000}
    }))
    .await;
    let sc = scenario::parse(
        &json!({
            "server": {"host": "127.0.0.1", "port": hive.sio.port(), "endpoint": "/socket.io/1/"},
            "phases": {"p": {"users": 4, "user_sessions": ["ws"], "start_time": 0,
                             "spawn_duration": 1}},
            "sessions": {"ws": {"weight": 1, "transport": "websocket",
                                "do": [["on_socketio", {"1": [["inc", "connects"]]}]]}}
        }),
        Path::new("pool.json"),
    )
    .unwrap();
    let stats = Arc::new(Stats::new());
    let shared = Arc::new(Shared {
        server: sc.server.clone(),
        stats: stats.clone(),
    });
    let session = sc.sessions["ws"].clone();
    let base = Arc::new(sc.base_meta(&sc.phases[0], &session));
    let args = |id| UserArgs {
        shared: shared.clone(),
        session: session.clone(),
        base: base.clone(),
        id,
        phase_index: id,
    };

    let pool = Pool::start(3).await.unwrap();
    let mut users = Vec::new();
    for id in 0..3 {
        users.push(pool.start_user(args(id)).await.unwrap().expect("room"));
    }
    // max_clients: the fourth is refused, not started.
    assert!(pool.start_user(args(3)).await.unwrap().is_none());
    assert_eq!(pool.count(), 3);
    hive.until("3 sessions", Duration::from_secs(10), |h| h.sessions() == 3)
        .await;

    let report = pool.supervisor().report(Some((0, 10))).await.unwrap();
    assert_eq!(report.id, "users_sup");
    assert_eq!(report.strategy, "simple_one_for_one");
    assert_eq!(report.intensity.max_restarts, 0);
    assert_eq!(report.max_children, Some(3));
    let ids: Vec<&str> = report.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["user-0", "user-1", "user-2"]);
    assert!(report.children.iter().all(|c| c.restart == "temporary"));

    // A user that ends (here: the run's clean shutdown message) is removed, never restarted.
    users[1].send_message(UserMsg::Shutdown).unwrap();
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while pool.count() != 2 {
        assert!(
            tokio::time::Instant::now() < until,
            "user-1 was not removed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let report = pool.supervisor().report(Some((0, 10))).await.unwrap();
    assert_eq!(report.restarts, 0);
    let ids: Vec<&str> = report.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["user-0", "user-2"]);
    hive.until("2 sessions", Duration::from_secs(10), |h| h.sessions() == 2)
        .await;
    // Room again for one more.
    assert!(pool.start_user(args(4)).await.unwrap().is_some());
    assert_eq!(pool.count(), 3);
    let connects = || {
        stats
            .counters()
            .into_iter()
            .find(|(k, _)| k == "connects")
            .map_or(0, |(_, v)| v)
    };
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while connects() != 4 {
        assert!(
            tokio::time::Instant::now() < until,
            "user-4 did not connect"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Shutdown stops every remaining user; their sockets close and hive drops the sessions.
    pool.stop().await;
    assert_eq!(pool.count(), 0);
    assert!(users[0].get_status() >= ractor::ActorStatus::Stopping);
    hive.until("no sessions", Duration::from_secs(10), |h| {
        h.sessions() == 0
    })
    .await;
    assert_eq!(connects(), 4, "no user was restarted");
    hive.stop().await;
}
